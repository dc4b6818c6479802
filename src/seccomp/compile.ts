/**
 * Compile a seccomp profile into a classic BPF program for
 * `seccomp(SECCOMP_SET_MODE_FILTER)`. Only nook's own code: libshim loads the
 * bytes and nothing else; libseccomp is never needed.
 *
 * The program, for one architecture:
 *
 *   A = arch;  arch != native            → kill the process (foreign ABI: i386, arm32)
 *   A = nr;    x86_64: nr & 0x40000000    → kill (x32), except nr == -1 → default
 *              nr > highest rule's nr     → ENOSYS (allow-list profiles; runc does
 *                                           this so a newer libc falls back) or default
 *   binary search over syscall-number ranges with one outcome each:
 *     a plain action (ret), or a chain of argument checks for one syscall
 *
 * Argument values are 64 bits; seccomp's BPF sees 32-bit words, so every
 * comparison checks the high word first, then the low one.
 *
 * A profile's `architectures` and `archMap` are read but admit nothing more:
 * nook has syscall tables for x86_64 and aarch64 only, so the filter accepts
 * the native ABI alone (docker's profile also lists i386/x32 and arm32).
 *
 * Rules for one syscall: an unconditional rule decides alone (as in
 * libseccomp); otherwise argument rules are tried in profile order, first
 * match wins. libseccomp 2.5 merges a syscall's argument rules into one tree
 * without backtracking, so overlapping rules can come out differently there
 * (tests/host/seccomp_crosscheck_test.ts shows a case in the kernel).
 *
 * @module
 */
import { Asm, assemble, AssembleError, type Label } from "./_bpf.ts";
import { type ActionName, type ArgCondition, SeccompError, type SeccompProfile, type SyscallRule } from "./profile.ts";
import { type Arch, ARCHES, isKnownSyscallName, nativeArch, syscallNumber } from "./syscalls.ts";

/** `SECCOMP_RET_*` values (linux/seccomp.h). */
export const RET = {
  KILL_PROCESS: 0x8000_0000,
  KILL_THREAD: 0x0000_0000,
  TRAP: 0x0003_0000,
  ERRNO: 0x0005_0000,
  TRACE: 0x7ff0_0000,
  LOG: 0x7ffc_0000,
  ALLOW: 0x7fff_0000,
} as const;

/** `SECCOMP_FILTER_FLAG_*` a profile may ask for. TSYNC is accepted and not needed: the child has one thread. */
export const FILTER_FLAGS: Readonly<Record<string, number>> = {
  SECCOMP_FILTER_FLAG_TSYNC: 0,
  SECCOMP_FILTER_FLAG_LOG: 2,
  SECCOMP_FILTER_FLAG_SPEC_ALLOW: 4,
};

const EPERM = 1;
const ENOSYS = 38;

/** What the filter is compiled for. */
export interface CompileOptions {
  /** Target architecture (default: the one nook runs on). */
  arch?: Arch;
  /** Capabilities of the container's bounding set (`CAP_SYS_ADMIN` or `SYS_ADMIN`), for includes/excludes. */
  capabilities: Iterable<string>;
  /** Kernel release for `minKernel` (default: this host's, `Deno.osRelease()`). */
  kernel?: string;
  /** Name of the profile in messages. */
  source?: string;
}

/** A compiled filter. */
export interface CompiledFilter {
  /** `struct sock_filter[]`, 8 bytes per instruction. */
  program: Uint8Array;
  /** `SECCOMP_FILTER_FLAG_*` for seccomp(2). */
  flags: number;
  /** Things skipped or changed (unknown syscall names, TRACE without a tracer). */
  warnings: string[];
}

/** One rule after includes/excludes, names and actions are resolved. */
export interface ResolvedRule {
  /** Syscall number on the target architecture. */
  nr: number;
  /** SECCOMP_RET_* value. */
  action: number;
  /** All must hold; empty = always. */
  conds: ArgCondition[];
}

/** A profile resolved for one architecture, capability set and kernel: what the code generator takes. */
export interface ResolvedProfile {
  /** Target architecture. */
  arch: Arch;
  /** SECCOMP_RET_* value for everything else. */
  defaultAction: number;
  /** Rules in profile order. */
  rules: ResolvedRule[];
  /** `SECCOMP_FILTER_FLAG_*`. */
  flags: number;
  /** Things skipped or changed. */
  warnings: string[];
}

/** The rules of one syscall: conditional rules in order, then an unconditional action. */
interface PerSyscall {
  conditional: { conds: ArgCondition[]; action: number }[];
  unconditional?: number;
}

