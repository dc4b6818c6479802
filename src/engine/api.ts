/**
 * The engine as a library: run a command in a container made from a root filesystem directory,
 * in a few lines of TypeScript (examples/embed.ts). The same engine `nook run` uses: the spec
 * (src/model), the plan builder, the foreground run; without an image, network or record.
 *
 * @module
 */
import type { ContainerSpec } from "../model/container.ts";
import { runtimeDir } from "../paths/mod.ts";
import { detectIdMapping } from "../userns/mod.ts";
import { writeEtcFiles } from "./etc_files.ts";
import { runContainer } from "./run.ts";

/** The environment's PATH when none is given: the one docker and podman give a container. */
export const DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** What to run, and where. */
export interface RunOptions {
  /** Host directory that becomes `/`. */
  rootfs: string;
  /** The command and its arguments (looked up in the container's PATH). */
  args: string[];
  /** `KEY=VALUE` strings, after the default PATH and HOSTNAME. */
  env?: string[];
  /** Working directory inside (default `/`). */
  cwd?: string;
  /** Hostname inside (default: the first 12 digits of the id). */
  hostname?: string;
  /** uid and gid inside (default 0: root of the container's user namespace, the caller outside). */
  uid?: number;
  /** gid inside. */
  gid?: number;
  /** Mount the root read-only. */
  readonly?: boolean;
}

/**
 * Run a command in a new container on `rootfs` and wait for it: its stdin, stdout and stderr
 * are the caller's; resolves with its exit code (128 + n when a signal ended it). Rootless:
 * the caller's id maps (newuidmap when it has a subordinate range) are used as `nook run` does.
 */
export async function run(opts: RunOptions): Promise<number> {
  const id = Array.from(crypto.getRandomValues(new Uint8Array(32)), (b) => b.toString(16).padStart(2, "0")).join("");
  const hostname = opts.hostname ?? id.slice(0, 12);
  const dir = `${runtimeDir()}/containers/${id}`;
  Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
  try {
    const spec: ContainerSpec = {
      id,
      rootfs: Deno.realPathSync(opts.rootfs),
      readonlyRootfs: opts.readonly ?? false,
      hostname,
      network: "none",
      mounts: [],
      etcFiles: writeEtcFiles(dir, hostname),
      process: {
        args: opts.args,
        env: [DEFAULT_PATH, `HOSTNAME=${hostname}`, ...(opts.env ?? [])],
        cwd: opts.cwd ?? "/",
        uid: opts.uid ?? 0,
        gid: opts.gid ?? 0,
        groups: [],
        terminal: false,
        stdin: true,
        init: false,
        umask: 0o022,
        rlimits: [],
      },
    };
    return await runContainer(spec, detectIdMapping());
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}
