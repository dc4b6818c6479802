import { lazyImport } from "../lazy/mod.ts";
import { UsageError } from "../errors/mod.ts";
import { parseReference } from "../image/reference.ts";
import { bool, list, type OptionSpec, parseCommand, str } from "./_args.ts";
import type { CommandSpec } from "./commands.ts";
import { write } from "./_io.ts";
import { addToStore, inUserns } from "./_userns.ts";
import { mark } from "../trace/mod.ts";

const OPTIONS: readonly OptionSpec[] = [
  { name: "tag", short: "t", type: "list", value: "NAME[:TAG]", help: "Name the image (may be given several times)" },
  { name: "file", short: "f", type: "string", value: "FILE", complete: "file", help: "The Containerfile (default: CONTEXT/Containerfile, else CONTEXT/Dockerfile)" },
  { name: "build-arg", type: "list", value: "KEY[=VALUE]", help: "Set a build argument (KEY alone copies nook's value)" },
  { name: "target", type: "string", value: "STAGE", help: "Build up to this stage" },
  { name: "no-cache", type: "bool", help: "Run every step; reuse no layer of an earlier build" },
  { name: "pull", type: "string", value: "POLICY", help: "Pull base images: missing (default), always or never" },
  { name: "label", type: "list", value: "KEY=VALUE", help: "Add a label to the image" },
  { name: "iidfile", type: "string", value: "FILE", complete: "file", help: "Write the image ID to FILE" },
  { name: "timestamp", type: "string", value: "SECONDS", help: "Set every time in the image (created, file times) for a reproducible digest" },
  { name: "format", type: "string", value: "oci|docker", choices: ["oci", "docker"], help: "Manifest and config format (default oci)" },
  { name: "compression-format", type: "string", value: "FORMAT", choices: ["gzip", "zstd"], help: "Compression of the layers this build makes: gzip (default) or zstd (needs --format oci)" },
  { name: "platform", type: "string", value: "OS/ARCH", help: "Platform of base images" },
  { name: "network", type: "string", value: "MODE", help: "Network of RUN steps: none, host, pasta or slirp4netns (default: as nook run)" },
  { name: "output", short: "o", type: "string", value: "type=TYPE,dest=PATH", help: "Also write the result: type=local (the files, into a directory), tar (the files, as one tar), oci-archive or docker-archive; a bare PATH is type=local" },
  { name: "secret", type: "list", value: "id=ID,src=FILE", help: "A secret for RUN --mount=type=secret,id=ID, from a file (src=) or a variable (env=VAR); never stored in the image" },
  { name: "quiet", short: "q", type: "bool", help: "Print only the image ID" },
  { name: "help", type: "bool", help: "Show this help" },
];

/** `nook build`. */
export const spec: CommandSpec = {
  name: "build",
  usage: "build [OPTIONS] [CONTEXT]",
  summary: "Build an image from a Containerfile (or Dockerfile). RUN steps are containers of the same engine as " +
    "nook run; unchanged steps are taken from the cache. SOURCE_DATE_EPOCH or --timestamp give a reproducible digest.",
  options: OPTIONS,
  examples: [
    "nook build -t app:1.4 .",
    "nook build -t app:1.4 -f Containerfile --build-arg V=2 --target prod .",
    "SOURCE_DATE_EPOCH=0 nook build --no-cache -t app:repro .",
  ],
  positional: "none",
};

function epoch(text: string | undefined, what: string): number | undefined {
  if (text === undefined || text === "") return undefined;
  if (!/^\d+$/.test(text)) throw new UsageError(`Invalid ${what} "${text}"`, { hint: "give whole seconds since 1970-01-01 UTC" });
  return Number(text);
}

