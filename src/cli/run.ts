import { UsageError } from "../errors/mod.ts";
import { mergeHooks } from "../engine/run.ts";
import { DEFAULT_PATH } from "../engine/api.ts";
import { readTextInRoot } from "../engine/in_root.ts";
import { resolveUser } from "../engine/user.ts";
import { abandonCreate, beginCreate, crashPoint } from "../engine/intent.ts";
import type { ContainerSpec, MountSpec } from "../model/mod.ts";
import { writeEtcFiles } from "../engine/etc_files.ts";
import { containerDir } from "../engine/store.ts";
import { NAMESPACES } from "../engine/build_plan.ts";
import { ensureHelloRootfs, HELLO_NAMES } from "../image/builtin_hello.ts";
import { dataDir, runtimeDir } from "../paths/mod.ts";
import { RLIM_INFINITY, RLIMIT } from "../plan/mod.ts";
import { detectIdMapping, type IdMapping } from "../userns/mod.ts";
import { bool, list, type OptionSpec, parseCommand, type ParsedArgs, str } from "./_args.ts";
import type { CommandSpec } from "./commands.ts";
import { IMAGE_RUN_OPTIONS, prepareImage, runMounts, storeImageSource, type StoreParts } from "./_run_image.ts";
import type { StoreSource } from "./_run_image_store.ts";
import { LIFECYCLE_RUN_OPTIONS, runWithLifecycle } from "./_run_lifecycle.ts";
import { parseTmpfs, SECURITY_RUN_OPTIONS, securityFromArgs, tmpfsFromArgs } from "./_run_security.ts";
import { RESOURCES_RUN_OPTIONS, resourceHooks } from "./_run_resources.ts";
import { NETWORK_RUN_OPTIONS, networkFlags } from "./_run_network.ts";
import { networkHooks, prepareNetwork } from "../network/mod.ts";
import { applyRunDefaults } from "../config/load.ts";
import { mark } from "../trace/mod.ts";

/** The core options of `nook run`. */
const CORE_RUN_OPTIONS: readonly OptionSpec[] = [
  { name: "rm", type: "bool", help: "Remove the container when it exits" },
  { name: "interactive", short: "i", type: "bool", help: "Keep stdin attached to the container" },
  { name: "tty", short: "t", type: "bool", help: "Allocate a pseudo-terminal" },
  { name: "env", short: "e", type: "list", value: "KEY[=VALUE]", help: "Set a variable (KEY alone copies nook's value)" },
  { name: "env-file", type: "list", value: "FILE", help: "Read variables from a file of KEY=VALUE lines", complete: "file" },
  { name: "workdir", short: "w", type: "string", value: "DIR", help: "Working directory inside the container" },
  { name: "user", short: "u", type: "string", value: "USER[:GROUP]", help: "User (name or uid) and group to run as" },
  { name: "hostname", short: "h", type: "string", value: "NAME", help: "Hostname (default: the first 12 digits of the id)" },
  { name: "entrypoint", type: "string", value: "CMD", help: "Override the image's entrypoint" },
  { name: "init", type: "bool", help: "Run a minimal init as pid 1 that reaps zombies and forwards signals" },
  { name: "rootfs", type: "string", value: "DIR", help: "Use this directory as the root filesystem", complete: "dir" },
  { name: "name", type: "string", value: "NAME", help: "Name of the container" },
  { name: "ulimit", type: "list", value: "NAME=SOFT[:HARD]", help: "Set a resource limit, e.g. nofile=1024:2048" },
  { name: "read-only", type: "bool", help: "Mount the root filesystem read-only" },
];

/** The options of `nook run`, in help order: each concern owns its group. */
export const RUN_OPTIONS: readonly OptionSpec[] = [
  ...CORE_RUN_OPTIONS,
  ...IMAGE_RUN_OPTIONS,
  ...LIFECYCLE_RUN_OPTIONS,
  ...SECURITY_RUN_OPTIONS,
  ...RESOURCES_RUN_OPTIONS,
  ...NETWORK_RUN_OPTIONS,
  { name: "help", type: "bool", help: "Show this help" },
];