/** docker's name for a capability: `CAP_` prefix, upper case. */
export function scmpCapName(c: string): string {
  const u = c.toUpperCase();
  return u.startsWith("CAP_") ? u : `CAP_${u}`;
}

/** True when kernel `release` ("6.1.0-13-amd64") is at least `min` ("4.8"). */
export function kernelAtLeast(release: string, min: string): boolean {
  const parse = (s: string) => (/^(\d+)\.(\d+)/.exec(s) ?? [0, 0, 0]).slice(1, 3).map(Number) as [number, number];
  const [a, b] = parse(release);
  const [c, d] = parse(min);
  return a > c || (a === c && b >= d);
}

/** Compile `profile` for one architecture and capability set. */
export function compileProfile(profile: SeccompProfile, opts: CompileOptions): CompiledFilter {
  const resolved = resolveProfile(profile, opts);
  try {
    return { program: generate(resolved), flags: resolved.flags, warnings: resolved.warnings };
  } catch (err) {
    if (err instanceof AssembleError) {
      throw new SeccompError(
        `The seccomp profile ${opts.source ?? "profile"} does not fit in one filter: ${err.message}`,
        {
          hint: "merge rules with the same action, or drop argument conditions",
          cause: err,
        },
      );
    }
    throw err;
  }
}

/**
 * Apply docker's rule selection (includes/excludes by capability, architecture
 * and kernel version), resolve names to numbers and actions to SECCOMP_RET
 * values. Unknown names are skipped with a warning; names that exist on other
 * architectures only are skipped quietly, as libseccomp does.
 */
export function resolveProfile(profile: SeccompProfile, opts: CompileOptions): ResolvedProfile {
  const source = opts.source ?? "profile";
  const arch = opts.arch ?? nativeArch();
  if (!arch) {
    throw new SeccompError(`nook has no syscall table for the "${Deno.build.arch}" architecture`, {
      hint: "run with --security-opt seccomp=unconfined",
    });
  }
  const info = ARCHES[arch];
  const caps = new Set([...opts.capabilities].map(scmpCapName));
  const kernel = opts.kernel ?? Deno.osRelease();
  const warnings: string[] = [];

  const actionValue = (name: ActionName, errnoRet: number | undefined, where: string): number => {
    switch (name) {
      case "SCMP_ACT_ALLOW":
        return RET.ALLOW;
      case "SCMP_ACT_ERRNO":
        return RET.ERRNO | ((errnoRet ?? EPERM) & 0xffff);
      case "SCMP_ACT_KILL":
      case "SCMP_ACT_KILL_THREAD":
        return RET.KILL_THREAD;
      case "SCMP_ACT_KILL_PROCESS":
        return RET.KILL_PROCESS;
      case "SCMP_ACT_TRAP":
        return RET.TRAP;
      case "SCMP_ACT_LOG":
        return RET.LOG;
      case "SCMP_ACT_TRACE":
        // Without a tracer the kernel fails a TRACE'd syscall with ENOSYS;
        // nook attaches none, so say so and deny plainly.
        if (!warnings.some((w) => w.includes("SCMP_ACT_TRACE"))) {
          warnings.push(
            `${where}: SCMP_ACT_TRACE needs a tracer and nook attaches none; those syscalls fail with EPERM`,
          );
        }
        return RET.ERRNO | EPERM;
      case "SCMP_ACT_NOTIFY":
        throw new SeccompError(
          `The seccomp profile ${source} uses SCMP_ACT_NOTIFY (${where}), which nook does not support`,
          {
            hint: "a notify listener (seccomp agent) is needed for it; use SCMP_ACT_ERRNO or SCMP_ACT_ALLOW",
          },
        );
    }
  };

  const defaultAction = actionValue(profile.defaultAction, profile.defaultErrnoRet, "defaultAction");
  let flags = 0;
  profile.flags.forEach((f, i) => {
    const v = FILTER_FLAGS[f];
    if (v === undefined) {
      throw new SeccompError(`The seccomp profile ${source} is invalid: "flags[${i}]" names an unknown flag "${f}"`, {
        hint: `known flags: ${Object.keys(FILTER_FLAGS).join(", ")}`,
      });
    }
    flags |= v;
  });

  const applies = (rule: SyscallRule): boolean => {
    const archHit = (list: string[]) => list.some((a) => info.goNames.includes(a));
    if (archHit(rule.excludes.arches)) return false;
    if (rule.excludes.caps.some((c) => caps.has(scmpCapName(c)))) return false;
    if (rule.excludes.minKernel && kernelAtLeast(kernel, rule.excludes.minKernel)) return false;
    if (rule.includes.arches.length > 0 && !archHit(rule.includes.arches)) return false;
    if (rule.includes.caps.some((c) => !caps.has(scmpCapName(c)))) return false;
    if (rule.includes.minKernel && !kernelAtLeast(kernel, rule.includes.minKernel)) return false;
    return true;
  };

  const rules: ResolvedRule[] = [];
  profile.syscalls.forEach((rule, i) => {
    if (!applies(rule)) return;
    const where = `syscalls[${i}]`;
    const action = actionValue(rule.action, rule.errnoRet, where);
    // A rule that does what the default does changes nothing (libseccomp refuses it; runc skips it).
    if (action === defaultAction) return;
    // Several conditions on one argument: each becomes a rule of its own (OR),
    // as runc and crun do — an AND of them would rarely mean anything.
    const indexes = rule.args.map((a) => a.index);
    const condSets = new Set(indexes).size < indexes.length ? rule.args.map((a) => [a]) : [rule.args];
    for (const name of rule.names) {
      const nr = syscallNumber(arch, name);
      if (nr === undefined) {
        if (!isKnownSyscallName(name)) warnings.push(`${where}: unknown syscall "${name}" skipped`);
        continue;
      }
      for (const conds of condSets) rules.push({ nr, action, conds });
    }
  });
  return { arch, defaultAction, rules, flags, warnings };
}

