/**
 * `nook runtime …`: nook as an OCI runtime, with runc's command line, so
 * engines (podman/conmon, containerd's shim, CRI-O) can drive it. Started
 * as `nook-runtime` (see src/oci/argv0.ts, bin/nook-runtime) nook speaks
 * this at the top level.
 */
import { lazyImport } from "../lazy/mod.ts";
import { NookError, UsageError } from "../errors/mod.ts";
import { absolute } from "../oci/config.ts";
import { RuntimeLog } from "../oci/log.ts";
import { loadRecord, OCI_VERSION, stateRoot } from "../oci/state.ts";
import type { RuntimeContext } from "../oci/lifecycle.ts";
import { OciError } from "../oci/errors.ts";
import { NOOK_VERSION } from "../version.ts";
import { bool, formatHelp, list, type OptionSpec, parseArgs, type ParsedArgs, str } from "./_args.ts";
import type { CommandSpec } from "./commands.ts";
import { write } from "./_io.ts";

// Each command loads only what it needs: `start`, `state`, `kill` and
// `delete` (called for every container by engines) never load the plan,
// seccomp or launch code that `create` needs.
const lifecycle = () => import("../oci/lifecycle.ts");
const create = () => import("../oci/create.ts");

const HELP: OptionSpec = { name: "help", short: "h", type: "bool", help: "Show this help" };

/** runc's global options. */
const GLOBAL_OPTIONS: readonly OptionSpec[] = [
  {
    name: "root",
    type: "string",
    value: "DIR",
    help: "Where container state lives (default $XDG_RUNTIME_DIR/nook/runtime, or /tmp/nook-UID/runtime)",
    complete: "dir",
  },
  {
    name: "log",
    type: "string",
    value: "FILE",
    help: "Write the runtime's log here (default: stderr)",
    complete: "file",
  },
  {
    name: "log-format",
    type: "string",
    value: "text|json",
    help: "Format of --log (json: what engines such as conmon read)",
  },
  { name: "debug", type: "bool", help: "Log debug messages too" },
  { name: "systemd-cgroup", type: "bool", help: 'linux.cgroupsPath is systemd\'s "slice:prefix:name"' },
  {
    name: "rootless",
    type: "string",
    value: "true|false|auto",
    help: "Accepted as runc takes it (true, false or auto). nook takes cgroup errors one way wherever it runs " +
      "(real root, root of a user namespace it did not make, or another user), as runc does rootless: a container " +
      "whose cgroup cannot be made runs without one, with a warning, unless config.json asks for a limit, which is then refused",
  },
  { name: "version", short: "v", type: "bool", help: "Show the version" },
  HELP,
];

const BUNDLE: OptionSpec = {
  name: "bundle",
  short: "b",
  type: "string",
  value: "DIR",
  help: "The bundle (default: the current directory)",
  complete: "dir",
};
const CONSOLE: OptionSpec = {
  name: "console-socket",
  type: "string",
  value: "PATH",
  help: "AF_UNIX socket that receives the terminal's pty master (process.terminal)",
  complete: "file",
};
const PID_FILE: OptionSpec = {
  name: "pid-file",
  type: "string",
  value: "FILE",
  help: "Write the process's pid here",
  complete: "file",
};
const PRESERVE: OptionSpec = {
  name: "preserve-fds",
  type: "string",
  value: "N",
  help: "Pass fds 3..3+N-1 to the process",
};
const CREATE_OPTIONS: readonly OptionSpec[] = [
  BUNDLE,
  CONSOLE,
  PID_FILE,
  { name: "no-pivot", type: "bool", help: "chroot instead of pivot_root (for a root on a ramdisk)" },
  { name: "no-new-keyring", type: "bool", help: "Keep the session keyring (nook never makes a new one)" },
  PRESERVE,
  HELP,
];

interface Sub {
  usage: string;
  summary: string;
  options: readonly OptionSpec[];
  run(a: ParsedArgs, ctx: RuntimeContext): Promise<number>;
}

const fd = (a: ParsedArgs): number => {
  const v = str(a, "preserve-fds") ?? "0";
  if (!/^\d+$/.test(v) || Number(v) > 65536) throw new UsageError(`--preserve-fds takes a number, not "${v}"`);
  return Number(v);
};

