/*
 * libshim — plan interpreter. See shim.h for the plan format and the API.
 *
 * Rules for everything reachable from child_main():
 *   - raw syscalls only where glibc would coordinate with other threads
 *     (setresuid/setresgid/setgroups broadcast to every thread glibc knows of,
 *     and those threads do not exist in the child: it would hang);
 *   - no malloc, no stdio, no locale: memory comes from the stack or mmap;
 *   - every failure is reported as {op index, errno, text} and the child exits.
 */
#define _GNU_SOURCE
#include "shim.h"

#include <errno.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define SHIM_EXPORT __attribute__((visibility("default")))
#define CHILD_FAIL_EXIT 125

/* ---- small string helpers (async-signal-safe) ----------------------------- */

struct text {
  char *buf;
  size_t cap, len;
};

static void text_add(struct text *t, const char *s) {
  if (!t->buf || t->cap == 0) return;
  while (s && *s && t->len + 1 < t->cap) t->buf[t->len++] = *s++;
  t->buf[t->len] = 0;
}

static void text_num(struct text *t, long long v) {
  char tmp[24];
  int i = 0;
  unsigned long long u = v < 0 ? (unsigned long long)(-v) : (unsigned long long)v;
  do tmp[i++] = (char)('0' + u % 10); while ((u /= 10) && i < 22);
  if (v < 0) tmp[i++] = '-';
  char out[24];
  int j = 0;
  while (i) out[j++] = tmp[--i];
  out[j] = 0;
  text_add(t, out);
}

/* ---- plan reader ------------------------------------------------------------ */

