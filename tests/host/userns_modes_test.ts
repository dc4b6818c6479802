/**
 * User namespace modes and devices with real containers: keep-id (the
 * caller's ids inside, the image's owners kept, no layer copied), nomap,
 * --uidmap, host refused, and --device nodes usable inside.
 */
import { assert, busyboxRootfs, busyboxSkip, scratch, subidRange, subidSkip, test } from "../_helpers.ts";
import { busyboxEntries, freshStore, image, layer, nookT, ociArchive, type TarEntry } from "../_oci.ts";

const skip = busyboxSkip() ?? subidSkip() ?? fuseSkip();

/** keep-id shows the layers through fuse-overlayfs (id mapping at mount time). */
function fuseSkip(): string | undefined {
  for (const d of ["/usr/bin", "/bin"]) {
    try {
      Deno.statSync(`${d}/fuse-overlayfs`);
      try {
        Deno.openSync("/dev/fuse", { read: true, write: true }).close();
        return undefined;
      } catch (err) {
        return `/dev/fuse cannot be opened by this user (${(err as Error).message})`;
      }
    } catch {
      // next
    }
  }
  return "fuse-overlayfs is not installed (apt install fuse-overlayfs)";
}

const BIG = new Uint8Array(1 << 20).map((_, i) => (i * 2654435761) >>> 24);

async function loadImage(env: Record<string, string>): Promise<void> {
  const entries: TarEntry[] = [
    ...busyboxEntries(),
    { name: "owned4242", content: "x", uid: 4242, gid: 4343 },
    { name: "big", content: BIG },
  ];
  const dir = scratch();
  Deno.writeFileSync(`${dir}/in.tar`, ociArchive(image([layer(entries)], { Cmd: ["sh"] }), "localhost/uns:1"));
  const r = await nookT(["load", "-q", "-i", `${dir}/in.tar`], env);
  assert.equal(r.code, 0, r.stderr);
}

function treeBytes(dir: string): { files: number; bytes: number } {
  let files = 0, bytes = 0;
  const walk = (d: string) => {
    let list: Deno.DirEntry[];
    try {
      list = [...Deno.readDirSync(d)];
    } catch {
      return;
    }
    for (const e of list) {
      const p = `${d}/${e.name}`;
      if (e.isDirectory) walk(p);
      else if (e.isFile) {
        files++;
        try {
          bytes += Deno.lstatSync(p).size;
        } catch {
          // unreadable (a file of a subordinate id)
        }
      }
    }
  };
  walk(dir);
  return { files, bytes };
}

function userName(): string {
  for (const line of Deno.readTextFileSync("/etc/passwd").split("\n")) {
    const f = line.split(":");
    if (f[2] === String(Deno.uid())) return f[0]!;
  }
  return Deno.env.get("USER") ?? "";
}

