/**
 * Shipping images: `nook push` against real registries (Debian's
 * docker-registry on 127.0.0.1) read back by skopeo and podman; blobs the
 * registry has are not sent again, blobs of another repository are mounted;
 * chunked uploads and a retried one; a credential helper; a multi-platform
 * index; a registry that never answers. Also `tag`, `untag`, `history`, and
 * pull through the registry mirrors of config.yaml.
 */
import { assert, busyboxSkip, exists, scratch, sh, subidSkip, test } from "../_helpers.ts";
import {
  busyboxEntries,
  digestOf,
  freePort,
  freshStore,
  hostArch,
  htpasswdSkip,
  image,
  type Layer,
  layer,
  nookT,
  push,
  pushIndex,
  randomBytes,
  registrySkip,
  serveLocal,
  startAuthRegistry,
  startRegistry,
  type TestImage,
  type TestRegistry,
} from "../_oci.ts";

const skip = busyboxSkip() ?? subidSkip() ?? registrySkip();
const skopeoSkip = () =>
  skip ?? (exists("/usr/bin/skopeo") ? undefined : "skopeo is not installed (apt install skopeo)");

let sharedRegs: TestRegistry[] = [];
/** The i-th shared registry (started on first use). */
async function registry(i: number): Promise<TestRegistry> {
  while (sharedRegs.length <= i) sharedRegs = [...sharedRegs, await startRegistry()];
  return sharedRegs[i]!;
}

/** What a counting proxy saw: method, path and query of each request. */
interface Seen {
  method: string;
  path: string;
  search: string;
}

/**
 * A forwarding proxy that passes request bodies (uploads) and rewrites the
 * registry's Location headers to itself, so every request of a push passes
 * here and is counted; `fail` may answer a request itself instead.
 */
function countingProxy(target: string, fail?: (req: Request, seen: Seen[]) => Response | undefined) {
  const seen: Seen[] = [];
  const server = serveLocal(
    async (req, port) => {
      const url = new URL(req.url);
      seen.push({ method: req.method, path: url.pathname, search: url.search });
      const bad = fail?.(req, seen);
      if (bad) {
        await req.body?.cancel();
        return bad;
      }
      const headers = new Headers(req.headers);
      headers.delete("host");
      const res = await fetch(`http://${target}${url.pathname}${url.search}`, {
        method: req.method,
        headers,
        body: req.body,
        redirect: "manual",
      });
      const out = new Headers(res.headers);
      const loc = out.get("location");
      if (loc) out.set("location", loc.replace(`//${target}/`, `//127.0.0.1:${port}/`));
      return new Response(res.body, { status: res.status, headers: out });
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

const uploads = (seen: Seen[]) => seen.filter((s) => s.method === "POST" && /\/blobs\/uploads\/$/.test(s.path));
const mounts = (seen: Seen[]) => uploads(seen).filter((s) => /[?&]mount=/.test(s.search));
const patches = (seen: Seen[]) => seen.filter((s) => s.method === "PATCH");

async function skopeoInspect(ref: string): Promise<{ digest: string; raw: string }> {
  const r = await sh("skopeo", ["inspect", "--raw", "--tls-verify=false", `docker://${ref}`]);
  assert.equal(r.code, 0, r.stderr);
  return { digest: digestOf(new TextEncoder().encode(r.stdout)), raw: r.stdout };
}

/** An image whose config carries a build history (image() of _oci.ts writes none). */
function imageWithHistory(layers: Layer[], history: Record<string, unknown>[]): TestImage {
  const enc = new TextEncoder();
  const config = enc.encode(JSON.stringify({
    created: "2024-01-01T00:00:00Z",
    os: "linux",
    architecture: hostArch(),
    config: { Env: ["PATH=/bin"], Cmd: ["/bin/sh"] },
    rootfs: { type: "layers", diff_ids: layers.map((l) => l.diffId) },
    history,
  }));
  const mediaType = "application/vnd.oci.image.manifest.v1+json";
  const manifest = enc.encode(JSON.stringify({
    schemaVersion: 2,
    mediaType,
    config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: digestOf(config), size: config.length },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.blob.length })),
  }));
  return { config, manifest, digest: digestOf(manifest), id: digestOf(config), layers, mediaType };
}

