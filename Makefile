# tsbuild: `make demo` and `make test` work on a fresh Debian machine as root (npm registry and Debian's
# packages are the only network needed).
SHELL := /bin/bash
NODE_MODULES := node_modules/.package-lock.json
SYSTEM_TOOLS := runc busybox skopeo umoci mount xz bzip2 zstd git openssl script ssh-agent
ROOT ?= $(or $(TSBUILD_ROOT),/var/lib/tsbuild)
# test/interop-docker.test.ts needs the oracle's dockerd: `make interop`, not `make test`.
TESTS ?= $(shell find common builder cache runtime image cli test -name '*.test.ts' ! -name 'interop-docker.test.ts' 2>/dev/null | sort)

NATIVE := native/build/tsbuild_native.node
# Node's headers (node_api.h) beside the running node: <prefix>/include/node.
NODE_INCLUDE := $(shell node -p "require('path').join(process.execPath, '..', '..', 'include', 'node')")

.PHONY: all deps system-deps build demo test interop bench bench-deps clean typecheck emulation chromium

all: build

# Debian packages: runc (containers), gcc (the native helpers), busybox-static (the offline base image), skopeo and umoci (interop tests),
# xz/bzip2/zstd (ADD of compressed archives), docker-registry and apache2-utils' htpasswd (registry tests),
# git (ADD of a repository, git contexts; git daemon in tests), openssl (the TLS test's CA), bsdutils'
# script (the tty progress test's pseudo-terminal), openssh-client (ssh-agent for the ssh mount test),
# openssh-server (the git@host test starts its own sshd on 127.0.0.1; the system service is not used).
system-deps:
	@missing=""; for t in $(SYSTEM_TOOLS) docker-registry htpasswd cc; do command -v $$t >/dev/null || missing=1; done; \
	[ -x /usr/sbin/sshd ] || missing=1; \
	if [ -n "$$missing" ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    runc busybox-static skopeo umoci xz-utils bzip2 zstd docker-registry apache2-utils util-linux bsdutils gcc libc6-dev \
	    git openssl openssh-client openssh-server >/dev/null; \
	fi

# Emulation for builds of another platform (--platform linux/arm64): Debian's qemu-user-static registers
# binfmt_misc handlers with the F flag (usable inside containers); binfmt_misc is mounted if it is not.
# The arm64 busybox (Debian's busybox-static:arm64) is the offline arm64 base image of the tests.
ARM64_BUSYBOX := .tmp/busybox-arm64/bin/busybox
emulation:
	@command -v qemu-aarch64-static >/dev/null && command -v update-binfmts >/dev/null || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user-static binfmt-support >/dev/null; }
	@if [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then :; \
	elif { [ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null; } \
	  && update-binfmts --enable qemu-aarch64 2>/dev/null && [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then \
	  echo "emulation: registered qemu-user-static's qemu-aarch64 handler with binfmt_misc (host-wide: arm64 binaries now run through it)"; \
	else \
	  echo "emulation: binfmt_misc is not available on this host: arm64 builds are refused, and the emulation tests are skipped"; \
	fi

# Headless Chromium (Debian's) for test/report-html.test.ts: the HTML build report rendered to its DOM
# and to a screenshot.
chromium:
	@command -v chromium >/dev/null || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

$(ARM64_BUSYBOX):
	mkdir -p .tmp/arm64-deb $(dir $@)
	dpkg --print-foreign-architectures | grep -qx arm64 || { dpkg --add-architecture arm64 && apt-get update -qq; }
	cd .tmp/arm64-deb && rm -f busybox-static_*_arm64.deb && { apt-get download busybox-static:arm64 2>/dev/null || { apt-get update -qq && apt-get download busybox-static:arm64; }; }
	dpkg-deb -x .tmp/arm64-deb/busybox-static_*_arm64.deb .tmp/arm64-deb/x
	cp .tmp/arm64-deb/x/bin/busybox $@.tmp && mv $@.tmp $@

$(NODE_MODULES): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

deps: system-deps $(NODE_MODULES)

# tsc type-checks; esbuild bundles the CLI into one CommonJS file, dist/tsbuild.cjs, that bin/tsbuild runs
# through a V8 code cache (written by the first run; removed here with the old bundle): Node then loads
# one file and compiles almost nothing, which was most of a no-op rebuild's time. (The bundle is written
# before the type-check, as tsc used to emit despite type errors.) undici stays in node_modules: only a
# TLS or proxied request loads it (common/netfetch.ts), and every start would read it in the bundle.
# scripts/bundle.mjs runs esbuild and makes the bundle's requires of builtins few commands need lazy.
build: deps $(NATIVE)
	rm -rf dist/bundle dist/tsbuild.cjs*
	node scripts/bundle.mjs
	npx tsc --noEmit -p tsconfig.json

# The Node-API addon (common/native.ts says what it is for). It needs no linking against Node: the
# symbols resolve when Node loads it, so plain cc with Node's headers builds it, no node-gyp.
$(NATIVE): native/tsbuild_native.c native/unpack.c native/fastfiles.c
	@test -f $(NODE_INCLUDE)/node_api.h || { echo "Node's headers not found in $(NODE_INCLUDE)"; exit 1; }
	mkdir -p native/build
	cc -O2 -Wall -Wextra -Werror -shared -fPIC -I$(NODE_INCLUDE) -o $@.tmp $< -lm
	mv $@.tmp $@

typecheck: $(NODE_MODULES)
	npx tsc --noEmit -p tsconfig.json

# The demo also puts tsbuild on PATH (a link in /usr/local/bin), as the README's commands expect. It
# builds for linux/amd64 and linux/arm64 (RUN through the emulation above): busybox:latest is an index
# of the two imported busyboxes, demo:1.0 one of the two demo images.
demo: build emulation $(ARM64_BUSYBOX)
	ln -sf $(CURDIR)/bin/tsbuild /usr/local/bin/tsbuild
	@echo "tsbuild is on PATH: $$(command -v tsbuild)"
	mkdir -p .tmp
	./testdata/busybox/make-rootfs.sh .tmp/busybox-rootfs.tar
	BUSYBOX=$(CURDIR)/$(ARM64_BUSYBOX) ./testdata/busybox/make-rootfs.sh .tmp/busybox-rootfs-arm64.tar
	./bin/tsbuild --root $(ROOT) import .tmp/busybox-rootfs.tar busybox:amd64 --change 'CMD ["sh"]'
	./bin/tsbuild --root $(ROOT) import --platform linux/arm64 .tmp/busybox-rootfs-arm64.tar busybox:arm64 --change 'CMD ["sh"]'
	./bin/tsbuild --root $(ROOT) build -q --platform linux/amd64,linux/arm64 -f testdata/busybox/multiplatform.Dockerfile -t busybox:latest testdata/busybox
	@if [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then p=linux/amd64,linux/arm64; \
	else p=linux/amd64; echo "demo: no arm64 emulation on this host (see above): the demo is built for linux/amd64 only"; fi; \
	set -x; ./bin/tsbuild --root $(ROOT) build --platform $$p -t demo:1.0 testdata/demo
	./bin/tsbuild --root $(ROOT) images
	./bin/tsbuild --root $(ROOT) inspect demo:1.0
	@if [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then set -x; ./bin/tsbuild --root $(ROOT) run --rm --platform linux/arm64 --entrypoint uname demo:1.0 -m; fi

test: build emulation chromium $(ARM64_BUSYBOX)
	node --import tsx --test --test-concurrency=1 $(TESTS)

# Docker interop (docker load/save/run against tsbuild's files): starts the oracle's dockerd first.
interop: build
	../shared/oracle/anchors-up.sh
	node --import tsx --test --test-concurrency=1 test/interop-docker.test.ts

# The benchmark's first-build scenario makes a Debian rootfs with debootstrap (once, into .tmp/bench/).
bench-deps:
	@command -v debootstrap >/dev/null || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }

bench: build bench-deps
	node --import tsx bench/run.ts $(if $(SCENARIOS),--only $(SCENARIOS))

clean:
	rm -rf dist .tmp native/build
