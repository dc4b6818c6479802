/**
 * The doctor's checks. Each reads what the host says (through
 * {@link HostInputs}), and says what it found, why it matters and the exact
 * fix. `fail` means `nook run` cannot work; `warn` means it works with less.
 */
import { ConfigError, inspectConfig } from "../config/mod.ts";
import { NookError } from "../errors/mod.ts";
import { ensurePrivateDir } from "../paths/mod.ts";
import { detectIdMapping, type IdMapping, mappedCount, parseSubid, rangesFor, type SubidEntry } from "../userns/mod.ts";
import { apparmorFix, apparmorProfile } from "./apparmor.ts";
import {
  capture,
  cgroupControllers,
  cgroupLayout,
  deviceUsable,
  diskSpace,
  existingAncestor,
  findTool,
  formatBytes,
  type HostInputs,
  kernelVersion,
  managerHostFor,
  mountOf,
  networkHostFor,
  osRelease,
  readText,
  sysctl,
} from "./host.ts";
import { trialContainer, trialFuseOverlay, trialOverlay, type TrialResult } from "./trial.ts";
import { type CgroupInfo, cgroupInfo, sessionBusPath } from "../cgroupv2/mod.ts";
import { resolveDefault } from "../network/mod.ts";

/** ✓ ok, ✗ fail (nook run cannot work), ! warn (works with less), - skip (not checked). */
export type CheckStatus = "ok" | "warn" | "fail" | "skip";

/** One check's verdict. */
export interface CheckResult {
  /** Stable id, e.g. `idmap.subid`. */
  id: string;
  /** Group heading. */
  group: string;
  /** Short title. */
  title: string;
  /** The verdict. */
  status: CheckStatus;
  /** What the host says, and why it matters. */
  detail: string;
  /** The exact commands or edits that fix it (when not ok). */
  fix?: string;
}

/** What the checks share: the host, the id mapping `nook run` would use, trial results. */
export interface CheckContext {
  /** The host inputs. */
  host: HostInputs;
  /** The id mapping nook run would pick on this host. */
  mapping: IdMapping;
  /** Result of the trial container, once run. */
  trial?: TrialResult;
}

/** A check: reads the host, returns its verdict. */
export type Check = (ctx: CheckContext) => CheckResult | Promise<CheckResult>;

/** The id mapping `nook run` would pick for these host inputs. */
export function mappingFor(host: HostInputs): IdMapping {
  return detectIdMapping({
    uid: host.uid,
    gid: host.gid,
    ...(host.user === undefined ? {} : { user: host.user }),
    subuidPath: host.subuid,
    subgidPath: host.subgid,
    path: host.toolPath,
    force: host.env.NOOK_IDMAP ?? "",
  });
}

function who(host: HostInputs): string {
  return host.user ?? String(host.uid);
}

/** How to install (or reinstall) a Debian package's equivalent on this distribution. */
export function installCommand(
  host: HostInputs,
  pkg: "uidmap" | "fuse-overlayfs" | "passt" | "slirp4netns",
  reinstall = false,
): string {
  const names: Record<string, Record<string, string>> = {
    uidmap: { apt: "uidmap", dnf: "shadow-utils", pacman: "shadow", apk: "shadow-uidmap", zypper: "shadow" },
  };
  const name = (tool: string) => names[pkg]?.[tool] ?? pkg;
  const os = osRelease(host);
  const ids = [os.ID ?? "", ...(os.ID_LIKE ?? "").split(/\s+/)];
  if (ids.some((i) => ["debian", "ubuntu"].includes(i))) return `sudo apt install ${reinstall ? "--reinstall " : ""}${name("apt")}`;
  if (ids.some((i) => ["fedora", "rhel", "centos"].includes(i))) return `sudo dnf ${reinstall ? "reinstall" : "install"} ${name("dnf")}`;
  if (ids.includes("arch")) return `sudo pacman -S ${name("pacman")}`;
  if (ids.includes("alpine")) return `sudo apk ${reinstall ? "fix" : "add"} ${name("apk")}`;
  if (ids.some((i) => i.includes("suse"))) return `sudo zypper install ${reinstall ? "--force " : ""}${name("zypper")}`;
  return `${reinstall ? "reinstall" : "install"} "${name("apt")}" (Debian's name) with your package manager`;
}

function persistSysctl(name: string, value: string): string {
  return `sudo sysctl -w ${name}=${value}\necho '${name}=${value}' | sudo tee /etc/sysctl.d/90-nook.conf   # keep it after reboots`;
}

