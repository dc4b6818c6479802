/**
 * Writing tar headers: a ustar header block, preceded by a PAX extended header when a name,
 * link, number or extended attribute does not fit it. One writer for the layers of
 * `nook build`/`commit` and the archive of `nook cp`; its bytes are part of every layer digest
 * nook builds, so it must not change.
 *
 * @module
 */

const enc = new TextEncoder();

/** One PAX record, "LEN key=value\n", where LEN counts the whole record including itself. */
export function paxRecord(key: string, value: Uint8Array | string): Uint8Array {
  const bytes = typeof value === "string" ? enc.encode(value) : value;
  const body = enc.encode(` ${key}=`);
  const rest = body.length + bytes.length + 1;
  let digits = String(rest).length;
  while (String(rest + digits).length !== digits) digits++;
  const n = rest + digits;
  const head = enc.encode(String(n));
  const out = new Uint8Array(n);
  out.set(head, 0);
  out.set(body, head.length);
  out.set(bytes, head.length + body.length);
  out[n - 1] = 0x0a;
  return out;
}

/** The records joined into the body of an `x` entry: `size` is their length, `body` is padded to 512-byte blocks. */
export function paxBody(records: readonly Uint8Array[]): { size: number; body: Uint8Array } {
  const size = records.reduce((n, p) => n + p.length, 0);
  const body = new Uint8Array(Math.ceil(size / 512) * 512);
  let off = 0;
  for (const p of records) {
    body.set(p, off);
    off += p.length;
  }
  return { size, body };
}

function octal(buf: Uint8Array, off: number, len: number, v: number): void {
  const s = v.toString(8).padStart(len - 1, "0");
  buf.set(enc.encode(s.slice(-(len - 1))), off);
  buf[off + len - 1] = 0;
}

/** One tar entry's header fields: regular file, hard link, symlink or directory. */
export interface TarEntry {
  /** Path inside the archive. */
  name: string;
  /** ustar type flag: "0" file, "1" hard link, "2" symlink, "5" directory. */
  type: "0" | "1" | "2" | "5";
  /** Permission bits. */
  mode: number;
  /** Owner. */
  uid: number;
  /** Group. */
  gid: number;
  /** Content length (files only). */
  size: number;
  /** Modification time, seconds since the epoch. */
  mtime: number;
  /** Target of a link. */
  link?: string;
  /** Extended attributes, as `SCHILY.xattr.` PAX records. */
  xattrs?: [string, Uint8Array][];
}

/** The header blocks of one entry: [PAX header, its body,] ustar header. The content follows them. */
export function tarHeaderBlocks(e: TarEntry): Uint8Array[] {
  const out: Uint8Array[] = [];
  const pax: Uint8Array[] = [];
  const nameBytes = enc.encode(e.name);
  const linkBytes = enc.encode(e.link ?? "");
  if (nameBytes.length > 100) pax.push(paxRecord("path", nameBytes));
  if (linkBytes.length > 100) pax.push(paxRecord("linkpath", linkBytes));
  if (e.uid > 0o7777777) pax.push(paxRecord("uid", enc.encode(String(e.uid))));
  if (e.gid > 0o7777777) pax.push(paxRecord("gid", enc.encode(String(e.gid))));
  if (e.size > 0o77777777777) pax.push(paxRecord("size", enc.encode(String(e.size))));
  for (const [k, v] of e.xattrs ?? []) pax.push(paxRecord(`SCHILY.xattr.${k}`, v));
  if (pax.length) {
    const { size: len, body } = paxBody(pax);
    out.push(ustarBlock({ name: "PaxHeaders/" + e.name.slice(0, 80), type: "0", mode: 0o644, uid: 0, gid: 0, size: len, mtime: e.mtime }, true), body);
  }
  out.push(ustarBlock(e, false));
  return out;
}

function ustarBlock(e: TarEntry, isPax: boolean): Uint8Array {
  const b = new Uint8Array(512);
  b.set(enc.encode(e.name).subarray(0, 100), 0);
  octal(b, 100, 8, e.mode & 0o7777);
  octal(b, 108, 8, Math.min(e.uid, 0o7777777));
  octal(b, 116, 8, Math.min(e.gid, 0o7777777));
  octal(b, 124, 12, isPax || e.type === "0" ? Math.min(e.size, 0o77777777777) : 0);
  octal(b, 136, 12, Math.max(0, e.mtime));
  b.fill(0x20, 148, 156);
  b[156] = (isPax ? "x" : e.type).charCodeAt(0);
  if (e.link) b.set(enc.encode(e.link).subarray(0, 100), 157);
  b.set(enc.encode("ustar\0"), 257);
  b.set(enc.encode("00"), 263);
  let sum = 0;
  for (const x of b) sum += x;
  octal(b, 148, 7, sum);
  b[155] = 0x20;
  return b;
}
