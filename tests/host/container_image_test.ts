/**
 * From containers back to images and files: `create` then `start -a`, `diff` of a container's
 * changes, `commit` of them into a new image, and `cp` in and out of running and stopped
 * containers — real containers from a busybox image, in a fresh store, as the test user.
 */
import assert from "node:assert/strict";
import { busyboxRootfs, busyboxSkip, exists, isolatedEnv, NOOK, scratch, sh, subidSkip, test } from "../_helpers.ts";
import { freshStore, nookT } from "../_oci.ts";

const skip = busyboxSkip() ?? subidSkip();

function fuseSkip(): string | undefined {
  if (!exists("/usr/bin/fuse-overlayfs")) return "fuse-overlayfs is not installed (apt install fuse-overlayfs)";
  try {
    Deno.openSync("/dev/fuse", { read: true, write: true }).close();
  } catch {
    return "/dev/fuse is not usable by this user (tests/run makes it 0666 as root)";
  }
  return undefined;
}

/** A store with the busybox image `bb` imported. */
async function storeWithBusybox(): Promise<ReturnType<typeof freshStore>> {
  const s = freshStore();
  const root = busyboxRootfs();
  const file = `${scratch("nook-cimg-base-")}/bb.tar`;
  const tar = await sh("tar", ["--owner=0", "--group=0", "--numeric-owner", "-C", root, "-cf", file, "."]);
  assert.equal(tar.code, 0, tar.stderr);
  const r = await nookT(["import", "-q", file, "bb"], s.env);
  assert.equal(r.code, 0, r.stderr);
  return s;
}

test(
  "create makes a container that ps lists as Created, and start -a runs it with its output and exit code",
  async () => {
    const s = await storeWithBusybox();
    try {
      const c = await nookT([
        "create",
        "--name",
        "w",
        "--network",
        "none",
        "bb",
        "sh",
        "-c",
        "echo hello from w; exit 3",
      ], s.env);
      assert.equal(c.code, 0, c.stderr);
      assert.match(c.stdout.trim(), /^[0-9a-f]{64}$/);
      const ps = await nookT(["ps", "-a", "--format", "{{.Names}} {{.Status}}"], s.env);
      assert.equal(ps.code, 0, ps.stderr);
      assert.match(ps.stdout, /^w Created$/m);
      const st = await nookT(["start", "-a", "w"], s.env);
      assert.equal(st.code, 3, st.stderr);
      assert.equal(st.stdout, "hello from w\n");
      const ps2 = await nookT(["ps", "-a", "--format", "{{.Names}} {{.Status}}"], s.env);
      assert.match(ps2.stdout, /^w Exited \(3\)/m);
      // once more: a stopped container starts again attached
      const again = await nookT(["start", "-a", "w"], s.env);
      assert.equal(again.code, 3, again.stderr);
      // and detached
      const d = await nookT(["create", "--name", "d", "--network", "none", "bb", "sh", "-c", "echo detached"], s.env);
      assert.equal(d.code, 0, d.stderr);
      assert.equal((await nookT(["start", "d"], s.env)).code, 0);
      const w = await nookT(["wait", "d"], s.env);
      assert.equal(w.stdout.trim(), "0", w.stderr);
      const logs = await nookT(["logs", "d"], s.env);
      assert.equal(logs.stdout, "detached\n");
    } finally {
      await s.reset();
    }
  },
  { skip },
);

const CHANGE = "echo new > /new; echo extra >> /etc/passwd; rm /etc/group; mkdir /d; echo f > /d/f; chmod 640 /d/f";

function lines(out: string): string[] {
  return out.split("\n").filter((l) => l);
}