test(
  "push uploads an image skopeo reads back with the same digest, in chunks, retrying a failed chunk; a second push sends no blob; another repository mounts them",
  async () => {
    const src = await registry(0);
    const dst = await startRegistry();
    let failed = false;
    const proxy = countingProxy(dst.host, (req, seen) => {
      // the second PATCH of the run fails once, as a registry under load does
      if (!failed && req.method === "PATCH" && patches(seen).length === 2) {
        failed = true;
        return new Response("busy", { status: 503 });
      }
      return undefined;
    });
    const s = freshStore({ NOOK_PUSH_CHUNK_SIZE: String(64 * 1024) });
    const dir = scratch();
    try {
      const img = image([layer(busyboxEntries()), layer([{ name: "data.bin", content: randomBytes(300_000) }])]);
      await push(src.host, "push/src", "1", img);
      const pulled = await nookT(["pull", "-q", `${src.host}/push/src:1`], s.env);
      assert.equal(pulled.code, 0, pulled.stderr);

      const first = await nookT(
        ["push", "--digestfile", `${dir}/digest`, `${src.host}/push/src:1`, `${proxy.host}/team/app:1`],
        s.env,
      );
      assert.equal(first.code, 0, first.stderr);
      assert.equal(Deno.readTextFileSync(`${dir}/digest`), img.digest, "the stored manifest goes unchanged");
      assert.ok(
        patches(proxy.seen).length >= 5,
        `the 300 kB layer went in 64 KiB chunks: ${patches(proxy.seen).length}`,
      );
      assert.match(first.stderr, /retrying the upload of [0-9a-f]{12}/, "the refused chunk restarted its upload");
      assert.equal(mounts(proxy.seen).length, 0, "nothing to mount from in a registry that had nothing");
      const back = await skopeoInspect(`${dst.host}/team/app:1`);
      assert.equal(back.digest, img.digest);

      // skopeo copies it out whole: the registry has every blob with its digest
      const copy = await sh("skopeo", [
        "copy",
        "--src-tls-verify=false",
        `docker://${dst.host}/team/app:1`,
        `oci:${dir}/oci:app`,
      ]);
      assert.equal(copy.code, 0, copy.stderr);
      const index = JSON.parse(Deno.readTextFileSync(`${dir}/oci/index.json`));
      assert.equal(index.manifests[0].digest, img.digest);
      for (const l of img.layers) assert.ok(exists(`${dir}/oci/blobs/sha256/${l.digest.slice(7)}`));

      proxy.seen.length = 0;
      const again = await nookT(["push", `${src.host}/push/src:1`, `${proxy.host}/team/app:1`], s.env);
      assert.equal(again.code, 0, again.stderr);
      assert.equal(uploads(proxy.seen).length, 0, "no blob upload started the second time");
      assert.equal(proxy.seen.filter((r) => r.method === "HEAD").length, 3, "one HEAD per blob (2 layers, config)");
      assert.match(again.stderr, /already exists/);

      proxy.seen.length = 0;
      const other = await nookT(
        ["push", "--debug", `${src.host}/push/src:1`, `${proxy.host}/other/app:2`],
        s.env,
      );
      assert.equal(other.code, 0, other.stderr);
      assert.equal(mounts(proxy.seen).length, 3, "each blob mounted from team/app");
      assert.ok(mounts(proxy.seen).every((m) => m.search.includes("from=team%2Fapp")), JSON.stringify(proxy.seen));
      assert.equal(
        patches(proxy.seen).length + proxy.seen.filter((r) => r.method === "PUT").length,
        1,
        "only the manifest PUT",
      );
      assert.match(other.stderr, /debug: mounted sha256:[0-9a-f]{64} from/);
      assert.equal((await skopeoInspect(`${dst.host}/other/app:2`)).digest, img.digest);
    } finally {
      await s.reset();
      await proxy.stop();
      await dst.stop();
    }
  },
  { skip: skopeoSkip() },
);

