/**
 * NETLINK_ROUTE requests for a container's side of a veth: its addresses, link up, default
 * routes. nook builds them here and the container's plan child sends them (plan op
 * NETLINK_FILE), from inside the container's network namespace, after the SYNC where nook made
 * the veth: no `ip` process runs in that namespace. The C side only carries the bytes; what
 * they ask for is decided here.
 *
 * Messages are in the host's byte order (netlink's), little-endian on every machine nook runs on.
 *
 * @module
 */

const NLM_F_REQUEST = 0x1;
const NLM_F_ACK = 0x4;
const NLM_F_EXCL = 0x200;
const NLM_F_CREATE = 0x400;
const RTM_NEWLINK = 16;
const RTM_NEWADDR = 20;
const RTM_NEWROUTE = 24;
const AF_INET = 2;
const AF_INET6 = 10;
const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const IFA_F_NODAD = 0x02;
const IFF_UP = 0x1;
const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const RT_TABLE_MAIN = 254;
const RTPROT_BOOT = 3;
const RTN_UNICAST = 1;

/** One interface of a container to configure, by its index in the container's namespace. */
export interface InterfaceSetup {
  /** ifindex of the interface in the container's network namespace. */
  index: number;
  /** IPv4 address and prefix length. */
  ip: string;
  prefix: number;
  /** IPv6 address (a /64), added without duplicate address detection. */
  ip6?: string | undefined;
  /** Default routes through these gateways (the first network's interface only). */
  gateway?: string | undefined;
  gateway6?: string | undefined;
}

/** The bytes of an IPv4 address. */
function v4(ip: string): Uint8Array {
  const parts = ip.split(".").map(Number);
  if (parts.length !== 4 || parts.some((n) => !Number.isInteger(n) || n < 0 || n > 255)) {
    throw new Error(`Not an IPv4 address: "${ip}"`);
  }
  return Uint8Array.from(parts);
}

/** The bytes of an IPv6 address (with `::`). */
function v6(ip: string): Uint8Array {
  const [head, tail] = ip.includes("::") ? ip.split("::") as [string, string] : [ip, undefined];
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  if (groups.length !== 8 || groups.some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) {
    throw new Error(`Not an IPv6 address: "${ip}"`);
  }
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const n = parseInt(g, 16);
    out[2 * i] = n >> 8;
    out[2 * i + 1] = n & 0xff;
  });
  return out;
}

/** An rtattr: length, type, data, padded to 4 bytes. */
function attr(type: number, data: Uint8Array): Uint8Array {
  const len = 4 + data.length;
  const out = new Uint8Array((len + 3) & ~3);
  const dv = new DataView(out.buffer);
  dv.setUint16(0, len, true);
  dv.setUint16(2, type, true);
  out.set(data, 4);
  return out;
}

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}

/** One message: nlmsghdr, the fixed header `body`, then the attributes. */
function message(type: number, flags: number, seq: number, body: Uint8Array, attrs: Uint8Array[] = []): Uint8Array {
  const len = 16 + body.length + attrs.reduce((n, a) => n + a.length, 0);
  const out = new Uint8Array(len);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, len, true);
  dv.setUint16(4, type, true);
  dv.setUint16(6, flags | NLM_F_REQUEST | NLM_F_ACK, true);
  dv.setUint32(8, seq, true);
  out.set(body, 16);
  let off = 16 + body.length;
  for (const a of attrs) {
    out.set(a, off);
    off += a.length;
  }
  return out;
}

function newAddr(
  seq: number,
  family: number,
  prefix: number,
  flags: number,
  index: number,
  addr: Uint8Array,
): Uint8Array {
  // struct ifaddrmsg: family, prefixlen, flags, scope (universe), index
  const body = new Uint8Array(8);
  body.set([family, prefix, flags, 0]);
  new DataView(body.buffer).setUint32(4, index, true);
  return message(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, seq, body, [attr(IFA_LOCAL, addr), attr(IFA_ADDRESS, addr)]);
}

function linkUp(seq: number, index: number): Uint8Array {
  // struct ifinfomsg: family, pad, type, index, flags, change
  const body = new Uint8Array(16);
  const dv = new DataView(body.buffer);
  dv.setInt32(4, index, true);
  dv.setUint32(8, IFF_UP, true);
  dv.setUint32(12, IFF_UP, true);
  return message(RTM_NEWLINK, 0, seq, body);
}

function defaultRoute(seq: number, family: number, index: number, gateway: Uint8Array): Uint8Array {
  // struct rtmsg: family, dst_len 0 (default), src_len, tos, table, protocol, scope, type, flags
  const body = new Uint8Array(12);
  body.set([family, 0, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT, 0, RTN_UNICAST]);
  return message(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, seq, body, [
    attr(RTA_GATEWAY, gateway),
    attr(RTA_OIF, u32(index)),
  ]);
}

/**
 * The requests that configure these interfaces, in the order `ip` was given them: addresses,
 * link up, then the default routes (IPv6's needs its on-link /64, which comes with the link up).
 */
export function interfaceRequests(ifaces: readonly InterfaceSetup[]): Uint8Array {
  const msgs: Uint8Array[] = [];
  let seq = 1;
  for (const i of ifaces) {
    msgs.push(newAddr(seq++, AF_INET, i.prefix, 0, i.index, v4(i.ip)));
    if (i.ip6) msgs.push(newAddr(seq++, AF_INET6, 64, IFA_F_NODAD, i.index, v6(i.ip6)));
    msgs.push(linkUp(seq++, i.index));
    if (i.gateway) msgs.push(defaultRoute(seq++, AF_INET, i.index, v4(i.gateway)));
    if (i.gateway && i.ip6 && i.gateway6) msgs.push(defaultRoute(seq++, AF_INET6, i.index, v6(i.gateway6)));
  }
  const out = new Uint8Array(msgs.reduce((n, m) => n + m.length, 0));
  let off = 0;
  for (const m of msgs) {
    out.set(m, off);
    off += m.length;
  }
  return out;
}
