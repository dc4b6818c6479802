/**
 * `nook build`: the stages of a Containerfile planned (`--target` and the stages it needs), each
 * instruction applied in order, RUN through the engine (src/engine/step.ts) over the stage's
 * layers with a writable upper directory, COPY/ADD into a fresh layer directory, and each layer
 * diffed into a gzip blob and committed once into the store; the image record and its OCI (or
 * docker) config and manifest written at the end.
 *
 * A cache keyed on the parent layer, the instruction, the config it runs with, the build
 * arguments in scope and the content of COPY/ADD sources (hashes, not times) lets an unchanged
 * step reuse its layer ("Using cache").
 *
 * The build is a transaction (store/intent.ts, as pull, load and import are): before it makes a
 * blob, a layer, a cache entry or the image record it names them in its intent, so that the next
 * command that takes the store lock rolls back what a killed build made (a failed or interrupted
 * one rolls it back itself). Its temporary directories — a RUN step's upper, work and mount
 * directories among them — are `tmp/build-<pid>-…`, swept after a kill like load's and import's;
 * a step's container dies with its nook (PDEATHSIG). An image record the build wrote is whole:
 * what it uses stays. Runs inside nook's user namespace.
 *
 * @module
 */
import { NookError } from "../errors/mod.ts";
import { mark } from "../trace/mod.ts";
import * as c from "../libc/mod.ts";
import { F } from "../libc/mod.ts";
import { SIGNALS } from "../plan/linux.ts";
import { runStep, stepRootfsSetup } from "../engine/step.ts";
import { DEFAULT_PATH } from "../engine/build_plan.ts";
import { mergeHooks } from "../engine/run.ts";
import { writeEtcFiles } from "../engine/etc_files.ts";
import { parseDuration } from "../engine/health.ts";
import { resolveUser } from "../engine/user.ts";
import type { ContainerSpec } from "../model/container.ts";
import { type NetworkFlags, networkHooks, prepareNetwork } from "../network/mod.ts";
import { readTextInLayers } from "../overlay/union.ts";
import { storageBackend } from "../overlay/backend.ts";
import { findImage } from "../image/lookup.ts";
import { type ContainerConfig, formatPlatform, hostPlatform, type ImageConfig, type Manifest, MT, parsePlatform } from "../image/manifest.ts";
import { parseReference, repoName } from "../image/reference.ts";
import { recordImage } from "../image/ingest.ts";
import type { Progress } from "../image/progress.ts";
import { commitBlobFile, hasBlob, readBlobText, sha256, writeBlob } from "../store/blobs.ts";
import { currentTransaction, StoreTransaction } from "../store/intent.ts";
import type { ImageRecord, LayerRef } from "../store/images.ts";
import { commitLayer, hasLayer, layerDiff, readLayerInfo } from "../store/layers.ts";
import { digestHex, storeLayout } from "../store/layout.ts";
import { BuildError, expand, type Instruction, KEYWORDS, lineError, pairs, parseContainerfile, words } from "./containerfile.ts";
import { contextTree, type CopyItem, copyItems, FileHashCache, hashItems, layerTree, planCopy, type SourceTree } from "./copy.ts";
import { IgnoreRules } from "./ignore.ts";
import { isEmptyUpperDir, missingMountPoints, parseRunMount, type PreparedMounts, prepareMounts, pruneCreatedMountPoints, type RunMount } from "./mounts.ts";
import { type TimePolicy, writeLayer } from "./layer_tar.ts";

/** What to build, and how. */
export interface BuildOptions {
  /** The context directory. */
  context: string;
  /** The Containerfile's path. */
  file: string;
  /** Names for the result. */
  tags: string[];
  /** `--build-arg` values. */
  buildArgs: Map<string, string>;
  /** The stage to stop at. */
  target?: string;
  /** Run every step. */
  noCache: boolean;
  /** Pull base images: "missing", "always" or "never". */
  pull: "missing" | "always" | "never";
  /** `--label` pairs. */
  labels: [string, string][];
  /** Every time in the image is this (seconds since the epoch). */
  timestamp?: number;
  /** Times are clamped to this (SOURCE_DATE_EPOCH). */
  sourceDateEpoch?: number;
  /** Manifest and config format. */
  format: "oci" | "docker";
  /** Print only the image ID. */
  quiet: boolean;
  /** The network flags of RUN steps. */
  network: NetworkFlags;
  /** Default platform of FROM (`--platform`). */
  platform?: string;
  /** Pulls base images (the progress shown while it runs). */
  pullImage: (name: string, platform: string | undefined) => Promise<ImageRecord>;
  /** Where step lines go. */
  progress: Progress;
  /** How the layers this build makes are compressed (default gzip). */
  compression?: "gzip" | "zstd";
  /** `-o`: where the result is also written. */
  output?: BuildOutput;
  /** `--secret` values by id, for `RUN --mount=type=secret` (never written into a layer). */
  secrets?: ReadonlyMap<string, Uint8Array>;
}

/** `-o type=…,dest=…`. */
export interface BuildOutput {
  /** What is written. */
  type: "local" | "tar" | "oci-archive" | "docker-archive";
  /** Directory (local) or file (absolute). */
  dest: string;
}

type Config = ContainerConfig & { Shell?: string[]; OnBuild?: string[] };
type History = NonNullable<ImageConfig["history"]>[number];

interface Stage {
  index: number;
  name?: string;
  base: string;
  platform?: string;
  line: number;
  instructions: Instruction[];
}

interface State {
  layers: LayerRef[];
  config: Config;
  image: Omit<ImageConfig, "config" | "rootfs" | "history">;
  history: History[];
  args: Map<string, string>;
  created: string;
}

interface CacheEntry {
  chainId: string;
  diffId: string;
  digest: string;
  size: number;
  created: string;
  /** The blob's media type (gzip when absent). */
  mediaType?: string;
}

/** Build arguments every Containerfile may use without declaring them. */
const PREDEFINED_ARGS = ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"];

function cacheDir(): string {
  return `${storeLayout().root}/build-cache`;
}

/** Between two steps of the build: throws when it was interrupted; a crash point (`build.layer`…, see src/proc/crash_point.ts). */
function buildStep(tx: Transaction, name: string): void {
  tx.check();
  tx.store.step(name);
}

function hex(bytes: ArrayBuffer): string {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function keyOf(parts: unknown): Promise<string> {
  return hex(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(JSON.stringify(parts))));
}

function readCache(key: string, tx: Transaction): CacheEntry | undefined {
  let e: CacheEntry;
  try {
    e = JSON.parse(Deno.readTextFileSync(`${cacheDir()}/${key}.json`)) as CacheEntry;
  } catch {
    return undefined;
  }
  // held from here to the build's end: no rollback of a killed build removes them meanwhile
  tx.store.will({ blobs: [e.digest], layers: [e.chainId] });
  return hasLayer(e.chainId) && hasBlob(e.digest, e.size) ? e : undefined;
}

/** A kept content hash (a line of text), or undefined. */
function readMemo(path: string): string | undefined {
  try {
    const t = Deno.readTextFileSync(path).trim();
    return /^sha256:[0-9a-f]{64}$/.test(t) ? t : undefined;
  } catch {
    return undefined;
  }
}

/** Keep a content hash: written to a temporary name and renamed, so a reader sees all of it or nothing. */
function writeMemo(path: string, hash: string): void {
  try {
    Deno.mkdirSync(cacheDir(), { recursive: true, mode: 0o700 });
    Deno.writeTextFileSync(`${path}.${Deno.pid}.tmp`, hash + "\n");
    Deno.renameSync(`${path}.${Deno.pid}.tmp`, path);
  } catch {
    // only a lost shortcut: the next build hashes again
  }
}

