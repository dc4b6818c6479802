/**
 * CDI (the Container Device Interface): `--device vendor.com/class=name`
 * looks the name up in the spec files of /etc/cdi and /var/run/cdi (JSON or
 * YAML; `NOOK_CDI_DIRS` replaces the list) and applies the device's edits and
 * the spec's own: device nodes, mounts, environment and hooks. Loaded only
 * when a CDI name is given; the YAML parser only when a YAML spec is read.
 *
 * @module
 */
import { UsageError } from "../errors/mod.ts";
import type { DeviceSpec, MountSpec } from "../model/mod.ts";
import { MS } from "../plan/mod.ts";

/** The directories searched, in order (later files win for the same name, as in the CDI spec). */
export function cdiDirs(): string[] {
  const env = Deno.env.get("NOOK_CDI_DIRS");
  return env !== undefined ? env.split(":").filter(Boolean) : ["/etc/cdi", "/var/run/cdi"];
}

/** True when a `--device` value is a CDI name (vendor.com/class=name), not a path. */
export function isCdiName(value: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9.-]*\/[A-Za-z0-9][A-Za-z0-9_.-]*=[A-Za-z0-9_.:-]+$/.test(value);
}

/** A hook from a CDI spec, run by nook on the host before the container's program starts. */
export interface CdiHook {
  /** The program. */
  path: string;
  /** argv (argv[0] included). */
  args: string[];
  /** KEY=VALUE. */
  env: string[];
}

/** What a set of CDI devices adds to a container. */
export interface CdiEdits {
  /** Device nodes to bind. */
  devices: DeviceSpec[];
  /** Bind mounts. */
  mounts: MountSpec[];
  /** KEY=VALUE entries. */
  env: string[];
  /** createRuntime/prestart hooks. */
  hooks: CdiHook[];
}

interface RawEdits {
  env?: unknown;
  deviceNodes?: unknown;
  mounts?: unknown;
  hooks?: unknown;
}

interface LoadedSpec {
  file: string;
  kind: string;
  edits: RawEdits | undefined;
  devices: Map<string, RawEdits | undefined>;
}

function bad(file: string, field: string, why: string): UsageError {
  return new UsageError(`The CDI spec "${file}" is invalid: ${field} ${why}`, {
    path: file,
    hint: "fix or remove the file (see the CDI specification: cdiVersion, kind, devices[].name, containerEdits)",
  });
}

/** Read every spec file of the CDI directories; a bad file is an error naming it and the field. */
export async function loadCdiSpecs(dirs: readonly string[] = cdiDirs()): Promise<LoadedSpec[]> {
  const out: LoadedSpec[] = [];
  for (const dir of dirs) {
    let names: string[];
    try {
      names = [...Deno.readDirSync(dir)].filter((e) => e.isFile && /\.(json|ya?ml)$/.test(e.name)).map((e) => e.name).sort();
    } catch {
      continue; // no such directory: nothing there
    }
    for (const name of names) {
      const file = `${dir}/${name}`;
      const text = Deno.readTextFileSync(file);
      let doc: unknown;
      try {
        if (name.endsWith(".json")) doc = JSON.parse(text);
        else {
          // the YAML parser only for a YAML spec (this module itself loads only for CDI names)
          const yaml = await import("yaml");
          doc = yaml.parse(text);
        }
      } catch (err) {
        throw bad(file, "the file", `cannot be parsed: ${(err as Error).message.split("\n")[0]}`);
      }
      out.push(checkSpec(file, doc));
    }
  }
  return out;
}

function checkSpec(file: string, doc: unknown): LoadedSpec {
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) throw bad(file, "the document", "is not an object");
  const d = doc as Record<string, unknown>;
  if (typeof d.cdiVersion !== "string") throw bad(file, '"cdiVersion"', "is missing or not a string");
  if (typeof d.kind !== "string" || !/^[A-Za-z0-9][A-Za-z0-9.-]*\/[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(d.kind)) {
    throw bad(file, '"kind"', `must be vendor.com/class, got ${JSON.stringify(d.kind)}`);
  }
  if (!Array.isArray(d.devices)) throw bad(file, '"devices"', "is missing or not a list");
  const devices = new Map<string, RawEdits | undefined>();
  d.devices.forEach((dev: unknown, i: number) => {
    const x = dev as Record<string, unknown> | null;
    if (!x || typeof x !== "object" || typeof x.name !== "string" || !x.name) throw bad(file, `"devices[${i}].name"`, "is missing");
    if (x.containerEdits !== undefined && (typeof x.containerEdits !== "object" || x.containerEdits === null)) {
      throw bad(file, `"devices[${i}].containerEdits"`, "is not an object");
    }
    checkEdits(file, `devices[${i}].containerEdits`, x.containerEdits as RawEdits | undefined);
    devices.set(x.name, x.containerEdits as RawEdits | undefined);
  });
  checkEdits(file, "containerEdits", d.containerEdits as RawEdits | undefined);
  return { file, kind: d.kind, edits: d.containerEdits as RawEdits | undefined, devices };
}

