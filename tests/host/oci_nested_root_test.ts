/**
 * `nook runtime` as uid 0 of a user namespace it did not make — where
 * rootlesskit puts rootless containerd, and usernetes its kubelet: an
 * unprivileged user's `unshare --user --map-root-user --mount` stands in for
 * rootlesskit. The spec is a rootful one (`nook runtime spec`, what such an
 * engine sends), with and without a user namespace of its own, and engines'
 * default resource fields that no cgroup can carry out here.
 */
import { assert, busyboxRootfs, busyboxSkip, exists, ROOT, scratch, test } from "../_helpers.ts";
import { type Config, stateRootDir } from "../_oci_runtime.ts";
import { defaultSpec } from "../../src/oci/default_spec.ts";
import { chooseManager } from "../../src/cgroupv2/mod.ts";

function nestedSkip(): string | undefined {
  const base = busyboxSkip();
  if (base) return base;
  if (!exists("/usr/bin/unshare")) return "unshare (util-linux) is not installed";
  const out = new Deno.Command("unshare", { args: ["--user", "--map-root-user", "--mount", "true"], stderr: "piped" })
    .outputSync();
  return out.success ? undefined : `unshare --user --map-root-user fails here: ${new TextDecoder().decode(out.stderr)}`;
}

const skip = nestedSkip();

/** A bundle of a rootful spec on the shared busybox rootfs, changed by `edit`. */
function rootfulBundle(edit: (c: Config) => void): string {
  const dir = scratch("nook-nested-");
  const c: Config = defaultSpec(false);
  c.root = { path: busyboxRootfs(), readonly: true };
  c.process.terminal = false;
  edit(c);
  Deno.writeTextFileSync(`${dir}/config.json`, JSON.stringify(c, null, 2));
  return dir;
}

/** `nook runtime run` as root of a user namespace of the caller's (rootlesskit's position). */
async function runNested(bundle: string, id: string) {
  const out = await new Deno.Command("unshare", {
    args: [
      "--user",
      "--map-root-user",
      "--mount",
      `${ROOT}/bin/nook-runtime`,
      "--root",
      stateRootDir(),
      "run",
      "--bundle",
      bundle,
      id,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

const noManager = chooseManager().kind === "none";

test("as root of a user namespace it did not make, a rootful spec runs, sharing that namespace", async () => {
  const b = rootfulBundle((c) => {
    c.process.args = ["sh", "-c", "id -u; cat /proc/self/uid_map; grep -E '^Cap(Bnd|Eff):' /proc/self/status"];
  });
  const r = await runNested(b, "nested1");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^0$/m);
  // the namespace is the caller's: only its own uid is mapped, as root
  assert.match(r.stdout, new RegExp(`^\\s*0\\s+${Deno.uid()}\\s+1$`, "m"));
  // the spec's capabilities, not the runtime's full set
  const bnd = /CapBnd:\s*([0-9a-f]+)/.exec(r.stdout)?.[1];
  assert.ok(bnd && BigInt(`0x${bnd}`) !== 0n && BigInt(`0x${bnd}`) < (1n << 41n) - 1n, r.stdout);
}, { skip });

test("as root of a user namespace it did not make, a spec with its own user namespace runs in a new one", async () => {
  const b = rootfulBundle((c) => {
    c.linux.namespaces.push({ type: "user" });
    c.linux.uidMappings = [{ containerID: 0, hostID: 0, size: 1 }];
    c.linux.gidMappings = [{ containerID: 0, hostID: 0, size: 1 }];
    c.process.args = ["sh", "-c", "id -u; readlink /proc/self/ns/user"];
  });
  const r = await runNested(b, "nested2");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^0$/m);
  const own = Deno.readLinkSync("/proc/self/ns/user");
  assert.ok(!r.stdout.includes(own), "the container's user namespace is a new one");
}, { skip });

test(
  "without a cgroup, an engine's default cpu.shares is ignored with one warning; a memory limit is refused",
  async () => {
    const shares = rootfulBundle((c) => {
      c.linux.resources = { ...c.linux.resources, cpu: { shares: 1024 } };
      c.process.args = ["true"];
    });
    let r = await runNested(shares, "nested3");
    assert.equal(r.code, 0, r.stderr);
    const warnings = r.stderr.split("\n").filter((l) => l.includes("linux.resources.cpu.shares"));
    assert.equal(warnings.length, 1, r.stderr);
    assert.match(warnings[0]!, /ignored/);

    const limit = rootfulBundle((c) => {
      c.linux.resources = { ...c.linux.resources, cpu: { shares: 1024 }, memory: { limit: 64 << 20 } };
      c.process.args = ["true"];
    });
    r = await runNested(limit, "nested4");
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /linux\.resources\.memory\.limit/);
    assert.match(r.stderr, /needs a cgroup/);
  },
  { skip: skip ?? (noManager ? undefined : "this host has a cgroup manager; the no-cgroup rule is not reached") },
);
