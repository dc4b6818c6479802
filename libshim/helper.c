/*
 * libshim — helper programs: the host's own tools nook runs beside a
 * container (newuidmap/newgidmap, pasta, slirp4netns, a hook of the runtime's
 * namespaces) and the scope keeper. They need no plan: they run in nook's
 * namespaces, as nook. One entry point, shim_helper(), starts them all.
 * Also the pipes and FIFOs they talk to nook through, and the console
 * socket's fd passing.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>

/* argv as NUL-terminated strings back to back; at most SHIM_MAX_ARGV of them */
int argv_from_block(const uint8_t *block, uint32_t len, char **argv) {
  int argc = 0;
  if (!block || len == 0 || block[len - 1] != 0) return -EINVAL;
  for (uint32_t off = 0; off < len; argc++) {
    if (argc == SHIM_MAX_ARGV) return -E2BIG;
    argv[argc] = (char *)(uintptr_t)(block + off);
    off += (uint32_t)strlen(argv[argc]) + 1;
  }
  argv[argc] = NULL;
  return argc;
}

static char *helper_envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL};

struct helper_args {
  char **argv;
  const char *log;
  int err_fd;           /* >= 0: stderr goes here instead of log */
  const int32_t *keep;
  uint32_t nkeep;
  int deathsig;
  pid_t parent;
  const sigset_t *mask; /* the caller's mask, for the helper */
  int err;              /* errno of a failed step; the caller reads it after the vfork ends */
};

/* Runs on its own small stack in the caller's memory (CLONE_VM | CLONE_VFORK):
 * only syscalls, then execve or _exit. */
static int helper_child(void *arg) {
  struct helper_args *h = arg;
  /* Deno's handlers live in memory this child shares: none may run here, and
   * none survives into the helper. Ignored signals would survive execve. */
  default_signal_handlers();
  /* Why a parent-death signal: a helper must not outlive nook (kill -9 of nook
   * included); it is tied to the calling thread, which lives as long as nook. */
  if (h->deathsig > 0) {
    if (prctl(PR_SET_PDEATHSIG, (unsigned long)h->deathsig, 0, 0, 0) < 0) goto fail;
    if (getppid() != h->parent) {
      errno = ESRCH;
      goto fail;
    }
  }
  int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (nul < 0) goto fail;
  int log = h->err_fd >= 0 ? h->err_fd : *h->log ? open(h->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600) : nul;
  if (log < 0) goto fail;
  if (dup2(nul, 0) < 0 || dup2(nul, 1) < 0 || dup2(log, 2) < 0) goto fail;
  syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC);
  for (uint32_t i = 0; i < h->nkeep; i++)
    if (fcntl(h->keep[i], F_SETFD, 0) < 0) goto fail;
  sigprocmask(SIG_SETMASK, h->mask, NULL);
  execve(h->argv[0], h->argv, helper_envp);
fail:
  h->err = errno ? errno : EINVAL;
  _exit(127);
}

/* The scope keeper: a copy of one thread of nook that waits for nook's exit. */
static int32_t keeper_start(int32_t *out) {
  pid_t parent = getpid();
  pid_t pid = raw_clone(SIGCHLD, NULL);
  if (pid < 0) return -errno;
  if (pid > 0) {
    out[0] = pid;
    out[1] = -1;
    return 0;
  }
  /* A copy of one thread of nook: raw syscalls only (see the top of plan.c). */
  syscall(SYS_close_range, 0u, ~0u, 0u);
  reset_signals();
  prctl(PR_SET_NAME, "nook-keeper", 0, 0, 0);
  set_title("nook-keeper");
  /* Why a pidfd and not PR_SET_PDEATHSIG: the death signal follows the
   * thread that cloned us, and FFI calls run on pool threads that come and go. */
  int pfd = (int)syscall(SYS_pidfd_open, parent, 0u);
  if (pfd < 0 || getppid() != parent) _exit(0);
  struct pollfd p = {pfd, POLLIN, 0};
  while (poll(&p, 1, -1) < 0 && errno == EINTR) {
  }
  _exit(0);
}

