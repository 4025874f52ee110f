# test/vm/lib.sh: what stage.sh and kernel64k.sh both do, sourced by each
# (after it defines say, which prefixes its own name to a message).
#
# MIRROR, the Debian mirror both fetch from: KIG_VM_MIRROR, or Debian's.
MIRROR=${KIG_VM_MIRROR:-http://deb.debian.org/debian}

# install_missing PACKAGE...: installs those of Debian's packages not
# installed here (root only), as 'make deps' does for the rest.
install_missing() {
	local p missing=()
	for p in "$@"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' || missing+=("$p")
	done
	((${#missing[@]})) || return 0
	say "installing ${missing[*]}"
	if [ "$(id -u)" != 0 ]; then
		say "run as root to install: ${missing[*]}"
		exit 1
	fi
	apt-get update -qq -o DPkg::Lock::Timeout=600
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		-o DPkg::Lock::Timeout=600 "${missing[@]}" >/dev/null
}

# fetch_kernel_package SUITE DEBARCH METAPACKAGE DIR: downloads the image
# package that a kernel metapackage of the suite depends on, as DIR/kernel.deb,
# from the suite's package index (no apt source or foreign architecture
# needed here); prints its file name.
fetch_kernel_package() {
	local suite=$1 deb=$2 meta=$3 dir=$4 image file
	/usr/lib/apt/apt-helper download-file "$MIRROR/dists/$suite/main/binary-$deb/Packages.xz" "$dir/Packages.xz" >&2
	field() { # FIELD PACKAGE: the field of the package's stanza
		xz -dc "$dir/Packages.xz" | awk -v field="$1" -v pkg="$2" '$1 == "Package:" { p = $2 }
			p == pkg && $1 == field ":" && !found { sub(/^[^:]*: */, ""); v = $0; found = 1 }
			END { print v }'
	}
	image=$(field Depends "$meta" | sed 's/[ ,(|].*//')
	file=$(field Filename "$image")
	if [ -z "$file" ]; then
		say "$suite's package list for $deb names no image package behind $meta"
		exit 1
	fi
	say "fetching $file"
	/usr/lib/apt/apt-helper download-file "$MIRROR/$file" "$dir/kernel.deb" >&2
	basename "$file"
}
