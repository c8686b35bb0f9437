#!/usr/bin/env python3
# ISC license: see LICENSE.
# effif against the kernel: seeded random routing setups, each in its own
# network namespace, each question effif answers compared with what the
# kernel says to `ip route get` (with the same mark), and, for the scan
# ("as if the tunnels were not there"), with the kernel's answer in a
# twin namespace where the tunnels were deleted.  The socket method is
# compared with a real datagram: a tun owner (tunowner.py, its socket of
# a random mark and uid, connected from port 40000 to port 51820) sends
# one, and a packet socket says by which device it went out.
#
# usage: effifdiff.py BIN FIRST_SEED COUNT [-v]
# Prints one line per disagreement (with -v, the setup too), then
# "setups N answers N agree N skipped N", "disagree CAUSE N" and, for the
# scan, "how asked the kernel N" / "how read the tables N" (and why) lines.
import collections
import json
import os
import random
import select
import signal
import subprocess
import sys

PROBE = {4: "192.0.2.1", 6: "2001:db8::1"}
OWNER = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                     "tunowner.py")
PEERS = {4: ["203.0.113.7", "198.51.100.9"],
         6: ["2001:db8:ff::7", "2001:db8:fe::9"]}
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


class Setup:
    """One random namespace: the batch of ip commands and what it made."""

    def __init__(self, seed):
        self.r = random.Random(seed)
        # What the socket question adds draws from its own generator, so
        # that every earlier setup stays as it was.
        self.r2 = random.Random(seed * 104729 + 1)
        self.cmds = []          # ip -batch lines
        self.sysctl = []
        self.uplinks = []       # (dev carrying the address, N)
        self.tunnels = []       # tunnel devices (tun, tap, vxlan)
        self.stacked = []       # (device, tunnel below it)
        self.marks = set()
        self.feat = {4: set(), 6: set()}
        self.build()

    def c(self, line):
        self.cmds.append(line)

    def both(self, fmt, feat=None, **kw):
        for f in (4, 6):
            self.c(fmt.format(f=f, **self.fam(f, **kw)))
            if feat:
                self.feat[f].add(feat)

    @staticmethod
    def fam(f, **kw):
        d = {"probe": PROBE[f], "any": "0.0.0.0/0" if f == 4 else "::/0"}
        d.update({k: (v[0] if f == 4 else v[1]) for k, v in kw.items()})
        return d

    def gw(self, f, n):
        return "10.%d.0.1" % n if f == 4 else "2001:db8:%d::1" % n

    def uplink(self, n):
        kind = self.r.choice(("veth", "veth", "macvlan", "bridge"))
        d = "u%d" % n
        if kind == "veth":
            self.c("link add %s type veth peer name %sp" % (d, d))
            self.c("link set %sp up" % d)
        elif kind == "macvlan":
            self.c("link add l%d type veth peer name l%dp" % (n, n))
            self.c("link set l%d up" % n)
            self.c("link set l%dp up" % n)
            self.c("link add %s link l%d type macvlan mode bridge" % (d, n))
        else:
            self.c("link add %s type bridge" % d)
            self.c("link add p%d type veth peer name p%dp" % (n, n))
            self.c("link set p%d master %s" % (n, d))
            self.c("link set p%d up" % n)
            self.c("link set p%dp up" % n)
        self.c("link set %s up" % d)
        self.c("addr add 10.%d.0.2/24 dev %s" % (n, d))
        self.c("-6 addr add 2001:db8:%d::2/64 dev %s nodad" % (n, d))
        if self.r.random() < 0.3:
            self.c("link set %s group %d" % (d, self.r.choice((5, 6))))
        self.uplinks.append(d)

    def route_to_uplink(self, f, prefix, table, metric):
        n = self.r.randrange(len(self.uplinks)) + 1
        d = self.uplinks[n - 1]
        if self.nhobj and self.r.random() < 0.5:
            self.nhid += 1
            self.c("-%d nexthop add id %d via %s dev %s" %
                   (f, self.nhid, self.gw(f, n), d))
            self.feat[f].add("nhid")
            return "-%d route add %s nhid %d table %s metric %d" % (
                f, prefix, self.nhid, table, metric)
        return "-%d route add %s via %s dev %s table %s metric %d" % (
            f, prefix, self.gw(f, n), d, table, metric)

    def table_routes(self, f, table):
        r = self.r
        for _ in range(r.randrange(1, 3)):
            what = r.random()
            metric = r.randrange(1, 5) * 100
            if what < 0.45:
                self.c(self.route_to_uplink(f, "default", table, metric))
            elif what < 0.6 and self.tunnels:
                self.c("-%d route add default dev %s table %s metric %d" %
                       (f, r.choice(self.tunnels), table, metric))
            elif what < 0.75:
                t = r.choice(("unreachable", "prohibit", "blackhole",
                              "throw"))
                self.c("-%d route add %s default table %s metric %d" %
                       (f, t, table, metric))
                self.feat[f].add("route-" + t)
            elif what < 0.85 and len(self.uplinks) > 1:
                a, b = r.sample(range(1, len(self.uplinks) + 1), 2)
                self.c("-%d route add default table %s metric %d "
                       "nexthop via %s dev %s nexthop via %s dev %s" %
                       (f, table, metric, self.gw(f, a), self.uplinks[a - 1],
                        self.gw(f, b), self.uplinks[b - 1]))
                self.feat[f].add("multipath")
            else:
                pfx = "198.51.100.0/24" if f == 4 else "2001:db8:fe::/48"
                self.c(self.route_to_uplink(f, pfx, table, metric))

    def rule(self, f, pref):
        r = self.r
        sel = []
        if r.random() < 0.2:
            sel.append("not")
        k = r.random()
        if k < 0.35:
            m = r.choice((0x80000, 51820, 0x100, 0x80000))
            self.marks.add(m)
            if m == 0x80000 and r.random() < 0.5:
                sel.append("fwmark 0x80000/0xff0000")
            else:
                sel.append("fwmark %#x" % m)
        elif k < 0.45:
            sel.append("from %s" % ("10.1.0.0/16" if f == 4
                                    else "2001:db8:1::/48"))
        elif k < 0.52:
            sel.append("iif lo")
        elif k < 0.57:
            sel.append("ipproto udp")
            self.feat[f].add("sel-other")
        elif k < 0.6:
            sel.append("dport 51820")
            self.feat[f].add("sel-other")
        a = r.random()
        if a < 0.45:
            act = "table %d" % r.choice((100, 101, 102, 254, 253))
            if r.random() < 0.25:
                act += " suppress_prefixlength 0"
            elif r.random() < 0.2:
                act += " suppress_ifgroup %d" % r.choice((5, 6, 7))
                self.feat[f].add("suppress_ifgroup")
        elif a < 0.65:
            act = "goto %d" % (pref + r.choice((10, 20, 30, 35)))
            self.feat[f].add("goto")
        else:
            act = r.choice(("unreachable", "prohibit", "blackhole"))
            self.feat[f].add("rule-" + act)
        self.c("-%d rule add pref %d %s %s" % (f, pref, " ".join(sel), act))

    def build(self):
        r = self.r
        self.nhobj = r.random() < 0.3
        self.nhid = 0
        if self.nhobj:
            self.sysctl.append("net.ipv4.nexthop_compat_mode=0")
        for n in range(1, r.randrange(1, 4) + 1):
            self.uplink(n)
        for f in (4, 6):
            for n, d in enumerate(self.uplinks, 1):
                if r.random() < 0.8:
                    self.c(self.route_to_uplink(f, "default", "main",
                                                100 * n))
        # Tunnels.
        self.c("tuntap add mode tun name tun0")
        self.c("link set tun0 up")
        self.tunnels.append("tun0")
        if r.random() < 0.5:
            self.c("tuntap add mode tap name tap0")
            self.c("link set tap0 up")
            self.tunnels.append("tap0")
            if r.random() < 0.5:
                self.c("link add mvt link tap0 type macvlan mode bridge")
                self.c("link set mvt up")
                self.stacked.append(("mvt", "tap0"))
            else:
                self.c("link add brt type bridge")
                self.c("link set tap0 master brt")
                self.c("link set brt up")
                self.stacked.append(("brt", "tap0"))
        if r.random() < 0.3:
            self.c("link add vx0 type vxlan id 42 remote 203.0.113.7 "
                   "dstport 4789")
            self.c("link set vx0 up")
        # Styles.
        t = r.choice(self.tunnels)
        for style in r.sample(("wg", "ts", "def1", "fwmark", "replace"),
                              r.randrange(1, 3)):
            for f in (4, 6):
                self.style(style, f, t)
        # Random rules and tables.
        for f in (4, 6):
            for table in (100, 101, 102):
                if r.random() < 0.7:
                    self.table_routes(f, table)
            prefs = sorted(r.sample(range(50, 400, 5), r.randrange(0, 6)))
            for p in prefs:
                self.rule(f, p)
        self.sock_rules()

    def sock_rules(self):
        """Rules on what only a socket carries: its uid, protocol and
        ports; and gateways that answer, so that a datagram goes out."""
        r = self.r2
        for n in range(1, len(self.uplinks) + 1):
            self.c("neigh add 10.%d.0.1 lladdr 02:00:00:00:%02x:01 dev %s "
                   "nud permanent" % (n, n, self.uplinks[n - 1]))
        self.owner_uid = r.choice((0, 1000))
        self.owner_mark = r.choice((None,) + tuple(sorted(self.marks)))
        for _ in range(r.randrange(0, 3)):
            # None of them matches root's lookups without ports, which
            # the other methods' oracles are.
            sel = r.choice(("uidrange 1000-1000", "ipproto udp dport 51820",
                            "ipproto udp sport 40000", "dport 51820"))
            self.c("-4 rule add pref %d %s table %d" % (
                r.randrange(20, 400), sel, r.choice((100, 101, 102, 254))))
            self.feat[4].add("sel-other")
            self.feat[4].add("sock-" + sel.split()[0])

    def style(self, style, f, t):
        r = self.r
        if style == "wg":
            self.marks.add(51820)
            self.c("-%d route add default dev %s table 51820" % (f, t))
            self.c("-%d rule add not fwmark 51820 table 51820" % f)
            self.c("-%d rule add table main suppress_prefixlength 0" % f)
        elif style == "ts":
            self.marks.add(0x80000)
            self.c("-%d route add default dev %s table 52" % (f, t))
            for p, a in ((5210, "lookup main"), (5230, "lookup default"),
                         (5250, "unreachable"), (5270, None)):
                if a is None:
                    self.c("-%d rule add pref %d lookup 52" % (f, p))
                else:
                    self.c("-%d rule add pref %d fwmark 0x80000/0xff0000 %s"
                           % (f, p, a))
        elif style == "def1":
            for pfx in (("0.0.0.0/1", "128.0.0.0/1") if f == 4 else
                        ("::/1", "8000::/1")):
                self.c("-%d route add %s dev %s" % (f, pfx, t))
            if self.uplinks:
                self.c(self.route_to_uplink(f, PEERS[f][0] + (
                    "/32" if f == 4 else "/128"), "main", 100))
        elif style == "fwmark":
            m = r.choice((0x100, 0x80000, 51820))
            self.marks.add(m)
            self.c("-%d rule add pref 1000 fwmark %#x table 110" % (f, m))
            self.c(self.route_to_uplink(f, "default", "110", 100))
            self.c("-%d rule add pref 1010 table 111" % f)
            self.c("-%d route add default dev %s table 111" % (f, t))
        elif style == "replace":
            self.c("-%d route add default dev %s metric 10" % (f, t))


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

    def links(self):
        p = run(["ip", "-n", self.name, "-d", "-j", "link", "show"])
        return {d["ifname"]: d for d in json.loads(p.stdout or b"[]")}

    @staticmethod
    def kind(d):
        return d.get("linkinfo", {}).get("info_kind", "")

    def route(self, f, dst, mark=None, fibmatch=False):
        a = ["ip", "-n", self.name, "-%d" % f, "-j", "route", "get", dst]
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
        rt = self.twin.route(f, PROBE[f], fibmatch=True)
        if rt is None:
            return (2, None)
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
        if tunnel in devs:
            return (2, None)
        if len(devs) > 1:
            return (3, None)
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

    def socket(self, s, tunnel):
        """--method socket: where a datagram of the owner's socket left."""
        a = self.real.ex + ["python3", OWNER, tunnel, "-W", "-p", "40000",
                            "-c", PEERS[4][0] + ":51820", "-u",
                            str(s.owner_uid)]
        if s.owner_mark is not None:
            a += ["-m", "%#x" % s.owner_mark]
        p = subprocess.Popen(a, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
        try:
            ready = line(p)
            if not ready.startswith("ready "):
                return ("skip", "no tun owner"), p
            os.kill(int(ready.split()[1]), signal.SIGUSR1)
            left = line(p).split()
        except (OSError, ValueError):
            return ("skip", "no tun owner"), p
        if left[1:] in ([], ["none"]):
            return ("skip", "datagram not seen"), p
        dev = left[1]
        if dev == "unreachable" or NS.kind(self.links.get(dev, {})) in \
                TUNKINDS:
            return (2, None), p
        return self.answer(dev), p

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
                    return (2, None)
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
    if want[0] == 3 or got[0] == 3:
        return "%s: multipath" % kind
    order = {
        "scan": ("goto", "suppress_ifgroup", "nhid", "route-unreachable",
                 "route-prohibit", "route-blackhole", "route-throw",
                 "sel-other", "multipath"),
        "mark": ("stacked", "nhid", "multipath"),
        "peer": ("stacked", "nhid"),
        "socket": ("sock-uidrange", "sock-ipproto", "sock-dport",
                   "multipath", "nhid"),
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
            if f == 4 and t == "tun0":
                qs.append((["-4", "--method", "socket", t], f, t, "socket",
                           (), ("socket",)))
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
    for seed in range(first, first + count):
        s = Setup(seed)
        base = "effdiff-%d-%d" % (os.getpid(), seed)
        real = twin = None
        try:
            real = NS(base + "-r", s, False)
            twin = NS(base + "-t", s, True)
            o = Oracle(real, twin)
            stats["setups"] += 1
            r = random.Random(seed * 7919)
            for args, f, t, kind, extra, key in questions(s, r):
                owner = None
                if key[0] == "socket":
                    want, owner = o.socket(s, t)
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
                    stop(owner)
                    continue
                got = effif(real, binpath, args,
                            notes if key[0] == "scan" else None)
                stop(owner)
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
            for ns in (real, twin):
                if ns is not None:
                    ns.delete()
    print("setups %d answers %d agree %d skipped %d" % (
        stats["setups"], stats["answers"], stats["agree"], stats["skipped"]))
    for c, n in sorted(causes.items()):
        print("disagree %s %d" % (c, n))
    for c, n in sorted(notes.items()):
        print("how %s %d" % (c, n))
    return 0 if stats["answers"] == stats["agree"] else 1


if __name__ == "__main__":
    sys.exit(main())
