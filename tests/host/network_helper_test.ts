/**
 * libshim's helper calls, as the network helpers use them: start without
 * waiting, hand over fds, read a readiness message, notice an early exit.
 */
import { closeFd, fifo, helperWait, pidfdKill, pipe, startHelper, wait } from "../../src/ffi/mod.ts";
import { SIGNALS } from "../../src/plan/mod.ts";
import { assert, scratch, test } from "../_helpers.ts";

const dec = (r: Uint8Array | string) => (typeof r === "string" ? r : new TextDecoder().decode(r));

test("a helper gets exactly the fds it keeps, and its readiness message arrives on a pipe", async () => {
  const ready = await pipe();
  const log = `${scratch()}/log`;
  const h = startHelper([
    "/bin/sh",
    "-c",
    `ls /proc/self/fd >&2; echo up > /proc/self/fd/${ready.write}; exec sleep 30`,
  ], {
    log,
    keepFds: [ready.write],
  });
  await closeFd(ready.write);
  try {
    assert.equal(dec(await helperWait(ready.read, h.pidfd, 5000)), "up\n");
    const fds = Deno.readTextFileSync(log).split("\n").filter(Boolean).map(Number).sort((a, b) => a - b);
    // 0-2, the kept fd, and ls's own directory fd
    assert.deepEqual(fds.filter((f) => f > 2 && f !== ready.write).length, 1, `fds: ${fds}`);
    assert.ok(fds.includes(ready.write));
    assert.equal(await helperWait(-1, h.pidfd, 50), "timeout", "still running");
    await pidfdKill(h.pidfd, SIGNALS.SIGTERM!);
    assert.equal(await helperWait(-1, h.pidfd, 5000), "exited");
    assert.deepEqual(await wait(h.pid), { exited: false, signal: SIGNALS.SIGTERM });
  } finally {
    await pidfdKill(h.pidfd, SIGNALS.SIGKILL!).catch(() => {});
    await wait(h.pid).catch(() => {});
    await closeFd(h.pidfd);
    await closeFd(ready.read);
  }
});

test("a helper that exits without a word is noticed at once; one that cannot run is an error", async () => {
  const f = await fifo(`${scratch()}/ready.fifo`);
  const h = startHelper(["/bin/sh", "-c", "exit 3"]);
  try {
    assert.equal(await helperWait(f, h.pidfd, 5000), "exited");
    assert.deepEqual(await wait(h.pid), { exited: true, code: 3 });
  } finally {
    await closeFd(h.pidfd);
    await closeFd(f);
  }
  assert.throws(() => startHelper(["/nonexistent/helper"]), /ENOENT/);
});

test("a helper's readiness written to a FIFO path (as pasta writes its pid file) is read without blocking", async () => {
  const path = `${scratch()}/pid.fifo`;
  const f = await fifo(path);
  const h = startHelper(["/bin/sh", "-c", `echo $$ > ${path}; exec sleep 30`]);
  try {
    assert.equal(dec(await helperWait(f, h.pidfd, 5000)).trim(), String(h.pid));
  } finally {
    await pidfdKill(h.pidfd, SIGNALS.SIGKILL!);
    await wait(h.pid);
    await closeFd(h.pidfd);
    await closeFd(f);
  }
});
