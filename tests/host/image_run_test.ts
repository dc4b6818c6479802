/**
 * Images from tarballs to running containers: load (docker-archive and
 * oci-archive), import, save, the image config applied, layer semantics
 * (whiteouts, opaque directories, owners, setuid, hard links) in every
 * storage backend, volumes, and removal with reference counting.
 */
import { assert, busyboxSkip, exists, fuseSkip, NOOK, scratch, sh, subidSkip, test, waitFor } from "../_helpers.ts";
import {
  busyboxEntries,
  digestOf,
  dockerArchive,
  freshStore,
  image,
  layer,
  listTree,
  nookT,
  ociArchive,
  tar,
  type TarEntry,
} from "../_oci.ts";

const skip = busyboxSkip() ?? subidSkip();
const big = crypto.getRandomValues(new Uint8Array(65536));
const bigHash = digestOf(big).slice(7);

function richLayers(): { entries: TarEntry[][]; compress: ("gzip" | "zstd" | "none")[] } {
  const base = [
    ...busyboxEntries(),
    { name: "opt/", type: "dir" as const },
    { name: "opt/old/", type: "dir" as const },
    { name: "opt/old/file1", content: "old" },
    { name: "vol/", type: "dir" as const },
    { name: "vol/seed", content: "seed\n", uid: 1000, gid: 1000 },
    { name: "home/user/.profile", content: "profile", uid: 1000, gid: 1000 },
  ];
  const second: TarEntry[] = [
    { name: "etc/", type: "dir" },
    { name: "etc/.wh.group", content: "" },
    { name: "data/", type: "dir", uid: 1000, gid: 1000, mode: 0o750 },
    { name: "data/owned1000", content: "a", uid: 1000, gid: 1000 },
    { name: "data/nobody", content: "b", uid: 65534, gid: 65534, mode: 0o600 },
    { name: "data/suid", content: big, mode: 0o4755 },
    { name: "data/hard", type: "link", linkname: "data/suid" },
    { name: "data/link", type: "symlink", linkname: "suid" },
    { name: "data/fifo", type: "fifo" },
    { name: "data/sda", type: "block", dev: [8, 0] },
    { name: "home/", type: "dir" },
    { name: "home/.wh..wh..opq", content: "" },
    { name: "home/new", content: "new" },
    { name: "opt/.wh.old", content: "" },
  ];
  const third: TarEntry[] = [
    // a layer carries its parent directories; the top one's owner and mode win
    { name: "data/", type: "dir", uid: 1000, gid: 1000, mode: 0o750 },
    { name: "data/zstd", content: "zstd layer", uid: 1000, gid: 1000 },
  ];
  return { entries: [base, second, third], compress: ["gzip", "gzip", "zstd"] };
}

function richImage() {
  const { entries, compress } = richLayers();
  const layers = entries.map((e, i) => layer(e, compress[i]));
  const img = image(layers, {
    User: "1000",
    WorkingDir: "/data",
    Env: ["PATH=/bin", "FOO=bar"],
    Cmd: ["sh", "-c", "echo default-cmd"],
    Volumes: { "/vol": {} },
    ExposedPorts: { "8080/tcp": {} },
    StopSignal: "SIGUSR1",
  });
  return { img, raw: entries.map((e) => tar(e)), layers };
}

/** Load the rich image into a store as localhost/rich:1; resolves with it and a scratch directory. */
async function loadRich(env: Record<string, string>) {
  const rich = richImage();
  const dir = scratch();
  Deno.writeFileSync(`${dir}/in.tar`, ociArchive(rich.img, "localhost/rich:1"));
  const r = await nookT(["load", "-q", "-i", `${dir}/in.tar`], env);
  assert.equal(r.code, 0, r.stderr);
  return { ...rich, dir };
}

const CHECK = [
  "id -u; id -g; pwd; echo $FOO",
  "stat -c '%u:%g %a' /data /data/owned1000 /data/nobody /data/suid",
  "sha256sum /data/suid | cut -d' ' -f1",
  "[ $(stat -c %i /data/suid) = $(stat -c %i /data/hard) ] && echo hardlinked",
  "readlink /data/link",
  "stat -c %F /data/fifo",
  "ls /data/sda 2>/dev/null || echo no-device",
  "ls /etc/group 2>/dev/null || echo group-whited-out",
  "ls /home",
  "ls /opt",
  "cat /data/zstd",
].join("; echo ---; ");

