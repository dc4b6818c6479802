/**
 * CVE-2019-5736, tried as its exploit does it: a program inside a container
 * watches /proc for processes whose executable lies outside the container,
 * keeps a handle to each, and reopens it for writing once it stops running.
 * Had it ever succeeded with nook's own binary (Deno, or nook-monitor), the
 * user's next nook command would run the attacker's code on the host.
 *
 * The watcher (tests/exe_watch.c) runs in a detached container while nook
 * execs into it, while `nook runtime` execs into a runtime container, and
 * while containers with hooks join that container's pid namespace, and while `nook run --pid
 * container:NAME` containers join a detached one's. It must
 * glimpse those processes (so it was watching) and never open an executable
 * outside the container, nor write to the memfd nook execs through.
 */
import { assert, busyboxRootfs, busyboxSkip, exists, scratch, test, waitFor } from "../_helpers.ts";
import { freshStore } from "../_lifecycle.ts";
import { makeBundle, runtime, stateRootDir } from "../_oci_runtime.ts";
import { buildTestProgram } from "../_seccomp_bpf.ts";

const skip = busyboxSkip();

let built: Promise<string> | undefined;
function watcher(): Promise<string> {
  built ??= buildTestProgram("exe_watch.c", ["-static"]);
  return built;
}

/** A private busybox root with the watcher at /watch, and an empty directory the container writes its log to. */
async function watcherRoot(): Promise<{ rootfs: string; out: string }> {
  const rootfs = busyboxRootfs(true);
  Deno.copyFileSync(await watcher(), `${rootfs}/watch`);
  Deno.chmodSync(`${rootfs}/watch`, 0o755);
  Deno.mkdirSync(`${rootfs}/out`, { recursive: true });
  const out = scratch("nook-watch-");
  return { rootfs, out };
}

interface Verdict {
  scans: number;
  glimpsed: number;
  denied: number;
  outside: string[];
  writable: string[];
  memfdWritten: string[];
  log: string;
}

/** Stop the watcher and read what it saw. */
async function verdict(out: string): Promise<Verdict> {
  Deno.writeTextFileSync(`${out}/stop`, "");
  await waitFor("the watcher to finish", () => exists(`${out}/done`), 30_000);
  const log = Deno.readTextFileSync(`${out}/log`);
  const lines = log.split("\n");
  const num = (k: string) => Number(lines.find((l) => l.startsWith(`${k} `))?.split(" ")[1] ?? NaN);
  return {
    scans: num("scans"),
    glimpsed: num("glimpsed"),
    denied: num("denied"),
    outside: lines.filter((l) => l.startsWith("outside ")),
    writable: lines.filter((l) => l.startsWith("writable ")),
    memfdWritten: lines.filter((l) => l.startsWith("memfd-written ")),
    log,
  };
}

function assertNoWayOut(v: Verdict, what: string): void {
  assert.ok(v.scans > 0, `the watcher scanned /proc (${what}):\n${v.log}`);
  assert.deepEqual(v.outside, [], `no executable outside the container is reachable during ${what}:\n${v.log}`);
  assert.deepEqual(v.writable, [], `no executable outside the container is ever reopened for writing (${what})`);
  assert.deepEqual(v.memfdWritten, [], `the exec helper's memfd is sealed (${what})`);
}

