/**
 * The parts of `nook build` that need no container: `RUN --mount=` values, the mount points a
 * step must make and take out again, and here-documents with quoted and unquoted delimiters.
 */
import assert from "node:assert/strict";
import { test } from "../_helpers.ts";
import { isEmptyUpperDir, missingMountPoints, parseRunMount } from "../../src/build/mounts.ts";
import { parseContainerfile } from "../../src/build/containerfile.ts";

test("RUN --mount values take docker's keys, defaults and aliases", () => {
  assert.deepEqual(parseRunMount("type=cache,target=/root/.cache", "/"), {
    type: "cache", target: "/root/.cache", id: "/root/.cache", rw: true, sharing: "shared", required: false,
  });
  const c = parseRunMount("type=cache,dst=cache,id=go,sharing=locked,ro,mode=0700,uid=1000,gid=1000", "/work");
  assert.equal(c.target, "/work/cache");
  assert.deepEqual([c.id, c.sharing, c.rw, c.mode, c.uid, c.gid], ["go", "locked", false, 0o700, 1000, 1000]);
  assert.deepEqual(parseRunMount("type=secret,id=tok", "/"), { type: "secret", id: "tok", target: "/run/secrets/tok", rw: false, sharing: "shared", required: false });
  const env = parseRunMount("type=secret,id=tok,env=TOKEN,required", "/");
  assert.equal(env.target, undefined, "env= alone mounts no file");
  assert.equal(env.required, true);
  assert.equal(parseRunMount("type=secret,target=/etc/key", "/").id, "key", "the id defaults to the target's name");
  const b = parseRunMount("target=/src,source=app,from=build,rw", "/");
  assert.deepEqual([b.type, b.source, b.from, b.rw], ["bind", "app", "build", true]);
  assert.equal(parseRunMount("type=tmpfs,destination=/t,size=64m", "/").size, "64m");
});

test("RUN --mount errors say what is wrong and what to give", () => {
  for (const [text, want] of [
    ["type=volume,target=/x", /unknown type "volume"/],
    ["type=cache", /a target is needed/],
    ["type=cache,target=/c,sharing=sometimes", /unknown sharing "sometimes"/],
    ["type=secret", /a secret needs an id/],
    ["type=tmpfs,target=/t,size=lots", /invalid size "lots"/],
    ["type=bind,target=/x,sharing=locked", /"sharing" is not an option of type=bind/],
    ["type=cache,target=/c,mode=999", /invalid mode "999"/],
    ["type=cache,target=/", /the target cannot be the root/],
    ["type=secret,id=x,env=1X", /invalid variable name "1X"/],
  ] as const) {
    assert.throws(() => parseRunMount(text, "/"), want, text);
  }
});

test("the mount points a step makes are the missing parts of each target, deepest first", () => {
  const have = new Set(["tmp", "var"]);
  assert.deepEqual(missingMountPoints(["/run/secrets/a", "/run/secrets/b", "/tmp/x", "/var"], (r) => have.has(r)), [
    "run/secrets/b",
    "run/secrets/a",
    "tmp/x",
    "run/secrets",
    "run",
  ]);
  const dir = Deno.makeTempDirSync();
  try {
    assert.ok(isEmptyUpperDir(dir));
    Deno.writeFileSync(`${dir}/.wh..wh..opq`, new Uint8Array());
    assert.ok(isEmptyUpperDir(dir), "fuse-overlayfs's marker of a new directory is not content");
    assert.ok(!isEmptyUpperDir(dir, false), "over a directory below, the marker means opaque");
    Deno.writeTextFileSync(`${dir}/f`, "x");
    assert.ok(!isEmptyUpperDir(dir));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

test("here-documents remember whether their delimiter was quoted", () => {
  const ins = parseContainerfile("FROM x\nRUN cat <<EOF <<'RAW' > /f\na $X\nEOF\nb $X\nRAW\nCOPY <<-\"T\" /t\n\tc\n\tT\n");
  assert.deepEqual(ins[1]!.heredocs, [
    { name: "EOF", body: "a $X\n", chomp: false, quoted: false },
    { name: "RAW", body: "b $X\n", chomp: false, quoted: true },
  ]);
  assert.deepEqual(ins[2]!.heredocs, [{ name: "T", body: "c\n", chomp: true, quoted: true }]);
});
