import { NetworkError } from "./network_error.ts";
import { isIp, isIpv6, parseIpv4, procHexIpv4 } from "./_addr.ts";

/** Transport protocols a port can be published for. */
export type Protocol = "tcp" | "udp";

/** A published port (or a run of `range` consecutive ports): host side → container side. */
export interface PortMapping {
  /** Host address to listen on; "" = every address. */
  hostIp: string;
  /** First host port; 0 = pick a free one before the container starts. */
  hostPort: number;
  /** First port in the container. */
  containerPort: number;
  /** tcp or udp. */
  protocol: Protocol;
  /** How many consecutive ports, at least 1. */
  range: number;
}

const PUBLISH_HINT =
  "use -p [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/tcp|/udp], e.g. -p 8080:80, -p 127.0.0.1:5353:53/udp, " +
  "-p 8000-8009:8000-8009";

function bad(spec: string, why: string): NetworkError {
  return new NetworkError(`Invalid port publication "${spec}": ${why}`, { hint: PUBLISH_HINT });
}

function portRange(spec: string, text: string, what: string): [number, number] {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(text);
  if (!m) throw bad(spec, `${what} "${text}" is not a port or a range of ports`);
  const a = Number(m[1]);
  const b = m[2] === undefined ? a : Number(m[2]);
  if (a < 1 || b > 65535 || b < a) throw bad(spec, `${what} "${text}" is not within 1-65535 (low-high)`);
  return [a, b - a + 1];
}

/**
 * Parse one `-p` value: `[hostIP:][hostPort:]containerPort[/proto]`, each
 * port possibly a range `a-b`; an IPv6 host address goes in brackets
 * (`[::1]:8080:80`). An empty host port (`-p 80`, `-p 127.0.0.1::80`) is
 * picked later, one free port per container port.
 */
export function parsePublish(spec: string): PortMapping[] {
  let rest = spec.trim();
  let protocol: Protocol = "tcp";
  const slash = rest.lastIndexOf("/");
  if (slash >= 0) {
    const p = rest.slice(slash + 1).toLowerCase();
    if (p !== "tcp" && p !== "udp") throw bad(spec, `protocol "${p}" is not supported (tcp or udp)`);
    protocol = p;
    rest = rest.slice(0, slash);
  }
  let hostIp = "";
  if (rest.startsWith("[")) {
    const end = rest.indexOf("]:");
    if (end < 0) throw bad(spec, "an IPv6 address in brackets must be followed by ':'");
    hostIp = rest.slice(1, end);
    if (!isIpv6(hostIp)) throw bad(spec, `"${hostIp}" is not an IPv6 address`);
    rest = rest.slice(end + 2);
    if (!rest.includes(":")) rest = `:${rest}`;
  }
  const parts = rest.split(":");
  let hostText = "";
  let ctrText: string;
  if (parts.length === 1) ctrText = parts[0]!;
  else if (parts.length === 2) [hostText, ctrText] = parts as [string, string];
  else if (parts.length === 3 && !hostIp) {
    hostIp = parts[0]!;
    [hostText, ctrText] = [parts[1]!, parts[2]!];
    if (hostIp && parseIpv4(hostIp) === undefined) throw bad(spec, `"${hostIp}" is not an IPv4 address`);
  } else throw bad(spec, "too many ':' (put an IPv6 address in brackets)");
  if (hostIp === "0.0.0.0") hostIp = "";
  const [ctrPort, ctrCount] = portRange(spec, ctrText, "container port");
  if (hostText === "") {
    return Array.from({ length: ctrCount }, (_, i) => ({
      hostIp,
      hostPort: 0,
      containerPort: ctrPort + i,
      protocol,
      range: 1,
    }));
  }
  const [hostPort, hostCount] = portRange(spec, hostText, "host port");
  if (hostCount !== ctrCount) {
    throw bad(spec, `the host range has ${hostCount} ports and the container range ${ctrCount}`);
  }
  return [{ hostIp, hostPort, containerPort: ctrPort, protocol, range: ctrCount }];
}

