/**
 * The container's user namespace and devices: the mode a request asks for
 * (`--userns`, `--uidmap`/`--gidmap`, `--subuidname`), the caller's own
 * entry in /etc/passwd and /etc/group under keep-id, and `--device` nodes.
 *
 * @module
 */
import { UsageError } from "../errors/mod.ts";
import type { ContainerSpec, DeviceSpec, MountSpec } from "../model/mod.ts";
import { MS } from "../plan/mod.ts";
import { HELLO_NAMES } from "../image/builtin_hello.ts";
import { autoRanges, belowMapping, detectIdMapping, type IdMapping, mappedCount, type ModeMapping, modeMapping, parseUsernsMode, userName } from "../userns/mod.ts";
import { containerDir, dataDir, storeLockPath } from "../paths/mod.ts";
import type { RunRequest } from "./run_request.ts";

/** The mapping a request asks for, from the caller's base mapping; `id` is the new container's (auto records its slice by it). */
export function resolveUserns(req: RunRequest, base: IdMapping, id?: string): ModeMapping {
  if (req.subuidName || req.subgidName) {
    // podman: the ranges of another name in /etc/subuid and /etc/subgid (newuidmap checks they are the caller's)
    const u = req.subuidName ? detectIdMapping({ user: req.subuidName }) : base;
    const g = req.subgidName ? detectIdMapping({ user: req.subgidName }) : base;
    base = { ...u, gidMap: g.gidMap };
  }
  let parsed = parseUsernsMode(req.userns, req.uidmap, req.gidmap);
  if (parsed.kind === "auto") {
    if (base.mode !== "subid") {
      throw new UsageError(`--userns=auto needs subordinate ids: ${base.notice ?? "only your own id is mapped"}`, {
        hint: "install uidmap and give your user a range in /etc/subuid and /etc/subgid",
      });
    }
    const available = Math.min(mappedCount(base.uidMap), mappedCount(base.gidMap)) - 1;
    const start = allocateAuto(id ?? "", parsed.size - 1, available);
    parsed = { kind: "custom", uidmap: autoRanges(start, parsed.size), gidmap: autoRanges(start, parsed.size) };
  }
  let mode = modeMapping(parsed, base, Deno.uid()!, Deno.gid()!);
  if (req.userns?.startsWith("auto")) {
    mode.autoSlice = true;
    const image = req.source.image;
    if (parsed.kind === "custom" && mode.layerShift && image !== undefined && !HELLO_NAMES.includes(image)) {
      // An image's files of users other than root belong to the subordinate ids they were unpacked
      // with, which a slice elsewhere in the range does not hold (fuse-overlayfs in the container's
      // namespace could not reach them): the root is set up in a namespace with the caller's
      // mapping, where they are all visible, and the container's namespace is made below it.
      mode = { ...belowMapping(base, parsed.uidmap, parsed.gidmap), autoSlice: true };
    }
  }
  return mode;
}

/** The mapping a recorded container runs with: its own, else the caller's. */
export function specMapping(spec: ContainerSpec, base: IdMapping): IdMapping {
  return spec.idMap ? { ...base, mode: "subid", uidMap: spec.idMap.uidMap, gidMap: spec.idMap.gidMap } : base;
}

/** The caller as keep-id shows them inside: name, home, shell from the host's passwd. */
export interface KeptUser {
  /** uid inside. */
  uid: number;
  /** gid inside. */
  gid: number;
  /** The caller's name. */
  name: string;
  /** Home directory inside. */
  home: string;
}

/**
 * keep-id: the image's /etc/passwd and /etc/group with the caller's entry
 * added (when the id is not there yet), written next to the container's other
 * /etc files and bound over the image's.
 */
export function keepIdEtc(
  dir: string,
  keep: { uid: number; gid: number },
  readFile: (p: string) => string | undefined,
): { user: KeptUser; mounts: MountSpec[] } {
  const name = userName(Deno.uid()!) ?? "user";
  let home = Deno.env.get("HOME") || `/home/${name}`;
  let shell = "/bin/sh";
  for (const line of readText("/etc/passwd").split("\n")) {
    const f = line.split(":");
    if (f[0] === name && f.length >= 7) {
      home = f[5] || home;
      shell = f[6] || shell;
    }
  }
  const passwd = readFile("/etc/passwd") ?? "";
  const group = readFile("/etc/group") ?? "";
  const hasUid = passwd.split("\n").some((l) => l.split(":")[2] === String(keep.uid));
  const hasGid = group.split("\n").some((l) => l.split(":")[2] === String(keep.gid));
  const nl = (t: string) => (t === "" || t.endsWith("\n") ? t : t + "\n");
  const passwdOut = hasUid ? passwd : nl(passwd) + `${name}:*:${keep.uid}:${keep.gid}:${name}:${home}:${shell}\n`;
  const groupOut = hasGid ? group : nl(group) + `${name}:x:${keep.gid}:\n`;
  Deno.writeTextFileSync(`${dir}/passwd`, passwdOut, { mode: 0o644 });
  Deno.writeTextFileSync(`${dir}/group`, groupOut, { mode: 0o644 });
  const bind = (f: string): MountSpec => ({ source: `${dir}/${f}`, target: `/etc/${f}`, fstype: "", flags: MS.BIND, file: true });
  const entry = passwd.split("\n").find((l) => l.split(":")[2] === String(keep.uid))?.split(":");
  return {
    user: { uid: keep.uid, gid: keep.gid, name: entry?.[0] ?? name, home: entry?.[5] || home },
    mounts: [bind("passwd"), bind("group")],
  };
}

