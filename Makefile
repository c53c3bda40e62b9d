# ipcd — socket-activated IPC echo daemon. Plain GNU make; see README.md.

VERSION     ?= 0.1.0
PREFIX      ?= /usr/local
BINDIR      ?= $(PREFIX)/bin
SBINDIR     ?= $(PREFIX)/sbin
SYSCONFDIR  ?= /etc
RUNSTATEDIR ?= /run
MANDIR      ?= $(PREFIX)/share/man
PKG_CONFIG  ?= pkg-config
# systemd's directories for this PREFIX, as its pkg-config file reports them.
SYSTEMD_DIR  = $(shell $(PKG_CONFIG) --define-variable=prefix=$(PREFIX) \
		 --define-variable=root_prefix=$(PREFIX) --variable=$(1) systemd 2>/dev/null)
UNITDIR     ?= $(call SYSTEMD_DIR,systemdsystemunitdir)
SYSUSERSDIR ?= $(call SYSTEMD_DIR,sysusersdir)
CATALOGDIR  ?= $(call SYSTEMD_DIR,catalogdir)

# SANITIZE=1 builds everything with ASan+UBSan into its own tree.
ifeq ($(SANITIZE),1)
BUILD       ?= build/asan
SAN_FLAGS    = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
CFLAGS      ?= -O1 -g
HARDEN_CPP   =
else
BUILD       ?= build
SAN_FLAGS    =
CFLAGS      ?= -O2 -g
HARDEN_CPP   = -D_FORTIFY_SOURCE=3
endif
# One spelling per tree: a BUILD given as an absolute path inside the checkout (the e2e tests'
# make install) would write dependency files whose targets a later plain make never matches,
# and a changed header would then rebuild nothing.
override BUILD := $(patsubst $(CURDIR)/%,%,$(abspath $(BUILD)))

# The libraries' flags are asked of pkg-config when a recipe first needs them, never while make
# reads this file: on a bare machine `make demo` and `make check` install the packages first
# (deps), and a build without them stops with a message instead of a link error.
LIBS_PC      = libsystemd libconfig
pkg_flags    = $(if $(shell $(PKG_CONFIG) --exists $(LIBS_PC) 2>/dev/null && echo y), \
		 $(shell $(PKG_CONFIG) $(1) $(LIBS_PC)), \
		 $(error pkg-config finds no $(LIBS_PC): run 'make deps' as root, or install \
		   pkg-config libsystemd-dev libconfig-dev))
# Each is evaluated once, on first use.
DEPS_CFLAGS  = $(eval DEPS_CFLAGS := $(call pkg_flags,--cflags))$(DEPS_CFLAGS)
DEPS_LIBS    = $(eval DEPS_LIBS := $(call pkg_flags,--libs))$(DEPS_LIBS)
UNIT_LIBS    = $(eval UNIT_LIBS := $(shell $(PKG_CONFIG) --libs libconfig))$(UNIT_LIBS)

WARNINGS  = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	    -Wpointer-arith -Wcast-qual -Wformat=2 -Wno-format-nonliteral
CFLAGS   += -std=gnu11 $(WARNINGS) -fstack-protector-strong -fPIE $(SAN_FLAGS) \
	    -MMD -MP $(DEPS_CFLAGS)
CPPFLAGS += -D_GNU_SOURCE $(HARDEN_CPP) -DVERSION='"$(VERSION)"' -DSYSCONFDIR='"$(SYSCONFDIR)"' \
	    -DRUNSTATEDIR='"$(RUNSTATEDIR)"'
LDFLAGS  += -pie -Wl,-z,relro,-z,now $(SAN_FLAGS)
LDLIBS   += $(DEPS_LIBS) -lpthread

# Each program is its folder's .c files and src/shared/'s: a new file needs no edit here.
# Sources include their own folder's headers and src/shared/'s, never the other program's.
SHARED_SRC := $(wildcard src/shared/*.c)
DAEMON_SRC := $(wildcard src/ipcd/*.c)
CLIENT_SRC := $(wildcard src/client/*.c)
UNIT_SRC   := $(wildcard tests/unit/*/test-*.c)
objs_of     = $(patsubst src/%.c,$(BUILD)/obj/%.o,$(1))

