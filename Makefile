# pam_keyinit_go: build, test, demo, benchmark, install.
# 'make' builds build/pam_keyinit_go.so; 'make test' and 'make demo' install
# what they need from Debian's packages first (as root).

SHELL    := /bin/bash
GO       ?= go
CC       ?= cc
PREFIX   ?= /usr
DESTDIR  ?=

MODULE   := build/pam_keyinit_go.so
MAPFILE  := build/pam_keyinit_go.map
SOURCES  := $(wildcard pam/*.go pam/*.c pam/*.h keyinit/*.go) go.mod go.sum $(MAPFILE)
# -z now/relro: a security module resolves its symbols at load and keeps its GOT read-only.
LDFLAGS  := -s -w -extldflags '-Wl,--version-script=$(CURDIR)/$(MAPFILE) -Wl,-z,relro,-z,now'

# Debian packages the build, the tests and the demo use.
DEB_DEPS := gcc make libpam0g-dev libpam-modules libpam-runtime pamtester keyutils passwd openssh-server openssh-client util-linux

.PHONY: all deps test test-programs demo bench clean
all: $(MODULE)

$(MODULE): $(SOURCES)
	CGO_ENABLED=1 $(GO) build -buildmode=c-shared -trimpath -ldflags "$(LDFLAGS)" -o $@ ./pam
	rm -f build/pam_keyinit_go.h

# Installs the missing Debian packages (needs root when any are missing).
deps:
	@missing=$$(for p in $(DEB_DEPS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing: $$missing"; \
		if [ "$$(id -u)" != 0 ]; then echo "run as root to install: $$missing" >&2; exit 1; fi; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# C programs the integration tests run (test/hosts/*.c -> build/test/*).
TEST_PROGRAMS := $(patsubst test/hosts/%.c,build/test/%,$(wildcard test/hosts/*.c))
build/test/%: test/hosts/%.c
	@mkdir -p build/test
	$(CC) -O2 -Wall -Wextra -pthread -o $@ $< -lpam
test-programs: $(TEST_PROGRAMS)

test: deps $(MODULE) test-programs
	$(GO) vet ./...
	$(GO) test -count=1 ./keyinit/...
	$(GO) test -count=1 -p 1 -v ./test/...

demo: deps $(MODULE)
	bash examples/demo.sh

clean:
	rm -rf build/*.so build/*.h build/test build/test.log
