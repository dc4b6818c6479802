import type { CommandSpec } from "./commands.ts";
import { UsageError } from "../errors/mod.ts";

/** `nook cp`. */
export const spec: CommandSpec = { name: "cp", usage: "cp", summary: "(not yet)", options: [] };

/** Not yet. */
export function main(_argv: string[]): Promise<number> {
  return Promise.reject(new UsageError("not yet"));
}
