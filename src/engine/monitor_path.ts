import { dataDir } from "../paths/mod.ts";
import { projectPath } from "../paths/project.ts";
import { MonitorError } from "./errors.ts";

/** Where `build/nook-monitor` is next to the sources (or inside a `deno compile` binary). */
function builtPath(): string {
  return projectPath("build/nook-monitor");
}

/**
 * The monitor program to execute: `$NOOK_MONITOR`, else `build/nook-monitor`.
 * Inside a `deno compile` binary the file lives in Deno's embedded file
 * system, which execve(2) cannot see: it is copied out once into the data
 * directory under a name that changes with its contents.
 */
export async function monitorPath(): Promise<string> {
  const override = Deno.env.get("NOOK_MONITOR");
  if (override) return override;
  const built = builtPath();
  if (!Deno.build.standalone) return built;
  let bin: Uint8Array;
  try {
    bin = Deno.readFileSync(built);
  } catch (err) {
    throw missing(built, err);
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bin as Uint8Array<ArrayBuffer>));
  const tag = Array.from(digest.subarray(0, 8), (b) => b.toString(16).padStart(2, "0")).join("");
  const dir = `${dataDir()}/bin`;
  const dest = `${dir}/nook-monitor-${tag}`;
  try {
    Deno.statSync(dest);
    return dest;
  } catch {
    // extract below
  }
  Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = `${dest}.tmp-${Deno.pid}`;
  Deno.writeFileSync(tmp, bin, { mode: 0o700 });
  Deno.renameSync(tmp, dest);
  return dest;
}

/** The error for a monitor program that is not there. */
export function missing(path: string, cause?: unknown): MonitorError {
  return new MonitorError(`The container monitor "${path}" is missing`, {
    path,
    ...(cause ? { cause } : {}),
    hint: "run ./nook once so it builds build/nook-monitor (it needs the static C library: apt install libc6-dev), " +
      "or point NOOK_MONITOR at a built nook-monitor",
  });
}
