package main

/*
#cgo CFLAGS: -O2 -Wall -Wextra -Werror=implicit-function-declaration
#cgo LDFLAGS: -lpam
#include <stdlib.h>
#include <syslog.h>
#include <security/pam_modules.h>
#include "keyinit_pam.h"
*/
import "C"

import (
	"runtime"
	"unsafe"

	"pam_keyinit_go/keyinit"
)

// The Go core's codes must be libpam's, and its hook numbers the front's: a mismatch fails the build
// (a constant index out of range).
var _ = [1]struct{}{}[C.PAM_SUCCESS-keyinit.Success]
var _ = [1]struct{}{}[C.PAM_SESSION_ERR-keyinit.SessionErr]
var _ = [1]struct{}{}[C.PAM_CRED_ERR-keyinit.CredErr]
var _ = [1]struct{}{}[C.PAM_USER_UNKNOWN-keyinit.UserUnknown]
var _ = [1]struct{}{}[C.PAM_IGNORE-keyinit.Ignore]
var _ = [1]struct{}{}[C.PAM_PERM_DENIED-keyinit.PermDenied]
var _ = [1]struct{}{}[C.LOG_ERR-C.int(keyinit.LogErr)]
var _ = [1]struct{}{}[C.LOG_NOTICE-C.int(keyinit.LogNotice)]
var _ = [1]struct{}{}[C.LOG_DEBUG-C.int(keyinit.LogDebug)]
var _ = [1]struct{}{}[C.LOG_AUTHPRIV-keyinit.LogAuthpriv]
var _ = [1]struct{}{}[C.PAM_ESTABLISH_CRED-keyinit.FlagEstablishCred]
var _ = [1]struct{}{}[C.PAM_DELETE_CRED-keyinit.FlagDeleteCred]
var _ = [1]struct{}{}[C.KIG_HOOK_OPEN_SESSION-C.int(keyinit.HookOpenSession)]
var _ = [1]struct{}{}[C.KIG_HOOK_ESTABLISH_CRED-C.int(keyinit.HookEstablishCred)]

// The exports below are entered only from core_entry.c, on the thread that
// called the PAM hook, after the front (front/) has decided that Go may run
// in this process. Each locks the goroutine to that thread (the session
// keyring and the id switches belong to it), starts no goroutines, and turns
// a panic into a PAM error: a Go panic that reached C would kill the host
// (sshd, gdm).

// kig_go_ready waits, as every export does, until the runtime has finished
// starting (which it does on a thread of its own), and makes it start the
// thread it keeps for locked goroutines (LockOSThread starts it) now: so
// every thread the runtime needs exists when the front's load ends, and is
// made to block signals then (runtime_guard.c).
//
//export kig_go_ready
func kig_go_ready() {
	runtime.LockOSThread()
	runtime.UnlockOSThread()
}

// kig_go_init makes the session keyring for open_session (hook 0) or
// setcred(PAM_ESTABLISH_CRED) (hook 1).
//
//export kig_go_init
func kig_go_init(call *C.struct_kig_call, hook C.int, argc C.int, argv **C.char, cst *C.struct_kig_state) (rc C.int) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	h := keyinit.Hook(hook)
	fail := keyinit.SessionErr
	if h == keyinit.HookEstablishCred {
		fail = keyinit.CredErr
	}
	host := pamHost{unsafe.Pointer(call)}
	defer recoverAs(host, &rc, fail)
	st := loadState(cst)
	defer storeState(cst, &st)
	var buf [argsOnStack]string
	m, args := testHook(module(host), goArgs(argc, argv, buf[:0])) // identity outside tests
	return C.int(m.Init(&st, h, args))
}

func module(host pamHost) keyinit.Module {
	return keyinit.Module{Keys: keyinit.Kernel{}, Creds: keyinit.ThreadCreds{}, Host: host}
}