test("push --format docker writes docker media types and the digest of what it wrote", async () => {
  const src = await registry(0);
  const dst = await registry(1);
  const s = freshStore();
  const dir = scratch();
  try {
    const img = image([layer(busyboxEntries())], { Cmd: ["true"] });
    await push(src.host, "push/fmt", "1", img);
    assert.equal((await nookT(["pull", "-q", `${src.host}/push/fmt:1`], s.env)).code, 0);
    const r = await nookT(
      [
        "push",
        "--format",
        "docker",
        "--digestfile",
        `${dir}/d`,
        `${src.host}/push/fmt:1`,
        `docker://${dst.host}/fmt/app:d`,
      ],
      s.env,
    );
    assert.equal(r.code, 0, r.stderr);
    const back = await skopeoInspect(`${dst.host}/fmt/app:d`);
    const doc = JSON.parse(back.raw);
    assert.equal(doc.mediaType, "application/vnd.docker.distribution.manifest.v2+json");
    assert.equal(doc.config.mediaType, "application/vnd.docker.container.image.v1+json");
    assert.equal(doc.layers[0].mediaType, "application/vnd.docker.image.rootfs.diff.tar.gzip");
    assert.equal(doc.config.digest, img.id, "the config is the same");
    assert.equal(Deno.readTextFileSync(`${dir}/d`), back.digest);
    const zstd = image([layer([{ name: "z", content: "z" }], "zstd")]);
    await push(src.host, "push/zstd", "1", zstd);
    assert.equal((await nookT(["pull", "-q", `${src.host}/push/zstd:1`], s.env)).code, 0);
    const refused = await nookT(
      ["push", "--format", "docker", `${src.host}/push/zstd:1`, `${dst.host}/fmt/z:1`],
      s.env,
    );
    assert.equal(refused.code, 125);
    assert.match(refused.stderr, /cannot describe.*\n.*--format oci/s);
    const bad = await nookT(["push", "--format", "v1", `${src.host}/push/fmt:1`, `${dst.host}/fmt/app:x`], s.env);
    assert.equal(bad.code, 125);
    assert.match(bad.stderr, /Unknown manifest format "v1"/);
    const short = await nookT(["push", `${src.host}/push/fmt:1`, "app:1"], s.env);
    assert.equal(short.code, 125);
    assert.match(short.stderr, /names no registry/);
  } finally {
    await s.reset();
  }
}, { skip: skopeoSkip() });

test(
  "push of a multi-platform image sends the index when the store has its platforms, the one manifest otherwise",
  async () => {
    const src = await registry(0);
    const dst = await registry(1);
    const s = freshStore();
    try {
      const other = hostArch() === "amd64" ? "arm64" : "amd64";
      const mine = image([layer([{ name: "p", content: "host" }])], {}, { os: "linux", architecture: hostArch() });
      const theirs = image([layer([{ name: "p", content: "other" }])], {}, { os: "linux", architecture: other });
      const indexDigest = await pushIndex(src.host, "push/multi", "1", [
        [mine, { os: "linux", architecture: hostArch() }],
        [theirs, { os: "linux", architecture: other }],
      ]);
      assert.equal((await nookT(["pull", "-q", `${src.host}/push/multi:1`], s.env)).code, 0);
      const one = await nookT(["push", `${src.host}/push/multi:1`, `${dst.host}/multi/one:1`], s.env);
      assert.equal(one.code, 0, one.stderr);
      assert.equal((await skopeoInspect(`${dst.host}/multi/one:1`)).digest, mine.digest, "one platform: its manifest");
      const p = await nookT(["pull", "-q", "--platform", `linux/${other}`, `${src.host}/push/multi:1`], s.env);
      assert.equal(p.code, 0, p.stderr);
      const both = await nookT(["push", `${src.host}/push/multi:1`, `${dst.host}/multi/both:1`], s.env);
      assert.equal(both.code, 0, both.stderr);
      assert.equal((await skopeoInspect(`${dst.host}/multi/both:1`)).digest, indexDigest, "the index, unchanged");
      for (const img of [mine, theirs]) {
        const m = await skopeoInspect(`${dst.host}/multi/both@${img.digest}`);
        assert.equal(m.digest, img.digest, "each platform's manifest went by its digest");
      }
    } finally {
      await s.reset();
    }
  },
  { skip: skopeoSkip() },
);

function authSkip(): string | undefined {
  return skip ?? htpasswdSkip();
}

