import { UsageError } from "../errors/mod.ts";
import type { MountSpec } from "../model/container.ts";
import { tmpfsOptions } from "../engine/tmpfs.ts";
import { MS } from "../plan/mod.ts";
import { decideSecurity, type SecuritySpec } from "../security/mod.ts";
import { bool, list, type OptionSpec, type ParsedArgs } from "./_args.ts";

/** Options of `nook run` for confinement (capabilities, seccomp, read-only root, tmpfs). */
export const SECURITY_RUN_OPTIONS: readonly OptionSpec[] = [
  { name: "cap-add", type: "list", value: "CAP", help: "Add a capability (NET_RAW, SYS_ADMIN… or ALL)" },
  { name: "cap-drop", type: "list", value: "CAP", help: "Drop a capability (CHOWN… or ALL)" },
  {
    name: "security-opt",
    type: "list",
    value: "OPT",
    help: "seccomp=PROFILE.json|unconfined, no-new-privileges, mask=/p:/q, unmask=ALL|/p, apparmor=NAME, label=…",
  },
  {
    name: "privileged",
    type: "bool",
    help: "Every capability of the user namespace, no seccomp filter, nothing masked",
  },
  { name: "tmpfs", type: "list", value: "PATH[:OPTS]", help: "Mount a tmpfs, e.g. --tmpfs /run:size=64m,mode=755" },
  { name: "read-only-tmpfs", type: "bool", help: "With --read-only: writable tmpfs on /tmp, /var/tmp and /run" },
];

/** The security decision for `nook run`'s flags; warnings (a profile's unknown syscalls) go to stderr. */
export function securityFromArgs(a: ParsedArgs, uid: number): SecuritySpec {
  const { security, warnings } = decideSecurity({
    privileged: bool(a, "privileged"),
    capAdd: list(a, "cap-add"),
    capDrop: list(a, "cap-drop"),
    securityOpts: list(a, "security-opt"),
    uid,
  });
  for (const w of warnings) console.error(`nook: warning: ${w}`);
  return security;
}

/**
 * `--tmpfs /path[:opts]` as docker parses it: mount flags (ro, noexec…) and
 * tmpfs data (size=, mode=…), comma-separated; nosuid,nodev,noexec unless
 * the options say otherwise.
 */
export function parseTmpfs(value: string): MountSpec {
  const i = value.indexOf(":");
  const target = i < 0 ? value : value.slice(0, i);
  if (!target.startsWith("/")) {
    throw new UsageError(`--tmpfs "${value}": the path must be absolute`, { hint: "e.g. --tmpfs /run:size=64m" });
  }
  const { flags, data } = tmpfsOptions((i < 0 ? "" : value.slice(i + 1)).split(","), `--tmpfs "${value}"`);
  return { source: "tmpfs", target: target.replace(/(.)\/+$/, "$1"), fstype: "tmpfs", flags, data };
}

/** The tmpfs mounts `--tmpfs` and `--read-only-tmpfs` ask for (the latter only with a read-only root). */
export function tmpfsFromArgs(a: ParsedArgs, readonlyRootfs: boolean): MountSpec[] {
  const mounts = list(a, "tmpfs").map(parseTmpfs);
  if (readonlyRootfs && bool(a, "read-only-tmpfs")) {
    for (const [path, mode] of [["/tmp", "1777"], ["/var/tmp", "1777"], ["/run", "755"]] as const) {
      if (!mounts.some((m) => m.target === path)) {
        mounts.push({
          source: "tmpfs",
          target: path,
          fstype: "tmpfs",
          flags: MS.NOSUID | MS.NODEV,
          data: `mode=${mode}`,
        });
      }
    }
  }
  return mounts;
}
