/**
 * Changing an image's names (`nook tag`, `nook untag`): the image is found
 * under the store lock, and its records change in one transaction in which
 * the image is looked for again (it may have been removed meanwhile).
 *
 * @module
 */
import { NookError } from "../errors/mod.ts";
import type { ImageRecord } from "../store/images.ts";

/**
 * Find `image` and replace the image records with what `change` returns,
 * given the image's current record and all records; a missing image is a clear error.
 */
export async function changeImageNames(
  image: string,
  change: (cur: ImageRecord, all: ImageRecord[]) => ImageRecord[],
): Promise<void> {
  const { findImage } = await import("../image/lookup.ts");
  const { lockStore } = await import("../store/lock.ts");
  const { readImages, updateImages } = await import("../store/images.ts");
  using _lock = await lockStore("shared");
  const rec = findImage(image, readImages());
  if (!rec) throw new NookError(`No such image: "${image}"`, { hint: "see nook images" });
  await updateImages((all) => {
    // one transaction: the image is looked for again under the records' own lock
    const cur = all.find((i) => i.id === rec.id);
    if (!cur) throw new NookError(`The image "${image}" was removed meanwhile`, { hint: "see nook images" });
    return change(cur, all);
  });
}
