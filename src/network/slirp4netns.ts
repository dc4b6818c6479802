import { closeFd, pipe } from "../ffi/mod.ts";
import { Helper } from "./_helper.ts";
import type { SlirpOptions } from "./mode.ts";
import { SLIRP_DEFAULTS } from "./mode.ts";
import type { PortMapping } from "./ports.ts";

/**
 * Fds slirp4netns talks through: it writes "1" on `ready` once configured and
 * exits at EOF on `exit`. Numbers, or placeholders the container's monitor
 * replaces with the fds it makes (`"%READY_FD%"`, `"%EXIT_FD%"`).
 */
export interface SlirpFds {
  /** Write end of the readiness pipe, in the helper. */
  ready: number | string;
  /** Read end of the exit pipe, in the helper. */
  exit: number | string;
}

/**
 * slirp4netns's command line for the namespaces of `pid` (as podman drives
 * it): configure tap0, sandbox and seccomp itself, keep the host's loopback
 * out unless allowed, signal readiness on a pipe, exit when nook's end of the
 * exit pipe closes (nook exited or was killed), and take port forwards on its
 * API socket. `pid` may be a placeholder (`"%PID%"`), as the fds.
 */
export function slirpArgv(tool: string, pid: number | string, o: SlirpOptions, fds: SlirpFds, apiSocket: string): string[] {
  const argv = [tool, "--configure", `--mtu=${o.mtu}`, "--enable-sandbox", "--enable-seccomp"];
  if (!o.allowHostLoopback) argv.push("--disable-host-loopback");
  if (o.cidr !== SLIRP_DEFAULTS.cidr) argv.push(`--cidr=${o.cidr}`);
  if (o.enableIpv6) argv.push("--enable-ipv6");
  if (o.outboundAddr) argv.push(`--outbound-addr=${o.outboundAddr}`);
  if (o.outboundAddr6) argv.push(`--outbound-addr6=${o.outboundAddr6}`);
  argv.push(`--ready-fd=${fds.ready}`, `--exit-fd=${fds.exit}`, `--api-socket=${apiSocket}`, String(pid), "tap0");
  return argv;
}

/** What slirp4netns's readiness (its ready fd) means, for messages. */
export const SLIRP_READY = "its interface was up";

/** The hint when slirp4netns refuses a port forward. */
export const HOSTFWD_HINT = "is that host port in use, or the address not one of this host's?";

/** One forwarded host port, for messages: `0.0.0.0:8080/tcp`. */
export function hostfwdTarget(p: PortMapping, offset: number): string {
  return `${p.hostIp || "0.0.0.0"}:${p.hostPort + offset}/${p.protocol}`;
}

/** The API request that forwards one host port into the container. */
export function hostfwdRequest(p: PortMapping, offset: number): string {
  return JSON.stringify({
    execute: "add_hostfwd",
    arguments: {
      proto: p.protocol,
      host_addr: p.hostIp || "0.0.0.0",
      host_port: p.hostPort + offset,
      guest_port: p.containerPort + offset,
    },
  });
}

/** One request on slirp4netns's API socket (one connection each); resolves with the parsed reply. */
export async function slirpApi(
  socket: string,
  request: string,
): Promise<{ return?: unknown; error?: { desc?: string } }> {
  const conn = await Deno.connect({ transport: "unix", path: socket });
  try {
    await conn.write(new TextEncoder().encode(request));
    await conn.closeWrite();
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(4096);
    for (let i = 0; i < 256; i++) {
      const n = await conn.read(buf);
      if (n === null) break;
      chunks.push(buf.slice(0, n));
    }
    const text = new TextDecoder().decode(new Uint8Array(chunks.flatMap((c) => [...c])));
    return JSON.parse(text);
  } finally {
    conn.close();
  }
}

/**
 * Start slirp4netns for the container whose setup process is `pid`, wait for
 * its ready fd, then forward the published ports through its API socket.
 * nook keeps the write end of the exit pipe: closing it (or nook dying) ends slirp4netns.
 */
export async function startSlirp(
  tool: string,
  pid: number,
  runDir: string,
  apiSocket: string,
  o: SlirpOptions,
  ports: readonly PortMapping[],
): Promise<Helper> {
  const ready = await pipe();
  const exit = await pipe();
  let h: Helper;
  try {
    const argv = slirpArgv(tool, pid, o, { ready: ready.write, exit: exit.read }, apiSocket);
    h = Helper.start(
      "slirp4netns",
      argv,
      `${runDir}/slirp4netns.log`,
      [ready.write, exit.read],
      () => closeFd(exit.write),
    );
  } catch (err) {
    await closeFd(ready.read);
    await closeFd(exit.write);
    throw err;
  } finally {
    // the helper holds its own copies now: ours would hide its exit from the ready pipe
    await closeFd(ready.write);
    await closeFd(exit.read);
  }
  try {
    await h.ready(ready.read, SLIRP_READY);
  } finally {
    await closeFd(ready.read);
  }
  for (const p of ports) {
    for (let i = 0; i < p.range; i++) {
      let reply;
      try {
        reply = await slirpApi(apiSocket, hostfwdRequest(p, i));
      } catch (err) {
        throw await h.failure(`did not answer on its API socket "${apiSocket}": ${(err as Error).message}`);
      }
      if (reply.error || reply.return === undefined) {
        throw await h.failure(`cannot publish ${hostfwdTarget(p, i)}: ${reply.error?.desc ?? JSON.stringify(reply)}`, HOSTFWD_HINT);
      }
    }
  }
  return h;
}
