/**
 * podman (Debian's 4.3, with conmon) driving nook as its OCI runtime, as
 * the unprivileged test user, against an image served by a local registry
 * on 127.0.0.1 — a busybox image the test builds with umoci and pushes with
 * skopeo.
 *
 * podman's settings for this host (written into a private HOME):
 *   - cgroup_manager = "cgroupfs": PID 1 is not systemd, so there is no
 *     systemd user manager to ask for a scope;
 *   - nothing else about cgroups: on a cgroup v1/hybrid host podman 4.3 runs
 *     rootless containers without a cgroup by itself (config.json has no
 *     cgroupsPath and an empty linux.resources). `--cgroups=disabled` is not
 *     usable: podman allows it only for runtimes it knows support it (crun).
 *   - runtime_supports_json = ["nook"], so conmon passes
 *     `--log-format=json --log FILE` and podman reads nook's errors from it;
 *   - events_logger = "file" (no journald), storage driver vfs in a temp dir.
 */
import { assert, busyboxRootfs, busyboxSkip, exists, ROOT, scratch, subidSkip, test, waitFor } from "../_helpers.ts";

const tools = ["podman", "conmon", "docker-registry", "umoci", "skopeo", "script"];
const which = (t: string) =>
  ["/usr/bin", "/usr/sbin", "/bin", "/sbin", "/usr/local/bin", "/usr/libexec/podman"].some((d) => exists(`${d}/${t}`));
const missing = tools.filter((t) => !which(t));
const skip = busyboxSkip() ?? subidSkip() ??
  (missing.length
    ? `${missing.join(", ")} not installed (apt install podman conmon docker-registry umoci skopeo bsdutils)`
    : undefined);

interface Out {
  code: number;
  stdout: string;
  stderr: string;
}