function checkEdits(file: string, at: string, e: RawEdits | undefined): void {
  if (e === undefined) return;
  const list = (v: unknown, f: string): unknown[] => {
    if (v === undefined) return [];
    if (!Array.isArray(v)) throw bad(file, `"${at}.${f}"`, "is not a list");
    return v;
  };
  list(e.env, "env").forEach((v, i) => {
    if (typeof v !== "string" || !v.includes("=")) throw bad(file, `"${at}.env[${i}]"`, "is not KEY=VALUE");
  });
  list(e.deviceNodes, "deviceNodes").forEach((v, i) => {
    const n = v as Record<string, unknown>;
    if (!n || typeof n.path !== "string" || !n.path.startsWith("/")) throw bad(file, `"${at}.deviceNodes[${i}].path"`, "is missing or not absolute");
    if (n.hostPath !== undefined && (typeof n.hostPath !== "string" || !n.hostPath.startsWith("/"))) {
      throw bad(file, `"${at}.deviceNodes[${i}].hostPath"`, "is not an absolute path");
    }
    if (n.permissions !== undefined && (typeof n.permissions !== "string" || !/^[rwm]*$/.test(n.permissions))) {
      throw bad(file, `"${at}.deviceNodes[${i}].permissions"`, "must be made of r, w and m");
    }
  });
  list(e.mounts, "mounts").forEach((v, i) => {
    const m = v as Record<string, unknown>;
    for (const f of ["hostPath", "containerPath"]) {
      if (!m || typeof m[f] !== "string" || !(m[f] as string).startsWith("/")) throw bad(file, `"${at}.mounts[${i}].${f}"`, "is missing or not absolute");
    }
  });
  list(e.hooks, "hooks").forEach((v, i) => {
    const h = v as Record<string, unknown>;
    if (!h || typeof h.path !== "string" || !h.path.startsWith("/")) throw bad(file, `"${at}.hooks[${i}].path"`, "is missing or not absolute");
    if (!["createRuntime", "prestart", "createContainer", "startContainer", "poststart", "poststop"].includes(h.hookName as string)) {
      throw bad(file, `"${at}.hooks[${i}].hookName"`, `is not a hook name: ${JSON.stringify(h.hookName)}`);
    }
  });
}

/** Resolve CDI names into the edits they make; an unknown name is an error listing what exists. */
export async function cdiEdits(names: readonly string[], dirs: readonly string[] = cdiDirs()): Promise<CdiEdits> {
  const specs = await loadCdiSpecs(dirs);
  const out: CdiEdits = { devices: [], mounts: [], env: [], hooks: [] };
  const applied = new Set<string>();
  for (const qualified of names) {
    const [kind, name] = qualified.split("=", 2) as [string, string];
    // later files win (the CDI rule for the same device in two files)
    const spec = specs.findLast((s) => s.kind === kind && (name === "all" ? s.devices.size > 0 : s.devices.has(name)));
    if (!spec) {
      throw new UsageError(`Unknown CDI device "${qualified}"`, {
        hint: `known: ${listCdi(specs).join(", ") || "none"} (spec files in ${dirs.join(", ")})`,
      });
    }
    const edits = name === "all" ? [...spec.devices.values()] : [spec.devices.get(name)];
    if (!applied.has(spec.file)) {
      applied.add(spec.file);
      edits.unshift(spec.edits);
    }
    for (const e of edits) addEdits(out, e);
  }
  return out;
}

function addEdits(out: CdiEdits, e: RawEdits | undefined): void {
  if (!e) return;
  for (const v of (e.env ?? []) as string[]) out.env.push(v);
  for (const n of (e.deviceNodes ?? []) as { path: string; hostPath?: string; permissions?: string }[]) {
    out.devices.push({ host: n.hostPath ?? n.path, container: n.path, writable: (n.permissions ?? "rwm").includes("w") });
  }
  for (const m of (e.mounts ?? []) as { hostPath: string; containerPath: string; options?: string[] }[]) {
    let isFile = false;
    try {
      isFile = !Deno.statSync(m.hostPath).isDirectory;
    } catch {
      // checked when mounted
    }
    out.mounts.push({
      source: m.hostPath,
      target: m.containerPath,
      fstype: "",
      flags: MS.BIND | MS.REC,
      readonly: (m.options ?? []).includes("ro"),
      file: isFile,
    });
  }
  for (const h of (e.hooks ?? []) as { hookName: string; path: string; args?: string[]; env?: string[] }[]) {
    if (h.hookName !== "createRuntime" && h.hookName !== "prestart") {
      throw new UsageError(`The CDI hook "${h.path}" runs at "${h.hookName}", which nook does not run`, {
        hint: "nook runs createRuntime and prestart hooks (on the host, before the container's program starts)",
      });
    }
    out.hooks.push({ path: h.path, args: h.args ?? [h.path], env: h.env ?? [] });
  }
}

function listCdi(specs: readonly LoadedSpec[]): string[] {
  return [...new Set(specs.flatMap((s) => [...s.devices.keys()].map((n) => `${s.kind}=${n}`)))].sort();
}

/** `nook info`'s CDI section: the directories and the devices found (or why a spec is bad). */
export async function cdiInfo(): Promise<Record<string, string | string[]>> {
  const dirs = cdiDirs();
  try {
    return { dirs, devices: listCdi(await loadCdiSpecs(dirs)) };
  } catch (err) {
    return { dirs, error: (err as Error).message };
  }
}

/** Run a CDI hook with the container's state on stdin, as OCI hooks are run. */
export async function runCdiHook(h: CdiHook, id: string, pid: number): Promise<void> {
  const child = new Deno.Command(h.path, {
    args: h.args.slice(1),
    env: Object.fromEntries(h.env.map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)])),
    clearEnv: true,
    stdin: "piped",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(JSON.stringify({ ociVersion: "1.0.2", id, status: "creating", pid, bundle: "" })));
  await w.close().catch(() => {});
  const out = await child.output();
  if (out.code !== 0) {
    throw new UsageError(`The CDI hook "${h.path}" failed with exit status ${out.code}: ${new TextDecoder().decode(out.stderr).trim()}`, {
      hint: "check the hook in the CDI spec",
    });
  }
}