/** `--secret id=ID,src=FILE`, `id=ID,env=VAR` (or `type=file|env`); only `id=ID`: the variable ID. */
function parseSecrets(given: readonly string[]): Map<string, { file?: string; env?: string }> {
  const out = new Map<string, { file?: string; env?: string }>();
  for (const g of given) {
    const kv = new Map<string, string>();
    for (const part of g.split(",")) {
      const i = part.indexOf("=");
      if (i <= 0) throw new UsageError(`Invalid --secret "${g}"`, { hint: "use --secret id=ID,src=FILE or --secret id=ID,env=VARIABLE" });
      kv.set(part.slice(0, i), part.slice(i + 1));
    }
    for (const k of kv.keys()) {
      if (!["id", "src", "source", "env", "type"].includes(k)) throw new UsageError(`Invalid --secret "${g}": unknown key "${k}"`, { hint: "it takes id=, src= (or source=), env= and type=file|env" });
    }
    const id = kv.get("id");
    if (!id) throw new UsageError(`Invalid --secret "${g}": it has no id`, { hint: "use --secret id=ID,src=FILE" });
    const type = kv.get("type");
    if (type !== undefined && type !== "file" && type !== "env") throw new UsageError(`Invalid --secret "${g}": unknown type "${type}"`, { hint: "use type=file or type=env" });
    const src = kv.get("src") ?? kv.get("source");
    if (type === "env" || (src === undefined && kv.has("env")) || (src === undefined && type === undefined)) {
      const env = kv.get("env") ?? src ?? id;
      if (Deno.env.get(env) === undefined) throw new UsageError(`The secret "${id}" reads the environment variable "${env}", which is not set`, { hint: `set it, or give a file: --secret id=${id},src=FILE` });
      out.set(id, { env });
    } else {
      if (!src) throw new UsageError(`Invalid --secret "${g}": no file`, { hint: "use --secret id=ID,src=FILE" });
      try {
        if (!Deno.statSync(src).isFile) throw new Error("not a regular file");
        Deno.openSync(src, { read: true }).close();
      } catch (err) {
        throw new UsageError(`Cannot read the secret file "${src}" of "${id}": ${err instanceof Deno.errors.NotFound ? "no such file" : (err as Error).message}`, { path: src, hint: "give a readable file with src=" });
      }
      out.set(id, { file: Deno.realPathSync(src) });
    }
  }
  return out;
}

/** `-o type=local,dest=DIR` (or a bare `DIR`), `type=tar,dest=FILE`, oci-archive, docker-archive. */
function parseOutput(text: string | undefined): { type: "local" | "tar" | "oci-archive" | "docker-archive"; dest: string } | undefined {
  if (text === undefined) return undefined;
  const usage = "use -o type=local,dest=DIR, -o type=tar,dest=FILE (or dest=-), -o type=oci-archive|docker-archive,dest=FILE, or -o DIR";
  if (text === "") throw new UsageError("The output is empty", { hint: usage });
  // RUN steps write to nook's standard output: a tar there would be mixed with it
  const noStdout = () => new UsageError("nook build cannot write its output to standard output (RUN steps write there)", { hint: "give a file: -o type=tar,dest=FILE" });
  if (text === "-") throw noStdout();
  if (!text.includes("=")) return { type: "local", dest: absolute(text) };
  const kv = new Map<string, string>();
  for (const part of text.split(",")) {
    const i = part.indexOf("=");
    if (i <= 0) throw new UsageError(`Invalid output "${text}"`, { hint: usage });
    kv.set(part.slice(0, i), part.slice(i + 1));
  }
  for (const k of kv.keys()) if (k !== "type" && k !== "dest") throw new UsageError(`Invalid output "${text}": unknown key "${k}"`, { hint: usage });
  const type = kv.get("type") ?? "local";
  if (type !== "local" && type !== "tar" && type !== "oci-archive" && type !== "docker-archive") {
    throw new UsageError(`Unknown output type "${type}"`, { hint: usage });
  }
  const dest = kv.get("dest");
  if (!dest) throw new UsageError(`The output "${text}" has no dest=`, { hint: usage });
  if (dest === "-") throw noStdout();
  return { type, dest: absolute(dest) };
}

function absolute(p: string): string {
  return p.startsWith("/") ? p : `${Deno.cwd()}/${p}`;
}

