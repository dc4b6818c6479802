/**
 * nook as a library: run a command in a container made from a root filesystem directory or
 * an image.
 *
 *   deno run -A examples/embed.ts --rootfs ./rootfs sh -c 'echo hello from $(hostname)'
 *   deno run -A examples/embed.ts --image hello
 *
 * Prints what the command prints and exits with its exit code.
 */
import { run } from "../mod.ts";

const [flag, where, ...args] = Deno.args;
if ((flag !== "--rootfs" && flag !== "--image") || !where || (flag === "--rootfs" && args.length === 0)) {
  console.error("usage: embed.ts --rootfs DIR COMMAND [ARG...]\n       embed.ts --image IMAGE [COMMAND [ARG...]]");
  Deno.exit(2);
}
Deno.exit(await run(flag === "--rootfs" ? { rootfs: where, args } : { image: where, args }));
