/**
 * A compose file, read: the compose specification's common subset turned into plain service
 * descriptions. `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}` and `$VAR` are
 * filled from the environment and the project's `.env` (`$$` is a dollar); an unknown key gets
 * one warning naming it and its line; a value of the wrong kind is an error naming its line.
 * The YAML parser is loaded only here (dynamic import): it is never on the path of `nook run`.
 *
 * @module
 */
import { UsageError } from "../errors/mod.ts";
import { type HealthRequest, parseDuration } from "../engine/health.ts";

/** One service, as `up` runs it. */
export interface ComposeService {
  /** Its name in the file. */
  name: string;
  /** Image reference. */
  image: string;
  /** `command`, split. */
  command?: string[];
  /** `entrypoint`, split. */
  entrypoint?: string[];
  /** KEY=VALUE, env_file first, then environment. */
  env: string[];
  /** `ports` (as -p takes them). */
  ports: string[];
  /** `volumes` (as -v takes them; named volumes already given the project's prefix). */
  volumes: string[];
  /** Networks (project-prefixed names) with aliases. */
  networks: { name: string; aliases: string[] }[];
  /** Services that must be started first. */
  dependsOn: string[];
  /** What `up` waits for of each of them before it starts this one (absent: service_started). */
  conditions: Record<string, DependCondition>;
  /** `healthcheck`, as the run flags take it. */
  healthcheck?: HealthRequest;
  /** `build`: the image is built from this context when it is missing (or with `up --build`). */
  build?: { context: string; dockerfile?: string; args: string[]; target?: string };
  /** `profiles`: started only when one of them is asked for (none: always). */
  profiles: string[];
  /** `restart`. */
  restart?: string;
  /** `user`. */
  user?: string;
  /** `working_dir`. */
  workingDir?: string;
  /** `labels` (KEY=VALUE). */
  labels: string[];
  /** `cap_add`. */
  capAdd: string[];
  /** `cap_drop`. */
  capDrop: string[];
  /** `read_only`. */
  readOnly: boolean;
  /** `tmpfs`. */
  tmpfs: string[];
  /** `init`. */
  init: boolean;
  /** `hostname`. */
  hostname?: string;
  /** `x-nook-network-rate`: `--network-rate` (a rate as tc writes it, e.g. 10mbit). */
  networkRate?: string;
}

/** What a dependent service waits for (compose's depends_on conditions). */
export type DependCondition = "service_started" | "service_healthy" | "service_completed_successfully";

const CONDITIONS: readonly DependCondition[] = ["service_started", "service_healthy", "service_completed_successfully"];

/** A project: its name, services in start order, networks and volumes to make. */
export interface ComposeProject {
  /** Project name. */
  name: string;
  /** Services in dependency order. */
  services: ComposeService[];
  /** Networks to create (full names), and whether each is external (used, never made or removed). */
  networks: { name: string; external: boolean }[];
  /** Named volumes (full names), external ones marked. */
  volumes: { name: string; external: boolean }[];
  /** Warnings (unknown keys), one per key. */
  warnings: string[];
}

const SERVICE_KEYS = [
  "image",
  "command",
  "entrypoint",
  "environment",
  "env_file",
  "ports",
  "volumes",
  "networks",
  "depends_on",
  "restart",
  "user",
  "working_dir",
  "labels",
  "cap_add",
  "cap_drop",
  "read_only",
  "tmpfs",
  "init",
  "hostname",
  "container_name",
  "expose",
  "healthcheck",
  "build",
  "profiles",
];
const TOP_KEYS = ["version", "name", "services", "networks", "volumes"];

/** A compose file that cannot be used: the file, the line, and what is wrong. */
export class ComposeError extends UsageError {}

type Yaml = typeof import("yaml");

/** Read `.env` lines (KEY=VALUE, # comments, optional quotes). */
export function parseDotEnv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    let v = m[2]!;
    if (/^".*"$|^'.*'$/.test(v)) v = v.slice(1, -1);
    out[m[1]!] = v;
  }
  return out;
}

