/**
 * Networking decisions that need no container: --network and -p parsing, host
 * port checks, tool and /dev/net/tun checks, /etc contents, helper command lines.
 */
import {
  assignHostPorts,
  checkPublications,
  exposedToPublish,
  formatPorts,
  hostfwdRequest,
  NetworkError,
  networkEtc,
  type NetworkHost,
  parseAddHost,
  parseNetworkFlag,
  parsePublish,
  pastaArgv,
  prepareNetwork,
  resolveMode,
  SLIRP_DEFAULTS,
  slirpArgv,
  tunProblem,
} from "../../src/network/mod.ts";
import { assert, scratch, test } from "../_helpers.ts";

test("-p parses docker's forms: ports, addresses, ranges, protocols, IPv6 in brackets", () => {
  assert.deepEqual(parsePublish("8080:80"), [{
    hostIp: "",
    hostPort: 8080,
    containerPort: 80,
    protocol: "tcp",
    range: 1,
  }]);
  assert.deepEqual(parsePublish("127.0.0.1:5353:53/udp"), [
    { hostIp: "127.0.0.1", hostPort: 5353, containerPort: 53, protocol: "udp", range: 1 },
  ]);
  assert.deepEqual(parsePublish("8000-8002:9000-9002"), [
    { hostIp: "", hostPort: 8000, containerPort: 9000, protocol: "tcp", range: 3 },
  ]);
  assert.deepEqual(parsePublish("[::1]:8080:80/TCP"), [{
    hostIp: "::1",
    hostPort: 8080,
    containerPort: 80,
    protocol: "tcp",
    range: 1,
  }]);
  assert.deepEqual(parsePublish("127.0.0.1::80-81").map((p) => [p.hostIp, p.hostPort, p.containerPort]), [
    ["127.0.0.1", 0, 80],
    ["127.0.0.1", 0, 81],
  ]);
  assert.deepEqual(parsePublish("0.0.0.0:80:80")[0]!.hostIp, "", "0.0.0.0 means every address");
  for (const bad of ["", "abc", "0:80", "80:70000", "8000-8001:80", "80/sctp", "1.2.3:80:80", "a:b:c:d", "[::1:80"]) {
    assert.throws(() => parsePublish(bad), NetworkError, bad);
  }
});

test("host ports below ip_unprivileged_port_start are refused with the sysctl that allows them; none twice", () => {
  const err = (() => {
    try {
      checkPublications(parsePublish("80:80"), 1024);
    } catch (e) {
      return e as NetworkError;
    }
  })();
  assert.ok(err instanceof NetworkError);
  assert.match(err.message, /host port 80: ports below 1024 are privileged/);
  assert.match(err.hint!, /sysctl net\.ipv4\.ip_unprivileged_port_start=80/);
  checkPublications(parsePublish("80:80"), 0);
  checkPublications([...parsePublish("9000:80"), ...parsePublish("9000:80/udp")], 1024);
  assert.throws(
    () => checkPublications([...parsePublish("9000-9002:80-82"), ...parsePublish("9001:81")], 1024),
    /9001\/tcp is published twice/,
  );
});

/** A fake host for the port probe: these (protocol/port) are taken; port 0 hands out `free` in turn. */
function fakeProbe(taken: string[], free: number[]) {
  const asked: string[] = [];
  const probe = (ip: string, port: number, protocol: "tcp" | "udp") => {
    asked.push(`${ip} ${port}/${protocol}`);
    if (port === 0) return Promise.resolve(free.shift() ?? -98);
    return Promise.resolve(taken.includes(`${protocol}/${port}`) ? -98 : port);
  };
  return { probe, asked };
}

test("host ports are checked by binding them as the container starts; free ones are the kernel's pick", async () => {
  const a = fakeProbe(["tcp/8080"], []);
  await assert.rejects(
    assignHostPorts(parsePublish("127.0.0.1:8080:80"), a.probe),
    /8080\/tcp is already in use on 127\.0\.0\.1/,
  );
  assert.deepEqual(a.asked, ["127.0.0.1 8080/tcp"]);
  const b = fakeProbe(["tcp/8080"], []);
  assert.equal((await assignHostPorts(parsePublish("8080:80/udp"), b.probe))[0]!.hostPort, 8080);
  assert.deepEqual(b.asked, [":: 8080/udp"], "every address: the IPv6 wildcard, which covers IPv4");
  const c = fakeProbe([], [41000, 41000, 41001]);
  const picked = await assignHostPorts([...parsePublish("127.0.0.1::80"), ...parsePublish("81")], c.probe);
  assert.deepEqual(picked.map((p) => p.hostPort), [41000, 41001], "the same pick twice is asked again");
  const d = fakeProbe(["tcp/9001"], []);
  await assert.rejects(assignHostPorts(parsePublish("9000-9002:9000-9002"), d.probe), /9001\/tcp is already in use/);
});

