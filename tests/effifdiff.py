#!/usr/bin/env python3
# ISC license: see LICENSE.
# effif against the kernel: seeded random routing setups, each in its own
# network namespace, each question effif answers compared with what the
# kernel says to `ip route get` (with the same mark), and, for the scan
# ("as if the tunnels were not there"), with the kernel's answer in a
# twin namespace where the tunnels were deleted.  The socket method is
# compared with real datagrams: a tun owner (tunowner.py, its socket of
# a random mark and uid, connected from port 40000 to port 51820; an IPv6
# one beside it; a child holding the tun too, its socket of another mark,
# the parent sometimes with none) sends one from each socket, and a packet
# socket says by which device each went out.  The setups (effifgen.py)
# have rules on marks, sources, uids, protocols and ports, multipath
# routes (nexthops, group and resilient group objects, a leg through the
# tunnel) and IPv6 defaults from a source prefix.
#
# usage: effifdiff.py BIN FIRST_SEED COUNT [-v]
# Prints one line per disagreement (with -v, the setup too), then
# "setups N answers N agree N skipped N", "disagree CAUSE N", "asked
# METHOD -FAMILY N" (answers compared), "skip WHY N" and, for the scan,
# "how asked the kernel N" / "how read the tables N" (and why) lines.
import collections
import json
import os
import random
import select
import signal
import subprocess
import sys
import time

from effifgen import PEERS, PROBE, Setup

OWNER = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                     "tunowner.py")
TUNKINDS = ("tun", "tap", "vxlan", "wireguard", "gre", "ipip", "sit",
            "ip6tnl", "geneve")
STACKED = ("macvlan", "vlan", "ipvlan", "macvtap", "macsec")
WELLKNOWN = (0x80000, 51820)


def run(args, check=False):
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=10)
    if check and p.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(args), p.stderr.decode()))
    return p


class NS:
    def __init__(self, name, setup, drop_tunnels):
        self.name = name
        self.errors = 0
        run(["ip", "netns", "add", name], check=True)
        self.ex = ["ip", "netns", "exec", name]
        run(["ip", "-n", name, "link", "set", "lo", "up"])
        for s in setup.sysctl:
            run(self.ex + ["sysctl", "-qw", s])
        # ip -batch takes no -4/-6 on a line: links first, then a batch
        # per family, each in the order written.
        for fam in ("", "-4", "-6"):
            lines = [c[len(fam):].lstrip() for c in setup.cmds
                     if (c.startswith(fam + " ") if fam else
                         not c.startswith("-"))]
            p = subprocess.run(["ip", "-n", name] + ([fam] if fam else []) +
                               ["-force", "-batch", "-"],
                               input=("\n".join(lines) + "\n").encode(),
                               stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, timeout=20)
            self.errors += p.stderr.decode().count("Command failed")
        if drop_tunnels:
            for d in self.links().values():
                if self.kind(d) in TUNKINDS:
                    run(["ip", "-n", name, "link", "del", d["ifname"]])
        # A bridge has its carrier a moment after its port: until then
        # effif and the kernel, asked at two instants, may differ.
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline and any(
                "NO-CARRIER" in d.get("flags", [])
                for n, d in self.links().items() if n in setup.uplinks):
            time.sleep(0.02)

    def links(self):
        p = run(["ip", "-n", self.name, "-d", "-j", "link", "show"])
        return {d["ifname"]: d for d in json.loads(p.stdout or b"[]")}

    @staticmethod
    def kind(d):
        return d.get("linkinfo", {}).get("info_kind", "")

    def route(self, f, dst, mark=None, fibmatch=False, src=None):
        a = ["ip", "-n", self.name, "-%d" % f, "-j", "route", "get", dst]
        if src is not None:
            a += ["from", src]
        if mark is not None:
            a += ["mark", str(mark)]
        if fibmatch:
            a.append("fibmatch")
        p = run(a)
        if p.returncode != 0:
            return None
        return json.loads(p.stdout)[0]

    def delete(self):
        run(["ip", "netns", "del", self.name])