// ---- user namespaces ---------------------------------------------------------

const userns = "User namespaces";

/** kernel.unprivileged_userns_clone and user.max_user_namespaces. */
export const checkUsernsSysctl: Check = ({ host }) => {
  const base = { id: "userns.sysctl", group: userns, title: "kernel settings" };
  const clone = sysctl(host, "kernel.unprivileged_userns_clone");
  const max = sysctl(host, "user.max_user_namespaces");
  if (clone === "0") {
    return {
      ...base,
      status: "fail",
      detail: "kernel.unprivileged_userns_clone = 0: this kernel lets only root create user namespaces",
      fix: persistSysctl("kernel.unprivileged_userns_clone", "1"),
    };
  }
  if (max === undefined) {
    return {
      ...base,
      status: "fail",
      detail: `${host.procSys}/user/max_user_namespaces is missing: the kernel has no user namespaces (CONFIG_USER_NS)`,
      fix: "use a kernel built with CONFIG_USER_NS=y (every major distribution's kernel has it)",
    };
  }
  if (Number(max) === 0) {
    return {
      ...base,
      status: "fail",
      detail: "user.max_user_namespaces = 0: user namespaces are switched off",
      fix: persistSysctl("user.max_user_namespaces", "28633"),
    };
  }
  const cloneText = clone === undefined ? "kernel.unprivileged_userns_clone is not present (no such restriction)" : `kernel.unprivileged_userns_clone = ${clone}`;
  if (Number(max) < 64) {
    return {
      ...base,
      status: "warn",
      detail: `user.max_user_namespaces = ${max} is low: each container needs one, so few can run at once; ${cloneText}`,
      fix: persistSysctl("user.max_user_namespaces", "28633"),
    };
  }
  return { ...base, status: "ok", detail: `user.max_user_namespaces = ${max}; ${cloneText}` };
};

/** The trial container: clone all namespaces, write the maps, mount, exec. */
export const checkTrial: Check = async (ctx) => {
  const base = { id: "userns.trial", group: userns, title: "trial container" };
  if (!ctx.host.trials) return { ...base, status: "skip", detail: "trial containers were not run (--no-trial)" };
  ctx.trial = await trialContainer(ctx.mapping);
  const how = ctx.mapping.mode === "subid"
    ? `${mappedCount(ctx.mapping.uidMap)} ids mapped with newuidmap/newgidmap`
    : "your own id mapped to root (single-id mapping)";
  if (ctx.trial.ok) {
    return {
      ...base,
      status: "ok",
      detail: `user, mount, pid, uts, ipc, net and cgroup namespaces; ${how}; tmpfs and /proc mounted; ran /bin/true (${
        ctx.trial.ms.toFixed(1)
      } ms)`,
    };
  }
  return {
    ...base,
    status: "fail",
    detail: `nook could not start a container (${how}): ${ctx.trial.message}`,
    fix: ctx.trial.hint ?? "see the other checks in this list for the cause",
  };
};

/** Ubuntu ≥ 23.10: kernel.apparmor_restrict_unprivileged_userns. */
export const checkApparmor: Check = ({ host, trial }) => {
  const base = { id: "userns.apparmor", group: userns, title: "AppArmor restriction" };
  const v = sysctl(host, "kernel.apparmor_restrict_unprivileged_userns");
  if (v === undefined) {
    return { ...base, status: "ok", detail: "kernel.apparmor_restrict_unprivileged_userns is not present (no such restriction)" };
  }
  if (v === "0") return { ...base, status: "ok", detail: "kernel.apparmor_restrict_unprivileged_userns = 0" };
  if (trial?.ok) {
    return {
      ...base,
      status: "ok",
      detail: `kernel.apparmor_restrict_unprivileged_userns = ${v}, and nook is allowed (an AppArmor profile covers ${host.nookPath})`,
    };
  }
  const os = osRelease(host);
  const dev = /\/deno$/.test(host.nookPath)
    ? ` (nook runs from source here, inside the Deno binary ${host.nookPath}: the profile allows every Deno program)`
    : "";
  return {
    ...base,
    status: "fail",
    detail: `kernel.apparmor_restrict_unprivileged_userns = ${v}${
      os.ID === "ubuntu" ? ` (Ubuntu ${os.VERSION_ID ?? ""} restricts user namespaces to programs with a profile)` : ""
    }: nook needs an AppArmor profile that allows "userns" for ${host.nookPath}${dev}. The profile:\n\n${
      apparmorProfile(host.nookPath)
    }`,
    fix: `${apparmorFix()}\n# or lift the restriction for every program:\n${
      persistSysctl("kernel.apparmor_restrict_unprivileged_userns", "0")
    }`,
  };
};

