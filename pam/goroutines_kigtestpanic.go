//go:build kigtestpanic

package main

import "C"

import "runtime"

// kig_core_goroutines is the number of goroutines in the module's own Go
// runtime, for the tests' invariants (test/harness.ModuleGoroutines): the
// host's goroutine count says nothing about the runtime inside the core.
// Only the test build has it; core.map exports it where it exists.
//
//export kig_core_goroutines
func kig_core_goroutines() C.int { return C.int(runtime.NumGoroutine()) }
