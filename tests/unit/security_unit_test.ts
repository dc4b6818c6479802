/**
 * The security decision without containers: capability arithmetic, option
 * parsing, masks, LSM labels, and where each piece lands in the plan.
 */
import { assert, scratch, test } from "../_helpers.ts";
import {
  apparmorLabel,
  capabilityMask,
  capabilityName,
  capabilitySets,
  decideSecurity,
  DEFAULT_CAPABILITIES,
  selinuxLabel,
} from "../../src/security/mod.ts";
import { buildPlan } from "../../src/engine/build_plan.ts";
import type { ContainerSpec } from "../../src/engine/mod.ts";
import { parseTmpfs } from "../../src/engine/tmpfs.ts";
import { MS, SetIdFlag } from "../../src/plan/mod.ts";
import { UsageError } from "../../src/errors/mod.ts";
import type { IdMapping } from "../../src/userns/mod.ts";

const DEF = capabilityMask(DEFAULT_CAPABILITIES);
const bit = (name: string) => capabilityMask([name]);

test("capability sets follow docker's add/drop rules and podman's non-root rule", () => {
  const base = { privileged: false, add: [] as string[], drop: [] as string[], uid: 0, last: 40 };
  assert.equal(DEF, 0x800405fbn);
  assert.deepEqual(capabilitySets(base), {
    bounding: DEF,
    effective: DEF,
    permitted: DEF,
    inheritable: 0n,
    ambient: 0n,
  });
  assert.equal(capabilitySets({ ...base, drop: ["ALL"] }).bounding, 0n);
  assert.equal(capabilitySets({ ...base, drop: ["ALL"], add: ["NET_RAW"] }).bounding, bit("NET_RAW"));
  assert.equal(capabilitySets({ ...base, drop: ["CHOWN"], add: ["CHOWN"] }).bounding, DEF, "add wins over drop");
  assert.equal(capabilitySets({ ...base, add: ["ALL"], drop: ["KILL"] }).bounding, ((1n << 41n) - 1n) & ~bit("KILL"));
  assert.equal(capabilitySets({ ...base, privileged: true }).effective, (1n << 41n) - 1n);
  assert.equal(
    capabilitySets({ ...base, privileged: true, last: 37 }).bounding,
    (1n << 38n) - 1n,
    "only what this kernel has",
  );
  const user = capabilitySets({ ...base, uid: 1000, add: ["NET_BIND_SERVICE"] });
  assert.deepEqual(user, {
    bounding: DEF,
    effective: bit("NET_BIND_SERVICE"),
    permitted: bit("NET_BIND_SERVICE"),
    inheritable: bit("NET_BIND_SERVICE"),
    ambient: bit("NET_BIND_SERVICE"),
  });
  assert.equal(capabilitySets({ ...base, uid: 1000 }).effective, 0n);
  assert.throws(
    () => capabilitySets({ ...base, add: ["CHECKPOINT_RESTORE"], last: 39 }),
    /does not know the capability "CHECKPOINT_RESTORE"/,
  );
  assert.equal(capabilityName("cap_net_raw", "--cap-add"), "NET_RAW");
  assert.equal(capabilityName("all", "--cap-drop"), "ALL");
  assert.throws(
    () => capabilityName("NET_MAGIC", "--cap-add"),
    (e: unknown) => e instanceof UsageError && /--cap-add/.test(e.message),
  );
});

test("--tmpfs options become mount flags and tmpfs data", () => {
  assert.deepEqual(parseTmpfs("/run"), {
    source: "tmpfs",
    target: "/run",
    fstype: "tmpfs",
    flags: MS.NOSUID | MS.NODEV | MS.NOEXEC,
    data: "",
  });
  assert.deepEqual(parseTmpfs("/scratch/:ro,exec,size=64m,mode=700"), {
    source: "tmpfs",
    target: "/scratch",
    fstype: "tmpfs",
    flags: MS.RDONLY | MS.NOSUID | MS.NODEV,
    data: "size=64m,mode=700",
  });
  assert.throws(() => parseTmpfs("tmp"), /must be absolute/);
  assert.throws(() => parseTmpfs("/tmp:size=1m;rm -rf"), /unknown tmpfs option/);
});

test("--security-opt values are checked, and privileged or systempaths=unconfined mask nothing", () => {
  const d = (opts: string[], extra: Partial<Parameters<typeof decideSecurity>[0]> = {}) =>
    decideSecurity({ uid: 0, securityOpts: opts, ...extra }).security;
  assert.ok(d([]).seccomp, "a filter by default");
  assert.equal(d(["seccomp=unconfined"]).seccomp, undefined);
  assert.equal(d(["seccomp:unconfined"]).seccomp, undefined, "docker's old colon form");
  assert.equal(d(["no-new-privileges"]).noNewPrivileges, true);
  assert.equal(d(["no-new-privileges:false"]).noNewPrivileges, false);
  assert.equal(d([], { privileged: true }).seccomp, undefined);
  assert.deepEqual(d([], { privileged: true }).maskedPaths, []);
  assert.deepEqual(d(["systempaths=unconfined"]).readonlyPaths, []);
  assert.ok(d([]).maskedPaths.includes("/proc/kcore"), "listed even where this kernel lacks it: the shim skips it");
  assert.ok(!d(["unmask=/proc/keys"]).maskedPaths.includes("/proc/keys"));
  assert.deepEqual(d(["mask=/srv/a:/srv/b", "unmask=ALL"]).maskedPaths, ["/srv/a", "/srv/b"]);
  assert.ok(d(["unmask=/proc/sys"]).readonlyPaths.length === 5);
  assert.deepEqual(d(["unmask=ALL"]).maskedPaths, []);
  for (
    const bad of ["seccomp", "no-new-privileges=yes", "mask=relative", "systempaths=confined", "label", "frobnicate=1"]
  ) {
    assert.throws(() => d([bad]), UsageError, bad);
  }
});

