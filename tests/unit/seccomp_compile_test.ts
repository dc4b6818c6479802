/**
 * The seccomp compiler, unit by unit: every action, every comparison with
 * 64-bit values, the architecture check, long programs, names, and the
 * errors a broken profile gets. Programs are run by the BPF interpreter in
 * tests/_seccomp_bpf.ts, which executes them as the kernel does.
 */
import { assert, test } from "../_helpers.ts";
import { disassemble, length, runFilter } from "../_seccomp_bpf.ts";
import {
  ARCHES,
  compileProfile,
  defaultProfile,
  parseProfile,
  RET,
  SeccompError,
  syscallNumber,
} from "../../src/seccomp/mod.ts";
import { Asm, assemble } from "../../src/seccomp/_bpf.ts";
import { DEFAULT_CAPABILITIES } from "../../src/security/mod.ts";

const X86 = ARCHES.x86_64.auditArch;
const ARM = ARCHES.aarch64.auditArch;
const I386 = 0x4000_0003;
const ERRNO = (n: number) => RET.ERRNO | n;
const nr = (name: string, arch: "x86_64" | "aarch64" = "x86_64") => syscallNumber(arch, name)!;

function compile(json: unknown, opts: { caps?: string[]; arch?: "x86_64" | "aarch64"; kernel?: string } = {}) {
  const profile = parseProfile(JSON.stringify(json), "test");
  return compileProfile(profile, {
    capabilities: opts.caps ?? [],
    arch: opts.arch ?? "x86_64",
    kernel: opts.kernel ?? "6.1.0",
  });
}

function decide(program: Uint8Array, name: string | number, args: bigint[] = [], arch = X86): number {
  const n = typeof name === "number" ? name : nr(name, arch === ARM ? "aarch64" : "x86_64");
  return runFilter(program, { nr: n, arch, args });
}

test("seccomp compiles every action to its SECCOMP_RET value", () => {
  const actions: [string, number, number?][] = [
    ["SCMP_ACT_ALLOW", RET.ALLOW],
    ["SCMP_ACT_ERRNO", ERRNO(1)],
    ["SCMP_ACT_ERRNO", ERRNO(13), 13],
    ["SCMP_ACT_KILL", RET.KILL_THREAD],
    ["SCMP_ACT_KILL_THREAD", RET.KILL_THREAD],
    ["SCMP_ACT_KILL_PROCESS", RET.KILL_PROCESS],
    ["SCMP_ACT_TRAP", RET.TRAP],
    ["SCMP_ACT_LOG", RET.LOG],
  ];
  const names = ["read", "write", "open", "close", "stat", "fstat", "lstat", "poll"];
  const f = compile({
    defaultAction: "SCMP_ACT_ERRNO",
    defaultErrnoRet: 38,
    syscalls: actions.map(([action, , errnoRet], i) => ({
      names: [names[i]],
      action,
      ...(errnoRet ? { errnoRet } : {}),
    })),
  });
  actions.forEach(([action, want], i) =>
    assert.equal(decide(f.program, names[i]!), want >>> 0, `${action}\n${disassemble(f.program)}`)
  );
  assert.equal(decide(f.program, "mmap"), ERRNO(38), "defaultErrnoRet");
  assert.deepEqual(f.warnings, []);
});

test("seccomp turns SCMP_ACT_TRACE into EPERM with a warning (nook attaches no tracer)", () => {
  const f = compile({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["mount"], action: "SCMP_ACT_TRACE" }] });
  assert.equal(decide(f.program, "mount"), ERRNO(1));
  assert.match(f.warnings.join("\n"), /SCMP_ACT_TRACE.*EPERM/);
});

test("seccomp refuses SCMP_ACT_NOTIFY, which needs a seccomp agent", () => {
  assert.throws(
    () => compile({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["mount"], action: "SCMP_ACT_NOTIFY" }] }),
    (e: unknown) => e instanceof SeccompError && /SCMP_ACT_NOTIFY.*syscalls\[0\]/.test(e.message),
  );
});

