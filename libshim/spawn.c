/*
 * libshim — spawn and handshake: clone a child for a plan and talk to it on
 * the sync socket (the ladder is drawn above child_main), wait for and signal
 * processes, and start the container monitor with a plan.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

/* Blocks until the parent sends a message; returns its type, or 0 on EOF/error. */
uint32_t child_wait_msg(int sock) {
  struct shim_msg m;
  ssize_t n;
  do n = recv(sock, &m, sizeof m, 0);
  while (n < 0 && errno == EINTR);
  return n == (ssize_t)sizeof m ? m.type : 0;
}

/* sendmsg of len bytes, with fd riding along (SCM_RIGHTS) when fd >= 0. 0 or -errno. */
int send_with_fd(int sock, const void *data, size_t len, int fd) {
  struct iovec iov = {(void *)(uintptr_t)data, len};
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } u;
  struct msghdr mh;
  memset(&mh, 0, sizeof mh);
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  if (fd >= 0) {
    memset(&u, 0, sizeof u);
    mh.msg_control = u.buf;
    mh.msg_controllen = sizeof u.buf;
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
  }
  ssize_t n;
  do n = sendmsg(sock, &mh, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return n < 0 ? -errno : 0;
}

int send_msg(int sock, uint32_t type, int32_t op, int32_t err, int32_t value, const char *text, int fd) {
  struct shim_msg m;
  memset(&m, 0, sizeof m);
  m.type = type;
  m.op = op;
  m.err = err;
  m.value = value;
  if (text) {
    struct text t = {m.text, sizeof m.text, 0};
    text_add(&t, text);
  }
  return send_with_fd(sock, &m, sizeof m, fd);
}

pid_t raw_clone(uint64_t flags, int *pidfd) {
  /* fork-like clone: no new stack, the child continues on a private copy of ours */
#if defined(__x86_64__)
  return (pid_t)syscall(SYS_clone, (unsigned long)flags, NULL, pidfd, NULL, 0);
#else
  return (pid_t)syscall(SYS_clone, (unsigned long)flags, NULL, pidfd, 0, NULL);
#endif
}

/* Every signal back to SIG_DFL. Raw rt_sigaction: glibc's sigaction refuses
 * 32 and 33 (its own), and an ignoring parent passes those down too. */
void default_signal_handlers(void) {
  struct {
    void *handler;
    unsigned long flags;
    void *restorer;
    uint64_t mask;
  } dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.handler = SIG_DFL;
  for (int sig = 1; sig < 65; sig++)
    if (sig != SIGKILL && sig != SIGSTOP) syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof(uint64_t));
}

/* Every signal back to its default action, none blocked, in a fresh child. */
void reset_signals(void) {
  /* Deno ignores some signals (SIGPIPE) and blocks others; an ignored signal
   * survives execve, so the container would start with it ignored. */
  default_signal_handlers();
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Every signal back to its default, none blocked; fds from 3 up close-on-exec. */
static void reset_signals_and_fds(void) {
  reset_signals();
  /* Deno's own descriptors must not leak into the container. */
  syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC);
}

/*
 * The handshake, as a ladder (parent = nook's Deno process, child = clone):
 *
 *   parent                                child
 *   shim_spawn: validate, socketpair,
 *   clone(CLONE_NEW*) ─────────────────►  reset signals, fds cloexec
 *                      ◄──────────────── READY
 *   write uid/gid maps (or newuidmap),
 *   join cgroup, start net helper
 *   GO ────────────────────────────────►  run ops 0..n
 *                      ◄──────────────── [SYNC tag]  … CONTINUE ─►   (optional)
 *                      ◄──────────────── [FD pty master]            (op PTY)
 *                      ◄──────────────── [PID new pid + pidfd] … CONTINUE ─► (op FORK)
 *                      ◄──────────────── ERROR {op, errno, text} → exit 125
 *   EOF on the socket  ◄──────────────── execve succeeded (socket is CLOEXEC)
 *   wait for the pid
 */
void child_main(const uint8_t *plan, uint32_t len, int sock) {
  reset_signals_and_fds();
  /* Why non-dumpable: until it execs, this child is a copy of nook — its
   * /proc/PID/{exe,fd,cwd,root,environ,mem,maps} lead to nook's own binary
   * and descriptors. Non-dumpable, those belong to the host's root and no
   * process in any container (root in its own user namespace only) can open
   * them or ptrace it. The kernel makes it dumpable again at execve.
   * The one exception: a child cloned into a new user namespace stays
   * dumpable until GO, because before GO nook writes its id maps (newuidmap
   * checks that the user owns /proc/PID) and network helpers open
   * /proc/PID/ns/net. Nothing else lives in those new namespaces before GO. */
  int fresh_userns = (plan_clone_flags(plan) & CLONE_NEWUSER) != 0;
  if (!fresh_userns) prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);

  if (send_msg(sock, SHIM_MSG_READY, -1, 0, 0, NULL, -1) < 0) _exit(CHILD_FAIL_EXIT);
  if (child_wait_msg(sock) != SHIM_MSG_GO) _exit(CHILD_FAIL_EXIT);
  if (fresh_userns) prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);

  plan_run(plan, len, sock);
}

