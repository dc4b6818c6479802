/**
 * config.json's mounts and devices as the model's filesystem steps (src/model/plan_spec.ts),
 * which the one plan builder (src/engine/build_plan.ts) turns into ops, for a rootless runtime:
 *
 * - `bind`/`rbind` binds the host path; options that set flags (ro, nosuid,
 *   nodev, noexec, rro…) are applied with mount_setattr, propagation too.
 *   Options that clear flags (rw, suid, dev, exec) leave a bind as its source
 *   is: a rootless runtime cannot lift the host's flags.
 * - `proc`, `sysfs`, `mqueue`: mounted anew when the container owns the
 *   matching namespace; otherwise the kernel refuses and the host's mount is
 *   bound instead, with the same read-only and nosuid/nodev/noexec bits
 *   (plan op MOUNT_OR_BIND) — e.g. sysfs when the container shares the host's
 *   network namespace.
 * - `cgroup`/`cgroup2`: a cgroup2 mount where /sys/fs/cgroup is cgroup v2;
 *   on a v1 or hybrid host (where v1 hierarchies cannot be mounted in a user
 *   namespace) the host's /sys/fs/cgroup is bound, read-only when asked.
 * - `devpts` with `gid=5` loses that option when gid 5 is not mapped in the
 *   container (the kernel refuses it).
 * - devices cannot be created in a user namespace: the default ones
 *   (/dev/null, zero, full, random, urandom, tty) and `linux.devices` are
 *   bound from the host's node of the same path, whose owner and mode they
 *   keep (`fileMode`, `uid`, `gid` cannot be applied to it).
 *
 * @module
 */
import { DEFAULT_DEVICES as DEVICE_NAMES } from "../model/oci.ts";
import { DEV_SYMLINKS } from "../model/mounts.ts";
import type { MountAttrChange, RootMount, RootStep } from "../model/plan_spec.ts";
import { CLONE, MOUNT_ATTR, MOUNT_OPTION_FLAGS, MS } from "../plan/mod.ts";
import type { OciDevice, OciMount } from "./config.ts";
import { invalid, unsupported } from "./errors.ts";
import { procMountRefusal } from "../security/mod.ts";

/** Options that set (or clear) mount flags: [set, clear]. */
const FLAG_OPTIONS = MOUNT_OPTION_FLAGS;

/** Recursive variants (runc): applied with mount_setattr(AT_RECURSIVE). */
const RECURSIVE_ATTR_OPTIONS: Record<string, number> = {
  rro: MOUNT_ATTR.RDONLY,
  rnosuid: MOUNT_ATTR.NOSUID,
  rnodev: MOUNT_ATTR.NODEV,
  rnoexec: MOUNT_ATTR.NOEXEC,
};

const PROPAGATION: Record<string, [number, boolean]> = {
  private: [MS.PRIVATE, false],
  rprivate: [MS.PRIVATE, true],
  shared: [MS.SHARED, false],
  rshared: [MS.SHARED, true],
  slave: [MS.SLAVE, false],
  rslave: [MS.SLAVE, true],
  unbindable: [MS.UNBINDABLE, false],
  runbindable: [MS.UNBINDABLE, true],
};

/** Options nook knows and refuses (engine-side options, other runtimes' extensions). */
const REFUSED_OPTIONS: Record<string, string> = {
  idmap: "id-mapped mounts are not implemented",
  ridmap: "id-mapped mounts are not implemented",
  tmpcopyup: "copying the image's files into a tmpfs (crun's tmpcopyup) is not implemented",
  "copy-symlink": "crun's copy-symlink is not implemented",
  z: "SELinux relabelling is the engine's job (z/Z are podman volume options)",
  Z: "SELinux relabelling is the engine's job (z/Z are podman volume options)",
  U: "changing a volume's owner is the engine's job (U is a podman volume option)",
  remount: "remount is not a mount of its own",
  move: "moving mounts is not supported in config.json",
};

/**
 * `linux.rootfsPropagation` → the MS_* flags for the container's `/`, as runc
 * maps them (`shared` is MS_SHARED, `rshared` adds MS_REC). Without a value
 * the root is made a recursive slave (runc's default: host mount events still
 * reach the container) and nothing is applied after pivot_root (`after` is 0).
 * `before` goes to the old root before the rootfs is bound, `after` to the new root.
 */
export function rootPropagation(value: string | undefined): { before: number; after: number } {
  if (value === undefined) return { before: MS.SLAVE | MS.REC, after: 0 };
  const p = PROPAGATION[value];
  if (!p) {
    throw invalid("linux.rootfsPropagation", `is "${value}"`, `use one of ${Object.keys(PROPAGATION).join(", ")}`);
  }
  const flags = p[0] | (p[1] ? MS.REC : 0);
  // An unbindable "/" could not be bound onto the rootfs: it becomes unbindable once it is the root.
  return { before: p[0] === MS.UNBINDABLE ? MS.SLAVE | MS.REC : flags, after: flags };
}

