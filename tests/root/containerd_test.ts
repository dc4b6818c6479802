/**
 * nook as the runtime of containerd on a node: containerd as real root,
 * started by the test on its own socket and state in a scratch directory,
 * `ctr run` of a busybox image imported from an OCI archive, with nook named
 * by `--runc-binary` and, for the user-namespace case, found as `runc` on
 * containerd's PATH (ctr 1.6 drops `--runc-binary` when `--uidmap` is given).
 * Every runtime call goes through a wrapper that logs it, so the tests can
 * tell that nook — not the host's runc — ran each container.
 *
 * Runs only as root (tests/run runs the tests/root group before switching to
 * the test user).
 */
import { assert, busyboxRootfs, exists, ROOT, scratch, sh, staticBusybox, test } from "../_helpers.ts";

function which(cmd: string): string | undefined {
  for (const dir of ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]) {
    if (exists(`${dir}/${cmd}`)) return `${dir}/${cmd}`;
  }
  return undefined;
}

function skipReason(): string | undefined {
  if (Deno.uid() !== 0) return "needs real root (tests/run runs this group as root)";
  for (const c of ["containerd", "ctr", "umoci"]) {
    if (!which(c)) return `${c} is not installed (apt install ${c === "ctr" ? "containerd" : c})`;
  }
  return staticBusybox() ? undefined : "busybox-static is not installed (apt install busybox-static)";
}

const skip = skipReason();

/** One containerd for the whole file. */
interface Daemon {
  dir: string;
  sock: string;
  calls: string;
  wrapper: string;
  proc: Deno.ChildProcess;
}

let daemon: Daemon | undefined;