function removeQuietly(path: string): void {
  try {
    Deno.removeSync(path, { recursive: true });
  } catch {
    // gone already
  }
}

function envMap(env: readonly string[] | undefined): Map<string, string> {
  const m = new Map<string, string>();
  for (const e of env ?? []) {
    const i = e.indexOf("=");
    m.set(i < 0 ? e : e.slice(0, i), i < 0 ? "" : e.slice(i + 1));
  }
  return m;
}

function setEnv(cfg: Config, key: string, value: string): void {
  cfg.Env = [...(cfg.Env ?? []).filter((e) => !e.startsWith(`${key}=`)), `${key}=${value}`];
}

/** The stages of a parsed Containerfile, and the ARGs before the first FROM. */
function splitStages(ins: Instruction[], file: string): { globals: Instruction[]; stages: Stage[] } {
  const globals: Instruction[] = [];
  const stages: Stage[] = [];
  for (const i of ins) {
    if (i.keyword === "FROM") {
      const w = words(i.args);
      if (w.length !== 1 && !(w.length === 3 && w[1]!.toUpperCase() === "AS")) {
        throw lineError(file, i.line, "FROM", `expected "FROM IMAGE [AS NAME]", got "${i.args}"`);
      }
      const platform = i.flags.find(([k]) => k === "platform")?.[1];
      for (const [k] of i.flags) if (k !== "platform") throw lineError(file, i.line, "FROM", `unknown flag "--${k}"`);
      stages.push({
        index: stages.length,
        base: w[0]!,
        line: i.line,
        instructions: [],
        ...(w[2] ? { name: w[2].toLowerCase() } : {}),
        ...(platform ? { platform } : {}),
      });
    } else if (!stages.length) {
      if (i.keyword !== "ARG") throw lineError(file, i.line, i.keyword, "the first instruction must be FROM (only ARG may come before it)");
      globals.push(i);
    } else stages[stages.length - 1]!.instructions.push(i);
  }
  if (!stages.length) throw new BuildError(`${file}: there is no FROM instruction`, { exitCode: 125, hint: "start the Containerfile with FROM IMAGE (or FROM scratch)" });
  return { globals, stages };
}

