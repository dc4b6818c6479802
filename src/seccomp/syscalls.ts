import { AARCH64, OTHER_ARCH_NAMES, X86_64 } from "./_syscall_tables.ts";

/** Architectures nook compiles filters for. */
export type Arch = "x86_64" | "aarch64";

/** What the compiler needs to know about an architecture. */
export interface ArchInfo {
  /** `AUDIT_ARCH_*`: what the kernel puts in `seccomp_data.arch`. */
  auditArch: number;
  /** libseccomp's `SCMP_ARCH_*` name. */
  scmpName: string;
  /** Names docker profiles use in `includes.arches` (Go's GOARCH first). */
  goNames: readonly string[];
  /** Syscall numbers by name. */
  table: Readonly<Record<string, number>>;
  /**
   * Syscall numbers with this bit set belong to another ABI sharing the audit
   * arch (x32 on x86_64); nook has no table for it, so they are refused.
   */
  foreignBit?: number;
}

/** The architectures, with their kernel tables. */
export const ARCHES: Readonly<Record<Arch, ArchInfo>> = {
  x86_64: {
    auditArch: 0xc000003e, // AUDIT_ARCH_X86_64
    scmpName: "SCMP_ARCH_X86_64",
    goNames: ["amd64", "x86_64"],
    table: X86_64,
    foreignBit: 0x4000_0000, // __X32_SYSCALL_BIT
  },
  aarch64: {
    auditArch: 0xc00000b7, // AUDIT_ARCH_AARCH64
    scmpName: "SCMP_ARCH_AARCH64",
    goNames: ["arm64", "aarch64"],
    table: AARCH64,
  },
};

/** The architecture nook runs on, or undefined when it has no table for it. */
export function nativeArch(): Arch | undefined {
  const a = Deno.build.arch;
  return a === "x86_64" || a === "aarch64" ? a : undefined;
}

/** Syscall number of `name` on `arch`, or undefined. */
export function syscallNumber(arch: Arch, name: string): number | undefined {
  return Object.hasOwn(ARCHES[arch].table, name) ? ARCHES[arch].table[name] : undefined;
}

/** Highest syscall number nook knows on `arch`. */
export function maxSyscall(arch: Arch): number {
  return Math.max(...Object.values(ARCHES[arch].table));
}

let known: Set<string> | undefined;

/**
 * True when `name` is a syscall of some architecture (so a profile naming it
 * is fine even if this one lacks it), false for a name no kernel has.
 */
export function isKnownSyscallName(name: string): boolean {
  known ??= new Set([...Object.keys(X86_64), ...Object.keys(AARCH64), ...OTHER_ARCH_NAMES]);
  return known.has(name);
}
