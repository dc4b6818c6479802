/**
 * Registries that do not answer: real TCP servers on 127.0.0.1 that accept
 * and stay silent, trickle their headers, or stop in the middle of a body.
 * `pull` (and `login`) must end within the registry timeout (NOOK_REGISTRY_TIMEOUT)
 * with a line that names the registry, exit 125, and keep nothing partial.
 */
import { assert, busyboxSkip, subidSkip, test } from "../_helpers.ts";
import { freshStore, listTree, nookT } from "../_oci.ts";

const skip = busyboxSkip() ?? subidSkip();
const enc = new TextEncoder();

/** What a server does with each connection once it has read the request. */
type Behaviour = (conn: Deno.Conn, request: string) => Promise<void>;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A TCP server on 127.0.0.1 with a behaviour; close() ends it and every connection. */
function server(behave: Behaviour): { host: string; requests: string[]; close: () => void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const requests: string[] = [];
  let open = true;
  (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      (async () => {
        const buf = new Uint8Array(16384);
        const n = await conn.read(buf).catch(() => null);
        const req = new TextDecoder().decode(buf.subarray(0, n ?? 0));
        requests.push(req.split("\r\n")[0] ?? "");
        await behave(conn, req).catch(() => {});
      })();
    }
  })().catch(() => {});
  return {
    host: `127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    requests,
    close: () => {
      if (!open) return;
      open = false;
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch {
          // closed by the client
        }
      }
    },
  };
}

/** Keep a connection open, silent, for at most `ms` (bounded: the test ends it). */
const silent = (ms = 30_000): Behaviour => async () => {
  await sleep(ms);
};

/** Send the response's first bytes, then one byte every `gap` ms. */
const trickleHeaders = (gap: number): Behaviour => async (conn) => {
  const text = enc.encode("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}");
  for (let i = 0; i < text.length && i < 200; i++) {
    await conn.write(text.subarray(i, i + 1));
    await sleep(gap);
  }
};

/** Headers at once, then a few body bytes with pauses of `gap` ms. */
const trickleBody = (gap: number): Behaviour => async (conn) => {
  await conn.write(enc.encode("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"));
  for (let i = 0; i < 20; i++) {
    await sleep(gap);
    await conn.write(enc.encode(" "));
  }
};

async function pullFails(
  behave: Behaviour,
  timeoutS: number,
  says: RegExp,
  args: (host: string) => string[] = (host) => ["pull", `${host}/team/app:1`],
): Promise<void> {
  const srv = server(behave);
  const s = freshStore({ NOOK_REGISTRY_TIMEOUT: String(timeoutS) });
  try {
    const t0 = Date.now();
    const r = await nookT(args(srv.host), s.env, 60_000);
    const took = (Date.now() - t0) / 1000;
    assert.equal(r.code, 125, r.stderr);
    const line = r.stderr.split("\n").find((l) => l.startsWith("nook: ")) ?? "";
    assert.match(line, says, r.stderr);
    assert.ok(line.includes(srv.host), `the message names the registry: ${line}`);
    assert.doesNotMatch(r.stderr, /^\s+at |internal error|Uncaught/m, r.stderr);
    assert.ok(srv.requests.length >= 1, "the server was asked");
    assert.ok(srv.requests.length <= 2, `a silent registry is not asked again and again: ${srv.requests.join(", ")}`);
    // the timeout, plus nook's start and its user namespace: never the 5 retries with backoff
    assert.ok(took >= timeoutS * 0.9, `it waited the timeout (${took} s)`);
    assert.ok(took < timeoutS * 2 + 10, `it ended within its timeout (${took} s for a ${timeoutS} s timeout)`);
    assert.deepEqual(listTree(`${s.data}/tmp`), [], "nothing partial is kept");
    assert.deepEqual(listTree(`${s.data}/blobs`).filter((p) => p.includes("/")), [], "no blob was stored");
  } finally {
    srv.close();
    await s.reset();
  }
}

test("pull from a registry that accepts and never answers fails within its timeout, naming the registry", async () => {
  await pullFails(silent(), 2, /The registry "127\.0\.0\.1:\d+" did not answer within 2 s/);
}, { skip });

test("pull from a registry that trickles its headers fails within its timeout", async () => {
  await pullFails(trickleHeaders(400), 2, /did not answer within 2 s/);
}, { skip });

test("pull from a registry that pauses in the middle of a body fails after the idle timeout", async () => {
  await pullFails(
    trickleBody(3000),
    1.5,
    /The registry "127\.0\.0\.1:\d+" stopped sending data \(nothing for 1\.5 s\)/,
  );
}, { skip });

test("login to a registry that never answers fails within its timeout", async () => {
  await pullFails(
    silent(),
    2,
    /did not answer within 2 s/,
    (host) => ["login", "-u", "me", "-p", "pw", host],
  );
}, { skip });
