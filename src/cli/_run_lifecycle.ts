/**
 * The lifecycle options of `nook run`: detached runs under the C
 * monitor, names, restart policy, stop signal and timeout, logging.
 */
import { lazyImport } from "../lazy/mod.ts";
import type { ContainerSpec, RunHooks } from "../model/mod.ts";
import { UsageError } from "../errors/mod.ts";
import { HELLO_NAMES } from "../image/builtin_hello.ts";
import type { IdMapping } from "../userns/mod.ts";
// Only what a foreground run needs is imported here: `nook run` loads no more than it uses.
import { createContainer, removeContainerFiles } from "../engine/create.ts";
import { recordStartFailure, runForeground } from "../engine/foreground.ts";
import { parseSignal } from "../engine/signals.ts";
import { clearIntent, crashPoint } from "../engine/intent.ts";
import type { HostSettings, LogConfig, RestartPolicy, RootfsInfo } from "../engine/store.ts";
import { parseSize } from "../engine/units.ts";
import { bool, list, type OptionSpec, type ParsedArgs, str } from "./_args.ts";
import { write } from "./_io.ts";
import { mark } from "../trace/mod.ts";

/** Options of `nook run` for the container's lifecycle. */
export const LIFECYCLE_RUN_OPTIONS: readonly OptionSpec[] = [
  { name: "detach", short: "d", type: "bool", help: "Run in the background and print the container id" },
  {
    name: "restart",
    type: "string",
    value: "POLICY",
    help: "Restart a detached container when it exits: no (default), on-failure[:N], always, unless-stopped",
  },
  { name: "stop-signal", type: "string", value: "SIGNAL", help: "Signal that nook stop sends first (default SIGTERM)" },
  { name: "stop-timeout", type: "string", value: "SECONDS", help: "Seconds nook stop waits before SIGKILL (default 10)" },
  { name: "log-driver", type: "string", value: "DRIVER", help: "k8s-file (default: log a detached container's output) or none" },
  { name: "log-opt", type: "list", value: "KEY=VALUE", help: "Log options: max-size=SIZE (e.g. 10m), max-file=N" },
];

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

/** HostConfig-like settings from the options (image defaults such as StopSignal come from the image). */
export function hostSettings(a: ParsedArgs, imageStopSignal?: string): HostSettings {
  const restart = parseRestart(str(a, "restart"));
  const autoRemove = bool(a, "rm");
  if (restart.name !== "no" && autoRemove) {
    throw new UsageError("Conflicting options: --restart and --rm", { hint: "a container removed when it exits cannot be restarted" });
  }
  if (restart.name !== "no" && !bool(a, "detach")) {
    throw new UsageError("--restart needs -d", { hint: "the restart policy is carried out by the monitor of a detached container" });
  }
  const stopSignal = str(a, "stop-signal") ?? imageStopSignal ?? "SIGTERM";
  const n = parseSignal(stopSignal);
  const timeoutText = str(a, "stop-timeout");
  if (timeoutText !== undefined && !/^\d+$/.test(timeoutText)) {
    throw new UsageError(`Invalid stop timeout "${timeoutText}"`, { hint: "give whole seconds, e.g. --stop-timeout 30" });
  }
  const driver = str(a, "log-driver") ?? "k8s-file";
  if (driver !== "k8s-file" && driver !== "none") {
    throw new UsageError(`Unknown log driver "${driver}"`, { hint: "use k8s-file or none" });
  }
  const log: LogConfig = { driver, maxSize: 0, maxFiles: 1 };
  for (const opt of list(a, "log-opt")) {
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
  };
}

/** What the record says the container runs from (a root directory, the built-in image, or an image and its storage backend). */
export function describeSource(a: ParsedArgs, spec: ContainerSpec): { image: string; rootfs: RootfsInfo } {
  if (str(a, "rootfs") !== undefined) return { image: "", rootfs: { backend: "dir", path: spec.rootfs } };
  const image = spec.image?.name ?? a.rest[0] ?? "";
  // an image from the store names its copy-on-write backend (overlay, fuse-overlayfs, copy)
  const backend = HELLO_NAMES.includes(image) ? "builtin" : spec.image?.storage ?? "image";
  return { image, rootfs: { backend, path: spec.rootfs } };
}

/**
 * Record the container and run it: in the foreground (leaving an exited record
 * unless --rm), or with -d under the C monitor, printing its id.
 */
export async function runWithLifecycle(a: ParsedArgs, spec: ContainerSpec, mapping: IdMapping, hooks: RunHooks = {}): Promise<number> {
  const host = hostSettings(a, spec.image?.stopSignal);
  const detach = bool(a, "detach");
  const keepEtcFiles = detach || !host.autoRemove;
  const rec = createContainer(spec, { name: str(a, "name"), ...describeSource(a, spec), host, keepEtcFiles });
  mark("record");
  crashPoint("create.record");
  // A foreground --rm run stays one transaction until its record is removed: killed at any
  // point, the next command rolls it all back. Any other container exists from here on.
  if (!(host.autoRemove && !detach)) clearIntent(rec.id);
  if (!detach) return await runForeground(rec, mapping, hooks);
  try {
    const { startDetached } = await lazyImport<typeof import("../engine/monitor.ts")>("engine/monitor.ts");
    await startDetached(rec, mapping, hooks);
  } catch (err) {
    if (host.autoRemove) removeContainerFiles(rec);
    else recordStartFailure(rec, err);
    throw err;
  }
  await write(`${rec.id}\n`);
  return 0;
}
