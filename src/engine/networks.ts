/**
 * User networks: `nook network create|ls|inspect|rm|prune`, and the attachment of containers to
 * them. A network is a record in the store (`DATA/networks/NAME.json`) and a bridge in the
 * per-user shared network namespace (src/network/shared_ns.ts), whose holder is recorded in
 * `DATA/networks/holder.json`. Every change happens under one lock (`DATA/networks/lock`), and
 * a record is written with its intent ("creating", "removing") before the bridge is touched: a
 * command killed halfway leaves a record the next one finishes or rolls back.
 *
 * Names resolve two ways, both kept current whenever a container joins or leaves: each member's
 * /etc/hosts (bind-mounted into it) holds a block with the address, name and aliases of every
 * member of its networks, rewritten in place; and, where aardvark-dns is installed, one name
 * server in the shared namespace answers on each bridge's gateway (what DNS-only clients such
 * as `nslookup`, or a proxy's resolver, need), and each member's resolv.conf names it first.
 *
 * @module
 */
import { dataDir } from "../paths/mod.ts";
import {
  addBridge,
  assignHostPorts,
  type BridgeConfig,
  connectVeth,
  containerSide,
  holderAlive,
  type HolderState,
  type InterfaceSetup,
  interfaceRequests,
  isolateBridges,
  NetworkError,
  preferNameserver,
  shapeEgress,
  stopDns,
  syncDns,
  type PortMapping,
  processStartTime,
  publishPorts,
  removeBridge,
  removeLink,
  startHolder,
  stopHolder,
  writeHostsBlock,
  writeNetworkState,
} from "../network/mod.ts";
import type { ContainerSpec, UserNetworkAttachment } from "../model/mod.ts";
import { detectIdMapping } from "../userns/mod.ts";
import { withLockAsync } from "./lock.ts";
import { crashPoint } from "./intent.ts";
import { USER_NETWORK_SYNC } from "./build_plan.ts";
import { containerDir, fromJson, readRecord, toJson, writeAtomic } from "./store.ts";
import { ContainerError } from "./errors.ts";
import { resolveContainer } from "./names.ts";
import { currentStatus } from "./status.ts";
import { mark } from "../trace/mod.ts";

/** A container's entry in a network record. */
export interface NetworkMember {
  /** Container name ("" when it has none). */
  name: string;
  /** Its address. */
  ip: string;
  /** Its IPv6 address, on a network that has an IPv6 subnet. */
  ip6?: string;
  /** Its other names on this network. */
  aliases: string[];
  /** The veth end on the bridge (in the shared namespace). */
  veth: string;
  /** The interface's name inside the container (absent: `eth0`, the one with the default route). */
  ifname?: string;
}

/** A user network as recorded. */
export interface NetworkRecord {
  /** Name. */
  name: string;
  /** Random id (hex). */
  id: string;
  /** IPv4 subnet (a /24). */
  subnet: string;
  /** The bridge's address: the members' default route. */
  gateway: string;
  /** IPv6 subnet: a unique local /64 (`fdXX:XXXX:XXXX:N::/64`), absent on networks made before IPv6. */
  subnet6?: string;
  /** The bridge's IPv6 address (`…::1`). */
  gateway6?: string;
  /** The bridge's interface name in the shared namespace. */
  bridge: string;
  /** ISO creation time. */
  created: string;
  /** "ready", or the intent of a command that has not finished. */
  state: "creating" | "ready" | "removing";
  /** Members by container id. */
  members: Record<string, NetworkMember>;
}

/** Names nook takes for `--network` modes: a network cannot have one. */
const RESERVED = ["none", "host", "pasta", "slirp4netns", "bridge", "private", "auto", "default", "container"];

function dir(): string {
  return `${dataDir()}/networks`;
}

/** The name server's configuration: one file per network (src/network/shared_ns.ts, syncDns). */
function dnsDir(): string {
  return `${dir()}/dns`;
}

function recordPath(name: string): string {
  return `${dir()}/${name}.json`;
}

