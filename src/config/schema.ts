/**
 * The keys of `config.yaml`: their types, defaults, `NOOK_*` variables and
 * checks. One table drives parsing, checks, the variables, completions and
 * the README's table.
 *
 * To add a key: add it to {@link NookConfig}, {@link ConfigKey} and
 * {@link CONFIG_KEYS} (with a non-default `example`), then update
 * `KEYS_FINGERPRINT` in load.ts and the README's table — tests name both.
 * To make a `nook run` flag follow it, add a line to `RUN_FLAG_DEFAULTS`
 * (load.ts); anything else reads it with `await loadConfig()`.
 */
import { NookError } from "../errors/mod.ts";
import { RLIMIT } from "../plan/mod.ts";
import { RUN_FLAG_DEFAULTS } from "./load.ts";

/** A config file or `NOOK_*` variable with a bad value; the message names the key and the line. */
export class ConfigError extends NookError {}

/** Network modes a container can have (`none` and `host` and the user-mode helpers). */
export const NETWORK_MODES = ["auto", "none", "host", "pasta", "slirp4netns"] as const;
/** Storage backends: `auto` picks overlay, then fuse-overlayfs, then copy. */
export const STORAGE_DRIVERS = ["auto", "overlay", "fuse-overlayfs", "copy"] as const;
/** cgroup managers. */
export const CGROUP_MANAGERS = ["auto", "systemd", "cgroupfs", "none"] as const;
/** How ids are mapped: `auto` uses /etc/subuid ranges when newuidmap exists. */
export const IDMAP_MODES = ["auto", "single"] as const;

/** Every Linux capability, in number order (capability.h). */
export const CAPABILITIES = [
  "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
  "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN",
  "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
  "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
  "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
  "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
  "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
] as const;

/** The capabilities a container keeps by default (podman's list). */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SETFCAP",
  "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT",
];

/** nook's configuration: defaults, overridden by `config.yaml`, then by `NOOK_*` variables, then by flags. */
export interface NookConfig {
  /** Container networking. */
  network: {
    /** Default `--network` of `nook run`. */
    mode: typeof NETWORK_MODES[number];
  };
  /** Images and containers on disk. */
  storage: {
    /** Copy-on-write backend. */
    driver: typeof STORAGE_DRIVERS[number];
    /** Where images and containers live; "" means `$XDG_DATA_HOME/nook`. */
    path: string;
  };
  /** Image registries. */
  registries: {
    /** Registries tried, in order, for a short image name. */
    search: string[];
    /** Registries reached over plain HTTP or with unverified TLS. */
    insecure: string[];
    /** Per registry, mirrors tried before it. */
    mirrors: Record<string, string[]>;
  };
  /** Defaults of `nook run` flags. */
  run: {
    /** `--init`. */
    init: boolean;
    /** `--read-only`. */
    read_only: boolean;
    /** `-e`, applied before the flags' own. */
    env: string[];
    /** `--ulimit`, applied before the flags' own. */
    ulimits: string[];
  };
  /** Container confinement. */
  security: {
    /** Capabilities a container keeps. */
    capabilities: string[];
    /** `default`, `unconfined`, or the absolute path of a profile. */
    seccomp: string;
    /** Set no_new_privs for every container. */
    no_new_privileges: boolean;
  };
  /** Resource control. */
  cgroups: {
    /** Who creates the container's cgroup. */
    manager: typeof CGROUP_MANAGERS[number];
  };
  /** User namespaces. */
  userns: {
    /** `auto`: subordinate ranges through newuidmap when possible; `single`: only your own id. */
    idmap: typeof IDMAP_MODES[number];
  };
}

/** A dotted key such as `"network.mode"`. */
export type ConfigKey =
  | "network.mode"
  | "storage.driver"
  | "storage.path"
  | "registries.search"
  | "registries.insecure"
  | "registries.mirrors"
  | "run.init"
  | "run.read_only"
  | "run.env"
  | "run.ulimits"
  | "security.capabilities"
  | "security.seccomp"
  | "security.no_new_privileges"
  | "cgroups.manager"
  | "userns.idmap";

