//go:build kigtestpanic

package main

import (
	"slices"

	"pam_keyinit_go/keyinit"
)

// This file is only in build/test/pam_keyinit_go_panic.so ('go build -tags
// kigtestpanic'), never in the installed module. With the option
// "kig_test_panic", open_session panics inside the keyctl call that joins the
// new keyring, while the thread's real ids are switched to the user's: the
// test checks that the panic becomes PAM_SESSION_ERR, that the host lives on
// and that the ids are restored.

const panicOption = "kig_test_panic"

func testHook(m keyinit.Module, args []string) (keyinit.Module, []string) {
	if !slices.Contains(args, panicOption) {
		return m, args
	}
	m.Keys = panickingKeys{m.Keys}
	return m, slices.DeleteFunc(slices.Clone(args), func(a string) bool { return a == panicOption })
}

// panickingKeys is the real kernel whose JoinAnonymous panics.
type panickingKeys struct{ keyinit.Keyrings }

func (panickingKeys) JoinAnonymous() (int, error) {
	panic("kig_test_panic: test-only panic in JoinAnonymous")
}
