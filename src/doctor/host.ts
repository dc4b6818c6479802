/**
 * What the host says, read through paths that tests can point elsewhere
 * (a fake /proc/sys, an empty /etc/subuid, a PATH without newuidmap, an
 * unusable /dev/fuse) — so faults can be injected without root.
 */
import { configFile } from "../config/load.ts";
import { dataDir } from "../paths/mod.ts";
import { findExecutable, userName } from "../userns/mod.ts";
import type { ManagerHost } from "../cgroupv2/mod.ts";
import { autoMemoFile, fileStamp, type NetworkHost, readDefaultRoutes, timeHelperStartsSync, trialPasta, tunProblem } from "../network/mod.ts";

/** The host inputs of the checks; every field has the real host as default. */
export interface HostInputs {
  /** The user's uid. */
  uid: number;
  /** The user's gid. */
  gid: number;
  /** The user's name (from /etc/passwd). */
  user: string | undefined;
  /** The environment nook runs with (XDG_RUNTIME_DIR, HOME, NOOK_IDMAP…). */
  env: Record<string, string>;
  /** Where helper programs are searched: $PATH plus the system directories, as `nook run` does. */
  toolPath: string;
  /** /proc/sys. */
  procSys: string;
  /** /proc/self/mountinfo. */
  mountinfo: string;
  /** /proc/self/status. */
  procStatus: string;
  /** /proc/self/cgroup. */
  procCgroup: string;
  /** /proc/1/comm (is PID 1 systemd?). */
  pid1Comm: string;
  /** /run/systemd/system (exists when systemd is the init system: what `nook run` asks). */
  systemdRunDir: string;
  /** /proc/net (route and ipv6_route: the interfaces with a default route). */
  procNet: string;
  /** Where `nook run` keeps the default network's verdict (null: not kept, as for injected inputs). */
  networkMemo: string | null;
  /** /etc/os-release. */
  osRelease: string;
  /** /etc/subuid. */
  subuid: string;
  /** /etc/subgid. */
  subgid: string;
  /** /dev/fuse. */
  devFuse: string;
  /** /dev/net/tun. */
  devTun: string;
  /** The cgroup v2 mount point. */
  cgroupRoot: string;
  /** Where nook keeps images and containers. */
  storageDir: string;
  /** The real path of the program that clones (the compiled nook, or the Deno that runs it). */
  nookPath: string;
  /** The config file. */
  configFile: string;
  /** Where the parsed config is cached (null: no cache). */
  configCache?: string | null;
  /** Run trial containers (clone, overlay and fuse-overlayfs mounts). */
  trials: boolean;
}

/** The real host, with some inputs replaced. */
export function hostInputs(over: Partial<HostInputs> = {}): HostInputs {
  const env = over.env ?? Deno.env.toObject();
  const uid = over.uid ?? Deno.uid() ?? 0;
  let nookPath = Deno.execPath();
  try {
    nookPath = Deno.realPathSync(nookPath);
  } catch {
    // keep what Deno said
  }
  return {
    uid,
    gid: Deno.gid() ?? 0,
    user: userName(uid),
    env,
    // The same search as detectIdMapping: $PATH, then the system directories.
    toolPath: `${env.PATH ?? ""}:/usr/bin:/usr/sbin:/bin:/sbin`,
    procSys: "/proc/sys",
    mountinfo: "/proc/self/mountinfo",
    procStatus: "/proc/self/status",
    procCgroup: "/proc/self/cgroup",
    pid1Comm: "/proc/1/comm",
    systemdRunDir: "/run/systemd/system",
    procNet: "/proc/net",
    networkMemo: safe(autoMemoFile, "") || null,
    osRelease: "/etc/os-release",
    subuid: "/etc/subuid",
    subgid: "/etc/subgid",
    devFuse: "/dev/fuse",
    devTun: "/dev/net/tun",
    cgroupRoot: "/sys/fs/cgroup",
    storageDir: safe(dataDir, ""),
    nookPath,
    configFile: safe(configFile, ""),
    trials: true,
    ...over,
  };
}

