/**
 * Hooks run with the container's state as JSON on stdin, a timeout, and in
 * the namespaces the spec says: prestart, createRuntime, poststart and
 * poststop in the runtime's; createContainer and startContainer in the
 * container's. Every hook runs as a plan (`hookPlan` in _shim.ts): its child
 * joins the namespaces with SETNS ops and forks, as `exec` into a container
 * does — Deno never changes its own namespaces, and libshim has no second way
 * into them.
 *
 * @module
 */
import type { OciHook } from "./config.ts";
import { OciError } from "./errors.ts";
import { differingNamespaces, nsFile } from "./namespaces.ts";
import type { RuntimeLog } from "./log.ts";
import type { OciState } from "../model/oci.ts";
import { runHook } from "./_shim.ts";

/** The namespace files of `pid` that differ from nook's own, user first (what a hook must join). */
export function containerNamespaces(pid: number): string[] {
  return differingNamespaces(pid).map((t) => nsFile(pid, t));
}

/**
 * Run hooks of one kind in order. A failing hook throws (create/start must
 * fail), unless `warnOnly` (poststart, poststop: the spec says log and go on).
 */
export async function runHooks(
  kind: string,
  hooks: readonly OciHook[],
  state: OciState,
  opts: { inContainer?: number; warnOnly?: boolean; log: RuntimeLog },
): Promise<void> {
  if (hooks.length === 0) return;
  const namespaces = opts.inContainer === undefined ? [] : containerNamespaces(opts.inContainer);
  const input = JSON.stringify({
    ociVersion: state.ociVersion,
    id: state.id,
    status: state.status,
    pid: state.pid,
    bundle: state.bundle,
    annotations: state.annotations,
  });
  for (const [i, h] of hooks.entries()) {
    opts.log.debug(`running ${kind} hook ${i} "${h.path}"`);
    const r = await runHook(h.path, h.args, h.env, namespaces, input, (h.timeout ?? 0) * 1000);
    if (r.status === 0) continue;
    const why = r.status === "timeout"
      ? `did not finish within its timeout of ${h.timeout} s`
      : r.status > 128
      ? `was killed by signal ${r.status - 128}`
      : `exited with status ${r.status}`;
    const out = r.output.trim();
    const msg = `${kind} hook "${h.path}" (hooks.${kind}[${i}]) ${why}${out ? `: ${out}` : ""}`;
    if (opts.warnOnly) opts.log.warn(msg);
    else throw new OciError(msg, { op: `hooks.${kind}[${i}]`, path: h.path });
  }
}
