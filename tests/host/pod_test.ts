/**
 * Pods: members share the infra container's network (they talk over localhost), ipc and uts
 * namespaces, and pid with --share pid; the infra container is nook-init under the C monitor
 * (no Deno process stays); pod-level -p; pod stop/start rejoin the members; pod rm -f leaves
 * no process, record or file.
 */
import { assert, busyboxRootfs, busyboxSkip, nook, waitFor } from "../_helpers.ts";
import { type freshStore, inspect, storeProcesses, storeTest } from "../_lifecycle.ts";
import { helperSkip, httpGet } from "../_network.ts";
import { freePort } from "../_oci.ts";

type Store = ReturnType<typeof freshStore>;

/** A busybox httpd listening on the pod's loopback only. */
const LOOPBACK_WEB = ["sh", "-c", "mkdir -p /tmp/www && echo served-in-the-pod > /tmp/www/index.html && exec httpd -f -p 127.0.0.1:8080 -h /tmp/www"];

async function ok(s: Store, args: string[]): Promise<string> {
  const r = await s.run(args);
  assert.equal(r.code, 0, `nook ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

function nsOf(pid: number, ns: string): string {
  return Deno.readLinkSync(`/proc/${pid}/ns/${ns}`);
}

function tree(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  } catch {
    return [];
  }
}

storeTest("two members of a pod talk over localhost and share its hostname and ipc, not its pid; pod rm -f leaves nothing", async (s) => {
  const id = (await ok(s, ["pod", "create", "--name", "p1"])).trim();
  assert.match(id, /^[0-9a-f]{64}$/);
  await ok(s, ["run", "-d", "--pod", "p1", "--name", "srv", "--rootfs", busyboxRootfs(), ...LOOPBACK_WEB]);
  const client = await s.run(["run", "--rm", "--pod", "p1", "--rootfs", busyboxRootfs(), "sh", "-c",
    "for i in $(seq 300); do wget -qO- http://127.0.0.1:8080/ && break; sleep 0.1; done; hostname; readlink /proc/self/ns/ipc; ps -o comm"]);
  assert.equal(client.code, 0, client.stderr);
  const [page, host, ipc, ...ps] = client.stdout.trim().split("\n");
  assert.equal(page, "served-in-the-pod", "the member reached the other one's loopback-only server");
  assert.equal(host, "p1", "the pod's name is its members' hostname");
  const srv = await inspect(s, "srv");
  assert.equal(ipc, nsOf(srv.State.Pid, "ipc"), "the members share one ipc namespace");
  assert.ok(!ps.some((l) => l.includes("httpd")), `without --share pid the other member's processes are not seen: ${ps}`);

  const infra = await inspect(s, "p1-infra");
  assert.equal(nsOf(srv.State.Pid, "net"), nsOf(infra.State.Pid, "net"));
  assert.equal(nsOf(srv.State.Pid, "uts"), nsOf(infra.State.Pid, "uts"));
  assert.notEqual(nsOf(srv.State.Pid, "pid"), nsOf(infra.State.Pid, "pid"));
  // the infra process is nook-init (a static helper run from a sealed memfd) under the C monitor
  assert.equal(Deno.readTextFileSync(`/proc/${infra.State.Pid}/comm`).trim(), "nook-init");
  const procs = storeProcesses(s.dataDir);
  assert.deepEqual(procs.filter((p) => p.comm === "deno"), [], "no Deno process stays with a pod");
  assert.ok(procs.some((p) => p.pid === infra.MonitorPid && p.comm === "nook-monitor"));

  const podPs = await ok(s, ["pod", "ps"]);
  assert.match(podPs, /p1\s+Running\s+.*\s1\s+p1-infra/);
  const doc = JSON.parse(await ok(s, ["pod", "inspect", "p1"]))[0];
  assert.equal(doc.Id, id);
  assert.equal(doc.State, "Running");
  assert.deepEqual(doc.SharedNamespaces, ["net", "ipc", "uts"]);
  assert.deepEqual(doc.Containers.map((c: { Name: string; State: string }) => `${c.Name} ${c.State}`), ["srv running"]);

  const infraRm = await s.run(["rm", "-f", "p1-infra"]);
  assert.notEqual(infraRm.code, 0);
  assert.match(infraRm.stderr, /is the infra container of the pod "p1"/);
  assert.equal((await inspect(s, "srv")).State.Running, true);
  const refused = await s.run(["pod", "rm", "p1"]);
  assert.equal(refused.code, 125);
  assert.match(refused.stderr, /The pod "p1" has running containers: srv/);
  const again = await s.run(["pod", "create", "--name", "p1"]);
  assert.equal(again.code, 125);
  assert.match(again.stderr, /The pod "p1" exists already/);
  await ok(s, ["run", "-d", "--name", "p9-infra", "--rootfs", busyboxRootfs(), "sleep", "300"]);
  const taken = await s.run(["pod", "create", "--name", "p9"]);
  assert.equal(taken.code, 125);
  assert.match(taken.stderr, /A container named "p9-infra" exists already/);
  assert.equal((await inspect(s, "p9-infra")).State.Running, true, "the other container was left alone");
  await ok(s, ["rm", "-f", "p9-infra"]);
  const conflict = await s.run(["run", "--rm", "--pod", "p1", "-p", "8081:80", "--rootfs", busyboxRootfs(), "true"]);
  assert.equal(conflict.code, 125);
  assert.match(conflict.stderr, /cannot be given with --pod/);

  assert.equal((await ok(s, ["pod", "rm", "-f", "p1"])), "p1\n");
  assert.equal(await ok(s, ["ps", "-a", "-q"]), "", "no member and no infra container is left");
  assert.deepEqual(storeProcesses(s.dataDir), [], "no process is left");
  assert.deepEqual(tree(`${s.dataDir}/pods`), [], "no pod record is left");
  assert.deepEqual(tree(`${s.dataDir}/containers`), ["names"], "no container file is left");
  assert.equal(await ok(s, ["pod", "ps", "-q"]), "");
}, { skip: busyboxSkip() });

