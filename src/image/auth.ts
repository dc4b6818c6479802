/**
 * Registry credentials: nook's own file (written by `nook login`), then the
 * files users already have — containers' auth.json (podman, skopeo, buildah)
 * and docker's config.json.
 */
import { configDir, home } from "../paths/mod.ts";
import { NookError } from "../errors/mod.ts";

/** A user name and password (or token) for one registry. */
export interface Credentials {
  /** User name. */
  username: string;
  /** Password or access token. */
  password: string;
}

/** Credentials could not be read or written. */
export class AuthError extends NookError {}

interface AuthFile {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
}

/** nook's own credentials file: `$XDG_CONFIG_HOME/nook/auth.json` (mode 0600). */
export function nookAuthFile(): string {
  return Deno.env.get("NOOK_AUTH_FILE") ?? `${configDir()}/auth.json`;
}

/** The files searched for credentials, in order. */
export function authFiles(): string[] {
  const out = [nookAuthFile()];
  const env = Deno.env.get("REGISTRY_AUTH_FILE");
  if (env) out.push(env);
  const xdgRun = Deno.env.get("XDG_RUNTIME_DIR");
  if (xdgRun) out.push(`${xdgRun}/containers/auth.json`);
  try {
    const h = home();
    const xdgConf = Deno.env.get("XDG_CONFIG_HOME") ?? `${h}/.config`;
    out.push(`${xdgConf}/containers/auth.json`);
    out.push(`${Deno.env.get("DOCKER_CONFIG") ?? `${h}/.docker`}/config.json`);
  } catch {
    // no HOME: only the explicit files
  }
  return out;
}

function readAuthFile(path: string): AuthFile | undefined {
  try {
    return JSON.parse(Deno.readTextFileSync(path)) as AuthFile;
  } catch {
    return undefined;
  }
}

/** The keys a registry may be stored under in an auth file. */
function keysFor(registry: string): string[] {
  const keys = [
    registry,
    `https://${registry}`,
    `http://${registry}`,
    `https://${registry}/v2/`,
    `https://${registry}/v1/`,
  ];
  if (registry === "docker.io") keys.push("https://index.docker.io/v1/", "index.docker.io", "registry-1.docker.io");
  return keys;
}

function decode(
  entry: { auth?: string; username?: string; password?: string; identitytoken?: string },
): Credentials | undefined {
  if (entry.auth) {
    try {
      const text = atob(entry.auth);
      const i = text.indexOf(":");
      if (i > 0) return { username: text.slice(0, i), password: text.slice(i + 1) };
    } catch {
      return undefined;
    }
  }
  if (entry.username && entry.password) return { username: entry.username, password: entry.password };
  if (entry.identitytoken) return { username: "<token>", password: entry.identitytoken };
  return undefined;
}

/** Credentials for a registry from the first file that has them, or undefined. */
export function findCredentials(registry: string): Credentials | undefined {
  for (const file of authFiles()) {
    const data = readAuthFile(file);
    if (!data?.auths) continue;
    for (const key of keysFor(registry)) {
      const entry = data.auths[key];
      if (entry) {
        const c = decode(entry);
        if (c) return c;
      }
    }
  }
  return undefined;
}

/** Store credentials for a registry in nook's auth file (created 0600). */
export function saveCredentials(registry: string, creds: Credentials): string {
  const file = nookAuthFile();
  const data = readAuthFile(file) ?? {};
  data.auths ??= {};
  data.auths[registry] = { auth: btoa(`${creds.username}:${creds.password}`) };
  writePrivate(file, data);
  return file;
}

/** Forget a registry's credentials in nook's auth file; false when there were none. */
export function removeCredentials(registry: string): boolean {
  const file = nookAuthFile();
  const data = readAuthFile(file);
  if (!data?.auths) return false;
  let found = false;
  for (const key of keysFor(registry)) {
    if (data.auths[key]) {
      delete data.auths[key];
      found = true;
    }
  }
  if (found) writePrivate(file, data);
  return found;
}

function writePrivate(file: string, data: AuthFile): void {
  const dir = file.slice(0, file.lastIndexOf("/"));
  try {
    Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const tmp = `${file}.${Deno.pid}.tmp`;
    Deno.writeTextFileSync(tmp, JSON.stringify(data, null, 2) + "\n", { mode: 0o600 });
    Deno.chmodSync(tmp, 0o600);
    Deno.renameSync(tmp, file);
  } catch (err) {
    throw new AuthError(`Cannot write the credentials file "${file}": ${(err as Error).message}`, {
      path: file,
      cause: err,
      hint: "check the permissions of your config directory (XDG_CONFIG_HOME), or set NOOK_AUTH_FILE",
    });
  }
}