class Oracle:
    """What the kernel says, in the terms effif answers in."""

    def __init__(self, real, twin):
        self.real, self.twin = real, twin
        self.links = real.links()
        self.rules = {}

    def leaf(self, dev, seen=()):
        """The device at the end of the link chain from dev, or None when
        it is a tunnel (another question)."""
        d = self.links.get(dev)
        if d is None:
            return None
        k = NS.kind(d)
        if k in TUNKINDS:
            return None
        if k in STACKED and "link" in d:
            return self.leaf(d["link"], seen + (dev,))
        ports = [n for n, x in self.links.items() if x.get("master") == dev]
        if len(ports) == 1:
            return self.leaf(ports[0], seen + (dev,))
        if len(ports) > 1:
            return "AMBIG"
        return dev

    def devs(self, ns, rt):
        if "nexthops" in rt:
            return [h["dev"] for h in rt["nexthops"] if "dev" in h]
        if "nhid" in rt and "dev" not in rt:
            return self.nh_devs(ns, rt["nhid"])
        return [rt["dev"]] if "dev" in rt else []

    def nh_devs(self, ns, nhid):
        p = run(["ip", "-n", ns.name, "-j", "nexthop", "get", "id",
                 str(nhid)])
        if p.returncode != 0:
            return []
        nh = json.loads(p.stdout)[0]
        if "group" in nh:
            return sum((self.nh_devs(ns, g["id"]) for g in nh["group"]), [])
        return [nh["dev"]] if "dev" in nh else []

    def scan(self, f):
        """The twin namespace has no tunnels: its route for the probe."""
        if self.tunnel_leg(f):
            return ("skip", "IPv4 multipath with a leg through a tunnel")
        rt = self.twin.route(f, PROBE[f], fibmatch=True)
        if rt is None:
            return self.sources(self.twin, f, PROBE[f])
        if rt.get("dst") != "default":
            return ("skip", "more-specific route")
        if rt.get("type", "unicast") != "unicast":
            return (2, None)
        devs = sorted(set(self.devs(self.twin, rt)))
        if len(devs) > 1:
            return (3, None)
        if not devs:
            return (2, None)
        return self.answer(devs[0])

    def tunnel_leg(self, f):
        """Whether an IPv4 multipath route of the real namespace has a
        leg through a tunnel: deleting the tunnel deletes the whole
        route there (not in IPv6, nor in a group), so the twin is no
        oracle of the scan, which leaves the one leg out."""
        if f != 4:
            return False
        p = run(["ip", "-n", self.real.name, "-4", "-j", "route", "show",
                 "table", "all"])
        return any(NS.kind(self.links.get(h.get("dev"), {})) in TUNKINDS
                   for x in json.loads(p.stdout or b"[]")
                   for h in x.get("nexthops", []))

    def answer(self, dev):
        leaf = self.leaf(dev)
        if leaf is None:
            return ("skip", "leads into another tunnel")
        if leaf == "AMBIG":
            return ("skip", "bridge with several ports")
        return (0, leaf)

    def marked(self, f, tunnel, mark):
        """-M: the kernel's route of the probe with the mark."""
        rt = self.real.route(f, PROBE[f], mark=mark, fibmatch=True)
        if rt is None:
            return (2, None)
        if rt.get("type", "unicast") != "unicast":
            return (2, None)
        devs = sorted(set(self.devs(self.real, rt)))
        # One rule for several paths (issue 23 item 3): a leg through
        # the tunnel itself is one of them.
        if len(devs) > 1:
            return (3, None)
        if tunnel in devs:
            return (2, None)
        if not devs:
            return (2, None)
        return self.answer(devs[0])

    def mark_in_use(self, f, mark):
        if f not in self.rules:
            p = run(["ip", "-n", self.real.name, "-%d" % f, "-j", "rule"])
            self.rules[f] = json.loads(p.stdout or b"[]")
        for r in self.rules[f]:
            if "fwmark" not in r:
                continue
            m = int(r["fwmark"], 0)
            mask = int(r.get("fwmask", "0xffffffff"), 0)
            if (((mark ^ m) & mask) == 0) != ((m & mask) == 0):
                return True
        return False

    def owner(self, s, tunnel):
        """Start the tun owner (its IPv4 socket; an IPv6 one; a child's)
        and have each socket send a datagram: the owner (stop it once
        effif was asked) and, per family, the devices they left by, each
        "none" (not seen) or "unreachable" (send failed) when not a
        device; None when no owner could start."""
        six = s.owner6
        while True:
            a = self.real.ex + ["python3", OWNER, tunnel, "-W", "-p",
                                "40000", "-c", PEERS[4][0] + ":51820",
                                "-u", str(s.owner_uid)]
            if s.owner_mark is not None:
                a += ["-m", "%#x" % s.owner_mark]
            if six:
                a += ["-C", "[%s]:51820" % PEERS[6][0]]
            if s.owner_child is not None:
                a += ["-k", "%#x" % s.owner_child]
            if s.owner_noparent:
                a.append("-n")
            p = subprocess.Popen(a, stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL)
            try:
                ready = line(p)
                if ready.startswith("ready "):
                    self.settle()
                    os.kill(int(ready.split()[1]), signal.SIGUSR1)
                    left = line(p).split()
                    break
            except (OSError, ValueError):
                pass
            stop(p)
            if not six:
                return None, None
            six = False     # no IPv6 route to connect by: IPv4 alone
        if left[:1] != ["left"]:
            return p, None
        left = left[1:]
        devs = {4: [], 6: []}
        if not s.owner_noparent:
            devs[4].append(left.pop(0))
        if six:
            devs[6].append(left.pop(0))
        if s.owner_child is not None:
            devs[4] += left
        return p, devs

    def settle(self):
        """An address added to lo and deleted in each family: a connected
        socket keeps the route looked up at connect, before it had a
        source, until the kernel's routing generation changes (the tun's
        own IPv6 link-local does, a moment after its owner opens it: the
        datagram's way out was a race); then it looks again with its
        source, as effif asks, and as its packets go from then on.  A
        route changed in another table would not do in IPv6, whose cached
        routes check only their own table's tree."""
        for f, a in ((4, "198.18.0.1/32"), (6, "2001:db8:77::1/128")):
            for op in ("add", "del"):
                run(["ip", "-n", self.real.name, "-%d" % f, "addr", op, a,
                     "dev", "lo"] + (["nodad"] if f == 6 and op == "add"
                                     else []))

    def socket(self, devs):
        """--method socket: where the datagrams of the owners' sockets
        of one family left: one device, or ambiguous, or none."""
        if devs is None or not devs:
            return ("skip", "no tun owner")
        if "none" in devs:
            return ("skip", "datagram not seen")
        out = set(d for d in devs if d != "unreachable" and
                  NS.kind(self.links.get(d, {})) not in TUNKINDS)
        if len(out) > 1:
            return (3, None)
        if not out:
            return (2, None)
        return self.answer(out.pop())

    def sources(self, ns, f, dst, mark=None):
        """IPv6 source-specific defaults, when a lookup with no source
        found none: the route from each source prefix (its first
        address); one device for all is the answer, several ambiguous."""
        if f != 6:
            return (2, None)
        p = run(["ip", "-n", ns.name, "-6", "-j", "route", "show", "table",
                 "all"])
        pfx = sorted(set(x["from"] for x in json.loads(p.stdout or b"[]")
                         if x.get("dst") == "default" and "from" in x and
                         x.get("type", "unicast") == "unicast"))
        found = set()
        for x in pfx:
            rt = ns.route(f, dst, mark=mark, fibmatch=True,
                          src=x.split("/")[0])
            if rt is None or rt.get("type", "unicast") != "unicast":
                continue
            found.add(tuple(sorted(set(self.devs(ns, rt)))))
        if not found:
            return (2, None)
        if len(found) > 1 or len(next(iter(found))) != 1:
            return (3, None)
        return self.answer(next(iter(found))[0])

    def peer(self, f, tunnel, peer, mark):
        """--method peer: the route to the far end, the mark given or
        none, then the well-known marks some rule treats apart; a
        multipath route is ambiguous, as for -M."""
        tries = [mark]
        if mark is None:
            tries += [m for m in WELLKNOWN if self.mark_in_use(f, m)]
        for i, m in enumerate(tries):
            rt = self.real.route(f, peer, mark=m, fibmatch=True)
            if rt is None:
                if i == 0:
                    return self.sources(self.real, f, peer, m)
                continue
            if rt.get("type", "unicast") != "unicast":
                continue
            # One rule for several paths: the route's every nexthop,
            # not the one the hash picks for this lookup.
            devs = sorted(set(self.devs(self.real, rt)))
            out = [d for d in devs if d != tunnel]
            if not out:
                continue
            if len(devs) > 1:
                return (3, None)
            return self.answer(out[0])
        return (2, None)