async function locked<T>(fn: () => Promise<T>): Promise<T> {
  Deno.mkdirSync(dir(), { recursive: true, mode: 0o700 });
  return await withLockAsync(`${dir()}/lock`, fn);
}

function readHolder(): HolderState | undefined {
  try {
    return fromJson<HolderState>(Deno.readTextFileSync(`${dir()}/holder.json`));
  } catch {
    return undefined;
  }
}

function readNet(name: string): NetworkRecord | undefined {
  try {
    return fromJson<NetworkRecord>(Deno.readTextFileSync(recordPath(name)));
  } catch {
    return undefined;
  }
}

function writeNet(n: NetworkRecord): void {
  writeAtomic(recordPath(n.name), toJson(n));
}

function allNets(): NetworkRecord[] {
  const out: NetworkRecord[] = [];
  try {
    for (const e of Deno.readDirSync(dir())) {
      if (!e.name.endsWith(".json") || e.name === "holder.json") continue;
      const n = readNet(e.name.slice(0, -5));
      if (n) out.push(n);
    }
  } catch {
    // no networks yet
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** Members whose container no longer exists leave (a run killed before its record, a removal that did not get here). */
function gc(n: NetworkRecord): boolean {
  let changed = false;
  for (const id of Object.keys(n.members)) {
    try {
      Deno.statSync(containerDir(id));
    } catch {
      delete n.members[id];
      changed = true;
    }
  }
  return changed;
}

/** Under the lock: finish or roll back what a killed command left, drop gone members. */
async function recover(): Promise<NetworkRecord[]> {
  const nets: NetworkRecord[] = [];
  const h = readHolder();
  for (const n of allNets()) {
    if (n.state !== "ready") {
      if (holderAlive(h)) await removeBridge(h, n.bridge);
      Deno.removeSync(recordPath(n.name));
      continue;
    }
    if (gc(n)) writeNet(n);
    nets.push(n);
  }
  if (!nets.length) {
    // no network is left: neither is its name server, nor its files
    stopDns(dnsDir());
    try {
      Deno.removeSync(dnsDir(), { recursive: true });
    } catch {
      // there was none
    }
  }
  if (!nets.length && h) {
    stopHolder(h);
    Deno.removeSync(`${dir()}/holder.json`);
  }
  return nets;
}

/** The running holder; started (and every recorded network's bridge made again) when it is not. */
async function ensureHolder(nets: NetworkRecord[]): Promise<HolderState> {
  const h = readHolder();
  if (holderAlive(h)) return h;
  stopDns(dnsDir()); // one that served a holder now gone
  const fresh = await startHolder(detectIdMapping());
  writeAtomic(`${dir()}/holder.json`, toJson(fresh));
  for (const n of nets) await addBridge(fresh, n);
  await isolateBridges(fresh, nets);
  return fresh;
}

/** The eight groups of an IPv6 address in text. */
function ip6Groups(text: string): number[] {
  const [head, tail] = text.split("::") as [string, string | undefined];
  const h = head ? head.split(":").map((x) => parseInt(x, 16)) : [];
  const t = tail ? tail.split(":").map((x) => parseInt(x, 16)) : [];
  return [...h, ...Array(8 - h.length - t.length).fill(0), ...t];
}

/** An IPv6 address in the kernel's (RFC 5952) text: the longest run of two or more zero groups as `::`. */
function ip6Text(groups: number[]): string {
  let best = -1, len = 0;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > len && j - i >= 2) [best, len] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((x) => x.toString(16));
  if (best < 0) return hex.join(":");
  return `${hex.slice(0, best).join(":")}::${hex.slice(best + len).join(":")}`;
}

/** Whether this kernel has IPv6 (a network namespace gets it unless it is off at boot: ipv6.disable=1, or no module). */
function ipv6Available(): boolean {
  try {
    return Deno.readTextFileSync("/proc/sys/net/ipv6/conf/default/disable_ipv6").trim() === "0";
  } catch {
    return false;
  }
}

function checkName(name: string): void {
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$/.test(name)) {
    throw new NetworkError(`Invalid network name "${name}"`, {
      hint: "names match [a-zA-Z0-9][a-zA-Z0-9_.-]* and have at most 64 characters",
    });
  }
  if (RESERVED.includes(name)) {
    throw new NetworkError(`The network name "${name}" is reserved`, {
      hint: "it names a --network mode: pick another name",
    });
  }
}