/** `nook run`. */
export const spec: CommandSpec = {
  name: "run",
  usage: "run [OPTIONS] IMAGE [COMMAND [ARG...]]\n       nook run [OPTIONS] --rootfs DIR COMMAND [ARG...]",
  summary: "Run a command in a new rootless container and wait for it; exits with the command's status.",
  options: RUN_OPTIONS,
  examples: [
    "nook run --rm hello",
    "nook run --rm --rootfs ./rootfs sh -c 'echo $$; id -u; hostname'",
    "nook run --rm -it --rootfs ./rootfs sh",
    "nook run --rm -e FOO=bar -w /tmp -u 1000:1000 --rootfs ./rootfs env",
    "nook run -d --name web --restart on-failure:3 --rootfs ./rootfs sh -c 'while true; do date; sleep 1; done'",
  ],
  positional: "image",
};

/** What the container runs from: a directory plus the image's defaults (the store's shape, its parts optional). */
interface Source extends Omit<StoreSource, "store"> {
  /** An image from the store: its layers, storage and volumes. */
  store?: StoreParts;
  /** The image's ExposedPorts (`"80/tcp"`), for -P. */
  exposedPorts?: string[];
}


/** Run it. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec, true);
  if (!a) return 0;
  await applyRunDefaults(a, RUN_OPTIONS); // flags not given → config.yaml / NOOK_* (src/config)
  const mapping = detectIdMapping();
  mark("arguments");
  await prepareImage(a);
  const { spec: container, cleanup } = prepare(a, mapping);
  mark("spec");
  try {
    // cgroup first (the container's process must be in it before GO), then the network helper;
    // with -d the container's monitor starts its network helper (src/network/detached.ts), not this short-lived nook
    const network = bool(a, "detach") ? {} : networkHooks(container);
    const hooks = mergeHooks(await resourceHooks(a, container), network);
    mark("cgroup");
    return await runWithLifecycle(a, container, mapping, hooks);
  } finally {
    await cleanup();
    mark("cleanup");
  }
}

/** Turn parsed options into a ContainerSpec (and what to remove afterwards). */
export function prepare(a: ParsedArgs, mapping: IdMapping): { spec: ContainerSpec; cleanup: () => Promise<void> } {
  const rootfsOpt = str(a, "rootfs");
  const rest = [...a.rest];
  const id = newId();
  // the record directory and its intent come first: whatever follows is named by it (src/engine/intent.ts)
  beginCreate(id);
  let source: Source | undefined;
  try {
    source = rootfsOpt !== undefined ? rootfsSource(rootfsOpt) : imageSource(a, rest.shift(), id);
    crashPoint("create.storage");
    return prepareFrom(a, mapping, id, source, rest);
  } catch (err) {
    void source?.store?.cleanup().finally(() => abandonCreate(id));
    if (!source?.store) abandonCreate(id);
    throw err;
  }
}