/** One key of the table that drives parsing, validation, env overrides, docs and completions. */
export interface KeyDef {
  /** Dotted key. */
  key: ConfigKey;
  /** Value type. `list` is a list of strings, `map` a mapping of strings to lists of strings. */
  type: "enum" | "string" | "path" | "bool" | "list" | "map";
  /** Allowed values of an enum. */
  values?: readonly string[];
  /** Built-in default. */
  default: unknown;
  /** The `NOOK_*` variable that overrides it (lists: comma-separated). */
  env?: string;
  /** One line of documentation. */
  help: string;
  /** Check (and normalize) one string: a list item, a map value, or the value itself; throw a reason as a string. */
  item?: (v: string) => string;
  /** Check a map's key. */
  mapKey?: (v: string) => string;
  /** Example value for docs and round-trip tests (a non-default one). */
  example: unknown;
}

const HOST_RE = /^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*|\[[0-9a-f:]+\])(?::\d{1,5})?$/;

function registryHost(v: string): string {
  if (!HOST_RE.test(v)) throw `"${v}" is not a registry host (HOST or HOST:PORT, lower case)`;
  return v;
}

function registryLocation(v: string): string {
  const m = /^(?:https?:\/\/)?([^/]+)(\/.*)?$/.exec(v);
  if (!m || !HOST_RE.test(m[1]!)) throw `"${v}" is not a registry location (HOST[:PORT][/PATH])`;
  return v;
}

function capability(v: string): string {
  const name = v.toUpperCase().startsWith("CAP_") ? v.toUpperCase() : `CAP_${v.toUpperCase()}`;
  if (!(CAPABILITIES as readonly string[]).includes(name)) throw `"${v}" is not a Linux capability`;
  return name;
}

function envEntry(v: string): string {
  const i = v.indexOf("=");
  const key = i < 0 ? v : v.slice(0, i);
  if (!key || /\s/.test(key)) throw `"${v}" is not KEY=VALUE`;
  return v;
}

function ulimit(v: string): string {
  const m = /^([a-z]+)=(-?\d+|unlimited)(?::(-?\d+|unlimited))?$/.exec(v);
  if (!m || RLIMIT[m[1]!] === undefined) {
    throw `"${v}" is not NAME=SOFT[:HARD] with NAME one of ${Object.keys(RLIMIT).join(", ")}`;
  }
  return v;
}

function seccomp(v: string): string {
  if (v === "default" || v === "unconfined" || v.startsWith("/")) return v;
  throw `"${v}" is not default, unconfined or the absolute path of a profile`;
}