function parseSubnet(text: string): { base: number[]; prefix: number } {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(text);
  const base = m ? m.slice(1, 5).map(Number) : [];
  const prefix = m ? Number(m[5]) : -1;
  if (!m || base.some((x) => x > 255) || prefix !== 24 || base[3] !== 0) {
    throw new NetworkError(`Invalid subnet "${text}"`, {
      hint: "give an IPv4 /24 network, e.g. --subnet 10.89.5.0/24",
    });
  }
  return { base, prefix };
}

/** Create a user network: its record, then its bridge (and the shared namespace, for the first one). */
export async function createNetwork(name: string, opts: { subnet?: string | undefined } = {}): Promise<NetworkRecord> {
  checkName(name);
  return await locked(async () => {
    const nets = await recover();
    if (nets.some((n) => n.name === name)) {
      throw new NetworkError(`A network named "${name}" exists already`, {
        hint: `use it, or remove it first: nook network rm ${name}`,
      });
    }
    let subnet = opts.subnet;
    if (subnet !== undefined) {
      parseSubnet(subnet);
      const clash = nets.find((n) => n.subnet === subnet);
      if (clash) {
        throw new NetworkError(`The subnet "${subnet}" is taken by the network "${clash.name}"`, {
          hint: "pick another --subnet",
        });
      }
    } else {
      const used = new Set(nets.map((n) => n.subnet));
      for (let i = 0; i < 256 && subnet === undefined; i++) {
        if (!used.has(`10.89.${i}.0/24`)) subnet = `10.89.${i}.0/24`;
      }
      if (subnet === undefined) {
        throw new NetworkError("No free subnet is left in 10.89.0.0/16", { hint: "give one with --subnet" });
      }
    }
    const { base } = parseSubnet(subnet);
    const usedBridges = new Set(nets.map((n) => n.bridge));
    let k = 0;
    while (usedBridges.has(`nook${k}`)) k++;
    const id = crypto.randomUUID().replaceAll("-", "");
    // a unique local IPv6 /64 (RFC 4193: fd + a random 40-bit global id), when the kernel has IPv6
    const g = [0xfd00 + parseInt(id.slice(0, 2), 16), parseInt(id.slice(2, 6), 16), parseInt(id.slice(6, 10), 16), base[2]!];
    const v6 = ipv6Available() ? { subnet6: `${ip6Text([...g, 0, 0, 0, 0])}/64`, gateway6: ip6Text([...g, 0, 0, 0, 1]) } : {};
    const rec: NetworkRecord = {
      name,
      id,
      subnet,
      ...v6,
      gateway: `${base[0]}.${base[1]}.${base[2]}.1`,
      bridge: `nook${k}`,
      created: new Date().toISOString(),
      state: "creating",
      members: {},
    };
    writeNet(rec); // the intent first: a command killed from here on leaves it for the next to roll back
    crashPoint("network.create");
    const h = await ensureHolder(nets);
    await addBridge(h, rec);
    await isolateBridges(h, [...nets, rec]);
    rec.state = "ready";
    writeNet(rec);
    return rec;
  });
}

/** Every network (members whose container is gone dropped). */
export async function listNetworks(): Promise<NetworkRecord[]> {
  return await locked(recover);
}

/** One network, or an error naming it. */
export async function inspectNetwork(name: string): Promise<NetworkRecord> {
  const n = (await listNetworks()).find((x) => x.name === name);
  if (!n) throw missing(name);
  return n;
}

function missing(name: string): NetworkError {
  return new NetworkError(`No network named "${name}"`, {
    hint: "nook network ls lists them; nook network create NAME makes one",
  });
}

/** Whether a network of that name exists (`--network NAME` versus a mode). */
export function networkExists(name: string): boolean {
  const n = readNet(name);
  return n !== undefined;
}

