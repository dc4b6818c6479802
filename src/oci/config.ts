/**
 * config.json of an OCI bundle (runtime-spec 1.0–1.2, Linux), read and
 * checked field by field. Every field the spec defines is either carried out
 * or refused with a message that names it; properties the spec does not
 * define are ignored, as the spec requires ("MUST ignore unknown
 * properties"), and listed for `--debug`.
 *
 * @module
 */
import { RLIMIT } from "../plan/linux.ts";
import { invalid, OciError, unsupported } from "./errors.ts";

export {
  HOOK_KINDS,
  NAMESPACE_FILES,
  type NsType,
  type OciCapabilities,
  type OciConfig,
  type OciDevice,
  type OciHook,
  type OciHooks,
  type OciIdMap,
  type OciLinux,
  type OciMount,
  type OciNamespace,
  type OciProcess,
} from "../model/oci.ts";
import type {
  NsType,
  OciConfig,
  OciDevice,
  OciHook,
  OciHooks,
  OciLinux,
  OciMount,
  OciNamespace,
  OciProcess,
} from "../model/oci.ts";
import { HOOK_KINDS, NAMESPACE_FILES } from "../model/oci.ts";

type Obj = Record<string, unknown>;

/** Reads one JSON object, remembering which keys it has that are not known. */
class Reader {
  constructor(readonly unknown: string[]) {}

  obj(v: unknown, field: string, known: readonly string[]): Obj {
    if (typeof v !== "object" || v === null || Array.isArray(v)) throw invalid(field, "must be an object");
    for (const k of Object.keys(v)) if (!known.includes(k)) this.unknown.push(`${field}.${k}`);
    return v as Obj;
  }

  optObj(v: unknown, field: string, known: readonly string[]): Obj | undefined {
    return v === undefined || v === null ? undefined : this.obj(v, field, known);
  }

  str(v: unknown, field: string): string {
    if (typeof v !== "string") throw invalid(field, "must be a string");
    return v;
  }

  optStr(v: unknown, field: string): string | undefined {
    return v === undefined || v === null ? undefined : this.str(v, field);
  }

  bool(v: unknown, field: string): boolean {
    if (v === undefined || v === null) return false;
    if (typeof v !== "boolean") throw invalid(field, "must be true or false");
    return v;
  }

  int(v: unknown, field: string, min: number, max: number): number {
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
      throw invalid(field, `must be a whole number from ${min} to ${max}`);
    }
    return v;
  }

  optInt(v: unknown, field: string, min: number, max: number): number | undefined {
    return v === undefined || v === null ? undefined : this.int(v, field, min, max);
  }

  arr(v: unknown, field: string): unknown[] {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) throw invalid(field, "must be a list");
    return v;
  }

  strs(v: unknown, field: string): string[] {
    return this.arr(v, field).map((s, i) => this.str(s, `${field}[${i}]`));
  }

  strMap(v: unknown, field: string): Record<string, string> {
    if (v === undefined || v === null) return {};
    if (typeof v !== "object" || Array.isArray(v)) throw invalid(field, "must be an object of strings");
    const out: Record<string, string> = {};
    for (const [k, val] of Object.entries(v)) out[k] = this.str(val, `${field}.${k}`);
    return out;
  }
}

const U32 = 0xffff_ffff;

/** Fields of a platform nook does not run on. */
const OTHER_PLATFORMS = ["windows", "solaris", "vm", "zos"];

/**
 * Read config.json text of the bundle at `bundle` (an absolute path): the
 * root path and relative bind sources are resolved against it.
 */
