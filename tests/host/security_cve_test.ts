/**
 * The published escapes of runc, crun and podman, tried against nook: one
 * test (or a few) per CVE, named by it. A small static probe
 * (tests/cve_probe.c) reports what a container process starts with (fds,
 * cwd, root, capability sets) and races symlinks from inside a container.
 * Each test says in its comment what the advisory was and what must hold here.
 *
 * (CVE-2019-5736, nook's own executable reachable through /proc/PID/exe, has
 * its own attack test next to the fix.)
 */
import { assert, busyboxRootfs, busyboxSkip, exists, nook, scratch, subidSkip, test, waitFor } from "../_helpers.ts";
import { buildTestProgram } from "../_seccomp_bpf.ts";
import { type Config, makeBundle, runtime, stateRootDir } from "../_oci_runtime.ts";

const skip = busyboxSkip();

let built: Promise<string> | undefined;
/** The static probe (built once per test process). */
function probeBinary(): Promise<string> {
  built ??= buildTestProgram("cve_probe.c", ["-static"]);
  return built;
}

/** A private, writable busybox rootfs with the probe at /probe (and `dirs` made in it). */
async function rootfs(dirs: string[] = []): Promise<string> {
  const dir = busyboxRootfs(true);
  Deno.copyFileSync(await probeBinary(), `${dir}/probe`);
  Deno.chmodSync(`${dir}/probe`, 0o755);
  for (const d of dirs) Deno.mkdirSync(`${dir}${d}`, { recursive: true });
  return dir;
}

/** The probe's `fds` report: cwd, root, fd → target, and the Cap* lines. */
interface Report {
  cwd: string;
  root: string;
  fds: Map<number, string>;
  caps: Record<string, string>;
}

function parseReport(text: string): Report {
  const r: Report = { cwd: "", root: "", fds: new Map(), caps: {} };
  for (const line of text.trim().split("\n")) {
    let m;
    if ((m = /^cwd: (.*)$/.exec(line))) r.cwd = m[1]!;
    else if ((m = /^root: (.*)$/.exec(line))) r.root = m[1]!;
    else if ((m = /^fd (\d+): (.*)$/.exec(line))) r.fds.set(Number(m[1]), m[2]!);
    else if ((m = /^(Cap\w+|NoNewPrivs):\s*(\S+)$/.exec(line))) r.caps[m[1]!] = m[2]!;
  }
  return r;
}

/** What stdio may be: pipes, sockets, the container's /dev/null or pty, or files the test itself named. */
const STDIO = /^(pipe|socket):\[\d+\]$|^\/dev\/(null|pts\/\d+)$|\/nook-rt-out-[^/]+\/(out|err)$/;

/**
 * CVE-2024-21626's check: the process sits at `cwd` under its own root, and
 * holds nothing but fds 0-2 (plus `extra`), each a pipe, socket, the
 * container's /dev/null or pty, or one of `files`.
 */
function assertNoLeak(what: string, text: string, cwd: string, opts: { extra?: number[]; files?: string[] } = {}) {
  const r = parseReport(text);
  assert.equal(r.root, "/", `${what}: root\n${text}`);
  assert.equal(r.cwd, cwd, `${what}: cwd\n${text}`);
  const allowed = new Set([0, 1, 2, ...(opts.extra ?? [])]);
  for (const [fd, target] of r.fds) {
    assert.ok(allowed.has(fd), `${what}: fd ${fd} (${target}) leaked into the container\n${text}`);
    if (fd <= 2) {
      assert.ok(STDIO.test(target) || (opts.files ?? []).includes(target), `${what}: fd ${fd} is ${target}\n${text}`);
    }
  }
  return r;
}

/** A cwd the container can name: a path of its rootfs, or of its own /proc or /dev. */
function assertInside(what: string, cwd: string, rootfsDir: string) {
  assert.ok(cwd.startsWith("/"), `${what}: cwd "${cwd}" is not a path inside the container`);
  assert.ok(
    exists(`${rootfsDir}${cwd}`) || /^\/(proc|dev)(\/|$)/.test(cwd),
    `${what}: cwd "${cwd}" is not in the container's rootfs`,
  );
}

const quiet = (s: string) =>
  s.split("\n").filter((l) => !/warning: containers run without|^\s+hint: resource limits/.test(l)).join("\n");