def line(p, timeout=5):
    """A line of p's output, or "" after timeout seconds."""
    r, _, _ = select.select([p.stdout], [], [], timeout)
    return p.stdout.readline().decode() if r else ""


def effif(ns, binpath, args, notes=None):
    """effif's status and answer; with notes (a Counter), asked with -j,
    whose note says whether a scan asked the kernel or read the tables."""
    p = subprocess.run(ns.ex + [binpath] + (["-j"] if notes is not None
                                            else []) + args,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=10)
    out = p.stdout.decode(errors="replace").strip()
    if notes is not None:
        o = json.loads(out)
        out = o["effective"]
        note = o["note"] or ""
        notes["scan read the tables" if note.startswith(
            "scan read the tables") else "scan asked the kernel"] += 1
        if note.startswith("scan read the tables: "):
            notes["  " + note[len("scan read the tables: "):]] += 1
    return (p.returncode, out if p.returncode == 0 else None)


def cause(kind, feat, got, want):
    if kind == "mark" and want[0] == 2 and got[0] == 0:
        return "mark: kernel routes the marked probe into the tunnel " \
            "or nowhere"
    if "source-routes" in feat and kind != "mark":
        return "%s: source-routes" % kind
    if (want[0] == 3 or got[0] == 3) and kind != "socket":
        return "%s: multipath" % kind
    order = {
        "scan": ("source-routes", "goto", "suppress_ifgroup", "nhid",
                 "route-unreachable", "route-prohibit", "route-blackhole",
                 "route-throw",
                 "sel-other", "multipath"),
        "mark": ("stacked", "nhid", "multipath"),
        "peer": ("stacked", "source-routes", "nhid"),
        "socket": ("owners", "sock-uidrange", "sock-ipproto", "sock-dport",
                   "source-routes", "multipath", "nhid"),
    }[kind]
    for c in order:
        if c in feat:
            return "%s: %s" % (kind, c)
    return "%s: other" % kind


