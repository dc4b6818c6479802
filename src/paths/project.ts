/**
 * Where nook's own files are (build/libshim.so, build/hello, src/…): next to the sources,
 * inside the `deno compile` binary's embedded tree, or, for the launcher's bundle of the CLI
 * (build/js, tools/bundle.ts), where the bundle says.
 *
 * @module
 */

let root = new URL("../../", import.meta.url);
let entry = new URL("src/cli/main.ts", root);

/** Called first by the bundled CLI: its modules live in build/js, not at their source paths. */
export function setProjectRoot(projectRoot: URL, cliEntry: URL): void {
  root = projectRoot;
  entry = cliEntry;
}

/** A file of nook's tree (`build/hello`, `src/image/_inflate_worker.ts`) as a file URL. */
export function projectUrl(path: string): URL {
  return new URL(path, root);
}

/** A file of nook's tree as a path. */
export function projectPath(path: string): string {
  return decodeURIComponent(projectUrl(path).pathname);
}

/**
 * The argv that starts this same nook again (the monitor's exit command, programs in nook's
 * user namespace): the binary alone when compiled with `deno compile`, else Deno with the
 * flags of the `./nook` launcher.
 */
export function selfCommand(): string[] {
  const exe = Deno.execPath();
  if (Deno.build.standalone) return [exe];
  return [
    exe,
    "run",
    // the launcher's flag for the bundle (./nook): with other flags, V8 would reject its code cache
    ...(entry.pathname.endsWith("/build/js/nook.js") ? ["--v8-flags=--no-lazy"] : []),
    "--allow-all",
    "--quiet",
    "--no-prompt",
    "--config",
    projectPath("deno.json"),
    decodeURIComponent(entry.pathname),
  ];
}
