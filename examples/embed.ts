/**
 * nook as a library: run a command in a container made from a root filesystem directory.
 *
 *   deno run -A examples/embed.ts --rootfs ./rootfs sh -c 'echo hello from $(hostname)'
 *
 * Prints what the command prints and exits with its exit code.
 */
import { run } from "../mod.ts";

const [flag, rootfs, ...args] = Deno.args;
if (flag !== "--rootfs" || !rootfs || args.length === 0) {
  console.error("usage: embed.ts --rootfs DIR COMMAND [ARG...]");
  Deno.exit(2);
}
Deno.exit(await run({ rootfs, args }));
