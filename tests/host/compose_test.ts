/**
 * `nook up`/`down`/`compose ps` with real containers: a server and a client that calls it by
 * its service name on the project's network (an image imported from a busybox root into a fresh
 * store); `down` leaves no container, process, network, namespace holder or project record.
 * Also the file's checks: an invalid file names its line, an unknown key warns once.
 */
import { assert, busyboxRootfs, busyboxSkip, nook, scratch, sh, test, waitFor } from "../_helpers.ts";
import { alive, freshStore, storeProcesses, withStore } from "../_lifecycle.ts";

type Store = ReturnType<typeof freshStore>;

const skip = busyboxSkip();

const COMPOSE = `
name: demo
services:
  client:
    image: bbtest
    command: ["sh", "-c", "for i in $$(seq 600); do wget -qO- http://server:8080/ && wget -qO- http://web:8080/ && exit 0; sleep 0.05; done; exit 7"]
    depends_on:
      server:
        condition: service_started
  server:
    image: bbtest
    command: httpd -f -p 8080 -h /www
    working_dir: /
    environment:
      GREETING: \${GREETING:-unset}
    volumes:
      - ./www:/www:ro
      - data:/data
    networks:
      back:
        aliases: [web]
    stop_grace_period: 5s
    x-custom: 1
    x-nook-network-rate: 16mbit
networks:
  back: {}
volumes:
  data: {}
`;

test(
  "nook up starts a server and a client that reaches it by service name and alias; down removes all of it",
  () =>
    withStore(async (s) => {
      const dir = scratch("nook-compose-");
      const tar = `${dir}/bb.tar`;
      const root = busyboxRootfs(true);
      const t = await sh("tar", ["--owner=0", "--group=0", "--numeric-owner", "-C", root, "-cf", tar, "."]);
      Deno.removeSync(root, { recursive: true });
      assert.equal(t.code, 0, t.stderr);
      const imp = await s.run(["import", tar, "bbtest"]);
      assert.equal(imp.code, 0, imp.stderr);
      Deno.mkdirSync(`${dir}/www`);
      Deno.writeTextFileSync(`${dir}/www/index.html`, "served\n");
      Deno.writeTextFileSync(`${dir}/.env`, "GREETING=from-dotenv\n");
      // the client joins the server's network (a container is on one network here)
      Deno.writeTextFileSync(
        `${dir}/compose.yaml`,
        COMPOSE.replace("    depends_on:", "    networks: [back]\n    depends_on:"),
      );

      const up = await s.run(["up", "-d", "-f", `${dir}/compose.yaml`]);
      assert.equal(up.code, 0, up.stderr);
      assert.equal(
        up.stderr.match(/the key "stop_grace_period" is not supported by nook and is ignored/g)?.length,
        1,
        up.stderr,
      );
      assert.match(up.stderr, /compose\.yaml:\d+: the key "stop_grace_period"/);
      await waitFor("the client to finish", async () => {
        const ps = await s.run(["compose", "ps", "-p", "demo"]);
        return /demo-client-1\s+client\s+exited/.test(ps.stdout);
      }, 20_000);
      const ps = await s.run(["compose", "ps", "-f", `${dir}/compose.yaml`]);
      assert.match(ps.stdout, /demo-server-1\s+server\s+running/);
      const logs = await s.run(["logs", "demo-client-1"]);
      assert.equal(logs.stdout, "served\nserved\n", logs.stderr);
      const env = await s.run(["exec", "demo-server-1", "sh", "-c", "echo $GREETING; ls -d /data"]);
      assert.equal(env.stdout, "from-dotenv\n/data\n", env.stderr);
      // x-nook-network-rate is --network-rate: a tbf root qdisc on the service's interface
      const qdisc = await s.run(["exec", "demo-server-1", "tc", "qdisc", "show", "dev", "eth0"]);
      assert.match(qdisc.stdout, /qdisc tbf \S+ root/, qdisc.stdout + qdisc.stderr);
      // busybox tc prints no rate: the host's tc in the container's namespace does
      const shared = JSON.parse(Deno.readTextFileSync(`${s.dataDir}/networks/holder.json`)).pid as number;
      const srvPid = JSON.parse((await s.run(["inspect", "demo-server-1"])).stdout)[0].State.Pid as number;
      const host = await sh("nsenter", [`--user=/proc/${shared}/ns/user`, `--net=/proc/${srvPid}/ns/net`, "tc", "qdisc", "show", "dev", "eth0"]);
      assert.match(host.stdout, /qdisc tbf \S+ root .*rate 16Mbit/, host.stdout + host.stderr);
      const holder = JSON.parse(Deno.readTextFileSync(`${s.dataDir}/networks/holder.json`)).pid as number;
      assert.equal((await s.run(["network", "ls", "-q"])).stdout, "demo_back\n");
      assert.equal((await s.run(["volume", "ls", "-q"])).stdout, "demo_data\n");

      const down = await s.run(["down", "-v", "-p", "demo"]);
      assert.equal(down.code, 0, down.stderr);
      assert.equal((await s.run(["ps", "-a", "-q"])).stdout, "", "no container is left");
      assert.equal((await s.run(["network", "ls", "-q"])).stdout, "", "no network is left");
      assert.equal((await s.run(["volume", "ls", "-q"])).stdout, "", "down -v removed the project's volume");
      for (let i = 0; i < 50 && alive(holder); i++) await new Promise((r) => setTimeout(r, 20));
      assert.ok(!alive(holder), "the namespace holder ended (its bridge and veths with its namespace)");
      assert.deepEqual(storeProcesses(s.dataDir), [], "no process of the store is left");
      assert.deepEqual([...Deno.readDirSync(`${s.dataDir}/compose`)], [], "no project record is left");
      assert.deepEqual(
        [...Deno.readDirSync(`${s.dataDir}/networks`)].map((e) => e.name),
        ["lock"],
        "only the (unheld) lock file of the networks stays",
      );
      const again = await s.run(["down", "-p", "demo"]);
      assert.equal(again.code, 0);
      assert.match(again.stderr, /the project "demo" is not up/);
    }),
  { skip },
);

