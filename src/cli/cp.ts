import { UsageError } from "../errors/mod.ts";
import { resolveContainer } from "../engine/names.ts";
import { currentStatus } from "../engine/status.ts";
import { mustRecord } from "../engine/store.ts";
import {
  copyIn,
  copyInTar,
  copyOut,
  copyOutTar,
  IN_CONTAINER_ENV,
  IN_STORAGE_ENV,
  openRoot,
  runInContainerUserns,
  runInStorage,
} from "../engine/copy.ts";
import { containerStorage, copySources } from "../overlay/container_rootfs.ts";
import { copyLayers } from "../overlay/copy.ts";
import { rootfsDir } from "../store/container_storage.ts";
import { inNookUserns } from "../unshare/mod.ts";
import * as c from "../libc/mod.ts";
import { type OptionSpec, parseCommand } from "./_args.ts";
import type { CommandSpec } from "./commands.ts";

const OPTIONS: readonly OptionSpec[] = [{ name: "help", type: "bool", help: "Show this help" }];

/** `nook cp`. */
export const spec: CommandSpec = {
  name: "cp",
  usage: "cp CONTAINER:PATH HOSTPATH|-\n       nook cp HOSTPATH|- CONTAINER:PATH",
  summary: "Copy files and directories out of a container or into it, running or stopped, keeping modes " +
    "(what is copied in belongs to the container's root). Paths in the container resolve inside its root: " +
    "a symlink never leads out of it.",
  options: OPTIONS,
  examples: [
    "nook cp w:/etc/hosts .",
    "nook cp ./conf w:/etc/app/",
    "nook cp w:/var/log - | tar -t   # a tar stream on stdout",
    "tar -c conf | nook cp - w:/etc/app   # unpacked into an existing directory",
  ],
  positional: "container",
};

/** `NAME:/path` → [name, path]; a host path (absolute, relative with ./, or without a colon) → undefined. */
function containerSide(arg: string): [string, string] | undefined {
  if (arg === "-" || arg.startsWith("/") || arg.startsWith(".")) return undefined;
  const i = arg.indexOf(":");
  if (i <= 0) return undefined;
  return [arg.slice(0, i), arg.slice(i + 1) || "/"];
}

/** The copy backend makes a container's copy at its first start: a created one gets it now. */
function ensureCopy(id: string, merged: string): void {
  if ([...Deno.readDirSync(merged)].length > 0) return;
  const rec = containerStorage(id);
  if (rec) copyLayers(merged, copySources(rec));
}

/** Copy. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec);
  if (!a) return 0;
  const [src, dest, extra] = a.rest;
  if (src === undefined || dest === undefined || extra !== undefined) {
    throw new UsageError("nook cp takes a source and a destination", { hint: spec.usage });
  }
  const from = containerSide(src);
  const to = containerSide(dest);
  if ((from === undefined) === (to === undefined)) {
    throw new UsageError("One side of nook cp must be CONTAINER:PATH, the other a host path", { hint: spec.usage });
  }
  const [ref, inPath] = (from ?? to)!;
  const id = resolveContainer(ref);
  const rec = mustRecord(id);
  const status = currentStatus(id);
  let root: string;
  let owner: { uid: number; gid: number } | undefined;
  // the storage's setup changes directory: host paths go in absolute
  const abs = (p: string) => (p === "-" || p.startsWith("/") ? p : `${Deno.cwd()}/${p}`);
  const inner = ["cp", from ? src : abs(src), to ? dest : abs(dest)];
  if (Deno.env.get(IN_CONTAINER_ENV) === String(status.pid) && status.pid > 0) {
    // the running container's own view of its root (mounts included), from its user namespace
    root = `/proc/${status.pid}/root`;
    owner = { uid: 0, gid: 0 };
  } else if (status.state === "running" && status.pid > 0) {
    return await runInContainerUserns(status.pid, inner);
  } else if (rec.rootfs.backend === "dir" || rec.rootfs.backend === "builtin") {
    root = rec.spec.rootfs;
  } else if (Deno.env.get(IN_STORAGE_ENV) === "1" && inNookUserns()) {
    root = `${rootfsDir(id)}/merged`;
    owner = { uid: 0, gid: 0 };
    if (rec.rootfs.backend === "copy") ensureCopy(id, root);
  } else {
    return await runInStorage(rec, inner);
  }
  const fd = openRoot(root);
  try {
    if (from && dest === "-") {
      copyOutTar(fd, inPath, (b) => {
        let off = 0;
        while (off < b.length) off += Deno.stdout.writeSync(b.subarray(off));
      });
    } else if (from) copyOut(fd, inPath, dest);
    else if (src === "-") {
      const { closeUnpackWorkers } = await import("../image/unpack.ts");
      try {
        await copyInTar(Deno.stdin.readable, fd, inPath);
      } finally {
        closeUnpackWorkers();
      }
    } else copyIn(src, fd, inPath, owner);
  } finally {
    c.close(fd);
  }
  return 0;
}
