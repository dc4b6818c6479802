import { findExecutable } from "../userns/mod.ts";
import { runtimeDir } from "../paths/mod.ts";
import {
  type AutoFacts,
  decideAuto,
  fileStamp,
  hostReason,
  readDefaultRoutes,
  readMemo,
  rememberPastaFailure,
  timeHelperStartsSync,
  trialPasta,
  writeMemo,
} from "./auto.ts";
import type { HelperStartTimes } from "./auto.ts";
import type { NetworkSetup } from "./setup.ts";
import type { HelperMode, NetworkMode } from "./mode.ts";
import { NetworkError } from "./network_error.ts";

/** The Debian/Fedora package that brings each helper. */
export const HELPER_PACKAGES: Readonly<Record<HelperMode, string>> = { pasta: "passt", slirp4netns: "slirp4netns" };

/** The helpers in order of preference for the default mode: pasta is faster and keeps source addresses. */
export const HELPER_PREFERENCE: readonly HelperMode[] = ["pasta", "slirp4netns"];

/** The device both helpers open to make the container's interface. */
export const TUN_DEVICE = "/dev/net/tun";

/** Where nook looks for the helpers: $PATH, then the usual system directories. */
export function helperSearchPath(): string {
  return `${Deno.env.get("PATH") ?? ""}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin:/usr/libexec/podman`;
}

/** What the host offers for networking; tests pass their own. */
export interface NetworkHost {
  /** Path of a helper program, or undefined when it is not installed. */
  find(tool: HelperMode): string | undefined;
  /** Why /dev/net/tun cannot be used, or undefined when it can. */
  tunProblem(): string | undefined;
  /**
   * The interfaces with a default route (`4:eth0`, `6:wlan0`); absent: the
   * host is taken as connected (pasta is not questioned).
   */
  defaultRoutes?(): string[];
  /** A program file's identity (size and mtime), part of the facts the default depends on. */
  stamp?(path: string): string;
  /** Where the default's verdict is kept with its facts (absent: nowhere). */
  memoFile?: string;
  /** Start pasta once on its own and say why it cannot work (absent: pasta is not tried). */
  tryPasta?(tool: string): string | undefined;
  /** Time each helper's start in trial containers (absent: not measured, pasta is preferred). */
  timeStarts?(tools: Record<HelperMode, string>): HelperStartTimes;
}

/** Where the default network's verdict is kept: per boot, with nook's other runtime state. */
export function autoMemoFile(): string {
  return `${runtimeDir()}/network-default.json`;
}

/** The real host's {@link NetworkHost} (`procNet`: where route and ipv6_route are read). */
export function realNetworkHost(procNet = "/proc/net"): NetworkHost {
  let tun: string | undefined | null = null;
  let memoFile: string | undefined;
  try {
    memoFile = autoMemoFile();
  } catch {
    // no runtime directory: the verdict is recomputed each time
  }
  return {
    find: (tool) => findExecutable(tool, helperSearchPath()),
    tunProblem: () => (tun === null ? (tun = tunProblem()) : tun),
    defaultRoutes: () => readDefaultRoutes(procNet),
    stamp: fileStamp,
    // the helpers are timed only where the answer can be kept: never once per run
    ...(memoFile ? { memoFile, timeStarts: timeHelperStartsSync } : {}),
    tryPasta: trialPasta,
  };
}

/**
 * Why the tun device cannot be opened for reading and writing, or undefined
 * when it can (opening it creates nothing; the helpers attach the interface).
 */
export function tunProblem(device: string = TUN_DEVICE): string | undefined {
  try {
    Deno.openSync(device, { read: true, write: true }).close();
    return undefined;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return `${device} does not exist (the tun kernel module is not loaded)`;
    if (err instanceof Deno.errors.PermissionDenied) {
      let mode = "";
      try {
        mode = ` (mode ${((Deno.statSync(device).mode ?? 0) & 0o777).toString(8).padStart(4, "0")})`;
      } catch {
        // the mode is only a detail of the message
      }
      return `${device} is not readable and writable by you${mode}`;
    }
    return `${device} cannot be opened: ${(err as Error).message}`;
  }
}

/** The hint for an unusable tun device. */
export function tunHint(device: string = TUN_DEVICE): string {
  return `user-mode networking needs ${device} open to every user, as desktops set it up: ` +
    `sudo chmod 0666 ${device} (or sudo modprobe tun if it is missing); --network none works without it`;
}

/** The hint for a missing helper. */
export function installHint(tool: HelperMode): string {
  const pkg = HELPER_PACKAGES[tool];
  const other = tool === "pasta" ? "slirp4netns" : "pasta";
  return `install the ${pkg} package (Debian/Ubuntu: sudo apt install ${pkg}; Fedora: sudo dnf install ${pkg}), ` +
    `or use --network ${other} or --network none`;
}

/** The mode a run gets and the helper program it needs. */
export interface ResolvedMode {
  /** The mode. */
  mode: NetworkMode;
  /** Path of pasta or slirp4netns (helper modes). */
  tool?: string;
  /** Which mode the default chose instead of the preferred one, and why (shown once per host state). */
  notice?: string;
  /** For the default: why this helper rather than the other when both work (`nook info`). */
  reason?: string;
  /** For the default: the key of the host facts it was decided for (to learn from a helper that fails at start). */
  autoKey?: string;
}

