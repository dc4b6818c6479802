/**
 * The default network (`--network auto`) is what works here: the fallback
 * decision and its memo (host facts from temporary files), and real runs in a
 * network namespace without an external interface (an offline host), where
 * `run`, `doctor` and `info` must agree.
 */
import {
  type AutoFacts,
  autoKey,
  decideAuto,
  defaultRouteInterfaces,
  helperSearchPath,
  hostReason,
  type NetworkHost,
  readMemo,
  rememberPastaFailure,
  resolveDefault,
  resolveMode,
} from "../../src/network/mod.ts";
import { assert, isolatedEnv, NOOK, type Result, scratch, sh, test } from "../_helpers.ts";
import { findExecutable } from "../../src/userns/mod.ts";
import { helperSkip } from "../_network.ts";
import { busyboxRootfs } from "../_helpers.ts";
import { assertAgree, verdicts } from "../_network_verdicts.ts";

const ROUTE_HEAD = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n";
const ROUTE_ONLINE = ROUTE_HEAD + "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n" +
  "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
// ::/0 on lo with RTF_REJECT: what the kernel shows on a host without IPv6 connectivity
const ROUTE6_LO_REJECT = "00000000000000000000000000000000 00 00000000000000000000000000000000 00 " +
  "00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n";
const ROUTE6_ONLINE = "00000000000000000000000000000000 00 00000000000000000000000000000000 00 " +
  "fd000000000000000000000000000001 00000400 00000002 00000000 00000003     wlan0\n" + ROUTE6_LO_REJECT;

test("the interfaces with a default route are read from /proc/net/route and ipv6_route, not loopback's reject route", () => {
  assert.deepEqual(defaultRouteInterfaces(ROUTE_ONLINE, ROUTE6_ONLINE), ["4:eth0", "6:wlan0"]);
  assert.deepEqual(defaultRouteInterfaces(ROUTE_HEAD, ROUTE6_LO_REJECT), []);
  assert.deepEqual(defaultRouteInterfaces(undefined, undefined), []);
  // a route that is not up does not count
  assert.deepEqual(defaultRouteInterfaces(ROUTE_ONLINE.replace("\t0003\t", "\t0002\t"), ""), []);
});

test("pasta's words for a host without an external interface are told apart from a bad option", () => {
  assert.equal(
    hostReason("No external routable interface for IPv4; External interface not usable"),
    "External interface not usable",
  );
  assert.equal(hostReason("Invalid port specifier 80x"), undefined);
});

const OFFLINE: AutoFacts = {
  routes: [],
  pasta: "/usr/bin/pasta",
  pastaStamp: "1:2",
  slirp4netns: "/usr/bin/slirp4netns",
};

test("the default falls back pasta → slirp4netns → none where pasta cannot work, and says which and why", () => {
  const fails = () => "External interface not usable";
  const slirp = decideAuto(OFFLINE, undefined, fails);
  assert.equal(slirp.mode, "slirp4netns");
  assert.equal(slirp.tool, "/usr/bin/slirp4netns");
  assert.match(
    slirp.notice!,
    /containers get slirp4netns by default: pasta cannot work on this host \(External interface not usable; no interface has a default route\)/,
  );
  assert.deepEqual(slirp.memo, {
    key: autoKey(OFFLINE),
    pastaTried: true,
    pastaFails: "External interface not usable",
  });

  const { slirp4netns: _, ...noSlirp } = OFFLINE;
  const none = decideAuto(noSlirp, undefined, fails);
  assert.equal(none.mode, "none");
  assert.match(none.notice!, /no network beyond loopback by default: pasta cannot work .*slirp4netns is not installed/);

  // a pasta with a local mode works offline: it is kept, and the notice says what it gives
  const local = decideAuto(OFFLINE, undefined, () => undefined);
  assert.equal(local.mode, "pasta");
  assert.match(local.notice!, /local mode/);

  // online: pasta, no trial, no notice
  const online = decideAuto({ ...OFFLINE, routes: ["4:eth0"] }, undefined, () => assert.fail("no trial when online"));
  assert.deepEqual([online.mode, online.notice], ["pasta", undefined]);
});