/** Remove networks: refused while a container is on one. The last one takes the shared namespace with it. */
export async function removeNetwork(name: string): Promise<void> {
  await locked(async () => {
    const n = (await recover()).find((x) => x.name === name);
    if (!n) throw missing(name);
    const users = Object.entries(n.members).map(([id, m]) => m.name || id.slice(0, 12));
    if (users.length) {
      throw new NetworkError(`The network "${name}" is in use by ${users.map((u) => `"${u}"`).join(", ")}`, {
        hint: `remove those containers first (nook rm -f ${users.join(" ")})`,
      });
    }
    n.state = "removing";
    writeNet(n);
    const h = readHolder();
    if (holderAlive(h)) await removeBridge(h, n.bridge);
    Deno.removeSync(recordPath(name));
    const left = await recover(); // the last network ends the holder
    if (left.length && holderAlive(h)) {
      await isolateBridges(h, left);
      await refreshNames([]);
    }
  });
}

/** Remove every network no container is on; returns their names. */
export async function pruneNetworks(): Promise<string[]> {
  const unused = (await listNetworks()).filter((n) => Object.keys(n.members).length === 0).map((n) => n.name);
  const done: string[] = [];
  for (const name of unused) {
    try {
      await removeNetwork(name);
      done.push(name);
    } catch {
      // joined meanwhile, or removed by another command
    }
  }
  return done;
}

function checkAliases(aliases: readonly string[]): void {
  for (const a of aliases) {
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(a)) {
      throw new NetworkError(`Invalid network alias "${a}"`, { hint: "aliases match [a-zA-Z0-9][a-zA-Z0-9_.-]*" });
    }
  }
}

/**
 * Under the lock: give the container a free address on `n`, and an interface name and veth of
 * its own (its first network is `eth0`, with the default route; the next ones `eth1`, `eth2`…).
 */
function reserve(n: NetworkRecord, nets: readonly NetworkRecord[], id: string, name: string, aliases: readonly string[]): NetworkMember {
  const taken = new Set([n.gateway, ...Object.values(n.members).map((m) => m.ip)]);
  const prefix = n.gateway.slice(0, n.gateway.lastIndexOf(".") + 1);
  let ip: string | undefined;
  for (let i = 2; i < 255 && ip === undefined; i++) if (!taken.has(prefix + i)) ip = prefix + i;
  if (!ip) {
    throw new NetworkError(`The network "${n.name}" has no free address left`, {
      hint: "remove containers from it",
    });
  }
  const used = new Set(nets.flatMap((x) => x.members[id] ? [x.members[id]!.ifname ?? "eth0"] : []));
  let k = 0;
  while (used.has(`eth${k}`) && k < 64) k++;
  if (k === 64) throw new NetworkError("A container can be on at most 64 networks", { hint: "disconnect it from one first" });
  // interface names have at most 15 bytes: the id's start names the container, the digit the interface
  const veth = k === 0 ? `nkv${id.slice(0, 11)}` : `nkv${id.slice(0, 9)}e${k}`;
  // the same host number in the IPv6 /64: 10.89.0.5 is …::5
  const ip6 = n.subnet6 ? ip6Text([...ip6Groups(n.subnet6.split("/")[0]!).slice(0, 4), 0, 0, 0, Number(ip.split(".")[3])]) : undefined;
  return { name, ip, ...(ip6 ? { ip6 } : {}), aliases: [...aliases], veth, ...(k === 0 ? {} : { ifname: `eth${k}` }) };
}

/**
 * Reserve a container's place on a network (before its record exists: a run killed later
 * leaves a member whose container directory the sweep removes, and gc drops it). Returns the
 * attachment for the spec and the user namespace to create the container in. A second and
 * further network of the same container gets the next interface (`eth1`…).
 */