// CVE-2024-21626 (runc "Leaky Vessels"): runc leaked an fd of the host's
// /sys/fs/cgroup into the container process; `-w /proc/self/fd/7` (or an
// image WORKDIR there) then left the process with a cwd on the host. Here
// every fd above 2 is closed or close-on-exec, and the cwd is checked.
test("CVE-2024-21626: a `nook run` process starts with only its stdio and its cwd inside the root", async () => {
  const dir = await rootfs(["/work"]);
  const fg = await nook(["run", "--rm", "--rootfs", dir, "/probe", "fds"]);
  assert.equal(fg.code, 0, fg.stderr);
  assertNoLeak("run", fg.stdout, "/");
  const wd = await nook(["run", "--rm", "-i", "-w", "/work", "--rootfs", dir, "/probe", "fds"], { stdin: "" });
  assert.equal(wd.code, 0, wd.stderr);
  assertNoLeak("run -i -w /work", wd.stdout, "/work");
  const init = await nook(["run", "--rm", "--init", "--rootfs", dir, "/probe", "fds"]);
  assert.equal(init.code, 0, init.stderr);
  assertNoLeak("run --init", init.stdout, "/");
}, { skip });

test(
  "CVE-2024-21626: `run -d` and `nook exec` processes start with only their stdio and their cwd inside the root",
  async () => {
    const dir = await rootfs(["/work"]);
    const name = `cve21626-${crypto.randomUUID().slice(0, 8)}`;
    const d = await nook([
      "run",
      "-d",
      "--name",
      name,
      "--rootfs",
      dir,
      "sh",
      "-c",
      "/probe fds > /tmp/main.txt; exec sleep 1000",
    ]);
    assert.equal(d.code, 0, d.stderr);
    try {
      for (let i = 0; i < 50; i++) {
        const m = await nook(["exec", name, "cat", "/tmp/main.txt"]);
        if (m.code === 0 && m.stdout.includes("CapAmb")) {
          assertNoLeak("run -d", m.stdout, "/", { files: ["/tmp/main.txt"] });
          break;
        }
        if (i === 49) assert.fail(`the detached container never wrote its report: ${m.stderr}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const e = await nook(["exec", name, "/probe", "fds"]);
      assert.equal(e.code, 0, e.stderr);
      assertNoLeak("exec", e.stdout, "/");
      const w = await nook(["exec", "-w", "/work", name, "/probe", "fds"]);
      assert.equal(w.code, 0, w.stderr);
      assertNoLeak("exec -w /work", w.stdout, "/work");
    } finally {
      await nook(["rm", "-f", name]);
    }
  },
  { skip },
);

test(
  "CVE-2024-21626: a working directory through /proc/self/fd/N, or a symlink to it, is refused or stays inside the root",
  async () => {
    const dir = await rootfs();
    const name = `cve21626w-${crypto.randomUUID().slice(0, 8)}`;
    const d = await nook(["run", "-d", "--name", name, "--rootfs", dir, "sleep", "1000"]);
    assert.equal(d.code, 0, d.stderr);
    try {
      // nook's own fds at the time of the chdir are Deno's (close-on-exec, still open): try the low ones
      for (let n = 3; n <= 16; n++) {
        for (
          const [how, args] of [
            ["run", ["run", "--rm", "-w", `/proc/self/fd/${n}`, "--rootfs", dir, "/probe", "fds"]],
            ["exec", ["exec", "-w", `/proc/self/fd/${n}`, name, "/probe", "fds"]],
          ] as const
        ) {
          const r = await nook([...args]);
          if (r.code === 0) {
            const rep = parseReport(r.stdout);
            assert.equal(rep.root, "/", `${how} -w /proc/self/fd/${n}`);
            assertInside(`${how} -w /proc/self/fd/${n}`, rep.cwd, dir);
          } else {
            assert.match(
              quiet(r.stderr),
              /ENOTDIR|ENOENT|EXDEV|ELOOP|outside the container/,
              `${how} ${n}: ${r.stderr}`,
            );
          }
        }
      }
      // the image's way: a symlink in the rootfs that points there
      Deno.symlinkSync("/proc/self/fd/5", `${dir}/wd`);
      const s = await nook(["run", "--rm", "-w", "/wd", "--rootfs", dir, "/probe", "fds"]);
      if (s.code === 0) assertInside("-w /wd -> /proc/self/fd/5", parseReport(s.stdout).cwd, dir);
      else assert.match(quiet(s.stderr), /ENOTDIR|ENOENT|EXDEV|ELOOP|outside the container/, s.stderr);
    } finally {
      await nook(["rm", "-f", name]);
    }
  },
  { skip },
);

test(
  "CVE-2024-21626: `nook runtime run`, `runtime exec` and hooks in the container's namespaces start with only stdio, inside the root",
  async () => {
    const probe = await probeBinary();
    const out = scratch("nook-cve-hooks-");
    Deno.chmodSync(out, 0o777);
    const dir = await rootfs(["/out", "/work"]);
    const root = stateRootDir();
    const bundle = makeBundle((c: Config) => {
      c.root.readonly = false;
      c.process.args = ["sh", "-c", "/probe fds /out/main.txt; exec sleep 1000"];
      c.process.cwd = "/work";
      c.mounts.push({ destination: "/out", type: "bind", source: out, options: ["rbind"] });
      c.hooks = {
        // the runtime's path, run in the container's namespaces before pivot_root
        createContainer: [{ path: probe, args: ["cve_probe", "fds", `${out}/createContainer.txt`] }],
        // resolved inside the container, run in it before the process starts
        startContainer: [{ path: "/probe", args: ["cve_probe", "fds", "/out/startContainer.txt"] }],
      };
    }, dir);
    const c = await runtime(root, ["create", "--bundle", bundle, "cve1"]);
    assert.equal(c.code, 0, c.stderr);
    try {
      assert.equal((await runtime(root, ["start", "cve1"])).code, 0);
      const report = async (f: string) => {
        for (let i = 0; i < 100; i++) {
          if (exists(`${out}/${f}`) && Deno.readTextFileSync(`${out}/${f}`).includes("CapAmb")) break;
          await new Promise((r) => setTimeout(r, 50));
        }
        return Deno.readTextFileSync(`${out}/${f}`);
      };
      const sc = await report("startContainer.txt");
      assert.equal(parseReport(sc).root, "/", sc);
      for (const fd of parseReport(sc).fds.keys()) assert.ok(fd <= 2, `startContainer hook holds fd ${fd}\n${sc}`);
      assert.doesNotMatch(parseReport(sc).cwd, /^\(unreachable\)|^$/, sc);
      const cc = await report("createContainer.txt");
      for (const fd of parseReport(cc).fds.keys()) assert.ok(fd <= 2, `createContainer hook holds fd ${fd}\n${cc}`);
      assertNoLeak("runtime create/start", await report("main.txt"), "/work");
      const e = await runtime(root, ["exec", "--cwd", "/work", "cve1", "/probe", "fds"]);
      assert.equal(e.code, 0, e.stderr);
      const rep = parseReport(e.stdout);
      assert.equal(rep.root, "/");
      assert.equal(rep.cwd, "/work");
      for (const fd of rep.fds.keys()) assert.ok(fd <= 2, `runtime exec holds fd ${fd}\n${e.stdout}`);
    } finally {
      await runtime(root, ["delete", "--force", "cve1"]);
    }
    const r = await runtime(stateRootDir(), [
      "run",
      "--bundle",
      makeBundle((c: Config) => {
        c.process.args = ["/probe", "fds"];
      }, dir),
      "cve2",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const rep = parseReport(r.stdout);
    assert.equal(rep.root, "/");
    assert.equal(rep.cwd, "/");
    for (const fd of rep.fds.keys()) assert.ok(fd <= 2, `runtime run holds fd ${fd}\n${r.stdout}`);
  },
  { skip },
);

// CVE-2022-29162 (runc, also moby CVE-2022-24769): the inheritable set was
// not emptied, so a non-root process gained file capabilities on execve of
// a binary with inheritable file caps. Inheritable and ambient stay empty.
test("CVE-2022-29162: container processes start with empty inheritable and ambient capabilities", async () => {
  const dir = await rootfs();
  const users = subidSkip() ? ["0"] : ["0", "1000"];
  const name = `cve29162-${crypto.randomUUID().slice(0, 8)}`;
  assert.equal((await nook(["run", "-d", "--name", name, "--rootfs", dir, "sleep", "1000"])).code, 0);
  try {
    for (const u of users) {
      for (
        const [how, args] of [
          ["run", ["run", "--rm", "-u", u, "--rootfs", dir, "/probe", "fds"]],
          ["run --cap-add", ["run", "--rm", "-u", u, "--cap-add", "NET_ADMIN", "--rootfs", dir, "/probe", "fds"]],
          ["exec", ["exec", "-u", u, name, "/probe", "fds"]],
        ] as const
      ) {
        const r = await nook([...args]);
        assert.equal(r.code, 0, `${how} -u ${u}: ${r.stderr}`);
        const caps = parseReport(r.stdout).caps;
        // podman's rule: a non-root user gets exactly what --cap-add names (ambient needs
        // inheritable to survive execve); nothing else, ever, and root nothing inheritable
        const asked = u !== "0" && how === "run --cap-add" ? "0000000000001000" : "0000000000000000";
        assert.equal(caps.CapInh, asked, `${how} -u ${u}: CapInh`);
        assert.equal(caps.CapAmb, asked, `${how} -u ${u}: CapAmb`);
        if (u !== "0") assert.equal(caps.CapEff, asked, `${how} -u ${u}: a user has only what was added`);
      }
    }
  } finally {
    await nook(["rm", "-f", name]);
  }
  const r = await runtime(stateRootDir(), [
    "run",
    "--bundle",
    makeBundle((c: Config) => {
      c.process.args = ["/probe", "fds"];
    }, dir),
    "cap1",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const caps = parseReport(r.stdout).caps;
  assert.equal(caps.CapInh, "0000000000000000", "runtime: CapInh");
  assert.equal(caps.CapAmb, "0000000000000000", "runtime: CapAmb");
}, { skip });

// CVE-2023-25809 (runc): rootless runc bind-mounted the host's writable
// /sys/fs/cgroup into a container without its own cgroup namespace, letting
// it write the user's cgroups. Here /sys is read-only; /sys/fs/cgroup is
// either nothing writable or the container's own cgroup2, rooted at it.
test("CVE-2023-25809: /sys/fs/cgroup in a rootless container is read-only or the container's own cgroup", async () => {
  const dir = await rootfs();
  const script =
    "grep -E ' /sys(/fs/cgroup)? ' /proc/self/mountinfo; echo cg:$(cat /proc/self/cgroup | tr '\\n' ' '); " +
    "mkdir /sys/fs/cgroup/nook-cve-probe 2>/dev/null && echo made-dir; echo 1 > /sys/fs/cgroup/cgroup.procs 2>/dev/null && echo wrote-procs; true";
  for (
    const [how, run] of [
      ["run", () => nook(["run", "--rm", "--rootfs", dir, "sh", "-c", script])],
      ["runtime", () =>
        runtime(stateRootDir(), [
          "run",
          "--bundle",
          makeBundle((c: Config) => {
            c.process.args = ["sh", "-c", script];
          }, dir),
          `cg-${crypto.randomUUID().slice(0, 8)}`,
        ])],
    ] as const
  ) {
    const r = await run();
    assert.equal(r.code, 0, `${how}: ${r.stderr}`);
    const lines = r.stdout.trim().split("\n");
    const sys = lines.find((l) => / \/sys /.test(l));
    assert.ok(sys, `${how}: /sys is mounted\n${r.stdout}`);
    assert.match(sys!.split(" ")[5]!, /^ro\b/, `${how}: /sys is read-only\n${r.stdout}`);
    const cg = lines.find((l) => / \/sys\/fs\/cgroup /.test(l));
    if (cg && !/^ro\b/.test(cg.split(" ")[5]!)) {
      // writable only as the container's own cgroup2, seen from its own cgroup namespace
      assert.equal(
        cg.split(" ")[3],
        "/",
        `${how}: a writable /sys/fs/cgroup must be rooted at the container's cgroup\n${cg}`,
      );
      assert.match(r.stdout, /^cg:0::\/ ?$/m, `${how}: the container has its own cgroup namespace`);
    } else {
      assert.ok(
        !lines.includes("made-dir") && !lines.includes("wrote-procs"),
        `${how}: wrote the host's cgroups\n${r.stdout}`,
      );
    }
  }
}, { skip });

