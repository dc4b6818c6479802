import { inNookUserns, isRealRoot, reexecInUserns } from "../unshare/mod.ts";

/**
 * Store commands that create or delete files of subordinate ids run inside
 * nook's user namespace. Resolves with the exit code of the re-executed
 * command, or undefined when this process is already where it must be.
 */
export async function inUserns(command: readonly string[], argv: readonly string[]): Promise<number | undefined> {
  if (inNookUserns() || isRealRoot()) return undefined;
  return await reexecInUserns([...command, ...argv]);
}

/**
 * The body of a command that adds images (pull, load, import): the store
 * lock held shared, a progress display, and the unpack workers stopped at
 * the end (a live worker would keep the process running).
 */
export async function addToStore<T>(
  quiet: boolean,
  work: (progress: import("../image/progress.ts").Progress) => Promise<T>,
): Promise<T> {
  const { Progress } = await import("../image/progress.ts");
  const { closeUnpackWorkers } = await import("../image/unpack.ts");
  const { lockStore } = await import("../store/lock.ts");
  using _lock = await lockStore("shared");
  const progress = new Progress(quiet);
  try {
    return await work(progress);
  } finally {
    progress.end();
    closeUnpackWorkers();
  }
}
