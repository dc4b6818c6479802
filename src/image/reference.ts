/**
 * Image references, docker's grammar: `[registry[:port]/]path[:tag][@digest]`,
 * with docker.io's normalisation (`alpine` → `docker.io/library/alpine:latest`)
 * and a search list for short names. No modules loaded: the run path uses it.
 */
import { UsageError } from "../errors/mod.ts";

/** A parsed reference. */
export interface Reference {
  /** Registry host[:port], e.g. "docker.io", "localhost:5000". */
  registry: string;
  /** Repository path, e.g. "library/alpine". */
  repository: string;
  /** Tag, when given (or defaulted to "latest"). */
  tag?: string;
  /** "sha256:…" digest, when given. */
  digest?: string;
  /** The registry was written by the user (not a short name). */
  qualified: boolean;
}

/** Longest repository name with its registry (distribution spec, docker's NameTotalLengthMax). */
const NAME_MAX = 255;
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;

/** The registries tried for short names (`NOOK_SEARCH_REGISTRIES`, comma-separated; default docker.io). */
export function searchRegistries(): string[] {
  const env = Deno.env.get("NOOK_SEARCH_REGISTRIES");
  const list = (env ?? "docker.io").split(",").map((s) => s.trim()).filter(Boolean);
  return list.length ? list : ["docker.io"];
}

function bad(input: string, why: string): UsageError {
  return new UsageError(`Invalid image reference "${input}": ${why}`, {
    hint: "use NAME[:TAG] or REGISTRY/PATH[:TAG][@sha256:DIGEST], lowercase, e.g. docker.io/library/alpine:3.20",
  });
}

/**
 * Parse a reference. Without a registry it is placed in `registry` (default
 * the first search registry) and `qualified` is false; docker.io names of one
 * component get `library/`. No tag and no digest means ":latest".
 */
export function parseReference(input: string, registry = searchRegistries()[0]!): Reference {
  let rest = input.trim();
  if (!rest) throw bad(input, "it is empty");
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw bad(input, `"${digest}" is not a digest`);
  }
  let tag: string | undefined;
  const slash = rest.lastIndexOf("/");
  const colon = rest.lastIndexOf(":");
  if (colon > slash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw bad(input, `"${tag}" is not a valid tag`);
  }
  const parts = rest.split("/");
  let reg = registry;
  let qualified = false;
  if (parts.length > 1 && (parts[0]!.includes(".") || parts[0]!.includes(":") || parts[0] === "localhost")) {
    reg = parts.shift()!;
    qualified = true;
    if (!/^[a-zA-Z0-9.-]+(:\d+)?$/.test(reg)) throw bad(input, `"${reg}" is not a registry host`);
  }
  if (reg === "index.docker.io" || reg === "registry-1.docker.io") reg = "docker.io";
  for (const p of parts) {
    if (!COMPONENT.test(p)) {
      throw bad(
        input,
        p.toLowerCase() !== p ? "repository names must be lowercase" : `"${p}" is not a valid path component`,
      );
    }
  }
  if (reg === "docker.io" && parts.length === 1) parts.unshift("library");
  // the distribution spec's limit: registries refuse longer names, some with a bare HTTP 500
  const full = `${reg}/${parts.join("/")}`;
  if (full.length > NAME_MAX) {
    throw bad(input, `the name "${full.slice(0, 40)}…" has ${full.length} characters; at most ${NAME_MAX} are allowed`);
  }
  const out: Reference = { registry: reg, repository: parts.join("/"), qualified };
  if (tag === undefined && digest === undefined) tag = "latest";
  if (tag !== undefined) out.tag = tag;
  if (digest !== undefined) out.digest = digest;
  return out;
}

/** "registry/repository:tag", "registry/repository@digest" or both. */
export function formatReference(r: Reference): string {
  return `${r.registry}/${r.repository}${r.tag !== undefined ? `:${r.tag}` : ""}${r.digest ? `@${r.digest}` : ""}`;
}

/** "registry/repository" of a reference. */
export function repoName(r: Reference): string {
  return `${r.registry}/${r.repository}`;
}

/**
 * The fully qualified names a user's reference may stand for, in the order
 * they are tried: itself when qualified; else `localhost/NAME` (imported
 * images) and then each search registry.
 */
export function candidates(input: string): Reference[] {
  const first = parseReference(input);
  if (first.qualified) return [first];
  const out = [parseReference(input, "localhost")];
  for (const reg of searchRegistries()) out.push(parseReference(input, reg));
  return out;
}
