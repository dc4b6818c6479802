import { findExecutable } from "../userns/mod.ts";
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
}

/** The real host's {@link NetworkHost}. */
export function realNetworkHost(): NetworkHost {
  let tun: string | undefined | null = null;
  return {
    find: (tool) => findExecutable(tool, helperSearchPath()),
    tunProblem: () => (tun === null ? (tun = tunProblem()) : tun),
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
  /** Why the default fell back to `none` (shown once). */
  notice?: string;
}

/**
 * Decide the mode: an explicit helper mode must be usable (else a clear error
 * naming the package, or the tun device); the default is the best usable
 * helper, else `none` with a notice saying why.
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
  const found = HELPER_PREFERENCE.map((m) => ({ mode: m, tool: host.find(m) })).filter((f) => f.tool);
  const tun = found.length ? host.tunProblem() : undefined;
  if (found.length && !tun) return { mode: found[0]!.mode, tool: found[0]!.tool! };
  const why = found.length
    ? `${tun}; ${tunHint()}`
    : `neither pasta nor slirp4netns is installed (sudo apt install passt)`;
  return { mode: "none", notice: `containers get no network beyond loopback by default: ${why}` };
}

/** What `nook info` reports about networking (issue #8 prints it). */
export interface NetworkInfo {
  /** The mode `nook run` uses without --network. */
  defaultMode: NetworkMode;
  /** Why the default is `none`, when it is. */
  defaultReason?: string;
  /** Each helper: its path and version, or null when missing. */
  helpers: Record<HelperMode, { path: string; version: string } | null>;
  /** Why /dev/net/tun is unusable, or null. */
  tunProblem: string | null;
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
    ...(resolved.notice ? { defaultReason: resolved.notice } : {}),
    helpers,
    tunProblem: host.tunProblem() ?? null,
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
