import { UsageError } from "../errors/mod.ts";

/** Who the container's process runs as. */
export interface ResolvedUser {
  /** uid inside the container. */
  uid: number;
  /** Primary gid. */
  gid: number;
  /** Supplementary groups from /etc/group membership (and the primary gid). */
  groups: number[];
  /** Home directory from /etc/passwd, or "/" (for $HOME). */
  home: string;
  /** Name, when known. */
  name?: string;
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

/** Parse /etc/passwd text. */
export function parsePasswd(text: string | undefined): PasswdEntry[] {
  return (text ?? "").split("\n").flatMap((line) => {
    const f = line.split(":");
    if (f.length < 7 || !/^\d+$/.test(f[2]!) || !/^\d+$/.test(f[3]!)) return [];
    return [{ name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), home: f[5] || "/" }];
  });
}

/** Parse /etc/group text. */
export function parseGroup(text: string | undefined): GroupEntry[] {
  return (text ?? "").split("\n").flatMap((line) => {
    const f = line.split(":");
    if (f.length < 4 || !/^\d+$/.test(f[2]!)) return [];
    return [{ name: f[0]!, gid: Number(f[2]), members: f[3]!.split(",").filter(Boolean) }];
  });
}

const MAX_ID = 0xffff_fffe;

function numeric(s: string): number | undefined {
  if (!/^\d+$/.test(s)) return undefined;
  const n = Number(s);
  return n <= MAX_ID ? n : undefined;
}

/**
 * Resolve docker's `-u user[:group]` (names or numbers) against the
 * container's /etc/passwd and /etc/group, as docker does: a number need not
 * exist in passwd; a name must.
 */
export function resolveUser(spec: string | undefined, passwd: string | undefined, group: string | undefined): ResolvedUser {
  const users = parsePasswd(passwd);
  const groups = parseGroup(group);
  const [userPart = "", groupPart] = (spec || "0").split(":", 2);
  if (!userPart) throw new UsageError(`Invalid user "${spec}": the user part is empty`, { hint: "use -u USER[:GROUP], e.g. -u 1000:1000" });
  let entry: PasswdEntry | undefined;
  let uid = numeric(userPart);
  if (uid === undefined) {
    entry = users.find((u) => u.name === userPart);
    if (!entry) {
      throw new UsageError(`Unable to find user "${userPart}": no matching entries in the container's /etc/passwd`, {
        hint: "use a numeric id (-u 1000) or a user that exists in the image",
      });
    }
    uid = entry.uid;
  } else {
    entry = users.find((u) => u.uid === uid);
  }
  let gid = entry?.gid ?? 0;
  if (groupPart !== undefined) {
    if (!groupPart) throw new UsageError(`Invalid user "${spec}": the group part is empty`, { hint: "use -u USER:GROUP" });
    const g = numeric(groupPart);
    if (g !== undefined) gid = g;
    else {
      const ge = groups.find((x) => x.name === groupPart);
      if (!ge) {
        throw new UsageError(`Unable to find group "${groupPart}": no matching entries in the container's /etc/group`, {
          hint: "use a numeric gid or a group that exists in the image",
        });
      }
      gid = ge.gid;
    }
  }
  const name = entry?.name;
  // Supplementary groups come from /etc/group only when the group was not forced (docker's rule).
  const extra = groupPart === undefined && name !== undefined
    ? groups.filter((g) => g.members.includes(name)).map((g) => g.gid)
    : [];
  const out: ResolvedUser = { uid, gid, groups: [...new Set([gid, ...extra])], home: entry?.home ?? "/" };
  if (name !== undefined) out.name = name;
  return out;
}