test("keep-id: the caller's uid, gid and name inside, files in a bind mount stay the caller's, the image's owners are kept, no layer copied", async () => {
  const store = freshStore();
  try {
    await loadImage(store.env);
    const src = scratch("nook-keepid-");
    Deno.chmodSync(src, 0o755);
    const before = treeBytes(store.data);
    const script = [
      "id -u; id -g; id -un",
      "stat -c %u:%g /bin/busybox /owned4242",
      "touch /src/made && echo made",
      'echo "$HOME"; stat -c %u "$HOME"',
      "stat -c %i /big",
      "sleep 1",
    ].join("; echo ---; ");
    const run = nookT(["run", "--name", "keepid", "--userns=keep-id", "-v", `${src}:/src`, "-w", "/src", "localhost/uns:1", "sh", "-c", script], store.env);
    const r = await run;
    assert.equal(r.code, 0, r.stderr);
    const parts = r.stdout.split("---\n").map((s) => s.trim());
    assert.deepEqual(parts[0]!.split("\n"), [String(Deno.uid()), String(Deno.gid()), userName()], r.stdout);
    assert.deepEqual(parts[1]!.split("\n"), ["0:0", "4242:4343"], "the image's files keep their owners");
    assert.equal(parts[2], "made");
    const st = Deno.statSync(`${src}/made`);
    assert.equal(st.uid, Deno.uid(), "a file made inside belongs to the caller outside");
    assert.equal(st.gid, Deno.gid());
    const [home, homeOwner] = parts[3]!.split("\n");
    assert.ok(home && home !== "/", `a home directory: ${parts[3]}`);
    assert.equal(homeOwner, String(Deno.uid()), "the home directory is the caller's inside");
    const after = treeBytes(store.data);
    // the 1 MiB file lives once in the layer: the container's storage holds no copy of it
    assert.ok(after.bytes - before.bytes < BIG.length / 2, `the store grew by ${after.bytes - before.bytes} bytes`);
    // and the file seen inside is the layer's own inode
    const layerBig = treeFind(`${store.data}`, "big");
    assert.ok(layerBig, "the layer's file is found in the store");
    assert.equal(parts[4], String(Deno.statSync(layerBig).ino), "the container reads the layer's inode, not a copy");
    assert.equal((await nookT(["rm", "keepid"], store.env)).code, 0);
  } finally {
    await store.reset();
  }
}, { skip });

function treeFind(dir: string, name: string): string | undefined {
  const walk = (d: string): string | undefined => {
    let list: Deno.DirEntry[];
    try {
      list = [...Deno.readDirSync(d)];
    } catch {
      return undefined;
    }
    for (const e of list) {
      const p = `${d}/${e.name}`;
      if (e.name === name && e.isFile && d.endsWith("/diff")) return p;
      if (e.isDirectory) {
        const f = walk(p);
        if (f) return f;
      }
    }
    return undefined;
  };
  return walk(dir);
}

test("keep-id:uid=,gid= gives those ids to the caller inside", async () => {
  const store = freshStore();
  try {
    await loadImage(store.env);
    const src = scratch("nook-keepid-");
    Deno.chmodSync(src, 0o755);
    const r = await nookT(["run", "--rm", "--userns=keep-id:uid=1234,gid=2345", "-v", `${src}:/src`, "localhost/uns:1", "sh", "-c", "id -u; id -g; stat -c %u:%g /bin/busybox; touch /src/f"], store.env);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split("\n"), ["1234", "2345", "0:0"]);
    assert.equal(Deno.statSync(`${src}/f`).uid, Deno.uid());
  } finally {
    await store.reset();
  }
}, { skip });

test("--uidmap/--gidmap: HOST ids relative to the caller's own mapping, read from /etc/subuid; the image's owners kept", async () => {
  const sub = subidRange("uid")!;
  const store = freshStore();
  try {
    await loadImage(store.env);
    const maps = ["--uidmap", "0:1:10", "--uidmap", "10:0:1", "--uidmap", "11:11:5000", "--gidmap", "0:0:1", "--gidmap", "1:1:5000"];
    const r = await nookT(["run", "--rm", ...maps, "localhost/uns:1", "sh", "-c", "cat /proc/self/uid_map; stat -c %u:%g /bin/busybox /owned4242"], store.env);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split("\n").map((l) => l.trim().split(/\s+/).join(" "));
    assert.deepEqual(lines, [`0 ${sub.start} 10`, `10 ${Deno.uid()} 1`, `11 ${sub.start + 10} 5000`, "0:0", "4242:4343"]);
  } finally {
    await store.reset();
  }
}, { skip });

