/**
 * Test helpers for seccomp programs: a classic-BPF interpreter that runs a
 * program on a `struct seccomp_data` (as the kernel would), a disassembler
 * for failure messages, and the test-only libseccomp helper.
 */
import { ROOT, scratch, sh } from "./_helpers.ts";

/** Input of a seccomp filter. */
export interface SeccompData {
  nr: number;
  arch: number;
  ip?: bigint;
  args?: readonly bigint[];
}

/** Bytes of `struct seccomp_data` (little-endian). */
function dataBytes(d: SeccompData): DataView {
  const dv = new DataView(new ArrayBuffer(64));
  dv.setInt32(0, d.nr, true);
  dv.setUint32(4, d.arch >>> 0, true);
  dv.setBigUint64(8, d.ip ?? 0n, true);
  for (let i = 0; i < 6; i++) dv.setBigUint64(16 + 8 * i, BigInt.asUintN(64, d.args?.[i] ?? 0n), true);
  return dv;
}

/** Number of instructions in a program. */
export function length(program: Uint8Array): number {
  return program.length / 8;
}

/**
 * Run a seccomp BPF program as the kernel does and return its SECCOMP_RET
 * value. Covers the whole classic BPF instruction set a seccomp filter may use
 * (loads of seccomp_data words, scratch memory, ALU, jumps, returns).
 */
export function runFilter(program: Uint8Array, input: SeccompData): number {
  const prog = new DataView(program.buffer, program.byteOffset, program.byteLength);
  const data = dataBytes(input);
  const mem = new Uint32Array(16);
  let a = 0, x = 0, pc = 0;
  const n = program.length / 8;
  for (let steps = 0; steps < 5000; steps++) {
    if (pc >= n) throw new Error(`fell off the end of the program at ${pc}`);
    const code = prog.getUint16(pc * 8, true);
    const jt = prog.getUint8(pc * 8 + 2);
    const jf = prog.getUint8(pc * 8 + 3);
    const k = prog.getUint32(pc * 8 + 4, true);
    pc++;
    const cls = code & 0x07;
    switch (cls) {
      case 0x00: { // LD
        const mode = code & 0xe0;
        if (mode === 0x20 && (code & 0x18) === 0) { // W ABS
          if (k % 4 !== 0 || k + 4 > 64) throw new Error(`bad load offset ${k}`);
          a = data.getUint32(k, true);
        } else if (mode === 0x00) a = k; // IMM
        else if (mode === 0x60) a = mem[k]!; // MEM
        else if (mode === 0x80) a = 64; // LEN
        else throw new Error(`unsupported ld ${code.toString(16)}`);
        break;
      }
      case 0x01: { // LDX
        const mode = code & 0xe0;
        if (mode === 0x00) x = k;
        else if (mode === 0x60) x = mem[k]!;
        else if (mode === 0x80) x = 64;
        else throw new Error(`unsupported ldx ${code.toString(16)}`);
        break;
      }
      case 0x02:
        mem[k] = a;
        break;
      case 0x03:
        mem[k] = x;
        break;
      case 0x04: { // ALU
        const src = code & 0x08 ? x : k;
        switch (code & 0xf0) {
          case 0x00:
            a = (a + src) >>> 0;
            break;
          case 0x10:
            a = (a - src) >>> 0;
            break;
          case 0x20:
            a = Number((BigInt(a) * BigInt(src)) & 0xffff_ffffn);
            break;
          case 0x30:
            if (src === 0) return 0;
            a = Math.floor(a / src) >>> 0;
            break;
          case 0x40:
            a = (a | src) >>> 0;
            break;
          case 0x50:
            a = (a & src) >>> 0;
            break;
          case 0x60:
            a = src >= 32 ? 0 : (a << src) >>> 0;
            break;
          case 0x70:
            a = src >= 32 ? 0 : a >>> src;
            break;
          case 0x80:
            a = (-a) >>> 0;
            break;
          case 0x90:
            if (src === 0) return 0;
            a = a % src;
            break;
          case 0xa0:
            a = (a ^ src) >>> 0;
            break;
          default:
            throw new Error(`unsupported alu ${code.toString(16)}`);
        }
        break;
      }
      case 0x05: { // JMP
        const src = code & 0x08 ? x : k;
        const op = code & 0xf0;
        if (op === 0x00) {
          pc += k;
          break;
        }
        let cond: boolean;
        if (op === 0x10) cond = a === src;
        else if (op === 0x20) cond = a > src;
        else if (op === 0x30) cond = a >= src;
        else if (op === 0x40) cond = (a & src) !== 0;
        else throw new Error(`unsupported jmp ${code.toString(16)}`);
        pc += cond ? jt : jf;
        break;
      }
      case 0x06: // RET
        return ((code & 0x18) === 0x10 ? a : k) >>> 0;
      case 0x07: // MISC
        if (code & 0x80) a = x; // TXA
        else x = a; // TAX
        break;
    }
  }
  throw new Error("the program did not end (a loop?)");
}

/** A readable listing, for assertion messages. */
export function disassemble(program: Uint8Array): string {
  const dv = new DataView(program.buffer, program.byteOffset, program.byteLength);
  const lines: string[] = [];
  for (let i = 0; i < program.length / 8; i++) {
    const code = dv.getUint16(i * 8, true);
    const jt = dv.getUint8(i * 8 + 2), jf = dv.getUint8(i * 8 + 3), k = dv.getUint32(i * 8 + 4, true);
    lines.push(
      `${String(i).padStart(4)}: ${code.toString(16).padStart(4, "0")} jt=${jt} jf=${jf} k=0x${k.toString(16)}`,
    );
  }
  return lines.join("\n");
}

let helperPath: Promise<string> | undefined;

/** Why the libseccomp cross-check cannot run here (undefined when it can). */
export function libseccompSkip(): string | undefined {
  try {
    Deno.statSync("/usr/include/seccomp.h");
  } catch {
    return "libseccomp-dev is not installed (apt install libseccomp-dev): the reference implementation is missing";
  }
  return undefined;
}

/** Build (once) and return the test-only libseccomp helper. */
export function libseccompHelper(): Promise<string> {
  helperPath ??= buildTestProgram("seccomp_libseccomp_helper.c", ["-lseccomp"]);
  return helperPath;
}

/** Compile a test-only C program from tests/ into a scratch directory; rejects with the compiler's message. */
export async function buildTestProgram(source: string, extra: string[] = []): Promise<string> {
  const out = `${scratch("nook-cc-")}/${source.replace(/\.c$/, "")}`;
  const r = await sh("cc", ["-O1", "-Wall", "-Wextra", "-Werror", "-o", out, `${ROOT}/tests/${source}`, ...extra]);
  if (r.code !== 0) throw new Error(`building tests/${source} failed:\n${r.stderr}`);
  return out;
}

/** Run the helper with text (or a BPF program) on stdin; resolves with stdout bytes. */
export async function runHelper(args: string[], input: string | Uint8Array = ""): Promise<Uint8Array> {
  const child = new Deno.Command(await libseccompHelper(), { args, stdin: "piped", stdout: "piped", stderr: "piped" })
    .spawn();
  const w = child.stdin.getWriter();
  await w.write(typeof input === "string" ? new TextEncoder().encode(input) : input);
  await w.close();
  const out = await child.output();
  if (!out.success) {
    throw new Error(
      `libseccomp helper ${args.join(" ")} failed (${out.code}): ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  return out.stdout;
}
