import { errnoName, HostError } from "../errors/mod.ts";

/** Reads a sysctl by its /proc/sys path; undefined when it does not exist. */
export type SysctlReader = (path: string) => string | undefined;

function readSysctl(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path).trim();
  } catch {
    return undefined;
  }
}

/**
 * Turn a failed clone(CLONE_NEWUSER|…) into the host setting that caused it and
 * the command that fixes it (the most common rootless failure there is).
 */
export function explainCloneFailure(errno: number, sysctl: SysctlReader = readSysctl): HostError {
  const name = errnoName(errno);
  const clone = sysctl("/proc/sys/kernel/unprivileged_userns_clone");
  const maxNs = sysctl("/proc/sys/user/max_user_namespaces");
  const apparmor = sysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns");
  let why = "the kernel refused to create the container's namespaces";
  let hint = "run `nook doctor` to check the host";
  if (clone === "0") {
    why = "unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone = 0)";
    hint = "sudo sysctl -w kernel.unprivileged_userns_clone=1 (persist it in /etc/sysctl.d/)";
  } else if (maxNs === "0") {
    why = "user namespaces are disabled (user.max_user_namespaces = 0)";
    hint = "sudo sysctl -w user.max_user_namespaces=28633 (persist it in /etc/sysctl.d/)";
  } else if (apparmor === "1") {
    why = "AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns = 1)";
    hint = "allow nook with an AppArmor profile (`nook doctor` prints one) or sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0";
  } else if (name === "ENOSPC" || name === "EUSERS") {
    why = "the limit on user namespaces is reached (user.max_user_namespaces)";
    hint = "raise user.max_user_namespaces, or stop other containers";
  } else if (name === "EPERM") {
    why = "the kernel refused to create a user namespace (EPERM); a sandbox, seccomp filter or security module forbids it";
    hint = "if nook runs inside another container, allow nested user namespaces there; run `nook doctor`";
  }
  return new HostError(`Cannot create the container: ${why}`, { op: "clone", errno, hint });
}
