import { NookError, UsageError } from "../errors/mod.ts";
import { humanSize } from "../image/progress.ts";
import { bool, type OptionSpec, parseCommand, str } from "./_args.ts";
import type { CommandSpec } from "./commands.ts";
import { write } from "./_io.ts";
import { ago, table } from "./_table.ts";

const OPTIONS: readonly OptionSpec[] = [
  { name: "no-trunc", type: "bool", help: "Show full image IDs and commands" },
  { name: "quiet", short: "q", type: "bool", help: "Print only the IDs (<missing> for steps with none)" },
  { name: "format", type: "string", value: "table|json", choices: ["table", "json"], help: "Output format" },
  { name: "help", type: "bool", help: "Show this help" },
];

/** `nook history`. */
export const spec: CommandSpec = {
  name: "history",
  usage: "history [OPTIONS] IMAGE",
  summary: "Show how an image was made: one row per step of its config's history, newest first, " +
    "with the size of the layer each step added.",
  options: OPTIONS,
  examples: ["nook history alpine", "nook history --no-trunc app:1.4", "nook history --format json app:1.4"],
  positional: "image",
};

/** One step of an image's history. */
interface Step {
  id: string;
  created: string | undefined;
  createdBy: string;
  size: number;
  comment: string;
  tags: string[];
}

/** docker's cut: at most `n` characters, the last one an ellipsis. */
function cut(s: string, n: number): string {
  return [...s].length > n ? [...s].slice(0, n - 1).join("") + "…" : s;
}

/** Show it. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec);
  if (!a) return 0;
  if (a.rest.length !== 1) throw new UsageError("nook history takes exactly one image", { hint: "nook history IMAGE" });
  const format = str(a, "format") ?? "table";
  if (format !== "table" && format !== "json") {
    throw new UsageError(`Unknown format "${format}"`, { hint: "use table or json" });
  }
  const image = a.rest[0]!;
  const { findImage } = await import("../image/lookup.ts");
  const { readBlobText } = await import("../store/blobs.ts");
  const { readLayerInfo } = await import("../store/layers.ts");
  const rec = findImage(image);
  if (!rec) throw new NookError(`No such image: "${image}"`, { hint: "see nook images" });
  let config: {
    created?: string;
    history?: { created?: string; created_by?: string; empty_layer?: boolean; comment?: string }[];
  };
  try {
    config = JSON.parse(readBlobText(rec.id));
  } catch (err) {
    if (err instanceof NookError) throw err;
    throw new NookError(`The stored config of "${image}" is not valid JSON`, {
      cause: err,
      hint: "the store is damaged; pull or load the image again (nook rmi it first)",
    });
  }
  const layerSize = (i: number) => {
    const l = rec.layers[i];
    return l ? readLayerInfo(l.chainId)?.size ?? 0 : 0;
  };
  // each history entry that is not empty_layer made the next layer, bottom first
  type Entry = { created?: string; created_by?: string; empty_layer?: boolean; comment?: string };
  const history: Entry[] = Array.isArray(config.history) && config.history.length
    ? config.history
    : rec.layers.map(() => (config.created ? { created: config.created } : {}));
  let layer = 0;
  const steps: Step[] = history.map((h) => ({
    id: "<missing>",
    created: h.created,
    createdBy: h.created_by ?? "",
    size: h.empty_layer ? 0 : layerSize(layer++),
    comment: h.comment ?? "",
    tags: [],
  })).reverse();
  if (steps[0]) {
    steps[0].id = rec.id;
    steps[0].tags = rec.names;
  }
  const full = bool(a, "no-trunc");
  const id = (s: string) => (s === "<missing>" ? s : full ? s : s.slice(7, 19));
  if (bool(a, "quiet")) {
    await write(steps.map((s) => id(s.id) + "\n").join(""));
    return 0;
  }
  if (format === "json") {
    const out = steps.map((s) => ({
      id: s.id === "<missing>" ? s.id : s.id.slice(7),
      created: s.created ?? null,
      createdBy: s.createdBy,
      size: s.size,
      comment: s.comment,
      tags: s.tags,
    }));
    await write(JSON.stringify(out, null, 2) + "\n");
    return 0;
  }
  const rows = [["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"]];
  for (const s of steps) {
    const by = s.createdBy.replace(/\s+/g, " ");
    rows.push([id(s.id), ago(s.created), full ? by : cut(by, 45), humanSize(s.size), s.comment]);
  }
  await write(table(rows));
  return 0;
}
