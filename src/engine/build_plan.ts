/**
 * The one plan builder: a {@link PlanSpec} (src/model/plan_spec.ts) compiled into a plan, for
 * both front doors. `nook run`'s ContainerSpec is turned into a PlanSpec here ({@link runPlanSpec},
 * in this file so the run path loads no other module); the runtime front door turns a checked
 * config.json into one in src/oci/plan_spec.ts. The order is the contract (runc's, where it
 * matters); every step in brackets is there only when the spec asks for it:
 *
 *   [BARRIER_OPEN fifo]                (a host path, before anything resolves in the rootfs)
 *   namespaces, either
 *     clone(the new ones) → [SETID root of the new user namespace] → [PDEATHSIG] → [SETNS joined]
 *   or, when a user namespace is joined, or one is made besides joined namespaces
 *   (it grants the rights to join the others and to make the rest; see {@link joinsFirst}):
 *     [PDEATHSIG] → SETNS joined (JOIN_ORDER: user first) → UNSHARE the new ones
 *     → [DUMPABLE 1, SYNC namespaces, DUMPABLE 0]   (id maps of a new user namespace, veth wiring)
 *     → [NETLINK_FILE]                 (the container's ends of the veths made at that SYNC)
 *     → [SETID root of the new user namespace]
 *   [FORK (+ PDEATHSIG)]               (a pid namespace joined, or made by UNSHARE)
 *   [UNSHARE cgroup]                   (after the parent placed the process in its cgroup)
 *   propagation of / (rprivate for `nook run`, rslave by default for the runtime)
 *   → [assemble the rootfs: overlay, helpers] → bind the rootfs [→ private → bind again, when shared]
 *   → [nodev on it] → ROOT(rootfs) → the filesystem steps in order (mounts, devices, symlinks)
 *   → [sysctl writes] → [mkdir cwd]
 *   → [DUMPABLE 1] → [SYNC before pivot]  (the runtime's create hooks)
 *   pivot_root (chroot with --no-pivot) → [writes through the new /proc] → [read-only root]
 *   → read-only and masked paths → [propagation of the new root] → [hostname] → [domainname]
 *   → [loopback up] → [personality]
 *   → [DUMPABLE 1, USERNS_BELOW, DUMPABLE 0, SETID root below]   (maps that leave out the caller)
 *   → the process setup (process_setup.ts): [init] → [PTY, /dev/console] → stdin → [KEEP_FDS]
 *     → cwd, rlimits, umask → LSM labels, no_new_privs, bounding set → SETID → seccomp, capabilities
 *   → [SYNC created] → [BARRIER_WAIT] → EXEC
 *
 * Everything that can fail comes before SYNC created, so `nook runtime create` reports it.
 *
 * @module
 */
