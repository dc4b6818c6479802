/**
 * Test helpers for images: a byte-exact tar writer (so tests can build the
 * hostile archives no well-behaved tool would make), OCI images, a real
 * distribution registry (Debian's docker-registry) on 127.0.0.1, a push
 * client, oci-archive and docker-archive files.
 */
import zlib from "node:zlib";
import { createHash } from "node:crypto";
import { exists, isolatedEnv, NOOK, nook, type Result, scratch, staticBusybox } from "./_helpers.ts";

/** One tar entry. */
export interface TarEntry {
  /** Member name as written (may be hostile). */
  name: string;
  /** Entry type. */
  type?: "file" | "dir" | "symlink" | "link" | "char" | "block" | "fifo";
  /** File content. */
  content?: string | Uint8Array;
  /** Permission bits. */
  mode?: number;
  /** Owner. */
  uid?: number;
  /** Group. */
  gid?: number;
  /** Target of a symlink or hard link. */
  linkname?: string;
  /** mtime, seconds. */
  mtime?: number;
  /** Extra PAX records (written as an "x" header before the entry). */
  pax?: Record<string, string>;
  /** Device numbers. */
  dev?: [number, number];
}

const enc = new TextEncoder();

function octal(buf: Uint8Array, off: number, len: number, value: number): void {
  const s = value.toString(8).padStart(len - 1, "0");
  buf.set(enc.encode(s.slice(-(len - 1))), off);
  buf[off + len - 1] = 0;
}

function header(name: string, typeflag: string, size: number, e: TarEntry): Uint8Array {
  const h = new Uint8Array(512);
  const nb = enc.encode(name);
  if (nb.length > 100) throw new Error("tar test helper: use pax path for long names");
  h.set(nb, 0);
  octal(h, 100, 8, e.mode ?? (typeflag === "5" ? 0o755 : 0o644));
  octal(h, 108, 8, e.uid ?? 0);
  octal(h, 116, 8, e.gid ?? 0);
  octal(h, 124, 12, size);
  octal(h, 136, 12, e.mtime ?? 1_700_000_000);
  h.fill(0x20, 148, 156);
  h[156] = typeflag.charCodeAt(0);
  if (e.linkname) h.set(enc.encode(e.linkname).subarray(0, 100), 157);
  h.set(enc.encode("ustar\0"), 257);
  h.set(enc.encode("00"), 263);
  if (e.dev) {
    octal(h, 329, 8, e.dev[0]);
    octal(h, 337, 8, e.dev[1]);
  }
  let sum = 0;
  for (const b of h) sum += b;
  octal(h, 148, 7, sum);
  h[155] = 0x20;
  return h;
}

function pad(n: number): Uint8Array {
  return new Uint8Array((512 - (n % 512)) % 512);
}

/** A tar archive of these entries, bytes exactly as described. */
export function tar(entries: readonly TarEntry[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const e of entries) {
    const type = e.type ?? "file";
    const flag = { file: "0", link: "1", symlink: "2", char: "3", block: "4", dir: "5", fifo: "6" }[type];
    const data = typeof e.content === "string" ? enc.encode(e.content) : e.content ?? new Uint8Array();
    let name = e.name;
    const pax = { ...e.pax };
    if (enc.encode(name).length > 100) {
      pax.path = name;
      name = name.slice(0, 90);
    }
    if (Object.keys(pax).length) {
      let body = "";
      for (const [k, v] of Object.entries(pax)) {
        const rec = ` ${k}=${v}\n`;
        let len = rec.length + 1;
        while (String(len).length + rec.length !== len) len = String(len).length + rec.length;
        body += `${len}${rec}`;
      }
      const pb = enc.encode(body);
      parts.push(header("PaxHeaders/x", "x", pb.length, { name: "" }), pb, pad(pb.length));
    }
    parts.push(header(name, flag!, type === "file" ? data.length : 0, e));
    if (type === "file") parts.push(data, pad(data.length));
  }
  parts.push(new Uint8Array(1024));
  return concat(parts);
}

/** Concatenate byte arrays. */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) (out.set(p, o), (o += p.length));
  return out;
}

/** "sha256:…" of bytes. */
export function digestOf(b: Uint8Array): string {
  return "sha256:" + createHash("sha256").update(b).digest("hex");
}

/** A layer blob ready to push. */
export interface Layer {
  /** The blob (compressed as asked). */
  blob: Uint8Array;
  /** Its digest. */
  digest: string;
  /** Digest of the uncompressed tar. */
  diffId: string;
  /** Media type. */
  mediaType: string;
}

