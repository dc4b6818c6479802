/**
 * The built-in sections of `nook info`, read from the host with the
 * doctor's probes. Concerns with a richer view replace theirs (providers.ts).
 */
import {
  buildConfig,
  configCacheFile,
  CONFIG_KEYS,
  configValue,
  loadConfig,
  loadCurrent,
  type NookConfig,
} from "../config/mod.ts";
import {
  cgroupLayout,
  deviceUsable,
  diskSpace,
  findTool,
  formatBytes,
  hostInputs,
  kernelVersion,
  managerHostFor,
  mappingFor,
  mountOf,
  networkHostFor,
  osRelease,
  ownCgroup,
  readText,
  sysctl,
} from "../doctor/mod.ts";
import { version } from "../ffi/mod.ts";
import { cgroupInfo } from "../cgroupv2/mod.ts";
import { dataDir, runtimeDir } from "../paths/mod.ts";
import { NOOK_VERSION } from "../version.ts";
import type { InfoSection } from "./providers.ts";

const host = () => hostInputs({ trials: false });

/** nook, Deno, V8, TypeScript and libshim versions. */
export async function versionsInfo(): Promise<InfoSection> {
  let libshim = "not built";
  try {
    libshim = `plan v${await version()}`;
  } catch {
    // shown as not built
  }
  return {
    version: NOOK_VERSION,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    typescript: Deno.version.typescript,
    libshim,
    executable: host().nookPath,
  };
}

/** Kernel, distribution, architecture, user. */
export function hostInfo(): InfoSection {
  const h = host();
  const os = osRelease(h);
  const mem = /^MemTotal:\s+(\d+) kB/m.exec(readText("/proc/meminfo") ?? "")?.[1];
  return {
    kernel: sysctl(h, "kernel.osrelease") ?? "unknown",
    os: os.PRETTY_NAME ?? os.NAME ?? "unknown",
    arch: Deno.build.arch,
    cpus: navigator.hardwareConcurrency,
    memory: mem ? formatBytes(Number(mem) * 1024) : "unknown",
    user: `${h.user ?? "?"} (uid ${h.uid}, gid ${h.gid})`,
  };
}

/** The id mapping `nook run` uses. */
export function idmapInfo(): InfoSection {
  const m = mappingFor(host());
  const lines = (rs: { inside: number; outside: number; count: number }[]) => rs.map((r) => `${r.inside} ${r.outside} ${r.count}`);
  return {
    mode: m.mode,
    uid_map: lines(m.uidMap),
    gid_map: lines(m.gidMap),
    newuidmap: m.newuidmap ?? null,
    newgidmap: m.newgidmap ?? null,
    ...(m.notice ? { notice: m.notice } : {}),
  };
}

/** Storage path, filesystem, backend setting and what is available. */
export async function storageInfo(): Promise<InfoSection> {
  const h = host();
  const cfg = await buildConfigSafe();
  const path = dataDir();
  const m = mountOf(h, path);
  const space = await diskSpace(path);
  const kv = kernelVersion(h);
  const fuse = findTool(h, "fuse-overlayfs");
  const { storageBackend } = await import("../overlay/backend.ts");
  let backend: InfoSection = {};
  try {
    const b = await storageBackend(); // the choice nook run makes (and its cache)
    backend = { backend: b.backend, backend_source: b.source, ...(b.reasons.length ? { backend_reasons: b.reasons } : {}) };
  } catch (err) {
    backend = { backend: `unknown: ${(err as Error).message}` };
  }
  const backends = [
    ...(kv && (kv[0] > 5 || (kv[0] === 5 && kv[1] >= 11)) ? ["overlay"] : []),
    ...(fuse && deviceUsable(h.devFuse).ok ? ["fuse-overlayfs"] : []),
    "copy",
  ];
  return {
    driver: cfg.storage.driver,
    ...backend,
    available: backends,
    path,
    filesystem: m ? `${m.fstype} (${m.mountPoint})` : "unknown",
    free: space ? formatBytes(space.free) : "unknown",
  };
}

/** cgroup version, the manager `nook run` uses (the same choice) and its delegated controllers. */
export async function cgroupsInfo(): Promise<InfoSection> {
  const h = host();
  const l = cgroupLayout(h);
  const cfg = await buildConfigSafe();
  const m = await cgroupInfo(h.cgroupRoot, managerHostFor(h));
  return {
    version: l.version,
    v2_mount: l.v2Mount ?? null,
    cgroup: ownCgroup(h) ?? null,
    manager_setting: cfg.cgroups.manager,
    manager: m.manager,
    ...(m.reason ? { manager_reason: m.reason } : {}),
    controllers: m.controllers,
    delegated: m.path ?? null,
  };
}

/** The default network mode and the user-mode networking tools. */
export async function networkInfo(): Promise<InfoSection> {
  const h = host();
  const cfg = await buildConfigSafe();
  // "auto" (the default) is what the network concern picks on this host: the choice nook run makes
  const { networkInfo: report } = await import("../network/mod.ts");
  const net = cfg.network.mode === "auto" ? await report(networkHostFor(h)) : undefined;
  return {
    default: net ? net.defaultMode : cfg.network.mode,
    ...(net?.defaultReason ? { default_reason: net.defaultReason } : {}),
    default_routes: net?.defaultRoutes ?? [],
    pasta: findTool(h, "pasta") ?? null,
    slirp4netns: findTool(h, "slirp4netns") ?? null,
    tun: deviceUsable(h.devTun).ok ? "usable" : "unusable",
    unprivileged_port_start: Number(sysctl(h, "net.ipv4.ip_unprivileged_port_start") ?? 1024),
  };
}

/** seccomp support, default capabilities, AppArmor restriction. */
export async function securityInfo(): Promise<InfoSection> {
  const h = host();
  const cfg = await buildConfigSafe();
  return {
    seccomp: sysctl(h, "kernel.seccomp.actions_avail") ? cfg.security.seccomp : "not supported by the kernel",
    capabilities: cfg.security.capabilities,
    no_new_privileges: cfg.security.no_new_privileges,
    apparmor_userns_restriction: sysctl(h, "kernel.apparmor_restrict_unprivileged_userns") ?? "not present",
  };
}

/** The config file and every value with where it came from. */
export async function configInfo(): Promise<InfoSection> {
  try {
    // the report loaded at start-up, before its values became NOOK_* defaults (applyConfigToEnv)
    const r = await loadCurrent();
    const out: InfoSection = { file: r.file, exists: r.exists };
    for (const def of CONFIG_KEYS) {
      const v = configValue(r.config, def.key);
      const text = Array.isArray(v) ? v.join(", ") || "[]" : typeof v === "object" ? JSON.stringify(v) : String(v) || '""';
      out[def.key] = `${text} (${r.sources[def.key]})`;
    }
    return out;
  } catch (err) {
    return { error: (err as Error).message };
  }
}

/** Where nook keeps things. */
export function pathsInfo(): InfoSection {
  let runtime: string;
  try {
    runtime = runtimeDir();
  } catch (err) {
    runtime = `unusable: ${(err as Error).message}`;
  }
  return {
    data: dataDir(),
    runtime,
    config: host().configFile,
    config_cache: configCacheFile(),
  };
}

/** The config, or the defaults when it is invalid (the config section shows the error). */
async function buildConfigSafe(): Promise<NookConfig> {
  try {
    return await loadConfig();
  } catch {
    return buildConfig();
  }
}


