import { assert, test } from "../_helpers.ts";
import { CLONE, Plan, PlanError } from "../../src/plan/mod.ts";
import { validate } from "../../src/ffi/mod.ts";
import { buildPlan, execCandidates } from "../../src/engine/mod.ts";

test("an encoded plan with every op passes libshim's validator", async () => {
  const p = new Plan(CLONE.NEWUSER | CLONE.NEWNS);
  p.pdeathsig(9).mount("a", "/b", "tmpfs", 6, "size=1m").setattr("/x", 1, 0, 0, true).umount("/y", 2).mkdir("/d")
    .mkfile("/f").symlink("t", "/l").write("/w", "data", 0o1000).root("/r").pivotRoot("/r").chroot("/c").chdir("/")
    .sethostname("h").setdomainname("d").setrlimit(7, 1n, 0xffff_ffff_ffff_ffffn).umask(0o22).setid(1, 2, [3, 4], 1)
    .caps({ bounding: 1n, effective: 2n, permitted: 3n, inheritable: 0n, ambient: 0n }, 40).noNewPrivs()
    .seccomp(new Uint8Array(16)).loopbackUp().setns("/proc/1/ns/net", 0).unshare(0).fork(0).init().pty("/dev/ptmx", 24, 80)
    .sync(7).run("/bin/true", ["true"], []).openFd("/dev/null", 0, 0, 0).personality(0).keepFds(3, 1)
    .input("state", 0).exec(["/bin/true"], ["true"], ["A=1"]);
  assert.equal(await validate(p.encode()), "");
  // the host's own program (a runtime hook) is exec'd directly: one path only
  assert.equal(await validate(new Plan().exec(["/bin/true"], ["true"], [], { direct: true }).encode()), "");
  assert.match(await validate(new Plan().exec(["/a", "/b"], ["a"], [], { direct: true }).encode()), /exactly one path/);
});

test("the encoder refuses NUL bytes and out-of-range numbers instead of sending them", () => {
  assert.throws(() => new Plan().chdir("a\0b").encode(), PlanError);
  assert.throws(() => new Plan().umask(-1).encode(), PlanError);
});

test("exec candidates follow the container's PATH and keep paths with a slash as they are", () => {
  assert.deepEqual(execCandidates("sh", ["PATH=/bin:/usr/bin/"]), ["/bin/sh", "/usr/bin/sh"]);
  assert.deepEqual(execCandidates("./x", ["PATH=/bin"]), ["./x"]);
  assert.equal(execCandidates("ls", []).length, 6);
});

test("a container plan opens with pdeathsig and private propagation, and ends with exec", async () => {
  const plan = buildPlan({
    id: "0".repeat(64),
    rootfs: "/r",
    readonlyRootfs: true,
    hostname: "h",
    network: "none",
    mounts: [],
    etcFiles: { hosts: "/a", hostname: "/b", resolvConf: "/c" },
    process: {
      args: ["sh"], env: [], cwd: "/", uid: 0, gid: 0, groups: [], terminal: false, stdin: false, init: false,
      umask: 0o22, rlimits: [],
    },
  }, { mode: "single", uidMap: [], gidMap: [] });
  const names = plan.ops.map((o) => o.name);
  assert.equal(names[0], "PDEATHSIG");
  assert.equal(names[1], "MOUNT");
  assert.equal(names.at(-1), "EXEC");
  assert.ok(names.indexOf("PIVOT_ROOT") < names.indexOf("SETHOSTNAME"));
  assert.equal(await validate(plan.encode()), "");
  assert.doesNotMatch(plan.ops.map((o) => o.fields.map((f) => f.t === "str" ? f.v : "").join(" ")).join("\n"), /gid=5/,
    "devpts gets no gid=5 when gid 5 is not mapped");
});
