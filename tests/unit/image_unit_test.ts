/** The pure parts of images: references, platforms, names in archives, chain IDs, challenges. */
import { assert, ROOT, test } from "../_helpers.ts";
import { candidates, formatReference, parseReference } from "../../src/image/reference.ts";
import { choosePlatform, parsePlatform, platformMatches } from "../../src/image/manifest.ts";
import { cleanName, sniffCompression, symlinkEscapes } from "../../src/image/unpack.ts";
import { chainIds } from "../../src/store/layers.ts";
import { isLocalHost, parseChallenge } from "../../src/image/registry.ts";
import { applyChanges } from "../../src/image/archive.ts";
import { addImage, type ImageRecord } from "../../src/store/images.ts";

test("short names become docker.io/library/NAME:latest, qualified names stay as written", () => {
  assert.equal(formatReference(parseReference("alpine")), "docker.io/library/alpine:latest");
  assert.equal(formatReference(parseReference("alpine:3.20")), "docker.io/library/alpine:3.20");
  assert.equal(formatReference(parseReference("team/app")), "docker.io/team/app:latest");
  assert.equal(formatReference(parseReference("localhost:5000/team/app:1.2")), "localhost:5000/team/app:1.2");
  assert.equal(formatReference(parseReference("quay.io/x/y")), "quay.io/x/y:latest");
  const d = "sha256:" + "a".repeat(64);
  const r = parseReference(`alpine@${d}`);
  assert.equal(r.digest, d);
  assert.equal(r.tag, undefined);
  assert.equal(
    formatReference(parseReference(`index.docker.io/library/alpine:3@${d}`)),
    `docker.io/library/alpine:3@${d}`,
  );
  assert.throws(() => parseReference("Alpine"), /lowercase/);
  assert.throws(() => parseReference("alpine:bad tag"), /Invalid image reference/);
  assert.throws(() => parseReference("alpine@sha256:xyz"), /not a digest/);
});

test("short names are looked up under localhost/ and then each search registry", () => {
  const old = Deno.env.get("NOOK_SEARCH_REGISTRIES");
  Deno.env.set("NOOK_SEARCH_REGISTRIES", "registry.lan:5000,docker.io");
  try {
    assert.deepEqual(candidates("app:1").map(formatReference), [
      "localhost/app:1",
      "registry.lan:5000/app:1",
      "docker.io/library/app:1",
    ]);
    assert.deepEqual(candidates("quay.io/a/b").map(formatReference), ["quay.io/a/b:latest"]);
  } finally {
    if (old === undefined) Deno.env.delete("NOOK_SEARCH_REGISTRIES");
    else Deno.env.set("NOOK_SEARCH_REGISTRIES", old);
  }
});

test("platforms parse as os/arch[/variant] and arm64 without a variant serves v8", () => {
  assert.deepEqual(parsePlatform("linux/arm64"), { os: "linux", architecture: "arm64" });
  assert.deepEqual(parsePlatform("linux/arm/v7"), { os: "linux", architecture: "arm", variant: "v7" });
  assert.deepEqual(parsePlatform("x86_64"), { os: "linux", architecture: "amd64" });
  assert.throws(() => parsePlatform("linux/"), /Invalid platform/);
  assert.ok(
    platformMatches({ os: "linux", architecture: "arm64" }, { os: "linux", architecture: "arm64", variant: "v8" }),
  );
  assert.ok(
    !platformMatches({ os: "linux", architecture: "arm", variant: "v6" }, {
      os: "linux",
      architecture: "arm",
      variant: "v7",
    }),
  );
  const d = (n: string) => "sha256:" + n.repeat(64);
  const index = {
    schemaVersion: 2,
    manifests: [
      { mediaType: "m", digest: d("1"), size: 1, platform: { os: "linux", architecture: "amd64" } },
      { mediaType: "m", digest: d("2"), size: 1, platform: { os: "linux", architecture: "arm64", variant: "v8" } },
      { mediaType: "m", digest: d("3"), size: 1, platform: { os: "unknown", architecture: "unknown" } },
    ],
  };
  assert.equal(choosePlatform(index, parsePlatform("linux/arm64"), "x").digest, d("2"));
  assert.throws(() => choosePlatform(index, parsePlatform("linux/s390x"), "x"), (err: Error & { hint?: string }) => {
    assert.match(err.message, /no image for linux\/s390x/);
    assert.match(err.hint ?? "", /offers: linux\/amd64, linux\/arm64\/v8/);
    return true;
  });
});

test("member names are cleaned: a leading / names the layer's root, .. above the root is refused", () => {
  assert.equal(cleanName("./etc//passwd"), "etc/passwd");
  assert.equal(cleanName("./"), "");
  assert.equal(cleanName("a/b/../c"), "a/c");
  assert.equal(cleanName("/etc/passwd"), "etc/passwd");
  assert.equal(cleanName("/"), "");
  assert.throws(() => cleanName("/../etc/passwd"), /climbs out/);
  assert.throws(() => cleanName("../x"), /climbs out/);
  assert.throws(() => cleanName("a/../../x"), /climbs out/);
  assert.throws(() => cleanName("a".repeat(5000)), /longer than/);
});

