/**
 * Several user networks per container, `network connect|disconnect` on running containers, and
 * the isolation of one network from another: every assertion is about what crossed (or could
 * not cross) the bridges in the shared namespace — an HTTP answer, a refused TCP connect, an
 * interface and an /etc/hosts line seen from inside the container. Real containers (busybox
 * roots), real iproute2 and nsenter; nothing leaves the machine and no host port is used.
 */
import { assert, busyboxRootfs, busyboxSkip, test } from "../_helpers.ts";
import { alive, freshStore, withStore } from "../_lifecycle.ts";

type Store = ReturnType<typeof freshStore>;

/** A busybox root whose /www/index.html holds `page`, served by `httpd -f -p 8080`. */
function webRoot(page: string): string {
  const root = busyboxRootfs(true);
  Deno.mkdirSync(`${root}/www`);
  Deno.writeTextFileSync(`${root}/www/index.html`, page);
  return root;
}

const HTTPD = ["httpd", "-f", "-p", "8080", "-h", "/www"];

async function ok(s: Store, args: string[]): Promise<string> {
  const r = await s.run(args);
  assert.equal(r.code, 0, `nook ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/** GET http://TARGET:8080/ from inside a running container, retried until its server answers (bounded). */
async function fetchFrom(s: Store, from: string, target: string): Promise<{ code: number; body: string }> {
  const r = await s.run([
    "exec",
    from,
    "sh",
    "-c",
    `for i in $(seq 300); do timeout 5 wget -qO- http://${target}:8080/ 2>/dev/null && exit 0; sleep 0.1; done; exit 7`,
  ]);
  return { code: r.code, body: r.stdout };
}

/** One TCP connect from inside a container to IP:8080 (busybox nc, 3 s at most): its exit code and what it said. */
async function tcpConnect(s: Store, from: string, ip: string): Promise<{ code: number; err: string }> {
  const r = await s.run(["exec", from, "sh", "-c", `nc -w 3 ${ip} 8080 </dev/null; echo "nc=$?"`]);
  const m = /nc=(\d+)/.exec(r.stdout);
  return { code: m ? Number(m[1]) : -1, err: r.stderr + r.stdout };
}

function member(info: { members: Record<string, { name: string; ip: string }> }, name: string) {
  const m = Object.values(info.members).find((x) => x.name === name);
  assert.ok(m, `${name} is a member: ${JSON.stringify(info.members)}`);
  return m;
}

async function inspectNet(s: Store, name: string) {
  return JSON.parse(await ok(s, ["network", "inspect", name]))[0];
}

function holderPid(s: Store): number {
  return JSON.parse(Deno.readTextFileSync(`${s.dataDir}/networks/holder.json`)).pid;
}

const skip = busyboxSkip();

