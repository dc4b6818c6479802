/**
 * The docker/podman seccomp profile format (also the OCI runtime spec's
 * `linux.seccomp`), parsed and checked field by field, so a mistake is
 * reported with the field's path: `syscalls[3].args[0].op`.
 *
 * @module
 */
import { NookError } from "../errors/mod.ts";

/** A seccomp profile could not be read, parsed or compiled. */
export class SeccompError extends NookError {}

/** Actions a rule or the default can take. */
export const ACTIONS = [
  "SCMP_ACT_ALLOW",
  "SCMP_ACT_ERRNO",
  "SCMP_ACT_KILL",
  "SCMP_ACT_KILL_THREAD",
  "SCMP_ACT_KILL_PROCESS",
  "SCMP_ACT_TRAP",
  "SCMP_ACT_TRACE",
  "SCMP_ACT_LOG",
  "SCMP_ACT_NOTIFY",
] as const;

/** Name of an action. */
export type ActionName = (typeof ACTIONS)[number];

/** Argument comparisons, numbered as libseccomp's `enum scmp_compare`. */
export const COMPARISONS = {
  SCMP_CMP_NE: 1,
  SCMP_CMP_LT: 2,
  SCMP_CMP_LE: 3,
  SCMP_CMP_EQ: 4,
  SCMP_CMP_GE: 5,
  SCMP_CMP_GT: 6,
  SCMP_CMP_MASKED_EQ: 7,
} as const;

/** Name of a comparison. */
export type CmpName = keyof typeof COMPARISONS;

/** One argument condition: `args[index] OP value` (MASKED_EQ: `args[index] & value == valueTwo`). */
export interface ArgCondition {
  /** Argument number, 0..5. */
  index: number;
  /** The comparison. */
  op: CmpName;
  /** Compared value (the mask for MASKED_EQ), 64 bits. */
  value: bigint;
  /** Second value (what the masked argument must equal for MASKED_EQ). */
  valueTwo: bigint;
}

/** When a rule applies: capabilities the container has, its architecture, the kernel. */
export interface RuleFilter {
  /** Capability names (`CAP_SYS_ADMIN`). */
  caps: string[];
  /** Architecture names as docker writes them (`amd64`, `arm64`, `x32`…). */
  arches: string[];
  /** Kernel version `MAJOR.MINOR`. */
  minKernel?: string;
}

/** One entry of `syscalls`. */
export interface SyscallRule {
  /** Syscall names. */
  names: string[];
  /** What to do when it matches. */
  action: ActionName;
  /** errno for SCMP_ACT_ERRNO (default EPERM); message for SCMP_ACT_TRACE. */
  errnoRet?: number;
  /** All must hold (AND). */
  args: ArgCondition[];
  /** Applies only when all of these hold. */
  includes: RuleFilter;
  /** Does not apply when any of these holds. */
  excludes: RuleFilter;
}

/** A whole profile. */
export interface SeccompProfile {
  /** Action for every syscall no rule matches. */
  defaultAction: ActionName;
  /** errno of the default action when it is SCMP_ACT_ERRNO (default EPERM). */
  defaultErrnoRet?: number;
  /** `SCMP_ARCH_*` names the filter should accept. */
  architectures: string[];
  /** docker's per-native-architecture list of accepted architectures. */
  archMap: { architecture: string; subArchitectures: string[] }[];
  /** `SECCOMP_FILTER_FLAG_*` names. */
  flags: string[];
  /** The rules, in order. */
  syscalls: SyscallRule[];
}

type Json = null | boolean | number | bigint | string | Json[] | { [k: string]: Json };

const U64_MAX = 0xffff_ffff_ffff_ffffn;

/**
 * Parse profile JSON text. `source` names it in messages (a file path or
 * "the built-in profile"). Integers beyond 2^53 keep every digit.
 */
export function parseProfile(text: string, source: string): SeccompProfile {
  let json: Json;
  try {
    // Keep the exact digits of 64-bit values (a JS number would round them).
    json = JSON.parse(
      text,
      (_key, value, ctx?: { source?: string }) =>
        typeof value === "number" && !Number.isSafeInteger(value) && ctx?.source && /^\d+$/.test(ctx.source)
          ? BigInt(ctx.source)
          : value,
    );
  } catch (err) {
    throw new SeccompError(`The seccomp profile ${source} is not valid JSON: ${(err as Error).message}`, {
      path: source,
      hint: "check the file with a JSON validator; the format is docker's seccomp profile (defaultAction, syscalls…)",
      cause: err,
    });
  }
  return profileFromJson(json, source);
}

