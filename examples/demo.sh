#!/usr/bin/env bash
# make demo: open a real session with build/pam_keyinit_go.so through
# pamtester and show the session keyring it made, as the session's own child
# process (pam_exec) sees it. Creates a temporary user and PAM service and
# removes both on exit, whatever happens.
set -euo pipefail
module="$(cd "$(dirname "$0")/.." && pwd)/build/pam_keyinit_go.so"
[ "$(id -u)" = 0 ] || { echo "make demo needs root (it creates a user and a PAM service)" >&2; exit 1; }
[ -f "$module" ] || { echo "$module is missing: run make" >&2; exit 1; }

suffix=$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')
user="kigdemo$suffix"
service="kig-demo-$suffix"
probe=$(mktemp /tmp/kig-demo-probe.XXXXXX)
cleanup() {
	rm -f "/etc/pam.d/$service" "$probe"
	userdel "$user" 2>/dev/null || true
}
trap cleanup EXIT

useradd --no-create-home --user-group --home-dir /nonexistent --shell /usr/sbin/nologin "$user"
cat > "$probe" <<'PROBE'
#!/bin/sh
echo "--- $PAM_TYPE: the session keyring of a process the session starts:"
keyctl show @s 2>&1 | sed 's/^/    /'
PROBE
chmod 755 "$probe"
cat > "/etc/pam.d/$service" <<SERVICE
auth     required pam_permit.so
account  required pam_permit.so
session  required $module force revoke
session  optional pam_exec.so stdout $probe
SERVICE

echo "user $user (uid $(id -u "$user")), service /etc/pam.d/$service:"
sed 's/^/    /' "/etc/pam.d/$service"
echo
pamtester -v "$service" "$user" open_session close_session 2>&1
