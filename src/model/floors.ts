/**
 * The floors of nook's source folders (`src/<folder>/`), lowest first. A folder imports only
 * from its own floor or a lower one, and two folders never import each other (directly or
 * around a cycle). tests/unit/floors_test.ts computes the folder graph from the sources and checks it
 * against this table; a new folder must be placed here.
 *
 * @module
 */

/** Folder names by floor, lowest first; `version.ts` is the one file directly in src/. */
export const FLOORS: readonly (readonly string[])[] = [
  // 0 — data and the smallest shared pieces: import nothing of nook's (model) or almost nothing
  ["model", "errors", "trace", "version.ts"],
  // 1 — where things live and what the host says, without FFI
  ["paths", "proc", "libc", "plan", "lazy"],
  // 2 — host primitives: libshim through FFI, id maps, seccomp
  ["ffi", "userns", "seccomp"],
  // 3 — one concern each: confinement, spawning, storage, images, cgroups, network, configuration
  ["security", "launch", "unshare", "store", "image", "overlay", "cgroupv2", "network", "config"],
  // 4 — the engine: containers as things that last, and the verbs on them
  ["engine"],
  // 5 — front doors: the nook CLI, the OCI runtime (`nook runtime`), the commands that report on the host, and
  // the Containerfile front door (`build`: its RUN steps are engine containers; the CLI's build command calls it)
  ["oci", "doctor", "info", "build", "cli"],
];
