/**
 * Namespace types as clone flags and /proc/PID/ns files, and the one order they are joined in
 * (by `nook exec` and by an OCI config's namespace paths). No dependencies beyond the model and
 * the kernel's constants: the light runtime commands (start, kill, delete) use it too.
 *
 * @module
 */
import { CLONE } from "../plan/linux.ts";
import { NAMESPACE_FILES, type NsType } from "../model/oci.ts";

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

/**
 * The order namespaces are joined in (util-linux nsenter's): the user namespace first (it grants
 * the rights to join the others), pid before mount (setns(CLONE_NEWPID) applies to children, so
 * the order among the rest does not matter to it), and the mount namespace last: after it, paths
 * resolve in the container's filesystem, where the host's /proc/PID/ns paths of the others do
 * not exist.
 */
export const JOIN_ORDER: readonly NsType[] = ["user", "cgroup", "ipc", "uts", "network", "pid", "mount"];

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

/** The namespace types in which `pid` differs from nook itself (or cannot be compared), in join order. */
export function differingNamespaces(pid: number): NsType[] {
  return JOIN_ORDER.filter((t) => {
    const theirs = nsId(nsFile(pid, t));
    return theirs === undefined || theirs !== nsId(nsFile("self", t));
  });
}
