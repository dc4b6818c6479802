/**
 * Pulling from a real registry (Debian's docker-registry on 127.0.0.1):
 * content and config, platforms from an index, digests checked while
 * streaming, corrupt and truncated layers, retries, resumed downloads,
 * redirects, concurrent pulls, kill -9 in the middle, and authentication.
 */
import { assert, busyboxSkip, exists, NOOK, scratch, sh, subidSkip, test, waitFor } from "../_helpers.ts";
import {
  busyboxEntries,
  digestOf,
  fileHash,
  freePort,
  freshStore,
  hostArch,
  htpasswdSkip,
  image,
  layer,
  listTree,
  nookT,
  push,
  pushIndex,
  randomBytes,
  registryBlobPath,
  registrySkip,
  serveLocal,
  startAuthRegistry,
  startProxy,
  startRegistry,
  tar,
  type TestRegistry,
} from "../_oci.ts";

const skip = busyboxSkip() ?? subidSkip() ?? registrySkip();

let shared: TestRegistry | undefined;
async function registry(): Promise<TestRegistry> {
  shared ??= await startRegistry();
  return shared;
}

const base = () => layer(busyboxEntries());

function blobsAreWhole(data: string): void {
  for (const hex of listTree(`${data}/blobs/sha256`)) {
    assert.equal(fileHash(`${data}/blobs/sha256/${hex}`), hex, `blob ${hex} does not match its name`);
  }
}

test("pull fetches an image over plain HTTP from 127.0.0.1, prints its ID, and run uses it", async () => {
  const reg = await registry();
  const s = freshStore();
  try {
    const img = image([base(), layer([{ name: "etc/motd", content: "from the registry\n" }], "zstd")], {
      Cmd: ["cat", "/etc/motd"],
    });
    await push(reg.host, "pull/basic", "1", img);
    const r = await nookT(["pull", `${reg.host}/pull/basic:1`], s.env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), img.id);
    assert.match(r.stderr, /Copying blob [0-9a-f]{12} .*done/s, "plain progress lines when stderr is not a terminal");
    const run = await nookT(["run", "--rm", `${reg.host}/pull/basic:1`], s.env);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, "from the registry\n");
    const again = await nookT(["pull", `${reg.host}/pull/basic:1`], s.env);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /already exists/);
    blobsAreWhole(s.data);
    const byDigest = await nookT(["pull", "-q", `${reg.host}/pull/basic@${img.digest}`], s.env);
    assert.equal(byDigest.code, 0, byDigest.stderr);
    assert.equal(byDigest.stdout.trim(), img.id);
  } finally {
    await s.reset();
  }
}, { skip });

test("run pulls a missing image first, as docker does", async () => {
  const reg = await registry();
  const s = freshStore();
  try {
    const img = image([base()], { Cmd: ["echo", "pulled by run"] });
    await push(reg.host, "pull/byrun", "latest", img);
    const r = await nookT(["run", "--rm", `${reg.host}/pull/byrun`], s.env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "pulled by run\n", "the pull's output does not mix into the container's");
    assert.match(r.stderr, /Unable to find image/);
    const never = await nookT(["run", "--rm", "--pull", "never", `${reg.host}/pull/other`], s.env);
    assert.equal(never.code, 125);
    assert.match(never.stderr, /--pull never/);
  } finally {
    await s.reset();
  }
}, { skip });