// The hooks work on a Go copy of the handle's C state, on the stack, and
// write it back with a deferred storeState, so that even after a panic a
// keyring made before it can still be revoked.
func loadState(cst *C.struct_kig_state) keyinit.State {
	return keyinit.State{
		Serial:  int32(cst.serial),
		UID:     uint32(cst.uid),
		GID:     uint32(cst.gid),
		Opens:   int32(cst.opens),
		Revoke:  cst.revoke != 0,
		Debug:   cst.debug != 0,
		Settled: cst.settled != 0,
	}
}

func storeState(cst *C.struct_kig_state, st *keyinit.State) {
	cst.serial = C.int32_t(st.Serial)
	cst.uid = C.uint32_t(st.UID)
	cst.gid = C.uint32_t(st.GID)
	cst.opens = C.int32_t(st.Opens)
	cst.revoke = boolInt(st.Revoke)
	cst.debug = boolInt(st.Debug)
	cst.settled = boolInt(st.Settled)
}

func boolInt(b bool) C.int32_t {
	if b {
		return 1
	}
	return 0
}

func recoverAs(host pamHost, rc *C.int, code keyinit.Code) {
	if r := recover(); r != nil {
		host.Log(keyinit.LogErr, "internal error, please report it: "+panicText(r))
		*rc = C.int(code)
	}
}

// panicText says what a panic was, without fmt (see keyinit's itoa for why):
// runtime errors are errors, and this module panics with nothing else.
func panicText(r any) string {
	switch v := r.(type) {
	case error:
		return v.Error()
	case interface{ String() string }:
		return v.String()
	case string:
		return v
	}
	return "a panic value that is neither an error nor a string"
}

// argsOnStack module arguments fit the hooks' stack buffer; a longer pam.d
// line costs one allocation.
const argsOnStack = 8

// goArgs appends the module arguments to buf without copying them: the
// strings point into libpam's argv, which lives as long as the handle, and
// keyinit keeps none of them after the hook returns.
func goArgs(argc C.int, argv **C.char, buf []string) []string {
	if argc <= 0 || argv == nil {
		return nil
	}
	for _, a := range unsafe.Slice(argv, int(argc)) {
		buf = append(buf, cView(a))
	}
	return buf
}

// cView is a C string as a Go string that shares its memory, for strings
// that outlive the hook and are not changed during it.
func cView(s *C.char) string {
	n := 0
	for *(*byte)(unsafe.Add(unsafe.Pointer(s), n)) != 0 {
		n++
	}
	return unsafe.String((*byte)(unsafe.Pointer(s)), n)
}

// pamHost is keyinit.Host for one call into Go: its PAM handle and the
// user the front (front/user.c) resolved before the call. It is kept as one
// unsafe.Pointer to the C struct kig_call: a pointer-shaped struct goes
// into the Host interface without an allocation, and a *C type of an
// incomplete C struct would not count as a pointer.
type pamHost struct{ c unsafe.Pointer }

func (p pamHost) call() *C.struct_kig_call { return (*C.struct_kig_call)(p.c) }

// User returns a view of libpam's PAM_USER item, which stays as it is until
// the host changes it, never during a hook.
func (p pamHost) User() (string, keyinit.Code) {
	c := p.call()
	if c.user_rc != C.PAM_SUCCESS {
		return "", keyinit.Code(c.user_rc)
	}
	if c.user == nil {
		return "", keyinit.Success // pam_get_user never does this; NSS has not found "" either
	}
	return cView(c.user), keyinit.Success
}

// LookupUser answers for the name User returned, the only one keyinit asks
// about: the front looked it up through NSS (getpwnam: files, LDAP,
// SSSD) before entering Go.
func (p pamHost) LookupUser(string) (uid, gid uint32, found bool) {
	c := p.call()
	if c.found == 0 {
		return 0, 0, false
	}
	return uint32(c.uid), uint32(c.gid), true
}

func (p pamHost) Log(prio keyinit.Priority, msg string) {
	cmsg := C.CString(msg)
	defer C.free(unsafe.Pointer(cmsg))
	C.kig_log(p.call().pamh, C.int(prio), cmsg)
}
