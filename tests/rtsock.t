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

t_case "RTM_GET: our reply found among 66 unrelated messages" c_burst
t_case "RTM_GET: no reply ends at the deadline, no hang" c_noreply
t_case "RTM_GET: RTAX_GATEWAY is a gateway only with RTF_GATEWAY" c_nogateway
t_case "RTM_GET: short and cut sockaddrs, read to their length only" c_shortsa
t_case "-w: our own and others' RTM_GET wake nothing, changes do" c_watch
t_case "RTM_GET as written: header and sockaddrs to xnu's layout" c_request
t_done
