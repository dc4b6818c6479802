import { HostError } from "../errors/mod.ts";
import { projectPath } from "../paths/project.ts";

/** Names that select the built-in image. */
export const HELLO_NAMES: readonly string[] = ["hello", "nook/hello", "localhost/hello"];

/** Where the built hello program is: next to the sources, or embedded by `deno compile --include`. */
export function helloBinaryPath(): string {
  return Deno.env.get("NOOK_HELLO") ?? projectPath("build/hello");
}

/**
 * The root filesystem of the built-in `hello` image under dataDir: the static
 * hello program plus the empty directories and files the container's mounts
 * need (the rootfs is mounted read-only). Re-made when the program changed.
 */
export function ensureHelloRootfs(dataDir: string): string {
  const src = helloBinaryPath();
  let bin: Uint8Array;
  try {
    bin = Deno.readFileSync(src);
  } catch (err) {
    throw new HostError(`The built-in hello image is missing its program "${src}"`, {
      path: src,
      cause: err,
      hint: "run ./nook once so it builds build/hello with the system C compiler",
    });
  }
  const root = `${dataDir}/builtin/hello`;
  const stamp = `${root}/.nook-hello-${bin.length}-${checksum(bin)}`;
  try {
    Deno.statSync(stamp);
    return root;
  } catch {
    // (re)build below
  }
  const tmp = `${dataDir}/builtin/.hello-${crypto.randomUUID()}`;
  Deno.mkdirSync(tmp, { recursive: true });
  for (const d of ["proc", "dev", "sys", "etc", "tmp"]) Deno.mkdirSync(`${tmp}/${d}`);
  for (const f of ["etc/hosts", "etc/hostname", "etc/resolv.conf"]) Deno.writeFileSync(`${tmp}/${f}`, new Uint8Array());
  Deno.writeTextFileSync(`${tmp}/etc/passwd`, "root:x:0:0:root:/:/hello\nnobody:x:65534:65534:nobody:/:/hello\n");
  Deno.writeTextFileSync(`${tmp}/etc/group`, "root:x:0:\nnogroup:x:65534:\n");
  Deno.writeFileSync(`${tmp}/hello`, bin, { mode: 0o755 });
  Deno.writeFileSync(stamp.replace(root, tmp), new Uint8Array());
  try {
    Deno.removeSync(root, { recursive: true });
  } catch {
    // not there yet
  }
  try {
    Deno.renameSync(tmp, root);
  } catch {
    // another nook made it at the same time; theirs is as good as ours
    Deno.removeSync(tmp, { recursive: true });
  }
  return root;
}

function checksum(b: Uint8Array): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < b.length; i += 61) h = Math.imul(h ^ b[i]!, 0x01000193) >>> 0;
  return h.toString(16);
}
