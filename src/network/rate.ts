/**
 * `--network-rate`: a rate in tc's words, and the qdisc that holds a container's egress to it.
 * @module
 */
import { NetworkError } from "./network_error.ts";

const UNITS: Record<string, number> = {
  bit: 1,
  kbit: 1e3,
  mbit: 1e6,
  gbit: 1e9,
  bps: 8,
  kbps: 8e3,
  mbps: 8e6,
  gbps: 8e9,
};

/**
 * A rate as tc writes it (`10mbit`, `500kbit`, `2mbps` = 2 megabytes a second), in bits a
 * second. Between 8 kbit and 100 gbit: below, TCP cannot work; above, nothing here could send.
 */
export function parseRate(text: string): number {
  const m = /^(\d+(?:\.\d+)?)([a-z]+)$/.exec(text.trim().toLowerCase());
  const unit = m ? UNITS[m[2]!] : undefined;
  const bits = m && unit ? Math.round(Number(m[1]) * unit) : NaN;
  if (!(bits >= 8000 && bits <= 1e11)) {
    throw new NetworkError(`Invalid --network-rate "${text}"`, {
      hint: "give a rate with a unit, between 8kbit and 100gbit: e.g. 10mbit, 500kbit, 2mbps (megabytes)",
    });
  }
  return bits;
}

/**
 * tc commands that shape each interface's egress to `bits` a second: a token bucket filter as
 * the root qdisc. The bucket holds 20 ms of traffic (at least 32 KiB, so a large segment
 * passes whole); a packet waits at most 100 ms for tokens, then is dropped, which TCP reads as
 * congestion and slows to the rate.
 */
export function rateCommands(ifnames: readonly string[], bits: number): string[] {
  const burst = Math.max(32 * 1024, Math.round(bits / 8 / 50));
  return ifnames.map((i) => `qdisc replace dev ${i} root tbf rate ${bits}bit burst ${burst} latency 100ms`);
}
