/**
 * User networks: a bridge in the per-user shared network namespace, held by a sleeping holder
 * process; containers on it get their own address and reach each other by name and alias
 * through /etc/hosts kept current in place. Real containers (busybox roots), real iproute2 and
 * nsenter; every address is on the private bridge inside the shared namespace: nothing leaves
 * the machine, and no host port is used.
 */
import { assert, busyboxRootfs, busyboxSkip, sh, test, waitFor } from "../_helpers.ts";
import { alive, freshStore, withStore } from "../_lifecycle.ts";

type Store = ReturnType<typeof freshStore>;

function holderOf(s: Store): { pid: number; started: string } | undefined {
  try {
    return JSON.parse(Deno.readTextFileSync(`${s.dataDir}/networks/holder.json`));
  } catch {
    return undefined;
  }
}

/** An interface in the shared namespace (the holder's), as `ip link` there sees it. */
async function linkInShared(holder: number, name: string): Promise<boolean> {
  const r = await sh("nsenter", [
    `--user=/proc/${holder}/ns/user`,
    `--net=/proc/${holder}/ns/net`,
    "ip",
    "link",
    "show",
    name,
  ]);
  return r.code === 0;
}

/** A busybox root whose /www/index.html holds `page` (for {@link httpd}). */
function webRoot(page: string): string {
  const root = busyboxRootfs(true);
  Deno.mkdirSync(`${root}/www`);
  Deno.writeTextFileSync(`${root}/www/index.html`, page);
  return root;
}

/** busybox httpd in the foreground, serving /www on `listen` (a port, or address:port). */
function httpd(listen: string): string[] {
  return ["httpd", "-f", "-p", listen, "-h", "/www"];
}

async function ok(s: Store, args: string[]): Promise<string> {
  const r = await s.run(args);
  assert.equal(r.code, 0, `nook ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

const skip = busyboxSkip();

test(
  "network create, ls, inspect, rm and prune; the last network takes its namespace holder along",
  () =>
    withStore(async (s) => {
      assert.equal((await ok(s, ["network", "create", "app"])).trim(), "app");
      await ok(s, ["network", "create", "--subnet", "10.89.77.0/24", "other"]);
      const h = holderOf(s);
      assert.ok(h && alive(h.pid), "a holder runs once a network exists");
      assert.ok(await linkInShared(h.pid, "nook0"), "the first network's bridge is in the shared namespace");
      assert.deepEqual((await ok(s, ["network", "ls", "-q"])).trim().split("\n"), ["app", "other"]);
      const info = JSON.parse(await ok(s, ["network", "inspect", "other"]));
      assert.equal(info[0].subnet, "10.89.77.0/24");
      assert.equal(info[0].gateway, "10.89.77.1");

      const dup = await s.run(["network", "create", "app"]);
      assert.equal(dup.code, 125);
      assert.match(dup.stderr, /A network named "app" exists already/);
      const reserved = await s.run(["network", "create", "host"]);
      assert.match(reserved.stderr, /The network name "host" is reserved/);
      const badSubnet = await s.run(["network", "create", "--subnet", "10.1.2.3/8", "x"]);
      assert.match(badSubnet.stderr, /Invalid subnet "10.1.2.3\/8"/);
      const clash = await s.run(["network", "create", "--subnet", "10.89.77.0/24", "y"]);
      assert.match(clash.stderr, /taken by the network "other"/);
      const unknown = await s.run(["network", "rm", "nope"]);
      assert.match(unknown.stderr, /No network named "nope"/);

      await ok(s, ["network", "rm", "app"]);
      assert.ok(!(await linkInShared(h.pid, "nook0")), "rm takes the bridge away");
      assert.equal((await ok(s, ["network", "prune"])).trim(), "other");
      assert.equal((await ok(s, ["network", "ls", "-q"])).trim(), "");
      assert.ok(!alive(h.pid) || holderOf(s) === undefined, "no holder is left");
      assert.equal(holderOf(s), undefined);
      for (let i = 0; i < 50 && alive(h.pid); i++) await new Promise((r) => setTimeout(r, 20));
      assert.ok(!alive(h.pid), "the holder process ended");
    }),
  { skip },
);

test(
  "two containers on one network reach each other by name and alias; rm -f detaches, network rm refuses while in use",
  () =>
    withStore(async (s) => {
      await ok(s, ["network", "create", "app"]);
      const srvRoot = webRoot("hello from srv\n");
      const srv = (await ok(s, [
        "run",
        "-d",
        "--name",
        "srv",
        "--network",
        "app",
        "--network-alias",
        "web",
        "--rootfs",
        srvRoot,
        ...httpd("8080"),
      ])).trim();
      const client = (name: string) =>
        s.run([
          "run",
          "--rm",
          "--network",
          "app",
          "--rootfs",
          busyboxRootfs(),
          "sh",
          "-c",
          `for i in $(seq 600); do wget -qO- http://${name}:8080/ 2>/dev/null && exit 0; sleep 0.05; done; cat /etc/hosts; exit 7`,
        ]);
      for (const name of ["srv", "web"]) {
        const r = await client(name);
        assert.equal(r.code, 0, `by ${name}: ${r.stdout} ${r.stderr}`);
        assert.equal(r.stdout, "hello from srv\n");
      }
      const info = JSON.parse(await ok(s, ["network", "inspect", "app"]))[0];
      assert.equal(info.members[srv].ip, "10.89.0.2");
      assert.deepEqual(info.members[srv].aliases, ["web"]);
      assert.equal(Object.keys(info.members).length, 1, "the --rm clients left the network");

      const inUse = await s.run(["network", "rm", "app"]);
      assert.equal(inUse.code, 125);
      assert.match(inUse.stderr, /The network "app" is in use by "srv"/);

      const h = holderOf(s)!;
      assert.ok(await linkInShared(h.pid, info.members[srv].veth), "the server's veth is on the bridge");
      await ok(s, ["rm", "-f", "srv"]);
      assert.ok(!(await linkInShared(h.pid, info.members[srv].veth)), "rm -f leaves no veth");
      assert.deepEqual(JSON.parse(await ok(s, ["network", "inspect", "app"]))[0].members, {});
      await ok(s, ["network", "rm", "app"]);
      for (let i = 0; i < 50 && alive(h.pid); i++) await new Promise((r) => setTimeout(r, 20));
      assert.ok(!alive(h.pid), "no holder is left");
      Deno.removeSync(srvRoot, { recursive: true });
    }),
  { skip },
);