export function parseConfig(text: string, bundle: string): OciConfig {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new OciError(`config.json in "${bundle}" is not valid JSON: ${(err as Error).message}`, {
      path: `${bundle}/config.json`,
      hint: "write one with `nook runtime spec` and edit it",
    });
  }
  const unknown: string[] = [];
  const r = new Reader(unknown);
  const top = r.obj(json, "(config.json)", [
    "ociVersion",
    "root",
    "mounts",
    "process",
    "hostname",
    "domainname",
    "hooks",
    "annotations",
    "linux",
    ...OTHER_PLATFORMS,
  ]);
  unknown.splice(0, unknown.length, ...unknown.map((u) => u.replace(/^\(config\.json\)\./, "")));
  for (const p of OTHER_PLATFORMS) {
    if (top[p] !== undefined && top[p] !== null) {
      throw unsupported(p, `it configures a ${p} container; nook runs Linux containers`);
    }
  }
  const ociVersion = r.str(top.ociVersion, "ociVersion");
  if (!/^1\.\d+\.\d+/.test(ociVersion)) {
    throw invalid("ociVersion", `is "${ociVersion}"; nook reads runtime-spec 1.x bundles`);
  }

  const rootObj = r.obj(top.root, "root", ["path", "readonly"]);
  const rootPath = r.str(rootObj.path, "root.path");
  if (!rootPath) throw invalid("root.path", "must not be empty");
  const root = { path: absolute(rootPath, bundle), readonly: r.bool(rootObj.readonly, "root.readonly") };

  const cfg: OciConfig = {
    ociVersion,
    root,
    mounts: r.arr(top.mounts, "mounts").map((m, i) => parseMount(r, m, `mounts[${i}]`, bundle)),
    hooks: parseHooks(r, top.hooks),
    annotations: r.strMap(top.annotations, "annotations"),
    linux: parseLinux(r, top.linux),
    unknown,
  };
  if (top.process !== undefined && top.process !== null) cfg.process = parseProcess(r, top.process, "process");
  const hostname = r.optStr(top.hostname, "hostname");
  if (hostname) cfg.hostname = hostname;
  const domainname = r.optStr(top.domainname, "domainname");
  if (domainname) cfg.domainname = domainname;
  return cfg;
}

/** Read a `process` object (the file of `exec --process`); properties the spec does not define go to `unknown`. */
export function readProcess(v: unknown, field: string, unknown: string[] = []): OciProcess {
  return parseProcess(new Reader(unknown), v, field);
}

function parseProcess(rd: Reader, v: unknown, field: string): OciProcess {
  const p = rd.obj(v, field, [
    "terminal",
    "consoleSize",
    "cwd",
    "env",
    "args",
    "commandLine",
    "user",
    "capabilities",
    "rlimits",
    "noNewPrivileges",
    "oomScoreAdj",
    "apparmorProfile",
    "selinuxLabel",
    "scheduler",
    "ioPriority",
    "execCPUAffinity",
  ]);
  for (const f of ["commandLine", "scheduler", "ioPriority", "execCPUAffinity"]) {
    if (p[f] !== undefined && p[f] !== null) {
      throw unsupported(
        `${field}.${f}`,
        f === "commandLine" ? "it is for Windows containers" : "nook does not set scheduling or CPU affinity",
        `remove "${f}" from ${field}`,
      );
    }
  }
  const args = rd.strs(p.args, `${field}.args`);
  if (args.length === 0) throw invalid(`${field}.args`, "must name the program to run", 'e.g. "args": ["sh"]');
  const cwd = rd.str(p.cwd, `${field}.cwd`);
  if (!cwd.startsWith("/")) throw invalid(`${field}.cwd`, `must be an absolute path, not "${cwd}"`);
  const u = rd.obj(p.user ?? {}, `${field}.user`, ["uid", "gid", "umask", "additionalGids", "username"]);
  if (u.username !== undefined && u.username !== null && u.username !== "") {
    throw unsupported(`${field}.user.username`, "it is for Windows containers; give uid and gid");
  }
  const user: OciProcess["user"] = {
    uid: rd.int(u.uid ?? 0, `${field}.user.uid`, 0, U32 - 1),
    gid: rd.int(u.gid ?? 0, `${field}.user.gid`, 0, U32 - 1),
    additionalGids: rd.arr(u.additionalGids, `${field}.user.additionalGids`).map((g, i) =>
      rd.int(g, `${field}.user.additionalGids[${i}]`, 0, U32 - 1)
    ),
  };
  const umask = rd.optInt(u.umask, `${field}.user.umask`, 0, 0o777);
  if (umask !== undefined) user.umask = umask;
  const proc: OciProcess = {
    terminal: rd.bool(p.terminal, `${field}.terminal`),
    cwd,
    env: rd.strs(p.env, `${field}.env`),
    args,
    user,
    rlimits: rd.arr(p.rlimits, `${field}.rlimits`).map((x, i) => parseRlimit(rd, x, `${field}.rlimits[${i}]`)),
    noNewPrivileges: rd.bool(p.noNewPrivileges, `${field}.noNewPrivileges`),
  };
  const cs = rd.optObj(p.consoleSize, `${field}.consoleSize`, ["height", "width"]);
  if (cs) {
    proc.consoleSize = {
      height: rd.int(cs.height ?? 0, `${field}.consoleSize.height`, 0, 65535),
      width: rd.int(cs.width ?? 0, `${field}.consoleSize.width`, 0, 65535),
    };
  }
  const caps = rd.optObj(p.capabilities, `${field}.capabilities`, [
    "bounding",
    "effective",
    "inheritable",
    "permitted",
    "ambient",
  ]);
  if (caps) {
    proc.capabilities = {
      bounding: rd.strs(caps.bounding, `${field}.capabilities.bounding`),
      effective: rd.strs(caps.effective, `${field}.capabilities.effective`),
      inheritable: rd.strs(caps.inheritable, `${field}.capabilities.inheritable`),
      permitted: rd.strs(caps.permitted, `${field}.capabilities.permitted`),
      ambient: rd.strs(caps.ambient, `${field}.capabilities.ambient`),
    };
  }
  const oom = rd.optInt(p.oomScoreAdj, `${field}.oomScoreAdj`, -1000, 1000);
  if (oom !== undefined) proc.oomScoreAdj = oom;
  const aa = rd.optStr(p.apparmorProfile, `${field}.apparmorProfile`);
  if (aa) proc.apparmorProfile = aa;
  const se = rd.optStr(p.selinuxLabel, `${field}.selinuxLabel`);
  if (se) proc.selinuxLabel = se;
  return proc;
}

