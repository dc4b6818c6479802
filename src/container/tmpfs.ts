import { UsageError } from "../errors/mod.ts";
import { MOUNT_OPTION_FLAGS, MS } from "../plan/mod.ts";

/** tmpfs's own data options, passed to the filesystem as they are. */
const TMPFS_DATA = /^(size|mode|uid|gid|nr_inodes|nr_blocks)=[0-9a-zA-Z%]+$/;

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
    else if (TMPFS_DATA.test(o)) data.push(o);
    else {
      throw new UsageError(`${what}: unknown tmpfs option "${o}"`, {
        hint: "use ro, rw, exec, noexec, suid, dev, noatime…, or size=, mode=, uid=, gid=, nr_inodes=",
      });
    }
  }
  return { flags, data: data.join(",") };
}
