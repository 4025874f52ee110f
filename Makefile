# pam_keyinit_go: build, test, demo, benchmark, install.
# 'make' builds build/pam_keyinit_go.so; 'make test' and 'make demo' install
# what they need from Debian's packages first (as root).

SHELL    := /bin/bash
GO       ?= go
CC       ?= cc
PREFIX   ?= /usr
DESTDIR  ?=

# The module is two files (README, "What the module does to the process that
# loads it"): the C front libpam loads, and the Go core it loads on the first
# session hook that needs Go, from beside itself or from $(SECUREDIR).
MODULE   := build/pam_keyinit_go.so
CORE     := build/pam_keyinit_go/core.so
FRONT_SOURCES := $(wildcard pam/front/*.c pam/front/*.h) pam/core_api.h pam/async_signals.h pam/front/pam_keyinit_go.map internal/runtimefloor/floor.h
SOURCES  := $(wildcard pam/*.go pam/*.c pam/*.h pam/rt0/* keyinit/*.go) go.mod go.sum pam/core.map
TOOL     := build/keyinit-go
TOOL_SOURCES := $(wildcard cmd/keyinit-go/*.go cmd/keyinit-go/internal/*/*.go internal/*/*.go internal/*/*.h keyinit/*.go) go.mod go.sum
# The C program "keyinit-go try" runs the PAM transaction in (never the Go
# CLI itself: a Go module in a Go program would be two Go runtimes).
HELPER   := build/keyinit-go-try

# The Go core's runtime settings, whatever the caller's environment says: the
# front lends them to the runtime while it starts, and the link makes them
# the runtime's defaults (pam/main.go says why each).
CORE_GODEBUG := asyncpreemptoff=1,containermaxprocs=0,updatemaxprocs=0

# Hardening of every C part (the front, the core's C, the helper), as Debian
# builds its own PAM modules: stack protector, fortified libc calls, CET
# (where $(CC) has it), read-only GOT resolved at load (a security module
# resolves its symbols at load), no executable stack.
cc-option = $(shell $(CC) -Werror $(1) -x c -c /dev/null -o /dev/null 2>/dev/null && echo $(1))
HARDEN_CFLAGS  := -O2 -fstack-protector-strong -D_FORTIFY_SOURCE=2 $(call cc-option,-fcf-protection)
HARDEN_LDFLAGS := -Wl,-z,relro,-z,now,-z,noexecstack
# Every cgo build (core, CLI, test modules) compiles its C with them.
export CGO_CFLAGS  := $(HARDEN_CFLAGS)
export CGO_LDFLAGS := $(HARDEN_LDFLAGS)

# The architecture the build is for: GOARCH when given (a cross build:
# "make GOARCH=arm64 CC=aarch64-linux-gnu-gcc"), else Go's own.
TARGET_GOARCH := $(or $(GOARCH),$(shell GOARCH= $(GO) env GOARCH))
# The architectures the module builds for (pam/rt0 has an entry for each),
# as GOARCH:Debian:RPM:the CPU of $(CC) -dumpmachine.
ARCH_NAMES := amd64:amd64:x86_64:x86_64 arm64:arm64:aarch64:aarch64 ppc64le:ppc64el:ppc64le:powerpc64le \
              s390x:s390x:s390x:s390x riscv64:riscv64:riscv64:riscv64
arch_name = $(word $(1),$(subst :, ,$(filter $(TARGET_GOARCH):%,$(ARCH_NAMES))))
DEB_ARCH := $(call arch_name,2)
RPM_ARCH := $(call arch_name,3)
# The target's binutils: install -s and rpmbuild strip with them.
STRIP    ?= $(shell $(CC) -print-prog-name=strip)
OBJDUMP  ?= $(shell $(CC) -print-prog-name=objdump)

# libpam loads modules from its own directory whatever PREFIX is, so the
# module goes where the target's libpam looks: internal/pamdir, which the
# command, the tests and the benchmark ask too. Its helper runs on this
# machine (so GOARCH is unset for it) and is told the target. Override with
# SECUREDIR=... (an RPM build passes %{_pam_moduledir}). PREFIX places the
# rest.
ifndef SECUREDIR
SECUREDIR := $(shell GOARCH= GOOS= $(GO) run ./internal/pamdir/pam-module-dir $(TARGET_GOARCH))
endif

# Debian packages the build, the tests and the demo use.
# The last line builds authselect 1.7.1 and 1.2.6 (Fedora's and RHEL's) from
# ../shared/vendor for the migrate tests (test/harness/authselect.go).
DEB_DEPS := gcc make patch strace libpam0g-dev libpam-modules libpam-runtime pamtester keyutils passwd openssh-server openssh-client util-linux procps man-db groff-base lintian rpm rpmlint \
            krb5-kdc krb5-admin-server krb5-user libpam-krb5 \
            autoconf automake libtool pkg-config libpopt-dev libselinux1-dev gettext autopoint checkpolicy
# The cross builds of test/cross_test.go: a compiler and C library for each
# other architecture of ARCH_NAMES (packages of this machine's, no foreign
# dpkg architecture: the test links against a stub of libpam's symbols),
# and qemu-user-static, which starts each cross-built core. Installed after
# the rest; one that cannot be installed does not stop make: the test says
# what is missing, and fails under CI.
CROSS_DEB_DEPS := gcc-aarch64-linux-gnu libc6-dev-arm64-cross gcc-powerpc64le-linux-gnu libc6-dev-ppc64el-cross \
                  gcc-s390x-linux-gnu libc6-dev-s390x-cross gcc-riscv64-linux-gnu libc6-dev-riscv64-cross qemu-user-static

.PHONY: all deps test test-programs fuzz demo bench clean keyinit-go mutate
all: $(MODULE) $(CORE) $(TOOL) $(HELPER)

# Every output is built again when the target or the compiler changes
# (build/target): one tree may be built for another GOARCH in turn. CC must
# build for GOARCH: a cross build without a cross compiler stops here.
build/target: FORCE
	$(if $(call arch_name,4),,$(error GOARCH=$(TARGET_GOARCH) is not one the module builds for (ARCH_NAMES)))
	$(if $(filter $(call arch_name,4)-%,$(shell $(CC) -dumpmachine)),,$(error CC=$(CC) builds for $(shell $(CC) -dumpmachine), not GOARCH=$(TARGET_GOARCH): pass CC=$(call arch_name,4)-linux-gnu-gcc))
	@mkdir -p build
	@echo '$(TARGET_GOARCH) $(CC)' | cmp -s - $@ || echo '$(TARGET_GOARCH) $(CC)' > $@

# build/securedir rebuilds the front when SECUREDIR changes: the installed
# core's path is built into it. -z nodelete: pam_end would unload the front
# and the next pam_start load it again, for nothing, since the Go core it
# loaded can never be unloaded; it also keeps the front's record of the core.
# front OUTPUT INSTALLED-CORE: the front, which loads the core beside it or
# else the installed one.
define front
	@mkdir -p $(dir $(1))
	$(CC) $(HARDEN_CFLAGS) -Wall -Wextra -Werror -fPIC -shared \
	    -DKIG_CORE_PATH='"$(2)"' -DKIG_CORE_GODEBUG='"$(CORE_GODEBUG)"' \
	    -o $(1) $(filter %.c,$(FRONT_SOURCES)) -s -Wl,--version-script=pam/front/pam_keyinit_go.map -Wl,-z,nodelete $(HARDEN_LDFLAGS) -lpam
endef
$(MODULE): $(FRONT_SOURCES) build/securedir build/target
	$(call front,$@,$(SECUREDIR)/pam_keyinit_go/core.so)

# go_core OUTPUT [TAGS]: the Go core, exporting only its C entry points.
# -E: its .init_array entry is pam/rt0's, which leaves starting the runtime
# to the front. --wrap: the runtime's calls of sigaction go through
# pam/runtime_guard.c.
# -buildid= and --build-id=sha1: the version script's path is absolute
# (the external linker runs in go's temporary directory), and Go would
# hash these flags, path and all, into the core's Go build ID and derive
# its GNU build ID from that: two checkouts in different directories would
# build different cores. Without a Go build ID, ld's sha1 of the output is
# the GNU build ID, from the content alone. It also makes go relink every
# time make asks: with a build ID it would keep a core.so it thinks up to
# date after a change of pam/core.map alone, a file go does not know.
# -checklinkname=0: pam/sysmon_sleep.go sets runtime.forcegcperiod.
# -X runtime.godebugDefault replaces the string the go command links in:
# the godebug defaults of this module's go line, as the toolchain at work
# computes them (go list's DefaultGODEBUG: a newer Go keeps what it changed
# at the old values for an older go line; go1.27 adds
# "tracebacklabels=0,x509sslcertoverrideplatform=0" for go 1.26). So they
# come first, then $(CORE_GODEBUG), which wins where both name a setting
# (the runtime reads the string left to right). The x that ends what go
# list prints makes a failed go list an error, not an empty default.
CORE_LDFLAGS := -Wl,--wrap=sigaction
godebug_defaults = $(patsubst %x,%,$(or $(shell $(GO) list $(if $(1),-tags $(1)) -f '{{with .DefaultGODEBUG}}{{.}},{{end}}x' ./pam),$(error go list ./pam failed: the core's godebug defaults are unknown)))
define go_core
	@mkdir -p $(dir $(1))
	CGO_ENABLED=1 $(GO) build $(if $(2),-tags $(2)) -buildmode=c-shared -trimpath \
	    -ldflags "-s -w -buildid= -checklinkname=0 -E kig_core_rt0 -X=runtime.godebugDefault=$(call godebug_defaults,$(2))$(CORE_GODEBUG) -extldflags '-Wl,--version-script=$(CURDIR)/pam/core.map -Wl,--build-id=sha1 $(CORE_LDFLAGS) $(HARDEN_LDFLAGS)'" -o $(1) ./pam
	rm -f $(basename $(1)).h
endef
$(CORE): $(SOURCES) build/target
	$(call go_core,$@)

# The companion command: what a PAM service does to keyrings (cmd/keyinit-go).
# It looks for its helper next to itself, then at HELPER_PATH, which is
# linked in; build/keyinit-go.helper-path rebuilds it when PREFIX changes.
keyinit-go: $(TOOL) $(HELPER)
$(TOOL): $(TOOL_SOURCES) build/keyinit-go.helper-path build/target
	CGO_ENABLED=1 $(GO) build -trimpath -buildmode=pie \
		-ldflags "-s -w -X main.installedHelper=$(HELPER_PATH)" -o $@ ./cmd/keyinit-go
# Every front is built after this: an empty SECUREDIR would build in a core
# path of "/pam_keyinit_go/core.so".
build/securedir: FORCE
	$(if $(filter /%,$(SECUREDIR)),,$(error no PAM module directory for GOARCH=$(TARGET_GOARCH) (pam-module-dir said why above): pass SECUREDIR=/absolute/path))
	@mkdir -p build
	@echo '$(SECUREDIR)' | cmp -s - $@ || echo '$(SECUREDIR)' > $@
build/keyinit-go.helper-path: FORCE
	@mkdir -p build
	@echo '$(HELPER_PATH)' | cmp -s - $@ || echo '$(HELPER_PATH)' > $@
$(HELPER): cmd/keyinit-go/tryhelper/keyinit-go-try.c build/target
	@mkdir -p build
	$(CC) $(HARDEN_CFLAGS) -Wall -Wextra -Werror $(HARDEN_LDFLAGS) -o $@ $< -lpam
.PHONY: FORCE

# Installs the missing Debian packages (needs root when any are missing).
deps:
	@missing=$$(for p in $(DEB_DEPS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing: $$missing"; \
		if [ "$$(id -u)" != 0 ]; then echo "run as root to install: $$missing" >&2; exit 1; fi; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing || exit 1; \
		if echo $$missing | grep -qw libpam-krb5; then \
			echo "deps: disabling the krb5 pam-auth-update profile libpam-krb5 just enabled (the Kerberos tests use private stacks; disabled, so later package installs do not enable it again)"; \
			pam-auth-update --disable krb5; \
		fi; \
	fi
	@missing=$$(for p in $(CROSS_DEB_DEPS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ]; then \
		echo "installing (cross builds): $$missing"; \
		apt-get update -qq; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing || \
		for p in $$missing; do \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$p || echo "deps: cannot install $$p: test/cross_test.go will say what it lacks" >&2; \
		done; \
	fi; true

# C programs the integration tests run (test/hosts/*.c -> build/test/*).
TEST_PROGRAMS := $(patsubst test/hosts/%.c,build/test/%,$(wildcard test/hosts/*.c))
build/test/%: test/hosts/%.c test/hosts/keyquota.h test/hosts/seccomp_rules.h test/hosts/threads.h test/hosts/host_pam.h build/target
	@mkdir -p build/test
	$(CC) -O2 -Wall -Wextra -pthread -DKIG_CORE_GODEBUG='"$(CORE_GODEBUG)"' -o $@ $< -lpam
test-programs: $(TEST_PROGRAMS)

# The module with a test-only panic hook (pam/panic_hook_kigtestpanic.go),
# never installed, used by test/faults_test.go: a copy of the front with the
# tagged core beside it, where the front looks first.
PANIC_MODULE := build/test/panic/pam_keyinit_go.so
PANIC_CORE   := build/test/panic/pam_keyinit_go/core.so
$(PANIC_MODULE): $(MODULE)
	@mkdir -p $(dir $@)
	cp $< $@
$(PANIC_CORE): $(SOURCES) build/target
	$(call go_core,$@,kigtestpanic)

# The front with no core anywhere (test/fallback_test.go): every hook that
# makes a keyring takes the plain keyinit in C (pam/front/plain_keyinit.c).
# Never installed.
NOGO_MODULE := build/test/nogo/pam_keyinit_go.so
$(NOGO_MODULE): $(FRONT_SOURCES) build/target
	$(call front,$@,/nonexistent/pam_keyinit_go/core.so)

# Runs each fuzz target of keyinit/ for a fixed number of inputs (a few
# seconds each). A count, not a duration: Go 1.26's fuzzer can fail a run
# with "context deadline exceeded" when a duration ends (golang/go#75804).
FUZZTIME ?= 100000x
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParseOptions$$' -fuzztime $(FUZZTIME) ./keyinit
	$(GO) test -run '^$$' -fuzz '^FuzzSessionStateMachine$$' -fuzztime $(FUZZTIME) ./keyinit

# 'make test' as a non-root user stops before anything else, with one line.
ifneq ($(filter test,$(MAKECMDGOALS)),)
ifneq ($(shell id -u),0)
$(error make test needs root: it loads PAM modules for other users and edits /etc/pam.d in a private namespace)
endif
endif

# Mutation testing (test/mutate/run.sh): gremlins on keyinit/, then the
# curated mutants of test/mutate/mutants.txt, each in a temporary copy of
# the tree. Slow and not in CI; the C-side mutants need root. Everything
# their tests load is built here first, so that each copy rebuilds only
# what its mutant touches.
mutate: all test-programs $(PANIC_MODULE) $(PANIC_CORE) $(NOGO_MODULE)
	GO=$(GO) test/mutate/run.sh

test: deps $(MODULE) $(CORE) $(TOOL) $(HELPER) test-programs $(PANIC_MODULE) $(PANIC_CORE) $(NOGO_MODULE)
	$(GO) vet ./...
	$(GO) test -count=1 ./keyinit/...
	$(MAKE) fuzz
	$(GO) test -count=1 -p 1 -timeout 40m -v ./test/... ./cmd/...
	$(MAKE) test-vm

demo: deps $(MODULE) $(CORE)
	bash examples/demo.sh

# The VM stages (test/vm): this build for arm64, run in full-system qemu
# VMs (real keyrings, which qemu-user lacks) with Debian's kernels, 4 KiB
# pages (arm64) and 16 KiB (arm64-16k), and a debootstrapped Debian root.
# KIG_VM_STAGES adds more: arm64-64k (a kernel built from Debian's source,
# test/vm/kernel64k.sh), ppc64le, s390x, riscv64, amd64 (emulated, a
# control). test/vm/stage.sh cross-builds in build/vm/ARCH/src and makes
# the initramfs from the root and kernels it caches in KIG_VM_CACHE
# (/var/cache/pam_keyinit_go/vm); test/vm/vm_test.go (build tag vmstage)
# boots each and checks every result. doc/development.md says what it
# costs.
VM_STAGES := $(strip arm64 arm64-16k $(filter-out arm64 arm64-16k,$(KIG_VM_STAGES)))
.PHONY: vm-stage test-vm
vm-stage:
	@for stage in $(VM_STAGES); do GO='$(GO)' test/vm/stage.sh $$stage || exit 1; done
test-vm: vm-stage
	KIG_VM_STAGES='$(VM_STAGES)' $(GO) test -tags vmstage -count=1 -v -timeout $$(( $(words $(VM_STAGES)) * 45 ))m -run '^TestVM$$' ./test/vm

# Benchmark against pam_keyinit.so, pam_permit.so and a bare Go module
# (test/bench/run.sh prints the table; needs root, takes about a minute).
BENCH_DRIVER := build/bench/bench
BARE_MODULE  := build/bench/pam_bare_go.so
$(BENCH_DRIVER): test/bench/bench.c test/hosts/keyquota.h test/hosts/host_pam.h
	@mkdir -p build/bench
	$(CC) -O2 -Wall -Wextra -o $@ $< -lpam
# Built with the module's own linker flags, so only our code differs.
$(BARE_MODULE): $(wildcard test/bench/bare/*.go) go.mod pam/front/pam_keyinit_go.map
	@mkdir -p build/bench
	CGO_ENABLED=1 $(GO) build -buildmode=c-shared -trimpath \
	    -ldflags "-s -w -extldflags '-Wl,--version-script=$(CURDIR)/pam/front/pam_keyinit_go.map $(HARDEN_LDFLAGS)'" -o $@ ./test/bench/bare
	rm -f build/bench/pam_bare_go.h
bench: deps $(MODULE) $(CORE) $(BENCH_DRIVER) $(BARE_MODULE)
	GO=$(GO) test/bench/run.sh

# --- install, uninstall, Debian package ------------------------------------
MANDIR     ?= $(PREFIX)/share/man
SBINDIR    ?= $(PREFIX)/sbin
LIBEXECDIR ?= $(PREFIX)/libexec
HELPER_PATH = $(LIBEXECDIR)/keyinit-go/keyinit-go-try
# Files are owned by root when installing as root; a non-root staging
# install (DESTDIR) keeps the builder's ids and dpkg-deb records root.
INSTALL_OWNER := $(if $(filter 0,$(shell id -u)),-o root -g root)

.PHONY: install uninstall deb
install: $(MODULE) $(CORE) $(TOOL) $(HELPER)
	install -d -m 0755 $(DESTDIR)$(SECUREDIR)/pam_keyinit_go $(DESTDIR)$(MANDIR)/man8
	install -m 0644 $(INSTALL_OWNER) $(MODULE) $(DESTDIR)$(SECUREDIR)/pam_keyinit_go.so
	install -m 0644 $(INSTALL_OWNER) $(CORE) $(DESTDIR)$(SECUREDIR)/pam_keyinit_go/core.so
	install -m 0644 $(INSTALL_OWNER) doc/pam_keyinit_go.8 $(DESTDIR)$(MANDIR)/man8/pam_keyinit_go.8
	install -d -m 0755 $(DESTDIR)$(SBINDIR) $(DESTDIR)$(dir $(HELPER_PATH))
	install -m 0755 $(INSTALL_OWNER) $(TOOL) $(DESTDIR)$(SBINDIR)/keyinit-go
	install -m 0755 $(INSTALL_OWNER) -s --strip-program=$(STRIP) $(HELPER) $(DESTDIR)$(HELPER_PATH)
	install -m 0644 $(INSTALL_OWNER) doc/keyinit-go.8 $(DESTDIR)$(MANDIR)/man8/keyinit-go.8

uninstall:
	rm -f $(DESTDIR)$(SECUREDIR)/pam_keyinit_go.so $(DESTDIR)$(SECUREDIR)/pam_keyinit_go/core.so $(DESTDIR)$(MANDIR)/man8/pam_keyinit_go.8
	rmdir $(DESTDIR)$(SECUREDIR)/pam_keyinit_go 2>/dev/null || true
	rm -f $(DESTDIR)$(SBINDIR)/keyinit-go $(DESTDIR)$(HELPER_PATH) $(DESTDIR)$(MANDIR)/man8/keyinit-go.8
	rmdir --ignore-fail-on-non-empty $(DESTDIR)$(dir $(HELPER_PATH)) 2>/dev/null || true

# build/pam-keyinit-go_<version>_<arch>.deb, with dpkg-deb only: what
# 'make install' places (module, keyinit-go and its helper, manual pages),
# the examples, the pam-auth-update profile keyinit-go, the changelog and the
# copyright file made from LICENSE (packaging/). No network, no debhelper.
# 'lintian build/*.deb' reports nothing (test/deb_test.go).
#
# Both packages are reproducible (test/reproducible_test.go): two builds of
# one commit, in different directories, at different times, with different
# umasks, give the same bytes. Every timestamp in them is
# SOURCE_DATE_EPOCH: the time of the commit checked out (git log); in a tree
# without .git (an exported tarball), the newest mtime of its files outside
# build/, which tar and rsync -a keep. One from the environment or the
# command line wins. It is exported: dpkg-deb, rpmbuild and gcc read it.
ifeq ($(SOURCE_DATE_EPOCH),)
SOURCE_DATE_EPOCH := $(if $(wildcard $(CURDIR)/.git),$(shell git -C '$(CURDIR)' log -1 --format=%ct 2>/dev/null))
endif
ifeq ($(SOURCE_DATE_EPOCH),)
SOURCE_DATE_EPOCH := $(shell find '$(CURDIR)' -path '$(CURDIR)/build' -prune -o -path '$(CURDIR)/.git' -prune -o -type f -printf '%Ts\n' | sort -n | tail -n 1)
endif
export SOURCE_DATE_EPOCH
VERSION  ?= 0.1.0
DEB      := build/pam-keyinit-go_$(VERSION)_$(DEB_ARCH).deb
DEB_ROOT := build/deb-root
DEB_DOC  := $(DEB_ROOT)/usr/share/doc/pam-keyinit-go
deb: $(DEB)
$(DEB): $(MODULE) $(CORE) $(TOOL) $(HELPER) $(wildcard doc/*.8 packaging/* examples/pam.d/*) LICENSE
	rm -rf $(DEB_ROOT)
	$(MAKE) --no-print-directory install DESTDIR=$(CURDIR)/$(DEB_ROOT) PREFIX=/usr
	gzip -9n $(DEB_ROOT)/usr/share/man/man8/*.8
	install -d -m 0755 $(DEB_ROOT)/usr/share/pam-configs $(DEB_DOC)/examples/pam.d
	install -m 0644 packaging/keyinit-go.pam-auth-update $(DEB_ROOT)/usr/share/pam-configs/keyinit-go
	{ sed -e '/^#/d' -e "s/@COPYRIGHT@/$$(sed -n '1s/^Copyright (c) //p' LICENSE)/" packaging/copyright.in; \
	  sed -e '1,2d' -e 's/^$$/./' -e 's/^/ /' LICENSE; } > $(DEB_DOC)/copyright
	chmod 0644 $(DEB_DOC)/copyright
	# A native package (no Debian revision): its changelog is changelog.gz.
	gzip -9nc packaging/changelog > $(DEB_DOC)/changelog.gz
	install -m 0644 examples/pam.d/* $(DEB_DOC)/examples/pam.d/
	install -d -m 0755 $(DEB_ROOT)/DEBIAN
	# Installed-Size as dpkg-gencontrol counts it, from the files' sizes
	# (1 KiB for each directory), not from du: the blocks a file takes
	# depend on the file system the build runs on.
	sed -e 's/@VERSION@/$(VERSION)/' -e 's/@ARCH@/$(DEB_ARCH)/' \
	    -e "s/@SIZE@/$$(find $(DEB_ROOT) -path $(DEB_ROOT)/DEBIAN -prune -o -printf '%y %s\n' | awk '{ n += $$1 == "f" || $$1 == "l" ? int(($$2 + 1023) / 1024) : 1 } END { print n }')/" \
	    packaging/control.in > $(DEB_ROOT)/DEBIAN/control
	install -m 0755 packaging/postinst packaging/prerm packaging/postrm $(DEB_ROOT)/DEBIAN/
	cd $(DEB_ROOT) && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum > DEBIAN/md5sums
	# Modes whatever the umask (gzip > file, sed > file make files with
	# it), and every mtime the commit's: dpkg-deb would only clamp the
	# later ones to SOURCE_DATE_EPOCH.
	chmod -R u+rwX,go+rX,go-w $(DEB_ROOT)
	find $(DEB_ROOT) -exec touch -h -d @$(SOURCE_DATE_EPOCH) {} +
	dpkg-deb --root-owner-group -Zxz --build $(DEB_ROOT) $@

clean:
	rm -rf build/*.so build/*.h build/pam_keyinit_go build/test build/test.log build/bench $(TOOL) $(HELPER) build/keyinit-go.helper-path build/*.deb $(DEB_ROOT) build/rpm

# --- RPM (Fedora/RHEL family) ------------------------------------------------
# build/rpm/RPMS/<arch>/pam-keyinit-go-<version>-1.<arch>.rpm from
# packaging/pam-keyinit-go.spec with rpmbuild (Debian's rpm package here).
# Its payload is "make install DESTDIR=..." with the module in the RPM's
# module dir (%{_pam_moduledir}, else %{_libdir}/security), plus the
# examples and the licence (LICENSE).
RPM_TOP  := $(CURDIR)/build/rpm
RPM_LICENCE := $(CURDIR)/LICENSE
.PHONY: rpm
rpm: $(MODULE) $(CORE) $(TOOL) $(HELPER)
	rm -rf $(RPM_TOP)
	mkdir -p $(RPM_TOP)/BUILD
	rpmbuild -bb --nodeps --target $(RPM_ARCH) --define '__strip $(STRIP)' --define '__objdump $(OBJDUMP)' \
	    --define '_topdir $(RPM_TOP)' --define 'srcdir $(CURDIR)' \
	    --define 'version $(VERSION)' --define 'licence $(RPM_LICENCE)' packaging/pam-keyinit-go.spec
	rpmlint -c packaging/rpmlint.toml $(RPM_TOP)/RPMS/*/*.rpm