/** A layer from tar entries (or raw tar bytes). */
export function layer(entries: readonly TarEntry[] | Uint8Array, compress: "gzip" | "zstd" | "none" = "gzip"): Layer {
  const raw = entries instanceof Uint8Array ? entries : tar(entries);
  const blob = compress === "gzip"
    ? new Uint8Array(zlib.gzipSync(raw))
    : compress === "zstd"
    ? new Uint8Array(zlib.zstdCompressSync(raw))
    : raw;
  const mediaType = "application/vnd.oci.image.layer.v1.tar" +
    (compress === "gzip" ? "+gzip" : compress === "zstd" ? "+zstd" : "");
  return { blob, digest: digestOf(blob), diffId: digestOf(raw), mediaType };
}

/** An image: config + manifest bytes and every blob. */
export interface TestImage {
  /** Config bytes. */
  config: Uint8Array;
  /** Manifest bytes. */
  manifest: Uint8Array;
  /** Manifest digest. */
  digest: string;
  /** Config digest (the image ID). */
  id: string;
  /** Layers. */
  layers: Layer[];
  /** Media type of the manifest. */
  mediaType: string;
}

/** Build an image from layers and config overrides, as an OCI image or a docker v2 schema 2 one. */
export function image(
  layers: Layer[],
  cfg: Record<string, unknown> = {},
  platform = { os: "linux", architecture: "amd64" },
  format: "oci" | "docker" = "oci",
): TestImage {
  const config = enc.encode(JSON.stringify({
    created: "2024-01-01T00:00:00Z",
    ...platform,
    config: { Env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], Cmd: ["/bin/sh"], ...cfg },
    rootfs: { type: "layers", diff_ids: layers.map((l) => l.diffId) },
  }));
  const docker = format === "docker";
  const mediaType = docker
    ? "application/vnd.docker.distribution.manifest.v2+json"
    : "application/vnd.oci.image.manifest.v1+json";
  const manifest = enc.encode(JSON.stringify({
    schemaVersion: 2,
    mediaType,
    config: {
      mediaType: docker ? "application/vnd.docker.container.image.v1+json" : "application/vnd.oci.image.config.v1+json",
      digest: digestOf(config),
      size: config.length,
    },
    layers: layers.map((l) => ({
      mediaType: docker ? "application/vnd.docker.image.rootfs.diff.tar.gzip" : l.mediaType,
      digest: l.digest,
      size: l.blob.length,
    })),
  }));
  return { config, manifest, digest: digestOf(manifest), id: digestOf(config), layers, mediaType };
}

/** Host platform in OCI terms. */
export function hostArch(): string {
  return Deno.build.arch === "x86_64" ? "amd64" : "arm64";
}