// Values around the 32-bit boundary and the top of the 64-bit range, so both halves matter.
const EDGE = [
  0n,
  1n,
  5n,
  0xffff_fffen,
  0xffff_ffffn,
  0x1_0000_0000n,
  0x1_0000_0005n,
  0x5_0000_0000n,
  0xffff_ffff_ffff_fffen,
  0xffff_ffff_ffff_ffffn,
];

const OPS: [string, (a: bigint, v: bigint, v2: bigint) => boolean][] = [
  ["SCMP_CMP_NE", (a, v) => a !== v],
  ["SCMP_CMP_LT", (a, v) => a < v],
  ["SCMP_CMP_LE", (a, v) => a <= v],
  ["SCMP_CMP_EQ", (a, v) => a === v],
  ["SCMP_CMP_GE", (a, v) => a >= v],
  ["SCMP_CMP_GT", (a, v) => a > v],
  ["SCMP_CMP_MASKED_EQ", (a, v, v2) => (a & v) === v2],
];

test("seccomp compares 64-bit arguments correctly with every SCMP_CMP operator", () => {
  for (const [op, holds] of OPS) {
    for (const value of [0x5n, 0x1_0000_0005n, 0xffff_ffffn, 0xffff_ffff_ffff_fffen]) {
      const valueTwo = op === "SCMP_CMP_MASKED_EQ" ? value & 0x1_0000_0001n : 0n;
      for (const index of [0, 3, 5]) {
        // JSON numbers cannot carry 64-bit values: write the text by hand
        const text = `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["ioctl"],"action":"SCMP_ACT_ALLOW",` +
          `"args":[{"index":${index},"op":"${op}","value":${value},"valueTwo":${valueTwo}}]}]}`;
        const g = compileProfile(parseProfile(text, "test"), { capabilities: [], arch: "x86_64", kernel: "6.1" });
        for (const arg of EDGE) {
          const args = [0n, 0n, 0n, 0n, 0n, 0n];
          args[index] = arg;
          const want = holds(arg, value, valueTwo) ? RET.ALLOW : ERRNO(1);
          assert.equal(
            decide(g.program, "ioctl", args),
            want >>> 0,
            `${op} ${value} (valueTwo ${valueTwo}) on arg${index} = ${arg}`,
          );
        }
      }
    }
  }
});

test("seccomp ANDs the conditions of one rule, and ORs several conditions on the same argument (as runc)", () => {
  const f = compile({
    defaultAction: "SCMP_ACT_ERRNO",
    syscalls: [
      {
        names: ["socket"],
        action: "SCMP_ACT_ALLOW",
        args: [{ index: 0, op: "SCMP_CMP_EQ", value: 1 }, { index: 1, op: "SCMP_CMP_EQ", value: 2 }],
      },
      {
        names: ["kill"],
        action: "SCMP_ACT_ALLOW",
        args: [{ index: 1, op: "SCMP_CMP_EQ", value: 9 }, { index: 1, op: "SCMP_CMP_EQ", value: 15 }],
      },
    ],
  });
  assert.equal(decide(f.program, "socket", [1n, 2n]), RET.ALLOW);
  assert.equal(decide(f.program, "socket", [1n, 3n]), ERRNO(1));
  assert.equal(decide(f.program, "socket", [0n, 2n]), ERRNO(1));
  assert.equal(decide(f.program, "kill", [0n, 9n]), RET.ALLOW);
  assert.equal(decide(f.program, "kill", [0n, 15n]), RET.ALLOW);
  assert.equal(decide(f.program, "kill", [0n, 2n]), ERRNO(1));
});

