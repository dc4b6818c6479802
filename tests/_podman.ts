/**
 * podman as a second opinion in the tests: rootless, with its own storage
 * (vfs, in a scratch directory) and the settings this host can run (cgroupfs,
 * runc where installed, no network), so nothing of the user's podman is
 * touched. Whether podman can run containers here is read from the machine —
 * a probe container — never assumed.
 */
import { exists, scratch } from "./_helpers.ts";

/** The path of a binary in the usual directories, or undefined. */
export function which(bin: string): string | undefined {
  for (const d of ["/usr/bin", "/usr/sbin", "/bin", "/sbin", "/usr/local/bin"]) {
    if (exists(`${d}/${bin}`)) return `${d}/${bin}`;
  }
  return undefined;
}

/** podman's cgroup flags here: runc (configured below) manages without cgroups by itself, crun needs them off. */
export const PODMAN_CGROUPS: string[] = which("runc") ? [] : ["--cgroups=disabled"];

/** A podman with private storage and settings; `run` runs one podman command. */
export interface Podman {
  /** Run `podman ARGS` in this podman's environment (stdin closed). */
  run: (args: string[]) => Promise<{ code: number; stdout: string; stderr: string }>;
  /** Remove its storage (files of the subordinate ids go through `podman unshare`) and the scratch directory. */
  remove: () => Promise<void>;
}

/** podman, rootless, with its own storage (vfs) and settings this host can run; a string says why there is none. */
export function podmanEnv(): Podman | string {
  if (!which("podman")) return "podman is not installed (apt install podman)";
  const dir = scratch("nook-podman-");
  const home = `${dir}/home`;
  Deno.mkdirSync(`${home}/.config/containers`, { recursive: true });
  Deno.mkdirSync(`${dir}/run`, { mode: 0o700 });
  // crun refuses a host whose cgroups are hybrid (v1 controllers, an empty v2 mount); runc runs there
  const runtime = which("runc") ? 'runtime = "runc"\n' : "";
  Deno.writeTextFileSync(
    `${home}/.config/containers/containers.conf`,
    `[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n${runtime}[containers]\nnetns = "none"\n`,
  );
  Deno.writeTextFileSync(
    `${home}/.config/containers/storage.conf`,
    `[storage]\ndriver = "vfs"\ngraphroot = "${dir}/storage"\nrunroot = "${dir}/run/storage"\n`,
  );
  const env = {
    HOME: home,
    XDG_RUNTIME_DIR: `${dir}/run`,
    PATH: "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
    USER: Deno.env.get("USER") ?? "nooktest",
    TMPDIR: dir,
  };
  const run = async (args: string[]) => {
    const out = await new Deno.Command("podman", { args, env, clearEnv: true, stdin: "null" }).output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  };
  return {
    run,
    remove: async () => {
      await run(["unshare", "rm", "-rf", `${dir}/storage`]);
      try {
        Deno.removeSync(dir, { recursive: true });
      } catch {
        // a file podman still holds: the scratch directory is left to the system's tmp cleaning
      }
    },
  };
}

/**
 * Why podman cannot run `ref` here (the last line of its error), or undefined when a probe
 * container (`/bin/sh -c :`) of that image ran. The image must be in podman's storage.
 */
export async function podmanRunSkip(p: Podman, ref: string): Promise<string | undefined> {
  const probe = await p.run(["run", "--rm", ...PODMAN_CGROUPS, "--entrypoint", "/bin/sh", ref, "-c", ":"]);
  return probe.code === 0 ? undefined : `podman cannot run containers here: ${probe.stderr.trim().split("\n").pop()}`;
}
