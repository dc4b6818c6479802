/**
 * Where nook keeps things (DESIGN.md "Where things live").
 *
 * @module
 */
import { HostError } from "../errors/mod.ts";

/** Images, layers and containers: `$XDG_DATA_HOME/nook` (default `~/.local/share/nook`), or `$NOOK_DATA_DIR`. */
export function dataDir(): string {
  const over = Deno.env.get("NOOK_DATA_DIR");
  if (over) return over;
  const xdg = Deno.env.get("XDG_DATA_HOME");
  if (xdg) return `${xdg}/nook`;
  return `${home()}/.local/share/nook`;
}

/** The store's lock file (here, not in store/, so the run path can take it without loading the store's modules). */
export function storeLockPath(root: string = dataDir()): string {
  return `${root}/store.lock`;
}

/** The containers' records: `dataDir()/containers` (one directory per container id, and `names/`). */
export function containersDir(): string {
  return `${dataDir()}/containers`;
}

/** The record directory of one container. */
export function containerDir(id: string): string {
  return `${containersDir()}/${id}`;
}

/** `$XDG_CONFIG_HOME/nook` (default `~/.config/nook`). */
export function configDir(): string {
  const xdg = Deno.env.get("XDG_CONFIG_HOME");
  return xdg ? `${xdg}/nook` : `${home()}/.config/nook`;
}

/** The user's home directory, from `$HOME` or the passwd entry. */
export function home(): string {
  const h = Deno.env.get("HOME");
  if (h) return h;
  throw new HostError("HOME is not set, so nook cannot tell where to keep its data", {
    hint: "set HOME, or set NOOK_DATA_DIR to a directory of yours",
  });
}

/**
 * Runtime state (pids, sockets, locks): `$XDG_RUNTIME_DIR/nook`, or a private
 * `/tmp/nook-$UID` when that variable is missing (under `su`, in CI). The /tmp
 * fallback must be ours and mode 0700: anyone can create a name in /tmp first.
 */
export function runtimeDir(): string {
  const over = Deno.env.get("NOOK_RUNTIME_DIR");
  if (over) return ensurePrivateDir(over);
  const xdg = Deno.env.get("XDG_RUNTIME_DIR");
  if (xdg && isWritableDir(xdg)) return ensurePrivateDir(`${xdg}/nook`);
  return ensurePrivateDir(`/tmp/nook-${Deno.uid()}`);
}

function isWritableDir(path: string): boolean {
  try {
    const st = Deno.statSync(path);
    return st.isDirectory && st.uid === Deno.uid();
  } catch {
    return false;
  }
}

/** mkdir 0700 if missing; refuse a directory that is not ours or is open to others. */
export function ensurePrivateDir(path: string): string {
  try {
    Deno.mkdirSync(path, { mode: 0o700, recursive: true });
  } catch (err) {
    if (!(err instanceof Deno.errors.AlreadyExists)) {
      throw new HostError(`Cannot create the runtime directory "${path}": ${(err as Error).message}`, {
        path,
        cause: err,
        hint: "set XDG_RUNTIME_DIR (or NOOK_RUNTIME_DIR) to a directory you own",
      });
    }
  }
  const st = Deno.lstatSync(path);
  if (!st.isDirectory || st.uid !== Deno.uid() || ((st.mode ?? 0) & 0o077) !== 0) {
    throw new HostError(
      `The runtime directory "${path}" is not a private directory of yours (owner ${st.uid}, mode ${
        ((st.mode ?? 0) & 0o7777).toString(8)
      })`,
      { path, hint: `remove it, or set XDG_RUNTIME_DIR to a directory with mode 0700 that you own` },
    );
  }
  return path;
}