test("seccomp lets an unconditional rule decide alone, and checks argument rules in profile order", () => {
  const f = compile({
    defaultAction: "SCMP_ACT_ERRNO",
    syscalls: [
      {
        names: ["clone"],
        action: "SCMP_ACT_ERRNO",
        errnoRet: 22,
        args: [{ index: 0, op: "SCMP_CMP_MASKED_EQ", value: 0x10000000, valueTwo: 0x10000000 }],
      },
      { names: ["clone"], action: "SCMP_ACT_ALLOW" },
      { names: ["prctl"], action: "SCMP_ACT_ERRNO", errnoRet: 22, args: [{ index: 0, op: "SCMP_CMP_GT", value: 5 }] },
      { names: ["prctl"], action: "SCMP_ACT_ERRNO", errnoRet: 13, args: [{ index: 0, op: "SCMP_CMP_LT", value: 10 }] },
      // the same as the default: changes nothing
      { names: ["read"], action: "SCMP_ACT_ERRNO" },
    ],
  });
  assert.equal(decide(f.program, "clone", [0x1000_0000n]), RET.ALLOW, "libseccomp: the unconditional rule wins");
  assert.equal(decide(f.program, "prctl", [7n]), ERRNO(22), "first matching argument rule wins");
  assert.equal(decide(f.program, "prctl", [3n]), ERRNO(13));
  assert.equal(decide(f.program, "read"), ERRNO(1));
});

test("seccomp kills foreign architectures and x32 syscalls, and lets -1 reach the default", () => {
  const f = compile({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["mount"], action: "SCMP_ACT_ERRNO" }] });
  assert.equal(decide(f.program, "mount"), ERRNO(1));
  assert.equal(decide(f.program, "read"), RET.ALLOW);
  assert.equal(
    runFilter(f.program, { nr: 21, arch: I386 }),
    RET.KILL_PROCESS >>> 0,
    "i386 mount (21) must not slip past",
  );
  assert.equal(runFilter(f.program, { nr: 0x4000_0000 | nr("mount"), arch: X86 }), RET.KILL_PROCESS >>> 0, "x32 mount");
  assert.equal(
    runFilter(f.program, { nr: nr("mount"), arch: ARM }),
    RET.KILL_PROCESS >>> 0,
    "aarch64 data on an x86_64 filter",
  );
  assert.equal(runFilter(f.program, { nr: -1, arch: X86 }), RET.ALLOW);
  const a = compile({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["mount"], action: "SCMP_ACT_ERRNO" }] }, {
    arch: "aarch64",
  });
  assert.equal(decide(a.program, "mount", [], ARM), ERRNO(1));
  assert.equal(nr("mount", "aarch64"), 40);
  assert.equal(runFilter(a.program, { nr: 40, arch: X86 }), RET.KILL_PROCESS >>> 0);
  assert.equal(runFilter(a.program, { nr: 21, arch: 0x4000_0028 /* ARM */ }), RET.KILL_PROCESS >>> 0);
});

test("seccomp returns ENOSYS for syscalls newer than an allow-list profile knows, so libcs fall back", () => {
  const f = compile({
    defaultAction: "SCMP_ACT_ERRNO",
    syscalls: [{ names: ["read", "futex_waitv"], action: "SCMP_ACT_ALLOW" }],
  });
  assert.equal(decide(f.program, "futex_waitv"), RET.ALLOW);
  assert.equal(decide(f.program, "fchmodat2"), ERRNO(38), "above every rule: ENOSYS");
  assert.equal(decide(f.program, 999), ERRNO(38));
  assert.equal(decide(f.program, "mount"), ERRNO(1), "below: the default");
  assert.equal(runFilter(f.program, { nr: -1, arch: X86 }), ERRNO(1));
  const deny = compile({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["mount"], action: "SCMP_ACT_ERRNO" }] });
  assert.equal(decide(deny.program, 999), RET.ALLOW, "a deny-list profile leaves newer syscalls to its default");
});