export async function joinNetwork(
  network: string,
  id: string,
  name: string,
  aliases: readonly string[],
  ports: readonly PortMapping[] = [],
): Promise<{ attachment: UserNetworkAttachment; userns: string }> {
  checkAliases(aliases);
  return await locked(async () => {
    const nets = await recover();
    const n = nets.find((x) => x.name === network);
    if (!n) throw missing(network);
    if (n.members[id]) {
      throw new NetworkError(`The network "${network}" is named twice`, { hint: "give each --network once" });
    }
    const h = await ensureHolder(nets);
    const m = reserve(n, nets, id, name, aliases);
    n.members[id] = m;
    writeNet(n);
    return {
      attachment: {
        network,
        ip: m.ip,
        aliases: [...aliases],
        ...(ports.length ? { ports: [...ports] } : {}),
        linkSetup: `${containerDir(id)}/link-setup.netlink`,
      },
      userns: `/proc/${h.pid}/ns/user`,
    };
  });
}

/**
 * Wire a container whose network namespace `pid` holds to every network it is a member of, as
 * recorded (at its start: the run's first network and those it was connected to since).
 * Under the lock.
 */
async function wireAll(id: string, pid: number, first: string, rate?: number, linkSetup?: string): Promise<void> {
  const h = readHolder();
  const mine = allNets().filter((n) => n.state === "ready" && n.members[id]);
  if (!holderAlive(h)) {
    throw new NetworkError(`The network "${mine[0]?.name ?? first}" is gone`, {
      hint: "create it again (nook network create) and run the container again",
    });
  }
  // eth0 first: the default route goes through it
  mine.sort((a, b) => (a.members[id]!.ifname ?? "eth0").localeCompare(b.members[id]!.ifname ?? "eth0"));
  // With `linkSetup`, the plan child configures the container's ends after this SYNC (no ip
  // process in its namespace): the requests are written here, for every interface made now.
  const sides: InterfaceSetup[] = [];
  for (const n of mine) {
    const m = n.members[id]!;
    const ifname = m.ifname ?? "eth0";
    const index = await connectVeth(h, pid, n as BridgeConfig, m.veth, m.ip, ifname, m.ip6, linkSetup === undefined, macOf(m.ip));
    if (index !== undefined) sides.push(containerSide(n as BridgeConfig, index, m.ip, ifname, m.ip6));
  }
  if (linkSetup !== undefined) Deno.writeFileSync(linkSetup, interfaceRequests(sides), { mode: 0o600 });
  mark("veths");
  if (rate !== undefined) await shapeEgress(h, pid, mine.map((n) => n.members[id]!.ifname ?? "eth0"), rate);
  await refreshNames(mine);
  mark("names");
}

/**
 * The plan's SYNC step for a container on a user network: its network namespace exists (owned
 * by the shared user namespace), so make its veths, and tell every member the new address.
 */
export function userNetworkSync(spec: ContainerSpec): ((tag: number, pid: number) => Promise<void>) | undefined {
  const att = spec.userNetwork;
  if (!att) return undefined;
  return async (tag, pid) => {
    if (tag !== USER_NETWORK_SYNC) return;
    mark("sync");
    await locked(() => wireAll(spec.id, pid, att.network, att.rate, att.linkSetup));
  };
}

/**
 * The MAC address of a container's interface on a user network: docker's scheme, a locally
 * administered 02:42 followed by the IPv4 address (unique: the networks' subnets do not overlap).
 */
export function macOf(ip: string): string {
  return ["02", "42", ...ip.split(".").map((b) => Number(b).toString(16).padStart(2, "0"))].join(":");
}

/** One user network of a container, as docker's `inspect` shows it (NetworkSettings.Networks). */
export interface EndpointSettings {
  NetworkID: string;
  Aliases: string[];
  Gateway: string;
  IPAddress: string;
  IPPrefixLen: number;
  IPv6Gateway: string;
  GlobalIPv6Address: string;
  GlobalIPv6PrefixLen: number;
  MacAddress: string;
}

/** The user networks a container is on, by name, with its addresses there (no process, no lock: the records). */
export function userNetworksOf(id: string): Record<string, EndpointSettings> {
  const out: Record<string, EndpointSettings> = {};
  for (const n of allNets().filter((x) => x.state === "ready").sort((a, b) => a.name.localeCompare(b.name))) {
    const m = n.members[id];
    if (!m) continue;
    out[n.name] = {
      NetworkID: n.id,
      Aliases: [...m.aliases],
      Gateway: n.gateway,
      IPAddress: m.ip,
      IPPrefixLen: Number(n.subnet.split("/")[1]),
      IPv6Gateway: m.ip6 ? n.gateway6 ?? "" : "",
      GlobalIPv6Address: m.ip6 ?? "",
      GlobalIPv6PrefixLen: m.ip6 ? 64 : 0,
      MacAddress: macOf(m.ip),
    };
  }
  return out;
}

