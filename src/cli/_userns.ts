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
