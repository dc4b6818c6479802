import { type CompiledFilter, compileProfile, kernelAtLeast, scmpCapName } from "./compile.ts";
import { defaultProfile } from "./default_profile.ts";
import { PRECOMPILED, PRECOMPILED_CAPABILITIES } from "./_default_filter.ts";
import { type Arch, nativeArch } from "./syscalls.ts";

/** The oldest kernel the precompiled programs are right for (the profile's newest minKernel). */
export const PRECOMPILED_MIN_KERNEL = "4.8";

/**
 * The built-in profile's filter for a container with these capabilities:
 * compiled ahead of time for the default capabilities (a cold compile costs
 * ~7 ms of `nook run`'s start-up), compiled now for any other set.
 */
export function defaultFilter(
  capabilities: Iterable<string>,
  arch: Arch | undefined = nativeArch(),
  kernel = Deno.osRelease(),
): CompiledFilter {
  const want = new Set([...capabilities].map(scmpCapName));
  const pre = arch ? PRECOMPILED[arch] : undefined;
  if (
    pre && kernelAtLeast(kernel, PRECOMPILED_MIN_KERNEL) && want.size === PRECOMPILED_CAPABILITIES.length &&
    PRECOMPILED_CAPABILITIES.every((c) => want.has(scmpCapName(c)))
  ) {
    // the words are little-endian, as x86_64 and aarch64 are
    return { program: new Uint8Array(Uint32Array.from(pre).buffer), flags: 0, warnings: [] };
  }
  return compileProfile(defaultProfile(), {
    capabilities: want,
    ...(arch ? { arch } : {}),
    kernel,
    source: "(built-in)",
  });
}
