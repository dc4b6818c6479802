/**
 * Classic BPF for seccomp: the instruction encoding and a small assembler
 * with symbolic labels. Conditional jumps reach only 255 instructions ahead
 * (8-bit offsets); the assembler turns a jump whose target is further away
 * into a jump to an unconditional `ja` placed right after it (32-bit offset),
 * repeating until every jump fits — what libseccomp does with its jump
 * chains, done here once, generally.
 *
 * @module
 */

/** Opcodes used by the compiler (linux/filter.h, linux/bpf_common.h). */
export const BPF = {
  LD_W_ABS: 0x20, // A = seccomp_data[k] (32 bits)
  ALU_AND_K: 0x54, // A &= k
  JMP_JA: 0x05, // pc += k
  JMP_JEQ_K: 0x15, // pc += (A == k) ? jt : jf
  JMP_JGT_K: 0x25, // pc += (A > k) ? jt : jf
  JMP_JGE_K: 0x35, // pc += (A >= k) ? jt : jf
  JMP_JSET_K: 0x45, // pc += (A & k) ? jt : jf
  RET_K: 0x06, // return k
} as const;

/** Most instructions a seccomp program may have (BPF_MAXINSNS). */
export const BPF_MAXINSNS = 4096;

/** A symbolic jump target. */
export type Label = number & { readonly __label: unique symbol };

/** One instruction before assembly: jumps name labels instead of offsets. */
export type Insn =
  | { op: "ld"; k: number }
  | { op: "and"; k: number }
  | { op: "jeq" | "jgt" | "jge" | "jset"; k: number; t: Label; f: Label }
  | { op: "ja"; target: Label }
  | { op: "ret"; k: number }
  | { op: "label"; label: Label };

const JUMP_CODE = { jeq: BPF.JMP_JEQ_K, jgt: BPF.JMP_JGT_K, jge: BPF.JMP_JGE_K, jset: BPF.JMP_JSET_K } as const;

/** Collects instructions and hands out labels. */
export class Asm {
  /** The instructions so far, labels included. */
  readonly code: Insn[] = [];
  #next = 0;

  /** A new, not yet placed label. */
  label(): Label {
    return this.#next++ as Label;
  }

  /** Place a label here. */
  place(label: Label): void {
    this.code.push({ op: "label", label });
  }

  /** Place a new label here and return it. */
  here(): Label {
    const l = this.label();
    this.place(l);
    return l;
  }

  /** Append an instruction. */
  emit(insn: Insn): void {
    this.code.push(insn);
  }

  /** A = 32-bit word at byte offset k of struct seccomp_data. */
  ld(k: number): void {
    this.emit({ op: "ld", k });
  }

  /** Conditional jump on A against k. */
  jump(op: "jeq" | "jgt" | "jge" | "jset", k: number, t: Label, f: Label): void {
    this.emit({ op, k: k >>> 0, t, f });
  }

  /** return k. */
  ret(k: number): void {
    this.emit({ op: "ret", k: k >>> 0 });
  }
}

/** Raised when the program cannot be assembled (too long, a backward jump: compiler bugs or huge profiles). */
export class AssembleError extends Error {}

/**
 * Assemble to `struct sock_filter` records (u16 code, u8 jt, u8 jf, u32 k;
 * little-endian, 8 bytes each). Only forward jumps are allowed.
 */
export function assemble(code: readonly Insn[]): Uint8Array {
  const insns = code.filter((i): i is Exclude<Insn, { op: "label" }> => i.op !== "label");
  // label → index of the next real instruction
  const labelAt = new Map<Label, number>();
  {
    let n = 0;
    for (const i of code) {
      if (i.op === "label") labelAt.set(i.label, n);
      else n++;
    }
  }
  const far = insns.map(() => ({ t: false, f: false }));
  const size = (j: number) => 1 + (far[j]!.t ? 1 : 0) + (far[j]!.f ? 1 : 0);
  let pos: number[] = [];
  // Grow trampolines until every conditional offset fits in 8 bits. Each pass
  // only adds trampolines, so this ends; the bound is a guard against bugs.
  for (let pass = 0; pass < 64; pass++) {
    pos = [];
    let p = 0;
    for (let j = 0; j < insns.length; j++) {
      pos.push(p);
      p += size(j);
    }
    pos.push(p);
    const target = (l: Label) => {
      const idx = labelAt.get(l);
      if (idx === undefined) throw new AssembleError(`label ${l} is never placed`);
      return pos[idx]!;
    };
    let grew = false;
    insns.forEach((insn, j) => {
      if (insn.op !== "jeq" && insn.op !== "jgt" && insn.op !== "jge" && insn.op !== "jset") return;
      for (const side of ["t", "f"] as const) {
        if (far[j]![side]) continue;
        // offsets count from the instruction after the jump, trampolines included
        const d = target(insn[side]) - (pos[j]! + 1);
        if (d < 0) throw new AssembleError("backward jump");
        if (d > 255) {
          far[j]![side] = true;
          grew = true;
        }
      }
    });
    if (!grew) break;
  }
  const total = pos[insns.length]!;
  if (total > BPF_MAXINSNS) {
    throw new AssembleError(`the program has ${total} instructions; the kernel takes at most ${BPF_MAXINSNS}`);
  }
  const out = new Uint8Array(total * 8);
  const dv = new DataView(out.buffer);
  let o = 0;
  const put = (code: number, jt: number, jf: number, k: number) => {
    dv.setUint16(o, code, true);
    dv.setUint8(o + 2, jt);
    dv.setUint8(o + 3, jf);
    dv.setUint32(o + 4, k >>> 0, true);
    o += 8;
  };
  const target = (l: Label) => pos[labelAt.get(l)!]!;
  insns.forEach((insn, j) => {
    const at = pos[j]!;
    switch (insn.op) {
      case "ld":
        return put(BPF.LD_W_ABS, 0, 0, insn.k);
      case "and":
        return put(BPF.ALU_AND_K, 0, 0, insn.k);
      case "ret":
        return put(BPF.RET_K, 0, 0, insn.k);
      case "ja": {
        const d = target(insn.target) - (at + 1);
        if (d < 0) throw new AssembleError("backward jump");
        return put(BPF.JMP_JA, 0, 0, d);
      }
      default: {
        const ft = far[j]!;
        // trampolines sit right after the jump: first the one for t, then for f
        const jt = ft.t ? 0 : target(insn.t) - (at + 1);
        const jf = ft.f ? (ft.t ? 1 : 0) : target(insn.f) - (at + 1);
        put(JUMP_CODE[insn.op], jt, jf, insn.k);
        let tp = at + 1;
        if (ft.t) {
          put(BPF.JMP_JA, 0, 0, target(insn.t) - (tp + 1));
          tp++;
        }
        if (ft.f) put(BPF.JMP_JA, 0, 0, target(insn.f) - (tp + 1));
      }
    }
  });
  return out;
}
