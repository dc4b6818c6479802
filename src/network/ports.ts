import { errnoText } from "../errors/mod.ts";
import { probePort } from "../ffi/mod.ts";
import { NetworkError } from "./network_error.ts";
import { isIp, isIpv6, parseIpv4 } from "./_addr.ts";

export type { PortMapping, Protocol } from "../model/network.ts";
import type { PortMapping, Protocol } from "../model/network.ts";

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

/** net.ipv4.ip_unprivileged_port_start: host ports below it need privileges (1024 when unreadable). */
export function unprivilegedPortStart(): number {
  try {
    const text = Deno.readTextFileSync("/proc/sys/net/ipv4/ip_unprivileged_port_start").trim();
    return /^\d+$/.test(text) ? Number(text) : 1024;
  } catch {
    return 1024;
  }
}

/**
 * Check publications before anything starts: refuse privileged host ports
 * (with the sysctl that allows them) and the same host port given twice.
 */
export function checkPublications(
  ports: readonly PortMapping[],
  unprivilegedStart: number = unprivilegedPortStart(),
): void {
  const seen = new Set<string>();
  for (const p of ports) {
    if (p.hostIp && !isIp(p.hostIp)) {
      throw new NetworkError(`"${p.hostIp}" is not an IP address`, { hint: PUBLISH_HINT });
    }
    if (p.hostPort === 0) continue;
    if (p.hostPort < unprivilegedStart) {
      const suggestion = p.hostPort + 8000 <= 65535 ? p.hostPort + 8000 : 8080;
      throw new NetworkError(
        `Cannot publish host port ${p.hostPort}: ports below ${unprivilegedStart} are privileged on this host`,
        {
          hint: `publish on a port from ${unprivilegedStart} up (e.g. -p ${suggestion}:${p.containerPort}), ` +
            `or let unprivileged users bind it: sudo sysctl net.ipv4.ip_unprivileged_port_start=${p.hostPort}`,
        },
      );
    }
    for (let i = 0; i < p.range; i++) {
      const key = `${p.protocol}/${p.hostPort + i}`;
      if (seen.has(key)) {
        throw new NetworkError(`Host port ${p.hostPort + i}/${p.protocol} is published twice`, {
          hint: "give each -p its own host port",
        });
      }
      seen.add(key);
    }
  }
}

/** Whether a server could bind a port now: the port (the kernel's pick for 0) or a negative errno. */
export type PortProbe = (ip: string, port: number, protocol: Protocol) => Promise<number>;

const EADDRINUSE = 98;
const EAFNOSUPPORT = 97;

async function probeAny(probe: PortProbe, hostIp: string, port: number, protocol: Protocol): Promise<number> {
  if (hostIp) return await probe(hostIp, port, protocol);
  // every address: the IPv6 wildcard covers IPv4 too, unless the host has no IPv6
  const rc = await probe("::", port, protocol);
  return rc === -EAFNOSUPPORT ? await probe("0.0.0.0", port, protocol) : rc;
}

/**
 * Make sure the host ports are free right now, and pick free ones (the
 * kernel's choice) for host port 0. Runs as the container starts, so a
 * restarted container checks again. Binding is the test: it is exact and
 * cheap, where /proc/net/tcp walks the whole connection table.
 */
export async function assignHostPorts(
  ports: readonly PortMapping[],
  probe: PortProbe = probePort,
): Promise<PortMapping[]> {
  const out: PortMapping[] = [];
  const picked = new Set<string>();
  for (const p of ports) {
    const where = p.hostIp || "every address";
    let hostPort = p.hostPort;
    if (hostPort === 0) {
      // the kernel may hand the same free port out twice, as each probe lets it go again
      for (let i = 0; i < 20 && hostPort === 0; i++) {
        const rc = await probeAny(probe, p.hostIp, 0, p.protocol);
        if (rc < 0) throw bindError(rc, p, 0, where);
        if (!picked.has(`${p.protocol}/${rc}`)) hostPort = rc;
      }
      if (hostPort === 0) throw new NetworkError(`No free host port for ${p.containerPort}/${p.protocol}`);
    } else {
      for (let i = 0; i < p.range; i++) {
        const rc = await probeAny(probe, p.hostIp, hostPort + i, p.protocol);
        if (rc < 0) throw bindError(rc, p, hostPort + i, where);
      }
    }
    for (let i = 0; i < p.range; i++) picked.add(`${p.protocol}/${hostPort + i}`);
    out.push({ ...p, hostPort });
  }
  return out;
}

function bindError(rc: number, p: PortMapping, port: number, where: string): NetworkError {
  if (rc === -EADDRINUSE) {
    return new NetworkError(`Host port ${port}/${p.protocol} is already in use on ${where}`, {
      hint: `pick another host port, or stop what listens there (ss -${
        p.protocol === "tcp" ? "lt" : "lu"
      }np 'sport = :${port}')`,
    });
  }
  return new NetworkError(`Cannot publish host port ${port || "(any)"}/${p.protocol} on ${where}: ${errnoText(-rc)}`, {
    errno: -rc,
    hint: p.hostIp ? `is ${p.hostIp} an address of this host?` : "check the host's network settings",
  });
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

/** docker ps's PORTS text: `0.0.0.0:8080->80/tcp, 127.0.0.1:5353->53/udp` (a range as `8000-8009->80-89/tcp`). */
export function formatPsPorts(ports: readonly PortMapping[]): string {
  const span = (first: number, range: number) => (range > 1 ? `${first}-${first + range - 1}` : String(first));
  return ports.map((p) => {
    const ip = p.hostIp || "0.0.0.0";
    const host = ip.includes(":") ? `[${ip}]` : ip;
    return `${host}:${span(p.hostPort, p.range)}->${span(p.containerPort, p.range)}/${p.protocol}`;
  }).join(", ");
}

/** One host side of a port in docker inspect's maps. */
export interface PortBinding {
  /** Host address ("" in HostConfig when every address was asked for). */
  HostIp: string;
  /** Host port as text ("" when any free one was asked for). */
  HostPort: string;
}

/**
 * docker inspect's port map, one key per container port: `{"80/tcp":
 * [{"HostIp": "0.0.0.0", "HostPort": "8080"}]}`. With `exposed`, the image's
 * ports that are not published map to null, as docker shows them.
 */
export function portBindings(
  ports: readonly PortMapping[],
  opts: { exposed?: readonly string[]; anyIp?: string } = {},
): Record<string, PortBinding[] | null> {
  const out: Record<string, PortBinding[] | null> = {};
  for (const e of exposedToPublish(opts.exposed ?? [])) out[`${e.containerPort}/${e.protocol}`] = null;
  for (const p of ports) {
    for (let i = 0; i < p.range; i++) {
      const key = `${p.containerPort + i}/${p.protocol}`;
      const binding = { HostIp: p.hostIp || (opts.anyIp ?? "0.0.0.0"), HostPort: p.hostPort ? String(p.hostPort + i) : "" };
      out[key] = [...(out[key] ?? []), binding];
    }
  }
  return out;
}
