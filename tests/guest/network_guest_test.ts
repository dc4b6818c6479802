/**
 * The default network and doctor's verdicts in the systemd guest
 * (tests/guest/), which has no network interface but loopback (QEMU without a
 * NIC: an offline machine with systemd and delegated cgroup v2). On the host
 * each case reports the guest's verdict (or is skipped with the reason the
 * guest cannot run here).
 */
import { assert, busyboxRootfs, isolatedEnv, NOOK, nook, sh } from "../_helpers.ts";
import { guestTests, IN_GUEST } from "./guest.ts";
import { assertAgree, verdicts } from "../_network_verdicts.ts";

const FILE = "tests/guest/network_guest_test.ts";
const SHOW = "ip -o addr | grep -v ' lo ' | grep -o 'inet [0-9./]*'; cat /sys/fs/cgroup/memory.max; echo done";

const cases: [string, () => Promise<void>][] = [
  [
    "without a network interface, a default run with limits works, gets a network that works here, and says so once",
    async () => {
      const env = isolatedEnv({ XDG_RUNTIME_DIR: Deno.makeTempDirSync({ prefix: "nook-guest-run-" }) });
      Deno.chmodSync(env.XDG_RUNTIME_DIR!, 0o700);
      const args = [
        "run",
        "--rm",
        "--memory",
        "20m",
        "--pids-limit",
        "50",
        "--rootfs",
        busyboxRootfs(),
        "sh",
        "-c",
        SHOW,
      ];
      const first = await nook(args, { env });
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stdout, /^20971520$/m, "the memory limit is applied");
      const notices = first.stderr.split("\n").filter((l) => l.includes("by default"));
      assert.equal(notices.length, 1, first.stderr);
      // slirp4netns where it is installed, else none (the guest image brings passt only and may lack the tun
      // module), or pasta's local mode
      assert.match(
        notices[0]!,
        /^nook: notice: containers get (slirp4netns by default: pasta cannot work|no network beyond loopback by default: (pasta cannot work|\/dev\/net\/tun))|local mode/,
      );
      if (/get slirp4netns/.test(notices[0]!)) assert.match(first.stdout, /inet 10\.0\.2\.100\/24/);
      if (/beyond loopback/.test(notices[0]!)) assert.doesNotMatch(first.stdout, /inet /, "only loopback");
      const second = await nook(args, { env });
      assert.equal(second.code, 0, second.stderr);
      assert.doesNotMatch(second.stderr, /by default/, "the notice is shown once");
    },
  ],
  [
    "doctor in the systemd guest shows no false warning about delegation, and agrees with run and info",
    async () => {
      const r = await nook(["doctor", "--format", "json"]);
      const checks = new Map<string, { status: string; detail: string }>(
        JSON.parse(r.stdout).checks.map((c: { id: string }) => [c.id, c]),
      );
      const del = checks.get("cgroup.delegation")!;
      assert.equal(del.status, "ok", del.detail);
      assert.doesNotMatch(del.detail, /not delegated/);
      assert.match(del.detail, /through the systemd user manager/);
      assert.equal(checks.get("cgroup.systemd")!.status, "ok");
      assertAgree(
        await verdicts((args) => sh(NOOK, args, isolatedEnv())),
        "the systemd guest without a network interface",
      );
    },
  ],
];

guestTests(
  FILE,
  cases,
  IN_GUEST && !Deno.env.get("DBUS_SESSION_BUS_ADDRESS") ? "no session bus in the guest's job" : undefined,
);
