/**
 * seccomp: docker/podman seccomp profiles (JSON) compiled to classic BPF in
 * TypeScript, and nook's built-in default profile. libshim only loads the
 * bytes (plan op SECCOMP); nook never needs libseccomp.
 *
 * @example
 * ```ts
 * const { program } = compileProfile(defaultProfile(), { capabilities: ["CAP_CHOWN"] });
 * plan.seccomp(program);
 * ```
 *
 * @module
 */
export {
  type CompiledFilter,
  type CompileOptions,
  compileProfile,
  FILTER_FLAGS,
  generate,
  kernelAtLeast,
  type ResolvedProfile,
  type ResolvedRule,
  resolveProfile,
  RET,
  scmpCapName,
} from "./compile.ts";
export { defaultFilter, PRECOMPILED_MIN_KERNEL } from "./default_filter.ts";
export { defaultProfile } from "./default_profile.ts";
export {
  type ActionName,
  ACTIONS,
  type ArgCondition,
  type CmpName,
  COMPARISONS,
  parseProfile,
  profileFromJson,
  type RuleFilter,
  SeccompError,
  type SeccompProfile,
  type SyscallRule,
} from "./profile.ts";
export {
  type Arch,
  ARCHES,
  type ArchInfo,
  isKnownSyscallName,
  maxSyscall,
  nativeArch,
  syscallNumber,
} from "./syscalls.ts";
