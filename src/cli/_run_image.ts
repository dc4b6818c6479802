/**
 * The options of `nook run` for images, storage and
 * volumes, and the hooks run.ts calls. The work itself is in
 * `_run_image_store.ts`, imported only when a run uses an image from the
 * store or a volume: runs of `--rootfs` and `hello` load none of it.
 */
import { lazyImport } from "../lazy/mod.ts";
import { NookError } from "../errors/mod.ts";
import { HELLO_NAMES } from "../image/builtin_hello.ts";
import type { MountSpec } from "../model/container.ts";
import { list, type OptionSpec, type ParsedArgs, str } from "./_args.ts";
import type { StoreParts, StoreSource } from "./_run_image_store.ts";

export type { StoreParts, StoreSource } from "./_run_image_store.ts";

/** Options of `nook run` for images, storage and volumes. */
export const IMAGE_RUN_OPTIONS: readonly OptionSpec[] = [
  {
    name: "volume",
    short: "v",
    type: "list",
    value: "SRC:DST[:OPTS]",
    help: "Bind a host path or a named volume (-v NAME:/path), or an anonymous volume (-v /path); OPTS: ro",
  },
  { name: "mount", type: "list", value: "type=…,…", help: "Mount type=bind|volume|tmpfs,source=…,target=…[,readonly]" },
  { name: "pull", type: "string", value: "POLICY", help: "Pull the image: missing (default), always or never" },
  { name: "platform", type: "string", value: "OS/ARCH", help: "Platform to pull when the image is pulled" },
];

let impl: typeof import("./_run_image_store.ts") | undefined;

function storeImage(a: ParsedArgs): string | undefined {
  const image = a.rest[0];
  return str(a, "rootfs") === undefined && image !== undefined && !HELLO_NAMES.includes(image) ? image : undefined;
}

/**
 * Before the container is prepared (async, so it can pull): for an image from
 * the store, pull it when missing and learn the storage backend; load the
 * volume code when the run has volumes.
 */
export async function prepareImage(a: ParsedArgs): Promise<void> {
  const image = storeImage(a);
  if (image === undefined && list(a, "volume").length === 0 && list(a, "mount").length === 0) return;
  impl ??= await lazyImport<typeof import("./_run_image_store.ts")>("cli/_run_image_store.ts");
  if (image !== undefined) await impl.prepareImage(a, image);
}

/**
 * An image from the store as the source of `nook run` (after {@link prepareImage}).
 * Only a foreground `--rm` container's storage counts as garbage once its nook
 * process is gone (`image prune` removes it); any other is removed by its rm.
 */
export function storeImageSource(a: ParsedArgs, image: string, id: string): StoreSource {
  if (!impl) throw new NookError("internal: prepareImage was not called before storeImageSource");
  return impl.storeImageSource(image, id, a.opts.rm === true && a.opts.detach !== true);
}

/** The mounts of `-v`, `--mount` and the image's VOLUMEs, and what removes the container's storage. */
export function runMounts(
  a: ParsedArgs,
  id: string,
  store?: StoreParts,
): { mounts: MountSpec[]; cleanup: () => Promise<void> } {
  if (!impl) return { mounts: [], cleanup: () => Promise.resolve() };
  return impl.runMounts(a, id, store);
}
