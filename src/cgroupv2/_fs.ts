/** Reading and writing cgroup interface files, with errors that say which file and value. */
import { errnoNumber, errnoText } from "../errors/mod.ts";
import { CgroupError } from "./errors.ts";

/** errno of a Deno filesystem error, when it has one (Deno errors carry the symbolic `code`). */
export function errnoOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown })?.code;
  if (typeof code === "string") return errnoNumber(code);
  if (err instanceof Deno.errors.NotFound) return 2;
  if (err instanceof Deno.errors.PermissionDenied) return 13;
  return undefined;
}

/** Write one value to a cgroup file (one write(2), as the kernel wants). */
export async function writeCgroupFile(dir: string, file: string, value: string, hint?: string): Promise<void> {
  const path = `${dir}/${file}`;
  try {
    await Deno.writeTextFile(path, value, { create: false });
  } catch (err) {
    const errno = errnoOf(err);
    throw new CgroupError(
      `Cannot write "${value.trim()}" to "${path}": ${errno ? errnoText(errno) : (err as Error).message}`,
      {
        op: "write cgroup file",
        path,
        ...(errno ? { errno } : {}),
        cause: err,
        hint: hint ??
          (errno === 22 || errno === 34
            ? "the kernel refused the value: check the limit you asked for"
            : "the cgroup is not writable by you: it must be delegated to your user"),
      },
    );
  }
}

/** Read a cgroup file; undefined when it does not exist. */
export async function readCgroupFile(dir: string, file: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(`${dir}/${file}`);
  } catch {
    return undefined;
  }
}

/** True when the file exists. */
export function hasFile(dir: string, file: string): boolean {
  try {
    Deno.statSync(`${dir}/${file}`);
    return true;
  } catch {
    return false;
  }
}

/** A flat keyed file ("key value" lines: cpu.stat, memory.stat, memory.events) as numbers. */
export function parseKeyed(text: string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of (text ?? "").split("\n")) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^\d+$/.test(v)) out[k] = Number(v);
  }
  return out;
}

/** A single value file ("123\n" or "max\n"): a number, "max", or undefined when absent. */
export function parseSingle(text: string | undefined): number | "max" | undefined {
  const t = text?.trim();
  if (t === undefined || t === "") return undefined;
  if (t === "max") return "max";
  return /^\d+$/.test(t) ? Number(t) : undefined;
}