function parseRlimit(r: Reader, v: unknown, field: string): [number, bigint, bigint] {
  const o = r.obj(v, field, ["type", "soft", "hard"]);
  const type = r.str(o.type, `${field}.type`);
  const res = RLIMIT[type.replace(/^RLIMIT_/, "").toLowerCase()];
  if (!type.startsWith("RLIMIT_") || res === undefined) {
    throw invalid(`${field}.type`, `names an unknown resource "${type}"`, "use RLIMIT_NOFILE, RLIMIT_NPROC, …");
  }
  const num = (x: unknown, f: string): bigint => {
    if (typeof x !== "number" || !Number.isInteger(x) || x < -1) throw invalid(f, "must be a whole number");
    return x === -1 || x >= 2 ** 64 - 1 ? 0xffff_ffff_ffff_ffffn : BigInt(x);
  };
  const soft = num(o.soft, `${field}.soft`);
  const hard = num(o.hard, `${field}.hard`);
  if (soft > hard) throw invalid(field, "has a soft limit above its hard limit");
  return [res, soft, hard];
}

function parseMount(r: Reader, v: unknown, field: string, bundle: string): OciMount {
  const o = r.obj(v, field, ["destination", "type", "source", "options", "uidMappings", "gidMappings"]);
  for (const f of ["uidMappings", "gidMappings"]) {
    if (Array.isArray(o[f]) && (o[f] as unknown[]).length > 0) {
      throw unsupported(
        `${field}.${f}`,
        "id-mapped mounts are not implemented",
        "map the ids of the volume's files instead",
      );
    }
  }
  const destination = r.str(o.destination, `${field}.destination`);
  if (!destination.startsWith("/")) {
    throw invalid(`${field}.destination`, `must be an absolute path, not "${destination}"`);
  }
  const type = r.optStr(o.type, `${field}.type`) ?? "";
  const options = r.strs(o.options, `${field}.options`);
  let source = r.optStr(o.source, `${field}.source`) ?? "";
  const isBind = type === "bind" || options.includes("bind") || options.includes("rbind");
  if (isBind) {
    if (!source) throw invalid(`${field}.source`, "must name the path to bind");
    source = absolute(source, bundle);
  }
  return { destination: normalize(destination), type, source, options };
}