struct rd {
  const uint8_t *p, *end;
};

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t le32(const uint8_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static uint64_t le64(const uint8_t *p) { return (uint64_t)le32(p) | ((uint64_t)le32(p + 4) << 32); }

static int rd_u64(struct rd *r, uint64_t *v) {
  if (r->end - r->p < 8) return -1;
  *v = le64(r->p);
  r->p += 8;
  return 0;
}

static int rd_u32(struct rd *r, uint32_t *v) {
  if (r->end - r->p < 4) return -1;
  *v = le32(r->p);
  r->p += 4;
  return 0;
}

/* A str is n bytes ending in NUL; the pointer points into the plan itself. */
static int rd_str(struct rd *r, const char **s) {
  uint32_t n;
  if (rd_u32(r, &n) < 0 || n < 1 || (uint64_t)(r->end - r->p) < n || r->p[n - 1] != 0) return -1;
  *s = (const char *)r->p;
  r->p += n;
  return 0;
}

static int rd_bytes(struct rd *r, const uint8_t **b, uint32_t *n) {
  if (rd_u32(r, n) < 0 || (uint64_t)(r->end - r->p) < *n) return -1;
  *b = r->p;
  r->p += *n;
  return 0;
}

/* A strv: count, then count strs. `items` is left at the first item. */
static int rd_strv(struct rd *r, uint32_t *count, struct rd *items) {
  if (rd_u32(r, count) < 0 || *count > (uint32_t)(r->end - r->p) / 5) return -1;
  *items = *r;
  for (uint32_t i = 0; i < *count; i++) {
    const char *s;
    if (rd_str(r, &s) < 0) return -1;
  }
  items->end = r->p;
  return 0;
}

static int rd_u64v(struct rd *r, uint32_t *count, const uint8_t **items) {
  if (rd_u32(r, count) < 0 || *count > (uint32_t)(r->end - r->p) / 8) return -1;
  *items = r->p;
  r->p += (size_t)*count * 8;
  return 0;
}

/* ---- context of one plan run ---------------------------------------------- */

struct ctx {
  int dry;        /* validating only: parse, do not act */
  int sock;       /* sync socket (child side), -1 when validating */
  int root_fd;    /* ROOT: targets resolve inside this directory, -1 = plain lookup */
  int op;         /* index of the op being run */
  char *err;      /* validation error text (dry mode) */
  uint32_t errlen;
  int barrier_fd; /* BARRIER_OPEN: the FIFO BARRIER_WAIT reads from, -1 = none */
  int helper_fd;  /* the sealed memfd holding nook-exec, -1 = not made yet */
};

/* sendmsg of len bytes, with fd riding along (SCM_RIGHTS) when fd >= 0. 0 or -errno. */
static int send_with_fd(int sock, const void *data, size_t len, int fd) {
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

static int send_msg(int sock, uint32_t type, int32_t op, int32_t err, int32_t value, const char *text, int fd) {
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

/* Blocks until the parent sends a message; returns its type, or 0 on EOF/error. */
static uint32_t child_wait_msg(int sock) {
  struct shim_msg m;
  ssize_t n;
  do n = recv(sock, &m, sizeof m, 0);
  while (n < 0 && errno == EINTR);
  return n == (ssize_t)sizeof m ? m.type : 0;
}

/* Report the failure of the current op and exit: the child never returns. */
static void __attribute__((noreturn)) child_fail(struct ctx *c, int err, const char *what, const char *arg) {
  char buf[SHIM_MSG_TEXT];
  struct text t = {buf, sizeof buf, 0};
  text_add(&t, what);
  if (arg) {
    text_add(&t, " \"");
    text_add(&t, arg);
    text_add(&t, "\"");
  }
  send_msg(c->sock, SHIM_MSG_ERROR, c->op, err, 0, buf, -1);
  _exit(CHILD_FAIL_EXIT);
}

/* A validation failure: remember the text, return -EINVAL. */
static int bad(struct ctx *c, const char *what) {
  struct text t = {c->err, c->errlen, 0};
  if (c->op < 0) {
    text_add(&t, "plan header: ");
  } else {
    text_add(&t, "plan op ");
    text_num(&t, c->op);
    text_add(&t, ": ");
  }
  text_add(&t, what);
  return -EINVAL;
}

static pid_t raw_clone(uint64_t flags, int *pidfd) {
  /* fork-like clone: no new stack, the child continues on a private copy of ours */
#if defined(__x86_64__)
  return (pid_t)syscall(SYS_clone, (unsigned long)flags, NULL, pidfd, NULL, 0);
#else
  return (pid_t)syscall(SYS_clone, (unsigned long)flags, NULL, pidfd, 0, NULL);
#endif
}

/* ---- path targets: inside ROOT when it is set ------------------------------ */

static int open_in_root(struct ctx *c, const char *path, uint64_t flags, uint64_t mode) {
  if (c->root_fd < 0) return open(path, (int)flags | O_CLOEXEC, (mode_t)mode);
  /* Why openat2(RESOLVE_IN_ROOT): the rootfs belongs to the image or the user.
   * A symlink planted in it ("/etc/hosts" -> "/home/you/.ssh/...") must resolve
   * inside the rootfs, never to the host, while we still see the host. */
  struct open_how how;
  memset(&how, 0, sizeof how);
  how.flags = flags | O_CLOEXEC;
  how.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  long fd;
  do fd = syscall(SYS_openat2, c->root_fd, path, &how, sizeof how);
  while (fd < 0 && errno == EAGAIN);
  return (int)fd;
}

/* "/proc/self/fd/N" for an O_PATH fd, so mount(2) acts on what openat2 found. */
static const char *fd_path(char *buf, size_t n, int fd) {
  struct text t = {buf, n, 0};
  text_add(&t, "/proc/self/fd/");
  text_num(&t, fd);
  return buf;
}

/* Split "/a/b/c" into parent "/a/b" (in buf) and base "c". */
static int split_path(const char *path, char *buf, size_t n, const char **base) {
  size_t len = strlen(path);
  if (len == 0 || len >= n) return -1;
  memcpy(buf, path, len + 1);
  while (len > 1 && buf[len - 1] == '/') buf[--len] = 0;
  char *slash = strrchr(buf, '/');
  if (!slash) {
    *base = path;
    buf[0] = '.';
    buf[1] = 0;
    return 0;
  }
  *base = path + (slash - buf) + 1;
  if (slash == buf) slash[1] = 0;
  else *slash = 0;
  return 0;
}

/* open the parent directory of path (inside ROOT) and hand back the last component */
static int open_parent(struct ctx *c, const char *path, char *buf, size_t n, const char **base) {
  if (split_path(path, buf, n, base) < 0) {
    errno = ENAMETOOLONG;
    return -1;
  }
  return open_in_root(c, buf, O_PATH | O_DIRECTORY, 0);
}

/* ---- child: ops ------------------------------------------------------------- */

static void *child_alloc(size_t size) {
  void *p = mmap(NULL, size ? size : 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

/* NULL-terminated char*[] from a strv, pointing into the plan */
static char **strv_array(struct rd items, uint32_t count) {
  char **v = child_alloc(((size_t)count + 1) * sizeof(char *));
  if (!v) return NULL;
  for (uint32_t i = 0; i < count; i++) rd_str(&items, (const char **)&v[i]);
  v[count] = NULL;
  return v;
}

static int child_mount_target(struct ctx *c, const char *target, char *buf, size_t n, int *fd_out) {
  *fd_out = -1;
  if (c->root_fd < 0) return 0;
  int fd = open_in_root(c, target, O_PATH, 0);
  if (fd < 0) return -1;
  *fd_out = fd;
  fd_path(buf, n, fd);
  return 0;
}

static void reaper(pid_t child) __attribute__((noreturn));

/* ---- the exec helper -----------------------------------------------------------
 * Every container process is exec'd through nook-exec, run from a sealed memfd,
 * never from a file: the top of exec_helper.c says why (CVE-2019-5736). */
#include "exec_helper.h"

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif
#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC 0x0020
#endif

/* The memfd with nook-exec in it, made once per child: before the seccomp
 * filter (which may not allow memfd_create) and kept close-on-exec. */
static int helper_fd(struct ctx *c) {
  if (c->helper_fd >= 0) return c->helper_fd;
  /* MFD_EXEC: kernels with vm.memfd_noexec want executable memfds asked for;
   * older kernels do not know the flag (EINVAL) and allow exec anyway. */
  int fd = (int)syscall(SYS_memfd_create, "nook-exec", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
  if (fd < 0 && errno == EINVAL) fd = (int)syscall(SYS_memfd_create, "nook-exec", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) child_fail(c, errno, "create the exec helper's memfd", NULL);
  size_t off = 0;
  while (off < sizeof nook_exec_helper) {
    ssize_t w = write(fd, nook_exec_helper + off, sizeof nook_exec_helper - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) child_fail(c, w < 0 ? errno : EIO, "write the exec helper into its memfd", NULL);
    off += (size_t)w;
  }
  /* Read-only and sealed: nothing, not even a process holding it through
   * /proc/PID/exe, can change what the next container process runs. */
  if (fchmod(fd, 0555) < 0) child_fail(c, errno, "make the exec helper read-only", NULL);
  if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0)
    child_fail(c, errno, "seal the exec helper", NULL);
  fcntl(fd, F_ADD_SEALS, F_SEAL_EXEC); /* newer kernels: no chmod either; older ones say EINVAL */
  fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL);
  c->helper_fd = fd;
  return fd;
}

/* Decimal of v into buf (at least 12 bytes). */
static const char *decimal(char *buf, long long v) {
  struct text t = {buf, 12, 0};
  text_num(&t, v);
  return buf;
}

/* execveat the helper with argv; returns only on failure, with errno set. */
static void exec_helper(struct ctx *c, char **argv, char **envp) {
  int fd = helper_fd(c);
  /* the helper may have been handed out by KEEP_FDS or OPEN_FD: never to the program */
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  /* AT_EMPTY_PATH on a close-on-exec fd is fine for an ELF program (not for a script) */
  syscall(SYS_execveat, fd, "", argv, envp, AT_EMPTY_PATH);
}

/*
 * Run op number c->op (already read into `r`) — or, when c->dry, only check
 * that its fields parse. Every case reads all its fields first, then acts.
 */
static int run_op(struct ctx *c, uint16_t opcode, struct rd *r) {
  const char *s1, *s2, *s3, *s4;
  uint64_t a, b, d, e, f, g;
  uint32_t n1, n2, n3;
  struct rd v1, v2, v3;
  const uint8_t *bytes;
  char pbuf[4096], fbuf[32];
  const char *base;
  int fd;

#define NEED(x) \
  if ((x) < 0) return bad(c, "truncated or malformed fields")
#define DONE_PARSING \
  if (r->p != r->end) return bad(c, "trailing bytes after the fields"); \
  if (c->dry) return 0

  switch (opcode) {
  case SHIM_OP_MOUNT: {
    NEED(rd_str(r, &s1)); NEED(rd_str(r, &s2)); NEED(rd_str(r, &s3)); NEED(rd_u64(r, &a)); NEED(rd_str(r, &s4));
    DONE_PARSING;
    const char *target = s2;
    if (child_mount_target(c, s2, fbuf, sizeof fbuf, &fd) < 0) child_fail(c, errno, "resolve mount target", s2);
    if (fd >= 0) target = fbuf;
    if (mount(*s1 ? s1 : NULL, target, *s3 ? s3 : NULL, (unsigned long)a, *s4 ? s4 : NULL) < 0)
      child_fail(c, errno, "mount on", s2);
    if (fd >= 0) close(fd);
    return 0;
  }
  case SHIM_OP_MOUNT_SETATTR: {
    NEED(rd_str(r, &s1)); NEED(rd_u64(r, &a)); NEED(rd_u64(r, &b)); NEED(rd_u64(r, &d)); NEED(rd_u64(r, &e));
    DONE_PARSING;
    struct mount_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.attr_set = a;
    attr.attr_clr = b;
    attr.propagation = d;
    unsigned int fl = e ? AT_RECURSIVE : 0;
    int dirfd = AT_FDCWD;
    const char *path = s1;
    if (c->root_fd >= 0) {
      dirfd = open_in_root(c, s1, O_PATH, 0);
      if (dirfd < 0) child_fail(c, errno, "resolve mount target", s1);
      path = "";
      fl |= AT_EMPTY_PATH;
    }
    if (syscall(SYS_mount_setattr, dirfd, path, fl, &attr, sizeof attr) < 0) child_fail(c, errno, "mount_setattr on", s1);
    if (dirfd >= 0) close(dirfd);
    return 0;
  }
  case SHIM_OP_UMOUNT: {
    NEED(rd_str(r, &s1)); NEED(rd_u64(r, &a));
    DONE_PARSING;
    const char *target = s1;
    if (child_mount_target(c, s1, fbuf, sizeof fbuf, &fd) < 0) child_fail(c, errno, "resolve umount target", s1);
    if (fd >= 0) target = fbuf;
    if (umount2(target, (int)a) < 0) child_fail(c, errno, "umount", s1);
    if (fd >= 0) close(fd);
    return 0;
  }
  case SHIM_OP_MKDIR: {
    NEED(rd_str(r, &s1)); NEED(rd_u64(r, &a));
    DONE_PARSING;
    fd = open_in_root(c, s1, O_PATH | O_DIRECTORY, 0);
    if (fd >= 0) { close(fd); return 0; } /* already a directory */
    int dir = open_parent(c, s1, pbuf, sizeof pbuf, &base);
    if (dir < 0) child_fail(c, errno, "open parent directory of", s1);
    if (mkdirat(dir, base, (mode_t)a) < 0 && errno != EEXIST) child_fail(c, errno, "mkdir", s1);
    close(dir);
    return 0;
  }
  case SHIM_OP_MKFILE: {
    NEED(rd_str(r, &s1)); NEED(rd_u64(r, &a));
    DONE_PARSING;
    fd = open_in_root(c, s1, O_PATH, 0);
    if (fd < 0) fd = open_in_root(c, s1, O_CREAT | O_WRONLY | O_NOCTTY, a);
    if (fd < 0) child_fail(c, errno, "create file", s1);
    close(fd);
    return 0;
  }
  case SHIM_OP_SYMLINK: {
    NEED(rd_str(r, &s1)); NEED(rd_str(r, &s2));
    DONE_PARSING;
    int dir = open_parent(c, s2, pbuf, sizeof pbuf, &base);
    if (dir < 0) child_fail(c, errno, "open parent directory of", s2);
    if (symlinkat(s1, dir, base) < 0 && errno != EEXIST) child_fail(c, errno, "symlink", s2);
    close(dir);
    return 0;
  }
  case SHIM_OP_WRITE: {
    NEED(rd_str(r, &s1)); NEED(rd_bytes(r, &bytes, &n1)); NEED(rd_u64(r, &a)); NEED(rd_u64(r, &b));
    DONE_PARSING;
    fd = open_in_root(c, s1, (a & ~(uint64_t)O_ACCMODE) | O_WRONLY | O_NOCTTY, b);
    if (fd < 0) child_fail(c, errno, "open for writing", s1);
    /* Why check the filesystem: a write meant for procfs (a sysctl, an LSM
     * label in /proc/self/attr) must not land in a file that a mount or a
     * symlink of the container's put where procfs should be. */
    struct statfs sfs;
    if (!strncmp(s1, "/proc/", 6) && (fstatfs(fd, &sfs) < 0 || sfs.f_type != PROC_SUPER_MAGIC))
      child_fail(c, EXDEV, "write outside procfs", s1);
    for (uint32_t off = 0; off < n1;) {
      ssize_t w = write(fd, bytes + off, n1 - off);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) child_fail(c, w < 0 ? errno : EIO, "write", s1);
      off += (uint32_t)w;
    }
    close(fd);
    return 0;
  }
  case SHIM_OP_ROOT: {
    NEED(rd_str(r, &s1));
    DONE_PARSING;
    if (c->root_fd >= 0) close(c->root_fd);
    c->root_fd = -1;
    if (*s1) {
      c->root_fd = open(s1, O_PATH | O_DIRECTORY | O_CLOEXEC);
      if (c->root_fd < 0) child_fail(c, errno, "open root directory", s1);
    }
    return 0;
  }
  case SHIM_OP_PIVOT_ROOT: {
    NEED(rd_str(r, &s1));
    DONE_PARSING;
    fd = open(s1, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
    if (fd < 0) child_fail(c, errno, "open new root", s1);
    if (fchdir(fd) < 0) child_fail(c, errno, "chdir to new root", s1);
    /* pivot_root(".", "."): the old root is stacked on top of the new one and
     * detached right away, so no put_old directory is needed in the rootfs. */
    if (syscall(SYS_pivot_root, ".", ".") < 0) child_fail(c, errno, "pivot_root to", s1);
    if (umount2(".", MNT_DETACH) < 0) child_fail(c, errno, "detach the old root", NULL);
    if (chdir("/") < 0) child_fail(c, errno, "chdir", "/");
    close(fd);
    if (c->root_fd >= 0) close(c->root_fd);
    c->root_fd = -1;
    return 0;
  }
  case SHIM_OP_CHROOT: {
    NEED(rd_str(r, &s1));
    DONE_PARSING;
    if (chroot(s1) < 0) child_fail(c, errno, "chroot", s1);
    if (chdir("/") < 0) child_fail(c, errno, "chdir", "/");
    if (c->root_fd >= 0) close(c->root_fd);
    c->root_fd = -1;
    return 0;
  }
  case SHIM_OP_CHDIR: {
    NEED(rd_str(r, &s1));
    DONE_PARSING;
    if (chdir(s1) < 0) child_fail(c, errno, "chdir", s1);
    /* Why ask the kernel where we are: a directory reached through an fd that
     * is still open (/proc/self/fd/N, a symlink to it) can lie outside the
     * root; the raw getcwd then answers "(unreachable)..." instead of a path. */
    if (syscall(SYS_getcwd, pbuf, sizeof pbuf) < 0 || pbuf[0] != '/')
      child_fail(c, EXDEV, "working directory outside the container", s1);
    return 0;
  }
  case SHIM_OP_SETHOSTNAME:
  case SHIM_OP_SETDOMAINNAME: {
    NEED(rd_str(r, &s1));
    DONE_PARSING;
    int rc = opcode == SHIM_OP_SETHOSTNAME ? sethostname(s1, strlen(s1)) : setdomainname(s1, strlen(s1));
    if (rc < 0) child_fail(c, errno, opcode == SHIM_OP_SETHOSTNAME ? "sethostname" : "setdomainname", s1);
    return 0;
  }
  case SHIM_OP_SETRLIMIT: {
    NEED(rd_u64(r, &a)); NEED(rd_u64(r, &b)); NEED(rd_u64(r, &d));
    DONE_PARSING;
    struct rlimit rl = {(rlim_t)b, (rlim_t)d};
    if (setrlimit((int)a, &rl) < 0) child_fail(c, errno, "setrlimit", NULL);
    return 0;
  }
  case SHIM_OP_UMASK: {
    NEED(rd_u64(r, &a));
    DONE_PARSING;
    umask((mode_t)a);
    return 0;
  }
  case SHIM_OP_SETID: {
    const uint8_t *groups;
    NEED(rd_u64(r, &a)); NEED(rd_u64(r, &b)); NEED(rd_u64v(r, &n1, &groups)); NEED(rd_u64(r, &d));
    DONE_PARSING;
    if (d & SHIM_SETID_KEEP_CAPS && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) child_fail(c, errno, "keep capabilities", NULL);
    if (!(d & SHIM_SETID_SKIP_SETGROUPS)) {
      gid_t *gids = child_alloc((size_t)n1 * sizeof(gid_t));
      if (!gids) child_fail(c, ENOMEM, "setgroups", NULL);
      for (uint32_t i = 0; i < n1; i++) gids[i] = (gid_t)le64(groups + (size_t)i * 8);
      /* raw syscalls: glibc's wrappers would signal threads that only exist in the parent */
      if (syscall(SYS_setgroups, (size_t)n1, gids) < 0) child_fail(c, errno, "setgroups", NULL);
    }
    if (syscall(SYS_setresgid, (gid_t)b, (gid_t)b, (gid_t)b) < 0) child_fail(c, errno, "setgid", NULL);
    if (syscall(SYS_setresuid, (uid_t)a, (uid_t)a, (uid_t)a) < 0) child_fail(c, errno, "setuid", NULL);
    return 0;
  }
  case SHIM_OP_CAPS: {
    NEED(rd_u64(r, &a)); NEED(rd_u64(r, &b)); NEED(rd_u64(r, &d)); NEED(rd_u64(r, &e)); NEED(rd_u64(r, &f));
    NEED(rd_u64(r, &g));
    DONE_PARSING;
    if (g > 63) child_fail(c, EINVAL, "last capability out of range", NULL);
    for (uint64_t cap = 0; cap <= g; cap++)
      if (!(a >> cap & 1) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
        child_fail(c, errno, "drop from the bounding set", NULL);
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    data[0].effective = (uint32_t)b, data[1].effective = (uint32_t)(b >> 32);
    data[0].permitted = (uint32_t)d, data[1].permitted = (uint32_t)(d >> 32);
    data[0].inheritable = (uint32_t)e, data[1].inheritable = (uint32_t)(e >> 32);
    if (syscall(SYS_capset, &hdr, data) < 0) child_fail(c, errno, "capset", NULL);
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
      child_fail(c, errno, "clear ambient capabilities", NULL);
    for (uint64_t cap = 0; cap <= g; cap++)
      if (f >> cap & 1 && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
        child_fail(c, errno, "raise ambient capability", NULL);
    return 0;
  }
  case SHIM_OP_NO_NEW_PRIVS: {
    DONE_PARSING;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) child_fail(c, errno, "set no_new_privs", NULL);
    return 0;
  }
  case SHIM_OP_SECCOMP: {
    NEED(rd_bytes(r, &bytes, &n1)); NEED(rd_u64(r, &a));
    if (n1 == 0 || n1 % sizeof(struct sock_filter) || n1 / sizeof(struct sock_filter) > BPF_MAXINSNS)
      return bad(c, "seccomp program must be 1 to 4096 whole instructions");
    DONE_PARSING;
    helper_fd(c); /* memfd_create and execveat may be denied by the filter */
    struct sock_fprog prog = {(unsigned short)(n1 / sizeof(struct sock_filter)), (struct sock_filter *)(uintptr_t)bytes};
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, (unsigned int)a, &prog) < 0)
      child_fail(c, errno, "load seccomp filter", NULL);
    return 0;
  }
  case SHIM_OP_LOOPBACK_UP: {
    DONE_PARSING;
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) child_fail(c, errno, "socket for", "lo");
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, "lo", 3);
    if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) child_fail(c, errno, "get flags of", "lo");
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) child_fail(c, errno, "bring up", "lo");
    close(s);
    return 0;
  }
  case SHIM_OP_SETNS: {
    NEED(rd_str(r, &s1)); NEED(rd_u64(r, &a));
    DONE_PARSING;
    fd = open(s1, O_RDONLY | O_CLOEXEC);
    if (fd < 0) child_fail(c, errno, "open namespace", s1);
    if (setns(fd, (int)a) < 0) child_fail(c, errno, "setns", s1);
    close(fd);
    return 0;
  }
  case SHIM_OP_UNSHARE: {
    NEED(rd_u64(r, &a));
    DONE_PARSING;
    if (syscall(SYS_unshare, (unsigned long)a) < 0) child_fail(c, errno, "unshare", NULL);
    return 0;
  }
  case SHIM_OP_FORK: {
    NEED(rd_u64(r, &a));
    DONE_PARSING;
    /* The new process becomes a child of nook itself (CLONE_PARENT), so nook can
     * wait for it; this one reports its pid and pidfd and leaves. The new
     * process waits for CONTINUE so the PID message always comes first. */
    int pidfd = -1;
    pid_t pid = raw_clone(CLONE_PARENT | CLONE_PIDFD | (a & ~(uint64_t)0xff), &pidfd);
    if (pid < 0) child_fail(c, errno, "fork", NULL);
    if (pid == 0) {
      if (child_wait_msg(c->sock) != SHIM_MSG_CONTINUE) _exit(CHILD_FAIL_EXIT);
      return 0;
    }
    send_msg(c->sock, SHIM_MSG_PID, c->op, 0, pid, NULL, pidfd);
    _exit(0);
  }
  case SHIM_OP_INIT: {
    DONE_PARSING;
    sigset_t all, old;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &old);
    pid_t pid = raw_clone(SIGCHLD, NULL);
    if (pid < 0) child_fail(c, errno, "fork the init's child", NULL);
    if (pid == 0) {
      sigprocmask(SIG_SETMASK, &old, NULL);
      return 0;
    }
    close(c->sock);
    c->sock = -1;
    /* pid 1 becomes nook-init from the sealed memfd rather than staying a
     * copy of nook (whose /proc/1/exe would be nook's own binary). */
    char npid[12];
    char *iargv[] = {"nook-init", (char *)decimal(npid, pid), NULL}, *ienvp[] = {NULL};
    exec_helper(c, iargv, ienvp);
    reaper(pid); /* no exec helper: stay, non-dumpable, as the reaper */
  }
  case SHIM_OP_PTY: {
    NEED(rd_str(r, &s1)); NEED(rd_u64(r, &a)); NEED(rd_u64(r, &b));
    DONE_PARSING;
    int m = open(s1, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0) child_fail(c, errno, "open pty master", s1);
    int unlock = 0;
    if (ioctl(m, TIOCSPTLCK, &unlock) < 0) child_fail(c, errno, "unlock pty", s1);
    struct winsize ws = {(unsigned short)a, (unsigned short)b, 0, 0};
    if ((a || b) && ioctl(m, TIOCSWINSZ, &ws) < 0) child_fail(c, errno, "set pty size", s1);
    int sl = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY);
    if (sl < 0) child_fail(c, errno, "open pty slave", s1);
    if (setsid() < 0) child_fail(c, errno, "setsid", NULL);
    if (ioctl(sl, TIOCSCTTY, 0) < 0) child_fail(c, errno, "set controlling terminal", NULL);
    for (int i = 0; i < 3; i++)
      if (dup2(sl, i) < 0) child_fail(c, errno, "dup pty slave", NULL);
    if (sl > 2) close(sl);
    if (send_msg(c->sock, SHIM_MSG_FD, c->op, 0, SHIM_FD_PTY_MASTER, NULL, m) < 0)
      child_fail(c, EPIPE, "send pty master", NULL);
    close(m);
    return 0;
  }
  case SHIM_OP_SYNC: {
    NEED(rd_u64(r, &a));
    DONE_PARSING;
    if (send_msg(c->sock, SHIM_MSG_SYNC, c->op, 0, (int32_t)a, NULL, -1) < 0) _exit(CHILD_FAIL_EXIT);
    if (child_wait_msg(c->sock) != SHIM_MSG_CONTINUE) _exit(CHILD_FAIL_EXIT);
    return 0;
  }
  case SHIM_OP_RUN: {
    NEED(rd_str(r, &s1)); NEED(rd_strv(r, &n1, &v1)); NEED(rd_strv(r, &n2, &v2));
    DONE_PARSING;
    char **argv = strv_array(v1, n1), **envp = strv_array(v2, n2);
    if (!argv || !envp) child_fail(c, ENOMEM, "run", s1);
    pid_t pid = raw_clone(SIGCHLD, NULL);
    if (pid < 0) child_fail(c, errno, "fork to run", s1);
    if (pid == 0) {
      execve(s1, argv, envp);
      _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
      if (errno != EINTR) child_fail(c, errno, "wait for", s1);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
      char buf[200];
      struct text t = {buf, sizeof buf, 0};
      text_add(&t, s1);
      text_add(&t, WIFEXITED(st) ? "\" exited with status " : "\" was killed by signal ");
      text_num(&t, WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
      child_fail(c, ECHILD, "helper \"", buf);
    }
    return 0;
  }
  case SHIM_OP_OPEN_FD: {
    NEED(rd_str(r, &s1)); NEED(rd_u64(r, &a)); NEED(rd_u64(r, &b)); NEED(rd_u64(r, &d));
    DONE_PARSING;
    if ((int)d == c->helper_fd) c->helper_fd = -1; /* replaced below; made again when needed */
    fd = open_in_root(c, s1, a, b);
    if (fd < 0) child_fail(c, errno, "open", s1);
    if (fd != (int)d) {
      if (dup2(fd, (int)d) < 0) child_fail(c, errno, "dup", s1);
      close(fd);
    } else if (fcntl(fd, F_SETFD, 0) < 0) {
      child_fail(c, errno, "keep open", s1);
    }
    return 0;
  }
  case SHIM_OP_EXEC: {
    NEED(rd_strv(r, &n1, &v1)); NEED(rd_strv(r, &n2, &v2)); NEED(rd_strv(r, &n3, &v3));
    if (n1 == 0) return bad(c, "exec needs at least one candidate path");
    if (n2 == 0) return bad(c, "exec needs argv[0]");
    DONE_PARSING;
    /* Not execve here: nook-exec does it (execvp's rules without its search,
     * over the candidates TypeScript listed) and reports a failure on the
     * socket, which it keeps open across its own exec for that. */
    char **argv = child_alloc(((size_t)n1 + n2 + 5) * sizeof(char *)), **envp = strv_array(v3, n3);
    if (!argv || !envp) child_fail(c, ENOMEM, "exec", NULL);
    char nsock[12], nop[12], ncand[12];
    argv[0] = "nook-exec";
    argv[1] = (char *)decimal(nsock, c->sock);
    argv[2] = (char *)decimal(nop, c->op);
    argv[3] = (char *)decimal(ncand, n1);
    for (uint32_t i = 0; i < n1; i++) rd_str(&v1, (const char **)&argv[4 + i]);
    for (uint32_t i = 0; i < n2; i++) rd_str(&v2, (const char **)&argv[4 + n1 + i]);
    argv[4 + n1 + n2] = NULL;
    if (c->sock >= 0 && fcntl(c->sock, F_SETFD, 0) < 0) child_fail(c, errno, "pass the sync socket to the exec helper", NULL);
    exec_helper(c, argv, envp);
    int e = errno;
    if (c->sock >= 0) fcntl(c->sock, F_SETFD, FD_CLOEXEC);
    child_fail(c, e, "execveat the exec helper (memfd; a seccomp profile must allow execveat)", NULL);
  }
  case SHIM_OP_PROTECT_PATH: {
    NEED(rd_str(r, &s1)); NEED(rd_u64(r, &a));
    if (a != SHIM_PROTECT_MASK && a != SHIM_PROTECT_READONLY) return bad(c, "protect_path: unknown kind");
    DONE_PARSING;
    /* Why skip a missing path: which /proc and /sys files exist depends on the
     * kernel's configuration (no /proc/kcore without CONFIG_PROC_KCORE); a
     * path that is not there has nothing to hide. */
    fd = open_in_root(c, s1, O_PATH, 0);
    if (fd < 0 && (errno == ENOENT || errno == ENOTDIR)) return 0;
    if (fd < 0) child_fail(c, errno, "open path to protect", s1);
    struct stat st;
    if (fstat(fd, &st) < 0) child_fail(c, errno, "stat", s1);
    fd_path(fbuf, sizeof fbuf, fd);
    if (a == SHIM_PROTECT_MASK) {
      int rc;
      if (S_ISDIR(st.st_mode)) {
        rc = mount("tmpfs", fbuf, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0555");
      } else {
        /* Why pin and check /dev/null: it is the container's by now (a volume
         * or bind mount on /dev, a symlink racing in); binding whatever that
         * name holds would show a file of the container's choice, or a
         * writable one, where the mask should be. Bind the checked fd. */
        int nul = open("/dev/null", O_PATH | O_NOFOLLOW | O_CLOEXEC);
        struct stat ns;
        if (nul < 0 || fstat(nul, &ns) < 0) child_fail(c, errno, "open /dev/null to mask", s1);
        if (!S_ISCHR(ns.st_mode) || ns.st_rdev != makedev(1, 3))
          child_fail(c, EPERM, "mask with /dev/null: it is not the null device", s1);
        char nbuf[32];
        rc = mount(fd_path(nbuf, sizeof nbuf, nul), fbuf, NULL, MS_BIND, NULL);
        close(nul);
      }
      if (rc < 0) child_fail(c, errno, "mask", s1);
      close(fd);
      return 0;
    }
    if (mount(fbuf, fbuf, NULL, MS_BIND | MS_REC, NULL) < 0) child_fail(c, errno, "bind read-only path", s1);
    close(fd);
    /* look the path up again: the old fd still points below the new bind mount */
    fd = open_in_root(c, s1, O_PATH, 0);
    if (fd < 0) child_fail(c, errno, "open read-only path", s1);
    struct mount_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
    if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0)
      child_fail(c, errno, "make read-only", s1);
    close(fd);
    return 0;
  }
  case SHIM_OP_PDEATHSIG: {
    NEED(rd_u64(r, &a));
    DONE_PARSING;
    if (prctl(PR_SET_PDEATHSIG, (unsigned long)a, 0, 0, 0) < 0) child_fail(c, errno, "set parent-death signal", NULL);
    /* nook may have died after sending GO and before the prctl: then no signal
     * will ever come. Its end of the sync socket was closed as it exited (files
     * close before the kernel signals the children), so a hang-up tells. */
    struct pollfd pf = {c->sock, 0, 0};
    if (c->sock >= 0 && poll(&pf, 1, 0) > 0 && pf.revents & (POLLHUP | POLLERR)) _exit(CHILD_FAIL_EXIT);
    return 0;
  }
  case SHIM_OP_PERSONALITY: {
    NEED(rd_u64(r, &a));
    DONE_PARSING;
    if (personality((unsigned long)a) < 0) child_fail(c, errno, "personality", NULL);
    return 0;
  }
  case SHIM_OP_DUMPABLE: {
    NEED(rd_u64(r, &a));
    if (a > 1) return bad(c, "dumpable must be 0 or 1");
    DONE_PARSING;
    if (prctl(PR_SET_DUMPABLE, (unsigned long)a, 0, 0, 0) < 0) child_fail(c, errno, "set dumpable", NULL);
    return 0;
  }
  case SHIM_OP_KEEP_FDS: {
    NEED(rd_u64(r, &a)); NEED(rd_u64(r, &b));
    if (a < 3 || b > 65536) return bad(c, "keep_fds range out of bounds");
    DONE_PARSING;
    for (uint64_t i = a; i < a + b; i++)
      if ((int)i != c->sock && (int)i != c->helper_fd && fcntl((int)i, F_SETFD, 0) < 0)
        child_fail(c, errno, "keep fd open", NULL);
    return 0;
  }
  case SHIM_OP_BARRIER_OPEN: {
    NEED(rd_str(r, &s1));
    DONE_PARSING;
    /* Why read-write: opening a FIFO for reading alone would block until a
     * writer comes; with both ends the open returns at once, and the read in
     * BARRIER_WAIT blocks until `nook runtime start` writes its byte. */
    fd = open_in_root(c, s1, O_RDWR | O_NONBLOCK, 0);
    if (fd < 0) child_fail(c, errno, "open barrier", s1);
    if (fcntl(fd, F_SETFL, 0) < 0) child_fail(c, errno, "make barrier blocking", s1);
    if (c->barrier_fd >= 0) close(c->barrier_fd);
    c->barrier_fd = fd;
    return 0;
  }
  case SHIM_OP_BARRIER_WAIT: {
    DONE_PARSING;
    if (c->barrier_fd < 0) child_fail(c, EBADF, "wait on barrier: none is open", NULL);
    char one;
    ssize_t n;
    do n = read(c->barrier_fd, &one, 1);
    while (n < 0 && errno == EINTR);
    if (n != 1) child_fail(c, n < 0 ? errno : EPIPE, "wait on barrier", NULL);
    close(c->barrier_fd);
    c->barrier_fd = -1;
    return 0;
  }
  case SHIM_OP_MOUNT_OR_BIND: {
    NEED(rd_str(r, &s1)); NEED(rd_str(r, &s2)); NEED(rd_str(r, &s3)); NEED(rd_u64(r, &a)); NEED(rd_str(r, &s4));
    const char *bind_src;
    NEED(rd_str(r, &bind_src)); NEED(rd_u64(r, &b));
    DONE_PARSING;
    const char *target = s2;
    if (child_mount_target(c, s2, fbuf, sizeof fbuf, &fd) < 0) child_fail(c, errno, "resolve mount target", s2);
    if (fd >= 0) target = fbuf;
    if (mount(*s1 ? s1 : NULL, target, *s3 ? s3 : NULL, (unsigned long)a, *s4 ? s4 : NULL) == 0) {
      if (fd >= 0) close(fd);
      return 0;
    }
    /* Why a fallback: sysfs, proc, mqueue and cgroup2 may only be mounted by
     * the owner of the matching namespace; a rootless container that shares
     * the host's (or joined another's) gets the existing mount bound instead. */
    if (errno != EPERM && errno != EACCES) child_fail(c, errno, "mount on", s2);
    if (mount(bind_src, target, NULL, MS_BIND | MS_REC, NULL) < 0) child_fail(c, errno, "bind instead on", s2);
    if (fd >= 0) close(fd);
    if (b) {
      /* look the target up again: the old fd still points below the new bind mount */
      int dirfd = AT_FDCWD;
      const char *path = s2;
      unsigned int fl = AT_RECURSIVE;
      if (c->root_fd >= 0) {
        dirfd = open_in_root(c, s2, O_PATH, 0);
        if (dirfd < 0) child_fail(c, errno, "resolve mount target", s2);
        path = "";
        fl |= AT_EMPTY_PATH;
      }
      struct mount_attr attr;
      memset(&attr, 0, sizeof attr);
      attr.attr_set = b;
      if (syscall(SYS_mount_setattr, dirfd, path, fl, &attr, sizeof attr) < 0) child_fail(c, errno, "mount_setattr on", s2);
      if (dirfd >= 0) close(dirfd);
    }
    return 0;
  }
  default:
    return bad(c, "unknown op");
  }
