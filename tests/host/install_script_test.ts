/**
 * install.sh against a fake release served on 127.0.0.1: it installs a
 * verified binary without root, refuses a checksum mismatch (installing
 * nothing), and names an unsupported architecture.
 */
import { assert, exists, ROOT, scratch, sh, test } from "../_helpers.ts";

const ARCH = Deno.build.arch === "aarch64" ? "aarch64" : "x86_64";
const FAKE_NOOK = "#!/bin/sh\necho 'nook 9.9.9'\n";

async function sha256(text: string): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A release directory served over HTTP on 127.0.0.1 (port 0: the kernel picks a free one). */
function serve(files: Record<string, string>): { url: string; requests: string[]; close: () => Promise<void> } {
  const requests: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const path = new URL(req.url).pathname;
    requests.push(path);
    const body = files[path];
    return body === undefined ? new Response("not found\n", { status: 404 }) : new Response(body);
  });
  return { url: `http://127.0.0.1:${server.addr.port}`, requests, close: () => server.shutdown() };
}

async function release(binary = FAKE_NOOK, checksumOf = binary): Promise<Record<string, string>> {
  const sum = `${await sha256(checksumOf)}  nook-linux-${ARCH}\n`;
  return {
    [`/dl/latest/nook-linux-${ARCH}`]: binary,
    [`/dl/latest/nook-linux-${ARCH}.sha256`]: sum,
    [`/dl/v1.2.3/nook-linux-${ARCH}`]: binary,
    [`/dl/v1.2.3/nook-linux-${ARCH}.sha256`]: sum,
    "/install.sh": Deno.readTextFileSync(`${ROOT}/install.sh`),
  };
}

function installEnv(home: string, url: string, extra: Record<string, string> = {}): Record<string, string> {
  return { HOME: home, PATH: "/usr/local/bin:/usr/bin:/bin", NOOK_RELEASE_URL: `${url}/dl`, SHELL: "/bin/bash", ...extra };
}

test("install.sh downloads, verifies and installs nook into NOOK_INSTALL, and says the directory is not on PATH", async () => {
  const srv = serve(await release());
  try {
    const home = scratch();
    const r = await sh("sh", [`${ROOT}/install.sh`], installEnv(home, srv.url, { NOOK_INSTALL: `${home}/bin` }));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(Deno.readTextFileSync(`${home}/bin/nook`), FAKE_NOOK);
    assert.equal((Deno.statSync(`${home}/bin/nook`).mode ?? 0) & 0o777, 0o755);
    assert.deepEqual(srv.requests, [`/dl/latest/nook-linux-${ARCH}`, `/dl/latest/nook-linux-${ARCH}.sha256`]);
    assert.match(r.stdout, /checksum verified/);
    assert.match(r.stdout, new RegExp(`${home}/bin is not on your PATH`));
    assert.match(r.stdout, /export PATH=.*>> ~\/\.bashrc/);
    assert.match(r.stdout, /nook doctor/);
    assert.deepEqual([...Deno.readDirSync(`${home}/bin`)].map((e) => e.name), ["nook"], "no temporary files left");
  } finally {
    await srv.close();
  }
});

test("install.sh installs into ~/.local/bin by default, a chosen version, and is quiet about PATH when it is on it", async () => {
  const srv = serve(await release());
  try {
    const home = scratch();
    const env = installEnv(home, srv.url, { NOOK_VERSION: "1.2.3", PATH: `${home}/.local/bin:/usr/bin:/bin` });
    const r = await sh("sh", [`${ROOT}/install.sh`], env);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(exists(`${home}/.local/bin/nook`));
    assert.equal(srv.requests[0], `/dl/v1.2.3/nook-linux-${ARCH}`);
    assert.doesNotMatch(r.stdout, /not on your PATH/);
  } finally {
    await srv.close();
  }
});

test("curl … | sh works: the installer runs from a pipe", async () => {
  const srv = serve(await release());
  try {
    const home = scratch();
    const r = await sh("sh", ["-c", `curl -fsSL ${srv.url}/install.sh | sh`], installEnv(home, srv.url));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(Deno.readTextFileSync(`${home}/.local/bin/nook`), FAKE_NOOK);
  } finally {
    await srv.close();
  }
}, { skip: exists("/usr/bin/curl") ? undefined : "curl is not installed" });

test("install.sh refuses a binary whose checksum does not match and installs nothing", async () => {
  const srv = serve(await release(FAKE_NOOK + "# tampered\n", FAKE_NOOK));
  try {
    const home = scratch();
    Deno.mkdirSync(`${home}/bin`);
    const r = await sh("sh", [`${ROOT}/install.sh`], installEnv(home, srv.url, { NOOK_INSTALL: `${home}/bin` }));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /checksum mismatch for nook-linux-\S+: expected [0-9a-f]{64}, got [0-9a-f]{64}; nothing was installed/);
    assert.deepEqual([...Deno.readDirSync(`${home}/bin`)], [], "neither nook nor a temporary file is left");
  } finally {
    await srv.close();
  }
});

test("install.sh names an unsupported architecture or OS, before downloading anything", async () => {
  const srv = serve(await release());
  try {
    const home = scratch();
    const fake = (s: string, m: string) => {
      const bin = scratch("nook-uname-");
      Deno.writeTextFileSync(
        `${bin}/uname`,
        `#!/bin/sh\ncase "$1" in -s) echo ${s} ;; -m) echo ${m} ;; *) echo ${s} ;; esac\n`,
        { mode: 0o755 },
      );
      return `${bin}:/usr/bin:/bin`;
    };
    const arm = await sh("sh", [`${ROOT}/install.sh`], installEnv(home, srv.url, { PATH: fake("Linux", "armv7l") }));
    assert.equal(arm.code, 1);
    assert.match(arm.stderr, /there is no nook release for this architecture \(armv7l\)/);
    assert.match(arm.stderr, /x86_64 and aarch64/);
    const mac = await sh("sh", [`${ROOT}/install.sh`], installEnv(home, srv.url, { PATH: fake("Darwin", "arm64") }));
    assert.equal(mac.code, 1);
    assert.match(mac.stderr, /nook runs on Linux only, and this is Darwin/);
    assert.deepEqual(srv.requests, []);
    assert.ok(!exists(`${home}/.local/bin/nook`));
  } finally {
    await srv.close();
  }
});

test("install.sh reports a release that is not there, and installs nothing", async () => {
  const srv = serve({});
  try {
    const home = scratch();
    const r = await sh("sh", [`${ROOT}/install.sh`], installEnv(home, srv.url, { NOOK_VERSION: "0.0.1" }));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot download .*\/dl\/v0\.0\.1\/nook-linux-/);
    assert.deepEqual([...Deno.readDirSync(`${home}/.local/bin`)], []);
  } finally {
    await srv.close();
  }
});