const createRequest = (a: ParsedArgs) => {
  const req: import("../oci/create.ts").CreateRequest = {
    id: a.rest[0]!,
    noPivot: bool(a, "no-pivot"),
    preserveFds: fd(a),
  };
  const b = str(a, "bundle");
  if (b !== undefined) req.bundle = b;
  const p = str(a, "pid-file");
  if (p !== undefined) req.pidFile = p;
  const c = str(a, "console-socket");
  if (c !== undefined) req.consoleSocket = c;
  return req;
};

const json = (v: unknown) => write(JSON.stringify(v, null, 2) + "\n");

const SUBCOMMANDS: Record<string, Sub> = {
  create: {
    usage: "create [OPTIONS] ID",
    summary: "Create a container from a bundle; its process waits for `start`",
    options: CREATE_OPTIONS,
    run: async (a, ctx) => {
      const { launched } = await (await create()).createContainer(ctx, createRequest(a));
      const { closeFd } = await lazyImport<typeof import("../ffi/mod.ts")>("ffi/mod.ts");
      await closeFd(launched.pidfd);
      await closeFd(launched.ptyMaster);
      return 0;
    },
  },
  start: {
    usage: "start ID",
    summary: "Run the program of a created container",
    options: [HELP],
    run: async (a, ctx) => (await (await lifecycle()).startContainer(ctx, a.rest[0]), 0),
  },
  state: {
    usage: "state ID",
    summary: "Print a container's state (runtime-spec JSON)",
    options: [HELP],
    run: async (a, ctx) => (await json((await lifecycle()).containerState(ctx, a.rest[0])), 0),
  },
  kill: {
    usage: "kill [--all] ID [SIGNAL]",
    summary: "Send a signal (default TERM) to a container's process",
    options: [{ name: "all", short: "a", type: "bool", help: "Signal every process of the container" }, HELP],
    run: async (a, ctx) => (await (await lifecycle()).killContainer(ctx, a.rest[0], a.rest[1], bool(a, "all")), 0),
  },
  delete: {
    usage: "delete [--force] ID",
    summary: "Remove a stopped container (--force: kill it first); runs poststop hooks",
    options: [{ name: "force", short: "f", type: "bool", help: "Kill a running container first" }, HELP],
    run: async (a, ctx) => (await (await lifecycle()).deleteContainer(ctx, a.rest[0], bool(a, "force")), 0),
  },
  run: {
    usage: "run [OPTIONS] ID",
    summary: "Create and start a container, wait for it and delete it",
    options: [
      ...CREATE_OPTIONS.slice(0, -1),
      { name: "detach", short: "d", type: "bool", help: "Return once the process runs" },
      { name: "keep", type: "bool", help: "Keep the container's state after it exits" },
      { name: "no-subreaper", type: "bool", help: "Accepted for runc compatibility (nook waits for its own child)" },
      HELP,
    ],
    run: async (a, ctx) =>
      (await create()).runBundle(ctx, { ...createRequest(a), detach: bool(a, "detach"), keep: bool(a, "keep") }),
  },
  exec: {
    usage: "exec [OPTIONS] ID [COMMAND [ARG...]]",
    summary: "Run another process in a running container",
    options: [
      {
        name: "process",
        short: "p",
        type: "string",
        value: "FILE",
        help: "The process as runtime-spec JSON",
        complete: "file",
      },
      { name: "detach", short: "d", type: "bool", help: "Return once the process runs" },
      { name: "tty", short: "t", type: "bool", help: "Give the process a terminal" },
      CONSOLE,
      PID_FILE,
      { name: "cwd", type: "string", value: "DIR", help: "Working directory" },
      { name: "env", short: "e", type: "list", value: "KEY=VALUE", help: "Add a variable" },
      { name: "user", short: "u", type: "string", value: "UID[:GID]", help: "Run as this user" },
      { name: "additional-gids", short: "g", type: "list", value: "GID", help: "Supplementary group" },
      { name: "cap", short: "c", type: "list", value: "CAP_X", help: "Add a capability" },
      { name: "no-new-privs", type: "bool", help: "Set no_new_privs" },
      PRESERVE,
      HELP,
    ],
    run: async (a, ctx) => {
      const [id, ...args] = a.rest;
      const { execProcess, processFromFlags } = await lazyImport<typeof import("../oci/exec.ts")>("oci/exec.ts");
      const { readProcess } = await lazyImport<typeof import("../oci/config.ts")>("oci/config.ts");
      const file = str(a, "process");
      let process;
      if (file !== undefined) {
        let text: string;
        try {
          text = Deno.readTextFileSync(file);
        } catch (err) {
          throw new OciError(`Cannot read the process file "${file}": ${(err as Error).message}`, { path: file });
        }
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch (err) {
          throw new OciError(`The process file "${file}" is not valid JSON: ${(err as Error).message}`, { path: file });
        }
        process = readProcess(parsed, "process");
        if (bool(a, "tty")) process.terminal = true;
      } else {
        const rec = loadRecord(ctx.root, id ?? "");
        process = processFromFlags(rec.process, args, {
          cwd: str(a, "cwd"),
          env: list(a, "env"),
          user: str(a, "user"),
          additionalGids: list(a, "additional-gids"),
          caps: list(a, "cap"),
          noNewPrivs: bool(a, "no-new-privs"),
          tty: bool(a, "tty"),
        });
      }
      const req: import("../oci/exec.ts").ExecRequest = { id, process, detach: bool(a, "detach"), preserveFds: fd(a) };
      const c = str(a, "console-socket");
      if (c !== undefined) req.consoleSocket = c;
      const p = str(a, "pid-file");
      if (p !== undefined) req.pidFile = p;
      return await execProcess(ctx, req);
    },
  },
  ps: {
    usage: "ps [--format table|json] ID [PS-ARGS...]",
    summary: "List a container's processes (json: their pids)",
    options: [{ name: "format", short: "f", type: "string", value: "table|json", help: "Output format" }, HELP],
    run: async (a, ctx) => {
      const [id, ...psArgs] = a.rest;
      const rec = loadRecord(ctx.root, id ?? "");
      const pids = (await lifecycle()).containerProcesses(rec.pid, rec.pidStart).map((p) => p.pid);
      if (format(a) === "json") return (await json(pids), 0);
      const out = await new Deno.Command("ps", {
        args: psArgs.length ? psArgs : ["-ef"],
        stdout: "piped",
        stderr: "inherit",
      })
        .output();
      const lines = new TextDecoder().decode(out.stdout).split("\n");
      const col = (lines[0] ?? "").trim().split(/\s+/).indexOf("PID");
      if (col < 0) {
        throw new OciError("ps printed no PID column", { hint: "pass ps options that include the pid, e.g. -ef" });
      }
      const keep = lines.slice(1).filter((l) => pids.includes(Number(l.trim().split(/\s+/)[col])));
      await write([lines[0], ...keep].join("\n") + "\n");
      return 0;
    },
  },
  pause: {
    usage: "pause ID",
    summary: "Freeze every process of a container (needs its cgroup)",
    options: [HELP],
    run: async (a, ctx) => (await (await lifecycle()).pauseContainer(ctx, a.rest[0], true), 0),
  },
  resume: {
    usage: "resume ID",
    summary: "Thaw a paused container",
    options: [HELP],
    run: async (a, ctx) => (await (await lifecycle()).pauseContainer(ctx, a.rest[0], false), 0),
  },
  list: {
    usage: "list [--format table|json] [--quiet]",
    summary: "List containers",
    options: [
      { name: "format", short: "f", type: "string", value: "table|json", help: "Output format" },
      { name: "quiet", short: "q", type: "bool", help: "Only the ids" },
      HELP,
    ],
    run: async (a, ctx) => {
      const states = (await lifecycle()).listContainers(ctx);
      if (bool(a, "quiet")) return (await write(states.map((s) => s.id + "\n").join("")), 0);
      if (format(a) === "json") return (await json(states), 0);
      const rows = [
        ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"],
        ...states.map((s) => [s.id, String(s.pid), s.status, s.bundle, s.created, s.owner]),
      ];
      const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)) + 3);
      await write(rows.map((r) => r.map((c, i) => (i < r.length - 1 ? c.padEnd(w[i]!) : c)).join("") + "\n").join(""));
      return 0;
    },
  },
  update: {
    usage: "update [OPTIONS] ID",
    summary: "Change the resources of a running container (its cgroup)",
    options: [
      {
        name: "resources",
        short: "r",
        type: "string",
        value: "FILE",
        help: 'linux.resources as JSON ("-": stdin); the flags below win over it',
        complete: "file",
      },
      { name: "blkio-weight", type: "string", value: "N", help: "I/O weight, 10 to 1000" },
      { name: "cpu-period", type: "string", value: "US", help: "CFS period" },
      { name: "cpu-quota", type: "string", value: "US", help: "CFS quota per period (-1: none)" },
      { name: "cpu-share", type: "string", value: "N", help: "CPU shares (a weight)" },
      { name: "cpu-rt-period", type: "string", value: "US", help: "Real-time period" },
      { name: "cpu-rt-runtime", type: "string", value: "US", help: "Real-time runtime" },
      { name: "cpuset-cpus", type: "string", value: "LIST", help: "CPUs allowed (0-3,5)" },
      { name: "cpuset-mems", type: "string", value: "LIST", help: "Memory nodes allowed" },
      { name: "memory", type: "string", value: "SIZE", help: "Memory limit (512m, 1g)" },
      { name: "memory-reservation", type: "string", value: "SIZE", help: "Memory soft limit" },
      { name: "memory-swap", type: "string", value: "SIZE", help: "Memory plus swap limit" },
      { name: "pids-limit", type: "string", value: "N", help: "Most processes" },
      HELP,
    ],
    run: async (a, ctx) => {
      const u = await lazyImport<typeof import("../oci/update.ts")>("oci/update.ts");
      const res = u.updateResources({
        resources: str(a, "resources"),
        blkioWeight: str(a, "blkio-weight"),
        cpuPeriod: str(a, "cpu-period"),
        cpuQuota: str(a, "cpu-quota"),
        cpuShare: str(a, "cpu-share"),
        cpuRtPeriod: str(a, "cpu-rt-period"),
        cpuRtRuntime: str(a, "cpu-rt-runtime"),
        cpusetCpus: str(a, "cpuset-cpus"),
        cpusetMems: str(a, "cpuset-mems"),
        memory: str(a, "memory"),
        memoryReservation: str(a, "memory-reservation"),
        memorySwap: str(a, "memory-swap"),
        pidsLimit: str(a, "pids-limit"),
      }, readStdin);
      await u.updateContainer(ctx, a.rest[0], res);
      return 0;
    },
  },
  events: {
    usage: "events [--stats] [--interval DURATION] ID",
    summary: "Print a container's statistics as JSON (runc's), once or every interval",
    options: [
      { name: "stats", type: "bool", help: "Print the statistics once and exit" },
      { name: "interval", type: "string", value: "DURATION", help: "How often (default 5s)" },
      HELP,
    ],
    run: async (a, ctx) => {
      const e = await lazyImport<typeof import("../oci/events.ts")>("oci/events.ts");
      await e.containerEvents(ctx, a.rest[0], {
        once: bool(a, "stats"),
        intervalMs: e.parseInterval(str(a, "interval") ?? "5s"),
        emit: (ev) => write(JSON.stringify(ev) + "\n"),
      });
      return 0;
    },
  },
  checkpoint: {
    usage: "checkpoint ID",
    summary: "Not supported: nook cannot checkpoint a container",
    options: [HELP],
    run: () => Promise.reject(notSupported("checkpoint")),
  },
  restore: {
    usage: "restore ID",
    summary: "Not supported: nook cannot restore a checkpoint",
    options: [HELP],
    run: () => Promise.reject(notSupported("restore")),
  },
  features: {
    usage: "features",
    summary: "Print what this runtime supports (runtime-spec features JSON)",
    options: [HELP],
    run: async () => {
      const { chooseManager } = await lazyImport<typeof import("../cgroupv2/detect.ts")>("cgroupv2/detect.ts");
      return (await json((await lazyImport<typeof import("../oci/features.ts")>("oci/features.ts")).features(chooseManager().kind !== "none")), 0);
    },
  },
  spec: {
    usage: "spec [--rootless] [--bundle DIR]",
    summary: "Write a starting config.json into the bundle",
    options: [BUNDLE, { name: "rootless", type: "bool", help: "Map your own ids into a user namespace" }, HELP],
    run: async (a) => {
      const path = `${absolute(str(a, "bundle") ?? ".", Deno.cwd())}/config.json`;
      try {
        const { defaultSpec } = await lazyImport<typeof import("../oci/default_spec.ts")>("oci/default_spec.ts");
        Deno.writeTextFileSync(path, JSON.stringify(defaultSpec(bool(a, "rootless")), null, 2) + "\n", {
          createNew: true,
        });
      } catch (err) {
        if (err instanceof Deno.errors.AlreadyExists) {
          throw new OciError(`"${path}" exists already`, { hint: "remove it first" });
        }
        throw new OciError(`Cannot write "${path}": ${(err as Error).message}`, { path });
      }
      return 0;
    },
  },
};