// CVE-2019-16884 (runc: an image's VOLUME /proc put a fake /proc/self/attr
// under the AppArmor label write) and CVE-2023-28642 (runc: /proc a symlink
// in the image, so procfs was mounted elsewhere and the label and masks went
// to the wrong place). Here nothing but procfs may be mounted on /proc, and
// a symlinked /proc gets procfs where it leads, with the masks in force.
test("CVE-2019-16884: a volume, bind mount or image VOLUME on /proc (or inside it) is refused", async () => {
  const dir = await rootfs();
  const fake = scratch("nook-fakeproc-");
  Deno.mkdirSync(`${fake}/sys`);
  Deno.mkdirSync(`${fake}/self/attr`, { recursive: true });
  Deno.writeTextFileSync(`${fake}/keys`, "planted\n");
  for (const v of [`${fake}:/proc`, `${fake}:/proc/sys`, `cve16884-${crypto.randomUUID().slice(0, 8)}:/proc`]) {
    const r = await nook(["run", "--rm", "-v", v, "--rootfs", dir, "cat", "/proc/keys"]);
    assert.equal(r.code, 125, `-v ${v}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /The mount target "\/proc(\/sys)?" (would hide the container's procfs|is inside \/proc)/);
    assert.doesNotMatch(r.stdout, /planted/);
  }
  const t = await nook(["run", "--rm", "--mount", "type=tmpfs,target=/proc", "--rootfs", dir, "true"]);
  assert.equal(t.code, 125, t.stderr);
  // lxcfs's single files stay possible, as with runc
  const ok = await nook(["run", "--rm", "-v", `${fake}/keys:/proc/uptime:ro`, "--rootfs", dir, "cat", "/proc/uptime"]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout, "planted\n");
  // the OCI door: a bind on /proc or below it, other than lxcfs's files
  for (
    const m of [
      { destination: "/proc", type: "bind", source: fake, options: ["rbind"] },
      { destination: "/proc/sys", type: "bind", source: `${fake}/sys`, options: ["rbind"] },
      { destination: "/proc/self/attr", type: "tmpfs", source: "tmpfs", options: [] },
    ]
  ) {
    const r = await runtime(stateRootDir(), [
      "run",
      "--bundle",
      makeBundle((c: Config) => {
        c.mounts.push(m);
      }, dir),
      `p-${crypto.randomUUID().slice(0, 8)}`,
    ]);
    assert.notEqual(r.code, 0, `${m.destination} ${m.type}`);
    assert.match(r.stderr, /destination.*\/proc/, r.stderr);
  }
}, { skip });

test("CVE-2019-16884: an image's VOLUME /proc is refused and leaves no volume behind", async () => {
  // the image door goes through the same mounts as -v; an image with VOLUME /proc needs the store:
  // here the anonymous volume of `-v /proc` (no source) stands for it.
  const dir = await rootfs();
  const r = await nook(["run", "--rm", "-v", "/proc", "--rootfs", dir, "true"]);
  assert.equal(r.code, 125, r.stderr);
  assert.match(r.stderr, /would hide the container's procfs/);
}, { skip });

test(
  "CVE-2023-28642: an image whose /proc is a symlink or a directory of planted files still gets procfs and its masks",
  async () => {
    const check =
      "/probe statfs /proc/self; wc -c < /proc/keys; stat -L -c '%t:%T' /proc/keys; cat /proc/sys/kernel/hostname; " +
      "echo x > /proc/sys/kernel/hostname 2>/dev/null && echo wrote-sys; grep -c planted /proc/timer_list 2>/dev/null; true";
    // a directory with planted files: procfs is mounted over it
    const planted = await rootfs();
    Deno.mkdirSync(`${planted}/proc/sys/kernel`, { recursive: true });
    Deno.writeTextFileSync(`${planted}/proc/keys`, "planted\n");
    Deno.writeTextFileSync(`${planted}/proc/timer_list`, "planted\n");
    // a symlink to a directory of its own, and one that climbs out
    const linked = await rootfs(["/fakeproc/sys/kernel"]);
    Deno.removeSync(`${linked}/proc`);
    Deno.symlinkSync("/fakeproc", `${linked}/proc`);
    Deno.writeTextFileSync(`${linked}/fakeproc/keys`, "planted\n");
    const climbing = await rootfs(["/fakeproc"]);
    Deno.removeSync(`${climbing}/proc`);
    Deno.symlinkSync("../../../../../../../../../fakeproc", `${climbing}/proc`);
    for (
      const [what, dir] of [["planted /proc", planted], ["/proc -> /fakeproc", linked], ["/proc -> ../../..", climbing]]
    ) {
      const r = await nook(["run", "--rm", "--hostname", "boxname", "--rootfs", dir!, "sh", "-c", check]);
      assert.equal(r.code, 0, `${what}: ${r.stderr}`);
      const [fstype, keys, dev, host, ...rest] = r.stdout.trim().split("\n");
      assert.equal(fstype, "/proc/self: 9fa0", `${what}: /proc is procfs`); // PROC_SUPER_MAGIC
      assert.equal(keys?.trim(), "0", `${what}: /proc/keys is masked`);
      assert.equal(dev, "1:3", `${what}: /proc/keys is /dev/null`);
      assert.equal(host, "boxname", `${what}: /proc/sys is the container's own`);
      assert.ok(!rest.includes("wrote-sys"), `${what}: /proc/sys is read-only`);
      assert.ok(!rest.includes("1"), `${what}: the planted files are hidden`);
    }
    // nothing was written beside the rootfs by the climbing link
    assert.ok(!exists(`${climbing}/../fakeproc`) || Deno.readDirSync(`${climbing}/../fakeproc`).next().done);
  },
  { skip },
);

// CVE-2025-31133 (runc): masked paths were bind-mounted from the container's
// /dev/null, which a shared volume or a racing symlink could replace (with a
// link to /proc/sys/kernel/core_pattern: a writable mask). nook binds only a
// /dev/null it has opened and checked as the null device (1:3).
test("CVE-2025-31133: a /dev/null that is a file, a symlink or a volume's is never bound as a mask", async () => {
  const dir = await rootfs();
  const fakeDev = scratch("nook-fakedev-");
  Deno.writeTextFileSync(`${fakeDev}/null`, "planted-null\n");
  const linkDev = scratch("nook-linkdev-");
  Deno.symlinkSync("/proc/sys/kernel/hostname", `${linkDev}/null`);
  const show = "cat /proc/keys /proc/timer_list; stat -L -c '%F %t:%T' /proc/keys";
  for (const v of [`${fakeDev}:/dev`, `${fakeDev}/null:/dev/null`, `${linkDev}:/dev`]) {
    const r = await nook(["run", "--rm", "-v", v, "--rootfs", dir, "sh", "-c", show]);
    assert.doesNotMatch(r.stdout, /planted-null/, `-v ${v}: a mask shows a planted file`);
    if (r.code !== 0) assert.match(r.stderr, /not the null device/, `-v ${v}: ${r.stderr}`);
    else assert.equal(r.stdout, "character special file 1:3\n", `-v ${v}: the masks are the null device`);
  }
  // the host's own /dev, bound in, is the real thing: masks work
  const host = await nook(["run", "--rm", "-v", "/dev:/dev", "--rootfs", dir, "sh", "-c", show]);
  assert.equal(host.code, 0, host.stderr);
  assert.equal(host.stdout, "character special file 1:3\n");
}, { skip });

// CVE-2021-30465 (runc: a racing symlink exchange in a shared volume turned a
// mount destination into a path outside the rootfs) and CVE-2024-45310
// (runc: the same race made it create empty files and directories on the
// host). nook resolves every destination with openat2(RESOLVE_IN_ROOT), so
// a symlink — to /, to ../../.., to a host path — only ever leads inside.
test(
  "CVE-2021-30465: mount destinations through symlinks to /, ../../.. or a host path land inside the rootfs",
  async () => {
    const host = scratch("nook-cve-host-"); // what an escape would touch
    const src = scratch("nook-cve-src-");
    Deno.writeTextFileSync(`${src}/marker`, "m\n");
    const dir = await rootfs(["/mnt"]);
    Deno.symlinkSync("/", `${dir}/mnt/to-root`);
    Deno.symlinkSync("../../../../../../../../..", `${dir}/mnt/up`);
    Deno.symlinkSync(host, `${dir}/mnt/to-host`);
    const r = await nook([
      "run",
      "--rm",
      "-v",
      `${src}:/mnt/to-root/bound1`,
      "-v",
      `${src}:/mnt/up/bound2`,
      "--rootfs",
      dir,
      "sh",
      "-c",
      "cat /bound1/marker /bound2/marker",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "m\nm\n", "each bind landed at the symlink's target inside the container");
    assert.ok(exists(`${dir}/bound1`) && exists(`${dir}/bound2`), "made inside the rootfs");
    // a link to a host path names a path of the rootfs, which is not there: refused, nothing made
    const h = await nook(["run", "--rm", "-v", `${src}:/mnt/to-host/bound3`, "--rootfs", dir, "true"]);
    assert.equal(h.code, 125, h.stderr);
    assert.match(h.stderr, /ENOENT/);
    assert.deepEqual([...Deno.readDirSync(host)], [], "nothing was created on the host");
  },
  { skip },
);

test(
  "CVE-2021-30465 and CVE-2024-45310: a symlink exchanged by another container in a shared volume never moves a mount or a new directory out",
  async () => {
    const host = scratch("nook-cve-host-");
    const src = scratch("nook-cve-src-");
    Deno.writeTextFileSync(`${src}/marker`, "m\n");
    const vol = `cve30465-${crypto.randomUUID().slice(0, 8)}`;
    const a = await rootfs(["/v"]);
    const b = await rootfs(["/v"]);
    const name = `${vol}-a`;
    // /v/dir flips between a directory and a symlink to the host directory (absolute) and to ../../..
    const d = await nook([
      "run",
      "-d",
      "--name",
      name,
      "-v",
      `${vol}:/v`,
      "--rootfs",
      a,
      "sh",
      "-c",
      `cd /v && mkdir dir && ln -s ${host} lnk && ln -s ../../../../../../.. up && ` +
      "(/probe swap /v dir lnk 30000 &) && exec /probe swap /v dir up 30000",
    ]);
    assert.equal(d.code, 0, d.stderr);
    try {
      let ok = 0, failed = 0;
      const end = Date.now() + 25_000;
      for (let i = 0; i < 12 && Date.now() < end; i++) {
        const r = await nook([
          "run",
          "--rm",
          "-v",
          `${vol}:/v`,
          "-v",
          `${src}:/v/dir/sub${i}/mnt`,
          "--rootfs",
          b,
          "sh",
          "-c",
          // the names flip under find's feet: look again until it sees the bind
          "for t in 1 2 3 4 5 6 7 8 9 10; do m=$(find / -path /proc -prune -o -name marker -print 2>/dev/null | head -1); " +
          '[ -n "$m" ] && break; done; echo "$m"',
        ]);
        if (r.code === 0) {
          ok++;
          assert.match(r.stdout, /\/marker$/m, `the bind is visible inside the container\n${r.stderr}`);
        } else {
          failed++;
          assert.equal(r.code, 125, r.stderr);
        }
        assert.deepEqual([...Deno.readDirSync(host)].map((e) => e.name), [], `run ${i}: nothing created on the host`);
      }
      assert.ok(ok + failed > 0);
    } finally {
      await nook(["rm", "-f", name]);
      await nook(["volume", "rm", vol]);
    }
    assert.deepEqual([...Deno.readDirSync(host)], [], "nothing created on the host");
  },
  { skip },
);

// CVE-2025-52881 (runc: writes meant for procfs — LSM labels in
// /proc/self/attr, sysctls — redirected through racing mounts to other
// files) and CVE-2025-52565 (/dev/console bind races, tested below). nook refuses any
// mount over /proc but procfs (and lxcfs files), checks that each of its
// procfs writes lands on procfs, and binds the console from the pty fd.
test(
  "CVE-2025-52881: a sysctl whose /proc/sys is covered is refused, and the write goes to the container's procfs",
  async () => {
    const dir = await rootfs();
    const fake = scratch("nook-fakesys-");
    Deno.mkdirSync(`${fake}/ipv4`);
    Deno.writeTextFileSync(`${fake}/ipv4/ip_forward`, "planted\n");
    const covered = await runtime(stateRootDir(), [
      "run",
      "--bundle",
      makeBundle((c: Config) => {
        c.mounts.push({ destination: "/proc/sys/net", type: "bind", source: fake, options: ["rbind"] });
        c.linux.sysctl = { "net.ipv4.ip_forward": "1" };
      }, dir),
      `s-${crypto.randomUUID().slice(0, 8)}`,
    ]);
    assert.notEqual(covered.code, 0);
    assert.match(covered.stderr, /destination.*"\/proc\/sys\/net" is inside \/proc/, covered.stderr);
    assert.equal(Deno.readTextFileSync(`${fake}/ipv4/ip_forward`), "planted\n", "the host file is untouched");
    const good = await runtime(stateRootDir(), [
      "run",
      "--bundle",
      makeBundle((c: Config) => {
        c.linux.sysctl = { "net.ipv4.ip_forward": "1" };
        if (!c.linux.namespaces.some((n: Config) => n.type === "network")) c.linux.namespaces.push({ type: "network" });
        c.process.args = ["cat", "/proc/sys/net/ipv4/ip_forward"];
      }, dir),
      `s-${crypto.randomUUID().slice(0, 8)}`,
    ]);
    assert.equal(good.code, 0, good.stderr);
    assert.equal(good.stdout, "1\n");
  },
  { skip },
);

// CVE-2025-52565 (runc: the pty was bind-mounted onto whatever /dev/console
// resolved to — a symlink planted in the rootfs, or raced in, to a procfs
// file such as /proc/sysrq-trigger or /proc/sys/kernel/core_pattern — and
// before the masked and read-only paths, so such a file ended up writable or
// covered). nook binds the console from the pty's own fd; its target must be
// the console itself, never a file the rootfs's symlinks lead to.
const CONSOLE_REPORT = [
  // mounts of the pty's filesystem anywhere under /proc
  'awk \'$9 == "devpts" && $5 ~ /^\\/proc\\// { print "pty-over-proc: " $5 }\' /proc/self/mountinfo',
  // each procfs file the attack names: what it is, and whether its last mount is read-only
  "for f in /proc/sysrq-trigger /proc/sys/kernel/core_pattern; do [ -e $f ] || continue; " +
  'echo "$f: $(stat -f -c %T $f) $(awk -v f=$f \'$5 == f || $5 == "/proc/sys" { o = $6 } END { print o }\' /proc/self/mountinfo | cut -d, -f1)"; done',
  '[ -e /dev/console ] && echo "console-is-pty: $([ "$(stat -L -c %d:%i /dev/console)" = "$(stat -L -c %d:%i /proc/self/fd/0)" ] && echo yes || echo no)"',
  "echo console-link: $(readlink /dev/console)",
  "echo done",
].join("; ");

async function consoleRun(dir: string, edit: (c: Config) => void) {
  const receiver = await buildTestProgram("oci_console_receiver.c");
  const sock = `${scratch("nook-console-")}/console.sock`;
  const child = new Deno.Command(receiver, { args: [sock, ""], stdout: "piped", stderr: "piped" }).spawn();
  await waitFor("the console socket", () => exists(sock));
  const bundle = makeBundle((c: Config) => {
    c.process.terminal = true;
    c.process.args = ["sh", "-c", CONSOLE_REPORT];
    edit(c);
  }, dir);
  const r = await runtime(stateRootDir(), [
    "run",
    "--bundle",
    bundle,
    "--console-socket",
    sock,
    `con-${crypto.randomUUID().slice(0, 8)}`,
  ]);
  if (r.code !== 0) {
    try {
      child.kill();
    } catch { /* it has ended */ }
  }
  const out = await child.output();
  return { run: r, seen: new TextDecoder().decode(out.stdout).replaceAll("\r", "") };
}

test(
  "CVE-2025-52565: a /dev/console symlink to a procfs file never gets the pty bound over procfs",
  async () => {
    const hostCore = Deno.readTextFileSync("/proc/sys/kernel/core_pattern");
    // a kernel without magic SysRq has no /proc/sysrq-trigger: the absolute link names core_pattern then
    const sysrq = exists("/proc/sysrq-trigger");
    const cases: [string, string, (c: Config) => void][] = [
      // the spec's own tmpfs /dev hides the rootfs's link: the console is the pty
      ["absolute link under a tmpfs /dev", "/proc/sys/kernel/core_pattern", () => {}],
      // the rootfs's own /dev (no /dev mount in the config)
      ["absolute link, rootfs /dev", sysrq ? "/proc/sysrq-trigger" : "/proc/sys/kernel/core_pattern", (c) => {
        c.mounts = c.mounts.filter((m: Config) => m.destination !== "/dev");
      }],
      ["relative link, rootfs /dev", "../proc/sys/kernel/core_pattern", (c) => {
        c.mounts = c.mounts.filter((m: Config) => m.destination !== "/dev");
      }],
    ];
    for (const [what, link, edit] of cases) {
      const dir = await rootfs(["/dev"]);
      Deno.symlinkSync(link, `${dir}/dev/console`);
      // a /dev bound from the rootfs itself
      const bound = (c: Config) => {
        const i = c.mounts.findIndex((m: Config) => m.destination === "/dev");
        c.mounts[i] = { destination: "/dev", type: "bind", source: `${dir}/dev`, options: ["rbind"] };
        // that /dev has no null device to bind as masks (CVE-2025-31133's test covers that refusal)
        c.linux.maskedPaths = [];
      };
      for (const [w, e] of [[what, edit], [`${link}, /dev bound from the rootfs`, bound]] as const) {
        const { run, seen } = await consoleRun(dir, e);
        if (run.code !== 0) {
          assert.equal(run.code, 125, run.stderr);
          assert.match(
            run.stderr,
            /procfs.*"\/dev\/console"/,
            `${w}: a refusal names /dev/console and procfs\n${run.stderr}`,
          );
        } else {
          assert.match(seen, /^done$/m, `${w}: the report came through the pty\n${seen}`);
          assert.doesNotMatch(seen, /pty-over-proc/, `${w}: the pty is bound over a procfs file\n${seen}`);
          if (sysrq) assert.match(seen, /^\/proc\/sysrq-trigger: proc ro$/m, `${w}\n${seen}`);
          assert.match(seen, /^\/proc\/sys\/kernel\/core_pattern: proc ro$/m, `${w}\n${seen}`);
          // either nook's own console (the pty), or the rootfs's link left as it was (no console asked for there)
          if (!/console-link: \S/.test(seen)) assert.match(seen, /^console-is-pty: yes$/m, `${w}\n${seen}`);
        }
        assert.equal(Deno.readLinkSync(`${dir}/dev/console`), link, `${w}: the rootfs's link is untouched`);
      }
    }
    assert.equal(
      Deno.readTextFileSync("/proc/sys/kernel/core_pattern"),
      hostCore,
      "the host's core_pattern is unchanged",
    );
  },
  { skip },
);

test("CVE-2025-52565: `nook run -t` has its own /dev, whose console is never a path into procfs", async () => {
  const dir = await rootfs(["/dev"]);
  Deno.symlinkSync("/proc/sys/kernel/core_pattern", `${dir}/dev/console`);
  const r = await nook(["run", "--rm", "-t", "--rootfs", dir, "sh", "-c", CONSOLE_REPORT]);
  assert.equal(r.code, 0, r.stderr);
  const seen = r.stdout.replaceAll("\r", "");
  assert.match(seen, /^done$/m, seen);
  assert.doesNotMatch(seen, /pty-over-proc/, seen);
  assert.match(seen, /^\/proc\/sys\/kernel\/core_pattern: proc ro$/m, seen);
  assert.doesNotMatch(seen, /console-link: \S/, `/dev/console is not the rootfs's link\n${seen}`);
  assert.equal(Deno.readLinkSync(`${dir}/dev/console`), "/proc/sys/kernel/core_pattern");
}, { skip });
