/**
 * A container's network as data: the mode, the helper's options and the published ports.
 *
 * @module
 */

/** How a container is networked: its own namespace with loopback only, the host's, or its own connected by a helper. */
export type NetworkMode = "none" | "host" | "pasta" | "slirp4netns";

/** The modes that start a user-mode network helper for the container's namespace. */
export type HelperMode = "pasta" | "slirp4netns";

/** slirp4netns options, podman's names: `--network slirp4netns:allow_host_loopback=true,mtu=1500`. */
export interface SlirpOptions {
  /** Let the container reach the host's 127.0.0.1 at the CIDR's .2 address (podman's default: false). */
  allowHostLoopback: boolean;
  /** The virtual network, IPv4 `a.b.c.d/n` (default 10.0.2.0/24: gateway .2, DNS .3, container .100). */
  cidr: string;
  /** Give the container IPv6 too (experimental in slirp4netns). */
  enableIpv6: boolean;
  /** MTU of the tap device. */
  mtu: number;
  /** Host IPv4 address (or interface) outbound connections leave from. */
  outboundAddr?: string;
  /** Host IPv6 address (or interface) outbound connections leave from. */
  outboundAddr6?: string;
}

/** Transport protocols a port can be published for. */
export type Protocol = "tcp" | "udp";

/** A published port (or a run of `range` consecutive ports): host side → container side. */
export interface PortMapping {
  /** Host address to listen on; "" = every address. */
  hostIp: string;
  /** First host port; 0 = pick a free one before the container starts. */
  hostPort: number;
  /** First port in the container. */
  containerPort: number;
  /** tcp or udp. */
  protocol: Protocol;
  /** How many consecutive ports, at least 1. */
  range: number;
}

/** The network part of a container spec: everything the helper needs at start. */
export interface NetworkSetup {
  /** The container's private runtime directory. */
  runDir: string;
  /** Container name (recorded in the network state). */
  name?: string;
  /** pasta or slirp4netns path (helper modes). */
  tool?: string;
  /** Published ports as asked for (host port 0: any free one, picked when the container starts). */
  ports: PortMapping[];
  /** pasta pass-through arguments. */
  pastaArgs: string[];
  /** slirp4netns options. */
  slirp: SlirpOptions;
  /** The default chose this mode for these host facts (a key of src/network/auto.ts): learn from its failure. */
  autoKey?: string;
}