/** `-P`: every port the image exposes (`"80/tcp"`, `"53/udp"`, `"8080"`) on a free host port of every address. */
export function exposedToPublish(exposed: readonly string[]): PortMapping[] {
  return exposed.flatMap((e) => {
    const m = /^(\d{1,5})(?:-(\d{1,5}))?(?:\/(tcp|udp|sctp))?$/i.exec(e.trim());
    if (!m) {
      throw new NetworkError(`The image exposes "${e}", which is not a port`, {
        hint: "use -p to publish ports instead of -P",
      });
    }
    if (m[3]?.toLowerCase() === "sctp") return []; // neither pasta nor slirp4netns forwards SCTP
    return parsePublish(`${m[1]}${m[2] ? `-${m[2]}` : ""}/${(m[3] ?? "tcp").toLowerCase()}`);
  });
}

/** One bound socket of the host, from /proc/net/{tcp,udp}{,6}. */
export interface BoundPort {
  /** Local address ("0.0.0.0", "::" for wildcards). */
  ip: string;
  /** Local port. */
  port: number;
  /** tcp or udp. */
  protocol: Protocol;
}

/** Parse /proc/net/tcp(6) or udp(6) text: listening TCP sockets, bound UDP ones. */
export function parseProcNet(text: string, protocol: Protocol): BoundPort[] {
  const out: BoundPort[] = [];
  for (const line of text.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4) continue;
    const [addr, portHex] = f[1]!.split(":") as [string, string];
    // TCP: only LISTEN (0A). UDP: every bound socket (07 = unconnected, 01 = connected).
    if (protocol === "tcp" && f[3] !== "0A") continue;
    out.push({ ip: addr.length === 8 ? procHexIpv4(addr) : procHexIpv6(addr), port: parseInt(portHex, 16), protocol });
  }
  return out;
}

function procHexIpv6(hex: string): string {
  // four 32-bit words, each in host (little-endian) byte order
  const bytes: number[] = [];
  for (let w = 0; w < 4; w++) {
    const word = hex.slice(w * 8, w * 8 + 8);
    for (let b = 3; b >= 0; b--) bytes.push(parseInt(word.slice(b * 2, b * 2 + 2), 16));
  }
  const groups = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  const s = groups.join(":");
  return s === "0:0:0:0:0:0:0:0" ? "::" : s === "0:0:0:0:0:0:0:1" ? "::1" : s;
}

function readOr(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return "";
  }
}

/** Sockets bound on the host right now (nook runs in the host's network namespace). */
export function hostBoundPorts(): BoundPort[] {
  return [
    ...parseProcNet(readOr("/proc/net/tcp"), "tcp"),
    ...parseProcNet(readOr("/proc/net/tcp6"), "tcp"),
    ...parseProcNet(readOr("/proc/net/udp"), "udp"),
    ...parseProcNet(readOr("/proc/net/udp6"), "udp"),
  ];
}

const WILDCARD = new Set(["", "0.0.0.0", "::"]);

function clashes(b: BoundPort, ip: string, port: number, protocol: Protocol): boolean {
  return b.protocol === protocol && b.port === port && (WILDCARD.has(b.ip) || WILDCARD.has(ip) || b.ip === ip);
}

/** Facts about the host that decide which host ports can be used; tests pass their own. */
export interface PortHost {
  /** net.ipv4.ip_unprivileged_port_start. */
  unprivilegedStart: number;
  /** net.ipv4.ip_local_port_range, where free ports are picked. */
  localRange: [number, number];
  /** Sockets bound on the host. */
  bound: BoundPort[];
  /** Random integer in [0, n). */
  random(n: number): number;
}