test("seccomp keeps every jump within 255 instructions in a program of thousands", () => {
  // every syscall its own errno, and every tenth one with argument checks: a long program
  const table = ARCHES.x86_64.table;
  const syscalls = Object.keys(table).map((name, i) => ({
    names: [name],
    action: "SCMP_ACT_ERRNO",
    errnoRet: 100 + (i % 50),
    ...(i % 10 === 0
      ? { args: [{ index: 1, op: "SCMP_CMP_GE", value: i }, { index: 2, op: "SCMP_CMP_NE", value: 7 }] }
      : {}),
  }));
  const f = compile({ defaultAction: "SCMP_ACT_ALLOW", syscalls });
  assert.ok(length(f.program) > 1000, `only ${length(f.program)} instructions`);
  const dv = new DataView(f.program.buffer);
  let longJumps = 0;
  for (let i = 0; i < length(f.program); i++) {
    if (dv.getUint16(i * 8, true) === 0x05 && dv.getUint32(i * 8 + 4, true) > 255) longJumps++;
  }
  assert.ok(longJumps > 0, "a program this long needs jump trampolines");
  Object.keys(table).forEach((name, i) => {
    const errno = ERRNO(100 + (i % 50));
    if (i % 10 === 0) {
      assert.equal(decide(f.program, name, [0n, BigInt(i), 0n]), errno, name);
      assert.equal(decide(f.program, name, [0n, BigInt(i), 7n]), RET.ALLOW, name);
      if (i > 0) assert.equal(decide(f.program, name, [0n, BigInt(i - 1), 0n]), RET.ALLOW, name);
    } else {
      assert.equal(decide(f.program, name), errno, name);
    }
  });
});

test("the assembler turns out-of-range conditional jumps into trampolines and refuses programs over 4096", () => {
  const asm = new Asm();
  const far = asm.label();
  const near = asm.label();
  asm.ld(0);
  asm.jump("jeq", 1, far, near);
  asm.place(near);
  for (let i = 0; i < 300; i++) asm.ret(i);
  asm.place(far);
  asm.ret(0xabcd);
  const prog = assemble(asm.code);
  assert.equal(runFilter(prog, { nr: 1, arch: X86 }), 0xabcd);
  assert.equal(runFilter(prog, { nr: 2, arch: X86 }), 0);
  const big = new Asm();
  for (let i = 0; i < 4097; i++) big.ret(0);
  assert.throws(() => assemble(big.code), /4096/);
});

test("seccomp warns about and skips unknown syscall names, and skips other architectures' names quietly", () => {
  const f = compile({
    defaultAction: "SCMP_ACT_ERRNO",
    syscalls: [{
      names: ["read", "no_such_syscall", "chown32", "socketcall", "arm_fadvise64_64"],
      action: "SCMP_ACT_ALLOW",
    }],
  });
  assert.equal(decide(f.program, "read"), RET.ALLOW);
  assert.deepEqual(f.warnings, ['syscalls[0]: unknown syscall "no_such_syscall" skipped']);
  // open exists on x86_64 but not on aarch64: skipped there without a word
  const a = compile({
    defaultAction: "SCMP_ACT_ERRNO",
    syscalls: [{ names: ["open", "openat"], action: "SCMP_ACT_ALLOW" }],
  }, { arch: "aarch64" });
  assert.deepEqual(a.warnings, []);
  assert.equal(decide(a.program, "openat", [], ARM), RET.ALLOW);
});