import type { IdMapping } from "../userns/mod.ts";
import { DEFAULT_DEVICES, JOIN_ORDER } from "../model/oci.ts";
import { DEFAULT_MOUNTS, type DefaultMount, DEV_SYMLINKS, DEVPTS_TTY_GID } from "../model/mounts.ts";
import type { NamespaceSpec, PlanSpec, RootMount, RootStep } from "../model/plan_spec.ts";
import { isMapped } from "../userns/mod.ts";
import { CLONE, CLONE_FLAG, MOUNT_ATTR, MOUNT_OPTION_FLAGS, MS, Plan, SetIdFlag, SIGNALS } from "../plan/mod.ts";
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
 * The namespaces are joined first and the new ones then unshared, rather than cloned: a user
 * namespace is joined (it grants the rights to join the others and to make the rest), or a new
 * one is made besides joined namespaces (joined after it, they would need rights in it that
 * their owner's namespace holds).
 */
export function joinsFirst(namespaces: readonly NamespaceSpec[]): boolean {
  const joined = namespaces.some((n) => n.path !== undefined);
  return namespaces.some((n) => n.type === "user" && (n.path !== undefined || joined));
}

/** Compile a container's {@link PlanSpec} into its plan, in the order of this file's header. */
export function compilePlan(s: PlanSpec): Plan {
  let newFlags = 0;
  const joins: { type: NamespaceSpec["type"]; path: string }[] = [];
  for (const ns of s.namespaces) {
    if (ns.path !== undefined) joins.push({ type: ns.type, path: ns.path });
    else newFlags |= CLONE_FLAG[ns.type];
  }
  joins.sort((a, b) => JOIN_ORDER.indexOf(a.type) - JOIN_ORDER.indexOf(b.type));
  const first = joinsFirst(s.namespaces);
  // cgroup: a namespace made at clone would be rooted at nook's cgroup, not the container's
  const late = s.cgroupNsAfterPlacement ? newFlags & CLONE.NEWCGROUP : 0;
  const early = newFlags & ~late;
  const p = new Plan(first ? 0 : early);
  if (s.barrier) p.barrierOpen(s.barrier);
  // Become root of the new user namespace once its maps are written, as runc does: the process
  // keeps the ids it had (real root's 0, or the user's) until it sets them, and where those are
  // not mapped the kernel refuses every file it would create (EOVERFLOW). Why keep the
  // capabilities: the helpers the child runs (fuse-overlayfs) keep them only as root. Before
  // PDEATHSIG: a change of credentials clears it.
  const setRoot = () =>
    p.setid(0, 0, [], SetIdFlag.KEEP_CAPS | (s.becomeRoot!.skipSetgroups ? SetIdFlag.SKIP_SETGROUPS : 0));
  if (!first && s.becomeRoot && early & CLONE.NEWUSER) setRoot();
  // If nook dies before the container starts, the half-made container goes too.
  if (s.dieWithParent) p.pdeathsig(SIGNALS.SIGKILL!);
  for (const j of joins) p.setns(j.path, CLONE_FLAG[j.type]);
  if (first && early) p.unshare(early);
  if (first && s.syncs.namespaces) {
    // The parent opens this process's /proc/PID (newuidmap checks that the user owns it; a user
    // network's veth goes into its ns/net): dumpable only for that stop, while it is still in
    // nook's pid namespace, where no container process can see it.
    p.dumpable(true).sync(s.syncs.namespaces).dumpable(false);
    // the interfaces the parent made at the SYNC, configured from in here: no ip process in this
    // namespace (a host path: nothing is mounted yet)
    if (s.netlinkAfterSync) p.netlinkFile(s.netlinkAfterSync, "configure the container's network interfaces");
  }
  if (first && s.becomeRoot && early & CLONE.NEWUSER) setRoot();
  // setns(CLONE_NEWPID) and unshare(CLONE_NEWPID) apply to children: the fork enters the pid
  // namespace; its child is non-dumpable until it execs.
  if (joins.some((j) => j.type === "pid") || (first && early & CLONE.NEWPID)) {
    p.fork();
    if (s.dieWithParent) p.pdeathsig(SIGNALS.SIGKILL!);
  }
  // cgroup: after GO the process is in its own cgroup: root its cgroup namespace there.
  if (late) p.unshare(late);

  const r = s.rootfs;
  // Nothing mounted here may propagate back to the host's mount namespace (unless asked).
  p.mount("", "/", "", s.propagation.before);
  // An image's root is assembled here first: overlay of its layers.
  if (s.rootfsSetup) applyRootfsSetup(p, s.rootfsSetup);
  // pivot_root needs the new root to be a mount point.
  p.mount(r, r, "", MS.BIND | MS.REC);
  if (s.propagation.before & MS.SHARED) {
    // The kernel refuses pivot_root (EINVAL) when the new root or the mount under it is shared.
    // runc makes the rootfs's parent mount private and binds again; here the first bind is that
    // parent: made private, with a private bind on top that becomes the root. The requested
    // propagation is applied to the new root after pivot_root.
    p.mount("", r, "", MS.PRIVATE);
    p.mount(r, r, "", MS.BIND | MS.REC);
  }
  if (s.rootNodev) p.setattr(r, MOUNT_ATTR.NODEV, 0, 0, true);
  p.root(r);
  for (const step of s.steps) addStep(p, step);
  for (const [key, value] of s.sysctls) p.write(`/proc/sys/${key.replaceAll(".", "/")}`, value);
  if (s.process.cwd !== "/") p.mkdirAll(s.process.cwd);
  if (s.dumpableAfterMounts) p.dumpable(true);
  if (s.syncs.beforePivot) p.sync(s.syncs.beforePivot);

  if (s.noPivot) p.chroot(r);
  else p.pivotRoot(r);
  for (const [path, value] of s.writesAfterPivot ?? []) p.write(path, value);
  if (s.readonlyRoot) p.setattr("/", MOUNT_ATTR.RDONLY);
  addPathProtections(p, s.security);
  // runc's order: the requested propagation applies to the new root once it is "/" (a shared
  // root before would have made pivot_root fail), and after the masked and read-only paths,
  // which are binds an unbindable tree would refuse.
  if (s.propagation.after) p.mount("", "/", "", s.propagation.after);
  if (s.hostname !== undefined) p.sethostname(s.hostname);
  if (s.domainname !== undefined) p.setdomainname(s.domainname);
  if (s.loopback) p.loopbackUp();
  if (s.personality !== undefined) p.personality(s.personality);
  if (s.usernsBelow) {
    const b = s.usernsBelow;
    // dumpable for that step only: its helper opens this process's /proc/PID/uid_map (nothing of
    // the container runs yet)
    p.dumpable(true).usernsBelow(b.flags, b.uidMap, b.gidMap).dumpable(false);
    // root of the namespace below from here (the caller's id, which it was, is unmapped there), so
    // that what the setup opens (the terminal) belongs to root inside, as in the other modes
    if (b.becomeRoot) p.setid(0, 0, [], SetIdFlag.KEEP_CAPS | (b.becomeRoot.skipSetgroups ? SetIdFlag.SKIP_SETGROUPS : 0));
  }
  addProcessSetup(p, s.process, {
    security: s.security,
    skipSetgroups: s.skipSetgroups,
    ...(s.rootKeepsIds ? { rootKeepsIds: true } : {}),
    ...(s.preserveFds ? { preserveFds: s.preserveFds } : {}),
    ...(s.consoleBind ? { consoleBind: true } : {}),
  });
  if (s.syncs.created) p.sync(s.syncs.created);
  if (s.barrier) p.barrierWait();
  const proc = s.process;
  p.exec(execCandidates(proc.args[0]!, proc.env), proc.args, proc.env);
  return p;
}

function addStep(p: Plan, step: RootStep): void {
  if ("mount" in step) addRootMount(p, step.mount);
  else if ("dir" in step) p.mkdir(step.dir, step.mode);
  else if ("file" in step) p.mkfile(step.file, step.mode);
  else p.symlink(step.target, step.symlink);
}

function addRootMount(p: Plan, m: RootMount): void {
  switch (m.point ?? "dirs") {
    case "dirs":
      p.mkdirAll(m.target, m.mode);
      break;
    case "file":
      p.mkdirAll(parentOf(m.target));
      p.mkfile(m.target, m.mode);
      break;
    case "dir":
      p.mkdir(m.target, m.mode);
      break;
    case "node":
      p.mkfile(m.target, m.mode);
      break;
  }
  if (m.orBind) p.mountOrBind(m.source, m.target, m.fstype, m.flags, m.data ?? "", m.orBind.path, m.orBind.attrs);
  else p.mount(m.source, m.target, m.fstype, m.flags, m.data ?? "");
  for (const a of m.attrs ?? []) p.setattr(m.target, a.set, 0, a.propagation ?? 0, a.recursive);
}

/** The parent directory of an absolute path. */
export function parentOf(path: string): string {
  const i = path.replace(/\/+$/, "").lastIndexOf("/");
  return i <= 0 ? "/" : path.slice(0, i);
}

/** Compile `nook run`'s container into its plan ({@link runPlanSpec}, then {@link compilePlan}). */
export function buildPlan(spec: ContainerSpec, mapping: IdMapping): Plan {
  return compilePlan(runPlanSpec(spec, mapping));
}

/**
 * `nook run`'s container as the builder's {@link PlanSpec}: new namespaces (a user network's or
 * a shared container's joined), a private root, the default mounts (proc, dev and its nodes and
 * links, devpts, shm, mqueue, sys), /etc files, volumes in order; pivot_root, hostname, loopback,
 * the process; the process dies with nook until it execs.
 */
export function runPlanSpec(spec: ContainerSpec, mapping: IdMapping): PlanSpec {
  const d = DEFAULT_MOUNTS;
  const nosuidNodevNoexec = MS.NOSUID | MS.NODEV | MS.NOEXEC;
  // A container on a user network is made inside the shared user namespace (its owner can wire
  // network namespaces together): join it, with what it shares with another container, and make
  // the rest there.
  const join = spec.joinNamespaces ?? {};
  const ns = (type: NamespaceSpec["type"], path: string | undefined): NamespaceSpec =>
    path === undefined ? { type } : { type, path };
  const namespaces: NamespaceSpec[] = [
    ns("user", spec.joinUserns),
    ns("mount", undefined),
    ns("pid", join.pid),
    ns("uts", join.uts),
    ns("ipc", join.ipc),
    ns("cgroup", undefined),
  ];
  // Every mode but host has a network namespace of its own (pasta/slirp4netns connect it).
  if (spec.network !== "host" || join.network !== undefined) namespaces.push(ns("network", join.network));

  const steps: RootStep[] = [{ mount: defaultMount(d.proc) }, { mount: defaultMount(d.dev) }];
  for (const dev of DEVICES) {
    // Why bind and not mknod: device nodes cannot be created in a user namespace.
    const path = `/dev/${dev}`;
    steps.push({ mount: { source: path, target: path, fstype: "", flags: MS.BIND, point: "node", mode: 0o666 } });
  }
  for (const dev of spec.devices ?? []) {
    // --device: bound like the default set; read-only unless asked writable
    const m: RootMount = {
      source: dev.host,
      target: dev.container,
      fstype: "",
      flags: MS.BIND,
      point: "file",
      mode: 0o666,
    };
    if (!dev.writable) m.attrs = [{ set: MOUNT_ATTR.RDONLY, recursive: false }];
    steps.push({ mount: m });
  }
  // docker's /dev/core among runc's links, in the order the plan has always made them
  const links = [...DEV_SYMLINKS];
  links.splice(links.length - 1, 0, ["/proc/kcore", "/dev/core"]);
  for (const [target, path] of links) steps.push({ symlink: path, target });
  // gid=5 (tty) only exists when more than our own gid is mapped.
  steps.push({ mount: defaultMount(d.devpts, devptsGid(spec, mapping)) });
  steps.push({ mount: defaultMount(d.shm) }, { mount: defaultMount(d.mqueue) });
  if (spec.network !== "host") {
    // sysfs may be mounted by the owner of the network namespace: we own ours.
    steps.push({ mount: defaultMount(d.sys) });
  } else {
    // With the host's network, sysfs cannot be mounted anew: bind the host's, read-only.
    steps.push({
      mount: {
        source: "/sys",
        target: "/sys",
        fstype: "",
        flags: MS.BIND | MS.REC,
        point: "dir",
        mode: d.sysBind.mode,
        attrs: [{ set: MOUNT_ATTR.RDONLY | MOUNT_ATTR.NOSUID | MOUNT_ATTR.NODEV | MOUNT_ATTR.NOEXEC, recursive: true }],
      },
    });
  }
  // cgroup: the container's own subtree, writable (its root is the user inside), on the read-only /sys
  if (spec.privateCgroup) {
    steps.push({
      mount: {
        source: "cgroup2",
        target: "/sys/fs/cgroup",
        fstype: "cgroup2",
        flags: nosuidNodevNoexec,
        point: "exists",
      },
    });
  }
  steps.push({ dir: "/etc" });
  for (
    const [target, source] of [
      ["/etc/hosts", spec.etcFiles.hosts],
      ["/etc/hostname", spec.etcFiles.hostname],
      ["/etc/resolv.conf", spec.etcFiles.resolvConf],
    ] as const
  ) steps.push({ mount: { source, target, fstype: "", flags: MS.BIND, point: "node" } });
  for (const m of spec.mounts) {
    // Masks and labels are written through /proc: a volume there would fake it.
    const refusal = procMountRefusal(m.target, m.fstype);
    if (refusal) {
      throw new UsageError(`The mount target "${m.target}" ${refusal}`, {
        path: m.target,
        hint: "mount it elsewhere (an image's VOLUME there is refused too)",
      });
    }
    const rm: RootMount = {
      source: m.source,
      target: m.target,
      fstype: m.fstype,
      flags: m.flags,
      point: m.file ? "file" : "dirs",
    };
    if (m.data !== undefined) rm.data = m.data;
    if (m.readonly) rm.attrs = [{ set: MOUNT_ATTR.RDONLY, recursive: (m.flags & MS.REC) !== 0 }];
    steps.push({ mount: rm });
  }

  const proc = spec.process;
  const out: PlanSpec = {
    namespaces,
    cgroupNsAfterPlacement: spec.privateCgroup === true,
    dieWithParent: true,
    // a user network's veth is made at this stop (networks.ts)
    syncs: spec.userNetwork ? { namespaces: USER_NETWORK_SYNC } : {},
    ...(spec.userNetwork?.linkSetup ? { netlinkAfterSync: spec.userNetwork.linkSetup } : {}),
    propagation: { before: MS.REC | MS.PRIVATE, after: 0 },
    rootfs: spec.rootfs,
    rootNodev: false,
    steps,
    sysctls: [],
    dumpableAfterMounts: false,
    noPivot: false,
    readonlyRoot: spec.readonlyRootfs,
    // a joined uts namespace keeps its owner's hostname
    ...(join.uts === undefined ? { hostname: spec.hostname } : {}),
    loopback: spec.network !== "host",
    // Without -i the container reads nothing (docker); with -t its stdin stays the terminal.
    process: { ...proc, stdin: proc.stdin || proc.terminal },
    security: spec.security ?? decideSecurity({ uid: spec.process.uid }).security,
    skipSetgroups: mapping.mode === "single",
    rootKeepsIds: true,
  };
  // With its own id maps (--userns) the caller may not be root inside.
  if (spec.idMap && isMapped(mapping.uidMap, 0) && isMapped(mapping.gidMap, 0)) {
    out.becomeRoot = { skipSetgroups: spec.process.keepGroups === true };
  }
  if (spec.rootfsSetup) out.rootfsSetup = spec.rootfsSetup;
  if (spec.idMapBelow) {
    // Maps without the caller: the root was set up in a namespace where nook's helpers reach the
    // store; the container's process goes below it, with mount and uts namespaces of its own there
    // (root inside may mount and set the hostname; what was mounted above stays locked).
    const text = (l: readonly { inside: number; outside: number; count: number }[]) => l.map((x) => `${x.inside} ${x.outside} ${x.count}\n`).join("");
    out.usernsBelow = {
      flags: CLONE.NEWNS | CLONE.NEWUTS,
      uidMap: text(spec.idMapBelow.uidMap),
      gidMap: text(spec.idMapBelow.gidMap),
      ...(isMapped(spec.idMapBelow.uidMap, 0) && isMapped(spec.idMapBelow.gidMap, 0)
        ? { becomeRoot: { skipSetgroups: spec.process.keepGroups === true } }
        : {}),
    };
    // The network namespace belongs to the namespace above the process's: its CAP_NET_BIND_SERVICE
    // does not reach it, so low ports are opened to every id of the container (docker's default)
    if (spec.network !== "host") out.writesAfterPivot = [["/proc/sys/net/ipv4/ip_unprivileged_port_start", "0\n"]];
  }
  return out;
}

/** devpts' gid= option: the tty group (5) of the container's process, when that id is mapped. */
function devptsGid(spec: ContainerSpec, mapping: IdMapping): string[] {
  const below = spec.idMapBelow?.gidMap.find((r) => 5 >= r.inside && 5 < r.inside + r.count);
  if (spec.idMapBelow) return below && isMapped(mapping.gidMap, below.outside + 5 - below.inside) ? [`gid=${below.outside + 5 - below.inside}`] : [];
  return isMapped(mapping.gidMap, 5) ? [DEVPTS_TTY_GID] : [];
}

/** One of the model's default mounts as a root mount: its mount point, then the mount with its options split into flags and data. */
function defaultMount(m: DefaultMount, extra: readonly string[] = []): RootMount {
  let flags = 0;
  const data: string[] = [];
  for (const o of [...m.options, ...extra]) {
    const f = MOUNT_OPTION_FLAGS[o];
    if (f) flags = (flags | f[0]) & ~f[1];
    else data.push(o);
  }
  return {
    source: m.source,
    target: m.destination,
    fstype: m.type,
    flags,
    data: data.join(","),
    point: "dir",
    mode: m.mode,
  };
}
