/** The netlink requests a container's plan child sends for its interfaces: their bytes, read back field by field. */
import { assert, test } from "../_helpers.ts";
import { interfaceRequests } from "../../src/network/netlink.ts";

/** The messages of a request buffer: type, flags, seq, and the body after the 16-byte header. */
function split(b: Uint8Array): { type: number; flags: number; seq: number; body: Uint8Array }[] {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out = [];
  for (let off = 0; off < b.length;) {
    const len = dv.getUint32(off, true);
    assert.equal(len % 4, 0, "every message is 4-byte aligned");
    out.push({
      type: dv.getUint16(off + 4, true),
      flags: dv.getUint16(off + 6, true),
      seq: dv.getUint32(off + 8, true),
      body: b.subarray(off + 16, off + len),
    });
    off += len;
  }
  return out;
}

/** The rtattrs after a fixed header of `skip` bytes, by type. */
function attrs(body: Uint8Array, skip: number): Map<number, Uint8Array> {
  const dv = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const out = new Map<number, Uint8Array>();
  for (let off = skip; off < body.length;) {
    const len = dv.getUint16(off, true);
    out.set(dv.getUint16(off + 2, true), body.subarray(off + 4, off + len));
    off += (len + 3) & ~3;
  }
  return out;
}

test("eth0 with IPv4 and IPv6: addresses, link up, then both default routes, each asking for an ACK", () => {
  const msgs = split(
    interfaceRequests([{
      index: 7,
      ip: "10.89.0.5",
      prefix: 24,
      ip6: "fd12:3456:789a:1::5",
      gateway: "10.89.0.1",
      gateway6: "fd12:3456:789a:1::1",
    }]),
  );
  assert.deepEqual(msgs.map((m) => m.type), [20, 20, 16, 24, 24]); // NEWADDR ×2, NEWLINK, NEWROUTE ×2
  assert.deepEqual(msgs.map((m) => m.seq), [1, 2, 3, 4, 5]);
  for (const m of msgs) assert.equal(m.flags & 0x5, 0x5, "NLM_F_REQUEST | NLM_F_ACK");
  const [a4, a6, up, r4, r6] = msgs;
  assert.deepEqual([...a4!.body.subarray(0, 4)], [2, 24, 0, 0]);
  assert.equal(new DataView(a4!.body.buffer, a4!.body.byteOffset).getUint32(4, true), 7, "the interface's index");
  assert.deepEqual([...attrs(a4!.body, 8).get(2)!], [10, 89, 0, 5], "IFA_LOCAL");
  assert.deepEqual([...a6!.body.subarray(0, 3)], [10, 64, 2], "AF_INET6, /64, IFA_F_NODAD");
  assert.deepEqual([...attrs(a6!.body, 8).get(1)!], [0xfd, 0x12, 0x34, 0x56, 0x78, 0x9a, 0, 1, 0, 0, 0, 0, 0, 0, 0, 5]);
  const link = new DataView(up!.body.buffer, up!.body.byteOffset);
  assert.deepEqual(
    [link.getInt32(4, true), link.getUint32(8, true), link.getUint32(12, true)],
    [7, 1, 1],
    "index, IFF_UP set and changed",
  );
  assert.deepEqual(
    [...r4!.body.subarray(0, 8)],
    [2, 0, 0, 0, 254, 3, 0, 1],
    "default (dst_len 0), main table, unicast",
  );
  assert.deepEqual([...attrs(r4!.body, 12).get(5)!], [10, 89, 0, 1], "RTA_GATEWAY");
  assert.deepEqual([...attrs(r4!.body, 12).get(4)!], [7, 0, 0, 0], "RTA_OIF");
  assert.equal(attrs(r6!.body, 12).get(5)![15], 1);
});

test("a further interface has its address and link, no default route; none gives no request", () => {
  const msgs = split(interfaceRequests([{ index: 3, ip: "10.89.1.2", prefix: 24 }]));
  assert.deepEqual(msgs.map((m) => m.type), [20, 16]);
  assert.equal(interfaceRequests([]).length, 0);
  assert.throws(() => interfaceRequests([{ index: 3, ip: "10.89.1", prefix: 24 }]), Error, "Not an IPv4 address");
});