test("AppArmor and SELinux labels are written to the exec attribute, and refused without the module", () => {
  assert.equal(apparmorLabel("unconfined", { apparmor: false, selinux: "disabled" }), undefined);
  assert.throws(
    () => apparmorLabel("docker-default", { apparmor: false, selinux: "disabled" }),
    /AppArmor is not enabled/,
  );
  assert.equal(apparmorLabel("docker-default", { apparmor: true, selinux: "disabled" })?.value, "exec docker-default");
  const root = scratch();
  Deno.mkdirSync(`${root}/targeted/contexts`, { recursive: true });
  Deno.writeTextFileSync(`${root}/config`, "SELINUX=enforcing\nSELINUXTYPE=targeted\n");
  Deno.writeTextFileSync(
    `${root}/targeted/contexts/lxc_contexts`,
    'process = "system_u:system_r:container_t:s0"\nfile = "x"\n',
  );
  const on = { apparmor: false, selinux: "enforcing" } as const;
  assert.deepEqual(selinuxLabel(["type:spc_t", "level:s0:c1,c2"], on, root), {
    path: "/proc/self/attr/exec",
    value: "system_u:system_r:spc_t:s0:c1,c2",
  });
  assert.equal(selinuxLabel(["disable"], on, root), undefined);
  assert.throws(
    () => selinuxLabel(["type:x"], { apparmor: false, selinux: "disabled" }, root),
    /SELinux is not enabled/,
  );
  assert.throws(() => selinuxLabel(["colour:red"], on, root), /Unknown SELinux label option/);
});

function spec(overrides: Partial<ContainerSpec> = {}, uid = 0): ContainerSpec {
  return {
    id: "0".repeat(64),
    rootfs: "/nonexistent-rootfs",
    readonlyRootfs: false,
    hostname: "h",
    network: "none",
    mounts: [],
    etcFiles: { hosts: "/h", hostname: "/hn", resolvConf: "/r" },
    process: {
      args: ["sh"],
      env: [],
      cwd: "/",
      uid,
      gid: uid,
      groups: [],
      terminal: false,
      stdin: false,
      init: false,
      umask: 0o22,
      rlimits: [],
    },
    ...overrides,
  };
}

const subid: IdMapping = { mode: "subid", uidMap: [], gidMap: [] };

test("the plan drops the bounding set before the user switch and loads the filter after it, right before exec", () => {
  const names = (s: ContainerSpec) => buildPlan(s, subid).ops.map((o) => o.name);
  const tail = (s: ContainerSpec) => {
    const n = names(s);
    return n.slice(n.lastIndexOf("UMASK") + 1);
  };
  assert.deepEqual(tail(spec({}, 1000)), ["CAPS", "SETID", "CAPS", "SECCOMP", "CAPS", "EXEC"]);
  const nnp = decideSecurity({ uid: 1000, securityOpts: ["no-new-privileges"] }).security;
  assert.deepEqual(tail(spec({ security: nnp }, 1000)), ["NO_NEW_PRIVS", "CAPS", "SETID", "CAPS", "SECCOMP", "EXEC"]);
  // without no_new_privs the CAPS before SECCOMP makes CAP_SYS_ADMIN effective for the load, the last one drops it
  const caps = buildPlan(spec({}, 1000), subid).ops.filter((o) => o.name === "CAPS").map((o) =>
    o.fields.map((f) => f.v)
  );
  const sysAdmin = 1n << 21n;
  assert.ok((BigInt(caps[1]![1] as bigint) & sysAdmin) !== 0n);
  assert.equal(BigInt(caps[2]![1] as bigint) & sysAdmin, 0n);
  const unconfined = decideSecurity({ uid: 0, securityOpts: ["seccomp=unconfined"] }).security;
  assert.deepEqual(tail(spec({ security: unconfined })), ["CAPS", "SETID", "CAPS", "EXEC"]);
  const setid = buildPlan(spec({}, 1000), subid).ops.find((o) => o.name === "SETID")!;
  const flags = setid.fields[3]!;
  assert.ok(flags.t === "u64" && (Number(flags.v) & SetIdFlag.KEEP_CAPS), "the permitted set survives the user switch");
  // masks come after pivot_root, so their paths are the container's own
  const n = names(spec());
  assert.ok(n.indexOf("PIVOT_ROOT") < n.indexOf("PROTECT_PATH"));
  const ops = buildPlan(spec(), subid).ops;
  assert.ok(ops.some((o) => o.name === "PROTECT_PATH" && o.path === "/proc/keys" && o.what === 'mask "/proc/keys"'));
  assert.ok(
    ops.some((o) => o.name === "PROTECT_PATH" && o.path === "/proc/sys" && o.what === 'make "/proc/sys" read-only'),
  );
});
