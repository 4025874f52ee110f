#!/usr/bin/env bash
# test/vm/stage.sh ARCH: prepares the full-system VM stage of one foreign
# architecture (GOARCH name: arm64, ppc64le, s390x, riscv64). It leaves in
# build/vm/ARCH/:
#   vmlinuz      Debian's kernel for ARCH (from the cache)
#   initrd.cpio  the cached Debian root, then this build (one cpio after the
#                other: the kernel unpacks both)
#   qemu.args    the qemu command line, one argument a line
#   tests        the Go tests the VM runs, one a line (test/vm/vm_test.go
#                checks that each passed)
#   smokes       the pamtester sessions the VM opens (test/vm/job.sh)
# test/vm/vm_test.go (TestVM) boots it and reads the results. 'make vm-stage'
# runs this for every architecture of the stage, 'make test-vm' also boots.
#
# The cache (KIG_VM_CACHE, default /var/cache/pam_keyinit_go/vm, outside the
# repository, kept between runs): for each architecture the debootstrapped
# root as a cpio and Debian's kernel of the same release,
# DEBARCH-RELEASE-KEY.root.cpio and .vmlinuz, KEY a hash of the release, the
# package list, the kernel package and the recipe. An empty cache costs one
# debootstrap (about 4 minutes for arm64 on a quiet machine); remove the
# directory to refresh.
# The root holds Debian's pam_keyinit.so, libpam, pamtester, keyutils,
# passwd and util-linux; this build goes in at the path it has here, so the
# test binary's harness.RepoRoot finds its build/ there as it does here.
#
# Needs root when the cache is empty (debootstrap) or a tool is missing
# (apt-get).
set -euo pipefail
umask 022

arch=${1:?usage: test/vm/stage.sh ARCH (arm64, ppc64le, s390x, riscv64, amd64)}
repo=$(cd "$(dirname "$0")/../.." && pwd)
cache=${KIG_VM_CACHE:-/var/cache/pam_keyinit_go/vm}
mirror=${KIG_VM_MIRROR:-http://deb.debian.org/debian}
GO=${GO:-go}
release=bookworm
mem=2048
smp=2

# What each architecture needs: Debian's name for it, the cross compiler's
# triplet, qemu's package and binary and machine, the serial console, the
# kernel's package and the binfmt entry that runs the root's programs here
# while debootstrap configures them.
case $arch in
arm64)
	deb=arm64 triplet=aarch64-linux-gnu
	qemu_pkg=qemu-system-arm qemu=qemu-system-aarch64 machine=(-M virt -cpu cortex-a72)
	console=ttyAMA0 kernel_pkg=linux-image-cloud-arm64 binfmt=qemu-aarch64 ;;
ppc64le)
	deb=ppc64el triplet=powerpc64le-linux-gnu
	qemu_pkg=qemu-system-ppc qemu=qemu-system-ppc64 machine=(-M pseries -cpu power9)
	console=hvc0 kernel_pkg=linux-image-powerpc64le binfmt=qemu-ppc64le ;;
s390x)
	deb=s390x triplet=s390x-linux-gnu
	qemu_pkg=qemu-system-misc qemu=qemu-system-s390x machine=(-M s390-ccw-virtio -cpu max)
	console=ttysclp0 kernel_pkg=linux-image-s390x binfmt=qemu-s390x ;;
riscv64)
	# Debian 12 has no riscv64; Debian 13 is its first release with it.
	release=trixie
	deb=riscv64 triplet=riscv64-linux-gnu
	qemu_pkg=qemu-system-misc qemu=qemu-system-riscv64 machine=(-M virt -cpu rv64)
	console=ttyS0 kernel_pkg=linux-image-riscv64 binfmt=qemu-riscv64 ;;
amd64)
	# This machine's own architecture, emulated like the others: a
	# control that tells the emulation's effects from the architecture's.
	deb=amd64 triplet=x86_64-linux-gnu
	qemu_pkg=qemu-system-x86 qemu=qemu-system-x86_64 machine=(-M q35 -cpu max)
	console=ttyS0 kernel_pkg=linux-image-cloud-amd64 binfmt= cc_pkg=gcc ;;
*)
	echo "stage.sh: no VM stage for $arch (arm64, ppc64le, s390x, riscv64, amd64)" >&2
	exit 2 ;;
esac

say() { echo "vm-stage $arch: $*" >&2; }

