/**
 * `features`: the runtime-spec features document, from what nook really
 * does — hooks, mount options, namespaces, capabilities, seccomp actions,
 * operators, architectures and flags of its own compiler, the LSMs it can
 * apply labels for, and cgroups only when a manager is registered.
 *
 * @module
 */
import { ACTIONS, ARCHES, COMPARISONS, FILTER_FLAGS, nativeArch } from "../seccomp/mod.ts";
import { CAPABILITIES } from "../security/mod.ts";
import { NOOK_VERSION } from "../version.ts";
import { HOOK_KINDS, NAMESPACE_FILES } from "./config.ts";
import { OCI_VERSION } from "../model/oci.ts";

const MOUNT_OPTIONS = [
  "async",
  "atime",
  "bind",
  "defaults",
  "dev",
  "diratime",
  "dirsync",
  "exec",
  "lazytime",
  "mand",
  "noatime",
  "nodev",
  "nodiratime",
  "noexec",
  "nolazytime",
  "nomand",
  "norelatime",
  "nostrictatime",
  "nosuid",
  "private",
  "rbind",
  "relatime",
  "rnodev",
  "rnoexec",
  "rnosuid",
  "ro",
  "rprivate",
  "rro",
  "rshared",
  "rslave",
  "runbindable",
  "rw",
  "shared",
  "slave",
  "strictatime",
  "suid",
  "sync",
  "unbindable",
];

/** The features document (runtime-spec features.md). */
export function features(cgroupManager = false): Record<string, unknown> {
  const arch = nativeArch();
  return {
    ociVersionMin: "1.0.0",
    ociVersionMax: OCI_VERSION,
    hooks: [...HOOK_KINDS],
    mountOptions: MOUNT_OPTIONS,
    linux: {
      namespaces: Object.keys(NAMESPACE_FILES).sort(),
      capabilities: CAPABILITIES.map((c) => `CAP_${c}`),
      cgroup: { v1: false, v2: cgroupManager, systemd: cgroupManager, systemdUser: cgroupManager, rdma: false },
      seccomp: {
        enabled: arch !== undefined,
        // NOTIFY needs a listener, which nook does not support
        actions: ACTIONS.filter((a) => a !== "SCMP_ACT_NOTIFY"),
        operators: Object.keys(COMPARISONS),
        // only the native ABI: other ABIs' syscalls are killed (see src/seccomp/compile.ts)
        archs: arch ? [ARCHES[arch].scmpName] : [],
        knownFlags: Object.keys(FILTER_FLAGS),
        supportedFlags: Object.keys(FILTER_FLAGS),
      },
      apparmor: { enabled: true },
      selinux: { enabled: true },
      intelRdt: { enabled: false },
      mountExtensions: { idmap: { enabled: false } },
    },
    annotations: {
      "io.github.nook.version": NOOK_VERSION,
      "io.github.nook.rootless": "true",
      "io.github.nook.seccomp.compiler": "nook (no libseccomp)",
    },
  };
}
