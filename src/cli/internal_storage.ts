import { lazyImport } from "../lazy/mod.ts";
import { UsageError } from "../errors/mod.ts";
import type { CommandSpec } from "./commands.ts";

/** `nook _storage` (internal): storage work that must run inside nook's user namespace. */
export const spec: CommandSpec = {
  name: "_storage",
  usage: "_storage copy CONTAINER-ID",
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
  throw new UsageError("usage: nook _storage copy CONTAINER-ID (internal)");
}
