/** `nook runtime update` and `events`: runc's flags and JSON, without a container. */
import { assert, test } from "../_helpers.ts";
import { parseSize, resetLimits, updateResources } from "../../src/oci/update.ts";
import { parseInterval, runcStats } from "../../src/oci/events.ts";
import { ociResources } from "../../src/oci/cgroup_v2.ts";

test("update: runc's flags become linux.resources, over the -r file, and convert as create's do", () => {
  const dir = Deno.makeTempDirSync();
  Deno.writeTextFileSync(`${dir}/r.json`, JSON.stringify({ memory: { limit: 1 << 20 }, pids: { limit: 10 } }));
  const res = updateResources({ resources: `${dir}/r.json`, memory: "64m", cpuQuota: "50000", cpuPeriod: "100000" }, () => "");
  assert.deepEqual(res, { memory: { limit: 64 << 20 }, pids: { limit: 10 }, cpu: { quota: 50000, period: 100000 } });
  const { resources } = ociResources(res);
  assert.equal(resources.memory?.max, 64 << 20);
  assert.equal(resources.pids?.max, 10);
  assert.deepEqual(updateResources({ resources: "-" }, () => '{"cpu": {"shares": 512}}'), { cpu: { shares: 512 } });
});

test("update: --memory -1 takes a limit away (memory.max and, with no swap limit given, memory.swap.max back to max)", () => {
  const res = updateResources({ memory: "-1" }, () => "");
  const { resources } = ociResources(res);
  resetLimits(res, resources);
  assert.deepEqual(resources.memory, { max: "max", swapMax: "max" });
  const swap = updateResources({ memory: "-1", memorySwap: "-1" }, () => "");
  const withSwap = ociResources(swap).resources;
  resetLimits(swap, withSwap);
  assert.deepEqual(withSwap.memory, { max: "max", swapMax: "max", swapExplicit: true });
  const kept = updateResources({ memory: "64m" }, () => "");
  const limited = ociResources(kept).resources;
  resetLimits(kept, limited);
  assert.deepEqual(limited.memory, { max: 64 << 20 }, "a real limit is left as it is");
});

test("update: sizes as runc takes them, and clear errors for bad values", () => {
  assert.equal(parseSize("512", "--memory"), 512);
  assert.equal(parseSize("1g", "--memory"), 1024 ** 3);
  assert.equal(parseSize("1.5k", "--memory"), 1536);
  assert.equal(parseSize("-1", "--memory-swap"), -1);
  assert.throws(() => parseSize("lots", "--memory"), /--memory takes a size such as 512m or 1g, not "lots"/);
  assert.throws(() => updateResources({ pidsLimit: "ten" }, () => ""), /--pids-limit takes a whole number, not "ten"/);
  assert.throws(() => updateResources({ resources: "-" }, () => "[1]"), /is not a JSON object/);
  assert.throws(() => ociResources({ memory: { kernel: 1 } }), /cgroup v2 has no separate kernel memory limit/);
});

test("events: cgroup v2 counters in runc's units and names", () => {
  const data = runcStats({
    at: 0,
    cpu: { usageUsec: 3, userUsec: 2, systemUsec: 1, nrThrottled: 4, throttledUsec: 5 },
    memory: { current: 100, max: "max", swapCurrent: 0, stat: { file: 7, anon: 93 }, events: { max: 2 } },
    pids: { current: 3, max: 50 },
  });
  assert.deepEqual(data.cpu, {
    usage: { total: 3000, kernel: 1000, user: 2000 },
    throttling: { throttled_periods: 4, throttled_time: 5000 },
  });
  // no limit is runc's math.MaxUint64, as an exact JSON number
  assert.equal(
    JSON.stringify(data.memory),
    '{"usage":{"usage":100,"limit":18446744073709551615,"failcnt":2},"swap":{"usage":0},"cache":7,"raw":{"file":7,"anon":93}}',
  );
  assert.deepEqual(data.pids, { current: 3, limit: 50 });
  assert.equal(parseInterval("5s"), 5000);
  assert.equal(parseInterval("250ms"), 250);
  assert.throws(() => parseInterval("soon"), /--interval takes a duration/);
});