test("CVE-2019-5736: a watcher in the container never reaches nook's executable during 100 `nook exec`", async () => {
  const store = freshStore();
  const { rootfs, out } = await watcherRoot();
  const r = await store.run([
    "run", "-d", "--network", "none", "-v", `${out}:/out`, "--rootfs", rootfs, "/watch", "/out", "300",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const id = r.stdout.trim();
  try {
    await waitFor("the watcher to start", () => exists(`${out}/ready`), 20_000);
    const started = Date.now();
    for (let i = 0; i < 100 && Date.now() - started < 240_000; i++) {
      const e = await store.run(["exec", id, "true"]);
      assert.equal(e.code, 0, e.stderr);
    }
    const v = await verdict(out);
    assertNoWayOut(v, "nook exec");
    // It was watching: exec'd processes passed by (`true` itself, or nook's
    // children before their exec, which it could not open).
    assert.ok(v.glimpsed > 0, `the watcher glimpsed exec'd processes:\n${v.log}`);
  } finally {
    await store.run(["rm", "-f", id]);
  }
}, { skip });

test("CVE-2019-5736: `nook runtime exec` and hooks of containers joining the pid namespace never expose nook's executable", async () => {
  const root = stateRootDir();
  const { rootfs, out } = await watcherRoot();
  const bundle = makeBundle((c) => {
    c.process.args = ["/watch", "/out", "300"];
    c.root.readonly = false;
    c.mounts.push({ destination: "/out", type: "bind", source: out, options: ["rbind", "rw"] });
  }, rootfs);
  const id = `watch-${crypto.randomUUID().slice(0, 8)}`;
  const r = await runtime(root, ["run", "--detach", "--bundle", bundle, id]);
  assert.equal(r.code, 0, r.stderr);
  try {
    await waitFor("the watcher to start", () => exists(`${out}/ready`), 20_000);
    const state = JSON.parse((await runtime(root, ["state", id])).stdout);
    const pid = state.pid as number;
    for (let i = 0; i < 20; i++) {
      const e = await runtime(root, ["exec", id, "true"]);
      assert.equal(e.code, 0, e.stderr);
    }
    // Containers that join the watcher's user and pid namespaces (as a pod's
    // do): nook's processes that set them up live in the watcher's pid
    // namespace before they exec; createRuntime and poststart hooks run too.
    const joiner = (hooks: Record<string, unknown>) =>
      makeBundle((c) => {
        c.process.args = ["true"];
        c.linux.uidMappings = [];
        c.linux.gidMappings = [];
        c.linux.namespaces = c.linux.namespaces.map((n: { type: string }) =>
          n.type === "user" || n.type === "pid" ? { type: n.type, path: `/proc/${pid}/ns/${n.type}` } : n
        );
        c.hooks = hooks;
      }, rootfs);
    for (let i = 0; i < 10; i++) {
      const hooks = { createRuntime: [{ path: "/bin/true", args: ["true"] }], poststart: [{ path: "/bin/true" }] };
      const j = await runtime(root, ["run", "--bundle", joiner(hooks), `${id}-j${i}`]);
      assert.equal(j.code, 0, j.stderr);
      await runtime(root, ["delete", "--force", `${id}-j${i}`]);
    }
    // Hooks that would have to join such a container's namespaces are refused
    // rather than given a reachable copy of nook.
    const refused = await runtime(root, [
      "run", "--bundle", joiner({ createContainer: [{ path: "/bin/true" }] }), `${id}-refused`,
    ]);
    assert.equal(refused.code, 125);
    assert.match(refused.stderr, /hooks\.createContainer.*joins another's pid namespace/);
    const v = await verdict(out);
    assertNoWayOut(v, "nook runtime exec and joined pid namespaces with hooks");
    assert.ok(v.glimpsed > 0, `the watcher glimpsed processes:\n${v.log}`);
  } finally {
    await runtime(root, ["delete", "--force", id]);
  }
}, { skip });

test("CVE-2019-5736: containers run with --pid container:NAME never expose nook's executable to the one they join", async () => {
  // Each joiner's plan forks into the watcher's pid namespace: that process is nook's until it
  // execs, and must stay non-dumpable (its /proc/PID/exe closed to the watcher) until then.
  const store = freshStore();
  const { rootfs, out } = await watcherRoot();
  const r = await store.run([
    "run", "-d", "--name", "watched", "--network", "none", "-v", `${out}:/out`, "--rootfs", rootfs, "/watch", "/out", "300",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const id = r.stdout.trim();
  try {
    await waitFor("the watcher to start", () => exists(`${out}/ready`), 20_000);
    for (let i = 0; i < 30; i++) {
      const j = await store.run([
        // the watcher's own root: what the joiners exec is inside it, so anything outside is nook's
        "run", "--rm", "--pid", "container:watched", "--network", "container:watched", "--rootfs", rootfs, "true",
      ]);
      assert.equal(j.code, 0, j.stderr);
    }
    const v = await verdict(out);
    assertNoWayOut(v, "containers joining the pid namespace");
    assert.ok(v.glimpsed > 0, `the watcher glimpsed the joiners:\n${v.log}`);
  } finally {
    await store.run(["rm", "-f", id]);
  }
}, { skip });

test("CVE-2019-5736: pid 1 of an --init container is nook-init from a sealed memfd, not a copy of nook", async () => {
  const store = freshStore();
  const rootfs = busyboxRootfs();
  const r = await store.run([
    "run", "--rm", "--init", "--network", "none", "--cap-add", "SYS_PTRACE", "--rootfs", rootfs,
    "sh", "-c", "readlink /proc/1/exe; cat /proc/1/comm",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const [exe, comm] = r.stdout.trim().split("\n");
  assert.match(exe ?? "", /^\/memfd:nook-exec/, `pid 1's executable: ${r.stdout}`);
  assert.equal(comm, "nook-init");
}, { skip });

test("CVE-2019-5736: a #!/proc/self/exe program runs nook's sealed exec helper, never nook's binary", async () => {
  // The original exploit: the container's program is a script whose
  // interpreter is /proc/self/exe. It must resolve to the memfd helper (which
  // finds no candidate and fails), not to the Deno binary that cloned the child.
  const rootfs = busyboxRootfs(true);
  Deno.writeTextFileSync(`${rootfs}/evil`, "#!/proc/self/exe\n");
  Deno.chmodSync(`${rootfs}/evil`, 0o755);
  const store = freshStore();
  const r = await store.run(["run", "--rm", "--network", "none", "--rootfs", rootfs, "/evil"]);
  assert.equal(r.code, 126, `the helper has nothing to run: ${r.stdout}${r.stderr}`);
  assert.match(r.stderr, /nook-exec: this is nook's exec helper; it runs nothing on its own/);
}, { skip });