/** Check an already parsed JSON value and turn it into a profile. */
export function profileFromJson(json: unknown, source: string): SeccompProfile {
  const fail = (field: string, what: string): never => {
    throw new SeccompError(`The seccomp profile ${source} is invalid: "${field}" ${what}`, {
      path: source,
      hint: "see docker's seccomp profile format: defaultAction, architectures, syscalls[{names, action, args}]",
    });
  };
  const obj = (v: unknown, field: string): Record<string, unknown> =>
    typeof v === "object" && v !== null && !Array.isArray(v)
      ? v as Record<string, unknown>
      : fail(field, "must be an object");
  const arr = (v: unknown, field: string): unknown[] =>
    v === undefined || v === null ? [] : Array.isArray(v) ? v : fail(field, "must be a list");
  const strs = (v: unknown, field: string): string[] =>
    arr(v, field).map((s, i) =>
      typeof s === "string" && s !== "" ? s : fail(`${field}[${i}]`, "must be a non-empty string")
    );
  const uint = (v: unknown, field: string, max: bigint): bigint => {
    const b = typeof v === "bigint"
      ? v
      : typeof v === "number" && Number.isInteger(v)
      ? BigInt(v)
      : fail(field, "must be a whole number");
    if (b < 0n || b > max) fail(field, `must be between 0 and ${max}`);
    return b;
  };
  const action = (v: unknown, field: string): ActionName =>
    typeof v === "string" && (ACTIONS as readonly string[]).includes(v)
      ? v as ActionName
      : fail(field, `must be one of ${ACTIONS.join(", ")} (got ${JSON.stringify(v)})`);
  const filter = (v: unknown, field: string): RuleFilter => {
    if (v === undefined || v === null) return { caps: [], arches: [] };
    const o = obj(v, field);
    const f: RuleFilter = { caps: strs(o.caps, `${field}.caps`), arches: strs(o.arches, `${field}.arches`) };
    if (o.minKernel !== undefined && o.minKernel !== null && o.minKernel !== "") {
      if (typeof o.minKernel !== "string" || !/^\d+\.\d+/.test(o.minKernel)) {
        fail(`${field}.minKernel`, 'must be a version such as "4.8"');
      }
      f.minKernel = o.minKernel as string;
    }
    return f;
  };

  const root = obj(json, "(top level)");
  const profile: SeccompProfile = {
    defaultAction: action(root.defaultAction, "defaultAction"),
    architectures: strs(root.architectures, "architectures"),
    archMap: arr(root.archMap, "archMap").map((e, i) => {
      const o = obj(e, `archMap[${i}]`);
      const a = o.architecture;
      if (typeof a !== "string" || !a) fail(`archMap[${i}].architecture`, "must be a non-empty string");
      return {
        architecture: a as string,
        subArchitectures: strs(o.subArchitectures, `archMap[${i}].subArchitectures`),
      };
    }),
    flags: strs(root.flags, "flags"),
    syscalls: [],
  };
  if (root.defaultErrnoRet !== undefined && root.defaultErrnoRet !== null) {
    profile.defaultErrnoRet = Number(uint(root.defaultErrnoRet, "defaultErrnoRet", 0xffffn));
  }
  profile.syscalls = arr(root.syscalls, "syscalls").map((e, i) => {
    const at = `syscalls[${i}]`;
    const o = obj(e, at);
    // docker's old format has one "name"; the current one a list of "names".
    const names = o.names !== undefined && o.names !== null
      ? strs(o.names, `${at}.names`)
      : typeof o.name === "string" && o.name
      ? [o.name]
      : [];
    if (names.length === 0) fail(`${at}.names`, "must list at least one syscall name");
    const rule: SyscallRule = {
      names,
      action: action(o.action, `${at}.action`),
      args: arr(o.args, `${at}.args`).map((a, j) => {
        const ao = obj(a, `${at}.args[${j}]`);
        const index = Number(uint(ao.index, `${at}.args[${j}].index`, 5n));
        const op = ao.op;
        if (typeof op !== "string" || !(op in COMPARISONS)) {
          fail(
            `${at}.args[${j}].op`,
            `must be one of ${Object.keys(COMPARISONS).join(", ")} (got ${JSON.stringify(op)})`,
          );
        }
        return {
          index,
          op: op as CmpName,
          value: uint(ao.value, `${at}.args[${j}].value`, U64_MAX),
          valueTwo: ao.valueTwo === undefined || ao.valueTwo === null
            ? 0n
            : uint(ao.valueTwo, `${at}.args[${j}].valueTwo`, U64_MAX),
        };
      }),
      includes: filter(o.includes, `${at}.includes`),
      excludes: filter(o.excludes, `${at}.excludes`),
    };
    if (o.errnoRet !== undefined && o.errnoRet !== null) {
      rule.errnoRet = Number(uint(o.errnoRet, `${at}.errnoRet`, 0xffffn));
    }
    return rule;
  });
  return profile;
}