// ---- id mapping --------------------------------------------------------------

const idmap = "ID mapping";

function setuidRoot(path: string): boolean {
  try {
    const st = Deno.statSync(path);
    return st.uid === 0 && ((st.mode ?? 0) & 0o4000) !== 0;
  } catch {
    return false;
  }
}

async function fileCaps(host: HostInputs, path: string): Promise<string | undefined> {
  const getcap = findTool(host, "getcap");
  if (!getcap) return undefined;
  const r = await capture(getcap, [path]);
  const m = /(cap_set[ug]id[^\s]*)/i.exec(r.out);
  return m ? `file capability ${m[1]}` : "";
}

/** newuidmap/newgidmap exist and can do their job (setuid root or file capabilities). */
export const checkHelpers: Check = async ({ host, mapping }) => {
  const base = { id: "idmap.helpers", group: idmap, title: "newuidmap/newgidmap" };
  if (host.uid === 0) return { ...base, status: "ok", detail: "not needed: root writes its own id maps" };
  const tools = ["newuidmap", "newgidmap"];
  const found = tools.map((t) => findTool(host, t));
  if (!found[0] || !found[1]) {
    const missing = tools.filter((_, i) => !found[i]).join(" and ");
    return {
      ...base,
      status: "warn",
      detail: `${missing} not found (searched ${host.toolPath.split(":").filter(Boolean).join(":")}): ` +
        "only your own id is mapped into containers, so images whose files belong to other users cannot be used",
      fix: installCommand(host, "uidmap"),
    };
  }
  const parts: string[] = [];
  const broken: string[] = [];
  for (const i of [0, 1]) {
    const path = found[i]!;
    const how = setuidRoot(path) ? "setuid root" : await fileCaps(host, path);
    if (how) parts.push(`${path} (${how})`);
    else if (how === undefined) parts.push(`${path} (not setuid; getcap is missing, so file capabilities are unknown)`);
    else broken.push(`${path}`);
  }
  if (broken.length) {
    return {
      ...base,
      status: mapping.mode === "subid" ? "fail" : "warn",
      detail: `${broken.join(" and ")} ${broken.length > 1 ? "have" : "has"} neither the setuid bit nor file capabilities, ` +
        `so ${broken.length > 1 ? "they" : "it"} cannot write your id maps` +
        (mapping.mode === "subid" ? "; nook run uses them and fails" : ""),
      fix: `${installCommand(host, "uidmap", true)}\n# or: sudo setcap cap_setuid+ep ${found[0]} && sudo setcap cap_setgid+ep ${
        found[1]
      }\n# or run with only your own id mapped: export NOOK_IDMAP=single`,
    };
  }
  return { ...base, status: "ok", detail: parts.join(", ") };
};

function summarize(ranges: SubidEntry[]): string {
  return ranges.map((r) => `${r.start}-${r.start + r.count - 1}`).join(", ");
}

/** A 65536-id range at a multiple of 65536 from 100000 up that no one in either file uses. */
export function freeSubidRange(entries: readonly SubidEntry[]): string {
  const size = 65536;
  for (let start = 100000; start + size <= 0xffff_ffff; start += size) {
    if (!entries.some((r) => start < r.start + r.count && r.start < start + size)) return `${start}-${start + size - 1}`;
  }
  return "100000-165535";
}

/** The user's ranges in /etc/subuid and /etc/subgid, and their size. */
export const checkSubid: Check = ({ host }) => {
  const base = { id: "idmap.subid", group: idmap, title: "subordinate ids" };
  if (host.uid === 0) return { ...base, status: "ok", detail: "not needed: root maps the whole id range" };
  const uidEntries = parseSubid(readText(host.subuid) ?? "");
  const gidEntries = parseSubid(readText(host.subgid) ?? "");
  const uids = rangesFor(uidEntries, host.user, host.uid);
  const gids = rangesFor(gidEntries, host.user, host.uid);
  const range = freeSubidRange([...uidEntries, ...gidEntries]);
  const fix = `sudo usermod --add-subuids ${range} --add-subgids ${range} ${who(host)}`;
  if (uids.length === 0 || gids.length === 0) {
    const missing = [uids.length ? "" : host.subuid, gids.length ? "" : host.subgid].filter(Boolean).join(" and ");
    return {
      ...base,
      status: "warn",
      detail: `${missing} ${missing.includes(" and ") ? "have" : "has"} no range for "${who(host)}": ` +
        "only your own id is mapped into containers (files of other users in images cannot exist)",
      fix,
    };
  }
  const count = (rs: SubidEntry[]) => rs.reduce((n, r) => n + r.count, 0);
  const detail = `${who(host)}: ${count(uids)} uids (${summarize(uids)}), ${count(gids)} gids (${summarize(gids)})`;
  const small = Math.min(count(uids), count(gids));
  if (small < 65536) {
    return {
      ...base,
      status: "warn",
      detail: `${detail}: fewer than 65536, so ids up to ${small} exist in containers and images with higher ones ` +
        "(nobody is 65534) fail to unpack",
      fix,
    };
  }
  return { ...base, status: "ok", detail };
};