#undef NEED
#undef DONE_PARSING
}

/* Walk the whole plan. dry: check only (parent). Otherwise run it (child). */
static int walk_plan(struct ctx *c, const uint8_t *plan, uint32_t len) {
  c->op = -1;
  if (!plan || len < SHIM_PLAN_HEADER_LEN) return bad(c, "plan shorter than its header");
  if (le32(plan) != SHIM_PLAN_MAGIC) return bad(c, "bad magic (not a nook plan)");
  if (le16(plan + 4) != SHIM_PLAN_VERSION) return bad(c, "unsupported plan version");
  if (le16(plan + 6) != SHIM_PLAN_HEADER_LEN) return bad(c, "bad header length");
  if (le32(plan + 8) != len) return bad(c, "total length does not match the buffer");
  if (len > SHIM_PLAN_MAX_LEN) return bad(c, "plan too large");
  uint32_t count = le32(plan + 12);
  if (count > SHIM_PLAN_MAX_OPS) return bad(c, "too many ops");
  struct rd r = {plan + SHIM_PLAN_HEADER_LEN, plan + len};
  for (uint32_t i = 0; i < count; i++) {
    c->op = (int)i;
    if (r.end - r.p < 8) return bad(c, "op header truncated");
    uint16_t opcode = le16(r.p);
    if (le16(r.p + 2) != 0) return bad(c, "reserved field not zero");
    uint32_t plen = le32(r.p + 4);
    r.p += 8;
    if ((uint64_t)(r.end - r.p) < plen) return bad(c, "op payload runs past the end of the plan");
    struct rd payload = {r.p, r.p + plen};
    int rc = run_op(c, opcode, &payload);
    if (rc < 0) return rc;
    r.p += plen;
  }
  c->op = (int)count;
  if (r.p != r.end) return bad(c, "bytes after the last op");
  return 0;
}

