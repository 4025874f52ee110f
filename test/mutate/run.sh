#!/usr/bin/env bash
# 'make mutate': mutation testing. Not in CI: it rebuilds and reruns tests
# once per mutant (many minutes, integration mutants need root).
#
# 1. gremlins (github.com/go-gremlins/gremlins, through 'go run' from the Go
#    module proxy) mutates keyinit/ by itself; GREMLINS=0 skips it.
# 2. The curated mutants of test/mutate/mutants.txt, for the Go and the C
#    side: each is applied to a fresh copy of the tree in a temporary
#    directory (never to this tree), then its command runs there. A mutant
#    is "killed" if the command fails, "survived" if it passes. A command
#    that already fails on the unmutated copy kills nothing: its mutants are
#    reported "baseline fails"; a mutant that does not build, "not viable";
#    one whose command runs out of time (MUTANT_TIMEOUT, 1200 s), "timed
#    out", which needs a look rather than a count.
#    MUTANTS=regex runs only the matching names; UNIT=command replaces the
#    unit-test command (e.g. only the fuzz seeds).
set -uo pipefail
cd "$(dirname "$0")/../.."
GO=${GO:-go}
export GO
GREMLINS_VERSION=v0.6.0
list=test/mutate/mutants.txt

work=$(mktemp -d /tmp/kig-mutate.XXXXXXXX)
trap 'rm -rf "$work"' EXIT
# Integration tests load the module as other users: they must reach it.
chmod 0755 "$work"
# The copy: the working tree as it is (build/ included, so make rebuilds only
# what a mutant touches, but for the VM stages' copies), without .git, so
# nothing can reach the repository.
mkdir "$work/base"
tar --exclude=./.git --exclude=./build/vm -cf - . | tar -C "$work/base" -xf -

# What the commands in mutants.txt may use: unit (keyinit's tests and fuzz
# seeds, or the command in $UNIT), it REGEX (rebuild, then the
# integration tests whose names match) and vm "TestA TestB" (those tests in
# the arm64 VM). It rebuilds what 'make test' builds
# for them: the module, the test programs, the front without a core
# (build/test/nogo, the plain keyinit in C, which the differential test
# runs every scenario through), and, only for the tests that load it (a
# second Go build), the module whose core panics (build/test/panic).
export UNIT=${UNIT:-"$GO test -count=1 ./keyinit/"}
unit() { eval "$UNIT"; }
it() {
	local targets=(all test-programs build/test/nogo/pam_keyinit_go.so)
	if grep -ho '^func Test[A-Za-z0-9_]*' /dev/null $(grep -l 'test/panic/' test/*_test.go) | cut -c6- | grep -qE "$1"; then
		targets+=(build/test/panic/pam_keyinit_go.so build/test/panic/pam_keyinit_go/core.so)
	fi
	# No deadline of go test's own (10 minutes): the matrix alone takes
	# about that, after waiting for the machine's test lock (test/harness)
	# if another run holds it; run_cmd's MUTANT_TIMEOUT bounds the command.
	make -s "${targets[@]}" GO="$GO" && "$GO" test -count=1 -p 1 -timeout 0 ./test/ -run "$1"
}
# vm "TestA TestB": stage the arm64 VM (test/vm/stage.sh) with only those
# tests, boot it and check them (the root and kernel come from the cache).
vm() {
	KIG_VM_TESTS="$1" test/vm/stage.sh arm64 >/dev/null &&
		KIG_VM_STAGES=arm64 "$GO" test -tags vmstage -count=1 -timeout 0 -run '^TestVM$' ./test/vm
}
export -f unit it vm

if [ "${GREMLINS:-1}" != 0 ]; then
	echo "== gremlins $GREMLINS_VERSION on keyinit/"
	cp -a "$work/base" "$work/gremlins"
	if ! (cd "$work/gremlins" && "$GO" run "github.com/go-gremlins/gremlins/cmd/gremlins@$GREMLINS_VERSION" \
		unleash --workers 1 --timeout-coefficient 10 --invert-logical -S ltc ./keyinit); then
		echo "gremlins did not run (is the Go module proxy reachable?); the curated mutants follow"
	fi
	rm -rf "$work/gremlins"
fi

# run_cmd DIR COMMAND: the command's exit status, its output in DIR/.mutate.log;
# 124 if it ran out of time (MUTANT_TIMEOUT seconds).
run_cmd() {
	(cd "$1" && timeout "${MUTANT_TIMEOUT:-1200}" bash -c "$2") >"$1/.mutate.log" 2>&1
}

needs_root() { [[ $1 == it\ * ]] && [ "$(id -u)" != 0 ]; }

declare -A baseline
results=()
killed=0 survived=0 other=0
echo "== curated mutants ($list)"
while IFS=$'\t' read -r name file orig repl cmd; do
	[[ -z $name || $name == \#* ]] && continue
	[[ -n ${MUTANTS:-} && ! $name =~ $MUTANTS ]] && continue
	start=$SECONDS
	if needs_root "$cmd"; then
		result="not run (needs root)"
	else
		if [ -z "${baseline[$cmd]:-}" ]; then
			rm -rf "$work/m" && cp -a "$work/base" "$work/m"
			if run_cmd "$work/m" "$cmd"; then baseline[$cmd]=pass; else
				baseline[$cmd]=fail
				echo "baseline fails for: $cmd"; tail -20 "$work/m/.mutate.log"
			fi
		fi
		rm -rf "$work/m" && cp -a "$work/base" "$work/m"
		if ! ORIG=$orig REPL=$repl perl -0777 -i -pe '
			my $n = () = /\Q$ENV{ORIG}\E/g;
			die "found $n times, not once\n" if $n != 1;
			s/\Q$ENV{ORIG}\E/$ENV{REPL}/;' "$work/m/$file" 2>"$work/perl.err"; then
			result="not applied: $(cat "$work/perl.err")"
		elif ! run_cmd "$work/m" "make -s all GO=$GO"; then
			result="not viable"  # does not build: proves nothing about the tests
		elif [ "${baseline[$cmd]}" = fail ]; then
			result="baseline fails"
		else
			run_cmd "$work/m" "$cmd"
			case $? in
			0) result=survived ;;
			124) result="timed out" ;;  # a hang, or a wait for the test lock: look, do not count it
			*) result=killed ;;
			esac
		fi
	fi
	case $result in
	killed) killed=$((killed + 1)) ;;
	survived) survived=$((survived + 1)) ;;
	*) other=$((other + 1)) ;;
	esac
	line=$(printf '%-28s %-26s %-16s %4ds' "$name" "$file" "$result" $((SECONDS - start)))
	echo "$line"
	results+=("$line")
done <"$list"

echo
echo "== summary"
printf '%-28s %-26s %-16s %5s\n' mutant file result time
printf '%s\n' "${results[@]}"
echo "killed $killed, survived $survived, not run or not applicable $other"
[ "$survived" = 0 ]
