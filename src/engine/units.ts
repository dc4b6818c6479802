import { UsageError } from "../errors/mod.ts";

/** docker's sizes: 100, 10k, 10m, 1g (binary multiples, optional trailing b). */
export function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i.exec(text.trim());
  if (!m) throw new UsageError(`Invalid size "${text}"`, { hint: "use a number with an optional unit: 512k, 10m, 1g" });
  const mult = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2]!.toLowerCase()]!;
  return Math.floor(Number(m[1]) * mult);
}

/** docker's zero time, for "never". */
export const ZERO_TIME = "0001-01-01T00:00:00Z";

/** RFC 3339 with nanoseconds from ns since the epoch; {@link ZERO_TIME} for 0. */
export function isoNs(ns: bigint): string {
  if (ns <= 0n) return ZERO_TIME;
  const ms = ns / 1_000_000n;
  const iso = new Date(Number(ms)).toISOString(); // …SS.mmmZ
  return `${iso.slice(0, 23)}${String(ns % 1_000_000n).padStart(6, "0")}Z`;
}

/** docker's HumanDuration (go-units): "Less than a second", "3 seconds", "About a minute", "2 hours"… */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < 1) return "Less than a second";
  if (seconds === 1) return "1 second";
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.trunc(ms / 60_000);
  if (minutes === 1) return "About a minute";
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.trunc(ms / 3_600_000 + 0.5);
  if (hours === 1) return "About an hour";
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.trunc(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.trunc(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24 / 30)} months`;
  return `${Math.trunc(ms / 3_600_000 / 24 / 365)} years`;
}
