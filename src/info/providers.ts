/**
 * What `nook info` shows: one provider per section, loaded lazily like the
 * command table. A concern that knows more about its part of the host
 * replaces its line with its own report, e.g. for cgroups:
 *
 * ```ts
 * { section: "cgroups", collect: () => import("../cgroupv2/mod.ts").then((m) => m.cgroupInfo()) },
 * ```
 */

/** A section's values: text, numbers, flags, lists, or nested sections. */
export type InfoValue = string | number | boolean | null | readonly string[] | InfoSection;

/** One section of `nook info`, as JSON keys (snake_case) and values. */
export interface InfoSection {
  [key: string]: InfoValue;
}

/** A section of `nook info` and how to collect it. */
export interface InfoProvider {
  /** JSON key and table heading. */
  section: string;
  /** Collect the values (lazily import what is needed). */
  collect: () => Promise<InfoSection> | InfoSection;
}

const builtin = () => import("./builtin.ts");

/** The sections, in display order. */
export const INFO_PROVIDERS: InfoProvider[] = [
  { section: "nook", collect: () => builtin().then((m) => m.versionsInfo()) },
  { section: "host", collect: () => builtin().then((m) => m.hostInfo()) },
  { section: "idmap", collect: () => builtin().then((m) => m.idmapInfo()) },
  { section: "storage", collect: () => builtin().then((m) => m.storageInfo()) },
  { section: "cgroups", collect: () => builtin().then((m) => m.cgroupsInfo()) },
  { section: "network", collect: () => builtin().then((m) => m.networkInfo()) },
  { section: "security", collect: () => builtin().then((m) => m.securityInfo()) },
  { section: "config", collect: () => builtin().then((m) => m.configInfo()) },
  { section: "paths", collect: () => builtin().then((m) => m.pathsInfo()) },
  { section: "cdi", collect: () => import("../engine/cdi.ts").then((m) => m.cdiInfo()) },
];

/** Collect every section; a provider that fails shows its error instead of stopping the rest. */
export async function collectInfo(providers: readonly InfoProvider[] = INFO_PROVIDERS): Promise<Record<string, InfoSection>> {
  const entries = await Promise.all(providers.map(async (p) => {
    try {
      return [p.section, await p.collect()] as const;
    } catch (err) {
      return [p.section, { error: (err as Error).message }] as const;
    }
  }));
  return Object.fromEntries(entries);
}

/** Info as an aligned table: sections, then `key  value` lines; nested keys dotted, lists joined. */
export function formatInfo(info: Record<string, InfoSection>): string {
  const out: string[] = [];
  for (const [section, values] of Object.entries(info)) {
    const rows: [string, string][] = [];
    const walk = (prefix: string, v: InfoSection) => {
      for (const [k, x] of Object.entries(v)) {
        const key = prefix ? `${prefix}.${k}` : k;
        if (x !== null && typeof x === "object" && !Array.isArray(x)) walk(key, x as InfoSection);
        else rows.push([key, x === null ? "-" : Array.isArray(x) ? (x.length ? x.join(", ") : "-") : String(x)]);
      }
    };
    walk("", values);
    const w = Math.max(0, ...rows.map(([k]) => k.length)) + 2;
    out.push(section, ...rows.map(([k, v]) => `  ${k.padEnd(w)}${v}`), "");
  }
  return out.join("\n");
}