/** The table of keys, in documentation order. */
export const CONFIG_KEYS: readonly KeyDef[] = [
  {
    key: "network.mode",
    type: "enum",
    values: NETWORK_MODES,
    default: "auto",
    env: "NOOK_NETWORK",
    help: "default --network of nook run (auto: pasta, else slirp4netns, else none)",
    example: "host",
  },
  {
    key: "storage.driver",
    type: "enum",
    values: STORAGE_DRIVERS,
    default: "auto",
    env: "NOOK_STORAGE_DRIVER",
    help: "copy-on-write backend for containers",
    example: "fuse-overlayfs",
  },
  {
    key: "storage.path",
    type: "path",
    default: "",
    env: "NOOK_DATA_DIR",
    help: "where images and containers live (default $XDG_DATA_HOME/nook)",
    example: "/var/tmp/nook-storage",
  },
  {
    key: "registries.search",
    type: "list",
    default: [],
    env: "NOOK_REGISTRIES_SEARCH",
    help: "registries tried, in order, for a short image name",
    item: registryHost,
    example: ["registry.example.com", "mirror.example.org:5000"],
  },
  {
    key: "registries.insecure",
    type: "list",
    default: [],
    env: "NOOK_REGISTRIES_INSECURE",
    help: "registries reached over plain HTTP or unverified TLS",
    item: registryHost,
    example: ["localhost:5000"],
  },
  {
    key: "registries.mirrors",
    type: "map",
    default: {},
    help: "per registry, mirrors tried before it",
    mapKey: registryHost,
    item: registryLocation,
    example: { "registry.example.com": ["mirror.example.org/cache"] },
  },
  {
    key: "run.init",
    type: "bool",
    default: false,
    env: "NOOK_INIT",
    help: "default --init of nook run",
    example: true,
  },
  {
    key: "run.read_only",
    type: "bool",
    default: false,
    env: "NOOK_READ_ONLY",
    help: "default --read-only of nook run",
    example: true,
  },
  {
    key: "run.env",
    type: "list",
    default: [],
    help: "variables set in every container (before -e)",
    item: envEntry,
    example: ["TZ=UTC", "LANG=C.UTF-8"],
  },
  {
    key: "run.ulimits",
    type: "list",
    default: [],
    help: "resource limits of every container (before --ulimit)",
    item: ulimit,
    example: ["nofile=1024:2048"],
  },
  {
    key: "security.capabilities",
    type: "list",
    default: DEFAULT_CAPABILITIES,
    env: "NOOK_CAPABILITIES",
    help: "capabilities a container keeps",
    item: capability,
    example: ["CAP_CHOWN", "CAP_KILL"],
  },
  {
    key: "security.seccomp",
    type: "string",
    default: "default",
    env: "NOOK_SECCOMP",
    help: "seccomp profile: default, unconfined or an absolute path",
    item: seccomp,
    example: "unconfined",
  },
  {
    key: "security.no_new_privileges",
    type: "bool",
    default: false,
    env: "NOOK_NO_NEW_PRIVILEGES",
    help: "set no_new_privs in every container",
    example: true,
  },
  {
    key: "cgroups.manager",
    type: "enum",
    values: CGROUP_MANAGERS,
    default: "auto",
    env: "NOOK_CGROUP_MANAGER",
    help: "who creates the container's cgroup",
    example: "cgroupfs",
  },
  {
    key: "userns.idmap",
    type: "enum",
    values: IDMAP_MODES,
    default: "auto",
    env: "NOOK_IDMAP",
    help: "auto: /etc/subuid ranges through newuidmap; single: only your own id",
    example: "single",
  },
];

/** The definition of a key. */
export function keyDef(key: string): KeyDef | undefined {
  return CONFIG_KEYS.find((k) => k.key === key);
}

/** Section names (`network`, `storage`…). */
export const SECTIONS: readonly string[] = [...new Set(CONFIG_KEYS.map((k) => k.key.split(".")[0]!))];

/** Where a value came from. */
export type ValueSource = "default" | "file" | "env";

/** Values by dotted key (one layer: file or env), already checked. */
export type ConfigValues = Partial<Record<ConfigKey, unknown>>;

/** Expand a leading `~/` with `$HOME`. */
function expandHome(path: string): string {
  if (path !== "~" && !path.startsWith("~/")) return path;
  const home = Deno.env.get("HOME");
  if (!home) throw `"${path}" starts with ~ but HOME is not set`;
  return home + path.slice(1);
}

/**
 * Check a value read from YAML (already plain JS) against its key; returns the
 * normalized value. `where` says where it was read ("line 3 of …") and is
 * part of the error message.
 */
export function checkValue(def: KeyDef, raw: unknown, where: string, itemWhere?: (index: number) => string): unknown {
  const fail = (why: string, at = where): never => {
    throw new ConfigError(`Invalid value for "${def.key}" ${at}: ${why}`, {
      hint: `${hintFor(def)}; remove the key to use the default (${formatValue(def.default)})`,
    });
  };
  const one = (v: unknown, at: string): string => {
    if (typeof v !== "string" && typeof v !== "number") return fail(`expected a string, got ${describe(v)}`, at);
    try {
      return def.item ? def.item(String(v)) : String(v);
    } catch (why) {
      return fail(String(why), at);
    }
  };
  switch (def.type) {
    case "enum": {
      if (typeof raw !== "string" || !def.values!.includes(raw)) {
        return fail(`${typeof raw === "string" ? `"${raw}"` : describe(raw)} is not one of ${def.values!.join(", ")}`);
      }
      return raw;
    }
    case "bool":
      if (typeof raw !== "boolean") return fail(`expected true or false, got ${describe(raw)}`);
      return raw;
    case "string":
      return one(raw, where);
    case "path": {
      if (raw === "") return ""; // the default location
      if (typeof raw !== "string") return fail(`expected a path, got ${describe(raw)}`);
      let p: string;
      try {
        p = expandHome(raw);
      } catch (why) {
        return fail(String(why));
      }
      if (!p.startsWith("/")) return fail(`"${raw}" is not an absolute path (or ~/…)`);
      return p.replace(/(.)\/+$/, "$1");
    }
    case "list": {
      if (!Array.isArray(raw)) return fail(`expected a list, got ${describe(raw)}`);
      return raw.map((v, i) => one(v, itemWhere?.(i) ?? where));
    }
    case "map": {
      if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
        return fail(`expected a mapping of registry to a list of mirrors, got ${describe(raw)}`);
      }
      const out: Record<string, string[]> = {};
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        try {
          def.mapKey?.(k);
        } catch (why) {
          fail(String(why));
        }
        if (!Array.isArray(v)) return fail(`the value of "${k}" must be a list, got ${describe(v)}`);
        out[k] = v.map((x) => one(x, where));
      }
      return out;
    }
  }
}