function checkOutput(stdout: string): void {
  const parts = stdout.split("---\n").map((s) => s.trim());
  assert.deepEqual(parts[0]!.split("\n"), ["1000", "1000", "/data", "bar"]);
  assert.deepEqual(parts[1]!.split("\n"), ["1000:1000 750", "1000:1000 644", "65534:65534 600", "0:0 4755"]);
  assert.equal(parts[2], bigHash, "file bytes are the image's, byte for byte");
  assert.equal(parts[3], "hardlinked");
  assert.equal(parts[4], "suid");
  assert.equal(parts[5], "fifo");
  assert.equal(parts[6], "no-device", "device nodes are skipped (rootless cannot make them)");
  assert.equal(parts[7], "group-whited-out", "a whiteout hides the lower layer's file");
  assert.equal(parts[8], "new", "an opaque directory hides what the lower layers had in it");
  assert.equal(parts[9], "", "a whited-out directory is gone");
  assert.equal(parts[10], "zstd layer");
}

test("load reads docker-archive and oci-archive files, and run applies the image's config and layers", async () => {
  const s = freshStore();
  try {
    const { img, raw } = richImage();
    const dir = scratch();
    Deno.writeFileSync(`${dir}/oci.tar`, ociArchive(img, "localhost/rich:oci"));
    Deno.writeFileSync(`${dir}/docker.tar`, dockerArchive(img, ["rich:docker"], raw));
    const a = await nookT(["load", "-i", `${dir}/oci.tar`], s.env);
    assert.equal(a.code, 0, a.stderr);
    assert.match(a.stdout, /Loaded image: localhost\/rich:oci/);
    assert.match(a.stderr, /skipped 1 device node/);
    const b = await nookT(["load", "-i", `${dir}/docker.tar`], s.env);
    assert.equal(b.code, 0, b.stderr);
    assert.match(b.stdout, /Loaded image: docker.io\/library\/rich:docker/);
    const list = JSON.parse((await nookT(["images", "--format", "json"], s.env)).stdout) as {
      Id: string;
      Names: string[];
    }[];
    assert.deepEqual(list.map((i) => i.Names).flat().sort(), ["docker.io/library/rich:docker", "localhost/rich:oci"]);
    assert.ok(
      list.every((i) => `sha256:${i.Id}` === img.id),
      "both archives give the same image ID (its config digest)",
    );
    for (const name of ["rich:oci", "rich:docker"]) {
      const r = await nookT(["run", "--rm", name, "sh", "-c", CHECK], s.env);
      assert.equal(r.code, 0, r.stderr);
      checkOutput(r.stdout);
    }
    const def = await nookT(["run", "--rm", "rich:oci"], s.env);
    assert.equal(def.code, 0, def.stderr);
    assert.equal(def.stdout.trim(), "default-cmd", "the image's Cmd runs when no command is given");
    const ep = await nookT(
      ["run", "--rm", "--entrypoint", "cat", "-u", "0", "-w", "/", "rich:oci", "/home/new"],
      s.env,
    );
    assert.equal(ep.stdout, "new");
  } finally {
    await s.reset();
  }
}, { skip });