# Pure modules (no logging, no event loop, no I/O but what the caller names) say so: their
# top comment has a line "Pure: ...". The unit tests link only these, and without libsystemd,
# so a pure module that starts logging or looping fails to link them.
PURE_SRC   := $(shell grep -l -E '^( \*|/\*) Pure:' $(SHARED_SRC) $(DAEMON_SRC) $(CLIENT_SRC))
PURE        = $(call objs_of,$(PURE_SRC))

DAEMON := $(call objs_of,$(DAEMON_SRC) $(SHARED_SRC))
CLIENT := $(call objs_of,$(CLIENT_SRC) $(SHARED_SRC))
UNITS  := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))

PYTEST ?= pytest-3

# Test objects are intermediates; keep them so a second `make` rebuilds nothing.
.SECONDARY:

.PHONY: all check test unit integration lint-man deps demo soak bench install uninstall deb clean fmt

all: $(BUILD)/ipcd $(BUILD)/ipc-client

$(BUILD)/ipcd: $(DAEMON)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/ipc-client: $(CLIENT)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lm

$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -Isrc/shared -c -o $@ $<

# tests/unit/FOLDER/test-NAME.c tests the pure modules of src/FOLDER/ (and src/shared/).
$(BUILD)/tests/%.o: tests/unit/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -Itests/unit -Isrc/$(*D) -Isrc/shared -c -o $@ $<

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(PURE)
	$(CC) $(LDFLAGS) -o $@ $^ $(UNIT_LIBS) -lpthread -lm

# `make check` proves everything twice: the normal build, then ASan+UBSan.
# Every suite runs even when an earlier one fails; the summary decides. The end-to-end tests
# boot systemd in containers: once with the normal build installed, once from the packages.
# Targets that install packages build in a make of their own, started after deps has run.
check: deps
	-@$(MAKE) --no-print-directory test
	-@$(MAKE) --no-print-directory SANITIZE=1 test
	@echo "== analysis: ELF hardening, cppcheck and clang-tidy, ThreadSanitizer, valgrind"
	@$(MAKE) --no-print-directory SANITIZE=1 all
	@rm -f build/results-analyze.txt
	-@tests/analyze/hardening build/results-analyze.txt
	-@tests/analyze/static build/results-analyze.txt
	-@tests/analyze/tsan build/results-analyze.txt
	-@IPCD=$(abspath build/ipcd) IPC_CLIENT=$(abspath build/ipc-client) \
		tests/analyze/valgrind build/results-analyze.txt
	@echo "== fuzzing: config loader, size/time parsers, ipc-client options (libFuzzer, 30 s each)"
	-@tests/fuzz/run build/results-analyze.txt 30
	@echo "== allocation failures: every Nth malloc refused, normal and ASan builds"
	-@IPCD=$(abspath build/ipcd) IPCD_ASAN=$(abspath build/asan/ipcd) \
		tests/faults/run build/results-analyze.txt
	@echo "== Debian packages: make deb, lintian, contents"
	@rm -f build/results-deb.txt
	-@tests/deb/run build/results-deb.txt
	@echo "== end-to-end: ipcd under systemd as PID 1 (systemd-nspawn), installed and packaged"
	@rm -f build/results-e2e.txt
	-@tests/e2e/run build/results-e2e.txt $(abspath build)
	@echo "== first run: make demo from a clean copy on a view of this machine without its packages"
	@rm -f build/results-fresh.txt
	-@tests/fresh/run build/results-fresh.txt
	@echo "== make check: normal and ASan+UBSan builds, analysis, packages, end-to-end, first run"
	@tests/summarize build/results.txt build/asan/results.txt build/results-analyze.txt \
		build/results-deb.txt build/results-e2e.txt build/results-fresh.txt