test("nomap and maps without the caller: the caller's files show as nobody inside, root's writes land as a subordinate id, the image's owners are kept", async () => {
  const subU = subidRange("uid")!, subG = subidRange("gid")!;
  const overflow = Deno.readTextFileSync("/proc/sys/kernel/overflowuid").trim();
  const store = freshStore();
  try {
    await loadImage(store.env);
    const src = scratch("nook-nomap-");
    Deno.chmodSync(src, 0o777);
    Deno.writeTextFileSync(`${src}/mine`, "the caller's\n");
    const script = "id -u; id -g; stat -c %u:%g /src/mine /bin/busybox /owned4242; touch /src/by-root; echo made > /in-upper; cat /in-upper";
    for (const [flags, label] of [[["--userns=nomap"], "nomap"], [["--uidmap", "0:1:5000", "--gidmap", "0:1:5000"], "--uidmap 0:1:5000"]] as const) {
      const r = await nookT(["run", "--rm", ...flags, "-v", `${src}:/src`, "localhost/uns:1", "sh", "-c", script], store.env);
      assert.equal(r.code, 0, `${label}: ${r.stderr}`);
      assert.deepEqual(r.stdout.trim().split("\n"), ["0", "0", `${overflow}:${overflow}`, "0:0", "4242:4343", "made"], label);
      const made = Deno.statSync(`${src}/by-root`);
      assert.equal(made.uid, subU.start, `${label}: root's file belongs to the first subordinate uid outside`);
      assert.equal(made.gid, subG.start);
      Deno.removeSync(`${src}/by-root`);
    }
    // root inside opens a low port though the network namespace belongs to the namespace above
    const low = await nookT(["run", "--rm", "--userns=nomap", "localhost/uns:1", "sh", "-c", "timeout 1 nc -l -p 80; echo $?"], store.env);
    assert.equal(low.code, 0, low.stderr);
    // 143: nc listened until timeout ended it (a refused bind exits 1 at once)
    assert.equal(low.stdout.trim(), "143", `port 80 is listened on: ${low.stdout}${low.stderr}`);
    // the terminal is root's inside, its group tty (5), as in the other modes
    const tty = await nookT(["run", "--rm", "-t", "--userns=nomap", "localhost/uns:1", "sh", "-c", "stat -c %u:%g $(tty)"], store.env);
    assert.equal(tty.code, 0, tty.stderr);
    assert.equal(tty.stdout.replaceAll("\r", "").trim(), "0:5");
    // the caller's own uid is in no map line the container's processes see
    const maps = await nookT(["run", "--rm", "--userns=nomap", "localhost/uns:1", "cat", "/proc/self/uid_map"], store.env);
    assert.equal(maps.code, 0, maps.stderr);
    assert.deepEqual(maps.stdout.trim().split(/\s+/).map(Number), [0, 1, subU.count], "inside: 0.. are the ids after the caller's own (1 = the first subordinate id)");
    // detached, and nook exec into it: the exec joins the namespace above first, then the container's
    const d = await nookT(["run", "-d", "--name", "nomapd", "--userns=nomap", "-v", `${src}:/src`, "localhost/uns:1", "sleep", "30"], store.env);
    assert.equal(d.code, 0, d.stderr);
    const ex = await nookT(["exec", "nomapd", "sh", "-c", "id -u; stat -c %u /src/mine; touch /src/by-exec"], store.env);
    assert.equal(ex.code, 0, ex.stderr);
    assert.deepEqual(ex.stdout.trim().split("\n"), ["0", overflow]);
    assert.equal(Deno.statSync(`${src}/by-exec`).uid, subU.start);
    assert.equal((await nookT(["rm", "-f", "nomapd"], store.env)).code, 0);
  } finally {
    await store.reset();
  }
}, { skip });

test("--userns=host is refused rootless with what is lost; bad modes and maps are clear errors", async () => {
  const store = freshStore();
  try {
    const host = await nookT(["run", "--rm", "--userns=host", "hello"], store.env);
    assert.equal(host.code, 125, host.stderr);
    assert.match(host.stderr, /--userns=host needs root/);
    const bad = await nookT(["run", "--rm", "--userns=keep-id:uid=x", "hello"], store.env);
    assert.equal(bad.code, 125);
    assert.match(bad.stderr, /Invalid --userns option "uid=x"/);
    const far = await nookT(["run", "--rm", "--uidmap", "0:1:4294967000", "hello"], store.env);
    assert.equal(far.code, 125);
    assert.match(far.stderr, /which your user cannot map/);
  } finally {
    await store.reset();
  }
}, { skip: subidSkip() });

