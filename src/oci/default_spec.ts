/**
 * `spec`: a starting config.json, like `runc spec` — `sh` on a terminal in
 * `rootfs/`, the spec's default mounts, capabilities, masked paths. With
 * `--rootless` it maps the caller's own ids into a user namespace, keeps the
 * host's network namespace and binds /sys (sysfs cannot be mounted then).
 *
 * @module
 */
import { DEFAULT_CAPABILITIES, DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS } from "../security/mod.ts";
import { OCI_VERSION } from "../model/oci.ts";
import { DEFAULT_MOUNTS, type DefaultMount, DEVPTS_TTY_GID } from "../model/mounts.ts";

/** A default config.json (as an object). */
export function defaultSpec(rootless: boolean): Record<string, unknown> {
  const caps = DEFAULT_CAPABILITIES.map((c) => `CAP_${c}`);
  const row = (m: DefaultMount, extra: readonly string[] = []) => ({
    destination: m.destination,
    type: m.type,
    source: m.source,
    options: [...m.options, ...extra],
  });
  const d = DEFAULT_MOUNTS;
  const mounts: Record<string, unknown>[] = [
    row(d.proc),
    row(d.dev),
    row(d.devpts, rootless ? [] : [DEVPTS_TTY_GID]),
    row(d.shm),
    row(d.mqueue),
    row(rootless ? d.sysBind : d.sys),
  ];
  if (!rootless) mounts.push(row(d.cgroup));
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
