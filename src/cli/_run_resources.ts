import type { OptionSpec } from "./_args.ts";

/** Options of `nook run` that belong to issue #6 (resources); empty until it lands. */
export const RESOURCES_RUN_OPTIONS: readonly OptionSpec[] = [];
