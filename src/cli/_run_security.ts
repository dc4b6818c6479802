import type { OptionSpec } from "./_args.ts";

/** Options of `nook run` that belong to issue #5 (security); empty until it lands. */
export const SECURITY_RUN_OPTIONS: readonly OptionSpec[] = [];
