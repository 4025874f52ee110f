#!/usr/bin/env bash
# test/vm/stage.sh STAGE: prepares one full-system VM stage. A stage is an
# architecture (GOARCH name: arm64, ppc64le, s390x, riscv64, amd64) and a
# kernel; arm64-16k and arm64-64k are arm64 under kernels with 16 and 64 KiB
# pages. It leaves in build/vm/STAGE/:
#   vmlinuz      the stage's kernel (from the cache)
#   initrd.cpio  the cached Debian root, then this build (one cpio after the
#                other: the kernel unpacks both)
#   qemu.args    the qemu command line, one argument a line
#   tests        the Go tests the VM runs, one a line (test/vm/vm_test.go
#                checks that each passed)
#   smokes       the pamtester sessions the VM opens (test/vm/job.sh)
#   pagesize     the page size its kernel must have
# test/vm/vm_test.go (TestVM) boots it and reads the results. 'make
# vm-stage' runs this for every stage, 'make test-vm' (part of 'make test')
# also boots them.
#
# The cache (KIG_VM_CACHE, default /var/cache/pam_keyinit_go/vm, outside the
# repository, kept between runs): for each architecture the debootstrapped
# root as a cpio, DEBARCH-RELEASE-KEY.root.cpio, and for each kernel,
# DEBARCH-SUITE-PACKAGE-KEY.vmlinuz, KEY a hash of what made it. An empty
# cache costs one debootstrap (about 4 minutes for arm64 on a quiet
# machine) and a kernel package's download; remove the directory to
# refresh. Debian's kernels are the image packages its metapackages name:
# linux-image-cloud-arm64 (4 KiB pages) from the root's release, and
# linux-image-arm64-16k from bookworm-backports. Debian builds no arm64
# kernel with 64 KiB pages: test/vm/kernel64k.sh builds one from Debian's
# linux-source (once, about 40 minutes on 2 cores), for the arm64-64k
# stage, which 'make test' does not run.
# The root holds Debian's pam_keyinit.so, libpam, pamtester, keyutils,
# passwd, util-linux and strace; this tree and its build go in at the path
# they have here, so the test binary's harness.RepoRoot finds them there as
# it does here.
#
# Needs root when the cache is empty (debootstrap) or a tool is missing
# (apt-get).
set -euo pipefail
umask 022

stage=${1:?usage: test/vm/stage.sh STAGE (arm64, arm64-16k, arm64-64k, ppc64le, s390x, riscv64, amd64)}
repo=$(cd "$(dirname "$0")/../.." && pwd)
cache=${KIG_VM_CACHE:-/var/cache/pam_keyinit_go/vm}
GO=${GO:-go}
release=bookworm
mem=2048
smp=2

# What each stage needs: its GOARCH, Debian's name for it, the cross
# compiler's triplet, qemu's package and binary and machine, the serial
# console, the kernel (its suite and metapackage, or the script that builds
# it) and the binfmt entry that runs the root's programs here while
# debootstrap configures them.
arch=${stage%%-*}
kernel_suite=$release kernel_build= pagesize=4096 cc_pkg= libc_pkg=
case $stage in
arm64 | arm64-16k | arm64-64k)
	deb=arm64 triplet=aarch64-linux-gnu
	qemu_pkg=qemu-system-arm qemu=qemu-system-aarch64 machine=(-M virt -cpu cortex-a72)
	console=ttyAMA0 kernel_pkg=linux-image-cloud-arm64 binfmt=qemu-aarch64
	case $stage in
	arm64-16k)
		# Cortex-A72 has no 16 KiB translation granule; qemu's max does.
		machine=(-M virt -cpu max,pauth=off)
		kernel_suite=bookworm-backports kernel_pkg=linux-image-arm64-16k pagesize=16384 ;;
	arm64-64k)
		kernel_pkg=linux-6.1-64k kernel_build=$repo/test/vm/kernel64k.sh pagesize=65536 ;;
	esac ;;
ppc64le)
	deb=ppc64el triplet=powerpc64le-linux-gnu
	# -vga none: pseries (and q35) add a VGA card by default, whose
	# ROM is in seabios, which qemu-system-data only recommends.
	qemu_pkg=qemu-system-ppc qemu=qemu-system-ppc64 machine=(-M pseries -cpu power9 -vga none)
	# Debian's ppc64el kernels have 64 KiB pages.
	console=hvc0 kernel_pkg=linux-image-powerpc64le binfmt=qemu-ppc64le pagesize=65536 ;;