/** The host inputs as the cgroup manager's choice reads them (the same choice `nook run` makes). */
export function managerHostFor(host: HostInputs): ManagerHost {
  return {
    env: (name) => host.env[name],
    uid: host.uid,
    pid: Deno.pid,
    ownCgroup: () => ownCgroup(host),
    systemdBooted: () => {
      try {
        return Deno.statSync(host.systemdRunDir).isDirectory;
      } catch {
        return false;
      }
    },
  };
}

/** The host inputs as the default network's choice reads them (the same choice `nook run` makes). */
export function networkHostFor(host: HostInputs): NetworkHost {
  return {
    // nook run searches $PATH, then the system directories (and podman's)
    find: (tool) => findExecutable(tool, `${host.toolPath}:/usr/local/bin:/usr/libexec/podman`),
    tunProblem: () => tunProblem(host.devTun),
    defaultRoutes: () => readDefaultRoutes(host.procNet),
    stamp: fileStamp,
    // the real host (the one whose verdict is kept) times the helpers as nook run does; injected inputs do not
    ...(host.networkMemo ? { memoFile: host.networkMemo, timeStarts: timeHelperStartsSync } : {}),
    tryPasta: trialPasta,
  };
}

function safe(fn: () => string, fallback: string): string {
  try {
    return fn();
  } catch {
    return fallback;
  }
}

/** A file's text, or undefined when it cannot be read. */
export function readText(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return undefined;
  }
}

/** A sysctl by its dotted name (`user.max_user_namespaces`), or undefined when the kernel has none. */
export function sysctl(host: HostInputs, name: string): string | undefined {
  return readText(`${host.procSys}/${name.replaceAll(".", "/")}`)?.trim();
}