test(
  "an invalid compose file gets its line and what is wrong; a cycle and an unknown dependency are named",
  () =>
    withStore(async (s) => {
      const dir = scratch("nook-compose-");
      const cases: [string, RegExp][] = [
        ["services:\n  a:\n    image: x\n    ports: 80\n", /compose\.yaml:4: services\.a\.ports must be a list/],
        ["services:\n  a:\n    image: [x\n", /compose\.yaml:\d+: Flow sequence/],
        [
          "services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    depends_on: [a]\n",
          /makes a cycle: a → b → a/,
        ],
        [
          "services:\n  a:\n    image: x\n    depends_on: [nope]\n",
          /names the service "nope", which the file does not have/,
        ],
        ["services:\n  a:\n    image: ${IMG:?set IMG}\n", /compose\.yaml:3: .*the variable "IMG" is required: set IMG/],
        [
          "services:\n  a:\n    image: x\n    networks: [nope]\n",
          /compose\.yaml:4: .*the network "nope", which the top-level networks do not declare/,
        ],
      ];
      for (const [text, want] of cases) {
        Deno.writeTextFileSync(`${dir}/compose.yaml`, text);
        const r = await s.run(["up", "-d", "-f", `${dir}/compose.yaml`]);
        assert.equal(r.code, 125, `${text}: ${r.stderr}`);
        assert.match(r.stderr, want);
      }
      assert.equal((await s.run(["network", "ls", "-q"])).stdout, "", "nothing was made");
    }),
  { skip },
);