test("the port probe binds for real: a listening port is taken, port 0 gets a free one", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    await assert.rejects(assignHostPorts(parsePublish(`127.0.0.1:${l.addr.port}:80`)), /already in use/);
    const [p] = await assignHostPorts(parsePublish("127.0.0.1::80/udp"));
    assert.ok(p!.hostPort > 0);
  } finally {
    l.close();
  }
});

test("-P publishes the image's ExposedPorts on free ports, and needs a helper mode", () => {
  assert.deepEqual(
    exposedToPublish(["80/tcp", "53/udp", "8080", "9/sctp"]).map((p) => `${p.containerPort}/${p.protocol}`),
    [
      "80/tcp",
      "53/udp",
      "8080/tcp",
    ],
  );
  const runDir = scratch();
  const tools: NetworkHost = { find: (t) => `/usr/bin/${t}`, tunProblem: () => undefined };
  const net = prepareNetwork(
    { publish: [], publishAll: true, dns: [], addHosts: [] },
    { id: "a".repeat(64), hostname: "h", runDir, exposedPorts: ["80/tcp"] },
    tools,
    () => 1024,
  );
  assert.equal(net.mode, "pasta");
  assert.deepEqual(net.setup.ports, [{ hostIp: "", hostPort: 0, containerPort: 80, protocol: "tcp", range: 1 }]);
  assert.throws(
    () =>
      prepareNetwork(
        { network: "none", publish: ["8080:80"], publishAll: false, dns: [], addHosts: [] },
        { id: "b".repeat(64), hostname: "h", runDir },
        tools,
        () => 1024,
      ),
    /cannot be published with --network none/,
  );
});

test("--network parses modes and passes pasta and slirp4netns options as podman does", () => {
  assert.equal(parseNetworkFlag(undefined).mode, "default");
  assert.equal(parseNetworkFlag("none").mode, "none");
  assert.equal(parseNetworkFlag("host").mode, "host");
  assert.deepEqual(parseNetworkFlag("pasta:-T,auto,--mtu,1500").pastaArgs, ["-T", "auto", "--mtu", "1500"]);
  const s =
    parseNetworkFlag("slirp4netns:allow_host_loopback=true,mtu=1500,cidr=10.5.0.0/16,port_handler=slirp4netns").slirp;
  assert.deepEqual(s, { ...SLIRP_DEFAULTS, allowHostLoopback: true, mtu: 1500, cidr: "10.5.0.0/16" });
  assert.throws(() => parseNetworkFlag("bridge"), /Unknown network mode "bridge"/);
  assert.throws(() => parseNetworkFlag("none:x"), /takes no options/);
  assert.throws(() => parseNetworkFlag("pasta:--netns,/x"), /"--netns" cannot be given/);
  assert.throws(
    () => parseNetworkFlag("slirp4netns:port_handler=rootlesskit"),
    /port_handler "rootlesskit" is not available/,
  );
  assert.throws(() => parseNetworkFlag("slirp4netns:mtu=9"), /out of range/);
  assert.throws(() => parseNetworkFlag("slirp4netns:bogus=1"), /Unknown slirp4netns option "bogus"/);
});

test("a requested helper that is missing names the package to install; the default falls back to none and says why", () => {
  const none: NetworkHost = { find: () => undefined, tunProblem: () => undefined };
  for (const [mode, pkg] of [["pasta", "passt"], ["slirp4netns", "slirp4netns"]] as const) {
    try {
      resolveMode(mode, none);
      assert.fail("no error");
    } catch (e) {
      assert.ok(e instanceof NetworkError);
      assert.match(e.message, new RegExp(`needs "${mode}", which is not installed`));
      assert.match(e.hint!, new RegExp(`apt install ${pkg}\\b`));
    }
  }
  const fallback = resolveMode("default", none);
  assert.equal(fallback.mode, "none");
  assert.match(fallback.notice!, /neither pasta nor slirp4netns is installed/);
  const onlySlirp: NetworkHost = {
    find: (t) => (t === "slirp4netns" ? "/usr/bin/slirp4netns" : undefined),
    tunProblem: () => undefined,
  };
  assert.deepEqual(resolveMode("default", onlySlirp), { mode: "slirp4netns", tool: "/usr/bin/slirp4netns" });
});