function parseHooks(r: Reader, v: unknown): OciHooks {
  const hooks: OciHooks = {
    prestart: [],
    createRuntime: [],
    createContainer: [],
    startContainer: [],
    poststart: [],
    poststop: [],
  };
  const o = r.optObj(v, "hooks", HOOK_KINDS);
  if (!o) return hooks;
  for (const kind of HOOK_KINDS) {
    hooks[kind] = r.arr(o[kind], `hooks.${kind}`).map((h, i) => {
      const field = `hooks.${kind}[${i}]`;
      const ho = r.obj(h, field, ["path", "args", "env", "timeout"]);
      const path = r.str(ho.path, `${field}.path`);
      if (!path.startsWith("/")) throw invalid(`${field}.path`, `must be an absolute path, not "${path}"`);
      const args = r.strs(ho.args, `${field}.args`);
      const hook: OciHook = { path, args: args.length ? args : [path], env: r.strs(ho.env, `${field}.env`) };
      const timeout = r.optInt(ho.timeout, `${field}.timeout`, 1, 2 ** 31 / 1000);
      if (timeout !== undefined) hook.timeout = timeout;
      return hook;
    });
  }
  return hooks;
}

/** Namespace types of the spec that nook does not create or join. */
const UNSUPPORTED_NAMESPACES: Record<string, string> = {
  time: "time namespaces (and linux.timeOffsets) are not implemented",
};

