/**
 * `linux.cgroupsPath` and `linux.resources`: where a cgroup manager plugs in.
 *
 * nook's cgroup v2 managers (cgroup_v2.ts) are the default
 * {@link CgroupProvider}; another can be registered with
 * {@link setCgroupProvider}. The runtime asks it for a container's cgroup
 * before the process runs (`join` is called while the process waits in its
 * new namespaces, before its cgroup namespace is made) and keeps where it is
 * in the container's record, for `pause`/`resume`, `exec` and `delete`.
 * Without a manager — as on hosts whose cgroups are v1 or hybrid, where a
 * rootless user can be given no subtree — a container runs without a cgroup
 * of its own: fine when config.json asks for no limit, an error naming the
 * field when it does.
 *
 * @module
 */
import { lazyImport } from "../lazy/mod.ts";
import type { CgroupRef } from "../cgroupv2/container_cgroup.ts";
import { DELEGATION_FIX } from "../cgroupv2/errors.ts";
import { invalid, unsupported } from "./errors.ts";
import type { RuntimeLog } from "./log.ts";

/** A container's own cgroup, made by a manager. */
export interface OciCgroup {
  /** Where it is once the process joined it (kept in the record for `pause`, `exec`, `delete`); undefined without one. */
  ref(): CgroupRef | undefined;
  /** Move the waiting process into it and write the limits. */
  join(pid: number): Promise<void>;
  /** Remove it (a failed create). */
  remove(): Promise<void>;
}

/** What a manager is asked for. */
export interface CgroupRequest {
  /** Container id. */
  id: string;
  /** `linux.cgroupsPath`, parsed. */
  path?: CgroupsPath;
  /** `linux.resources` as written. */
  resources?: Record<string, unknown>;
  /** `--systemd-cgroup` was given. */
  systemd?: boolean;
}

/** `linux.cgroupsPath` in its two forms. */
export type CgroupsPath =
  | { kind: "systemd"; slice: string; prefix: string; name: string }
  | { kind: "cgroupfs"; path: string; relative: boolean };

/** Makes the cgroup of a container, or undefined when it cannot make one and none is needed. */
export type CgroupProvider = (req: CgroupRequest, log: RuntimeLog) => Promise<OciCgroup | undefined>;

let provider: CgroupProvider | undefined;

/** Register the cgroup manager (cgroup v2 delegation). */
export function setCgroupProvider(p: CgroupProvider | undefined): void {
  provider = p;
}

/** Parse `linux.cgroupsPath`: `slice:prefix:name` with --systemd-cgroup, else a path. */
export function parseCgroupsPath(value: string | undefined, systemd: boolean): CgroupsPath | undefined {
  if (!value) return undefined;
  if (systemd) {
    const m = /^([^:/]*):([^:/]*):([^:/]+)$/.exec(value);
    if (!m) {
      throw invalid(
        "linux.cgroupsPath",
        `is "${value}", not systemd's form "slice:prefix:name"`,
        "or run without --systemd-cgroup",
      );
    }
    return { kind: "systemd", slice: m[1]!, prefix: m[2]!, name: m[3]! };
  }
  if (value.split("/").includes("..")) throw invalid("linux.cgroupsPath", `must not contain "..": "${value}"`);
  return { kind: "cgroupfs", path: value, relative: !value.startsWith("/") };
}

/** The resource fields config.json sets to a real value (devices rules aside). */
export function requestedResources(res: Record<string, unknown> | undefined, at = "linux.resources"): string[] {
  if (!res) return [];
  const out: string[] = [];
  const visit = (v: unknown, path: string) => {
    if (v === null || v === undefined || v === false || v === 0 || v === "") return;
    if (Array.isArray(v)) {
      if (v.length) out.push(path);
    } else if (typeof v === "object") {
      for (const [k, x] of Object.entries(v)) visit(x, `${path}.${k}`);
    } else {
      out.push(path);
    }
  };
  for (const [k, v] of Object.entries(res)) if (k !== "devices") visit(v, `${at}.${k}`);
  return out;
}

/**
 * Relative weights: engines send them on every container (ctr's
 * `cpu.shares` 1024, the kernel's own default), and they limit nothing —
 * they only share the CPU or disk among sibling cgroups, which a container
 * without a cgroup of its own does not have. runc's rootless cgroup
 * managers pass over them the same way when they can make no cgroup.
 */
export const RELATIVE_WEIGHTS: readonly string[] = [
  "linux.resources.cpu.shares",
  "linux.resources.blockIO.weight",
  "linux.resources.blockIO.leafWeight",
];

/** The requested fields that are limits (not {@link RELATIVE_WEIGHTS}). */
export function requestedLimits(res: Record<string, unknown> | undefined): string[] {
  return requestedResources(res).filter((f) => !RELATIVE_WEIGHTS.includes(f));
}

/** One warning for the weights a container without a cgroup cannot have. */
export function warnIgnoredWeights(res: Record<string, unknown> | undefined, log: RuntimeLog, reason: string): void {
  const weights = requestedResources(res).filter((f) => RELATIVE_WEIGHTS.includes(f));
  if (weights.length) {
    log.warn(`${weights.join(", ")}: ignored, the container has no cgroup of its own (${reason}); a weight limits nothing without one`);
  }
}

/** True when /sys/fs/cgroup is a cgroup2 mount (not v1 or hybrid). */
export function hostCgroup2(): boolean {
  try {
    return Deno.readTextFileSync("/proc/self/mountinfo").split("\n").some((l) => {
      const [pre, post] = l.split(" - ");
      return pre?.split(" ")[4] === "/sys/fs/cgroup" && post?.startsWith("cgroup2 ");
    });
  } catch {
    return false;
  }
}

/**
 * No cgroup for the container (`reason` says why): fine when config.json
 * asks for no limit, an error naming the first limit when it does.
 */
export function noCgroup(req: CgroupRequest, log: RuntimeLog, reason: string): undefined {
  const asked = requestedLimits(req.resources);
  if (asked.length) {
    throw unsupported(
      asked[0]!,
      `a resource limit needs a cgroup of the container's own, and ${reason}`,
      `remove the limits from linux.resources, or give your user cgroup v2: ${DELEGATION_FIX}`,
    );
  }
  warnIgnoredWeights(req.resources, log, reason);
  const devices = req.resources?.devices;
  if (Array.isArray(devices) && devices.length) {
    log.warn(
      "linux.resources.devices: device rules are not enforced without a cgroup; the container has only the device nodes bound into /dev",
    );
  }
  if (req.path) {
    log.debug(
      `linux.cgroupsPath "${JSON.stringify(req.path)}": no cgroup manager, the container stays in the runtime's cgroup`,
    );
  }
  return undefined;
}

/**
 * The cgroup for a new container, or undefined (no manager, and no limit
 * asked for): the registered provider's, else nook's cgroup v2 managers'.
 */
export async function containerCgroup(req: CgroupRequest, log: RuntimeLog): Promise<OciCgroup | undefined> {
  const p = provider ?? (await lazyImport<typeof import("./cgroup_v2.ts")>("oci/cgroup_v2.ts")).cgroupV2Provider;
  return await p(req, log);
}
