/*
 * libshim — the plan reader and its ops. See shim.h for the plan format.
 *
 * Rules for everything reachable from plan_run() (the cloned child):
 *   - raw syscalls only where glibc would coordinate with other threads
 *     (setresuid/setresgid/setgroups broadcast to every thread glibc knows of,
 *     and those threads do not exist in the child: it would hang);
 *   - no malloc, no stdio, no locale: memory comes from the stack or mmap;
 *   - every failure is reported as {op index, errno, text} and the child exits.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/magic.h>
#include <linux/netlink.h>
#include <linux/nsfs.h>
#include <linux/openat2.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
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
#include <sys/wait.h>

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

/* Why check the filesystem of a resolved mount target: a target named outside
 * /proc (the console's /dev/console) must not reach a procfs file through a
 * symlink of the rootfs, where the mount would cover what the read-only paths
 * protect. fd is the target resolved in the root (-1: a plain lookup). */
static void refuse_procfs_detour(struct ctx *c, const char *name, int fd) {
  struct statfs tfs;
  if (fd >= 0 && strncmp(name, "/proc", 5) && fstatfs(fd, &tfs) == 0 && tfs.f_type == PROC_SUPER_MAGIC)
    child_fail(c, EXDEV, "mount onto procfs through a path outside /proc", name);
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
    refuse_procfs_detour(c, s2, fd);
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
  case SHIM_OP_NETLINK_FILE: {
    NEED(rd_str(r, &s1));
    DONE_PARSING;
    /* Why the child sends them: it is in the container's network namespace (and root of the
     * user namespace owning it), so its interfaces are configured without a process of ip in
     * there. What the requests say is nook's (built in TypeScript); this only carries them. */
    static uint8_t req[16384];
    fd = open(s1, O_RDONLY | O_CLOEXEC);
    if (fd < 0) child_fail(c, errno, "open netlink requests", s1);
    size_t len = 0;
    for (;;) {
      ssize_t n = read(fd, req + len, sizeof req - len);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) child_fail(c, errno, "read netlink requests", s1);
      if (n == 0) break;
      len += (size_t)n;
      if (len == sizeof req) child_fail(c, EFBIG, "read netlink requests", s1);
    }
    close(fd);
    if (len == 0) return 0;
    int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (s < 0) child_fail(c, errno, "open a netlink socket for", s1);
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    for (size_t off = 0; off < len;) {
      struct nlmsghdr h;
      if (len - off < sizeof h) child_fail(c, EINVAL, "truncated netlink request in", s1);
      memcpy(&h, req + off, sizeof h);
      if (h.nlmsg_len < sizeof h || h.nlmsg_len > len - off || !(h.nlmsg_flags & NLM_F_ACK))
        child_fail(c, EINVAL, "malformed netlink request in", s1);
      if (sendto(s, req + off, h.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0)
        child_fail(c, errno, "send netlink request from", s1);
      /* its acknowledgement (an error message with error 0), or its error */
      union { struct nlmsghdr h; uint8_t b[8192]; } ack;
      for (;;) {
        ssize_t n = recv(s, &ack, sizeof ack, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < (ssize_t)(sizeof(struct nlmsghdr) + sizeof(struct nlmsgerr)))
          child_fail(c, n < 0 ? errno : EPROTO, "read the netlink answer to", s1);
        if (ack.h.nlmsg_type != NLMSG_ERROR || ack.h.nlmsg_seq != h.nlmsg_seq) continue;
        struct nlmsgerr e;
        memcpy(&e, ack.b + sizeof(struct nlmsghdr), sizeof e);
        if (e.error) child_fail(c, -e.error, "netlink request from", s1);
        break;
      }
      off += NLMSG_ALIGN(h.nlmsg_len);
    }
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
  case SHIM_OP_SETNS_PARENT: {
    NEED(rd_str(r, &s1));
    DONE_PARSING;
    fd = open(s1, O_RDONLY | O_CLOEXEC);
    if (fd < 0) child_fail(c, errno, "open namespace", s1);
    int parent = ioctl(fd, NS_GET_PARENT);
    if (parent < 0) child_fail(c, errno, "find the parent of", s1);
    close(fd);
    if (setns(parent, CLONE_NEWUSER) < 0) child_fail(c, errno, "setns into the parent of", s1);
    close(parent);
    return 0;
  }
  case SHIM_OP_UNSHARE: {
    NEED(rd_u64(r, &a));
    DONE_PARSING;
    if (syscall(SYS_unshare, (unsigned long)a) < 0) child_fail(c, errno, "unshare", NULL);
    return 0;
  }
  case SHIM_OP_USERNS_BELOW: {
    NEED(rd_u64(r, &a)); NEED(rd_str(r, &s1)); NEED(rd_str(r, &s2));
    DONE_PARSING;
    /* Why a helper: only a process in the parent namespace, with CAP_SETUID
     * there, may write maps that name ids other than its own; after unshare
     * this child is no longer such a process. The helper is forked first and
     * writes /proc/<this child>/{uid,gid}_map once told the namespace exists. */
    int go[2];
    if (pipe2(go, O_CLOEXEC) < 0) child_fail(c, errno, "pipe for the id-map helper", NULL);
    pid_t self = getpid();
    pid_t pid = raw_clone(SIGCHLD, NULL);
    if (pid < 0) child_fail(c, errno, "fork the id-map helper", NULL);
    if (pid == 0) {
      close(go[1]);
      char one;
      ssize_t got;
      do got = read(go[0], &one, 1);
      while (got < 0 && errno == EINTR);
      if (got != 1) _exit(EPIPE);
      char path[64], num[12];
      const char *files[2] = {"/uid_map", "/gid_map"}, *maps[2] = {s1, s2};
      for (int i = 0; i < 2; i++) {
        struct text t = {path, sizeof path, 0};
        text_add(&t, "/proc/");
        text_add(&t, decimal(num, self));
        text_add(&t, files[i]);
        size_t len = strlen(maps[i]);
        int mf = open(path, O_WRONLY | O_CLOEXEC);
        /* the exit code carries errno: as is for uid_map, + 128 for gid_map */
        if (mf < 0 || write(mf, maps[i], len) != (ssize_t)len) _exit((errno > 0 && errno < 128 ? errno : EIO) + 128 * i);
        close(mf);
      }
      _exit(0);
    }
    close(go[0]);
    if (syscall(SYS_unshare, (unsigned long)(a | CLONE_NEWUSER)) < 0) child_fail(c, errno, "unshare the user namespace below", NULL);
    char one = 1;
    if (write(go[1], &one, 1) != 1) child_fail(c, errno, "wake the id-map helper", NULL);
    close(go[1]);
    int st;
    while (waitpid(pid, &st, 0) < 0)
      if (errno != EINTR) child_fail(c, errno, "wait for the id-map helper", NULL);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
      int code = WIFEXITED(st) ? WEXITSTATUS(st) : EINTR;
      child_fail(c, code % 128 ? code % 128 : EIO, code >= 128 ? "write gid_map of the user namespace below" : "write uid_map of the user namespace below", NULL);
    }
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
    NEED(rd_strv(r, &n1, &v1)); NEED(rd_strv(r, &n2, &v2)); NEED(rd_strv(r, &n3, &v3)); NEED(rd_u64(r, &a));
    if (n1 == 0) return bad(c, "exec needs at least one candidate path");
    if (n2 == 0) return bad(c, "exec needs argv[0]");
    if (a & ~(uint64_t)SHIM_EXEC_DIRECT) return bad(c, "exec: unknown flags");
    if (a & SHIM_EXEC_DIRECT && n1 != 1) return bad(c, "a direct exec takes exactly one path");
    DONE_PARSING;
    if (a & SHIM_EXEC_DIRECT) {
      /* Why not through nook-exec: the program is the host's (a runtime hook the
       * spec's author named by its host path), not the container's, so there is
       * no container file to protect nook from. A failure before execve is
       * reported like any op's; the socket closes on success (close-on-exec). */
      char **argv = strv_array(v2, n2), **envp = strv_array(v3, n3);
      if (!argv || !envp) child_fail(c, ENOMEM, "exec", NULL);
      rd_str(&v1, &s1);
      execve(s1, argv, envp);
      child_fail(c, errno, "execve", s1);
    }
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
  case SHIM_OP_INPUT: {
    NEED(rd_bytes(r, &bytes, &n1)); NEED(rd_u64(r, &a));
    if (a > 65535) return bad(c, "input: target fd out of range");
    DONE_PARSING;
    if ((int)a == c->sock) child_fail(c, EBADF, "input: the target fd is the sync socket", NULL);
    if ((int)a == c->helper_fd) c->helper_fd = -1; /* replaced below; made again when needed */
    /* A memfd rather than a pipe: the data is all there before the program
     * starts, no writer has to stay behind, and any size fits. Sealed, so the
     * program reads what nook wrote and nothing else. */
    fd = (int)syscall(SYS_memfd_create, "nook-input", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) child_fail(c, errno, "create the input's memfd", NULL);
    for (uint32_t off = 0; off < n1;) {
      ssize_t w = write(fd, bytes + off, n1 - off);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) child_fail(c, w < 0 ? errno : EIO, "write the input", NULL);
      off += (uint32_t)w;
    }
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
      child_fail(c, errno, "seal the input", NULL);
    if (lseek(fd, 0, SEEK_SET) < 0) child_fail(c, errno, "rewind the input", NULL);
    if (fd != (int)a) {
      if (dup2(fd, (int)a) < 0) child_fail(c, errno, "dup the input", NULL);
      close(fd);
    } else if (fcntl(fd, F_SETFD, 0) < 0) {
      child_fail(c, errno, "keep the input open", NULL);
    }
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
    refuse_procfs_detour(c, s2, fd);
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
void set_title(const char *title) {
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

uint64_t plan_clone_flags(const uint8_t *plan) { return le64(plan + 16); }

void plan_run(const uint8_t *plan, uint32_t len, int sock) {
  struct ctx c = {0, sock, -1, -1, NULL, 0, -1, -1};
  walk_plan(&c, plan, len);
  /* the plan ended without EXEC */
  c.op = -1;
  child_fail(&c, EINVAL, "plan ended without exec", NULL);
}

SHIM_EXPORT int32_t shim_version(void) { return SHIM_PLAN_VERSION; }

SHIM_EXPORT int32_t shim_validate(const uint8_t *plan, uint32_t len, char *err, uint32_t errlen) {
  if (err && errlen) err[0] = 0;
  struct ctx c = {1, -1, -1, -1, err, errlen, -1, -1};
  return walk_plan(&c, plan, len);
}
