/*
 * nook-exec — the program through which every container process starts.
 *
 * Why it exists (runc's CVE-2019-5736 and its kin): the child that carries out
 * a plan is a clone of nook, so until it calls execve its /proc/PID/exe is
 * nook's own executable — the Deno binary or nook-monitor, files the user can
 * write. A program in the container that gets that process to exec a path
 * resolving to /proc/self/exe (a `#!/proc/self/exe` script, an ELF whose
 * interpreter is /proc/self/exe) would run nook's binary inside the container
 * and could reopen it for writing through /proc/PID/exe once it exits: the
 * user's next `nook` command would then run the attacker's code on the host.
 *
 * So the child never execs the container's program itself. libshim copies this
 * program (a few KiB, built -static -nostdlib, embedded in libshim) into a
 * sealed memfd and execs that; this program then execs the container's
 * program. Whatever the container's program resolves /proc/self/exe to from
 * here on is a sealed, anonymous, read-only copy of this file, owned by no
 * file system: there is nothing of the host to reach through it. (runc copies
 * its whole binary into a memfd; nook's Deno binary is ~100 MiB, this is ~2 KiB.)
 *
 * No libc: raw syscalls only, so the copy is tiny and position-independent of
 * any library on the host. Two modes, chosen by argv[0]:
 *
 *   "nook-exec" SOCK OP N CAND_1 … CAND_N ARGV_0 … ARGV_M   (envp: the container's)
 *      execve the first candidate that exists, with argv ARGV_0…, as libshim's
 *      EXEC op did before (execvp's rules without its search). On failure a
 *      SHIM_MSG_ERROR {OP, errno, "execve \"path\""} goes to the sync socket
 *      SOCK (-1: none) and the exit status is 125.
 *
 *   anything else: a program in the container exec'd /proc/self/exe; say so
 *      on stderr and exit 126.
 *
 *   "nook-init" CHILD
 *      pid 1 of a container run with --init: reap every child, forward every
 *      signal to CHILD, exit with CHILD's status (128+n when a signal ended it).
 *      All signals arrive blocked (the INIT op blocked them before it forked),
 *      and blocked, pending signals survive execve, so none is lost.
 */
#include "shim.h"

#include <stddef.h>

#define E_NOENT 2
#define E_INTR 4
#define E_NOTDIR 20
#define E_ACCES 13
#define S_SIGCHLD 17
#define CHILD_FAIL_EXIT 125

#if defined(__x86_64__)
#define NR_write 1
#define NR_fcntl 72
#define NR_kill 62
#define NR_wait4 61
#define NR_execve 59
#define NR_exit_group 231
#define NR_prctl 157
#define NR_rt_sigtimedwait 128
#define NR_rt_sigprocmask 14
__asm__(".text\n.global _start\n_start:\n xor %ebp,%ebp\n mov %rsp,%rdi\n and $-16,%rsp\n call start_c\n hlt\n");
static long sys6(long n, long a, long b, long c, long d, long e, long f) {
  long ret;
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  register long r9 __asm__("r9") = f;
  __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return ret;
}
#elif defined(__aarch64__)
#define NR_write 64
#define NR_fcntl 25
#define NR_kill 129
#define NR_wait4 260
#define NR_execve 221
#define NR_exit_group 94
#define NR_prctl 167
#define NR_rt_sigtimedwait 137
#define NR_rt_sigprocmask 135
__asm__(".text\n.global _start\n_start:\n mov x0, sp\n bl start_c\n");
static long sys6(long n, long a, long b, long c, long d, long e, long f) {
  register long x8 __asm__("x8") = n;
  register long x0 __asm__("x0") = a;
  register long x1 __asm__("x1") = b;
  register long x2 __asm__("x2") = c;
  register long x3 __asm__("x3") = d;
  register long x4 __asm__("x4") = e;
  register long x5 __asm__("x5") = f;
  __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5) : "memory");
  return x0;
}
#else
#error "nook-exec: add this architecture's syscall numbers and entry point"
#endif

#define sys3(n, a, b, c) sys6(n, (long)(a), (long)(b), (long)(c), 0, 0, 0)

/* gcc may emit calls to these even in freestanding code */
void *memset(void *d, int c, size_t n) {
  unsigned char *p = d;
  while (n--) *p++ = (unsigned char)c;
  return d;
}
void *memcpy(void *d, const void *s, size_t n) {
  unsigned char *p = d;
  const unsigned char *q = s;
  while (n--) *p++ = *q++;
  return d;
}

