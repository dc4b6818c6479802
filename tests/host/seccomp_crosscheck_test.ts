/**
 * nook's seccomp compiler against the reference implementation: the same
 * resolved rules are compiled by nook and by libseccomp (a test-only helper,
 * tests/seccomp_libseccomp_helper.c, exports libseccomp's BPF), and both
 * programs are run by the BPF interpreter over a table of (syscall, args)
 * cases. Also: nook's syscall tables against libseccomp's.
 */
import { assert, test } from "../_helpers.ts";
import { libseccompSkip, runFilter, runHelper } from "../_seccomp_bpf.ts";
import {
  type Arch,
  ARCHES,
  COMPARISONS,
  defaultProfile,
  generate,
  parseProfile,
  type ResolvedProfile,
  type ResolvedRule,
  resolveProfile,
  RET,
  type SeccompProfile,
} from "../../src/seccomp/mod.ts";
import { capabilityNames, DEFAULT_CAPABILITIES } from "../../src/security/mod.ts";

const skip = libseccompSkip();
const ARCH_LIST: Arch[] = ["x86_64", "aarch64"];
const U64 = 0xffff_ffff_ffff_ffffn;

/** The helper's input: syscall names (libseccomp translates them per architecture) and SECCOMP_RET actions. */
function rulesText(r: ResolvedProfile): string {
  const names = new Map(Object.entries(ARCHES[r.arch].table).map(([n, nr]) => [nr, n]));
  const lines = [`arch ${r.arch}`, `default ${r.defaultAction >>> 0}`, `badarch ${RET.KILL_PROCESS >>> 0}`];
  for (const x of r.rules) {
    const conds = x.conds.map((c) => `${c.index} ${COMPARISONS[c.op]} ${c.value} ${c.valueTwo}`);
    lines.push(`rule ${names.get(x.nr)} ${x.action >>> 0} ${x.conds.length} ${conds.join(" ")}`);
  }
  return lines.join("\n") + "\n";
}

/** Argument vectors that satisfy each rule, and ones that miss by a little on each argument. */
function argCases(rules: ResolvedRule[]): bigint[][] {
  const out: bigint[][] = [[0n, 0n, 0n, 0n, 0n, 0n]];
  const near = (v: bigint) =>
    [v, v - 1n, v + 1n, v ^ 0x1_0000_0000n, v & 0xffff_ffffn, v | 0xffff_ffff_0000_0000n, 0n, U64].filter((x) =>
      x >= 0n && x <= U64
    );
  for (const r of rules) {
    const hit = [0n, 0n, 0n, 0n, 0n, 0n];
    for (const c of r.conds) {
      const v = c.value;
      hit[c.index] = c.op === "SCMP_CMP_NE" || c.op === "SCMP_CMP_GT"
        ? (v + 1n) & U64
        : c.op === "SCMP_CMP_LT"
        ? (v === 0n ? 0n : v - 1n)
        : c.op === "SCMP_CMP_MASKED_EQ"
        ? c.valueTwo
        : v;
    }
    out.push(hit);
    for (const c of r.conds) {
      for (const x of near(c.op === "SCMP_CMP_MASKED_EQ" ? c.valueTwo | (~c.value & 0xf0n) : c.value)) {
        const a = [...hit];
        a[c.index] = x;
        out.push(a);
      }
    }
  }
  return out;
}

