import { UsageError } from "../errors/mod.ts";

/** Capability names without `CAP_`, indexed by number (linux/capability.h). */
export const CAPABILITIES: readonly string[] = [
  "CHOWN",
  "DAC_OVERRIDE",
  "DAC_READ_SEARCH",
  "FOWNER",
  "FSETID",
  "KILL",
  "SETGID",
  "SETUID",
  "SETPCAP",
  "LINUX_IMMUTABLE",
  "NET_BIND_SERVICE",
  "NET_BROADCAST",
  "NET_ADMIN",
  "NET_RAW",
  "IPC_LOCK",
  "IPC_OWNER",
  "SYS_MODULE",
  "SYS_RAWIO",
  "SYS_CHROOT",
  "SYS_PTRACE",
  "SYS_PACCT",
  "SYS_ADMIN",
  "SYS_BOOT",
  "SYS_NICE",
  "SYS_RESOURCE",
  "SYS_TIME",
  "SYS_TTY_CONFIG",
  "MKNOD",
  "LEASE",
  "AUDIT_WRITE",
  "AUDIT_CONTROL",
  "SETFCAP",
  "MAC_OVERRIDE",
  "MAC_ADMIN",
  "SYSLOG",
  "WAKE_ALARM",
  "BLOCK_SUSPEND",
  "AUDIT_READ",
  "PERFMON",
  "BPF",
  "CHECKPOINT_RESTORE",
];

export { DEFAULT_CAPABILITIES } from "../model/security.ts";
import { DEFAULT_CAPABILITIES } from "../model/security.ts";

export type { CapabilitySets } from "../model/security.ts";
import type { CapabilitySets } from "../model/security.ts";

/** Highest capability the running kernel knows (`/proc/sys/kernel/cap_last_cap`). */
export function lastCap(): number {
  try {
    const n = Number(Deno.readTextFileSync("/proc/sys/kernel/cap_last_cap").trim());
    if (Number.isInteger(n) && n > 0 && n < 64) return n;
  } catch {
    // no /proc: assume the table's last
  }
  return CAPABILITIES.length - 1;
}

/** `net_bind_service`, `CAP_NET_BIND_SERVICE` → `NET_BIND_SERVICE`; "ALL" stays "ALL". */
export function capabilityName(value: string, flag: string): string {
  const u = value.trim().toUpperCase().replace(/^CAP_/, "");
  if (u === "ALL" || CAPABILITIES.includes(u)) return u;
  throw new UsageError(`Unknown capability "${value}" in ${flag}`, {
    hint: `use ALL or one of ${CAPABILITIES.join(", ")} (with or without CAP_)`,
  });
}

/** Bit mask of capability names (without `CAP_`). */
export function capabilityMask(names: Iterable<string>): bigint {
  let m = 0n;
  for (const n of names) {
    const i = CAPABILITIES.indexOf(n);
    if (i >= 0) m |= 1n << BigInt(i);
  }
  return m;
}

/** Names (without `CAP_`) of the bits set in a mask. */
export function capabilityNames(mask: bigint): string[] {
  return CAPABILITIES.filter((_, i) => (mask >> BigInt(i)) & 1n);
}

/** Mask of every capability 0..last. */
export function allCapabilities(last: number): bigint {
  return (1n << BigInt(last + 1)) - 1n;
}

/** What decides a container's capabilities. */
export interface CapabilityRequest {
  /** `--privileged`: start from every capability of the user namespace. */
  privileged: boolean;
  /** `--cap-add` values (names or ALL). */
  add: readonly string[];
  /** `--cap-drop` values (names or ALL). */
  drop: readonly string[];
  /** uid the process runs as inside. */
  uid: number;
  /** Highest capability of the kernel. */
  last: number;
}

/**
 * The capability sets of the container's process, as podman and docker set
 * them:
 * - the bounding set is the default set (all with --privileged), minus
 *   `--cap-drop`, plus `--cap-add` (a name in both is added: drop first, then
 *   add; `--cap-drop ALL` empties the start);
 * - root inside gets effective = permitted = bounding, inheritable and
 *   ambient empty (docker and podman stopped filling inheritable in 2022,
 *   CVE-2022-24769);
 * - any other user gets nothing but what `--cap-add` names explicitly, in
 *   effective, permitted, inheritable and ambient — podman's rule, so it
 *   survives execve of an ordinary program (docker gives a non-root user no
 *   capabilities at all, even added ones).
 */
export function capabilitySets(req: CapabilityRequest): CapabilitySets {
  const all = allCapabilities(req.last);
  const tooNew = [...req.add, ...req.drop].filter((c) => c !== "ALL" && CAPABILITIES.indexOf(c) > req.last);
  if (tooNew.length) {
    throw new UsageError(`This kernel does not know the capability ${tooNew.map((c) => `"${c}"`).join(", ")}`, {
      hint: `the kernel's capabilities end at ${CAPABILITIES[req.last]} (/proc/sys/kernel/cap_last_cap)`,
    });
  }
  let bounding = req.privileged ? all : capabilityMask(DEFAULT_CAPABILITIES);
  if (req.drop.includes("ALL")) bounding = 0n;
  else bounding &= ~capabilityMask(req.drop);
  const added = req.add.includes("ALL") ? all : capabilityMask(req.add);
  bounding |= added;
  // "--cap-add ALL --cap-drop X" is everything but X
  if (req.add.includes("ALL")) bounding &= ~capabilityMask(req.drop.filter((d) => d !== "ALL"));
  bounding &= all;
  if (req.uid === 0) {
    return { bounding, effective: bounding, permitted: bounding, inheritable: 0n, ambient: 0n };
  }
  const user = added & bounding;
  return { bounding, effective: user, permitted: user, inheritable: user, ambient: user };
}
