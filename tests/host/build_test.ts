/**
 * `nook build`: real builds of real Containerfiles as the unprivileged test user — RUN steps are
 * containers of the engine over the stage's layers, COPY/ADD read the context, the result runs in
 * nook, is pushed to a local registry (docker-registry on 127.0.0.1), read back by skopeo, pulled
 * and run by podman (skipped, with podman's own reason, where it cannot run containers); the
 * cache, reproducible digests, whiteouts, a failed build's clean store, errors with their line,
 * and a context that cannot be left through a symlink.
 */
import assert from "node:assert/strict";
import { busyboxRootfs, busyboxSkip, exists, scratch, sh, test } from "../_helpers.ts";
import { freshStore, listTree, nookT, registrySkip, startRegistry } from "../_oci.ts";
import { PODMAN_CGROUPS, podmanEnv, podmanRunSkip } from "../_podman.ts";

/** A store with the busybox image `bb` imported. */
async function storeWithBase(): Promise<ReturnType<typeof freshStore>> {
  const s = freshStore();
  const root = busyboxRootfs();
  const file = `${scratch("nook-build-base-")}/bb.tar`;
  const tar = await sh("tar", ["--owner=0", "--group=0", "--numeric-owner", "-C", root, "-cf", file, "."]);
  assert.equal(tar.code, 0, tar.stderr);
  const r = await nookT(["import", "-q", file, "bb"], s.env);
  assert.equal(r.code, 0, r.stderr);
  return s;
}

function context(files: Record<string, string>): string {
  const dir = scratch("nook-build-ctx-");
  for (const [name, content] of Object.entries(files)) {
    const p = `${dir}/${name}`;
    Deno.mkdirSync(p.slice(0, p.lastIndexOf("/")), { recursive: true });
    Deno.writeTextFileSync(p, content);
  }
  return dir;
}

const MULTI = `# escape=\\
# a multi-stage build with the core instructions
ARG BASE=bb
FROM $BASE AS builder
ARG GREETING=hello
ENV WHO="the world" \\
    LANG=C.UTF-8
WORKDIR /src
COPY app/ ./
COPY *.txt /notes/
RUN echo "$GREETING, $WHO" > /src/out.txt && \\
    # a comment inside a continuation
    cat msg.sh >> /src/out.txt && rm /bin/false
SHELL ["/bin/sh", "-c"]
RUN ["/bin/sh", "-c", "echo exec-form >> /src/out.txt"]

FROM bb
LABEL org.example.stage=final version="1.0"
EXPOSE 8080 53/udp
VOLUME /data
STOPSIGNAL SIGTERM
COPY --from=builder /src/out.txt /app/out.txt
COPY --from=builder /notes /app/notes
COPY --chown=1000:1000 --chmod=0640 app/msg.sh /app/
WORKDIR /app
USER 1000
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["cat /app/out.txt; ls /app/notes; stat -c '%u:%g %a' /app/msg.sh; id -u; pwd"]
`;

