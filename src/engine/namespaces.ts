/**
 * Namespace types as clone flags and /proc/PID/ns files, and the one order they are joined in
 * (by `nook exec` and by an OCI config's namespace paths). The flags and the order are facts of
 * the kernel's constants (src/plan/linux.ts) and of the model (src/model/oci.ts), where the plan
 * builder finds them without loading this file. No dependencies beyond those two: the light
 * runtime commands (start, kill, delete) use it too.
 *
 * @module
 */
import { JOIN_ORDER, NAMESPACE_FILES, type NsType } from "../model/oci.ts";
export { CLONE_FLAG } from "../plan/linux.ts";
export { JOIN_ORDER } from "../model/oci.ts";

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