/** Build; resolves with the image ID. */
export async function build(opts: BuildOptions): Promise<string> {
  const fileLabel = opts.file.slice(opts.file.lastIndexOf("/") + 1);
  let text: string;
  try {
    text = Deno.readTextFileSync(opts.file);
  } catch (err) {
    throw new BuildError(`Cannot read the Containerfile "${opts.file}": ${(err as Error).message}`, { exitCode: 125, hint: "give it with -f FILE, or put a Containerfile or Dockerfile in the context" });
  }
  const { globals, stages } = splitStages(parseContainerfile(text, fileLabel), fileLabel);
  const say = (t: string) => {
    if (!opts.quiet) opts.progress.line(t);
  };

  // global ARGs: the values FROM lines see
  const globalArgs = new Map<string, string>();
  for (const g of globals) {
    for (const [k, v] of pairs(g.args, false)) globalArgs.set(k, opts.buildArgs.get(k) ?? expand(v, globalArgs));
  }
  const byName = new Map(stages.map((s) => [s.name ?? String(s.index), s]));
  for (const s of stages) byName.set(String(s.index), s);
  let last = stages[stages.length - 1]!;
  if (opts.target !== undefined) {
    const t = byName.get(opts.target.toLowerCase());
    if (!t) throw new BuildError(`The target stage "${opts.target}" is not in ${fileLabel}`, { exitCode: 125, hint: `stages: ${stages.map((s) => s.name ?? s.index).join(", ")}` });
    last = t;
  }
  // the stages the target needs: its base chain and the stages COPY --from names
  const needed = new Set<number>();
  const need = (s: Stage) => {
    if (needed.has(s.index)) return;
    needed.add(s.index);
    const base = byName.get(expand(s.base, globalArgs).toLowerCase());
    if (base && base.index < s.index) need(base);
    for (const i of s.instructions) {
      // COPY --from=STAGE, and RUN --mount=…,from=STAGE
      const froms = i.flags.flatMap(([k, v]) => k === "from" ? [v] : k === "mount" ? [/(?:^|,)from=([^,]+)/.exec(v)?.[1]].filter((x) => x !== undefined) : []);
      for (const from of froms) {
        const src = byName.get(from.toLowerCase());
        if (src && src.index < s.index) need(src);
      }
    }
  };
  need(last);
  let steps = stages.filter((s) => needed.has(s.index)).reduce((n, s) => n + 1 + s.instructions.length, 0);

  const times: TimePolicy = opts.timestamp !== undefined
    ? { set: opts.timestamp }
    : opts.sourceDateEpoch !== undefined
    ? { clamp: opts.sourceDateEpoch }
    : {};
  const fixed = opts.timestamp ?? opts.sourceDateEpoch;
  const now = () => new Date((fixed ?? Date.now() / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
  const backend = await storageBackend();
  if (backend.backend === "copy") {
    throw new BuildError("nook build needs overlayfs (kernel, in a user namespace) or fuse-overlayfs for RUN steps", {
      exitCode: 125,
      hint: `this host has neither: ${backend.reasons.join("; ")}`,
    });
  }
  const built = new Map<number, State>();
  // the content hashes of context files, kept between builds of this context
  Deno.mkdirSync(cacheDir(), { recursive: true, mode: 0o700 });
  const hashCache = new FileHashCache(`${cacheDir()}/files-${(await keyOf({ context: opts.context })).slice(0, 32)}.json`);
  let n = 0;
  const tx = new Transaction(opts.tags[0] ?? `${fileLabel} in ${opts.context}`);
  try {
    for (const stage of stages) {
      if (!needed.has(stage.index)) continue;
      const baseName = expand(stage.base, globalArgs);
      say(`[${stage.index + 1}/${stages.filter((s) => needed.has(s.index)).length}] STEP ${++n}/${steps}: FROM ${baseName}${stage.name ? ` AS ${stage.name}` : ""}`);
      let state: State;
      const prior = byName.get(baseName.toLowerCase());
      if (prior && prior.index < stage.index && built.has(prior.index)) state = cloneState(built.get(prior.index)!);
      else if (baseName === "scratch") state = scratchState(now(), expand(stage.platform ?? opts.platform ?? "", globalArgs) || undefined);
      else state = await imageState(opts, baseName, expand(stage.platform ?? opts.platform ?? "", globalArgs) || undefined, fileLabel, stage.line);
      state.args = new Map();
      // ONBUILD triggers of the base run first, as if written right after FROM; the new image does not keep them
      const triggers = onbuildTriggers(state, fileLabel, stage.line);
      steps += triggers.length;
      for (const i of [...triggers, ...stage.instructions]) {
        say(`[${stage.index + 1}/${stages.filter((s) => needed.has(s.index)).length}] STEP ${++n}/${steps}: ${i.text}`);
        try {
          tx.check();
          await applyInstruction(i, state, { opts, fileLabel, built, byName, stage, globalArgs, tx, times, now, backend, say, hashCache });
          mark(`build: ${fileLabel}:${i.line} ${i.keyword}`);
        } catch (err) {
          if (err instanceof BuildError && /^\S+:\d+: /.test(err.message)) throw err;
          if (err instanceof NookError) {
            throw new BuildError(`${fileLabel}:${i.line}: ${i.keyword}: ${err.message}`, { exitCode: err.exitCode === 0 ? 125 : err.exitCode, cause: err, ...(err.hint ? { hint: err.hint } : {}) });
          }
          throw err;
        }
      }
      built.set(stage.index, state);
      if (stage === last) break;
    }
    const state = built.get(last.index)!;
    for (const [k, v] of opts.labels) (state.config.Labels ??= {})[k] = v;
    mark("build: stages");
    const rec = await commitImage(state, opts, tx);
    mark("build: image committed");
    tx.commit();
    if (opts.output) await writeOutput(rec, state, opts.output, tx, times);
    return rec.id;
  } finally {
    hashCache.save();
    tx.end();
  }
}

/** The base's ONBUILD triggers as instructions (at the FROM's line), taken out of the stage's config. */
function onbuildTriggers(state: State, file: string, line: number): Instruction[] {
  const triggers = state.config.OnBuild ?? [];
  if (!triggers.length) return [];
  delete state.config.OnBuild;
  return triggers.flatMap((t) => {
    const ins = parseContainerfile(t, `${file}:${line}: FROM: the ONBUILD trigger "${t}"`);
    for (const i of ins) {
      if (["ONBUILD", "FROM", "MAINTAINER"].includes(i.keyword)) throw lineError(file, line, "FROM", `the base image's ONBUILD trigger "${t}" is not allowed`, "ONBUILD cannot trigger ONBUILD, FROM or MAINTAINER");
    }
    return ins.map((i) => ({ ...i, line, text: `ONBUILD ${i.text}` }));
  });
}

/** Signals that end a build: it undoes itself first. */
const INTERRUPTS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/** How long an interrupted build waits for the await it is in (a step, a download) before it undoes itself and exits. */
const INTERRUPT_GRACE_MS = 5000;

/**
 * A build from its recorded intent to its end: its temporary directories, and the store
 * transaction that names every blob, layer, cache entry and image it makes (rolled back unless
 * the build succeeds). SIGINT, SIGTERM and SIGHUP end the build the same way: the running step's
 * container is killed, the next step check throws, and the build undoes itself.
 */
class Transaction {
  readonly temps: string[] = [];
  readonly store: StoreTransaction;
  #ok = false;
  #ended = false;
  #interrupted: (typeof INTERRUPTS)[number] | undefined;
  #stepPid: number | undefined;
  #grace: ReturnType<typeof setTimeout> | undefined;
  readonly #listeners: [Deno.Signal, () => void][] = [];

  constructor(what: string) {
    this.store = StoreTransaction.begin("build", what);
    for (const sig of INTERRUPTS) {
      const fn = () => this.#interrupt(sig);
      Deno.addSignalListener(sig, fn);
      this.#listeners.push([sig, fn]);
    }
  }

  /** The running step's container (its program's pid), or undefined between steps. */
  running(pid: number | undefined): void {
    this.#stepPid = pid;
    if (pid !== undefined && this.#interrupted) this.#killStep();
  }

  /** Throw when the build was interrupted by a signal. */
  check(): void {
    if (!this.#interrupted) return;
    throw new BuildError(`the build was interrupted by ${this.#interrupted}: nothing of it was kept`, { exitCode: 128 + SIGNALS[this.#interrupted]! });
  }

  #killStep(): void {
    if (this.#stepPid === undefined) return;
    try {
      // Why SIGKILL: the step's program is init of its pid namespace, which ignores the signals it has no handler for
      Deno.kill(this.#stepPid, "SIGKILL");
    } catch {
      // ended already
    }
  }

  #interrupt(sig: (typeof INTERRUPTS)[number]): void {
    if (this.#interrupted) return;
    this.#interrupted = sig;
    this.#killStep();
    // the await the build is in ends soon (its step was killed) and the next check throws; one that does not
    const grace = setTimeout(() => {
      // a pull of a base image it is in is a transaction of its own: rolled back too
      for (let n = 0, t = currentTransaction(); n < 8 && t && t !== this.store; n++, t = currentTransaction()) t.end(true);
      this.end();
      Deno.exit(128 + SIGNALS[sig]!);
    }, INTERRUPT_GRACE_MS);
    Deno.unrefTimer(grace);
    this.#grace = grace;
  }

  /** A temporary directory under the store's tmp/, named with this process's pid. */
  tempDir(): string {
    const { tmp } = storeLayout();
    Deno.mkdirSync(tmp, { recursive: true, mode: 0o700 });
    const dir = `${tmp}/build-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
    Deno.mkdirSync(dir, { mode: 0o700 });
    this.temps.push(dir);
    return dir;
  }

  commit(): void {
    this.#ok = true;
  }

  /** Remove the temporary directories; roll back what the build made unless it succeeded. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    if (this.#grace !== undefined) clearTimeout(this.#grace);
    for (const [sig, fn] of this.#listeners.splice(0)) Deno.removeSignalListener(sig, fn);
    for (const t of this.temps) removeQuietly(t);
    this.store.end(!this.#ok, { tidy: true });
  }
}

function cloneState(s: State): State {
  return structuredClone(s);
}

function scratchState(created: string, platform: string | undefined): State {
  const p = platform ? parsePlatform(platform) : hostPlatform();
  return {
    layers: [],
    config: { Env: [`PATH=${DEFAULT_PATH}`] },
    image: { architecture: p.architecture, os: p.os, ...(p.variant ? { variant: p.variant } : {}) },
    history: [],
    args: new Map(),
    created,
  };
}

async function imageState(opts: BuildOptions, name: string, platform: string | undefined, file: string, line: number): Promise<State> {
  let rec: ImageRecord | undefined;
  try {
    rec = opts.pull === "always" ? undefined : findImage(name);
  } catch (err) {
    throw lineError(file, line, "FROM", `invalid image name "${name}": ${(err as Error).message}`);
  }
  if (!rec) {
    if (opts.pull === "never") throw lineError(file, line, "FROM", `the image "${name}" is not in the store and --pull never forbids pulling it`, `pull it first: nook pull ${name}`);
    rec = await opts.pullImage(name, platform);
  }
  const cfg = JSON.parse(readBlobText(rec.id)) as ImageConfig;
  return {
    layers: rec.layers.map((l) => ({ ...l })),
    config: (cfg.config ?? {}) as Config,
    image: { architecture: cfg.architecture, os: cfg.os, ...(cfg.variant ? { variant: cfg.variant } : {}), ...(cfg.author ? { author: cfg.author } : {}) },
    history: cfg.history ?? [],
    args: new Map(),
    created: cfg.created ?? new Date(0).toISOString(),
  };
}

interface Ctx {
  opts: BuildOptions;
  fileLabel: string;
  built: Map<number, State>;
  byName: Map<string, Stage>;
  stage: Stage;
  globalArgs: Map<string, string>;
  tx: Transaction;
  times: TimePolicy;
  now: () => string;
  backend: Awaited<ReturnType<typeof storageBackend>>;
  say: (t: string) => void;
  hashCache: FileHashCache;
}

/** Variables an instruction's arguments expand from: the ARGs in scope, then ENV. */
function vars(state: State): Map<string, string> {
  const m = new Map(state.args);
  for (const [k, v] of envMap(state.config.Env)) m.set(k, v);
  return m;
}

function execForm(i: Instruction, v: Map<string, string>, shell: string[]): string[] {
  return i.json ?? [...shell, expandShell(i.args, v)];
}

/** Shell-form commands are given to the shell as written: the shell expands them. */
function expandShell(s: string, _v: Map<string, string>): string {
  return s;
}

async function applyInstruction(i: Instruction, state: State, ctx: Ctx): Promise<void> {
  const v = vars(state);
  const cfg = state.config;
  const x = (s: string) => expand(s, v);
  const meta = (createdBy?: string) => state.history.push({ created: state.created, created_by: createdBy ?? `/bin/sh -c #(nop) ${i.text}`, empty_layer: true });
  const shell = cfg.Shell ?? ["/bin/sh", "-c"];
  switch (i.keyword) {
    case "ARG": {
      for (const [k, def] of pairs(i.args, false)) {
        const given = ctx.opts.buildArgs.get(k);
        const global = ctx.globalArgs.get(k);
        state.args.set(k, given ?? (def !== "" || i.args.includes("=") ? expand(def, vars(state)) : global ?? ""));
      }
      meta();
      return;
    }
    case "ENV":
      for (const [k, val] of pairs(x(i.args), true)) {
        if (!k) throw lineError(ctx.fileLabel, i.line, "ENV", "a variable needs a name");
        setEnv(cfg, k, val);
      }
      meta();
      return;
    case "LABEL":
      for (const [k, val] of pairs(x(i.args), true)) (cfg.Labels ??= {})[k] = val;
      meta();
      return;
    case "MAINTAINER":
      state.image.author = x(i.args);
      meta();
      return;
    case "WORKDIR": {
      const w = x(i.args).trim();
      if (!w) throw lineError(ctx.fileLabel, i.line, "WORKDIR", "a directory is needed");
      const base = cfg.WorkingDir || "/";
      cfg.WorkingDir = normalize(w.startsWith("/") ? w : `${base}/${w}`);
      meta();
      return;
    }
    case "USER":
      cfg.User = x(i.args).trim();
      if (!cfg.User) throw lineError(ctx.fileLabel, i.line, "USER", "a user is needed");
      meta();
      return;
    case "EXPOSE":
      for (const p of words(x(i.args))) {
        if (!/^\d+(-\d+)?(\/(tcp|udp|sctp))?$/.test(p)) throw lineError(ctx.fileLabel, i.line, "EXPOSE", `invalid port "${p}"`, "use PORT[/tcp|udp]");
        (cfg.ExposedPorts ??= {})[p.includes("/") ? p : `${p}/tcp`] = {};
      }
      meta();
      return;
    case "VOLUME":
      for (const p of i.json ?? words(x(i.args))) (cfg.Volumes ??= {})[x(p)] = {};
      meta();
      return;
    case "STOPSIGNAL":
      cfg.StopSignal = x(i.args).trim();
      meta();
      return;
    case "SHELL":
      if (!i.json?.length) throw lineError(ctx.fileLabel, i.line, "SHELL", "the shell must be a JSON array", 'e.g. SHELL ["/bin/bash", "-c"]');
      cfg.Shell = i.json;
      meta();
      return;
    case "CMD":
      cfg.Cmd = i.json ?? [...shell, i.args];
      meta();
      return;
    case "ENTRYPOINT":
      cfg.Entrypoint = i.json ?? [...shell, i.args];
      meta();
      return;
    case "HEALTHCHECK": {
      const w = i.args.trim();
      if (/^NONE$/i.test(w)) cfg.Healthcheck = { Test: ["NONE"] };
      else {
        const m = /^((?:--\S+\s+)*)CMD\s+([\s\S]+)$/i.exec(w);
        if (!m) throw lineError(ctx.fileLabel, i.line, "HEALTHCHECK", "expected HEALTHCHECK [OPTIONS] CMD COMMAND, or NONE");
        const cmd = m[2]!.trim();
        let test: string[];
        try {
          test = cmd.startsWith("[") ? ["CMD", ...JSON.parse(cmd) as string[]] : ["CMD-SHELL", cmd];
        } catch {
          test = ["CMD-SHELL", cmd];
        }
        // its options, as docker's config holds them: durations in ns, retries a count
        const hc: NonNullable<ContainerConfig["Healthcheck"]> = { Test: test };
        for (const opt of m[1]!.trim().split(/\s+/).filter(Boolean)) {
          const o = /^--(interval|timeout|start-period|retries)=(\S+)$/.exec(opt);
          if (!o) throw lineError(ctx.fileLabel, i.line, "HEALTHCHECK", `unknown option "${opt}"`, "use --interval, --timeout, --start-period or --retries");
          try {
            if (o[1] === "retries") {
              if (!/^\d+$/.test(o[2]!)) throw new Error("not a count");
              hc.Retries = Number(o[2]);
            } else {
              const ns = parseDuration(o[2]!, `--${o[1]}`) * 1e6;
              if (o[1] === "interval") hc.Interval = ns;
              else if (o[1] === "timeout") hc.Timeout = ns;
              else hc.StartPeriod = ns;
            }
          } catch {
            throw lineError(ctx.fileLabel, i.line, "HEALTHCHECK", `invalid value in "${opt}"`, "durations take a unit (30s, 1m30s), retries a whole number");
          }
        }
        cfg.Healthcheck = hc;
      }
      meta();
      return;
    }
    case "ONBUILD": {
      const t = i.args.trim();
      const k = /^\S+/.exec(t)?.[0]?.toUpperCase() ?? "";
      if (!k) throw lineError(ctx.fileLabel, i.line, "ONBUILD", "a trigger instruction is needed");
      if (["ONBUILD", "FROM", "MAINTAINER"].includes(k)) throw lineError(ctx.fileLabel, i.line, "ONBUILD", `${k} is not allowed as a trigger`, "ONBUILD cannot trigger ONBUILD, FROM or MAINTAINER");
      if (!KEYWORDS.has(k)) throw lineError(ctx.fileLabel, i.line, "ONBUILD", `unknown instruction "${k}"`);
      (cfg.OnBuild ??= []).push(t);
      meta();
      return;
    }
    case "RUN":
      await runInstruction(i, state, ctx, execForm(i, v, shell));
      return;
    case "COPY":
    case "ADD":
      await copyInstruction(i, state, ctx);
      return;
  }
  throw lineError(ctx.fileLabel, i.line, i.keyword, "not supported in this position");
}

function normalize(p: string): string {
  const out: string[] = [];
  for (const part of p.split("/")) {
    if (!part || part === ".") continue;
    if (part === "..") out.pop();
    else out.push(part);
  }
  return "/" + out.join("/");
}

function topChain(state: State): string {
  return state.layers[state.layers.length - 1]?.chainId ?? "scratch";
}

async function chainOf(parent: string, diffId: string): Promise<string> {
  if (parent === "scratch") return diffId;
  return "sha256:" + hex(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`${parent} ${diffId}`)));
}

/** Write the layer of `dir` (a directory whose `diff/` holds the changes), commit blob and layer, record the cache. */
async function commitStep(dir: string, state: State, ctx: Ctx, key: string | undefined, createdBy: string): Promise<void> {
  const blobTmp = `${dir}/layer.tar.gz`;
  const compression = ctx.opts.compression ?? "gzip";
  const blob = await writeLayer(`${dir}/diff`, blobTmp, ctx.times, compression);
  const mediaType = compression === "zstd" ? MT.OCI_LAYER_ZSTD : MT.OCI_LAYER_GZIP;
  const parent = topChain(state);
  const chainId = await chainOf(parent, blob.diffId);
  const cache = key && !ctx.opts.noCache;
  ctx.tx.store.will({ blobs: [blob.digest], layers: [chainId], ...(cache ? { cache: [key] } : {}) });
  buildStep(ctx.tx, "intent");
  if (!hasBlob(blob.digest, blob.size)) {
    commitBlobFile(blobTmp, blob.digest);
    buildStep(ctx.tx, "blob");
  } else removeQuietly(blobTmp);
  if (!hasLayer(chainId)) {
    for (const d of ["work", "merged", "empty", "etc"]) removeQuietly(`${dir}/${d}`);
    ctx.tx.temps.splice(ctx.tx.temps.indexOf(dir), 1);
    commitLayer(dir, {
      chainId,
      diffId: blob.diffId,
      size: blob.tarSize,
      opaque: blob.opaque,
      created: new Date().toISOString(),
      ...(parent !== "scratch" ? { parent } : {}),
    });
    buildStep(ctx.tx, "layer");
  }
  const created = ctx.now();
  if (cache) {
    Deno.mkdirSync(cacheDir(), { recursive: true, mode: 0o700 });
    const entry: CacheEntry = { chainId, diffId: blob.diffId, digest: blob.digest, size: blob.size, created, ...(compression !== "gzip" ? { mediaType } : {}) };
    const path = `${cacheDir()}/${key}.json`;
    Deno.writeTextFileSync(`${path}.${Deno.pid}.tmp`, JSON.stringify(entry) + "\n");
    Deno.renameSync(`${path}.${Deno.pid}.tmp`, path);
    buildStep(ctx.tx, "cache");
  }
  addLayer(state, { chainId, diffId: blob.diffId, digest: blob.digest, size: blob.size, created, mediaType }, createdBy);
}

function addLayer(state: State, e: CacheEntry, createdBy: string): void {
  state.layers.push({ digest: e.digest, mediaType: e.mediaType ?? MT.OCI_LAYER_GZIP, size: e.size, diffId: e.diffId, chainId: e.chainId });
  state.created = e.created;
  state.history.push({ created: e.created, created_by: createdBy });
}

function useCache(key: string, state: State, ctx: Ctx, createdBy: string): boolean {
  if (ctx.opts.noCache) return false;
  const hit = readCache(key, ctx.tx);
  if (!hit) return false;
  ctx.say(`--> Using cache ${digestHex(hit.chainId)}`);
  addLayer(state, hit, createdBy);
  return true;
}

/** The layers of a state as the union readers take them, top first. */
function unionOfState(state: State): { dir: string; opaque: Set<string> }[] {
  return [...state.layers].reverse().map((l) => ({ dir: layerDiff(l.chainId), opaque: new Set(readLayerInfo(l.chainId)?.opaque ?? []) }));
}

/** The layer directories of a state, top first, relative to the store root. */
function lowers(state: State): string[] {
  const root = storeLayout().root;
  return [...state.layers].reverse().map((l) => layerDiff(l.chainId).slice(root.length + 1));
}

async function runInstruction(i: Instruction, state: State, ctx: Ctx, argv: string[]): Promise<void> {
  for (const [k] of i.flags) if (k !== "network" && k !== "mount") throw lineError(ctx.fileLabel, i.line, "RUN", `unknown flag "--${k}"`, "RUN takes --network and --mount");
  const cfg = state.config;
  const v = vars(state);
  const runMounts = i.flags.filter(([k]) => k === "mount").map(([, val]) => parseRunMount(expand(val, v), cfg.WorkingDir || "/"));
  const dir = ctx.tx.tempDir();
  const root = storeLayout().root;
  // the step's bind copies, secret files and private caches: never part of the layer directory
  Deno.mkdirSync(`${dir}/mnt`, { mode: 0o700 });
  const mounts = await prepareMounts(runMounts, {
    storeRoot: root,
    stepDir: `${dir}/mnt`,
    secrets: ctx.opts.secrets ?? new Map(),
    hashCache: ctx.hashCache,
    tree: async (from) => {
      const t = await sourceTree(from, ctx, i);
      return { tree: t.tree, ...(from !== undefined ? { key: t.treeKey } : {}) };
    },
  });
  try {
    await runWithMounts(i, state, ctx, argv, dir, runMounts, mounts);
  } finally {
    mounts.release();
  }
}

async function runWithMounts(i: Instruction, state: State, ctx: Ctx, argv: string[], dir: string, runMounts: RunMount[], mounts: PreparedMounts): Promise<void> {
  const cfg = state.config;
  // heredocs: the first one is the script when the command is only `<<EOF`
  let stdinScript: string | undefined;
  if (i.heredocs?.length) {
    const only = /^<<-?["']?([A-Za-z_][A-Za-z0-9_]*)["']?\s*$/.exec(i.args.trim());
    if (only) argv = [...(cfg.Shell ?? ["/bin/sh", "-c"]), i.heredocs[0]!.body];
    else stdinScript = i.heredocs[0]!.body;
    // the shell expands the body unless the delimiter was quoted, as it would in a script
    const q = i.heredocs[0]!.quoted ? "'" : "";
    if (stdinScript !== undefined) argv = [...(cfg.Shell ?? ["/bin/sh", "-c"]), `${i.args.replace(/<<-?["']?[A-Za-z_][A-Za-z0-9_]*["']?/, "")} <<${q}__NOOK_EOF__${q}\n${stdinScript}__NOOK_EOF__\n`];
  }
  const args = [...state.args].filter(([k]) => !envMap(cfg.Env).has(k));
  const argEnv = [...args, ...PREDEFINED_ARGS.filter((k) => ctx.opts.buildArgs.has(k) && !state.args.has(k)).map((k) => [k, ctx.opts.buildArgs.get(k)!] as [string, string])];
  const env = [...(cfg.Env ?? [`PATH=${DEFAULT_PATH}`]), ...argEnv.map(([k, val]) => `${k}=${val}`)];
  if (!env.some((e) => e.startsWith("PATH="))) env.unshift(`PATH=${DEFAULT_PATH}`);
  const createdBy = i.json ? `RUN ${JSON.stringify(i.json)}` : `RUN ${argEnv.length ? `|${argEnv.length} ${argEnv.map(([k, val]) => `${k}=${val}`).join(" ")} ` : ""}${argv.join(" ")}`;
  const key = await keyOf({ v: 1, parent: topChain(state), argv, env, user: cfg.User ?? "", cwd: cfg.WorkingDir || "/", times: ctx.times, ...(ctx.opts.compression === "zstd" ? { zstd: true } : {}), ...(runMounts.length ? { mounts: mounts.key } : {}) });
  if (useCache(key, state, ctx, createdBy)) return;

  const root = storeLayout().root;
  for (const d of ["diff", "work", "merged", "empty", "etc"]) Deno.mkdirSync(`${dir}/${d}`, { mode: 0o755 });
  Deno.chmodSync(`${dir}/diff`, 0o755);
  const rel = dir.slice(root.length + 1);
  const union = unionOfState(state);
  const readFile = (p: string) => readTextInLayers(union, p);
  const user = resolveUser(cfg.User, readFile("/etc/passwd"), readFile("/etc/group"));
  const id = Array.from(crypto.getRandomValues(new Uint8Array(32)), (b) => b.toString(16).padStart(2, "0")).join("");
  const hostname = id.slice(0, 12);
  const flagNet = i.flags.find(([k]) => k === "network")?.[1];
  const net = prepareNetwork({ ...ctx.opts.network, ...(flagNet ? { network: flagNet } : {}), publish: [], publishAll: false }, { id, hostname, runDir: `${dir}/etc` });
  const spec: ContainerSpec = {
    id,
    rootfs: `${dir}/merged`,
    readonlyRootfs: false,
    hostname,
    network: net.mode,
    networkSetup: net.setup,
    mounts: await mounts.setup(),
    etcFiles: writeEtcFiles(`${dir}/etc`, hostname, net.etc),
    process: {
      args: argv,
      env: [...env.filter((e) => !e.startsWith("HOSTNAME=")), `HOSTNAME=${hostname}`, ...(envMap(env).has("HOME") ? [] : [`HOME=${user.uid === 0 ? "/root" : user.home}`]), ...mounts.env],
      cwd: cfg.WorkingDir || "/",
      uid: user.uid,
      gid: user.gid,
      groups: user.groups,
      terminal: false,
      stdin: false,
      init: false,
      umask: 0o022,
      rlimits: [],
    },
    rootfsSetup: stepRootfsSetup({
      base: root,
      lowers: lowers(state),
      upper: `${rel}/diff`,
      work: `${rel}/work`,
      empty: `${rel}/empty`,
      merged: `${dir}/merged`,
      backend: ctx.backend.backend === "overlay" ? "overlay" : "fuse-overlayfs",
      ...(ctx.backend.fuseOverlayfs ? { fuseOverlayfs: ctx.backend.fuseOverlayfs } : {}),
    }),
  };
  // the mount points the image lacks: the engine makes them in the upper directory, and they go again
  const created = missingMountPoints(spec.mounts.map((m) => m.target), (rel) => layerTree(union, "the image").lstat(rel) !== undefined);
  const running = {
    // a crash point only: a throw here would leave the step unwaited for (an interrupt kills it, see running)
    started: [(pid: number) => {
      ctx.tx.running(pid);
      ctx.tx.store.step("step-container");
      return Promise.resolve();
    }],
  };
  let code: number;
  try {
    code = await runStep(spec, mergeHooks(networkHooks(spec), running));
  } finally {
    ctx.tx.running(undefined);
  }
  ctx.tx.check();
  removeQuietly(`${dir}/mnt`);
  if (code !== 0) {
    throw new BuildError(`${ctx.fileLabel}:${i.line}: RUN: the command ${JSON.stringify(argv.slice(i.json ? 0 : -1).join(" "))} exited with status ${code}`, {
      exitCode: 125,
      hint: "nothing of this build was kept; fix the command and build again",
    });
  }
  const lower = layerTree(union, "the image");
  pruneCreatedMountPoints(`${dir}/diff`, created);
  pruneMountPoints(`${dir}/diff`, lower);
  await commitStep(dir, state, ctx, key, createdBy);
}

/**
 * Take out of a RUN step's upper directory what the engine made as mount points (the plan's
 * `/proc`, `/dev`, `/sys` and the /etc files it binds), unless the command itself put content
 * there: a layer holds what the command changed, as buildah's and docker's do.
 */
function pruneMountPoints(upper: string, lower: SourceTree): void {
  const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, n) => x === b[n]);
  for (const f of ["etc/hosts", "etc/hostname", "etc/resolv.conf"]) {
    let st: Deno.FileInfo;
    try {
      st = Deno.lstatSync(`${upper}/${f}`);
    } catch {
      continue;
    }
    if (!st.isFile) continue;
    const below = lower.lstat(f);
    const keep = below
      ? !(below.st.isFile && same(Deno.readFileSync(`${upper}/${f}`), Deno.readFileSync(below.host)))
      : st.size !== 0;
    if (!keep) Deno.removeSync(`${upper}/${f}`);
  }
  for (const d of ["etc", "dev", "proc", "sys"]) {
    try {
      const st = Deno.lstatSync(`${upper}/${d}`);
      const below = lower.lstat(d);
      if (!st.isDirectory || !isEmptyUpperDir(`${upper}/${d}`, !below)) continue;
      if (!below || below.st.isDirectory) Deno.removeSync(`${upper}/${d}`, { recursive: true });
    } catch {
      // not there
    }
  }
}

/**
 * The tree COPY/ADD (and `RUN --mount=type=bind`) read from: the context, or an earlier stage or
 * an image by its layers. A stage's or image's content is named by its top layer's chain ID.
 */
async function sourceTree(from: string | undefined, ctx: Ctx, i: Instruction): Promise<{ tree: SourceTree; treeKey: string; layers?: LayerRef[] }> {
  if (from !== undefined) {
    const st = ctx.byName.get(from.toLowerCase());
    let layers: LayerRef[];
    if (st && st.index < ctx.stage.index) {
      const s = ctx.built.get(st.index);
      if (!s) throw lineError(ctx.fileLabel, i.line, i.keyword, `the stage "${from}" was not built`);
      layers = s.layers;
    } else {
      const rec = findImage(from) ?? (ctx.opts.pull !== "never" ? await ctx.opts.pullImage(from, undefined) : undefined);
      if (!rec) throw lineError(ctx.fileLabel, i.line, i.keyword, `no stage or image "${from}"`);
      layers = rec.layers;
    }
    const union = [...layers].reverse().map((l) => ({ dir: layerDiff(l.chainId), opaque: new Set(readLayerInfo(l.chainId)?.opaque ?? []) }));
    return { tree: layerTree(union, `"${from}"`), treeKey: layers[layers.length - 1]?.chainId ?? "scratch", layers };
  }
  const contextDir = ctx.opts.context;
  const ignoreFile = [".containerignore", ".dockerignore"].map((f) => `${contextDir}/${f}`).find((f) => {
    try {
      return Deno.lstatSync(f).isFile;
    } catch {
      return false;
    }
  });
  return { tree: contextTree(contextDir, new IgnoreRules(ignoreFile ? Deno.readTextFileSync(ignoreFile) : "")), treeKey: "context" };
}

async function copyInstruction(i: Instruction, state: State, ctx: Ctx): Promise<void> {
  const v = vars(state);
  const flags = new Map(i.flags.map(([k, val]) => [k, expand(val, v)]));
  for (const k of flags.keys()) {
    if (!["from", "chown", "chmod", "link", ...(i.keyword === "ADD" ? ["checksum"] : [])].includes(k)) {
      throw lineError(ctx.fileLabel, i.line, i.keyword, `unknown flag "--${k}"`, `COPY and ADD take --from, --chown, --chmod and --link${i.keyword === "ADD" ? ", ADD also --checksum" : ""}`);
    }
  }
  // here-document sources (`COPY <<EOF /path`) are files of their own, not context paths
  const list = (i.json ?? words(i.args)).map((s) => expand(s, v)).filter((s) => !(i.heredocs?.length && /^<<-?["']?[A-Za-z_][A-Za-z0-9_]*["']?$/.test(s)));
  if (list.length < 2 && !i.heredocs?.length) throw lineError(ctx.fileLabel, i.line, i.keyword, "expected at least one source and a destination");
  const destRaw = list.pop()!;
  const cwd = state.config.WorkingDir || "/";
  const dest = (destRaw.startsWith("/") ? normalize(destRaw) : normalize(`${cwd}/${destRaw}`)) + (destRaw.endsWith("/") || destRaw === "." ? "/" : "");

  // where the sources come from
  const from = flags.get("from");
  const { tree, treeKey } = await sourceTree(from, ctx, i);
  // ADD of http(s) URLs: downloaded (never unpacked), named by the URL's last path segment in a directory
  const urls = i.keyword === "ADD" ? list.filter((s) => /^https?:\/\//i.test(s)) : [];
  const locals = list.filter((s) => !urls.includes(s));
  const checksum = flags.get("checksum");
  if (checksum !== undefined && (urls.length !== 1 || locals.length)) {
    throw lineError(ctx.fileLabel, i.line, i.keyword, "--checksum needs exactly one http(s) URL as the source", "e.g. ADD --checksum=sha256:HEX https://example.org/file /file");
  }
  if (urls.length && from !== undefined) throw lineError(ctx.fileLabel, i.line, "ADD", "a URL cannot be added --from a stage or image");
  // here-documents as files: COPY <<EOF /path
  // an unquoted delimiter's body expands the build's variables (BuildKit's rule)
  const docs = (i.heredocs ?? []).map((d) => d.quoted ? d : { ...d, body: expand(d.body, v) });

  const union = unionOfState(state);
  const readFile = (p: string) => readTextInLayers(union, p);
  let owner = { uid: 0, gid: 0 };
  const chown = flags.get("chown");
  if (chown) {
    const u = resolveUser(chown, readFile("/etc/passwd"), readFile("/etc/group"));
    owner = { uid: u.uid, gid: chown.includes(":") ? u.gid : u.uid === 0 ? 0 : u.gid };
  }
  const chmodText = flags.get("chmod");
  let chmod: number | undefined;
  if (chmodText !== undefined) {
    if (!/^[0-7]{3,4}$/.test(chmodText)) throw lineError(ctx.fileLabel, i.line, i.keyword, `invalid --chmod "${chmodText}"`, "give an octal mode, e.g. --chmod=0755");
    chmod = parseInt(chmodText, 8);
  }
  const flagText = flags.size ? [...flags].map(([k, val]) => `--${k}=${val} `).join("") : "";
  const zstd = ctx.opts.compression === "zstd" ? { zstd: true } : {};
  const toDir = dest.endsWith("/") || list.length > 1;
  const plan = () => locals.length ? planCopy(tree, locals, toDir && !dest.endsWith("/") ? dest + "/" : dest, i.keyword) : [];

  let items: CopyItem[];
  let archives: CopyItem[] = [];
  let key: string;
  let createdBy: string;
  if (from !== undefined) {
    // A stage's or image's files are named by its top layer's chain ID, so the content hash of
    // what a COPY --from reads is kept per chain ID and sources: an unchanged rebuild walks and
    // hashes nothing, and a changed stage whose copied files stayed the same still hits the cache.
    createdBy = `${i.keyword} ${flagText}${list.join(" ")} in ${dest}`;
    const memo = `${cacheDir()}/from-${await keyOf({ v: 1, treeKey, sources: list, dest })}.txt`;
    let contentHash = readMemo(memo);
    let planned: CopyItem[] | undefined;
    if (!contentHash) {
      planned = plan();
      contentHash = await hashItems(planned);
      if (!ctx.opts.noCache) writeMemo(memo, contentHash);
    }
    key = await keyOf({ v: 2, parent: topChain(state), keyword: i.keyword, dest, owner, chmod, contentHash, docs, times: ctx.times, ...zstd });
    if (useCache(key, state, ctx, createdBy)) return;
    items = planned ?? plan();
  } else {
    items = plan();
    const fetched = new Set<CopyItem>();
    if (urls.length) {
      const dl = ctx.tx.tempDir();
      for (const [n, u] of urls.entries()) fetched.add(await download(u, `${dl}/url-${n}`, dest, toDir, checksum));
      items.push(...fetched);
    }
    archives = i.keyword === "ADD" ? items.filter((it) => it.kind === "file" && !fetched.has(it) && isTarFile(it.host, it.dest)) : [];
    if (archives.length && list.length === 1 && !tree.lstat(tree.resolve(list[0]!) ?? "")?.st.isDirectory) items = [];
    const contentHash = await hashItems([...items, ...archives], ctx.hashCache);
    createdBy = `${i.keyword} ${flagText}file:${contentHash.slice(7)} in ${dest}`;
    key = await keyOf({ v: 1, parent: topChain(state), keyword: i.keyword, treeKey, dest, owner, chmod, contentHash, archives: archives.map((a) => a.dest), docs, times: ctx.times, ...zstd });
    if (useCache(key, state, ctx, createdBy)) return;
  }

  const dir = ctx.tx.tempDir();
  Deno.mkdirSync(`${dir}/diff`, { mode: 0o755 });
  const unionTree = layerTree(union, "the image");
  const parentAttrs = (rel: string) => {
    const e = unionTree.lstat(rel);
    return e?.st.isDirectory ? { mode: (e.st.mode ?? 0o755) & 0o7777, uid: e.st.uid ?? 0, gid: e.st.gid ?? 0 } : { mode: 0o755, uid: 0, gid: 0 };
  };
  // the destination's directories as the image has them (symlinks in it resolved inside the image)
  const destDir = dest.endsWith("/") ? dest : dest.slice(0, dest.lastIndexOf("/") + 1);
  const canon = unionTree.resolve(destDir.replace(/^\/+|\/+$/g, ""));
  if (canon !== undefined && canon !== destDir.replace(/^\/+|\/+$/g, "")) {
    const fix = (d: string) => d.startsWith(destDir.replace(/^\/+/, "")) ? canon + (canon ? "/" : "") + d.slice(destDir.replace(/^\/+/, "").length) : d;
    items = items.map((it) => ({ ...it, dest: fix(it.dest) }));
  }
  copyItems(`${dir}/diff`, items, { ...owner, ...(chmod !== undefined ? { chmod } : {}) }, parentAttrs);
  for (const d of docs) {
    const target = dest.endsWith("/") ? `${dest}${d.name}` : dest;
    const rel = target.replace(/^\/+/, "");
    copyItems(`${dir}/diff`, [], owner, parentAttrs);
    const parts = rel.split("/");
    for (let k = 1; k < parts.length; k++) {
      const p = `${dir}/diff/${parts.slice(0, k).join("/")}`;
      try {
        Deno.mkdirSync(p);
        const a = parentAttrs(parts.slice(0, k).join("/"));
        Deno.chmodSync(p, a.mode);
        Deno.chownSync(p, a.uid, a.gid);
      } catch {
        // there
      }
    }
    Deno.writeTextFileSync(`${dir}/diff/${rel}`, d.body, { mode: chmod ?? 0o644 });
    Deno.chmodSync(`${dir}/diff/${rel}`, chmod ?? 0o644);
    Deno.chownSync(`${dir}/diff/${rel}`, owner.uid, owner.gid);
  }
  if (archives.length) {
    const { unpackLayer } = await import("../image/unpack.ts");
    for (const a of archives) {
      const base = dest.endsWith("/") || archives.length > 1 || items.length ? dest : dest + "/";
      const to = `${dir}/diff/${base.replace(/^\/+/, "")}`;
      copyItems(`${dir}/diff`, [{ host: "", dest: base.replace(/^\/+|\/+$/g, ""), kind: "dir", mode: 0o755, mtime: Math.floor(Date.now() / 1000), size: 0 }], owner, parentAttrs);
      Deno.mkdirSync(to, { recursive: true });
      using f = await Deno.open(a.host, { read: true });
      await unpackLayer(f.readable, to, { label: `"${a.dest}"` });
    }
  }
  await commitStep(dir, state, ctx, key, createdBy);
}

/** How long one ADD download may take. */
const DOWNLOAD_TIMEOUT_MS = 600_000;

/**
 * Download an ADD URL into `file`, checked against `--checksum` (sha256, sha384 or sha512); as
 * docker and buildah do: mode 0600, the time from the Last-Modified header (else now).
 */
async function download(url: string, file: string, dest: string, toDir: boolean, checksum: string | undefined): Promise<CopyItem> {
  let want: { algo: string; hex: string } | undefined;
  if (checksum !== undefined) {
    const m = /^(sha256|sha384|sha512):([0-9a-f]+)$/.exec(checksum);
    const len = { sha256: 64, sha384: 96, sha512: 128 }[m?.[1] as "sha256"];
    if (!m || m[2]!.length !== len) throw new BuildError(`invalid --checksum "${checksum}"`, { exitCode: 125, hint: "give ALGORITHM:HEX, e.g. sha256: and 64 hex digits" });
    want = { algo: m[1]!, hex: m[2]! };
  }
  let name = "";
  try {
    const u = new URL(url);
    name = decodeURIComponent(u.pathname.slice(u.pathname.lastIndexOf("/") + 1));
  } catch {
    throw new BuildError(`invalid URL "${url}"`, { exitCode: 125 });
  }
  const base = dest.replace(/\/+$/, "");
  if (toDir && (!name || name === "." || name === "..")) {
    throw new BuildError(`cannot name the file of "${url}": its path has no file name`, { exitCode: 125, hint: "give a destination file name instead of a directory" });
  }
  const target = (toDir ? `${base}/${name}` : base).replace(/^\/+/, "");
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS) });
  } catch (err) {
    throw new BuildError(`downloading "${url}" failed: ${(err as Error).message}`, { exitCode: 125, hint: "check the URL and the network" });
  }
  if (!res.ok || !res.body) {
    await res.body?.cancel();
    throw new BuildError(`downloading "${url}" failed: HTTP ${res.status} ${res.statusText}`.trim(), { exitCode: 125, hint: "check the URL" });
  }
  const nodeCrypto = await import("node:crypto");
  const h = nodeCrypto.createHash(want?.algo ?? "sha256");
  let size = 0;
  {
    using f = Deno.openSync(file, { write: true, createNew: true, mode: 0o600 });
    for await (const chunk of res.body) {
      h.update(chunk);
      size += chunk.length;
      for (let off = 0; off < chunk.length;) off += f.writeSync(chunk.subarray(off));
    }
  }
  const got = h.digest("hex");
  if (want && got !== want.hex) {
    throw new BuildError(`the checksum of "${url}" does not match: expected ${want.algo}:${want.hex}, got ${want.algo}:${got}`, { exitCode: 125, hint: "the file changed, or --checksum is wrong" });
  }
  const modified = Date.parse(res.headers.get("last-modified") ?? "");
  const mtime = Number.isNaN(modified) ? Math.floor(Date.now() / 1000) : Math.floor(modified / 1000);
  return { host: file, dest: target, kind: "file", mode: 0o600, mtime, size };
}

function isTarFile(host: string, name: string): boolean {
  try {
    using f = Deno.openSync(host, { read: true });
    const head = new Uint8Array(512);
    const n = f.readSync(head) ?? 0;
    if (n >= 2 && head[0] === 0x1f && head[1] === 0x8b) return /\.(tgz|tar\.gz)$/.test(name);
    if (n >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return /\.tar\.zst$/.test(name);
    return n === 512 && new TextDecoder().decode(head.subarray(257, 262)) === "ustar";
  } catch {
    return false;
  }
}

/** Write config and manifest and record the image under its names; resolves with its record. */
async function commitImage(state: State, opts: BuildOptions, tx: Transaction): Promise<ImageRecord> {
  const docker = opts.format === "docker";
  const created = state.created;
  const config: ImageConfig & { config: Config } = {
    created,
    ...state.image,
    config: state.config,
    rootfs: { type: "layers", diff_ids: state.layers.map((l) => l.diffId) },
    history: state.history,
  };
  const configBytes = new TextEncoder().encode(JSON.stringify(config));
  const configDigest = await sha256(configBytes);
  const layerType = (mt: string) => {
    if (!docker) return mt === MT.DOCKER_LAYER_GZIP ? MT.OCI_LAYER_GZIP : mt;
    if (mt === MT.OCI_LAYER_GZIP || mt === MT.DOCKER_LAYER_GZIP) return MT.DOCKER_LAYER_GZIP;
    throw new BuildError(`A layer of type "${mt}" cannot be written in the docker format`, { exitCode: 125, hint: "build with --format oci" });
  };
  const manifest: Manifest = {
    schemaVersion: 2,
    mediaType: docker ? MT.DOCKER_MANIFEST : MT.OCI_MANIFEST,
    config: { mediaType: docker ? MT.DOCKER_CONFIG : MT.OCI_CONFIG, digest: configDigest, size: configBytes.length },
    layers: state.layers.map((l) => ({ mediaType: layerType(l.mediaType), digest: l.digest, size: l.size })),
  };
  const manifestBytes = new TextEncoder().encode(JSON.stringify(manifest));
  const manifestDigest = await sha256(manifestBytes);
  tx.store.will({ blobs: [configDigest, manifestDigest], images: [configDigest] });
  await writeBlob(configBytes, configDigest);
  await writeBlob(manifestBytes, manifestDigest);
  buildStep(tx, "config");
  const names = opts.tags.map((t) => {
    const r = parseReference(t, "localhost");
    return `${repoName(r)}:${r.tag ?? "latest"}`;
  });
  const platform = formatPlatform({ os: state.image.os, architecture: state.image.architecture, ...(state.image.variant ? { variant: state.image.variant } : {}) });
  const rec: ImageRecord = {
    id: configDigest,
    names,
    repoDigests: [],
    manifest: manifestDigest,
    manifestMediaType: manifest.mediaType!,
    layers: state.layers.map((l) => ({ ...l, mediaType: layerType(l.mediaType) })),
    platform,
    added: new Date().toISOString(),
    size: state.layers.reduce((n, l) => n + (readLayerInfo(l.chainId)?.size ?? 0), 0),
    created,
  };
  buildStep(tx, "record");
  // the record carries its names: recorded with them in one write; from here the build is done
  // (a crash point only: an interrupt now would say nothing was kept of an image that is there)
  await recordImage(rec);
  tx.store.step("tag");
  return rec;
}

/**
 * `-o`: the built image also written out. `local`: the final stage's files into a directory,
 * owned by the caller (root of nook's user namespace), as docker's and buildah's local exporter
 * give them; `tar`: the same files as one tar (owners as in the image); `oci-archive` and
 * `docker-archive`: the image as `nook save` writes it. A file is written under a temporary name
 * and renamed when complete.
 */
async function writeOutput(rec: ImageRecord, state: State, out: BuildOutput, tx: Transaction, times: TimePolicy): Promise<void> {
  const layers = state.layers.map((l) => ({ dir: layerDiff(l.chainId), opaque: readLayerInfo(l.chainId)?.opaque ?? [] }));
  const { copyLayers } = await import("../overlay/copy.ts");
  const fail = (err: unknown): never => {
    throw new BuildError(`Cannot write the output "${out.dest}": ${(err as Error).message.replace(/:? ?\(os error \d+\).*$/, "")}`, {
      exitCode: 125,
      cause: err,
      hint: `the image was built (${digestHex(rec.id).slice(0, 12)}); choose a destination you can write to`,
    });
  };
  if (out.type === "local") {
    try {
      Deno.mkdirSync(out.dest, { recursive: true });
      copyLayers(out.dest, layers);
      // Why root here: root of nook's user namespace is the caller outside, so the files become the caller's
      chownTree(out.dest);
    } catch (err) {
      if (err instanceof NookError) throw err;
      fail(err);
    }
    return;
  }
  const tmp = `${out.dest}.${Deno.pid}.tmp`;
  try {
    if (out.type === "tar") {
      const flat = `${tx.tempDir()}/root`;
      Deno.mkdirSync(flat, { mode: 0o755 });
      copyLayers(flat, layers);
      await writeLayer(flat, tmp, times, "none");
    } else {
      const { saveImages } = await import("../image/archive.ts");
      using f = Deno.openSync(tmp, { write: true, create: true, truncate: true, mode: 0o644 });
      await saveImages([rec], out.type, async (chunk) => {
        for (let off = 0; off < chunk.length;) off += await f.write(chunk.subarray(off));
      });
    }
    Deno.renameSync(tmp, out.dest);
  } catch (err) {
    removeQuietly(tmp);
    if (err instanceof NookError) throw err;
    fail(err);
  }
}

/** Every entry under `dir` (itself included) to uid and gid 0, links not followed. */
function chownTree(dir: string): void {
  c.lchownat(F.AT_FDCWD, dir, 0, 0);
  for (const e of Deno.readDirSync(dir)) {
    const p = `${dir}/${e.name}`;
    c.lchownat(F.AT_FDCWD, p, 0, 0);
    if (e.isDirectory) chownTree(p);
  }
}
