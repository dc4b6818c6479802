import type { IdMapping } from "../userns/mod.ts";
import { DEFAULT_DEVICES } from "../model/oci.ts";
import { DEFAULT_MOUNTS, type DefaultMount, DEVPTS_TTY_GID } from "../model/mounts.ts";
import { isMapped } from "../userns/mod.ts";
import { CLONE, MOUNT_ATTR, MOUNT_OPTION_FLAGS, MS, Plan, SetIdFlag, SIGNALS } from "../plan/mod.ts";
import type { ContainerSpec } from "../model/container.ts";
import { addPathProtections, decideSecurity, procMountRefusal } from "../security/mod.ts";
import { UsageError } from "../errors/mod.ts";
import { addProcessSetup } from "./process_setup.ts";
import { applyRootfsSetup } from "../overlay/setup_plan.ts";

/** The SYNC tag at which a container on a user network is wired (its namespaces exist, nothing runs yet). */
export const USER_NETWORK_SYNC = 0x6e6574;

/** The seven namespaces of a default container (net only when not sharing the host's). */
export const NAMESPACES = ["user", "mnt", "pid", "uts", "ipc", "net", "cgroup"] as const;

/** Device nodes bound from the host into the container's /dev (rootless cannot mknod): the model's default set. */
export const DEVICES = DEFAULT_DEVICES;

/** The PATH a container gets when it names none: the one docker and podman give. */
export const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/**
 * Candidate paths for execve: execvp's search, done here so the C side never
 * searches. A name with a slash is used as is; otherwise each PATH entry.
 */
export function execCandidates(cmd: string, env: readonly string[]): string[] {
  if (cmd.includes("/")) return [cmd];
  const pathVar = env.findLast((e) => e.startsWith("PATH="))?.slice(5) ?? DEFAULT_PATH;
  const dirs = pathVar.split(":").map((d) => d || ".");
  return [...new Set(dirs.map((d) => `${d.replace(/\/+$/, "")}/${cmd}`))];
}

/**
 * Compile a container spec into a plan. The order is the contract:
 * propagation private → bind the rootfs → (inside it) proc, dev, sys, /etc
 * files, user mounts → pivot_root → read-only root → masked paths → hostname,
 * loopback → [init] → [pty] → stdin → cwd, rlimits, umask → bounding set →
 * ids → seccomp, capabilities → exec (src/security/plan_ops.ts).
 */