test("a relative symlink that climbs above the image's root is recognised; absolute ones resolve inside it", () => {
  assert.ok(!symlinkEscapes("usr/lib/os-release", "../../etc/os-release"));
  assert.ok(symlinkEscapes("usr/lib/x", "../../../etc/passwd"));
  assert.ok(symlinkEscapes("x", ".."));
  assert.ok(!symlinkEscapes("bin/sh", "/bin/busybox"));
  assert.ok(!symlinkEscapes("bin", "usr/bin"));
});

test("compression is recognised from the first bytes", () => {
  assert.equal(sniffCompression(new Uint8Array([0x1f, 0x8b, 8, 0])), "gzip");
  assert.equal(sniffCompression(new Uint8Array([0x28, 0xb5, 0x2f, 0xfd])), "zstd");
  assert.equal(sniffCompression(new TextEncoder().encode("etc/passwd\0")), "none");
  assert.equal(sniffCompression(new TextEncoder().encode("BZh9")), "bzip2");
});

test("chain IDs follow the OCI definition", async () => {
  const a = "sha256:" + "a".repeat(64);
  const b = "sha256:" + "b".repeat(64);
  const [c0, c1] = await chainIds([a, b]);
  assert.equal(c0, a);
  const want = "sha256:" + Array.from(
    new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`${a} ${b}`))),
    (x) => x.toString(16).padStart(2, "0"),
  ).join("");
  assert.equal(c1, want);
});

test("WWW-Authenticate challenges are parsed, and localhost registries may be plain HTTP", () => {
  const c = parseChallenge(
    'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull"',
  );
  assert.deepEqual(c, {
    scheme: "bearer",
    params: { realm: "https://auth.example/token", service: "registry.example", scope: "repository:a/b:pull" },
  });
  assert.deepEqual(parseChallenge('Basic realm="Registry Realm"'), {
    scheme: "basic",
    params: { realm: "Registry Realm" },
  });
  assert.ok(isLocalHost("localhost:5000") && isLocalHost("127.0.0.1:8080") && isLocalHost("[::1]:5000"));
  assert.ok(!isLocalHost("registry.example.com"));
});

test("import --change sets CMD, ENTRYPOINT, ENV, WORKDIR, USER, EXPOSE, VOLUME", () => {
  const cfg = applyChanges({}, [
    'CMD ["/bin/sh","-c","echo hi"]',
    "ENTRYPOINT /init",
    "ENV A=1",
    "ENV B 2",
    "WORKDIR /w",
    "USER 1000",
    "EXPOSE 80 53/udp",
    "VOLUME /data",
  ]);
  assert.deepEqual(cfg.Cmd, ["/bin/sh", "-c", "echo hi"]);
  assert.deepEqual(cfg.Entrypoint, ["/bin/sh", "-c", "/init"]);
  assert.deepEqual(cfg.Env, ["A=1", "B=2"]);
  assert.equal(cfg.WorkingDir, "/w");
  assert.equal(cfg.User, "1000");
  assert.deepEqual(Object.keys(cfg.ExposedPorts ?? {}), ["80/tcp", "53/udp"]);
  assert.deepEqual(Object.keys(cfg.Volumes ?? {}), ["/data"]);
});

test("adding an image moves its names away from the image that had them", () => {
  const rec = (id: string, names: string[]): ImageRecord => ({
    id,
    names,
    repoDigests: [],
    manifest: id,
    manifestMediaType: "m",
    layers: [],
    platform: "linux/amd64",
    added: "",
    size: 0,
  });
  const out = addImage([rec("sha256:1", ["a:1", "b:1"])], rec("sha256:2", ["a:1"]));
  assert.deepEqual(out.map((i) => [i.id, i.names]), [["sha256:1", ["b:1"]], ["sha256:2", ["a:1"]]]);
  const merged = addImage(out, rec("sha256:2", ["c:1"]));
  assert.deepEqual(merged.find((i) => i.id === "sha256:2")!.names, ["a:1", "c:1"]);
});

async function staticImports(file: string): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "--config", `${ROOT}/deno.json`, `${ROOT}/${file}`],
    stdout: "piped",
    stderr: "null",
  }).output();
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    roots: string[];
    modules: { specifier: string; dependencies?: { isDynamic?: boolean; code?: { specifier?: string } }[] }[];
  };
  const byName = new Map(info.modules.map((m) => [m.specifier, m]));
  const seen = new Set<string>();
  const todo = [...info.roots];
  while (todo.length) {
    const s = todo.pop()!;
    if (seen.has(s)) continue;
    seen.add(s);
    for (const d of byName.get(s)?.dependencies ?? []) {
      if (!d.isDynamic && d.code?.specifier) todo.push(d.code.specifier);
    }
  }
  return [...seen];
}

test("the run path loads no npm package and no node: module, nor does running from an image", async () => {
  const run = await staticImports("src/cli/run.ts");
  const bad = run.filter((s) => !s.startsWith("file:"));
  assert.deepEqual(bad, [], `the run path imports ${bad.join(", ")}`);
  assert.ok(run.some((s) => s.endsWith("/src/cli/_run_options.ts")), "the image run options are on the run path");
  assert.ok(!run.some((s) => s.includes("/src/store/")), "--rootfs and hello runs do not load the store");
  const image = await staticImports("src/engine/image_source.ts");
  const badImage = image.filter((s) => !s.startsWith("file:"));
  assert.deepEqual(badImage, [], `running an image imports ${badImage.join(", ")}`);
});