for (const format of ["oci", "docker"] as const) {
  test(
    `a multi-platform ${
      format === "oci" ? "OCI index" : "docker manifest list"
    } gives the host's platform, or the one --platform asks for`,
    async () => {
      const reg = await registry();
      const s = freshStore();
      try {
        const mk = (arch: string) =>
          image([base(), layer([{ name: "arch", content: arch }])], {}, { os: "linux", architecture: arch }, format);
        const amd = mk(hostArch());
        const arm = mk(hostArch() === "amd64" ? "arm64" : "amd64");
        const other = hostArch() === "amd64" ? "arm64" : "amd64";
        const repo = `pull/multi-${format}`;
        const indexDigest = await pushIndex(reg.host, repo, "1", [
          [amd, { os: "linux", architecture: hostArch() }],
          [arm, { os: "linux", architecture: other, ...(other === "arm64" ? { variant: "v8" } : {}) }],
        ]);
        const a = await nookT(["pull", "-q", `${reg.host}/${repo}:1`], s.env);
        assert.equal(a.code, 0, a.stderr);
        assert.equal(a.stdout.trim(), amd.id, "the host's platform by default");
        const b = await nookT(["pull", "-q", "--platform", `linux/${other}`, `${reg.host}/${repo}:1`], s.env);
        assert.equal(b.code, 0, b.stderr);
        assert.equal(b.stdout.trim(), arm.id);
        const info = JSON.parse((await nookT(["image", "inspect", `${reg.host}/${repo}:1`], s.env)).stdout)[0];
        assert.equal(info.Architecture, other, "the tag now names the image last pulled for it");
        assert.ok(info.RepoDigests.includes(`${reg.host}/${repo}@${indexDigest}`), "the index digest is a repo digest");
        const none = await nookT(["pull", "--platform", "linux/s390x", `${reg.host}/${repo}:1`], s.env);
        assert.equal(none.code, 125);
        assert.match(none.stderr, /no image for linux\/s390x/);
        assert.match(none.stderr, /offers: linux\/amd64.*linux\/arm64/);
      } finally {
        await s.reset();
      }
    },
    { skip },
  );
}

test("a blob that does not match its digest fails the pull, and nothing of it stays in the store", async () => {
  const reg = await registry();
  const s = freshStore();
  try {
    const bad = layer([{ name: "payload", content: "original content of the layer\n" }], "none");
    const img = image([base(), bad]);
    await push(reg.host, "pull/corrupt", "1", img);
    // same size, other bytes: the registry now serves content that is not its digest
    const path = registryBlobPath(reg, bad.digest);
    const bytes = Deno.readFileSync(path);
    bytes.set(new TextEncoder().encode("ORIGINAL"), bytes.indexOf(new TextEncoder().encode("original")[0]!, 512));
    Deno.writeFileSync(path, bytes);
    const r = await nookT(["pull", `${reg.host}/pull/corrupt:1`], s.env);
    assert.equal(r.code, 125, r.stderr);
    assert.match(r.stderr, /Digest mismatch for sha256:/);
    assert.ok(!exists(`${s.data}/blobs/sha256/${bad.digest.slice(7)}`), "the bad blob was not stored");
    // a failed pull is rolled back whole (src/store/intent.ts): the good layer it made goes too
    assert.deepEqual(listTree(`${s.data}/layers`), [], "no layer of the failed pull stays");
    assert.deepEqual(listTree(`${s.data}/intents`), [], "its transaction is closed");
    assert.deepEqual(listTree(`${s.data}/tmp`), [], "no partial download is kept for content that was wrong");
    assert.equal((await nookT(["images", "-q"], s.env)).stdout, "");
    blobsAreWhole(s.data);
  } finally {
    await s.reset();
  }
}, { skip });

test("a truncated gzip layer is an error for pull, load and import, and leaves nothing behind", async () => {
  const reg = await registry();
  const s = freshStore();
  try {
    const full = (await import("node:zlib")).gzipSync(tar([{ name: "f", content: randomBytes(20000) }]));
    const cut = new Uint8Array(full.subarray(0, full.length - 200));
    const l = {
      blob: cut,
      digest: digestOf(cut),
      diffId: digestOf(tar([{ name: "f" }])),
      mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
    };
    const img = image([l]);
    await push(reg.host, "pull/truncated", "1", img);
    const r = await nookT(["pull", `${reg.host}/pull/truncated:1`], s.env);
    assert.equal(r.code, 125);
    assert.match(r.stderr, /layer sha256:[0-9a-f]{12} is damaged: it ends early/);
    const f = `${scratch()}/cut.tar.gz`;
    Deno.writeFileSync(f, cut);
    const i = await nookT(["import", f, "cut:1"], s.env);
    assert.equal(i.code, 125);
    assert.match(i.stderr, /Cannot import ".*cut\.tar\.gz": it ends early/);
    for (const d of ["layers", "blobs/sha256", "tmp"]) {
      assert.deepEqual(listTree(`${s.data}/${d}`), [], `${d}/ is not empty`);
    }
  } finally {
    await s.reset();
  }
}, { skip });