/** Parse a `NOOK_*` variable's text as the key's value. */
export function parseEnvValue(def: KeyDef, text: string): unknown {
  const where = `in ${def.env}`;
  switch (def.type) {
    case "bool": {
      const t = text.trim().toLowerCase();
      if (["1", "true", "yes", "on"].includes(t)) return true;
      if (["0", "false", "no", "off", ""].includes(t)) return false;
      return checkValue(def, text, where);
    }
    case "list":
      return checkValue(def, text.split(",").map((s) => s.trim()).filter(Boolean), where);
    default:
      return checkValue(def, text, where);
  }
}

function hintFor(def: KeyDef): string {
  switch (def.type) {
    case "enum":
      return `"${def.key}" takes one of: ${def.values!.join(", ")}`;
    case "bool":
      return `"${def.key}" takes true or false`;
    case "path":
      return `"${def.key}" takes an absolute path`;
    case "list":
      return `"${def.key}" takes a list, e.g. ${formatValue(def.example)}`;
    case "map":
      return `"${def.key}" takes a mapping, e.g. ${formatValue(def.example)}`;
    default:
      return `"${def.key}" takes e.g. ${formatValue(def.example)}`;
  }
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return "nothing";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string") return `"${v}"`;
  return `${typeof v} ${String(v)}`;
}

/** A value in YAML flow style, for messages and docs. */
export function formatValue(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(formatValue).join(", ")}]`;
  if (v !== null && typeof v === "object") {
    return `{${Object.entries(v).map(([k, x]) => `${k}: ${formatValue(x)}`).join(", ")}}`;
  }
  if (v === "") return '""';
  return String(v);
}

/** Build the nested config from defaults and layers (later layers win). */
export function buildConfig(...layers: ConfigValues[]): NookConfig {
  const out: Record<string, Record<string, unknown>> = {};
  const copy = (v: unknown): unknown =>
    Array.isArray(v)
      ? [...v]
      : v !== null && typeof v === "object"
      ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, copy(x)]))
      : v;
  for (const def of CONFIG_KEYS) {
    const [section, name] = def.key.split(".") as [string, string];
    let value = def.default;
    for (const layer of layers) if (def.key in layer) value = layer[def.key];
    (out[section] ??= {})[name] = copy(value);
  }
  return out as unknown as NookConfig;
}

/** A fingerprint of the key table: load.ts's `KEYS_FINGERPRINT` must equal it (a test checks). */
export function keysFingerprint(): string {
  const text = CONFIG_KEYS.map((k) => `${k.key}/${k.type}/${k.values?.join("|") ?? ""}/${k.env ?? ""}`).join(",");
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, "0");
}

/** Values a `nook run` flag's config key allows (enums), for completions. */
export function flagChoices(flag: string): readonly string[] | undefined {
  const key = RUN_FLAG_DEFAULTS.find((d) => d.flag === flag)?.key;
  return key ? keyDef(key)?.values : undefined;
}

/** Suggest the key closest to a misspelled one. */
export function closestKey(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined, bestD = 3;
  for (const c of candidates) {
    const d = distance(name, c);
    if (d < bestD) [best, bestD] = [c, d];
  }
  return best;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}