/* The reaper is a copy of nook's process, so `ps` would show nook's command
 * line as pid 1; overwrite the argument area (from /proc/self/stat fields
 * 48-49, arg_start/arg_end) with a name that says what it is. */
static void set_title(const char *title) {
  char buf[4096];
  int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return;
  buf[n] = 0;
  char *p = strrchr(buf, ')');
  if (!p) return;
  unsigned long long start = 0, end = 0;
  for (int field = 2; *p && field < 49; p++) {
    if (*p != ' ') continue;
    field++;
    unsigned long long v = 0;
    for (char *q = p + 1; *q >= '0' && *q <= '9'; q++) v = v * 10 + (unsigned)(*q - '0');
    if (field == 48) start = v;
    if (field == 49) end = v;
  }
  if (!start || end <= start) return;
  size_t len = strlen(title) + 1;
  if (len > end - start) return;
  memset((void *)(uintptr_t)start, 0, end - start);
  memcpy((void *)(uintptr_t)start, title, len);
}

/* pid 1 of a container run with --init: reap everything, forward signals to
 * the one child, exit with its status (128+n when a signal killed it). */
static void reaper(pid_t child) {
  prctl(PR_SET_NAME, "nook-init", 0, 0, 0);
  set_title("nook-init");
  sigset_t all;
  sigfillset(&all);
  for (;;) {
    siginfo_t info;
    int sig = sigwaitinfo(&all, &info);
    if (sig < 0) continue;
    if (sig != SIGCHLD) {
      kill(child, sig);
      continue;
    }
    int st;
    pid_t w;
    while ((w = waitpid(-1, &st, WNOHANG)) > 0)
      if (w == child) _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
  }
}