test(
  "a container's interface is configured from inside (address, IPv6, link up, default route); inspect lists its networks as docker does",
  () =>
    withStore(async (s) => {
      await ok(s, ["network", "create", "app"]);
      const root = busyboxRootfs();
      const id = (await ok(s, [
        "run",
        "-d",
        "--name",
        "box",
        "--network",
        "app",
        "--network-alias",
        "b1",
        "--rootfs",
        root,
        "sh",
        "-c",
        "cat /sys/class/net/eth0/address /sys/class/net/eth0/flags; cat /proc/net/route /proc/net/if_inet6 /proc/net/fib_trie; echo END; exec sleep 60",
      ])).trim();
      let seen = "";
      await waitFor("the container's report", async () => (seen = (await s.run(["logs", "box"])).stdout).includes("END"), 10_000);
      const net = JSON.parse(await ok(s, ["inspect", "box"]))[0].NetworkSettings.Networks;
      assert.deepEqual(Object.keys(net), ["app"]);
      const e = net.app;
      assert.equal(e.IPAddress, "10.89.0.2");
      assert.equal(e.IPPrefixLen, 24);
      assert.equal(e.Gateway, "10.89.0.1");
      assert.deepEqual(e.Aliases, ["b1"]);
      assert.equal(e.MacAddress, "02:42:0a:59:00:02");
      const [mac, flags] = seen.split("\n");
      assert.equal(mac, e.MacAddress, "the interface has the address inspect shows");
      assert.equal(Number(flags) & 1, 1, `the interface is up (IFF_UP): ${flags}`);
      assert.match(seen, /\|-- 10\.89\.0\.2\n/, "its IPv4 address");
      // the default route through the bridge: 10.89.0.1 in /proc/net/route's little-endian hex
      assert.match(seen, /^eth0\t00000000\t0100590A\t/m, "its default route");
      if (e.GlobalIPv6Address) {
        const hex = (a: string) => {
          const [h, t = ""] = a.split("::");
          const g = [...h!.split(":").filter(Boolean), ...Array(8 - h!.split(":").filter(Boolean).length - t.split(":").filter(Boolean).length).fill("0"), ...t.split(":").filter(Boolean)];
          return g.map((x) => x.padStart(4, "0")).join("");
        };
        assert.equal(e.GlobalIPv6PrefixLen, 64);
        assert.match(seen, new RegExp(`^${hex(e.GlobalIPv6Address)} [0-9a-f]+ 40 .* eth0$`, "m"), "its IPv6 address");
        assert.ok(e.IPv6Gateway.endsWith("::1"), e.IPv6Gateway);
      }
      assert.match(id, /^[0-9a-f]{64}$/);
      await ok(s, ["rm", "-f", "box"]);
      await ok(s, ["network", "rm", "app"]);
      Deno.removeSync(root, { recursive: true });
    }),
  { skip },
);

