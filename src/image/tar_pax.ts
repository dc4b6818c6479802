/**
 * Writing PAX extended headers: the records a tar writer adds when a name,
 * link or number does not fit the ustar header, and the padded body they make.
 * Shared by the layer writer of `nook build`/`commit` and the archive of `nook cp`.
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