// ---- session -------------------------------------------------------------------

const session = "Session";

function sessionFix(host: HostInputs): string {
  return [
    `# log in with a real session instead of su/sudo:`,
    `machinectl shell ${who(host)}@`,
    `# or keep a user manager running and point at it:`,
    `sudo loginctl enable-linger ${who(host)}`,
    `export XDG_RUNTIME_DIR=/run/user/${host.uid}`,
  ].join("\n");
}

/** XDG_RUNTIME_DIR is set, a directory, yours, mode 0700. */
export const checkXdgRuntimeDir: Check = ({ host }) => {
  const base = { id: "session.xdg_runtime_dir", group: session, title: "XDG_RUNTIME_DIR" };
  const dir = host.env.XDG_RUNTIME_DIR;
  const fallback = `nook keeps its runtime state in /tmp/nook-${host.uid} instead, and systemd --user cannot be reached`;
  if (!dir) {
    return {
      ...base,
      status: "warn",
      detail: `not set (as under su, sudo and on many CI runners): ${fallback}`,
      fix: sessionFix(host),
    };
  }
  let st: Deno.FileInfo;
  try {
    st = Deno.statSync(dir);
  } catch {
    return { ...base, status: "warn", detail: `"${dir}" does not exist: ${fallback}`, fix: sessionFix(host) };
  }
  if (!st.isDirectory) {
    return { ...base, status: "warn", detail: `"${dir}" is not a directory: ${fallback}`, fix: sessionFix(host) };
  }
  if (st.uid !== host.uid) {
    return {
      ...base,
      status: "warn",
      detail: `"${dir}" belongs to uid ${st.uid}, not to you (${host.uid}), as after su or sudo -u: ${fallback}`,
      fix: sessionFix(host),
    };
  }
  const mode = (st.mode ?? 0) & 0o777;
  if (mode !== 0o700) {
    return {
      ...base,
      status: "warn",
      detail: `"${dir}" has mode ${mode.toString(8).padStart(4, "0")}, not 0700: others can read or write your runtime state`,
      fix: `chmod 0700 ${dir}`,
    };
  }
  return { ...base, status: "ok", detail: `${dir} (yours, mode 0700)` };
};

/** nook's own runtime directory can be created and is private. */
export const checkRuntimeDir: Check = ({ host }) => {
  const base = { id: "session.runtime_dir", group: session, title: "nook's runtime directory" };
  const env = host.env;
  const xdg = env.XDG_RUNTIME_DIR;
  let usable = false;
  try {
    const st = xdg ? Deno.statSync(xdg) : undefined;
    usable = !!st?.isDirectory && st.uid === host.uid;
  } catch {
    // not usable
  }
  // The same choice as runtimeDir(): NOOK_RUNTIME_DIR, a usable XDG_RUNTIME_DIR, else /tmp/nook-UID.
  const path = env.NOOK_RUNTIME_DIR || (usable ? `${xdg}/nook` : `/tmp/nook-${host.uid}`);
  try {
    ensurePrivateDir(path);
  } catch (err) {
    return {
      ...base,
      status: "fail",
      detail: (err as Error).message,
      fix: err instanceof NookError && err.hint ? err.hint : `remove "${path}" or set NOOK_RUNTIME_DIR`,
    };
  }
  return { ...base, status: "ok", detail: `${path} (private)` };
};

// ---- cgroups -------------------------------------------------------------------

const cgroups = "cgroups";
const NEEDED_CONTROLLERS = ["cpu", "memory", "pids"];
const DELEGATE_FIX = [
  "sudo mkdir -p /etc/systemd/system/user@.service.d",
  "printf '[Service]\\nDelegate=cpu cpuset io memory pids\\n' | sudo tee /etc/systemd/system/user@.service.d/delegate.conf",
  "sudo systemctl daemon-reload   # then log out and back in",
].join("\n");
const LIMITS = "resource limits (--memory, --cpus, --pids-limit) cannot be applied";