test(
  "a container on two networks reaches the members of both by name; members of different networks cannot connect to each other",
  () =>
    withStore(async (s) => {
      await ok(s, ["network", "create", "front"]);
      await ok(s, ["network", "create", "back"]);
      const root = webRoot("page\n");
      for (const [name, net] of [["fa", "front"], ["ba", "back"]]) {
        await ok(s, ["run", "-d", "--name", name!, "--network", net!, "--rootfs", root, ...HTTPD]);
      }
      // started after the others: they must resolve its name all the same
      await ok(s, ["run", "-d", "--name", "both", "--network", "front", "--network", "back", "--rootfs", root, ...HTTPD]);
      const addrs = await ok(s, ["exec", "both", "ip", "-4", "-o", "addr"]);
      assert.match(addrs, /eth0\s+inet 10\.89\.0\.3\/24/, addrs);
      assert.match(addrs, /eth1\s+inet 10\.89\.1\.3\/24/, addrs);

      for (const [from, to] of [["both", "fa"], ["both", "ba"], ["fa", "both"], ["ba", "both"]]) {
        const r = await fetchFrom(s, from!, to!);
        assert.equal(r.code, 0, `${from} reaches ${to} by name`);
        assert.equal(r.body, "page\n");
      }
      // a --rm run on the network: once it has ended, the others' names forget it
      await ok(s, ["run", "--rm", "--name", "brief", "--network", "front", "--rootfs", root, "true"]);
      assert.doesNotMatch(await ok(s, ["exec", "fa", "cat", "/etc/hosts"]), /\bbrief\b/);
      // each sees only the names of its own networks, and `both` under the address it can reach
      const faHosts = await ok(s, ["exec", "fa", "cat", "/etc/hosts"]);
      assert.match(faHosts, /10\.89\.0\.3\tboth/);
      assert.doesNotMatch(faHosts, /\bba\b/);
      const baHosts = await ok(s, ["exec", "ba", "cat", "/etc/hosts"]);
      assert.match(baHosts, /10\.89\.1\.3\tboth/);
      assert.doesNotMatch(baHosts, /\bfa\b/);

      // isolation: a real TCP connect across networks fails, while the same port answers from its own network
      const fa = member(await inspectNet(s, "front"), "fa");
      const ba = member(await inspectNet(s, "back"), "ba");
      for (const [from, ip] of [["fa", ba.ip], ["ba", fa.ip]] as const) {
        const across = await tcpConnect(s, from!, ip);
        assert.notEqual(across.code, 0, `${from} must not connect to ${ip}: ${across.err}`);
      }
      for (const [from, ip] of [["both", ba.ip], ["both", fa.ip]] as const) {
        const same = await tcpConnect(s, from!, ip);
        assert.equal(same.code, 0, `${from} connects to ${ip} on its own network: ${same.err}`);
      }

      const bad = await s.run(["run", "--rm", "--network", "front", "--network", "nosuch", "--rootfs", busyboxRootfs(), "true"]);
      assert.equal(bad.code, 125);
      assert.match(bad.stderr, /No network named "nosuch"/);
      const mixed = await s.run(["run", "--rm", "--network", "none", "--network", "back", "--rootfs", busyboxRootfs(), "true"]);
      assert.equal(mixed.code, 125);
      assert.match(mixed.stderr, /Only user networks can be given together/);

      const h = holderPid(s);
      await ok(s, ["rm", "-f", "fa", "ba", "both"]);
      assert.deepEqual((await inspectNet(s, "front")).members, {});
      assert.deepEqual((await inspectNet(s, "back")).members, {});
      await ok(s, ["network", "rm", "front", "back"]);
      for (let i = 0; i < 50 && alive(h); i++) await new Promise((r) => setTimeout(r, 20));
      assert.ok(!alive(h), "no holder is left");
      Deno.removeSync(root, { recursive: true });
    }),
  { skip },
);

test(
  "network connect gives a running container an interface and a name on one more network; disconnect takes both away",
  () =>
    withStore(async (s) => {
      await ok(s, ["network", "create", "a"]);
      await ok(s, ["network", "create", "b"]);
      const root = webRoot("from srv\n");
      await ok(s, ["run", "-d", "--name", "srv", "--network", "a", "--rootfs", root, ...HTTPD]);
      await ok(s, ["run", "-d", "--name", "cli", "--network", "b", "--rootfs", root, ...HTTPD]);
      const srvIp = member(await inspectNet(s, "a"), "srv").ip;

      const before = await tcpConnect(s, "cli", srvIp);
      assert.notEqual(before.code, 0, `not connected yet, cli cannot reach ${srvIp}: ${before.err}`);

      assert.equal((await ok(s, ["network", "connect", "--alias", "api", "a", "cli"])).trim(), "10.89.0.3");
      const eth1 = await ok(s, ["exec", "cli", "ip", "-4", "-o", "addr", "show", "eth1"]);
      assert.match(eth1, /inet 10\.89\.0\.3\/24/);
      const r = await fetchFrom(s, "cli", "srv");
      assert.equal(r.code, 0, "connected, cli reaches srv by name");
      assert.equal(r.body, "from srv\n");
      const back = await fetchFrom(s, "srv", "api");
      assert.equal(back.code, 0, "srv reaches cli by the alias given at connect");
      assert.match(await ok(s, ["exec", "srv", "cat", "/etc/hosts"]), /10\.89\.0\.3\tcli api/);

      const twice = await s.run(["network", "connect", "a", "cli"]);
      assert.equal(twice.code, 125);
      assert.match(twice.stderr, /The container "cli" is on the network "a" already/);
      await ok(s, ["run", "-d", "--name", "lone", "--network", "none", "--rootfs", busyboxRootfs(), "sleep", "60"]);
      const lone = await s.run(["network", "connect", "a", "lone"]);
      assert.equal(lone.code, 125);
      assert.match(lone.stderr, /The container "lone" is not on a user network/);
      const nosuch = await s.run(["network", "connect", "nosuch", "cli"]);
      assert.match(nosuch.stderr, /No network named "nosuch"/);

      const veth = (await inspectNet(s, "a")).members;
      const cliId = Object.keys(veth).find((id) => veth[id].name === "cli")!;
      await ok(s, ["network", "disconnect", "a", "cli"]);
      const gone = await s.run(["exec", "cli", "ip", "link", "show", "eth1"]);
      assert.notEqual(gone.code, 0, "eth1 is gone from the container");
      const after = await tcpConnect(s, "cli", srvIp);
      assert.notEqual(after.code, 0, `disconnected, cli cannot reach ${srvIp}: ${after.err}`);
      assert.doesNotMatch(await ok(s, ["exec", "srv", "cat", "/etc/hosts"]), /\bcli\b/);
      assert.doesNotMatch(await ok(s, ["exec", "cli", "cat", "/etc/hosts"]), /\bsrv\b/);
      assert.equal((await inspectNet(s, "a")).members[cliId], undefined);
      const notOn = await s.run(["network", "disconnect", "a", "cli"]);
      assert.equal(notOn.code, 125);
      assert.match(notOn.stderr, /The container "cli" is not on the network "a"/);

      // connected while stopped: wired at its next start, after its first network
      await ok(s, ["stop", "-t", "0", "cli"]);
      await ok(s, ["network", "connect", "a", "cli"]);
      await ok(s, ["start", "cli"]);
      const wired = await ok(s, ["exec", "cli", "ip", "-4", "-o", "addr"]);
      assert.match(wired, /eth0\s+inet 10\.89\.1\.2\/24/, wired);
      assert.match(wired, /eth1\s+inet 10\.89\.0\.3\/24/, wired);
      assert.equal((await fetchFrom(s, "cli", "srv")).code, 0, "reaches srv after its start");

      await ok(s, ["rm", "-f", "srv", "cli", "lone"]);
      await ok(s, ["network", "rm", "a", "b"]);
      Deno.removeSync(root, { recursive: true });
    }),
  { skip },
);

