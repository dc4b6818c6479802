/** The built-in profile compiled ahead of time must be what compiling it now gives. */
import { assert, test } from "../_helpers.ts";
import { ARCHES, compileProfile, defaultFilter, defaultProfile, PRECOMPILED_MIN_KERNEL } from "../../src/seccomp/mod.ts";
import { DEFAULT_CAPABILITIES } from "../../src/security/mod.ts";
import { PRECOMPILED } from "../../src/seccomp/_default_filter.ts";

test("the precompiled default filter is current (else run src/seccomp/_gen_default_filter.ts)", () => {
  for (const arch of Object.keys(ARCHES) as (keyof typeof ARCHES)[]) {
    const fresh = compileProfile(defaultProfile(), {
      capabilities: DEFAULT_CAPABILITIES,
      arch,
      kernel: PRECOMPILED_MIN_KERNEL,
    });
    const words = Array.from(new Uint32Array(fresh.program.buffer, fresh.program.byteOffset, fresh.program.length / 4));
    assert.deepEqual(PRECOMPILED[arch], words, `${arch}: regenerate src/seccomp/_default_filter.ts`);
    assert.deepEqual(defaultFilter(DEFAULT_CAPABILITIES, arch, "6.1.0").program, fresh.program);
  }
});

test("other capability sets and old kernels get the built-in profile compiled on the spot", () => {
  for (const arch of Object.keys(ARCHES) as (keyof typeof ARCHES)[]) {
    const caps = [...DEFAULT_CAPABILITIES, "SYS_ADMIN"];
    const now = compileProfile(defaultProfile(), { capabilities: caps, arch, kernel: "6.1" }).program;
    assert.deepEqual(defaultFilter(caps, arch, "6.1.0").program, now);
    const old = compileProfile(defaultProfile(), { capabilities: DEFAULT_CAPABILITIES, arch, kernel: "4.4" }).program;
    assert.deepEqual(
      defaultFilter(DEFAULT_CAPABILITIES.map((c) => `cap_${c.toLowerCase()}`), arch, "4.4.0").program,
      old,
    );
    assert.notDeepEqual(old, now);
  }
});