for (const backend of ["overlay", "fuse-overlayfs", "copy"] as const) {
  const why = backend === "fuse-overlayfs" ? fuseSkip() : undefined;
  test(`the ${backend} backend gives each container its own writable copy of the layers`, async () => {
    const s = freshStore({ NOOK_STORAGE_BACKEND: backend });
    try {
      await loadRich(s.env);
      const r = await nookT(["run", "--rm", "rich:1", "sh", "-c", CHECK], s.env);
      assert.equal(r.code, 0, r.stderr);
      checkOutput(r.stdout);
      const w = await nookT([
        "run",
        "--rm",
        "-u",
        "0",
        "rich:1",
        "sh",
        "-c",
        "echo changed > /data/owned1000; rm /home/new; echo x > /newfile; grep ' / ' /proc/self/mountinfo",
      ], s.env);
      assert.equal(w.code, 0, w.stderr);
      if (backend === "overlay") {
        assert.match(w.stdout, / - overlay overlay .*userxattr/);
        assert.match(w.stdout, /volatile/, "a --rm run's root is not synced at exit: it is thrown away");
        const kept = await nookT(["run", "--name", "kept", "rich:1", "grep", " / ", "/proc/self/mountinfo"], s.env);
        assert.equal(kept.code, 0, kept.stderr);
        assert.doesNotMatch(kept.stdout, /volatile/, "a kept container's root is synced as usual");
        assert.equal((await nookT(["rm", "kept"], s.env)).code, 0);
      }
      if (backend === "fuse-overlayfs") assert.match(w.stdout, /fuse-overlayfs/);
      const again = await nookT([
        "run",
        "--rm",
        "rich:1",
        "sh",
        "-c",
        "cat /data/owned1000; ls /home; ls /newfile 2>&1; true",
      ], s.env);
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, /^anew\n.*No such file/s, "a container's writes never reach the image");
      assert.deepEqual(
        listTree(`${s.data}/rootfs`),
        [],
        "--rm removes the container's storage, its files of subordinate ids too",
      );
    } finally {
      await s.reset();
    }
  }, { skip: skip ?? why });
}

test("import makes a one-layer image under localhost/ from a root filesystem tarball, with --change", async () => {
  const s = freshStore();
  try {
    const dir = scratch();
    const rootfs = tar([...busyboxEntries(), { name: "hello.txt", content: "imported\n", uid: 1000, gid: 1000 }]);
    Deno.writeFileSync(`${dir}/rootfs.tar.gz`, new Uint8Array((await import("node:zlib")).gzipSync(rootfs)));
    const r = await nookT([
      "import",
      "-c",
      'CMD ["cat","/hello.txt"]',
      "-c",
      "ENV GREETING=hi",
      `${dir}/rootfs.tar.gz`,
      "mine:1",
    ], s.env);
    assert.equal(r.code, 0, r.stderr);
    const id = r.stdout.trim();
    assert.match(id, /^sha256:[0-9a-f]{64}$/);
    const run = await nookT(["run", "--rm", "mine:1"], s.env);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, "imported\n");
    const env = await nookT(
      ["run", "--rm", "localhost/mine:1", "sh", "-c", "echo $GREETING; stat -c %u /hello.txt"],
      s.env,
    );
    assert.equal(env.stdout, "hi\n1000\n");
    const inspect = JSON.parse((await nookT(["image", "inspect", "mine:1"], s.env)).stdout)[0];
    assert.equal(inspect.Id, id);
    assert.deepEqual(inspect.RepoTags, ["localhost/mine:1"]);
    assert.equal(inspect.RootFS.Layers.length, 1);
    assert.equal(inspect.RootFS.Layers[0], digestOf(rootfs), "the diff ID is the digest of the uncompressed tarball");
  } finally {
    await s.reset();
  }
}, { skip });

test(
  "save writes an oci-archive and a docker-archive that skopeo reads and load brings back as the same image",
  async () => {
    const s = freshStore();
    try {
      const { img, dir } = await loadRich(s.env);
      for (const format of ["oci-archive", "docker-archive"]) {
        const out = `${dir}/out-${format}.tar`;
        const r = await nookT(["save", "--format", format, "-o", out, "rich:1"], s.env);
        assert.equal(r.code, 0, r.stderr);
        if (exists("/usr/bin/skopeo")) {
          const i = await sh("skopeo", ["inspect", "--raw", "--config", `${format}:${out}`]);
          assert.equal(i.code, 0, i.stderr);
          assert.equal(digestOf(new TextEncoder().encode(i.stdout)), img.id, `${format}: skopeo finds the same config`);
        }
        const rm = await nookT(["rmi", "rich:1"], s.env);
        assert.equal(rm.code, 0, rm.stderr);
        const back = await nookT(["load", "-i", out], s.env);
        assert.equal(back.code, 0, back.stderr);
        assert.match(back.stdout, /Loaded image: localhost\/rich:1/);
        const inspect = JSON.parse((await nookT(["image", "inspect", "rich:1"], s.env)).stdout)[0];
        assert.equal(inspect.Id, img.id);
        const run = await nookT(["run", "--rm", "rich:1", "sh", "-c", CHECK], s.env);
        assert.equal(run.code, 0, run.stderr);
        checkOutput(run.stdout);
      }
    } finally {
      await s.reset();
    }
  },
  { skip },
);

