/**
 * Loading modules only when they are needed, without making every start pay for them.
 *
 * @module
 */
import { projectUrl } from "../paths/project.ts";

type Loader = () => Promise<unknown>;
let bundled: Readonly<Record<string, Loader>> | undefined;

/** Called first by the bundled CLI (tools/bundle.ts): the bundle's own loaders, by source path. */
export function useBundledModules(loaders: Readonly<Record<string, Loader>>): void {
  bundled = loaders;
}

/**
 * Load a module of `src/` by its path there (`"monitor/start.ts"`) when it is first needed.
 * Why not a literal `import("../engine/monitor.ts")`: Deno reads and prepares the whole module
 * graph behind every statically visible `import()` each time it starts, so a literal one for a
 * rarely used module (and the npm packages behind it) slows down every `nook run`.
 * `deno compile` embeds these modules through `--include src` (tools/release.sh); the
 * launcher's bundle gets a loader for each (tools/bundle.ts finds them by this call's name,
 * so give the path as a string literal). Type it as `lazyImport<typeof import("…")>`:
 * a type position loads nothing.
 */
export function lazyImport<T>(path: string): Promise<T> {
  const load = bundled?.[path];
  return (load ? load() : import(projectUrl(`src/${path}`).href)) as Promise<T>;
}