static void __attribute__((noreturn)) quit(int status) {
  for (;;) sys3(NR_exit_group, status, 0, 0);
}

static int same(const char *a, const char *b) {
  while (*a && *a == *b) a++, b++;
  return *a == *b;
}

static long number(const char *s) {
  long v = 0, sign = 1;
  if (*s == '-') sign = -1, s++;
  while (*s >= '0' && *s <= '9') v = v * 10 + (*s++ - '0');
  return v * sign;
}

static void __attribute__((noreturn)) fail(int sock, int op, int err, const char *path) {
  if (sock >= 0) {
    struct shim_msg m;
    memset(&m, 0, sizeof m);
    m.type = SHIM_MSG_ERROR;
    m.op = op;
    m.err = err;
    const char *parts[3] = {"execve \"", path, "\""};
    size_t len = 0;
    for (int i = 0; i < 3; i++)
      for (const char *s = parts[i]; s && *s && len + 1 < sizeof m.text; s++) m.text[len++] = *s;
    sys3(NR_write, sock, &m, sizeof m);
  }
  quit(CHILD_FAIL_EXIT);
}

static void __attribute__((noreturn)) exec_mode(int argc, char **argv, char **envp) {
  if (argc < 5) quit(CHILD_FAIL_EXIT);
  int sock = (int)number(argv[1]), op = (int)number(argv[2]);
  long n = number(argv[3]);
  if (n < 1 || 4 + n >= argc) quit(CHILD_FAIL_EXIT);
  char **cand = argv + 4, **args = argv + 4 + n;
  /* the socket must not reach the container's program: EOF on it tells nook the exec succeeded */
  if (sock >= 0) sys3(NR_fcntl, sock, 2 /* F_SETFD */, 1 /* FD_CLOEXEC */);
  int saved = E_NOENT;
  const char *which = 0;
  for (long i = 0; i < n; i++) {
    int e = (int)-sys3(NR_execve, cand[i], args, envp);
    if (e == E_NOENT || e == E_NOTDIR) continue;
    if (e == E_ACCES) {
      if (saved != E_ACCES) which = cand[i];
      saved = E_ACCES;
      continue;
    }
    fail(sock, op, e, cand[i]);
  }
  fail(sock, op, saved, which ? which : args[0]);
}

static void __attribute__((noreturn)) init_mode(int argc, char **argv) {
  if (argc < 2) quit(CHILD_FAIL_EXIT);
  long child = number(argv[1]);
  /* ps in the container shows "nook-init", as it did before this program existed */
  for (char *p = argv[1]; *p; p++) *p = 0;
  sys3(NR_prctl, 15 /* PR_SET_NAME */, "nook-init", 0);
  unsigned long all = ~0ul;
  /* already blocked when libshim execs this; blocked here too for any other caller */
  sys6(NR_rt_sigprocmask, 2 /* SIG_SETMASK */, (long)&all, 0, sizeof all, 0, 0);
  for (long sig = S_SIGCHLD;;) {
    if (sig == S_SIGCHLD) {
      int st;
      long w;
      while ((w = sys6(NR_wait4, -1, (long)&st, 1 /* WNOHANG */, 0, 0, 0)) > 0 || w == -E_INTR)
        if (w == child) quit((st & 0x7f) == 0 ? (st >> 8) & 0xff : 128 + (st & 0x7f));
    } else if (sig > 0) {
      sys3(NR_kill, child, sig, 0);
    }
    unsigned char info[128];
    sig = sys6(NR_rt_sigtimedwait, (long)&all, (long)info, 0, sizeof all, 0, 0);
  }
}

void __attribute__((noreturn, used)) start_c(long *sp) {
  int argc = (int)sp[0];
  char **argv = (char **)(sp + 1), **envp = argv + argc + 1;
  if (argc >= 1 && same(argv[0], "nook-init")) init_mode(argc, argv);
  if (argc >= 1 && same(argv[0], "nook-exec")) exec_mode(argc, argv, envp);
  /* started some other way: by a container program that execs /proc/self/exe */
  static const char msg[] = "nook-exec: this is nook's exec helper; it runs nothing on its own\n";
  sys3(NR_write, 2, msg, sizeof msg - 1);
  quit(126);
}
