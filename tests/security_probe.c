/*
 * Test-only probe, linked statically and copied into a busybox rootfs by
 * tests/security_*_test.ts. Each argument names one attempt to reach past
 * the container's walls; the probe prints one line per attempt:
 *
 *   NAME: ok            the call succeeded
 *   NAME: EPERM         it failed with that errno
 *   NAME: killed 31     (attempts made in a child) the child died of that signal
 *   NAME: <text>        attempts that report a value (bytes read, ids)
 *
 * Each attempt runs in a child of its own, so one that changes the process
 * (unshare, chroot, setuid) cannot change the next, and one the kernel kills
 * is reported as such. It never stops at a failure: the test compares every line.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

static void report(const char *name, long rc) {
  if (rc >= 0) printf("%s: ok\n", name);
  else printf("%s: %s\n", name, strerrorname_np(errno) ? strerrorname_np(errno) : "E?");
}

/* Report the errno a child helper returned (0 = ok). */
static void report_errno(const char *name, int e) {
  if (e == 0) printf("%s: ok\n", name);
  else printf("%s: %s\n", name, strerrorname_np(e) ? strerrorname_np(e) : "E?");
}

static int child_clone_newuser(void) {
  long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
  if (pid < 0) return errno;
  if (pid == 0) _exit(0);
  waitpid((pid_t)pid, NULL, 0);
  return 0;
}

static int child_i386_syscall(void) {
#if defined(__x86_64__)
  long ret;
  /* getpid through the 32-bit entry: seccomp sees AUDIT_ARCH_I386 */
  __asm__ volatile("int $0x80" : "=a"(ret) : "a"(20) : "memory");
  return ret < 0 ? (int)-ret : 0;
#else
  return ENOSYS;
#endif
}

static int child_x32_syscall(void) {
#if defined(__x86_64__)
  long r = syscall(0x40000000 | 39); /* x32 getpid */
  return r < 0 ? errno : 0;
#else
  return ENOSYS;
#endif
}

/* A process of another user cannot trace root: needs CAP_SYS_PTRACE. */
static int child_ptrace_parent_as_user(void) {
  pid_t parent = getppid(); /* the probe's main process, root */
  if (syscall(SYS_setresgid, 1000, 1000, 1000) < 0 || syscall(SYS_setresuid, 1000, 1000, 1000) < 0) return errno;
  if (ptrace(PTRACE_SEIZE, parent, 0, 0) < 0) return errno;
  return 0;
}

static long read_count(const char *path) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return -1;
  char buf[4096];
  long total = 0, n;
  while ((n = read(fd, buf, sizeof buf)) > 0 && total < 1 << 20) total += n;
  close(fd);
  return n < 0 ? -1 : total;
}

static int raise_cap(int cap) {
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2];
  if (syscall(SYS_capget, &h, d) < 0) return -1;
  d[cap / 32].effective |= 1u << (cap % 32);
  d[cap / 32].permitted |= 1u << (cap % 32);
  return (int)syscall(SYS_capset, &h, d);
}

