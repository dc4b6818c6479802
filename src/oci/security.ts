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

/** The permitted capability set of this process (CapPrm), or undefined when /proc cannot tell. */
export function ownPermitted(): bigint | undefined {
  try {
    const m = /^CapPrm:\s*([0-9a-f]+)$/m.exec(Deno.readTextFileSync("/proc/self/status"));
    return m ? BigInt(`0x${m[1]}`) : undefined;
  } catch {
    return undefined;
  }
}

const capNames = (mask: bigint) => CAPABILITIES.filter((_, i) => (mask >> BigInt(i)) & 1n).map((c) => `CAP_${c}`);

/**
 * Fit the process's capability sets to what the kernel will grant, as runc
 * does: in a user namespace the runtime shares (real root on a node, or
 * root of a namespace rootlesskit made) the process starts from the
 * runtime's own permitted set, not from a full one, so the plan raises only
 * that before the user switch. A set that asks for more than that is
 * refused here with the names — capset would refuse it later with only
 * EPERM. Ambient capabilities the kernel cannot raise (not in both the
 * permitted and the inheritable set) are dropped with a warning, as runc
 * drops them: that grants less, never more.
 */
export function fitCapabilities(sec: SecuritySpec, sharesUserns: boolean, field: string, log: RuntimeLog): void {
  const c = sec.capabilities;
  if (sharesUserns) {
    const held = ownPermitted();
    if (held !== undefined) {
      sec.heldCapabilities = held;
      for (const k of ["permitted", "effective", "inheritable"] as const) {
        const missing = c[k] & ~held;
        if (missing) {
          throw unsupported(
            `${field}.capabilities.${k}`,
            `asks for ${capNames(missing).join(", ")}, which the runtime itself does not hold (it runs without a user namespace of the container's, so the container can have only the capabilities it has)`,
            "drop them from the spec, or start the runtime with them",
          );
        }
      }
    }
  }
  const notRaisable = c.ambient & ~(c.permitted & c.inheritable);
  if (notRaisable) {
    log.warn(
      `${field}.capabilities.ambient: ${
        capNames(notRaisable).join(", ")
      } not in both the permitted and the inheritable set; the kernel cannot raise them, so they are left out`,
    );
    c.ambient &= ~notRaisable;
  }
}

/** The process `pid` is in this process's user namespace (a container without one of its own). */
export function sameUserns(pid: number): boolean {
  try {
    return Deno.readLinkSync(`/proc/${pid}/ns/user`) === Deno.readLinkSync("/proc/self/ns/user");
  } catch {
    return false;
  }
}