/** Build. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec);
  if (!a) return 0;
  if (a.rest.length > 1) throw new UsageError("nook build takes at most one context directory", { hint: spec.usage });
  const contextArg = a.rest[0] ?? ".";
  let context: string;
  try {
    context = Deno.realPathSync(contextArg);
    if (!Deno.statSync(context).isDirectory) throw new Error("not a directory");
  } catch {
    throw new UsageError(`The build context "${contextArg}" is not a directory`, { path: contextArg, hint: "give the directory the Containerfile's COPY and ADD read from" });
  }
  let file = str(a, "file");
  if (file === undefined) {
    file = ["Containerfile", "Dockerfile"].map((f) => `${context}/${f}`).find((f) => {
      try {
        return Deno.statSync(f).isFile;
      } catch {
        return false;
      }
    });
    if (!file) throw new UsageError(`No Containerfile or Dockerfile in "${contextArg}"`, { hint: "give one with -f FILE" });
  } else if (file !== "-") file = Deno.realPathSync(file);
  for (const t of list(a, "tag")) parseReference(t, "localhost");
  const pull = str(a, "pull") ?? "missing";
  if (!["missing", "always", "never"].includes(pull)) {
    throw new UsageError(`Unknown pull policy "${pull}"`, { hint: "use --pull missing, --pull always or --pull never" });
  }
  const format = str(a, "format") ?? "oci";
  if (format !== "oci" && format !== "docker") throw new UsageError(`Unknown format "${format}"`, { hint: "use --format oci or --format docker" });
  const compression = str(a, "compression-format") ?? "gzip";
  if (compression !== "gzip" && compression !== "zstd") {
    throw new UsageError(`Unknown compression format "${compression}"`, { hint: "use --compression-format gzip or --compression-format zstd" });
  }
  if (compression === "zstd" && format === "docker") {
    throw new UsageError("zstd layers cannot be described in the docker format", { hint: "build with --format oci (the default)" });
  }
  const timestamp = epoch(str(a, "timestamp"), "--timestamp");
  const sourceDateEpoch = epoch(Deno.env.get("SOURCE_DATE_EPOCH"), "SOURCE_DATE_EPOCH");
  const buildArgs = new Map<string, string>();
  for (const b of list(a, "build-arg")) {
    const i = b.indexOf("=");
    if (i === 0 || !b) throw new UsageError(`Invalid build argument "${b}"`, { hint: "use --build-arg KEY=VALUE" });
    if (i > 0) buildArgs.set(b.slice(0, i), b.slice(i + 1));
    else if (Deno.env.get(b) !== undefined) buildArgs.set(b, Deno.env.get(b)!);
  }
  const secretSources = parseSecrets(list(a, "secret"));
  const output = parseOutput(str(a, "output"));
  const labels: [string, string][] = list(a, "label").map((l) => {
    const i = l.indexOf("=");
    if (i <= 0) throw new UsageError(`Invalid label "${l}"`, { hint: "use --label KEY=VALUE" });
    return [l.slice(0, i), l.slice(i + 1)];
  });

  // the copy-on-write backend is probed out here (the probe makes a user namespace of its own, with
  // the caller's id maps) and cached for the build inside
  const { storageBackend } = await lazyImport<typeof import("../overlay/backend.ts")>("overlay/backend.ts");
  await storageBackend();
  mark("build: storage backend");
  // Why nook's user namespace: layers hold files of every mapped id, and the RUN containers'
  // own user namespaces are made inside it (src/engine/step.ts).
  const code = await inUserns(["build"], argv);
  mark(code === undefined ? "build: in the user namespace" : "build: the build in the user namespace");
  if (code !== undefined) return code;

  const { build } = await lazyImport<typeof import("../build/builder.ts")>("build/builder.ts");
  const { pullImage } = await lazyImport<typeof import("../image/pull.ts")>("image/pull.ts");
  const { parsePlatform } = await lazyImport<typeof import("../image/manifest.ts")>("image/manifest.ts");
  const secrets = new Map<string, Uint8Array>();
  for (const [id, s] of secretSources) secrets.set(id, s.file !== undefined ? Deno.readFileSync(s.file) : new TextEncoder().encode(Deno.env.get(s.env!) ?? ""));
  const quiet = bool(a, "quiet");
  const platform = str(a, "platform");
  const network = str(a, "network");
  const id = await addToStore(quiet, (progress) =>
    build({
      context,
      file: file!,
      tags: list(a, "tag"),
      buildArgs,
      noCache: bool(a, "no-cache"),
      pull: pull as "missing" | "always" | "never",
      labels,
      format,
      quiet,
      network: { network, publish: [], publishAll: false, dns: [], addHosts: [] },
      progress,
      secrets,
      compression,
      ...(output ? { output } : {}),
      pullImage: (name, p) => pullImage(name, progress, p ? { platform: parsePlatform(p) } : {}),
      ...(str(a, "target") !== undefined ? { target: str(a, "target")! } : {}),
      ...(timestamp !== undefined ? { timestamp } : {}),
      ...(sourceDateEpoch !== undefined ? { sourceDateEpoch } : {}),
      ...(platform !== undefined ? { platform } : {}),
    })
  );
  const iidfile = str(a, "iidfile");
  if (iidfile !== undefined) Deno.writeTextFileSync(iidfile, id);
  if (!quiet) {
    for (const t of list(a, "tag")) console.log(`Successfully tagged ${t}`);
  }
  await write(id + "\n");
  return 0;
}