/** busybox rootfs entries: the static binary and a few applets, passwd and group. */
export function busyboxEntries(): TarEntry[] {
  const bb = staticBusybox();
  if (!bb) throw new Error("busybox-static is not installed");
  const entries: TarEntry[] = [
    { name: "bin/", type: "dir" },
    { name: "bin/busybox", content: Deno.readFileSync(bb), mode: 0o755 },
    { name: "etc/", type: "dir" },
    {
      name: "etc/passwd",
      content:
        "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    },
    { name: "etc/group", content: "root:x:0:\nuser:x:1000:\nnogroup:x:65534:\n" },
    { name: "tmp/", type: "dir", mode: 0o1777 },
    { name: "root/", type: "dir", mode: 0o700 },
    { name: "home/", type: "dir" },
    { name: "home/user/", type: "dir", uid: 1000, gid: 1000 },
  ];
  for (
    const a of [
      "sh",
      "ls",
      "cat",
      "id",
      "stat",
      "echo",
      "env",
      "pwd",
      "test",
      "[",
      "readlink",
      "find",
      "sha256sum",
      "touch",
      "mkdir",
      "rm",
      "sleep",
      "true",
      "false",
      "hostname",
      "wc",
      "head",
      "grep",
      "chown",
      "ln",
      "printf",
      "sort",
      "xargs",
      "mount",
    ]
  ) {
    entries.push({ name: `bin/${a}`, type: "symlink", linkname: "busybox" });
  }
  return entries;
}

/** A running docker-registry (distribution v2) on 127.0.0.1. */
export interface TestRegistry {
  /** "127.0.0.1:PORT". */
  host: string;
  /** Storage directory. */
  dir: string;
  /** Stop it. */
  stop(): Promise<void>;
}

/** Why registry tests cannot run here. */
export function registrySkip(): string | undefined {
  return exists("/usr/bin/docker-registry")
    ? undefined
    : "docker-registry is not installed (apt install docker-registry)";
}

/** A bcrypt hash of `password` for a registry's htpasswd file (the registry reads `$2a$`). */
export function bcrypt(password: string): string {
  const out = new Deno.Command("python3", {
    args: [
      "-W",
      "ignore",
      "-c",
      "import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH)))",
      password,
    ],
    stdout: "piped",
    stderr: "null",
  }).outputSync();
  return new TextDecoder().decode(out.stdout).trim().replace(/^\$2b\$/, "$2a$");
}

/** Why an htpasswd file cannot be written here (bcrypt needs python3's crypt module). */
export function htpasswdSkip(): string | undefined {
  try {
    return bcrypt("x").startsWith("$2") ? undefined : "python3's crypt module cannot make bcrypt hashes for htpasswd";
  } catch {
    return "python3 is not installed (needed to write an htpasswd file)";
  }
}

/** Start a registry that asks for basic auth: user `alice`, password `s3cret` (htpasswd written into `dir`). */
export function startAuthRegistry(dir: string): Promise<TestRegistry> {
  Deno.writeTextFileSync(`${dir}/htpasswd`, `alice:${bcrypt("s3cret")}\n`);
  return startRegistry(`auth:\n  htpasswd:\n    realm: nook-test\n    path: ${dir}/htpasswd\n`);
}

/** A free TCP port on 127.0.0.1 (bound and released; the registry binds it right after). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Start a registry with its own config; `extra` is YAML appended (auth…). Stopped at exit at the latest. */
export async function startRegistry(extra = ""): Promise<TestRegistry> {
  const dir = scratch("nook-registry-");
  let last = "";
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = freePort();
    const cfg = `${dir}/config.yml`;
    Deno.writeTextFileSync(
      cfg,
      [
        "version: 0.1",
        "log:",
        "  level: error",
        "  accesslog:",
        "    disabled: true",
        "storage:",
        "  filesystem:",
        `    rootdirectory: ${dir}/data`,
        "  delete:",
        "    enabled: true",
        "http:",
        `  addr: 127.0.0.1:${port}`,
        extra,
      ].join("\n") + "\n",
    );
    const child = new Deno.Command("/usr/bin/docker-registry", {
      args: ["serve", cfg],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    child.unref();
    const kill = () => {
      try {
        child.kill("SIGKILL");
      } catch {
        // gone
      }
    };
    globalThis.addEventListener("unload", kill);
    let exited = false;
    child.status.then(() => (exited = true));
    const end = Date.now() + 10_000;
    while (Date.now() < end && !exited) {
      try {
        const r = await fetch(`http://127.0.0.1:${port}/v2/`);
        await r.body?.cancel();
        return {
          host: `127.0.0.1:${port}`,
          dir,
          stop: async () => {
            child.ref(); // keep the test alive until it is gone
            try {
              child.kill("SIGTERM");
            } catch {
              // gone
            }
            await child.status;
            globalThis.removeEventListener("unload", kill);
          },
        };
      } catch (err) {
        last = (err as Error).message;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    kill();
    await child.status;
  }
  throw new Error(`docker-registry did not start (${last}); config in ${dir}`);
}

/** Push an image (blobs, then the manifest) with the distribution API; `auth` is an Authorization header. */
export async function push(host: string, repo: string, tag: string, img: TestImage, auth?: string): Promise<void> {
  const h = (extra: Record<string, string> = {}) => ({ ...(auth ? { Authorization: auth } : {}), ...extra });
  const blobs: [string, Uint8Array][] = [
    [img.id, img.config],
    ...img.layers.map((l) => [l.digest, l.blob] as [string, Uint8Array]),
  ];
  for (const [digest, data] of blobs) await pushBlob(host, repo, digest, data, auth);
  const r = await fetch(`http://${host}/v2/${repo}/manifests/${tag}`, {
    method: "PUT",
    headers: h({ "Content-Type": img.mediaType }),
    body: img.manifest as Uint8Array<ArrayBuffer>,
  });
  if (!r.ok) throw new Error(`push manifest: ${r.status} ${await r.text()}`);
  await r.body?.cancel();
}

/** Upload one blob (monolithic). */
export async function pushBlob(
  host: string,
  repo: string,
  digest: string,
  data: Uint8Array,
  auth?: string,
): Promise<void> {
  const h = auth ? { Authorization: auth } : {};
  const head = await fetch(`http://${host}/v2/${repo}/blobs/${digest}`, { method: "HEAD", headers: h });
  await head.body?.cancel();
  if (head.ok) return;
  const start = await fetch(`http://${host}/v2/${repo}/blobs/uploads/`, { method: "POST", headers: h });
  await start.body?.cancel();
  if (start.status !== 202) throw new Error(`start upload: ${start.status}`);
  const loc = new URL(start.headers.get("location")!, `http://${host}`);
  loc.searchParams.set("digest", digest);
  const put = await fetch(loc, {
    method: "PUT",
    headers: { ...h, "Content-Type": "application/octet-stream" },
    body: data as Uint8Array<ArrayBuffer>,
  });
  if (put.status !== 201) throw new Error(`upload ${digest}: ${put.status} ${await put.text()}`);
  await put.body?.cancel();
}

/** Push a multi-platform index of images (pushed by digest first). */
export async function pushIndex(
  host: string,
  repo: string,
  tag: string,
  images: [TestImage, { os: string; architecture: string; variant?: string }][],
): Promise<string> {
  for (const [img] of images) await push(host, repo, img.digest, img);
  const docker = images[0]?.[0].mediaType.includes("docker");
  const listType = docker
    ? "application/vnd.docker.distribution.manifest.list.v2+json"
    : "application/vnd.oci.image.index.v1+json";
  const index = enc.encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: listType,
    manifests: images.map(([img, platform]) => ({
      mediaType: img.mediaType,
      digest: img.digest,
      size: img.manifest.length,
      platform,
    })),
  }));
  const r = await fetch(`http://${host}/v2/${repo}/manifests/${tag}`, {
    method: "PUT",
    headers: { "Content-Type": listType },
    body: index as Uint8Array<ArrayBuffer>,
  });
  if (!r.ok) throw new Error(`push index: ${r.status} ${await r.text()}`);
  await r.body?.cancel();
  return digestOf(index);
}

/** Path of a blob's data in the registry's filesystem storage (to corrupt it on purpose). */
export function registryBlobPath(reg: TestRegistry, digest: string): string {
  const hex = digest.slice(7);
  return `${reg.dir}/data/docker/registry/v2/blobs/sha256/${hex.slice(0, 2)}/${hex}/data`;
}

/** An oci-archive file of one image, tagged with refName. */
export function ociArchive(img: TestImage, refName: string): Uint8Array {
  const index = JSON.stringify({
    schemaVersion: 2,
    manifests: [{
      mediaType: img.mediaType,
      digest: img.digest,
      size: img.manifest.length,
      annotations: { "org.opencontainers.image.ref.name": refName },
    }],
  });
  const blob = (d: string, b: Uint8Array): TarEntry => ({ name: `blobs/sha256/${d.slice(7)}`, content: b });
  return tar([
    { name: "oci-layout", content: '{"imageLayoutVersion":"1.0.0"}' },
    { name: "index.json", content: index },
    { name: "blobs/", type: "dir" },
    { name: "blobs/sha256/", type: "dir" },
    blob(img.digest, img.manifest),
    blob(img.id, img.config),
    ...img.layers.map((l) => blob(l.digest, l.blob)),
  ]);
}

/** A docker-archive file (docker save format) of one image; layers are written uncompressed as docker does. */
export function dockerArchive(img: TestImage, repoTags: string[], uncompressed: Uint8Array[]): Uint8Array {
  const cfgName = `${img.id.slice(7)}.json`;
  const layerNames = uncompressed.map((_, i) => `layer${i}/layer.tar`);
  return tar([
    ...uncompressed.map((t, i) => ({ name: layerNames[i]!, content: t })),
    { name: cfgName, content: img.config },
    { name: "manifest.json", content: JSON.stringify([{ Config: cfgName, RepoTags: repoTags, Layers: layerNames }]) },
  ]);
}

/** A private data directory for one test, and a way to remove it (files of subordinate ids included). */
export function freshStore(
  extra: Record<string, string> = {},
): { env: Record<string, string>; data: string; reset: () => Promise<void> } {
  const base = scratch("nook-store-");
  const data = `${base}/data`;
  Deno.mkdirSync(`${base}/run`, { mode: 0o700 });
  const env = isolatedEnv({ NOOK_DATA_DIR: data, XDG_RUNTIME_DIR: `${base}/run`, ...extra });
  return {
    env,
    data,
    reset: async () => {
      await nook(["system", "reset", "-f"], { env });
      try {
        Deno.removeSync(base, { recursive: true });
      } catch {
        // left for the OS
      }
    },
  };
}

/** sha256 hex of a file on the host. */
export function fileHash(path: string): string {
  return createHash("sha256").update(Deno.readFileSync(path)).digest("hex");
}

/** Every file under a directory (relative paths), empty when it does not exist. */
export function listTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(d)];
    } catch {
      return;
    }
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      out.push(r);
      if (e.isDirectory) walk(`${d}/${e.name}`, r);
    }
  };
  walk(dir, "");
  return out.sort();
}

