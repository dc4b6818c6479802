/**
 * nook's own user namespace: where image layers are unpacked and removed, so
 * that files owned by subordinate ids can be made and deleted. The Deno
 * process never changes its own namespaces (DESIGN.md): a cloned child enters
 * a new user + mount namespace, the parent writes the id maps, and the child
 * execs a program — nook itself for `pull`/`load`/`rmi`…, or the user's
 * command for `nook unshare`.
 *
 * @module
 */
import { NookError } from "../errors/mod.ts";
import { selfCommand } from "../paths/project.ts";
import { closeFd, pidfdKill, wait } from "../ffi/mod.ts";
import { launch } from "../launch/mod.ts";
import { CLONE, MS, Plan, SIGNALS } from "../plan/mod.ts";
import { applyIdMapping, detectIdMapping, findExecutable, type IdMapping, isInitialMap, readIdMap } from "../userns/mod.ts";

/** Environment marker set for programs nook starts in its user namespace. */
export const USERNS_ENV = "NOOK_USERNS";

/**
 * True when this process runs inside a user namespace that nook made for
 * itself (a re-exec or `nook unshare`), where it is root over the mapped ids.
 */
export function inNookUserns(): boolean {
  if (Deno.env.get(USERNS_ENV) !== "1") return false;
  const map = readIdMap("self", "uid");
  // the initial namespace maps everything: "0 0 4294967295"
  return map !== undefined && !isInitialMap(map) && Deno.uid() === 0;
}

/** True when nook may create and remove files of any mapped id without a namespace of its own (rootful nook). */
export function isRealRoot(): boolean {
  if (Deno.uid() !== 0) return false;
  const map = readIdMap("self", "uid");
  return map !== undefined && isInitialMap(map);
}

/** Options of {@link runInUserns}. */
export interface UsernsOptions {
  /** The id mapping (default: detected). */
  mapping?: IdMapping;
  /** Extra environment variables (the rest is nook's own environment). */
  env?: Record<string, string>;
}

/**
 * Run a program in a new user + mount namespace with nook's id mapping (0 →
 * you, 1.. → your subordinate ranges), stdio inherited, signals forwarded;
 * resolves with its exit code (128+n when a signal ended it).
 */
export async function runInUserns(argv: readonly string[], opts: UsernsOptions = {}): Promise<number> {
  const mapping = opts.mapping ?? detectIdMapping();
  const cmd = argv[0];
  if (!cmd) throw new NookError("No command to run in the user namespace");
  const env: Record<string, string> = { ...Deno.env.toObject(), ...opts.env, [USERNS_ENV]: "1" };
  const envList = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  const path = cmd.includes("/") ? cmd : findExecutable(cmd, env.PATH ?? "/usr/local/bin:/usr/bin:/bin");
  if (!path) {
    throw new NookError(`Cannot run "${cmd}" in nook's user namespace: not found in $PATH`, { exitCode: 127 });
  }
  const p = new Plan(CLONE.NEWUSER | CLONE.NEWNS);
  // If nook dies, the work inside dies with it (a half-written layer is never committed).
  p.pdeathsig(SIGNALS.SIGKILL!);
  // Mounts made inside (overlay probes, fuse) must not propagate anywhere.
  p.mount("", "/", "", MS.REC | MS.PRIVATE);
  // The caller's supplementary groups are unmapped inside: drop them when allowed.
  if (mapping.mode === "subid") p.setid(0, 0, [], 0);
  p.exec([path], argv, envList);
  const started = await launch(p, { beforeGo: (pid) => applyIdMapping(pid, mapping) });
  const forward: [Deno.Signal, () => void][] = (["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"] as const).map((sig) => [
    sig,
    () => void pidfdKill(started.pidfd, SIGNALS[sig]!).catch(() => {}),
  ]);
  for (const [sig, fn] of forward) Deno.addSignalListener(sig, fn);
  try {
    const status = await wait(started.pid);
    return status.exited ? status.code : 128 + status.signal;
  } finally {
    for (const [sig, fn] of forward) Deno.removeSignalListener(sig, fn);
    await closeFd(started.pidfd);
  }
}

/** Run `nook ARGS…` inside nook's user namespace; resolves with its exit code. */
export function reexecInUserns(args: readonly string[], opts: UsernsOptions = {}): Promise<number> {
  return runInUserns([...selfCommand(), ...args], opts);
}

/**
 * Remove directory trees that may hold files of subordinate ids: directly
 * when nook may (inside its namespace, or as real root, or when every file is
 * the caller's), else with `rm -rf` run inside the user namespace.
 */
export async function removeTrees(paths: readonly string[]): Promise<void> {
  const left: string[] = [];
  for (const path of paths) {
    try {
      Deno.removeSync(path, { recursive: true });
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) continue;
      if (inNookUserns() || isRealRoot()) throw err;
      // overlayfs leaves work/work with mode 0: ours, but unreadable until chmod
      if (err instanceof Deno.errors.PermissionDenied && openOwnDirs(path)) {
        try {
          Deno.removeSync(path, { recursive: true });
          continue;
        } catch {
          // files of other ids: below
        }
      }
      left.push(path);
    }
  }
  if (left.length === 0) return;
  // Why the user namespace: files of subordinate ids (and directories of mode
  // 0) belong to ids the caller cannot touch; root of the namespace can.
  const code = await runInUserns(["rm", "-rf", "--", ...left]);
  const still = left.filter((p) => {
    try {
      Deno.lstatSync(p);
      return true;
    } catch {
      return false;
    }
  });
  if (code !== 0 || still.length) {
    throw new NookError(`Cannot remove "${still[0] ?? left[0]}" (rm exited with status ${code})`, {
      path: still[0] ?? left[0]!,
      hint: "check the files with `nook unshare ls -la PATH`; `nook system reset` removes everything nook owns",
    });
  }
}

/** chmod u+rwx every directory under `path` that the caller owns; false when one is not the caller's. */
function openOwnDirs(path: string): boolean {
  const uid = Deno.uid();
  let st: Deno.FileInfo;
  try {
    st = Deno.lstatSync(path);
  } catch {
    return true;
  }
  if (!st.isDirectory) return st.uid === uid;
  if (st.uid !== uid) return false;
  if (((st.mode ?? 0) & 0o700) !== 0o700) Deno.chmodSync(path, (st.mode ?? 0) & 0o7777 | 0o700);
  let ok = true;
  for (const e of Deno.readDirSync(path)) {
    if (e.isDirectory) ok = openOwnDirs(`${path}/${e.name}`) && ok;
  }
  return ok;
}
