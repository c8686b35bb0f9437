# ISC license: see LICENSE.
# A real systemd user manager for the tests that run units under one
# (sourced after lib.sh): each case starts its own with sd_start
# (/lib/systemd/systemd --user in a private mount namespace, by sdns.sh;
# never as PID 1), talks to it with sdctl, and has it stopped by pid when
# it ends.  sd_case skips a case, with the reason, where no manager can
# start.
TESTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SYSTEMD=${SYSTEMD:-/lib/systemd/systemd}
# Units the user manager would start, or that could reach outside the test.
MASKED="systemd-tmpfiles-setup.service systemd-tmpfiles-clean.service
systemd-tmpfiles-clean.timer dbus.socket dbus.service gpg-agent.socket
gpg-agent-browser.socket gpg-agent-extra.socket gpg-agent-ssh.socket
dirmngr.socket pk-debconf-helper.socket"
# Copy what is written to a new pty into a file: the manager's console.
CONSOLE='import os, signal, sys
m, s = os.openpty()
open(sys.argv[1] + ".tmp", "w").write(os.ttyname(s) + "\n")
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
with open(sys.argv[2], "ab", buffering=0) as out:
    while True:
        out.write(os.read(m, 65536))'

# cgroup_roots: the hierarchies in which the manager needs a cgroup of its
# own: the unified one (/sys/fs/cgroup on a pure cgroup v2 machine,
# /sys/fs/cgroup/unified on a mixed one) and the v1 name=systemd one.
cgroup_roots() {
	local r
	for r in /sys/fs/cgroup /sys/fs/cgroup/unified /sys/fs/cgroup/systemd; do
		case $(stat -f -c %T "$r" 2>/dev/null) in
		cgroup2fs | cgroupfs) echo "$r" ;;
		esac
	done
}

# cgroup_remove DIR ...: kill what is left in these cgroups and remove them.
cgroup_remove() {
	local d i
	for d in "$@"; do
		[ -d "$d" ] || continue
		for i in $(seq 1 100); do
			[ -n "$(find "$d" -name cgroup.procs -exec cat {} +)" ] ||
			    break
			find "$d" -name cgroup.procs -exec cat {} + |
			    xargs -r kill -KILL 2>/dev/null
			sleep 0.05
		done
		find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
		[ ! -d "$d" ] || echo "cgroup $d left behind" >&2
	done
}

# sdctl ARG ...: systemctl --user, to the test's manager only (over its
# private socket; never a D-Bus session bus), bounded.
sdctl() {
	env -u DBUS_SESSION_BUS_ADDRESS XDG_RUNTIME_DIR="$SD_RUN" \
	    timeout 20 systemctl --user --no-pager "$@"
}

# prop UNIT PROPERTY: a property of the unit, as systemctl show says.
prop() {
	sdctl show -P "$2" "$1"
}

# prop_is UNIT PROPERTY VALUE: the property has that value.
prop_is() {
	[ "$(prop "$1" "$2")" = "$3" ]
}

# has_lines FILE N: FILE has N lines or more.
has_lines() {
	[ "$(wc -l <"$1")" -ge "$2" ]
}

# unit NAME: the unit file NAME, read from standard input (before sd_start).
unit() {
	mkdir -p "$T_DIR/config/systemd/user"
	cat >"$T_DIR/config/systemd/user/$1"
}

sd_running() {
	# (wait_for hides standard error)
	kill -0 "$SD_PID" 2>/dev/null || {
		echo "FAIL: manager exited: $(tail -n 1 "$T_DIR/manager.out")"
		tail -n 20 "$T_DIR/console" "$T_DIR/manager.out"
		exit 1
	}
	[ "$(prop fdtools-test.target ActiveState)" = active ] &&
	    [ "$(sdctl show -P SystemState)" = running ]
}