test("--device binds a host node, writable with w, under another name", async () => {
  const store = freshStore();
  try {
    await loadImage(store.env);
    const r = await nookT(["run", "--rm", "--device", "/dev/null:/dev/mynull:rw", "--device", "/dev/zero:/dev/sub/z", "localhost/uns:1", "sh", "-c", "echo hi > /dev/mynull && echo wrote; head -c 4 /dev/sub/z | wc -c; stat -c %t:%T /dev/mynull"], store.env);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split("\n"), ["wrote", "4", "1:3"]);
    const missing = await nookT(["run", "--rm", "--device", "/dev/nonexistent-nook", "hello"], store.env);
    assert.equal(missing.code, 125);
    assert.match(missing.stderr, /Cannot use the device "\/dev\/nonexistent-nook": no such file/);
  } finally {
    await store.reset();
  }
}, { skip: busyboxSkip() ?? subidSkip() });

test("CDI: a device from a spec written here (JSON and YAML) is usable inside, with its env, mount and hook; nook info lists it", async () => {
  const cdiDir = scratch("nook-cdi-");
  const yamlDir = scratch("nook-cdi-");
  const share = scratch("nook-cdi-share-");
  Deno.chmodSync(share, 0o755);
  Deno.writeTextFileSync(`${share}/lib.txt`, "from-cdi\n");
  const hookOut = `${cdiDir}/hook.out`;
  Deno.writeTextFileSync(
    `${cdiDir}/test.json`,
    JSON.stringify({
      cdiVersion: "0.6.0",
      kind: "nook.test/null",
      devices: [{
        name: "one",
        containerEdits: {
          deviceNodes: [{ path: "/dev/nook-null", hostPath: "/dev/null", permissions: "rw" }],
          env: ["NOOK_CDI=one"],
        },
      }],
      containerEdits: {
        mounts: [{ hostPath: share, containerPath: "/opt/cdi", options: ["ro", "bind"] }],
        hooks: [{ hookName: "createRuntime", path: "/bin/sh", args: ["sh", "-c", `cat > ${hookOut}`] }],
      },
    }),
  );
  Deno.writeTextFileSync(
    `${yamlDir}/zero.yaml`,
    "cdiVersion: 0.6.0\nkind: nook.test/zero\ndevices:\n  - name: z\n    containerEdits:\n      deviceNodes:\n        - path: /dev/nook-zero\n          hostPath: /dev/zero\n",
  );
  const store = freshStore({ NOOK_CDI_DIRS: `${cdiDir}:${yamlDir}` });
  try {
    await loadImage(store.env);
    const r = await nookT([
      "run", "--rm", "--device", "nook.test/null=one", "--device", "nook.test/zero=z", "localhost/uns:1", "sh", "-c",
      "echo x > /dev/nook-null && echo wrote; head -c 3 /dev/nook-zero | wc -c; echo $NOOK_CDI; cat /opt/cdi/lib.txt; touch /opt/cdi/x 2>/dev/null || echo ro",
    ], store.env);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split("\n"), ["wrote", "3", "one", "from-cdi", "ro"]);
    const state = JSON.parse(Deno.readTextFileSync(hookOut));
    assert.ok(state.pid > 0 && /^[0-9a-f]{64}$/.test(state.id), "the hook got the container's state");
    const info = await nookT(["info", "--format", "json"], store.env);
    assert.equal(info.code, 0, info.stderr);
    assert.deepEqual(JSON.parse(info.stdout).cdi.devices, ["nook.test/null=one", "nook.test/zero=z"]);
    const unknown = await nookT(["run", "--rm", "--device", "nook.test/null=two", "localhost/uns:1", "true"], store.env);
    assert.equal(unknown.code, 125);
    assert.match(unknown.stderr, /Unknown CDI device "nook.test\/null=two"/);
    assert.match(unknown.stderr, /known: nook.test\/null=one, nook.test\/zero=z/);
    // a bad spec: the error names the file and the field
    Deno.writeTextFileSync(`${yamlDir}/bad.json`, JSON.stringify({ cdiVersion: "0.6.0", kind: "nook.test/bad", devices: [{ name: "b", containerEdits: { deviceNodes: [{ path: "dev/rel" }] } }] }));
    const bad = await nookT(["run", "--rm", "--device", "nook.test/null=one", "localhost/uns:1", "true"], store.env);
    assert.equal(bad.code, 125);
    assert.match(bad.stderr, new RegExp(`The CDI spec "${yamlDir}/bad.json" is invalid: "devices\\[0\\]\\.containerEdits\\.deviceNodes\\[0\\]\\.path" is missing or not absolute`));
  } finally {
    await store.reset();
  }
}, { skip: busyboxSkip() ?? subidSkip() });

