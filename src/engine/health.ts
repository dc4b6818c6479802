/**
 * Healthchecks: docker's settings (`--health-*` flags over the image's HEALTHCHECK), the exec
 * plan the C monitor runs for them, and the health file it writes back.
 *
 * Who does what: nook decides everything here — the command, the user and confinement it runs
 * with (those of `nook exec`), the numbers, and what an unhealthy container gets (a signal, a
 * later SIGKILL, a restart) — and hands the monitor an exec plan whose namespace paths are
 * relative ("ns/net"): the monitor runs it from /proc/PID of the container's current run, so
 * one plan serves every restart without nook. The monitor only counts (libshim/monitor.c).
 *
 * @module
 */
import { UsageError } from "../errors/mod.ts";
import { CLONE_FLAG, JOIN_ORDER } from "./namespaces.ts";
import { NAMESPACE_FILES } from "../model/oci.ts";
import { Plan } from "../plan/mod.ts";
import { execCandidates } from "./build_plan.ts";
import { addProcessSetup } from "./process_setup.ts";
import { execSecurity } from "../security/mod.ts";
import type { IdMapping } from "../userns/mod.ts";
import type { ContainerRecord, HealthSettings } from "./store.ts";
import { containerDir } from "./store.ts";
import { parseSignal } from "./signals.ts";
import { isoNs } from "./units.ts";
import { ContainerError } from "./errors.ts";
import { currentStatus } from "./status.ts";
import { signalProcess } from "./proc.ts";

/** What `--health-on-failure` may say. */
export const HEALTH_ACTIONS = ["none", "kill", "restart", "stop"] as const;

/** The image's HEALTHCHECK as its config holds it (durations in ns). */
export interface ImageHealthcheck {
  /** ["CMD", …], ["CMD-SHELL", "…"] or ["NONE"]. */
  Test?: string[];
  /** ns */
  Interval?: number;
  /** ns */
  Timeout?: number;
  /** ns */
  StartPeriod?: number;
  /** Failures in a row that make the container unhealthy. */
  Retries?: number;
}

/** The `--health-*` flags, as text. */
export interface HealthRequest {
  /** `--health-cmd`: a shell command, or a JSON array run as is. */
  cmd?: string | undefined;
  /** `--health-interval`. */
  interval?: string | undefined;
  /** `--health-timeout`. */
  timeout?: string | undefined;
  /** `--health-retries`. */
  retries?: string | undefined;
  /** `--health-start-period`. */
  startPeriod?: string | undefined;
  /** `--health-on-failure`: none, kill, restart, stop. */
  onFailure?: string | undefined;
  /** `--no-healthcheck`: none, not even the image's. */
  none?: boolean;
}

const UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, "µs": 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A Go duration ("30s", "1m30s", "500ms") in milliseconds; `flag` names the option in the error. */
export function parseDuration(text: string, flag: string): number {
  const t = text.trim();
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let ms = 0, end = 0;
  for (let m = re.exec(t); m; m = re.exec(t)) {
    ms += Number(m[1]) * UNITS[m[2]!]!;
    end = re.lastIndex;
  }
  if (!t || end !== t.length) {
    throw new UsageError(`Invalid duration "${text}" for ${flag}`, { hint: "use a number with a unit: 500ms, 5s, 1m30s" });
  }
  return Math.round(ms);
}

function positiveDuration(text: string | undefined, flag: string, zeroOk = false): number | undefined {
  if (text === undefined) return undefined;
  const ms = parseDuration(text, flag);
  if (ms < (zeroOk ? 0 : 1)) throw new UsageError(`${flag} must be more than 0, got "${text}"`, { hint: `e.g. ${flag} 5s` });
  return ms;
}