test(
  "volumes: host binds (read-only too), named volumes filled from the image and kept, anonymous ones removed, tmpfs mounts",
  async () => {
    const s = freshStore();
    try {
      await loadRich(s.env);
      const host = scratch();
      Deno.writeTextFileSync(`${host}/from-host`, "host file\n");
      const r = await nookT([
        "run",
        "--rm",
        "-u",
        "0",
        "-v",
        `${host}:/h:ro`,
        "--mount",
        `type=bind,source=${host},target=/rw`,
        "--mount",
        "type=tmpfs,target=/scratch,tmpfs-size=1m",
        "-v",
        "named:/named",
        "rich:1",
        "sh",
        "-c",
        "cat /h/from-host; touch /h/x 2>&1 | grep -c Read-only; echo w > /rw/written; " +
        "grep ' /scratch ' /proc/self/mountinfo | grep -c tmpfs; cat /vol/seed; stat -c %u /vol/seed; echo kept > /named/f; chown 1000 /named/f",
      ], s.env);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.stdout.trim().split("\n"), ["host file", "1", "1", "seed", "1000"]);
      assert.equal(Deno.readTextFileSync(`${host}/written`), "w\n", "a read-write bind writes through to the host");
      const again = await nookT([
        "run",
        "--rm",
        "-v",
        "named:/named",
        "rich:1",
        "sh",
        "-c",
        "cat /named/f; stat -c %u /named/f",
      ], s.env);
      assert.equal(
        again.stdout,
        "kept\n1000\n",
        "a named volume keeps its files (and their owners) between containers",
      );
      const vols = (await nookT(["volume", "ls", "-q"], s.env)).stdout.trim().split("\n");
      assert.deepEqual(vols, ["named"], "the image's anonymous /vol volume went with its container");
      const rm = await nookT(["volume", "rm", "named"], s.env);
      assert.equal(rm.code, 0, rm.stderr);
      assert.ok(!exists(`${s.data}/volumes/named`), "files of subordinate ids in the volume are removed too");
      const bad = await nookT(["run", "--rm", "-v", "/no/such/dir:/x", "rich:1", "true"], s.env);
      assert.equal(bad.code, 125);
      assert.match(bad.stderr, /bind source "\/no\/such\/dir" does not exist/);
    } finally {
      await s.reset();
    }
  },
  { skip },
);

