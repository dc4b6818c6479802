/**
 * zstd: `nook build --compression-format zstd` makes zstd layers, `nook push --compression-format`
 * recompresses stored layers either way, and nook pulls zstd layers back — a round trip through the
 * local registry (docker-registry on 127.0.0.1), read by skopeo, as the unprivileged test user.
 */
import assert from "node:assert/strict";
import { busyboxRootfs, busyboxSkip, exists, scratch, sh, test } from "../_helpers.ts";
import { freshStore, nookT, registrySkip, startRegistry } from "../_oci.ts";

const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];
const skip = busyboxSkip() ?? registrySkip() ?? (exists("/usr/bin/skopeo") ? undefined : "skopeo is not installed (apt install skopeo)");

async function rawManifest(ref: string): Promise<{ mediaType: string; layers: { mediaType: string; digest: string }[] }> {
  const r = await sh("skopeo", ["inspect", "--raw", "--tls-verify=false", `docker://${ref}`]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

test("zstd layers: built, pushed, recompressed on push both ways, and pulled back and run", async () => {
  const s = freshStore();
  const reg = await startRegistry();
  try {
    const file = `${scratch("nook-build-base-")}/bb.tar`;
    assert.equal((await sh("tar", ["--owner=0", "--group=0", "--numeric-owner", "-C", busyboxRootfs(), "-cf", file, "."])).code, 0);
    assert.equal((await nookT(["import", "-q", file, "bb"], s.env)).code, 0);
    const ctx = scratch("nook-build-ctx-");
    Deno.writeTextFileSync(`${ctx}/Containerfile`, "FROM bb\nCOPY f /f\nRUN seq 1 2000 > /numbers && cat /f >> /numbers\n");
    Deno.writeTextFileSync(`${ctx}/f`, "from the context\n");
    const b = await nookT(["build", "--network", "none", "--compression-format", "zstd", "-t", "z:1", ctx], s.env);
    assert.equal(b.code, 0, b.stderr + b.stdout);

    // pushed as built: the two new layers are zstd (and their blobs start with zstd's magic)
    const p = await nookT(["push", "--tls-verify=false", "z:1", `${reg.host}/t/z:1`], s.env);
    assert.equal(p.code, 0, p.stderr);
    const m = await rawManifest(`${reg.host}/t/z:1`);
    assert.equal(m.mediaType, "application/vnd.oci.image.manifest.v1+json");
    assert.deepEqual(m.layers.slice(1).map((l) => l.mediaType), Array(2).fill("application/vnd.oci.image.layer.v1.tar+zstd"));
    const dir = `${scratch("nook-zstd-dir-")}/d`;
    const copy = await sh("skopeo", ["copy", "--tls-verify=false", `docker://${reg.host}/t/z:1`, `dir:${dir}`]);
    assert.equal(copy.code, 0, copy.stderr);
    for (const l of m.layers.slice(1)) {
      const head = Deno.readFileSync(`${dir}/${l.digest.slice(7)}`).subarray(0, 4);
      assert.deepEqual([...head], ZSTD_MAGIC, `${l.digest} is a zstd frame`);
    }

    // a rebuild with the same compression is cached; gzip is another blob, so it is not
    const again = await nookT(["build", "--network", "none", "--compression-format", "zstd", "-t", "z:1", ctx], s.env);
    assert.equal(((again.stdout + again.stderr).match(/--> Using cache/g) ?? []).length, 2);

    // pushed recompressed: every layer zstd, then every layer gzip again
    const pz = await nookT(["push", "--tls-verify=false", "--compression-format", "zstd", "bb", `${reg.host}/t/bb:zstd`], s.env);
    assert.equal(pz.code, 0, pz.stderr);
    const mz = await rawManifest(`${reg.host}/t/bb:zstd`);
    assert.ok(mz.layers.every((l) => l.mediaType === "application/vnd.oci.image.layer.v1.tar+zstd"), JSON.stringify(mz));
    const pg = await nookT(["push", "--tls-verify=false", "--compression-format", "gzip", "z:1", `${reg.host}/t/z:gzip`], s.env);
    assert.equal(pg.code, 0, pg.stderr);
    const mg = await rawManifest(`${reg.host}/t/z:gzip`);
    assert.ok(mg.layers.every((l) => l.mediaType === "application/vnd.oci.image.layer.v1.tar+gzip"), JSON.stringify(mg));
    const zd = await sh("skopeo", ["inspect", "--tls-verify=false", `docker://${reg.host}/t/z:gzip`]);
    const zz = await sh("skopeo", ["inspect", "--tls-verify=false", `docker://${reg.host}/t/z:1`]);
    assert.deepEqual(JSON.parse(zd.stdout).LayersData?.length, JSON.parse(zz.stdout).LayersData?.length);

    // each pulled back into a fresh store (zstd layers decompressed) runs the same
    for (const ref of [`${reg.host}/t/z:1`, `${reg.host}/t/z:gzip`, `${reg.host}/t/bb:zstd`]) {
      const s2 = freshStore();
      try {
        const pull = await nookT(["pull", "-q", "--tls-verify=false", ref], s2.env);
        assert.equal(pull.code, 0, pull.stderr);
        const r = await nookT(["run", "--rm", "--network", "none", ref, "sh", "-c", "tail -1 /numbers 2>/dev/null || echo base; wc -l < /numbers 2>/dev/null || true"], s2.env);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout, ref.endsWith("bb:zstd") ? "base\n" : "from the context\n2001\n", ref);
      } finally {
        await s2.reset();
      }
    }
    const bad = await nookT(["build", "--format", "docker", "--compression-format", "zstd", ctx], s.env);
    assert.equal(bad.code, 125);
    assert.match(bad.stderr, /zstd layers cannot be described in the docker format/);
    const badPush = await nookT(["push", "--tls-verify=false", "--format", "docker", "--compression-format", "zstd", "z:1", `${reg.host}/t/z:d`], s.env);
    assert.notEqual(badPush.code, 0);
    assert.match(badPush.stderr, /cannot have zstd layers in the docker format|which the docker format cannot describe/);
  } finally {
    await reg.stop();
    await s.reset();
  }
}, { skip });