/** checkpoint and restore: refused whatever the flags (runc's take many; none matters here). */
function notSupported(verb: string): OciError {
  return new OciError(`${verb} is not supported: nook cannot checkpoint or restore containers (it has no CRIU support)`, {
    hint: "stop and start the container instead, or use runc for containers that must be checkpointed",
  });
}

function readStdin(): string {
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(65536);
  for (let total = 0; total < 16 << 20;) {
    const n = Deno.stdin.readSync(buf);
    if (n === null) break;
    chunks.push(buf.slice(0, n));
    total += n;
  }
  return new TextDecoder().decode(new Uint8Array(chunks.flatMap((c) => [...c])));
}

function format(a: ParsedArgs): "table" | "json" {
  const f = str(a, "format") ?? "table";
  if (f !== "table" && f !== "json") throw new UsageError(`--format takes table or json, not "${f}"`);
  return f;
}

/** `nook runtime`. */
export const spec: CommandSpec = {
  name: "runtime",
  usage: "runtime [GLOBAL OPTIONS] COMMAND [OPTIONS] ID",
  summary: "Be the OCI runtime under podman, containerd or CRI-O: runc's command line (also as `nook-runtime`)",
  options: GLOBAL_OPTIONS,
  examples: [
    "nook runtime spec --rootless",
    "nook runtime create --bundle ./b --pid-file p.pid box && nook runtime start box",
    "nook runtime state box; nook runtime kill box TERM; nook runtime delete box",
    "podman --runtime $PWD/bin/nook-runtime run --rm IMAGE echo hi",
  ],
  positional: "none",
};

