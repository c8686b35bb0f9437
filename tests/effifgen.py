# ISC license: see LICENSE.
# The setups of effifdiff.py: a seed makes one random namespace, as a
# batch of ip commands (links, addresses, routes, rules, nexthops) and
# what the tun owner of the socket method is (its marks, uid, children).
import random

PROBE = {4: "192.0.2.1", 6: "2001:db8::1"}
PEERS = {4: ["203.0.113.7", "198.51.100.9"],
         6: ["2001:db8:ff::7", "2001:db8:fe::9"]}


class Setup:
    """One random namespace: the batch of ip commands and what it made."""

    def __init__(self, seed):
        self.r = random.Random(seed)
        # What the socket question adds draws from its own generator, so
        # that every earlier setup stays as it was.
        self.r2 = random.Random(seed * 104729 + 1)
        # And what issue 23's kinds add (multipath in main, IPv6 source
        # routes, several owners, an IPv6 socket) from a third.
        self.r3 = random.Random(seed * 15485863 + 2)
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
        self.main_multipath()
        self.source_routes()
        self.owners()

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

    def nh_group(self, f, legs, resilient):
        """A nexthop group object of one nexthop object per leg."""
        ids = []
        for n in legs:
            self.nhid += 1
            self.c("-%d nexthop add id %d via %s dev %s" % (
                f, self.nhid, self.gw(f, n), self.uplinks[n - 1]))
            ids.append(str(self.nhid))
        self.nhid += 1
        self.c("-%d nexthop add id %d group %s%s" % (
            f, self.nhid, "/".join(ids),
            " type resilient buckets 8" if resilient else ""))
        return self.nhid

    def main_multipath(self):
        """A default route of main over two uplinks (metric 50, before
        the uplinks' own): nexthops, a group object or a resilient one;
        in IPv4 one leg may be the tunnel itself."""
        r = self.r3
        if len(self.uplinks) < 2 or r.random() < 0.6:
            return
        a, b = r.sample(range(1, len(self.uplinks) + 1), 2)
        form = r.choice(("nexthop", "nexthop", "group", "resilient",
                         "tunnel"))
        for f in (4, 6):
            self.feat[f].add("multipath")
            if form in ("group", "resilient"):
                self.feat[f].add("nhid")
                self.c("-%d route add default nhid %d metric 50" % (
                    f, self.nh_group(f, (a, b), form == "resilient")))
            elif form == "tunnel" and f == 4:
                self.c("-4 route add default metric 50 nexthop dev tun0 "
                       "nexthop via %s dev %s" % (self.gw(4, a),
                                                  self.uplinks[a - 1]))
            else:
                self.c("-%d route add default metric 50 nexthop via %s dev "
                       "%s nexthop via %s dev %s" % (
                           f, self.gw(f, a), self.uplinks[a - 1],
                           self.gw(f, b), self.uplinks[b - 1]))

    def source_routes(self):
        """IPv6 defaults of main from a source prefix (an uplink's own
        /64, or one no address has), sometimes in place of the rest."""
        r = self.r3
        if r.random() < 0.6:
            return
        if r.random() < 0.6:
            self.c("-6 route flush exact ::/0 table main")
        for n in r.sample(range(1, len(self.uplinks) + 1),
                          r.randrange(1, len(self.uplinks) + 1)):
            pfx = r.choice(("2001:db8:%d::/64" % n, "2001:db8:%d::/48" % n,
                            "2001:db8:99::/64"))
            self.c("-6 route add default from %s via %s dev %s" % (
                pfx, self.gw(6, n), self.uplinks[n - 1]))
        self.feat[6].add("source-routes")

    def owners(self):
        """The tun owner's other sockets: an IPv6 one beside its IPv4
        one, or a child holding the tun too with a socket of another
        mark (and the parent with none); and the rules of the IPv4 socket
        question in IPv6 too, with gateways that answer there."""
        r = self.r3
        for n in range(1, len(self.uplinks) + 1):
            self.c("-6 neigh add %s lladdr 02:00:00:00:%02x:01 dev %s "
                   "nud permanent" % (self.gw(6, n), n, self.uplinks[n - 1]))
        self.owner_child = None
        self.owner_noparent = False
        if r.random() < 0.4:
            self.owner_child = r.choice((0,) + tuple(sorted(self.marks)))
            self.owner_noparent = r.random() < 0.3
            if r.random() < 0.6:
                # As the issue's: the child's mark routed by a rule of
                # its own to an uplink, the parent's perhaps to another.
                self.owner_child = 0x2
                n = r.randrange(len(self.uplinks)) + 1
                for f in (4, 6):
                    self.c("-%d rule add pref 25 fwmark 0x2 table 120" % f)
                    self.c("-%d route add default via %s dev %s table 120"
                           % (f, self.gw(f, n), self.uplinks[n - 1]))
        self.owner6 = not self.owner_noparent and r.random() < 0.7
        for _ in range(r.randrange(0, 2)):
            sel = r.choice(("uidrange 1000-1000", "ipproto udp dport 51820",
                            "ipproto udp sport 40000"))
            self.c("-6 rule add pref %d %s table %d" % (
                r.randrange(20, 400), sel, r.choice((100, 101, 102, 254))))
            self.feat[6].add("sel-other")
            self.feat[6].add("sock-" + sel.split()[0])
