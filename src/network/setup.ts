import { type EtcOptions, networkEtc } from "./etc.ts";
import { type NetworkMode, parseNetworkFlag } from "./mode.ts";
import { NetworkError } from "./network_error.ts";
import { checkPublications, exposedToPublish, parsePublish, unprivilegedPortStart } from "./ports.ts";
import { type NetworkHost, realNetworkHost, resolveMode } from "./tools.ts";

/** The network flags of `nook run`, as given. */
export interface NetworkFlags {
  /** `--network`, absent for the default. */
  network?: string | undefined;
  /** `-p` values. */
  publish: readonly string[];
  /** `-P`. */
  publishAll: boolean;
  /** `--dns` values. */
  dns: readonly string[];
  /** `--add-host` values. */
  addHosts: readonly string[];
  /** `--network-alias` values: other names on a user network. */
  aliases?: readonly string[];
  /** Further user networks (a second and later `--network`): the container gets `eth1`, `eth2`… on them. */
  more?: readonly string[];
  /** `--network-rate` (tc's words: 10mbit, 2mbps): the container's egress limit. */
  rate?: string | undefined;
}

/** The container the network is for. */
export interface NetworkContext {
  /** Container id. */
  id: string;
  /** Container name. */
  name?: string | undefined;
  /** Hostname. */
  hostname: string;
  /** The container's private runtime directory (helper pid file, logs, network.json). */
  runDir: string;
  /** The image's ExposedPorts (`"80/tcp"`), published by `-P`. */
  exposedPorts?: readonly string[] | undefined;
}

export type { NetworkSetup } from "../model/network.ts";
import type { NetworkSetup } from "../model/network.ts";

/** The decision: mode, helper set-up, /etc contents, and a notice when the default took another mode than pasta. */
export interface PreparedNetwork {
  /** The mode. */
  mode: NetworkMode;
  /** For the spec's networkSetup. */
  setup: NetworkSetup;
  /** For writeEtcFiles. */
  etc: EtcOptions;
  /** Say once which mode the default chose instead of the preferred one, and why. */
  notice?: string;
  /** What the notice is about (one per host state: a marker name), so each state's notice shows once. */
  noticeTopic?: string;
}

/**
 * Decide a container's network from the flags: the mode (default: the best
 * usable helper), the published ports (no privileged ones, none twice; whether
 * they are free is checked as the container starts), and what
 * /etc/resolv.conf and /etc/hosts say.
 */
export function prepareNetwork(
  flags: NetworkFlags,
  ctx: NetworkContext,
  host: NetworkHost = realNetworkHost(),
  unprivilegedStart: () => number = unprivilegedPortStart,
): PreparedNetwork {
  const req = parseNetworkFlag(flags.network);
  const wanted = [
    ...flags.publish.flatMap(parsePublish),
    ...(flags.publishAll ? exposedToPublish(ctx.exposedPorts ?? []) : []),
  ];
  const resolved = resolveMode(req.mode, host);
  if (wanted.length && (resolved.mode === "none" || resolved.mode === "host")) {
    const why = resolved.mode === "host"
      ? "with --network host the container's servers listen on the host's ports already: drop -p"
      : resolved.notice ?? "use --network pasta or slirp4netns (or leave --network out)";
    throw new NetworkError(`Ports cannot be published with --network ${resolved.mode}`, { hint: why });
  }
  if (wanted.length) checkPublications(wanted, unprivilegedStart());
  const etc = networkEtc({
    mode: resolved.mode,
    hostname: ctx.hostname,
    name: ctx.name,
    dns: flags.dns,
    addHosts: flags.addHosts,
    pastaArgs: req.pastaArgs,
    slirp: req.slirp,
  });
  const setup: NetworkSetup = {
    runDir: ctx.runDir,
    ...(ctx.name ? { name: ctx.name } : {}),
    ...(resolved.tool ? { tool: resolved.tool } : {}),
    ports: wanted,
    pastaArgs: req.pastaArgs,
    slirp: req.slirp,
    ...(resolved.autoKey && resolved.tool ? { autoKey: resolved.autoKey } : {}),
  };
  return {
    mode: resolved.mode,
    setup,
    etc,
    ...(resolved.notice
      ? { notice: resolved.notice, noticeTopic: `network${resolved.autoKey ? `-${resolved.autoKey}` : ""}` }
      : {}),
  };
}
