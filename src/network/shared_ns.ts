/**
 * The per-user network namespace that user networks live in (podman's "rootless netns"): one
 * user namespace and one network namespace, held open by a small holder process, with one
 * bridge per user network in it and one pasta for egress.
 *
 * Why one shared user namespace: joining a network namespace, or moving a veth end into one,
 * needs CAP_NET_ADMIN/CAP_SYS_ADMIN in the user namespace that owns it. Containers on a user
 * network are therefore created inside the holder's user namespace (their plan setns()es into
 * it, then unshares the rest), so nook — entering that same user namespace with nsenter — is
 * root over the shared namespace and over every container's own network namespace.
 *
 * Everything privileged here runs as `nsenter --user --net … ip …`: iproute2 inside the holder's
 * namespaces, where the calling user is root. Nothing here touches the host's network.
 *
 * @module
 */
import { applyIdMapping, type IdMapping } from "../userns/mod.ts";
import { NetworkError } from "./network_error.ts";
import { processStartTime } from "./state.ts";
import { pastaPortSpec } from "./pasta.ts";
import type { PortMapping } from "./ports.ts";
import { rateCommands } from "./rate.ts";
import type { InterfaceSetup } from "./netlink.ts";

/** The holder of the shared namespaces, as recorded. */
export interface HolderState {
  /** pid of the holder process (it sleeps; it only holds the namespaces). */
  pid: number;
  /** Its start time (a reused pid is not it). */
  started: string;
  /** pid of the pasta that gives the namespace egress, when one runs. */
  pastaPid?: number;
  /** Why there is no egress, when pasta could not attach. */
  egress?: string;
}

/** One user network's place in the shared namespace. */
export interface BridgeConfig {
  /** The bridge's interface name. */
  bridge: string;
  /** Subnet, `a.b.c.0/24`. */
  subnet: string;
  /** The bridge's (gateway) address. */
  gateway: string;
  /** IPv6 subnet (a ULA /64), when the network has one. */
  subnet6?: string | undefined;
  /** The bridge's IPv6 address. */
  gateway6?: string | undefined;
}

/** Whether the recorded holder still runs. */
export function holderAlive(h: HolderState | undefined): h is HolderState {
  return !!h && processStartTime(h.pid) === h.started && !isZombie(h.pid);
}

/** An ended process its parent (init, for a holder whose nook exited) has not collected yet. */
function isZombie(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) === "Z";
  } catch {
    return true;
  }
}

async function run(argv: string[], input?: string): Promise<{ ok: boolean; err: string; out: string }> {
  let out: Deno.CommandOutput;
  try {
    const cmd = new Deno.Command(argv[0]!, {
      args: argv.slice(1),
      stdin: input === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
    });
    if (input === undefined) out = await cmd.output();
    else {
      const child = cmd.spawn();
      const w = child.stdin.getWriter();
      try {
        await w.write(new TextEncoder().encode(input));
        await w.close();
      } catch {
        // it exited before reading: its status and stderr say why
      }
      out = await child.output();
    }
  } catch (err) {
    throw new NetworkError(`Cannot run "${argv[0]}": ${(err as Error).message}`, {
      hint: argv[0] === "nsenter" ? "install util-linux" : "install iproute2",
      cause: err,
    });
  }
  const dec = new TextDecoder();
  return { ok: out.success, err: dec.decode(out.stderr).trim(), out: dec.decode(out.stdout) };
}

/** Run `ip -batch -` with the commands, inside the user namespace of `userPid` and the network namespace of `netPid`. */
export async function ipIn(userPid: number, netPid: number, commands: string[], what: string, family: "-4" | "-6" = "-4"): Promise<string> {
  const r = await run(
    ["nsenter", `--user=/proc/${userPid}/ns/user`, `--net=/proc/${netPid}/ns/net`, "ip", ...(family === "-6" ? ["-6"] : []), "-batch", "-"],
    commands.join("\n") + "\n",
  );
  if (!r.ok) {
    throw new NetworkError(`Cannot ${what}: ${r.err || "ip failed"}`, {
      op: "ip",
      hint: "check that iproute2 is installed and that user namespaces work here (nook doctor)",
    });
  }
  return r.out;
}

/** A shell command inside the holder's namespaces (sysctls, iptables); best effort: returns whether it worked. */
async function shIn(pid: number, script: string): Promise<boolean> {
  return (await run(["nsenter", `--user=/proc/${pid}/ns/user`, `--net=/proc/${pid}/ns/net`, "sh", "-c", script])).ok;
}