/* Every signal back to SIG_DFL. Raw rt_sigaction: glibc's sigaction refuses
 * 32 and 33 (its own), and an ignoring parent passes those down too. */
static void default_signal_handlers(void) {
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
/* Every signal back to its default action, none blocked, in a fresh child. */
static void reset_signals(void) {
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

static void __attribute__((noreturn)) child_main(const uint8_t *plan, uint32_t len, int sock) {
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
  int fresh_userns = (le64(plan + 16) & CLONE_NEWUSER) != 0;
  if (!fresh_userns) prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);

  if (send_msg(sock, SHIM_MSG_READY, -1, 0, 0, NULL, -1) < 0) _exit(CHILD_FAIL_EXIT);
  if (child_wait_msg(sock) != SHIM_MSG_GO) _exit(CHILD_FAIL_EXIT);
  if (fresh_userns) prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);

  struct ctx c = {0, sock, -1, -1, NULL, 0, -1, -1};
  walk_plan(&c, plan, len);
  /* the plan ended without EXEC */
  c.op = -1;
  child_fail(&c, EINVAL, "plan ended without exec", NULL);
}

/* ---- exported ---------------------------------------------------------------- */

SHIM_EXPORT int32_t shim_version(void) { return SHIM_PLAN_VERSION; }