/** Fields of /etc/os-release. */
export function osRelease(host: HostInputs): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of (readText(host.osRelease) ?? "").split("\n")) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!.replace(/^(["'])(.*)\1$/, "$2");
  }
  return out;
}

/** The first executable `name` in the tool search path (as `nook run` searches for newuidmap). */
export function findTool(host: HostInputs, name: string): string | undefined {
  return findExecutable(name, host.toolPath);
}

/** One line of /proc/self/mountinfo. */
export interface MountEntry {
  /** Mount point. */
  mountPoint: string;
  /** Filesystem type. */
  fstype: string;
  /** Mount source. */
  source: string;
  /** Per-mount options (rw, noexec, nosuid…). */
  options: string[];
  /** Superblock options. */
  superOptions: string[];
}

/** Parse /proc/self/mountinfo. */
export function mounts(host: HostInputs): MountEntry[] {
  const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
  const out: MountEntry[] = [];
  for (const line of (readText(host.mountinfo) ?? "").split("\n")) {
    const [left, right] = line.split(" - ");
    if (!left || !right) continue;
    const l = left.split(" ");
    const r = right.split(" ");
    out.push({
      mountPoint: unescape(l[4] ?? ""),
      options: (l[5] ?? "").split(","),
      fstype: r[0] ?? "",
      source: unescape(r[1] ?? ""),
      superOptions: (r[2] ?? "").split(","),
    });
  }
  return out;
}

/** The deepest existing directory at or above `path`. */
export function existingAncestor(path: string): string {
  let p = path || "/";
  for (;;) {
    try {
      if (Deno.statSync(p).isDirectory) return p;
    } catch {
      // go up
    }
    const i = p.lastIndexOf("/");
    if (i <= 0) return "/";
    p = p.slice(0, i);
  }
}

/** The mount a path lives on (the last, longest matching mount point). */
export function mountOf(host: HostInputs, path: string): MountEntry | undefined {
  let real = existingAncestor(path);
  try {
    real = Deno.realPathSync(real);
  } catch {
    // use it as it is
  }
  let best: MountEntry | undefined;
  for (const m of mounts(host)) {
    const mp = m.mountPoint;
    const inside = mp === "/" || real === mp || real.startsWith(mp.endsWith("/") ? mp : `${mp}/`);
    if (inside && (!best || mp.length >= best.mountPoint.length)) best = m;
  }
  return best;
}

/** How cgroups are mounted. */
export interface CgroupLayout {
  /** `v2`: unified at the root; `hybrid`: v1 controllers plus a v2 mount elsewhere; `v1`; `none`. */
  version: "v2" | "hybrid" | "v1" | "none";
  /** Where the v2 hierarchy is mounted, if anywhere. */
  v2Mount?: string;
  /** v1 controllers that are mounted. */
  v1Controllers: string[];
}

/** Read the cgroup layout from mountinfo. */
export function cgroupLayout(host: HostInputs): CgroupLayout {
  const all = mounts(host);
  const v2 = all.filter((m) => m.fstype === "cgroup2");
  const v1 = all.filter((m) => m.fstype === "cgroup");
  const v1Controllers = v1.flatMap((m) => m.superOptions.filter((o) => !["rw", "ro"].includes(o) && !o.startsWith("name=")));
  const atRoot = v2.find((m) => m.mountPoint === host.cgroupRoot);
  if (atRoot && v1.length === 0) return { version: "v2", v2Mount: atRoot.mountPoint, v1Controllers };
  if (v2.length && v1.length) return { version: "hybrid", v2Mount: (atRoot ?? v2[0]!).mountPoint, v1Controllers };
  if (atRoot ?? v2[0]) return { version: "v2", v2Mount: (atRoot ?? v2[0]!).mountPoint, v1Controllers };
  return { version: v1.length ? "v1" : "none", v1Controllers };
}

/** Where this process sits in the v2 hierarchy ("/user.slice/…"), from /proc/self/cgroup. */
export function ownCgroup(host: HostInputs): string | undefined {
  for (const line of (readText(host.procCgroup) ?? "").split("\n")) {
    if (line.startsWith("0::")) return line.slice(3) || "/";
  }
  return undefined;
}

/** The controllers listed in a cgroup's `cgroup.controllers`. */
export function cgroupControllers(dir: string): string[] | undefined {
  const text = readText(`${dir}/cgroup.controllers`);
  return text === undefined ? undefined : text.trim().split(/\s+/).filter(Boolean);
}

/** Whether a device can be opened for reading and writing, and why not. */
export function deviceUsable(path: string): { ok: true } | { ok: false; reason: "missing" | "denied" | "other"; message: string } {
  try {
    Deno.openSync(path, { read: true, write: true }).close();
    return { ok: true };
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return { ok: false, reason: "missing", message: "does not exist" };
    if (err instanceof Deno.errors.PermissionDenied) {
      let mode = "";
      try {
        mode = ` (mode ${((Deno.statSync(path).mode ?? 0) & 0o777).toString(8).padStart(4, "0")})`;
      } catch {
        // no mode to show
      }
      return { ok: false, reason: "denied", message: `cannot be opened for reading and writing${mode}` };
    }
    return { ok: false, reason: "other", message: (err as Error).message };
  }
}

/** Free bytes and size of the filesystem holding `path`, from df. */
export async function diskSpace(path: string): Promise<{ free: number; size: number } | undefined> {
  try {
    const out = await new Deno.Command("df", { args: ["-Pk", existingAncestor(path)], stdout: "piped", stderr: "null" })
      .output();
    const cols = new TextDecoder().decode(out.stdout).trim().split("\n")[1]?.split(/\s+/);
    if (!out.success || !cols || cols.length < 4) return undefined;
    return { size: Number(cols[1]) * 1024, free: Number(cols[3]) * 1024 };
  } catch {
    return undefined;
  }
}

/** Run a program and collect its output (doctor only: Deno.Command is not for the run path). */
export async function capture(cmd: string, args: string[], env?: Record<string, string>): Promise<{ code: number; out: string }> {
  try {
    const o = await new Deno.Command(cmd, {
      args,
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
      ...(env ? { env, clearEnv: true } : {}),
    }).output();
    const dec = new TextDecoder();
    return { code: o.code, out: dec.decode(o.stdout) + dec.decode(o.stderr) };
  } catch (err) {
    return { code: -1, out: (err as Error).message };
  }
}

/** Kernel release as [major, minor]. */
export function kernelVersion(host: HostInputs): [number, number] | undefined {
  const m = /^(\d+)\.(\d+)/.exec(sysctl(host, "kernel.osrelease") ?? "");
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

/** Bytes as "12.3 GiB". */
export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) [n, i] = [n / 1024, i + 1];
  return `${i ? n.toFixed(1) : n} ${units[i]}`;
}