/**
 * `./nook ARGS` with a time limit: a hang (a deadlock would be a bug) kills
 * nook after `ms` and fails the test instead of stalling the suite.
 */
export async function nookT(
  args: string[],
  env: Record<string, string>,
  ms = 120_000,
  stdin?: Uint8Array,
): Promise<Result> {
  const child = new Deno.Command(NOOK, {
    args,
    env: { ...isolatedEnv(), ...env },
    stdin: stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch {
      // ended just now
    }
  }, ms);
  if (stdin) {
    const w = child.stdin.getWriter();
    await w.write(stdin);
    await w.close();
  }
  const out = await child.output();
  clearTimeout(timer);
  const dec = new TextDecoder();
  if (timedOut) throw new Error(`nook ${args.join(" ")} did not finish within ${ms} ms`);
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** What a test proxy does with one request. */
export type ProxyAction =
  | "pass"
  | Response
  | { cutAfter: number }
  | { bytesPerTick: number; tickMs: number };

/** A tiny HTTP proxy in front of a registry that can fail, cut, slow down or redirect requests. */
export interface TestProxy {
  /** "127.0.0.1:PORT". */
  host: string;
  /** Every request seen: method, path and Range header. */
  seen: { method: string; path: string; range: string | null }[];
  /** Stop it. */
  stop(): Promise<void>;
}

/** A test's HTTP server on 127.0.0.1 and a free port, stopped by `stop`; `handle` gets each request and the port. */
export interface LocalServer {
  /** The port (0 until the server listens). */
  readonly port: number;
  /** "127.0.0.1:PORT". */
  readonly host: string;
  /** Stop it. */
  stop(): Promise<void>;
}

/** Serve `handle` on 127.0.0.1 and a port the kernel picks (see {@link LocalServer}). */
export function serveLocal(handle: (req: Request, port: number) => Response | Promise<Response>): LocalServer {
  const ac = new AbortController();
  let port = 0;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen: (a) => (port = a.port) },
    (req) => handle(req, port),
  );
  return {
    get port() {
      return port;
    },
    get host() {
      return `127.0.0.1:${port}`;
    },
    stop: async () => {
      ac.abort();
      await server.finished;
    },
  };
}