test("push and pull get credentials from a docker-credential helper (credHelpers and credsStore)", async () => {
  const src = await registry(0);
  const dir = scratch();
  const reg = await startAuthRegistry(dir);
  Deno.mkdirSync(`${dir}/bin`);
  Deno.mkdirSync(`${dir}/docker`);
  // the helper's protocol: "get" as argument, the server on stdin, JSON on stdout
  Deno.writeTextFileSync(
    `${dir}/bin/docker-credential-nooktest`,
    `#!/bin/sh\nread -r host\necho "$1 $host" >> ${dir}/helper.log\n` +
      `if [ "$1" = get ] && [ "$host" = "${reg.host}" ]; then\n` +
      `  echo '{"ServerURL":"${reg.host}","Username":"alice","Secret":"s3cret"}'\n` +
      `else\n  echo "credentials not found in native keychain"\n  exit 1\nfi\n`,
  );
  Deno.chmodSync(`${dir}/bin/docker-credential-nooktest`, 0o755);
  const s = freshStore({
    DOCKER_CONFIG: `${dir}/docker`,
    XDG_CONFIG_HOME: `${dir}/config`,
    NOOK_AUTH_FILE: `${dir}/nook-auth.json`,
    PATH: `${dir}/bin:${Deno.env.get("PATH") ?? "/usr/bin:/bin"}`,
  });
  try {
    const img = image([layer(busyboxEntries())], { Cmd: ["echo", "helped"] });
    await push(src.host, "push/auth", "1", img);
    assert.equal((await nookT(["pull", "-q", `${src.host}/push/auth:1`], s.env)).code, 0);
    const denied = await nookT(["push", `${src.host}/push/auth:1`, `${reg.host}/private/app:1`], s.env);
    assert.equal(denied.code, 125, denied.stderr);
    assert.match(denied.stderr, /nook login 127\.0\.0\.1/);

    Deno.writeTextFileSync(`${dir}/docker/config.json`, JSON.stringify({ credHelpers: { [reg.host]: "nooktest" } }));
    const ok = await nookT(["push", `${src.host}/push/auth:1`, `${reg.host}/private/app:1`], s.env);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(
      Deno.readTextFileSync(`${dir}/helper.log`),
      new RegExp(`^get ${reg.host.replace(/\./g, "\\.")}$`, "m"),
    );
    const back = await sh("skopeo", [
      "inspect",
      "--raw",
      "--tls-verify=false",
      "--creds",
      "alice:s3cret",
      `docker://${reg.host}/private/app:1`,
    ]);
    assert.equal(back.code, 0, back.stderr);
    assert.equal(digestOf(new TextEncoder().encode(back.stdout)), img.digest);

    // the store-wide helper serves a pull; for a registry it knows nothing of, it says so and nook goes on
    Deno.writeTextFileSync(`${dir}/docker/config.json`, JSON.stringify({ credsStore: "nooktest" }));
    assert.equal((await nookT(["rmi", `${src.host}/push/auth:1`], s.env)).code, 0);
    const pulled = await nookT(["pull", "-q", `${reg.host}/private/app:1`], s.env);
    assert.equal(pulled.code, 0, pulled.stderr);
    assert.equal(pulled.stdout.trim(), img.id);
    assert.equal((await nookT(["pull", "-q", `${src.host}/push/auth:1`], s.env)).code, 0, "anonymous pull still works");

    // a helper named for the registry that is not installed is an error that names it
    Deno.writeTextFileSync(`${dir}/docker/config.json`, JSON.stringify({ credHelpers: { [reg.host]: "missing" } }));
    const missing = await nookT(["push", `${src.host}/push/auth:1`, `${reg.host}/private/app:2`], s.env);
    assert.equal(missing.code, 125);
    assert.match(missing.stderr, /docker-credential-missing/);
  } finally {
    await s.reset();
    await reg.stop();
  }
}, { skip: authSkip() ?? skopeoSkip() });