function help(): string {
  const w = Math.max(...Object.keys(SUBCOMMANDS).map((n) => n.length)) + 2;
  return formatHelp(spec) + [
    "Commands:",
    ...Object.entries(SUBCOMMANDS).map(([n, c]) => `  ${n.padEnd(w)}${c.summary}`),
    "",
    "Run 'nook runtime COMMAND --help' for more about a command.",
    "",
  ].join("\n");
}

/** Run it. */
export async function main(argv: string[]): Promise<number> {
  const g = parseArgs(argv, GLOBAL_OPTIONS);
  if (bool(g, "version")) {
    await write(`nook-runtime version ${NOOK_VERSION}\nspec: ${OCI_VERSION}\n`);
    return 0;
  }
  const [name, ...rest] = g.rest;
  if (name === undefined || bool(g, "help") || name === "help") {
    const sub = name === "help" && rest[0] ? SUBCOMMANDS[rest[0]] : undefined;
    await write(sub ? formatHelp({ name: rest[0]!, ...sub, usage: `runtime ${sub.usage}` }) : help());
    return name === undefined && !bool(g, "help") ? 125 : 0;
  }
  const rootless = str(g, "rootless");
  if (rootless !== undefined && !["true", "false", "auto"].includes(rootless)) {
    throw new UsageError(`--rootless takes true, false or auto, not "${rootless}"`);
  }
  const logFormat = str(g, "log-format") ?? "text";
  if (logFormat !== "text" && logFormat !== "json") {
    throw new UsageError(`--log-format takes text or json, not "${logFormat}"`);
  }
  const logPath = str(g, "log");
  const log = new RuntimeLog({
    format: logFormat,
    debug: bool(g, "debug"),
    ...(logPath ? { path: absolute(logPath, Deno.cwd()) } : {}),
  });
  const sub = SUBCOMMANDS[name];
  try {
    if (!sub) {
      throw new UsageError(`Unknown runtime command "${name}"`, {
        hint: `use one of ${Object.keys(SUBCOMMANDS).join(", ")}`,
      });
    }
    // runc's checkpoint and restore flags are many; none changes the answer
    if ((name === "checkpoint" || name === "restore") && !rest.includes("--help") && !rest.includes("-h")) {
      throw notSupported(name);
    }
    const a = parseArgs(rest, sub.options);
    if (bool(a, "help")) {
      await write(formatHelp({ name, ...sub, usage: `runtime ${sub.usage}` }));
      return 0;
    }
    log.debug(`${name} ${rest.join(" ")}`);
    const ctx: RuntimeContext = { root: stateRoot(str(g, "root")), log, systemdCgroup: bool(g, "systemd-cgroup") };
    const code = await sub.run(a, ctx);
    log.close();
    return code;
  } catch (err) {
    log.error(err);
    return err instanceof NookError ? err.exitCode : 125;
  }
}
