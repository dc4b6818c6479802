import type { NetworkFlags } from "../network/mod.ts";
import { bool, list, type OptionSpec, type ParsedArgs, str } from "./_args.ts";

/** The network options of `nook run`. */
export const NETWORK_RUN_OPTIONS: readonly OptionSpec[] = [
  {
    name: "network",
    type: "string",
    value: "MODE",
    help: "none, host, pasta[:OPT,…] or slirp4netns[:KEY=VAL,…] (default auto: pasta, else slirp4netns, else none — what works here)",
  },
  {
    name: "publish",
    short: "p",
    type: "list",
    value: "[IP:]HOST:CTR",
    help: "Publish a container port: 8080:80, 127.0.0.1:5353:53/udp, 8000-8009:80-89, 80 (any free host port)",
  },
  { name: "publish-all", short: "P", type: "bool", help: "Publish every port the image exposes on a free host port" },
  { name: "dns", type: "list", value: "IP", help: "Nameserver for /etc/resolv.conf (default: the helper's forwarder)" },
  { name: "add-host", type: "list", value: "NAME:IP", help: "Add a line to /etc/hosts (IP may be host-gateway)" },
];

/** The network flags of parsed `nook run` options. */
export function networkFlags(a: ParsedArgs): NetworkFlags {
  return {
    network: str(a, "network"),
    publish: list(a, "publish"),
    publishAll: bool(a, "publish-all"),
    dns: list(a, "dns"),
    addHosts: list(a, "add-host"),
  };
}
