import { NookError } from "../errors/mod.ts";

/** The image store refused or failed an operation. */
export class StoreError extends NookError {}