/** Why a name server test cannot run here, or undefined (aardvark-dns is where Debian and Fedora put it). */
function aardvarkSkip(): string | undefined {
  for (const p of ["/usr/lib/podman/aardvark-dns", "/usr/libexec/podman/aardvark-dns"]) {
    try {
      if (Deno.statSync(p).isFile) return undefined;
    } catch {
      // not there
    }
  }
  return "skipped: aardvark-dns is not installed (Debian: apt install aardvark-dns): names resolve through /etc/hosts only";
}

/** The addresses busybox nslookup gets for `name` from the container's first nameserver (none: empty). */
async function lookup(s: Store, from: string, name: string): Promise<string[]> {
  const r = await s.run(["exec", from, "nslookup", name]);
  // the answer's "Address: IP" lines (the server's own line reads "Address:\tIP:53")
  return [...r.stdout.matchAll(/^Address:\s+([0-9a-f.:]+)\s*$/gm)].map((m) => m[1]!).filter((a) => !a.endsWith(":53"));
}

/** The IPv4 answers of {@link lookup}. */
async function lookup4(s: Store, from: string, name: string): Promise<string[]> {
  return (await lookup(s, from, name)).filter((a) => !a.includes(":"));
}

test(
  "the network's name server answers nslookup for containers started later, and follows connect and disconnect",
  () =>
    withStore(async (s) => {
      await ok(s, ["network", "create", "a"]);
      await ok(s, ["network", "create", "b"]);
      const root = busyboxRootfs();
      await ok(s, ["run", "-d", "--name", "asker", "--network", "a", "--rootfs", root, "sleep", "120"]);
      const conf = await ok(s, ["exec", "asker", "cat", "/etc/resolv.conf"]);
      assert.match(conf, /^nameserver 10\.89\.0\.1$/m, conf);
      assert.equal(/^nameserver (\S+)$/m.exec(conf)?.[1], "10.89.0.1", "the network's server comes first");
      await ok(s, ["run", "-d", "--name", "late", "--network", "a", "--network-alias", "db", "--rootfs", root, "sleep", "120"]);
      assert.deepEqual(await lookup4(s, "asker", "late"), ["10.89.0.3"], "a container started after the asker resolves");
      assert.deepEqual(await lookup4(s, "asker", "db"), ["10.89.0.3"], "and so does its alias");

      await ok(s, ["run", "-d", "--name", "other", "--network", "b", "--rootfs", root, "sleep", "120"]);
      assert.deepEqual(await lookup4(s, "asker", "other"), [], "a container of another network is not named");
      await ok(s, ["network", "connect", "--alias", "peer", "b", "late"]);
      assert.deepEqual(await lookup4(s, "other", "peer"), ["10.89.1.3"], "connected: named on the new network by its alias");
      assert.deepEqual(await lookup4(s, "other", "late"), ["10.89.1.3"]);
      await ok(s, ["network", "disconnect", "b", "late"]);
      assert.deepEqual(await lookup4(s, "other", "late"), [], "disconnected: no longer named there");
      assert.deepEqual(await lookup4(s, "asker", "late"), ["10.89.0.3"], "still named on the network it stays on");

      await ok(s, ["rm", "-f", "asker", "late", "other"]);
      await ok(s, ["network", "rm", "a", "b"]);
      const servers = () =>
        [...Deno.readDirSync("/proc")].filter((e) => /^\d+$/.test(e.name)).filter((e) => {
          try {
            return Deno.readTextFileSync(`/proc/${e.name}/cmdline`).includes(`${s.dataDir}/networks/dns`) && alive(Number(e.name));
          } catch {
            return false;
          }
        });
      for (let i = 0; i < 50 && servers().length; i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(servers().length, 0, "the name server ended with the last network");
    }),
  { skip: skip ?? aardvarkSkip() },
);

/** Why IPv6 cannot be tested here (read from the kernel), or undefined. */
function ipv6Skip(): string | undefined {
  try {
    const off = Deno.readTextFileSync("/proc/sys/net/ipv6/conf/default/disable_ipv6").trim();
    return off === "0" ? undefined : "skipped: IPv6 is disabled on this kernel (net.ipv6.conf.default.disable_ipv6 = 1)";
  } catch {
    return "skipped: this kernel has no IPv6 (no /proc/sys/net/ipv6: booted with ipv6.disable=1 or built without it)";
  }
}

test(
  "containers on a user network have IPv6 addresses of its ULA /64 and talk TCP over them; other networks stay out of reach",
  () =>
    withStore(async (s) => {
      await ok(s, ["network", "create", "six"]);
      await ok(s, ["network", "create", "other"]);
      const info = await inspectNet(s, "six");
      assert.match(info.subnet6, /^fd[0-9a-f]{2}:[0-9a-f:]+\/64$/, info.subnet6);
      const root = webRoot("over six\n");
      await ok(s, ["run", "-d", "--name", "srv", "--network", "six", "--rootfs", root, ...HTTPD]);
      // ping6 opens a raw socket: nook's default capabilities leave NET_RAW out
      await ok(s, ["run", "-d", "--name", "cli", "--cap-add", "NET_RAW", "--network", "six", "--rootfs", root, "sleep", "120"]);
      await ok(s, ["run", "-d", "--name", "far", "--network", "other", "--rootfs", root, "sleep", "120"]);
      const srv6 = member(await inspectNet(s, "six"), "srv") as unknown as { ip6: string };
      assert.equal(srv6.ip6, info.gateway6.replace(/::1$/, "::2"));
      const addr = await ok(s, ["exec", "srv", "ip", "-6", "-o", "addr", "show", "eth0", "scope", "global"]);
      assert.match(addr, new RegExp(`inet6 ${srv6.ip6}/64`), addr);

      const ping = await s.run(["exec", "cli", "ping6", "-c", "1", "-W", "5", srv6.ip6]);
      assert.equal(ping.code, 0, `ping6 ${srv6.ip6}: ${ping.stdout} ${ping.stderr}`);
      const r = await fetchFrom(s, "cli", `[${srv6.ip6}]`);
      assert.equal(r.code, 0, "TCP over IPv6 to the server's address");
      assert.equal(r.body, "over six\n");
      const hosts = await ok(s, ["exec", "cli", "cat", "/etc/hosts"]);
      assert.match(hosts, new RegExp(`^${srv6.ip6}\tsrv`, "m"), hosts);

      const across = await s.run(["exec", "far", "sh", "-c", `nc -w 3 ${srv6.ip6} 8080 </dev/null; echo "nc=$?"`]);
      assert.doesNotMatch(across.stdout, /nc=0/, `another network cannot connect over IPv6: ${across.stdout}`);

      if (!aardvarkSkip()) {
        const aaaa = await lookup(s, "cli", "srv");
        assert.ok(aaaa.includes(srv6.ip6), `the name server answers AAAA too: ${aaaa}`);
      }
      await ok(s, ["rm", "-f", "srv", "cli", "far"]);
      await ok(s, ["network", "rm", "six", "other"]);
      Deno.removeSync(root, { recursive: true });
    }),
  { skip: skip ?? ipv6Skip() },
);

test(
  "--network-rate holds a container's outgoing traffic to its rate (a tbf qdisc on its interface, measured over 5 s)",
  () =>
    withStore(async (s) => {
      await ok(s, ["network", "create", "slow"]);
      const root = busyboxRootfs(true);
      Deno.mkdirSync(`${root}/www`);
      const size = 10_000_000; // 5 s at 16 mbit (2 MB/s)
      Deno.writeFileSync(`${root}/www/blob`, new Uint8Array(size));
      Deno.writeTextFileSync(`${root}/www/index.html`, "up\n");
      const bad = await s.run(["run", "--rm", "--network", "slow", "--network-rate", "fast", "--rootfs", root, "true"]);
      assert.equal(bad.code, 125);
      assert.match(bad.stderr, /Invalid --network-rate "fast"/);
      const notUser = await s.run(["run", "--rm", "--network", "none", "--network-rate", "1mbit", "--rootfs", root, "true"]);
      assert.match(notUser.stderr, /--network-rate works on user networks only/);

      // the shaped server sends the file; the unshaped one is the baseline of the same path
      await ok(s, ["run", "-d", "--name", "shaped", "--network", "slow", "--network-rate", "16mbit", "--rootfs", root, ...HTTPD]);
      await ok(s, ["run", "-d", "--name", "free", "--network", "slow", "--rootfs", root, ...HTTPD]);
      await ok(s, ["run", "-d", "--name", "client", "--network", "slow", "--rootfs", root, "sleep", "120"]);
      const qdisc = await ok(s, ["exec", "shaped", "tc", "qdisc", "show", "dev", "eth0"]);
      assert.match(qdisc, /qdisc tbf \S+ root/, qdisc);
      assert.equal((await fetchFrom(s, "client", "free")).code, 0, "the server answers");

      /** Seconds to fetch the blob from `server`, timed inside the client (/proc/uptime: 10 ms steps). */
      const timed = async (server: string) => {
        const r = await ok(s, [
          "exec",
          "client",
          "sh",
          "-c",
          `read a _ </proc/uptime; wget -qO- http://${server}:8080/blob | wc -c; read b _ </proc/uptime; echo "$a $b"`,
        ]);
        const [bytes, times] = r.trim().split("\n");
        assert.equal(Number(bytes), size, `the whole file came from ${server}`);
        const [a, b] = times!.split(" ").map(Number);
        return b! - a!;
      };
      const free = await timed("free");
      const shaped = await timed("shaped");
      const rate = (size * 8) / shaped / 1e6;
      console.log(`  --network-rate 16mbit: ${rate.toFixed(1)} mbit measured (${shaped.toFixed(2)} s); unshaped ${free.toFixed(2)} s`);
      assert.ok(
        rate > 16 * 0.8 && rate < 16 * 1.2,
        `16 mbit asked, ${rate.toFixed(1)} mbit measured (${shaped.toFixed(2)} s; unshaped ${free.toFixed(2)} s)`,
      );
      assert.ok(free < shaped / 3, `the unshaped path is much faster (${free.toFixed(2)} s against ${shaped.toFixed(2)} s)`);

      await ok(s, ["rm", "-f", "shaped", "free", "client"]);
      await ok(s, ["network", "rm", "slow"]);
      Deno.removeSync(root, { recursive: true });
    }),
  { skip },
);

test(
  "system reset ends the shared namespace's holder and name server with the networks",
  () =>
    withStore(async (s) => {
      await ok(s, ["network", "create", "gone"]);
      await ok(s, ["run", "-d", "--name", "member", "--network", "gone", "--rootfs", busyboxRootfs(), "sleep", "120"]);
      const holder = holderPid(s);
      let dns: number | undefined;
      try {
        dns = Number(Deno.readTextFileSync(`${s.dataDir}/networks/dns/aardvark.pid`).trim());
      } catch {
        dns = undefined; // no aardvark-dns here: names go through /etc/hosts only
      }
      await ok(s, ["system", "reset", "-f"]);
      for (let i = 0; i < 100 && (alive(holder) || (dns !== undefined && alive(dns))); i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(!alive(holder), "the holder ended");
      if (dns !== undefined) assert.ok(!alive(dns), "the name server ended");
    }),
  { skip },
);
