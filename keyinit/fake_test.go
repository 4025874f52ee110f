package keyinit

import (
	"fmt"
	"slices"
	"strings"

	"pam_keyinit_go/internal/keys"

	"golang.org/x/sys/unix"
)

// Fakes of the kernel, the thread credentials and libpam for the policy
// tests. They model what the policy depends on: keyrings owned by the real
// ids at creation, @u/@us resolved from the real uid, @s lookups installing
// the user-session keyring, key permissions and possession as keyctl(2)
// checks them for a revoke, and the set*id permission rule for an
// unprivileged thread.

// fakeKey is one key of the fake kernel.
type fakeKey struct {
	serial   int
	name     string
	uid, gid uint32
	perm     uint32 // possessor, user, group, other bytes, high to low
	revoked  bool
	links    []int
}

// Key permissions the kernel gives the keyrings the module meets: "_ses"
// (KEYCTL_JOIN_SESSION_KEYRING) lets its possessor do anything and its owner
// only view and read; the per-user keyrings let possessor and owner do
// anything (security/keys/process_keys.c).
const (
	permSession uint32 = 0x3f030000
	permUser    uint32 = 0x3f3f0000
	permWrite   uint32 = 0x04
	permSetattr uint32 = 0x20
)

// keyCall is one Keyrings call with the thread's ids at the time.
type keyCall struct {
	op  string
	ids IDs
}

// fakeKernel is Keyrings for one or more fake threads of one process.
type fakeKernel struct {
	creds       *fakeCreds
	nextSerial  int
	keys        map[int]*fakeKey
	thread      string         // the current thread
	session     map[string]int // thread -> its session keyring (0: none)
	user        map[uint32]int // real uid -> _uid.N
	userSession map[uint32]int // real uid -> _uid_ses.N

	// fault, if set, is asked before every call (op is the method name)
	// and its error is returned instead of doing the call.
	fault func(op string) error
	// queued errors per op, used before fault; nil entries let a call through.
	queued map[string][]error
	// panicOn makes the named call panic (a bug in a keyctl wrapper).
	panicOn string
	// userKeyringOf, if set, maps the uid whose @u is asked for to the uid
	// whose _uid.N is returned: a kernel or a host that resolves @u from
	// the wrong credentials.
	userKeyringOf func(uid uint32) uint32
	quotaUse      string
	calls         []keyCall
}

func newFakeKernel(c *fakeCreds) *fakeKernel {
	return &fakeKernel{
		creds:       c,
		nextSerial:  1000,
		keys:        map[int]*fakeKey{},
		thread:      "main",
		session:     map[string]int{},
		user:        map[uint32]int{},
		userSession: map[uint32]int{},
		queued:      map[string][]error{},
	}
}

var _ Keyrings = (*fakeKernel)(nil)

// failNext makes the next calls of op return errs in turn (nil: no fault).
func (k *fakeKernel) failNext(op string, errs ...error) {
	k.queued[op] = append(k.queued[op], errs...)
}

func (k *fakeKernel) enter(op string) error {
	k.calls = append(k.calls, keyCall{op, k.creds.ids})
	if k.panicOn == op {
		panic("fake keyctl bug in " + op)
	}
	if q := k.queued[op]; len(q) > 0 {
		k.queued[op] = q[1:]
		if q[0] != nil {
			return q[0]
		}
		return nil
	}
	if k.fault != nil {
		return k.fault(op)
	}
	return nil
}

func (k *fakeKernel) newKey(name string, uid, gid, perm uint32) *fakeKey {
	k.nextSerial++
	key := &fakeKey{serial: k.nextSerial, name: name, uid: uid, gid: gid, perm: perm}
	k.keys[key.serial] = key
	return key
}

func (k *fakeKernel) userKeyring(uid uint32) int {
	if k.userKeyringOf != nil {
		uid = k.userKeyringOf(uid)
	}
	if k.user[uid] == 0 {
		k.user[uid] = k.newKey(fmt.Sprintf("_uid.%d", uid), uid, 0, permUser).serial
	}
	return k.user[uid]
}

func (k *fakeKernel) userSessionKeyring(uid uint32) int {
	if k.userSession[uid] == 0 {
		s := k.newKey(fmt.Sprintf("_uid_ses.%d", uid), uid, 0, permUser)
		s.links = []int{k.userKeyring(uid)}
		k.userSession[uid] = s.serial
	}
	return k.userSession[uid]
}

// resolve turns a special id into a serial for the current thread.
func (k *fakeKernel) resolve(id int) (int, error) {
	switch id {
	case keys.Session:
		if k.session[k.thread] == 0 {
			// The kernel installs the user-session keyring on lookup.
			k.session[k.thread] = k.userSessionKeyring(k.creds.ids.RUID)
		}
		id = k.session[k.thread]
	case keys.User:
		return k.userKeyring(k.creds.ids.RUID), nil
	case keys.UserSession:
		return k.userSessionKeyring(k.creds.ids.RUID), nil
	}
	key := k.keys[id]
	switch {
	case key == nil:
		return 0, unix.ENOKEY
	case key.revoked:
		return 0, unix.EKEYREVOKED
	}
	return id, nil
}