/** Start a proxy to `target` ("127.0.0.1:PORT"); `act` decides per request (n = how many times this path was asked). */
export function startProxy(target: string, act: (req: Request, n: number) => ProxyAction): TestProxy {
  const counts = new Map<string, number>();
  const seen: TestProxy["seen"] = [];
  const server = serveLocal(
    async (req) => {
      const url = new URL(req.url);
      const n = (counts.get(url.pathname) ?? 0) + 1;
      counts.set(url.pathname, n);
      seen.push({ method: req.method, path: url.pathname, range: req.headers.get("range") });
      const a = act(req, n);
      if (a instanceof Response) return a;
      const headers = new Headers(req.headers);
      headers.delete("host");
      const res = await fetch(`http://${target}${url.pathname}${url.search}`, {
        method: req.method,
        headers,
        redirect: "manual",
      });
      if (a === "pass" || !res.body) return new Response(res.body, { status: res.status, headers: res.headers });
      const reader = res.body.getReader();
      let sent = 0;
      let pending: Uint8Array | undefined;
      const body = new ReadableStream<Uint8Array>({
        async pull(ctl) {
          if (!pending || pending.length === 0) {
            const r = await reader.read();
            if (r.done) return ctl.close();
            pending = r.value;
          }
          if ("cutAfter" in a) {
            if (sent + pending.length > a.cutAfter) {
              ctl.enqueue(pending.subarray(0, a.cutAfter - sent));
              sent = a.cutAfter;
              await reader.cancel();
              ctl.error(new Error("connection cut by the test proxy"));
              return;
            }
            ctl.enqueue(pending);
            sent += pending.length;
            pending = undefined;
            return;
          }
          await new Promise((r) => setTimeout(r, a.tickMs));
          const part = pending.subarray(0, a.bytesPerTick);
          pending = pending.subarray(part.length);
          ctl.enqueue(part);
        },
        cancel() {
          void reader.cancel();
        },
      });
      return new Response(body, { status: res.status, headers: res.headers });
    },
  );
  return {
    get host() {
      return server.host;
    },
    seen,
    stop: server.stop,
  };
}

/** n random bytes (getRandomValues gives at most 64 KiB at a time). */
export function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let o = 0; o < n; o += 65536) crypto.getRandomValues(out.subarray(o, Math.min(n, o + 65536)));
  return out;
}
