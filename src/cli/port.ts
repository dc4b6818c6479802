import { UsageError } from "../errors/mod.ts";
import { formatPorts, hostAddress } from "../network/mod.ts";
import { findNetworkState } from "../engine/network_state.ts";
import { HELP, parseCommand } from "./_args.ts";
import type { CommandSpec } from "./commands.ts";
import { write } from "./_io.ts";

/** `nook port`. */
export const spec: CommandSpec = {
  name: "port",
  usage: "port CONTAINER [PRIVATE_PORT[/PROTO]]",
  summary: "List a running container's published ports, or the host address of one of them.",
  options: [HELP],
  examples: ["nook port web", "nook port web 80", "nook port web 53/udp"],
  positional: "container",
};

/** Print `80/tcp -> 0.0.0.0:8080` lines, or the host addresses of one container port. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec);
  if (!a) return 0;
  const [ref, which, ...extra] = a.rest;
  if (!ref || extra.length) throw new UsageError("Usage: nook port CONTAINER [PRIVATE_PORT[/PROTO]]");
  const state = findNetworkState(ref);
  if (which === undefined) {
    const lines = formatPorts(state.ports);
    if (lines.length) await write(lines.join("\n") + "\n");
    return 0;
  }
  const m = /^(\d{1,5})(?:\/(tcp|udp))?$/.exec(which);
  if (!m) throw new UsageError(`Invalid port "${which}"`, { hint: "use PORT or PORT/tcp or PORT/udp, e.g. 80/tcp" });
  const port = Number(m[1]);
  const proto = m[2] ?? "tcp";
  const found = state.ports.flatMap((p) =>
    p.protocol === proto && port >= p.containerPort && port < p.containerPort + p.range
      ? [hostAddress(p, port - p.containerPort)]
      : []
  );
  if (!found.length) {
    throw new UsageError(`No public port "${port}/${proto}" published for "${ref}"`, {
      hint: "nook port CONTAINER lists what is published",
    });
  }
  await write(found.join("\n") + "\n");
  return 0;
}