function parseLinux(r: Reader, v: unknown): OciLinux {
  const o = r.optObj(v, "linux", [
    "namespaces",
    "uidMappings",
    "gidMappings",
    "timeOffsets",
    "devices",
    "cgroupsPath",
    "resources",
    "intelRdt",
    "sysctl",
    "seccomp",
    "rootfsPropagation",
    "maskedPaths",
    "readonlyPaths",
    "mountLabel",
    "personality",
    "memoryPolicy",
    "netDevices",
  ]) ?? {};
  const refuse: Record<string, string> = {
    timeOffsets: "time namespaces are not implemented",
    intelRdt: "Intel RDT (resctrl) is not implemented",
    memoryPolicy: "NUMA memory policies are not implemented",
    netDevices: "moving network devices into the container is not implemented",
  };
  for (const [f, why] of Object.entries(refuse)) {
    const val = o[f];
    const empty = val === undefined || val === null ||
      (typeof val === "object" && Object.keys(val as object).length === 0);
    if (!empty) throw unsupported(`linux.${f}`, why, `remove "linux.${f}"`);
  }
  const mountLabel = r.optStr(o.mountLabel, "linux.mountLabel");
  if (mountLabel) {
    throw unsupported("linux.mountLabel", "SELinux mount labels are not implemented", 'remove "linux.mountLabel"');
  }
  const seen = new Set<string>();
  const namespaces = r.arr(o.namespaces, "linux.namespaces").map((n, i) => {
    const field = `linux.namespaces[${i}]`;
    const no = r.obj(n, field, ["type", "path"]);
    const type = r.str(no.type, `${field}.type`);
    if (UNSUPPORTED_NAMESPACES[type]) throw unsupported(`${field}.type`, UNSUPPORTED_NAMESPACES[type]!);
    if (!(type in NAMESPACE_FILES)) {
      throw invalid(
        `${field}.type`,
        `names an unknown namespace "${type}"`,
        `use ${Object.keys(NAMESPACE_FILES).join(", ")}`,
      );
    }
    if (seen.has(type)) throw invalid(`${field}.type`, `repeats the namespace "${type}"`);
    seen.add(type);
    const ns: OciNamespace = { type: type as NsType };
    const path = r.optStr(no.path, `${field}.path`);
    if (path) {
      if (!path.startsWith("/")) throw invalid(`${field}.path`, `must be an absolute path, not "${path}"`);
      ns.path = path;
    }
    return ns;
  });
  const idMaps = (key: "uidMappings" | "gidMappings") =>
    r.arr(o[key], `linux.${key}`).map((m, i) => {
      const field = `linux.${key}[${i}]`;
      const mo = r.obj(m, field, ["containerID", "hostID", "size"]);
      return {
        containerID: r.int(mo.containerID, `${field}.containerID`, 0, U32 - 1),
        hostID: r.int(mo.hostID, `${field}.hostID`, 0, U32 - 1),
        size: r.int(mo.size, `${field}.size`, 1, U32),
      };
    });
  const linux: OciLinux = {
    namespaces,
    uidMappings: idMaps("uidMappings"),
    gidMappings: idMaps("gidMappings"),
    devices: r.arr(o.devices, "linux.devices").map((d, i) => {
      const field = `linux.devices[${i}]`;
      const dobj = r.obj(d, field, ["type", "path", "major", "minor", "fileMode", "uid", "gid"]);
      const type = r.str(dobj.type, `${field}.type`);
      if (!["c", "b", "u", "p"].includes(type)) throw invalid(`${field}.type`, `must be c, b, u or p, not "${type}"`);
      const path = r.str(dobj.path, `${field}.path`);
      if (!path.startsWith("/")) throw invalid(`${field}.path`, `must be an absolute path, not "${path}"`);
      const dev: OciDevice = { type, path: normalize(path) };
      const major = r.optInt(dobj.major, `${field}.major`, 0, U32);
      const minor = r.optInt(dobj.minor, `${field}.minor`, 0, U32);
      if (type !== "p" && (major === undefined || minor === undefined)) {
        throw invalid(field, "needs major and minor numbers");
      }
      if (major !== undefined) dev.major = major;
      if (minor !== undefined) dev.minor = minor;
      const mode = r.optInt(dobj.fileMode, `${field}.fileMode`, 0, 0o7777);
      if (mode !== undefined) dev.fileMode = mode;
      const uid = r.optInt(dobj.uid, `${field}.uid`, 0, U32 - 1);
      if (uid !== undefined) dev.uid = uid;
      const gid = r.optInt(dobj.gid, `${field}.gid`, 0, U32 - 1);
      if (gid !== undefined) dev.gid = gid;
      return dev;
    }),
    sysctl: r.strMap(o.sysctl, "linux.sysctl"),
    maskedPaths: r.strs(o.maskedPaths, "linux.maskedPaths"),
    readonlyPaths: r.strs(o.readonlyPaths, "linux.readonlyPaths"),
  };
  const cgroupsPath = r.optStr(o.cgroupsPath, "linux.cgroupsPath");
  if (cgroupsPath) linux.cgroupsPath = cgroupsPath;
  if (o.resources !== undefined && o.resources !== null) {
    linux.resources = r.obj(o.resources, "linux.resources", [
      "devices",
      "memory",
      "cpu",
      "blockIO",
      "hugepageLimits",
      "network",
      "pids",
      "rdma",
      "unified",
    ]);
  }
  const prop = r.optStr(o.rootfsPropagation, "linux.rootfsPropagation");
  if (prop) linux.rootfsPropagation = prop;
  if (o.seccomp !== undefined && o.seccomp !== null) {
    linux.seccomp = r.obj(o.seccomp, "linux.seccomp", [
      "defaultAction",
      "defaultErrnoRet",
      "architectures",
      "flags",
      "listenerPath",
      "listenerMetadata",
      "syscalls",
    ]);
    if (linux.seccomp.listenerPath) {
      throw unsupported("linux.seccomp.listenerPath", "seccomp notify listeners (SCMP_ACT_NOTIFY) are not implemented");
    }
  }
  for (const [list, f] of [[linux.maskedPaths, "maskedPaths"], [linux.readonlyPaths, "readonlyPaths"]] as const) {
    list.forEach((p, i) => {
      if (!p.startsWith("/")) throw invalid(`linux.${f}[${i}]`, `must be an absolute path, not "${p}"`);
    });
  }
  const pers = r.optObj(o.personality, "linux.personality", ["domain", "flags"]);
  if (pers) {
    linux.personality = {
      domain: r.str(pers.domain, "linux.personality.domain"),
      flags: r.strs(pers.flags, "linux.personality.flags"),
    };
  }
  return linux;
}

/** An absolute, normalized path: relative ones are taken from `base`. */
export function absolute(path: string, base: string): string {
  return normalize(path.startsWith("/") ? path : `${base}/${path}`);
}

/** Collapse `//`, `.` and `..` (never above `/`). */
export function normalize(path: string): string {
  const out: string[] = [];
  for (const part of path.split("/")) {
    if (!part || part === ".") continue;
    if (part === "..") out.pop();
    else out.push(part);
  }
  return "/" + out.join("/");
}
