/**
 * flock(2)-based locks: released by the kernel when the process dies, so a
 * crash never leaves a stale lock behind.
 */

/** Run fn while holding an exclusive lock on the file at path (created if missing). */
export function withLock<T>(path: string, fn: () => T): T {
  const f = Deno.openSync(path, { read: true, write: true, create: true, mode: 0o600 });
  try {
    f.lockSync(true);
    return fn();
  } finally {
    f.close();
  }
}

/** Async version of {@link withLock}: waits for the lock without blocking the event loop's other work. */
export async function withLockAsync<T>(path: string, fn: () => Promise<T>): Promise<T> {
  const f = await Deno.open(path, { read: true, write: true, create: true, mode: 0o600 });
  try {
    await f.lock(true);
    return await fn();
  } finally {
    f.close();
  }
}