/** A container as `network connect|disconnect` needs it: in the shared user namespace, with its pid when it runs. */
function connectable(ref: string): { id: string; name: string; pid?: number; rate?: number } {
  const id = resolveContainer(ref);
  const rec = readRecord(id);
  if (!rec) throw new ContainerError(`No such container: ${ref}`, { hint: "nook ps -a lists the containers" });
  if (!rec.spec.userNetwork) {
    // its network namespace is owned by a user namespace of its own: the shared one has no rights over it
    throw new NetworkError(`The container "${ref}" is not on a user network, so it cannot be connected to one`, {
      hint: "create it on one (nook run --network NAME …); connect then adds further networks",
    });
  }
  const s = currentStatus(id);
  const base = { id, name: rec.name ?? "", ...(rec.spec.userNetwork.rate !== undefined ? { rate: rec.spec.userNetwork.rate } : {}) };
  return s.state === "running" && s.pid > 0 ? { ...base, pid: s.pid } : base;
}

/**
 * `network connect`: put a container on one more network. A running container gets its veth
 * (the next `ethN`) at once and every member of the network learns its name; a stopped one is
 * wired at its next start.
 */
export async function connectNetwork(network: string, ref: string, aliases: readonly string[] = []): Promise<NetworkMember> {
  checkAliases(aliases);
  const c = connectable(ref);
  return await locked(async () => {
    const nets = await recover();
    const n = nets.find((x) => x.name === network);
    if (!n) throw missing(network);
    if (n.members[c.id]) {
      throw new NetworkError(`The container "${ref}" is on the network "${network}" already`, {
        hint: `disconnect it first to change its aliases: nook network disconnect ${network} ${ref}`,
      });
    }
    const h = await ensureHolder(nets);
    const m = reserve(n, nets, c.id, c.name, aliases);
    n.members[c.id] = m;
    writeNet(n);
    if (c.pid !== undefined) {
      try {
        await connectVeth(h, c.pid, n as BridgeConfig, m.veth, m.ip, m.ifname ?? "eth0", m.ip6, true, macOf(m.ip));
        if (c.rate !== undefined) await shapeEgress(h, c.pid, [m.ifname ?? "eth0"], c.rate);
      } catch (err) {
        delete n.members[c.id];
        writeNet(n);
        await removeLink(h, m.veth);
        throw err;
      }
    }
    await refreshNames(nets.filter((x) => x.members[c.id]));
    return m;
  });
}

/** `network disconnect`: take a container off a network; its interface there goes, and the members forget its name. */
export async function disconnectNetwork(network: string, ref: string): Promise<void> {
  const id = resolveContainer(ref);
  await locked(async () => {
    const nets = await recover();
    const n = nets.find((x) => x.name === network);
    if (!n) throw missing(network);
    const m = n.members[id];
    if (!m) {
      throw new NetworkError(`The container "${ref}" is not on the network "${network}"`, {
        hint: `nook network inspect ${network} lists its members`,
      });
    }
    const h = readHolder();
    // deleting the bridge's end takes the container's end (in its namespace) with it
    if (holderAlive(h)) await removeLink(h, m.veth);
    delete n.members[id];
    writeNet(n);
    await refreshNames([...nets.filter((x) => x.members[id]), n], [id]);
  });
}

/**
 * The container leaves every network it is on (after `rm`); the others' hosts files forget it.
 * `links`: delete its veths now (after a `--rm` run whose namespace has just ended, the kernel
 * is deleting them already).
 */
