/**
 * Shared test helpers: running the real `./nook` launcher, a busybox rootfs
 * built from busybox-static, isolated data/runtime directories, and skips
 * that always say why.
 */
import assert from "node:assert/strict";

export { assert };

/** The project's root directory. */
export const ROOT: string = decodeURIComponent(new URL("..", import.meta.url).pathname).replace(/\/$/, "");

/** The development launcher. */
export const NOOK = `${ROOT}/nook`;

/**
 * Register a test, or — when `skip` gives a reason — register it as ignored
 * with the reason in its name, so the summary counts it as skipped and the
 * log says why. A missing feature never turns into a pass.
 */
export function test(
  name: string,
  fn: (t: Deno.TestContext) => void | Promise<void>,
  opts: { skip?: string | undefined; sanitize?: boolean } = {},
): void {
  const sanitize = opts.sanitize ?? false;
  if (opts.skip) {
    Deno.test({ name: `${name} [skipped: ${opts.skip}]`, ignore: true, fn });
    return;
  }
  Deno.test({ name, fn, sanitizeOps: sanitize, sanitizeResources: sanitize });
}

let rootlessReason: string | undefined | null = null;

/** Why rootless container tests cannot run here (undefined when they can). */
export function rootlessSkip(): string | undefined {
  if (rootlessReason !== null) return rootlessReason;
  if (Deno.uid() === 0) {
    rootlessReason = "running as root; tests/run runs the rootless suite as an unprivileged user";
  } else {
    const out = new Deno.Command("unshare", { args: ["-Ur", "true"], stdout: "null", stderr: "piped" }).outputSync();
    rootlessReason = out.success
      ? undefined
      : `unprivileged user namespaces do not work here: ${new TextDecoder().decode(out.stderr).trim()}`;
  }
  return rootlessReason;
}

/** Why `deno compile` cannot be tested here: it needs its base runtime (denort) from Deno's servers or DENORT_BIN. */
export function compileSkip(): string | undefined {
  const denort = Deno.env.get("DENORT_BIN");
  if (denort && exists(denort)) return rootlessSkip();
  if (Deno.env.get("NOOK_TEST_COMPILE") === "1") return rootlessSkip();
  return "deno compile needs its base runtime: set DENORT_BIN to a denort binary, or NOOK_TEST_COMPILE=1 where Deno's servers are reachable";
}

/** Why the subordinate-id mapping cannot be tested here. */
export function subidSkip(): string | undefined {
  const r = rootlessSkip();
  if (r) return r;
  const which = (b: string) => ["/usr/bin", "/usr/sbin", "/bin", "/sbin"].some((d) => exists(`${d}/${b}`));
  if (!which("newuidmap") || !which("newgidmap")) return "newuidmap/newgidmap are not installed (apt install uidmap)";
  const user = Deno.env.get("USER") ?? "";
  const mine = (f: string) =>
    read(f).split("\n").some((l) => l.startsWith(`${user}:`) || l.startsWith(`${Deno.uid()}:`));
  if (!mine("/etc/subuid") || !mine("/etc/subgid")) return "no /etc/subuid and /etc/subgid range for this user";
  return undefined;
}

/**
 * This user's first subordinate range in /etc/subuid or /etc/subgid (by name or
 * uid, as newuidmap matches), or undefined. `useradd` gives each new user the
 * next free range, so tests read it here and never assume 100000.
 */
export function subidRange(kind: "uid" | "gid"): { start: number; count: number } | undefined {
  const user = Deno.env.get("USER") ?? "";
  for (const line of read(`/etc/sub${kind}`).split("\n")) {
    const [who, start, count] = line.trim().split(":");
    if (who !== user && who !== String(Deno.uid())) continue;
    const s = Number(start), c = Number(count);
    if (Number.isInteger(s) && Number.isInteger(c) && c > 0) return { start: s, count: c };
  }
  return undefined;
}

function read(p: string): string {
  try {
    return Deno.readTextFileSync(p);
  } catch {
    return "";
  }
}

