/**
 * Container names: unique, user-given or generated docker-style, indexed by
 * `containers/names/<name>` symlinks whose target is the id. symlink(2) is
 * atomic and fails on an existing name, so concurrent `run --name x` leave
 * exactly one winner without a lock; a lock is taken only to replace an entry
 * whose container is gone (left by a crash).
 */
import { ContainerError } from "./errors.ts";
import { withLock } from "./lock.ts";
import { containerDir, containersDir, isId, listIds, readRecord } from "./store.ts";
import { ADJECTIVES, SURNAMES } from "./_words.ts";
import { beingRemoved, removalInProgress } from "./intent_file.ts";

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** The names index directory. */
export function namesDir(): string {
  return `${containersDir()}/names`;
}

/** True when `name` is a valid container name. */
export function isValidName(name: string): boolean {
  return NAME.test(name) && name.length <= 128;
}

/** A docker-style name: adjective_surname. */
export function generateName(random: () => number = Math.random): string {
  const pick = (l: readonly string[]) => l[Math.floor(random() * l.length)]!;
  return `${pick(ADJECTIVES)}_${pick(SURNAMES)}`;
}

function owner(name: string): string | undefined {
  try {
    return Deno.readLinkSync(`${namesDir()}/${name}`);
  } catch {
    return undefined;
  }
}

function alive(id: string): boolean {
  try {
    Deno.statSync(`${containerDir(id)}/config.json`);
    return true;
  } catch {
    return false;
  }
}

/**
 * Claim `name` for container `id`. Throws a {@link ContainerError} naming
 * the other container when the name is taken.
 */
export function reserveName(name: string, id: string): void {
  Deno.mkdirSync(namesDir(), { recursive: true, mode: 0o700 });
  const link = `${namesDir()}/${name}`;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      Deno.symlinkSync(id, link);
      return;
    } catch (err) {
      if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
    }
    const other = owner(name);
    if (other !== undefined && alive(other)) {
      throw new ContainerError(`The container name "${name}" is already in use by container ${other.slice(0, 12)}`, {
        hint: `remove that container (nook rm ${name}) or choose another --name`,
      });
    }
    // A name left by a container that is gone: replace it under the lock, re-checking first.
    withLock(`${containersDir()}/names.lock`, () => {
      if (owner(name) === other && (other === undefined || !alive(other))) {
        try {
          Deno.removeSync(link);
        } catch {
          // someone else cleaned it
        }
      }
    });
  }
  throw new ContainerError(`Could not reserve the container name "${name}"`, { hint: "try again" });
}

/** Generated names to try in turn: a few plain ones, then with a number. */
export function generatedNames(): string[] {
  return Array.from({ length: 40 }, (_, i) => (i < 20 ? generateName() : `${generateName()}${i}`));
}

/** Drop `name` from the index if it still names `id`. */
export function releaseName(name: string, id: string): void {
  if (owner(name) !== id) return;
  try {
    Deno.removeSync(`${namesDir()}/${name}`);
  } catch {
    // already gone
  }
}

/**
 * The id of a container given as a full id, a name, or a unique id prefix
 * (docker's rules). Throws when there is none or the prefix is ambiguous.
 */
export function resolveContainer(ref: string): string {
  const id = resolveId(ref);
  // another command is removing it: say so, rather than act on what is being taken away
  if (removalInProgress(id)) throw beingRemoved(readRecord(id)?.name || ref);
  return id;
}

function resolveId(ref: string): string {
  if (isId(ref) && readRecord(ref)) return ref;
  if (isValidName(ref)) {
    const id = owner(ref);
    if (id !== undefined && isId(id) && alive(id)) return id;
  }
  if (/^[0-9a-f]+$/.test(ref)) {
    const matches = listIds().filter((id) => id.startsWith(ref) && alive(id));
    if (matches.length === 1) return matches[0]!;
    if (matches.length > 1) {
      throw new ContainerError(`The id prefix "${ref}" matches ${matches.length} containers`, {
        hint: "give more digits of the id, or the name",
      });
    }
  }
  throw new ContainerError(`No such container: ${ref}`, { hint: "nook ps -a lists the containers" });
}