/** `--device HOST[:CONTAINER][:PERMS]` (PERMS of r, w, m) → the nodes to bind: one, or every node under a directory (/dev/snd). */
export function parseDevice(value: string): DeviceSpec[] {
  const parts = value.split(":");
  const host = parts[0] ?? "";
  let container = host;
  let perms = "rwm";
  if (parts.length === 2) {
    if (/^[rwm]+$/.test(parts[1]!)) perms = parts[1]!;
    else container = parts[1]!;
  } else if (parts.length === 3) {
    container = parts[1]!;
    perms = parts[2]!;
  } else if (parts.length > 3) {
    throw new UsageError(`Invalid --device "${value}"`, { hint: "use --device HOST[:CONTAINER][:PERMS], e.g. /dev/snd:/dev/snd:rw" });
  }
  if (!host.startsWith("/") || !container.startsWith("/") || !/^[rwm]+$/.test(perms)) {
    throw new UsageError(`Invalid --device "${value}"`, {
      hint: "use --device HOST[:CONTAINER][:PERMS] with absolute paths and PERMS of r, w and m",
    });
  }
  let st: Deno.FileInfo;
  try {
    st = Deno.statSync(host);
  } catch (err) {
    throw new UsageError(`Cannot use the device "${host}": ${err instanceof Deno.errors.NotFound ? "no such file" : (err as Error).message}`, {
      path: host,
      hint: "name a device node that exists on this host",
    });
  }
  const writable = perms.includes("w");
  if (st.isDirectory) {
    const out: DeviceSpec[] = [];
    const walk = (dir: string, depth: number) => {
      if (depth > 8) return;
      for (const e of Deno.readDirSync(dir)) {
        const p = `${dir}/${e.name}`;
        if (e.isDirectory) walk(p, depth + 1);
        else if (!e.isSymlink) {
          const s = Deno.statSync(p);
          if (s.isCharDevice || s.isBlockDevice) out.push({ host: p, container: container + p.slice(host.length), writable });
        }
      }
    };
    walk(host, 0);
    if (out.length === 0) throw new UsageError(`Cannot use the device "${host}": the directory holds no device node`, { path: host });
    return out;
  }
  if (!st.isCharDevice && !st.isBlockDevice) {
    throw new UsageError(`Cannot use the device "${host}": it is not a device node`, { path: host, hint: "use -v to bind files" });
  }
  return [{ host, container, writable }];
}

/** A parsed `--device-cgroup-rule`: docker's TYPE MAJOR:MINOR ACCESS. */
export interface DeviceCgroupRule {
  /** a (all), b (block) or c (char). */
  type: "a" | "b" | "c";
  /** Major number, or -1 for `*`. */
  major: number;
  /** Minor number, or -1 for `*`. */
  minor: number;
  /** Some of r, w, m. */
  access: string;
}

/** Parse `--device-cgroup-rule` ("c 1:3 rwm", "a *:* rwm", "b 7:* rw"). */
export function parseDeviceCgroupRule(value: string): DeviceCgroupRule {
  const m = /^([abc]) (\*|\d{1,10}):(\*|\d{1,10}) ([rwm]{1,3})$/.exec(value.trim());
  if (!m || new Set(m[4]).size !== m[4]!.length) {
    throw new UsageError(`Invalid --device-cgroup-rule "${value}"`, {
      hint: 'use TYPE MAJOR:MINOR ACCESS: TYPE a, b or c, MAJOR and MINOR numbers or *, ACCESS of r, w and m, e.g. "c 1:3 rwm"',
    });
  }
  const num = (s: string) => (s === "*" ? -1 : Number(s));
  return { type: m[1] as "a" | "b" | "c", major: num(m[2]!), minor: num(m[3]!), access: m[4]! };
}

/**
 * `--device-cgroup-rule`: checked, then refused. cgroup v2 controls device access with an eBPF
 * program attached to the container's cgroup, and the kernel loads such a program only for a
 * process privileged over the whole host (CAP_BPF or CAP_SYS_ADMIN in the first user namespace,
 * or a BPF token an administrator delegated): a delegated cgroup does not change that, so a
 * rootless container cannot have such a rule. Refused rather than ignored (as podman does), so
 * nobody believes a device is fenced off when it is not.
 */