/** Run both programs over every syscall number (and some that are not), compare. */
async function crossCheck(name: string, resolved: ResolvedProfile): Promise<number> {
  const theirs = await runHelper(["bpf"], rulesText(resolved));
  const ours = generate(resolved);
  const info = ARCHES[resolved.arch];
  const byNr = new Map<number, ResolvedRule[]>();
  for (const r of resolved.rules) byNr.set(r.nr, [...(byNr.get(r.nr) ?? []), r]);
  const top = Math.max(-1, ...byNr.keys());
  const allowList = resolved.defaultAction !== RET.ALLOW && resolved.defaultAction !== RET.LOG;
  const nrs = [
    ...new Set([...Object.values(info.table), ...Array.from({ length: top + 8 }, (_, i) => i), 999, 0x3fff_ffff]),
  ];
  const mismatches: string[] = [];
  let cases = 0;
  // Above the last rule nook answers ENOSYS (runc's rule for allow-lists); libseccomp the default.
  const enosysTail = (nr: number, arch: number) => {
    const u = nr >>> 0;
    const foreign = info.foreignBit !== undefined && u >= info.foreignBit;
    return allowList && arch === info.auditArch && !foreign && u > top && u !== 0xffff_ffff;
  };
  const check = (nr: number, arch: number, args: bigint[]) => {
    cases++;
    const a = runFilter(ours, { nr, arch, args });
    const b = enosysTail(nr, arch) ? RET.ERRNO | 38 : runFilter(theirs, { nr, arch, args });
    if (a !== b && mismatches.length < 20) {
      mismatches.push(
        `nr ${nr} arch ${arch.toString(16)} args [${args.join(", ")}]: nook ${a.toString(16)}, libseccomp ${
          b.toString(16)
        }`,
      );
    }
  };
  for (const nr of nrs) {
    for (const args of argCases(byNr.get(nr) ?? [])) check(nr, info.auditArch, args);
  }
  for (const nr of [-1, 0x4000_0000, 0x4000_0000 | 2, 0x7fff_ffff]) check(nr, info.auditArch, [0n, 0n, 0n, 0n, 0n, 0n]);
  for (const arch of [0x4000_0003, 0x4000_0028, ARCHES.x86_64.auditArch, ARCHES.aarch64.auditArch]) {
    if (arch !== info.auditArch) check(0, arch, [0n, 0n, 0n, 0n, 0n, 0n]);
  }
  assert.deepEqual(mismatches, [], `${name} (${resolved.arch}): nook and libseccomp disagree`);
  return cases;
}

test("nook's syscall tables agree with libseccomp's for x86_64 and aarch64", async () => {
  for (const arch of ARCH_LIST) {
    const out = new TextDecoder().decode(await runHelper(["names", arch]));
    const theirs = new Map(
      out.trim().split("\n").map((l) => {
        const [n, name] = l.split(" ");
        return [name!, Number(n)] as const;
      }),
    );
    const table = ARCHES[arch].table;
    const maxKnown = Math.max(...theirs.values());
    const diffs: string[] = [];
    for (const [name, n] of theirs) if (table[name] !== n) diffs.push(`${name}: libseccomp ${n}, nook ${table[name]}`);
    for (const [name, n] of Object.entries(table)) {
      if (!theirs.has(name) && n <= maxKnown) diffs.push(`${name}=${n} only in nook`);
    }
    assert.deepEqual(diffs, [], arch);
    assert.ok(theirs.size > 300, `${arch}: libseccomp named only ${theirs.size} syscalls`);
  }
}, { skip });

test("the built-in profile decides like libseccomp's compilation of it, for several capability sets", async () => {
  const sets = {
    default: DEFAULT_CAPABILITIES,
    none: [] as string[],
    "default+SYS_ADMIN+SYS_PTRACE": [...DEFAULT_CAPABILITIES, "SYS_ADMIN", "SYS_PTRACE"],
    all: capabilityNames((1n << 41n) - 1n),
  };
  for (const arch of ARCH_LIST) {
    for (const [name, caps] of Object.entries(sets)) {
      const resolved = resolveProfile(defaultProfile(), { capabilities: caps, arch, kernel: "6.1" });
      const cases = await crossCheck(`built-in profile, caps ${name}`, resolved);
      assert.ok(cases > 400, `${cases} cases`);
    }
  }
}, { skip });

const PODMAN_PROFILE = "/usr/share/containers/seccomp.json";
const podmanSkip = skip ?? (exists(PODMAN_PROFILE) ? undefined : `${PODMAN_PROFILE} is missing (apt install podman)`);

function exists(p: string): boolean {
  try {
    Deno.statSync(p);
    return true;
  } catch {
    return false;
  }
}

test("podman's own seccomp.json compiles and decides like libseccomp's compilation of it", async () => {
  const profile = parseProfile(Deno.readTextFileSync(PODMAN_PROFILE), PODMAN_PROFILE);
  for (const arch of ARCH_LIST) {
    const resolved = resolveProfile(profile, { capabilities: DEFAULT_CAPABILITIES, arch, kernel: "6.1" });
    await crossCheck("podman's profile", resolved);
  }
}, { skip: podmanSkip });

/** A deterministic pseudo-random generator (xorshift), so the profile is the same on every run. */
function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return (n: number) => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s % n;
  };
}

