/**
 * Speak runc's command line at the top level when nook is started as
 * `nook-runtime` (a symlink to the compiled binary keeps that name in
 * argv[0]), or when NOOK_ARGV0=nook-runtime says so (under `deno run`, where
 * argv[0] is deno). Engines can then be pointed straight at it.
 *
 * @module
 */

/** The runtime's name; argv[0] of this base name switches to runc's CLI. */
export const RUNTIME_NAME = "nook-runtime";

/** Arguments for nook's CLI: `runtime …` prepended when started as nook-runtime. */
export function runtimeArgv(args: string[]): string[] {
  let argv0 = Deno.env.get("NOOK_ARGV0");
  if (argv0 === undefined) {
    try {
      // argv[0] as the caller wrote it (Deno.execPath() resolves the symlink away)
      const cmdline = Deno.readTextFileSync("/proc/self/cmdline");
      argv0 = cmdline.slice(0, cmdline.indexOf("\0"));
    } catch {
      return args;
    }
  }
  const base = argv0.slice(argv0.lastIndexOf("/") + 1);
  return base === RUNTIME_NAME ? ["runtime", ...args] : args;
}
