import { cidrHost, defaultRoute, hostIpv4, isIp } from "./_addr.ts";
import type { NetworkMode, SlirpOptions } from "./mode.ts";
import { NetworkError } from "./network_error.ts";

/** The address pasta answers DNS on inside the container (forwarded to the host's resolver), as podman uses it. */
export const PASTA_DNS_FORWARD = "169.254.1.1";

/** What decides the network part of /etc/hosts and /etc/resolv.conf. */
export interface EtcRequest {
  /** The resolved mode. */
  mode: NetworkMode;
  /** The container's hostname. */
  hostname: string;
  /** The container's name, if it has one. */
  name?: string | undefined;
  /** `--dns` servers. */
  dns: readonly string[];
  /** `--add-host NAME:IP` values. */
  addHosts: readonly string[];
  /** pasta pass-through arguments. */
  pastaArgs: readonly string[];
  /** slirp4netns options. */
  slirp: SlirpOptions;
}

/** Options for `writeEtcFiles`: nameservers (undefined = the host's, filtered) and extra hosts lines. */
export interface EtcOptions {
  /** Nameservers for /etc/resolv.conf. */
  dns?: string[];
  /** `[name, ip]` lines for /etc/hosts. */
  addHosts: [string, string][];
}

/** The value of a pasta option in pass-through arguments (`-g X`, `--gateway X`, `--gateway=X`). */
export function pastaOption(args: readonly string[], long: string, short?: string): string | undefined {
  let v: string | undefined;
  args.forEach((a, i) => {
    if (a === long || (short && a === short)) v = args[i + 1];
    else if (a.startsWith(`${long}=`)) v = a.slice(long.length + 1);
  });
  return v;
}

/** Where `host.containers.internal` points for a mode, or undefined when the host is not reachable. */
export function hostGatewayAddress(
  mode: NetworkMode,
  pastaArgs: readonly string[],
  slirp: SlirpOptions,
): string | undefined {
  switch (mode) {
    case "host":
      return "127.0.0.1";
    case "pasta":
      // pasta maps the gateway address to the host (unless --no-map-gw); the
      // container shares the host's own addresses, so those would be itself.
      if (pastaArgs.includes("--no-map-gw")) return undefined;
      return pastaOption(pastaArgs, "--gateway", "-g") ?? defaultRoute()?.gateway;
    case "slirp4netns":
      return slirp.allowHostLoopback ? cidrHost(slirp.cidr, 2) : hostIpv4();
    default:
      return undefined;
  }
}

/** `NAME:IP` (or docker's `NAME=IP`) of `--add-host`; IP may be `host-gateway`. */
export function parseAddHost(value: string, gateway: string | undefined): [string, string] {
  const m = /^([^:=\s]+)[:=](.+)$/.exec(value.trim());
  const name = m?.[1];
  let ip = m?.[2]?.replace(/^\[(.*)\]$/, "$1");
  if (!name || !ip || !/^[a-zA-Z0-9]([a-zA-Z0-9.-]*[a-zA-Z0-9])?$/.test(name)) {
    throw new NetworkError(`Invalid --add-host "${value}"`, {
      hint: "use --add-host NAME:IP, e.g. --add-host db:10.0.2.2",
    });
  }
  if (ip === "host-gateway") {
    if (!gateway) {
      throw new NetworkError(`--add-host "${value}": this network mode has no address for the host`, {
        hint: "host-gateway works with pasta, slirp4netns:allow_host_loopback=true (or a host IPv4 address) and host",
      });
    }
    ip = gateway;
  }
  if (!isIp(ip)) throw new NetworkError(`Invalid --add-host "${value}": "${ip}" is not an IP address`);
  return [name, ip];
}

function hostNameservers(): string[] {
  try {
    return [...Deno.readTextFileSync("/etc/resolv.conf").matchAll(/^\s*nameserver\s+(\S+)/gm)].map((m) => m[1]!);
  } catch {
    return [];
  }
}

/**
 * The network's part of /etc/resolv.conf and /etc/hosts: the helper's DNS
 * forwarder (pasta 169.254.1.1, slirp4netns the CIDR's .3) unless `--dns`
 * names servers; the host's own resolvers with `--network host`; the
 * container's name, `host.containers.internal` and `--add-host` lines.
 */
export function networkEtc(r: EtcRequest): EtcOptions {
  for (const d of r.dns) {
    if (!isIp(d)) throw new NetworkError(`Invalid --dns "${d}": not an IP address`, { hint: "e.g. --dns 1.1.1.1" });
  }
  const gateway = hostGatewayAddress(r.mode, r.pastaArgs, r.slirp);
  let dns: string[] | undefined = r.dns.length ? [...r.dns] : undefined;
  if (!dns) {
    if (r.mode === "pasta") dns = [pastaOption(r.pastaArgs, "--dns-forward") ?? PASTA_DNS_FORWARD];
    else if (r.mode === "slirp4netns") dns = [cidrHost(r.slirp.cidr, 3)];
    else if (r.mode === "host") {
      // the host's resolvers, loopback ones included: the container shares the host's loopback
      const own = hostNameservers();
      if (own.length) dns = own;
    }
  }
  const addHosts: [string, string][] = [];
  if (r.name && r.name !== r.hostname) addHosts.push([r.name, "127.0.1.1"]);
  if (gateway) addHosts.push(["host.containers.internal", gateway]);
  for (const h of r.addHosts) addHosts.push(parseAddHost(h, gateway));
  return { ...(dns ? { dns } : {}), addHosts };
}
