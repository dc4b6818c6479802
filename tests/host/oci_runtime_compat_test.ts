/**
 * `nook runtime` takes the configs engines write as runc takes them: the root's
 * mount propagation as asked (the kernel refuses pivot_root under a shared
 * mount, so the order matters), and bind mounts whose options carry
 * filesystem data. Real bundles; the checks read what the container sees.
 */
import { assert, busyboxSkip, scratch, test } from "../_helpers.ts";
import { makeBundle, runtime, stateRootDir } from "../_oci_runtime.ts";

const skip = busyboxSkip();

/** One /proc/self/mountinfo line: mount point and optional fields (shared:N, master:N…). */
interface MountLine {
  point: string;
  tags: string[];
}

function parseMountinfo(text: string): MountLine[] {
  return text.trim().split("\n").map((l) => {
    const f = l.split(" ");
    const sep = f.indexOf("-");
    return { point: f[4] ?? "", tags: f.slice(6, sep) };
  });
}

/** Run `cat /proc/self/mountinfo` in a container with this rootfsPropagation (and a bind at /data). */
async function mountinfoWith(propagation: string | undefined, noPivot = false): Promise<MountLine[]> {
  const data = scratch();
  const bundle = makeBundle((c) => {
    if (propagation !== undefined) c.linux.rootfsPropagation = propagation;
    c.mounts.push({ destination: "/data", type: "bind", source: data, options: ["rbind"] });
    c.process.args = ["cat", "/proc/self/mountinfo"];
  });
  const r = await runtime(stateRootDir(), [
    "run",
    ...(noPivot ? ["--no-pivot"] : []),
    "--bundle",
    bundle,
    `prop-${propagation ?? "default"}`,
  ]);
  assert.equal(r.code, 0, `rootfsPropagation ${propagation}: ${r.stderr}`);
  return parseMountinfo(r.stdout);
}

function rootLine(lines: MountLine[]): MountLine {
  // the last mount at "/" is the one the process sees
  const root = lines.filter((l) => l.point === "/").at(-1);
  assert.ok(root, `no mount at "/" in ${JSON.stringify(lines)}`);
  return root;
}

test('linux.rootfsPropagation "shared" makes the container\'s root a shared mount', async () => {
  const lines = await mountinfoWith("shared");
  const root = rootLine(lines);
  assert.ok(root.tags.some((t) => t.startsWith("shared:")), `the root is shared: ${root.tags.join(" ")}`);
}, { skip });

test('linux.rootfsPropagation "rshared" makes the root and the mounts under it shared', async () => {
  const lines = await mountinfoWith("rshared");
  assert.ok(rootLine(lines).tags.some((t) => t.startsWith("shared:")), "the root is shared");
  const data = lines.find((l) => l.point === "/data");
  assert.ok(data, "the bind mount is there");
  assert.ok(data.tags.some((t) => t.startsWith("shared:")), `the bind under the root is shared too: ${data.tags}`);
}, { skip });

test('linux.rootfsPropagation "shared" also works with --no-pivot (chroot)', async () => {
  const root = rootLine(await mountinfoWith("shared", true));
  // with chroot the old root stays underneath; the process's "/" line is the rootfs bind
  assert.ok(root.tags.some((t) => t.startsWith("shared:")), `the root is shared: ${root.tags.join(" ")}`);
}, { skip });

test("every linux.rootfsPropagation value runs, with and without pivot_root, and the root shows it", async () => {
  // slave: a master only when the host's mount had peers to follow, so only "not shared" is certain
  const expect: Record<string, (tags: string[]) => boolean> = {
    shared: (t) => t.some((x) => x.startsWith("shared:")),
    rshared: (t) => t.some((x) => x.startsWith("shared:")),
    private: (t) => t.length === 0,
    rprivate: (t) => t.length === 0,
    slave: (t) => !t.some((x) => x.startsWith("shared:")),
    rslave: (t) => !t.some((x) => x.startsWith("shared:")),
    unbindable: (t) => t.includes("unbindable"),
    runbindable: (t) => t.includes("unbindable"),
  };
  for (const [value, ok] of Object.entries(expect)) {
    for (const noPivot of [false, true]) {
      const root = rootLine(await mountinfoWith(value, noPivot));
      assert.ok(
        ok(root.tags),
        `${value}${noPivot ? " (--no-pivot)" : ""}: the root's tags are "${root.tags.join(" ")}"`,
      );
    }
  }
}, { skip });

test(
  "a bind mount whose options carry filesystem data (mode=755, size=1k) is made, and --debug says the data is ignored",
  async () => {
    const src = scratch();
    Deno.writeTextFileSync(`${src}/hello`, "from the host\n");
    const bundle = makeBundle((c) => {
      c.mounts.push({
        destination: "/data",
        type: "bind",
        source: src,
        options: ["rbind", "ro", "mode=755", "size=1k"],
      });
      c.process.args = ["sh", "-c", "cat /data/hello; touch /data/x 2>/dev/null && echo writable || echo read-only"];
    });
    const r = await runtime(stateRootDir(), ["--debug", "run", "--bundle", bundle, "binddata1"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "from the host\nread-only\n", "the bind shows the host's file and ro still applies");
    assert.match(
      r.stderr,
      /mounts\[\d+\]: the bind mount at "\/data" ignores the filesystem options "mode=755", "size=1k"/,
    );
    const quiet = await runtime(stateRootDir(), ["run", "--bundle", bundle, "binddata2"]);
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.equal(quiet.stderr, "", "without --debug nothing is said");
  },
  { skip },
);