static void attempt(const char *a) {
  if (!strcmp(a, "getpid")) report(a, syscall(SYS_getpid)); /* glibc's getpid() never reports an error */
  else if (!strcmp(a, "unshare-user")) report(a, unshare(CLONE_NEWUSER));
  else if (!strcmp(a, "unshare-mnt")) report(a, unshare(CLONE_NEWNS));
  else if (!strcmp(a, "clone-newuser")) report_errno(a, child_clone_newuser());
  else if (!strcmp(a, "clone3")) {
    struct clone_args args;
    memset(&args, 0, sizeof args);
    args.exit_signal = SIGCHLD;
    long pid = syscall(SYS_clone3, &args, sizeof args);
    if (pid == 0) _exit(0);
    if (pid > 0) waitpid((pid_t)pid, NULL, 0);
    report(a, pid);
  } else if (!strcmp(a, "mount")) report(a, mount("tmpfs", "/tmp", "tmpfs", 0, NULL));
  else if (!strcmp(a, "umount-proc-keys")) report(a, umount2("/proc/keys", MNT_DETACH));
  else if (!strcmp(a, "umount-sys-firmware")) report(a, umount2("/sys/firmware", MNT_DETACH));
  else if (!strcmp(a, "keyctl")) report(a, syscall(SYS_keyctl, 0 /* GET_KEYRING_ID */, -3 /* session */, 0));
  else if (!strcmp(a, "add_key")) report(a, syscall(SYS_add_key, "user", "nook", "x", 1, -3));
  else if (!strcmp(a, "request_key")) report(a, syscall(SYS_request_key, "user", "nook", NULL, 0));
  else if (!strcmp(a, "ptrace-pid1")) { /* pid 1: the probe itself, or nook's --init */
    long rc = ptrace(PTRACE_SEIZE, 1, 0, 0); /* no stop; detached when this child exits */

    report(a, rc);
  } else if (!strcmp(a, "ptrace-root-as-user")) report_errno(a, child_ptrace_parent_as_user());
  else if (!strcmp(a, "kexec_load")) report(a, syscall(SYS_kexec_load, 0, 0, NULL, 0));
  else if (!strcmp(a, "open_by_handle_at")) {
    char h[sizeof(struct file_handle) + 128];
    memset(h, 0, sizeof h);
    ((struct file_handle *)h)->handle_bytes = 128;
    report(a, syscall(SYS_open_by_handle_at, AT_FDCWD, h, O_RDONLY));
  } else if (!strcmp(a, "bpf")) {
    char attr[128];
    memset(attr, 0, sizeof attr);
    report(a, syscall(SYS_bpf, 0 /* BPF_MAP_CREATE */, attr, sizeof attr));
  } else if (!strcmp(a, "perf_event_open")) {
    char attr[128];
    memset(attr, 0, sizeof attr);
    report(a, syscall(SYS_perf_event_open, attr, 0, -1, -1, 0));
  } else if (!strcmp(a, "userfaultfd")) report(a, syscall(SYS_userfaultfd, 1 /* UFFD_USER_MODE_ONLY */));
  else if (!strcmp(a, "io_uring_setup")) {
    char p[120];
    memset(p, 0, sizeof p);
    report(a, syscall(SYS_io_uring_setup, 1, p));
  } else if (!strcmp(a, "mseal")) report(a, syscall(462, 0, 0, 0));
  else if (!strcmp(a, "write-sysrq")) report(a, open("/proc/sysrq-trigger", O_WRONLY));
  /* the network namespace is the container's own: only the read-only mount stops this */
  else if (!strcmp(a, "write-proc-sys")) report(a, open("/proc/sys/net/ipv4/ip_forward", O_WRONLY));
  else if (!strcmp(a, "read-kcore")) printf("%s: %ld bytes\n", a, read_count("/proc/kcore"));
  else if (!strcmp(a, "read-proc-keys")) printf("%s: %ld bytes\n", a, read_count("/proc/keys"));
  else if (!strcmp(a, "read-timer-list")) printf("%s: %ld bytes\n", a, read_count("/proc/timer_list"));
  else if (!strcmp(a, "mknod-char")) report(a, mknod("/tmp/probe-null", S_IFCHR | 0666, makedev(1, 3)));
  else if (!strcmp(a, "chroot-escape")) {
    /* The classic escape: chroot into a subdirectory, walk up past it, chroot(".") */
    struct stat before, after;
    stat("/", &before);
    mkdir("/tmp/jail", 0755);
    if (chroot("/tmp/jail") < 0) {
      report(a, -1);
      return;
    }
    for (int i = 0; i < 64; i++) chdir("..");
    if (chroot(".") < 0) {
      report(a, -1);
      return;
    }
    stat("/", &after);
    printf("%s: %s\n", a, before.st_ino == after.st_ino && before.st_dev == after.st_dev ? "container root" : "ELSEWHERE");
  } else if (!strncmp(a, "raise-cap-", 10)) report(a, raise_cap(atoi(a + 10)));
  else if (!strcmp(a, "chown")) {
    int fd = open("/tmp/probe-owned", O_CREAT | O_WRONLY, 0644);
    if (fd >= 0) close(fd);
    report(a, chown("/tmp/probe-owned", 1000, 1000));
  } else if (!strcmp(a, "personality-linux32")) {
    long rc = personality(PER_LINUX32);
    personality(PER_LINUX);
    report(a, rc);
  } else if (!strcmp(a, "personality-no-randomize")) report(a, personality(ADDR_NO_RANDOMIZE));
  else if (!strcmp(a, "socket-vsock")) report(a, socket(40 /* AF_VSOCK */, SOCK_STREAM, 0));
  else if (!strcmp(a, "socket-unix")) report(a, socket(AF_UNIX, SOCK_STREAM, 0));
  else if (!strcmp(a, "bind-80")) { /* a privileged port: CAP_NET_BIND_SERVICE */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(80), .sin_addr = {htonl(INADDR_LOOPBACK)}};
    report(a, s < 0 ? -1 : bind(s, (struct sockaddr *)&sin, sizeof sin));
  }
  else if (!strcmp(a, "syscall-i386")) report_errno(a, child_i386_syscall());
  else if (!strcmp(a, "syscall-x32")) report_errno(a, child_x32_syscall());
  else if (!strcmp(a, "setresuid-1000")) report(a, syscall(SYS_setresuid, 1000, 1000, 1000));
  else if (!strcmp(a, "ids")) {
    uid_t r, e, s;
    getresuid(&r, &e, &s);
    printf("%s: uid=%u euid=%u\n", a, r, e);
  } else printf("%s: unknown attempt\n", a);
  fflush(stdout);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  for (int i = 1; i < argc; i++) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
      attempt(argv[i]);
      fflush(stdout);
      _exit(0);
    }
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) < 0) report(argv[i], -1);
    else if (WIFSIGNALED(st)) printf("%s: killed %d\n", argv[i], WTERMSIG(st));
  }
  return 0;
}
