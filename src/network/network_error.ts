import { NookError } from "../errors/mod.ts";

/** Networking failed or cannot work here: a bad --network/-p value, a missing tool, an unusable /dev/net/tun, a helper that failed. */
export class NetworkError extends NookError {}