test("seccomp selects rules by capabilities, architecture and kernel version as docker does", () => {
  const profile = {
    defaultAction: "SCMP_ACT_ERRNO",
    syscalls: [
      { names: ["mount"], action: "SCMP_ACT_ALLOW", includes: { caps: ["CAP_SYS_ADMIN"] } },
      { names: ["chroot"], action: "SCMP_ACT_ALLOW", excludes: { caps: ["CAP_SYS_ADMIN", "CAP_MKNOD"] } },
      { names: ["arch_prctl"], action: "SCMP_ACT_ALLOW", includes: { arches: ["amd64", "x32"] } },
      { names: ["getpid"], action: "SCMP_ACT_ALLOW", excludes: { arches: ["amd64"] } },
      { names: ["ptrace"], action: "SCMP_ACT_ALLOW", includes: { minKernel: "4.8" } },
      { names: ["kcmp"], action: "SCMP_ACT_ALLOW", excludes: { minKernel: "5.0" } },
      // a high number, so the rules above are not past the last rule (ENOSYS)
      { names: ["futex_waitv"], action: "SCMP_ACT_ALLOW" },
    ],
  };
  const plain = compile(profile, { kernel: "4.19.0" });
  assert.equal(decide(plain.program, "mount"), ERRNO(1));
  assert.equal(decide(plain.program, "chroot"), RET.ALLOW);
  assert.equal(decide(plain.program, "arch_prctl"), RET.ALLOW);
  assert.equal(decide(plain.program, "getpid"), ERRNO(1));
  assert.equal(decide(plain.program, "ptrace"), RET.ALLOW);
  assert.equal(decide(plain.program, "kcmp"), RET.ALLOW);
  const admin = compile(profile, { caps: ["SYS_ADMIN"], kernel: "4.4.0" });
  assert.equal(decide(admin.program, "mount"), RET.ALLOW, "capability names with or without CAP_");
  assert.equal(decide(admin.program, "chroot"), ERRNO(1));
  assert.equal(decide(admin.program, "ptrace"), ERRNO(1), "minKernel 4.8 > 4.4");
  const arm = compile(profile, { arch: "aarch64", kernel: "6.1" });
  assert.equal(decide(arm.program, "getpid", [], ARM), RET.ALLOW);
  assert.equal(decide(arm.program, "kcmp", [], ARM), ERRNO(1), "excluded from 5.0 on");
});

test("seccomp reads 64-bit values beyond 2^53 from JSON without rounding them", () => {
  const text = `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["ioctl"],"action":"SCMP_ACT_ERRNO",` +
    `"args":[{"index":1,"op":"SCMP_CMP_EQ","value":18446744073709551615}]}]}`;
  const p = parseProfile(text, "test");
  assert.equal(p.syscalls[0]!.args[0]!.value, 0xffff_ffff_ffff_ffffn);
  const f = compileProfile(p, { capabilities: [], arch: "x86_64" });
  assert.equal(decide(f.program, "ioctl", [0n, 0xffff_ffff_ffff_ffffn]), ERRNO(1));
  assert.equal(decide(f.program, "ioctl", [0n, 0xffff_ffff_ffff_fffen]), RET.ALLOW);
});

test("seccomp reports a malformed profile with the field that is wrong", () => {
  const cases: [string, RegExp][] = [
    ["{", /not valid JSON/],
    ["[]", /"\(top level\)" must be an object/],
    ["{}", /"defaultAction" must be one of/],
    ['{"defaultAction":"SCMP_ACT_NOPE"}', /"defaultAction" must be one of .*SCMP_ACT_NOPE/],
    ['{"defaultAction":"SCMP_ACT_ALLOW","syscalls":{}}', /"syscalls" must be a list/],
    ['{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"action":"SCMP_ACT_ERRNO"}]}', /"syscalls\[0\]\.names" must list/],
    [
      '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["a",3],"action":"SCMP_ACT_ERRNO"}]}',
      /"syscalls\[0\]\.names\[1\]"/,
    ],
    ['{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"]}]}', /"syscalls\[0\]\.action"/],
    [
      '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":6,"op":"SCMP_CMP_EQ","value":1}]}]}',
      /"syscalls\[0\]\.args\[0\]\.index" must be between 0 and 5/,
    ],
    [
      '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"op":"SCMP_CMP_XX","value":1}]}]}',
      /"syscalls\[0\]\.args\[0\]\.op" must be one of/,
    ],
    [
      '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"op":"SCMP_CMP_EQ","value":-1}]}]}',
      /"syscalls\[0\]\.args\[0\]\.value" must be between/,
    ],
    [
      '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"op":"SCMP_CMP_EQ","value":"1"}]}]}',
      /"syscalls\[0\]\.args\[0\]\.value" must be a whole number/,
    ],
    [
      '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","errnoRet":70000}]}',
      /"syscalls\[0\]\.errnoRet"/,
    ],
    [
      '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","includes":{"minKernel":"new"}}]}',
      /"syscalls\[0\]\.includes\.minKernel"/,
    ],
    ['{"defaultAction":"SCMP_ACT_ALLOW","archMap":[{"subArchitectures":[]}]}', /"archMap\[0\]\.architecture"/],
  ];
  for (const [text, re] of cases) {
    assert.throws(() => parseProfile(text, '"p.json"'), (e: unknown) => {
      assert.ok(e instanceof SeccompError, `${text}: ${e}`);
      assert.match(e.message, re, text);
      assert.match(e.message, /"p\.json"/);
      assert.ok(e.hint, "a hint says what the format is");
      return true;
    });
  }
  assert.throws(
    () =>
      compileProfile(parseProfile('{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_NOPE"]}', "p"), {
        capabilities: [],
      }),
    /"flags\[0\]" names an unknown flag/,
  );
});