/** Generate the BPF program of a resolved profile. */
export function generate(resolved: ResolvedProfile): Uint8Array {
  const { defaultAction } = resolved;
  const info = ARCHES[resolved.arch];
  const bySyscall = new Map<number, PerSyscall>();
  for (const r of resolved.rules) {
    let per = bySyscall.get(r.nr);
    if (!per) bySyscall.set(r.nr, per = { conditional: [] });
    if (r.conds.length === 0) per.unconditional ??= r.action;
    else per.conditional.push({ conds: r.conds, action: r.action });
  }

  const asm = new Asm();
  const bad = asm.label();
  const dflt = asm.label();
  asm.ld(4); // seccomp_data.arch
  const archOk = asm.label();
  asm.jump("jeq", info.auditArch, archOk, bad);
  asm.place(archOk);
  asm.ld(0); // seccomp_data.nr
  if (info.foreignBit) {
    const own = asm.label();
    const foreign = asm.label();
    asm.jump("jge", info.foreignBit, foreign, own);
    asm.place(foreign);
    // -1 is "no syscall" (a tracer skipped it): libseccomp lets it through to the default
    asm.jump("jeq", 0xffff_ffff, dflt, bad);
    asm.place(own);
  }

  const nrs = [...bySyscall.keys()].sort((a, b) => a - b);
  const top = nrs.length ? nrs[nrs.length - 1]! : -1;
  // Allow-list profiles: syscalls newer than every rule get ENOSYS, so a libc
  // that tries a new syscall first falls back instead of failing on EPERM.
  const allowList = defaultAction !== RET.ALLOW && defaultAction !== RET.LOG;
  if (top >= 0) {
    const above = asm.label();
    const inRange = asm.label();
    asm.jump("jgt", top, above, inRange);
    asm.place(inRange);
    tree(asm, segments(bySyscall, nrs, defaultAction), defaultAction);
    asm.place(above);
    if (allowList) {
      const tail = asm.label();
      asm.jump("jeq", 0xffff_ffff, dflt, tail);
      asm.place(tail);
      asm.ret(RET.ERRNO | ENOSYS);
    }
  }
  asm.place(dflt);
  asm.ret(defaultAction);
  asm.place(bad);
  asm.ret(RET.KILL_PROCESS);
  return assemble(asm.code);
}

/** One range of syscall numbers [lo, hi] and what happens to them. */
interface Segment {
  lo: number;
  hi: number;
  ret?: number; // a plain action
  per?: PerSyscall; // argument checks (then lo === hi)
}

/** Cut 0..top into ranges with one outcome each, merging neighbours that return the same. */
function segments(bySyscall: Map<number, PerSyscall>, nrs: number[], defaultAction: number): Segment[] {
  const out: Segment[] = [];
  const push = (s: Segment) => {
    const last = out[out.length - 1];
    if (last && s.ret !== undefined && last.ret === s.ret && last.hi + 1 === s.lo) last.hi = s.hi;
    else out.push(s);
  };
  let next = 0;
  for (const nr of nrs) {
    if (nr > next) push({ lo: next, hi: nr - 1, ret: defaultAction });
    const per = bySyscall.get(nr)!;
    // An unconditional rule decides alone, whatever argument rules the syscall has (as in libseccomp).
    if (per.unconditional !== undefined || per.conditional.length === 0) {
      push({ lo: nr, hi: nr, ret: per.unconditional ?? defaultAction });
    } else {
      push({ lo: nr, hi: nr, per });
    }
    next = nr + 1;
  }
  return out;
}

