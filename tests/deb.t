#!/bin/bash
# ISC license: see LICENSE.
# make deb: the Debian package, built once (in a scratch directory of the
# test) by dpkg-buildpackage in a scratch copy of the tree; what it holds,
# what lintian says of it, and its tools run from a dpkg-deb -x of it.
# Nothing is installed on this machine.
. "$(dirname "$0")/lib.sh"
SRC=$(cd "$(dirname "$0")/.." && pwd)
DEBB=$T_ROOT/deb
DEB=$DEBB/fdtools_*_*.deb

# The package is built once, in the case that builds it; the others look
# at what it left in $DEBB.
built() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
	    make -s -C "$SRC" deb DEBB="$DEBB" >build.log 2>&1 ||
	    { tail -n 30 build.log; fail "make deb failed"; }
	ls $DEB >/dev/null || fail "no .deb in $DEBB"
	[ ! -d "$SRC/debian/fdtools" ] || fail "built in the tree itself"
	grep -q 'dpkg-buildpackage: info: binary-only upload' build.log
	t_note "built $(cd "$DEBB" && ls *.deb | paste -s -d ' ')"
}

# want_list: the package's files, with their modes: the four tools, the
# pages gzipped in their sections, the completions completions/ holds,
# the examples (modes kept), README, changelog and copyright.
want_list() {
	local f m
	{
		printf -- '-rwxr-xr-x ./usr/bin/%s\n' effif fdholder fdrecv fdsend
		printf -- '-rw-r--r-- ./usr/share/man/man1/%s.1.gz\n' fdholder \
		    fdrecv fdsend
		printf -- '-rw-r--r-- ./usr/share/man/man7/%s.7.gz\n' fdproto \
		    fdtools
		printf -- '-rw-r--r-- ./usr/share/man/man8/effif.8.gz\n'
		# dh_compress gzips a README over 4 KiB.
		f=README
		[ "$(stat -c %s "$SRC/README")" -le 4096 ] || f=README.gz
		printf -- '-rw-r--r-- ./usr/share/doc/fdtools/%s\n' "$f" \
		    changelog.gz copyright
		for f in $(cd "$SRC" && ls completions/* 2>/dev/null); do
			echo "-rw-r--r-- ./usr/share/bash-completion/completions/${f#*/}"
		done
		for f in $(cd "$SRC" && find examples -type f); do
			m=-rw-r--r--
			[ ! -x "$SRC/$f" ] || m=-rwxr-xr-x
			echo "$m ./usr/share/doc/fdtools/$f"
		done
	} | LC_ALL=C sort
}

# dpkg-deb -c: exactly those files, owned by root; the examples are there.
contents() {
	dpkg-deb -c $DEB >list
	grep -v '^d' list | awk '{ print $1, $6 }' | LC_ALL=C sort >got
	want_list | diff -u - got
	! grep -v ' root/root ' list || fail "not owned by root"
	grep -q '/examples/s6/fdholder/run$' got || fail "no s6 example"
	t_note "$(wc -l <got) files"
}

# lintian on the .deb and the .changes: no error, and no warning either
# (there is none to explain).  The tags it does print are shown (prove -v).
lintian_clean() {
	local rc=0
	ls "$DEBB"/*.changes >/dev/null || fail "no .changes in $DEBB"
	(cd "$DEBB" && timeout 120 lintian --pedantic --info ./*.changes) \
	    >out 2>err || rc=$?
	# 1: it found errors; anything else: it did not run through.
	[ "$rc" -le 1 ] || fail "lintian exited $rc: $(cat err)"
	! grep '^[EW]:' out || fail "lintian: $(grep -c '^[EW]:' out) errors or warnings"
	t_note "lintian: $(grep -c '^[A-Z]:' out) tags" \
	    "$(grep '^[A-Z]:' out | paste -s -d ' ')"
}

# The tools from dpkg-deb -x of the package run: -h prints the usage on
# standard output, exit 0; the pages and examples are in place.
extracted() {
	local t
	dpkg-deb -x $DEB root
	for t in bin/fdsend bin/fdrecv bin/fdholder bin/effif; do
		"root/usr/$t" -h >out 2>err || fail "$t -h: $(cat err)"
		grep -q "^usage: ${t#*/} " out || fail "$t -h: $(head -n 1 out)"
	done
	MANPAGER=cat MANWIDTH=80 man -l root/usr/share/man/man1/fdholder.1.gz |
	    grep -q '^NAME' || fail "man -l fdholder.1.gz"
	sh -n root/usr/share/doc/fdtools/examples/restart-webserver.sh
}

if [ "${SAN:-}" = 1 ]; then
	for c in built contents lintian_clean extracted; do
		t_skip "$c" "the package is built and checked once, in the pass without sanitizers"
	done
elif ! command -v dpkg-buildpackage >/dev/null || ! command -v dh >/dev/null; then
	for c in built contents lintian_clean extracted; do
		t_skip "$c" "no dpkg-buildpackage or dh (.ci/deps installs dpkg-dev, debhelper)"
	done
else
	t_case "make deb: dpkg-buildpackage -b -us -uc in a scratch copy, the .deb left in DEBB" built
	t_case "dpkg-deb -c: the tools, the pages gzipped by section, completions, examples, README, changelog, copyright" contents
	if command -v lintian >/dev/null; then
		t_case "lintian --pedantic: no E:, no W:" lintian_clean
	else
		t_skip lintian_clean "no lintian (.ci/deps installs it)"
	fi
	t_case "dpkg-deb -x: the extracted tools run (-h), man -l renders a page" extracted
fi
t_done
