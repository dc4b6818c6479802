/**
 * Namespace types of the spec as clone flags and /proc/PID/ns files, and
 * the order they are joined in. No dependencies: the light runtime commands
 * (start, kill, delete) use it too.
 *
 * @module
 */
import { CLONE } from "../plan/linux.ts";
import { NAMESPACE_FILES, type NsType } from "./config.ts";

/** CLONE_NEW* flag of each namespace type. */
export const CLONE_FLAG: Record<NsType, number> = {
  user: CLONE.NEWUSER,
  mount: CLONE.NEWNS,
  pid: CLONE.NEWPID,
  uts: CLONE.NEWUTS,
  ipc: CLONE.NEWIPC,
  network: CLONE.NEWNET,
  cgroup: CLONE.NEWCGROUP,
};

/** The order namespaces are joined in: user first (it grants the rights to join the others), pid before mount. */
export const JOIN_ORDER: readonly NsType[] = ["user", "ipc", "uts", "network", "pid", "mount", "cgroup"];

/** The /proc/PID/ns file of a namespace type. */
export function nsFile(pid: number | "self", type: NsType): string {
  return `/proc/${pid}/ns/${NAMESPACE_FILES[type]}`;
}

function nsId(path: string): string | undefined {
  try {
    return Deno.readLinkSync(path);
  } catch {
    return undefined;
  }
}

/** The namespace types in which `pid` differs from nook itself, in join order. */
export function differingNamespaces(pid: number): NsType[] {
  return JOIN_ORDER.filter((t) => nsId(nsFile(pid, t)) !== nsId(nsFile("self", t)));
}
