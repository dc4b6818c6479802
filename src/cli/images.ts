import { humanSize } from "../image/progress.ts";
import { readImages } from "../store/images.ts";
import { bool, type OptionSpec, parseCommand, str } from "./_args.ts";
import type { CommandSpec } from "./commands.ts";
import { write } from "./_io.ts";
import { ago, table } from "./_table.ts";
import { UsageError } from "../errors/mod.ts";

const OPTIONS: readonly OptionSpec[] = [
  { name: "quiet", short: "q", type: "bool", help: "Print only image IDs" },
  { name: "digests", type: "bool", help: "Show the digests the images were pulled by" },
  { name: "no-trunc", type: "bool", help: "Show full image IDs" },
  { name: "format", type: "string", value: "table|json", help: "Output format" },
  {
    name: "all",
    short: "a",
    type: "bool",
    help: "Show all images (nook keeps no intermediate images; same as without)",
  },
  { name: "help", type: "bool", help: "Show this help" },
];

/** `nook images`. */
export const spec: CommandSpec = {
  name: "images",
  usage: "images [OPTIONS] [REPOSITORY[:TAG]]",
  summary: "List the images in the local store.",
  options: OPTIONS,
  examples: ["nook images", "nook images -q", "nook images --format json alpine"],
  positional: "image",
};

function split(name: string): [string, string] {
  const i = name.lastIndexOf(":");
  return i > name.lastIndexOf("/") ? [name.slice(0, i), name.slice(i + 1)] : [name, "<none>"];
}

/** List them. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec);
  if (!a) return 0;
  const format = str(a, "format") ?? "table";
  if (format !== "table" && format !== "json") {
    throw new UsageError(`Unknown format "${format}"`, { hint: "use table or json" });
  }
  const filter = a.rest[0];
  let images = readImages();
  if (filter) {
    const [repo, tag] = split(filter);
    images = images.filter((i) =>
      i.names.some((n) => {
        const [r, t] = split(n);
        return (r === repo || r.endsWith(`/${repo}`)) && (tag === "<none>" || t === tag);
      })
    );
  }
  const full = bool(a, "no-trunc");
  const id = (s: string) => (full ? s : s.slice(7, 19));
  if (bool(a, "quiet")) {
    await write([...new Set(images.map((i) => id(i.id)))].map((s) => s + "\n").join(""));
    return 0;
  }
  if (format === "json") {
    const out = images.map((i) => ({
      Id: i.id.slice(7),
      Names: i.names,
      Digest: i.repoDigests[0]?.split("@")[1] ?? i.manifest,
      RepoDigests: i.repoDigests,
      Created: i.created ?? null,
      Size: i.size,
      Platform: i.platform,
    }));
    await write(JSON.stringify(out, null, 2) + "\n");
    return 0;
  }
  const digests = bool(a, "digests");
  const rows: string[][] = [["REPOSITORY", "TAG", ...(digests ? ["DIGEST"] : []), "IMAGE ID", "CREATED", "SIZE"]];
  for (const i of images) {
    const names = i.names.length ? i.names : ["<none>:<none>"];
    for (const n of names) {
      const [repo, tag] = n === "<none>:<none>" ? ["<none>", "<none>"] : split(n);
      const digest = i.repoDigests.find((d) => d.startsWith(`${repo}@`))?.split("@")[1] ?? "<none>";
      rows.push([repo, tag, ...(digests ? [digest] : []), id(i.id), ago(i.created), humanSize(i.size)]);
    }
  }
  await write(table(rows));
  return 0;
}
