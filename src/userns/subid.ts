/** One line of /etc/subuid or /etc/subgid. */
export interface SubidEntry {
  /** User name or numeric uid as written in the file. */
  owner: string;
  /** First subordinate id. */
  start: number;
  /** Number of ids. */
  count: number;
}

/** Parse /etc/subuid or /etc/subgid text; malformed lines and comments are skipped. */
export function parseSubid(text: string): SubidEntry[] {
  const out: SubidEntry[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const [owner, start, count] = line.split(":");
    if (!owner || !/^\d+$/.test(start ?? "") || !/^\d+$/.test(count ?? "")) continue;
    const s = Number(start), c = Number(count);
    if (c > 0 && s + c <= 0xffff_ffff) out.push({ owner, start: s, count: c });
  }
  return out;
}

/** The ranges that belong to a user, matched by name or by numeric id, in file order. */
export function rangesFor(entries: readonly SubidEntry[], name: string | undefined, id: number): SubidEntry[] {
  return entries.filter((e) => e.owner === String(id) || (name !== undefined && e.owner === name));
}