func (k *fakeKernel) GetID(special int) (int, error) {
	if err := k.enter("GetID"); err != nil {
		return 0, err
	}
	return k.resolve(special)
}

func (k *fakeKernel) JoinAnonymous() (int, error) {
	if err := k.enter("JoinAnonymous"); err != nil {
		return 0, err
	}
	key := k.newKey("_ses", k.creds.ids.RUID, k.creds.ids.RGID, permSession)
	k.session[k.thread] = key.serial
	return key.serial, nil
}

func (k *fakeKernel) Link(key, keyring int) error {
	if err := k.enter("Link"); err != nil {
		return err
	}
	from, err := k.resolve(keyring)
	if err != nil {
		return err
	}
	to, err := k.resolve(key)
	if err != nil {
		return err
	}
	k.keys[from].links = append(k.keys[from].links, to)
	return nil
}

func (k *fakeKernel) Unlink(key, keyring int) error {
	if err := k.enter("Unlink"); err != nil {
		return err
	}
	from, err := k.resolve(keyring)
	if err != nil {
		return err
	}
	to, err := k.resolve(key)
	if err != nil {
		return err
	}
	links := k.keys[from].links
	for i, l := range links {
		if l == to {
			k.keys[from].links = append(links[:i:i], links[i+1:]...)
			return nil
		}
	}
	return unix.ENOENT
}

// Revoke is keyctl(2)'s KEYCTL_REVOKE: it needs write or setattr
// permission, checked as the kernel does (key_task_permission): the owner
// (effective uid, which the fs uid follows) gets the user bits, a member of
// the key's group the group bits, anyone else the other bits, and a thread
// that possesses the key adds the possessor bits. Root gets nothing more.
func (k *fakeKernel) Revoke(serial int) error {
	if err := k.enter("Revoke"); err != nil {
		return err
	}
	key := k.keys[serial]
	switch {
	case key == nil:
		return unix.ENOKEY
	case key.revoked:
		return unix.EKEYREVOKED
	case k.permits(key)&(permWrite|permSetattr) == 0:
		return unix.EACCES
	}
	key.revoked = true
	return nil
}

// permits is the permission byte the current thread has on key.
func (k *fakeKernel) permits(key *fakeKey) uint32 {
	ids := k.creds.ids
	var p uint32
	switch {
	case ids.EUID == key.uid:
		p = key.perm >> 16
	case ids.EGID == key.gid:
		p = key.perm >> 8
	default:
		p = key.perm
	}
	if k.possessed(key.serial) {
		p |= key.perm >> 24
	}
	return p & 0xff
}

// possessed says whether the current thread possesses serial: it is the
// thread's session keyring or is reachable through that keyring's links
// (the thread and process keyrings are not modelled).
func (k *fakeKernel) possessed(serial int) bool {
	seen := map[int]bool{}
	var reach func(id int) bool
	reach = func(id int) bool {
		key := k.keys[id]
		if key == nil || seen[id] || key.revoked {
			return false
		}
		seen[id] = true
		return id == serial || slices.ContainsFunc(key.links, reach)
	}
	return reach(k.session[k.thread])
}

func (k *fakeKernel) Owner(serial int) (uint32, error) {
	if err := k.enter("Owner"); err != nil {
		return 0, err
	}
	id, err := k.resolve(serial)
	if err != nil {
		return 0, err
	}
	return k.keys[id].uid, nil
}

func (k *fakeKernel) QuotaUse(uid uint32) string {
	k.calls = append(k.calls, keyCall{"QuotaUse", k.creds.ids})
	return k.quotaUse
}

// sessionKey is the current thread's session keyring, nil if none (without
// installing one, unlike a lookup of @s).
func (k *fakeKernel) sessionKey() *fakeKey { return k.keys[k.session[k.thread]] }

// count is how many calls of op were made.
func (k *fakeKernel) count(op string) int {
	n := 0
	for _, c := range k.calls {
		if c.op == op {
			n++
		}
	}
	return n
}

// callIDs are the thread's ids during the first call of op.
func (k *fakeKernel) callIDs(op string) (IDs, bool) {
	for _, c := range k.calls {
		if c.op == op {
			return c.ids, true
		}
	}
	return IDs{}, false
}

// fakeCreds is Creds for one thread, applying setresuid/setresgid's rules:
// with euid 0 any id may be set; otherwise each new id must be one of the
// current real, effective or saved ones.
type fakeCreds struct {
	ids IDs
	// fault, if set, is asked before every set call; op is "SetUIDs" or
	// "SetGIDs". Its error is returned and nothing changes.
	fault func(op string, r, e, s uint32) error
	sets  []string // every set call, as "SetUIDs(r,e,s)"
}

