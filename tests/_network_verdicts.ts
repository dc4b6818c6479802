/**
 * What `run`, `doctor` and `info` say about one host (the default network,
 * the cgroup manager, the storage backend), so tests can check they agree.
 */
import { assert, busyboxRootfs, type Result } from "./_helpers.ts";

/** The verdicts of run, doctor and info on one host. */
export interface Verdicts {
  runNetwork: string;
  doctorNetwork: string;
  infoNetwork: string;
  doctorDelegation: string;
  infoManager: string;
  doctorBackend: string;
  infoBackend: string;
}

/** What run, doctor and info say about the same host (`exec` runs nook there). */
export async function verdicts(exec: (args: string[]) => Promise<Result>): Promise<Verdicts> {
  const run = await exec([
    "run",
    "--rm",
    "--rootfs",
    busyboxRootfs(),
    "sh",
    "-c",
    "ip -o link | grep -v ' lo:' | wc -l; ip -o addr",
  ]);
  assert.equal(run.code, 0, run.stderr);
  const links = Number(run.stdout.split("\n")[0]);
  const runNetwork = links === 0 ? "none" : /tap0/.test(run.stdout) ? "slirp4netns" : "pasta";
  const doctor = await exec(["doctor", "--format", "json"]);
  const checks = new Map<string, { status: string; detail: string }>(
    JSON.parse(doctor.stdout).checks.map((c: { id: string }) => [c.id, c]),
  );
  const info = JSON.parse((await exec(["info", "--format", "json"])).stdout);
  return {
    runNetwork,
    doctorNetwork: /^[\w-]+/.exec(checks.get("network.default")!.detail)?.[0] ?? "?",
    infoNetwork: info.network.default,
    doctorDelegation: checks.get("cgroup.delegation")!.status,
    infoManager: info.cgroups.manager,
    doctorBackend: /containers use (\S+)/.exec(checks.get("storage.backend")!.detail)?.[1] ?? "?",
    infoBackend: info.storage.backend,
  };
}

/** Each verdict of doctor and info is run's. */
export function assertAgree(v: Verdicts, where: string): void {
  assert.equal(v.doctorNetwork, v.runNetwork, `${where}: doctor's default network is run's`);
  assert.equal(v.infoNetwork, v.runNetwork, `${where}: info's default network is run's`);
  assert.equal(
    v.doctorDelegation === "ok",
    v.infoManager !== "none",
    `${where}: doctor's limits verdict is info's manager`,
  );
  assert.equal(v.doctorBackend, v.infoBackend, `${where}: doctor's storage backend is info's`);
}
