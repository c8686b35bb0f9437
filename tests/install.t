#!/bin/bash
# ISC license: see LICENSE.
# make install and make uninstall, into a scratch DESTDIR: the files and
# their modes, the pages as man finds and renders them, the installed
# tools running.
. "$(dirname "$0")/lib.sh"
SRC=$(cd "$(dirname "$0")/.." && pwd)

# smake ARG ...: make in the source tree, on the tools of $BIN, as a make
# of its own (not a part of the make check that may run us).
smake() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
	    make -s -C "$SRC" B="$BIN" "$@"
}

# want_list PREFIX: what make install PREFIX=PREFIX installs, with modes:
# the four tools, the six pages, what completions/ and examples/ hold.
want_list() {
	local p=${1#/} f m
	{
		printf '755 %s/bin/%s\n' "$p" effif "$p" fdholder "$p" fdrecv \
		    "$p" fdsend
		printf '644 %s/share/man/man1/%s.1\n' "$p" fdholder "$p" fdrecv \
		    "$p" fdsend
		printf '644 %s/share/man/man7/%s.7\n' "$p" fdproto "$p" fdtools
		printf '644 %s/share/man/man8/effif.8\n' "$p"
		for f in $(cd "$SRC" && ls completions/* 2>/dev/null); do
			echo "644 $p/share/bash-completion/completions/${f#*/}"
		done
		for f in $(cd "$SRC" && find examples -type f); do
			m=644
			[ ! -x "$SRC/$f" ] || m=755
			echo "$m $p/share/doc/fdtools/$f"
		done
	} | LC_ALL=C sort
}

# make install PREFIX=/usr/local DESTDIR=...: every file in its place with
# its mode, nothing else (but directories); the examples are there.
installed_files() {
	smake install PREFIX=/usr/local DESTDIR="$PWD/root"
	want_list /usr/local >want
	(cd root && find . ! -type d -printf '%m %P\n') | LC_ALL=C sort >got
	diff -u want got
	grep -q 'share/doc/fdtools/examples/restart-webserver.sh$' got ||
	    fail "no examples installed"
	t_note "$(wc -l <got) files installed under /usr/local"
}

# The installed pages: man finds each by name in its section in the
# installed tree, renders it, and mandoc -Tlint finds nothing in them.
installed_pages() {
	local man=root/usr/local/share/man sec name
	smake install PREFIX=/usr/local DESTDIR="$PWD/root"
	for sec_name in 1:fdsend 1:fdrecv 1:fdholder 7:fdproto 7:fdtools 8:effif; do
		sec=${sec_name%%:*} name=${sec_name#*:}
		MANPAGER=cat MANWIDTH=80 man -M "$man" "$sec" "$name" \
		    >"$name.txt" 2>"$name.err" || fail "man $sec $name: $(cat "$name.err")"
		grep -q "^NAME" "$name.txt" || fail "man $sec $name: no NAME"
		grep -q "^ *$name " "$name.txt" || fail "man $sec $name: no $name"
		MANPAGER=cat MANWIDTH=80 man -l "$man/man$sec/$name.$sec" |
		    diff -q "$name.txt" - >/dev/null ||
		    fail "man -l $name.$sec renders otherwise"
		mandoc -Tlint -W warning "$man/man$sec/$name.$sec"
	done
}

# The installed tools run: -h prints the usage on standard output, exit 0.
# A regular user finds every one on a PATH without sbin, as ip(8) is
# found: effif needs no privilege for most of what it does.
installed_run() {
	local t
	smake install PREFIX=/usr/local DESTDIR="$PWD/root"
	# The user must reach the tree: the scratch directories are 0700.
	chmod o+x "$T_ROOT" . root root/usr root/usr/local root/usr/local/bin
	for t in fdsend fdrecv fdholder effif; do
		setpriv --reuid nobody --regid nogroup --clear-groups \
		    env PATH="$PWD/root/usr/local/bin:/usr/bin:/bin" \
		    "$t" -h >out 2>err || fail "$t -h as nobody: $(cat err)"
		grep -q "^usage: $t " out || fail "$t -h: $(head -n 1 out)"
	done
}

# Every tool is spared mapping libbsd and libmd at each start: they are
# linked in where libbsd-dev has their archives (issue 26: about 0.1 ms
# of CPU a process, the store's clients run once an operation; issue 23:
# effif, run at every route change).  libc stays shared, and libmnl,
# which Debian ships no archive of.
static_bsd() {
	local t
	for t in fdsend fdrecv fdholder effif; do
		readelf -d "$BIN/$t" >dyn.$t
		! grep 'NEEDED.*lib\(bsd\|md\)\.' dyn.$t ||
		    fail "$t: libbsd or libmd is a shared library"
		grep -q 'NEEDED.*libc\.so' dyn.$t || fail "$t: no shared libc"
	done
	grep -q 'NEEDED.*libmnl' dyn.effif || fail "effif: no libmnl"
}

# make uninstall with the same PREFIX and DESTDIR leaves no file of ours.
uninstalled() {
	smake install PREFIX=/usr/local DESTDIR="$PWD/root"
	smake uninstall PREFIX=/usr/local DESTDIR="$PWD/root"
	(cd root && find . ! -type d) >left
	[ ! -s left ] || fail "left behind: $(cat left)"
	[ ! -d root/usr/local/share/doc/fdtools ] || fail "doc dir left"
}

if ! command -v man >/dev/null; then
	t_skip installed_pages "no man (.ci/deps installs man-db)"
fi
t_case "make install: the tools (effif too) in bin, the pages by section, completions, examples, with their modes" installed_files
command -v man >/dev/null &&
    t_case "make install: man finds and renders each installed page in its section; mandoc -Tlint is silent" installed_pages
t_case "make install: the installed tools run (-h), found by a regular user on a PATH without sbin" installed_run
BSDA=$(pkg-config --variable=libdir libbsd 2>/dev/null)/libbsd.a
if [ -f "$BSDA" ]; then
	t_case "every tool links libbsd and libmd in, libc and libmnl shared" static_bsd
else
	t_skip "every tool links libbsd and libmd in" "no $BSDA: the tools link libbsd.so"
fi
t_case "make uninstall: nothing of ours is left" uninstalled
t_done