/* Read fd to EOF into err (NUL-terminated, the rest dropped). */
static void collect(int fd, char *err, uint32_t errlen) {
  uint32_t got = 0;
  for (;;) {
    char tmp[512];
    ssize_t n = read(fd, tmp, sizeof tmp);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    for (ssize_t i = 0; i < n && err && got + 1 < errlen; i++) err[got++] = tmp[i];
  }
  if (err && errlen) err[got < errlen ? got : errlen - 1] = 0;
}

/* Start argv (a helper run to its end) with its stderr into a new pipe, not
 * waiting: out[0] = pid, out[1] = the pipe's read end. 0 or -errno. For
 * shim_spawn_with, which starts its helpers right after the clone. */
int32_t helper_start_piped(char **argv, int32_t *out) {
  int errp[2];
  if (pipe2(errp, O_CLOEXEC) < 0) return -errno;
  size_t stack_size = 64 * 1024;
  void *stack = mmap(NULL, stack_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) {
    int e = errno;
    close(errp[0]), close(errp[1]);
    return -e;
  }
  sigset_t all, old, none;
  sigfillset(&all);
  sigemptyset(&none);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  struct helper_args h = {argv, "", errp[1], NULL, 0, 0, getpid(), &none, 0};
  pid_t pid = clone(helper_child, (char *)stack + stack_size, CLONE_VM | CLONE_VFORK | SIGCHLD, &h);
  int e = errno;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  munmap(stack, stack_size);
  close(errp[1]);
  if (pid < 0 || h.err) {
    if (pid > 0) {
      int st;
      while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
      }
      e = h.err;
    }
    close(errp[0]);
    return -e;
  }
  out[0] = pid;
  out[1] = errp[0];
  return 0;
}

SHIM_EXPORT int32_t shim_helper_collect(int32_t pid, int32_t errfd, char *err, uint32_t errlen) {
  collect(errfd, err, errlen);
  close(errfd);
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR) return -errno;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

SHIM_EXPORT int32_t shim_helper(const uint8_t *argv_block, uint32_t len, const char *log, const int32_t *keep,
                                uint32_t nkeep, int32_t deathsig, uint32_t flags, int32_t *out, char *err,
                                uint32_t errlen) {
  if (err && errlen) err[0] = 0;
  if (flags & ~(SHIM_HELPER_WAIT | SHIM_HELPER_KEEPER) || !out) return -EINVAL;
  if (flags & SHIM_HELPER_KEEPER) return keeper_start(out);
  char *argv[SHIM_MAX_ARGV + 1];
  int argc = argv_from_block(argv_block, len, argv);
  if (argc < 0) return argc;
  if (!log || nkeep > 64) return -EINVAL;
  int wait_for_it = (flags & SHIM_HELPER_WAIT) != 0;
  int errp[2] = {-1, -1};
  if (wait_for_it && pipe2(errp, O_CLOEXEC) < 0) return -errno;
  size_t stack_size = 64 * 1024;
  void *stack = mmap(NULL, stack_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) {
    int e = errno;
    if (errp[0] >= 0) close(errp[0]), close(errp[1]);
    return -e;
  }
  sigset_t all, old, none;
  sigfillset(&all);
  sigemptyset(&none);
  /* No signal handler of the caller may run in the child before it resets them. */
  pthread_sigmask(SIG_SETMASK, &all, &old);
  struct helper_args h = {argv, log, errp[1], keep, nkeep, deathsig, getpid(), &none, 0};
  int pidfd = -1;
  /* CLONE_VFORK: we resume once the child has exec'd or died, so h.err is final. */
  pid_t pid = clone(helper_child, (char *)stack + stack_size, CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, &h, &pidfd);
  int e = errno;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  munmap(stack, stack_size);
  if (errp[1] >= 0) close(errp[1]);
  if (pid < 0) {
    if (errp[0] >= 0) close(errp[0]);
    return -e;
  }
  int st;
  if (h.err) {
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    close(pidfd);
    if (errp[0] >= 0) close(errp[0]);
    return -h.err;
  }
  if (!wait_for_it) {
    out[0] = pid;
    out[1] = pidfd;
    return 0;
  }
  collect(errp[0], err, errlen);
  close(errp[0]);
  close(pidfd);
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR) return -errno;
  out[0] = pid;
  out[1] = -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