function prepareFrom(a: ParsedArgs, mapping: IdMapping, id: string, source: Source, rest: string[]): { spec: ContainerSpec; cleanup: () => Promise<void> } {
  const name = str(a, "name");
  // the name becomes a file name in the store: a filesystem's 255-byte limit must never be what refuses it
  if (name !== undefined && (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name) || name.length > 128)) {
    throw new UsageError(
      name.length > 128
        ? `Invalid container name "${name.slice(0, 20)}…": it has ${name.length} characters, at most 128 are allowed`
        : `Invalid container name "${name}"`,
      { hint: "names match [a-zA-Z0-9][a-zA-Z0-9_.-]* and have at most 128 characters" },
    );
  }
  list(a, "tmpfs").forEach(parseTmpfs); // a bad tmpfs option fails before anything is made

  const entrypointOpt = str(a, "entrypoint");
  const entrypoint = entrypointOpt !== undefined ? (entrypointOpt ? [entrypointOpt] : []) : source.entrypoint;
  const cmd = rest.length ? rest : entrypointOpt !== undefined ? [] : source.cmd;
  const args = [...entrypoint, ...cmd];
  if (args.length === 0) {
    throw new UsageError("No command given, and the image has none", {
      hint: "put the command after the image (or after --rootfs DIR), e.g. nook run --rootfs DIR sh",
    });
  }

  const readFile = source.store?.readFile ?? ((p: string) => readTextInRoot(source.rootfs, p));
  const user = resolveUser(str(a, "user") ?? source.user, readFile("/etc/passwd"), readFile("/etc/group"));
  const workdir = str(a, "workdir") ?? source.workdir;
  if (!workdir.startsWith("/")) {
    throw new UsageError(`The working directory "${workdir}" is not an absolute path`, { hint: "use -w /path" });
  }

  const hostname = str(a, "hostname") ?? id.slice(0, 12);
  const terminal = bool(a, "tty");
  const env = mergeEnv([
    DEFAULT_PATH,
    `HOSTNAME=${hostname}`,
    "container=nook",
    `HOME=${user.uid === 0 && user.home === "/" ? "/root" : user.home}`,
    ...(terminal ? ["TERM=xterm"] : []),
    ...source.env,
    ...list(a, "env-file").flatMap(readEnvFile),
    ...list(a, "env").flatMap(envFlag),
  ]);

  if (mapping.mode === "single" && mapping.notice) noticeOnce(mapping.notice);

  const dir = `${runtimeDir()}/containers/${id}`;
  Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
  let volumes: { mounts: MountSpec[]; cleanup: () => Promise<void> } | undefined;
  const cleanup = async () => {
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch {
      // already gone
    }
    // A container that still has a record (no --rm, or -d) keeps its storage
    // and volumes until `nook rm` removes them with it.
    if (existsSync(`${containerDir(id)}/config.json`)) return;
    await volumes?.cleanup();
    await source.store?.cleanup();
    abandonCreate(id); // no record was made: its directory (and intent) go too
  };
  try {
    const net = prepareNetwork(networkFlags(a), { id, name, hostname, runDir: dir, exposedPorts: source.exposedPorts });
    if (net.notice) noticeOnce(net.notice, net.noticeTopic ?? "network");
    const etcFiles = writeEtcFiles(dir, hostname, net.etc);
    volumes = runMounts(a, id, source.store);
    const mounts: MountSpec[] = [...volumes.mounts];
    mounts.push(...tmpfsFromArgs(a, source.readonly || bool(a, "read-only")));
    const spec: ContainerSpec = {
      id,
      rootfs: source.rootfs,
      readonlyRootfs: source.readonly || bool(a, "read-only"),
      hostname,
      network: net.mode,
      networkSetup: net.setup,
      ...(source.exposedPorts ? { exposedPorts: source.exposedPorts } : {}),
      mounts,
      etcFiles,
      process: {
        args,
        env,
        cwd: workdir,
        uid: user.uid,
        gid: user.gid,
        groups: user.groups,
        terminal,
        stdin: bool(a, "interactive"),
        init: bool(a, "init"),
        umask: 0o022,
        rlimits: list(a, "ulimit").map(parseUlimit),
      },
      security: securityFromArgs(a, user.uid),
      ...(source.store ? { rootfsSetup: source.store.rootfsSetup, image: source.store.image } : {}),
    };
    return { spec, cleanup };
  } catch (err) {
    void cleanup();
    throw err;
  }
}

function rootfsSource(path: string): Source {
  let real: string;
  try {
    real = Deno.realPathSync(path);
    if (!Deno.statSync(real).isDirectory) throw new Error("not a directory");
  } catch {
    throw new UsageError(`The root filesystem "${path}" does not exist or is not a directory`, {
      path,
      hint: "point --rootfs at an unpacked root filesystem (for example: mkdir r && tar -xf rootfs.tar -C r)",
    });
  }
  return { rootfs: real, readonly: false, env: [], entrypoint: [], cmd: [], workdir: "/" };
}

function imageSource(a: ParsedArgs, image: string | undefined, id: string): Source {
  if (image === undefined) {
    throw new UsageError("No image given", { hint: "nook run [OPTIONS] IMAGE [COMMAND], or --rootfs DIR COMMAND" });
  }
  if (HELLO_NAMES.includes(image)) {
    return {
      rootfs: ensureHelloRootfs(dataDir()),
      readonly: true,
      env: [`NOOK_HOST_NS=${hostNamespaces()}`],
      entrypoint: [],
      cmd: ["/hello"],
      workdir: "/",
    };
  }
  const src: Source = storeImageSource(a, image, id);
  const ports = src.store?.image.exposedPorts;
  return ports?.length ? { ...src, exposedPorts: ports } : src;
}

