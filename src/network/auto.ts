/**
 * The default network (`--network auto`): what works on this host. pasta is
 * preferred; where it cannot work (no interface with a default route, and a
 * pasta without its "local mode"), slirp4netns; else none. The verdict is
 * kept with the host facts it depends on (the interfaces that carry a
 * default route, the helpers and their files), so it is recomputed when they
 * change: a laptop that comes back online gets pasta again.
 *
 * On the run path: Deno's own APIs only (two small /proc reads and a few
 * stat calls per run; a trial of pasta only when a new host state lacks a
 * default route).
 */
import type { HelperMode, NetworkMode } from "./mode.ts";
import { selfCommand } from "../paths/project.ts";

/** The host facts the default network depends on. */
export interface AutoFacts {
  /** Interfaces with a usable default route, as `4:eth0` / `6:wlan0`, sorted; empty when offline. */
  routes: readonly string[];
  /** pasta's path, when installed. */
  pasta?: string;
  /** pasta's file identity (size and mtime): an upgraded pasta is tried again. */
  pastaStamp?: string;
  /** slirp4netns's path, when installed. */
  slirp4netns?: string;
  /** Why /dev/net/tun cannot be used, with what to do, when it cannot. */
  tun?: string;
}

/** ms from a container's clone until each helper had its interface up (median of a few trial starts). */
export type HelperStartTimes = Partial<Record<HelperMode, number>>;

/** What was learned about pasta for one set of host facts (kept in the memo file). */
export interface AutoMemo {
  /** {@link autoKey} of the facts this was learned for. */
  key: string;
  /** Why pasta cannot work with these facts; absent when it can. */
  pastaFails?: string;
  /** pasta was tried (or seen working) with these facts. */
  pastaTried?: boolean;
  /** How fast each helper started in trial containers with these facts (measured once; `{}`: no answer). */
  starts?: HelperStartTimes;
}

/** The default's decision. */
export interface AutoDecision {
  /** The mode. */
  mode: NetworkMode;
  /** Path of the helper (helper modes). */
  tool?: string;
  /** Which mode was chosen instead of the preferred one, and why (shown once per host state). */
  notice?: string;
  /** Why this helper rather than the other, when both work (for `nook info`; no notice). */
  reason?: string;
  /** {@link autoKey} of the facts. */
  key: string;
  /** The memo to keep for these facts (changed when pasta was tried). */
  memo: AutoMemo;
}

/** Route flags of /proc/net/route and ipv6_route. */
const RTF_UP = 0x1;
const RTF_REJECT = 0x200;

/**
 * The interfaces that carry a default route, from the text of
 * /proc/net/route and /proc/net/ipv6_route: up, not a reject route, not loopback.
 * These are the interfaces pasta takes as its template.
 */
export function defaultRouteInterfaces(route4: string | undefined, route6: string | undefined): string[] {
  const out = new Set<string>();
  for (const line of (route4 ?? "").split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const [iface, dest, , flags, , , , mask] = f;
    const fl = parseInt(flags!, 16);
    if (dest === "00000000" && mask === "00000000" && fl & RTF_UP && !(fl & RTF_REJECT) && iface !== "lo") {
      out.add(`4:${iface}`);
    }
  }
  for (const line of (route6 ?? "").split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const fl = parseInt(f[8]!, 16);
    const iface = f[9]!;
    if (/^0{32}$/.test(f[0]!) && f[1] === "00" && fl & RTF_UP && !(fl & RTF_REJECT) && iface !== "lo") {
      out.add(`6:${iface}`);
    }
  }
  return [...out].sort();
}

/** A file's text, or undefined. */
function readText(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return undefined;
  }
}

/** The interfaces with a default route on this host (`procNet` is /proc/net, or a copy for tests). */
export function readDefaultRoutes(procNet = "/proc/net"): string[] {
  return defaultRouteInterfaces(readText(`${procNet}/route`), readText(`${procNet}/ipv6_route`));
}

