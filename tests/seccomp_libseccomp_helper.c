/*
 * Test-only helper: the reference implementation's view of a seccomp filter.
 * Linked with libseccomp (Debian's libseccomp-dev) by tests/seccomp_crosscheck_test.ts;
 * nook itself never uses libseccomp.
 *
 *   seccomp_libseccomp_helper bpf < RULES    → libseccomp's BPF program on stdout
 *   seccomp_libseccomp_helper names ARCH     → "nr name" lines for 0..1023 on ARCH
 *   seccomp_libseccomp_helper run NR A0..A5 < BPF
 *       → load any BPF program (nook's or libseccomp's) in a child, make syscall
 *         NR with those six arguments, print "ok", "errno N" or "killed SIG".
 *         The program must allow exit_group, or the child cannot report.
 *
 * RULES is line-based text that the test writes from a resolved profile
 * (actions already SECCOMP_RET_* values):
 *
 *   arch x86_64|aarch64
 *   default ACTION
 *   badarch ACTION
 *   rule NAME ACTION NCONDS [ARG OP DATUM_A DATUM_B]...   (OP: enum scmp_compare)
 *
 * Rules name syscalls: libseccomp takes syscall numbers in the numbering of
 * the machine it runs on and translates them by name for a foreign filter
 * architecture, so names are what both sides agree on.
 *
 * Numbers are decimal (u64 for datums). Exit status 2 = bad input, 3 = libseccomp refused.
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <inttypes.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t arch_token(const char *name) {
  if (strcmp(name, "x86_64") == 0) return SCMP_ARCH_X86_64;
  if (strcmp(name, "aarch64") == 0) return SCMP_ARCH_AARCH64;
  fprintf(stderr, "unknown arch %s\n", name);
  exit(2);
}

static int names(const char *arch) {
  uint32_t a = arch_token(arch);
  for (int nr = 0; nr < 1024; nr++) {
    char *n = seccomp_syscall_resolve_num_arch(a, nr);
    if (n) {
      printf("%d %s\n", nr, n);
      free(n);
    }
  }
  return 0;
}

/* The context, made once the header lines (arch, default, badarch) are read. */
static scmp_filter_ctx make_ctx(uint32_t arch, uint32_t def, uint32_t badarch) {
  scmp_filter_ctx ctx = seccomp_init(def);
  if (!ctx || seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, badarch) < 0) exit(3);
  if (arch && arch != seccomp_arch_native()) {
    if (seccomp_arch_add(ctx, arch) < 0 || seccomp_arch_remove(ctx, SCMP_ARCH_NATIVE) < 0) exit(3);
  }
  return ctx;
}

static int bpf(void) {
  char word[64];
  uint32_t arch = 0, def = 0, badarch = SCMP_ACT_KILL_PROCESS;
  scmp_filter_ctx ctx = NULL;
  while (scanf("%63s", word) == 1) {
    if (strcmp(word, "arch") == 0) {
      if (scanf("%63s", word) != 1) return 2;
      arch = arch_token(word);
    } else if (strcmp(word, "default") == 0) {
      if (scanf("%" SCNu32, &def) != 1) return 2;
    } else if (strcmp(word, "badarch") == 0) {
      if (scanf("%" SCNu32, &badarch) != 1) return 2;
    } else if (strcmp(word, "rule") == 0) {
      if (!ctx) ctx = make_ctx(arch, def, badarch);
      char name[64];
      uint32_t action;
      unsigned n;
      if (scanf("%63s %" SCNu32 " %u", name, &action, &n) != 3 || n > 6) return 2;
      int nr = seccomp_syscall_resolve_name(name);
      if (nr == __NR_SCMP_ERROR) {
        fprintf(stderr, "libseccomp does not know the syscall %s\n", name);
        return 3;
      }
      struct scmp_arg_cmp cmp[6];
      for (unsigned i = 0; i < n; i++) {
        unsigned arg, op;
        uint64_t a, b;
        if (scanf("%u %u %" SCNu64 " %" SCNu64, &arg, &op, &a, &b) != 4) return 2;
        cmp[i].arg = arg;
        cmp[i].op = (enum scmp_compare)op;
        cmp[i].datum_a = a;
        cmp[i].datum_b = b;
      }
      int rc = seccomp_rule_add_array(ctx, action, nr, n, cmp);
      if (rc < 0) {
        fprintf(stderr, "seccomp_rule_add(%s, action %#x): %s\n", name, action, strerror(-rc));
        return 3;
      }
    } else {
      fprintf(stderr, "bad word %s\n", word);
      return 2;
    }
  }
  if (!ctx) ctx = make_ctx(arch, def, badarch);
  fflush(stdout);
  int rc = seccomp_export_bpf(ctx, 1);
  if (rc < 0) {
    fprintf(stderr, "seccomp_export_bpf: %s\n", strerror(-rc));
    return 3;
  }
  seccomp_release(ctx);
  return 0;
}

static int run(char **argv) {
  static unsigned char prog[4096 * 8];
  size_t n = fread(prog, 1, sizeof prog, stdin);
  if (n == 0 || n % 8) return 2;
  long a[7];
  for (int i = 0; i < 7; i++) a[i] = (long)strtoull(argv[i], NULL, 0);
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    struct sock_fprog fp = {(unsigned short)(n / 8), (struct sock_filter *)prog};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fp) < 0) _exit(250);
    long r = syscall(a[0], a[1], a[2], a[3], a[4], a[5], a[6]);
    syscall(SYS_exit_group, r < 0 ? errno : 0);
    for (;;) {
    }
  }
  int st;
  if (waitpid(pid, &st, 0) < 0) return 3;
  if (WIFSIGNALED(st)) printf("killed %d\n", WTERMSIG(st));
  else if (WEXITSTATUS(st) == 250) return 3;
  else if (WEXITSTATUS(st) == 0) printf("ok\n");
  else printf("errno %d\n", WEXITSTATUS(st));
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 9 && strcmp(argv[1], "run") == 0) return run(argv + 2);
  if (argc == 2 && strcmp(argv[1], "bpf") == 0) return bpf();
  if (argc == 3 && strcmp(argv[1], "names") == 0) return names(argv[2]);
  fprintf(stderr, "usage: %s bpf < RULES | names ARCH | run NR A0 A1 A2 A3 A4 A5 < BPF\n", argv[0]);
  return 2;
}
