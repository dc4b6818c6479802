import { UsageError } from "../errors/mod.ts";
import type { MountSpec } from "../model/container.ts";
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

/**
 * `--tmpfs /path[:opts]` as docker parses it: mount flags (ro, noexec…) and
 * tmpfs data (size=, mode=…), comma-separated; nosuid,nodev,noexec unless
 * the options say otherwise.
 */
export function parseTmpfs(value: string): MountSpec {
  const i = value.indexOf(":");
  const target = i < 0 ? value : value.slice(0, i);
  if (!target.startsWith("/")) {
    throw new UsageError(`--tmpfs "${value}": the path must be absolute`, { hint: "e.g. --tmpfs /run:size=64m" });
  }
  const { flags, data } = tmpfsOptions((i < 0 ? "" : value.slice(i + 1)).split(","), `--tmpfs "${value}"`);
  return { source: "tmpfs", target: target.replace(/(.)\/+$/, "$1"), fstype: "tmpfs", flags, data };
}

/** The tmpfs mounts of `--tmpfs` values, plus `--read-only-tmpfs`'s (only with a read-only root). */
export function tmpfsMounts(values: readonly string[], readOnlyTmpfs: boolean, readonlyRootfs: boolean): MountSpec[] {
  const mounts = values.map(parseTmpfs);
  if (readonlyRootfs && readOnlyTmpfs) {
    for (const [path, mode] of [["/tmp", "1777"], ["/var/tmp", "1777"], ["/run", "755"]] as const) {
      if (!mounts.some((m) => m.target === path)) {
        mounts.push({
          source: "tmpfs",
          target: path,
          fstype: "tmpfs",
          flags: MS.NOSUID | MS.NODEV,
          data: `mode=${mode}`,
        });
      }
    }
  }
  return mounts;
}