/* Split a block of helper argvs (each string NUL-terminated, each argv ended
 * by an empty string) into argvs[i], "%PID%" replaced by pidtxt. Count or -errno. */
static int helper_argvs(const uint8_t *block, uint32_t len, char *argvs[][SHIM_MAX_ARGV + 1], const char *pidtxt) {
  if (!block || !len) return 0;
  if (block[len - 1] != 0) return -EINVAL;
  int n = 0, argc = 0;
  for (uint32_t off = 0; off < len;) {
    const char *a = (const char *)(block + off);
    off += (uint32_t)strlen(a) + 1;
    if (!*a) { /* the end of one argv */
      if (argc == 0) return -EINVAL;
      argvs[n++][argc] = NULL;
      argc = 0;
      continue;
    }
    if (n == SHIM_SPAWN_MAX_HELPERS) return -E2BIG;
    if (argc == SHIM_MAX_ARGV) return -E2BIG;
    argvs[n][argc++] = strcmp(a, "%PID%") == 0 ? (char *)(uintptr_t)pidtxt : (char *)(uintptr_t)a;
  }
  return argc ? -EINVAL : n;
}

SHIM_EXPORT int32_t shim_spawn(const uint8_t *plan, uint32_t len, int32_t *out, char *err, uint32_t errlen) {
  return shim_spawn_with(plan, len, NULL, 0, out, err, errlen);
}

SHIM_EXPORT int32_t shim_spawn_with(const uint8_t *plan, uint32_t len, const uint8_t *helpers, uint32_t hlen,
                                    int32_t *out, char *err, uint32_t errlen) {
  int rc = shim_validate(plan, len, err, errlen);
  if (rc < 0) return rc;
  char *argvs[SHIM_SPAWN_MAX_HELPERS][SHIM_MAX_ARGV + 1];
  char pidtxt[16] = "";
  int nhelpers = helper_argvs(helpers, hlen, argvs, pidtxt);
  if (nhelpers < 0) {
    struct text t = {err, errlen, 0};
    text_add(&t, "helpers: each argv must be non-empty strings ended by an empty one, at most 2 argvs of 64");
    return nhelpers;
  }
  uint64_t flags = plan_clone_flags(plan);
  if (flags & 0xff) {
    struct text t = {err, errlen, 0};
    text_add(&t, "plan header: clone flags must not carry an exit signal");
    return -EINVAL;
  }
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) return -errno;
  int pidfd = -1;
  pid_t pid = raw_clone(flags | SIGCHLD | CLONE_PIDFD, &pidfd);
  if (pid < 0) {
    int e = errno;
    close(sv[0]);
    close(sv[1]);
    return -e;
  }
  if (pid == 0) {
    close(sv[0]);
    child_main(plan, len, sv[1]);
  }
  close(sv[1]);
  /* The helpers start now, while the child gets going and while nook goes
   * back to JavaScript: newuidmap/newgidmap need only the child's pid (its
   * user namespace exists from the clone on), and the child waits for GO. */
  snprintf(pidtxt, sizeof pidtxt, "%d", (int)pid);
  for (int i = 0; i < nhelpers; i++) {
    rc = helper_start_piped(argvs[i], out + 3 + 2 * i);
    if (rc == 0) continue;
    /* no container without its helpers: end the child, collect the helpers started */
    syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    for (int j = 0; j < i; j++) {
      close(out[4 + 2 * j]);
      while (waitpid(out[3 + 2 * j], &st, 0) < 0 && errno == EINTR) {
      }
    }
    close(sv[0]);
    close(pidfd);
    struct text t = {err, errlen, 0};
    text_add(&t, "start ");
    text_add(&t, argvs[i][0]);
    return rc;
  }
  out[0] = pid;
  out[1] = sv[0];
  out[2] = pidfd;
  return 0;
}

SHIM_EXPORT int32_t shim_recv(int32_t fd, uint8_t *msg, int32_t *fd_out, int32_t timeout_ms) {
  if (fd_out) *fd_out = -1;
  struct pollfd p = {fd, POLLIN, 0};
  int pr;
  do pr = poll(&p, 1, timeout_ms);
  while (pr < 0 && errno == EINTR);
  if (pr < 0) return -errno;
  if (pr == 0) return -ETIMEDOUT;
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } u;
  struct iovec iov = {msg, sizeof(struct shim_msg)};
  struct msghdr mh;
  memset(&mh, 0, sizeof mh);
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = u.buf;
  mh.msg_controllen = sizeof u.buf;
  ssize_t n;
  do n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0) return -errno;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && fd_out) memcpy(fd_out, CMSG_DATA(c), sizeof(int));
  return (int32_t)n;
}

