/**
 * AppArmor and SELinux: detected, never required. A profile or label asked
 * for with `--security-opt` is written to the process's exec attribute just
 * before execve, so the kernel applies it at exec (as runc and crun do).
 *
 * @module
 */
import { UsageError } from "../errors/mod.ts";

/** The Linux security modules this host has. */
export interface LsmStatus {
  /** AppArmor is loaded and enabled. */
  apparmor: boolean;
  /** SELinux mode. */
  selinux: "enforcing" | "permissive" | "disabled";
}

function read(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path).trim();
  } catch {
    return undefined;
  }
}

/** What this host offers (for `nook info` and for deciding whether a label can be applied). */
export function detectLsm(): LsmStatus {
  const apparmor = read("/sys/module/apparmor/parameters/enabled") === "Y";
  const enforce = read("/sys/fs/selinux/enforce");
  return { apparmor, selinux: enforce === "1" ? "enforcing" : enforce === "0" ? "permissive" : "disabled" };
}

export type { ExecLabel } from "../model/security.ts";
import type { ExecLabel } from "../model/security.ts";

/**
 * `--security-opt apparmor=NAME`: "unconfined" asks for nothing; any other
 * name needs AppArmor enabled on the host (an error otherwise, as docker).
 */
export function apparmorLabel(name: string, status: LsmStatus): ExecLabel | undefined {
  if (name === "unconfined") return undefined;
  if (!status.apparmor) {
    throw new UsageError(`AppArmor profile "${name}" was asked for, but AppArmor is not enabled on this host`, {
      hint:
        "drop --security-opt apparmor=..., or enable AppArmor (apparmor=1 security=apparmor on the kernel command line)",
    });
  }
  // Since Linux 5.8 each module has its own directory; older kernels share attr/exec.
  const own = "/proc/self/attr/apparmor/exec";
  let path = "/proc/self/attr/exec";
  try {
    Deno.statSync(own);
    path = own;
  } catch {
    // older kernel
  }
  return { path, value: `exec ${name}` };
}

/**
 * `--security-opt label=…`: `disable` asks for nothing; `user:`, `role:`,
 * `type:`, `level:` replace those fields of the container process context
 * the policy names in `contexts/lxc_contexts` (`process = "…"`), as
 * podman does. Needs SELinux enabled.
 */
export function selinuxLabel(
  opts: readonly string[],
  status: LsmStatus,
  policyRoot = "/etc/selinux",
): ExecLabel | undefined {
  if (opts.length === 0 || opts.includes("disable")) return undefined;
  if (status.selinux === "disabled") {
    throw new UsageError(
      `An SELinux label (${
        opts.map((o) => `label=${o}`).join(", ")
      }) was asked for, but SELinux is not enabled on this host`,
      {
        hint: "drop --security-opt label=..., or use label=disable",
      },
    );
  }
  const policy = /^SELINUXTYPE=(\S+)/m.exec(read(`${policyRoot}/config`) ?? "")?.[1] ?? "targeted";
  const base = /^\s*process\s*=\s*"?([^"\n]+)"?/m.exec(read(`${policyRoot}/${policy}/contexts/lxc_contexts`) ?? "")
    ?.[1];
  if (!base) {
    throw new UsageError(`No container process context found in ${policyRoot}/${policy}/contexts/lxc_contexts`, {
      hint: "install the container SELinux policy (container-selinux), or use label=disable",
    });
  }
  const [user = "", role = "", type = "", ...level] = base.trim().split(":");
  const ctx = { user, role, type, level: level.join(":") };
  for (const o of opts) {
    const m = /^(user|role|type|level):(.+)$/.exec(o);
    if (m) ctx[m[1] as keyof typeof ctx] = m[2]!;
    else if (o !== "nested") {
      throw new UsageError(`Unknown SELinux label option "label=${o}"`, {
        hint: "use label=user:U, role:R, type:T, level:L or disable",
      });
    }
  }
  return { path: "/proc/self/attr/exec", value: `${ctx.user}:${ctx.role}:${ctx.type}:${ctx.level}` };
}
