import { SIGNALS } from "../plan/mod.ts";
import { ContainerError } from "./errors.ts";

/** A signal by name (TERM, SIGTERM, sigterm) or number; throws on an unknown one. */
export function parseSignal(s: string): number {
  const up = s.toUpperCase();
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    if (n >= 1 && n <= 64) return n;
  } else {
    const n = SIGNALS[up.startsWith("SIG") ? up : `SIG${up}`];
    if (n !== undefined) return n;
    const rt = /^(?:SIG)?RTMIN(?:\+(\d+))?$/.exec(up);
    if (rt) return 34 + Number(rt[1] ?? 0);
  }
  throw new ContainerError(`Invalid signal "${s}"`, { hint: "use a name such as TERM, SIGKILL, HUP, or a number" });
}