/** The real host's {@link PortHost}. */
export function realPortHost(): PortHost {
  const start = readOr("/proc/sys/net/ipv4/ip_unprivileged_port_start").trim();
  const range = readOr("/proc/sys/net/ipv4/ip_local_port_range").trim().split(/\s+/).map(Number);
  return {
    unprivilegedStart: /^\d+$/.test(start) ? Number(start) : 1024,
    localRange: range.length === 2 && range.every((n) => n > 0) ? [range[0]!, range[1]!] : [32768, 60999],
    bound: hostBoundPorts(),
    random: (n) => Math.floor(Math.random() * n),
  };
}

/**
 * Check the publications against the host and fill in the free host ports:
 * refuse privileged ports (with the sysctl that allows them), ports already
 * bound on the host, and the same host port twice.
 */
export function assignHostPorts(ports: readonly PortMapping[], host: PortHost): PortMapping[] {
  const taken: BoundPort[] = [...host.bound];
  const mine: BoundPort[] = [];
  const out: PortMapping[] = [];
  const isFree = (ip: string, port: number, protocol: Protocol) =>
    !taken.some((b) => clashes(b, ip, port, protocol)) && !mine.some((b) => clashes(b, ip, port, protocol));
  for (const p of ports) {
    if (p.hostIp && !isIp(p.hostIp)) {
      throw new NetworkError(`"${p.hostIp}" is not an IP address`, { hint: PUBLISH_HINT });
    }
    let hostPort = p.hostPort;
    if (hostPort === 0) {
      const [lo, hi] = host.localRange;
      const n = hi - lo + 1;
      const start = host.random(n);
      for (let i = 0; i < n && hostPort === 0; i++) {
        const cand = lo + ((start + i) % n);
        if (isFree(p.hostIp, cand, p.protocol)) hostPort = cand;
      }
      if (hostPort === 0) throw new NetworkError(`No free host port for ${p.containerPort}/${p.protocol}`);
    } else {
      if (hostPort < host.unprivilegedStart) {
        throw new NetworkError(
          `Cannot publish host port ${hostPort}: ports below ${host.unprivilegedStart} are privileged on this host`,
          {
            hint:
              `publish on a port from ${host.unprivilegedStart} up (e.g. -p ${
                hostPort + 8000 <= 65535 ? hostPort + 8000 : 8080
              }:${p.containerPort}), or let unprivileged users bind it: ` +
              `sudo sysctl net.ipv4.ip_unprivileged_port_start=${hostPort}`,
          },
        );
      }
      for (let i = 0; i < p.range; i++) {
        const port = hostPort + i;
        const where = p.hostIp || "every address";
        if (mine.some((b) => clashes(b, p.hostIp, port, p.protocol))) {
          throw new NetworkError(`Host port ${port}/${p.protocol} is published twice`, {
            hint: "give each -p its own host port",
          });
        }
        if (taken.some((b) => clashes(b, p.hostIp, port, p.protocol))) {
          throw new NetworkError(`Host port ${port}/${p.protocol} is already in use on ${where}`, {
            hint: `pick another host port, or stop what listens there (ss -${
              p.protocol === "tcp" ? "lt" : "lu"
            }np 'sport = :${port}')`,
          });
        }
      }
    }
    for (let i = 0; i < p.range; i++) mine.push({ ip: p.hostIp, port: hostPort + i, protocol: p.protocol });
    out.push({ ...p, hostPort });
  }
  return out;
}

/** `0.0.0.0:8080` / `[::1]:8080` for the host side of a mapping (one port of it). */
export function hostAddress(p: PortMapping, offset = 0): string {
  const ip = p.hostIp || "0.0.0.0";
  return `${ip.includes(":") ? `[${ip}]` : ip}:${p.hostPort + offset}`;
}

/** docker's `nook port` lines: `80/tcp -> 0.0.0.0:8080`, one per port. */
export function formatPorts(ports: readonly PortMapping[]): string[] {
  return ports.flatMap((p) =>
    Array.from({ length: p.range }, (_, i) => `${p.containerPort + i}/${p.protocol} -> ${hostAddress(p, i)}`)
  );
}
