/**
 * What `nook up` made for a project, recorded before each thing is made (the intent first), so
 * `nook down` removes all of it — also after an `up` killed midway.
 *
 * @module
 */
import { dataDir } from "../paths/mod.ts";

/** A project's record: `DATA/compose/NAME.json`. */
export interface ProjectState {
  /** Project name. */
  name: string;
  /** The compose file it came from. */
  file: string;
  /** Networks `up` created (external ones are not listed). */
  networks: string[];
  /** Named volumes of the project (removed by `down -v`). */
  volumes: string[];
  /** Containers, in start order. */
  containers: { service: string; name: string; labels: string[] }[];
}

function path(name: string): string {
  return `${dataDir()}/compose/${name}.json`;
}

/** The recorded project, or undefined. */
export function readProject(name: string): ProjectState | undefined {
  try {
    return JSON.parse(Deno.readTextFileSync(path(name)));
  } catch {
    return undefined;
  }
}

/** Record the project (temp file + rename). */
export function saveProject(p: ProjectState): void {
  Deno.mkdirSync(`${dataDir()}/compose`, { recursive: true, mode: 0o700 });
  const tmp = `${path(p.name)}.tmp`;
  Deno.writeTextFileSync(tmp, JSON.stringify(p, null, 2) + "\n", { mode: 0o600 });
  Deno.renameSync(tmp, path(p.name));
}

/** Forget the project. */
export function dropProject(name: string): void {
  try {
    Deno.removeSync(path(name));
  } catch {
    // gone already
  }
}
