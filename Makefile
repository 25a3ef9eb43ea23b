# Ferry: live-migration orchestration for KVM hosts.
#
#   make            deps + build the daemons, ferryctl and the unit tests
#   make build      the same build without the package check (deps already there)
#   make deps       install every Debian package the build, tests and lab need
#   make check      deps + build + every test (unit and lab); SAN=1: unit tests under ASan+UBSan,
#                   TSAN=1: under ThreadSanitizer (build-tsan/; exclusive with SAN)
#   make unit       deps + build + the unit tests (SAN=1 / TSAN=1 as for check)
#   make demo       deps + build + start the lab + a real live migration
#
# CFLAGS, CPPFLAGS, LDFLAGS, LDLIBS and CC are the user's: they go beside the
# project's own include paths, warnings and libraries, never instead of them.

SAN	?= 0
TSAN	?= 0
ifeq ($(SAN)$(TSAN),11)
$(error SAN=1 and TSAN=1 are exclusive: ASan and ThreadSanitizer cannot share a process)
endif
ifeq ($(SAN),1)
B	:= build-san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else ifeq ($(TSAN),1)
# ThreadSanitizer for the threaded code (hostd's workers, the transport's
# thread-to-loop sink, the coordinator's workers); tests/tsan.supp names
# what it cannot see into (uninstrumented libraries). A race report makes
# the test binary exit 66, so the suite counts it as a failure.
B	:= build-tsan
SANFLAGS := -fsanitize=thread -fno-omit-frame-pointer
export TSAN_OPTIONS := suppressions=$(CURDIR)/tests/tsan.supp $(TSAN_OPTIONS)
else
B	?= build
SANFLAGS :=
endif

CC	?= cc
CFLAGS	?= -O2 -g
PKGS	:= libvirt libssh libnfs libiscsi libuv libprotobuf-c sqlite3 libpq libconfig json-c libxml-2.0 libsystemd libmicrohttpd gnutls nettle

# pkg-config runs when a compile or link first needs it, not when make reads
# this file: targets that run deps first would otherwise build with the
# flags of packages that were not there yet. Each is asked once (the eval
# replaces the variable by its value); a missing package stops the build
# with pkg-config's own words.
pkg_missing = $(shell pkg-config --print-errors --errors-to-stdout --exists $(PKGS) 2>&1 | head -3)
pkg_query = $(if $(shell pkg-config --exists $(PKGS) && echo y),$(shell pkg-config $(1) $(PKGS)),\
	$(error pkg-config: $(pkg_missing); run 'make deps' as root))
PKG_CFLAGS = $(eval PKG_CFLAGS := $$(call pkg_query,--cflags))$(PKG_CFLAGS)
PKG_LIBS = $(eval PKG_LIBS := $$(call pkg_query,--libs))$(PKG_LIBS)

# -Wformat-truncation is gcc's; clang (make CC=clang) rejects its name.
CC_WARN = $(eval CC_WARN := $$(if $$(findstring clang,$$(shell $$(CC) --version 2>/dev/null | head -1)),,-Wno-format-truncation))$(CC_WARN)
WARNFLAGS = -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wpointer-arith \
	   -Wmissing-prototypes -Wstrict-prototypes -Wformat=2 -Wno-format-nonliteral $(CC_WARN)
# Include paths per directory: a layer sees its own headers and those of
# the layers below it, never one above (common -> storage -> planner ->
# coordinator; storage -> hostd; common + planner -> ferryctl), so an
# upward #include fails to compile. Each object gets its directory's.
INC_proto	:= -Iproto
INC_common	:= -Icommon -Iproto
INC_storage	:= $(INC_common) -Istorage
INC_planner	:= $(INC_storage) -Iplanner
INC_hostd	:= $(INC_storage) -Ihostd
INC_coordinator	:= $(INC_planner) -Icoordinator
INC_ferryctl	:= $(INC_common) -Iplanner -Iferryctl
INC_tests	:= $(INC_planner) -Ihostd -Icoordinator -Iferryctl -Itests/unit
dir_inc = $(INC_$(firstword $(subst /, ,$(1))))
FERRY_CPPFLAGS = -D_GNU_SOURCE $(call dir_inc,$<)
ALL_CFLAGS = $(WARNFLAGS) $(FERRY_CPPFLAGS) $(PKG_CFLAGS) $(SANFLAGS) $(CPPFLAGS) $(CFLAGS) -MMD -MP
ALL_LDFLAGS = $(SANFLAGS) $(LDFLAGS)
# librbd and librados: Debian 12 ships no pkg-config files for them.
ALL_LDLIBS = $(PKG_LIBS) -lrbd -lrados -lpthread -lm $(LDLIBS)

