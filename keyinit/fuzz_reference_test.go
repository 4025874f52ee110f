package keyinit

import "slices"

// reference is what pam_keyinit_go's Init must do on the fake kernel when
// no fault is injected, worked out from the documented behaviour
// (README "Making the keyring", issue "beyond pam_keyinit" §1) and the
// fake's state before the call, not from the code under test.
type reference struct {
	code   Code
	makes  bool   // a new "_ses" is joined and recorded
	notice uint32 // makes it in place of a keyring of this uid (1<<32-1: none)
}

const noNotice = ^uint32(0)

// expectInit is the reference for Init(hook, opts) on fx as it is now.
func expectInit(fx *fixture, hook Hook, o Options) reference {
	fail := SessionErr
	if hook == HookEstablishCred {
		fail = CredErr
	}
	keep := reference{code: Success, notice: noNotice}
	switch {
	case fx.st.Serial > 0:
		return keep // made by an earlier hook of this handle
	case fx.host.userCode != Success:
		return reference{code: fx.host.userCode, notice: noNotice}
	}
	target, found := fx.host.users[fx.host.user]
	if !found {
		return reference{code: UserUnknown, notice: noNotice}
	}
	uid, gid := target[0], target[1]
	ids := fx.creds.ids
	if gid != ids.RGID && !maySet(ids.EUID, gid, ids.RGID, ids.EGID, ids.SGID) ||
		uid != ids.RUID && !maySet(ids.EUID, uid, ids.RUID, ids.EUID, ids.SUID) {
		return reference{code: fail, notice: noNotice}
	}
	made := reference{code: Success, makes: true, notice: noNotice}
	if fx.keys.userKeyringOf != nil && fx.keys.userKeyringOf(uid) != uid {
		// The linked @u is another user's: unlinked, and the hook fails.
		made = reference{code: fail, makes: true, notice: noNotice}
	}
	if o.Force {
		return made
	}
	cur := fx.keys.session[fx.keys.thread]
	key := fx.keys.keys[cur]
	switch {
	case cur == 0, cur == fx.keys.userSession[uid]:
		return made // no session keyring of the thread's own (the lookup installs @us)
	case key == nil:
		return reference{code: fail, notice: noNotice} // @s names a key that is gone
	case key.revoked:
		return made
	case uid == 0 || key.uid == uid:
		return keep
	}
	made.notice = key.uid
	return made
}

// maySet is setresuid(2)'s rule for one id: root may set any, others only
// one of their current real, effective or saved ids.
func maySet(euid, id uint32, current ...uint32) bool {
	return euid == 0 || slices.Contains(current, id)
}
