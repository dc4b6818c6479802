import { lazyImport } from "../lazy/mod.ts";
import { UsageError } from "../errors/mod.ts";
import { parsePlatform } from "../image/manifest.ts";
import { parseReference } from "../image/reference.ts";
import { bool, type OptionSpec, parseCommand, str } from "./_args.ts";
import type { CommandSpec } from "./commands.ts";
import { write } from "./_io.ts";
import { addToStore, inUserns } from "./_userns.ts";

const OPTIONS: readonly OptionSpec[] = [
  {
    name: "platform",
    type: "string",
    value: "OS/ARCH[/VARIANT]",
    help: "Choose this platform from a multi-platform image (default: the host's)",
  },
  {
    name: "tls-verify",
    type: "bool",
    help: "Require HTTPS with a valid certificate (--tls-verify=false allows plain HTTP)",
  },
  { name: "quiet", short: "q", type: "bool", help: "Print only the image ID" },
  { name: "debug", type: "bool", help: "Print what unpacking left out (extended attributes a user namespace cannot set)" },
  { name: "help", type: "bool", help: "Show this help" },
];

/** `nook pull`. */
export const spec: CommandSpec = {
  name: "pull",
  usage: "pull [OPTIONS] IMAGE",
  summary: "Download an image from a registry into the local store (layers are verified, then unpacked).",
  options: OPTIONS,
  examples: [
    "nook pull alpine",
    "nook pull --platform linux/arm64 docker.io/library/alpine:3.20",
    "nook pull localhost:5000/team/app:1.2",
    "nook pull --tls-verify=false registry.lan:5000/app@sha256:…",
  ],
  positional: "image",
};

/** Pull it. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec);
  if (!a) return 0;
  if (a.rest.length !== 1) {
    throw new UsageError("nook pull takes exactly one image", { hint: "nook pull [OPTIONS] IMAGE" });
  }
  const image = a.rest[0]!;
  parseReference(image); // a bad reference fails here, before any namespace work
  const platform = str(a, "platform");
  if (platform !== undefined) parsePlatform(platform);
  const code = await inUserns(["pull"], argv);
  if (code !== undefined) return code;

  const { pullImage } = await lazyImport<typeof import("../image/pull.ts")>("image/pull.ts");
  const rec = await addToStore(bool(a, "quiet"), (progress) =>
    pullImage(image, progress, {
      ...(platform !== undefined ? { platform: parsePlatform(platform) } : {}),
      ...(a.opts["tls-verify"] === false ? { tlsVerify: false } : {}),
      ...(bool(a, "debug") ? { debug: true } : {}),
    }));
  if (Deno.env.get("NOOK_PULL_QUIET_ID") !== "1") await write(rec.id + "\n");
  return 0;
}
