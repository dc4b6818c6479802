import { UsageError } from "../errors/mod.ts";
import { MOUNT_OPTION_FLAGS, MS } from "../plan/mod.ts";

/** tmpfs's own data options, passed to the filesystem as they are. */
const TMPFS_DATA = /^(size|mode|uid|gid|nr_inodes|nr_blocks)=[0-9a-zA-Z%]+$/;

/** What the kernel's tmpfs accepts for each data option (else mount fails with a bare EINVAL). */
const TMPFS_VALUE: Record<string, [RegExp, string]> = {
  size: [
    /^\d+[kKmMgGtTpPeE%]?$/,
    "a number of bytes with an optional k, m or g suffix, or a percentage (size=64m, size=50%)",
  ],
  nr_blocks: [/^\d+[kKmMgGtTpPeE]?$/, "a number with an optional k, m or g suffix"],
  nr_inodes: [/^\d+[kKmMgGtTpPeE%]?$/, "a number with an optional k, m or g suffix"],
  mode: [/^[0-7]{1,4}$/, "an octal mode such as 1777"],
  uid: [/^\d+$/, "a numeric user id"],
  gid: [/^\d+$/, "a numeric group id"],
};

/**
 * docker's tmpfs options (`--tmpfs /p:OPTS`, `--mount type=tmpfs,…`): mount
 * flags (ro, exec, suid…) and tmpfs data (size=, mode=…), nosuid,nodev,noexec
 * unless the options say otherwise. `what` names the flag in errors.
 */
export function tmpfsOptions(words: readonly string[], what: string): { flags: number; data: string } {
  let flags = MS.NOSUID | MS.NODEV | MS.NOEXEC;
  const data: string[] = [];
  for (const o of words.filter(Boolean)) {
    const f = MOUNT_OPTION_FLAGS[o];
    if (f) flags = (flags | f[0]) & ~f[1];
    else if (TMPFS_DATA.test(o)) {
      const [key, value] = [o.slice(0, o.indexOf("=")), o.slice(o.indexOf("=") + 1)];
      const [valid, want] = TMPFS_VALUE[key]!;
      if (!valid.test(value)) {
        throw new UsageError(`${what}: invalid tmpfs option "${o}"`, { hint: `${key}= takes ${want}` });
      }
      data.push(o);
    } else {
      throw new UsageError(`${what}: unknown tmpfs option "${o}"`, {
        hint: "use ro, rw, exec, noexec, suid, dev, noatime…, or size=, mode=, uid=, gid=, nr_inodes=",
      });
    }
  }
  return { flags, data: data.join(",") };
}