function supplementaryGroups(): number[] {
  const status = Deno.readTextFileSync("/proc/self/status");
  const groups = (/^Groups:\s*(.*)$/m.exec(status)?.[1] ?? "").trim().split(/\s+/).filter(Boolean).map(Number);
  return groups.filter((g) => g !== Deno.gid());
}

test("--group-add keep-groups: the caller's supplementary groups stay (devices of video/render/audio open)", async () => {
  const store = freshStore();
  try {
    await loadImage(store.env);
    const r = await nookT(["run", "--rm", "--userns=keep-id", "--group-add", "keep-groups", "localhost/uns:1", "sh", "-c", "grep ^Groups: /proc/self/status"], store.env);
    assert.equal(r.code, 0, r.stderr);
    const inside = r.stdout.replace("Groups:", "").trim().split(/\s+/).filter(Boolean).map(Number);
    // each of the caller's groups is there: mapped ones by their id, the others as the overflow gid
    const overflow = Number(Deno.readTextFileSync("/proc/sys/kernel/overflowgid").trim());
    const expect = [Deno.gid()!, ...supplementaryGroups().map(() => overflow)].sort((a, b) => a - b);
    assert.deepEqual(inside.sort((a, b) => a - b), expect);
    const both = await nookT(["run", "--rm", "--group-add", "keep-groups", "--group-add", "10", "localhost/uns:1", "true"], store.env);
    assert.equal(both.code, 125);
    assert.match(both.stderr, /keep-groups cannot be combined/);
  } finally {
    await store.reset();
  }
}, { skip: skip ?? (supplementaryGroups().length ? undefined : "the test user has no supplementary group to keep") });