test("pull retries after HTTP 500 and a broken connection, resumes with Range, and follows redirects", async () => {
  const reg = await registry();
  const s = freshStore();
  const big = layer([{ name: "big", content: randomBytes(3 * 1024 * 1024) }]);
  const img = image([base(), big]);
  await push(reg.host, "pull/flaky", "1", img);
  const blobPath = `/v2/pull/flaky/blobs/${big.digest}`;
  const proxy = startProxy(reg.host, (req, n) => {
    const path = new URL(req.url).pathname;
    if (path.includes("/manifests/") && n === 1) return new Response("boom", { status: 500 });
    if (path === blobPath && n === 1) return new Response("unavailable", { status: 503 });
    if (path === blobPath && n === 2) return { cutAfter: 1024 * 1024 };
    if (path.includes("/blobs/") && path !== blobPath && n === 1) {
      return Response.redirect(`http://${reg.host}${path}`, 307); // "blob storage" on another origin
    }
    return "pass";
  });
  try {
    await waitFor("the proxy", () => !proxy.host.endsWith(":0"));
    const r = await nookT(["pull", `${proxy.host}/pull/flaky:1`], { ...s.env, NOOK_PULL_RETRIES: "4" });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /retrying .*HTTP 500/);
    assert.match(r.stderr, /retrying .*HTTP 503/);
    assert.match(r.stderr, /retrying blob/);
    const ranged = proxy.seen.filter((x) => x.path === blobPath && x.range);
    assert.ok(
      ranged.length >= 1 && /^bytes=\d+-$/.test(ranged[0]!.range!),
      `the download resumed with Range: ${JSON.stringify(proxy.seen)}`,
    );
    assert.ok(Number(/\d+/.exec(ranged[0]!.range!)![0]) > 0);
    blobsAreWhole(s.data);
    const run = await nookT(["run", "--rm", `${proxy.host}/pull/flaky:1`, "sha256sum", "/big"], s.env);
    assert.equal(run.code, 0, run.stderr);
  } finally {
    await proxy.stop();
    await s.reset();
  }
}, { skip });

test("four concurrent pulls of one image fetch each blob once and leave one consistent copy", async () => {
  const reg = await registry();
  const s = freshStore();
  const img = image([
    base(),
    layer([{ name: "x", content: randomBytes(1024 * 1024) }]),
    layer([{ name: "y", content: "y" }]),
  ]);
  await push(reg.host, "pull/concurrent", "1", img);
  const proxy = startProxy(reg.host, () => "pass");
  try {
    await waitFor("the proxy", () => !proxy.host.endsWith(":0"));
    const name = `${proxy.host}/pull/concurrent:1`;
    const results = await Promise.all([0, 1, 2, 3].map(() => nookT(["pull", "-q", name], s.env)));
    for (const r of results) {
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), img.id);
    }
    const layerGets = proxy.seen.filter((x) => x.method === "GET" && img.layers.some((l) => x.path.endsWith(l.digest)));
    assert.equal(layerGets.length, img.layers.length, "each layer blob was downloaded once");
    const want = [img.id, img.digest, ...img.layers.map((l) => l.digest)].map((d) => d.slice(7)).sort();
    assert.deepEqual(listTree(`${s.data}/blobs/sha256`), want);
    assert.equal(listTree(`${s.data}/layers`).filter((p) => !p.includes("/")).length, 3);
    assert.deepEqual(listTree(`${s.data}/tmp`), []);
    const images = JSON.parse(Deno.readTextFileSync(`${s.data}/images.json`)).images;
    assert.equal(images.length, 1);
    assert.deepEqual(images[0].names, [name]);
    blobsAreWhole(s.data);
  } finally {
    await proxy.stop();
    await s.reset();
  }
}, { skip });

