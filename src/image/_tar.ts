/**
 * A streaming tar reader for image layers that reads what Go's archive/tar
 * reads — the parser docker, podman and containerd unpack layers with — so an
 * image any of them runs unpacks the same here:
 *   - v7, ustar (with its name prefix), star, GNU and PAX headers;
 *   - PAX records: path, linkpath, size (over 8 GiB), uid, gid, mtime and
 *     `SCHILY.xattr.*` (values kept as bytes: `security.capability` is binary);
 *   - GNU long names and link names (`L`, `K`), base-256 numbers;
 *   - sparse files: old GNU headers (`S`, with extension blocks) and the PAX
 *     GNU.sparse formats 0.0, 0.1 and 1.0 — data comes with its offset in
 *     the file, so the caller can seek over the holes.
 * Checksums (signed or unsigned) are checked; the archive ends at two zero
 * blocks or at the end of the stream on a header boundary.
 *
 * It is push-based and synchronous: {@link TarReader.write} hands every
 * byte of an entry to its sink before it returns, so the caller's
 * backpressure is simply "call write again". It only parses: the rules of
 * what may be written where belong to the caller (unpack.ts).
 *
 * @module
 */
import { NookError } from "../errors/mod.ts";

/** The tar stream itself is malformed (the caller adds which layer). */
export class TarError extends NookError {}

/** One entry as Go's archive/tar would report it, after PAX and GNU overrides. */
export interface TarHeader {
  /** Member name, as written (cleaning it is the caller's business). */
  name: string;
  /** Target of a hard link or symlink ("" when none). */
  linkname: string;
  /**
   * Type flag, one character: "0" regular (also for "\0", "7" and GNU "S"),
   * "1" hard link, "2" symlink, "3" char device, "4" block device,
   * "5" directory, "6" fifo, others as found.
   */
  type: string;
  /** Size of the file's content (the real size of a sparse file). */
  size: number;
  /** Mode bits from the header (permissions and setuid/setgid/sticky). */
  mode: number;
  /** Owner. */
  uid: number;
  /** Group. */
  gid: number;
  /** Modification time, seconds since the epoch. */
  mtime: number;
  /** Nanoseconds of the modification time (PAX only). */
  mtimeNs: number;
  /** Device numbers (character and block devices). */
  devmajor: number;
  /** Device numbers (character and block devices). */
  devminor: number;
  /** Extended attributes from `SCHILY.xattr.NAME` records: [NAME, raw value]. */
  xattrs: [string, Uint8Array][];
  /** True for a sparse file: data arrives in fragments, holes between them. */
  sparse: boolean;
}

/** Where an entry's content goes. */
export interface TarSink {
  /** Content bytes at `offset` in the file (increasing; gaps are holes). Valid only during the call. */
  data(chunk: Uint8Array, offset: number): void;
  /** Every byte of the entry was delivered. */
  end(): void;
}

const BLOCK = 512;
/** Go's limit for PAX and GNU long-name data (maxSpecialFileSize). */
const MAX_META = 1 << 20;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

const enum S {
  Header,
  Meta,
  Data,
  Pad,
  SparseExt,
  SparseMap,
  End,
  Done,
}

const dec = new TextDecoder();
const HEADER_ONLY = new Set(["1", "2", "3", "4", "5", "6"]);

function bad(what: string): TarError {
  return new TarError(what, { hint: "the archive is truncated, corrupt or not a tar file" });
}

/** A NUL-terminated string field. */
function str(b: Uint8Array, off: number, len: number): string {
  let end = off;
  const max = off + len;
  while (end < max && b[end] !== 0) end++;
  if (end === off) return "";
  // ASCII fast path: most names are plain
  let ascii = true;
  for (let i = off; i < end; i++) {
    if (b[i]! >= 0x80) {
      ascii = false;
      break;
    }
  }
  return ascii
    ? String.fromCharCode.apply(null, b.subarray(off, end) as unknown as number[])
    : dec.decode(b.subarray(off, end));
}

