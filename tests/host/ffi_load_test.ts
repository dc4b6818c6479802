/**
 * libshim is opened once and each symbol bound on its first use (src/ffi): a library that is
 * missing, or lacks a symbol nook needs (an out-of-date build), still ends the command with
 * nook's error and the hint to rebuild it, not with Deno's.
 */
import { assert, exists, nook, scratch, test } from "../_helpers.ts";

const LIBC = [
  "/lib/x86_64-linux-gnu/libc.so.6",
  "/usr/lib/x86_64-linux-gnu/libc.so.6",
  "/lib/aarch64-linux-gnu/libc.so.6",
  "/lib64/libc.so.6",
]
  .find(exists);

for (
  const [what, lib, skip] of [
    ["a missing libshim", "/nonexistent/libshim.so", undefined],
    ["a library without libshim's symbols", LIBC ?? "", LIBC ? undefined : "no libc.so.6 found at the usual paths"],
  ] as const
) {
  test(`nook run with ${what} fails with exit 125 and the hint to rebuild libshim`, async () => {
    const dir = scratch();
    const r = await nook(["run", "--rm", "--network", "none", "--rootfs", dir, "true"], { env: { NOOK_LIBSHIM: lib } });
    assert.equal(r.code, 125, r.stderr);
    assert.match(r.stderr, new RegExp(`^nook: Cannot load libshim from "${lib.replaceAll(".", "\\.")}": `, "m"));
    assert.match(r.stderr, /hint: run \.\/nook once so it builds libshim/);
  }, { skip });
}
