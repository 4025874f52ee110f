#!/usr/bin/env bash
# test/vm/kernel64k.sh OUT: builds an arm64 Linux kernel with 64 KiB pages
# and leaves its Image at OUT, for the arm64-64k VM stage (test/vm/stage.sh
# runs it once per cache and keeps OUT there). Debian builds no arm64
# kernel with 64 KiB pages, so this one is Debian's own: the source of
# linux-source-6.1 and the config of the cloud-arm64 image package
# (linux-image-cloud-arm64's dependency), changed only where the VM needs
# it:
#   64 KiB pages instead of 4;
#   no modules: the VM has no disk to load them from, so what it needs is
#     built in (the PL011 serial console, devtmpfs, tmpfs, cgroup2 with the
#     memory and pids controllers, keys, seccomp, user and pid namespaces,
#     the initramfs, magic sysrq), and the rest of what Debian builds as
#     modules is left out;
#   no debug info, and no certificates of Debian's to embed.
# The VM boots it with qemu's -kernel (-M virt, -cpu cortex-a72 or max) and
# the initrd as a plain newc cpio, which needs no decompressor.
#
# Takes one scratch directory under the cache (KIG_VM_CACHE, default
# /var/cache/pam_keyinit_go/vm) for the source and its objects, removed
# when done; about 40 minutes on 2 cores shared with other VMs. Needs root
# when a package is missing (apt-get): linux-source-6.1, the cross compiler
# and the kernel's build tools.
set -euo pipefail
umask 022

out=${1:?usage: test/vm/kernel64k.sh OUT}
cache=${KIG_VM_CACHE:-/var/cache/pam_keyinit_go/vm}
source_pkg=linux-source-6.1
config_pkg=linux-image-cloud-arm64
make=(make ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu-)

say() { echo "vm-kernel arm64-64k: $*" >&2; }

# --- tools on this machine ---------------------------------------------------
# bc, flex, bison and libssl-dev (certs/extract-cert) are what the kernel's
# build runs on the host; no libelf-dev or dwarves, which only objtool (not
# on arm64) and BTF (off, below) need.
. "$(dirname "$0")/lib.sh"
install_missing "$source_pkg" gcc-aarch64-linux-gnu make bc flex bison libssl-dev xz-utils

mkdir -p "$cache"
tmp=$(mktemp -d "$cache/kernel64k.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# --- the source and Debian's config -------------------------------------------
say "unpacking $source_pkg $(dpkg-query -W -f='${Version}' "$source_pkg")"
tar -xf "/usr/src/$source_pkg.tar.xz" -C "$tmp"
src=$tmp/$source_pkg
# Debian's config: boot/config-* of the image package the metapackage of
# Debian 12 depends on.
say "config from $(fetch_kernel_package bookworm arm64 "$config_pkg" "$tmp")"
dpkg-deb -x "$tmp/kernel.deb" "$tmp/image"
cp "$(ls "$tmp"/image/boot/config-* | head -n 1)" "$src/.config"

# --- the VM's changes ------------------------------------------------------------
cd "$src"
# With no modules kconfig would build each =m in: a thousand drivers and
# hours of build for a VM that has none of their devices. Leave them out.
sed -i 's/^\(CONFIG_[A-Za-z0-9_]*\)=m$/# \1 is not set/' .config
# What the VM needs is already =y in Debian's config; said again here so
# that it stays so, and checked below.
need=(ARM64_64K_PAGES SERIAL_AMBA_PL011 SERIAL_AMBA_PL011_CONSOLE ARM_PSCI_FW
	PROC_FS SYSFS DEVTMPFS TMPFS UNIX98_PTYS BINFMT_ELF BINFMT_SCRIPT
	BLK_DEV_INITRD CGROUPS MEMCG CGROUP_PIDS KEYS SECCOMP SECCOMP_FILTER
	NAMESPACES USER_NS PID_NS MAGIC_SYSRQ DEBUG_INFO_NONE)
off=(MODULES ARM64_4K_PAGES ARM64_16K_PAGES DEBUG_INFO DEBUG_INFO_BTF MODULE_SIG)
args=()
for c in "${need[@]}"; do args+=(--enable "$c"); done
for c in "${off[@]}" DEBUG_INFO_DWARF_TOOLCHAIN_DEFAULT DEBUG_INFO_DWARF4 DEBUG_INFO_DWARF5; do args+=(--disable "$c"); done
# Debian's build embeds its own certificates; this one has none to embed.
# The version suffix tells this kernel (uname -r) from Debian's.
scripts/config "${args[@]}" \
	--set-str SYSTEM_TRUSTED_KEYS "" --set-str SYSTEM_REVOCATION_KEYS "" \
	--set-str LOCALVERSION "-kig-arm64-64k"
"${make[@]}" olddefconfig >"$tmp/config.log" 2>&1 || { cat "$tmp/config.log" >&2; exit 1; }
bad=()
for c in "${need[@]}"; do [ "$(scripts/config --state "$c")" = y ] || bad+=("$c should be y"); done
for c in "${off[@]}"; do [ "$(scripts/config --state "$c")" != y ] || bad+=("$c should be off"); done
if ((${#bad[@]})); then
	printf 'vm-kernel arm64-64k: config: %s\n' "${bad[@]}" >&2
	exit 1
fi

# --- the build -------------------------------------------------------------------
jobs=$(nproc)
say "building Image with -j$jobs (about 40 minutes on 2 cores)"
start=$SECONDS
if ! "${make[@]}" -j"$jobs" Image >"$tmp/build.log" 2>&1; then
	tail -n 40 "$tmp/build.log" >&2
	echo "vm-kernel arm64-64k: the build failed" >&2
	exit 1
fi
cp arch/arm64/boot/Image "$out.tmp"
mv "$out.tmp" "$out"
wall=$((SECONDS - start))
say "built $(cat include/config/kernel.release) in $wall s ($((wall / 60)) min $((wall % 60)) s): $out"