def questions(s, r):
    """(what, args, family, tunnel, kind, extra features, oracle key)"""
    qs = []
    for f in (4, 6):
        for t in ("tun0", "tap0"):
            if t not in s.tunnels:
                continue
            qs.append((["-%d" % f, "--method", "scan", t], f, t, "scan",
                       (), ("scan",)))
            for m in sorted(s.marks | {0x4242}):
                qs.append((["-%d" % f, "-M", "%#x" % m, t], f, t, "mark",
                           (), ("mark", m)))
            for p in PEERS[f]:
                m = r.choice((None, None) + tuple(sorted(s.marks)))
                a = ["-%d" % f, "--method", "peer", "-P", p]
                if m is not None:
                    a += ["-M", "%#x" % m]
                qs.append((a + [t], f, t, "peer", (), ("peer", p, m)))
            if t == "tun0" and (f == 4 or s.owner6):
                qs.append((["-%d" % f, "--method", "socket", t], f, t,
                           "socket", ("owners",) if s.owner_child is not
                           None and f == 4 else (), ("socket",)))
        for dev, t in s.stacked:
            for m in sorted(s.marks):
                qs.append((["-%d" % f, "-M", "%#x" % m, dev], f, t, "mark",
                           ("stacked",), ("mark", m)))
            qs.append((["-%d" % f, "-P", PEERS[f][0], dev], f, t, "peer",
                       ("stacked",), ("peer-stacked", PEERS[f][0])))
    return qs