/** The facts of `host` that the default depends on. */
export function autoFacts(host: NetworkHost): AutoFacts {
  const pasta = host.find("pasta");
  const slirp = host.find("slirp4netns");
  const tun = pasta || slirp ? host.tunProblem() : undefined;
  return {
    // a host that cannot tell its routes is taken as connected
    routes: host.defaultRoutes ? host.defaultRoutes() : ["connected"],
    ...(pasta ? { pasta, ...(host.stamp ? { pastaStamp: host.stamp(pasta) } : {}) } : {}),
    ...(slirp ? { slirp4netns: slirp } : {}),
    ...(tun ? { tun: `${tun}; ${tunHint()}` } : {}),
  };
}

/**
 * The default network on `host` (`--network auto`): pasta, else slirp4netns,
 * else none, each only where it can work; the verdict is kept in the host's
 * memo file with the facts it depends on. `run`, `info` and `doctor` all ask this.
 */
export function resolveDefault(host: NetworkHost = realNetworkHost()): ResolvedMode {
  const memo = host.memoFile ? readMemo(host.memoFile) : undefined;
  const d = decideAuto(autoFacts(host), memo, host.tryPasta ?? (() => undefined), host.timeStarts?.bind(host));
  if (host.memoFile && JSON.stringify(d.memo) !== JSON.stringify(memo)) writeMemo(host.memoFile, d.memo);
  return {
    mode: d.mode,
    ...(d.tool ? { tool: d.tool } : {}),
    ...(d.notice ? { notice: d.notice } : {}),
    ...(d.reason ? { reason: d.reason } : {}),
    ...(host.memoFile ? { autoKey: d.key } : {}),
  };
}

/**
 * Decide the mode: an explicit helper mode must be usable (else a clear error
 * naming the package, or the tun device) and never changes; the default is
 * what works here ({@link resolveDefault}).
 */
export function resolveMode(requested: NetworkMode | "default", host: NetworkHost = realNetworkHost()): ResolvedMode {
  if (requested === "none" || requested === "host") return { mode: requested };
  if (requested !== "default") {
    const tool = host.find(requested);
    if (!tool) {
      throw new NetworkError(`--network ${requested} needs "${requested}", which is not installed`, {
        hint: installHint(requested),
      });
    }
    const tun = host.tunProblem();
    if (tun) {
      throw new NetworkError(`--network ${requested} cannot work: ${tun}`, { path: TUN_DEVICE, hint: tunHint() });
    }
    return { mode: requested, tool };
  }
  return resolveDefault(host);
}

/**
 * pasta, chosen by the default, stopped at start for a reason of the host
 * (no external interface): remember it with the host facts, so the next
 * default run here takes the next helper, and say so. Returns the error to throw.
 */
export function learnFromHelper(err: NetworkError, setup: NetworkSetup): NetworkError {
  const why = hostReason(err.message);
  if (!why || !setup.autoKey) return err;
  try {
    rememberPastaFailure(autoMemoFile(), setup.autoKey, why);
  } catch {
    // no runtime directory: nothing to remember in
  }
  return new NetworkError(err.message, {
    ...(err.op ? { op: err.op } : {}),
    cause: err,
    hint: "nook chose pasta by default, and pasta cannot work on this host as it is now: the next run chooses " +
      "what works here (slirp4netns or none); or give --network slirp4netns",
  });
}

/** What `nook info` reports about networking. */
export interface NetworkInfo {
  /** The mode `nook run` uses without --network. */
  defaultMode: NetworkMode;
  /** Which mode the default chose instead of the preferred one, and why. */
  defaultReason?: string;
  /** Each helper: its path and version, or null when missing. */
  helpers: Record<HelperMode, { path: string; version: string } | null>;
  /** Why /dev/net/tun is unusable, or null. */
  tunProblem: string | null;
  /** The interfaces with a default route (`4:eth0`), the facts the default depends on. */
  defaultRoutes: string[];
}

/**
 * Networking facts for `nook info`: the default mode, the helpers with their
 * versions, and the tun device. Runs the helpers with `--version` (not for the run path).
 */
export async function networkInfo(host: NetworkHost = realNetworkHost()): Promise<NetworkInfo> {
  const resolved = resolveMode("default", host);
  const helpers = {} as NetworkInfo["helpers"];
  for (const m of HELPER_PREFERENCE) {
    const path = host.find(m);
    helpers[m] = path ? { path, version: await toolVersion(path) } : null;
  }
  return {
    defaultMode: resolved.mode,
    ...(resolved.notice || resolved.reason ? { defaultReason: resolved.notice ?? resolved.reason } : {}),
    helpers,
    tunProblem: host.tunProblem() ?? null,
    defaultRoutes: host.defaultRoutes?.() ?? [],
  };
}

async function toolVersion(path: string): Promise<string> {
  try {
    const out = await new Deno.Command(path, { args: ["--version"], stdout: "piped", stderr: "null", stdin: "null" })
      .output();
    const first = new TextDecoder().decode(out.stdout).split("\n").find((l) => l.trim()) ?? "";
    return first.replace(/^\S*(pasta|slirp4netns)\S*\s+(version\s+)?/i, "").trim() || "unknown";
  } catch {
    return "unknown";
  }
}
