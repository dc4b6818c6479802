/**
 * bench/pull.ts CACHE [ROUNDS] — see bench/pull.sh. Pushes the Debian layer
 * from CACHE to a fresh local docker-registry, then times, round after round
 * (the order rotates so no tool always gets a warm or cold cache first):
 *   nook      nook pull (a fresh store each time; includes its user-namespace re-exec)
 *   podman    podman pull into a fresh --root (rootless, overlay)
 *   skopeo    skopeo copy to an OCI layout + umoci unpack --rootless
 *   tar       tar -xzf of the same layer (the floor)
 * and prints the medians and nook's ratio to tar.
 * NOOK_BENCH_COMPARE=/path/to/other/nook adds a row "nook (other)" for another
 * checkout's nook (before/after a change, in one run); NOOK_BENCH_TOOLS=nook,tar
 * keeps only the named rows.
 */
import { createHash } from "node:crypto";
import { image, push, startRegistry } from "../tests/_oci.ts";

const [cache, roundsArg] = Deno.args;
if (!cache) {
  console.error("usage: bench/pull.ts CACHE [ROUNDS]");
  Deno.exit(2);
}
const rounds = Number(roundsArg ?? 3);
const root = decodeURIComponent(new URL("..", import.meta.url).pathname).replace(/\/$/, "");
const nook = `${root}/nook`;

function which(bin: string): string | undefined {
  for (const d of ["/usr/bin", "/usr/sbin", "/bin", "/usr/local/bin"]) {
    try {
      Deno.statSync(`${d}/${bin}`);
      return `${d}/${bin}`;
    } catch {
      // next
    }
  }
  return undefined;
}

async function sha256File(path: string): Promise<string> {
  const h = createHash("sha256");
  using f = await Deno.open(path);
  for await (const c of f.readable) h.update(c);
  return `sha256:${h.digest("hex")}`;
}

