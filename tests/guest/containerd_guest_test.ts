/**
 * nook as the runtime of a rootless containerd, in the systemd guest
 * (tests/guest/): containerd runs as the guest's unprivileged user inside
 * rootlesskit (uid 0 of a user namespace that nook did not make, host
 * network), in a systemd user service with `Delegate=yes`, so the containers
 * get real cgroup v2 limits. `ctr run --runc-binary` names nook (through a
 * wrapper that logs every call, so the tests can tell nook ran each
 * container); the image is a busybox OCI archive the test makes offline and
 * imports with `ctr images import`.
 *
 * The set-up is the one rootless containerd documents for cgroup v2:
 * rootlesskit with its own pid and cgroup namespaces, every process moved
 * into a leaf (`--evacuate-cgroup2`) so that the service's cgroup can pass
 * controllers down, and /run copied up so containerd's fixed paths under
 * /run/containerd are the user's. Inside, cgroup2 is mounted again, so
 * /sys/fs/cgroup is the service's cgroup: ctr's `linux.cgroupsPath`
 * (`/NAMESPACE/ID`) lands there. Everything that talks to containerd or reads
 * the runtime's state enters rootlesskit's namespaces with nsenter, as
 * rootless nerdctl does.
 */
import { createHash } from "node:crypto";
import { assert, busyboxRootfs, exists, ROOT, scratch, sh, waitFor } from "../_helpers.ts";
import { guestTests, IN_GUEST } from "./guest.ts";

const FILE = "tests/guest/containerd_guest_test.ts";
const MiB = 1024 * 1024;
const NS = "nooktest";
const PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

function which(cmd: string): string | undefined {
  for (const dir of PATH.split(":")) if (exists(`${dir}/${cmd}`)) return `${dir}/${cmd}`;
  return undefined;
}

/** Why this file cannot run in this guest (undefined when it can). */
function inGuestSkip(): string | undefined {
  if (!IN_GUEST) return undefined;
  for (const [c, pkg] of [["containerd", "containerd"], ["ctr", "containerd"], ["rootlesskit", "rootlesskit"]]) {
    if (!which(c!)) return `${c} is not in the guest image (tests/guest/build.sh installs ${pkg})`;
  }
  for (const c of ["nsenter", "systemd-run", "newuidmap"]) if (!which(c)) return `${c} is not in the guest image`;
  if (!Deno.env.get("DBUS_SESSION_BUS_ADDRESS")) return "no session bus in the guest's job";
  return undefined;
}

/** The rootless containerd of this file. */
interface Daemon {
  /** Scratch directory: config, sockets, logs, the runtime wrapper. */
  dir: string;
  /** The systemd user service that holds rootlesskit. */
  unit: string;
  /** containerd's socket. */
  sock: string;
  /** Every runtime call, one line each. */
  calls: string;
  /** The `--runc-binary`: a wrapper that logs and runs bin/nook-runtime. */
  wrapper: string;
  /** rootlesskit's child (pid 1 of its pid namespace, as the guest sees it). */
  child: number;
  /** The service's cgroup directory (the root of the cgroup namespace inside). */
  cgroup: string;
}

let started: Promise<Daemon> | undefined;
const daemon = () => (started ??= startDaemon());

const dec = new TextDecoder();

