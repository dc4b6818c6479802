/**
 * The engine as a library: run a command in a container made from a root filesystem directory
 * or an image (from the store, pulled when missing, or the built-in `hello`), in a few lines of
 * TypeScript (examples/embed.ts). The same engine `nook run` uses — the request
 * (run_request.ts), its resolvers (prepare.ts), the plan builder, the foreground run — with no
 * network unless one is asked for, and the container removed when it exits.
 *
 * @module
 */
import { UsageError } from "../errors/mod.ts";
import { runRequest } from "./prepare.ts";
import type { RunRequest } from "./run_request.ts";

export type { LifecycleRequest, ResourceRequest, RunRequest, RunSource } from "./run_request.ts";

/** What to run, and where: `rootfs` or `image`. */
export interface RunOptions {
  /** Host directory that becomes `/`. */
  rootfs?: string;
  /** An image: a name in nook's store (pulled when missing), or `hello`. */
  image?: string;
  /** The command and its arguments (looked up in the container's PATH); an image's default when absent. */
  args?: string[];
  /** `KEY=VALUE` strings, after the default PATH, HOSTNAME and the image's Env. */
  env?: string[];
  /** Working directory inside (default: the image's, else `/`). */
  cwd?: string;
  /** Hostname inside (default: the first 12 digits of the id). */
  hostname?: string;
  /** uid inside (default: the image's user, else 0: root of the container's user namespace, the caller outside). */
  uid?: number;
  /** gid inside (default: the user's group). */
  gid?: number;
  /** Mount the root read-only. */
  readonly?: boolean;
  /** Network mode as `nook run --network` takes it (default `none`). */
  network?: string;
}

/** The request {@link run} makes of its options. */
export function requestOf(opts: RunOptions): RunRequest {
  if ((opts.rootfs === undefined) === (opts.image === undefined)) {
    throw new UsageError("Give either a root filesystem or an image to run", { hint: "run({ rootfs: DIR, args }) or run({ image: NAME })" });
  }
  const user = opts.uid === undefined ? undefined : opts.gid === undefined ? String(opts.uid) : `${opts.uid}:${opts.gid}`;
  return {
    source: opts.rootfs !== undefined ? { rootfs: opts.rootfs } : { image: opts.image! },
    command: opts.args ?? [],
    env: opts.env ?? [],
    workdir: opts.cwd,
    user,
    hostname: opts.hostname,
    interactive: true,
    readonly: opts.readonly ?? false,
    network: { network: opts.network ?? "none", publish: [], publishAll: false, dns: [], addHosts: [] },
    lifecycle: { autoRemove: true },
  };
}

/**
 * Run a command in a new container and wait for it: its stdin, stdout and stderr are the
 * caller's; resolves with its exit code (128 + n when a signal ended it). Rootless: the
 * caller's id maps (newuidmap when it has a subordinate range) are used as `nook run` does.
 */
export async function run(opts: RunOptions): Promise<number> {
  return (await runRequest(requestOf(opts))).code;
}
