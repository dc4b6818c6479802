/** Address arithmetic and the host's routes, from /proc (no helper programs). */

/** A dotted IPv4 address as a number, or undefined. */
export function parseIpv4(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const b = m.slice(1).map(Number);
  if (b.some((x) => x > 255)) return undefined;
  return ((b[0]! << 24) >>> 0) + (b[1]! << 16) + (b[2]! << 8) + b[3]!;
}

/** A number as a dotted IPv4 address. */
export function formatIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/** True for a plausible IPv6 address (hex groups, at most one `::`, optional dotted tail). */
export function isIpv6(s: string): boolean {
  if (!/^[0-9a-fA-F:.]+$/.test(s) || !s.includes(":")) return false;
  const dbl = s.split("::").length - 1;
  if (dbl > 1) return false;
  let groups = s.split(":").filter((g) => g !== "");
  const last = groups[groups.length - 1];
  if (last?.includes(".")) {
    if (parseIpv4(last) === undefined) return false;
    groups = [...groups.slice(0, -1), "0", "0"];
  }
  if (!groups.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return false;
  return dbl ? groups.length < 8 : groups.length === 8;
}

/** True for an IPv4 or IPv6 address. */
export function isIp(s: string): boolean {
  return parseIpv4(s) !== undefined || isIpv6(s);
}

/** `a.b.c.d/n` → network address and prefix, or undefined. */
export function parseIpv4Cidr(s: string): { base: number; prefix: number } | undefined {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(s);
  const ip = m ? parseIpv4(m[1]!) : undefined;
  const prefix = m ? Number(m[2]) : NaN;
  if (ip === undefined || !(prefix >= 0 && prefix <= 32)) return undefined;
  const mask = prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0;
  return { base: (ip & mask) >>> 0, prefix };
}

/** The address `offset` after the network address of an IPv4 CIDR (slirp4netns: .2 host, .3 DNS, .100 guest). */
export function cidrHost(cidr: string, offset: number): string {
  const c = parseIpv4Cidr(cidr);
  if (!c) throw new Error(`bad CIDR ${cidr}`);
  return formatIpv4(c.base + offset);
}

/** Little-endian hex of /proc/net/route and /proc/net/tcp → dotted IPv4. */
export function procHexIpv4(hex: string): string {
  const n = parseInt(hex, 16);
  return [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, n >>> 24].join(".");
}

/** The host's first IPv4 default route: its interface and gateway. */
export function defaultRoute(routeText?: string): { iface: string; gateway: string } | undefined {
  let text = routeText;
  if (text === undefined) {
    try {
      text = Deno.readTextFileSync("/proc/net/route");
    } catch {
      return undefined;
    }
  }
  for (const line of text.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    // Iface Destination Gateway Flags …; RTF_UP = 1, RTF_GATEWAY = 2
    if (f.length < 8 || f[1] !== "00000000" || f[7] !== "00000000") continue;
    if ((parseInt(f[3]!, 16) & 3) !== 3) continue;
    return { iface: f[0]!, gateway: procHexIpv4(f[2]!) };
  }
  return undefined;
}

/** The host's main IPv4 address: the first one on the default route's interface, else any non-loopback one. */
export function hostIpv4(): string | undefined {
  let ifs: Deno.NetworkInterfaceInfo[];
  try {
    ifs = Deno.networkInterfaces();
  } catch {
    return undefined;
  }
  const v4 = ifs.filter((i) => i.family === "IPv4" && !i.address.startsWith("127."));
  const iface = defaultRoute()?.iface;
  return (v4.find((i) => i.name === iface) ?? v4[0])?.address;
}
