// Command bare is the floor for 'make bench': a Go c-shared PAM module that
// exports the four hooks of pam_keyinit_go.so and does nothing in them. The
// Makefile builds it with the real module's linker flags, so the difference
// between the two in the benchmark table is the cost of our code, not of the
// Go runtime (its start-up at pam_start, its threads and memory, and the
// C-to-Go call of every hook).
package main

// #include <stdint.h>
import "C"

import "unsafe"

const (
	pamSuccess = 0  // PAM_SUCCESS
	pamIgnore  = 25 // PAM_IGNORE
)

// The hooks take libpam's pointers as unsafe.Pointer: including
// security/pam_modules.h here would clash with the prototypes cgo writes.

//export pam_sm_authenticate
func pam_sm_authenticate(pamh unsafe.Pointer, flags, argc C.int, argv unsafe.Pointer) C.int {
	return pamIgnore
}

//export pam_sm_setcred
func pam_sm_setcred(pamh unsafe.Pointer, flags, argc C.int, argv unsafe.Pointer) C.int {
	return pamSuccess
}

//export pam_sm_open_session
func pam_sm_open_session(pamh unsafe.Pointer, flags, argc C.int, argv unsafe.Pointer) C.int {
	return pamSuccess
}

//export pam_sm_close_session
func pam_sm_close_session(pamh unsafe.Pointer, flags, argc C.int, argv unsafe.Pointer) C.int {
	return pamSuccess
}

func main() {}