/** Fill `${…}` and `$VAR` in one value; `fail` reports a `${VAR:?msg}` that is unset. */
export function interpolate(
  text: string,
  vars: Record<string, string | undefined>,
  fail: (msg: string) => never,
): string {
  return text.replace(
    /\$\$|\$\{([^}]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (all, braced: string | undefined, bare: string | undefined) => {
      if (all === "$$") return "$";
      if (bare !== undefined) return vars[bare] ?? "";
      const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?+])(.*))?$/.exec(braced!);
      if (!m) fail(`"\${${braced}}" is not a valid substitution`);
      const [, name, colon, op, arg = ""] = m!;
      const v = vars[name!];
      const unset = colon ? v === undefined || v === "" : v === undefined;
      if (op === "-") return unset ? arg : v!;
      if (op === "?") {
        if (unset) fail(`the variable "${name}" is required${arg ? `: ${arg}` : ""}`);
        return v!;
      }
      if (op === "+") return unset ? "" : arg;
      return v ?? "";
    },
  );
}

/** Turn a file name or project directory name into a project name (lower case, [a-z0-9_-]). */
export function projectName(text: string): string {
  const n = text.toLowerCase().replace(/[^a-z0-9_-]/g, "");
  return n.replace(/^[^a-z0-9]+/, "") || "default";
}

/**
 * Load a compose file: parse, fill variables, check every key and value, order the services
 * by depends_on. `project` overrides the file's `name:` and the directory's name.
 */