async function run(cmd: string[], env: Record<string, string> = {}, okCodes = [0]): Promise<void> {
  const out = await new Deno.Command(cmd[0]!, {
    args: cmd.slice(1),
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!okCodes.includes(out.code)) {
    throw new Error(`${cmd.join(" ")} exited ${out.code}: ${new TextDecoder().decode(out.stderr).slice(-2000)}`);
  }
}

const cpu: Record<string, number[]> = {};
let current = "";

/** Wall time in seconds; the CPU time (user + sys, children included) goes to `cpu[current]`. */
async function timed(cmd: string[], env: Record<string, string> = {}, okCodes = [0]): Promise<number> {
  const timeBin = which("time");
  const out = `${scratch}/time.out`;
  const t0 = performance.now();
  await run(timeBin ? [timeBin, "-f", "%U %S", "-o", out, ...cmd] : cmd, env, okCodes);
  const wall = (performance.now() - t0) / 1000;
  if (timeBin) {
    const [u, sys] = Deno.readTextFileSync(out).trim().split("\n").pop()!.split(" ").map(Number);
    (cpu[current] ??= []).push(u! + sys!);
  }
  return wall;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

async function rmrf(path: string): Promise<void> {
  await run(["chmod", "-R", "u+rwX", path], {}, [0, 1]);
  await run(["rm", "-rf", path], {}, [0, 1]);
}

const layerGz = Deno.readFileSync(`${cache}/layer.tar.gz`);
const diffId = await sha256File(`${cache}/layer.tar`);
const blobDigest = `sha256:${createHash("sha256").update(layerGz).digest("hex")}`;
const img = image([{
  blob: layerGz,
  digest: blobDigest,
  diffId,
  mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
}], {
  Cmd: ["/bin/bash"],
});
const reg = await startRegistry();
const ref = `${reg.host}/bench/debian:1`;
await push(reg.host, "bench/debian", "1", img);
console.error(
  `bench: ${ref}: layer ${(layerGz.length / 1e6).toFixed(1)} MB gzip, ${
    (Deno.statSync(`${cache}/layer.tar`).size / 1e6).toFixed(1)
  } MB tar`,
);

const scratch = Deno.makeTempDirSync({ prefix: "nook-bench-" });
/** A nook pull into a fresh store, then the store removed. */
const nookPull = (bin: string) => async () => {
  const env = { ...Deno.env.toObject(), NOOK_DATA_DIR: `${scratch}/nook-data`, XDG_RUNTIME_DIR: `${scratch}/run` };
  Deno.mkdirSync(`${scratch}/run`, { recursive: true, mode: 0o700 });
  const t = await timed([bin, "pull", "-q", ref], env);
  await run([bin, "system", "reset", "-f"], env);
  return t;
};
const tools: Record<string, () => Promise<number>> = {
  nook: nookPull(nook),
  tar: async () => {
    const d = `${scratch}/tar`;
    Deno.mkdirSync(d, { recursive: true });
    // device nodes fail rootless (status 2); everything else is extracted
    const t = await timed(["tar", "-xzf", `${cache}/layer.tar.gz`, "-C", d], {}, [0, 2]);
    await rmrf(d);
    return t;
  },
};
if (which("podman")) {
  tools.podman = async () => {
    const args = [
      "podman",
      "--root",
      `${scratch}/podman`,
      "--runroot",
      `${scratch}/podman-run`,
      "--storage-driver",
      "overlay",
    ];
    const env = { ...Deno.env.toObject(), XDG_RUNTIME_DIR: `${scratch}/run` };
    Deno.mkdirSync(`${scratch}/run`, { recursive: true, mode: 0o700 });
    const t = await timed([...args, "pull", "-q", "--tls-verify=false", ref], env);
    await run([...args, "system", "reset", "-f"], env, [0, 125]);
    await run([...args.slice(0, 5), "unshare", "rm", "-rf", `${scratch}/podman`, `${scratch}/podman-run`], env, [
      0,
      1,
      125,
    ]);
    return t;
  };
}
if (which("skopeo") && which("umoci")) {
  tools["skopeo+umoci"] = async () => {
    const oci = `${scratch}/oci`;
    const bundle = `${scratch}/bundle`;
    const t = await timed([
      "sh",
      "-c",
      `skopeo copy -q --src-tls-verify=false docker://${ref} oci:${oci}:1 && umoci unpack --rootless --image ${oci}:1 ${bundle}`,
    ]);
    await rmrf(oci);
    await rmrf(bundle);
    return t;
  };
}

const other = Deno.env.get("NOOK_BENCH_COMPARE") || undefined;
if (other) tools["nook (other)"] = nookPull(other);
const only = (Deno.env.get("NOOK_BENCH_TOOLS") ?? "").split(",").filter(Boolean);
for (const name of Object.keys(tools)) if (only.length && !only.includes(name) && name !== "tar") delete tools[name];

const results: Record<string, number[]> = {};
const names = Object.keys(tools);
try {
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < names.length; i++) {
      const name = names[(i + r) % names.length]!;
      current = name;
      const t = await tools[name]!();
      (results[name] ??= []).push(t);
      console.error(`round ${r + 1}: ${name} ${t.toFixed(2)} s`);
    }
  }
} finally {
  await reg.stop();
  await rmrf(scratch);
}

const tarMedian = median(results.tar!);
console.log(
  `pull + unpack of ${ref.replace(/^[^/]+\//, "")} (${
    (Deno.statSync(`${cache}/layer.tar`).size / 1e6).toFixed(0)
  } MB), median of ${rounds}:`,
);
for (const name of ["nook", ...(other ? ["nook (other)"] : []), "podman", "skopeo+umoci", "tar"]) {
  const xs = results[name];
  if (!xs) {
    console.log(`  ${name.padEnd(14)} not installed`);
    continue;
  }
  const m = median(xs);
  const c = cpu[name] ? `; CPU ${median(cpu[name]!).toFixed(2)} s` : "";
  console.log(
    `  ${name.padEnd(14)} ${m.toFixed(2)} s   (${(m / tarMedian).toFixed(2)}× tar -xzf${c}; runs: ${
      xs.map((x) => x.toFixed(2)).join(", ")
    })`,
  );
}
console.log("  (wall time of the whole command; CPU = user + sys of it and its children. The machine is shared:");
console.log("   compare within one run, and look at the spread of the runs.)");