storeTest("with --share pid members see each other's processes, and pod stop then start brings the members back into the pod", async (s) => {
  await ok(s, ["pod", "create", "--name", "p2", "--share", "pid"]);
  await ok(s, ["run", "-d", "--pod", "p2", "--name", "a", "--rootfs", busyboxRootfs(), "sleep", "300"]);
  const ps = await s.run(["run", "--rm", "--pod", "p2", "--rootfs", busyboxRootfs(), "ps", "-o", "pid,args"]);
  assert.equal(ps.code, 0, ps.stderr);
  assert.match(ps.stdout, /^\s*1 nook-init/m, "the infra's nook-init is pid 1 of the pod");
  assert.match(ps.stdout, /sleep 300/, "the other member's process is seen");

  assert.equal(await ok(s, ["pod", "stop", "-t", "2", "p2"]), "p2\n");
  assert.equal((await inspect(s, "a")).State.Status, "exited");
  assert.equal((await inspect(s, "p2-infra")).State.Status, "exited");
  assert.match(await ok(s, ["pod", "ps"]), /p2\s+Exited/);

  assert.equal(await ok(s, ["pod", "start", "p2"]), "p2\n");
  const a = await inspect(s, "a");
  const infra = await inspect(s, "p2-infra");
  assert.equal(a.State.Status, "running");
  for (const ns of ["pid", "net", "ipc", "uts"]) assert.equal(nsOf(a.State.Pid, ns), nsOf(infra.State.Pid, ns), ns);
  assert.equal(a.Pod, "p2");
  // a prune takes stopped members, never the pod's own infra container
  await ok(s, ["pod", "stop", "-t", "2", "p2"]);
  await ok(s, ["container", "prune", "-f"]);
  assert.equal(await ok(s, ["ps", "-a", "--format", "{{.Names}}"]), "p2-infra\n");
  await ok(s, ["pod", "start", "p2"]);
  assert.match(await ok(s, ["pod", "ps"]), /p2\s+Running\s+.*\s0\s+p2-infra/);
  await ok(s, ["pod", "rm", "-f", "p2"]);
  assert.deepEqual(storeProcesses(s.dataDir), []);
}, { skip: busyboxSkip() });

storeTest("a pod's -p publishes a member's port on the host", async (s) => {
  const port = freePort();
  await ok(s, ["pod", "create", "--name", "p3", "-p", `127.0.0.1:${port}:80`]);
  await ok(s, ["run", "-d", "--pod", "p3", "--rootfs", busyboxRootfs(), "sh", "-c",
    "mkdir -p /tmp/www && echo published-pod > /tmp/www/index.html && exec httpd -f -p 80 -h /tmp/www"]);
  assert.match(await httpGet(port), /published-pod/);
  await ok(s, ["pod", "rm", "-f", "p3"]);
  await waitFor("the port to be free", () => {
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
      return true;
    } catch {
      return false;
    }
  });
  assert.deepEqual(storeProcesses(s.dataDir), []);
}, { skip: helperSkip("pasta", "passt") });

storeTest("a pod create killed after its record shows as Dead and is removed by pod rm -f; the name is free again", async (s) => {
  const killed = await nook(["pod", "create", "--name", "torn"], { env: { ...s.env, NOOK_CRASH_AT: "pod.create", NOOK_TEST_CI: "1" } });
  assert.notEqual(killed.code, 0, "pod create was killed");
  assert.match(await ok(s, ["pod", "ps"]), /torn\s+Dead\s/);
  const run = await s.run(["run", "--rm", "--pod", "torn", "--rootfs", busyboxRootfs(), "true"]);
  assert.equal(run.code, 125);
  assert.match(run.stderr, /The infra container of the pod "torn" is gone/);
  assert.equal(await ok(s, ["pod", "rm", "-f", "torn"]), "torn\n");
  assert.deepEqual(tree(`${s.dataDir}/pods`), []);
  await ok(s, ["pod", "create", "--name", "torn"]);
  assert.match(await ok(s, ["pod", "ps"]), /torn\s+Running\s/);
  await ok(s, ["pod", "rm", "-f", "torn"]);
  assert.deepEqual(storeProcesses(s.dataDir), []);
}, { skip: busyboxSkip() });