export async function loadCompose(
  file: string,
  opts: { project?: string | undefined; profiles?: readonly string[] } = {},
): Promise<ComposeProject> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (err) {
    throw new ComposeError(`Cannot read the compose file "${file}": ${(err as Error).message}`, {
      hint: "give it with -f FILE (default: compose.yaml in this directory)",
    });
  }
  const dir = file.includes("/") ? file.slice(0, file.lastIndexOf("/")) || "/" : ".";
  let dotenv: Record<string, string> = {};
  try {
    dotenv = parseDotEnv(await Deno.readTextFile(`${dir}/.env`));
  } catch {
    // no .env
  }
  const vars: Record<string, string | undefined> = { ...dotenv, ...Deno.env.toObject() };
  const yaml: Yaml = await import("yaml");
  const lc = new yaml.LineCounter();
  const doc = yaml.parseDocument(text, { lineCounter: lc, prettyErrors: false });
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    const line = e.linePos?.[0]?.line ?? lc.linePos(e.pos[0]).line;
    throw new ComposeError(`${file}:${line}: ${e.message.split("\n")[0]}`, { hint: "fix the YAML at that line" });
  }
  const lineOf = (path: (string | number)[]): number => {
    for (let p = path; p.length; p = p.slice(0, -1)) {
      const node = doc.getIn(p, true) as { range?: [number, number, number] } | undefined;
      if (node?.range) return lc.linePos(node.range[0]).line;
      const parent = doc.getIn(p.slice(0, -1), true) as
        | { items?: { key?: { value?: unknown; range?: [number] } }[] }
        | undefined;
      const key = parent?.items?.find((i) => i.key?.value === p[p.length - 1])?.key;
      if (key?.range) return lc.linePos(key.range[0]).line;
    }
    return 1;
  };
  const bad = (path: (string | number)[], what: string): never => {
    throw new ComposeError(`${file}:${lineOf(path)}: ${path.join(".")} ${what}`, {
      hint: "see the compose specification for this key",
    });
  };
  const raw = doc.toJS() as unknown;
  if (!isMap(raw)) bad([], "must be a mapping with a services key");
  const top = raw as Record<string, unknown>;
  const warnings: string[] = [];
  const warned = new Set<string>();
  const unknown = (path: (string | number)[], key: string) => {
    if (warned.has(key)) return;
    warned.add(key);
    warnings.push(`${file}:${lineOf([...path, key])}: the key "${key}" is not supported by nook and is ignored`);
  };
  for (const k of Object.keys(top)) if (!TOP_KEYS.includes(k) && !k.startsWith("x-")) unknown([], k);

  const fill = (v: unknown, path: (string | number)[]): string => {
    if (typeof v === "number" || typeof v === "boolean") return String(v);
    if (typeof v !== "string") bad(path, "must be a string");
    return interpolate(v as string, vars, (msg) => bad(path, `: ${msg}`));
  };
  const strList = (v: unknown, path: (string | number)[]): string[] => {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) bad(path, "must be a list");
    return (v as unknown[]).map((x, i) => fill(x, [...path, i]));
  };
  const words = (v: unknown, path: (string | number)[]): string[] | undefined => {
    if (v === undefined || v === null) return undefined;
    if (typeof v === "string") return splitWords(fill(v, path));
    return strList(v, path);
  };
  const keyValues = (v: unknown, path: (string | number)[]): string[] => {
    if (v === undefined || v === null) return [];
    if (Array.isArray(v)) return strList(v, path);
    if (!isMap(v)) bad(path, "must be a list or a mapping");
    return Object.entries(v as Record<string, unknown>).map(([k, x]) =>
      x === null || x === undefined ? (vars[k] !== undefined ? `${k}=${vars[k]}` : k) : `${k}=${fill(x, [...path, k])}`
    );
  };

  const composeHealth = (v: unknown, path: (string | number)[]): HealthRequest => {
    if (!isMap(v)) bad(path, "must be a mapping");
    const h = v as Record<string, unknown>;
    for (const k of Object.keys(h)) {
      if (!["test", "interval", "timeout", "retries", "start_period", "disable"].includes(k)) unknown(path, k);
    }
    if (h.disable === true) return { none: true };
    const req: HealthRequest = {};
    if (h.test !== undefined) {
      const t = typeof h.test === "string" ? ["CMD-SHELL", fill(h.test, [...path, "test"])] : strList(h.test, [...path, "test"]);
      if (t[0] === "NONE") return { none: true };
      if (t[0] === "CMD-SHELL" && t.length === 2) req.cmd = t[1];
      else if (t[0] === "CMD" && t.length > 1) req.cmd = JSON.stringify(t.slice(1));
      else bad([...path, "test"], `must be a command, or a list starting with CMD, CMD-SHELL or NONE`);
    }
    for (const [k, field] of [["interval", "interval"], ["timeout", "timeout"], ["start_period", "startPeriod"]] as const) {
      if (h[k] === undefined) continue;
      const text = fill(h[k], [...path, k]);
      try {
        parseDuration(text, k);
      } catch {
        bad([...path, k], `"${text}" is not a duration: use a number with a unit (5s, 1m30s)`);
      }
      req[field] = text;
    }
    if (h.retries !== undefined) {
      if (typeof h.retries !== "number" || !Number.isInteger(h.retries) || h.retries < 1) bad([...path, "retries"], "must be a whole number of at least 1");
      req.retries = String(h.retries);
    }
    return req;
  };

  const name = opts.project ??
    (typeof top.name === "string" ? fill(top.name, ["name"]) : projectName(basename(realDir(dir))));
  if (!/^[a-z0-9][a-z0-9_-]*$/.test(name)) {
    bad(["name"], `"${name}" is not a valid project name: use [a-z0-9][a-z0-9_-]*`);
  }

  const topNets = top.networks ?? {};
  if (!isMap(topNets)) bad(["networks"], "must be a mapping");
  const networks: ComposeProject["networks"] = [];
  const netName: Record<string, string> = {};
  for (const [n, def] of Object.entries(topNets as Record<string, unknown>)) {
    const d = (def ?? {}) as Record<string, unknown>;
    if (!isMap(d)) bad(["networks", n], "must be a mapping");
    for (const k of Object.keys(d)) if (!["external", "name", "driver"].includes(k)) unknown(["networks", n], k);
    const external = d.external === true;
    netName[n] = typeof d.name === "string" ? d.name : external ? n : `${name}_${n}`;
    networks.push({ name: netName[n]!, external });
  }
  const topVols = top.volumes ?? {};
  if (!isMap(topVols)) bad(["volumes"], "must be a mapping");
  const volumes: ComposeProject["volumes"] = [];
  const volName: Record<string, string> = {};
  for (const [v, def] of Object.entries(topVols as Record<string, unknown>)) {
    const d = (def ?? {}) as Record<string, unknown>;
    if (!isMap(d)) bad(["volumes", v], "must be a mapping");
    for (const k of Object.keys(d)) if (!["external", "name", "driver"].includes(k)) unknown(["volumes", v], k);
    const external = d.external === true;
    volName[v] = typeof d.name === "string" ? d.name : external ? v : `${name}_${v}`;
    volumes.push({ name: volName[v]!, external });
  }

  const svcs = top.services;
  if (!isMap(svcs) || !Object.keys(svcs as object).length) {
    bad(["services"], "must be a mapping of at least one service");
  }
  const services: ComposeService[] = [];
  let usesDefault = false;
  for (const [sname, def] of Object.entries(svcs as Record<string, unknown>)) {
    const p = ["services", sname];
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(sname)) bad(p, "is not a valid service name");
    if (!isMap(def)) bad(p, "must be a mapping");
    const d = def as Record<string, unknown>;
    for (const k of Object.keys(d)) if (!SERVICE_KEYS.includes(k) && !k.startsWith("x-")) unknown(p, k);
    if (d.image === undefined && d.build === undefined) bad(p, "has neither an image nor a build");
    let build: ComposeService["build"];
    if (typeof d.build === "string") build = { context: fill(d.build, [...p, "build"]), args: [] };
    else if (isMap(d.build)) {
      const b = d.build as Record<string, unknown>;
      for (const k of Object.keys(b)) if (!["context", "dockerfile", "args", "target"].includes(k)) unknown([...p, "build"], k);
      build = {
        context: b.context === undefined ? "." : fill(b.context, [...p, "build", "context"]),
        args: keyValues(b.args, [...p, "build", "args"]),
        ...(b.dockerfile !== undefined ? { dockerfile: fill(b.dockerfile, [...p, "build", "dockerfile"]) } : {}),
        ...(b.target !== undefined ? { target: fill(b.target, [...p, "build", "target"]) } : {}),
      };
    } else if (d.build !== undefined) bad([...p, "build"], "must be a path or a mapping");
    if (build) {
      // relative to the compose file, as compose reads it
      if (!build.context.startsWith("/")) build.context = `${realDir(dir)}/${build.context}`;
      if (build.dockerfile && !build.dockerfile.startsWith("/")) build.dockerfile = `${build.context}/${build.dockerfile}`;
    }
    const healthcheck = d.healthcheck === undefined ? undefined : composeHealth(d.healthcheck, [...p, "healthcheck"]);
    const env: string[] = [];
    for (
      const [i, f] of (typeof d.env_file === "string" ? [d.env_file] : strList(d.env_file, [...p, "env_file"]))
        .entries()
    ) {
      try {
        const path = fill(f, [...p, "env_file", i]);
        env.push(
          ...Object.entries(parseDotEnv(Deno.readTextFileSync(path.startsWith("/") ? path : `${dir}/${path}`))).map((
            [k, v],
          ) => `${k}=${v}`),
        );
      } catch (err) {
        if (err instanceof ComposeError) throw err;
        bad([...p, "env_file"], `cannot be read: ${(err as Error).message}`);
      }
    }
    env.push(...keyValues(d.environment, [...p, "environment"]));
    const vols = strList(d.volumes, [...p, "volumes"]).map((v, i) => {
      const src = v.split(":")[0]!;
      if (src.startsWith("/") || src.startsWith(".") || src.startsWith("~") || !v.includes(":")) {
        return src.startsWith(".") ? `${realDir(dir)}/${v}` : v;
      }
      if (!(src in volName)) {
        bad([...p, "volumes", i], `names the volume "${src}", which the top-level volumes do not declare`);
      }
      return `${volName[src]}${v.slice(src.length)}`;
    });
    const nets: ComposeService["networks"] = [];
    if (d.networks === undefined) usesDefault = true;
    else if (Array.isArray(d.networks)) {
      for (const [i, n] of strList(d.networks, [...p, "networks"]).entries()) {
        if (!(n in netName)) {
          bad([...p, "networks", i], `names the network "${n}", which the top-level networks do not declare`);
        }
        nets.push({ name: netName[n]!, aliases: [] });
      }
    } else if (isMap(d.networks)) {
      for (const [n, nd] of Object.entries(d.networks as Record<string, unknown>)) {
        if (!(n in netName)) bad([...p, "networks", n], `is not declared in the top-level networks`);
        const aliases = strList((nd as Record<string, unknown> | null)?.aliases, [...p, "networks", n, "aliases"]);
        nets.push({ name: netName[n]!, aliases });
      }
    } else bad([...p, "networks"], "must be a list or a mapping");
    if (nets.length > 1) {
      bad([...p, "networks"], "names several networks: a container on more than one network is not supported yet");
    }
    let dependsOn: string[];
    const conditions: Record<string, DependCondition> = {};
    if (isMap(d.depends_on)) {
      dependsOn = Object.keys(d.depends_on as object);
      for (const [dep, cond] of Object.entries(d.depends_on as Record<string, unknown>)) {
        const c = (cond as Record<string, unknown> | null)?.condition;
        if (c === undefined) continue;
        if (!(CONDITIONS as readonly unknown[]).includes(c)) {
          bad([...p, "depends_on", dep, "condition"], `"${c}" is not a condition: use ${CONDITIONS.join(", ")}`);
        }
        conditions[dep] = c as DependCondition;
      }
    } else dependsOn = strList(d.depends_on, [...p, "depends_on"]);
    const bool = (k: string): boolean => {
      if (d[k] === undefined) return false;
      if (typeof d[k] !== "boolean") bad([...p, k], "must be true or false");
      return d[k] as boolean;
    };
    const opt = (k: string): string | undefined => d[k] === undefined ? undefined : fill(d[k], [...p, k]);
    const svc: ComposeService = {
      name: sname,
      // a built image without a name is named as compose names it
      image: d.image !== undefined ? fill(d.image, [...p, "image"]) : `${name}-${sname.toLowerCase()}`,
      conditions,
      profiles: strList(d.profiles, [...p, "profiles"]),
      ...(build ? { build } : {}),
      ...(healthcheck ? { healthcheck } : {}),
      env,
      ports: strList(d.ports, [...p, "ports"]),
      volumes: vols,
      networks: nets,
      dependsOn,
      labels: keyValues(d.labels, [...p, "labels"]),
      capAdd: strList(d.cap_add, [...p, "cap_add"]),
      capDrop: strList(d.cap_drop, [...p, "cap_drop"]),
      readOnly: bool("read_only"),
      tmpfs: typeof d.tmpfs === "string" ? [fill(d.tmpfs, [...p, "tmpfs"])] : strList(d.tmpfs, [...p, "tmpfs"]),
      init: bool("init"),
    };
    const command = words(d.command, [...p, "command"]);
    if (command) svc.command = command;
    const entrypoint = words(d.entrypoint, [...p, "entrypoint"]);
    if (entrypoint) svc.entrypoint = entrypoint;
    for (
      const [k, field] of [
        ["restart", "restart"],
        ["user", "user"],
        ["working_dir", "workingDir"],
        ["hostname", "hostname"],
        ["x-nook-network-rate", "networkRate"],
      ] as const
    ) {
      const v = opt(k);
      if (v !== undefined) svc[field] = v;
    }
    services.push(svc);
  }
  // profiles: a service with none always runs; one with profiles only when one of them is asked for
  const wanted = new Set(opts.profiles ?? []);
  const active = (s: ComposeService) => !s.profiles.length || wanted.has("*") || s.profiles.some((x) => wanted.has(x));
  for (const s of services.filter(active)) {
    for (const dep of s.dependsOn) {
      const t = services.find((x) => x.name === dep);
      if (t && !active(t)) {
        bad(["services", s.name, "depends_on"], `names the service "${dep}", whose profiles (${t.profiles.join(", ")}) are not enabled: add --profile ${t.profiles[0]}`);
      }
    }
  }
  services.splice(0, services.length, ...services.filter(active));
  if (!services.length) bad(["services"], "has no service without a profile: name one with --profile");
  if (usesDefault && services.some((s) => !s.networks.length)) {
    networks.push({ name: `${name}_default`, external: false });
    for (const s of services) if (!s.networks.length) s.networks.push({ name: `${name}_default`, aliases: [] });
  }
  // dependency order (depth first), refusing unknown services and cycles
  const byName = new Map(services.map((s) => [s.name, s]));
  const ordered: ComposeService[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (s: ComposeService, chain: string[]) => {
    if (state.get(s.name) === "done") return;
    if (state.get(s.name) === "visiting") {
      bad(["services", s.name, "depends_on"], `makes a cycle: ${[...chain, s.name].join(" → ")}`);
    }
    state.set(s.name, "visiting");
    for (const dep of s.dependsOn) {
      const t = byName.get(dep);
      if (!t) bad(["services", s.name, "depends_on"], `names the service "${dep}", which the file does not have`);
      visit(t!, [...chain, s.name]);
    }
    state.set(s.name, "done");
    ordered.push(s);
  };
  for (const s of services) visit(s, []);
  return { name, services: ordered, networks, volumes, warnings };
}

function isMap(v: unknown): boolean {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function basename(p: string): string {
  return p.replace(/\/+$/, "").split("/").pop() ?? p;
}

function realDir(dir: string): string {
  try {
    return Deno.realPathSync(dir);
  } catch {
    return dir;
  }
}

/** Split a command string as a shell would for plain words and quotes (no expansions). */
export function splitWords(text: string): string[] {
  const out: string[] = [];
  let cur = "";
  let quote: string | undefined;
  let any = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === "\\" && quote === '"' && i + 1 < text.length) cur += text[++i];
      else cur += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      any = true;
    } else if (c === "\\" && i + 1 < text.length) {
      cur += text[++i];
      any = true;
    } else if (/\s/.test(c)) {
      if (cur || any) out.push(cur);
      cur = "";
      any = false;
    } else cur += c;
  }
  if (cur || any) out.push(cur);
  return out;
}