test(
  "kill -9 in the middle of a pull leaves nothing half-written in use, and the next pull resumes and succeeds",
  async () => {
    const reg = await registry();
    const s = freshStore();
    const payload = randomBytes(8 * 1024 * 1024);
    const big = layer([{ name: "big", content: payload }]);
    const img = image([base(), big], { Cmd: ["sha256sum", "/big"] });
    await push(reg.host, "pull/killed", "1", img);
    let slow = true;
    const proxy = startProxy(
      reg.host,
      (req) => (slow && new URL(req.url).pathname.endsWith(big.digest) ? { bytesPerTick: 65536, tickMs: 15 } : "pass"),
    );
    try {
      await waitFor("the proxy", () => !proxy.host.endsWith(":0"));
      const name = `${proxy.host}/pull/killed:1`;
      const child = new Deno.Command(NOOK, { args: ["pull", name], env: s.env, stdout: "null", stderr: "null" })
        .spawn();
      const partial = `${s.data}/tmp/${big.digest.slice(7)}.partial`;
      try {
        await waitFor("a partial download", () => exists(partial) && Deno.statSync(partial).size > 1024 * 1024, 60_000);
        assert.ok(
          listTree(`${s.data}/tmp`).some((p) => /^layer-[0-9a-f]{12}-/.test(p)),
          "it was unpacking while downloading",
        );
      } finally {
        child.kill("SIGKILL");
        await child.status;
      }
      await waitFor(
        "the re-executed pull to die with its parent",
        async () => (await sh("pgrep", ["-f", `pull ${name}`])).code !== 0,
        10_000,
      );
      const had = Deno.statSync(partial).size;
      assert.ok(!exists(`${s.data}/blobs/sha256/${big.digest.slice(7)}`), "no half blob was committed");
      assert.ok(!exists(`${s.data}/layers/${big.diffId.slice(7)}`), "no half layer was committed");
      assert.equal((await nookT(["images", "-q"], s.env)).stdout, "");
      slow = false;
      const r = await nookT(["pull", name], s.env);
      assert.equal(r.code, 0, r.stderr);
      const resumed = proxy.seen.filter((x) => x.path.endsWith(big.digest) && x.range);
      assert.equal(resumed.length, 1, "the second pull asked only for the rest");
      assert.equal(resumed[0]!.range, `bytes=${had}-`);
      assert.deepEqual(listTree(`${s.data}/tmp`), [], "the killed pull's leftovers are gone");
      blobsAreWhole(s.data);
      const run = await nookT(["run", "--rm", name], s.env);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout.split(" ")[0], digestOf(payload).slice(7), "the file in the container is whole");
    } finally {
      await proxy.stop();
      await s.reset();
    }
  },
  { skip },
);

function authSkip(): string | undefined {
  return skip ?? htpasswdSkip();
}

test(
  "a registry with basic auth: pull says to log in, nook login checks and keeps the credentials, docker's config.json works too",
  async () => {
    const dir = scratch();
    const reg = await startAuthRegistry(dir);
    const s = freshStore({
      NOOK_AUTH_FILE: `${dir}/nook-auth.json`,
      DOCKER_CONFIG: `${dir}/docker`,
      XDG_CONFIG_HOME: `${dir}/config`,
    });
    try {
      const img = image([base()], { Cmd: ["echo", "private"] });
      await push(reg.host, "private/app", "1", img, `Basic ${btoa("alice:s3cret")}`);
      const name = `${reg.host}/private/app:1`;
      const denied = await nookT(["pull", name], s.env);
      assert.equal(denied.code, 125);
      assert.match(denied.stderr, /nook login 127\.0\.0\.1/);
      const wrong = await nookT(
        ["login", "-u", "alice", "--password-stdin", reg.host],
        s.env,
        60_000,
        new TextEncoder().encode("nope\n"),
      );
      assert.equal(wrong.code, 125);
      assert.ok(!exists(`${dir}/nook-auth.json`), "a refused login stores nothing");
      const ok = await nookT(
        ["login", "-u", "alice", "--password-stdin", reg.host],
        s.env,
        60_000,
        new TextEncoder().encode("s3cret\n"),
      );
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stdout, /Login Succeeded/);
      assert.equal(Deno.statSync(`${dir}/nook-auth.json`).mode! & 0o777, 0o600);
      const r = await nookT(["run", "--rm", name], s.env);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "private\n");
      assert.equal((await nookT(["logout", reg.host], s.env)).code, 0);
      assert.equal((await nookT(["rmi", name], s.env)).code, 0);
      Deno.mkdirSync(`${dir}/docker`);
      Deno.writeTextFileSync(
        `${dir}/docker/config.json`,
        JSON.stringify({ auths: { [reg.host]: { auth: btoa("alice:s3cret") } } }),
      );
      const viaDocker = await nookT(["pull", "-q", name], s.env);
      assert.equal(viaDocker.code, 0, viaDocker.stderr);
    } finally {
      await s.reset();
      await reg.stop();
    }
  },
  { skip: authSkip() },
);