/** True when the path exists. */
export function exists(p: string): boolean {
  try {
    Deno.lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

/** A private scratch directory for this test process (removed at exit when possible). */
export function scratch(prefix = "nook-test-"): string {
  return Deno.makeTempDirSync({ prefix });
}

let isolated: Record<string, string> | undefined;

/**
 * Environment that points nook at private data and runtime directories, so
 * tests never touch the user's own containers and images.
 */
export function isolatedEnv(extra: Record<string, string> = {}): Record<string, string> {
  if (!isolated) {
    const base = scratch("nook-env-");
    Deno.mkdirSync(`${base}/run`, { mode: 0o700 });
    isolated = { NOOK_DATA_DIR: `${base}/data`, XDG_RUNTIME_DIR: `${base}/run`, HOME: Deno.env.get("HOME") ?? base };
  }
  return { ...isolated, ...extra };
}

/** What a finished command printed and how it ended. */
export interface Result {
  /** Exit code. */
  code: number;
  /** stdout as text. */
  stdout: string;
  /** stderr as text. */
  stderr: string;
}

/**
 * Run `./nook ARGS` to completion, in the isolated environment — or, with
 * `clearEnv`, in exactly `opts.env` (a test of what nook does without
 * XDG_RUNTIME_DIR must not get the isolated one).
 */
export async function nook(
  args: string[],
  opts: { env?: Record<string, string>; stdin?: string; clearEnv?: boolean } = {},
): Promise<Result> {
  const cmd = new Deno.Command(NOOK, {
    args,
    env: opts.clearEnv ? { ...opts.env } : { ...isolatedEnv(), ...opts.env },
    clearEnv: opts.clearEnv ?? false,
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  });
  const child = cmd.spawn();
  if (opts.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(opts.stdin));
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Run a host command to completion. */
export async function sh(cmd: string, args: string[], env: Record<string, string> = {}): Promise<Result> {
  const out = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped", stdin: "null" }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Where busybox-static's binary is, when it is statically linked. */
export function staticBusybox(): string | undefined {
  for (const p of ["/bin/busybox", "/usr/bin/busybox"]) {
    try {
      // A dynamic ELF names its interpreter near the start of the file.
      const head = new TextDecoder("latin1").decode(Deno.readFileSync(p).subarray(0, 8192));
      if (!/ld-linux|ld-musl/.test(head)) return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Why busybox-based container tests cannot run. */
export function busyboxSkip(): string | undefined {
  return rootlessSkip() ??
    (staticBusybox() ? undefined : "busybox-static is not installed (apt install busybox-static)");
}

/** Why the fuse-overlayfs storage backend cannot be tried here. */
export function fuseSkip(): string | undefined {
  if (!exists("/usr/bin/fuse-overlayfs")) return "fuse-overlayfs is not installed (apt install fuse-overlayfs)";
  try {
    Deno.openSync("/dev/fuse", { read: true, write: true }).close();
  } catch {
    return "/dev/fuse is not usable by this user (tests/run makes it 0666 as root)";
  }
  return undefined;
}

/**
 * A busybox root filesystem (one static binary + applet links + passwd/group
 * with users 1000 and 65534), built once per user and shared by the tests.
 * Returns a fresh private copy when `fresh` is set (for tests that write).
 */
export function busyboxRootfs(fresh = false): string {
  const cache = `${Deno.env.get("TMPDIR") ?? "/tmp"}/nook-test-cache-${Deno.uid()}`;
  const dir = `${cache}/busybox`;
  if (!exists(`${dir}/.complete`) || fresh) {
    const bb = staticBusybox();
    if (!bb) throw new Error("busybox-static is not installed");
    Deno.mkdirSync(cache, { recursive: true });
    const tmp = Deno.makeTempDirSync({ dir: cache, prefix: "bb-" });
    Deno.chmodSync(tmp, 0o755); // it becomes "/": non-root users must be able to enter it
    for (const d of ["bin", "etc", "tmp", "root", "home/user", "proc", "dev", "sys"]) {
      Deno.mkdirSync(`${tmp}/${d}`, { recursive: true });
    }
    Deno.chmodSync(`${tmp}/tmp`, 0o1777);
    Deno.copyFileSync(bb, `${tmp}/bin/busybox`);
    Deno.chmodSync(`${tmp}/bin/busybox`, 0o755);
    const applets = new TextDecoder().decode(new Deno.Command(bb, { args: ["--list"] }).outputSync().stdout);
    for (const a of applets.split("\n")) {
      if (a && a !== "busybox") Deno.symlinkSync("busybox", `${tmp}/bin/${a}`);
    }
    Deno.writeTextFileSync(
      `${tmp}/etc/passwd`,
      "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    );
    Deno.writeTextFileSync(`${tmp}/etc/group`, "root:x:0:\nwheel:x:10:user\nuser:x:1000:\nnogroup:x:65534:\n");
    Deno.writeTextFileSync(`${tmp}/.complete`, "");
    if (fresh) return tmp;
    try {
      Deno.renameSync(tmp, dir);
    } catch {
      Deno.removeSync(tmp, { recursive: true }); // someone else built it first
    }
  }
  return dir;
}

/** Wait until a predicate holds, polling; throws after timeoutMs. */
export async function waitFor(what: string, pred: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await pred()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
