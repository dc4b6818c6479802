import { type Check, type CheckContext, CHECKS, type CheckResult, mappingFor } from "./checks.ts";
import { hostInputs, type HostInputs } from "./host.ts";

/** The doctor's verdict on a host. */
export interface DoctorReport {
  /** True when `nook run` works here (no check failed; warnings allowed). */
  ok: boolean;
  /** Who was checked. */
  user: string;
  /** Their uid. */
  uid: number;
  /** The program whose clone() the kernel sees. */
  nookPath: string;
  /** Every check's verdict, in order. */
  checks: CheckResult[];
}

/**
 * Check the host for rootless containers. Each input can be replaced, so
 * tests inject faults (no subuid entry, no newuidmap on the path, an
 * unusable /dev/fuse…) without root.
 *
 * @example
 * ```ts
 * const report = await runDoctor();
 * for (const c of report.checks) if (c.status !== "ok") console.log(c.title, c.fix);
 * ```
 */
export async function runDoctor(over: Partial<HostInputs> = {}, checks: readonly Check[] = CHECKS): Promise<DoctorReport> {
  const host = hostInputs(over);
  const ctx: CheckContext = { host, mapping: mappingFor(host) };
  const results: CheckResult[] = [];
  for (const check of checks) {
    try {
      results.push(await check(ctx));
    } catch (err) {
      results.push({
        id: check.name || "check",
        group: "Other",
        title: check.name || "check",
        status: "warn",
        detail: `the check itself failed: ${(err as Error).message}`,
      });
    }
  }
  return {
    ok: !results.some((r) => r.status === "fail"),
    user: host.user ?? String(host.uid),
    uid: host.uid,
    nookPath: host.nookPath,
    checks: results,
  };
}

const MARK = { ok: "✓", fail: "✗", warn: "!", skip: "-" } as const;
const COLOR = { ok: "\x1b[32m", fail: "\x1b[31m", warn: "\x1b[33m", skip: "\x1b[2m" } as const;

/** The report as text: ✓ / ✗ / ! per check, the reason, and the fix under each problem. */
export function formatReport(r: DoctorReport, color = false): string {
  const paint = (s: keyof typeof MARK, text: string) => (color ? `${COLOR[s]}${text}\x1b[0m` : text);
  const out = [`nook doctor: can ${r.user} (uid ${r.uid}) run rootless containers on this host?`];
  let group = "";
  for (const c of r.checks) {
    if (c.group !== group) out.push("", (group = c.group));
    const [first, ...more] = c.detail.split("\n");
    out.push(`  ${paint(c.status, MARK[c.status])} ${c.title}: ${first}`, ...more.map((l) => (l ? `      ${l}` : "")));
    if (c.fix && c.status !== "ok" && c.status !== "skip") {
      const [f0, ...fs] = c.fix.split("\n");
      out.push(`      fix: ${f0}`, ...fs.map((l) => `           ${l}`));
    }
  }
  const fails = r.checks.filter((c) => c.status === "fail").length;
  const warns = r.checks.filter((c) => c.status === "warn").length;
  const w = warns ? `; ${warns} warning${warns > 1 ? "s" : ""} (!): things that work with less, each with its fix` : "";
  out.push(
    "",
    r.ok
      ? paint("ok", `✓ nook run works on this host${w}.`)
      : paint("fail", `✗ nook run cannot work on this host: ${fails} problem${fails > 1 ? "s" : ""} (✗) above, each with its fix${w}.`),
    "",
  );
  return out.join("\n");
}