/** What the mount translation needs to know about the container. */
export interface MountContext {
  /** Where `--debug` detail goes (e.g. options a bind mount ignores). */
  debug?: (msg: string) => void;
  /** Is gid 5 mapped in the container's user namespace (undefined: cannot tell, keep gid=5). */
  gid5Mapped: boolean | undefined;
  /** /sys/fs/cgroup on the host is cgroup v2 (not v1 or hybrid). */
  hostCgroup2: boolean;
  /**
   * Device nodes on the container's mounts must not open (MS_NODEV on each,
   * but devpts and mounts whose options say "dev"): the container has no
   * user namespace of its own, where the kernel would refuse them, and no
   * device cgroup enforces `linux.resources.devices` (nook has none).
   */
  nodev?: boolean;
}

function attrsOf(flags: number): number {
  return (flags & MS.RDONLY ? MOUNT_ATTR.RDONLY : 0) | (flags & MS.NOSUID ? MOUNT_ATTR.NOSUID : 0) |
    (flags & MS.NODEV ? MOUNT_ATTR.NODEV : 0) | (flags & MS.NOEXEC ? MOUNT_ATTR.NOEXEC : 0);
}

/** A bind of one device node (an engine's way to pass a device, like linux.devices). */
function isDevice(hostPath: string): boolean {
  try {
    const st = Deno.statSync(hostPath);
    return st.isCharDevice === true || st.isBlockDevice === true;
  } catch {
    return false;
  }
}

function isFile(hostPath: string): boolean {
  try {
    return !Deno.statSync(hostPath).isDirectory;
  } catch {
    return false;
  }
}

/** One config.json mount as a root mount (its target resolves inside the rootfs). */
export function ociMount(m: OciMount, field: string, ctx: MountContext): RootMount {
  let set = 0;
  let clear = 0;
  let recursiveAttrs = 0;
  let bind = m.type === "bind";
  let rec = false;
  const propagation: [number, boolean][] = [];
  const data: string[] = [];
  for (const opt of m.options) {
    if (opt === "bind" || opt === "rbind") {
      bind = true;
      rec ||= opt === "rbind";
    } else if (FLAG_OPTIONS[opt]) {
      set |= FLAG_OPTIONS[opt]![0];
      clear |= FLAG_OPTIONS[opt]![1];
    } else if (RECURSIVE_ATTR_OPTIONS[opt]) {
      recursiveAttrs |= RECURSIVE_ATTR_OPTIONS[opt]!;
    } else if (PROPAGATION[opt]) {
      propagation.push(PROPAGATION[opt]!);
    } else if (REFUSED_OPTIONS[opt]) {
      throw unsupported(`${field}.options`, `"${opt}": ${REFUSED_OPTIONS[opt]}`);
    } else {
      data.push(opt);
    }
  }
  if (ctx.nodev && m.type !== "devpts" && !m.options.includes("dev") && !isDevice(m.source)) {
    // Why: a node made with CAP_MKNOD, or shipped in a volume, would reach the host's device.
    if (bind) recursiveAttrs |= MOUNT_ATTR.NODEV;
    else set |= MS.NODEV;
  }
  const flags = set & ~clear;
  const target = m.destination;
  // Masks, sysctls and labels are written through /proc: nothing but procfs may be there.
  const refusal = procMountRefusal(target, bind ? "" : m.type);
  if (refusal) throw invalid(`${field}.destination`, `"${target}" ${refusal}`, "mount it elsewhere");

  let out: RootMount;
  const attrs: MountAttrChange[] = [];
  if (bind) {
    // Filesystem data (mode=755, size=1k…) means nothing to a bind: runc passes
    // it to mount(2) and the kernel ignores it for MS_BIND, so engines write it.
    if (data.length) {
      ctx.debug?.(
        `${field}: the bind mount at "${target}" ignores the filesystem options ${
          data.map((d) => `"${d}"`).join(", ")
        } (the kernel takes no data for a bind)`,
      );
    }
    out = {
      source: m.source,
      target,
      fstype: "",
      flags: MS.BIND | (rec ? MS.REC : 0),
      data: data.join(","),
      point: isFile(m.source) ? "file" : "dirs",
    };
    // the flags a bind ignores are applied to it afterwards
    const bits = attrsOf(flags) | (flags & MS.NOATIME ? 0x10 : 0);
    if (bits) attrs.push({ set: bits, recursive: rec });
  } else {
    const type = m.type;
    const opts = data.join(",");
    const orBind = (source: string, fstype: string, data: string, hostPath: string): RootMount => ({
      source,
      target,
      fstype,
      flags,
      data,
      orBind: { path: hostPath, attrs: attrsOf(flags) },
    });
    switch (type) {
      case "proc":
        out = orBind(m.source || "proc", "proc", opts, "/proc");
        break;
      case "sysfs":
        out = orBind(m.source || "sysfs", "sysfs", opts, "/sys");
        break;
      case "mqueue":
        out = orBind(m.source || "mqueue", "mqueue", opts, "/dev/mqueue");
        break;
      case "cgroup":
      case "cgroup2":
        if (ctx.hostCgroup2) {
          out = orBind("cgroup2", "cgroup2", "", "/sys/fs/cgroup");
        } else {
          // Why a bind: cgroup v1 hierarchies can only be mounted by the host's root.
          out = { source: "/sys/fs/cgroup", target, fstype: "", flags: MS.BIND | MS.REC };
          if (attrsOf(flags)) attrs.push({ set: attrsOf(flags), recursive: true });
        }
        break;
      case "devpts": {
        const keep = ctx.gid5Mapped === false ? data.filter((d) => d !== "gid=5") : data;
        out = { source: m.source || "devpts", target, fstype: "devpts", flags, data: keep.join(",") };
        break;
      }
      case "":
      case "none":
        throw invalid(`${field}.type`, "is missing; give a filesystem type, or a bind or rbind option");
      default:
        out = { source: m.source || type, target, fstype: type, flags, data: opts };
    }
  }
  if (recursiveAttrs) attrs.push({ set: recursiveAttrs, recursive: true });
  for (const [prop, recursive] of propagation) attrs.push({ set: 0, propagation: prop, recursive });
  if (attrs.length) out.attrs = attrs;
  return out;
}

