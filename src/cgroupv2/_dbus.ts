/**
 * A minimal D-Bus client: enough of the wire protocol to ask the user's
 * systemd for a transient scope. Why by hand: `nook run` talks to systemd on
 * every start, and a D-Bus package from npm (plus the `node:` modules it
 * pulls in) would cost more start-up than the whole container set-up.
 *
 * Covers: EXTERNAL authentication (pipelined with BEGIN and the first
 * messages, as sd-bus does), method calls, replies, errors and signals, and
 * the marshalling of the basic types, arrays, structs, dict entries and
 * variants, little-endian only.
 */

/** A D-Bus value as JavaScript: numbers, bigints (x, t), strings, booleans, arrays; a variant is [signature, value]. */
export type DBusValue = number | bigint | string | boolean | DBusValue[] | Variant;

/** A variant: its signature and its value. */
export type Variant = { sig: string; value: DBusValue };

/** Make a variant. */
export const variant = (sig: string, value: DBusValue): Variant => ({ sig, value });

/** An error reply from the peer (`org.freedesktop.systemd1.NoSuchUnit`…). */
export class DBusError extends Error {
  /** The D-Bus error name. */
  readonly dbusName: string;
  /** Make one. */
  constructor(name: string, message: string) {
    super(message ? `${name}: ${message}` : name);
    this.dbusName = name;
  }
}

const MsgType = { METHOD_CALL: 1, METHOD_RETURN: 2, ERROR: 3, SIGNAL: 4 } as const;

const Field = {
  PATH: 1,
  INTERFACE: 2,
  MEMBER: 3,
  ERROR_NAME: 4,
  REPLY_SERIAL: 5,
  DESTINATION: 6,
  SENDER: 7,
  SIGNATURE: 8,
} as const;

/** A received message. */
export interface DBusMessage {
  /** 1 call, 2 return, 3 error, 4 signal. */
  type: number;
  /** Serial of the message. */
  serial: number;
  /** Header fields by code. */
  fields: Map<number, DBusValue>;
  /** Decoded body values. */
  body: DBusValue[];
}

// ---- signatures ------------------------------------------------------------------

/** The end index (exclusive) of the single complete type starting at i. */
function typeEnd(sig: string, i: number): number {
  const c = sig[i];
  if (c === "a") return typeEnd(sig, i + 1);
  if (c === "(" || c === "{") {
    const close = c === "(" ? ")" : "}";
    let j = i + 1;
    while (sig[j] !== close) {
      if (j >= sig.length) throw new Error(`bad D-Bus signature "${sig}"`);
      j = typeEnd(sig, j);
    }
    return j + 1;
  }
  if (c === undefined || !"ybnqiuxtdsogvh".includes(c)) throw new Error(`bad D-Bus signature "${sig}"`);
  return i + 1;
}

/** Split a signature into its complete types. */
export function splitSignature(sig: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < sig.length;) {
    const e = typeEnd(sig, i);
    out.push(sig.slice(i, e));
    i = e;
  }
  return out;
}

function alignOf(t: string): number {
  switch (t[0]) {
    case "y":
    case "g":
    case "v":
      return 1;
    case "n":
    case "q":
      return 2;
    case "x":
    case "t":
    case "d":
    case "(":
    case "{":
      return 8;
    default:
      return 4;
  }
}

// ---- marshalling -----------------------------------------------------------------

