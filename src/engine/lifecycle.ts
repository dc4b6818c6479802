/**
 * How a new container lives: recorded, then run in the foreground or detached under the C
 * monitor; its restart policy, stop signal and timeout, logging.
 *
 * @module
 */
import { lazyImport } from "../lazy/mod.ts";
import type { ContainerSpec, RunHooks } from "../model/mod.ts";
import { UsageError } from "../errors/mod.ts";
import { HELLO_NAMES } from "../image/builtin_hello.ts";
import type { IdMapping } from "../userns/mod.ts";
// Only what a foreground run needs is imported here: `nook run` loads no more than it uses.
import { createContainer, removeContainerFiles } from "./create.ts";
import { recordStartFailure, runForeground } from "./foreground.ts";
import { parseSignal } from "./signals.ts";
import { clearIntent, crashPoint } from "./intent.ts";
import type { HostSettings, LogConfig, RestartPolicy, RootfsInfo } from "./store.ts";
import { parseSize } from "./units.ts";
import { healthSettings, type ImageHealthcheck } from "./health.ts";
import type { LifecycleRequest, RunSource } from "./run_request.ts";
import { mark } from "../trace/mod.ts";

const DEFAULT_STOP_TIMEOUT = 10;

/** `--restart` text → policy. */
export function parseRestart(value: string | undefined): RestartPolicy {
  if (value === undefined || value === "no") return { name: "no", maxRetries: 0 };
  const m = /^(on-failure)(?::(\d+))?$|^(always|unless-stopped)$/.exec(value);
  if (!m) {
    throw new UsageError(`Invalid restart policy "${value}"`, { hint: "use no, on-failure, on-failure:N, always or unless-stopped" });
  }
  if (m[3]) return { name: m[3] as "always" | "unless-stopped", maxRetries: 0 };
  return { name: "on-failure", maxRetries: Number(m[2] ?? 0) };
}

/** HostConfig-like settings from the request (image defaults such as StopSignal come from the image). */
export function hostSettings(req: LifecycleRequest, imageStopSignal?: string, image?: ImageHealthcheck): HostSettings {
  const restart = parseRestart(req.restart);
  const autoRemove = req.autoRemove ?? false;
  if (restart.name !== "no" && autoRemove) {
    throw new UsageError("Conflicting options: --restart and --rm", { hint: "a container removed when it exits cannot be restarted" });
  }
  if (restart.name !== "no" && !req.detach) {
    throw new UsageError("--restart needs -d", { hint: "the restart policy is carried out by the monitor of a detached container" });
  }
  const stopSignal = req.stopSignal ?? imageStopSignal ?? "SIGTERM";
  const n = parseSignal(stopSignal);
  const timeoutText = req.stopTimeout;
  if (timeoutText !== undefined && !/^\d+$/.test(timeoutText)) {
    throw new UsageError(`Invalid stop timeout "${timeoutText}"`, { hint: "give whole seconds, e.g. --stop-timeout 30" });
  }
  const health = healthSettings(req.health ?? {}, image);
  if (health?.onFailure === "restart" && restart.name !== "no") {
    throw new UsageError("Conflicting options: --health-on-failure restart and --restart", {
      hint: "the healthcheck's restart already restarts the container; leave --restart out",
    });
  }
  const driver = req.logDriver ?? "k8s-file";
  if (driver !== "k8s-file" && driver !== "none") {
    throw new UsageError(`Unknown log driver "${driver}"`, { hint: "use k8s-file or none" });
  }
  const log: LogConfig = { driver, maxSize: 0, maxFiles: 1 };
  for (const opt of req.logOpts ?? []) {
    const [k, v = ""] = opt.split("=", 2) as [string, string?];
    if (k === "max-size") log.maxSize = parseSize(v);
    else if (k === "max-file" && /^[1-9]\d*$/.test(v)) log.maxFiles = Number(v);
    else throw new UsageError(`Invalid log option "${opt}"`, { hint: "use max-size=SIZE (e.g. 10m) or max-file=N (N >= 1)" });
  }
  return {
    autoRemove,
    restart,
    stopSignal: /^\d+$/.test(stopSignal) ? String(n) : `SIG${stopSignal.toUpperCase().replace(/^SIG/, "")}`,
    stopTimeout: timeoutText !== undefined ? Number(timeoutText) : DEFAULT_STOP_TIMEOUT,
    log,
    ...(health ? { health } : {}),
  };
}

/** What the record says the container runs from (a root directory, the built-in image, or an image and its storage backend). */
export function describeSource(source: RunSource, spec: ContainerSpec): { image: string; rootfs: RootfsInfo } {
  if (source.rootfs !== undefined) return { image: "", rootfs: { backend: "dir", path: spec.rootfs } };
  const image = spec.image?.name ?? source.image;
  // an image from the store names its copy-on-write backend (overlay, fuse-overlayfs, copy)
  const backend = HELLO_NAMES.includes(image) ? "builtin" : spec.image?.storage ?? "image";
  return { image, rootfs: { backend, path: spec.rootfs } };
}

/** What became of a run: the container's id, and its exit code when it ran in the foreground. */
export interface RunOutcome {
  /** The container's id. */
  id: string;
  /** Detached: it runs on under its monitor. */
  detached: boolean;
  /** The exit code of a foreground run (0 for a detached one). */
  code: number;
}

/**
 * Record the container and run it: in the foreground (leaving an exited record
 * unless autoRemove), or detached under the C monitor.
 */
export async function runWithLifecycle(
  req: LifecycleRequest,
  source: RunSource,
  name: string | undefined,
  spec: ContainerSpec,
  mapping: IdMapping,
  hooks: RunHooks = {},
): Promise<RunOutcome> {
  const host = hostSettings(req, spec.image?.stopSignal, spec.image?.healthcheck);
  const detach = req.detach ?? false;
  const keepEtcFiles = detach || !host.autoRemove;
  const rec = createContainer(spec, { name, ...describeSource(source, spec), host, keepEtcFiles });
  mark("record");
  crashPoint("create.record");
  // A foreground --rm run stays one transaction until its record is removed: killed at any
  // point, the next command rolls it all back. Any other container exists from here on.
  if (!(host.autoRemove && !detach)) clearIntent(rec.id);
  if (!detach) return { id: rec.id, detached: false, code: await runForeground(rec, mapping, hooks) };
  try {
    const { startDetached } = await lazyImport<typeof import("../engine/monitor.ts")>("engine/monitor.ts");
    await startDetached(rec, mapping, hooks);
  } catch (err) {
    if (host.autoRemove) removeContainerFiles(rec);
    else recordStartFailure(rec, err);
    throw err;
  }
  return { id: rec.id, detached: true, code: 0 };
}