test(
  "an up killed after its first service is cleaned by the next down; a network create killed halfway is rolled back",
  () =>
    withStore(async (s) => {
      const dir = scratch("nook-compose-");
      const tar = `${dir}/bb.tar`;
      const root = busyboxRootfs(true);
      assert.equal(
        (await sh("tar", ["--owner=0", "--group=0", "--numeric-owner", "-C", root, "-cf", tar, "."])).code,
        0,
      );
      Deno.removeSync(root, { recursive: true });
      assert.equal((await s.run(["import", tar, "bbtest"])).code, 0);
      Deno.writeTextFileSync(
        `${dir}/compose.yaml`,
        "services:\n  a:\n    image: bbtest\n    command: sleep 100\n  b:\n    image: bbtest\n    command: sleep 100\n    depends_on: [a]\n",
      );
      const crashEnv = { ...s.env, NOOK_CRASH_AT: "up.service", NOOK_TEST_CI: "1" };
      const killed = await nook(["up", "-d", "-p", "half", "-f", `${dir}/compose.yaml`], { env: crashEnv });
      assert.notEqual(killed.code, 0, "up was killed");
      assert.match((await s.run(["ps", "-q"])).stdout, /^[0-9a-f]{12}\n$/, "one service runs");
      const holder = JSON.parse(Deno.readTextFileSync(`${s.dataDir}/networks/holder.json`)).pid as number;
      const down = await s.run(["down", "-p", "half"]);
      assert.equal(down.code, 0, down.stderr);
      assert.equal((await s.run(["ps", "-a", "-q"])).stdout, "");
      assert.equal((await s.run(["network", "ls", "-q"])).stdout, "");
      for (let i = 0; i < 50 && alive(holder); i++) await new Promise((r) => setTimeout(r, 20));
      assert.ok(!alive(holder));
      assert.deepEqual(storeProcesses(s.dataDir), []);

      const half = await nook(["network", "create", "torn"], {
        env: { ...s.env, NOOK_CRASH_AT: "network.create", NOOK_TEST_CI: "1" },
      });
      assert.notEqual(half.code, 0);
      assert.equal(
        (await s.run(["network", "ls", "-q"])).stdout,
        "",
        "the next command rolled the half-made network back",
      );
      assert.equal((await s.run(["network", "create", "torn"])).code, 0, "and the name is free again");
      assert.equal((await s.run(["network", "rm", "torn"])).code, 0);
    }),
  { skip },
);

/** The busybox image `bbtest` in the store, from a fresh busybox root. */
async function importBusybox(s: Store, dir: string): Promise<void> {
  const tar = `${dir}/bb.tar`;
  const root = busyboxRootfs(true);
  const t = await sh("tar", ["--owner=0", "--group=0", "--numeric-owner", "-C", root, "-cf", tar, "."]);
  Deno.removeSync(root, { recursive: true });
  assert.equal(t.code, 0, t.stderr);
  const imp = await s.run(["import", "-q", tar, "bbtest"]);
  assert.equal(imp.code, 0, imp.stderr);
}

/** Every path under a directory, relative to it. */
function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(d)];
    } catch {
      return;
    }
    for (const e of entries) {
      out.push(`${rel}${e.name}`);
      if (e.isDirectory) walk(`${d}/${e.name}`, `${rel}${e.name}/`);
    }
  };
  walk(dir, "");
  return out.sort();
}

const PROOF = `
name: proof
services:
  client:
    image: bbtest
    # no retry loop: the server answers at once because up waited until it was healthy
    command: ["sh", "-c", "wget -qO- http://server:8080/ && echo client-done"]
    depends_on:
      server:
        condition: service_healthy
      setup:
        condition: service_completed_successfully
  setup:
    image: bbtest
    command: ["sh", "-c", "echo setup-ran"]
  server:
    build: ./srv
    command: sh -c 'sleep 1; exec httpd -f -p 8080 -h /www'
    healthcheck:
      test: ["CMD-SHELL", "wget -qO- http://localhost:8080/ >/dev/null"]
      interval: 300ms
      timeout: 5s
      start_period: 30s
      retries: 30
  debug:
    image: bbtest
    profiles: [debug]
    command: sleep 300
`;