class Writer {
  buf = new Uint8Array(256);
  dv = new DataView(this.buf.buffer);
  pos = 0;

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf);
    this.buf = next;
    this.dv = new DataView(next.buffer);
  }

  align(n: number): void {
    const pad = (n - (this.pos % n)) % n;
    this.room(pad);
    this.buf.fill(0, this.pos, this.pos + pad);
    this.pos += pad;
  }

  u8(v: number): void {
    this.room(1);
    this.buf[this.pos++] = v;
  }

  u32(v: number): void {
    this.align(4);
    this.room(4);
    this.dv.setUint32(this.pos, v, true);
    this.pos += 4;
  }

  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  value(t: string, v: DBusValue): void {
    const enc = new TextEncoder();
    switch (t[0]) {
      case "y":
        return this.u8(Number(v));
      case "b":
        return this.u32(v ? 1 : 0);
      case "n":
      case "q":
        this.align(2);
        this.room(2);
        this.dv.setUint16(this.pos, Number(v) & 0xffff, true);
        this.pos += 2;
        return;
      case "i":
        this.align(4);
        this.room(4);
        this.dv.setInt32(this.pos, Number(v), true);
        this.pos += 4;
        return;
      case "u":
        return this.u32(Number(v));
      case "x":
      case "t":
        this.align(8);
        this.room(8);
        if (t[0] === "x") this.dv.setBigInt64(this.pos, BigInt(v as number | bigint), true);
        else this.dv.setBigUint64(this.pos, BigInt(v as number | bigint), true);
        this.pos += 8;
        return;
      case "d":
        this.align(8);
        this.room(8);
        this.dv.setFloat64(this.pos, Number(v), true);
        this.pos += 8;
        return;
      case "s":
      case "o": {
        const b = enc.encode(String(v));
        this.u32(b.length);
        this.bytes(b);
        return this.u8(0);
      }
      case "g": {
        const b = enc.encode(String(v));
        this.u8(b.length);
        this.bytes(b);
        return this.u8(0);
      }
      case "v": {
        const { sig, value } = v as Variant;
        this.value("g", sig);
        return this.value(sig, value);
      }
      case "a": {
        const elem = t.slice(1);
        this.u32(0);
        const lenAt = this.pos - 4;
        this.align(alignOf(elem));
        const start = this.pos;
        for (const item of v as DBusValue[]) this.value(elem, item);
        this.dv.setUint32(lenAt, this.pos - start, true);
        return;
      }
      case "(":
      case "{": {
        this.align(8);
        const parts = splitSignature(t.slice(1, -1));
        const items = v as DBusValue[];
        parts.forEach((p, i) => this.value(p, items[i]!));
        return;
      }
      default:
        throw new Error(`cannot marshal D-Bus type "${t}"`);
    }
  }

  done(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}

class Reader {
  dv: DataView;
  pos: number;
  constructor(readonly buf: Uint8Array, pos = 0) {
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.pos = pos;
  }

  align(n: number): void {
    this.pos += (n - (this.pos % n)) % n;
  }

  need(n: number): void {
    if (this.pos + n > this.buf.length) throw new Error("truncated D-Bus message");
  }

  value(t: string): DBusValue {
    const dec = new TextDecoder();
    switch (t[0]) {
      case "y":
        this.need(1);
        return this.buf[this.pos++]!;
      case "b":
      case "u":
      case "i": {
        this.align(4);
        this.need(4);
        const v = t[0] === "i" ? this.dv.getInt32(this.pos, true) : this.dv.getUint32(this.pos, true);
        this.pos += 4;
        return t[0] === "b" ? v !== 0 : v;
      }
      case "n":
      case "q": {
        this.align(2);
        this.need(2);
        const v = t[0] === "n" ? this.dv.getInt16(this.pos, true) : this.dv.getUint16(this.pos, true);
        this.pos += 2;
        return v;
      }
      case "x":
      case "t": {
        this.align(8);
        this.need(8);
        const v = t[0] === "x" ? this.dv.getBigInt64(this.pos, true) : this.dv.getBigUint64(this.pos, true);
        this.pos += 8;
        return v;
      }
      case "d": {
        this.align(8);
        this.need(8);
        const v = this.dv.getFloat64(this.pos, true);
        this.pos += 8;
        return v;
      }
      case "h":
        return this.value("u");
      case "s":
      case "o": {
        const n = this.value("u") as number;
        this.need(n + 1);
        const s = dec.decode(this.buf.subarray(this.pos, this.pos + n));
        this.pos += n + 1;
        return s;
      }
      case "g": {
        this.need(1);
        const n = this.buf[this.pos++]!;
        this.need(n + 1);
        const s = dec.decode(this.buf.subarray(this.pos, this.pos + n));
        this.pos += n + 1;
        return s;
      }
      case "v": {
        const sig = this.value("g") as string;
        return { sig, value: this.value(sig) };
      }
      case "a": {
        const elem = t.slice(1);
        const n = this.value("u") as number;
        this.align(alignOf(elem));
        const end = this.pos + n;
        this.need(n);
        const out: DBusValue[] = [];
        while (this.pos < end) out.push(this.value(elem));
        return out;
      }
      case "(":
      case "{": {
        this.align(8);
        return splitSignature(t.slice(1, -1)).map((p) => this.value(p));
      }
      default:
        throw new Error(`cannot read D-Bus type "${t}"`);
    }
  }
}