/** A host made of temporary files: /proc/net copies, helper files, a memo file; the trial counted. */
function fileHost(dir: string, trials: string[], why: string | undefined): NetworkHost {
  for (const t of ["pasta", "slirp4netns"]) Deno.writeTextFileSync(`${dir}/${t}`, "#!/bin/sh\n", { mode: 0o755 });
  return {
    find: (t) => `${dir}/${t}`,
    tunProblem: () => undefined,
    defaultRoutes: () =>
      defaultRouteInterfaces(Deno.readTextFileSync(`${dir}/route`), Deno.readTextFileSync(`${dir}/ipv6_route`)),
    stamp: (p) => `${Deno.statSync(p).size}`,
    memoFile: `${dir}/memo.json`,
    tryPasta: (tool) => {
      trials.push(tool);
      return why;
    },
  };
}

test("the verdict is kept with the host facts: the same facts are not tried again, changed ones are (online → pasta again)", () => {
  const dir = scratch("nook-auto-");
  const trials: string[] = [];
  const host = fileHost(dir, trials, "External interface not usable");
  Deno.writeTextFileSync(`${dir}/route`, ROUTE_HEAD);
  Deno.writeTextFileSync(`${dir}/ipv6_route`, ROUTE6_LO_REJECT);
  const first = resolveDefault(host);
  assert.equal(first.mode, "slirp4netns");
  assert.equal(trials.length, 1);
  assert.equal(readMemo(`${dir}/memo.json`)?.pastaFails, "External interface not usable");
  assert.equal(resolveDefault(host).mode, "slirp4netns");
  assert.equal(trials.length, 1, "the same facts: the kept verdict, no second trial");

  // the laptop is back online: pasta again, without a trial
  Deno.writeTextFileSync(`${dir}/route`, ROUTE_ONLINE);
  const online = resolveDefault(host);
  assert.deepEqual([online.mode, online.notice], ["pasta", undefined]);
  assert.equal(trials.length, 1);

  // offline again, and pasta was upgraded in between: tried again
  Deno.writeTextFileSync(`${dir}/route`, ROUTE_HEAD);
  Deno.writeTextFileSync(`${dir}/pasta`, "#!/bin/sh\n# a newer pasta\n", { mode: 0o755 });
  resolveDefault(host);
  assert.equal(trials.length, 2);
});

test("a pasta that stops at start for a reason of the host is remembered for those facts; an explicit mode never falls back", () => {
  const dir = scratch("nook-auto-");
  const trials: string[] = [];
  const host = fileHost(dir, trials, undefined);
  Deno.writeTextFileSync(`${dir}/route`, ROUTE_ONLINE); // a default route, and still pasta cannot start
  Deno.writeTextFileSync(`${dir}/ipv6_route`, "");
  const first = resolveDefault(host);
  assert.equal(first.mode, "pasta");
  rememberPastaFailure(`${dir}/memo.json`, first.autoKey!, "External interface not usable");
  const next = resolveDefault(host);
  assert.equal(next.mode, "slirp4netns");
  assert.match(next.notice!, /External interface not usable/);
  assert.equal(trials.length, 0);
  // explicitly asked for: pasta it is, whatever was learned
  assert.deepEqual(resolveMode("pasta", host), { mode: "pasta", tool: `${dir}/pasta` });
});