SHIM_EXPORT int32_t shim_validate(const uint8_t *plan, uint32_t len, char *err, uint32_t errlen) {
  if (err && errlen) err[0] = 0;
  struct ctx c = {1, -1, -1, -1, err, errlen, -1, -1};
  return walk_plan(&c, plan, len);
}

SHIM_EXPORT int32_t shim_spawn(const uint8_t *plan, uint32_t len, int32_t *out, char *err, uint32_t errlen) {
  int rc = shim_validate(plan, len, err, errlen);
  if (rc < 0) return rc;
  uint64_t flags = le64(plan + 16);
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

static int write_all(int fd, const char *buf, ssize_t n) {
  while (n > 0) {
    ssize_t w = write(fd, buf, (size_t)n);
    if (w < 0 && (errno == EINTR || errno == EAGAIN)) {
      struct pollfd p = {fd, POLLOUT, 0};
      poll(&p, 1, 100);
      continue;
    }
    if (w <= 0) return -1;
    buf += w, n -= w;
  }
  return 0;
}

/* argv as NUL-terminated strings back to back; at most SHIM_MAX_ARGV of them */
#define SHIM_MAX_ARGV 64
static int argv_from_block(const uint8_t *block, uint32_t len, char **argv) {
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

SHIM_EXPORT int32_t shim_run_wait(const uint8_t *argv_block, uint32_t len, char *err, uint32_t errlen) {
  char *argv[SHIM_MAX_ARGV + 1];
  int argc = argv_from_block(argv_block, len, argv);
  if (argc < 0) return argc;
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) < 0) return -errno;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
  pid_t pid;
  int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, helper_envp);
  posix_spawn_file_actions_destroy(&fa);
  close(pipefd[1]);
  if (rc != 0) {
    close(pipefd[0]);
    return -rc;
  }
  uint32_t got = 0;
  for (;;) {
    char tmp[512];
    ssize_t n = read(pipefd[0], tmp, sizeof tmp);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    for (ssize_t i = 0; i < n && err && got + 1 < errlen; i++) err[got++] = tmp[i];
  }
  if (err && errlen) err[got < errlen ? got : errlen - 1] = 0;
  close(pipefd[0]);
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR) return -errno;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* ---- long-running helpers ----------------------------------------------------- */

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