export async function leaveNetworks(id: string, links = true): Promise<void> {
  if (!allNets().some((n) => n.members[id])) return;
  await locked(async () => {
    const h = readHolder();
    const left: NetworkRecord[] = [];
    for (const n of allNets()) {
      const m = n.members[id];
      if (!m) continue;
      // the kernel drops a veth whose namespace ended only later, in its cleanup work: drop it now
      if (links && holderAlive(h)) await removeLink(h, m.veth);
      delete n.members[id];
      writeNet(n);
      left.push(n);
    }
    await refreshNames(left);
  });
}

/**
 * After a change of membership: the name server's files (every network: it reads them all),
 * then the /etc files of the members of the `changed` networks ({@link refreshHosts}).
 */
async function refreshNames(changed: readonly NetworkRecord[], extra: readonly string[] = []): Promise<void> {
  const nets = allNets().filter((n) => n.state === "ready");
  const h = readHolder();
  let dns = false;
  if (holderAlive(h)) {
    const records = new Map(nets.flatMap((n) => Object.keys(n.members)).map((id) => [id, readRecord(id)]));
    dns = await syncDns(
      h,
      dnsDir(),
      nets.map((n) => ({
        name: n.name,
        gateway: n.gateway,
        gateway6: n.gateway6,
        entries: Object.entries(n.members).flatMap(([id, m]) => {
          const r = records.get(id);
          return r ? [{ id, ip: m.ip, ip6: m.ip6, names: [...new Set([m.name, ...m.aliases, r.spec.hostname].filter((x) => x))] }] : [];
        }),
      })),
    );
  }
  refreshHosts(changed, extra, dns);
}

/**
 * Write the names each member of `changed` networks can reach into its /etc/hosts, in place:
 * the members of every network it is on, and no one else's (a container sees no name of a
 * network it is not on). `extra` containers (one just disconnected) are rewritten too. With a
 * name server (`dns`), each one's resolv.conf names its first network's gateway first.
 */
function refreshHosts(changed: readonly NetworkRecord[], extra: readonly string[] = [], dns = false): void {
  const nets = allNets().filter((n) => n.state === "ready");
  const ids = new Set([...changed.flatMap((n) => Object.keys(readNet(n.name)?.members ?? n.members)), ...extra]);
  const records = new Map<string, ReturnType<typeof readRecord>>();
  const rec = (id: string) => {
    if (!records.has(id)) records.set(id, readRecord(id));
    return records.get(id);
  };
  for (const id of ids) {
    const r = rec(id);
    if (!r) continue;
    const lines: string[] = [];
    for (const n of nets) {
      if (!n.members[id]) continue;
      for (const [other, m] of Object.entries(n.members)) {
        const o = rec(other);
        if (!o) continue;
        const names = [...new Set([m.name, ...m.aliases, o.spec.hostname].filter((x) => x))];
        for (const addr of [m.ip, ...(m.ip6 ? [m.ip6] : [])]) {
          const line = `${addr}\t${names.join(" ")}`;
          if (!lines.includes(line)) lines.push(line);
        }
      }
    }
    writeHostsBlock(r.spec.etcFiles.hosts, lines);
    const first = nets.find((n) => n.members[id] && !n.members[id]!.ifname) ?? nets.find((n) => n.members[id]);
    if (dns && first) preferNameserver(r.spec.etcFiles.resolvConf, first.gateway);
  }
}

/**
 * Once a user-network container's program runs (`pid`): publish its ports (host ports picked
 * now for `-p 80`), and record them where `nook port`, `ps` and `inspect` read them. A container
 * whose ports cannot be published is ended: it would run unreachable.
 */
export async function publishUserNetworkPorts(spec: ContainerSpec, pid: number): Promise<void> {
  const wanted = spec.userNetwork?.ports;
  if (!wanted?.length) return;
  try {
    const ports = await assignHostPorts(wanted);
    await publishPorts(pid, ports, `${containerDir(spec.id)}/ports-pasta.pid`);
    const started = processStartTime(pid);
    writeNetworkState(containerDir(spec.id), {
      id: spec.id,
      mode: spec.network,
      ports,
      pid,
      ...(started ? { started } : {}),
    });
  } catch (err) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch {
      // ended already
    }
    throw err;
  }
}
