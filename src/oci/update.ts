/**
 * `update`: change the resources of a running container, through the
 * cgroup v2 interface files of the cgroup its manager made (the same
 * conversion from `linux.resources` as `create`, cgroup_v2.ts). runc's flags
 * and `-r resources.json` (a `linux.resources` object; "-" reads stdin); the
 * flags win over the file.
 *
 * @module
 */
import { lazyImport } from "../lazy/mod.ts";
import type { RuntimeContext } from "./lifecycle.ts";
import { OciError } from "./errors.ts";
import { checkId, loadRecord } from "./state.ts";
import { runtimeStatus } from "../engine/state.ts";
import type { Resources } from "../cgroupv2/resources.ts";

type Json = Record<string, unknown>;

/** runc's update flags, as given (undefined: not given). */
export interface UpdateFlags {
  /** `-r FILE`: linux.resources as JSON ("-": stdin). */
  resources?: string | undefined;
  /** `--blkio-weight`. */
  blkioWeight?: string | undefined;
  /** `--cpu-period`. */
  cpuPeriod?: string | undefined;
  /** `--cpu-quota`. */
  cpuQuota?: string | undefined;
  /** `--cpu-share`. */
  cpuShare?: string | undefined;
  /** `--cpu-rt-period`. */
  cpuRtPeriod?: string | undefined;
  /** `--cpu-rt-runtime`. */
  cpuRtRuntime?: string | undefined;
  /** `--cpuset-cpus`. */
  cpusetCpus?: string | undefined;
  /** `--cpuset-mems`. */
  cpusetMems?: string | undefined;
  /** `--memory`. */
  memory?: string | undefined;
  /** `--memory-reservation`. */
  memoryReservation?: string | undefined;
  /** `--memory-swap`. */
  memorySwap?: string | undefined;
  /** `--pids-limit`. */
  pidsLimit?: string | undefined;
}

/** A size as runc takes it: bytes, or a number with k, m, g, t (powers of 1024); -1 is no limit. */
export function parseSize(text: string, flag: string): number {
  const m = /^(-1|\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i.exec(text.trim());
  if (!m) throw new OciError(`${flag} takes a size such as 512m or 1g, not "${text}"`);
  if (m[1] === "-1") return -1;
  const mult = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2]!.toLowerCase()]!;
  return Math.floor(Number(m[1]) * mult);
}

function integer(text: string, flag: string): number {
  if (!/^-?\d+$/.test(text.trim())) throw new OciError(`${flag} takes a whole number, not "${text}"`);
  return Number(text);
}

/** The `linux.resources` object an update asks for: the file's, with the flags on top. */
export function updateResources(flags: UpdateFlags, stdin: () => string): Json {
  let res: Json = {};
  if (flags.resources !== undefined) {
    let text: string;
    try {
      text = flags.resources === "-" ? stdin() : Deno.readTextFileSync(flags.resources);
    } catch (err) {
      throw new OciError(`Cannot read the resources file "${flags.resources}": ${(err as Error).message}`);
    }
    try {
      const parsed = JSON.parse(text);
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("not an object");
      res = parsed as Json;
    } catch (err) {
      throw new OciError(`The resources file "${flags.resources}" is not a JSON object: ${(err as Error).message}`, {
        hint: 'give linux.resources as in config.json, e.g. {"memory": {"limit": 67108864}}',
      });
    }
  }
  const section = (k: string) => (res[k] ??= {}) as Json;
  if (flags.blkioWeight !== undefined) section("blockIO").weight = integer(flags.blkioWeight, "--blkio-weight");
  if (flags.cpuPeriod !== undefined) section("cpu").period = integer(flags.cpuPeriod, "--cpu-period");
  if (flags.cpuQuota !== undefined) section("cpu").quota = integer(flags.cpuQuota, "--cpu-quota");
  if (flags.cpuShare !== undefined) section("cpu").shares = integer(flags.cpuShare, "--cpu-share");
  if (flags.cpuRtPeriod !== undefined) section("cpu").realtimePeriod = integer(flags.cpuRtPeriod, "--cpu-rt-period");
  if (flags.cpuRtRuntime !== undefined) {
    section("cpu").realtimeRuntime = integer(flags.cpuRtRuntime, "--cpu-rt-runtime");
  }
  if (flags.cpusetCpus !== undefined) section("cpu").cpus = flags.cpusetCpus;
  if (flags.cpusetMems !== undefined) section("cpu").mems = flags.cpusetMems;
  if (flags.memory !== undefined) section("memory").limit = parseSize(flags.memory, "--memory");
  if (flags.memoryReservation !== undefined) {
    section("memory").reservation = parseSize(flags.memoryReservation, "--memory-reservation");
  }
  if (flags.memorySwap !== undefined) section("memory").swap = parseSize(flags.memorySwap, "--memory-swap");
  if (flags.pidsLimit !== undefined) section("pids").limit = integer(flags.pidsLimit, "--pids-limit");
  return res;
}

/**
 * runc's update semantics for -1 where create reads it as "no limit asked
 * for": a limit set before is taken away, memory.max goes back to "max" —
 * and memory.swap.max with it when no swap limit is given (runc reads
 * memory -1 with swap unset as both unlimited).
 */
export function resetLimits(res: Json, resources: Resources): void {
  const mem = res.memory as Json | undefined;
  if (mem?.limit !== -1) return;
  const m = (resources.memory ??= {});
  m.max = "max";
  if (m.swapMax === undefined) m.swapMax = "max"; // swapExplicit stays unset: without swap accounting, nothing to reset
}

/** Apply new resources to a running (or created, or paused) container's cgroup. */
export async function updateContainer(ctx: RuntimeContext, idArg: string | undefined, res: Json): Promise<void> {
  const id = checkId(idArg);
  const rec = loadRecord(ctx.root, id);
  const status = runtimeStatus(ctx.root, rec);
  if (status === "stopped") {
    throw new OciError(`cannot update container "${id}": it is stopped`, { hint: "update a running container" });
  }
  const { ociResources } = await lazyImport<typeof import("./cgroup_v2.ts")>("oci/cgroup_v2.ts");
  // the same checks and conversion as create: a field cgroup v2 cannot carry out is refused by name
  const { resources } = ociResources(res);
  resetLimits(res, resources);
  if (!rec.cgroup) {
    throw new OciError(`cannot update container "${id}": it has no cgroup of its own to change`, {
      hint:
        "resources need a cgroup: as root on a cgroup v2 host, or rootless where a cgroup v2 subtree is delegated to your user (not on cgroup v1 or hybrid hosts)",
    });
  }
  const { applyResources } = await lazyImport<typeof import("../cgroupv2/apply.ts")>("cgroupv2/apply.ts");
  await applyResources(rec.cgroup.path, resources);
}