/** Encode one message (exported for tests). */
export function encodeMessage(
  type: number,
  serial: number,
  headers: [number, Variant][],
  sig: string,
  body: DBusValue[],
  flags = 0,
): Uint8Array {
  const b = new Writer();
  for (const [i, t] of splitSignature(sig).entries()) b.value(t, body[i]!);
  const bodyBytes = b.done();
  const h = new Writer();
  h.bytes(new Uint8Array([0x6c, /* 'l' */ type, flags, 1]));
  h.u32(bodyBytes.length);
  h.u32(serial);
  const fields: [number, Variant][] = sig ? [...headers, [Field.SIGNATURE, variant("g", sig)]] : headers;
  h.value("a(yv)", fields);
  h.align(8);
  h.bytes(bodyBytes);
  return h.done();
}

/** Length of the first complete message in buf, or 0 when more bytes are needed. */
function messageLength(buf: Uint8Array): number {
  if (buf.length < 16) return 0;
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (buf[0] !== 0x6c) throw new Error("big-endian D-Bus messages are not supported");
  const bodyLen = dv.getUint32(4, true);
  const fieldsLen = dv.getUint32(12, true);
  const headerEnd = 16 + fieldsLen + ((8 - ((16 + fieldsLen) % 8)) % 8);
  const total = headerEnd + bodyLen;
  return buf.length >= total ? total : 0;
}

/** Decode one complete message (exported for tests). */
export function decodeMessage(buf: Uint8Array): DBusMessage {
  const r = new Reader(buf);
  r.pos = 1;
  const type = r.value("y") as number;
  r.pos = 4;
  const bodyLen = r.value("u") as number;
  const serial = r.value("u") as number;
  const fields = new Map<number, DBusValue>();
  for (const f of r.value("a(yv)") as DBusValue[][]) fields.set(f[0] as number, (f[1] as Variant).value);
  r.align(8);
  const sig = (fields.get(Field.SIGNATURE) as string | undefined) ?? "";
  const body: DBusValue[] = [];
  const end = r.pos + bodyLen;
  const bodyReader = new Reader(buf.subarray(0, end), r.pos);
  for (const t of splitSignature(sig)) body.push(bodyReader.value(t));
  return { type, serial, fields, body };
}

const CALL_TIMEOUT_MS = 25_000;

/** A connection to a message bus. */
export class DBusConnection {
  private serial = 0;
  private pending = new Map<number, { resolve: (m: DBusMessage) => void; reject: (e: unknown) => void }>();
  private listeners = new Set<(m: DBusMessage) => void>();
  private closed = false;
  private readLoop: Promise<void>;
  private writing: Promise<void> = Promise.resolve();

  private constructor(private conn: Deno.UnixConn, private buffered: Uint8Array, authed: Promise<void>) {
    this.readLoop = authed.then(() => this.pump());
    this.readLoop.catch(() => {});
  }

