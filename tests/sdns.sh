#!/bin/sh
# ISC license: see LICENSE.
# The namespace side of a systemd user manager for tests/systemd.t, run as
#
#   unshare --mount --propagation private sh sdns.sh DIR PTY CGROUP ... \
#       -- /lib/systemd/systemd --user --unit=TARGET
#
# In this private mount namespace: a 32 MB tmpfs on /run/systemd holding
# /run/systemd/system (the user manager refuses to start without it; daemon-
# reload refuses with under 16 MB free), the pty PTY bound over /dev/console
# (the manager logs there, and only when it is a terminal), DIR the only
# writable part of the file systems, and this process in each cgroup
# directory CGROUP (its own, one per hierarchy).  Then exec the manager, in
# place: it keeps our pid, so that the test stops it by pid and waits for it
# as its own child.  Never systemd as PID 1 (no --pid here): a PID-1
# systemd's boot-time tmpfiles step empties the host's /tmp.
set -eu
dir=$1 pty=$2
shift 2
while [ "$1" != -- ]; do
	echo $$ >"$1/cgroup.procs"
	shift
done
shift
run=/run/systemd
[ -d "$run" ] || run=/run
mount -t tmpfs -o size=32m,mode=0755 fdtools-test "$run"
mkdir -p /run/systemd/system
mount --bind "$pty" /dev/console
mount --bind "$dir" "$dir"
# Everything else read-only, but for what the manager needs to write:
# /proc, the cgroup hierarchies, ptys.
while read -r _ _ _ _ mp _ rest; do
	mp=$(printf '%b' "$mp")
	fstype=${rest#*- }
	fstype=${fstype%% *}
	case $mp in "$dir" | "$run" | /dev/console) continue ;; esac
	case $fstype in proc | cgroup | cgroup2 | devpts) continue ;; esac
	mount -o remount,bind,ro "$mp" 2>/dev/null || [ "$mp" != / ] ||
	    { echo "sdns: cannot make / read-only" >&2; exit 1; }
done </proc/self/mountinfo
exec "$@"
