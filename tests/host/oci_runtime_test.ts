/**
 * `nook runtime` end to end, as an engine drives it: bundles made from the
 * busybox rootfs, real containers, state checked against the runtime-spec's
 * schema at every step.
 */
import {
  assert,
  busyboxRootfs,
  busyboxSkip,
  exists,
  nook,
  ROOT,
  scratch,
  sh,
  subidRange,
  subidSkip,
  test,
  waitFor,
} from "../_helpers.ts";
import { checkState, type Config, makeBundle, runtime, stateRootDir } from "../_oci_runtime.ts";
import { buildTestProgram } from "../_seccomp_bpf.ts";

const skip = busyboxSkip();

test("spec --rootless writes a config.json that runs as it is", async () => {
  const dir = scratch();
  Deno.mkdirSync(`${dir}/rootfs`);
  const r = await sh("sh", [
    "-c",
    `cd ${dir} && cp -a ${busyboxRootfs()}/. rootfs/ && ${ROOT}/nook runtime spec --rootless`,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const c = JSON.parse(Deno.readTextFileSync(`${dir}/config.json`));
  assert.deepEqual(c.linux.uidMappings, [{ containerID: 0, hostID: Deno.uid(), size: 1 }]);
  assert.ok(c.linux.namespaces.some((n: { type: string }) => n.type === "user"));
  c.process.terminal = false;
  c.process.args = ["sh", "-c", "echo $(id -u) $(hostname)"];
  Deno.writeTextFileSync(`${dir}/config.json`, JSON.stringify(c));
  const run = await runtime(stateRootDir(), ["run", "--bundle", dir, "spec1"]);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout.trim(), "0 nook");
  const again = await nook(["runtime", "spec", "--bundle", dir]);
  assert.notEqual(again.code, 0, "an existing config.json is not overwritten");
  assert.match(again.stderr, /exists/);
}, { skip });

test(
  "create, state, start, state, kill, delete: the runtime-spec lifecycle with a schema-valid state at each step",
  async () => {
    const out = scratch();
    Deno.chmodSync(out, 0o777);
    const bundle = makeBundle((c) => {
      c.process.args = [
        "sh",
        "-c",
        "echo ran > /out/ran; trap 'echo term > /out/term; exit 0' TERM; while :; do sleep 0.05; done",
      ];
      c.mounts.push({ destination: "/out", type: "bind", source: out, options: ["rbind"] });
      c.annotations = { "org.example.key": "value" };
    });
    const root = stateRootDir();
    const pidFile = `${scratch()}/pid`;
    const created = await runtime(root, ["create", "--bundle", bundle, "--pid-file", pidFile, "life1"]);
    assert.equal(created.code, 0, created.stderr);
    const pid = Number(Deno.readTextFileSync(pidFile));
    let s = checkState((await runtime(root, ["state", "life1"])).stdout, { id: "life1", status: "created", bundle });
    assert.equal(s.pid, pid, "the pid file holds the state's pid");
    assert.deepEqual(s.annotations, { "org.example.key": "value" });
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(!exists(`${out}/ran`), "a created container has not run its program yet");

    const started = await runtime(root, ["start", "life1"]);
    assert.equal(started.code, 0, started.stderr);
    await waitFor("the program to run", () => exists(`${out}/ran`));
    s = checkState((await runtime(root, ["state", "life1"])).stdout, { id: "life1", status: "running", bundle });
    assert.equal(s.pid, pid);
    const again = await runtime(root, ["start", "life1"]);
    assert.notEqual(again.code, 0, "a running container cannot be started twice");

    const list = JSON.parse((await runtime(root, ["list", "--format", "json"])).stdout);
    assert.deepEqual(list.map((c: { id: string; status: string }) => [c.id, c.status]), [["life1", "running"]]);
    const ps = JSON.parse((await runtime(root, ["ps", "--format", "json", "life1"])).stdout);
    assert.ok(ps.includes(pid), `ps lists the container's process: ${ps}`);

    const refused = await runtime(root, ["delete", "life1"]);
    assert.notEqual(refused.code, 0, "a running container is not deleted without --force");
    assert.match(refused.stderr, /not stopped/);

    const killed = await runtime(root, ["kill", "life1", "TERM"]);
    assert.equal(killed.code, 0, killed.stderr);
    await waitFor(
      "the container to stop",
      async () => JSON.parse((await runtime(root, ["state", "life1"])).stdout).status === "stopped",
    );
    assert.equal(Deno.readTextFileSync(`${out}/term`).trim(), "term", "the program got SIGTERM");
    checkState((await runtime(root, ["state", "life1"])).stdout, { id: "life1", status: "stopped", bundle });
    const kill2 = await runtime(root, ["kill", "life1", "KILL"]);
    assert.notEqual(kill2.code, 0, "a stopped container gets no signal");

    const deleted = await runtime(root, ["delete", "life1"]);
    assert.equal(deleted.code, 0, deleted.stderr);
    const gone = await runtime(root, ["state", "life1"]);
    assert.notEqual(gone.code, 0);
    assert.match(gone.stderr, /does not exist/);
    assert.equal((await runtime(root, ["delete", "--force", "life1"])).code, 0, "delete --force of nothing succeeds");
  },
  { skip },
);

test("run waits for the process, exits with its status and removes the container", async () => {
  const root = stateRootDir();
  const bundle = makeBundle((c) => (c.process.args = ["sh", "-c", "echo out; echo err >&2; exit 3"]));
  const r = await runtime(root, ["run", "--bundle", bundle, "run1"]);
  assert.equal(r.code, 3);
  assert.equal(r.stdout, "out\n");
  assert.equal(r.stderr, "err\n");
  assert.equal((await runtime(root, ["list", "-q"])).stdout, "", "run removes the container when it exits");
}, { skip });

test("delete --force kills a running container; delete of a created one kills it too", async () => {
  const root = stateRootDir();
  const bundle = makeBundle((c) => (c.process.args = ["sleep", "1000"]));
  for (const [id, start] of [["f1", true], ["f2", false]] as const) {
    const pidFile = `${scratch()}/pid`;
    assert.equal((await runtime(root, ["create", "--bundle", bundle, "--pid-file", pidFile, id])).code, 0);
    if (start) assert.equal((await runtime(root, ["start", id])).code, 0);
    const pid = Number(Deno.readTextFileSync(pidFile));
    const d = await runtime(root, start ? ["delete", "--force", id] : ["delete", id]);
    assert.equal(d.code, 0, d.stderr);
    const stat = (() => {
      try {
        return Deno.readTextFileSync(`/proc/${pid}/stat`);
      } catch {
        return "";
      }
    })();
    assert.ok(stat === "" || / Z /.test(stat), `process ${pid} is gone: ${stat}`);
  }
}, { skip });

test("a process that cannot be found fails create, not start, with the runtime's not-found message", async () => {
  const root = stateRootDir();
  const r = await runtime(root, [
    "create",
    "--bundle",
    makeBundle((c) => (c.process.args = ["no-such-program"])),
    "nf1",
  ]);
  assert.equal(r.code, 127);
  assert.match(r.stderr, /executable file not found in \$PATH/);
  assert.equal((await runtime(root, ["list", "-q"])).stdout, "", "nothing is left behind");
}, { skip });

test("a container joins another container's user, network and uts namespaces by path", async () => {
  const root = stateRootDir();
  const a = makeBundle((c) => {
    c.process.args = ["sleep", "1000"];
    c.hostname = "box-a";
    c.linux.namespaces.push({ type: "network" });
  });
  const pidFile = `${scratch()}/pid`;
  assert.equal((await runtime(root, ["create", "--bundle", a, "--pid-file", pidFile, "ja"])).code, 0);
  assert.equal((await runtime(root, ["start", "ja"])).code, 0);
  const pid = Number(Deno.readTextFileSync(pidFile));
  try {
    const b = makeBundle((c) => {
      c.process.args = ["sh", "-c", "for n in net user pid; do readlink /proc/self/ns/$n; done; hostname; echo $$"];
      delete c.hostname;
      delete c.linux.uidMappings;
      delete c.linux.gidMappings;
      c.linux.namespaces = c.linux.namespaces.filter((n: { type: string }) => n.type !== "user" && n.type !== "uts");
      c.linux.namespaces.push(
        { type: "user", path: `/proc/${pid}/ns/user` },
        { type: "network", path: `/proc/${pid}/ns/net` },
        { type: "uts", path: `/proc/${pid}/ns/uts` },
      );
    });
    const r = await runtime(root, ["run", "--bundle", b, "jb"]);
    assert.equal(r.code, 0, r.stderr);
    const [net, user, pidns, host, self] = r.stdout.trim().split("\n");
    assert.equal(net, Deno.readLinkSync(`/proc/${pid}/ns/net`), "same network namespace as the first container");
    assert.equal(user, Deno.readLinkSync(`/proc/${pid}/ns/user`), "same user namespace");
    assert.notEqual(pidns, Deno.readLinkSync(`/proc/${pid}/ns/pid`), "its own new pid namespace");
    assert.equal(host, "box-a", "the joined uts namespace's hostname");
    assert.equal(self, "1", "pid 1 of its new pid namespace (after the fork)");
  } finally {
    await runtime(root, ["delete", "--force", "ja"]);
  }
}, { skip });

test("hooks run at their lifecycle points, in their namespaces, with the state on stdin", async () => {
  const out = scratch();
  Deno.chmodSync(out, 0o777);
  const hostMnt = Deno.readLinkSync("/proc/self/ns/mnt");
  // each hook saves its stdin and the mount namespace it ran in
  const hook = (kind: string, dir: string) => ({
    path: "/bin/sh",
    args: [
      "sh",
      "-c",
      `cat > ${dir}/${kind}.json; readlink /proc/self/ns/mnt > ${dir}/${kind}.ns; hostname > ${dir}/${kind}.host`,
    ],
    env: ["PATH=/bin:/usr/bin"],
    timeout: 10,
  });
  const bundle = makeBundle((c) => {
    c.hostname = "hooked";
    c.mounts.push({ destination: "/out", type: "bind", source: out, options: ["rbind"] });
    c.process.args = ["sh", "-c", "sleep 0.2"];
    c.annotations = { a: "b" };
    c.hooks = {
      prestart: [hook("prestart", out)],
      createRuntime: [hook("createRuntime", out)],
      createContainer: [hook("createContainer", out)], // the runtime's path, the container's namespaces
      startContainer: [hook("startContainer", "/out")], // resolves inside the container
      poststart: [hook("poststart", out)],
      poststop: [hook("poststop", out)],
    };
  });
  const root = stateRootDir();
  assert.equal((await runtime(root, ["create", "--bundle", bundle, "--pid-file", `${out}/pid`, "hk1"])).code, 0);
  const pid = Number(Deno.readTextFileSync(`${out}/pid`));
  for (const k of ["prestart", "createRuntime", "createContainer"]) {
    assert.ok(exists(`${out}/${k}.json`), `${k} ran at create`);
  }
  assert.ok(!exists(`${out}/startContainer.json`), "startContainer waits for start");
  const st = await runtime(root, ["start", "hk1"]);
  assert.equal(st.code, 0, st.stderr);
  await waitFor(
    "the container to stop",
    async () => JSON.parse((await runtime(root, ["state", "hk1"])).stdout).status === "stopped",
  );
  assert.equal((await runtime(root, ["delete", "hk1"])).code, 0);

  const expect: Record<string, [string, "host" | "container"]> = {
    prestart: ["creating", "host"],
    createRuntime: ["creating", "host"],
    createContainer: ["creating", "container"],
    startContainer: ["created", "container"],
    poststart: ["running", "host"],
    poststop: ["stopped", "host"],
  };
  for (const [kind, [status, where]] of Object.entries(expect)) {
    const s = JSON.parse(Deno.readTextFileSync(`${out}/${kind}.json`));
    assert.equal(s.id, "hk1", kind);
    assert.equal(s.status, status, `${kind} sees status ${status}`);
    assert.equal(s.bundle, bundle, kind);
    assert.deepEqual(s.annotations, { a: "b" }, kind);
    if (status !== "stopped") assert.equal(s.pid, pid, `${kind} sees the container's pid`);
    const ns = Deno.readTextFileSync(`${out}/${kind}.ns`).trim();
    const hostname = Deno.readTextFileSync(`${out}/${kind}.host`).trim();
    if (where === "host") {
      assert.equal(ns, hostMnt, `${kind} runs in the runtime's mount namespace`);
    } else {
      assert.notEqual(ns, hostMnt, `${kind} runs in the container's mount namespace`);
      if (kind === "startContainer") assert.equal(hostname, "hooked", `${kind} runs in the container's uts namespace`);
    }
  }
}, { skip });

test("a failing or slow create hook fails create, names the hook, and leaves nothing behind", async () => {
  const root = stateRootDir();
  const failing = makeBundle((c) => {
    c.hooks = { createRuntime: [{ path: "/bin/sh", args: ["sh", "-c", "echo no way >&2; exit 4"] }] };
  });
  const r = await runtime(root, ["create", "--bundle", failing, "hf1"]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /createRuntime hook "\/bin\/sh" \(hooks\.createRuntime\[0\]\) exited with status 4: no way/);
  const slow = makeBundle((c) => {
    c.hooks = { prestart: [{ path: "/bin/sleep", args: ["sleep", "20"], timeout: 1 }] };
  });
  const t0 = Date.now();
  const s = await runtime(root, ["create", "--bundle", slow, "hf2"]);
  assert.notEqual(s.code, 0);
  assert.match(s.stderr, /prestart hook "\/bin\/sleep" .*did not finish within its timeout of 1 s/);
  assert.ok(Date.now() - t0 < 10_000, "the timeout stopped the hook");
  assert.equal((await runtime(root, ["list", "-q"])).stdout, "", "nothing is left behind");
}, { skip });

test("a failing startContainer hook fails start and stops the container; delete then runs poststop", async () => {
  const root = stateRootDir();
  const out = scratch();
  Deno.chmodSync(out, 0o777);
  const bundle = makeBundle((c) => {
    c.process.args = ["sleep", "1000"];
    c.hooks = {
      startContainer: [{ path: "/bin/sh", args: ["sh", "-c", "exit 3"] }],
      poststop: [{ path: "/bin/sh", args: ["sh", "-c", `cat > ${out}/poststop.json`] }],
    };
  });
  assert.equal((await runtime(root, ["create", "--bundle", bundle, "sh1"])).code, 0);
  const st = await runtime(root, ["start", "sh1"]);
  assert.notEqual(st.code, 0);
  assert.match(st.stderr, /startContainer hook "\/bin\/sh" \(hooks\.startContainer\[0\]\) exited with status 3/);
  await waitFor(
    "the container to stop",
    async () => JSON.parse((await runtime(root, ["state", "sh1"])).stdout).status === "stopped",
  );
  assert.equal((await runtime(root, ["delete", "sh1"])).code, 0);
  assert.equal(JSON.parse(Deno.readTextFileSync(`${out}/poststop.json`)).status, "stopped");
}, { skip });

test("the console socket receives the pty master, and it is a working terminal", async () => {
  const receiver = await buildTestProgram("oci_console_receiver.c");
  const dir = scratch();
  const sock = `${dir}/console.sock`;
  const child = new Deno.Command(receiver, {
    args: [sock, "tty; echo $((6*7)); exit 5\n"],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  await waitFor("the console socket", () => exists(sock));
  const root = stateRootDir();
  const bundle = makeBundle((c) => {
    c.process.terminal = true;
    c.process.consoleSize = { height: 30, width: 100 };
    c.process.args = ["sh", "-c", "stty size; sh"];
  });
  const refused = await runtime(root, ["create", "--bundle", bundle, "tty0"]);
  assert.notEqual(refused.code, 0, "a terminal without a console socket is refused");
  assert.match(refused.stderr, /console-socket/);
  const c = await runtime(root, ["create", "--bundle", bundle, "--console-socket", sock, "tty1"]);
  assert.equal(c.code, 0, c.stderr);
  assert.equal((await runtime(root, ["start", "tty1"])).code, 0);
  const out = await child.output();
  const text = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.match(text, /^name: \/dev\/ptmx\nisatty: 1\n/);
  assert.match(text, /30 100/, "consoleSize reached the terminal");
  assert.match(text, /\/dev\/pts\/0/, "the shell's stdin is the pty");
  assert.match(text, /42/, "input typed into the master reached the shell");
  await waitFor(
    "the container to stop",
    async () => JSON.parse((await runtime(root, ["state", "tty1"])).stdout).status === "stopped",
  );
  await runtime(root, ["delete", "tty1"]);
}, { skip });

test(
  "exec runs processes in a running container: foreground, detached with a pid file, and from a process.json",
  async () => {
    const root = stateRootDir();
    const bundle = makeBundle((c) => {
      c.hostname = "execbox";
      c.process.args = ["sleep", "1000"];
      c.process.env.push("FROM_CONFIG=1");
    });
    const pidFile = `${scratch()}/pid`;
    assert.equal((await runtime(root, ["create", "--bundle", bundle, "--pid-file", pidFile, "ex1"])).code, 0);
    assert.equal((await runtime(root, ["start", "ex1"])).code, 0);
    const pid = Number(Deno.readTextFileSync(pidFile));
    try {
      const fg = await runtime(root, [
        "exec",
        "--env",
        "EXTRA=2",
        "ex1",
        "sh",
        "-c",
        "hostname; echo $FROM_CONFIG$EXTRA; readlink /proc/self/ns/pid; exit 6",
      ]);
      assert.equal(fg.code, 6, fg.stderr);
      const [host, env, pidns] = fg.stdout.trim().split("\n");
      assert.equal(host, "execbox");
      assert.equal(env, "12", "the container's env plus --env");
      assert.equal(pidns, Deno.readLinkSync(`/proc/${pid}/ns/pid`), "in the container's pid namespace");

      const proc = {
        terminal: false,
        user: { uid: 1000, gid: 1000 },
        args: ["sh", "-c", "id -u; id -g; pwd"],
        env: ["PATH=/bin"],
        cwd: "/tmp",
      };
      const pfile = `${scratch()}/process.json`;
      Deno.writeTextFileSync(pfile, JSON.stringify(proc));
      const byFile = await runtime(root, ["exec", "--process", pfile, "ex1"]);
      // the single-id mapping has only root: 1000 is not mapped there
      assert.notEqual(byFile.code, 0);
      assert.match(byFile.stderr, /process\.user\.uid.*not mapped/);
      proc.user = { uid: 0, gid: 0 };
      Deno.writeTextFileSync(pfile, JSON.stringify(proc));
      const ok = await runtime(root, ["exec", "--process", pfile, "ex1"]);
      assert.equal(ok.code, 0, ok.stderr);
      assert.equal(ok.stdout, "0\n0\n/tmp\n");

      const execPid = `${scratch()}/exec.pid`;
      const det = await runtime(root, ["exec", "--detach", "--pid-file", execPid, "ex1", "sleep", "30"]);
      assert.equal(det.code, 0, det.stderr);
      const p = Number(Deno.readTextFileSync(execPid));
      assert.equal(Deno.readLinkSync(`/proc/${p}/ns/mnt`), Deno.readLinkSync(`/proc/${pid}/ns/mnt`));
      const all = JSON.parse((await runtime(root, ["ps", "--format", "json", "ex1"])).stdout);
      assert.ok(all.includes(p) && all.includes(pid), `ps lists both processes: ${all}`);
      assert.equal((await runtime(root, ["kill", "--all", "ex1", "KILL"])).code, 0);
      await waitFor("every process to go", () => {
        const alive = (x: number) => {
          try {
            return !/ Z /.test(Deno.readTextFileSync(`/proc/${x}/stat`));
          } catch {
            return false;
          }
        };
        return !alive(p) && !alive(pid);
      });
    } finally {
      await runtime(root, ["delete", "--force", "ex1"]);
    }
  },
  { skip },
);

test("config.json fields nook cannot carry out fail create with a message naming the field", async () => {
  const root = stateRootDir();
  const cases: [string, (c: Config) => void][] = [
    ["linux.intelRdt", (c) => (c.linux.intelRdt = { closID: "x" })],
    ["linux.namespaces[5].type", (c) => c.linux.namespaces.push({ type: "time" })],
    ["process.scheduler", (c) => (c.process.scheduler = { policy: "SCHED_FIFO" })],
    ["process.ioPriority", (c) => (c.process.ioPriority = { class: "IOPRIO_CLASS_RT" })],
    [
      "mounts[6].options",
      (c) => c.mounts.push({ destination: "/t", type: "tmpfs", source: "tmpfs", options: ["tmpcopyup"] }),
    ],
    [
      "mounts[6].uidMappings",
      (c) =>
        c.mounts.push({
          destination: "/t",
          type: "bind",
          source: "/tmp",
          options: ["bind"],
          uidMappings: [{ containerID: 0, hostID: 1, size: 1 }],
        }),
    ],
    ["linux.resources.memory.limit", (c) => (c.linux.resources = { memory: { limit: 1 << 26 } })],
    ["linux.resources.pids.limit", (c) => (c.linux.resources = { pids: { limit: 10 } })],
    ['linux.sysctl["vm.swappiness"]', (c) => (c.linux.sysctl = { "vm.swappiness": "10" })],
    [
      "linux.seccomp.listenerPath",
      (c) => (c.linux.seccomp = { defaultAction: "SCMP_ACT_ALLOW", listenerPath: "/run/x.sock" }),
    ],
    ["linux.mountLabel", (c) => (c.linux.mountLabel = "system_u:object_r:container_file_t:s0")],
    ["windows", (c) => (c.windows = { layerFolders: [] })],
    ["linux.devices[0].path", (c) => (c.linux.devices = [{ type: "c", path: "/dev/nook-none", major: 1, minor: 3 }])],
  ];
  // LSM labels are refused where the module is not enabled (this runner has neither)
  if (!exists("/sys/module/apparmor/parameters/enabled")) {
    cases.push(["process.apparmorProfile", (c) => (c.process.apparmorProfile = "nook-test")]);
  }
  if (!exists("/sys/fs/selinux/enforce")) {
    cases.push(["process.selinuxLabel", (c) => (c.process.selinuxLabel = "system_u:system_r:container_t:s0")]);
  }
  for (const [field, edit] of cases) {
    const r = await runtime(root, ["create", "--bundle", makeBundle(edit), "u1"]);
    assert.notEqual(r.code, 0, `${field} was accepted`);
    assert.ok(r.stderr.includes(`"${field}"`), `the message names "${field}": ${r.stderr}`);
  }
  assert.equal((await runtime(root, ["list", "-q"])).stdout, "");
  // properties the spec does not define are ignored, as the spec requires
  const r = await runtime(root, [
    "--debug",
    "run",
    "--bundle",
    makeBundle((c) => (c.org_example_extension = { x: 1 })),
    "u2",
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /unknown property "org_example_extension" ignored/);
}, { skip });

test("linux.seccomp, sysctl, devices, rlimits and additionalGids take effect", async () => {
  const root = stateRootDir();
  const bundle = makeBundle((c) => {
    c.linux.namespaces.push({ type: "network" });
    c.linux.sysctl = { "net.ipv4.ping_group_range": "0 0" };
    c.linux.devices = [{ type: "c", path: "/dev/fuse", major: 10, minor: 229 }];
    c.linux.seccomp = {
      defaultAction: "SCMP_ACT_ALLOW",
      architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"],
      syscalls: [{ names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: 1 }],
    };
    c.process.rlimits = [{ type: "RLIMIT_NOFILE", soft: 123, hard: 456 }];
    c.process.oomScoreAdj = 500;
    c.linux.personality = { domain: "LINUX32" };
    c.process.args = [
      "sh",
      "-c",
      "cat /proc/sys/net/ipv4/ping_group_range; ls /dev/fuse; ulimit -n; ulimit -Hn; mkdir /tmp/x 2>&1; echo mkdir=$?; cat /proc/self/oom_score_adj; uname -m",
    ];
  });
  const r = await runtime(root, ["run", "--bundle", bundle, "fx1"]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split("\n");
  assert.equal(lines[0]!.replace(/\s+/g, " "), "0 0", "the sysctl was written in the container's network namespace");
  assert.equal(lines[1], "/dev/fuse");
  assert.deepEqual(lines.slice(2, 4), ["123", "456"]);
  assert.match(lines[4]!, /Operation not permitted/, "the seccomp rule refused mkdir");
  assert.equal(lines[5], "mkdir=1");
  assert.equal(lines[6], "500", "process.oomScoreAdj");
  if (Deno.build.arch === "x86_64") assert.equal(lines[7], "i686", "linux.personality LINUX32");
  const wrong = await runtime(root, [
    "run",
    "--bundle",
    makeBundle((c) => (c.linux.devices = [{ type: "c", path: "/dev/null", major: 1, minor: 5 }])),
    "fx2",
  ]);
  assert.notEqual(wrong.code, 0);
  assert.match(wrong.stderr, /linux\.devices\[0\]".*1:5.*1:3/);
  const groups = await runtime(root, [
    "run",
    "--bundle",
    makeBundle((c) => (c.process.user.additionalGids = [0])),
    "fx3",
  ]);
  assert.notEqual(groups.code, 0, "single-id mapping denies setgroups");
  assert.match(groups.stderr, /process\.user\.additionalGids/);
}, { skip });

// The user's own ranges, wherever useradd put them (not 100000 when another user holds that).
const subUid = subidRange("uid");
const subGid = subidRange("gid");
const subSkip = subidSkip() ??
  (Math.min(subUid?.count ?? 0, subGid?.count ?? 0) < 1001
    ? `this user's subordinate ranges hold fewer than the 1001 ids the test maps (uids ${subUid?.count}, gids ${subGid?.count})`
    : undefined);

test("a subordinate id range in linux.uidMappings is written with newuidmap", async () => {
  const root = stateRootDir();
  const uids = { start: subUid!.start, count: Math.min(subUid!.count, 65536) };
  const gids = { start: subGid!.start, count: Math.min(subGid!.count, 65536) };
  const bundle = makeBundle((c) => {
    c.linux.uidMappings = [{ containerID: 0, hostID: Deno.uid(), size: 1 }, {
      containerID: 1,
      hostID: uids.start,
      size: uids.count,
    }];
    c.linux.gidMappings = [{ containerID: 0, hostID: Deno.gid(), size: 1 }, {
      containerID: 1,
      hostID: gids.start,
      size: gids.count,
    }];
    c.mounts.find((m: { destination: string }) => m.destination === "/dev/pts").options.push("gid=5");
    c.process.user = { uid: 1000, gid: 1000, additionalGids: [10] };
    c.process.args = ["sh", "-c", "id -u; id -G; cat /proc/self/uid_map"];
  });
  const r = await runtime(root, ["run", "--bundle", bundle, "sub1"]);
  assert.equal(r.code, 0, r.stderr);
  const [uid, groups, ...map] = r.stdout.trim().split("\n");
  assert.equal(uid, "1000");
  assert.equal(groups, "1000 10");
  assert.equal(map.length, 2);
  assert.deepEqual(map[1]!.trim().split(/\s+/).map(Number), [1, uids.start, uids.count]);
}, { skip: subSkip });

test("features describes what nook supports; pause explains why this host cannot freeze", async () => {
  const f = JSON.parse((await nook(["runtime", "features"])).stdout);
  assert.equal(f.ociVersionMin, "1.0.0");
  assert.match(f.ociVersionMax, /^1\.\d+\.\d+$/);
  assert.deepEqual(f.hooks, [
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
  ]);
  assert.deepEqual(f.linux.namespaces, ["cgroup", "ipc", "mount", "network", "pid", "user", "uts"]);
  assert.ok(f.linux.capabilities.includes("CAP_SYS_ADMIN"));
  assert.ok(f.linux.seccomp.enabled);
  assert.ok(!f.linux.seccomp.actions.includes("SCMP_ACT_NOTIFY"), "no notify listener support");
  assert.ok(f.mountOptions.includes("rbind") && f.mountOptions.includes("rro"));
  assert.equal(f.linux.mountExtensions.idmap.enabled, false);

  const root = stateRootDir();
  const bundle = makeBundle((c) => (c.process.args = ["sleep", "1000"]));
  assert.equal((await runtime(root, ["run", "--detach", "--bundle", bundle, "pz1"])).code, 0);
  try {
    const p = await runtime(root, ["pause", "pz1"]);
    assert.notEqual(p.code, 0);
    assert.match(p.stderr, /cgroup/);
    assert.equal(JSON.parse((await runtime(root, ["state", "pz1"])).stdout).status, "running");
  } finally {
    await runtime(root, ["delete", "--force", "pz1"]);
  }
}, { skip });

test("--log --log-format json leaves exactly one JSON error record for the engine to read", async () => {
  const root = stateRootDir();
  const log = `${scratch()}/oci-log`;
  const r = await nook([
    "runtime",
    "--root",
    root,
    "--log",
    log,
    "--log-format",
    "json",
    "create",
    "--bundle",
    makeBundle((c) => (c.linux.intelRdt = { closID: "x" })),
    "lg1",
  ]);
  assert.notEqual(r.code, 0);
  const record = JSON.parse(Deno.readTextFileSync(log)); // one object, as podman parses it
  assert.equal(record.level, "error");
  assert.match(record.msg, /linux\.intelRdt/);
  assert.match(record.time, /^\d{4}-\d\d-\d\dT/);
  assert.match(r.stderr, /linux\.intelRdt/, "the error goes to stderr as well");
  const text = `${scratch()}/text-log`;
  await nook(["runtime", "--root", root, "--log", text, "state", "nonexistent"]);
  assert.match(Deno.readTextFileSync(text), /^time="[^"]+" level=error msg=".*does not exist/);
}, { skip });

test("started as nook-runtime, nook speaks runc's command line at the top level", async () => {
  const r = await nook(["--version"], { env: { NOOK_ARGV0: "/usr/local/bin/nook-runtime" } });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^nook-runtime version .*\nspec: 1\.\d+\.\d+\n$/);
  const w = await sh(`${ROOT}/bin/nook-runtime`, ["features"]);
  assert.equal(w.code, 0, w.stderr);
  assert.equal(JSON.parse(w.stdout).ociVersionMin, "1.0.0");
});

test("without --root, state lives under $XDG_RUNTIME_DIR/nook/runtime", async () => {
  const xdg = scratch("nook-xdg-");
  Deno.chmodSync(xdg, 0o700);
  const bundle = makeBundle((c) => (c.process.args = ["sleep", "1000"]));
  const env = { XDG_RUNTIME_DIR: xdg };
  const r = await runtime(undefined, ["run", "--detach", "--bundle", bundle, "xdg1"], env);
  assert.equal(r.code, 0, r.stderr);
  try {
    assert.ok(exists(`${xdg}/nook/runtime/xdg1/state.json`));
    assert.equal((await runtime(undefined, ["list", "-q"], env)).stdout, "xdg1\n");
  } finally {
    assert.equal((await runtime(undefined, ["delete", "--force", "xdg1"], env)).code, 0);
  }
}, { skip });