function hostNamespaces(): string {
  return NAMESPACES.map((ns) => {
    try {
      return `${ns}=${/\[(\d+)\]/.exec(Deno.readLinkSync(`/proc/self/ns/${ns}`))?.[1] ?? 0}`;
    } catch {
      return `${ns}=0`;
    }
  }).join(" ");
}

/** 64 random hex digits. */
export function newId(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(32)), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Merge KEY=VALUE strings, later ones winning, in first-seen order. */
export function mergeEnv(entries: readonly string[]): string[] {
  const m = new Map<string, string>();
  for (const e of entries) {
    const i = e.indexOf("=");
    m.set(i < 0 ? e : e.slice(0, i), e);
  }
  return [...m.values()];
}

/** `-e KEY=VALUE`, or `-e KEY` copying nook's own value (dropped when unset), as docker does. */
export function envFlag(value: string): string[] {
  const i = value.indexOf("=");
  const key = i < 0 ? value : value.slice(0, i);
  if (!key || /\s/.test(key)) {
    throw new UsageError(`Invalid environment variable "${value}"`, { hint: "use -e KEY=VALUE" });
  }
  if (i >= 0) return [value];
  const v = Deno.env.get(key);
  return v === undefined ? [] : [`${key}=${v}`];
}

/** docker's env-file format: KEY=VALUE lines (verbatim values), `#` comments, KEY alone copies nook's value. */
export function parseEnvFile(text: string, file: string): string[] {
  const out: string[] = [];
  text.split("\n").forEach((raw, n) => {
    const line = raw.replace(/\r$/, "").trimStart();
    if (!line || line.startsWith("#")) return;
    const i = line.indexOf("=");
    const key = i < 0 ? line.trimEnd() : line.slice(0, i);
    if (!key || /\s/.test(key)) {
      throw new UsageError(`Invalid line ${n + 1} in env file "${file}": "${raw}"`, {
        path: file,
        hint: "each line must be KEY=VALUE, KEY, or a # comment; keys have no spaces",
      });
    }
    if (i >= 0) out.push(line);
    else {
      const v = Deno.env.get(key);
      if (v !== undefined) out.push(`${key}=${v}`);
    }
  });
  return out;
}

/** The variables of a docker env file (see {@link parseEnvFile}). */
export function readEnvFile(file: string): string[] {
  let text: string;
  try {
    text = Deno.readTextFileSync(file);
  } catch (err) {
    throw new UsageError(`Cannot read env file "${file}": ${(err as Error).message}`, { path: file, cause: err });
  }
  return parseEnvFile(text, file);
}

/** `--ulimit name=soft[:hard]` → [resource, soft, hard]; -1 or "unlimited" is infinity. */
export function parseUlimit(value: string): [number, bigint, bigint] {
  const m = /^([a-z]+)=(-?\d+|unlimited)(?::(-?\d+|unlimited))?$/.exec(value);
  const res = m ? RLIMIT[m[1]!] : undefined;
  if (!m || res === undefined) {
    throw new UsageError(`Invalid ulimit "${value}"`, {
      hint: `use NAME=SOFT[:HARD] with NAME one of ${Object.keys(RLIMIT).join(", ")}`,
    });
  }
  const num = (s: string) => (s === "unlimited" || s === "-1" ? RLIM_INFINITY : BigInt(s));
  const soft = num(m[2]!);
  const hard = m[3] === undefined ? soft : num(m[3]);
  if (soft > hard) throw new UsageError(`Invalid ulimit "${value}": the soft limit is above the hard limit`);
  return [res, soft, hard];
}

/** Print a notice once per boot (the runtime directory is emptied by reboots); one marker per topic. */
function noticeOnce(text: string, topic = "idmap"): void {
  const marker = `${runtimeDir()}/notice-${topic}`;
  try {
    Deno.writeFileSync(marker, new Uint8Array(), { createNew: true });
  } catch {
    return;
  }
  console.error(`nook: notice: ${text}`);
}

function existsSync(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}