test(
  "tag adds names, untag removes them (all without NAME, the image stays), history shows the config's steps",
  async () => {
    const src = await registry(0);
    const s = freshStore();
    try {
      const bb = layer(busyboxEntries());
      const app = layer([{ name: "app/run.sh", content: "#!/bin/sh\necho hi\n".repeat(100) }]);
      const long = "/bin/sh -c apk add --no-cache ca-certificates tzdata curl && rm -rf /var/cache/apk/*";
      const img = imageWithHistory([bb, app], [
        { created: "2024-01-01T00:00:00Z", created_by: "/bin/sh -c #(nop) ADD file:busybox in / " },
        { created: "2024-01-01T00:00:01Z", created_by: '/bin/sh -c #(nop)  CMD ["/bin/sh"]', empty_layer: true },
        { created: "2024-01-02T00:00:00Z", created_by: long, comment: "buildkit.dockerfile.v0" },
      ]);
      await push(src.host, "push/hist", "1", img);
      const pulled = await nookT(["pull", "-q", `${src.host}/push/hist:1`], s.env);
      assert.equal(pulled.code, 0, pulled.stderr);

      const h = await nookT(["history", `${src.host}/push/hist:1`], s.env);
      assert.equal(h.code, 0, h.stderr);
      const lines = h.stdout.trimEnd().split("\n");
      assert.match(lines[0]!, /^IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT$/);
      assert.equal(lines.length, 4);
      assert.ok(lines[1]!.startsWith(img.id.slice(7, 19)), lines[1]);
      assert.ok(lines[1]!.includes(long.slice(0, 44) + "…"), "cut at 45 characters");
      assert.match(lines[1]!, /buildkit\.dockerfile\.v0$/);
      assert.match(lines[2]!, /^<missing>.*CMD \["\/bin\/sh"\]\s+0 B$/);
      assert.ok(lines[3]!.startsWith("<missing>"));
      const full = await nookT(["history", "--no-trunc", `${src.host}/push/hist:1`], s.env);
      assert.ok(full.stdout.includes(long) && full.stdout.includes(img.id), full.stdout);
      const q = await nookT(["history", "-q", `${src.host}/push/hist:1`], s.env);
      assert.equal(q.stdout, `${img.id.slice(7, 19)}\n<missing>\n<missing>\n`);
      const j = JSON.parse((await nookT(["history", "--format", "json", `${src.host}/push/hist:1`], s.env)).stdout);
      assert.equal(j.length, 3);
      assert.equal(j[0].id, img.id.slice(7));
      assert.equal(j[0].createdBy, long);
      assert.equal(j[0].comment, "buildkit.dockerfile.v0");
      assert.ok(j[0].size > 0, `the app layer's unpacked size: ${j[0].size}`);
      assert.equal(j[1].size, 0, "an empty_layer step added nothing");
      assert.ok(j[2].size > j[0].size, "busybox is the larger layer");
      assert.deepEqual(j[0].tags, [`${src.host}/push/hist:1`]);

      const names = async () =>
        JSON.parse((await nookT(["images", "--format", "json"], s.env)).stdout).find((i: { Id: string }) =>
          i.Id === img.id.slice(7)
        )?.Names;
      const t = await nookT(["tag", `${src.host}/push/hist:1`, "app:2", `${src.host}/push/other:x`], s.env);
      assert.equal(t.code, 0, t.stderr);
      assert.deepEqual(await names(), [`${src.host}/push/hist:1`, "localhost/app:2", `${src.host}/push/other:x`]);
      assert.equal((await nookT(["history", "-q", "app:2"], s.env)).stdout.split("\n")[0], img.id.slice(7, 19));
      const bad = await nookT(["tag", "app:2", "Bad:Name"], s.env);
      assert.equal(bad.code, 125);
      assert.match(bad.stderr, /Invalid image reference "Bad:Name"/);
      const notMine = await nookT(["untag", "app:2", "localhost/nope:1"], s.env);
      assert.equal(notMine.code, 125);
      assert.match(notMine.stderr, /"localhost\/nope:1" is not a name of the image "app:2"/);
      const u = await nookT(["untag", "app:2", "app:2"], s.env);
      assert.equal(u.code, 0, u.stderr);
      assert.deepEqual(await names(), [`${src.host}/push/hist:1`, `${src.host}/push/other:x`]);
      const all = await nookT(["untag", img.id.slice(7, 19)], s.env);
      assert.equal(all.code, 0, all.stderr);
      assert.deepEqual(await names(), [], "no names left");
      const q2 = await nookT(["images", "-q"], s.env);
      assert.ok(q2.stdout.includes(img.id.slice(7, 19)), "the image stays");
      assert.equal((await nookT(["history", "-q", img.id.slice(7, 19)], s.env)).code, 0);
      const gone = await nookT(["untag", "nosuch:1"], s.env);
      assert.equal(gone.code, 125);
      assert.match(gone.stderr, /No such image: "nosuch:1"/);
    } finally {
      await s.reset();
    }
  },
  { skip },
);