test("auto: two concurrent containers get disjoint slices of the subordinate range, recorded in the store", async () => {
  const sub = subidRange("uid")!;
  const store = freshStore();
  const rootfs = busyboxRootfs();
  try {
    await loadImage(store.env);
    const run = (name: string) =>
      nookT(["run", "--name", name, "--userns=auto:size=5000", "--rootfs", rootfs, "sh", "-c", "cat /proc/self/uid_map; sleep 1"], store.env);
    const [a, b] = await Promise.all([run("auto-a"), run("auto-b")]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    const slice = (out: string) => {
      const maps = out.trim().split("\n").map((l) => l.trim().split(/\s+/).map(Number));
      assert.deepEqual(maps[0], [0, Deno.uid(), 1], "root inside stays the caller");
      const [inside, outside, count] = maps[1]!;
      assert.equal(inside, 1);
      assert.equal(count, 4999);
      assert.ok(outside! >= sub.start && outside! + count! <= sub.start + sub.count, `inside the subordinate range: ${out}`);
      return [outside!, outside! + count!] as const;
    };
    const [sa, sb] = [slice(a.stdout), slice(b.stdout)];
    assert.ok(sa[1] <= sb[0] || sb[1] <= sa[0], `disjoint: ${sa} and ${sb}`);
    // removed containers give their slices back
    assert.equal((await nookT(["rm", "auto-a", "auto-b"], store.env)).code, 0);
    const c = await nookT(["run", "--rm", "--userns=auto:size=65000", "--rootfs", rootfs, "true"], store.env);
    assert.equal(c.code, 0, c.stderr);
    const full = await Promise.all([0, 1].map((i) => nookT(["run", "--name", `full${i}`, "--userns=auto:size=40000", "--rootfs", rootfs, "true"], store.env)));
    assert.equal(full.filter((r) => r.code === 0).length, 1, "only one of two 40000-id slices fits");
    assert.match(full.find((r) => r.code !== 0)!.stderr, /No free 40000 ids are left/);
    // an image of the store in a slice elsewhere in the range (after the 40000 ids one container
    // holds): its owners are kept, and a user's writes land in the slice
    const src = scratch("nook-auto-");
    Deno.chmodSync(src, 0o777);
    const img = await nookT(["run", "--rm", "--userns=auto:size=8000", "--user", "4242", "-v", `${src}:/src`, "localhost/uns:1", "sh", "-c", "id -u; stat -c %u:%g /bin/busybox /owned4242; touch /src/by4242"], store.env);
    assert.equal(img.code, 0, img.stderr);
    assert.deepEqual(img.stdout.trim().split("\n"), ["4242", "0:0", "4242:4343"]);
    const owner = Deno.statSync(`${src}/by4242`).uid!;
    assert.ok(owner > sub.start + 4241 + 30000 && owner < sub.start + sub.count, `uid ${owner} is in a slice after the held one`);
  } finally {
    await store.reset();
  }
}, { skip });

/**
 * What the kernel says when this user loads a cgroup device program (BPF_PROG_TYPE_CGROUP_DEVICE,
 * "r0 = 1; exit"): the errno name, or "ok" when it loads (a privileged user).
 */
function loadCgroupDeviceProgram(): string {
  const libc = Deno.dlopen("libc.so.6", {
    syscall: { parameters: ["i64", "i64", "pointer", "i64"], result: "i64" },
    __errno_location: { parameters: [], result: "pointer" },
  });
  try {
    // two instructions: BPF_MOV64_IMM(r0, 1), BPF_EXIT
    const insns = new Uint8Array([0xb7, 0, 0, 0, 1, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);
    const license = new TextEncoder().encode("GPL\0");
    const attr = new ArrayBuffer(128);
    const v = new DataView(attr);
    v.setUint32(0, 15, true); // prog_type: BPF_PROG_TYPE_CGROUP_DEVICE
    v.setUint32(4, 2, true); // insn_cnt
    v.setBigUint64(8, BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(insns))), true);
    v.setBigUint64(16, BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(license))), true);
    const fd = libc.symbols.syscall(321n /* SYS_bpf */, 5n /* BPF_PROG_LOAD */, Deno.UnsafePointer.of(attr), 128n);
    if (fd >= 0n) return "ok";
    const errno = new Deno.UnsafePointerView(libc.symbols.__errno_location()!).getInt32();
    return ({ 1: "EPERM", 13: "EACCES", 22: "EINVAL", 38: "ENOSYS" } as Record<number, string>)[errno] ?? `errno ${errno}`;
  } finally {
    libc.close();
  }
}

