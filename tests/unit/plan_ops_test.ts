/** The TypeScript and C sides of the plan format must agree, number for number. */
import { assert, ROOT, test } from "../_helpers.ts";
import { Msg, MSG_SIZE, Op, PLAN_VERSION } from "../../src/plan/mod.ts";
import { version } from "../../src/ffi/mod.ts";

const header = Deno.readTextFileSync(`${ROOT}/libshim/shim.h`);

function cEnum(prefix: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of header.matchAll(new RegExp(`\\b${prefix}([A-Z_]+)\\s*=\\s*(\\d+)`, "g"))) {
    if (!m[1]!.startsWith("_")) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

test("the op numbers in src/plan/ops.ts equal enum shim_op in shim.h", () => {
  const c = cEnum("SHIM_OP_");
  assert.deepEqual(new Map(Object.entries(Op)), c);
  const count = Number(/SHIM_OP__COUNT\s*=\s*(\d+)/.exec(header)?.[1]);
  assert.equal(count, Math.max(...Object.values(Op)) + 1, "SHIM_OP__COUNT is one past the last op");
});

test("the sync message types and sizes agree with shim.h", () => {
  const c = cEnum("SHIM_MSG_");
  c.delete("TEXT");
  assert.deepEqual(new Map(Object.entries(Msg)), c);
  const text = Number(/#define SHIM_MSG_TEXT (\d+)/.exec(header)?.[1]);
  assert.equal(MSG_SIZE, 16 + text);
});

test("the plan version agrees with shim.h and the built library", async () => {
  assert.equal(Number(/#define SHIM_PLAN_VERSION (\d+)/.exec(header)?.[1]), PLAN_VERSION);
  assert.equal(await version(), PLAN_VERSION);
});
