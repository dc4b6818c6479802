/**
 * Generates `_syscall_tables.ts` from the kernel's own syscall tables, as
 * installed with the kernel's userspace headers (Debian: linux-libc-dev):
 *
 * - x86_64: `asm/unistd_64.h`;
 * - aarch64: `asm-generic/unistd.h` with the `__ARCH_WANT_*` switches that
 *   arch/arm64/include/uapi/asm/unistd.h sets;
 * - the names i386 and x32 have (`asm/unistd_32.h`, `asm/unistd_x32.h`), so a
 *   profile's 32-bit-only names are skipped quietly instead of warned about.
 *
 * The C preprocessor expands the headers (`cc -E -dM`), so `#if` switches and
 * aliases (`__NR_fcntl` → `__NR3264_fcntl`) resolve exactly as in C.
 * Syscalls added after the installed headers are listed in NEWER_SYSCALLS
 * below: since Linux 5.1 (424) every architecture but alpha gives a new
 * syscall the same number.
 *
 * Run: .deno/node_modules/deno/deno run --allow-run --allow-write --allow-read src/seccomp/_gen_syscall_tables.ts
 *
 * @module
 */

/**
 * Syscalls newer than Debian 12's headers (6.1): number and name, from the
 * kernel's syscall tables up to Linux 6.18 (470 is ENOSYS there). Same number
 * on x86_64 and aarch64.
 */
const NEWER_SYSCALLS: readonly [number, string][] = [
  [451, "cachestat"],
  [452, "fchmodat2"],
  [453, "map_shadow_stack"],
  [454, "futex_wake"],
  [455, "futex_wait"],
  [456, "futex_requeue"],
  [457, "statmount"],
  [458, "listmount"],
  [459, "lsm_get_self_attr"],
  [460, "lsm_set_self_attr"],
  [461, "lsm_list_modules"],
  [462, "mseal"],
  [463, "setxattrat"],
  [464, "getxattrat"],
  [465, "listxattrat"],
  [466, "removexattrat"],
  [467, "open_tree_attr"],
  [468, "file_getattr"],
  [469, "file_setattr"],
];

/** Names that exist only on architectures nook has no table for (arm, ppc, s390, riscv, mips). */
const OTHER_ARCH_EXTRA = [
  "arm_fadvise64_64",
  "arm_sync_file_range",
  "breakpoint",
  "cacheflush",
  "set_tls",
  "usr26",
  "usr32",
  "swapcontext",
  "sync_file_range2",
  "subpage_prot",
  "spu_run",
  "spu_create",
  "sys_debug_setcontext",
  "switch_endian",
  "rtas",
  "multiplexer",
  "s390_pci_mmio_read",
  "s390_pci_mmio_write",
  "s390_runtime_instr",
  "s390_guarded_storage",
  "s390_sthyi",
  "riscv_flush_icache",
  "riscv_hwprobe",
  "cachectl",
  "sysmips",
  "timerfd",
  "umount",
  "stime",
];

async function defines(source: string): Promise<Map<string, string>> {
  const child = new Deno.Command("cc", {
    args: ["-E", "-dM", "-x", "c", "-"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  })
    .spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(source));
  await w.close();
  const out = await child.output();
  if (!out.success) throw new Error(`cc -E failed: ${new TextDecoder().decode(out.stderr)}`);
  const map = new Map<string, string>();
  for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
    const m = /^#define (\S+) (.*)$/.exec(line);
    if (m) map.set(m[1]!, m[2]!.trim());
  }
  return map;
}

/** name → number for every `__NR_name` whose value resolves to a number. */
function table(defs: Map<string, string>): Map<string, number> {
  const resolve = (v: string, depth = 0): number | undefined => {
    if (depth > 8) return undefined;
    const s = v.replace(/^\((.*)\)$/, "$1").trim();
    if (/^\d+$/.test(s)) return Number(s);
    const plus = /^(\w+)\s*\+\s*(\d+)$/.exec(s);
    if (plus) {
      const base = resolve(plus[1]!, depth + 1);
      return base === undefined ? undefined : base + Number(plus[2]);
    }
    const next = defs.get(s);
    return next === undefined ? undefined : resolve(next, depth + 1);
  };
  const out = new Map<string, number>();
  for (const [k, v] of defs) {
    // __NR_syscalls is a count and __NR_arch_specific_syscall a range marker, not syscalls
    if (!k.startsWith("__NR_") || k === "__NR_syscalls" || k === "__NR_arch_specific_syscall") continue;
    const n = resolve(v);
    if (n !== undefined) out.set(k.slice(5), n);
  }
  return out;
}

function render(name: string, t: Map<string, number>): string {
  const rows = [...t].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1));
  return `/** ${name} syscall numbers by name. */\nexport const ${name}: Readonly<Record<string, number>> = {\n` +
    rows.map(([n, v]) => `  ${/^[a-z_][a-z0-9_]*$/.test(n) ? n : JSON.stringify(n)}: ${v},`).join("\n") + "\n};\n";
}

if (import.meta.main) {
  const x86 = table(await defines("#include <asm/unistd_64.h>\n"));
  // arch/arm64/include/uapi/asm/unistd.h: these switches, then the generic table.
  const arm = table(
    await defines(
      [
        "#define __ARCH_WANT_RENAMEAT",
        "#define __ARCH_WANT_NEW_STAT",
        "#define __ARCH_WANT_SET_GET_RLIMIT",
        "#define __ARCH_WANT_TIME32_SYSCALLS",
        "#define __ARCH_WANT_SYS_CLONE3",
        "#define __ARCH_WANT_MEMFD_SECRET",
        "#include <asm-generic/unistd.h>",
        "",
      ].join("\n"),
    ),
  );
  for (const [nr, name] of NEWER_SYSCALLS) {
    for (const t of [x86, arm]) {
      if (!t.has(name)) t.set(name, nr);
    }
  }
  const other = new Set<string>(OTHER_ARCH_EXTRA);
  for (const h of ["asm/unistd_32.h", "asm/unistd_x32.h"]) {
    for (const k of (await defines(`#include <${h}>\n`)).keys()) {
      if (k.startsWith("__NR_") && k !== "__NR_syscalls") other.add(k.slice(5));
    }
  }
  for (const n of [...x86.keys(), ...arm.keys()]) other.delete(n);
  const text = [
    "// Generated by src/seccomp/_gen_syscall_tables.ts from the kernel's userspace headers; do not edit.",
    "",
    render("X86_64", x86),
    render("AARCH64", arm),
    "/** Names that exist on other architectures only (i386, x32, arm, ppc, s390, riscv, mips): skipped quietly. */",
    `export const OTHER_ARCH_NAMES: readonly string[] = ${JSON.stringify([...other].sort())};`,
    "",
  ].join("\n");
  const out = new URL("./_syscall_tables.ts", import.meta.url);
  Deno.writeTextFileSync(out, text);
  await new Deno.Command(Deno.execPath(), { args: ["fmt", "--quiet", out.pathname] }).output();
  console.log(`x86_64: ${x86.size} syscalls, aarch64: ${arm.size}, other-arch names: ${other.size}`);
}