struct helper_args {
  char **argv;
  const char *log;
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
  int log = *h->log ? open(h->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600) : nul;
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

SHIM_EXPORT int32_t shim_helper_start(const uint8_t *argv_block, uint32_t len, const char *log, const int32_t *keep,
                                      uint32_t nkeep, int32_t deathsig, int32_t *out) {
  char *argv[SHIM_MAX_ARGV + 1];
  int argc = argv_from_block(argv_block, len, argv);
  if (argc < 0) return argc;
  if (!log || nkeep > 64) return -EINVAL;
  size_t stack_size = 64 * 1024;
  void *stack = mmap(NULL, stack_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) return -errno;
  sigset_t all, old, none;
  sigfillset(&all);
  sigemptyset(&none);
  /* No signal handler of the caller may run in the child before it resets them. */
  pthread_sigmask(SIG_SETMASK, &all, &old);
  struct helper_args h = {argv, log, keep, nkeep, deathsig, getpid(), &none, 0};
  int pidfd = -1;
  /* CLONE_VFORK: we resume once the child has exec'd or died, so h.err is final. */
  pid_t pid = clone(helper_child, (char *)stack + stack_size, CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, &h, &pidfd);
  int e = errno;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  munmap(stack, stack_size);
  if (pid < 0) return -e;
  if (h.err) {
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    close(pidfd);
    return -h.err;
  }
  out[0] = pid;
  out[1] = pidfd;
  return 0;
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

SHIM_EXPORT int32_t shim_keeper(void) {
  pid_t parent = getpid();
  pid_t pid = raw_clone(SIGCHLD, NULL);
  if (pid < 0) return -errno;
  if (pid > 0) return pid;
  /* A copy of one thread of nook: raw syscalls only (see the top of this file). */
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

SHIM_EXPORT int32_t shim_pty_relay(int32_t master, int32_t in_fd, int32_t out_fd) {
  char buf[65536];
  int in_open = in_fd >= 0, out_ok = 1;
  for (;;) {
    struct pollfd p[2] = {{master, POLLIN, 0}, {in_open ? in_fd : -1, POLLIN, 0}};
    int pr = poll(p, 2, -1);
    if (pr < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = read(master, buf, sizeof buf);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) return 0; /* EIO: every slave fd is closed, the container is gone */
      if (out_ok && write_all(out_fd, buf, n) < 0) out_ok = 0;
    }
    if (in_open && p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = read(in_fd, buf, sizeof buf);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) {
        in_open = 0; /* stdin ended: keep showing output */
        continue;
      }
      if (write_all(master, buf, n) < 0) return -errno;
    }
  }
}

SHIM_EXPORT int32_t shim_tty_raw(int32_t fd, uint8_t *saved, uint32_t savedlen) {
  struct termios t;
  if (savedlen < sizeof t) return -EINVAL;
  if (tcgetattr(fd, &t) < 0) return -errno;
  memcpy(saved, &t, sizeof t);
  /* cfmakeraw: also output post-processing off, or every \n from the
   * container's pty would gain a second \r on ours. */
  cfmakeraw(&t);
  return tcsetattr(fd, TCSADRAIN, &t) < 0 ? -errno : 0;
}

SHIM_EXPORT int32_t shim_tty_restore(int32_t fd, const uint8_t *saved, uint32_t savedlen) {
  struct termios t;
  if (savedlen < sizeof t) return -EINVAL;
  memcpy(&t, saved, sizeof t);
  return tcsetattr(fd, TCSADRAIN, &t) < 0 ? -errno : 0;
}

SHIM_EXPORT int32_t shim_pty_resize(int32_t master, int32_t rows, int32_t cols) {
  struct winsize ws = {(unsigned short)rows, (unsigned short)cols, 0, 0};
  return ioctl(master, TIOCSWINSZ, &ws) < 0 ? -errno : 0;
}

/* ---- detached containers (issue #4): the monitor and pidfds ------------------- */

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

/* ---- OCI runtime helpers (issue #9) ------------------------------------------ */

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
static void __attribute__((noreturn)) hook_child(const char *path, char **argv, char **envp, const char **ns,
                                                 uint32_t nsc, const int in[2], const int out[2]) {
  reset_signals_and_fds();
  /* Non-dumpable before the first setns, until the hook's execve: a copy of
   * nook inside a container's namespaces must not be reachable from there. */
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  /* the parent's ends: a middle process that keeps them would hold the hook's stdin open */
  close(in[1]);
  close(out[0]);
  if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0 || dup2(out[1], 2) < 0) _exit(126);
  char buf[SHIM_MSG_TEXT];
  struct text t = {buf, sizeof buf, 0};
  for (uint32_t i = 0; i < nsc; i++) {
    int fd = open(ns[i], O_RDONLY | O_CLOEXEC);
    if (fd < 0 || setns(fd, 0) < 0) {
      int e = errno;
      text_add(&t, "nook: cannot join namespace \"");
      text_add(&t, ns[i]);
      text_add(&t, "\": errno ");
      text_num(&t, e);
      text_add(&t, "\n");
      (void)!write(2, buf, t.len);
      _exit(126);
    }
    close(fd);
  }
  if (nsc > 0) {
    /* setns(pid) only applies to children; a joined mount namespace is
     * entered at its root already (setns sets root and cwd). */
    if (chdir("/") < 0) _exit(126);
    pid_t pid = raw_clone(SIGCHLD, NULL);
    if (pid < 0) _exit(126);
    if (pid > 0) {
      int st;
      while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) _exit(126);
      _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    }
    /* when the middle process is killed (timeout), the hook goes too */
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  }
  execve(path, argv, envp);
  int e = errno;
  text_add(&t, "nook: cannot run hook \"");
  text_add(&t, path);
  text_add(&t, "\": errno ");
  text_num(&t, e);
  text_add(&t, "\n");
  (void)!write(2, buf, t.len);
  _exit(127);
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

