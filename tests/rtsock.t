#!/bin/bash
# ISC license: see LICENSE.
# effif's macOS routing-socket code (cmd/effif/rtsock.c), run here: the
# messages are built to xnu's layouts by tests/rtsockcheck.c.
. "$(dirname "$0")/lib.sh"

c_burst() { rtsockcheck burst; }
c_noreply() { rtsockcheck noreply; }
c_nogateway() { rtsockcheck nogateway; }
c_shortsa() { rtsockcheck shortsa; }
c_watch() { rtsockcheck watch; }
c_request() { rtsockcheck request; }
c_ipv6() { rtsockcheck ipv6; }
c_linklocal() { rtsockcheck linklocal; }
c_genmask() { rtsockcheck genmask; }
c_kevents() { rtsockcheck kevents; }
c_fallbacks() { rtsockcheck fallbacks; }
c_fulltunnel() { rtsockcheck fulltunnel; }

# The first read of a FIFO fails with ENOBUFS, as a routing socket's does
# where the system says that it dropped messages.  LeakSanitizer cannot
# run under ptrace.
c_enobufs() {
	local w
	mkfifo fifo
	for w in route event await; do
		env ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
		    strace -qq -o /dev/null -P "$PWD/fifo" \
		    -e inject=read:error=ENOBUFS:when=1 \
		    "$BIN/tests/rtsockcheck" enobufs "$PWD/fifo" $w ||
		    fail "$w"
	done
}

t_case "RTM_GET: our reply found among 66 unrelated messages" c_burst
t_case "RTM_GET: no reply ends at the deadline, no hang" c_noreply
t_case "RTM_GET: RTAX_GATEWAY is a gateway only with RTF_GATEWAY" c_nogateway
t_case "RTM_GET: short and cut sockaddrs, read to their length only" c_shortsa
t_case "-w: our own and others' RTM_GET wake nothing, changes do" c_watch
t_case "RTM_GET as written: header and sockaddrs to xnu's layout" c_request
t_case "RTM_GET: an IPv6 reply, 28-byte sockaddrs at 4-byte steps" c_ipv6
t_case "RTM_GET: a link-local gateway loses its embedded scope" c_linklocal
t_case "RTM_GET: GENMASK and IFA stepped over, IFP read" c_genmask
t_case "-w: ENOBUFS on either socket wakes, RTM_GET asks again" c_enobufs
t_case "-w: delegate and link events wake, a lost event too" c_kevents
t_case "macOS: delegate, or the route and why on stderr" c_fallbacks
t_case "macOS: a full tunnel's answer from scoped routes" c_fulltunnel
t_done
