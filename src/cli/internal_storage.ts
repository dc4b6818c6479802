import { lazyImport } from "../lazy/mod.ts";
import { UsageError } from "../errors/mod.ts";
import type { CommandSpec } from "./commands.ts";

/** `nook _storage` (internal): storage work that must run inside nook's user namespace. */
export const spec: CommandSpec = {
  name: "_storage",
  usage: "_storage copy CONTAINER-ID | _storage shift PARTIAL-DIR",
  summary: "Internal: storage work run by nook inside its user namespace.",
  options: [],
};

/** Run it. */
export async function main(argv: string[]): Promise<number> {
  const [verb, id] = argv;
  if (verb === "copy" && id && /^[0-9a-f]{64}$/.test(id)) {
    const { containerStorage, copySources, rootfsDir } = await lazyImport<typeof import("../overlay/container_rootfs.ts")>("overlay/container_rootfs.ts");
    const { copyLayers } = await lazyImport<typeof import("../overlay/copy.ts")>("overlay/copy.ts");
    const rec = containerStorage(id);
    if (!rec) throw new UsageError(`No storage for container ${id}`);
    copyLayers(`${rootfsDir(id)}/merged`, copySources(rec));
    return 0;
  }
  if (verb === "shift" && id) {
    // a shifted copy in the making (src/overlay/shifted.ts): its job names the layers and the shift
    const { shiftedRoot, shiftFunction } = await lazyImport<typeof import("../overlay/shifted.ts")>("overlay/shifted.ts");
    const { copyLayers } = await lazyImport<typeof import("../overlay/copy.ts")>("overlay/copy.ts");
    const name = id.slice(id.lastIndexOf("/") + 1);
    if (id !== `${shiftedRoot()}/${name}` || !/^[0-9a-f]{32}\.partial-\d+-\d+$/.test(name)) throw new UsageError(`Not a partial shifted copy: "${id}"`);
    const job = JSON.parse(Deno.readTextFileSync(`${id}/job.json`));
    Deno.mkdirSync(`${id}/tree`, { mode: 0o755 });
    copyLayers(`${id}/tree`, job.layers, shiftFunction(job.shift));
    return 0;
  }
  throw new UsageError("usage: nook _storage copy CONTAINER-ID | shift PARTIAL-DIR (internal)");
}
