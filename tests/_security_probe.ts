/**
 * The security probe (tests/security_probe.c), built statically once per
 * test process and copied into a private busybox rootfs.
 */
import { busyboxRootfs, nook, type Result, ROOT, scratch, sh } from "./_helpers.ts";

let built: Promise<string> | undefined;

/** Build the static probe (once). */
export function probeBinary(): Promise<string> {
  built ??= (async () => {
    const out = `${scratch("nook-probe-")}/probe`;
    const r = await sh("cc", [
      "-O1",
      "-Wall",
      "-Wextra",
      "-Werror",
      "-static",
      "-o",
      out,
      `${ROOT}/tests/security_probe.c`,
    ]);
    if (r.code !== 0) throw new Error(`building the probe failed:\n${r.stderr}`);
    return out;
  })();
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