/** The healthcheck a container gets: the flags over the image's (docker's merge), or none. */
export function healthSettings(req: HealthRequest, image?: ImageHealthcheck): HealthSettings | undefined {
  const given = req.cmd !== undefined || req.interval !== undefined || req.timeout !== undefined ||
    req.retries !== undefined || req.startPeriod !== undefined || req.onFailure !== undefined;
  if (req.none) {
    if (given) {
      throw new UsageError("Conflicting options: --no-healthcheck and --health-*", {
        hint: "leave out either --no-healthcheck or the --health-* options",
      });
    }
    return undefined;
  }
  let test: string[] | undefined = image?.Test;
  if (req.cmd !== undefined) {
    const c = req.cmd.trim();
    if (!c) throw new UsageError("--health-cmd is empty", { hint: `give a command, e.g. --health-cmd 'wget -qO- localhost'` });
    let arr: unknown;
    try {
      arr = c.startsWith("[") ? JSON.parse(c) : undefined;
    } catch {
      arr = undefined;
    }
    test = Array.isArray(arr) && arr.length > 0 && arr.every((x) => typeof x === "string")
      ? ["CMD", ...arr as string[]]
      : ["CMD-SHELL", c];
  }
  if (!test || test.length === 0 || test[0] === "NONE") return undefined;
  if (!["CMD", "CMD-SHELL"].includes(test[0]!) || test.length < 2) {
    throw new UsageError(`The image's healthcheck test "${JSON.stringify(test)}" is not understood`, {
      hint: "override it with --health-cmd, or turn it off with --no-healthcheck",
    });
  }
  const onFailure = req.onFailure ?? "none";
  if (!(HEALTH_ACTIONS as readonly string[]).includes(onFailure)) {
    throw new UsageError(`Invalid --health-on-failure "${onFailure}"`, { hint: "use none, kill, restart or stop" });
  }
  const retriesText = req.retries;
  if (retriesText !== undefined && !/^[1-9]\d*$/.test(retriesText)) {
    throw new UsageError(`Invalid --health-retries "${retriesText}"`, { hint: "give a whole number of at least 1" });
  }
  const nsToMs = (ns: number | undefined) => ns && ns > 0 ? Math.round(ns / 1e6) : undefined;
  return {
    test,
    intervalMs: positiveDuration(req.interval, "--health-interval") ?? nsToMs(image?.Interval) ?? 30_000,
    timeoutMs: positiveDuration(req.timeout, "--health-timeout") ?? nsToMs(image?.Timeout) ?? 30_000,
    startPeriodMs: positiveDuration(req.startPeriod, "--health-start-period", true) ?? nsToMs(image?.StartPeriod) ?? 0,
    retries: retriesText !== undefined ? Number(retriesText) : image?.Retries && image.Retries > 0 ? image.Retries : 3,
    onFailure: onFailure as HealthSettings["onFailure"],
  };
}

/** The argv a test runs: CMD's as is, CMD-SHELL's through /bin/sh -c. */
export function healthArgv(test: readonly string[]): string[] {
  return test[0] === "CMD-SHELL" ? ["/bin/sh", "-c", test.slice(1).join(" ")] : test.slice(1);
}

/**
 * The exec plan the monitor runs for a check: `nook exec`'s, but with namespace paths relative
 * to /proc/PID (the monitor's child runs from there) and the set of namespaces read from the
 * spec, since the container does not run yet when the plan is made.
 */
export function healthPlan(rec: ContainerRecord, health: HealthSettings, mapping: IdMapping): Plan {
  const spec = rec.spec;
  const p = new Plan(0);
  for (const t of JOIN_ORDER) {
    if (t === "network" && spec.network === "host") continue; // the host's: nothing to join
    p.setns(`ns/${NAMESPACE_FILES[t]}`, CLONE_FLAG[t]);
  }
  p.fork(); // the joined pid namespace applies to children only
  const base = spec.process;
  const args = healthArgv(health.test);
  const sec = spec.security;
  addProcessSetup(p, { ...base, args, terminal: false, stdin: false, init: false }, {
    detach: false,
    dieWithNook: true, // its parent is the monitor: the check dies with it
    skipSetgroups: mapping.mode === "single",
    ...(sec ? { security: execSecurity(sec, base.uid, base.uid) } : {}),
  });
  p.exec(execCandidates(args[0]!, base.env), args, base.env);
  return p;
}

/** The file the monitor writes the health state to. */
export function healthPath(id: string): string {
  return `${containerDir(id)}/health`;
}

/** The monitor's healthcheck arguments (and its plan, written next to the record), or none. */
export function healthMonitorArgs(rec: ContainerRecord, mapping: IdMapping): string[] {
  const h = rec.host.health;
  if (!h) return [];
  const planFile = `${containerDir(rec.id)}/health.plan`;
  Deno.writeFileSync(planFile, healthPlan(rec, h, mapping).encode(), { mode: 0o600 });
  const argv = [
    ...["--health-plan", planFile, "--health-file", healthPath(rec.id)],
    ...["--health-interval-ms", String(h.intervalMs), "--health-timeout-ms", String(h.timeoutMs)],
    ...["--health-start-period-ms", String(h.startPeriodMs), "--health-retries", String(h.retries)],
  ];
  const stop = parseSignal(rec.host.stopSignal);
  const graceMs = String(rec.host.stopTimeout * 1000);
  switch (h.onFailure) {
    case "kill":
      argv.push("--health-action-signal", "9");
      break;
    case "stop":
      argv.push("--health-action-signal", String(stop), "--health-action-kill-after-ms", graceMs);
      break;
    case "restart":
      argv.push("--health-action-signal", String(stop), "--health-action-kill-after-ms", graceMs, "--health-action-restart");
      break;
  }
  return argv;
}