/** Binary search over the segments; A holds the syscall number at every branch. */
function tree(asm: Asm, segs: Segment[], defaultAction: number): void {
  if (segs.length === 1) {
    const s = segs[0]!;
    if (s.per) argChecks(asm, s.per, defaultAction);
    else asm.ret(s.ret!);
    return;
  }
  const m = segs.length >> 1;
  const left = asm.label();
  const right = asm.label();
  asm.jump("jge", segs[m]!.lo, right, left);
  asm.place(left);
  tree(asm, segs.slice(0, m), defaultAction);
  asm.place(right);
  tree(asm, segs.slice(m), defaultAction);
}

/** Rules with arguments, first match in profile order wins; then the default. */
function argChecks(asm: Asm, per: PerSyscall, defaultAction: number): void {
  for (const rule of per.conditional) {
    const nextRule = asm.label();
    for (const c of rule.conds) {
      const pass = asm.label();
      compare(asm, c, pass, nextRule);
      asm.place(pass);
    }
    asm.ret(rule.action);
    asm.place(nextRule);
  }
  asm.ret(defaultAction);
}

/**
 * One 64-bit comparison, jumping to `pass` or `fail`. seccomp_data.args[i]
 * sits at byte 16 + 8i; x86_64 and aarch64 are little-endian, so the low
 * word comes first.
 */
function compare(asm: Asm, c: ArgCondition, pass: Label, fail: Label): void {
  const lo = 16 + 8 * c.index;
  const hi = lo + 4;
  const vlo = Number(c.value & 0xffff_ffffn);
  const vhi = Number(c.value >> 32n);
  const l1 = asm.label();
  const l2 = asm.label();
  switch (c.op) {
    case "SCMP_CMP_EQ":
    case "SCMP_CMP_NE": {
      const [t, f] = c.op === "SCMP_CMP_EQ" ? [pass, fail] : [fail, pass];
      asm.ld(hi);
      asm.jump("jeq", vhi, l1, f);
      asm.place(l1);
      asm.ld(lo);
      asm.jump("jeq", vlo, t, f);
      return;
    }
    case "SCMP_CMP_GT":
    case "SCMP_CMP_GE":
      // hi > vhi → pass; hi < vhi → fail; equal → compare the low words
      asm.ld(hi);
      asm.jump("jgt", vhi, pass, l1);
      asm.place(l1);
      asm.jump("jeq", vhi, l2, fail);
      asm.place(l2);
      asm.ld(lo);
      asm.jump(c.op === "SCMP_CMP_GT" ? "jgt" : "jge", vlo, pass, fail);
      return;
    case "SCMP_CMP_LT":
    case "SCMP_CMP_LE":
      // hi < vhi → pass; hi > vhi → fail; equal → compare the low words
      asm.ld(hi);
      asm.jump("jge", vhi, l1, pass);
      asm.place(l1);
      asm.jump("jeq", vhi, l2, fail);
      asm.place(l2);
      asm.ld(lo);
      asm.jump(c.op === "SCMP_CMP_LT" ? "jge" : "jgt", vlo, fail, pass);
      return;
    case "SCMP_CMP_MASKED_EQ": {
      // (arg & value) == valueTwo
      const mlo = vlo;
      const mhi = vhi;
      const dlo = Number(c.valueTwo & 0xffff_ffffn);
      const dhi = Number((c.valueTwo >> 32n) & 0xffff_ffffn);
      if (mhi === 0) {
        // the high word masks to 0: it matches only a datum with a zero high word
        if (dhi !== 0) {
          asm.emit({ op: "ja", target: fail });
          return;
        }
      } else {
        asm.ld(hi);
        if (mhi !== 0xffff_ffff) asm.emit({ op: "and", k: mhi });
        asm.jump("jeq", dhi, l1, fail);
        asm.place(l1);
      }
      asm.ld(lo);
      if (mlo !== 0xffff_ffff) asm.emit({ op: "and", k: mlo });
      asm.jump("jeq", dlo, pass, fail);
      return;
    }
  }
}