test: all $(UNITS)
	@rm -f $(BUILD)/results.txt
	@echo "== unit tests ($(BUILD))"
	-@SRCDIR=$(CURDIR) tests/run-unit $(BUILD)/results.txt $(UNITS)
	@echo "== integration tests ($(BUILD)/ipcd, $(BUILD)/ipc-client)"
	-@IPCD=$(abspath $(BUILD)/ipcd) IPC_CLIENT=$(abspath $(BUILD)/ipc-client) SRCDIR=$(CURDIR) \
		tests/run-integration $(BUILD)/results.txt
	@echo "== man pages and units"
	-@$(MAKE) --no-print-directory lint-man RESULTS=$(BUILD)/results.txt
	-@tests/check-units $(BUILD)/results.txt $(abspath $(BUILD)/ipcd)
	@tests/summarize $(BUILD)/results.txt

unit: $(UNITS)
	@tests/run-unit /dev/null $(UNITS)

integration: all
	IPCD=$(abspath $(BUILD)/ipcd) IPC_CLIENT=$(abspath $(BUILD)/ipc-client) SRCDIR=$(CURDIR) \
		$(PYTEST) -q tests/integration

lint-man:
	@if mandoc -Tlint -Wwarning man/*.[0-9]; then echo "lint-man: 1 passed, 0 failed"; r="1 0"; \
	else echo "lint-man: 0 passed, 1 failed"; r="0 1"; fi; \
	[ -z "$(RESULTS)" ] || echo "lint-man $$r" >> $(RESULTS); [ "$$r" = "1 0" ]

deps:
	@tests/install-deps

# The benchmark suite against the floor and the peers, then the floor's experimental variants
# (splice, io_uring, recvmmsg); results go to bench/results/. BENCH_ARGS=--quick: fewer rows.
bench:
	@tests/install-deps bench
	@$(MAKE) --no-print-directory all
	@bench/run $(BENCH_ARGS)
	@bench/experiments/build.sh $(BUILD)/bench/experiments
	@bench/experiments/compare > bench/results/$$(date +%F)-experiments.md
	@echo "wrote bench/results/$$(date +%F)-experiments.md"

# Minutes-long tests (scale, a long load with reloads and restarts); figures go to bench/results/.
soak: deps
	@$(MAKE) --no-print-directory all
	@tests/soak/run $(abspath $(BUILD))

demo:
	@tests/install-deps demo
	@$(MAKE) --no-print-directory all
	@./demo.sh $(BUILD) conf/ipcd.conf

# The checked-in units name the default paths; installed ones name the configured paths.
UNIT_PATHS = -e 's|/usr/local/sbin/ipcd|$(SBINDIR)/ipcd|' \
	     -e 's|/etc/ipcd/ipcd.conf|$(SYSCONFDIR)/ipcd/ipcd.conf|' \
	     -e 's|/run/ipcd/|$(RUNSTATEDIR)/ipcd/|'

# An admin's configuration is data: install puts the shipped file in place only where there is
# none (else beside it, as ipcd.conf.dist), and uninstall removes it only while it is the shipped
# one, unedited. Anything that is not a plain file (a symlink, say) is the admin's too.
define install_conf
	c="$(1)"; \
	if [ ! -e "$$c" ] && [ ! -L "$$c" ]; then \
		install -D -m 0644 conf/ipcd.conf "$$c"; \
	elif cmp -s conf/ipcd.conf "$$c"; then \
		rm -f "$$c.dist"; \
	else \
		install -m 0644 conf/ipcd.conf "$$c.dist"; \
		echo "install: kept $$c as it is; the shipped one is $$c.dist"; \
	fi
endef
define uninstall_conf
	c="$(1)"; \
	rm -f "$$c.dist"; \
	if [ -f "$$c" ] && [ ! -L "$$c" ] && cmp -s conf/ipcd.conf "$$c"; then \
		rm -f "$$c"; \
	elif [ -e "$$c" ] || [ -L "$$c" ]; then \
		echo "uninstall: kept $$c: it is not the shipped file"; \
	fi
endef

install: all
	install -D -m 0755 $(BUILD)/ipcd $(DESTDIR)$(SBINDIR)/ipcd
	install -D -m 0755 $(BUILD)/ipc-client $(DESTDIR)$(BINDIR)/ipc-client
	@$(call install_conf,$(DESTDIR)$(SYSCONFDIR)/ipcd/ipcd.conf)
	install -D -m 0644 man/ipcd.8 $(DESTDIR)$(MANDIR)/man8/ipcd.8
	install -D -m 0644 man/ipcd.conf.5 $(DESTDIR)$(MANDIR)/man5/ipcd.conf.5
	install -D -m 0644 man/ipc-client.1 $(DESTDIR)$(MANDIR)/man1/ipc-client.1
	install -d $(DESTDIR)$(UNITDIR)
	sed $(UNIT_PATHS) systemd/ipcd.service >$(DESTDIR)$(UNITDIR)/ipcd.service
	sed $(UNIT_PATHS) systemd/ipcd.socket >$(DESTDIR)$(UNITDIR)/ipcd.socket
	sed $(UNIT_PATHS) systemd/ipcd-metrics.socket >$(DESTDIR)$(UNITDIR)/ipcd-metrics.socket
	chmod 0644 $(DESTDIR)$(UNITDIR)/ipcd.service $(DESTDIR)$(UNITDIR)/ipcd.socket \
		$(DESTDIR)$(UNITDIR)/ipcd-metrics.socket
	install -D -m 0644 systemd/ipcd.sysusers $(DESTDIR)$(SYSUSERSDIR)/ipcd.conf
	install -D -m 0644 systemd/ipcd.catalog $(DESTDIR)$(CATALOGDIR)/ipcd.catalog
	@# On the live system (no DESTDIR), make the group and index the catalog, as a package would.
	@if [ -z "$(DESTDIR)" ]; then systemd-sysusers $(SYSUSERSDIR)/ipcd.conf; \
		journalctl --update-catalog; systemctl daemon-reload 2>/dev/null || true; fi

uninstall:
	@$(call uninstall_conf,$(DESTDIR)$(SYSCONFDIR)/ipcd/ipcd.conf)
	rm -f $(DESTDIR)$(SBINDIR)/ipcd $(DESTDIR)$(BINDIR)/ipc-client \
	      $(DESTDIR)$(MANDIR)/man1/ipc-client.1 \
	      $(DESTDIR)$(MANDIR)/man8/ipcd.8 $(DESTDIR)$(MANDIR)/man5/ipcd.conf.5 \
	      $(DESTDIR)$(UNITDIR)/ipcd.service $(DESTDIR)$(UNITDIR)/ipcd.socket \
	      $(DESTDIR)$(UNITDIR)/ipcd-metrics.socket \
	      $(DESTDIR)$(SYSUSERSDIR)/ipcd.conf $(DESTDIR)$(CATALOGDIR)/ipcd.catalog
	@# The directory stays while it holds the admin's file.
	@rmdir $(DESTDIR)$(SYSCONFDIR)/ipcd 2>/dev/null || true
	@if [ -z "$(DESTDIR)" ]; then journalctl --update-catalog; \
		systemctl daemon-reload 2>/dev/null || true; fi

# Debian packages (debian/, debhelper), built from a copy of the tracked and new files so that
# dpkg-buildpackage's clean step cannot touch this tree; the .debs land in build/deb/.
DEB_DIR = build/deb
deb:
	@tests/install-deps deb
	rm -rf $(DEB_DIR)
	mkdir -p $(DEB_DIR)/src
	git ls-files -z --cached --others --exclude-standard | \
		xargs -0 cp --parents -t $(DEB_DIR)/src
	cd $(DEB_DIR)/src && dpkg-buildpackage -us -uc -b
	@ls $(DEB_DIR)/*.deb

clean:
	rm -rf build

fmt:
	clang-format -i src/*/*.[ch] tests/unit/*.h tests/unit/*/*.c tests/fuzz/*.[ch] tests/faults/*.c

-include $(wildcard $(BUILD)/obj/*/*.d $(BUILD)/tests/*/*.d)