test("--network NAME of a network that does not exist says what is wrong", () =>
  withStore(async (s) => {
    const r = await s.run(["run", "--rm", "--network", "nosuch", "--rootfs", busyboxRootfs(), "true"]);
    assert.equal(r.code, 125);
    assert.match(r.stderr, /Unknown network mode "nosuch"/);
    assert.match(r.stderr, /nook network ls/);
  }), { skip });

test(
  "--network, --pid and --ipc container:NAME share a running container's namespaces (in its user namespace)",
  () =>
    withStore(async (s) => {
      await ok(s, ["network", "create", "app"]);
      const srvRoot = webRoot("hello over loopback\n");
      for (const [name, net] of [["solo", "none"], ["member", "app"]]) {
        await ok(s, [
          "run",
          "-d",
          "--name",
          name!,
          "--network",
          net!,
          "--rootfs",
          srvRoot,
          ...httpd("127.0.0.1:8080"),
        ]);
        const r = await s.run([
          "run",
          "--rm",
          "--network",
          `container:${name}`,
          "--pid",
          `container:${name}`,
          "--ipc",
          `container:${name}`,
          "--rootfs",
          busyboxRootfs(),
          "sh",
          "-c",
          "for i in $(seq 600); do wget -qO- http://127.0.0.1:8080/ 2>/dev/null && break; sleep 0.05; done; ps -o comm | grep -q httpd && echo seen",
        ]);
        assert.equal(r.code, 0, `${name}: ${r.stderr}`);
        assert.equal(
          r.stdout,
          "hello over loopback\nseen\n",
          `${name}: the server is reached on loopback and seen in the shared pid namespace`,
        );
      }
      const stopped = await s.run([
        "run",
        "--rm",
        "--network",
        "container:nosuch",
        "--rootfs",
        busyboxRootfs(),
        "true",
      ]);
      assert.equal(stopped.code, 125);
      assert.match(stopped.stderr, /No such container: nosuch/);
      const bad = await s.run(["run", "--rm", "--pid", "host", "--rootfs", busyboxRootfs(), "true"]);
      assert.match(bad.stderr, /Invalid --pid "host"/);
      await ok(s, ["rm", "-f", "solo", "member"]);
      await ok(s, ["network", "rm", "app"]);
      Deno.removeSync(srvRoot, { recursive: true });
    }),
  { skip },
);

