/**
 * Helpers of the OCI runtime tests: bundles made from the busybox rootfs
 * and nook's own default spec, `nook runtime` with a private --root, and a
 * check of a state document against the runtime-spec's schema.
 */
import { assert, busyboxRootfs, isolatedEnv, NOOK, type Result, scratch } from "./_helpers.ts";
import { defaultSpec } from "../src/oci/default_spec.ts";

/** A config.json as an editable object. */
// deno-lint-ignore no-explicit-any
export type Config = Record<string, any>;

/** A bundle: config.json from `spec --rootless`, root.path at the shared busybox rootfs, changed by `edit`. */
export function makeBundle(edit: (c: Config) => void = () => {}, rootfs = busyboxRootfs()): string {
  const dir = scratch("nook-bundle-");
  const c: Config = defaultSpec(true);
  c.root = { path: rootfs, readonly: true };
  c.process.terminal = false;
  c.process.args = ["true"];
  edit(c);
  Deno.writeTextFileSync(`${dir}/config.json`, JSON.stringify(c, null, 2));
  return dir;
}

/**
 * `nook runtime --root ROOT ARGS`, its output in files: a created container
 * keeps the runtime's stdout and stderr (as under conmon), so pipes would
 * stay open after the runtime itself exits.
 */
export async function runtime(
  root: string | undefined,
  args: string[],
  env: Record<string, string> = {},
): Promise<Result> {
  const dir = scratch("nook-rt-out-");
  const out = await new Deno.Command("sh", {
    args: [
      "-c",
      `exec "$0" "$@" >"${dir}/out" 2>"${dir}/err" </dev/null`,
      NOOK,
      "runtime",
      ...(root ? ["--root", root] : []),
      ...args,
    ],
    env: { ...isolatedEnv(), ...env },
    stdout: "null",
    stderr: "null",
  }).output();
  const read = (f: string) => Deno.readTextFileSync(`${dir}/${f}`);
  return { code: out.code, stdout: read("out"), stderr: read("err") };
}

/** The fields and types the runtime-spec's state schema requires; returns the parsed state. */
export function checkState(
  text: string,
  expect: { id: string; status: string; bundle: string },
): Record<string, unknown> {
  const s = JSON.parse(text);
  assert.equal(typeof s.ociVersion, "string");
  assert.match(s.ociVersion, /^\d+\.\d+\.\d+/, "ociVersion is SemVer");
  assert.equal(s.id, expect.id);
  assert.equal(s.status, expect.status);
  assert.ok(["creating", "created", "running", "stopped"].includes(s.status));
  if (s.status === "created" || s.status === "running") {
    assert.ok(Number.isInteger(s.pid) && s.pid > 0, `pid is required when ${s.status}: ${s.pid}`);
  }
  assert.equal(s.bundle, expect.bundle);
  assert.ok(s.bundle.startsWith("/"), "bundle is an absolute path");
  if (s.annotations !== undefined) {
    assert.equal(typeof s.annotations, "object");
    for (const v of Object.values(s.annotations)) assert.equal(typeof v, "string");
  }
  return s;
}

/** A private state root. */
export function stateRootDir(): string {
  return scratch("nook-oci-root-");
}
