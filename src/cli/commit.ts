import type { CommandSpec } from "./commands.ts";
import { UsageError } from "../errors/mod.ts";

/** `nook commit`. */
export const spec: CommandSpec = { name: "commit", usage: "commit", summary: "(not yet)", options: [] };

/** Not yet. */
export function main(_argv: string[]): Promise<number> {
  return Promise.reject(new UsageError("not yet"));
}