/** A token service for the registry's `auth: token` (JWTs signed ES256, the certificate sent in x5c). */
async function tokenService(dir: string, users: Record<string, string>) {
  const gen = await sh("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    `${dir}/key.pem`,
    "-out",
    `${dir}/cert.pem`,
    "-days",
    "1",
    "-subj",
    "/CN=nook-test-token",
  ]);
  if (gen.code !== 0) throw new Error(`openssl: ${gen.stderr}`);
  const der = (pem: string) => Uint8Array.from(atob(pem.replace(/-----[A-Z ]+-----|\s/g, "")), (c) => c.charCodeAt(0));
  const key = await crypto.subtle.importKey(
    "pkcs8",
    der(Deno.readTextFileSync(`${dir}/key.pem`)),
    { name: "ECDSA", namedCurve: "P-256" },
    false,
    ["sign"],
  );
  const x5c = btoa(String.fromCharCode(...der(Deno.readTextFileSync(`${dir}/cert.pem`))));
  const b64u = (b: Uint8Array | string) =>
    btoa(typeof b === "string" ? b : String.fromCharCode(...b)).replace(/\+/g, "-").replace(/\//g, "_").replace(
      /=+$/,
      "",
    );
  const issued: { user: string; scope: string }[] = [];
  const server = serveLocal(
    async (req) => {
      const url = new URL(req.url);
      const basic = req.headers.get("authorization")?.replace(/^Basic /, "");
      let user = "";
      if (basic) {
        const [u, p] = atob(basic).split(":");
        if (users[u!] !== p) return new Response("bad credentials", { status: 401 });
        user = u!;
      }
      const scope = url.searchParams.get("scope") ?? "";
      issued.push({ user, scope });
      const m = /^repository:([^:]+):(.+)$/.exec(scope);
      const access = m && user ? [{ type: "repository", name: m[1], actions: m[2]!.split(",") }] : [];
      const now = Math.floor(Date.now() / 1000);
      const head = b64u(JSON.stringify({ typ: "JWT", alg: "ES256", x5c: [x5c] }));
      const body = b64u(JSON.stringify({
        iss: "nook-test-issuer",
        sub: user,
        aud: "nook-test-registry",
        exp: now + 300,
        nbf: now - 10,
        iat: now,
        jti: crypto.randomUUID(),
        access,
      }));
      const sig = new Uint8Array(
        await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key, new TextEncoder().encode(`${head}.${body}`)),
      );
      return Response.json({ token: `${head}.${body}.${b64u(sig)}` });
    },
  );
  await waitFor("the token service", () => server.port !== 0);
  return {
    realm: `http://${server.host}/token`,
    issued,
    token: async (scope: string, user: string, password: string) => {
      const r = await fetch(`http://${server.host}/token?service=nook-test-registry&scope=${scope}`, {
        headers: { Authorization: `Basic ${btoa(`${user}:${password}`)}` },
      });
      return (await r.json()).token as string;
    },
    stop: server.stop,
  };
}

