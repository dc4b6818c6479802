/**
 * Finding an image in the store by what a user typed: a name (short names
 * through localhost/ and the search registries), a name@digest, or an ID
 * (prefix). No modules loaded: `nook run` uses it.
 */
import { UsageError } from "../errors/mod.ts";
import { type ImageRecord, readImages } from "../store/images.ts";
import { candidates, repoName } from "./reference.ts";

/** The image a user's reference names, or undefined when the store has none. */
export function findImage(input: string, images: readonly ImageRecord[] = readImages()): ImageRecord | undefined {
  let refs;
  try {
    refs = candidates(input);
  } catch (err) {
    // not a name: maybe an ID
    const byId = findById(input, images);
    if (byId) return byId;
    throw err;
  }
  for (const r of refs) {
    if (r.digest) {
      const want = `${repoName(r)}@${r.digest}`;
      const hit = images.find((i) =>
        i.repoDigests.includes(want) ||
        (i.manifest === r.digest && i.repoDigests.some((d) => d.startsWith(`${repoName(r)}@`)))
      );
      if (hit) return hit;
    } else {
      const want = `${repoName(r)}:${r.tag}`;
      const hit = images.find((i) => i.names.includes(want));
      if (hit) return hit;
    }
  }
  return findById(input, images);
}

function findById(input: string, images: readonly ImageRecord[]): ImageRecord | undefined {
  const m = /^(?:sha256:)?([0-9a-f]{3,64})$/.exec(input);
  if (!m) return undefined;
  const hits = images.filter((i) => i.id.slice(7).startsWith(m[1]!));
  if (hits.length > 1) {
    throw new UsageError(`The ID prefix "${input}" matches ${hits.length} images`, {
      hint: "give more digits of the ID",
    });
  }
  return hits[0];
}

/** Name to show for an image: its first name, or its short ID. */
export function imageLabel(rec: ImageRecord): string {
  return rec.names[0] ?? rec.id.slice(7, 19);
}

/** The name of `rec` that `input` stands for, or undefined when it named the image by ID or digest. */
export function matchedName(input: string, rec: ImageRecord): string | undefined {
  let refs;
  try {
    refs = candidates(input);
  } catch {
    return undefined;
  }
  for (const r of refs) {
    if (r.digest) continue;
    const n = `${repoName(r)}:${r.tag}`;
    if (rec.names.includes(n)) return n;
  }
  return undefined;
}
