import { NetworkError } from "./network_error.ts";
import { parseIpv4Cidr } from "./_addr.ts";

export type { HelperMode, NetworkMode, SlirpOptions } from "../model/network.ts";
import type { NetworkMode, SlirpOptions } from "../model/network.ts";

/** What `--network` asked for, before the host decides what is available. */
export interface NetworkRequest {
  /** The mode, or "default" when the flag was absent (the best available helper). */
  mode: NetworkMode | "default";
  /** Arguments passed through to pasta verbatim (`--network pasta:-T,auto`). */
  pastaArgs: string[];
  /** slirp4netns options. */
  slirp: SlirpOptions;
}

/** slirp4netns defaults, as podman has them. */
export const SLIRP_DEFAULTS: Readonly<SlirpOptions> = {
  allowHostLoopback: false,
  cidr: "10.0.2.0/24",
  enableIpv6: false,
  mtu: 65520,
};

const MODE_HINT = "use --network none, host, pasta[:OPTIONS], slirp4netns[:OPTIONS] or a network's name (nook network ls)";

/**
 * Parse a `--network` value: `none`, `host`, `pasta`, `pasta:ARG,ARG…` (each
 * comma-separated piece is one pasta argument, as podman passes them),
 * `slirp4netns`, `slirp4netns:key=value,…`. `undefined` or `auto` asks for the default.
 */
export function parseNetworkFlag(value: string | undefined): NetworkRequest {
  const req: NetworkRequest = { mode: "default", pastaArgs: [], slirp: { ...SLIRP_DEFAULTS } };
  if (value === undefined || value === "" || value === "private" || value === "auto") return req;
  const colon = value.indexOf(":");
  const name = colon < 0 ? value : value.slice(0, colon);
  const opts = colon < 0 ? undefined : value.slice(colon + 1);
  switch (name) {
    case "none":
    case "host":
      if (opts !== undefined) {
        throw new NetworkError(`--network ${name} takes no options ("${value}")`, { hint: MODE_HINT });
      }
      req.mode = name;
      return req;
    case "pasta":
      req.mode = "pasta";
      req.pastaArgs = opts ? opts.split(",").filter((a) => a !== "") : [];
      checkPastaArgs(req.pastaArgs);
      return req;
    case "slirp4netns":
      req.mode = "slirp4netns";
      if (opts) req.slirp = parseSlirpOptions(opts);
      return req;
    default:
      throw new NetworkError(`Unknown network mode "${name}"`, { hint: MODE_HINT });
  }
}

/** pasta options nook sets itself: a user's copy would take the helper out of nook's hands. */
const PASTA_RESERVED = ["-P", "--pid", "--netns", "--userns", "--netns-only", "-f", "--foreground", "--no-netns-quit"];

function checkPastaArgs(args: readonly string[]): void {
  for (const a of args) {
    const flag = a.split("=")[0]!;
    if (PASTA_RESERVED.includes(flag)) {
      throw new NetworkError(
        `The pasta option "${flag}" cannot be given: nook sets it to run pasta for the container`,
        {
          hint: "leave it out; other pasta options pass through, e.g. --network pasta:-T,auto",
        },
      );
    }
  }
}

function bool(key: string, v: string): boolean {
  if (v === "true") return true;
  if (v === "false") return false;
  throw new NetworkError(`slirp4netns option "${key}" takes true or false, not "${v}"`);
}

/** `key=value,…` of `--network slirp4netns:…`, with podman's keys. */
export function parseSlirpOptions(text: string): SlirpOptions {
  const o: SlirpOptions = { ...SLIRP_DEFAULTS };
  for (const item of text.split(",")) {
    if (!item) continue;
    const eq = item.indexOf("=");
    const key = eq < 0 ? item : item.slice(0, eq);
    const v = eq < 0 ? "" : item.slice(eq + 1);
    switch (key) {
      case "allow_host_loopback":
        o.allowHostLoopback = bool(key, v);
        break;
      case "enable_ipv6":
        o.enableIpv6 = bool(key, v);
        break;
      case "cidr":
        if (!parseIpv4Cidr(v) || parseIpv4Cidr(v)!.prefix > 29) {
          throw new NetworkError(`slirp4netns option cidr="${v}" is not an IPv4 network of at least 8 addresses`, {
            hint: "e.g. cidr=10.0.2.0/24",
          });
        }
        o.cidr = v;
        break;
      case "mtu": {
        const n = Number(v);
        if (!/^\d+$/.test(v) || n < 68 || n > 65521) {
          throw new NetworkError(`slirp4netns option mtu="${v}" is out of range`, { hint: "use 68 to 65521" });
        }
        o.mtu = n;
        break;
      }
      case "outbound_addr":
        o.outboundAddr = v;
        break;
      case "outbound_addr6":
        o.outboundAddr6 = v;
        break;
      case "port_handler":
        if (v !== "slirp4netns") {
          throw new NetworkError(`slirp4netns port_handler "${v}" is not available in nook`, {
            hint: "nook forwards ports through slirp4netns itself: use port_handler=slirp4netns (the default)",
          });
        }
        break;
      default:
        throw new NetworkError(`Unknown slirp4netns option "${key}"`, {
          hint: "options: allow_host_loopback, cidr, enable_ipv6, mtu, outbound_addr, outbound_addr6, port_handler",
        });
    }
  }
  return o;
}