PROTO_C	:= proto/ferry.pb-c.c
PROTO_H	:= proto/ferry.pb-c.h

# Each directory is a library; the mains are kept apart so tests can link the rest.
COMMON_SRC	:= $(sort $(wildcard common/*.c)) $(PROTO_C)
STORAGE_SRC	:= $(sort $(wildcard storage/*.c))
PLANNER_SRC	:= $(sort $(wildcard planner/*.c))
HOSTD_SRC	:= $(filter-out hostd/main.c,$(sort $(wildcard hostd/*.c)))
COORD_SRC	:= $(filter-out coordinator/main.c,$(sort $(wildcard coordinator/*.c)))
# The API's OpenAPI document, docs/openapi.json, compiled in as a string.
OPENAPI_C	:= $(B)/gen/http_openapi.c
CTL_SRC		:= $(sort $(wildcard ferryctl/*.c))
UNIT_SRC	:= $(sort $(wildcard tests/unit/test_*.c))
UNIT_HELPERS	:= $(filter-out tests/unit/test_%.c,$(sort $(wildcard tests/unit/*.c)))

obj = $(patsubst %.c,$(B)/obj/%.o,$(1))

LIBCOMMON	:= $(B)/libferry-common.a
LIBSTORAGE	:= $(B)/libferry-storage.a
LIBPLANNER	:= $(B)/libferry-planner.a
LIBHOSTD	:= $(B)/libferry-hostd.a
LIBCOORD	:= $(B)/libferry-coord.a

BINS	:= $(B)/ferry-hostd $(B)/ferry-coordinator $(B)/ferryctl
UNITS	:= $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRC))

# Every target that needs packages runs deps first and builds in a fresh
# make, which reads the pkg-config flags of what deps has just installed.
all: deps
	+$(MAKE) build

build: $(BINS) $(UNITS) $(B)/guest/ferry-guest

# One protoc-c run makes both (&:), even under -j.
$(PROTO_C) $(PROTO_H) &: proto/ferry.proto
	cd proto && protoc-c --c_out=. ferry.proto

# Everything includes the generated header through msg.h.
$(call obj,$(COMMON_SRC) $(STORAGE_SRC) $(PLANNER_SRC) $(HOSTD_SRC) $(COORD_SRC) $(CTL_SRC) \
	hostd/main.c coordinator/main.c $(UNIT_SRC) $(UNIT_HELPERS)): $(PROTO_H)

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(OPENAPI_C): docs/openapi.json
	@mkdir -p $(dir $@)
	{ echo '/* Made from docs/openapi.json by the Makefile. */'; \
	  echo 'extern const char http_openapi_json[];'; \
	  echo 'const char http_openapi_json[] ='; \
	  sed 's/\\/\\\\/g; s/"/\\"/g; s/^/"/; s/$$/\\n"/' $<; echo ';'; } > $@.tmp
	mv $@.tmp $@

$(B)/obj/proto/ferry.pb-c.o: proto/ferry.pb-c.c
	@mkdir -p $(dir $@)
	$(CC) $(filter-out -Werror -Wmissing-prototypes -Wstrict-prototypes,$(ALL_CFLAGS)) -c -o $@ $<

$(LIBCOMMON): $(call obj,$(COMMON_SRC))
$(LIBSTORAGE): $(call obj,$(STORAGE_SRC))
$(LIBPLANNER): $(call obj,$(PLANNER_SRC))
$(LIBHOSTD): $(call obj,$(HOSTD_SRC))
$(LIBCOORD): $(call obj,$(COORD_SRC)) $(call obj,$(OPENAPI_C))
$(B)/lib%.a:
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

ALLLIBS := $(LIBHOSTD) $(LIBCOORD) $(LIBPLANNER) $(LIBSTORAGE) $(LIBCOMMON)

$(B)/ferry-hostd: $(call obj,hostd/main.c) $(LIBHOSTD) $(LIBSTORAGE) $(LIBCOMMON)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(ALL_LDLIBS)
$(B)/ferry-coordinator: $(call obj,coordinator/main.c) $(LIBCOORD) $(LIBPLANNER) $(LIBSTORAGE) $(LIBCOMMON)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(ALL_LDLIBS)
$(B)/ferryctl: $(call obj,$(CTL_SRC)) $(LIBPLANNER) $(LIBCOMMON)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(ALL_LDLIBS)

$(B)/tests/%: $(B)/obj/tests/unit/%.o $(call obj,$(UNIT_HELPERS)) $(ALLLIBS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(call obj,$(UNIT_HELPERS)) $(ALLLIBS) $(ALL_LDLIBS) -lcmocka

# The lab guest's program: static, no sanitizers, it runs inside the guest.
$(B)/guest/ferry-guest: deploy/lab/guest/ferry-guest.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -static -Wall -Wextra -Werror -o $@ $<

deps:
	deploy/deps.sh

unit: all
	tests/run --unit --build $(B)

check: all
	@if [ "$(SAN)$(TSAN)" != 00 ]; then tests/run --unit --build $(B); else tests/run --build $(B); fi

# The fault matrix, FAULT_RUNS runs a fault (default 3); writes
# tests/faults/RESULTS.md. Estimate on 2 cores: ~8 min a round of the ten
# faults (postcopy-link ~2.5 min of it): ~25 min at 3 runs, ~4 h at 30.
# The fault matrix at scale: 30 trials of every fault, 6 guests an
# injection (~80 min on 2 cores, see tests/faults/RESULTS.md), then the race
# suite RACE_RUNS times (5: ~10 min).
# HA coordinators (issue 16): a lab with two coordinators on PostgreSQL and
# tests/lab/ha/t_*.sh (~3 min).
check-ha: all
	LAB_COORDINATORS=2 LAB_STORAGE=$${LAB_STORAGE:-nfs} tests/run --lab --only t_ha --build $(B)

# The fault matrix's short form: one run a fault (~10 min on 2 cores), in
# a lab of its own brought up with --faketime. CI runs it after make check.
check-matrix: all
	FAULT_RUNS=$${FAULT_RUNS:-1} tests/run --faults --build $(B)

check-faults: all
	FAULT_RUNS=$${FAULT_RUNS:-30} FAULT_LONG=1 FAULT_RESULTS=$(CURDIR)/tests/faults/RESULTS.md \
	    LAB_SCRIPT_TIMEOUT=$${LAB_SCRIPT_TIMEOUT:-10800} tests/run --faults --build $(B)
	RACE_RUNS=$${RACE_RUNS:-5} LAB_SCRIPT_TIMEOUT=$${LAB_SCRIPT_TIMEOUT:-10800} \
	    tests/run --lab --only t_races,t_hostile,t_limits --build $(B)

# Soak: 200 back-and-forth migrations, fds and memory sampled (~15 min).
soak: all
	tests/run --soak --build $(B)

# Benchmarks (bench/run): figures printed and appended to bench/RESULTS.md.
bench: all
	FERRY_BUILD=$(CURDIR)/$(B) bench/run

demo: all
	deploy/lab/demo

clean:
	rm -rf build build-san build-tsan $(PROTO_C) $(PROTO_H)

.PHONY: all build deps unit check check-ha check-matrix check-faults soak bench demo clean
-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)

# Fuzzing: libFuzzer harnesses under ASan+UBSan (tests/fuzz/, built in
# build-fuzz/); FUZZ_SECONDS per harness.
FUZZ_SECONDS ?= 300
fuzz: deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run
.PHONY: fuzz

# ---------------------------------------------------------------- install
# make install [PREFIX=/usr/local] [DESTDIR=] [SYSCONFDIR=$(PREFIX)/etc] ...
# Packaging uses PREFIX=/usr SYSCONFDIR=/etc (debian/rules). The units and
# the example configs name /usr/sbin and /etc/ferry; they are rewritten here
# for the prefix, so what is installed runs from where it was installed.
PREFIX		?= /usr/local
SYSCONFDIR	?= $(PREFIX)/etc
BINDIR		?= $(PREFIX)/bin
SBINDIR		?= $(PREFIX)/sbin
DATADIR		?= $(PREFIX)/share
MANDIR		?= $(DATADIR)/man
UNITDIR		?= $(PREFIX)/lib/systemd/system
BASHCOMPDIR	?= $(DATADIR)/bash-completion/completions
# The web view's files; the coordinator's default is /usr/share/ferry/www
# (http.www in coordinator.conf names another).
WWWDIR		?= $(DATADIR)/ferry/www
WWW_FILES	:= www/index.html www/ferry.css www/ferry.js
INSTALL		?= install

MAN1	:= man/ferryctl.1
MAN5	:= man/ferry-hostd.conf.5 man/ferry-coordinator.conf.5
MAN8	:= man/ferry-hostd.8 man/ferry-coordinator.8
SYSTEMD_UNITS	:= ferry-hostd.service ferry-coordinator.service
EXAMPLE_CONFS	:= hostd coordinator
INSTALL_SED	= sed -e 's|/usr/sbin/|$(SBINDIR)/|g' -e 's|/etc/ferry/|$(SYSCONFDIR)/ferry/|g'

programs: $(BINS)

install: $(BINS)
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(UNITDIR) \
	    $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(SYSCONFDIR)/ferry \
	    $(DESTDIR)$(WWWDIR)
	$(INSTALL) -m 0644 $(WWW_FILES) $(DESTDIR)$(WWWDIR)/
	$(INSTALL) -m 0755 $(B)/ferry-hostd $(B)/ferry-coordinator $(DESTDIR)$(SBINDIR)/
	$(INSTALL) -m 0755 $(B)/ferryctl $(DESTDIR)$(BINDIR)/
	for u in $(SYSTEMD_UNITS); do \
	    $(INSTALL_SED) deploy/systemd/$$u > $(DESTDIR)$(UNITDIR)/$$u.tmp && \
	    chmod 0644 $(DESTDIR)$(UNITDIR)/$$u.tmp && \
	    mv -f $(DESTDIR)$(UNITDIR)/$$u.tmp $(DESTDIR)$(UNITDIR)/$$u || exit 1; done
	$(INSTALL) -m 0644 $(MAN1) $(DESTDIR)$(MANDIR)/man1/
	$(INSTALL) -m 0644 $(MAN5) $(DESTDIR)$(MANDIR)/man5/
	$(INSTALL) -m 0644 $(MAN8) $(DESTDIR)$(MANDIR)/man8/
	$(INSTALL) -m 0644 deploy/completion/ferryctl $(DESTDIR)$(BASHCOMPDIR)/ferryctl
	@# An existing configuration is the operator's: never replaced.
	for c in $(EXAMPLE_CONFS); do \
	    f=$(DESTDIR)$(SYSCONFDIR)/ferry/$$c.conf; \
	    if [ -e $$f ]; then echo "install: $$f exists, left alone"; continue; fi; \
	    $(INSTALL_SED) deploy/etc/$$c.conf.example > $$f.tmp && chmod 0644 $$f.tmp && \
	    mv $$f.tmp $$f || exit 1; done

# Removes what install put there; a configuration that differs from the
# example an install writes has been edited, and stays.
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/ferry-hostd $(DESTDIR)$(SBINDIR)/ferry-coordinator \
	    $(DESTDIR)$(BINDIR)/ferryctl $(DESTDIR)$(BASHCOMPDIR)/ferryctl \
	    $(addprefix $(DESTDIR)$(UNITDIR)/,$(SYSTEMD_UNITS)) \
	    $(addprefix $(DESTDIR)$(MANDIR)/man1/,$(notdir $(MAN1))) \
	    $(addprefix $(DESTDIR)$(MANDIR)/man5/,$(notdir $(MAN5))) \
	    $(addprefix $(DESTDIR)$(MANDIR)/man8/,$(notdir $(MAN8))) \
	    $(addprefix $(DESTDIR)$(WWWDIR)/,$(notdir $(WWW_FILES)))
	-rmdir $(DESTDIR)$(WWWDIR) $(DESTDIR)$(DATADIR)/ferry 2>/dev/null
	for c in $(EXAMPLE_CONFS); do \
	    f=$(DESTDIR)$(SYSCONFDIR)/ferry/$$c.conf; [ -e $$f ] || continue; \
	    if $(INSTALL_SED) deploy/etc/$$c.conf.example | cmp -s - $$f; then rm -f $$f; \
	    else echo "uninstall: $$f was edited, left alone"; fi; done
	-rmdir $(DESTDIR)$(SYSCONFDIR)/ferry 2>/dev/null

.PHONY: programs install uninstall

# Build the .debs, install them, run a lab on them (lab up --installed,
# LAB_ID, default 8) with one real migration, then purge them.
check-packages:
	LAB_ID=$${LAB_ID:-8} tests/packages/check.sh
.PHONY: check-packages