async function cmd(bin: string, args: string[], env: Record<string, string>, stdin = false): Promise<Out> {
  const out = await new Deno.Command(bin, {
    args,
    env,
    clearEnv: true,
    stdin: stdin ? "inherit" : "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** docker-registry on 127.0.0.1 with filesystem storage in a temp dir; retried on another port if that one is taken. */
async function startRegistry(dir: string): Promise<{ port: number; stop: () => Promise<void> }> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = freePort();
    const config = `${dir}/registry-${port}.yml`;
    Deno.writeTextFileSync(
      config,
      `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/registry\nhttp:\n  addr: 127.0.0.1:${port}\n`,
    );
    const child = new Deno.Command("docker-registry", { args: ["serve", config], stdout: "null", stderr: "null" })
      .spawn();
    let exited = false;
    child.status.then(() => (exited = true));
    const end = Date.now() + 15_000;
    while (Date.now() < end && !exited) {
      try {
        const r = await fetch(`http://127.0.0.1:${port}/v2/`);
        await r.body?.cancel();
        if (r.ok) {
          return {
            port,
            stop: async () => {
              try {
                child.kill("SIGTERM");
              } catch {
                // gone
              }
              await child.status;
            },
          };
        }
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    if (!exited) child.kill("SIGKILL");
    await child.status;
  }
  throw new Error("docker-registry did not start on 127.0.0.1");
}

test(
  "podman runs containers with nook as its OCI runtime: run --rm, exit codes, -d/logs/exec/stop/rm, -it, errors",
  async (t) => {
    const dir = scratch("nook-podman-");
    const home = `${dir}/home`;
    const run = `${dir}/run`;
    Deno.mkdirSync(`${home}/.config/containers`, { recursive: true });
    Deno.mkdirSync(run, { mode: 0o700 });
    const env: Record<string, string> = {
      HOME: home,
      XDG_RUNTIME_DIR: run,
      PATH: "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
      USER: Deno.env.get("USER") ?? "nooktest",
      TMPDIR: dir,
    };
    Deno.writeTextFileSync(
      `${home}/.config/containers/containers.conf`,
      [
        "[engine]",
        'cgroup_manager = "cgroupfs"',
        'events_logger = "file"',
        'runtime = "nook"',
        'runtime_supports_json = ["nook"]',
        "[engine.runtimes]",
        `nook = ["${ROOT}/bin/nook-runtime"]`,
        "",
      ].join("\n"),
    );
    Deno.writeTextFileSync(
      `${home}/.config/containers/storage.conf`,
      `[storage]\ndriver = "vfs"\ngraphroot = "${dir}/storage"\nrunroot = "${run}/storage"\n`,
    );
    const podman = (...args: string[]) => cmd("podman", args, env);
    const registry = await startRegistry(dir);
    const image = `127.0.0.1:${registry.port}/nook/busybox:1`;
    try {
      await t.step(
        "a busybox image built with umoci is pushed to the local registry and pulled by podman",
        async () => {
          const layout = `${dir}/oci`;
          const bundle = `${dir}/unpacked`;
          for (
            const args of [["init", "--layout", layout], ["new", "--image", `${layout}:1`], [
              "unpack",
              "--rootless",
              "--image",
              `${layout}:1`,
              bundle,
            ]]
          ) {
            const r = await cmd("umoci", args, env);
            assert.equal(r.code, 0, `umoci ${args[0]}: ${r.stderr}`);
          }
          const cp = await cmd("cp", ["-a", `${busyboxRootfs()}/.`, `${bundle}/rootfs/`], env);
          assert.equal(cp.code, 0, cp.stderr);
          for (
            const args of [["repack", "--image", `${layout}:1`, bundle], [
              "config",
              "--image",
              `${layout}:1`,
              "--config.cmd",
              "sh",
            ]]
          ) {
            const r = await cmd("umoci", args, env);
            assert.equal(r.code, 0, `umoci ${args[0]}: ${r.stderr}`);
          }
          const push = await cmd(
            "skopeo",
            ["copy", "--dest-tls-verify=false", `oci:${layout}:1`, `docker://${image}`],
            env,
          );
          assert.equal(push.code, 0, push.stderr);
          const pull = await podman("pull", "--tls-verify=false", image);
          assert.equal(pull.code, 0, pull.stderr);
          const info = await podman("info", "--format", "{{.Host.OCIRuntime.Name}} {{.Host.OCIRuntime.Path}}");
          assert.equal(info.stdout.trim(), `nook ${ROOT}/bin/nook-runtime`, info.stderr);
        },
      );

      await t.step("run --rm prints the command's output", async () => {
        const r = await podman(
          "run",
          "--rm",
          image,
          "sh",
          "-c",
          "echo hi from $(hostname); cat /proc/self/uid_map | wc -l",
        );
        assert.equal(r.code, 0, r.stderr);
        const [hi, maps] = r.stdout.trim().split("\n");
        assert.match(hi!, /^hi from [0-9a-f]{12}$/);
        assert.ok(Number(maps) >= 2, "podman's user namespace maps the subordinate range");
      });

      await t.step("the container's exit code is podman's", async () => {
        const r = await podman("run", "--rm", image, "sh", "-c", "exit 42");
        assert.equal(r.code, 42, r.stderr);
      });

      await t.step("a program that does not exist gives 127 and nook's message (from its JSON log)", async () => {
        const r = await podman("run", "--rm", image, "/nonexistent");
        assert.equal(r.code, 127);
        assert.match(r.stderr, /nook: exec: "\/nonexistent": stat \/nonexistent: no such file or directory/);
      });

      await t.step("run -d, logs, exec, stop and rm", async () => {
        const started = await podman(
          "run",
          "-d",
          "--name",
          "web",
          image,
          "sh",
          "-c",
          "echo started; trap 'echo stopping; exit 0' TERM; while :; do sleep 0.1; done",
        );
        assert.equal(started.code, 0, started.stderr);
        await waitFor(
          "the container's first output",
          async () => (await podman("logs", "web")).stdout.includes("started"),
          30_000,
        );
        const ex = await podman("exec", "web", "sh", "-c", "echo exec $$; cat /proc/1/cmdline | tr '\\0' ' '");
        assert.equal(ex.code, 0, ex.stderr);
        assert.match(ex.stdout, /^exec \d+\nsh -c echo started/);
        const exCode = await podman("exec", "web", "sh", "-c", "exit 9");
        assert.equal(exCode.code, 9, "exec passes its exit code");
        const stop = await podman("stop", "-t", "10", "web");
        assert.equal(stop.code, 0, stop.stderr);
        assert.doesNotMatch(stop.stderr, /SIGKILL/, "SIGTERM from nook's kill stopped it");
        assert.match((await podman("logs", "web")).stdout, /stopping/);
        const code = await podman("inspect", "--format", "{{.State.ExitCode}}", "web");
        assert.equal(code.stdout.trim(), "0");
        const rm = await podman("rm", "web");
        assert.equal(rm.code, 0, rm.stderr);
      });

      await t.step("run -it gives the container a working terminal", async () => {
        const line = `podman run --rm -it ${image} sh -c 'tty; stty size; exit 3'`;
        // podman 4.3 with conmon sometimes loses the whole output of a short -it container
        // under load (exit code right, nothing printed): 5 of 20 runs with runc on a loaded
        // 2-core machine, 1 of 20 with nook. The race is theirs, so an empty run is tried again.
        let r = { code: -1, stdout: "", stderr: "" };
        for (let attempt = 0; attempt < 4 && !/pts/.test(r.stdout); attempt++) {
          r = await cmd("script", ["-qfec", `stty rows 24 cols 80 2>/dev/null; ${line}`, "/dev/null"], env);
          assert.equal(r.code, 3, r.stdout + r.stderr);
        }
        assert.match(r.stdout, /\/dev\/pts\/0/);
        assert.match(r.stdout, /\d+ \d+/);
      });

      await t.step("exec -it gives an exec'd process a terminal too", async () => {
        assert.equal((await podman("run", "-d", "--name", "tty2", image, "sleep", "1000")).code, 0);
        const r = await cmd("script", ["-qfec", `podman exec -it tty2 sh -c 'tty; exit 4'`, "/dev/null"], env);
        assert.equal(r.code, 4, r.stdout + r.stderr);
        assert.match(r.stdout, /\/dev\/pts\/\d+/);
        assert.equal((await podman("rm", "-f", "-t", "0", "tty2")).code, 0);
      });
    } finally {
      await podman("rm", "-af", "-t", "0");
      await podman("system", "reset", "--force");
      // podman's pause process lives on in this private XDG_RUNTIME_DIR: end it
      for (const f of [`${run}/libpod/tmp/pause.pid`]) {
        try {
          Deno.kill(Number(Deno.readTextFileSync(f)), "SIGKILL");
        } catch {
          // not there
        }
      }
      await registry.stop();
    }
  },
  { skip },
);
