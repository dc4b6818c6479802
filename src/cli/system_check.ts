import { UsageError } from "../errors/mod.ts";
import { lazyImport } from "../lazy/mod.ts";
import { findAbandoned, sweepAbandoned } from "../engine/intent.ts";
import { isId, listIds } from "../engine/store.ts";
import { namesDir } from "../engine/names.ts";
import { containerDir } from "../paths/mod.ts";
import { bool, type OptionSpec, parseCommand } from "./_args.ts";
import type { CommandSpec } from "./commands.ts";
import { write } from "./_io.ts";

const OPTIONS: readonly OptionSpec[] = [
  { name: "repair", type: "bool", help: "Remove what is found (finish or roll back what killed nooks left)" },
  { name: "help", type: "bool", help: "Show this help" },
];

/** `nook system check`. */
export const spec: CommandSpec = {
  name: "system check",
  usage: "system check [--repair]",
  summary: "Report what killed or crashed nooks left behind — half-made or half-removed containers, runtime " +
    "directories and storage without a container, names without a container, temporary files — and remove it " +
    "with --repair. Exits 1 when something was found and not repaired.",
  options: OPTIONS,
  examples: ["nook system check", "nook system check --repair"],
};

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Check (and repair). */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec);
  if (!a) return 0;
  if (a.rest.length) throw new UsageError("nook system check takes no arguments", { hint: "nook system check [--repair]" });
  const repair = bool(a, "repair");
  const found: string[] = [];
  const { intents, runDirs } = findAbandoned();
  for (const [id, intent] of intents) {
    found.push(`container ${id.slice(0, 12)}: ${intent.op === "create" ? "half created" : "half removed"} by a nook that was killed`);
  }
  for (const id of runDirs) found.push(`runtime directory of container ${id.slice(0, 12)}, which no longer exists`);
  for (const id of listIds()) {
    if (!exists(`${containerDir(id)}/config.json`) && !exists(`${containerDir(id)}/intent`)) {
      found.push(`record directory of container ${id.slice(0, 12)} without a record`);
    }
  }
  const names: string[] = [];
  try {
    for (const e of Deno.readDirSync(namesDir())) {
      if (!e.isSymlink) continue;
      const target = Deno.readLinkSync(`${namesDir()}/${e.name}`);
      if (!isId(target) || !exists(`${containerDir(target)}/config.json`) && !exists(`${containerDir(target)}/intent`)) {
        names.push(e.name);
        found.push(`name "${e.name}" of a container that no longer exists`);
      }
    }
  } catch {
    // no names yet
  }
  const { storage, temporary, intents: halfImages } = await storeLeftovers();
  for (const h of halfImages) found.push(h);
  for (const id of storage) found.push(`storage of container ${id.slice(0, 12)}, which no longer exists`);
  for (const t of temporary) found.push(`temporary file ${t} (an interrupted pull, load, import or build)`);
  for (const line of found) await write(`${repair ? "repairing" : "found"}: ${line}\n`);
  if (!repair) {
    await write(found.length ? `${found.length} problem(s); nook system check --repair removes them\n` : "nothing left behind\n");
    return found.length ? 1 : 0;
  }
  await sweepAbandoned();
  for (const id of listIds()) {
    if (!exists(`${containerDir(id)}/config.json`) && !exists(`${containerDir(id)}/intent`)) {
      Deno.removeSync(containerDir(id), { recursive: true });
    }
  }
  for (const n of names) Deno.removeSync(`${namesDir()}/${n}`);
  if (storage.length || temporary.length || halfImages.length) {
    const { lockStore } = await lazyImport<typeof import("../store/lock.ts")>("store/lock.ts");
    const { collectGarbage } = await lazyImport<typeof import("../store/gc.ts")>("store/gc.ts");
    const { storeLayout } = await lazyImport<typeof import("../store/layout.ts")>("store/layout.ts");
    const { removeTrees } = await lazyImport<typeof import("../unshare/mod.ts")>("unshare/mod.ts");
    // taking the lock rolls back the transactions of killed nooks (their layers are moved into tmp/)
    using _lock = await lockStore("exclusive");
    // tmp/ may hold files of subordinate ids (half-unpacked layers): removed inside the user namespace
    const tmp = storeLayout().tmp;
    const entries: string[] = [];
    try {
      for (const e of Deno.readDirSync(tmp)) entries.push(`${tmp}/${e.name}`);
    } catch {
      // none
    }
    await removeTrees(entries);
    collectGarbage({ temporary: true });
  }
  await write(`repaired ${found.length} problem(s)\n`);
  return 0;
}

/**
 * Container storage without a record directory, entries of the store's tmp/, and the
 * transactions (pull, load, import, build) of killed nooks with what they made that no image uses.
 */
async function storeLeftovers(): Promise<{ storage: string[]; temporary: string[]; intents: string[] }> {
  const { listContainerStorage } = await lazyImport<typeof import("../store/container_storage.ts")>("store/container_storage.ts");
  const { storeLayout } = await lazyImport<typeof import("../store/layout.ts")>("store/layout.ts");
  const { isAbandonedIntent, readStoreIntents, unrecorded } = await lazyImport<typeof import("../store/intent.ts")>(
    "store/intent.ts",
  );
  const intents: string[] = [];
  for (const [, intent] of readStoreIntents()) {
    if (!isAbandonedIntent(intent)) continue;
    const left = unrecorded(intent);
    intents.push(
      `${intent.op} of "${intent.what}" interrupted by a nook that was killed: ` +
        `${left.blobs.length} blob(s) and ${left.layers.length} layer(s) of no image`,
    );
  }
  const storage = listContainerStorage().map((c) => c.id).filter((id) => !exists(containerDir(id)));
  const temporary: string[] = [];
  try {
    for (const e of Deno.readDirSync(storeLayout().tmp)) temporary.push(`${storeLayout().tmp}/${e.name}`);
  } catch {
    // none
  }
  return { storage, temporary, intents };
}
