import { closeFd, fifo } from "../ffi/mod.ts";
import { PASTA_DNS_FORWARD, pastaOption } from "./etc.ts";
import { Helper } from "./_helper.ts";
import type { PortMapping } from "./ports.ts";

/** What pasta's readiness (its pid file) means, for messages. */
export const PASTA_READY = "the container's interface was up";

/** pasta's spec of one published run of ports: `[addr/]host[-end]:ctr[-end]`. */
export function pastaPortSpec(p: PortMapping): string {
  const end = (first: number) => (p.range > 1 ? `-${first + p.range - 1}` : "");
  return `${p.hostIp ? `${p.hostIp}/` : ""}${p.hostPort}${end(p.hostPort)}:${p.containerPort}${end(p.containerPort)}`;
}

/**
 * pasta's command line for the namespaces of `pid` (as podman drives it):
 * configure the interface (--config-net), stay in the foreground (so it stays
 * nook's child and keeps its parent-death signal), write its pid into
 * `pidFile` once the interface and the port listeners are up (the readiness
 * signal), forward exactly the published ports and nothing else unless the
 * user's pass-through options say otherwise, and answer DNS on 169.254.1.1.
 * `pid` may be a placeholder the container's monitor replaces (`"%PID%"`).
 */
export function pastaArgv(
  tool: string,
  pid: number | string,
  pidFile: string,
  ports: readonly PortMapping[],
  userArgs: readonly string[],
): string[] {
  const verbose = userArgs.some((a) => ["-d", "--debug", "--trace"].includes(a));
  const argv = [tool, "--config-net", "--foreground", ...(verbose ? [] : ["--quiet"]), "--pid", pidFile];
  for (const p of ports) argv.push(p.protocol === "tcp" ? "-t" : "-u", pastaPortSpec(p));
  // pasta's default is "auto" (follow whatever binds, both ways): forward only what was published.
  const given = (short: string, long: string) =>
    userArgs.some((a) => a === short || a === long || a.startsWith(`${long}=`));
  for (const [short, long, proto] of [["-t", "--tcp-ports", "tcp"], ["-u", "--udp-ports", "udp"]] as const) {
    if (!given(short, long) && !ports.some((p) => p.protocol === proto)) argv.push(short, "none");
  }
  if (!given("-T", "--tcp-ns")) argv.push("-T", "none");
  if (!given("-U", "--udp-ns")) argv.push("-U", "none");
  if (pastaOption(userArgs, "--dns-forward") === undefined) argv.push("--dns-forward", PASTA_DNS_FORWARD);
  argv.push(...userArgs);
  argv.push("--userns", `/proc/${pid}/ns/user`, "--netns", `/proc/${pid}/ns/net`);
  return argv;
}

/**
 * Start pasta for the container whose setup process is `pid` and resolve
 * once its interface is configured and the published ports listen. Readiness
 * is pasta writing its pid file, which here is a FIFO nook reads: no polling.
 */
export async function startPasta(
  tool: string,
  pid: number,
  runDir: string,
  ports: readonly PortMapping[],
  userArgs: readonly string[],
): Promise<Helper> {
  const pidFile = `${runDir}/pasta.pid`;
  try {
    Deno.removeSync(pidFile); // left by an earlier start of the same container
  } catch {
    // the usual case
  }
  const fd = await fifo(pidFile);
  try {
    const h = Helper.start("pasta", pastaArgv(tool, pid, pidFile, ports, userArgs), `${runDir}/pasta.log`, []);
    const text = await h.ready(fd, PASTA_READY);
    if (!/^\d+/.test(text.trim())) throw await h.failure(`wrote "${text.trim()}" instead of its pid`);
    return h;
  } finally {
    await closeFd(fd);
  }
}
