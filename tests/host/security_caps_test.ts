/**
 * What the container's process sees in /proc/self/status: the exact
 * capability masks, NoNewPrivs and the seccomp mode, for the flag
 * combinations docker and podman users type.
 */
import { assert, busyboxRootfs, busyboxSkip, nook, subidSkip, test } from "../_helpers.ts";

const skip = busyboxSkip();

async function status(flags: string[]): Promise<Record<string, string>> {
  const r = await nook(["run", "--rm", ...flags, "--rootfs", busyboxRootfs(), "cat", "/proc/self/status"]);
  assert.equal(r.code, 0, r.stderr);
  const out: Record<string, string> = {};
  for (const line of r.stdout.split("\n")) {
    const m = /^(Cap\w+|NoNewPrivs|Seccomp):\s+(\S+)/.exec(line);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

const hex = (n: bigint) => n.toString(16).padStart(16, "0");
/** podman's rootless default: CHOWN DAC_OVERRIDE FOWNER FSETID KILL NET_BIND_SERVICE SETFCAP SETGID SETPCAP SETUID SYS_CHROOT. */
const DEFAULT = "00000000800405fb";
const lastCap = Number(Deno.readTextFileSync("/proc/sys/kernel/cap_last_cap").trim());
const ALL = hex((1n << BigInt(lastCap + 1)) - 1n);
const NONE = "0000000000000000";

test("a default container has podman's rootless capabilities, a seccomp filter and no no_new_privs", async () => {
  assert.deepEqual(await status([]), {
    CapInh: NONE,
    CapPrm: DEFAULT,
    CapEff: DEFAULT,
    CapBnd: DEFAULT,
    CapAmb: NONE,
    NoNewPrivs: "0",
    Seccomp: "2",
  });
}, { skip });

test("--cap-drop ALL leaves no capability in any set", async () => {
  const s = await status(["--cap-drop", "ALL"]);
  for (const k of ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"]) assert.equal(s[k], NONE, k);
  assert.equal(s.Seccomp, "2");
}, { skip });

test("--cap-drop ALL --cap-add NET_BIND_SERVICE keeps exactly that one; --cap-add adds to the default", async () => {
  const s = await status(["--cap-drop", "ALL", "--cap-add", "NET_BIND_SERVICE"]);
  assert.deepEqual([s.CapPrm, s.CapEff, s.CapBnd, s.CapInh, s.CapAmb], [
    "0000000000000400",
    "0000000000000400",
    "0000000000000400",
    NONE,
    NONE,
  ]);
  const t = await status(["--cap-add", "cap_sys_admin", "--cap-drop", "CHOWN"]);
  assert.equal(t.CapEff, hex((0x800405fbn | (1n << 21n)) & ~1n));
  assert.equal(t.CapBnd, t.CapEff);
  const all = await status(["--cap-add", "ALL", "--cap-drop", "KILL"]);
  assert.equal(all.CapBnd, hex(((1n << BigInt(lastCap + 1)) - 1n) & ~(1n << 5n)));
}, { skip });

test("--privileged has every capability of the user namespace and no seccomp filter", async () => {
  assert.deepEqual(await status(["--privileged"]), {
    CapInh: NONE,
    CapPrm: ALL,
    CapEff: ALL,
    CapBnd: ALL,
    CapAmb: NONE,
    NoNewPrivs: "0",
    Seccomp: "0",
  });
}, { skip });

test("a non-root -u user has no capabilities but those added, carried as ambient (podman's rule)", async () => {
  const plain = await status(["-u", "1000"]);
  assert.deepEqual(plain, {
    CapInh: NONE,
    CapPrm: NONE,
    CapEff: NONE,
    CapBnd: DEFAULT,
    CapAmb: NONE,
    NoNewPrivs: "0",
    Seccomp: "2",
  });
  const added = await status(["-u", "1000", "--cap-add", "NET_BIND_SERVICE"]);
  assert.deepEqual(added, {
    CapInh: "0000000000000400",
    CapPrm: "0000000000000400",
    CapEff: "0000000000000400",
    CapBnd: DEFAULT,
    CapAmb: "0000000000000400",
    NoNewPrivs: "0",
    Seccomp: "2",
  });
}, { skip: skip ?? subidSkip() });

test("no-new-privileges shows as NoNewPrivs 1, with the filter loaded after the user switch", async () => {
  const root = await status(["--security-opt", "no-new-privileges"]);
  assert.equal(root.NoNewPrivs, "1");
  assert.equal(root.Seccomp, "2");
  assert.equal(root.CapEff, DEFAULT);
  const off = await status(["--security-opt", "no-new-privileges=false"]);
  assert.equal(off.NoNewPrivs, "0");
}, { skip });

test("no-new-privileges with a non-root user and an added capability", async () => {
  const s = await status(["-u", "1000:1000", "--security-opt", "no-new-privileges:true", "--cap-add", "KILL"]);
  assert.deepEqual(s, {
    CapInh: "0000000000000020",
    CapPrm: "0000000000000020",
    CapEff: "0000000000000020",
    CapBnd: DEFAULT,
    CapAmb: "0000000000000020",
    NoNewPrivs: "1",
    Seccomp: "2",
  });
}, { skip: skip ?? subidSkip() });

test("seccomp=unconfined runs without a filter but keeps the capabilities", async () => {
  const s = await status(["--security-opt", "seccomp=unconfined"]);
  assert.equal(s.Seccomp, "0");
  assert.equal(s.CapEff, DEFAULT);
}, { skip });