export function refuseDeviceCgroupRules(values: readonly string[]): void {
  if (values.length === 0) return;
  values.forEach(parseDeviceCgroupRule);
  const rootless = Deno.uid() !== 0;
  throw new UsageError(
    rootless
      ? `Device cgroup rules cannot be applied to a rootless container ("${values[0]}"): cgroup v2 controls devices with an eBPF program that the kernel loads only for a process privileged over the whole host`
      : `Device cgroup rules are not supported by nook yet ("${values[0]}")`,
    {
      hint: rootless
        ? "leave --device-cgroup-rule out: a rootless container cannot create device nodes, so it reaches only the nodes bound in with --device, on those nodes' own permissions"
        : "leave --device-cgroup-rule out and bind the nodes with --device",
    },
  );
}

/**
 * `--group-add`: gids or group names of the image added to the process's
 * groups; `keep-groups` keeps the caller's own supplementary groups instead
 * (as crun's run.oci.keep_original_groups), so devices owned by video,
 * render or audio open. Returns whether groups are kept.
 */
export function applyGroupAdd(values: readonly string[], user: { groups: number[] }, readFile: (p: string) => string | undefined): boolean {
  let keep = false;
  for (const v of values) {
    if (v === "keep-groups") {
      keep = true;
      continue;
    }
    let gid = /^\d{1,10}$/.test(v) ? Number(v) : undefined;
    if (gid === undefined) {
      const line = (readFile("/etc/group") ?? "").split("\n").find((l) => l.split(":")[0] === v);
      if (!line) {
        throw new UsageError(`Unable to find group "${v}": no matching entries in the container's /etc/group`, {
          hint: "use a numeric gid, a group of the image, or keep-groups",
        });
      }
      gid = Number(line.split(":")[2]);
    }
    if (!user.groups.includes(gid)) user.groups.push(gid);
  }
  if (keep && values.length > 1) {
    throw new UsageError("--group-add keep-groups cannot be combined with other groups", {
      hint: "the caller's own groups are kept as they are; setgroups is never called",
    });
  }
  return keep;
}

interface AutoSlice {
  /** First id, relative to the caller's mapping (1 = the first subordinate id). */
  start: number;
  /** Number of ids. */
  count: number;
  /** When it was given (a slice whose container record is not made yet is kept a while). */
  at: number;
  /** The process that took it (its record comes next, made by that process). */
  pid: number;
}

/** Where `--userns=auto` records the slices it gave: the store, next to its lock. */
export function autoSlicesPath(): string {
  return `${dataDir()}/userns-auto.json`;
}

/**
 * Give a container a slice of the subordinate range no other container of
 * this store holds, recorded under the store lock (exclusive, held briefly).
 * A slice is free again once its container's record is gone.
 */
export function allocateAuto(id: string, count: number, available: number): number {
  Deno.mkdirSync(dataDir(), { recursive: true, mode: 0o700 });
  using lock = Deno.openSync(storeLockPath(), { read: true, write: true, create: true, mode: 0o600 });
  lock.lockSync(true);
  let slices: Record<string, AutoSlice> = {};
  try {
    slices = JSON.parse(Deno.readTextFileSync(autoSlicesPath()));
  } catch {
    // none yet
  }
  const now = Date.now();
  for (const [owner, s] of Object.entries(slices)) {
    let alive = now - s.at < 60_000 && existsPath(`/proc/${s.pid}`);
    try {
      Deno.statSync(containerDir(owner));
      alive = true;
    } catch {
      // record gone
    }
    if (!alive) delete slices[owner];
  }
  const taken = Object.values(slices).sort((a, b) => a.start - b.start);
  let start = 1;
  for (const s of taken) {
    if (start + count <= s.start) break;
    start = Math.max(start, s.start + s.count);
  }
  if (start + count - 1 > available) {
    throw new UsageError(`No free ${count + 1} ids are left in your subordinate range for --userns=auto (${taken.length} containers hold slices)`, {
      hint: "remove containers that ran with --userns=auto, ask for a smaller one with --userns=auto:size=N, or ask an admin for a larger range in /etc/subuid",
    });
  }
  slices[id] = { start, count, at: now, pid: Deno.pid };
  const tmp = `${autoSlicesPath()}.${Deno.pid}`;
  Deno.writeTextFileSync(tmp, JSON.stringify(slices) + "\n");
  Deno.renameSync(tmp, autoSlicesPath());
  return start;
}

function existsPath(p: string): boolean {
  try {
    Deno.statSync(p);
    return true;
  } catch {
    return false;
  }
}

function readText(p: string): string {
  try {
    return Deno.readTextFileSync(p);
  } catch {
    return "";
  }
}