/** A program file's identity: size and modification time (changes when it is upgraded). */
export function fileStamp(path: string): string {
  try {
    const st = Deno.statSync(path);
    return `${st.size}:${st.mtime?.getTime() ?? 0}`;
  } catch {
    return "missing";
  }
}

/** The key of a set of facts: what the verdict depends on (FNV-1a of their JSON, hex). */
export function autoKey(f: AutoFacts): string {
  const text = JSON.stringify([f.routes, f.pasta ?? "", f.pastaStamp ?? "", f.slirp4netns ?? "", f.tun ?? ""]);
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, "0");
}

/** pasta's words when the host, not the options, stops it (no interface to take as its template), most telling first. */
const HOST_REASONS = [/External interface not usable/i, /No external (routable )?interface/i];

/** Whether a helper's log says it stopped for a reason of the host (no external interface): that line. */
export function hostReason(log: string): string | undefined {
  const lines = log.split(/;|\n/).map((l) => l.trim());
  for (const re of HOST_REASONS) {
    const line = lines.find((l) => re.test(l));
    if (line) return line;
  }
  return undefined;
}

/**
 * Decide the default from the facts and what was learned before for them.
 * `tryPasta` starts pasta once in a namespace of its own and says why it
 * could not work (undefined: it works); it is called only when there is no
 * default route and nothing was learned for these facts yet.
 */
export function decideAuto(
  facts: AutoFacts,
  memo: AutoMemo | undefined,
  tryPasta: (tool: string) => string | undefined,
  timeStarts?: (tools: Record<HelperMode, string>) => HelperStartTimes,
): AutoDecision {
  const key = autoKey(facts);
  let m: AutoMemo = memo?.key === key ? memo : { key };
  const found = ([["pasta", facts.pasta], ["slirp4netns", facts.slirp4netns]] as [HelperMode, string | undefined][])
    .filter(([, t]) => t);
  if (!found.length) {
    return {
      mode: "none",
      key,
      memo: m,
      notice: "containers get no network beyond loopback by default: neither pasta nor slirp4netns is installed " +
        "(sudo apt install passt)",
    };
  }
  if (facts.tun) {
    return {
      mode: "none",
      key,
      memo: m,
      notice: `containers get no network beyond loopback by default: ${facts.tun}`,
    };
  }
  let pastaWhy: string | undefined;
  let faster: ReturnType<typeof fasterHelper>;
  if (facts.pasta) {
    if (m.pastaFails) pastaWhy = m.pastaFails;
    else if (!facts.routes.length && !m.pastaTried) {
      const why = tryPasta(facts.pasta);
      m = { key, pastaTried: true, ...(why ? { pastaFails: why } : {}) };
      pastaWhy = why;
    }
    if (!pastaWhy && facts.slirp4netns && timeStarts) {
      // both work: the one that starts faster here, measured once for these facts
      if (!m.starts) m = { ...m, starts: timeStarts({ pasta: facts.pasta, slirp4netns: facts.slirp4netns }) };
      faster = fasterHelper(m.starts!);
      if (faster?.mode === "slirp4netns") return { mode: faster.mode, tool: facts.slirp4netns, key, memo: m, reason: faster.reason };
    }
    if (!pastaWhy) {
      const local = facts.routes.length
        ? undefined
        : "this host has no interface with a default route: pasta runs in its local mode (the container reaches " +
          "the host, not the outside)";
      return {
        mode: "pasta",
        tool: facts.pasta,
        key,
        memo: m,
        ...(local ? { notice: local } : {}),
        ...(faster ? { reason: faster.reason } : {}),
      };
    }
  }
  const cause = pastaWhy
    ? `pasta cannot work on this host (${pastaWhy}${facts.routes.length ? "" : "; no interface has a default route"})`
    : "pasta is not installed";
  if (facts.slirp4netns) {
    return {
      mode: "slirp4netns",
      tool: facts.slirp4netns,
      key,
      memo: m,
      ...(pastaWhy ? { notice: `containers get slirp4netns by default: ${cause}` } : {}),
    };
  }
  return {
    mode: "none",
    key,
    memo: m,
    notice: `containers get no network beyond loopback by default: ${cause}, and slirp4netns is not installed ` +
      "(sudo apt install slirp4netns)",
  };
}