test("a multi-stage build runs in nook, pushes, skopeo reads it back and podman runs it the same", async (t) => {
  const s = await storeWithBase();
  const ctx = context({ "Containerfile": MULTI, "app/msg.sh": "echo from msg\n", "a.txt": "a\n", "b.txt": "b\n", "skip.txt": "x\n", ".containerignore": "skip.txt\n" });
  try {
    const b = await nookT(["build", "-t", "app:1", "-t", "app:latest", "--build-arg", "GREETING=hi", "--label", "built.by=test", ctx], s.env);
    assert.equal(b.code, 0, b.stderr + b.stdout);
    const id = b.stdout.trim().split("\n").pop()!;
    assert.match(id, /^sha256:[0-9a-f]{64}$/);
    const r = await nookT(["run", "--rm", "--network", "none", "app:1"], s.env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "hi, the world\necho from msg\nexec-form\na.txt\nb.txt\n1000:1000 640\n1000\n/app\n");
    const gone = await nookT(["run", "--rm", "--network", "none", "--entrypoint", "", "app:1", "ls", "/bin/false"], s.env);
    assert.equal(gone.code, 0, "the final stage is based on bb again: /bin/false is there");
    const inspect = JSON.parse((await nookT(["image", "inspect", "app:1"], s.env)).stdout)[0];
    const cfg = inspect.Config;
    assert.deepEqual(cfg.Labels, { "org.example.stage": "final", version: "1.0", "built.by": "test" });
    assert.deepEqual(Object.keys(cfg.ExposedPorts).sort(), ["53/udp", "8080/tcp"]);
    assert.deepEqual(Object.keys(cfg.Volumes), ["/data"]);
    assert.equal(cfg.StopSignal, "SIGTERM");
    assert.equal(cfg.User, "1000");
    const hist = await nookT(["history", "--no-trunc", "app:1"], s.env);
    assert.match(hist.stdout, /COPY --chown=1000:1000 --chmod=0640/);

    const skip = registrySkip() ?? (exists("/usr/bin/skopeo") ? undefined : "skopeo is not installed (apt install skopeo)");
    await t.step({
      name: `pushed to a registry and inspected by skopeo${skip ? ` [skipped: ${skip}]` : ""}`,
      ignore: skip !== undefined,
      fn: async (t) => {
        const reg = await startRegistry();
        try {
          const p = await nookT(["push", "app:1", `${reg.host}/team/app:1`], s.env);
          assert.equal(p.code, 0, p.stderr);
          const i = await sh("skopeo", ["inspect", "--tls-verify=false", `docker://${reg.host}/team/app:1`]);
          assert.equal(i.code, 0, i.stderr);
          const doc = JSON.parse(i.stdout);
          assert.equal(doc.Labels["org.example.stage"], "final");
          assert.equal(doc.Layers.length, 4, "bb, then the three COPY layers");
          const raw = JSON.parse((await sh("skopeo", ["inspect", "--raw", "--tls-verify=false", `docker://${reg.host}/team/app:1`])).stdout);
          assert.equal(raw.mediaType, "application/vnd.oci.image.manifest.v1+json");
          // pulled back into a fresh store and run by nook
          const s2 = freshStore();
          try {
            const pulled = await nookT(["pull", "-q", `${reg.host}/team/app:1`], s2.env);
            assert.equal(pulled.code, 0, pulled.stderr);
            const again = await nookT(["run", "--rm", "--network", "none", `${reg.host}/team/app:1`], s2.env);
            assert.equal(again.stdout, r.stdout);
          } finally {
            await s2.reset();
          }
          // pulled by podman and run there: the same output
          const pm = podmanEnv();
          let why: string | undefined = typeof pm === "string" ? pm : undefined;
          try {
            if (typeof pm !== "string") {
              const pulled = await pm.run(["pull", "--tls-verify=false", "-q", `${reg.host}/team/app:1`]);
              assert.equal(pulled.code, 0, `podman pulls the pushed image: ${pulled.stderr}`);
              why = await podmanRunSkip(pm, `${reg.host}/team/app:1`);
            }
            await t.step({
              name: `podman runs it with the same output${why ? ` [skipped: ${why}]` : ""}`,
              ignore: why !== undefined,
              fn: async () => {
                if (typeof pm === "string") return;
                const ran = await pm.run(["run", "--rm", ...PODMAN_CGROUPS, `${reg.host}/team/app:1`]);
                assert.equal(ran.code, 0, ran.stderr);
                assert.equal(ran.stdout, r.stdout, "podman and nook print the same");
              },
            });
          } finally {
            if (typeof pm !== "string") await pm.remove();
          }
        } finally {
          await reg.stop();
        }
      },
    });
  } finally {
    await s.reset();
  }
}, { skip: busyboxSkip() });