/** One check's result. */
export interface HealthResult {
  /** ns since the epoch. */
  start: bigint;
  /** ns since the epoch. */
  end: bigint;
  /** The check's exit code (-1: it could not run or timed out). */
  exitCode: number;
  /** What it wrote (the first 4096 bytes). */
  output: string;
}

/** The health of a container as its monitor last wrote it. */
export interface HealthState {
  /** starting, healthy, unhealthy. */
  status: "starting" | "healthy" | "unhealthy";
  /** Failures in a row. */
  failingStreak: number;
  /** The last results, oldest first. */
  log: HealthResult[];
}

/** Parse the monitor's health file (see libshim/monitor.c). */
export function parseHealth(bytes: Uint8Array): HealthState {
  const dec = new TextDecoder();
  const st: HealthState = { status: "starting", failingStreak: 0, log: [] };
  let i = 0;
  while (i < bytes.length) {
    let nl = bytes.indexOf(10, i);
    if (nl < 0) nl = bytes.length;
    const line = dec.decode(bytes.subarray(i, nl));
    i = nl + 1;
    const eq = line.indexOf("=");
    const k = line.slice(0, eq), v = line.slice(eq + 1);
    if (k === "status" && (v === "starting" || v === "healthy" || v === "unhealthy")) st.status = v;
    else if (k === "failing_streak") st.failingStreak = Number(v) || 0;
    else if (k === "log") {
      const [start = "0", end = "0", code = "0", len = "0"] = v.split(" ");
      const n = Number(len);
      st.log.push({ start: BigInt(start), end: BigInt(end), exitCode: Number(code), output: dec.decode(bytes.subarray(i, i + n)) });
      i += n + 1;
    }
  }
  return st;
}

/** The health state of a container, or undefined when it has no healthcheck or no check ran yet. */
export function readHealth(rec: ContainerRecord): HealthState | undefined {
  if (!rec.host.health) return undefined;
  try {
    return parseHealth(Deno.readFileSync(healthPath(rec.id)));
  } catch {
    return undefined;
  }
}

/** docker's State.Health. */
export function healthDocument(h: HealthState): Record<string, unknown> {
  return {
    Status: h.status,
    FailingStreak: h.failingStreak,
    Log: h.log.map((r) => ({ Start: isoNs(r.start), End: isoNs(r.end), ExitCode: r.exitCode, Output: r.output })),
  };
}

/** What `ps` adds to "Up 5 seconds": " (healthy)", " (unhealthy)", " (health: starting)". */
export function healthSuffix(h: HealthState | undefined): string {
  if (!h) return "";
  return h.status === "starting" ? " (health: starting)" : ` (${h.status})`;
}

/**
 * Run a check now (`nook healthcheck run`): the monitor runs it, as every other check, and the
 * result counts as theirs do; resolves with that result once it is in the health file.
 */
export async function runHealthcheckNow(rec: ContainerRecord): Promise<HealthResult> {
  const health = rec.host.health;
  if (!health) {
    throw new ContainerError(`Container ${rec.name} has no healthcheck`, {
      hint: "give one at run: --health-cmd 'COMMAND' (or use an image with a HEALTHCHECK)",
    });
  }
  const s = currentStatus(rec.id);
  if (s.state !== "running") {
    throw new ContainerError(`Container ${rec.name} is not running`, { hint: `start it first: nook start ${rec.name}` });
  }
  const asked = BigInt(Date.now()) * 1_000_000n;
  if (!await signalProcess(s.monitorPid, s.monitorStart, 12 /* SIGUSR2: a check now */)) {
    throw new ContainerError(`The monitor of container ${rec.name} is gone`, { hint: `nook restart ${rec.name}` });
  }
  // bounded: the check's own timeout, plus the time a loaded machine takes to start it
  const deadline = Date.now() + health.timeoutMs + 30_000;
  while (Date.now() < deadline) {
    const r = readHealth(rec)?.log.findLast((x) => x.start >= asked);
    if (r) return r;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new ContainerError(`The healthcheck of container ${rec.name} gave no result in time`, {
    hint: "see nook inspect for the container's health log",
  });
}
