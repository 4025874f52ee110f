// Package keyinit is the pure Go core of pam_keyinit_go: option parsing, the
// session-keyring policy of Linux-PAM's pam_keyinit, and the keyring and
// credential operations it needs, each behind a small interface so that the
// policy can be tested against fakes.
//
// Nothing here knows about cgo. The c-shared package in ../pam binds these
// interfaces to libpam and to the kernel.
package keyinit

// Code is a PAM return code. The values are Linux-PAM's (security/_pam_types.h);
// the bridge in ../pam checks them against the C headers at compile time.
type Code int

const (
	Success     Code = 0
	SystemErr   Code = 4
	PermDenied  Code = 6 // libpam's answer when every module of a stack ignored a call
	BufErr      Code = 5
	UserUnknown Code = 10
	SessionErr  Code = 14
	CredErr     Code = 17
	ConvErr     Code = 19
	Ignore      Code = 25
)

// Flag bits passed to the hooks (security/_pam_types.h).
const (
	FlagSilent           = 0x8000
	FlagEstablishCred    = 0x0002
	FlagDeleteCred       = 0x0004
	FlagReinitializeCred = 0x0008
	FlagRefreshCred      = 0x0010
)

// Syslog priorities used with pam_syslog (syslog.h).
type Priority int

const (
	LogErr    Priority = 3
	LogNotice Priority = 5
	LogDebug  Priority = 7
)

// LogAuthpriv is the facility pam_syslog logs to (syslog.h).
const LogAuthpriv = 10 << 3