test("an unchanged rebuild runs no step, and a changed file reruns only from the step that reads it", async () => {
  const s = await storeWithBase();
  const ctx = context({
    "Containerfile": "FROM bb\nRUN echo \"RAN\"\"-ONE\" && echo 1 > /one\nCOPY a.txt /a.txt\nRUN echo \"RAN\"\"-TWO\"; cat /a.txt > /two\nCOPY b.txt /b.txt\n",
    "a.txt": "a1\n",
    "b.txt": "b\n",
  });
  try {
    const build = async (args: string[]) => {
      const r = await nookT(["build", "--network", "none", ...args, ctx], s.env);
      return { ...r, all: r.stdout + r.stderr };
    };
    const first = await build(["-t", "c:1"]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.all, /RAN-ONE/);
    assert.match(first.all, /RAN-TWO/);
    const again = await build(["-t", "c:1"]);
    assert.equal(again.code, 0, again.stderr);
    assert.doesNotMatch(again.all, /RAN-/, "no RUN ran");
    assert.equal((again.all.match(/--> Using cache/g) ?? []).length, 4, again.all);
    assert.equal(again.stdout.trim().split("\n").pop(), first.stdout.trim().split("\n").pop(), "the same image");
    // a new mtime alone changes nothing
    Deno.utimeSync(`${ctx}/a.txt`, 1, 1);
    const touched = await build([]);
    assert.doesNotMatch(touched.all, /RAN-/);
    Deno.writeTextFileSync(`${ctx}/a.txt`, "a2\n");
    const changed = await build(["-t", "c:2"]);
    assert.equal(changed.code, 0, changed.stderr);
    assert.doesNotMatch(changed.all, /RAN-ONE/, "the step before the COPY is cached");
    assert.match(changed.all, /RAN-TWO/, "the step after it runs again");
    assert.equal((changed.all.match(/--> Using cache/g) ?? []).length, 1, changed.all);
    const r = await nookT(["run", "--rm", "--network", "none", "c:2", "cat", "/two"], s.env);
    assert.equal(r.stdout, "a2\n");
    const none = await build(["--no-cache"]);
    assert.match(none.all, /RAN-ONE/, "--no-cache runs every step");
  } finally {
    await s.reset();
  }
}, { skip: busyboxSkip() });

test("two builds with the same SOURCE_DATE_EPOCH give the same digest", async () => {
  const s = await storeWithBase();
  try {
    const ctx2 = context({ "Containerfile": "FROM bb\nCOPY f /f\nRUN mkdir /d && touch /d/x && echo x > /d/y\n", f: "f\n" });
    const again: string[] = [];
    for (let i = 0; i < 2; i++) {
      const b = await nookT(["build", "-q", "--no-cache", "--network", "none", "--iidfile", `${ctx2}/iid${i}`, ctx2], { ...s.env, SOURCE_DATE_EPOCH: "1700000000" });
      assert.equal(b.code, 0, b.stderr);
      again.push(b.stdout.trim());
      await new Promise((r) => setTimeout(r, 1100));
    }
    assert.equal(again[0], again[1], "the same image ID");
    assert.equal(Deno.readTextFileSync(`${ctx2}/iid0`), again[0]);
    const stamped = await nookT(["build", "-q", "--no-cache", "--network", "none", "--timestamp", "0", ctx2], s.env);
    const insp = JSON.parse((await nookT(["image", "inspect", stamped.stdout.trim()], s.env)).stdout)[0];
    assert.equal(insp.Created, "1970-01-01T00:00:00Z");
  } finally {
    await s.reset();
  }
}, { skip: busyboxSkip() });

test("a file deleted in a RUN is gone from the image (a whiteout), an emptied directory is opaque", async () => {
  const s = await storeWithBase();
  const ctx = context({ "Containerfile": "FROM bb\nRUN mkdir -p /d && touch /d/a /d/b /keep\nRUN rm /bin/false /d/a && rm -rf /d && mkdir /d && touch /d/new\n" });
  try {
    const base = listTree(`${s.data}/layers`).filter((f) => /^[0-9a-f]{64}$/.test(f));
    const b = await nookT(["build", "--network", "none", "-t", "w:1", ctx], s.env);
    assert.equal(b.code, 0, b.stderr);
    const r = await nookT(["run", "--rm", "--network", "none", "w:1", "sh", "-c", "ls /bin/false; ls /d; ls /keep"], s.env);
    assert.equal(r.stdout, "new\n/keep\n");
    assert.match(r.stderr, /false: No such file/);
    const files = listTree(`${s.data}/layers`).filter((f) => !base.includes(f.slice(0, 64)));
    assert.ok(files.length > 0);
    assert.ok(!files.some((f) => /\/diff\/(proc|sys|dev)$|\/diff\/etc\/(hosts|hostname|resolv\.conf)$/.test(f)), "no mount point of the step's container is in a layer");
  } finally {
    await s.reset();
  }
}, { skip: busyboxSkip() });