test("--device-cgroup-rule is refused rootless with the reason (the kernel refuses this user the device program); --device says once that it has no rule", async () => {
  const store = freshStore();
  try {
    const verdict = Deno.build.arch === "x86_64" ? loadCgroupDeviceProgram() : "not probed";
    const r = await nookT(["run", "--rm", "--device-cgroup-rule", "c 1:3 rwm", "hello"], store.env);
    assert.equal(r.code, 125, r.stderr);
    if (Deno.uid() !== 0) {
      // the reason nook gives is the kernel's: this user cannot load the program cgroup v2 uses
      if (verdict !== "not probed") assert.equal(verdict, "EPERM", "the kernel loads no cgroup device program for this user");
      assert.match(r.stderr, /Device cgroup rules cannot be applied to a rootless container \("c 1:3 rwm"\)/);
      assert.match(r.stderr, /eBPF program/);
    }
    assert.equal(r.stdout, "");
    const bad = await nookT(["run", "--rm", "--device-cgroup-rule", "x 1:3 rwm", "hello"], store.env);
    assert.equal(bad.code, 125);
    assert.match(bad.stderr, /Invalid --device-cgroup-rule "x 1:3 rwm"/);
    // nothing was made for the refused container
    assert.equal((await nookT(["ps", "-aq"], store.env)).stdout.trim(), "");
    // --device works, and says once that no device rule comes with it
    const notes: string[] = [];
    for (let i = 0; i < 2; i++) {
      const d = await nookT(["run", "--rm", "--device", "/dev/null:/dev/n2", "hello"], store.env);
      assert.equal(d.code, 0, d.stderr);
      notes.push(d.stderr);
    }
    assert.match(notes[0]!, /no device cgroup rule/);
    assert.doesNotMatch(notes[1]!, /no device cgroup rule/);
  } finally {
    await store.reset();
  }
}, { skip: subidSkip() });

function shiftedCopies(data: string): string[] {
  try {
    return [...Deno.readDirSync(`${data}/shifted`)].map((e) => e.name).sort();
  } catch {
    return [];
  }
}

