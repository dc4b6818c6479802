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

/**
 * The probe's outcomes on the host, as this user, outside any container or
 * filter: what the kernel itself gives (its options decide some calls, e.g.
 * kernel.io_uring_disabled, a kernel without keyrings).
 */
export async function hostOutcomes(attempts: string[]): Promise<Record<string, string>> {
  const out = await new Deno.Command(await probeBinary(), { args: attempts, stdout: "piped", stderr: "piped" })
    .output();
  return outcomes(new TextDecoder().decode(out.stdout));
}

/**
 * Why the 32-bit syscall entry cannot be tested here, or undefined. Some kernels
 * are built without IA-32 emulation: there `int 0x80` faults (SIGSEGV) before
 * seccomp sees it, filter or not. The probe runs the call on the host first,
 * outside any filter, to tell which kernel this is.
 */
export async function ia32Skip(): Promise<string | undefined> {
  const status = Deno.readTextFileSync("/proc/self/status");
  if (!/^Seccomp:\s*0$/m.test(status)) {
    return "the test process already runs under a seccomp filter, so the host cannot be probed for 32-bit syscalls";
  }
  const got = (await hostOutcomes(["syscall-i386"]))["syscall-i386"];
  if (got === "ok") return undefined;
  return `this kernel has no 32-bit syscall entry (no IA-32 emulation): int 0x80 outside any filter gave "${got}"`;
}
