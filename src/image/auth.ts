/**
 * Registry credentials: nook's own file (written by `nook login`), then the
 * files users already have — containers' auth.json (podman, skopeo, buildah)
 * and docker's config.json, with their credential helpers (`credHelpers`,
 * `credsStore`).
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

/**
 * Credentials for a registry, as docker and podman find them: file by file,
 * a `credHelpers` entry for the registry (a `docker-credential-NAME` helper),
 * then an `auths` entry, then the file's `credsStore` helper. Undefined when
 * nothing has any (anonymous access).
 */
export async function findCredentials(registry: string): Promise<Credentials | undefined> {
  for (const file of authFiles()) {
    const data = readAuthFile(file);
    if (!data) continue;
    const keys = keysFor(registry);
    const helper = keys.map((k) => data.credHelpers?.[k]).find((h) => typeof h === "string" && h !== "");
    if (helper) {
      // named for this registry: a helper that is missing or fails is an error, not anonymity
      const c = await fromHelper(helper, registry, true);
      if (c) return c;
    }
    for (const key of keys) {
      const entry = data.auths?.[key];
      if (entry) {
        const c = decode(entry);
        if (c) return c;
      }
    }
    if (typeof data.credsStore === "string" && data.credsStore !== "") {
      const c = await fromHelper(data.credsStore, registry, false);
      if (c) return c;
    }
  }
  return undefined;
}

/** Longest wait for a credential helper (a keyring prompt may take a while). */
const HELPER_TIMEOUT_MS = 60_000;

/**
 * Ask `docker-credential-NAME get` (found on PATH) for a registry's
 * credentials: the host on stdin, `{"Username","Secret"}` on stdout. A
 * helper that knows no credentials says so on stdout and exits non-zero.
 * A missing helper for `credsStore` (everyone's default, often left behind by
 * Docker Desktop) means no credentials; for `credHelpers` it is an error.
 */
async function fromHelper(name: string, registry: string, required: boolean): Promise<Credentials | undefined> {
  if (!/^[A-Za-z0-9._-]+$/.test(name)) {
    throw new AuthError(`The credential helper name "${name}" is not valid`, {
      hint: "credsStore and credHelpers name a program docker-credential-NAME; fix the auth file",
    });
  }
  const program = `docker-credential-${name}`;
  let child: Deno.ChildProcess;
  try {
    // why a subprocess: that is the helpers' protocol; nothing but the registry's host goes to it
    child = new Deno.Command(program, {
      args: ["get"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (err) {
    if (!required) return undefined;
    throw new AuthError(
      `The credential helper "${program}" for "${registry}" cannot be run: ${(err as Error).message}`,
      {
        cause: err,
        hint: `install ${program} or remove "${registry}" from credHelpers in your auth file`,
      },
    );
  }
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // ended just now
    }
  }, HELPER_TIMEOUT_MS);
  let out: Deno.CommandOutput;
  try {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(registry)).catch(() => {});
    await w.close().catch(() => {});
    out = await child.output();
  } finally {
    clearTimeout(timer);
  }
  const stdout = new TextDecoder().decode(out.stdout).trim();
  if (!out.success) {
    // the helpers' words for "I have nothing for this server"
    if (/credentials not found|not found in native keychain/i.test(stdout)) return undefined;
    const said = (stdout || new TextDecoder().decode(out.stderr).trim()).split("\n")[0] ?? "";
    throw new AuthError(`The credential helper "${program}" failed for "${registry}"${said ? `: ${said}` : ""}`, {
      hint: out.signal ? `it did not answer within ${HELPER_TIMEOUT_MS / 1000} s` : "run it by hand to see why: " +
        `echo ${registry} | ${program} get`,
    });
  }
  let body: { Username?: unknown; Secret?: unknown };
  try {
    body = JSON.parse(stdout);
  } catch {
    throw new AuthError(`The credential helper "${program}" sent no JSON for "${registry}"`, {
      hint: `it must print {"Username": "...", "Secret": "..."}; run it by hand: echo ${registry} | ${program} get`,
    });
  }
  if (typeof body.Secret !== "string" || body.Secret === "") return undefined;
  return { username: typeof body.Username === "string" ? body.Username : "", password: body.Secret };
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