SHIM_EXPORT int32_t shim_send(int32_t fd, uint32_t type, int32_t value) {
  return send_msg(fd, type, -1, 0, value, NULL, -1);
}

SHIM_EXPORT int32_t shim_wait(int32_t pid, int32_t *out, int32_t nohang) {
  int st = 0;
  pid_t w;
  do w = waitpid(pid, &st, __WALL | (nohang ? WNOHANG : 0));
  while (w < 0 && errno == EINTR);
  if (w < 0) return -errno;
  if (w == 0) {
    out[0] = 0, out[1] = 0;
  } else if (WIFEXITED(st)) {
    out[0] = 1, out[1] = WEXITSTATUS(st);
  } else {
    out[0] = 2, out[1] = WTERMSIG(st);
  }
  return w;
}

SHIM_EXPORT int32_t shim_pidfd_kill(int32_t pidfd, int32_t sig) {
  return syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0 ? -errno : 0;
}

SHIM_EXPORT int32_t shim_close(int32_t fd) { return close(fd) < 0 ? -errno : 0; }

/* ---- detached containers: the monitor, and pidfds ------------------------------ */

extern char **environ;

SHIM_EXPORT int32_t shim_monitor_spawn(const uint8_t *argv_block, uint32_t len, const uint8_t *plan, uint32_t plan_len,
                                       int32_t *out, char *err, uint32_t errlen) {
  int rc = shim_validate(plan, plan_len, err, errlen);
  if (rc < 0) return rc;
  if (!argv_block || len == 0 || argv_block[len - 1] != 0) return -EINVAL;
  uint32_t argc = 0;
  for (uint32_t i = 0; i < len; i++) argc += argv_block[i] == 0;
  char **argv = calloc((size_t)argc + 1, sizeof *argv);
  if (!argv) return -ENOMEM;
  for (uint32_t off = 0, i = 0; i < argc; i++) {
    argv[i] = (char *)(uintptr_t)(argv_block + off);
    off += (uint32_t)strlen(argv[i]) + 1;
  }
  /* The plan rides in a memfd (fd 3), the control socket is fd 4; both are
   * moved above 9 first so that the dup2 actions never meet their own target. */
  int ctl[2] = {-1, -1}, mfd = -1, spare = -1;
  rc = 0;
  int tmp = (int)syscall(SYS_memfd_create, "nook-plan", MFD_CLOEXEC);
  if (tmp < 0 || write_all(tmp, (const char *)plan, plan_len) < 0) rc = -errno;
  if (tmp >= 0) mfd = fcntl(tmp, F_DUPFD_CLOEXEC, 10), close(tmp);
  if (!rc && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) < 0) rc = -errno;
  if (!rc) spare = fcntl(ctl[1], F_DUPFD_CLOEXEC, 10);
  if (!rc && (mfd < 0 || spare < 0)) rc = -errno;
  pid_t pid = -1;
  if (!rc) {
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, mfd, 3);
    posix_spawn_file_actions_adddup2(&fa, spare, 4);
    posix_spawnattr_init(&at);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);
    /* Why a new session: the monitor must not get the terminal's SIGHUP/SIGINT
     * meant for the nook that started it. */
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    int e = posix_spawn(&pid, argv[0], &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (e) rc = -e;
  }
  free(argv);
  if (mfd >= 0) close(mfd);
  if (spare >= 0) close(spare);
  if (ctl[1] >= 0) close(ctl[1]);
  if (rc) {
    if (ctl[0] >= 0) close(ctl[0]);
    return rc;
  }
  /* The monitor forks once more and its first process exits at once: reap it
   * here, so no zombie is left and the monitor is no child of nook. */
  int st;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  out[0] = ctl[0];
  out[1] = pid;
  return 0;
}

SHIM_EXPORT int32_t shim_pidfd_open(int32_t pid) {
  long fd = syscall(SYS_pidfd_open, pid, 0);
  return fd < 0 ? -errno : (int32_t)fd;
}

SHIM_EXPORT int32_t shim_pidfd_wait(int32_t pidfd, int32_t timeout_ms) {
  struct pollfd p = {pidfd, POLLIN, 0};
  int pr;
  do pr = poll(&p, 1, timeout_ms);
  while (pr < 0 && errno == EINTR);
  if (pr < 0) return -errno;
  return pr > 0 ? 1 : 0;
}