async function startDaemon(): Promise<Daemon> {
  const dir = scratch("nook-rootless-ctrd-");
  Deno.chmodSync(dir, 0o711);
  const unit = `nook-test-containerd-${Date.now()}.service`;
  const calls = `${dir}/calls.log`;
  const wrapper = `${dir}/bin/nook-runtime`;
  const sock = `${dir}/containerd.sock`;
  Deno.mkdirSync(`${dir}/bin`);
  // the shim runs the wrapper with containerd's environment: Deno's cache is named, not guessed
  Deno.writeTextFileSync(
    wrapper,
    [
      "#!/bin/sh",
      `echo "$*" >> "${calls}"`,
      `export DENO_DIR="${
        Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME")}/.cache/deno`
      }" DENO_NO_UPDATE_CHECK=1 NO_COLOR=1`,
      `exec "${ROOT}/bin/nook-runtime" "$@"`,
      "",
    ].join("\n"),
    { mode: 0o755 },
  );
  Deno.writeTextFileSync(
    `${dir}/config.toml`,
    [
      "version = 2",
      `root = "${dir}/root"`,
      `state = "${dir}/state"`,
      // no CRI (it would want CNI), no snapshotters the guest lacks
      'disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]',
      "[grpc]",
      `  address = "${sock}"`,
      "[ttrpc]",
      `  address = "${sock}.ttrpc"`,
      "",
    ].join("\n"),
  );
  // rootlesskit's child: /sys/fs/cgroup becomes the cgroup namespace's own view (the service's
  // cgroup), and /run/containerd the user's own (--copy-up made /run a tmpfs of links to the real one).
  // Why a tmpfs first: the kernel refuses (EBUSY) a cgroup2 mount right on top of the cgroup2 mount
  // there (one superblock), and that one, inherited from outside the user namespace, cannot be unmounted.
  Deno.writeTextFileSync(
    `${dir}/child.sh`,
    [
      "set -e",
      "mount -t tmpfs -o mode=0755 tmpfs /sys/fs/cgroup",
      "mount -t cgroup2 cgroup2 /sys/fs/cgroup",
      "rm -f /run/containerd",
      "cat /proc/self/cgroup",
      `exec containerd --config "${dir}/config.toml"`,
      "",
    ].join("\n"),
  );
  const r = await sh(which("systemd-run")!, [
    "--user",
    "--quiet",
    "--collect",
    "--unit",
    unit,
    "-p",
    "Delegate=yes",
    "--",
    "/bin/sh",
    "-c",
    `exec rootlesskit --state-dir="${dir}/rk" --net=host --copy-up=/run --pidns --cgroupns --evacuate-cgroup2=evac ` +
    `--propagation=rslave /bin/sh "${dir}/child.sh" >>"${dir}/containerd.log" 2>&1`,
  ]);
  assert.equal(r.code, 0, `systemd-run: ${r.stderr}`);
  const log =
    () => (exists(`${dir}/containerd.log`) ? Deno.readTextFileSync(`${dir}/containerd.log`).slice(-3000) : "");
  await waitFor(
    "rootless containerd to listen",
    () => (exists(sock) && exists(`${dir}/rk/child_pid`)) || /\[rootlesskit:parent\] error/.test(log()),
    120_000,
  ).catch((err) => {
    throw new Error(`${(err as Error).message}; its log:\n${log()}`);
  });
  assert.ok(exists(sock), `rootless containerd did not start; its log:\n${log()}`);
  const child = Number(Deno.readTextFileSync(`${dir}/rk/child_pid`).trim());
  const cg = (await sh("systemctl", ["--user", "show", "-P", "ControlGroup", unit])).stdout.trim();
  assert.ok(cg, `no cgroup for ${unit}`);
  return { dir, unit, sock, calls, wrapper, child, cgroup: `/sys/fs/cgroup${cg}` };
}

