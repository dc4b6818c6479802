/**
 * The process's capability sets, no_new_privs, seccomp filter, masked and
 * read-only paths and LSM labels, from config.json — in the form
 * `src/security/` puts into a plan.
 *
 * @module
 */
import { compileProfile, profileFromJson, SeccompError } from "../seccomp/mod.ts";
import {
  CAPABILITIES,
  capabilityMask,
  detectLsm,
  type ExecLabel,
  lastCap,
  type SecuritySpec,
} from "../security/mod.ts";
import type { OciCapabilities, OciProcess } from "./config.ts";
import { invalid, unsupported } from "./errors.ts";
import type { RuntimeLog } from "./log.ts";

/** Capability names of one set → mask; names the kernel does not have are dropped with a warning. */
function capSet(names: readonly string[], field: string, last: number, log: RuntimeLog): bigint {
  const out: string[] = [];
  names.forEach((n, i) => {
    const bare = n.toUpperCase().replace(/^CAP_/, "");
    const idx = CAPABILITIES.indexOf(bare);
    if (!n.toUpperCase().startsWith("CAP_") || idx < 0) {
      throw invalid(`${field}[${i}]`, `names an unknown capability "${n}"`, "use names such as CAP_CHOWN");
    }
    if (idx > last) log.warn(`${field}: the kernel does not know ${n}; it is left out`);
    else out.push(bare);
  });
  return capabilityMask(out);
}

/** Everything but the filter, from a process object. */
export function processSecurity(
  proc: OciProcess,
  field: string,
  log: RuntimeLog,
): Omit<SecuritySpec, "maskedPaths" | "readonlyPaths" | "seccomp"> {
  const last = lastCap();
  const all = (1n << BigInt(last + 1)) - 1n;
  let capabilities: SecuritySpec["capabilities"];
  const c: OciCapabilities | undefined = proc.capabilities;
  if (c) {
    const set = (k: keyof OciCapabilities) => capSet(c[k], `${field}.capabilities.${k}`, last, log);
    capabilities = {
      bounding: set("bounding"),
      effective: set("effective"),
      permitted: set("permitted"),
      inheritable: set("inheritable"),
      ambient: set("ambient"),
    };
  } else {
    // No capabilities object: the process keeps what its user has in the user namespace.
    capabilities = proc.user.uid === 0
      ? { bounding: all, effective: all, permitted: all, inheritable: 0n, ambient: 0n }
      : { bounding: all, effective: 0n, permitted: 0n, inheritable: 0n, ambient: 0n };
  }
  const execLabels: ExecLabel[] = [];
  if (proc.apparmorProfile && proc.apparmorProfile !== "unconfined") {
    if (!detectLsm().apparmor) {
      throw unsupported(
        `${field}.apparmorProfile`,
        `AppArmor is not enabled on this host (profile "${proc.apparmorProfile}")`,
      );
    }
    let path = "/proc/self/attr/exec";
    try {
      Deno.statSync("/proc/self/attr/apparmor/exec");
      path = "/proc/self/attr/apparmor/exec";
    } catch {
      // kernel before 5.8: the shared attribute
    }
    execLabels.push({ path, value: `exec ${proc.apparmorProfile}` });
  }
  if (proc.selinuxLabel) {
    if (detectLsm().selinux === "disabled") {
      throw unsupported(`${field}.selinuxLabel`, `SELinux is not enabled on this host (label "${proc.selinuxLabel}")`);
    }
    execLabels.push({ path: "/proc/self/attr/exec", value: proc.selinuxLabel });
  }
  return { capabilities, lastCap: last, noNewPrivileges: proc.noNewPrivileges, execLabels };
}

/** Compile `linux.seccomp` for a process with this bounding set. */
export function compileSeccomp(
  seccomp: Record<string, unknown> | undefined,
  bounding: bigint,
  log: RuntimeLog,
): SecuritySpec["seccomp"] {
  if (!seccomp) return undefined;
  const caps = CAPABILITIES.filter((_, i) => (bounding >> BigInt(i)) & 1n).map((c) => `CAP_${c}`);
  try {
    // The OCI format is docker's profile format without includes/excludes.
    const profile = profileFromJson(seccomp, "linux.seccomp");
    const compiled = compileProfile(profile, { capabilities: caps, source: "linux.seccomp" });
    for (const w of compiled.warnings) log.debug(`linux.seccomp: ${w}`);
    return { program: compiled.program, flags: compiled.flags };
  } catch (err) {
    if (err instanceof SeccompError) {
      throw invalid("linux.seccomp", err.message.replace(/^The seccomp profile /, "cannot be used: "), err.hint);
    }
    throw err;
  }
}