/** Device nodes every container gets (the model's default set, as /dev paths). */
export const DEFAULT_DEVICES: readonly string[] = DEVICE_NAMES.map((d) => `/dev/${d}`);

/** major and minor of a dev_t (glibc's encoding). */
function devNumbers(rdev: number): [number, number] {
  const d = BigInt(rdev);
  const major = ((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn);
  const minor = (d & 0xffn) | ((d >> 12n) & ~0xffn & 0xffff_ff00n);
  return [Number(major), Number(minor)];
}

/**
 * Bind the default devices and `linux.devices` from the host, and make the
 * /dev symlinks of the spec (fd, stdin, stdout, stderr, ptmx → pts/ptmx)
 * and, for a terminal, the mount point of /dev/console.
 */
export function deviceSteps(devices: readonly OciDevice[], terminal: boolean): RootStep[] {
  const steps: RootStep[] = [];
  const wanted = new Map<string, { field?: string; dev?: OciDevice }>();
  for (const d of DEFAULT_DEVICES) wanted.set(d, {});
  devices.forEach((dev, i) => wanted.set(dev.path, { field: `linux.devices[${i}]`, dev }));
  for (const [path, { field, dev }] of wanted) {
    let st: Deno.FileInfo;
    try {
      st = Deno.statSync(path);
    } catch {
      if (!field) continue; // a host without this default device: the container lacks it too
      throw unsupported(
        `${field}.path`,
        `"${path}" does not exist on the host, and device nodes cannot be created in a user namespace`,
        "a rootless container can only have the host's own device nodes",
      );
    }
    if (dev && field) {
      const kind = dev.type === "p" ? st.isFifo : dev.type === "b" ? st.isBlockDevice : st.isCharDevice;
      if (!kind) throw invalid(`${field}.type`, `is "${dev.type}", but the host's "${path}" is another kind of file`);
      if (dev.type !== "p" && st.rdev !== null) {
        const [major, minor] = devNumbers(st.rdev);
        if (major !== dev.major || minor !== dev.minor) {
          throw invalid(
            field,
            `asks for device ${dev.major}:${dev.minor} at "${path}", but the host's node there is ${major}:${minor}`,
            "a rootless container binds the host's node of the same path",
          );
        }
      }
    }
    // Why bind and not mknod: device nodes cannot be created in a user namespace.
    steps.push({ mount: { source: path, target: path, fstype: "", flags: MS.BIND, point: "file", mode: 0o666 } });
  }
  for (const [target, path] of DEV_SYMLINKS) steps.push({ symlink: path, target });
  if (terminal) steps.push({ file: "/dev/console", mode: 0o600 });
  return steps;
}

/** Namespaces a sysctl key needs (runc's rule: only namespaced sysctls may be set). */
export function sysctlNamespace(key: string): number | undefined {
  const k = key.replaceAll("/", ".");
  const ipc = [
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
  ];
  if (ipc.includes(k) || k.startsWith("fs.mqueue.")) return CLONE.NEWIPC;
  if (k.startsWith("net.")) return CLONE.NEWNET;
  if (k === "kernel.hostname" || k === "kernel.domainname") return CLONE.NEWUTS;
  return undefined;
}
