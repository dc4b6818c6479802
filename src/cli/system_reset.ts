import { lazyImport } from "../lazy/mod.ts";
import { UsageError } from "../errors/mod.ts";
import { dataDir, runtimeDir } from "../paths/mod.ts";
import { bool, type OptionSpec, parseCommand } from "./_args.ts";
import type { CommandSpec } from "./commands.ts";
import { write } from "./_io.ts";

const OPTIONS: readonly OptionSpec[] = [
  { name: "force", short: "f", type: "bool", help: "Do not ask for confirmation" },
  { name: "help", type: "bool", help: "Show this help" },
];

/** `nook system reset`. */
export const spec: CommandSpec = {
  name: "system reset",
  usage: "system reset [OPTIONS]",
  summary: "Remove everything nook keeps — images, layers, containers' storage, volumes, state — including " +
    "files of subordinate ids that rm -rf cannot remove. Credentials and configuration stay.",
  options: OPTIONS,
  examples: ["nook system reset -f"],
};

/** Reset. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec);
  if (!a) return 0;
  if (a.rest.length) throw new UsageError(`nook system reset takes no arguments`);
  const data = dataDir();
  if (!bool(a, "force")) {
    if (!Deno.stdin.isTerminal()) {
      throw new UsageError("nook system reset removes all images, volumes and containers' storage", {
        hint: "add -f to confirm",
      });
    }
    if (!confirm(`This removes ${data} and nook's runtime state. Continue?`)) return 0;
  }
  const { lockStore } = await lazyImport<typeof import("../store/lock.ts")>("store/lock.ts");
  const { removeTrees } = await lazyImport<typeof import("../unshare/mod.ts")>("unshare/mod.ts");
  // Containers first: running ones are killed (their monitors with them), so
  // nothing writes into the store while it is taken away.
  const { listIds, removeContainer } = await lazyImport<typeof import("../engine/mod.ts")>("engine/mod.ts");
  for (const id of listIds()) {
    await removeContainer(id, true).catch(() => {}); // whatever is left goes with the data directory
  }
  // then the networks: the last takes the shared namespace's holder and name server with it
  const { pruneNetworks } = await lazyImport<typeof import("../engine/networks.ts")>("engine/networks.ts");
  await pruneNetworks().catch(() => []);
  let runtime: string | undefined;
  try {
    runtime = runtimeDir();
  } catch {
    runtime = undefined;
  }
  {
    // wait until no other nook uses the store, then take it away from under the lock
    using _lock = await lockStore("exclusive");
    const entries = (() => {
      try {
        return [...Deno.readDirSync(data)].map((e) => `${data}/${e.name}`).filter((p) => !p.endsWith("/store.lock"));
      } catch {
        return [];
      }
    })();
    await removeTrees(entries);
  }
  await removeTrees([data, ...(runtime ? [runtime] : [])]);
  await write(`Removed ${data}${runtime ? ` and ${runtime}` : ""}\n`);
  return 0;
}
