/** Shared by the container commands (ps, stop, rm, …): resolving references, errors per container. */
import { formatError, NookError, UsageError } from "../errors/mod.ts";
import { type ContainerView, currentStatus, mustRecord, resolveContainer } from "../engine/mod.ts";
import { write } from "./_io.ts";


/** A container's record and status now. */
export function view(id: string): ContainerView {
  return { rec: mustRecord(id), status: currentStatus(id) };
}

/**
 * Run fn for each container reference (id, name or id prefix). Like docker,
 * one failing container does not stop the others: its error is printed and
 * the command ends with the last error's exit code. With `echo`, each
 * reference is printed once done (docker's stop, rm, kill…).
 */
export async function eachContainer(
  refs: readonly string[],
  command: string,
  fn: (id: string, ref: string) => Promise<void>,
  echo = false,
): Promise<number> {
  if (refs.length === 0) {
    throw new UsageError(`nook ${command} needs at least one container`, { hint: `nook ${command} NAME|ID [...]` });
  }
  let code = 0;
  for (const ref of refs) {
    try {
      await fn(resolveContainer(ref), ref);
      if (echo) await write(`${ref}\n`);
    } catch (err) {
      await write(formatError(err) + "\n", true);
      code = err instanceof NookError ? err.exitCode : 125;
    }
  }
  return code;
}

/** A whole number of seconds from an option, or the default. */
export function seconds(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new UsageError(`Invalid ${flag} "${value}"`, { hint: `give whole seconds, e.g. ${flag} 10` });
  return Number(value);
}