test(
  "rmi untags first, removes an image with its last name, and keeps layers another image or a running container uses",
  async () => {
    const s = freshStore();
    try {
      const base = layer(busyboxEntries());
      const a = image([base, layer([{ name: "a", content: "a" }])], { Cmd: ["sh"] });
      const b = image([base, layer([{ name: "b", content: "b" }])], { Cmd: ["sh"] });
      const dir = scratch();
      Deno.writeFileSync(`${dir}/a.tar`, ociArchive(a, "localhost/a:1"));
      Deno.writeFileSync(`${dir}/b.tar`, ociArchive(b, "localhost/b:1"));
      for (const f of ["a", "b"]) assert.equal((await nookT(["load", "-q", "-i", `${dir}/${f}.tar`], s.env)).code, 0);
      const layersDir = `${s.data}/layers`;
      assert.equal(
        listTree(layersDir).filter((p) => !p.includes("/")).length,
        3,
        "the shared base layer is unpacked once",
      );
      const blobs = () => listTree(`${s.data}/blobs/sha256`);
      // a running container pins image a
      const bg = new Deno.Command(NOOK, {
        args: ["run", "--rm", "a:1", "sleep", "30"],
        env: s.env,
        stdout: "null",
        stderr: "null",
      }).spawn();
      try {
        await waitFor("the container's storage", () => listTree(`${s.data}/rootfs`).length > 0);
        const refused = await nookT(["rmi", "a:1"], s.env);
        assert.equal(refused.code, 125, "nook's own refusals end with 125");
        assert.match(refused.stderr, /in use by container/);
        const forced = await nookT(["rmi", "-f", "a:1"], s.env);
        assert.equal(forced.code, 0, forced.stderr);
        assert.match(forced.stdout, /Deleted: sha256:/);
        assert.equal(
          listTree(layersDir).filter((p) => !p.includes("/")).length,
          3,
          "the running container's layers stay",
        );
      } finally {
        bg.kill("SIGKILL");
        await bg.status;
      }
      // the killed run left its storage: prune finds it dead and removes it and what only it used
      const prune = await nookT(["image", "prune", "-f"], s.env);
      assert.equal(prune.code, 0, prune.stderr);
      assert.deepEqual(listTree(`${s.data}/rootfs`), []);
      assert.equal(
        listTree(layersDir).filter((p) => !p.includes("/")).length,
        2,
        "image a's own layer is gone, the shared one stays",
      );
      const before = blobs().length;
      const rmb = await nookT(["rmi", "localhost/b:1"], s.env);
      assert.equal(rmb.code, 0, rmb.stderr);
      assert.deepEqual(listTree(layersDir), [], "no image uses any layer now");
      assert.deepEqual(blobs(), [], `every blob went (${before} before)`);
      const none = await nookT(["rmi", "nothing:here"], s.env);
      assert.equal(none.code, 125);
      assert.match(none.stderr, /No such image/);
    } finally {
      await s.reset();
    }
  },
  { skip },
);

test("system reset removes everything nook keeps, files of subordinate ids included", async () => {
  const s = freshStore();
  await loadRich(s.env);
  assert.equal(
    (await nookT(
      ["run", "--rm", "-u", "0", "-v", "v1:/v", "rich:1", "sh", "-c", "echo x > /v/f; chown 1000 /v/f"],
      s.env,
    )).code,
    0,
  );
  const rm = await sh("rm", ["-rf", s.data]);
  assert.notEqual(rm.code, 0, "plain rm -rf cannot remove files of subordinate ids");
  const refuse = await nookT(["system", "reset"], s.env);
  assert.equal(refuse.code, 125, "without a terminal, reset wants -f");
  const r = await nookT(["system", "reset", "-f"], s.env);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(!exists(s.data), "the data directory is gone");
}, { skip });

test("system reset first stops running containers, so no process of theirs outlives the store", async () => {
  const s = freshStore();
  await loadRich(s.env);
  const d = await nookT(["run", "-d", "--name", "busy", "rich:1", "sleep", "1000"], s.env);
  assert.equal(d.code, 0, d.stderr);
  const info = await nookT(["inspect", "-f", "{{.State.Pid}}", "busy"], s.env);
  const pid = Number(info.stdout.trim());
  assert.ok(pid > 0, info.stdout + info.stderr);
  const r = await nookT(["system", "reset", "-f"], s.env);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(!exists(`/proc/${pid}`) || Deno.readTextFileSync(`/proc/${pid}/stat`).includes(") Z "), "the container is gone");
  assert.ok(!exists(s.data), "the data directory is gone");
}, { skip });

test("nook unshare runs a command as root over the subordinate ids, and tells the exit code", async () => {
  const s = freshStore();
  try {
    const r = await nookT(["unshare", "sh", "-c", "id -u; cat /proc/self/uid_map; exit 3"], s.env);
    assert.equal(r.code, 3);
    const lines = r.stdout.trim().split("\n");
    assert.equal(lines[0], "0");
    assert.deepEqual(lines[1]!.trim().split(/\s+/).map(Number), [0, Deno.uid(), 1]);
    assert.equal(lines[2]!.trim().split(/\s+/)[0], "1");
  } finally {
    await s.reset();
  }
}, { skip });