# sd_start: start a user manager for the case, its home, configuration and
# runtime directories in the case's directory, and wait until it runs.
# It is stopped when the case ends (sd_stop).  Its pid is in $SD_PID.
sd_start() {
	local d=$T_DIR r u
	mkdir -p "$d/home" "$d/config/systemd/user" "$d/data" "$d/state" \
	    "$d/cache" "$d/run"
	chmod 0700 "$d/run"
	SD_RUN=$d/run
	for u in $MASKED; do
		ln -sf /dev/null "$d/config/systemd/user/$u"
	done
	printf '[Unit]\nDescription=fdtools tests\nDefaultDependencies=no\n' \
	    >"$d/config/systemd/user/fdtools-test.target"
	bg python3 -c "$CONSOLE" "$d/pty" "$d/console"
	wait_for 5 test -s "$d/pty"
	SD_CG=
	for r in $(cgroup_roots); do
		mkdir "$r/fdtools-test-$$-$T_N"
		SD_CG="$SD_CG $r/fdtools-test-$$-$T_N"
	done
	defer "cgroup_remove $SD_CG"
	trap sd_stop EXIT
	trap 'exit 143' TERM
	env -i PATH="$PATH:/usr/sbin:/usr/bin:/sbin:/bin" HOME="$d/home" \
	    XDG_RUNTIME_DIR="$d/run" XDG_CONFIG_HOME="$d/config" \
	    XDG_DATA_HOME="$d/data" XDG_STATE_HOME="$d/state" \
	    XDG_CACHE_HOME="$d/cache" LC_ALL=C \
	    ${ASAN_OPTIONS:+ASAN_OPTIONS="$ASAN_OPTIONS"} \
	    ${UBSAN_OPTIONS:+UBSAN_OPTIONS="$UBSAN_OPTIONS"} \
	    unshare --mount --propagation private \
	    sh "$TESTS/sdns.sh" "$d" "$(cat "$d/pty")" $SD_CG -- \
	    "$SYSTEMD" --user --unit=fdtools-test.target --log-level=debug \
	    </dev/null >"$d/manager.out" 2>&1 &
	SD_PID=$!
	wait_for 10 sd_running
}

# sd_stop: stop the manager by its pid (it stops its units), wait for it,
# remove its cgroups; on failure, show the end of its console.
sd_stop() {
	local rc=$? i
	[ -n "${SD_PID:-}" ] || return 0
	set +e
	kill -TERM "$SD_PID" 2>/dev/null
	for i in $(seq 1 500); do
		ps -o stat= -p "$SD_PID" | grep -qv Z || break
		sleep 0.02
	done
	kill -KILL "$SD_PID" 2>/dev/null
	wait "$SD_PID" 2>/dev/null
	SD_PID=
	# shellcheck disable=SC2086
	cgroup_remove $SD_CG
	if [ "$rc" -ne 0 ]; then
		echo "--- the manager's console, last lines:"
		grep -v "^\s*/\|Bus \|sd-bus\|object implementation\|Got message\|exit\.target\|systemd-exit\|generator\|[oO][oO][mM]" \
		    "$T_DIR/console" | grep "${SD_SHOW:-.}" | tail -n 15
	fi
}

# restarted UNIT PID: the unit runs again, under another main pid than PID.
restarted() {
	local p
	p=$(prop "$1" MainPID)
	[ "$p" != 0 ] && [ "$p" != "$2" ] &&
	    [ "$(prop "$1" ActiveState)" = active ]
}

restarted_or_failed() {
	[ "$(prop "$1" ActiveState)" = failed ] || restarted "$1" "$2"
}

# sd_why: why no user manager can run the cases here, or nothing.
sd_why() {
	local t
	[ "$(id -u)" = 0 ] ||
	    { echo "not root (needs a mount namespace, cgroups)"; return; }
	[ -x "$SYSTEMD" ] || { echo "no $SYSTEMD"; return; }
	for t in systemctl unshare python3; do
		command -v "$t" >/dev/null || { echo "no $t"; return; }
	done
	[ -n "$(cgroup_roots)" ] || { echo "no cgroup hierarchy"; return; }
	T_DIR=$T_ROOT/probe
	mkdir -p "$T_DIR"
	: >"$T_DIR/defer"
	( cd "$T_DIR" && set -e && sd_start ) </dev/null >"$T_DIR/log" 2>&1 ||
	    echo "the user manager did not start: $(sed -n 's/^FAIL: //p' \
	    "$T_DIR/log" | head -n 1)"
	_t_cleanup
}

# sd_case NAME FUNCTION: t_case, or a skip with the reason.
sd_case() {
	if [ -n "$SD_WHY" ]; then
		t_skip "$1" "$SD_WHY"
	else
		t_case "$@"
	fi
}

SD_WHY=$(sd_why)