export function buildPlan(spec: ContainerSpec, mapping: IdMapping): Plan {
  let flags = CLONE.NEWUSER | CLONE.NEWNS | CLONE.NEWPID | CLONE.NEWUTS | CLONE.NEWIPC | CLONE.NEWCGROUP;
  // Every mode but host has a network namespace of its own (pasta/slirp4netns connect it).
  if (spec.network !== "host") flags |= CLONE.NEWNET;
  // cgroup: a namespace made at clone would be rooted at nook's cgroup, not the container's
  if (spec.privateCgroup) flags &= ~CLONE.NEWCGROUP;
  // A container on a user network is made inside the shared user namespace (its owner can wire
  // network namespaces together): join it, unshare the rest there, stop while nook makes the
  // veth, and fork so the new pid namespace applies.
  const shared = spec.joinUserns;
  const p = new Plan(shared ? 0 : flags);
  const r = spec.rootfs;
  const nosuidNodevNoexec = MS.NOSUID | MS.NODEV | MS.NOEXEC;
  const d = DEFAULT_MOUNTS;

  // Why: with its own id maps (--userns) the caller may not be root inside; the child holds every
  // capability of its namespace, but the helpers it runs (fuse-overlayfs) keep them only as root.
  // Before pdeathsig: a change of credentials clears it.
  const keepGroups = spec.process.keepGroups ? SetIdFlag.SKIP_SETGROUPS : 0;
  if (spec.idMap && isMapped(mapping.uidMap, 0) && isMapped(mapping.gidMap, 0)) p.setid(0, 0, [], SetIdFlag.KEEP_CAPS | keepGroups);
  // If nook dies before the container starts, the half-made container goes too.
  p.pdeathsig(SIGNALS.SIGKILL!);
  if (shared) {
    // the user namespace first (it grants the right to join the others), then what is shared
    // with another container (JOIN_ORDER), then the rest made anew
    p.setns(shared, CLONE.NEWUSER);
    let fresh = flags & ~CLONE.NEWUSER;
    const join = spec.joinNamespaces ?? {};
    for (const [path, flag] of [[join.ipc, CLONE.NEWIPC], [join.network, CLONE.NEWNET], [join.pid, CLONE.NEWPID]] as const) {
      if (path === undefined) continue;
      p.setns(path, flag);
      fresh &= ~flag;
    }
    p.unshare(fresh);
    if (spec.userNetwork) {
      // nook opens this process's /proc/PID/ns/net to configure its interface: dumpable only for
      // that stop, while it is still in nook's pid namespace, where no container process sees it
      p.dumpable(true);
      p.sync(USER_NETWORK_SYNC);
      p.dumpable(false);
    }
    // the fork enters the new (or joined) pid namespace; its child is non-dumpable until it execs
    p.fork();
    p.pdeathsig(SIGNALS.SIGKILL!);
  }
  // cgroup: after GO the process is in its own cgroup: root its cgroup namespace there.
  if (spec.privateCgroup) p.unshare(CLONE.NEWCGROUP);
  // Nothing we mount may propagate back to the host's mount namespace.
  p.mount("", "/", "", MS.REC | MS.PRIVATE);
  // An image's root is assembled here first: overlay of its layers.
  if (spec.rootfsSetup) applyRootfsSetup(p, spec.rootfsSetup);
  // pivot_root needs the new root to be a mount point.
  p.mount(r, r, "", MS.BIND | MS.REC);
  p.root(r);

  mountDefault(p, d.proc);
  mountDefault(p, d.dev);
  for (const dev of DEVICES) {
    p.mkfile(`/dev/${dev}`, 0o666);
    // Why bind and not mknod: device nodes cannot be created in a user namespace.
    p.mount(`/dev/${dev}`, `/dev/${dev}`, "", MS.BIND);
  }
  for (const dev of spec.devices ?? []) {
    // --device: bound like the default set; read-only unless asked writable
    p.mkdirAll(parentOf(dev.container));
    p.mkfile(dev.container, 0o666);
    p.mount(dev.host, dev.container, "", MS.BIND);
    if (!dev.writable) p.setattr(dev.container, MOUNT_ATTR.RDONLY, 0, 0, false);
  }
  p.symlink("/proc/self/fd", "/dev/fd");
  p.symlink("/proc/self/fd/0", "/dev/stdin");
  p.symlink("/proc/self/fd/1", "/dev/stdout");
  p.symlink("/proc/self/fd/2", "/dev/stderr");
  p.symlink("/proc/kcore", "/dev/core");
  p.symlink("pts/ptmx", "/dev/ptmx");
  // gid=5 (tty) only exists when more than our own gid is mapped.
  mountDefault(p, d.devpts, devptsGid(spec, mapping));
  mountDefault(p, d.shm);
  mountDefault(p, d.mqueue);

  if (spec.network !== "host") {
    // sysfs may be mounted by the owner of the network namespace: we own ours.
    mountDefault(p, d.sys);
  } else {
    p.mkdir("/sys", d.sysBind.mode);
    // With the host's network, sysfs cannot be mounted anew: bind the host's, read-only.
    p.mount("/sys", "/sys", "", MS.BIND | MS.REC);
    p.setattr("/sys", MOUNT_ATTR.RDONLY | MOUNT_ATTR.NOSUID | MOUNT_ATTR.NODEV | MOUNT_ATTR.NOEXEC, 0, 0, true);
  }
  // cgroup: the container's own subtree, writable (its root is the user inside), on the read-only /sys
  if (spec.privateCgroup) p.mount("cgroup2", "/sys/fs/cgroup", "cgroup2", nosuidNodevNoexec);

  p.mkdir("/etc");
  for (const [target, source] of [
    ["/etc/hosts", spec.etcFiles.hosts],
    ["/etc/hostname", spec.etcFiles.hostname],
    ["/etc/resolv.conf", spec.etcFiles.resolvConf],
  ] as const) {
    p.mkfile(target);
    p.mount(source, target, "", MS.BIND);
  }

  for (const m of spec.mounts) {
    // Masks and labels are written through /proc: a volume there would fake it.
    const refusal = procMountRefusal(m.target, m.fstype);
    if (refusal) {
      throw new UsageError(`The mount target "${m.target}" ${refusal}`, {
        path: m.target,
        hint: "mount it elsewhere (an image's VOLUME there is refused too)",
      });
    }
    if (m.file) {
      p.mkdirAll(parentOf(m.target));
      p.mkfile(m.target);
    } else {
      p.mkdirAll(m.target);
    }
    p.mount(m.source, m.target, m.fstype, m.flags, m.data ?? "");
    if (m.readonly) p.setattr(m.target, MOUNT_ATTR.RDONLY, 0, 0, (m.flags & MS.REC) !== 0);
  }

  if (spec.process.cwd !== "/") p.mkdirAll(spec.process.cwd);

  p.pivotRoot(r);
  if (spec.idMapBelow && spec.network !== "host") {
    // The network namespace belongs to the namespace above the process's: its CAP_NET_BIND_SERVICE
    // does not reach it, so low ports are opened to every id of the container (docker's default)
    p.write("/proc/sys/net/ipv4/ip_unprivileged_port_start", "0\n");
  }
  if (spec.readonlyRootfs) p.setattr("/", MOUNT_ATTR.RDONLY);
  const security = spec.security ?? decideSecurity({ uid: spec.process.uid }).security;
  addPathProtections(p, security);
  p.sethostname(spec.hostname);
  if (spec.network !== "host") p.loopbackUp();

  if (spec.idMapBelow) {
    // Maps without the caller: the root was set up in a namespace where nook's helpers reach the
    // store; the container's process goes below it, with mount and uts namespaces of its own there
    // (root inside may mount and set the hostname; what was mounted above stays locked).
    const text = (l: readonly { inside: number; outside: number; count: number }[]) => l.map((x) => `${x.inside} ${x.outside} ${x.count}\n`).join("");
    // dumpable for that step only: its helper opens this process's /proc/PID/uid_map (nothing of
    // the container runs yet)
    p.dumpable(true);
    p.usernsBelow(CLONE.NEWNS | CLONE.NEWUTS, text(spec.idMapBelow.uidMap), text(spec.idMapBelow.gidMap));
    p.dumpable(false);
    // root of the namespace below from here (the caller's id, which it was, is unmapped there), so
    // that what the setup opens (the terminal) belongs to root inside, as in the other modes
    if (isMapped(spec.idMapBelow.uidMap, 0) && isMapped(spec.idMapBelow.gidMap, 0)) p.setid(0, 0, [], SetIdFlag.KEEP_CAPS | keepGroups);
  }
  const proc = spec.process;
  // Without -i the container reads nothing (docker); with -t its stdin stays the terminal.
  addProcessSetup(p, { ...proc, stdin: proc.stdin || proc.terminal }, {
    security,
    skipSetgroups: mapping.mode === "single",
    rootKeepsIds: true,
  });
  p.exec(execCandidates(proc.args[0]!, proc.env), proc.args, proc.env);
  return p;
}