# --- tools on this machine ---------------------------------------------------
# The packages this stage needs here, installed when missing, as 'make deps'
# does for the rest. libpam0g-dev only for its headers, which are the same
# on every architecture: the cross links use the root's own libpam (below).
host_deps=(debootstrap qemu-user-static binfmt-support cpio libpam0g-dev "$qemu_pkg" "${cc_pkg:-gcc-$triplet}")
missing=()
for p in "${host_deps[@]}"; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
	say "installing ${missing[*]}"
	if [ "$(id -u)" != 0 ]; then
		echo "vm-stage $arch: run as root to install: ${missing[*]}" >&2
		exit 1
	fi
	apt-get update -qq -o DPkg::Lock::Timeout=600
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 "${missing[@]}" >/dev/null
fi

# --- the root and its kernel (cached) ----------------------------------------
# Inside the VM: Debian's libpam and pam_keyinit.so (the reference the
# parity scenarios compare with), pamtester and keyutils (keyctl), passwd
# (useradd, userdel), util-linux (prlimit, setpriv), procps (pkill).
packages=libpam-modules,libpam-runtime,pamtester,keyutils,passwd,util-linux,procps
recipe=2 # bump when the commands below change what the cache holds
key=$(echo "$release $deb minbase $packages $kernel_pkg $recipe" | sha256sum | cut -c1-12)
base=$cache/$deb-$release-$key
root_cpio=$base.root.cpio kernel=$base.vmlinuz
mkdir -p "$cache"
exec 9>"$cache/.lock"
# One stage at a time fills the cache; a filled entry needs no lock (its
# files are renamed into place).
[ -s "$root_cpio" ] && [ -s "$kernel" ] || flock 9
if [ ! -s "$root_cpio" ] || [ ! -s "$kernel" ]; then
	say "debootstrapping $release for $deb into $base.* (once per cache)"
	if [ "$(id -u)" != 0 ]; then
		echo "vm-stage $arch: the root is not cached yet: run as root (debootstrap)" >&2
		exit 1
	fi
	# debootstrap configures the root's packages by running its programs
	# here, through qemu-user.
	[ -z "$binfmt" ] || [ -e /proc/sys/fs/binfmt_misc/status ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
	[ -z "$binfmt" ] || [ -e "/proc/sys/fs/binfmt_misc/$binfmt" ] || update-binfmts --enable "$binfmt"
	if [ -n "$binfmt" ] && ! grep -qx enabled "/proc/sys/fs/binfmt_misc/$binfmt" 2>/dev/null; then
		echo "vm-stage $arch: binfmt entry $binfmt is not enabled (update-binfmts --enable $binfmt)" >&2
		exit 1
	fi
	# A failed run leaves its tmp.* for a look; the next one removes it.
	rm -rf "$cache"/tmp.*
	tmp=$(mktemp -d "$cache/tmp.XXXXXX")
	start=$SECONDS
	if ! debootstrap --variant=minbase --arch="$deb" --include="$packages" "$release" "$tmp/root" "$mirror" >"$tmp/debootstrap.log" 2>&1; then
		tail -n 30 "$tmp/debootstrap.log" >&2
		tail -n 30 "$tmp/root/debootstrap/debootstrap.log" >&2 2>/dev/null || true
		echo "vm-stage $arch: debootstrap failed" >&2
		exit 1
	fi
	# The kernel of the same release: the image package the metapackage
	# depends on, from the package list debootstrap left in the root.
	index() { # FIELD PACKAGE: the field of the package's stanza
		for f in "$tmp"/root/var/lib/apt/lists/*_Packages*; do /usr/lib/apt/apt-helper cat-file "$f"; done |
			awk -v field="$1" -v pkg="$2" '$1 == "Package:" { p = $2 }
				p == pkg && $1 == field ":" && !found { sub(/^[^:]*: */, ""); v = $0; found = 1 }
				END { print v }'
	}
	image=$(index Depends "$kernel_pkg" | sed 's/[ ,(|].*//')
	file=$(index Filename "$image")
	if [ -z "$file" ]; then
		echo "vm-stage $arch: the $release package list names no image package behind $kernel_pkg" >&2
		exit 1
	fi
	/usr/lib/apt/apt-helper download-file "$mirror/$file" "$tmp/kernel.deb" >&2
	dpkg-deb -x "$tmp/kernel.deb" "$tmp/kernel"
	# What a test run never reads.
	rm -rf "$tmp"/root/usr/share/{doc,man,info,locale,lintian} "$tmp"/root/var/cache/apt/* \
		"$tmp"/root/var/lib/apt/lists/* "$tmp"/root/var/log/*
	(cd "$tmp/root" && find . -xdev | LC_ALL=C sort | cpio -o -H newc --quiet) > "$tmp/root.cpio"
	basename "$file" > "$base.kernel-package"
	cp "$(ls "$tmp"/kernel/boot/vmlinu[xz]-* | head -n 1)" "$kernel.tmp"
	mv "$kernel.tmp" "$kernel"
	mv "$tmp/root.cpio" "$root_cpio"
	rm -rf "$tmp"
	say "root and kernel cached in $((SECONDS - start)) s: $(du -h "$root_cpio" | cut -f1) root, $(cat "$base.kernel-package")"
fi
flock -u 9

# --- this build, for ARCH -----------------------------------------------------
# A copy of the tree in build/vm/ARCH/src, built there with the cross
# compiler: build/ here keeps this machine's build, which the other tests
# use. Its own build/ is kept between runs, so make rebuilds only what
# changed.
out=$repo/build/vm/$arch
src=$out/src
mkdir -p "$src"
find "$src" -mindepth 1 -maxdepth 1 ! -name build -exec rm -rf {} +
tar -C "$repo" --exclude=./build --exclude=./.git -cf - . | tar -C "$src" -xf -

# The module's core needs a runtime entry for ARCH (pam/rt0/rt0_ARCH.s).
# Without one the stage runs what needs no Go core: the front (whose plain
# keyinit in C then makes the keyrings) beside pam_keyinit.so.
targets=(build/pam_keyinit_go.so build/test/nogo/pam_keyinit_go.so)
if [ -e "$repo/pam/rt0/rt0_$arch.s" ]; then
	core=yes
	targets+=(build/pam_keyinit_go/core.so build/test/hoststate build/test/floorhost)
	tests=(TestDifferentialAgainstPamKeyinit TestHostStateKeptAfterSession TestNoSessionHookNoRuntime
		TestHostileEnvironmentIgnored TestRuntimeFloorAddressSpace TestRuntimeFloorData
		TestRuntimeFloorStack TestRuntimeFloorMemory TestLogging TestUnknownUser TestPamtesterSessionWithProbe)
else
	core=no
	rm -f "$src/build/pam_keyinit_go/core.so"
	tests=(TestDifferentialAgainstPamKeyinit TestUnknownUser TestPamtesterSessionWithProbe)
fi
if [ -n "${KIG_VM_TESTS:-}" ]; then
	read -r -a tests <<<"$KIG_VM_TESTS"
fi
# Everything links against the root's own libpam (and what it needs), the
# one the VM runs: a libpam0g-dev:DEBARCH here would have to be this
# machine's libpam's version exactly, which a security update of one
# architecture before another breaks.
pamlib=$out/pamlib
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
say "building for $arch (Go core: $core)"
# The parent make's flags and cgo flags are this machine's, not ARCH's.
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u CGO_CFLAGS -u CGO_LDFLAGS \
	make --no-print-directory -C "$src" GO="$GO" GOARCH="$arch" CC="$cc" "${targets[@]}" >&2
(cd "$src" && env -u CGO_CFLAGS -u CGO_LDFLAGS GOOS=linux GOARCH="$arch" CGO_ENABLED=1 CC="$cc" \
	"$GO" test -c -o build/vm-test.test ./test)

# --- the initramfs: the cached root, then this build ----------------------
ov=$out/overlay
rm -rf "$ov"
mkdir -p "$ov/kig-vm" "$ov$src"
cp -a "$src/build" "$ov$src/"
install -m 0755 "$repo/test/vm/init" "$ov/kig-vm/init"
install -m 0755 "$repo/test/vm/job.sh" "$ov/kig-vm/job.sh"
{
	echo "KIG_VM_SRC='$src'"
	echo "KIG_VM_TESTS='${tests[*]}'"
	echo "KIG_VM_CORE=$core"
} > "$ov/kig-vm/settings"
(cd "$ov" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) > "$out/overlay.cpio"
cat "$root_cpio" "$out/overlay.cpio" > "$out/initrd.cpio.tmp"
mv "$out/initrd.cpio.tmp" "$out/initrd.cpio"
rm -rf "$ov" "$out/overlay.cpio" "$pamlib"
cp "$kernel" "$out/vmlinuz"

smokes=(pam_keyinit.so pam_keyinit_go.so)
printf '%s\n' "${tests[@]}" > "$out/tests"
printf '%s\n' "${smokes[@]}" > "$out/smokes"
# -icount: the guest's clock counts its instructions (one a nanosecond), so
# what the tests time (how long a call takes, against the runtime's sysmon)
# is as on a real machine of that speed, whatever else this machine runs.
printf '%s\n' "$qemu" "${machine[@]}" -icount shift=0,sleep=on -smp "$smp" -m "$mem" -nic none -display none -monitor none \
	-serial stdio -no-reboot -kernel "$out/vmlinuz" -initrd "$out/initrd.cpio" \
	-append "console=$console rdinit=/kig-vm/init panic=-1 quiet loglevel=3" > "$out/qemu.args"
say "staged: $(du -h "$out/initrd.cpio" | cut -f1) initramfs, $(wc -l < "$out/tests") Go tests, $(cat "$base.kernel-package")"