/**
 * slirp4netns with why, when it started faster than pasta in the trials
 * (pasta, the preferred one, keeps the default on a tie or without both times).
 */
export function fasterHelper(starts: HelperStartTimes): { mode: HelperMode; reason: string } | undefined {
  const { pasta, slirp4netns } = starts;
  if (pasta === undefined || slirp4netns === undefined) return undefined;
  const [mode, other]: [HelperMode, HelperMode] = slirp4netns < pasta ? ["slirp4netns", "pasta"] : ["pasta", "slirp4netns"];
  return {
    mode,
    reason: `${mode} starts faster than ${other} on this host (${starts[mode]} ms against ${starts[other]} ms to bring a ` +
      "container's interface up, measured once for this host state)",
  };
}

/**
 * timeHelperStarts (start_trial.ts) run by a nook of its own (`nook _network time-helpers`),
 * so the synchronous decision can wait for it: the median ms of each helper
 * that started, `{}` when the trial itself could not run.
 */
export function timeHelperStartsSync(tools: Record<HelperMode, string>): HelperStartTimes {
  try {
    const [cmd, ...args] = selfCommand();
    const out = new Deno.Command(cmd!, {
      args: [...args, "_network", "time-helpers", JSON.stringify(tools)],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).outputSync();
    const parsed = JSON.parse(new TextDecoder().decode(out.stdout));
    const times: HelperStartTimes = {};
    for (const mode of ["pasta", "slirp4netns"] as const) {
      if (typeof parsed?.[mode] === "number") times[mode] = parsed[mode];
    }
    return times;
  } catch {
    return {};
  }
}

/** The memo in `file`, or undefined. */
export function readMemo(file: string): AutoMemo | undefined {
  try {
    const m = JSON.parse(Deno.readTextFileSync(file));
    return typeof m?.key === "string" ? m as AutoMemo : undefined;
  } catch {
    return undefined;
  }
}

/** Keep the memo (written to a temporary name, then renamed; a read-only place only costs a retrial). */
export function writeMemo(file: string, memo: AutoMemo): void {
  try {
    const tmp = `${file}.${Deno.pid}`;
    Deno.writeTextFileSync(tmp, JSON.stringify(memo) + "\n", { mode: 0o600 });
    Deno.renameSync(tmp, file);
  } catch {
    // the verdict is recomputed next time
  }
}

/**
 * Learn that pasta stopped at start for a reason of the host, for the facts
 * `key`: later default runs with the same facts go to the next helper.
 */
export function rememberPastaFailure(file: string, key: string, why: string): void {
  writeMemo(file, { key, pastaTried: true, pastaFails: why });
}

/**
 * Start pasta once with a throwaway command in a user and network namespace
 * of its own (`pasta --config-net -- /bin/sh -c :`): undefined when it
 * works, else what it said. Why a trial: whether pasta runs without an
 * external interface depends on its version (newer ones have a "local
 * mode"), and running it is the one sure answer. Only done for a host state
 * without a default route that was not tried before.
 */
export function trialPasta(tool: string): string | undefined {
  try {
    const out = new Deno.Command(tool, {
      args: ["--config-net", "--quiet", "--", "/bin/sh", "-c", ":"],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).outputSync(); // pasta's configuration fails at once, or it runs ":" and exits with it
    if (out.success) return undefined;
    const text = new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout);
    const lines = text.split("\n").map((l) => l.trim()).filter((l) =>
      l && !/^Failed to send \d+ bytes to syslog/.test(l)
    );
    return hostReason(lines.join("\n")) ?? lines.at(-1) ?? `it exited with status ${out.code}`;
  } catch (err) {
    return `it could not be run: ${(err as Error).message}`;
  }
}