/** devpts' gid= option: the tty group (5) of the container's process, when that id is mapped. */
function devptsGid(spec: ContainerSpec, mapping: IdMapping): string[] {
  const below = spec.idMapBelow?.gidMap.find((r) => 5 >= r.inside && 5 < r.inside + r.count);
  if (spec.idMapBelow) return below && isMapped(mapping.gidMap, below.outside + 5 - below.inside) ? [`gid=${below.outside + 5 - below.inside}`] : [];
  return isMapped(mapping.gidMap, 5) ? [DEVPTS_TTY_GID] : [];
}

function parentOf(path: string): string {
  const i = path.replace(/\/+$/, "").lastIndexOf("/");
  return i <= 0 ? "/" : path.slice(0, i);
}

/** One of the model's default mounts as ops: its mount point, then the mount with its options split into flags and data. */
function mountDefault(p: Plan, m: DefaultMount, extra: readonly string[] = []): void {
  let flags = 0;
  const data: string[] = [];
  for (const o of [...m.options, ...extra]) {
    const f = MOUNT_OPTION_FLAGS[o];
    if (f) flags = (flags | f[0]) & ~f[1];
    else data.push(o);
  }
  p.mkdir(m.destination, m.mode);
  p.mount(m.source, m.destination, m.type, flags, data.join(","));
}
