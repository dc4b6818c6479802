import { SIGNALS } from "../plan/mod.ts";
import { ContainerError } from "./errors.ts";

/** First real-time signal as the C library numbers it (glibc and musl keep 32 and 33 for themselves). */
export const SIGRTMIN = 34;
/** Last signal number (SIGRTMAX) on Linux. */
export const SIGRTMAX = 64;

/**
 * The one signal table: a signal by name (TERM, SIGTERM, sigterm), real-time name (RTMIN,
 * RTMIN+3, SIGRTMAX-1) or number (1–64); undefined for anything else. Both front doors read
 * signals through it and word their own error.
 */
export function signalNumber(s: string): number | undefined {
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    return n >= 1 && n <= SIGRTMAX ? n : undefined;
  }
  const up = s.toUpperCase();
  const name = up.startsWith("SIG") ? up : `SIG${up}`;
  const n = SIGNALS[name];
  if (n !== undefined) return n;
  const rt = /^SIGRT(MIN|MAX)(?:([+-])(\d+))?$/.exec(name);
  if (!rt) return undefined;
  const offset = Number(rt[3] ?? 0);
  if ((rt[1] === "MIN" && rt[2] === "-") || (rt[1] === "MAX" && rt[2] === "+")) return undefined;
  const v = rt[1] === "MIN" ? SIGRTMIN + offset : SIGRTMAX - offset;
  return v >= SIGRTMIN && v <= SIGRTMAX ? v : undefined;
}

/** A signal by name or number (see {@link signalNumber}); throws a clear error on an unknown one. */
export function parseSignal(s: string): number {
  const n = signalNumber(s);
  if (n !== undefined) return n;
  throw new ContainerError(`Invalid signal "${s}"`, {
    hint: "use a name such as TERM, SIGKILL, HUP, RTMIN+1, or a number from 1 to 64",
  });
}