/**
 * Every comparison operator, 64-bit values, several conditions per rule,
 * every action, long jump ranges. Several argument rules for one syscall
 * appear only as disjoint EQ values on one argument (personality-style), or
 * under an unconditional rule that wins: libseccomp 2.5 builds one decision
 * tree per syscall and does not backtrack, so overlapping argument rules can
 * come out wrong there (see the kernel test below); nook tries each rule.
 */
function tortureProfile(seed: number, defaultAction: string): SeccompProfile {
  const r = rng(seed);
  const ops = Object.keys(COMPARISONS);
  const values = [
    0n,
    1n,
    7n,
    40n,
    0xffffn,
    0x7fff_ffffn,
    0xffff_ffffn,
    0x1_0000_0000n,
    0x1234_5678_9abc_def0n,
    U64 - 1n,
    U64,
  ];
  const actions = [
    ["SCMP_ACT_ALLOW"],
    ["SCMP_ACT_ERRNO", 13],
    ["SCMP_ACT_ERRNO", 22],
    ["SCMP_ACT_TRAP"],
    ["SCMP_ACT_LOG"],
    ["SCMP_ACT_KILL_PROCESS"],
    ["SCMP_ACT_KILL_THREAD"],
  ] as const;
  // syscalls both architectures have, and that Debian 12's libseccomp (2.5.4) knows
  const names = Object.keys(ARCHES.x86_64.table).filter((n) =>
    ARCHES.aarch64.table[n] !== undefined && ARCHES.x86_64.table[n]! <= 450
  );
  const syscalls: unknown[] = [];
  for (let i = 0; i < names.length; i += 1 + r(2)) {
    const [action, errnoRet] = actions[r(actions.length)]!;
    const base = { names: [names[i]], action, ...(errnoRet ? { errnoRet } : {}) };
    switch (r(4)) {
      case 0:
        syscalls.push(base);
        break;
      case 1: {
        // one rule, 1-3 conditions on distinct arguments (AND)
        const idx = [0, 1, 2, 3, 4, 5].sort(() => r(3) - 1).slice(0, 1 + r(3));
        syscalls.push({
          ...base,
          args: idx.map((index) => {
            const op = ops[r(ops.length)]!;
            const value = values[r(values.length)]!;
            return { index, op, value, valueTwo: op === "SCMP_CMP_MASKED_EQ" ? value & values[r(values.length)]! : 0n };
          }),
        });
        break;
      }
      case 2: {
        // several exact values of one argument, each its own rule (OR), perhaps other actions
        const index = r(6);
        for (const value of values.filter(() => r(3) === 0)) {
          const [a, e] = actions[r(actions.length)]!;
          syscalls.push({
            names: [names[i]],
            action: a,
            ...(e ? { errnoRet: e } : {}),
            args: [{ index, op: "SCMP_CMP_EQ", value }],
          });
        }
        break;
      }
      case 3:
        // an argument rule under an unconditional rule with another action: the unconditional one decides
        // (EQ: a condition that always holds would make both rules unconditional, and then the first wins)
        syscalls.push({ ...base, args: [{ index: r(6), op: "SCMP_CMP_EQ", value: values[r(values.length)] }] });
        syscalls.push({ names: [names[i]], action: "SCMP_ACT_ERRNO", errnoRet: 99 });
        break;
    }
  }
  const text = JSON.stringify({ defaultAction, syscalls }, (_k, v) => typeof v === "bigint" ? `@${v}@` : v)
    .replace(/"@(\d+)@"/g, "$1");
  return parseProfile(text, "torture profile");
}

test("a generated profile with every operator, 64-bit values and every action decides like libseccomp", async () => {
  let cases = 0;
  for (const [seed, dflt] of [[1, "SCMP_ACT_ERRNO"], [2, "SCMP_ACT_ALLOW"], [3, "SCMP_ACT_KILL_PROCESS"]] as const) {
    const profile = tortureProfile(seed, dflt);
    for (const arch of ARCH_LIST) {
      const resolved = resolveProfile(profile, { capabilities: [], arch });
      assert.ok(resolved.rules.length > 100, `${resolved.rules.length} rules`);
      cases += await crossCheck(`generated profile ${seed}`, resolved);
    }
  }
  assert.ok(cases > 5000, `only ${cases} cases`);
}, { skip });