test(
  "up builds the server, waits until it is healthy and the setup completed, then the client reaches it by name; down leaves nothing",
  () =>
    withStore(async (s) => {
      const dir = scratch("nook-compose-");
      await importBusybox(s, dir);
      Deno.mkdirSync(`${dir}/srv`);
      Deno.writeTextFileSync(`${dir}/srv/index.html`, "served\n");
      Deno.writeTextFileSync(`${dir}/srv/Containerfile`, "FROM bbtest\nCOPY index.html /www/index.html\n");
      Deno.writeTextFileSync(`${dir}/compose.yaml`, PROOF);
      const runDir = `${s.env.XDG_RUNTIME_DIR}/nook`;
      const runBefore = tree(runDir);

      const up = await s.run(["up", "-d", "-f", `${dir}/compose.yaml`]);
      assert.equal(up.code, 0, up.stderr);
      assert.doesNotMatch(up.stderr, /Warning/);
      await waitFor("the client to finish", async () => {
        const ps = await s.run(["compose", "ps", "-p", "proof"]);
        return /proof-client-1\s+client\s+exited/.test(ps.stdout);
      }, 30_000);
      const ps = (await s.run(["compose", "ps", "-p", "proof"])).stdout;
      assert.match(ps, /proof-server-1\s+server\s+running/);
      assert.match(ps, /proof-setup-1\s+setup\s+exited/);
      assert.doesNotMatch(ps, /debug/, "a service of a profile that was not asked for is not started");

      const doc = async (name: string) => JSON.parse((await s.run(["inspect", name])).stdout)[0];
      const client = await doc("proof-client-1");
      assert.equal(client.State.ExitCode, 0);
      const server = await doc("proof-server-1");
      assert.equal(server.State.Health.Status, "healthy");
      const firstHealthy = server.State.Health.Log.find((r: { ExitCode: number }) => r.ExitCode === 0);
      assert.ok(firstHealthy, "a passing check is in the server's log");
      assert.ok(
        Date.parse(client.State.StartedAt) >= Date.parse(firstHealthy.End) - 1,
        `the client started (${client.State.StartedAt}) after the server's first passing check (${firstHealthy.End})`,
      );
      const setup = await doc("proof-setup-1");
      assert.ok(Date.parse(client.State.StartedAt) >= Date.parse(setup.State.FinishedAt));

      const logs = await s.run(["compose", "logs", "-p", "proof", "client"]);
      assert.equal(logs.code, 0, logs.stderr);
      assert.equal(logs.stdout, "proof-client-1 | served\nproof-client-1 | client-done\n");
      const all = await s.run(["compose", "logs", "-f", `${dir}/compose.yaml`]);
      assert.match(all.stdout, /^proof-setup-1 {2}\| setup-ran$/m);
      const ex = await s.run(["compose", "exec", "-p", "proof", "-e", "X=from-exec", "server", "sh", "-c", "cat /www/index.html; echo $X"]);
      assert.equal(ex.code, 0, ex.stderr);
      assert.equal(ex.stdout, "served\nfrom-exec\n", "the built image runs, and exec's options pass through");
      const noSvc = await s.run(["compose", "exec", "-p", "proof", "nope", "true"]);
      assert.equal(noSvc.code, 125);
      assert.match(noSvc.stderr, /has no service "nope"/);
      const holder = JSON.parse(Deno.readTextFileSync(`${s.dataDir}/networks/holder.json`)).pid as number;

      const down = await s.run(["down", "-v", "-p", "proof"]);
      assert.equal(down.code, 0, down.stderr);
      assert.equal((await s.run(["ps", "-a", "-q"])).stdout, "", "no container is left");
      assert.equal((await s.run(["network", "ls", "-q"])).stdout, "", "no network is left");
      for (let i = 0; i < 50 && alive(holder); i++) await new Promise((r) => setTimeout(r, 20));
      assert.ok(!alive(holder), "the namespace holder ended");
      assert.deepEqual(storeProcesses(s.dataDir), [], "no process of the store is left");
      assert.deepEqual(tree(`${s.dataDir}/containers`), ["names"], "no container record or file is left (the names index is empty)");
      assert.deepEqual(tree(`${s.dataDir}/compose`), [], "no project record is left");
      assert.deepEqual(tree(`${s.dataDir}/networks`), ["lock"], "only the (unheld) lock file of the networks stays");
      assert.deepEqual(tree(runDir), runBefore, "no runtime file or lock is left");
      const mounts = Deno.readTextFileSync("/proc/self/mountinfo").split("\n").filter((l) => l.includes(s.dataDir));
      assert.deepEqual(mounts, [], "no mount of the store is left");
    }),
  { skip },
);