/** cgroup v2, v1 or hybrid. */
export const checkCgroupVersion: Check = ({ host }) => {
  const base = { id: "cgroup.version", group: cgroups, title: "cgroup version" };
  const l = cgroupLayout(host);
  if (l.version === "v2") return { ...base, status: "ok", detail: `v2 (unified) at ${l.v2Mount}` };
  const unified = "boot with cgroup v2 only: add systemd.unified_cgroup_hierarchy=1 to GRUB_CMDLINE_LINUX in " +
    "/etc/default/grub, then sudo update-grub and reboot";
  const detail = l.version === "hybrid"
    ? `hybrid: v1 controllers (${l.v1Controllers.join(", ")}) with a v2 hierarchy at ${l.v2Mount}; ${LIMITS}`
    : l.version === "v1"
    ? `v1 only (${l.v1Controllers.join(", ")}); ${LIMITS}`
    : `no cgroup filesystem is mounted; ${LIMITS}`;
  return { ...base, status: "warn", detail, fix: unified };
};

/**
 * The manager `nook run` would use and its delegated controllers: asked of
 * the same choice (src/cgroupv2/detect.ts) with the doctor's host inputs.
 */
function managerOf(host: HostInputs): Promise<CgroupInfo> {
  return cgroupInfo(host.cgroupRoot, managerHostFor(host));
}

/** A systemd user manager that can hand out delegated cgroups (not needed when nook's own cgroup is delegated). */
export const checkSystemdUser: Check = async ({ host }) => {
  const base = { id: "cgroup.systemd", group: cgroups, title: "systemd user manager" };
  const m = await managerOf(host);
  if (m.manager === "cgroupfs") {
    return { ...base, status: "ok", detail: `not needed: nook's own cgroup ${m.path ?? ""} is delegated to you` };
  }
  const mh = managerHostFor(host);
  const bus = sessionBusPath(mh);
  if (m.manager === "systemd") return { ...base, status: "ok", detail: `reachable on the session bus at ${bus}` };
  if (!mh.systemdBooted()) {
    const pid1 = readText(host.pid1Comm)?.trim() ?? "unknown";
    return {
      ...base,
      status: "warn",
      detail: `systemd is not the init system here (PID 1 is "${pid1}"): there is no user manager to create ` +
        `delegated cgroups; ${LIMITS} unless a cgroup v2 directory is delegated to you`,
      fix: "run nook on a host booted with systemd, or have the administrator delegate a cgroup v2 directory to you " +
        `(owned by ${who(host)}, with cpu, memory and pids enabled in its parent's cgroup.subtree_control)`,
    };
  }
  if (!bus) {
    const xdg = host.env.XDG_RUNTIME_DIR;
    return {
      ...base,
      status: "warn",
      detail: xdg
        ? `no user manager's session bus at ${xdg}/bus: ${LIMITS}`
        : `XDG_RUNTIME_DIR is not set, so the user manager cannot be reached: ${LIMITS}`,
      fix: sessionFix(host),
    };
  }
  return { ...base, status: "warn", detail: `${m.reason ?? "not usable"}: ${LIMITS}`, fix: m.hint ?? sessionFix(host) };
};

/** cpu, memory and pids delegated where `nook run` makes containers' cgroups. */
export const checkDelegation: Check = async ({ host }) => {
  const base = { id: "cgroup.delegation", group: cgroups, title: "delegated controllers" };
  const l = cgroupLayout(host);
  if (l.version !== "v2") {
    const mount = l.v2Mount;
    const offered = mount ? cgroupControllers(mount) : undefined;
    return {
      ...base,
      status: "warn",
      detail: `not delegated: ${
        mount ? `the v2 hierarchy at ${mount} offers ${offered?.length ? offered.join(", ") : "no controllers"}` : "there is no v2 hierarchy"
      }, and cgroup v1 cannot be delegated safely; ${LIMITS}`,
      fix: checkCgroupVersionFix(),
    };
  }
  const m = await managerOf(host);
  if (m.manager === "none") {
    return {
      ...base,
      status: "warn",
      detail: `${m.reason ?? "no cgroup manager can be used"}; ${LIMITS}`,
      fix: `${DELEGATE_FIX}\n# and log in through systemd (machinectl shell ${who(host)}@) so your session has a user@${host.uid}.service`,
    };
  }
  const how = m.manager === "systemd"
    ? `through the systemd user manager (scopes under ${m.path ?? `user@${host.uid}.service`})`
    : `in nook's own delegated cgroup ${m.path ?? ""}`;
  const have = m.controllers;
  const missing = NEEDED_CONTROLLERS.filter((c) => !have.includes(c));
  if (missing.length) {
    return {
      ...base,
      status: "warn",
      detail: `limits are applied ${how}, which offers only ${have.join(", ") || "no controllers"}; missing ` +
        `${missing.join(", ")}: limits on ${missing.join(", ")} cannot be applied`,
      fix: DELEGATE_FIX,
    };
  }
  return { ...base, status: "ok", detail: `limits are applied ${how}: ${have.join(", ")}` };
};