s390x)
	deb=s390x triplet=s390x-linux-gnu
	qemu_pkg=qemu-system-misc qemu=qemu-system-s390x machine=(-M s390-ccw-virtio -cpu max)
	console=ttysclp0 kernel_pkg=linux-image-s390x binfmt=qemu-s390x ;;
riscv64)
	# Debian 12 has no riscv64; Debian 13 is its first release with it.
	release=trixie kernel_suite=trixie
	deb=riscv64 triplet=riscv64-linux-gnu
	qemu_pkg=qemu-system-misc qemu=qemu-system-riscv64 machine=(-M virt -cpu rv64)
	console=ttyS0 kernel_pkg=linux-image-riscv64 binfmt=qemu-riscv64 ;;
amd64)
	# This machine's own architecture, emulated like the others: a
	# control that tells the emulation's effects from the architecture's.
	deb=amd64 triplet=x86_64-linux-gnu
	qemu_pkg=qemu-system-x86 qemu=qemu-system-x86_64 machine=(-M q35 -cpu max -vga none)
	console=ttyS0 kernel_pkg=linux-image-cloud-amd64 binfmt= cc_pkg=gcc libc_pkg=libc6-dev ;;
*)
	echo "stage.sh: no VM stage $stage (arm64, arm64-16k, arm64-64k, ppc64le, s390x, riscv64, amd64)" >&2
	exit 2 ;;
esac

say() { echo "vm-stage $stage: $*" >&2; }

# --- tools on this machine ---------------------------------------------------
# libpam0g-dev only for its headers, which are the same on every
# architecture: the cross links use the root's own libpam (below). The
# cross compiler only recommends its C library's headers and objects
# (libc6-dev-DEBARCH-cross), and recommends are not installed.
. "$repo/test/vm/lib.sh"
install_missing debootstrap qemu-user-static binfmt-support cpio xz-utils libpam0g-dev "$qemu_pkg" \
	"${cc_pkg:-gcc-$triplet}" "${libc_pkg:-libc6-dev-$deb-cross}"