for (const backend of ["overlay", "fuse-overlayfs", "copy"]) {
  test(`diff lists what a container added, changed and deleted (${backend} backend)`, async () => {
    const s = await storeWithBusybox();
    const env = { ...s.env, NOOK_STORAGE_BACKEND: backend };
    try {
      const r = await nookT(["run", "--name", "ch", "--network", "none", "bb", "sh", "-c", CHANGE], env);
      assert.equal(r.code, 0, r.stderr);
      const d = await nookT(["diff", "ch"], env);
      assert.equal(d.code, 0, d.stderr);
      const got = lines(d.stdout);
      for (const want of ["A /new", "C /etc", "C /etc/passwd", "D /etc/group", "A /d", "A /d/f"]) {
        assert.ok(got.includes(want), `"${want}" missing from:\n${d.stdout}`);
      }
      assert.ok(!got.some((l) => / \/bin\//.test(l)), `untouched files listed:\n${d.stdout}`);
      const j = await nookT(["diff", "--format", "json", "ch"], env);
      assert.equal(j.code, 0, j.stderr);
      const doc = JSON.parse(j.stdout) as { changed: string[]; added: string[]; deleted: string[] };
      assert.ok(
        doc.added.includes("/new") && doc.changed.includes("/etc/passwd") && doc.deleted.includes("/etc/group"),
        j.stdout,
      );
      // a running container: its changes so far
      const bg = await nookT([
        "run",
        "-d",
        "--name",
        "bg",
        "--network",
        "none",
        "bb",
        "sh",
        "-c",
        "touch /live; sleep 60",
      ], env);
      assert.equal(bg.code, 0, bg.stderr);
      let live = "";
      for (let i = 0; i < 50 && !live.includes("A /live"); i++) {
        live = (await nookT(["diff", "bg"], env)).stdout;
        if (!live.includes("A /live")) await new Promise((res) => setTimeout(res, 100));
      }
      assert.match(live, /^A \/live$/m);
      await nookT(["rm", "-f", "bg"], env);
    } finally {
      await s.reset();
    }
  }, { skip: skip ?? (backend === "fuse-overlayfs" ? fuseSkip() : undefined) });
}

function layerCount(data: string): number {
  try {
    return [...Deno.readDirSync(`${data}/layers`)].length;
  } catch {
    return 0;
  }
}

for (const backend of ["overlay", "fuse-overlayfs", "copy"]) {
  test(
    `commit makes an image of a container's changes that a new container sees, deletions included (${backend} backend)`,
    async () => {
      const s = await storeWithBusybox();
      const env = { ...s.env, NOOK_STORAGE_BACKEND: backend, NOOK_TEST_CI: "1" };
      try {
        const r = await nookT(["run", "--name", "ch", "--network", "none", "bb", "sh", "-c", CHANGE], env);
        assert.equal(r.code, 0, r.stderr);
        const layersBefore = layerCount(s.data);
        assert.ok(layersBefore > 0);
        const imagesBefore = (await nookT(["images", "-q", "--no-trunc"], env)).stdout;
        // killed before anything is in place: nothing is left behind
        const killed = await nookT(["commit", "ch", "snap:0"], { ...env, NOOK_CRASH_AT: "commit.layer" });
        assert.notEqual(killed.code, 0, "the crash point did not fire");
        assert.equal(layerCount(s.data), layersBefore);
        assert.equal((await nookT(["images", "-q", "--no-trunc"], env)).stdout, imagesBefore);

        const c = await nookT(
          ["commit", "-m", "my change", "-a", "Ann", "-c", 'CMD ["cat", "/new"]', "ch", "snap:1"],
          env,
        );
        assert.equal(c.code, 0, c.stderr);
        assert.match(c.stdout.trim(), /^sha256:[0-9a-f]{64}$/);
        const tmpLeft = [...Deno.readDirSync(`${s.data}/tmp`)].map((e) => e.name).filter((n) =>
          n.startsWith("commit-")
        );
        assert.deepEqual(tmpLeft, [], "the killed commit's temporary directory was not swept");
        const def = await nookT(["run", "--rm", "--network", "none", "snap:1"], env);
        assert.equal(def.code, 0, def.stderr);
        assert.equal(def.stdout, "new\n");
        const seen = await nookT(
          [
            "run",
            "--rm",
            "--network",
            "none",
            "snap:1",
            "sh",
            "-c",
            "test ! -e /etc/group && echo gone; cat /d/f; stat -c %a /d/f; tail -n 1 /etc/passwd",
          ],
          env,
        );
        assert.equal(seen.code, 0, seen.stderr);
        assert.equal(seen.stdout, "gone\nf\n640\nextra\n");
        const h = await nookT(["history", "--no-trunc", "snap:1"], env);
        assert.equal(h.code, 0, h.stderr);
        assert.match(h.stdout, /my change/);
        const insp = await nookT(["image", "inspect", "snap:1"], env);
        assert.match(insp.stdout, /"Author": "Ann"|"author": "Ann"/);
      } finally {
        await s.reset();
      }
    },
    { skip: skip ?? (backend === "fuse-overlayfs" ? fuseSkip() : undefined) },
  );
}

function stat(path: string): Deno.FileInfo {
  return Deno.lstatSync(path);
}

for (const backend of ["overlay", "fuse-overlayfs", "copy"]) {
  test(
    `cp copies files and directories out of and into stopped, created and running containers, keeping modes (${backend} backend)`,
    async () => {
      const s = await storeWithBusybox();
      const env = { ...s.env, NOOK_STORAGE_BACKEND: backend };
      const host = scratch("nook-cp-");
      try {
        const r = await nookT(["run", "--name", "ch", "--network", "none", "bb", "sh", "-c", CHANGE], env);
        assert.equal(r.code, 0, r.stderr);
        // out of a stopped container: a file, then a directory
        let o = await nookT(["cp", "ch:/d/f", `${host}/f`], env);
        assert.equal(o.code, 0, o.stderr);
        assert.equal(Deno.readTextFileSync(`${host}/f`), "f\n");
        assert.equal(stat(`${host}/f`).mode! & 0o777, 0o640);
        o = await nookT(["cp", "ch:/d", host], env);
        assert.equal(o.code, 0, o.stderr);
        assert.equal(Deno.readTextFileSync(`${host}/d/f`), "f\n");
        // into a created container: a file and a directory, seen when it starts
        Deno.writeTextFileSync(`${host}/in`, "into the container\n");
        Deno.chmodSync(`${host}/in`, 0o751);
        Deno.mkdirSync(`${host}/tree/sub`, { recursive: true });
        Deno.writeTextFileSync(`${host}/tree/sub/leaf`, "leaf\n");
        const k = await nookT(
          [
            "create",
            "--name",
            "k",
            "--network",
            "none",
            "bb",
            "sh",
            "-c",
            "cat /tmp/in; stat -c '%a %u' /tmp/in; cat /root/tree/sub/leaf",
          ],
          env,
        );
        assert.equal(k.code, 0, k.stderr);
        let i = await nookT(["cp", `${host}/in`, "k:/tmp/in"], env);
        assert.equal(i.code, 0, i.stderr);
        i = await nookT(["cp", `${host}/tree`, "k:/root/"], env);
        assert.equal(i.code, 0, i.stderr);
        const st = await nookT(["start", "-a", "k"], env);
        assert.equal(st.code, 0, st.stderr);
        assert.equal(st.stdout, "into the container\n751 0\nleaf\n");
        // a running container, both ways
        const bg = await nookT([
          "run",
          "-d",
          "--name",
          "bg",
          "--network",
          "none",
          "bb",
          "sh",
          "-c",
          "echo running > /tmp/live; sleep 60",
        ], env);
        assert.equal(bg.code, 0, bg.stderr);
        let got = "";
        for (let n = 0; n < 50 && got !== "running\n"; n++) {
          const out = await nookT(["cp", "bg:/tmp/live", `${host}/live`], env);
          got = out.code === 0 ? Deno.readTextFileSync(`${host}/live`) : "";
          if (got !== "running\n") await new Promise((res) => setTimeout(res, 100));
        }
        assert.equal(got, "running\n");
        i = await nookT(["cp", `${host}/in`, "bg:/tmp/"], env);
        assert.equal(i.code, 0, i.stderr);
        const e = await nookT(["exec", "bg", "sh", "-c", "cat /tmp/in; stat -c %a /tmp/in"], env);
        assert.equal(e.stdout, "into the container\n751\n", e.stderr);
        await nookT(["rm", "-f", "bg"], env);
      } finally {
        await s.reset();
        Deno.removeSync(host, { recursive: true });
      }
    },
    { skip: skip ?? (backend === "fuse-overlayfs" ? fuseSkip() : undefined) },
  );
}

test("cp resolves symlinks inside the container's root: nothing outside it is read or written", async () => {
  const s = await storeWithBusybox();
  const env = s.env;
  const outside = scratch("nook-cp-outside-");
  const host = scratch("nook-cp-host-");
  try {
    Deno.writeTextFileSync(`${outside}/secret`, "host secret\n");
    Deno.writeTextFileSync(`${host}/payload`, "payload\n");
    const links = `ln -s ${outside} /esc; ln -s ../../../../../../../..${outside} /up; ln -s ${outside}/secret /sec`;
    for (const running of [false, true]) {
      const name = running ? "lr" : "ls";
      const args = running
        ? ["run", "-d", "--name", name, "--network", "none", "bb", "sh", "-c", `${links}; sleep 60`]
        : ["run", "--name", name, "--network", "none", "bb", "sh", "-c", links];
      const r = await nookT(args, env);
      assert.equal(r.code, 0, r.stderr);
      if (running) {
        for (let n = 0; n < 50; n++) {
          if ((await nookT(["exec", name, "test", "-L", "/sec"], env)).code === 0) break;
          await new Promise((res) => setTimeout(res, 100));
        }
      }
      for (const p of ["/esc/secret", "/up/secret"]) {
        const o = await nookT(["cp", `${name}:${p}`, `${host}/got`], env);
        assert.notEqual(o.code, 0, `${p} was read (running: ${running})`);
        assert.ok(!exists(`${host}/got`), `${p} was read (running: ${running})`);
      }
      // the link itself is copied, never what it points at
      const l = await nookT(["cp", `${name}:/sec`, `${host}/sec-${name}`], env);
      assert.equal(l.code, 0, l.stderr);
      assert.ok(stat(`${host}/sec-${name}`).isSymlink);
      for (const p of ["/esc/", "/up/", "/esc/new", "/sec"]) {
        await nookT(["cp", `${host}/payload`, `${name}:${p}`], env);
      }
      assert.deepEqual(
        [...Deno.readDirSync(outside)].map((e) => e.name),
        ["secret"],
        `written outside (running: ${running})`,
      );
      assert.equal(Deno.readTextFileSync(`${outside}/secret`), "host secret\n");
    }
    await nookT(["rm", "-f", "lr"], env);
  } finally {
    await s.reset();
    Deno.removeSync(outside, { recursive: true });
    Deno.removeSync(host, { recursive: true });
  }
}, { skip });

test("a create killed before its record is complete is rolled back by the next command", async () => {
  const s = await storeWithBusybox();
  const env = { ...s.env, NOOK_TEST_CI: "1" };
  try {
    for (const step of ["create.intent", "create.storage", "create.record"]) {
      const k = await nookT(["create", "--name", "half", "--network", "none", "bb", "true"], {
        ...env,
        NOOK_CRASH_AT: step,
      });
      assert.notEqual(k.code, 0, `the crash point ${step} did not fire`);
      const ps = await nookT(["ps", "-a", "-q"], env);
      assert.equal(ps.stdout, "", `${step}: ${ps.stdout}`);
      const rootfs = exists(`${s.data}/rootfs`) ? [...Deno.readDirSync(`${s.data}/rootfs`)].map((e) => e.name) : [];
      assert.deepEqual(rootfs, [], `${step}: storage left behind`);
    }
    // the name is free again
    const c = await nookT(["create", "--name", "half", "--network", "none", "bb", "true"], env);
    assert.equal(c.code, 0, c.stderr);
  } finally {
    await s.reset();
  }
}, { skip });

test("commit of a running container says whether it was paused, and keeps it running", async () => {
  const s = await storeWithBusybox();
  const env = s.env;
  try {
    const bg = await nookT([
      "run",
      "-d",
      "--name",
      "bg",
      "--network",
      "none",
      "bb",
      "sh",
      "-c",
      "echo hot > /hot; sleep 60",
    ], env);
    assert.equal(bg.code, 0, bg.stderr);
    for (let n = 0; n < 50; n++) {
      if ((await nookT(["diff", "bg"], env)).stdout.includes("A /hot")) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    const c = await nookT(["commit", "bg", "hot:1"], env);
    assert.equal(c.code, 0, c.stderr);
    if (c.stderr) assert.match(c.stderr, /not paused/);
    const ps = await nookT(["ps", "--format", "{{.Names}}"], env);
    assert.match(ps.stdout, /^bg$/m);
    const r = await nookT(["run", "--rm", "--network", "none", "hot:1", "cat", "/hot"], env);
    assert.equal(r.stdout, "hot\n", r.stderr);
    await nookT(["rm", "-f", "bg"], env);
  } finally {
    await s.reset();
  }
}, { skip });

test("cp with - writes a tar stream of a container's files and unpacks one into a container", async () => {
  const s = await storeWithBusybox();
  const env = s.env;
  const host = scratch("nook-cp-tar-");
  try {
    const r = await nookT(["run", "--name", "ch", "--network", "none", "bb", "sh", "-c", CHANGE], env);
    assert.equal(r.code, 0, r.stderr);
    const child = new Deno.Command(NOOK, {
      args: ["cp", "ch:/d", "-"],
      env: { ...isolatedEnv(), ...env },
      stdout: "piped",
      stderr: "piped",
    });
    const out = await child.output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    Deno.writeFileSync(`${host}/d.tar`, out.stdout);
    const list = await sh("tar", ["-tvf", `${host}/d.tar`]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^drwx.* d\/$/m);
    assert.match(list.stdout, /^-rw-r----- .* d\/f$/m);
    const k = await nookT([
      "create",
      "--name",
      "k",
      "--network",
      "none",
      "bb",
      "sh",
      "-c",
      "cat /root/d/f; stat -c %a /root/d/f",
    ], env);
    assert.equal(k.code, 0, k.stderr);
    const i = await nookT(["cp", "-", "k:/root"], env, 60_000, out.stdout);
    assert.equal(i.code, 0, i.stderr);
    const st = await nookT(["start", "-a", "k"], env);
    assert.equal(st.stdout, "f\n640\n", st.stderr);
    // a running container, through its user namespace
    const bg = await nookT(["run", "-d", "--name", "bg", "--network", "none", "bb", "sleep", "60"], env);
    assert.equal(bg.code, 0, bg.stderr);
    const j = await nookT(["cp", "-", "bg:/tmp"], env, 60_000, out.stdout);
    assert.equal(j.code, 0, j.stderr);
    const e = await nookT(["exec", "bg", "cat", "/tmp/d/f"], env);
    assert.equal(e.stdout, "f\n", e.stderr);
    await nookT(["rm", "-f", "bg"], env);
  } finally {
    await s.reset();
    Deno.removeSync(host, { recursive: true });
  }
}, { skip });
