/**
 * Helpers for the lifecycle tests: a private store per test, the processes
 * that belong to it, and the state the monitor wrote. Other users of this
 * machine (other test runs as the same user) must never be counted, so
 * processes are attributed by the test's own data directory.
 */
import { busyboxRootfs, isolatedEnv, nook, type Result, scratch, test } from "./_helpers.ts";

/** A store of its own for one test: nook() with these variables touches nothing else. */
export function freshStore(): { env: Record<string, string>; dataDir: string; run: (args: string[]) => Promise<Result> } {
  const dataDir = `${scratch("nook-lc-")}/data`;
  const env = isolatedEnv({ NOOK_DATA_DIR: dataDir });
  return { env, dataDir, run: (args) => nook(args, { env }) };
}

/** `run -d --rootfs BUSYBOX …` in that store; resolves with the id (asserting success). */
export async function runDetached(store: ReturnType<typeof freshStore>, opts: string[], cmd: string[]): Promise<string> {
  const r = await store.run(["run", "-d", ...opts, "--rootfs", busyboxRootfs(), ...cmd]);
  if (r.code !== 0) throw new Error(`run -d failed (${r.code}): ${r.stderr}`);
  const id = r.stdout.trim();
  if (!/^[0-9a-f]{64}$/.test(id)) throw new Error(`run -d printed ${JSON.stringify(r.stdout)}`);
  return id;
}

/** One process as /proc shows it. */
export interface Proc {
  /** pid. */
  pid: number;
  /** Parent pid. */
  ppid: number;
  /** Command line, arguments joined by spaces. */
  cmdline: string;
  /** comm. */
  comm: string;
  /** State letter (R, S, Z…). */
  state: string;
}

/** Every live process this user can see (zombies have ended: only their parent has not collected them yet). */
export function processes(): Proc[] {
  const out: Proc[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      const close = stat.lastIndexOf(")");
      const ppid = Number(stat.slice(close + 2).split(" ")[1]);
      const cmdline = Deno.readTextFileSync(`/proc/${e.name}/cmdline`).replaceAll("\0", " ").trim();
      const state = stat.slice(close + 2, close + 3);
      if (state === "Z" || state === "X") continue;
      out.push({ pid: Number(e.name), ppid, cmdline, comm: stat.slice(stat.indexOf("(") + 1, close), state });
    } catch {
      // ended while we looked
    }
  }
  return out;
}

/** The environment of a process (empty when it cannot be read). */
export function environ(pid: number): string[] {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/environ`).split("\0");
  } catch {
    return [];
  }
}

/**
 * Processes that belong to a store: its monitors (their command line names
 * the store), everything below them, and nook processes started with it.
 */
export function storeProcesses(dataDir: string): Proc[] {
  const all = processes();
  const mine = new Set<number>();
  for (const p of all) {
    if (p.cmdline.includes(`${dataDir}/`) || environ(p.pid).includes(`NOOK_DATA_DIR=${dataDir}`)) mine.add(p.pid);
  }
  let grew = true;
  while (grew) {
    grew = false;
    for (const p of all) {
      if (!mine.has(p.pid) && mine.has(p.ppid)) {
        mine.add(p.pid);
        grew = true;
      }
    }
  }
  mine.delete(Deno.pid);
  return all.filter((p) => mine.has(p.pid));
}

/** The status file of a container as key → value. */
export function statusOf(dataDir: string, id: string): Record<string, string> {
  const text = Deno.readTextFileSync(`${dataDir}/containers/${id}/status`);
  return Object.fromEntries(text.split("\n").filter((l) => l.includes("=")).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
}

/** inspect's document of one container. */
// deno-lint-ignore no-explicit-any
export async function inspect(store: ReturnType<typeof freshStore>, ref: string): Promise<Record<string, any>> {
  const r = await store.run(["inspect", ref]);
  if (r.code !== 0) throw new Error(`inspect failed: ${r.stderr}`);
  return JSON.parse(r.stdout)[0];
}

/** Resident memory of a process in KiB: Rss, Pss and private (unique) pages, from smaps_rollup. */
export function memoryKb(pid: number): { rss: number; pss: number; private: number } {
  const text = Deno.readTextFileSync(`/proc/${pid}/smaps_rollup`);
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? 0);
  return { rss: kb("Rss"), pss: kb("Pss"), private: kb("Private_Clean") + kb("Private_Dirty") };
}

/** Sleep. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Remove every container of a store, and end any process still attributed to it (by pid, never by name). */
export async function cleanStore(store: ReturnType<typeof freshStore>): Promise<void> {
  const ids = (await store.run(["ps", "-aq", "--no-trunc"])).stdout.split("\n").filter(Boolean);
  if (ids.length) await store.run(["rm", "-f", ...ids]);
  for (const p of storeProcesses(store.dataDir)) {
    try {
      Deno.kill(p.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

/**
 * A lifecycle test with a store of its own, which is cleaned whatever the
 * outcome: a failed assertion must not leave detached containers running.
 */
export function storeTest(name: string, fn: (store: ReturnType<typeof freshStore>) => Promise<void>, opts: { skip?: string | undefined } = {}): void {
  test(name, async () => {
    const store = freshStore();
    try {
      await fn(store);
    } finally {
      await cleanStore(store);
    }
  }, opts);
}

/** Whether a process runs (a zombie has ended: init here collects orphans slowly). */
export function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/**
 * Run a test body on a fresh store, and end whatever it left running even when it fails:
 * containers, and the user networks' namespace holder with its pasta and name server.
 */
export async function withStore(fn: (s: ReturnType<typeof freshStore>) => Promise<void>): Promise<void> {
  const s = freshStore();
  try {
    await fn(s);
  } finally {
    const ids = (await s.run(["ps", "-a", "-q"])).stdout.split("\n").filter((x) => x);
    if (ids.length) await s.run(["rm", "-f", ...ids]);
    try {
      const h = JSON.parse(Deno.readTextFileSync(`${s.dataDir}/networks/holder.json`));
      for (const pid of [h.pid, h.pastaPid]) if (pid && alive(pid)) Deno.kill(pid, "SIGKILL");
    } catch {
      // no network was made, or the test removed them all
    }
    try {
      // the networks' name server (aardvark-dns), which holds the shared namespace too
      const pid = Number(Deno.readTextFileSync(`${s.dataDir}/networks/dns/aardvark.pid`).trim());
      const cmd = Deno.readTextFileSync(`/proc/${pid}/cmdline`);
      if (pid > 0 && cmd.includes(`${s.dataDir}/`) && alive(pid)) Deno.kill(pid, "SIGKILL");
    } catch {
      // none ran, or it ended with the last network
    }
  }
}
