import type { OptionSpec } from "./_args.ts";

/** Options of `nook run` that belong to issue #3 (image); empty until it lands. */
export const IMAGE_RUN_OPTIONS: readonly OptionSpec[] = [];