test(
  "a container on a user network keeps its address across stop and start, and a foreground one shows as running",
  () =>
    withStore(async (s) => {
      await ok(s, ["network", "create", "app"]);
      await ok(s, ["run", "-d", "--name", "srv", "--network", "app", "--rootfs", busyboxRootfs(), "sleep", "100"]);
      await ok(s, ["stop", "-t", "0", "srv"]);
      await ok(s, ["start", "srv"]);
      const addr = await ok(s, ["exec", "srv", "sh", "-c", "ip -4 -o addr show eth0"]);
      assert.match(addr, /inet 10\.89\.0\.2\/24/, "wired again at start, same address");
      const fg = s.run(["run", "--name", "fg", "--network", "app", "--rootfs", busyboxRootfs(), "sleep", "2"]);
      let seen = "";
      for (let i = 0; i < 100 && !/fg Up/.test(seen); i++) {
        seen = await ok(s, ["ps", "--format", "{{.Names}} {{.Status}}"]);
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.match(seen, /fg Up/, "the forked program is the one the record names");
      assert.equal((await fg).code, 0);
      const hosts = await ok(s, ["exec", "srv", "cat", "/etc/hosts"]);
      assert.match(hosts, /10\.89\.0\.3\tfg /, "the newcomer was written into the running member's /etc/hosts");
      await ok(s, ["rm", "-f", "srv", "fg"]);
      await ok(s, ["network", "rm", "app"]);
    }),
  { skip },
);

test(
  "the monitor wires a container on a user network again at each restart (--restart always)",
  () =>
    withStore(async (s) => {
      await ok(s, ["network", "create", "app"]);
      const root = busyboxRootfs(true);
      // each run records its address and the others it can resolve, then ends: the monitor restarts it
      const id = (await ok(s, [
        "run",
        "-d",
        "--name",
        "again",
        "--network",
        "app",
        "--restart",
        "always",
        "-v",
        `${root}/tmp:/out`,
        "--rootfs",
        root,
        "sh",
        "-c",
        "ip -4 -o addr show eth0 >> /out/runs; sleep 0.2",
      ])).trim();
      await waitFor("three runs", () => {
        try {
          return Deno.readTextFileSync(`${root}/tmp/runs`).trim().split("\n").length >= 3;
        } catch {
          return false;
        }
      }, 20_000);
      const runs = Deno.readTextFileSync(`${root}/tmp/runs`).trim().split("\n");
      for (const r of runs.slice(0, 3)) {
        assert.match(r, /inet 10\.89\.0\.2\/24/, `every run has its address: ${runs.join(" | ")}`);
      }
      await ok(s, ["rm", "-f", id]);
      await ok(s, ["network", "rm", "app"]);
      Deno.removeSync(root, { recursive: true });
    }),
  { skip },
);

test(
  "-p on a user network publishes through a pasta of the container's own, on the host's loopback",
  () =>
    withStore(async (s) => {
      await ok(s, ["network", "create", "app"]);
      const root = webRoot("published\n");
      await ok(s, [
        "run",
        "-d",
        "--name",
        "web",
        "--network",
        "app",
        "-p",
        "127.0.0.1::8080",
        "--rootfs",
        root,
        ...httpd("8080"),
      ]);
      const port = (await ok(s, ["port", "web", "8080"])).trim();
      assert.match(port, /^127\.0\.0\.1:\d+$/);
      let body = "";
      for (let i = 0; i < 100 && body !== "published\n"; i++) {
        try {
          body = await (await fetch(`http://${port}/`)).text();
        } catch {
          await new Promise((r) => setTimeout(r, 30));
        }
      }
      assert.equal(body, "published\n");
      const restart = await s.run([
        "run",
        "-d",
        "--network",
        "app",
        "-p",
        "127.0.0.1::80",
        "--restart",
        "always",
        "--rootfs",
        root,
        "true",
      ]);
      assert.equal(restart.code, 125);
      assert.match(restart.stderr, /Ports cannot be published with --restart on the user network "app" yet/);
      const pid = JSON.parse(await ok(s, ["inspect", "web"]))[0].State.Pid as number;
      const forwarders = () =>
        [...Deno.readDirSync("/proc")].filter((e) => /^\d+$/.test(e.name)).filter((e) => {
          try {
            const cmd = Deno.readTextFileSync(`/proc/${e.name}/cmdline`).split("\0");
            return cmd.includes("nookfwd0") && cmd.includes(String(pid)) && alive(Number(e.name));
          } catch {
            return false;
          }
        });
      assert.equal(forwarders().length, 1, "one pasta publishes the container's ports");
      await ok(s, ["rm", "-f", "web"]);
      for (let i = 0; i < 100 && forwarders().length; i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(forwarders().length, 0, "its pasta ended with the container");
      await ok(s, ["network", "rm", "app"]);
      Deno.removeSync(root, { recursive: true });
    }),
  { skip },
);
