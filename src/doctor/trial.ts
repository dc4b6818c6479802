/**
 * Trial containers: tiny plans run through libshim exactly as `nook run`
 * runs its own, so the doctor's verdict is what the kernel really does.
 */
import { NookError } from "../errors/mod.ts";
import { wait } from "../ffi/mod.ts";
import { launch } from "../launch/mod.ts";
import { CLONE, MNT_DETACH, MS, O, Plan, SIGNALS } from "../plan/mod.ts";
import { applyIdMapping, type IdMapping } from "../userns/mod.ts";

/** How a trial went. */
export type TrialResult = { ok: true; ms: number } | { ok: false; message: string; hint?: string };

const TRUE = ["/bin/true", "/usr/bin/true", "/run/current-system/sw/bin/true"];

/** The namespaces of a default container. */
const ALL_NS = CLONE.NEWUSER | CLONE.NEWNS | CLONE.NEWPID | CLONE.NEWUTS | CLONE.NEWIPC | CLONE.NEWNET | CLONE.NEWCGROUP;

async function runTrial(plan: Plan, mapping: IdMapping): Promise<TrialResult> {
  const start = performance.now();
  try {
    // Why the maps come from here: the child cannot map more than its own id;
    // newuidmap (setuid or file caps) grants the subordinate ranges, as in `nook run`.
    const started = await launch(plan, { beforeGo: (pid) => applyIdMapping(pid, mapping) });
    const status = await wait(started.pid);
    if (!status.exited || status.code !== 0) {
      return { ok: false, message: `the trial process ended with ${status.exited ? `status ${status.code}` : `signal ${status.signal}`}` };
    }
    return { ok: true, ms: performance.now() - start };
  } catch (err) {
    if (err instanceof NookError) return { ok: false, message: err.message, ...(err.hint ? { hint: err.hint } : {}) };
    return { ok: false, message: (err as Error).message };
  }
}

function base(flags: number): Plan {
  const p = new Plan(flags);
  p.pdeathsig(SIGNALS.SIGKILL!);
  // Nothing mounted here may reach the host's mount namespace.
  p.mount("", "/", "", MS.REC | MS.PRIVATE);
  return p;
}

/**
 * The seven namespaces of a container, the id maps `nook run` would write,
 * a tmpfs and a /proc mounted, the hostname set, loopback up, then /bin/true.
 */
export async function trialContainer(mapping: IdMapping): Promise<TrialResult> {
  const dir = Deno.makeTempDirSync({ prefix: "nook-doctor-" });
  try {
    const p = base(ALL_NS);
    p.mount("tmpfs", dir, "tmpfs", MS.NOSUID | MS.NODEV, "size=64k,mode=755");
    p.mkdir(`${dir}/proc`, 0o555);
    p.mount("proc", `${dir}/proc`, "proc", MS.NOSUID | MS.NODEV | MS.NOEXEC);
    p.sethostname("nook-doctor");
    p.loopbackUp();
    p.openFd("/dev/null", O.RDONLY, 0, 0);
    p.exec(TRUE, ["true"], []);
    return await runTrial(p, mapping);
  } finally {
    removeTree(dir);
  }
}

/** Scratch directories for an overlay: lower (with a file), upper, work, merged. */
function overlayDirs(parent: string): { root: string; lower: string; upper: string; work: string; merged: string } {
  const root = Deno.makeTempDirSync({ dir: parent, prefix: ".nook-doctor-" });
  const d = { root, lower: `${root}/lower`, upper: `${root}/upper`, work: `${root}/work`, merged: `${root}/merged` };
  for (const x of [d.lower, d.upper, d.work, d.merged]) Deno.mkdirSync(x);
  Deno.writeTextFileSync(`${d.lower}/probe`, "nook\n");
  return d;
}

/** Kernel overlayfs mounted inside a user namespace (`userxattr`, Linux ≥ 5.11), on the storage filesystem. */
export async function trialOverlay(mapping: IdMapping, parent: string): Promise<TrialResult> {
  const d = overlayDirs(parent);
  try {
    const p = base(CLONE.NEWUSER | CLONE.NEWNS);
    p.mount("overlay", d.merged, "overlay", 0, `lowerdir=${d.lower},upperdir=${d.upper},workdir=${d.work},userxattr`);
    // a write through the overlay proves the upper layer works, not just the mount
    p.write(`${d.merged}/written`, "ok\n", O.CREAT | O.TRUNC | O.WRONLY);
    p.openFd("/dev/null", O.RDONLY, 0, 0);
    p.exec(TRUE, ["true"], []);
    return await runTrial(p, mapping);
  } finally {
    removeTree(d.root);
  }
}

/** fuse-overlayfs mounted inside a user namespace, then unmounted. */
export async function trialFuseOverlay(mapping: IdMapping, parent: string, fuseOverlayfs: string): Promise<TrialResult> {
  const d = overlayDirs(parent);
  const log = `${d.root}/stderr`;
  try {
    const p = base(CLONE.NEWUSER | CLONE.NEWNS | CLONE.NEWPID);
    // fuse-overlayfs's complaints go to a file the doctor reads, not to the terminal
    p.openFd(log, O.WRONLY | O.CREAT | O.TRUNC, 0o600, 2);
    p.run(fuseOverlayfs, [
      "fuse-overlayfs",
      "-o",
      `lowerdir=${d.lower},upperdir=${d.upper},workdir=${d.work}`,
      d.merged,
    ], ["PATH=/usr/local/bin:/usr/bin:/bin"]);
    p.write(`${d.merged}/written`, "ok\n", O.CREAT | O.TRUNC | O.WRONLY);
    p.umount(d.merged, MNT_DETACH);
    p.openFd("/dev/null", O.RDONLY, 0, 0);
    p.exec(TRUE, ["true"], []);
    const r = await runTrial(p, mapping);
    if (r.ok) return r;
    const said = (await Deno.readTextFile(log).catch(() => "")).trim().split("\n").slice(-2).join("; ");
    return said ? { ...r, message: `${r.message} (fuse-overlayfs: ${said})` } : r;
  } finally {
    removeTree(d.root);
  }
}

/** Remove a scratch tree, including overlayfs's mode-000 work directory. */
function removeTree(path: string): void {
  try {
    Deno.removeSync(path, { recursive: true });
    return;
  } catch {
    // make everything writable, then try again
  }
  const walk = (p: string) => {
    try {
      Deno.chmodSync(p, 0o700);
      for (const e of Deno.readDirSync(p)) if (e.isDirectory) walk(`${p}/${e.name}`);
    } catch {
      // nothing more to do here
    }
  };
  walk(path);
  try {
    Deno.removeSync(path, { recursive: true });
  } catch {
    // leave it; it is in a temporary location
  }
}