SHIM_EXPORT int32_t shim_helper_wait(int32_t fd, int32_t pidfd, int32_t timeout_ms, uint8_t *buf, uint32_t len) {
  struct pollfd p[2] = {{fd, POLLIN, 0}, {pidfd, POLLIN, 0}};
  for (;;) {
    int pr = poll(p, 2, timeout_ms);
    if (pr < 0 && errno == EINTR) continue;
    if (pr < 0) return -errno;
    if (pr == 0) return -ETIMEDOUT;
    /* Data (or EOF) first: a helper may write its news and exit right after. */
    if (fd >= 0 && p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n;
      do n = read(fd, buf, len);
      while (n < 0 && errno == EINTR);
      if (n >= 0) return (int32_t)n;
      if (errno != EAGAIN) return -errno;
    }
    if (p[1].revents & POLLIN) return -ECHILD;
  }
}

SHIM_EXPORT int32_t shim_pipe(int32_t *out) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) < 0) return -errno;
  out[0] = fds[0];
  out[1] = fds[1];
  return 0;
}

SHIM_EXPORT int32_t shim_fifo(const char *path) {
  if (mkfifo(path, 0600) < 0) return -errno;
  /* Non-blocking, so opening needs no writer yet; the helper opens the other end. */
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  return fd < 0 ? -errno : fd;
}

SHIM_EXPORT int32_t shim_mkfifo(const char *path, uint32_t mode) {
  return mkfifo(path, (mode_t)mode) < 0 ? -errno : 0;
}

SHIM_EXPORT int32_t shim_send_fd(const char *path, int32_t fd, const char *name) {
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  size_t n = strlen(path);
  if (n == 0 || n >= sizeof sa.sun_path) return -ENAMETOOLONG;
  memcpy(sa.sun_path, path, n);
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return -errno;
  int rc;
  do rc = connect(s, (struct sockaddr *)&sa, sizeof sa);
  while (rc < 0 && errno == EINTR);
  if (rc < 0) {
    int e = errno;
    close(s);
    return -e;
  }
  /* some data must ride along: a stream socket drops control data sent alone */
  rc = *name ? send_with_fd(s, name, strlen(name), fd) : send_with_fd(s, "/", 1, fd);
  close(s);
  return rc;
}

/* The hook's child: a copy of one thread of nook, so raw syscalls only. */

/* Port forwarding by a network helper: is the host port free to bind? */
SHIM_EXPORT int32_t shim_port_probe(const char *ip, int32_t port, int32_t udp) {
  union {
    struct sockaddr sa;
    struct sockaddr_in v4;
    struct sockaddr_in6 v6;
  } a;
  memset(&a, 0, sizeof a);
  socklen_t len;
  if (port < 0 || port > 65535) return -EINVAL;
  if (inet_pton(AF_INET, ip, &a.v4.sin_addr) == 1) {
    a.v4.sin_family = AF_INET;
    a.v4.sin_port = htons((uint16_t)port);
    len = sizeof a.v4;
  } else if (inet_pton(AF_INET6, ip, &a.v6.sin6_addr) == 1) {
    a.v6.sin6_family = AF_INET6;
    a.v6.sin6_port = htons((uint16_t)port);
    len = sizeof a.v6;
  } else {
    return -EINVAL;
  }
  int s = socket(a.sa.sa_family, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
  if (s < 0) return -errno;
  int one = 1;
  if (!udp) setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  int rc = bind(s, &a.sa, len) < 0 || getsockname(s, &a.sa, &len) < 0 ? -errno : 0;
  close(s);
  if (rc < 0) return rc;
  return a.sa.sa_family == AF_INET ? ntohs(a.v4.sin_port) : ntohs(a.v6.sin6_port);
}
