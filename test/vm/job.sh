#!/bin/sh
# What the VM runs (from /kig-vm/init, as root, in the VM's own root): a
# pamtester session with each module, then the Go tests that
# test/vm/stage.sh chose, from the test binary cross-compiled for this
# architecture, with its build/ at the path it has on the build machine.
# Each result is a line test/vm_test.go reads: "KIG-VM: smoke NAME ok" (or
# "failed: why"), then go test's own -test.v output.
. /kig-vm/settings
status=0

# smoke NAME MODULE: a session for a new user through pamtester, with a
# pam_exec probe that reads the session keyring the session's child sees.
smoke() {
	user=kigvm$$
	useradd --no-create-home --no-log-init --user-group --shell /bin/sh --home-dir /nonexistent "$user" || {
		echo "KIG-VM: smoke $1 failed: useradd"; status=1; return
	}
	uid=$(id -u "$user") gid=$(id -g "$user")
	cat > /kig-vm/probe <<'EOF'
#!/bin/sh
echo "$PAM_TYPE;$(keyctl rdescribe @s 2>&1)" >> /kig-vm/probe.out
EOF
	chmod 0755 /kig-vm/probe
	rm -f /kig-vm/probe.out
	printf '%s\n' "auth required pam_permit.so" "account required pam_permit.so" \
		"session required $2 force revoke" "session optional pam_exec.so quiet /kig-vm/probe" > /etc/pam.d/kig-vm-smoke
	out=$(pamtester -v kig-vm-smoke "$user" open_session close_session 2>&1)
	rc=$?
	seen=$(cat /kig-vm/probe.out 2>/dev/null | tr '\n' '|')
	userdel "$user"
	rm -f /etc/pam.d/kig-vm-smoke
	case "$rc:$seen" in
	"0:open_session;keyring;$uid;$gid;3f030000;_ses|close_session;"*)
		echo "KIG-VM: smoke $1 ok: $seen" ;;
	*)
		echo "KIG-VM: smoke $1 failed: pamtester exit $rc, the session saw $seen: $out"
		status=1 ;;
	esac
}

smoke pam_keyinit.so pam_keyinit.so
smoke pam_keyinit_go.so "$KIG_VM_SRC/build/pam_keyinit_go.so"

if [ -n "$KIG_VM_TESTS" ]; then
	run=$(echo "$KIG_VM_TESTS" | tr ' ' '|')
	echo "KIG-VM: go test ($KIG_VM_TESTS) (Go core: $KIG_VM_CORE)"
	mkdir -p "$KIG_VM_SRC/test" && cd "$KIG_VM_SRC/test" || exit 1
	# CI=true: a test that lacks something here fails rather than skips.
	CI=true "$KIG_VM_SRC/build/vm-test.test" -test.v -test.count=1 -test.timeout=60m -test.run "^($run)\$" || status=1
fi
exit $status