test("a failing RUN leaves nothing behind in tmp/, layers or images", async () => {
  const s = await storeWithBase();
  const ctx = context({ "Containerfile": "FROM bb\nCOPY a /a\nRUN echo partial > /p && exit 3\n", a: "a\n" });
  try {
    const before = { layers: listTree(`${s.data}/layers`), images: Deno.readTextFileSync(`${s.data}/images.json`) };
    const b = await nookT(["build", "--network", "none", "-t", "f:1", ctx], s.env);
    assert.equal(b.code, 125, b.stdout + b.stderr);
    assert.match(b.stderr, /Containerfile:3: RUN: .*exited with status 3/);
    assert.deepEqual(listTree(`${s.data}/tmp`), []);
    assert.deepEqual(listTree(`${s.data}/layers`), before.layers);
    assert.equal(Deno.readTextFileSync(`${s.data}/images.json`), before.images);
  } finally {
    await s.reset();
  }
}, { skip: busyboxSkip() });

test("a Containerfile with an error reports its file, line and instruction", async () => {
  const s = await storeWithBase();
  try {
    const bad = context({ "Containerfile": "FROM bb\n\nRUN true\nFETCH http://x /y\n" });
    const r = await nookT(["build", bad], s.env);
    assert.equal(r.code, 125);
    assert.match(r.stderr, /Containerfile:4: FETCH: unknown instruction/);
    const first = context({ "Dockerfile": "# comment\nRUN true\n" });
    const r2 = await nookT(["build", first], s.env);
    assert.equal(r2.code, 125);
    assert.match(r2.stderr, /Dockerfile:2: RUN: the first instruction must be FROM/);
    const flag = context({ "Containerfile": "FROM bb\nCOPY --bogus=1 a /a\n", a: "" });
    const r3 = await nookT(["build", flag], s.env);
    assert.match(r3.stderr, /Containerfile:2: COPY: unknown flag "--bogus"/);
    const target = await nookT(["build", "--target", "nope", flag], s.env);
    assert.match(target.stderr, /The target stage "nope"/);
  } finally {
    await s.reset();
  }
}, { skip: busyboxSkip() });

test("a context symlink that points outside is copied as a link, never followed", async () => {
  const s = await storeWithBase();
  const secret = scratch("nook-build-secret-");
  Deno.writeTextFileSync(`${secret}/secret`, "TOP SECRET\n");
  const ctx = context({ "Containerfile": "FROM bb\nCOPY . /ctx/\n", "ok.txt": "ok\n" });
  Deno.symlinkSync(`${secret}/secret`, `${ctx}/abs`);
  Deno.symlinkSync(`../${secret.split("/").pop()}/secret`, `${ctx}/rel`);
  try {
    const b = await nookT(["build", "--network", "none", "-t", "l:1", ctx], s.env);
    assert.equal(b.code, 0, b.stderr);
    const r = await nookT(["run", "--rm", "--network", "none", "l:1", "sh", "-c", "readlink /ctx/abs; cat /ctx/abs /ctx/rel 2>/dev/null; cat /ctx/ok.txt"], s.env);
    assert.equal(r.stdout, `${secret}/secret\nok\n`);
    for (const cf of ["FROM bb\nCOPY abs /x\n", "FROM bb\nCOPY rel /x\n", "FROM bb\nCOPY ../x /x\n"]) {
      Deno.writeTextFileSync(`${ctx}/Containerfile`, cf);
      const bad = await nookT(["build", "--network", "none", ctx], s.env);
      assert.equal(bad.code, 125, cf);
      assert.match(bad.stderr, /outside the build context|leads out of it/, bad.stderr);
      assert.doesNotMatch(bad.stdout + bad.stderr, /TOP SECRET/);
    }
  } finally {
    await s.reset();
  }
}, { skip: busyboxSkip() });

test("a stage from scratch, and a RUN over a base without Env, get PATH=… (the default search path as a variable)", async () => {
  const s = await storeWithBase();
  try {
    const ctx = context({ "Containerfile": "FROM bb\nRUN echo \"$PATH\" > /path\nFROM scratch\nCOPY --from=0 /path /path\n" });
    const b = await nookT(["build", "-q", "--network", "none", "-t", "p:1", ctx], s.env);
    assert.equal(b.code, 0, b.stderr);
    const cfg = JSON.parse((await nookT(["image", "inspect", "p:1"], s.env)).stdout)[0].Config;
    assert.deepEqual(cfg.Env, ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]);
    const out = await nookT(["build", "-q", "--network", "none", "-t", "p:2", "-o", `type=local,dest=${ctx}/out`, ctx], s.env);
    assert.equal(out.code, 0, out.stderr);
    assert.equal(Deno.readTextFileSync(`${ctx}/out/path`), "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n");
  } finally {
    await s.reset();
  }
}, { skip: busyboxSkip() });