test("pull tries the registry's mirrors from config.yaml first and falls back to the registry", async () => {
  const main = await registry(0);
  const mirror = await registry(1);
  const dead = `127.0.0.1:${freePort()}`;
  const dir = scratch();
  Deno.mkdirSync(`${dir}/config/nook`, { recursive: true });
  Deno.writeTextFileSync(
    `${dir}/config/nook/config.yaml`,
    `registries:\n  mirrors:\n    "${main.host}":\n      - "${dead}"\n      - "${mirror.host}/cache"\n`,
  );
  const s = freshStore({ XDG_CONFIG_HOME: `${dir}/config` });
  try {
    const onlyMirror = image([layer([{ name: "m", content: "mirror" }])], { Cmd: ["true"] });
    await push(mirror.host, "cache/mirrored/app", "1", onlyMirror);
    const r = await nookT(["pull", "--debug", `${main.host}/mirrored/app:1`], s.env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), onlyMirror.id);
    assert.match(r.stderr, new RegExp(`mirror "${dead}" did not serve`));
    assert.match(r.stderr, new RegExp(`mirror "${mirror.host}/cache" served ${main.host}/mirrored/app:1`));
    const imgs = JSON.parse((await nookT(["images", "--format", "json"], s.env)).stdout);
    assert.deepEqual(imgs[0].Names, [`${main.host}/mirrored/app:1`], "named for the registry, not the mirror");

    const onlyMain = image([layer([{ name: "d", content: "direct" }])], { Cmd: ["true"] });
    await push(main.host, "direct/app", "1", onlyMain);
    const f = await nookT(["pull", "--debug", `${main.host}/direct/app:1`], s.env);
    assert.equal(f.code, 0, f.stderr);
    assert.equal(f.stdout.trim(), onlyMain.id);
    assert.match(f.stderr, /did not serve.*did not serve/s);
    assert.match(f.stderr, new RegExp(`registry "${main.host}" itself serves`));
    const quiet = await nookT(["pull", `${main.host}/direct/app:1`], s.env);
    assert.ok(!/mirror/.test(quiet.stderr), "without --debug the mirrors are not mentioned");
  } finally {
    await s.reset();
  }
}, { skip });

test("push to a registry that never answers fails within its timeout, naming the registry", async () => {
  const src = await registry(0);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  (async () => {
    for await (const c of listener) conns.push(c); // accepted, never answered
  })().catch(() => {});
  const host = `127.0.0.1:${(listener.addr as Deno.NetAddr).port}`;
  const s = freshStore({ NOOK_REGISTRY_TIMEOUT: "1" });
  try {
    const img = image([layer([{ name: "t", content: "t" }])]);
    await push(src.host, "push/silent", "1", img);
    assert.equal((await nookT(["pull", "-q", `${src.host}/push/silent:1`], s.env)).code, 0);
    const t0 = Date.now();
    const r = await nookT(["push", `${src.host}/push/silent:1`, `${host}/app:1`], s.env, 60_000);
    const took = Date.now() - t0;
    assert.equal(r.code, 125, r.stderr);
    assert.match(r.stderr, new RegExp(`The registry "${host}" did not answer within 1 s`));
    assert.ok(took < 20_000, `ended after ${took} ms`);
  } finally {
    listener.close();
    for (const c of conns) {
      try {
        c.close();
      } catch {
        // closed
      }
    }
    await s.reset();
  }
}, { skip });

function podmanSkip(): string | undefined {
  if (skip) return skip;
  if (!exists("/usr/bin/podman")) return "podman is not installed";
  return undefined;
}

test("podman pulls what nook pushed and sees the same digest", async () => {
  const src = await registry(0);
  const dst = await registry(1);
  const s = freshStore();
  const dir = scratch();
  const podman = (args: string[]) =>
    sh("podman", [
      "--root",
      `${dir}/root`,
      "--runroot",
      `${dir}/runroot`,
      "--storage-driver",
      "vfs",
      ...args,
    ], { HOME: dir, XDG_RUNTIME_DIR: `${dir}/run`, PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" });
  Deno.mkdirSync(`${dir}/run`, { mode: 0o700 });
  try {
    const img = image([layer(busyboxEntries())], { Cmd: ["echo", "from nook"] });
    await push(src.host, "push/podman", "1", img);
    assert.equal((await nookT(["pull", "-q", `${src.host}/push/podman:1`], s.env)).code, 0);
    const r = await nookT(["push", `${src.host}/push/podman:1`, `${dst.host}/podman/app:1`], s.env);
    assert.equal(r.code, 0, r.stderr);
    const p = await podman(["pull", "-q", "--tls-verify=false", `${dst.host}/podman/app:1`]);
    assert.equal(p.code, 0, p.stderr);
    const i = await podman(["image", "inspect", "--format", "{{.Digest}}", `${dst.host}/podman/app:1`]);
    assert.equal(i.code, 0, i.stderr);
    assert.equal(i.stdout.trim(), img.digest);
  } finally {
    await podman(["rmi", "-a", "-f"]);
    await sh("podman", ["unshare", "rm", "-rf", dir], { HOME: dir, PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" });
    await s.reset();
  }
}, { skip: podmanSkip() });

test("stop the shared test registries", async () => {
  for (const r of sharedRegs) await r.stop();
  sharedRegs = [];
});