/** A numeric field: octal (NUL- or space-padded) or GNU base-256. */
function num(b: Uint8Array, off: number, len: number, field: string): number {
  const first = b[off]!;
  if (first & 0x80) {
    const neg = (first & 0x40) !== 0;
    let x = 0;
    for (let i = 0; i < len; i++) {
      let c = b[off + i]!;
      if (neg) c ^= 0xff;
      if (i === 0) c &= 0x7f;
      x = x * 256 + c;
      if (x > MAX_SAFE) throw bad(`the ${field} field of a header is too large`);
    }
    return neg ? -x - 1 : x;
  }
  let s = off;
  let e = off + len;
  while (s < e && (b[s] === 0 || b[s] === 0x20)) s++;
  while (e > s && (b[e - 1] === 0 || b[e - 1] === 0x20)) e--;
  let x = 0;
  for (let i = s; i < e; i++) {
    const d = b[i]! - 0x30;
    if (d < 0 || d > 7) throw bad(`the ${field} field of a header is not an octal number`);
    x = x * 8 + d;
  }
  return x;
}

const enum Fmt {
  V7,
  Ustar,
  Star,
  Gnu,
}

function format(b: Uint8Array): Fmt {
  // magic at 257: "ustar\0" (ustar, PAX, star) or "ustar " + " \0" (GNU)
  if (b[257] === 0x75 && b[258] === 0x73 && b[259] === 0x74 && b[260] === 0x61 && b[261] === 0x72) {
    if (b[262] === 0) {
      return b[508] === 0x74 && b[509] === 0x61 && b[510] === 0x72 && b[511] === 0 ? Fmt.Star : Fmt.Ustar;
    }
    if (b[262] === 0x20 && b[263] === 0x20 && b[264] === 0) return Fmt.Gnu;
  }
  return Fmt.V7;
}

function checksumOk(b: Uint8Array): boolean {
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const c = i >= 148 && i < 156 ? 0x20 : b[i]!;
    unsigned += c;
    signed += c < 0x80 ? c : c - 256;
  }
  let want: number;
  try {
    want = num(b, 148, 8, "checksum");
  } catch {
    return false;
  }
  return want === unsigned || want === signed;
}

function isZero(b: Uint8Array): boolean {
  for (let i = 0; i < BLOCK; i++) if (b[i] !== 0) return false;
  return true;
}

/** A decimal integer as Go's strconv.ParseInt(s, 10, 64) takes it. */
function decimal(s: string, what: string, allowNegative = false): number {
  if (!(allowNegative ? /^[-+]?\d{1,19}$/ : /^\+?\d{1,19}$/).test(s)) {
    throw bad(`the PAX record ${what}="${s}" is not a number`);
  }
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw bad(`the PAX record ${what}="${s}" is too large`);
  return n;
}

/** PAX records: "LEN KEY=VALUE\n"…; values stay bytes. GNU.sparse.offset/numbytes pairs become GNU.sparse.map. */
export function parsePax(data: Uint8Array): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  const sparse: string[] = [];
  let i = 0;
  while (i < data.length) {
    let sp = i;
    while (sp < data.length && data[sp] !== 0x20) sp++;
    const lenStr = str(data.subarray(i, sp), 0, sp - i);
    if (sp >= data.length || !/^\d{1,8}$/.test(lenStr)) throw bad("a PAX record has no length");
    const n = Number(lenStr);
    if (n < 5 || i + n > data.length || data[i + n - 1] !== 0x0a) throw bad("a PAX record has a wrong length");
    const rec = data.subarray(sp + 1, i + n - 1);
    const eq = rec.indexOf(0x3d);
    if (eq <= 0) throw bad("a PAX record has no key");
    const key = dec.decode(rec.subarray(0, eq));
    if (key.includes("\0")) throw bad("a PAX record key contains a NUL byte");
    const value = rec.subarray(eq + 1);
    if ((key === "path" || key === "linkpath" || key === "uname" || key === "gname") && value.includes(0)) {
      throw bad(`the PAX record "${key}" contains a NUL byte`);
    }
    if (key === "GNU.sparse.offset" || key === "GNU.sparse.numbytes") {
      const v = dec.decode(value);
      if ((sparse.length % 2 === 0) !== (key === "GNU.sparse.offset") || v.includes(",")) {
        throw bad("the GNU.sparse.offset and GNU.sparse.numbytes records are out of order");
      }
      sparse.push(v);
    } else out.set(key, value.slice());
    i += n;
  }
  if (sparse.length) out.set("GNU.sparse.map", new TextEncoder().encode(sparse.join(",")));
  return out;
}

