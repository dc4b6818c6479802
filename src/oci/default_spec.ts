/**
 * `spec`: a starting config.json, like `runc spec` — `sh` on a terminal in
 * `rootfs/`, the spec's default mounts, capabilities, masked paths. With
 * `--rootless` it maps the caller's own ids into a user namespace, keeps the
 * host's network namespace and binds /sys (sysfs cannot be mounted then).
 *
 * @module
 */
import { DEFAULT_CAPABILITIES, DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS } from "../security/mod.ts";
import { OCI_VERSION } from "./state.ts";

/** A default config.json (as an object). */
export function defaultSpec(rootless: boolean): Record<string, unknown> {
  const caps = DEFAULT_CAPABILITIES.map((c) => `CAP_${c}`);
  const mounts: Record<string, unknown>[] = [
    { destination: "/proc", type: "proc", source: "proc" },
    {
      destination: "/dev",
      type: "tmpfs",
      source: "tmpfs",
      options: ["nosuid", "strictatime", "mode=755", "size=65536k"],
    },
    {
      destination: "/dev/pts",
      type: "devpts",
      source: "devpts",
      options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", ...(rootless ? [] : ["gid=5"])],
    },
    {
      destination: "/dev/shm",
      type: "tmpfs",
      source: "shm",
      options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
    },
    { destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"] },
    rootless
      ? { destination: "/sys", type: "none", source: "/sys", options: ["rbind", "nosuid", "noexec", "nodev", "ro"] }
      : { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"] },
  ];
  if (!rootless) {
    mounts.push({
      destination: "/sys/fs/cgroup",
      type: "cgroup",
      source: "cgroup",
      options: ["nosuid", "noexec", "nodev", "relatime", "ro"],
    });
  }
  const namespaces: Record<string, string>[] = [{ type: "pid" }, { type: "ipc" }, { type: "uts" }, { type: "mount" }];
  if (rootless) namespaces.push({ type: "user" });
  else namespaces.push({ type: "network" }, { type: "cgroup" });
  const linux: Record<string, unknown> = {
    namespaces,
    maskedPaths: DEFAULT_MASKED_PATHS,
    readonlyPaths: DEFAULT_READONLY_PATHS,
  };
  if (rootless) {
    linux.uidMappings = [{ containerID: 0, hostID: Deno.uid(), size: 1 }];
    linux.gidMappings = [{ containerID: 0, hostID: Deno.gid(), size: 1 }];
  } else {
    linux.resources = { devices: [{ allow: false, access: "rwm" }] };
  }
  return {
    ociVersion: OCI_VERSION,
    process: {
      terminal: true,
      user: { uid: 0, gid: 0 },
      args: ["sh"],
      env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
      cwd: "/",
      capabilities: { bounding: caps, effective: caps, permitted: caps, ambient: [] },
      rlimits: [{ type: "RLIMIT_NOFILE", hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: "rootfs", readonly: true },
    hostname: "nook",
    mounts,
    linux,
  };
}