function checkCgroupVersionFix(): string {
  return "switch the host to cgroup v2 (see \"cgroup version\"), then delegate controllers:\n" + DELEGATE_FIX;
}

// ---- storage -------------------------------------------------------------------

const storage = "Storage";
const NETWORK_FS = ["nfs", "nfs4", "cifs", "smb3", "smbfs", "ceph", "glusterfs", "fuse.sshfs", "9p", "lustre", "afs"];

function storageFix(host: HostInputs, why: string): string {
  return `# keep nook's storage on a local filesystem ${why}, e.g.:\nmkdir -p /var/tmp/${who(host)}-nook && ` +
    `printf 'storage:\\n  path: /var/tmp/${who(host)}-nook\\n' >> ${host.configFile}\n# (or export NOOK_DATA_DIR=/var/tmp/${
      who(host)
    }-nook)`;
}

/** The storage directory's filesystem, mount options and free space. */
export const checkStorageFs: Check = async ({ host }) => {
  const base = { id: "storage.filesystem", group: storage, title: "storage filesystem" };
  const m = mountOf(host, host.storageDir);
  const space = await diskSpace(host.storageDir);
  const where = `${host.storageDir}${existingAncestor(host.storageDir) === host.storageDir ? "" : " (not created yet)"}`;
  const fs = m ? `${m.fstype} mounted at ${m.mountPoint}` : "an unknown filesystem";
  const free = space ? `${formatBytes(space.free)} free` : "free space unknown";
  const detail = `${where}: ${fs}, ${free}`;
  if (m?.options.includes("noexec")) {
    return {
      ...base,
      status: "fail",
      detail: `${detail}; it is mounted noexec, so programs in images cannot run`,
      fix: storageFix(host, "without noexec"),
    };
  }
  if (m && NETWORK_FS.includes(m.fstype)) {
    return {
      ...base,
      status: "warn",
      detail: `${detail}; a network filesystem: overlay upper layers, user xattrs and subordinate-id ownership do not work there`,
      fix: storageFix(host, "(not NFS)"),
    };
  }
  if (space && space.free < 1024 ** 3) {
    return { ...base, status: "warn", detail: `${detail}; less than 1 GiB is left for images`, fix: storageFix(host, "with more room") };
  }
  return { ...base, status: "ok", detail };
};

/** Kernel overlayfs inside a user namespace (trial mount on the storage filesystem). */
export const checkOverlay: Check = async ({ host, mapping, trial }) => {
  const base = { id: "storage.overlay", group: storage, title: "overlay in a user namespace" };
  const kv = kernelVersion(host);
  const kernel = kv ? `kernel ${kv.join(".")}` : "kernel version unknown";
  if (!host.trials) return { ...base, status: "skip", detail: `not tried (--no-trial); ${kernel}` };
  if (trial && !trial.ok) return { ...base, status: "skip", detail: "not tried: the trial container failed" };
  const r = await trialOverlay(mapping, existingAncestor(host.storageDir));
  if (r.ok) return { ...base, status: "ok", detail: `mounted and written with userxattr on the storage filesystem (${kernel})` };
  const old = kv && (kv[0] < 5 || (kv[0] === 5 && kv[1] < 11));
  return {
    ...base,
    status: "warn",
    detail: `${r.message}${old ? `; ${kernel} is older than 5.11, which first allows overlay in user namespaces` : ""}: ` +
      "containers use fuse-overlayfs or a copy instead (slower, more disk)",
    fix: old ? "upgrade the kernel to 5.11 or later, or use fuse-overlayfs" : storageFix(host, "that supports overlay upper layers"),
  };
};

