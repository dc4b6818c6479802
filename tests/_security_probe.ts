/**
 * The security probe (tests/security_probe.c), built statically once per
 * test process and copied into a private busybox rootfs.
 */
import { busyboxRootfs, nook, type Result } from "./_helpers.ts";
import { buildTestProgram } from "./_seccomp_bpf.ts";

let built: Promise<string> | undefined;

/** Build the static probe (once). */
export function probeBinary(): Promise<string> {
  built ??= buildTestProgram("security_probe.c", ["-static"]);
  return built;
}

/** A private busybox rootfs with the probe at /probe. */
export async function probeRootfs(): Promise<string> {
  const dir = busyboxRootfs(true);
  Deno.copyFileSync(await probeBinary(), `${dir}/probe`);
  Deno.chmodSync(`${dir}/probe`, 0o755);
  return dir;
}

/** Parse the probe's "name: outcome" lines. */
export function outcomes(stdout: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of stdout.trim().split("\n")) {
    const i = line.indexOf(": ");
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 2);
  }
  return out;
}

/** Run the probe in a container with extra `nook run` flags; returns the outcomes and the raw result. */
export async function probe(
  rootfs: string,
  flags: string[],
  attempts: string[],
): Promise<{ o: Record<string, string>; r: Result }> {
  const r = await nook(["run", "--rm", ...flags, "--rootfs", rootfs, "/probe", ...attempts]);
  return { o: outcomes(r.stdout), r };
}
