import { NookError } from "../errors/mod.ts";

/** A cgroup could not be made, joined or limited, or a limit cannot be enforced on this host. */
export class CgroupError extends NookError {}

/**
 * How to give a user cgroup v2 delegation on a systemd machine: the text of
 * every hint that sends a user to fix their host.
 */
export const DELEGATION_FIX =
  "resource limits need cgroup v2 delegated to your user by systemd: boot with the unified hierarchy " +
  "(systemd.unified_cgroup_hierarchy=1, the default since systemd 247), install dbus-user-session, " +
  "delegate the controllers with a drop-in /etc/systemd/system/user@.service.d/delegate.conf containing " +
  '"[Service]" and "Delegate=cpu cpuset io memory pids" (then systemctl daemon-reload), ' +
  "enable lingering (loginctl enable-linger $USER) and log in again (a real login session, not su)";