/** The copy-on-write backend containers get: the same choice (and cache) `nook run` uses. */
export const checkStorageBackend: Check = async ({ host }) => {
  const base = { id: "storage.backend", group: storage, title: "storage backend" };
  if (!host.trials) return { ...base, status: "skip", detail: "not decided here (--no-trial): nook run decides it by trial mounts" };
  const { storageBackend } = await import("../overlay/backend.ts");
  const b = await storageBackend();
  const why = b.reasons.length ? `: ${b.reasons.join("; ")}` : "";
  const from = b.source === "override" ? " (set by NOOK_STORAGE_BACKEND / storage.driver)" : b.source === "cached" ? " (as detected before)" : "";
  return {
    ...base,
    status: b.backend === "copy" && b.source !== "override" ? "warn" : "ok",
    detail: `containers use ${b.backend}${b.fuseOverlayfs ? ` (${b.fuseOverlayfs})` : ""}${from}${why}`,
    ...(b.backend === "copy" ? { fix: "see the overlay and fuse-overlayfs checks above" } : {}),
  };
};

/** /dev/fuse can be opened (fuse-overlayfs needs it). */
export const checkFuseDevice: Check = ({ host }) => {
  const base = { id: "storage.fuse_device", group: storage, title: "/dev/fuse" };
  const u = deviceUsable(host.devFuse);
  if (u.ok) return { ...base, status: "ok", detail: `${host.devFuse} can be opened` };
  return {
    ...base,
    status: "warn",
    detail: `${host.devFuse} ${u.message}: fuse-overlayfs cannot work`,
    fix: u.reason === "missing"
      ? "sudo modprobe fuse   # and add fuse to /etc/modules-load.d/ to keep it"
      : `sudo chmod 0666 ${host.devFuse}   # a desktop has it so; to keep it: echo 'KERNEL=="fuse", MODE="0666"' | sudo tee /etc/udev/rules.d/60-fuse.rules`,
  };
};

/** fuse-overlayfs is installed and mounts inside a user namespace. */
export const checkFuseOverlayfs: Check = async ({ host, mapping, trial }) => {
  const base = { id: "storage.fuse_overlayfs", group: storage, title: "fuse-overlayfs" };
  const tool = findTool(host, "fuse-overlayfs");
  if (!tool) {
    return {
      ...base,
      status: "warn",
      detail: "not installed: where kernel overlay cannot be used, containers fall back to a full copy of the image",
      fix: installCommand(host, "fuse-overlayfs"),
    };
  }
  if (!host.trials) return { ...base, status: "skip", detail: `${tool}; not tried (--no-trial)` };
  if (!deviceUsable(host.devFuse).ok) return { ...base, status: "skip", detail: `${tool}; not tried: ${host.devFuse} is unusable` };
  if (trial && !trial.ok) return { ...base, status: "skip", detail: `${tool}; not tried: the trial container failed` };
  const r = await trialFuseOverlay(mapping, existingAncestor(host.storageDir), tool);
  if (r.ok) return { ...base, status: "ok", detail: `${tool} mounted and written in a user namespace` };
  return {
    ...base,
    status: "warn",
    detail: `${tool} failed in a user namespace: ${r.message}`,
    fix: `${installCommand(host, "fuse-overlayfs", true)}   # a version ≥ 1.0 is needed`,
  };
};

// ---- network -------------------------------------------------------------------

const network = "Network";

/** pasta and slirp4netns. */
export const checkNetworkTools: Check = ({ host }) => {
  const base = { id: "network.tools", group: network, title: "user-mode networking" };
  const found = ["pasta", "slirp4netns"].map((t) => [t, findTool(host, t)] as const).filter(([, p]) => p);
  if (found.length === 0) {
    return {
      ...base,
      status: "warn",
      detail: "neither pasta nor slirp4netns is installed: containers can have no network (--network none) or the host's " +
        "(--network host), but not their own connection to the outside",
      fix: `${installCommand(host, "passt")}   # or: ${installCommand(host, "slirp4netns")}`,
    };
  }
  return { ...base, status: "ok", detail: found.map(([t, p]) => `${t} (${p})`).join(", ") };
};

/** /dev/net/tun can be opened (pasta and slirp4netns create a tap device). */
export const checkTun: Check = ({ host }) => {
  const base = { id: "network.tun", group: network, title: "/dev/net/tun" };
  const u = deviceUsable(host.devTun);
  if (u.ok) return { ...base, status: "ok", detail: `${host.devTun} can be opened` };
  return {
    ...base,
    status: "warn",
    detail: `${host.devTun} ${u.message}: pasta and slirp4netns cannot give containers a network`,
    fix: u.reason === "missing"
      ? "sudo modprobe tun   # and add tun to /etc/modules-load.d/ to keep it"
      : `sudo chmod 0666 ${host.devTun}   # to keep it: echo 'KERNEL=="tun", MODE="0666"' | sudo tee /etc/udev/rules.d/60-tun.rules`,
  };
};