  /**
   * Connect and authenticate. The AUTH, BEGIN and Hello go out in one write,
   * so a method call right after costs one round trip in all.
   */
  static async connect(path: string): Promise<DBusConnection> {
    const conn = await Deno.connect({ transport: "unix", path });
    const uidHex = [...new TextEncoder().encode(String(Deno.uid()))].map((b) => b.toString(16).padStart(2, "0")).join(
      "",
    );
    let rest = new Uint8Array();
    let authResolve!: () => void, authReject!: (e: unknown) => void;
    const authed = new Promise<void>((res, rej) => (authResolve = res, authReject = rej));
    const c = new DBusConnection(conn, rest, authed);
    const hello = c.callBytes("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "Hello", "", []);
    const auth = new TextEncoder().encode(`\0AUTH EXTERNAL ${uidHex}\r\nBEGIN\r\n`);
    const first = new Uint8Array(auth.length + hello.bytes.length);
    first.set(auth);
    first.set(hello.bytes, auth.length);
    const timer = setTimeout(() => c.close(), CALL_TIMEOUT_MS); // a bus that never answers
    try {
      await writeAll(conn, first);
      // the server's one line: "OK <guid>" (or REJECTED)
      const buf = new Uint8Array(4096);
      let line = "";
      for (;;) {
        const n = await conn.read(buf).catch(() => null);
        if (n === null) throw new Error("the bus closed the connection during authentication");
        const chunk = buf.subarray(0, n);
        const nl = chunk.indexOf(0x0a);
        if (nl < 0) {
          line += new TextDecoder().decode(chunk);
          continue;
        }
        line += new TextDecoder().decode(chunk.subarray(0, nl + 1));
        rest = chunk.slice(nl + 1);
        break;
      }
      if (!line.startsWith("OK ")) throw new Error(`the bus refused authentication: ${line.trim()}`);
      c.buffered = rest;
      authResolve();
      await hello.reply;
      return c;
    } catch (err) {
      authReject(err);
      c.close();
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  private callBytes(
    dest: string,
    path: string,
    iface: string,
    member: string,
    sig: string,
    args: DBusValue[],
  ): { bytes: Uint8Array; reply: Promise<DBusMessage> } {
    const serial = ++this.serial;
    const bytes = encodeMessage(
      MsgType.METHOD_CALL,
      serial,
      [
        [Field.PATH, variant("o", path)],
        [Field.INTERFACE, variant("s", iface)],
        [Field.MEMBER, variant("s", member)],
        [Field.DESTINATION, variant("s", dest)],
      ],
      sig,
      args,
    );
    const reply = new Promise<DBusMessage>((resolve, reject) => {
      // D-Bus's own default: a peer that does not answer within 25 s will not
      const timer = setTimeout(() => {
        this.pending.delete(serial);
        reject(
          new DBusError(
            "org.freedesktop.DBus.Error.NoReply",
            `no reply to ${member} within ${CALL_TIMEOUT_MS / 1000} s`,
          ),
        );
      }, CALL_TIMEOUT_MS);
      this.pending.set(serial, {
        resolve: (m) => (clearTimeout(timer), resolve(m)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
    });
    reply.catch(() => {});
    return { bytes, reply };
  }

  /** Call a method; resolves with the reply's body, rejects with a {@link DBusError}. */
  async call(
    dest: string,
    path: string,
    iface: string,
    member: string,
    sig = "",
    args: DBusValue[] = [],
  ): Promise<DBusValue[]> {
    const { bytes, reply } = this.callBytes(dest, path, iface, member, sig, args);
    // one message at a time on the socket, in call order (callers may pipeline calls)
    const written = this.writing.then(() => writeAll(this.conn, bytes));
    this.writing = written.catch(() => {});
    await written;
    return (await reply).body;
  }

  /** Listen for signals (and any message that is not a reply). Returns a function that stops listening. */
  onSignal(fn: (m: DBusMessage) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private async pump(): Promise<void> {
    const chunk = new Uint8Array(65536);
    let buf = this.buffered;
    try {
      for (;;) {
        let len: number;
        while ((len = messageLength(buf)) > 0) {
          const msg = decodeMessage(buf.subarray(0, len));
          buf = buf.slice(len);
          this.dispatch(msg);
        }
        const n = await this.conn.read(chunk);
        if (n === null) break;
        const next = new Uint8Array(buf.length + n);
        next.set(buf);
        next.set(chunk.subarray(0, n), buf.length);
        buf = next;
      }
    } catch (err) {
      if (!this.closed) this.failAll(err);
      return;
    }
    this.failAll(new Error("the bus closed the connection"));
  }

  private dispatch(msg: DBusMessage): void {
    if (msg.type === MsgType.METHOD_RETURN || msg.type === MsgType.ERROR) {
      const serial = msg.fields.get(Field.REPLY_SERIAL) as number | undefined;
      const p = serial === undefined ? undefined : this.pending.get(serial);
      if (!p) return;
      this.pending.delete(serial!);
      if (msg.type === MsgType.METHOD_RETURN) p.resolve(msg);
      else p.reject(new DBusError(String(msg.fields.get(Field.ERROR_NAME) ?? "error"), String(msg.body[0] ?? "")));
      return;
    }
    for (const fn of this.listeners) fn(msg);
  }

  private failAll(err: unknown): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  /** Close the connection (pending calls fail). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.conn.close();
    } catch {
      // already closed
    }
    this.failAll(new Error("the bus connection was closed"));
  }
}

/** Member and interface of a signal message. */
export function signalName(m: DBusMessage): string {
  return `${m.fields.get(Field.INTERFACE) ?? ""}.${m.fields.get(Field.MEMBER) ?? ""}`;
}

async function writeAll(conn: Deno.UnixConn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}