test("where both helpers work, the default is the one that started faster, measured once for the host facts", () => {
  const ONLINE: AutoFacts = { ...OFFLINE, routes: ["4:eth0"] };
  let timed = 0;
  const slow = (t: { pasta: number; slirp4netns: number }) => () => (timed++, t);
  const slirp = decideAuto(ONLINE, undefined, () => assert.fail("no pasta trial when online"), slow({ pasta: 40, slirp4netns: 6 }));
  assert.equal(slirp.mode, "slirp4netns");
  assert.equal(slirp.tool, "/usr/bin/slirp4netns");
  assert.equal(slirp.notice, undefined, "a choice between two working helpers is no fallback: no notice");
  assert.match(slirp.reason!, /slirp4netns starts faster than pasta on this host \(6 ms against 40 ms/);
  assert.deepEqual(slirp.memo, { key: autoKey(ONLINE), starts: { pasta: 40, slirp4netns: 6 } });
  // kept: the same facts are not measured again
  const again = decideAuto(ONLINE, slirp.memo, () => undefined, slow({ pasta: 1, slirp4netns: 99 }));
  assert.deepEqual([again.mode, timed], ["slirp4netns", 1]);
  // pasta faster: pasta, saying why; a trial without an answer keeps pasta, and is not repeated
  const pasta = decideAuto(ONLINE, undefined, () => undefined, slow({ pasta: 5, slirp4netns: 9 }));
  assert.deepEqual([pasta.mode, pasta.notice], ["pasta", undefined]);
  assert.match(pasta.reason!, /pasta starts faster than slirp4netns .*\(5 ms against 9 ms/);
  const unknown = decideAuto(ONLINE, undefined, () => undefined, () => (timed++, {}));
  assert.deepEqual([unknown.mode, unknown.memo.starts], ["pasta", {}]);
  decideAuto(ONLINE, unknown.memo, () => undefined, () => assert.fail("measured once"));
  // one helper only, or a pasta that cannot work: nothing to compare, nothing measured
  const { slirp4netns: _, ...noSlirp } = ONLINE;
  assert.equal(decideAuto(noSlirp, undefined, () => undefined, () => assert.fail("nothing to compare")).mode, "pasta");
  const failing = decideAuto(OFFLINE, undefined, () => "External interface not usable", () => assert.fail("pasta fails"));
  assert.equal(failing.mode, "slirp4netns");
  assert.match(failing.notice!, /pasta cannot work/);
});

test(
  "the helpers' start is timed in trial containers, as a run starts them; info and doctor give the default's reason",
  async () => {
    const tools = { pasta: findExecutable("pasta", helperSearchPath())!, slirp4netns: findExecutable("slirp4netns", helperSearchPath())! };
    const env = { ...isolatedEnv(), XDG_RUNTIME_DIR: scratch("nook-trial-run-") };
    Deno.chmodSync(env.XDG_RUNTIME_DIR, 0o700);
    const r = await sh(NOOK, ["_network", "time-helpers", JSON.stringify(tools)], env);
    assert.equal(r.code, 0, r.stderr);
    const times = JSON.parse(r.stdout);
    for (const m of ["pasta", "slirp4netns"]) {
      assert.ok(typeof times[m] === "number" && times[m] > 0 && times[m] < 10_000, `${m} was timed: ${r.stdout}`);
    }
    assert.deepEqual(Deno.readDirSync(`${env.XDG_RUNTIME_DIR}/nook/tmp`).toArray(), [], "the trial leaves nothing behind");
    // a default run measures once and keeps it; info and doctor say which one is faster, as run chose
    const info = JSON.parse((await sh(NOOK, ["info", "--format", "json"], env)).stdout);
    const memo = readMemo(`${env.XDG_RUNTIME_DIR}/nook/network-default.json`)!;
    assert.ok(memo.starts?.pasta && memo.starts.slirp4netns, JSON.stringify(memo));
    const faster = memo.starts.slirp4netns < memo.starts.pasta ? "slirp4netns" : "pasta";
    assert.equal(info.network.default, faster);
    assert.match(info.network.default_reason, new RegExp(`^${faster} starts faster than`));
    assertAgree(await verdicts((args) => sh(NOOK, args, env)), "after the timing");
  },
  { skip: helperSkip("pasta", "passt") ?? helperSkip("slirp4netns", "slirp4netns") },
);

// ---- real runs in a network namespace without an external interface ------------------------------

const offlineEnv = () => ({
  ...isolatedEnv(),
  XDG_RUNTIME_DIR: (() => {
    const d = scratch("nook-offline-run-");
    Deno.chmodSync(d, 0o700);
    return d;
  })(),
  // only the caller's own id exists in the namespace made below: newuidmap cannot work there
  NOOK_IDMAP: "single",
});

/** `nook ARGS` in a new user and network namespace that has only loopback (an offline host). */
function offline(args: string[], env: Record<string, string>): Promise<Result> {
  return sh("unshare", ["--net", "--user", "--map-current-user", NOOK, ...args], env);
}

let offlineReason: string | undefined | null = null;
function offlineSkip(): string | undefined {
  if (offlineReason !== null) return offlineReason;
  const skip = helperSkip("slirp4netns", "slirp4netns");
  if (skip) return (offlineReason = skip);
  const r = new Deno.Command("unshare", { args: ["--net", "--user", "--map-current-user", "true"], stderr: "piped" })
    .outputSync();
  offlineReason = r.success
    ? undefined
    : `cannot make a user and network namespace here (unshare --net --user --map-current-user): ${
      new TextDecoder().decode(r.stderr).trim()
    }`;
  return offlineReason;
}

const SHOW = "ip -o addr | grep -v ' lo ' | grep -o 'inet [0-9./]*'; grep nameserver /etc/resolv.conf; echo done";

test(
  "a default run on a host without an external interface gets a network that works there, and says so once",
  async () => {
    const env = offlineEnv();
    const rootfs = busyboxRootfs();
    const first = await offline(["run", "--rm", "--rootfs", rootfs, "sh", "-c", SHOW], env);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /done/);
    const notices = first.stderr.split("\n").filter((l) => l.includes("by default"));
    assert.equal(notices.length, 1, first.stderr);
    if (/slirp4netns/.test(notices[0]!)) {
      assert.match(notices[0]!, /nook: notice: containers get slirp4netns by default: pasta cannot work on this host/);
      assert.match(first.stdout, /inet 10\.0\.2\.100\/24/);
      assert.match(first.stdout, /nameserver 10\.0\.2\.3/);
    } else {
      assert.match(notices[0]!, /pasta runs in its local mode/); // a pasta with a local mode
    }
    const second = await offline(["run", "--rm", "--rootfs", rootfs, "sh", "-c", SHOW], env);
    assert.equal(second.code, 0, second.stderr);
    assert.doesNotMatch(second.stderr, /by default/, "the notice is shown once");
    assert.equal(second.stdout, first.stdout);
  },
  { skip: offlineSkip() },
);

test("an explicit --network pasta on a host without an external interface never falls back", async () => {
  const env = offlineEnv();
  const r = await offline(["run", "--rm", "--network", "pasta", "--rootfs", busyboxRootfs(), "true"], env);
  if (r.code === 0) {
    // this pasta has a local mode (newer passt): it runs, as asked
    assert.doesNotMatch(r.stderr, /slirp4netns/);
    return;
  }
  assert.equal(r.code, 125, r.stderr);
  assert.match(r.stderr, /pasta exited before the container's interface was up: .*External interface not usable/);
  assert.match(r.stderr, /hint: .*no interface with a default route.*--network slirp4netns/);
}, { skip: offlineSkip() ?? helperSkip("pasta", "passt") });

test(
  "run, doctor and info agree on the default network, cgroup manager and storage backend (this host, and offline)",
  async () => {
    const env = offlineEnv();
    const sh_ = (args: string[]) => sh(NOOK, args, env);
    assertAgree(await verdicts(sh_), "this host");
    assertAgree(await verdicts((args) => offline(args, env)), "offline");
  },
  { skip: offlineSkip() },
);

/** Why pasta's local mode cannot be tried here: no pasta, or one that needs an external interface. */
function localModeSkip(): string | undefined {
  const skip = offlineSkip() ?? helperSkip("pasta", "passt");
  if (skip) return skip;
  const r = new Deno.Command("unshare", {
    args: ["--net", "--user", "--map-current-user", "pasta", "--config-net", "--quiet", "--", "/bin/sh", "-c", ":"],
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  if (r.success) return undefined;
  const said = hostReason(new TextDecoder().decode(r.stderr)) ?? `exit status ${r.code}`;
  return `the installed pasta has no local mode (offline it says "${said}"; newer passt runs without an external interface)`;
}

test("offline, a pasta with a local mode is kept by the default, and run, info and doctor say so", async () => {
  const env = offlineEnv();
  const info = JSON.parse((await offline(["info", "--format", "json"], env)).stdout);
  assert.equal(info.network.default, "pasta");
  assert.match(info.network.default_reason, /local mode/);
  const doctor = JSON.parse((await offline(["doctor", "--no-trial", "--format", "json"], env)).stdout);
  assert.match(doctor.checks.find((c: { id: string }) => c.id === "network.default").detail, /^pasta .*local mode/);
  const r = await offline(["run", "--rm", "--rootfs", busyboxRootfs(), "true"], env);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /pasta runs in its local mode/);
}, { skip: localModeSkip() });