/**
 * Start the holder: `unshare --user --net sleep infinity` in a session of its own (so a
 * terminal's ^C does not reach it, and nook can exit), then give its user namespace the same
 * id mapping a container gets, and bring up its loopback. The holder is a plain sleep: no
 * Deno process stays behind.
 */
export async function startHolder(mapping: IdMapping): Promise<HolderState> {
  const child = new Deno.Command("setsid", {
    args: ["unshare", "--user", "--net", "sleep", "infinity"],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const pid = child.pid;
  child.unref();
  // why wait: the maps can only be written once unshare(2) made the user namespace
  const self = Deno.readLinkSync("/proc/self/ns/user");
  for (let i = 0; i < 400; i++) {
    let ns: string | undefined;
    try {
      ns = Deno.readLinkSync(`/proc/${pid}/ns/user`);
    } catch {
      ns = undefined;
    }
    if (ns === undefined) break;
    if (ns !== self) {
      await applyIdMapping(pid, mapping);
      const started = processStartTime(pid);
      if (!started) break;
      const h: HolderState = { pid, started };
      await ipIn(pid, pid, ["link set lo up"], "bring up the shared network namespace's loopback");
      // a bridge forwards between its ports only when the namespace routes
      await shIn(pid, "echo 1 > /proc/sys/net/ipv4/ip_forward");
      await startEgress(h);
      return h;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  try {
    Deno.kill(pid, "SIGKILL");
  } catch {
    // gone already
  }
  throw new NetworkError("The holder of the shared network namespace did not start", {
    op: "unshare",
    hint: "check that unprivileged user namespaces work here (nook doctor)",
  });
}

/** Attach one pasta to the shared namespace for egress; where pasta cannot (an offline host), say why and go on. */
async function startEgress(h: HolderState): Promise<void> {
  const r = await run([
    "pasta",
    "--config-net",
    "--quiet",
    "-t",
    "none",
    "-u",
    "none",
    "-T",
    "none",
    "-U",
    "none",
    String(h.pid),
  ]);
  if (!r.ok) {
    h.egress = r.err.split("\n").slice(-1)[0] || "pasta failed";
    return;
  }
  // pasta daemonised: find it as the process whose command line names the holder
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const cmd = Deno.readTextFileSync(`/proc/${e.name}/cmdline`).split("\0");
      if (/pasta(\.avx2)?$/.test(cmd[0] ?? "") && cmd.includes(String(h.pid))) h.pastaPid = Number(e.name);
    } catch {
      // ended meanwhile
    }
  }
}

/** End the holder (its namespaces go with it; pasta quits when its namespace goes). */
export function stopHolder(h: HolderState): void {
  for (const pid of [h.pid, h.pastaPid]) {
    if (pid === undefined) continue;
    try {
      if (pid === h.pid ? holderAlive(h) : true) Deno.kill(pid, "SIGKILL");
    } catch {
      // gone already
    }
  }
}

/** Create a network's bridge in the shared namespace, with the gateway address, and masquerade its subnet (best effort). */
export async function addBridge(h: HolderState, b: BridgeConfig): Promise<void> {
  const prefix = b.subnet.split("/")[1];
  await ipIn(h.pid, h.pid, [
    `link add ${b.bridge} type bridge`,
    `addr add ${b.gateway}/${prefix} dev ${b.bridge}`,
    // no duplicate address detection: the /64 is ours alone, and DAD would hold the address back
    ...(b.gateway6 ? [`addr add ${b.gateway6}/64 dev ${b.bridge} nodad`] : []),
    `link set ${b.bridge} up`,
  ], `create the bridge "${b.bridge}"`);
  if (h.pastaPid !== undefined) {
    await shIn(h.pid, `iptables -t nat -A POSTROUTING -s ${b.subnet} ! -o ${b.bridge} -j MASQUERADE 2>/dev/null`);
  }
}

/** The priority of nook's isolation rules in the shared namespace's routing policy. */
const ISOLATION_PREF = 100;

/**
 * Keep user networks apart: the shared namespace routes between its bridges (it forwards for
 * egress), so a member of one network could reach another network's members through it. One
 * `prohibit` policy rule per ordered pair of bridges (in on one, to the other's subnet) makes
 * such a connection fail at once (EHOSTUNREACH), with iproute2 alone: no firewall tool is
 * needed in the user namespace. The rules are rebuilt whole from the networks that exist.
 */
export async function isolateBridges(h: HolderState, bridges: readonly BridgeConfig[]): Promise<void> {
  const rules: string[] = [];
  const rules6: string[] = [];
  for (const a of bridges) {
    for (const b of bridges) {
      if (a.bridge === b.bridge) continue;
      rules.push(`rule add pref ${ISOLATION_PREF} iif ${a.bridge} to ${b.subnet} prohibit`);
      if (b.subnet6) rules6.push(`rule add pref ${ISOLATION_PREF} iif ${a.bridge} to ${b.subnet6} prohibit`);
    }
  }
  // flush ours (bounded: at most one per pair of 256 networks), then add the current set
  const flushed = await shIn(
    h.pid,
    `for f in -4 -6; do i=0; while [ $i -lt 70000 ] && ip $f rule del pref ${ISOLATION_PREF} 2>/dev/null; do i=$((i+1)); done; done; true`,
  );
  if (!flushed) {
    throw new NetworkError("Cannot reset the rules that keep user networks apart", {
      op: "ip rule",
      hint: "check that iproute2 is installed and that user namespaces work here (nook doctor)",
    });
  }
  if (rules.length) await ipIn(h.pid, h.pid, rules, "keep the user networks apart");
  if (rules6.length) await ipIn(h.pid, h.pid, rules6, "keep the user networks apart (IPv6)", "-6");
}

/** Delete an interface of the shared namespace (a veth end: its peer goes with it); absent is fine. */
export async function removeLink(h: HolderState, name: string): Promise<void> {
  await ipIn(h.pid, h.pid, [`link del ${name}`], `remove the interface "${name}"`).catch(() => {});
}

/** Delete a network's bridge (its veths are gone with their containers' namespaces). */
export async function removeBridge(h: HolderState, bridge: string): Promise<void> {
  await ipIn(h.pid, h.pid, [`link del ${bridge}`], `remove the bridge "${bridge}"`).catch(() => {});
}

/**
 * Connect a container whose network namespace `pid` holds: a veth pair made in the shared
 * namespace, one end on the bridge, the other moved into the container's namespace as `eth0`
 * with its address and a default route through the bridge.
 *
 * `mac`: the container's end's address (what inspect shows), else the kernel's random one.
 * `configure: false` leaves the container's end as it arrives (down, no address): its plan
 * child configures it ({@link containerSide}); the interface's index in the container's
 * namespace is returned for that, read in the same `ip` process (the bridge end's peer).
 */
export async function connectVeth(
  h: HolderState,
  pid: number,
  b: BridgeConfig,
  veth: string,
  ip: string,
  ifname = "eth0",
  ip6?: string,
  configure = true,
  mac?: string,
): Promise<number | undefined> {
  const out = await ipIn(h.pid, h.pid, [
    `link add ${veth} type veth peer name ${ifname}${mac ? ` address ${mac}` : ""} netns ${pid}`,
    `link set ${veth} master ${b.bridge} up`,
    ...(configure ? [] : [`link show dev ${veth}`]),
  ], `connect the container to the bridge "${b.bridge}"`);
  if (!configure) {
    // "7: nkv…@if2: <…>": the peer's index, in the namespace it was made in (the container's)
    const index = Number(/^\d+: [^:@]+@if(\d+):/m.exec(out)?.[1]);
    if (!index) throw new NetworkError(`Cannot find the container's end of "${veth}"`, { op: "ip", hint: "check iproute2's version (ip link show)" });
    return index;
  }
  await ipIn(h.pid, pid, [
    `addr add ${ip}/${b.subnet.split("/")[1]} dev ${ifname}`,
    ...(ip6 ? [`addr add ${ip6}/64 dev ${ifname} nodad`] : []),
    `link set ${ifname} up`,
    ...(ifname === "eth0" ? [`route add default via ${b.gateway}`] : []),
    ...(ifname === "eth0" && ip6 && b.gateway6 ? [`route add default via ${b.gateway6}`] : []),
  ], `configure the container's interface ${ifname}`);
  return undefined;
}

/**
 * The container's side of one veth, as its plan child configures it (netlink.ts): what
 * {@link connectVeth} gives `ip` in the container's namespace otherwise.
 */
export function containerSide(b: BridgeConfig, index: number, ip: string, ifname: string, ip6?: string): InterfaceSetup {
  return {
    index,
    ip,
    prefix: Number(b.subnet.split("/")[1]),
    ...(ip6 ? { ip6 } : {}),
    ...(ifname === "eth0" ? { gateway: b.gateway, ...(b.gateway6 ? { gateway6: b.gateway6 } : {}) } : {}),
  };
}

/**
 * Shape a container's egress on its interfaces (`--network-rate`): `tc` run inside the shared
 * user namespace and the container's network namespace (`pid`), where nook is root, as the
 * veths are configured with `ip`. Neither the host nor another container is touched.
 */
export async function shapeEgress(h: HolderState, pid: number, ifnames: readonly string[], bits: number): Promise<void> {
  if (!ifnames.length) return;
  const r = await run(
    ["nsenter", `--user=/proc/${h.pid}/ns/user`, `--net=/proc/${pid}/ns/net`, "tc", "-batch", "-"],
    rateCommands(ifnames, bits).join("\n") + "\n",
  );
  if (!r.ok) {
    throw new NetworkError(`Cannot limit the container's network rate: ${r.err || "tc failed"}`, {
      op: "tc",
      hint: "check that tc (iproute2) is installed and that the kernel has the tbf qdisc (sch_tbf)",
    });
  }
}

/** Whether an interface exists in the shared namespace (for tests and inspect). */
export function linkExists(h: HolderState, name: string): Promise<boolean> {
  return shIn(h.pid, `ip link show ${name} >/dev/null 2>&1`);
}

/**
 * Rewrite the block nook keeps in a container's /etc/hosts, in place: the file is bind-mounted
 * into the running container, so it is written through the same inode (truncate, write), never
 * replaced by a rename. Lines outside the block are the container's own.
 */
export function writeHostsBlock(path: string, lines: string[]): void {
  const BEGIN = "# nook networks: begin";
  const END = "# nook networks: end";
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch {
    return; // the container's files are gone: nothing to keep current
  }
  const start = text.indexOf(BEGIN);
  const end = text.indexOf(END);
  const base = start >= 0 && end > start ? text.slice(0, start) + text.slice(end + END.length + 1) : text;
  const next = (base.endsWith("\n") || base === "" ? base : base + "\n") + [BEGIN, ...lines, END].join("\n") + "\n";
  if (next === text) return;
  rewriteInPlace(path, next);
}

/** One name-server entry: a container's addresses on a network and the names it answers to there. */
export interface DnsEntry {
  /** Container id. */
  id: string;
  /** IPv4 address on the network. */
  ip: string;
  /** IPv6 address on the network, when it has one. */
  ip6?: string | undefined;
  /** Name, aliases, hostname. */
  names: string[];
}

/** Where Debian (and Fedora) put netavark's name server; PATH is looked at last. */
const AARDVARK_PATHS = ["/usr/lib/podman/aardvark-dns", "/usr/libexec/podman/aardvark-dns"];

/** The aardvark-dns binary, or undefined when it is not installed. */
export function aardvarkPath(): string | undefined {
  const path = (Deno.env.get("PATH") ?? "/usr/bin:/bin").split(":").map((d) => `${d}/aardvark-dns`);
  for (const p of [...AARDVARK_PATHS, ...path]) {
    try {
      if (Deno.statSync(p).isFile) return p;
    } catch {
      // not there
    }
  }
  return undefined;
}

/** The pid of the name server serving `dir`, when one runs (its pid file, and a command line that names the dir). */
function dnsPid(dir: string): number | undefined {
  try {
    const pid = Number(Deno.readTextFileSync(`${dir}/aardvark.pid`).trim());
    if (!(pid > 0)) return undefined;
    const cmd = Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0");
    return cmd.includes(dir) && !isZombie(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Keep the name server of the shared namespace current: one aardvark-dns (Debian's, the one
 * netavark runs; a static program, so no Deno process stays behind) serves every network on
 * its bridge's gateway address, port 53, answering for the members of the networks the asking
 * container is on and forwarding other names to the host's resolvers. Its configuration is one
 * file per network in `dir`, rewritten here (each through a rename: it reads them whole), then
 * SIGHUP makes it read them again. It is started in the holder's user and network namespaces,
 * where binding port 53 of the bridge needs the rights nook has there.
 *
 * Returns whether a name server serves the networks; false when aardvark-dns is not installed
 * (names then resolve through /etc/hosts alone).
 */
export async function syncDns(
  h: HolderState,
  dir: string,
  networks: readonly { name: string; gateway: string; gateway6?: string | undefined; entries: DnsEntry[] }[],
): Promise<boolean> {
  const bin = aardvarkPath();
  if (!bin) return false;
  Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const want = new Set<string>();
  for (const n of networks) {
    const lines = [[n.gateway, ...(n.gateway6 ? [n.gateway6] : [])].join(",")];
    for (const e of n.entries) {
      const names = e.names.filter((x) => /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(x));
      if (names.length) lines.push(`${e.id} ${e.ip} ${e.ip6 ?? ""} ${names.join(",")}`);
    }
    const text = lines.join("\n") + "\n";
    want.add(n.name);
    let old = "";
    try {
      old = Deno.readTextFileSync(`${dir}/${n.name}`);
    } catch {
      // new
    }
    if (old !== text) {
      Deno.writeTextFileSync(`${dir}/.${n.name}.tmp`, text);
      Deno.renameSync(`${dir}/.${n.name}.tmp`, `${dir}/${n.name}`);
    }
  }
  for (const e of Deno.readDirSync(dir)) {
    if (e.isFile && !e.name.startsWith(".") && e.name !== "aardvark.pid" && !want.has(e.name)) Deno.removeSync(`${dir}/${e.name}`);
  }
  const pid = dnsPid(dir);
  if (!networks.length) {
    if (pid !== undefined) Deno.kill(pid, "SIGKILL");
    return true;
  }
  if (pid !== undefined) {
    Deno.kill(pid, "SIGHUP");
    return true;
  }
  // it forks into the background once it listens, and writes its pid file
  const r = await run(["nsenter", `--user=/proc/${h.pid}/ns/user`, `--net=/proc/${h.pid}/ns/net`, bin, "--config", dir, "-p", "53", "run"]);
  if (!r.ok || dnsPid(dir) === undefined) {
    throw new NetworkError(`The name server of the user networks did not start: ${r.err.split("\n").slice(-1)[0] || "aardvark-dns failed"}`, {
      op: "aardvark-dns",
      hint: "check that aardvark-dns works here, or remove it to resolve names through /etc/hosts alone",
    });
  }
  return true;
}

/** End the name server of the shared namespace (with its holder). */
export function stopDns(dir: string): void {
  const pid = dnsPid(dir);
  if (pid !== undefined) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch {
      // gone already
    }
  }
}

/**
 * Put `ip` first among a running container's nameservers, in place (the file is bind-mounted
 * into it): the other servers stay after it, for names the network's server cannot forward.
 */
export function preferNameserver(path: string, ip: string): void {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch {
    return;
  }
  const line = `nameserver ${ip}`;
  const rest = text.split("\n").filter((l) => l.trim() !== line);
  const at = rest.findIndex((l) => /^\s*nameserver\s/.test(l));
  rest.splice(at < 0 ? rest.length : at, 0, line);
  const next = rest.join("\n").replace(/\n*$/, "\n");
  if (next === text) return;
  rewriteInPlace(path, next);
}

/**
 * Publish a user-network container's ports: one pasta of its own, attached to the container's
 * network namespace only to listen on the host's ports and splice connections to the
 * container's loopback (no --config-net: its tap, `nookfwd0`, gets no address or route, so the
 * bridge stays the container's way out). pasta puts itself in the background once it listens,
 * and quits when the container's process ends. Clients reach the ports through the host's
 * loopback, which is where nook's tests and a workstation's browser are.
 */
export async function publishPorts(pid: number, ports: readonly PortMapping[], pidFile: string): Promise<void> {
  const argv = ["pasta", "--quiet", "-I", "nookfwd0", "-P", pidFile];
  for (const p of ports) argv.push(p.protocol === "tcp" ? "-t" : "-u", pastaPortSpec(p));
  if (!ports.some((p) => p.protocol === "tcp")) argv.push("-t", "none");
  if (!ports.some((p) => p.protocol === "udp")) argv.push("-u", "none");
  argv.push("-T", "none", "-U", "none", String(pid));
  const r = await run(argv);
  if (!r.ok) {
    const why = r.err.split("\n").filter((l) => l && !/syslog/.test(l)).slice(-2).join("; ");
    throw new NetworkError(`pasta cannot publish the ports of the container: ${why || "it failed"}`, {
      op: "pasta",
      hint: "check that the host ports are free and not privileged, and that pasta is installed (Debian: passt)",
    });
  }
  // pasta holds the namespace itself, so it does not see the container end: a watcher (sh and
  // coreutils' tail --pid, in a session of their own) ends it when the container's process does
  const pastaPid = Number(Deno.readTextFileSync(pidFile).trim());
  try {
    Deno.removeSync(pidFile);
  } catch {
    // it is only read once
  }
  if (!(pastaPid > 0)) return;
  const watcher = new Deno.Command("setsid", {
    args: ["sh", "-c", 'tail --pid="$1" -f /dev/null; kill "$2"', "nook-port-watch", String(pid), String(pastaPid)],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  watcher.unref();
}

/**
 * Replace a file's content in place (same inode): the file is bind-mounted into containers,
 * where a rename would leave the mount on the old file.
 */
function rewriteInPlace(path: string, text: string): void {
  const f = Deno.openSync(path, { write: true, truncate: true });
  try {
    const bytes = new TextEncoder().encode(text);
    let off = 0;
    while (off < bytes.length) off += f.writeSync(bytes.subarray(off));
  } finally {
    f.close();
  }
}
