import { UsageError } from "../errors/mod.ts";
import { lazyImport } from "../lazy/mod.ts";
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
  const { Progress } = await lazyImport<typeof import("../image/progress.ts")>("image/progress.ts");
  const { closeUnpackWorkers } = await lazyImport<typeof import("../image/unpack.ts")>("image/unpack.ts");
  const { lockStore } = await lazyImport<typeof import("../store/lock.ts")>("store/lock.ts");
  using _lock = await lockStore("shared");
  const progress = new Progress(quiet);
  try {
    return await work(progress);
  } finally {
    progress.end();
    closeUnpackWorkers();
  }
}

/**
 * Refuse an input that cannot be an archive before any store work: a missing
 * path, a directory, something unreadable. Pipes and devices are fine.
 */
export function checkInputFile(path: string, usage: string): void {
  let st: Deno.FileInfo;
  try {
    st = Deno.statSync(path);
  } catch (err) {
    const why = err instanceof Deno.errors.NotFound
      ? "no such file"
      : err instanceof Deno.errors.PermissionDenied
      ? "permission denied"
      : (err as Error).message;
    throw new UsageError(`Cannot read "${path}": ${why}`, { path, hint: usage });
  }
  if (st.isDirectory) {
    throw new UsageError(`Cannot read "${path}": it is a directory, not an archive file`, {
      path,
      hint: `${usage} (to pack a directory: tar -C DIR -c . | nook import - NAME)`,
    });
  }
  try {
    Deno.openSync(path, { read: true }).close();
  } catch (err) {
    throw new UsageError(
      `Cannot read "${path}": ${
        err instanceof Deno.errors.PermissionDenied ? "permission denied" : (err as Error).message
      }`,
      { path },
    );
  }
}