test("the built-in profile allows what podman's allows, but for the escapes docker also refuses", () => {
  const podman = parseProfile(Deno.readTextFileSync(PODMAN_PROFILE), PODMAN_PROFILE);
  const caps = DEFAULT_CAPABILITIES;
  const allowed = (p: SeccompProfile) => {
    const resolved = resolveProfile(p, { capabilities: caps, arch: "x86_64", kernel: "6.1" });
    const prog = generate(resolved);
    return new Set(
      Object.entries(ARCHES.x86_64.table)
        .filter(([, nr]) =>
          runFilter(prog, { nr, arch: ARCHES.x86_64.auditArch, args: [0n, 0n, 0n, 0n, 0n, 0n] }) === RET.ALLOW
        )
        .map(([n]) => n),
    );
  };
  const ours = allowed(defaultProfile());
  const theirs = allowed(podman);
  const onlyPodman = [...theirs].filter((n) => !ours.has(n)).sort();
  const onlyNook = [...ours].filter((n) => !theirs.has(n)).sort();
  // podman 4.3 lets these through to the kernel (where its default capabilities stop most of
  // them); nook, like docker, refuses them in the filter unless the capability is added:
  assert.deepEqual(
    onlyPodman,
    [
      "clone3", // ENOSYS, so libcs fall back to clone, whose namespace flags the filter can see
      "fsconfig",
      "fsmount",
      "fsopen",
      "fspick",
      "mount",
      "mount_setattr",
      "move_mount",
      "open_tree",
      "pivot_root",
      "setns",
      "syslog",
      "umount2",
      "unshare", // CAP_SYS_ADMIN
      "get_mempolicy",
      "mbind",
      "set_mempolicy", // CAP_SYS_NICE
      "keyctl", // the kernel keyring is not namespaced
      "pidfd_getfd", // CAP_SYS_PTRACE
      "reboot", // CAP_SYS_BOOT
    ].sort(),
  );
  // nook follows docker where podman 4.3 is stricter or older:
  assert.deepEqual(
    onlyNook,
    [
      "cachestat",
      "fchmodat2",
      "futex_requeue",
      "futex_wait",
      "futex_waitv",
      "futex_wake",
      "map_shadow_stack", // newer than podman 4.3's list
      "io_pgetevents",
      "vmsplice", // podman 4.3 refuses them explicitly; docker allows them
    ].sort(),
  );
}, { skip: podmanSkip });

/** What the helper's `run` prints for a SECCOMP_RET value on a syscall that succeeds when allowed. */
function kernelOutcome(ret: number): string {
  if (ret === RET.ALLOW || ret === RET.LOG) return "ok";
  if ((ret & 0xffff_0000) === RET.ERRNO) return `errno ${ret & 0xffff}`;
  return "killed 31"; // KILL_PROCESS, KILL_THREAD (SIGSYS) and TRAP (SIGSYS, no handler)
}

async function inKernel(program: Uint8Array, nr: number, args: bigint[]): Promise<string> {
  return new TextDecoder().decode(await runHelper(["run", String(nr), ...args.map(String)], program)).trim();
}