var _ Creds = (*fakeCreds)(nil)

func (c *fakeCreds) Get() IDs { return c.ids }

func (c *fakeCreds) SetUIDs(r, e, s uint32) error {
	if err := c.check("SetUIDs", r, e, s, c.ids.RUID, c.ids.EUID, c.ids.SUID); err != nil {
		return err
	}
	setIDs(&c.ids.RUID, &c.ids.EUID, &c.ids.SUID, r, e, s)
	return nil
}

func (c *fakeCreds) SetGIDs(r, e, s uint32) error {
	if err := c.check("SetGIDs", r, e, s, c.ids.RGID, c.ids.EGID, c.ids.SGID); err != nil {
		return err
	}
	setIDs(&c.ids.RGID, &c.ids.EGID, &c.ids.SGID, r, e, s)
	return nil
}

func (c *fakeCreds) check(op string, r, e, s, cr, ce, cs uint32) error {
	c.sets = append(c.sets, fmt.Sprintf("%s(%s,%s,%s)", op, idArg(r), idArg(e), idArg(s)))
	if c.fault != nil {
		if err := c.fault(op, r, e, s); err != nil {
			return err
		}
	}
	if c.ids.EUID == 0 {
		return nil
	}
	for _, id := range []uint32{r, e, s} {
		if id != Keep && id != cr && id != ce && id != cs {
			return unix.EPERM
		}
	}
	return nil
}

func setIDs(cr, ce, cs *uint32, r, e, s uint32) {
	for _, p := range []struct {
		to  *uint32
		val uint32
	}{{cr, r}, {ce, e}, {cs, s}} {
		if p.val != Keep {
			*p.to = p.val
		}
	}
}

func idArg(id uint32) string {
	if id == Keep {
		return "-1"
	}
	return fmt.Sprint(id)
}

// logLine is one pam_syslog call.
type logLine struct {
	prio Priority
	msg  string
}

// fakeHost is Host: pam_get_user's answer, an NSS database, and the log.
type fakeHost struct {
	user     string
	userCode Code // non-Success: what pam_get_user returns
	users    map[string][2]uint32
	lookups  []string
	logs     []logLine
}

var _ Host = (*fakeHost)(nil)

func (h *fakeHost) User() (string, Code) {
	if h.userCode != Success {
		return "", h.userCode
	}
	return h.user, Success
}

func (h *fakeHost) LookupUser(name string) (uint32, uint32, bool) {
	h.lookups = append(h.lookups, name)
	ids, ok := h.users[name]
	return ids[0], ids[1], ok
}

func (h *fakeHost) Log(p Priority, msg string) {
	if strings.ContainsAny(msg, "\n\r") {
		panic("log line with a line break: " + msg)
	}
	h.logs = append(h.logs, logLine{p, msg})
}

// at are the logged messages of priority p.
func (h *fakeHost) at(p Priority) []string {
	var out []string
	for _, l := range h.logs {
		if l.prio == p {
			out = append(out, l.msg)
		}
	}
	return out
}

// Test users of the fake NSS.
const (
	aliceUID, aliceGID = 1001, 1001
	bobUID, bobGID     = 1002, 1003
)

// fixture is a Module wired to fakes: a thread with no session keyring,
// and pam_get_user answering "alice".
type fixture struct {
	keys  *fakeKernel
	creds *fakeCreds
	host  *fakeHost
	m     Module
	st    State
}

// newFixture is a fixture whose thread is root with all ids 0.
func newFixture() *fixture { return newFixtureAt(IDs{}) }

// newFixtureAt is a fixture whose thread starts with the given ids.
func newFixtureAt(start IDs) *fixture {
	c := &fakeCreds{ids: start}
	f := &fixture{
		creds: c,
		keys:  newFakeKernel(c),
		host: &fakeHost{user: "alice", users: map[string][2]uint32{
			"alice": {aliceUID, aliceGID},
			"bob":   {bobUID, bobGID},
			"root":  {0, 0},
		}},
	}
	f.m = Module{Keys: f.keys, Creds: f.creds, Host: f.host}
	return f
}

// open is pam_sm_open_session as the C front runs it: count, then Init.
func (f *fixture) open(opts ...string) Code {
	f.st.Opens++
	return f.m.Init(&f.st, HookOpenSession, opts)
}

// establish is pam_sm_setcred(PAM_ESTABLISH_CRED): Init without counting.
func (f *fixture) establish(opts ...string) Code {
	return f.m.Init(&f.st, HookEstablishCred, opts)
}

// frontRevoke is what the C front (pam/front/revoke.c) does at the last
// close: revoke the recorded keyring as the thread is, and forget it.
func (f *fixture) frontRevoke() error {
	serial := f.st.Serial
	f.st.Serial = 0
	return f.keys.Revoke(int(serial))
}