def stop(p):
    if p is not None:
        p.terminate()
        p.wait(timeout=5)


def main():
    binpath = os.path.join(sys.argv[1], "effif")
    first, count = int(sys.argv[2]), int(sys.argv[3])
    verbose = "-v" in sys.argv[4:]
    stats = collections.Counter()
    causes = collections.Counter()
    notes = collections.Counter()
    asked = collections.Counter()
    skips = collections.Counter()
    for seed in range(first, first + count):
        s = Setup(seed)
        base = "effdiff-%d-%d" % (os.getpid(), seed)
        real = twin = owner = left = None
        started = False
        try:
            real = NS(base + "-r", s, False)
            twin = NS(base + "-t", s, True)
            o = Oracle(real, twin)
            stats["setups"] += 1
            r = random.Random(seed * 7919)
            # The socket questions last: while the owner lives, every
            # other question would be answered by its sockets first.
            qs = sorted(questions(s, r), key=lambda q: q[3] == "socket")
            for args, f, t, kind, extra, key in qs:
                if key[0] == "socket":
                    if not started:
                        owner, left = o.owner(s, t)
                        started = True
                    want = o.socket(left[f] if left else None)
                elif key[0] == "scan":
                    want = o.scan(f)
                elif key[0] == "mark":
                    want = o.marked(f, t, key[1])
                elif key[0] == "peer":
                    want = o.peer(f, t, key[1], key[2])
                else:
                    # The route itself: multipath is ambiguous (item 3).
                    rt = real.route(f, key[1], fibmatch=True)
                    devs = sorted(set(o.devs(real, rt))) if rt else []
                    out = [d for d in devs if d != t]
                    if not out:
                        want = ("skip", "peer routed into the tunnel")
                    elif len(devs) > 1:
                        want = (3, None)
                    else:
                        want = o.answer(out[0])
                if want[0] == "skip":
                    stats["skipped"] += 1
                    skips[want[1]] += 1
                    continue
                asked[kind + " -%d" % f] += 1
                got = effif(real, binpath, args,
                            notes if key[0] == "scan" else None)
                stats["answers"] += 1
                if got == want:
                    stats["agree"] += 1
                    continue
                c = cause(kind, set(extra) | s.feat[f], got, want)
                causes[c] += 1
                print("seed %d: effif %s: got %s, kernel %s (%s)" % (
                    seed, " ".join(args), got, want, c))
                if verbose:
                    print("\n".join("  ip " + x for x in s.cmds))
        finally:
            stop(owner)
            for ns in (real, twin):
                if ns is not None:
                    ns.delete()
    print("setups %d answers %d agree %d skipped %d" % (
        stats["setups"], stats["answers"], stats["agree"], stats["skipped"]))
    for c, n in sorted(causes.items()):
        print("disagree %s %d" % (c, n))
    for c, n in sorted(asked.items()):
        print("asked %s %d" % (c, n))
    for c, n in sorted(skips.items()):
        print("skip %s %d" % (c, n))
    for c, n in sorted(notes.items()):
        print("how %s %d" % (c, n))
    return 0 if stats["answers"] == stats["agree"] else 1


if __name__ == "__main__":
    sys.exit(main())