SHIM_EXPORT int32_t shim_run_hook(const uint8_t *strings, uint32_t len, uint32_t argc, uint32_t envc, uint32_t nsc,
                                  const uint8_t *input, uint32_t inlen, int32_t timeout_ms, char *out, uint32_t outlen) {
  if (out && outlen) out[0] = 0;
  uint64_t total = 1ull + argc + envc + nsc;
  if (!strings || len == 0 || strings[len - 1] != 0 || total > 65536) return -EINVAL;
  size_t vsize = (size_t)(total + 2) * sizeof(char *);
  const char **v = child_alloc(vsize); /* zeroed; the child reads it after the fork */
  if (!v) return -ENOMEM;
  uint32_t off = 0;
  for (uint64_t i = 0; i < total; i++) {
    if (off >= len) {
      munmap(v, vsize);
      return -EINVAL;
    }
    /* argv gets a NULL after it, envp too: indexes shift by one and two */
    uint64_t slot = i <= argc ? i : i <= (uint64_t)argc + envc ? i + 1 : i + 2;
    v[slot] = (const char *)(strings + off);
    off += (uint32_t)strlen(v[slot]) + 1;
  }
  const char *path = v[0];
  char **argv = (char **)&v[1];           /* argc entries, then NULL */
  char **envp = (char **)&v[argc + 2];    /* envc entries, then NULL */
  const char **ns = &v[argc + envc + 3];  /* nsc entries */
  if (argc == 0) {
    munmap(v, vsize);
    return -EINVAL;
  }
  int inp[2], outp[2];
  if (pipe2(inp, O_CLOEXEC) < 0) {
    munmap(v, vsize);
    return -errno;
  }
  if (pipe2(outp, O_CLOEXEC) < 0) {
    int e = errno;
    close(inp[0]), close(inp[1]), munmap(v, vsize);
    return -e;
  }
  int pidfd = -1;
  pid_t pid = raw_clone(SIGCHLD | CLONE_PIDFD, &pidfd);
  if (pid == 0) hook_child(path, argv, envp, ns, nsc, inp, outp);
  int e = pid < 0 ? errno : 0;
  close(inp[0]);
  close(outp[1]);
  munmap(v, vsize);
  if (pid < 0) {
    close(inp[1]), close(outp[0]);
    return -e;
  }
  fcntl(inp[1], F_SETFL, O_NONBLOCK);
  fcntl(outp[0], F_SETFL, O_NONBLOCK);
  uint32_t sent = 0, got = 0;
  int in_open = 1, out_open = 1, exited = 0, timed_out = 0;
  if (inlen == 0) close(inp[1]), in_open = 0;
  int64_t deadline = timeout_ms > 0 ? now_ms() + timeout_ms : 0;
  while (!exited || out_open) {
    struct pollfd p[3] = {{in_open ? inp[1] : -1, POLLOUT, 0}, {out_open ? outp[0] : -1, POLLIN, 0}, {exited ? -1 : pidfd, POLLIN, 0}};
    int wait_ms = -1;
    if (deadline) {
      int64_t left = deadline - now_ms();
      if (left <= 0) {
        timed_out = 1;
        break;
      }
      wait_ms = (int)left;
    }
    /* once the hook is gone, drain what it wrote without waiting on its children */
    if (exited) wait_ms = 0;
    int pr = poll(p, 3, wait_ms);
    if (pr < 0 && errno == EINTR) continue;
    if (pr < 0) break;
    if (pr == 0 && exited) break;
    if (in_open && p[0].revents) {
      ssize_t w = (p[0].revents & POLLOUT) ? write(inp[1], input + sent, inlen - sent) : -1;
      if (w > 0) sent += (uint32_t)w;
      if (w < 0 && errno == EAGAIN) continue;
      if (w < 0 || sent == inlen) close(inp[1]), in_open = 0; /* done, or the hook closed stdin */
    }
    if (out_open && p[1].revents) {
      char tmp[1024];
      ssize_t n = read(outp[0], tmp, sizeof tmp);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (n <= 0) {
        close(outp[0]), out_open = 0;
      } else {
        for (ssize_t i = 0; i < n && out && got + 1 < outlen; i++) out[got++] = tmp[i];
      }
    }
    if (!exited && p[2].revents) exited = 1;
  }
  if (out && outlen) out[got < outlen ? got : outlen - 1] = 0;
  if (in_open) close(inp[1]);
  if (out_open) close(outp[0]);
  if (timed_out) syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
  close(pidfd);
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR) return -errno;
  if (timed_out) return -ETIMEDOUT;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
