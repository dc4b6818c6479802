/**
 * The runtime front door's view of container state: runc's rule for ids, the state root
 * (`--root`, default `$XDG_RUNTIME_DIR/nook/runtime`), and a missing container worded as runc
 * words it. The records themselves (`state.json`, `exec.fifo` under the root) are the engine's
 * (src/engine/runtime_record.ts, src/engine/state.ts).
 *
 * @module
 */
import { ensurePrivateDir, runtimeDir } from "../paths/mod.ts";
import { readRuntimeRecord, runtimeContainerDir, type RuntimeRecord } from "../engine/runtime_record.ts";
import { OciError } from "./errors.ts";

export { OCI_VERSION, type OciState, type OciStatus as Status } from "../model/oci.ts";
export { type RuntimeRecord as ContainerRecord } from "../engine/runtime_record.ts";

/** runc's rule for ids: letters, digits and `_+-.`, and not "." or "..". */
export function checkId(id: string | undefined): string {
  if (!id) throw new OciError("No container id given", { hint: "the container id comes after the options" });
  if (!/^[\w+\-.]+$/.test(id) || id === "." || id === ".." || id.length > 1024) {
    throw new OciError(`Invalid container id "${id}"`, { hint: "ids may use letters, digits, _ + - and ." });
  }
  return id;
}

/**
 * The runtime's root: `--root` (made if missing; an engine may choose its
 * mode), else `$XDG_RUNTIME_DIR/nook/runtime` (or /tmp/nook-UID/runtime),
 * which must be private.
 */
export function stateRoot(root: string | undefined): string {
  if (root === undefined) return ensurePrivateDir(`${runtimeDir()}/runtime`);
  const abs = root.startsWith("/") ? root : `${Deno.cwd()}/${root}`;
  try {
    Deno.mkdirSync(abs, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new OciError(`Cannot create the runtime root "${abs}": ${(err as Error).message}`, { path: abs });
  }
  return abs;
}

/** The directory of one container. */
export const containerDir = runtimeContainerDir;

/** Read a container's record; a missing container is an error that says so. */
export function loadRecord(root: string, id: string): RuntimeRecord {
  const rec = readRuntimeRecord(root, id);
  if (!rec) {
    throw new OciError(`container "${id}" does not exist`, { hint: `the runtime's root is "${root}"; see \`list\`` });
  }
  return rec;
}
