/** `--network-rate`: tc's units read as bits a second, bad values refused, the qdisc it asks tc for. */
import { assert, test } from "../_helpers.ts";
import { parseRate, rateCommands } from "../../src/network/mod.ts";

test("--network-rate reads tc's units: bits, and bytes for the *bps ones", () => {
  assert.equal(parseRate("10mbit"), 10_000_000);
  assert.equal(parseRate("500kbit"), 500_000);
  assert.equal(parseRate("1.5gbit"), 1_500_000_000);
  assert.equal(parseRate("2mbps"), 16_000_000, "mbps is megabytes a second, as tc has it");
  assert.equal(parseRate("10MBit"), 10_000_000);
});

test("--network-rate refuses a value without a unit, an unknown unit, and rates no link could use", () => {
  for (const bad of ["10", "fast", "10mb", "-1mbit", "1kbit", "200gbit", ""]) {
    assert.throws(() => parseRate(bad), new RegExp(`Invalid --network-rate "${bad}"`), bad);
  }
});

test("the qdisc is a tbf per interface whose bucket holds 20 ms of traffic, at least 32 KiB", () => {
  assert.deepEqual(rateCommands(["eth0", "eth1"], 16_000_000), [
    "qdisc replace dev eth0 root tbf rate 16000000bit burst 40000 latency 100ms",
    "qdisc replace dev eth1 root tbf rate 16000000bit burst 40000 latency 100ms",
  ]);
  assert.match(rateCommands(["eth0"], 1_000_000)[0]!, /burst 32768 /);
});
