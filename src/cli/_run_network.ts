import type { OptionSpec } from "./_args.ts";

/** Options of `nook run` that belong to issue #7 (network); empty until it lands. */
export const NETWORK_RUN_OPTIONS: readonly OptionSpec[] = [];