# --- the root (cached) ---------------------------------------------------------
# Inside the VM: Debian's libpam and pam_keyinit.so (the reference the
# parity scenarios compare with), pamtester and keyutils (keyctl), passwd
# (useradd, userdel), util-linux (prlimit, setpriv, su, runuser), procps
# (pkill), strace (the seccomp probe's test).
packages=libpam-modules,libpam-runtime,pamtester,keyutils,passwd,util-linux,procps,strace
recipe=3 # bump when the commands below change what the cache holds
key=$(echo "$release $deb minbase $packages $recipe" | sha256sum | cut -c1-12)
root_cpio=$cache/$deb-$release-$key.root.cpio
mkdir -p "$cache"
exec 9>"$cache/.lock"
# One stage at a time fills the cache; a filled entry needs no lock (its
# files are renamed into place).
need_root() {
	if [ "$(id -u)" != 0 ]; then
		echo "vm-stage $stage: $1 is not cached yet: run as root" >&2
		exit 1
	fi
}
[ -s "$root_cpio" ] || flock 9
if [ ! -s "$root_cpio" ]; then
	say "debootstrapping $release for $deb into $root_cpio (once per cache)"
	need_root "the root"
	# debootstrap configures the root's packages by running its programs
	# here, through qemu-user.
	[ -z "$binfmt" ] || [ -e /proc/sys/fs/binfmt_misc/status ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
	[ -z "$binfmt" ] || [ -e "/proc/sys/fs/binfmt_misc/$binfmt" ] || update-binfmts --enable "$binfmt"
	if [ -n "$binfmt" ] && ! grep -qx enabled "/proc/sys/fs/binfmt_misc/$binfmt" 2>/dev/null; then
		echo "vm-stage $stage: binfmt entry $binfmt is not enabled (update-binfmts --enable $binfmt)" >&2
		exit 1
	fi
	# A failed run leaves its tmp.* for a look; the next one removes it.
	rm -rf "$cache"/tmp.*
	tmp=$(mktemp -d "$cache/tmp.XXXXXX")
	start=$SECONDS
	if ! debootstrap --variant=minbase --arch="$deb" --include="$packages" "$release" "$tmp/root" "$MIRROR" >"$tmp/debootstrap.log" 2>&1; then
		tail -n 30 "$tmp/debootstrap.log" >&2
		tail -n 30 "$tmp/root/debootstrap/debootstrap.log" >&2 2>/dev/null || true
		echo "vm-stage $stage: debootstrap failed" >&2
		exit 1
	fi
	# What a test run never reads.
	rm -rf "$tmp"/root/usr/share/{doc,man,info,locale,lintian} "$tmp"/root/var/cache/apt/* \
		"$tmp"/root/var/lib/apt/lists/* "$tmp"/root/var/log/*
	(cd "$tmp/root" && find . -xdev | LC_ALL=C sort | cpio -o -H newc --quiet) > "$tmp/root.cpio"
	mv "$tmp/root.cpio" "$root_cpio"
	rm -rf "$tmp"
	say "root cached in $((SECONDS - start)) s: $(du -h "$root_cpio" | cut -f1)"
fi

# --- the kernel (cached) ---------------------------------------------------------
kkey=$(echo "$kernel_suite $deb $kernel_pkg $recipe" | sha256sum | cut -c1-12)
kbase=$cache/$deb-$kernel_suite-$kernel_pkg-$kkey
kernel=$kbase.vmlinuz
[ -s "$kernel" ] || flock 9
if [ ! -s "$kernel" ] && [ -n "$kernel_build" ]; then
	say "building the kernel into $kernel (once per cache)"
	need_root "the kernel"
	"$kernel_build" "$kernel"
	echo "$kernel_pkg (built by ${kernel_build#"$repo"/})" > "$kbase.kernel-package"
elif [ ! -s "$kernel" ]; then
	need_root "the kernel"
	rm -rf "$cache"/tmp.*
	tmp=$(mktemp -d "$cache/tmp.XXXXXX")
	fetch_kernel_package "$kernel_suite" "$deb" "$kernel_pkg" "$tmp" > "$kbase.kernel-package"
	dpkg-deb -x "$tmp/kernel.deb" "$tmp/kernel"
	cp "$(ls "$tmp"/kernel/boot/vmlinu[xz]-* | head -n 1)" "$kernel.tmp"
	mv "$kernel.tmp" "$kernel"
	rm -rf "$tmp"
fi
flock -u 9

# --- this build, for ARCH -----------------------------------------------------
# A copy of the tree in build/vm/ARCH/src, built there with the cross
# compiler: build/ here keeps this machine's build, which the other tests
# use. Its own build/ is kept between runs, so make rebuilds only what
# changed; the stages of one architecture share it.
src=$repo/build/vm/$arch/src
out=$repo/build/vm/$stage
mkdir -p "$src" "$out"
find "$src" -mindepth 1 -maxdepth 1 ! -name build -exec rm -rf {} +
tar -C "$repo" --exclude=./build --exclude=./.git -cf - . | tar -C "$src" -xf -

# What the VM runs: the module, the module without its Go core (the plain
# keyinit in C, build/test/nogo), the test hosts and the modules the tests
# load (the panic hook's), and the tests of each guarantee the module
# makes on amd64 that depends on the architecture (system call numbers and
# the seccomp filters' arch, signal and thread handling, the runtime entry,
# the runtime's memory map and page size).
targets=(all test-programs build/test/nogo/pam_keyinit_go.so
	build/test/panic/pam_keyinit_go.so build/test/panic/pam_keyinit_go/core.so)
tests=(
	# The same keyrings and codes as pam_keyinit.so, beside it in the VM.
	TestDifferentialAgainstPamKeyinit TestPamtesterSessionWithProbe TestUnknownUser TestLogging
	TestOpenMakesUserSessionKeyringAndCloseRevokesIt TestNestedOpensRevokeAtLastClose
	TestWithoutForceKeepsOnlyTheUsersOwnSessionKeyring TestEachHandleMakesItsOwnKeyring
	# The host as it was: ids, capabilities, signal dispositions and masks,
	# sigaltstack, environment; no runtime without a session hook.
	TestHostStateKeptAfterSession TestNoSessionHookNoRuntime TestHostIDsAndCapabilitiesKept
	# The caller's environment (GOMAXPROCS, GODEBUG, GOTRACEBACK, ...).
	TestHostileEnvironmentIgnored TestHostileEnvironmentThroughSetuidSu
	# Signals and threads.
	TestRaceSIGPROFDuringFirstLoad TestHostThreadsEachGetTheirOwnKeyring TestThreadsStayFewAfterManyHooks
	# Fork: a child of a host that started the runtime.
	TestHostForkAfterSessionGetsItsOwnKeyring TestHostPidNamespaceCloneGetsItsOwnKeyring
	TestForkedChildCloseOnlyRevokes TestHostEarlyForkStartsOwnHandle TestHostSystemdClosesInForkedChild
	# The plain keyinit in C where the Go core cannot run: limits, a
	# thread's seccomp filter (this architecture's numbers), a junk core.
	TestHostileConditionsMatrix TestHostileFloorRowsOpen TestHostileLimitsSetuidSu
	TestThreadFilterGetsThePlainKeyinit TestSeccompProbeCoversTheModulesCalls TestTrustJunkCore
	TestFaultPanicInGoCode
	# The runtime's floor (internal/runtimefloor/floor.h) on this
	# architecture and page size.
	TestRuntimeFloorAddressSpace TestRuntimeFloorData TestRuntimeFloorStack TestRuntimeFloorMemory
)
# Another page size changes what memory costs, not how signals or keyrings
# work: the stages of an architecture's other kernels (arm64-16k,
# arm64-64k) leave out the two longest runs (6 and 4 minutes under
# emulation), which the architecture's own stage runs.
if [ "$stage" != "$arch" ]; then
	for i in "${!tests[@]}"; do
		case ${tests[i]} in TestRaceSIGPROFDuringFirstLoad | TestDifferentialAgainstPamKeyinit) unset 'tests[i]' ;; esac
	done
	tests=("${tests[@]}")
fi
if [ -n "${KIG_VM_TESTS:-}" ]; then
	read -r -a tests <<<"$KIG_VM_TESTS"
fi
# Everything links against the root's own libpam (and what it needs), the
# one the VM runs: a libpam0g-dev:DEBARCH here would have to be this
# machine's libpam's version exactly, which a security update of one
# architecture before another breaks.
pamlib=$repo/build/vm/$arch/pamlib
rm -rf "$pamlib"
mkdir -p "$pamlib"
(cd "$pamlib" && cpio -i --quiet -d --no-absolute-filenames "usr/lib/$triplet/libpam.so.0*" \
	"usr/lib/$triplet/libaudit.so.1*" "usr/lib/$triplet/libcap-ng.so.0*" < "$root_cpio")
mv "$pamlib/usr/lib/$triplet"/* "$pamlib/"
rm -rf "$pamlib/usr"
ln -s libpam.so.0 "$pamlib/libpam.so"
cc="$triplet-gcc -L$pamlib -Wl,-rpath-link=$pamlib"
# A root of a later release than this machine's cross C library has a
# libpam that asks for newer glibc symbols than the link can see; the
# root's glibc has them.
[ "$release" = bookworm ] || cc+=" -Wl,--allow-shlib-undefined"
say "building for $arch"
# The parent make's flags and cgo flags are this machine's, not ARCH's.
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u CGO_CFLAGS -u CGO_LDFLAGS \
	make --no-print-directory -C "$src" GO="$GO" GOARCH="$arch" CC="$cc" "${targets[@]}" >&2
(cd "$src" && env -u CGO_CFLAGS -u CGO_LDFLAGS GOOS=linux GOARCH="$arch" CGO_ENABLED=1 CC="$cc" \
	"$GO" test -c -o build/vm-test.test ./test)

# --- the initramfs: the cached root, then this build ----------------------
ov=$out/overlay
rm -rf "$ov"
mkdir -p "$ov/kig-vm" "$ov$src"
# The tree and its build: some tests read the sources (the seccomp probe's
# list of calls).
cp -a "$src/." "$ov$src/"
install -m 0755 "$repo/test/vm/init" "$ov/kig-vm/init"
install -m 0755 "$repo/test/vm/job.sh" "$ov/kig-vm/job.sh"
{
	echo "KIG_VM_SRC='$src'"
	echo "KIG_VM_TESTS='${tests[*]}'"
} > "$ov/kig-vm/settings"
(cd "$ov" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) > "$out/overlay.cpio"
cat "$root_cpio" "$out/overlay.cpio" > "$out/initrd.cpio.tmp"
mv "$out/initrd.cpio.tmp" "$out/initrd.cpio"
rm -rf "$ov" "$out/overlay.cpio" "$pamlib"
cp "$kernel" "$out/vmlinuz"

smokes=(pam_keyinit.so pam_keyinit_go.so)
printf '%s\n' "${tests[@]}" > "$out/tests"
printf '%s\n' "${smokes[@]}" > "$out/smokes"
echo "$pagesize" > "$out/pagesize"
# -icount: the guest's clock counts its instructions (one a nanosecond), so
# what the tests time (how long a call takes, against the runtime's sysmon)
# is as on a real machine of that speed, whatever else this machine runs.
printf '%s\n' "$qemu" "${machine[@]}" -icount shift=0,sleep=on -smp "$smp" -m "$mem" -nic none -display none -monitor none \
	-serial stdio -no-reboot -kernel "$out/vmlinuz" -initrd "$out/initrd.cpio" \
	-append "console=$console rdinit=/kig-vm/init panic=-1 quiet loglevel=3" > "$out/qemu.args"
say "staged: $(du -h "$out/initrd.cpio" | cut -f1) initramfs, $(wc -l < "$out/tests") Go tests, $(cat "$kbase.kernel-package")"