async function startContainerd(): Promise<Daemon> {
  const dir = scratch("nook-containerd-");
  // containerd's state must be reachable by a container's root of another user
  // namespace (the rootfs is bound from there), as /run/containerd is (0711).
  Deno.chmodSync(dir, 0o711);
  const calls = `${dir}/calls.log`;
  const wrapper = `${dir}/bin/runc`;
  Deno.mkdirSync(`${dir}/bin`);
  Deno.writeTextFileSync(
    wrapper,
    `#!/bin/sh\necho "$*" >> "${calls}"\nexec "${ROOT}/bin/nook-runtime" "$@"\n`,
    { mode: 0o755 },
  );
  const sock = `${dir}/containerd.sock`;
  Deno.writeTextFileSync(
    `${dir}/config.toml`,
    [
      "version = 2",
      `root = "${dir}/root"`,
      `state = "${dir}/state"`,
      // no CRI (it would want CNI), no snapshotters this host lacks
      'disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]',
      "[grpc]",
      `  address = "${sock}"`,
      "[ttrpc]",
      `  address = "${sock}.ttrpc"`,
      "[debug]",
      '  address = ""',
      "[metrics]",
      '  address = ""',
      "",
    ].join("\n"),
  );
  const log = await Deno.open(`${dir}/containerd.log`, { write: true, create: true });
  const proc = new Deno.Command(which("containerd")!, {
    args: ["--config", `${dir}/config.toml`],
    env: { PATH: `${dir}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin` },
    clearEnv: true,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  proc.stderr.pipeTo(log.writable).catch(() => {});
  for (let i = 0; i < 100 && !exists(sock); i++) await new Promise((r) => setTimeout(r, 100));
  assert.ok(exists(sock), `containerd did not start: ${Deno.readTextFileSync(`${dir}/containerd.log`).slice(-2000)}`);
  return { dir, sock, calls, wrapper, proc };
}

/** `ctr` on the test's containerd, bounded in time. */
function ctr(args: string[]) {
  return sh("timeout", ["120", which("ctr")!, "-a", daemon!.sock, "-n", "nooktest", ...args], {
    PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
  });
}

/** A busybox image as an OCI archive (umoci), imported as nooktest/busybox:latest. */
async function importImage(): Promise<void> {
  const dir = scratch("nook-ctr-image-");
  const lay = `${dir}/layout`;
  for (
    const args of [
      ["init", "--layout", lay],
      ["new", "--image", `${lay}:latest`],
      ["insert", "--image", `${lay}:latest`, busyboxRootfs(), "/"],
      ["config", "--image", `${lay}:latest`, "--config.cmd", "sh"],
    ]
  ) {
    const r = await sh(which("umoci")!, args);
    assert.equal(r.code, 0, `umoci ${args[0]}: ${r.stderr}`);
  }
  const tar = await sh("tar", ["-C", lay, "-cf", `${dir}/busybox.tar`, "."]);
  assert.equal(tar.code, 0, tar.stderr);
  const r = await ctr(["image", "import", "--base-name", "nooktest/busybox", `${dir}/busybox.tar`]);
  assert.equal(r.code, 0, r.stderr);
}

async function stopContainerd(): Promise<void> {
  if (!daemon) return;
  const ls = await ctr(["container", "ls", "-q"]);
  for (const id of ls.stdout.split("\n").filter(Boolean)) {
    await ctr(["task", "kill", "-s", "SIGKILL", id]);
    await ctr(["task", "delete", "--force", id]);
    await ctr(["container", "delete", id]);
  }
  try {
    daemon.proc.kill("SIGTERM");
  } catch {
    // already gone
  }
  await daemon.proc.status;
  // snapshots stay mounted only while a container lives; unmount what a failed test left
  await sh("sh", ["-c", `grep -o ' ${daemon.dir}[^ ]*' /proc/self/mounts | sort -r | xargs -r -n1 umount -l`]);
  Deno.removeSync(daemon.dir, { recursive: true });
  daemon = undefined;
}

function callsFor(id: string): string[] {
  return exists(daemon!.calls)
    ? Deno.readTextFileSync(daemon!.calls).split("\n").filter((l) => l.endsWith(` ${id}`) || l.includes(` ${id} `))
    : [];
}

test("containerd as root runs, execs into, kills and deletes containers through nook", async (t) => {
  daemon = await startContainerd();
  try {
    await importImage();

    await t.step("ctr run --runc-binary: a container of containerd's default spec", async () => {
      const r = await ctr([
        "run",
        "--rm",
        "--runc-binary",
        daemon!.wrapper,
        "nooktest/busybox:latest",
        "nt-run",
        "sh",
        "-c",
        "id -u; grep -E '^Cap(Bnd|Eff):' /proc/self/status; echo hello from nook",
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^0$/m);
      assert.match(r.stdout, /hello from nook/);
      // containerd's default capability set (docker's), not root's full one
      assert.match(r.stdout, /CapBnd:\s*00000000a80425fb/);
      assert.match(r.stdout, /CapEff:\s*00000000a80425fb/);
      const calls = callsFor("nt-run");
      assert.ok(calls.some((c) => / create /.test(c)), `nook was not called to create: ${calls.join("\n")}`);
      assert.ok(calls.some((c) => / start /.test(c)), "nook was not called to start");
    });

    await t.step("run -d, task exec, kill, delete", async () => {
      let r = await ctr(["run", "-d", "--runc-binary", daemon!.wrapper, "nooktest/busybox:latest", "nt-d", "sleep", "600"]);
      assert.equal(r.code, 0, r.stderr);
      r = await ctr(["task", "ls"]);
      assert.match(r.stdout, /nt-d\s+\d+\s+RUNNING/);
      r = await ctr(["task", "exec", "--exec-id", "e1", "nt-d", "sh", "-c", "echo exec sees $(cat /proc/1/cmdline | tr '\\0' ' ')"]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /exec sees sleep 600/);
      assert.ok(callsFor("nt-d").some((c) => / exec /.test(c)), "nook was not called to exec");
      r = await ctr(["task", "kill", "-s", "SIGKILL", "nt-d"]);
      assert.equal(r.code, 0, r.stderr);
      for (let i = 0; i < 100; i++) {
        r = await ctr(["task", "ls"]);
        if (/nt-d\s+\d+\s+STOPPED/.test(r.stdout)) break;
        await new Promise((res) => setTimeout(res, 100));
      }
      assert.match(r.stdout, /nt-d\s+\d+\s+STOPPED/);
      r = await ctr(["task", "delete", "nt-d"]);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(callsFor("nt-d").some((c) => / delete /.test(c)), "nook was not called to delete");
      r = await ctr(["container", "delete", "nt-d"]);
      assert.equal(r.code, 0, r.stderr);
    });

    await t.step("a device node made with CAP_MKNOD does not open (no device cgroup: the mounts are nodev)", async () => {
      const r = await ctr([
        "run",
        "--rm",
        "--runc-binary",
        daemon!.wrapper,
        "nooktest/busybox:latest",
        "nt-dev",
        "sh",
        "-c",
        "mknod /tmp/zero c 1 5 && echo made; head -c1 /tmp/zero >/dev/null && echo opened; head -c1 /dev/zero | wc -c",
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /made/);
      assert.doesNotMatch(r.stdout, /opened/);
      assert.match(r.stdout, /^1$/m, "the /dev nodes nook binds still open");
    });

    await t.step("a user namespace per container (--uidmap): root of the container is not the host's root", async () => {
      const r = await ctr([
        "run",
        "--rm",
        "--uidmap",
        "0:300000:65536",
        "--gidmap",
        "0:300000:65536",
        "nooktest/busybox:latest",
        "nt-userns",
        "sh",
        "-c",
        "cat /proc/self/uid_map; id -u; ls -ln /bin/busybox; echo x > /tmp/f && ls -ln /tmp/f",
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^\s*0\s+300000\s+65536$/m);
      assert.match(r.stdout, /^0$/m);
      assert.match(r.stdout, /^-\S+\s+1\s+0\s+0\s.*\/tmp\/f$/m, "a file the container makes is its root's");
      assert.ok(callsFor("nt-userns").some((c) => / create /.test(c)), "nook (runc on containerd's PATH) was not called");
    });
  } finally {
    await stopContainerd();
  }
}, { skip });
