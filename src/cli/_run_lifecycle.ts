import type { OptionSpec } from "./_args.ts";

/** Options of `nook run` that belong to issue #4 (lifecycle); empty until it lands. */
export const LIFECYCLE_RUN_OPTIONS: readonly OptionSpec[] = [];
