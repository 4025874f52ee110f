//go:build !kigtestpanic

package main

import "pam_keyinit_go/keyinit"

// testHook is the identity in the real module; the kigtestpanic build
// (panic_hook_kigtestpanic.go, tests only) replaces it.
func testHook(m keyinit.Module, args []string) (keyinit.Module, []string) { return m, args }