test("in the kernel, a long nook program with trampolines decides as the interpreter says", async () => {
  // getppid ignores its arguments, but seccomp sees them: safe to probe any values
  const rules: unknown[] = [
    { names: ["exit_group"], action: "SCMP_ACT_ALLOW" },
    { names: ["getppid"], action: "SCMP_ACT_ERRNO", errnoRet: 11, args: [{ index: 0, op: "SCMP_CMP_EQ", value: 5 }] },
    {
      names: ["getppid"],
      action: "SCMP_ACT_ERRNO",
      errnoRet: 12,
      args: [{ index: 0, op: "SCMP_CMP_EQ", value: "@4294967301@" }],
    },
    {
      names: ["getppid"],
      action: "SCMP_ACT_ERRNO",
      errnoRet: 13,
      args: [{ index: 1, op: "SCMP_CMP_GE", value: "@9223372036854775808@" }, {
        index: 2,
        op: "SCMP_CMP_MASKED_EQ",
        value: 0xff00,
        valueTwo: 0x1200,
      }],
    },
    {
      names: ["getppid"],
      action: "SCMP_ACT_KILL_PROCESS",
      args: [{ index: 3, op: "SCMP_CMP_GT", value: "@4294967295@" }],
    },
    {
      names: ["getppid"],
      action: "SCMP_ACT_ALLOW",
      args: [{ index: 4, op: "SCMP_CMP_LE", value: 7 }, { index: 5, op: "SCMP_CMP_NE", value: 9 }],
    },
  ];
  // every other syscall: an argument rule of its own, so the program is long and needs trampolines
  Object.keys(ARCHES.x86_64.table).forEach((name, i) => {
    if (name !== "getppid" && name !== "exit_group") {
      rules.push({
        names: [name],
        action: "SCMP_ACT_ERRNO",
        errnoRet: 20 + (i % 50),
        args: [{ index: 0, op: "SCMP_CMP_EQ", value: i }],
      });
    }
  });
  const text = JSON.stringify({ defaultAction: "SCMP_ACT_ERRNO", syscalls: rules }).replace(/"@(\d+)@"/g, "$1");
  const arch = Deno.build.arch as Arch;
  const resolved = resolveProfile(parseProfile(text, "kernel test"), { capabilities: [], arch });
  const program = generate(resolved);
  assert.ok(program.length / 8 > 1000, `${program.length / 8} instructions`);
  const nr = ARCHES[arch].table.getppid!;
  const cases: bigint[][] = [
    [0n, 0n, 0n, 0n, 0n, 0n], // rule 5: allowed
    [5n, 0n, 0n, 0n, 0n, 9n], // rule 1
    [0x1_0000_0005n, 0n, 0n, 0n, 0n, 9n], // rule 2: the high word decides
    [0n, 0x8000_0000_0000_0000n, 0x12abn, 0n, 0n, 9n], // rule 3
    [0n, 0x7fff_ffff_ffff_ffffn, 0x12abn, 0n, 0n, 9n], // rule 3 misses by one: default
    [0n, 0n, 0n, 0x1_0000_0000n, 0n, 0n], // rule 4: killed
    [0n, 0n, 0n, 0xffff_ffffn, 8n, 0n], // nothing: default
  ];
  for (const args of cases) {
    const want = kernelOutcome(runFilter(program, { nr, arch: ARCHES[arch].auditArch, args }));
    assert.equal(await inKernel(program, nr, args), want, `getppid(${args.join(", ")})`);
  }
}, {
  skip: skip ??
    (Deno.build.arch === "x86_64" || Deno.build.arch === "aarch64" ? undefined : "no syscall table for this machine"),
});

test("in the kernel, nook tries every argument rule of a syscall where libseccomp 2.5's tree stops early", async () => {
  // Two rules for one syscall; neither matches truncate(7, -2, 0, 0). libseccomp 2.5.4 merges
  // them into one decision tree without backtracking and kills the call anyway; nook must not.
  const U = "18446744073709551614";
  const text = `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
    {"names":["exit_group"],"action":"SCMP_ACT_ALLOW"},
    {"names":["truncate"],"action":"SCMP_ACT_KILL","args":[{"index":3,"op":"SCMP_CMP_GT","value":4294967295},
      {"index":1,"op":"SCMP_CMP_LE","value":${U}},{"index":0,"op":"SCMP_CMP_GE","value":7}]},
    {"names":["truncate"],"action":"SCMP_ACT_KILL","args":[{"index":3,"op":"SCMP_CMP_LE","value":1},{"index":0,"op":"SCMP_CMP_GE","value":65535}]}]}`;
  const arch = Deno.build.arch as Arch;
  const program = generate(resolveProfile(parseProfile(text, "overlap"), { capabilities: [], arch }));
  const nr = ARCHES[arch].table.truncate!;
  assert.equal(await inKernel(program, nr, [7n, BigInt(U), 0n, 0n, 0n, 0n]), "errno 1", "no rule matches: the default");
  assert.equal(await inKernel(program, nr, [7n, BigInt(U), 0n, 0x1_0000_0000n, 0n, 0n]), "killed 31", "rule 1 matches");
  assert.equal(await inKernel(program, nr, [65535n, 0n, 0n, 1n, 0n, 0n]), "killed 31", "rule 2 matches");
}, {
  skip: skip ??
    (Deno.build.arch === "x86_64" || Deno.build.arch === "aarch64" ? undefined : "no syscall table for this machine"),
});