/** A command in rootlesskit's user, mount and pid namespaces (bounded in time). */
async function inside(d: Daemon, cmd: string[], stdin?: string) {
  // the time limit inside: nsenter forks into the pid namespace, and a limit on nsenter would leave that child
  const p = new Deno.Command("nsenter", {
    args: ["-U", "--preserve-credentials", "-m", "-p", "-t", String(d.child), "timeout", "300", ...cmd],
    env: { PATH },
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = p.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const out = await p.output();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** `ctr` on the rootless containerd; when it fails, its stderr ends with what containerd and nook logged. */
async function ctr(args: string[]) {
  const d = await daemon();
  const r = await inside(d, ["ctr", "-a", d.sock, "-n", NS, ...args]);
  if (r.code !== 0) r.stderr += diagnostics(d);
  return r;
}

/** The ends of containerd's log, the runtime calls and nook's own logs (for a failure's message). */
function diagnostics(d: Daemon): string {
  const tail = (path: string, n = 2000) => {
    try {
      return Deno.readTextFileSync(path).slice(-n);
    } catch {
      return "(none)";
    }
  };
  let out = `\n--- containerd's log:\n${tail(`${d.dir}/containerd.log`)}\n--- runtime calls:\n${tail(d.calls)}`;
  const tasks = `${d.dir}/state/io.containerd.runtime.v2.task/${NS}`;
  try {
    for (const e of Deno.readDirSync(tasks)) {
      out += `\n--- nook's log of ${e.name}:\n${tail(`${tasks}/${e.name}/log.json`)}`;
    }
  } catch {
    // no task
  }
  return out;
}

/** `nook runtime` on the state containerd's shim keeps (runc's default root for the namespace). */
async function runtime(args: string[]) {
  const d = await daemon();
  return await inside(d, [d.wrapper, "--root", `/run/containerd/runc/${NS}`, ...args]);
}

const runArgs = async (extra: string[]) => [
  "run",
  "--snapshotter",
  "native",
  "--runc-binary",
  (await daemon()).wrapper,
  ...extra,
];

/** The lines of the runtime log about one container. */
function callsFor(d: Daemon, id: string): string[] {
  return exists(d.calls) ? Deno.readTextFileSync(d.calls).split("\n").filter((l) => l.endsWith(` ${id}`)) : [];
}

/** The container's cgroup as the guest sees it (ctr's linux.cgroupsPath is /NAMESPACE/ID). */
const cgroupOf = (d: Daemon, id: string) => `${d.cgroup}/${NS}/${id}`;

const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

/** A busybox image as an OCI archive, made here (no network), imported as nooktest/busybox:latest. */
async function importImage(): Promise<void> {
  const d = await daemon();
  const lay = `${d.dir}/layout`;
  Deno.mkdirSync(`${lay}/blobs/sha256`, { recursive: true });
  const blob = (data: Uint8Array) => {
    const digest = sha256(data);
    Deno.writeFileSync(`${lay}/blobs/sha256/${digest}`, data);
    return { digest: `sha256:${digest}`, size: data.length };
  };
  const tar = await sh("tar", [
    "--numeric-owner",
    "--owner=0",
    "--group=0",
    "-C",
    busyboxRootfs(),
    "-cf",
    `${d.dir}/layer.tar`,
    ".",
  ]);
  assert.equal(tar.code, 0, tar.stderr);
  const layer = blob(Deno.readFileSync(`${d.dir}/layer.tar`));
  const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
  const config = blob(enc({
    architecture: "amd64",
    os: "linux",
    config: { Cmd: ["sh"], Env: ["PATH=/bin"] },
    rootfs: { type: "layers", diff_ids: [layer.digest] },
  }));
  const manifest = blob(enc({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
    layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", ...layer }],
  }));
  Deno.writeFileSync(
    `${lay}/index.json`,
    enc({
      schemaVersion: 2,
      manifests: [{
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        ...manifest,
        annotations: { "org.opencontainers.image.ref.name": "latest" },
      }],
    }),
  );
  Deno.writeTextFileSync(`${lay}/oci-layout`, '{"imageLayoutVersion":"1.0.0"}');
  const archive = await sh("tar", ["-C", lay, "-cf", `${d.dir}/busybox.tar`, "."]);
  assert.equal(archive.code, 0, archive.stderr);
  const r = await ctr([
    "images",
    "import",
    "--snapshotter",
    "native",
    "--base-name",
    `${NS}/busybox`,
    `${d.dir}/busybox.tar`,
  ]);
  assert.equal(r.code, 0, r.stderr);
}

let imported: Promise<void> | undefined;
const image = async () => {
  await (imported ??= importImage());
  return `${NS}/busybox:latest`;
};

/** Wait until ctr reports the task stopped, then delete task and container. */
async function removeStopped(id: string): Promise<void> {
  await waitFor(
    `${id} to stop`,
    async () =>
      /\bSTOPPED\b/.test((await ctr(["task", "ls"])).stdout.split("\n").find((l) => l.startsWith(`${id} `)) ?? ""),
    60_000,
  );
  let r = await ctr(["task", "delete", id]);
  assert.equal(r.code, 0, r.stderr);
  r = await ctr(["container", "delete", id]);
  assert.equal(r.code, 0, r.stderr);
}

/** Kill (KILL) and remove a container, whatever state it is in (cleanup). */
async function forceRemove(id: string): Promise<void> {
  await ctr(["task", "kill", "-s", "SIGKILL", id]);
  await ctr(["task", "delete", "--force", id]);
  await ctr(["container", "delete", id]);
}

const readFile = (path: string) => Deno.readTextFileSync(path).trim();

// deno-lint-ignore no-explicit-any
type Json = Record<string, any>;

/** One `events --stats` line, parsed. */
async function stats(id: string): Promise<Json> {
  const r = await runtime(["events", "--stats", id]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split("\n");
  assert.equal(lines.length, 1, r.stdout);
  return JSON.parse(lines[0]!);
}

const cases: [string, () => Promise<void>][] = [
  [
    "rootless containerd (rootlesskit, delegated cgroup v2) runs a container through nook as root of its user namespace",
    async () => {
      const d = await daemon();
      const cgroupLine = Deno.readTextFileSync(`${d.dir}/containerd.log`);
      assert.match(cgroupLine, /^0::\/evac$/m, "rootlesskit moved its processes into a leaf of its cgroup namespace");
      const r = await ctr([
        ...(await runArgs(["--rm", await image(), "nt-run"])),
        "sh",
        "-c",
        "id -u; cat /proc/self/uid_map; echo hello from nook",
      ]);
      assert.equal(r.code, 0, `${r.stderr}\n${Deno.readTextFileSync(`${d.dir}/containerd.log`).slice(-2000)}`);
      assert.match(r.stdout, /^0$/m);
      assert.match(r.stdout, /hello from nook/);
      // the container shares rootlesskit's user namespace: root is the guest's user, the rest its subordinate ids
      assert.match(r.stdout, new RegExp(`^\\s*0\\s+${Deno.uid()}\\s+1$`, "m"), r.stdout);
      const calls = callsFor(d, "nt-run");
      assert.ok(calls.some((c) => / create /.test(c)), `nook was not called to create: ${calls.join("\n")}`);
      assert.ok(calls.some((c) => / start /.test(c)), "nook was not called to start");
      assert.ok(!exists(cgroupOf(d, "nt-run")), "the container's cgroup is removed with it");
    },
  ],
  [
    "rootless containerd: run -d, task exec, kill and delete go through nook; the container's cgroup is made and removed",
    async () => {
      const d = await daemon();
      const id = "nt-d";
      try {
        let r = await ctr([...(await runArgs(["-d", await image(), id])), "sleep", "600"]);
        assert.equal(r.code, 0, r.stderr);
        assert.ok(exists(`${cgroupOf(d, id)}/cgroup.procs`), `no cgroup at ${cgroupOf(d, id)}`);
        assert.equal(
          readFile(`${cgroupOf(d, id)}/cgroup.procs`).split("\n").length,
          1,
          "the container's process is in it",
        );
        r = await ctr([
          "task",
          "exec",
          "--exec-id",
          "e1",
          id,
          "sh",
          "-c",
          "echo exec sees $(cat /proc/1/cmdline | tr '\\0' ' ')",
        ]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /exec sees sleep 600/);
        assert.ok(callsFor(d, id).some((c) => / exec /.test(c)), "nook was not called to exec");
        r = await ctr(["task", "kill", "-s", "SIGKILL", id]);
        assert.equal(r.code, 0, r.stderr);
        await removeStopped(id);
        assert.ok(callsFor(d, id).some((c) => / delete /.test(c)), "nook was not called to delete");
        assert.ok(!exists(cgroupOf(d, id)), "the container's cgroup is removed");
      } finally {
        await forceRemove(id);
      }
    },
  ],
  [
    "rootless containerd: --memory-limit is enforced; memory.max is set, a process allocating beyond it is OOM-killed",
    async () => {
      const d = await daemon();
      const id = "nt-mem";
      try {
        let r = await ctr([
          ...(await runArgs(["-d", "--memory-limit", String(32 * MiB), await image(), id])),
          "sleep",
          "600",
        ]);
        assert.equal(r.code, 0, r.stderr);
        const cg = cgroupOf(d, id);
        assert.equal(readFile(`${cg}/memory.max`), String(32 * MiB));
        // events every 500 ms until the container stops: its first line is out before the kill
        const events = new Deno.Command("nsenter", {
          args: [
            "-U",
            "--preserve-credentials",
            "-m",
            "-p",
            "-t",
            String(d.child),
            "timeout",
            "300",
            d.wrapper,
            "--root",
            `/run/containerd/runc/${NS}`,
            "events",
            "--interval",
            "500ms",
            id,
          ],
          env: { PATH },
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        const reader = events.stdout.getReader();
        let seen = "";
        while (!seen.includes("\n")) {
          const chunk = await reader.read();
          if (chunk.done) break;
          seen += dec.decode(chunk.value);
        }
        assert.match(seen, /^\{"type":"stats"/, `events printed no statistics: ${seen}`);

        r = await ctr(["task", "exec", "--exec-id", "hog", id, "tail", "/dev/zero"]);
        assert.equal(r.code, 137, `the allocating process was not killed (exit ${r.code}): ${r.stderr}`);
        assert.match(
          readFile(`${cg}/memory.events`),
          /^oom_kill [1-9]\d*$/m,
          "the kernel's OOM killer struck in the container's cgroup",
        );
        r = await ctr(["task", "exec", "--exec-id", "after", id, "echo", "still here"]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /still here/, "the container's own process lives on");
        await ctr(["task", "kill", "-s", "SIGKILL", id]);

        // events saw the kill (runc's "oom" event) and ended with the container
        for (;;) {
          const chunk = await reader.read();
          if (chunk.done) break;
          seen += dec.decode(chunk.value);
        }
        const status = await events.status;
        const lines = seen.trim().split("\n").map((l) => JSON.parse(l));
        assert.ok(
          lines.some((e) => e.type === "oom" && e.id === id),
          `no oom event among: ${lines.map((e) => e.type).join(" ")}`,
        );
        assert.ok(lines.filter((e) => e.type === "stats").length >= 2, "statistics came every interval");
        assert.equal(status.code, 0, dec.decode(await new Response(events.stderr).arrayBuffer()));
        await removeStopped(id);

        // the container's own process over its limit: ctr run reports the kill
        r = await ctr([
          ...(await runArgs(["--rm", "--memory-limit", String(20 * MiB), await image(), "nt-oom"])),
          "tail",
          "/dev/zero",
        ]);
        assert.equal(r.code, 137, `exit ${r.code}: ${r.stderr}`);
      } finally {
        await forceRemove(id);
        await forceRemove("nt-oom");
      }
    },
  ],
  [
    "nook runtime update and events --stats on a container of rootless containerd: runc's JSON, the new limits in its cgroup, --memory -1 takes the limit away",
    async () => {
      const d = await daemon();
      const id = "nt-upd";
      try {
        let r = await ctr([
          ...(await runArgs(["-d", "--memory-limit", String(32 * MiB), await image(), id])),
          "sleep",
          "600",
        ]);
        assert.equal(r.code, 0, r.stderr);
        const cg = cgroupOf(d, id);

        let ev = await stats(id);
        assert.equal(ev.type, "stats");
        assert.equal(ev.id, id);
        assert.equal(ev.data.memory.usage.limit, 32 * MiB);
        assert.ok(ev.data.memory.usage.usage > 0, JSON.stringify(ev.data.memory));
        assert.equal(typeof ev.data.memory.raw.anon, "number");
        assert.ok(ev.data.pids.current >= 1, JSON.stringify(ev.data.pids));
        assert.ok(ev.data.cpu.usage.total > 0, JSON.stringify(ev.data.cpu));

        r = await runtime(["update", "--memory", "64m", "--pids-limit", "30", id]);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(readFile(`${cg}/memory.max`), String(64 * MiB));
        assert.equal(readFile(`${cg}/pids.max`), "30");
        ev = await stats(id);
        assert.equal(ev.data.memory.usage.limit, 64 * MiB);
        assert.equal(ev.data.pids.limit, 30);

        // -r: linux.resources as JSON on stdin, as containerd's shim sends it
        r = await inside(
          d,
          [d.wrapper, "--root", `/run/containerd/runc/${NS}`, "update", "-r", "-", id],
          '{"memory": {"limit": 50331648}}',
        );
        assert.equal(r.code, 0, r.stderr);
        assert.equal(readFile(`${cg}/memory.max`), String(48 * MiB));

        r = await runtime(["update", "--memory", "-1", id]);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(readFile(`${cg}/memory.max`), "max", "--memory -1 resets the limit, as runc's update does");
        if (exists(`${cg}/memory.swap.max`)) assert.equal(readFile(`${cg}/memory.swap.max`), "max");
        // no limit is runc's math.MaxUint64, written exactly (past what a JavaScript number holds)
        const raw = await runtime(["events", "--stats", id]);
        assert.equal(raw.code, 0, raw.stderr);
        assert.match(raw.stdout, /"usage":\{"usage":\d+,"limit":18446744073709551615,/, "no limit");

        // a field cgroup v2 cannot carry out is refused by name, and nothing changes
        r = await runtime(["update", "--cpu-rt-runtime", "1000", id]);
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, /realtimeRuntime/);

        await ctr(["task", "kill", "-s", "SIGKILL", id]);
        await removeStopped(id);
        r = await runtime(["events", "--stats", id]);
        assert.notEqual(r.code, 0, "a deleted container has no statistics");
      } finally {
        await forceRemove(id);
      }
    },
  ],
  [
    "stopping rootless containerd leaves no container cgroup and no runtime state behind",
    async () => {
      const d = await daemon();
      const left = await runtime(["list", "--quiet"]);
      assert.equal(left.code, 0, left.stderr);
      assert.equal(left.stdout.trim(), "", "no container is left in the runtime's state");
      if (exists(`${d.cgroup}/${NS}`)) {
        assert.deepEqual(
          [...Deno.readDirSync(`${d.cgroup}/${NS}`)].filter((e) => e.isDirectory).map((e) => e.name),
          [],
          "no container cgroup is left",
        );
      }
      const r = await sh("systemctl", ["--user", "stop", d.unit]);
      assert.equal(r.code, 0, r.stderr);
      await waitFor("the service's cgroup to go", () => !exists(d.cgroup), 30_000);
      await sh("rm", ["-rf", d.dir]);
    },
  ],
];

guestTests(FILE, cases, inGuestSkip());
