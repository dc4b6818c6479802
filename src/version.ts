/** nook's own version, printed by `nook --version`. */
export const NOOK_VERSION = "0.1.0-dev";
