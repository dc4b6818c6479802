import { NookError, type NookErrorFields } from "../errors/mod.ts";

/** A runtime-spec operation failed: bad config.json, wrong container state, unknown id. */
export class OciError extends NookError {}

/** config.json names a field nook cannot carry out: the message names the field. */
export function unsupported(field: string, why: string, hint?: string): OciError {
  const fields: NookErrorFields = { op: "config.json" };
  if (hint) fields.hint = hint;
  return new OciError(`config.json: "${field}" is not supported: ${why}`, fields);
}

/** config.json has a field with a value that is not allowed: the message names the field. */
export function invalid(field: string, what: string, hint?: string): OciError {
  const fields: NookErrorFields = { op: "config.json" };
  if (hint) fields.hint = hint;
  return new OciError(`config.json: "${field}" ${what}`, fields);
}