test(
  "a registry with token auth: the challenge leads to the token service, anonymous pulls are refused, credentials get in",
  async () => {
    const dir = scratch();
    const tokens = await tokenService(dir, { bob: "hunter2" });
    const reg = await startRegistry(
      `auth:\n  token:\n    realm: ${tokens.realm}\n    service: nook-test-registry\n    issuer: nook-test-issuer\n    rootcertbundle: ${dir}/cert.pem\n`,
    );
    const s = freshStore({
      NOOK_AUTH_FILE: `${dir}/nook-auth.json`,
      DOCKER_CONFIG: `${dir}/docker`,
      XDG_CONFIG_HOME: `${dir}/config`,
    });
    try {
      const img = image([base()], { Cmd: ["echo", "behind a token"] });
      await push(
        reg.host,
        "team/app",
        "1",
        img,
        `Bearer ${await tokens.token("repository:team/app:pull,push", "bob", "hunter2")}`,
      );
      const name = `${reg.host}/team/app:1`;
      const anon = await nookT(["pull", name], s.env);
      assert.equal(anon.code, 125);
      assert.match(anon.stderr, /nook login/);
      assert.ok(
        tokens.issued.some((t) => t.user === "" && t.scope === "repository:team/app:pull"),
        "an anonymous token was asked for the pull scope",
      );
      const login = await nookT(
        ["login", "-u", "bob", "--password-stdin", reg.host],
        s.env,
        60_000,
        new TextEncoder().encode("hunter2\n"),
      );
      assert.equal(login.code, 0, login.stderr);
      const r = await nookT(["run", "--rm", name], s.env);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "behind a token\n");
      assert.ok(tokens.issued.some((t) => t.user === "bob" && t.scope === "repository:team/app:pull"));
    } finally {
      await s.reset();
      await reg.stop();
      await tokens.stop();
    }
  },
  {
    skip: skip ??
      (exists("/usr/bin/openssl") ? undefined : "openssl is not installed (needed to make the token service's key)"),
  },
);

test("on a terminal, pull draws a progress bar per layer", async () => {
  const reg = await registry();
  const s = freshStore();
  try {
    const img = image([base(), layer([{ name: "x", content: randomBytes(2 * 1024 * 1024) }])]);
    await push(reg.host, "pull/tty", "1", img);
    const out = await new Deno.Command("script", {
      args: ["-qec", `${NOOK} pull ${reg.host}/pull/tty:1`, "/dev/null"],
      env: { ...s.env, TERM: "xterm" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 0, text);
    assert.match(text, /\x1b\[\d+A/, "the bars are redrawn in place");
    assert.match(text, /[0-9a-f]{12} {2}\[=+\] {2}done/, "each layer has a bar that ends full");
  } finally {
    await s.reset();
  }
}, {
  skip: skip ??
    (exists("/usr/bin/script") ? undefined : "script(1) is not installed (bsdutils), needed for a terminal"),
});

test("short names are tried against the search registries (NOOK_SEARCH_REGISTRIES)", async () => {
  const reg = await registry();
  const nowhere = `127.0.0.1:${freePort()}`; // nothing listens there
  const s = freshStore({ NOOK_SEARCH_REGISTRIES: `${nowhere},${reg.host}` });
  try {
    const img = image([base()], { Cmd: ["echo", "found by search"] });
    await push(reg.host, "short/name", "1", img);
    const r = await nookT(["pull", "short/name:1"], s.env);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stderr.includes(`Trying to pull ${nowhere}/short/name:1`), r.stderr);
    const run = await nookT(["run", "--rm", "short/name:1"], s.env);
    assert.equal(run.stdout, "found by search\n");
    const list = JSON.parse((await nookT(["images", "--format", "json"], s.env)).stdout);
    assert.deepEqual(list[0].Names, [`${reg.host}/short/name:1`]);
  } finally {
    await s.reset();
  }
}, { skip });

test("the storage backend is found by a trial mount once, cached per kernel, and can be overridden", async () => {
  const reg = await registry();
  const s = freshStore();
  try {
    await push(reg.host, "pull/backend", "1", image([base()], { Cmd: ["true"] }));
    const r = await nookT(["run", "--rm", `${reg.host}/pull/backend:1`], s.env);
    assert.equal(r.code, 0, r.stderr);
    const cache = JSON.parse(Deno.readTextFileSync(`${s.data}/storage-backend.json`));
    assert.equal(cache.backend, "overlay", "kernel overlayfs works in a user namespace on this kernel");
    assert.equal(cache.kernel, Deno.readTextFileSync("/proc/sys/kernel/osrelease").trim());
    const bad = await nookT(["run", "--rm", `${reg.host}/pull/backend:1`], { ...s.env, NOOK_STORAGE_BACKEND: "zfs" });
    assert.equal(bad.code, 125);
    assert.match(bad.stderr, /Unknown storage backend "zfs"/);
  } finally {
    await s.reset();
  }
}, { skip });

test("stop the shared test registry", async () => {
  await shared?.stop();
  shared = undefined;
});