test("without fuse-overlayfs' id mapping (NOOK_ID_SHIFT=copy): keep-id and nomap run on a copy shifted once per mapping, made as a transaction, removed with its image", async () => {
  const store = freshStore({ NOOK_ID_SHIFT: "copy" });
  try {
    await loadImage(store.env);
    const src = scratch("nook-shift-");
    Deno.chmodSync(src, 0o777);
    const keep = ["--userns=keep-id", "-v", `${src}:/src`, "localhost/uns:1", "sh", "-c", "id -u; stat -c %u:%g /bin/busybox /owned4242; touch /src/k; echo x > /upper-file && cat /upper-file"];
    // a nook killed while copying leaves only a partial, which the next run removes
    const crashed = await nookT(["run", "--rm", ...keep], { ...store.env, NOOK_CRASH_AT: "shift.copy" });
    assert.notEqual(crashed.code, 0);
    assert.equal(shiftedCopies(store.data).length, 1);
    assert.match(shiftedCopies(store.data)[0]!, /\.partial-/, "only a partial is left");
    const first = await nookT(["run", "--rm", ...keep], store.env);
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(first.stdout.trim().split("\n"), [String(Deno.uid()), "0:0", "4242:4343", "x"]);
    assert.match(first.stderr, /fuse-overlayfs cannot show the image's files with other owners here \(NOOK_ID_SHIFT=copy asks for it\)/);
    assert.equal(Deno.statSync(`${src}/k`).uid, Deno.uid(), "a file made inside belongs to the caller outside");
    const copies = shiftedCopies(store.data);
    assert.equal(copies.length, 1, `one finished copy, the partial gone: ${copies}`);
    assert.match(copies[0]!, /^[0-9a-f]{32}$/);
    const made = Deno.statSync(`${store.data}/shifted/${copies[0]}/tree/big`);
    // the same mapping again: the copy is shared, not made again
    const second = await nookT(["run", "--rm", ...keep], store.env);
    assert.equal(second.code, 0, second.stderr);
    assert.doesNotMatch(second.stderr, /copying/);
    assert.equal(Deno.statSync(`${store.data}/shifted/${copies[0]}/tree/big`).ino, made.ino, "the same copy serves the second run");
    // another mapping gets its own copy; it sees the image's owners too
    const nomap = await nookT(["run", "--rm", "--userns=nomap", "-v", `${src}:/src`, "localhost/uns:1", "sh", "-c", "id -u; stat -c %u:%g /bin/busybox /owned4242 /src/k; touch /src/n"], store.env);
    assert.equal(nomap.code, 0, nomap.stderr);
    const overflow = Deno.readTextFileSync("/proc/sys/kernel/overflowuid").trim();
    assert.deepEqual(nomap.stdout.trim().split("\n"), ["0", "0:0", "4242:4343", `${overflow}:${overflow}`]);
    assert.equal(Deno.statSync(`${src}/n`).uid, subidRange("uid")!.start);
    assert.equal(shiftedCopies(store.data).length, 2);
    // removing the image removes its copies
    assert.equal((await nookT(["rmi", "localhost/uns:1"], store.env)).code, 0);
    assert.deepEqual(shiftedCopies(store.data), []);
  } finally {
    await store.reset();
  }
}, { skip: busyboxSkip() ?? subidSkip() });

test("CDI hooks run at every start: run -d, the monitor's restarts, nook start, and a created container's start", async () => {
  const cdiDir = scratch("nook-cdi-");
  const out = `${cdiDir}/hook.log`;
  Deno.writeTextFileSync(
    `${cdiDir}/hook.json`,
    JSON.stringify({
      cdiVersion: "0.6.0",
      kind: "nook.test/hooked",
      devices: [{ name: "h", containerEdits: { deviceNodes: [{ path: "/dev/nook-h", hostPath: "/dev/null" }] } }],
      containerEdits: { hooks: [{ hookName: "createRuntime", path: "/bin/sh", args: ["sh", "-c", `cat >> ${out}; echo >> ${out}; echo "$HOOK_ENV" >> ${out}`], env: ["HOOK_ENV=kept"] }] },
    }),
  );
  const store = freshStore({ NOOK_CDI_DIRS: cdiDir });
  const lines = () => {
    try {
      return Deno.readTextFileSync(out).trim().split("\n").filter(Boolean);
    } catch {
      return [];
    }
  };
  const until = async (n: number) => {
    for (let i = 0; i < 300 && lines().length < 2 * n; i++) await new Promise((r) => setTimeout(r, 100));
    return lines();
  };
  try {
    await loadImage(store.env);
    // exits 1 at once: the monitor restarts it twice (on-failure:2)
    const r = await nookT(["run", "-d", "--name", "hooked", "--restart", "on-failure:2", "--device", "nook.test/hooked=h", "localhost/uns:1", "sh", "-c", "test -c /dev/nook-h && exit 1"], store.env);
    assert.equal(r.code, 0, r.stderr);
    const id = r.stdout.trim();
    const three = await until(3);
    assert.equal(three.length, 6, `the first start and two restarts each ran the hook: ${three.join(" | ")}`);
    const states = three.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
    assert.deepEqual(states.map((s) => s.id), [id, id, id]);
    assert.equal(new Set(states.map((s) => s.pid)).size, 3, "each start's own pid");
    assert.ok(states.every((s) => s.pid > 0 && s.status === "creating"));
    assert.deepEqual(three.filter((l) => !l.startsWith("{")), ["kept", "kept", "kept"], "the hook's own environment");
    // ended: nook start runs it once more
    for (let i = 0; i < 100; i++) {
      const st = await nookT(["inspect", "--format", "{{.State.Status}}", "hooked"], store.env);
      if (st.stdout.trim() === "exited") break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const s = await nookT(["start", "hooked"], store.env);
    assert.equal(s.code, 0, s.stderr);
    assert.equal((await until(4)).length, 8, "nook start ran the hook");
    await nookT(["rm", "-f", "hooked"], store.env);
    // a created container: its hook runs when it is started
    const c = await nookT(["create", "--name", "hooked2", "--device", "nook.test/hooked=h", "localhost/uns:1", "test", "-c", "/dev/nook-h"], store.env);
    assert.equal(c.code, 0, c.stderr);
    assert.equal(lines().length, 8, "nothing runs at create");
    const started = await nookT(["start", "-a", "hooked2"], store.env);
    assert.equal(started.code, 0, started.stderr);
    assert.equal(lines().length, 10, "nook start -a of a created container ran the hook");
    await nookT(["rm", "-f", "hooked2"], store.env);
  } finally {
    await store.reset();
  }
}, { skip: busyboxSkip() ?? subidSkip() });