test("an unusable /dev/net/tun is reported with its mode and the chmod that fixes it", () => {
  const dir = scratch();
  const dev = `${dir}/tun`;
  Deno.writeFileSync(dev, new Uint8Array());
  Deno.chmodSync(dev, 0o600);
  assert.equal(tunProblem(dev), undefined, "a file of ours opens");
  Deno.chmodSync(dev, 0o000);
  const problem = tunProblem(dev);
  if (Deno.uid() !== 0) assert.match(problem!, /is not readable and writable by you \(mode 0000\)/);
  assert.match(tunProblem(`${dir}/missing`)!, /does not exist \(the tun kernel module is not loaded\)/);
  const tools: NetworkHost = { find: (t) => `/usr/bin/${t}`, tunProblem: () => tunProblem(`${dir}/missing`) };
  try {
    resolveMode("slirp4netns", tools);
    assert.fail("no error");
  } catch (e) {
    assert.ok(e instanceof NetworkError);
    assert.match(e.message, /--network slirp4netns cannot work: .*does not exist/);
    assert.match(e.hint!, /chmod 0666 \/dev\/net\/tun/);
  }
  assert.match(resolveMode("default", tools).notice!, /no network beyond loopback by default: .*chmod 0666/);
});

test("/etc/resolv.conf points at the helper's DNS forwarder unless --dns; /etc/hosts gets the name and the host", () => {
  const base = { hostname: "h1", name: "web", dns: [], addHosts: [], pastaArgs: [], slirp: { ...SLIRP_DEFAULTS } };
  const pasta = networkEtc({ ...base, mode: "pasta" });
  assert.deepEqual(pasta.dns, ["169.254.1.1"]);
  assert.deepEqual(pasta.addHosts[0], ["web", "127.0.1.1"]);
  const slirp = networkEtc({ ...base, mode: "slirp4netns", slirp: { ...SLIRP_DEFAULTS, allowHostLoopback: true } });
  assert.deepEqual(slirp.dns, ["10.0.2.3"]);
  assert.deepEqual(slirp.addHosts.find(([n]) => n === "host.containers.internal"), [
    "host.containers.internal",
    "10.0.2.2",
  ]);
  const dns = networkEtc({
    ...base,
    mode: "slirp4netns",
    dns: ["1.1.1.1"],
    addHosts: ["db:10.0.2.9", "gw:host-gateway"],
    slirp: { ...SLIRP_DEFAULTS, allowHostLoopback: true, cidr: "10.9.0.0/24" },
  });
  assert.deepEqual(dns.dns, ["1.1.1.1"]);
  assert.deepEqual(dns.addHosts.slice(-2), [["db", "10.0.2.9"], ["gw", "10.9.0.2"]]);
  assert.equal(networkEtc({ ...base, mode: "none" }).addHosts.some(([n]) => n === "host.containers.internal"), false);
  assert.throws(() => parseAddHost("gw:host-gateway", undefined), /no address for the host/);
  assert.throws(() => parseAddHost("bad", "1.2.3.4"), /Invalid --add-host/);
  assert.deepEqual(parseAddHost("v6:::1", undefined), ["v6", "::1"]);
  assert.throws(() => networkEtc({ ...base, mode: "pasta", dns: ["dns.example"] }), /Invalid --dns/);
});

test("pasta and slirp4netns get podman's command lines for the container's namespaces", () => {
  const ports = [...parsePublish("127.0.0.1:8080:80"), ...parsePublish("9000-9001:9000-9001/udp")];
  const p = pastaArgv("/usr/bin/pasta", 42, "/run/x/pasta.pid", ports, []);
  assert.deepEqual(p, [
    "/usr/bin/pasta",
    "--config-net",
    "--foreground",
    "--quiet",
    "--pid",
    "/run/x/pasta.pid",
    "-t",
    "127.0.0.1/8080:80",
    "-u",
    "9000-9001:9000-9001",
    "-T",
    "none",
    "-U",
    "none",
    "--dns-forward",
    "169.254.1.1",
    "--userns",
    "/proc/42/ns/user",
    "--netns",
    "/proc/42/ns/net",
  ]);
  const q = pastaArgv("pasta", 42, "f", [], ["-T", "auto", "--dns-forward", "10.0.0.53"]);
  assert.deepEqual(q.slice(6, 10), ["-t", "none", "-u", "none"]);
  assert.ok(!q.includes("169.254.1.1") && q.includes("auto") && q.filter((a) => a === "-T").length === 1);
  const s = slirpArgv("slirp4netns", 42, SLIRP_DEFAULTS, { ready: 7, exit: 8 }, "/run/s.sock");
  assert.deepEqual(s, [
    "slirp4netns",
    "--configure",
    "--mtu=65520",
    "--enable-sandbox",
    "--enable-seccomp",
    "--disable-host-loopback",
    "--ready-fd=7",
    "--exit-fd=8",
    "--api-socket=/run/s.sock",
    "42",
    "tap0",
  ]);
  assert.deepEqual(JSON.parse(hostfwdRequest(ports[1]!, 1)), {
    execute: "add_hostfwd",
    arguments: { proto: "udp", host_addr: "0.0.0.0", host_port: 9001, guest_port: 9001 },
  });
  assert.deepEqual(formatPorts(ports), [
    "80/tcp -> 127.0.0.1:8080",
    "9000/udp -> 0.0.0.0:9000",
    "9001/udp -> 0.0.0.0:9001",
  ]);
});