test(
  "an up killed after its first service is finished by the next up, and --profile starts the profile's service",
  () =>
    withStore(async (s) => {
      const dir = scratch("nook-compose-");
      await importBusybox(s, dir);
      Deno.writeTextFileSync(
        `${dir}/compose.yaml`,
        "services:\n  a:\n    image: bbtest\n    command: sleep 300\n  b:\n    image: bbtest\n    command: sleep 300\n    depends_on: [a]\n" +
          "  extra:\n    image: bbtest\n    command: sleep 300\n    profiles: [more]\n",
      );
      const crashEnv = { ...s.env, NOOK_CRASH_AT: "up.service", NOOK_TEST_CI: "1" };
      const killed = await nook(["up", "-d", "-p", "half", "-f", `${dir}/compose.yaml`], { env: crashEnv });
      assert.notEqual(killed.code, 0, "up was killed");
      assert.match((await s.run(["ps", "-q"])).stdout, /^[0-9a-f]{12}\n$/, "one service runs");
      const again = await s.run(["up", "-d", "-p", "half", "--profile", "more", "-f", `${dir}/compose.yaml`]);
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stderr, /half-a-1 is running/);
      const names = (await s.run(["ps", "-a", "--format", "{{.Names}} {{.State}}"])).stdout.split("\n").filter(Boolean).sort();
      assert.deepEqual(names, ["half-a-1 running", "half-b-1 running", "half-extra-1 running"]);
      const down = await s.run(["down", "-p", "half"]);
      assert.equal(down.code, 0, down.stderr);
      assert.equal((await s.run(["ps", "-a", "-q"])).stdout, "");
      assert.deepEqual(storeProcesses(s.dataDir), []);
      assert.deepEqual(tree(`${s.dataDir}/containers`), ["names"]);
    }),
  { skip },
);

test(
  "compose checks healthcheck, depends_on conditions and profiles, naming the line",
  () =>
    withStore(async (s) => {
      const dir = scratch("nook-compose-");
      const cases: [string, RegExp][] = [
        [
          "services:\n  a:\n    image: x\n    healthcheck:\n      test: echo ok\n      interval: soon\n",
          /compose\.yaml:6: services\.a\.healthcheck\.interval "soon" is not a duration/,
        ],
        [
          "services:\n  a:\n    image: x\n    healthcheck:\n      test: [\"FOO\", \"x\"]\n",
          /compose\.yaml:5: services\.a\.healthcheck\.test must be a command, or a list starting with CMD/,
        ],
        [
          "services:\n  a:\n    image: x\n    depends_on:\n      b:\n        condition: service_happy\n  b:\n    image: x\n",
          /compose\.yaml:6: .*"service_happy" is not a condition/,
        ],
        [
          "services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    profiles: [dev]\n",
          /names the service "b", whose profiles \(dev\) are not enabled: add --profile dev/,
        ],
        ["services:\n  a:\n    user: x\n", /services\.a has neither an image nor a build/],
      ];
      for (const [text, want] of cases) {
        Deno.writeTextFileSync(`${dir}/compose.yaml`, text);
        const r = await s.run(["up", "-d", "-f", `${dir}/compose.yaml`]);
        assert.equal(r.code, 125, `${text}: ${r.stderr}`);
        assert.match(r.stderr, want);
      }
      assert.equal((await s.run(["network", "ls", "-q"])).stdout, "", "nothing was made");
    }),
  { skip },
);

test(
  "up stops at a dependency that turns unhealthy or exits non-zero, saying which, and down still removes what it made",
  () =>
    withStore(async (s) => {
      const dir = scratch("nook-compose-");
      await importBusybox(s, dir);
      const file = (cond: string, dep: string) =>
        `services:\n  web:\n    image: bbtest\n    command: sleep 300\n    depends_on:\n      dep:\n        condition: ${cond}\n` +
        `  dep:\n    image: bbtest\n${dep}`;
      const cases: [string, string, RegExp][] = [
        [
          "service_healthy",
          "    command: sleep 300\n    healthcheck:\n      test: echo sick; exit 1\n      interval: 200ms\n      retries: 2\n",
          /The service "dep" is unhealthy: "web" waits for it to be healthy/,
        ],
        ["service_healthy", "    command: sleep 300\n", /"dep" has no healthcheck/],
        ["service_completed_successfully", "    command: sh -c 'exit 4'\n", /The service "dep" exited with 4/],
      ];
      for (const [cond, dep, want] of cases) {
        Deno.writeTextFileSync(`${dir}/compose.yaml`, file(cond, dep));
        const up = await s.run(["up", "-d", "-p", "deps", "-f", `${dir}/compose.yaml`]);
        assert.equal(up.code, 125, up.stderr);
        assert.match(up.stderr, want);
        assert.doesNotMatch((await s.run(["ps", "-a", "--format", "{{.Names}}"])).stdout, /deps-web-1/, "the dependent was not started");
        const down = await s.run(["down", "-p", "deps"]);
        assert.equal(down.code, 0, down.stderr);
        assert.equal((await s.run(["ps", "-a", "-q"])).stdout, "");
      }
      assert.deepEqual(storeProcesses(s.dataDir), []);
    }),
  { skip },
);