/**
 * The streaming reader: feed it the uncompressed bytes with {@link write},
 * then call {@link end}. `onEntry` is called once per entry (PAX, GNU long
 * name and global headers are consumed, not reported) and may return a sink
 * for the content; without one the content is skipped.
 */
export class TarReader {
  private state = S.Header;
  private blk = new Uint8Array(BLOCK);
  private blkLen = 0;
  private meta = new Uint8Array(0);
  private metaLen = 0;
  private metaType = "";
  private pax: Map<string, Uint8Array> | undefined;
  private longName: string | undefined;
  private longLink: string | undefined;
  private remaining = 0;
  private pad = 0;
  private sink: TarSink | undefined;
  private pos = 0;
  // sparse: flattened [offset, length, …] and where we are in it
  private frags: number[] | undefined;
  private fragIdx = 0;
  private fragLeft = 0;
  private cur: TarHeader | undefined;
  private mapText = "";
  private mapNeed = 1;
  private mapCount = -1;
  private mapLines = 0;
  private stored = 0;

  constructor(private readonly onEntry: (h: TarHeader) => TarSink | undefined) {}

  /** Parse `chunk`, calling back synchronously for every entry and its content. */
  write(chunk: Uint8Array): void {
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      switch (this.state) {
        case S.Header:
        case S.End:
        case S.SparseExt:
        case S.SparseMap: {
          let b: Uint8Array;
          if (this.blkLen === 0 && n - i >= BLOCK) {
            b = chunk.subarray(i, i + BLOCK);
            i += BLOCK;
          } else {
            const take = Math.min(BLOCK - this.blkLen, n - i);
            this.blk.set(chunk.subarray(i, i + take), this.blkLen);
            this.blkLen += take;
            i += take;
            if (this.blkLen < BLOCK) return;
            this.blkLen = 0;
            b = this.blk;
          }
          this.block(b);
          break;
        }
        case S.Meta: {
          const take = Math.min(this.remaining, n - i);
          this.meta.set(chunk.subarray(i, i + take), this.metaLen);
          this.metaLen += take;
          this.remaining -= take;
          i += take;
          if (this.remaining === 0) this.metaDone();
          break;
        }
        case S.Data: {
          const take = Math.min(this.remaining, n - i);
          this.deliver(chunk.subarray(i, i + take));
          this.remaining -= take;
          i += take;
          if (this.remaining === 0) this.entryDone();
          break;
        }
        case S.Pad: {
          const take = Math.min(this.pad, n - i);
          this.pad -= take;
          i += take;
          if (this.pad === 0) this.state = S.Header;
          break;
        }
        case S.Done:
          return;
      }
    }
  }

  /** The stream ended: throws when it ended inside an entry or a header. */
  end(): void {
    if (this.state === S.Done || this.state === S.End) return;
    if (this.state === S.Header && this.blkLen === 0) return;
    throw bad("the archive ends in the middle of an entry");
  }

  private block(b: Uint8Array): void {
    switch (this.state) {
      case S.End:
        if (!isZero(b)) throw bad("a zero block is followed by more entries");
        this.state = S.Done;
        return;
      case S.SparseExt:
        return this.sparseExt(b);
      case S.SparseMap:
        return this.sparseMap(b);
      default:
        return this.header(b);
    }
  }

  private header(b: Uint8Array): void {
    if (isZero(b)) {
      this.state = S.End;
      return;
    }
    if (!checksumOk(b)) throw bad("a header's checksum does not match");
    const fmt = format(b);
    let type = String.fromCharCode(b[156]!);
    const size = num(b, 124, 12, "size");
    if (size < 0) throw bad("a header has a negative size");

    if (type === "x" || type === "g" || type === "L" || type === "K") {
      if (size > MAX_META) throw bad(`a "${type}" header holds ${size} bytes, more than ${MAX_META}`);
      this.metaType = type;
      this.meta = new Uint8Array(size);
      this.metaLen = 0;
      this.remaining = size;
      this.pad = (BLOCK - (size % BLOCK)) % BLOCK;
      if (size === 0) this.metaDone();
      else this.state = S.Meta;
      return;
    }

    let name = str(b, 0, 100);
    if (fmt === Fmt.Ustar || fmt === Fmt.Star) {
      const prefix = str(b, 345, fmt === Fmt.Star ? 131 : 155);
      if (prefix) name = `${prefix}/${name}`;
    }
    const h: TarHeader = {
      name,
      linkname: str(b, 157, 100),
      type,
      size,
      mode: num(b, 100, 8, "mode"),
      uid: num(b, 108, 8, "uid"),
      gid: num(b, 116, 8, "gid"),
      mtime: num(b, 136, 12, "mtime"),
      mtimeNs: 0,
      devmajor: fmt === Fmt.V7 ? 0 : num(b, 329, 8, "devmajor"),
      devminor: fmt === Fmt.V7 ? 0 : num(b, 337, 8, "devminor"),
      xattrs: [],
      sparse: false,
    };
    const pax = this.pax;
    if (pax) this.mergePax(h, pax);
    if (this.longName !== undefined) h.name = this.longName;
    if (this.longLink !== undefined) h.linkname = this.longLink;
    this.pax = this.longName = this.longLink = undefined;
    if (type === "\0") type = h.name.endsWith("/") ? "5" : "0";
    else if (type === "7") type = "0";
    h.type = type;

    this.stored = HEADER_ONLY.has(type) ? 0 : h.size;
    this.pad = (BLOCK - (this.stored % BLOCK)) % BLOCK;
    this.frags = undefined;

    if (type === "S") {
      // old GNU sparse: the map is in this header and in extension blocks after it
      if (fmt !== Fmt.Gnu) throw bad(`the sparse entry "${h.name}" is not in a GNU header`);
      h.type = "0";
      h.sparse = true;
      h.size = num(b, 483, 12, "realsize");
      this.frags = [];
      this.cur = h;
      this.sparseEntries(b, 386, 4, "old GNU sparse map");
      if (b[482]) this.state = S.SparseExt;
      else this.begin();
      return;
    }
    if (pax && !HEADER_ONLY.has(type)) {
      const major = text(pax, "GNU.sparse.major");
      const minor = text(pax, "GNU.sparse.minor");
      let v1: boolean | undefined;
      if (major === "0" && (minor === "0" || minor === "1")) v1 = false;
      else if (major === "1" && minor === "0") v1 = true;
      else if (major === undefined && minor === undefined && text(pax, "GNU.sparse.map")) v1 = false;
      if (v1 !== undefined) {
        h.sparse = true;
        const sname = text(pax, "GNU.sparse.name");
        if (sname) h.name = sname;
        const real = text(pax, "GNU.sparse.size") ?? text(pax, "GNU.sparse.realsize");
        if (real !== undefined) h.size = decimal(real, "GNU.sparse.size");
        this.cur = h;
        if (v1) {
          // the map is at the start of the data, in whole blocks of decimal lines
          this.frags = [];
          this.mapText = "";
          this.mapNeed = 1;
          this.mapCount = -1;
          this.mapLines = 0;
          this.remaining = this.stored;
          this.state = S.SparseMap;
          return;
        }
        const count = decimal(text(pax, "GNU.sparse.numblocks") ?? "", "GNU.sparse.numblocks");
        const map = text(pax, "GNU.sparse.map") ?? "";
        const parts = map === "" ? [] : map.split(",");
        if (parts.length !== 2 * count) throw bad(`the sparse map of "${h.name}" does not have ${count} entries`);
        this.frags = parts.map((p) => decimal(p, "GNU.sparse.map"));
        this.begin();
        return;
      }
    }
    this.cur = h;
    this.begin();
  }

  private mergePax(h: TarHeader, pax: Map<string, Uint8Array>): void {
    for (const [k, v] of pax) {
      switch (k) {
        case "path":
          h.name = dec.decode(v);
          break;
        case "linkpath":
          h.linkname = dec.decode(v);
          break;
        case "uid":
          h.uid = decimal(dec.decode(v), k);
          break;
        case "gid":
          h.gid = decimal(dec.decode(v), k);
          break;
        case "size":
          h.size = decimal(dec.decode(v), k);
          break;
        case "mtime": {
          const s = dec.decode(v);
          const m = /^(-?)(\d{1,19})(?:\.(\d*))?$/.exec(s);
          if (!m) throw bad(`the PAX record mtime="${s}" is not a time`);
          const sec = Number(m[2]);
          const ns = Number(((m[3] ?? "") + "000000000").slice(0, 9));
          if (m[1]) {
            h.mtime = ns ? -sec - 1 : -sec;
            h.mtimeNs = ns ? 1e9 - ns : 0;
          } else {
            h.mtime = sec;
            h.mtimeNs = ns;
          }
          break;
        }
        default:
          if (k.startsWith("SCHILY.xattr.")) h.xattrs.push([k.slice(13), v]);
      }
    }
  }

  private metaDone(): void {
    const data = this.meta;
    this.meta = new Uint8Array(0);
    this.state = this.pad ? S.Pad : S.Header;
    switch (this.metaType) {
      case "x":
        // a later PAX header replaces an earlier one, as in Go
        this.pax = parsePax(data);
        break;
      case "g":
        // global headers are reported by Go and ignored by docker and containers/storage
        parsePax(data);
        break;
      case "L":
        this.longName = str(data, 0, data.length);
        break;
      case "K":
        this.longLink = str(data, 0, data.length);
        break;
    }
  }

  /** Sparse entries of an old GNU header or extension block: 24 bytes each (offset, length). */
  private sparseEntries(b: Uint8Array, off: number, count: number, what: string): void {
    for (let k = 0; k < count; k++) {
      const at = off + k * 24;
      if (b[at] === 0) break;
      this.frags!.push(num(b, at, 12, what), num(b, at + 12, 12, what));
    }
  }

  private sparseExt(b: Uint8Array): void {
    this.sparseEntries(b, 0, 21, "GNU sparse extension");
    if (!b[504]) this.begin();
  }

  private sparseMap(b: Uint8Array): void {
    if (this.remaining < BLOCK) throw bad(`the sparse map of "${this.cur!.name}" is longer than its data`);
    this.remaining -= BLOCK;
    this.mapText += dec.decode(b);
    for (let k = 0; k < BLOCK; k++) if (b[k] === 0x0a) this.mapLines++;
    if (this.mapCount < 0 && this.mapLines >= 1) {
      this.mapCount = decimal(this.mapText.slice(0, this.mapText.indexOf("\n")), "sparse map size");
      this.mapNeed = 1 + 2 * this.mapCount;
    }
    if (this.mapLines < this.mapNeed) return;
    const lines = this.mapText.split("\n", this.mapNeed);
    for (let k = 1; k < this.mapNeed; k++) this.frags!.push(decimal(lines[k]!, "sparse map"));
    this.mapText = "";
    this.stored = this.remaining; // the fragments follow the map; the padding was counted on the whole
    this.begin();
  }

  /** Start delivering the current entry's content. */
  private begin(): void {
    const h = this.cur!;
    this.cur = undefined;
    const frags = this.frags;
    if (frags) {
      let end = 0;
      let total = 0;
      for (let k = 0; k < frags.length; k += 2) {
        const o = frags[k]!;
        const l = frags[k + 1]!;
        if (o < 0 || l < 0 || o < end || o + l > h.size) throw bad(`the sparse map of "${h.name}" is invalid`);
        end = o + l;
        total += l;
      }
      if (total !== this.stored) {
        throw bad(`the sparse map of "${h.name}" describes ${total} bytes of data, but the entry holds ${this.stored}`);
      }
      this.fragIdx = 0;
      this.fragLeft = 0;
    }
    this.remaining = this.stored;
    this.pos = 0;
    this.sink = this.onEntry(h);
    if (this.remaining === 0) this.entryDone();
    else this.state = S.Data;
  }

  private deliver(bytes: Uint8Array): void {
    const sink = this.sink;
    if (!sink) return;
    const frags = this.frags;
    if (!frags) {
      sink.data(bytes, this.pos);
      this.pos += bytes.length;
      return;
    }
    let i = 0;
    while (i < bytes.length) {
      while (this.fragLeft === 0) {
        this.pos = frags[this.fragIdx]!;
        this.fragLeft = frags[this.fragIdx + 1]!;
        this.fragIdx += 2;
      }
      const take = Math.min(this.fragLeft, bytes.length - i);
      sink.data(bytes.subarray(i, i + take), this.pos);
      this.pos += take;
      this.fragLeft -= take;
      i += take;
    }
  }

  private entryDone(): void {
    const sink = this.sink;
    this.sink = undefined;
    this.state = this.pad ? S.Pad : S.Header;
    sink?.end();
  }
}

function text(pax: Map<string, Uint8Array>, key: string): string | undefined {
  const v = pax.get(key);
  return v === undefined ? undefined : dec.decode(v);
}
