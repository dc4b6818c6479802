import { NookError, UsageError } from "../errors/mod.ts";
import { formatReference, parseReference, type Reference, repoName } from "../image/reference.ts";
import { bool, type OptionSpec, parseCommand, str } from "./_args.ts";
import type { CommandSpec } from "./commands.ts";

const FORMATS = ["oci", "docker"] as const;

const OPTIONS: readonly OptionSpec[] = [
  {
    name: "tls-verify",
    type: "bool",
    help: "Require HTTPS with a valid certificate (--tls-verify=false allows plain HTTP)",
  },
  {
    name: "format",
    short: "f",
    type: "string",
    value: "oci|docker",
    choices: FORMATS,
    help: "Manifest type to push (default: as stored; another type changes the digest)",
  },
  {
    name: "compression-format",
    type: "string",
    value: "FORMAT",
    choices: ["gzip", "zstd"],
    help: "Recompress layers stored otherwise to gzip or zstd (default: as stored; zstd pushes the OCI format)",
  },
  {
    name: "digestfile",
    type: "string",
    value: "FILE",
    complete: "file",
    help: "Write the pushed manifest's digest to FILE",
  },
  { name: "quiet", short: "q", type: "bool", help: "Print no progress" },
  { name: "debug", type: "bool", help: "Say which blobs were skipped, mounted from another repository or uploaded" },
  { name: "help", type: "bool", help: "Show this help" },
];

/** `nook push`. */
export const spec: CommandSpec = {
  name: "push",
  usage: "push [OPTIONS] IMAGE [DESTINATION]",
  summary: "Upload an image from the local store to a registry. Blobs the registry has are skipped, blobs another " +
    "repository of it has are mounted from there; credentials are those of nook login, podman's auth.json and " +
    "docker's config.json (with its credential helpers). Without DESTINATION the image's own name is used.",
  options: OPTIONS,
  examples: [
    "nook push registry.example.com/team/app:1.4",
    "nook push app:1.4 registry.example.com/team/app:1.4",
    "nook push --format docker --digestfile app.digest localhost:5000/app:1.4",
    "nook push --tls-verify=false alpine registry.lan:5000/mirror/alpine:3.20",
  ],
  positional: "image",
};

/** The destination: as written (`docker://` allowed), fully qualified, with a tag. */
function destination(text: string): Reference {
  const ref = parseReference(text.replace(/^docker:\/\//, ""));
  if (!ref.qualified) {
    throw new UsageError(`The destination "${text}" names no registry`, {
      hint: `write it in full, e.g. registry.example.com/${ref.repository.replace(/^library\//, "")}:${
        ref.tag ?? "latest"
      }`,
    });
  }
  if (ref.digest !== undefined) {
    throw new UsageError(`Cannot push to "${text}": a destination is a name with a tag, not a digest`, {
      hint: "leave out the @sha256:… part",
    });
  }
  return ref;
}

/** Push it. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec);
  if (!a) return 0;
  if (a.rest.length < 1 || a.rest.length > 2) {
    throw new UsageError("nook push takes an image and at most one destination", {
      hint: "nook push [OPTIONS] IMAGE [DESTINATION]",
    });
  }
  const format = str(a, "format");
  if (format !== undefined && !(FORMATS as readonly string[]).includes(format)) {
    throw new UsageError(`Unknown manifest format "${format}"`, { hint: "use --format oci or --format docker" });
  }
  const compression = str(a, "compression-format");
  if (compression !== undefined && compression !== "gzip" && compression !== "zstd") {
    throw new UsageError(`Unknown compression format "${compression}"`, { hint: "use --compression-format gzip or --compression-format zstd" });
  }
  const [image, destText] = a.rest as [string, string | undefined];
  const { findImage, matchedName } = await import("../image/lookup.ts");
  const rec = findImage(image);
  if (!rec) throw new NookError(`No such image: "${image}"`, { exitCode: 125, hint: "see nook images" });
  let dest: Reference;
  if (destText !== undefined) dest = destination(destText);
  else {
    const name = matchedName(image, rec);
    if (!name) {
      throw new UsageError(`"${image}" names the image by ID; say where to push it`, {
        hint: `nook push ${image} REGISTRY/REPOSITORY:TAG`,
      });
    }
    dest = destination(name);
    if (dest.registry === "localhost") {
      throw new UsageError(`The image "${name}" is local only (localhost/); say where to push it`, {
        hint: `nook push ${image} REGISTRY/REPOSITORY:TAG`,
      });
    }
  }
  const digestfile = str(a, "digestfile");

  const { Progress } = await import("../image/progress.ts");
  const { lockStore } = await import("../store/lock.ts");
  const { pushImage } = await import("../image/push.ts");
  const { hasBlob } = await import("../store/blobs.ts");
  const { updateImages } = await import("../store/images.ts");
  // shared: a concurrent rmi must not remove the blobs while they are read
  using _lock = await lockStore("shared");
  const progress = new Progress(bool(a, "quiet"));
  let result;
  try {
    progress.line(`Pushing ${formatReference(dest)}`);
    result = await pushImage(rec, dest, progress, {
      ...(a.opts["tls-verify"] === false ? { tlsVerify: false } : {}),
      ...(format !== undefined ? { format: format as "oci" | "docker" } : {}),
      ...(compression !== undefined ? { compression } : {}),
      ...(bool(a, "debug") ? { debug: true } : {}),
    });
  } finally {
    progress.end();
  }
  // the registry holds these blobs now: a later push to another repository can mount them from here
  if (hasBlob(result.digest)) {
    const rd = `${repoName(dest)}@${result.digest}`;
    await updateImages((all) =>
      all.map((
        i,
      ) => (i.id === rec.id && !i.repoDigests.includes(rd) ? { ...i, repoDigests: [...i.repoDigests, rd] } : i))
    );
  }
  progress.line(
    `${formatReference(dest)}: digest: ${result.digest} (${result.blobs.uploaded} uploaded, ` +
      `${result.blobs.mounted} mounted, ${result.blobs.existing} already there)`,
  );
  if (digestfile !== undefined) {
    try {
      Deno.writeTextFileSync(digestfile, result.digest);
    } catch (err) {
      throw new NookError(`Cannot write the digest file "${digestfile}": ${(err as Error).message}`, {
        path: digestfile,
        cause: err,
        hint: `the image was pushed; its digest is ${result.digest}`,
      });
    }
  }
  return 0;
}