test("the built-in profile compiles for x86_64 and aarch64 without warnings and refuses what docker refuses", () => {
  const caps = DEFAULT_CAPABILITIES;
  for (const arch of ["x86_64", "aarch64"] as const) {
    const audit = ARCHES[arch].auditArch;
    const f = compileProfile(defaultProfile(), { capabilities: caps, arch, kernel: "6.1" });
    assert.deepEqual(f.warnings, [], arch);
    const d = (name: string, args: bigint[] = []) => runFilter(f.program, { nr: nr(name, arch), arch: audit, args });
    for (
      const ok of ["read", "execve", "openat", "clone", "setresuid", "capset", "prctl", "chroot", "ptrace", "socket"]
    ) {
      assert.equal(d(ok), RET.ALLOW, `${arch} ${ok}`);
    }
    for (
      const no of [
        "mount",
        "umount2",
        "unshare",
        "setns",
        "keyctl",
        "add_key",
        "request_key",
        "kexec_load",
        "bpf",
        "perf_event_open",
        "userfaultfd",
        "open_by_handle_at",
        "io_uring_setup",
        "init_module",
        "reboot",
        "syslog",
      ]
    ) {
      assert.equal(d(no), ERRNO(1), `${arch} ${no}`);
    }
    assert.equal(d("clone", [0x1000_0000n | 17n]), ERRNO(1), "clone(CLONE_NEWUSER)");
    assert.equal(d("clone", [0x0100_0000n | 0x0020_0000n | 17n]), RET.ALLOW, "clone of a thread or a fork");
    assert.equal(d("clone3"), ERRNO(38));
    assert.equal(d("socket", [40n]), ERRNO(1), "AF_VSOCK");
    assert.equal(d("socket", [0x1_0000_0028n]), RET.ALLOW, "64-bit compare: not AF_VSOCK");
    assert.equal(d("personality", [8n]), RET.ALLOW);
    assert.equal(d("personality", [0x0040000n]), ERRNO(1));
    const admin = compileProfile(defaultProfile(), { capabilities: [...caps, "SYS_ADMIN"], arch, kernel: "6.1" });
    assert.equal(
      runFilter(admin.program, { nr: nr("mount", arch), arch: audit }),
      RET.ALLOW,
      `${arch}: mount with SYS_ADMIN`,
    );
    assert.equal(runFilter(admin.program, { nr: nr("clone", arch), arch: audit, args: [0x1000_0000n] }), RET.ALLOW);
    const noChroot = compileProfile(defaultProfile(), {
      capabilities: caps.filter((c) => c !== "SYS_CHROOT"),
      arch,
      kernel: "6.1",
    });
    assert.equal(runFilter(noChroot.program, { nr: nr("chroot", arch), arch: audit }), ERRNO(1));
  }
});