/** What `--network auto` (the default) gives containers here: the same choice `nook run` makes. */
export const checkNetworkDefault: Check = ({ host }) => {
  const base = { id: "network.default", group: network, title: "default network" };
  const r = resolveDefault(networkHostFor(host));
  if (r.mode === "none") {
    return {
      ...base,
      status: "warn",
      detail: `none: ${r.notice ?? "containers get no network beyond loopback by default"}`,
      fix: `${installCommand(host, "passt")}   # or: ${installCommand(host, "slirp4netns")}; and see /dev/net/tun above`,
    };
  }
  const why = r.notice ?? r.reason;
  return { ...base, status: "ok", detail: `${r.mode} (${r.tool})${why ? `: ${why}` : ""}` };
};

/** net.ipv4.ip_unprivileged_port_start: which host ports `-p` can publish. */
export const checkPorts: Check = ({ host }) => {
  const base = { id: "network.ports", group: network, title: "unprivileged ports" };
  const v = sysctl(host, "net.ipv4.ip_unprivileged_port_start");
  if (v === undefined) return { ...base, status: "ok", detail: "net.ipv4.ip_unprivileged_port_start is not present (ports from 1024 up)" };
  const n = Number(v);
  if (n === 0) return { ...base, status: "ok", detail: "net.ipv4.ip_unprivileged_port_start = 0: any host port can be published" };
  return {
    ...base,
    status: "ok",
    detail: `net.ipv4.ip_unprivileged_port_start = ${n}: host ports from ${n} up can be published ` +
      `(for lower ones: sudo sysctl -w net.ipv4.ip_unprivileged_port_start=80)`,
  };
};

// ---- security ------------------------------------------------------------------

/** seccomp filters in the kernel. */
export const checkSeccomp: Check = ({ host }) => {
  const base = { id: "security.seccomp", group: "Security", title: "seccomp" };
  const status = /^Seccomp:\s*(\d+)/m.exec(readText(host.procStatus) ?? "")?.[1];
  const actions = sysctl(host, "kernel.seccomp.actions_avail");
  if (status === undefined || actions === undefined || !actions.includes("errno")) {
    return {
      ...base,
      status: "warn",
      detail: "this kernel has no seccomp filters: containers run without a system-call filter",
      fix: "use a kernel built with CONFIG_SECCOMP=y and CONFIG_SECCOMP_FILTER=y (every major distribution's kernel has them)",
    };
  }
  const nested = status === "2" ? "; nook itself already runs under a filter (a sandbox or container), and filters stack" : "";
  return { ...base, status: "ok", detail: `filters supported (actions: ${actions})${nested}` };
};

// ---- configuration -------------------------------------------------------------

/** config.yaml parses and its values are valid. */
export const checkConfig: Check = async ({ host }) => {
  const base = { id: "config.file", group: "Configuration", title: "config file" };
  try {
    const r = await inspectConfig({
      file: host.configFile,
      ...(host.configCache === undefined ? {} : { cacheFile: host.configCache }),
      env: (n) => host.env[n],
    });
    if (!r.exists) return { ...base, status: "ok", detail: `no file at ${r.file}: built-in defaults` };
    const set = Object.keys(r.fileValues);
    return { ...base, status: "ok", detail: `${r.file}: valid${set.length ? `, sets ${set.join(", ")}` : ", sets nothing"}` };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return { ...base, status: "fail", detail: err.message, fix: err.hint ?? `edit ${host.configFile}` };
  }
};

/** Every check, in the order they are shown. */
export const CHECKS: readonly Check[] = [
  checkUsernsSysctl,
  checkTrial,
  checkApparmor,
  checkHelpers,
  checkSubid,
  checkXdgRuntimeDir,
  checkRuntimeDir,
  checkCgroupVersion,
  checkSystemdUser,
  checkDelegation,
  checkStorageFs,
  checkOverlay,
  checkFuseDevice,
  checkFuseOverlayfs,
  checkStorageBackend,
  checkNetworkTools,
  checkTun,
  checkNetworkDefault,
  checkPorts,
  checkSeccomp,
  checkConfig,
];
