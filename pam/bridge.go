package main

/*
#cgo CFLAGS: -O2 -Wall -Wextra -Werror=implicit-function-declaration
#cgo LDFLAGS: -lpam
#include <stdlib.h>
#include <security/pam_modules.h>
#include "keyinit_pam.h"
*/
import "C"

import (
	"fmt"
	"runtime"
	"unsafe"

	"pam_keyinit_go/keyinit"
)

// The Go core's codes and flags must be libpam's: a mismatch fails the build
// (a constant index out of range).
var _ = [1]struct{}{}[C.PAM_SUCCESS-keyinit.Success]
var _ = [1]struct{}{}[C.PAM_SESSION_ERR-keyinit.SessionErr]
var _ = [1]struct{}{}[C.PAM_CRED_ERR-keyinit.CredErr]
var _ = [1]struct{}{}[C.PAM_USER_UNKNOWN-keyinit.UserUnknown]
var _ = [1]struct{}{}[C.PAM_IGNORE-keyinit.Ignore]
var _ = [1]struct{}{}[C.PAM_ESTABLISH_CRED-keyinit.FlagEstablishCred]
var _ = [1]struct{}{}[C.PAM_DELETE_CRED-keyinit.FlagDeleteCred]

// The exports below are entered from module.c, on the thread that called the
// PAM hook, and only in the process that loaded the module. Each locks the
// goroutine to that thread (the session keyring and the id switches belong to
// it), starts no goroutines, and turns a panic into a PAM error: a Go panic
// that reached C would kill the host (sshd, gdm).

//export kig_go_open_session
func kig_go_open_session(pamh *C.pam_handle_t, flags C.int, argc C.int, argv **C.char, cst *C.struct_kig_state) (rc C.int) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer recoverAs(pamh, &rc, keyinit.SessionErr)
	return withState(cst, func(st *keyinit.State) keyinit.Code {
		return module(pamh).OpenSession(st, goArgs(argc, argv))
	})
}

//export kig_go_close_session
func kig_go_close_session(pamh *C.pam_handle_t, flags C.int, argc C.int, argv **C.char, cst *C.struct_kig_state) (rc C.int) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer recoverAs(pamh, &rc, keyinit.Success) // close always succeeds
	return withState(cst, func(st *keyinit.State) keyinit.Code {
		return module(pamh).CloseSession(st, goArgs(argc, argv))
	})
}

//export kig_go_setcred
func kig_go_setcred(pamh *C.pam_handle_t, flags C.int, argc C.int, argv **C.char, cst *C.struct_kig_state) (rc C.int) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer recoverAs(pamh, &rc, keyinit.CredErr)
	return withState(cst, func(st *keyinit.State) keyinit.Code {
		return module(pamh).Setcred(st, int(flags), goArgs(argc, argv))
	})
}

func module(pamh *C.pam_handle_t) keyinit.Module {
	return keyinit.Module{Keys: keyinit.Kernel{}, Creds: keyinit.ThreadCreds{}, Host: pamHost{pamh}}
}

// withState runs f on a Go copy of the handle's C state and writes it back
// even if f panics, so a keyring made before a panic can still be revoked.
func withState(cst *C.struct_kig_state, f func(*keyinit.State) keyinit.Code) C.int {
	st := keyinit.State{
		Serial: int32(cst.serial),
		UID:    uint32(cst.uid),
		GID:    uint32(cst.gid),
		Opens:  int32(cst.opens),
		Revoke: cst.revoke != 0,
	}
	defer func() {
		cst.serial = C.int32_t(st.Serial)
		cst.uid = C.uint32_t(st.UID)
		cst.gid = C.uint32_t(st.GID)
		cst.opens = C.int32_t(st.Opens)
		cst.revoke = 0
		if st.Revoke {
			cst.revoke = 1
		}
	}()
	return C.int(f(&st))
}

func recoverAs(pamh *C.pam_handle_t, rc *C.int, code keyinit.Code) {
	if r := recover(); r != nil {
		pamHost{pamh}.Log(keyinit.LogErr, fmt.Sprintf("internal error, please report it: %v", r))
		*rc = C.int(code)
	}
}

func goArgs(argc C.int, argv **C.char) []string {
	if argc <= 0 || argv == nil {
		return nil
	}
	cargs := unsafe.Slice(argv, int(argc))
	args := make([]string, len(cargs))
	for i, a := range cargs {
		args[i] = C.GoString(a)
	}
	return args
}

// pamHost is keyinit.Host for one PAM handle.
type pamHost struct{ h *C.pam_handle_t }

func (p pamHost) User() (string, keyinit.Code) {
	var user *C.char
	if rc := C.kig_get_user(p.h, &user); rc != C.PAM_SUCCESS {
		return "", keyinit.Code(rc)
	}
	return C.GoString(user), keyinit.Success
}

func (p pamHost) LookupUser(name string) (uid, gid uint32, found bool) {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var cuid, cgid C.uint32_t
	if C.kig_lookup_user(p.h, cname, &cuid, &cgid) == 0 {
		return 0, 0, false
	}
	return uint32(cuid), uint32(cgid), true
}

func (p pamHost) Log(prio keyinit.Priority, msg string) {
	cmsg := C.CString(msg)
	defer C.free(unsafe.Pointer(cmsg))
	C.kig_log(p.h, C.int(prio), cmsg)
}
