/*
 * libshim — the small C half of nook.
 *
 * TypeScript decides everything and encodes it as a *plan*: a versioned,
 * length-prefixed list of ops. libshim validates the plan, clones a child with
 * the plan's namespace flags, and that child carries the ops out one by one
 * with raw syscalls until it calls execve. The child never returns into
 * JavaScript and never calls malloc (it is a copy of one thread of a
 * multithreaded process; any lock held by another thread stays held forever).
 *
 * The C side holds no policy: no path searches, no JSON, no defaults. It does
 * validate every length it reads and rejects unknown ops.
 *
 * Every exported function returns a negative errno on failure and never relies
 * on `errno` crossing the FFI boundary.
 */
#ifndef NOOK_SHIM_H
#define NOOK_SHIM_H

#include <stdint.h>

/* ---- plan wire format (all integers little-endian) -------------------------
 *
 *   header (24 bytes)
 *     u32 magic        SHIM_PLAN_MAGIC ("NOOK")
 *     u16 version      SHIM_PLAN_VERSION
 *     u16 header_len   24
 *     u32 total_len    length of the whole plan, header included
 *     u32 op_count     number of ops that follow
 *     u64 clone_flags  CLONE_NEW* flags for the child
 *   op (repeated op_count times)
 *     u16 opcode       enum shim_op
 *     u16 reserved     0
 *     u32 payload_len  bytes of payload that follow
 *     payload          the op's fields, in the order listed below:
 *                        u64   8 bytes
 *                        str   u32 n (n >= 1, includes the trailing NUL), n bytes
 *                        bytes u32 n, n bytes
 *                        strv  u32 count, count × str
 *                        u64v  u32 count, count × u64
 *
 * Fields of each op are listed next to it; an op's payload must be consumed
 * exactly, and the ops must fill total_len exactly.
 */
#define SHIM_PLAN_MAGIC 0x4b4f4f4eu /* "NOOK" read as a little-endian u32 */
#define SHIM_PLAN_VERSION 2
#define SHIM_PLAN_HEADER_LEN 24
#define SHIM_PLAN_MAX_LEN (64u * 1024u * 1024u)
#define SHIM_PLAN_MAX_OPS 65536u

/* The op numbers. src/plan/ops.ts holds the same list; a test checks both agree. */
enum shim_op {
  /* 1-39: the process and its view: mounts, files, root, identity, limits,
   * capabilities, seccomp, namespaces, process tree, terminal, exec */
  SHIM_OP_MOUNT = 1,         /* str source, str target, str fstype, u64 flags, str data */
  SHIM_OP_MOUNT_SETATTR = 2, /* str target, u64 attr_set, u64 attr_clr, u64 propagation, u64 recursive */
  SHIM_OP_UMOUNT = 3,        /* str target, u64 flags */
  SHIM_OP_MKDIR = 4,         /* str path, u64 mode (existing directory is fine) */
  SHIM_OP_MKFILE = 5,        /* str path, u64 mode (existing file is fine) */
  SHIM_OP_SYMLINK = 6,       /* str target, str linkpath (existing link is fine) */
  SHIM_OP_WRITE = 7,         /* str path, bytes data, u64 open_flags, u64 mode */
  SHIM_OP_ROOT = 8,          /* str path: later path targets resolve inside it ("" = none) */
  SHIM_OP_PIVOT_ROOT = 9,    /* str new_root */
  SHIM_OP_CHROOT = 10,       /* str new_root */
  SHIM_OP_CHDIR = 11,        /* str path */
  SHIM_OP_SETHOSTNAME = 12,  /* str name */
  SHIM_OP_SETDOMAINNAME = 13,/* str name */
  SHIM_OP_SETRLIMIT = 14,    /* u64 resource, u64 soft, u64 hard */
  SHIM_OP_UMASK = 15,        /* u64 mask */
  SHIM_OP_SETID = 16,        /* u64 uid, u64 gid, u64v groups, u64 flags (SHIM_SETID_*) */
  SHIM_OP_CAPS = 17,         /* u64 bounding, u64 effective, u64 permitted, u64 inheritable, u64 ambient, u64 last_cap */
  SHIM_OP_NO_NEW_PRIVS = 18, /* (no fields) */
  SHIM_OP_SECCOMP = 19,      /* bytes sock_filter[], u64 flags */
  SHIM_OP_LOOPBACK_UP = 20,  /* (no fields) */
  SHIM_OP_SETNS = 21,        /* str path, u64 nstype */
  SHIM_OP_UNSHARE = 22,      /* u64 flags */
  SHIM_OP_FORK = 23,         /* u64 clone_flags: clone with CLONE_PARENT, report PID, the old process exits */
  SHIM_OP_INIT = 24,         /* (no fields) fork; the parent stays as pid 1, reaps and forwards signals */
  SHIM_OP_PTY = 25,          /* str ptmx, u64 rows, u64 cols: new session, pty slave on 0-2, master sent back */
  SHIM_OP_SYNC = 26,         /* u64 tag: report SYNC and wait for CONTINUE */
  SHIM_OP_RUN = 27,          /* str path, strv argv, strv envp: fork, exec, wait; non-zero exit is an error */
  SHIM_OP_OPEN_FD = 28,      /* str path, u64 open_flags, u64 mode, u64 target_fd */
  SHIM_OP_EXEC = 29,         /* strv candidates, strv argv, strv envp, u64 flags (SHIM_EXEC_*): execve the first
                                candidate that exists, through nook-exec (see exec_helper.c) */
  SHIM_OP_PDEATHSIG = 30,    /* u64 signal */
  SHIM_OP_PERSONALITY = 31,  /* u64 persona */
  SHIM_OP_KEEP_FDS = 32,     /* u64 first, u64 count: these fds survive execve */
  SHIM_OP_DUMPABLE = 33,     /* u64 0|1: PR_SET_DUMPABLE (the child starts non-dumpable; see child_main) */
  SHIM_OP_INPUT = 34,        /* bytes data, u64 target_fd: a sealed memfd holding data (read from its start)
                                becomes target_fd, kept across execve */
  SHIM_OP_USERNS_BELOW = 37, /* u64 flags, str uid_map, str gid_map: unshare a user namespace (plus flags) below
                                the current one; a helper forked first, still in the current one (where the
                                child is root), writes the maps, then the child waits for it */
  SHIM_OP_SETNS_PARENT = 38, /* str path of a user namespace file: setns into the user namespace it was made in */
  /* 40-44: hiding and protecting paths of the host's kernel (masked and read-only paths) */
  SHIM_OP_PROTECT_PATH = 40, /* str path, u64 how (SHIM_PROTECT_*); a path that does not exist is skipped */
  /* 45-49: the OCI runtime's create/start barrier, and mounts that may fall back to a bind */
  SHIM_OP_BARRIER_OPEN = 45, /* str path: open a FIFO read-write (inside ROOT when set) as the plan's barrier, close-on-exec */
  SHIM_OP_BARRIER_WAIT = 46, /* (no fields) block until one byte arrives on the barrier, then close it */
  SHIM_OP_MOUNT_OR_BIND = 47,/* str source, str target, str fstype, u64 flags, str data, str bind_source, u64 attr_set:
                                mount; if the kernel refuses (EPERM, EACCES), bind bind_source (recursive)
                                instead and set the MOUNT_ATTR_* bits attr_set on it, recursively */
  /* 50-54: the network namespace's interfaces */
  SHIM_OP_NETLINK_FILE = 50, /* str path: send the NETLINK_ROUTE requests the file holds (whole nlmsghdr
                                messages, each with NLM_F_ACK), one at a time, in order; the first error
                                ends the plan. An empty file sends nothing. The file is read when the op
                                runs (nook writes it at a SYNC before), not when the plan is made */
  SHIM_OP__COUNT = 51
};

/* flags of SHIM_OP_EXEC */
#define SHIM_EXEC_DIRECT 1u /* execve the one candidate itself, not through nook-exec: for the host's own
                               programs (a runtime hook), never for a container's */

/* how of SHIM_OP_PROTECT_PATH */
#define SHIM_PROTECT_MASK 1     /* /dev/null over a file, an empty read-only tmpfs over a directory */
#define SHIM_PROTECT_READONLY 2 /* bind onto itself (recursive), then read-only, nosuid, nodev, noexec */

/* flags of SHIM_OP_SETID */
#define SHIM_SETID_SKIP_SETGROUPS 1u /* setgroups is denied (single-id mapping) */
#define SHIM_SETID_KEEP_CAPS 2u      /* PR_SET_KEEPCAPS around the uid change */

/* ---- sync socket messages ---------------------------------------------------
 * One fixed-size record per SOCK_SEQPACKET message, in both directions.
 * The ladder is drawn in spawn.c above child_main().
 */
enum shim_msg_type {
  SHIM_MSG_READY = 1,    /* child → parent: alive, in its namespaces, waiting for GO */
  SHIM_MSG_ERROR = 2,    /* child → parent: op `op` failed with `err`; text says which step */
  SHIM_MSG_SYNC = 3,     /* child → parent: reached SYNC op with tag `value` */
  SHIM_MSG_FD = 4,       /* child → parent: an fd rides along (SCM_RIGHTS); `value` says which */
  SHIM_MSG_PID = 5,      /* child → parent: FORK made pid `value` (in the parent's pid namespace) */
  SHIM_MSG_GO = 16,      /* parent → child: id maps and cgroup are in place, run the ops */
  SHIM_MSG_ABORT = 17,   /* parent → child: give up, exit */
  SHIM_MSG_CONTINUE = 18 /* parent → child: leave the SYNC op */
};

#define SHIM_MSG_TEXT 240
struct shim_msg {
  uint32_t type;
  int32_t op;    /* op index, -1 when not about an op */
  int32_t err;   /* positive errno */
  int32_t value; /* pid, tag, fd purpose, exit status, ... */
  char text[SHIM_MSG_TEXT];
};

/* SHIM_MSG_FD purposes */
#define SHIM_FD_PTY_MASTER 1

/* ---- exported API ----------------------------------------------------------
 *
 * Three entry points start processes, and no other does:
 *   shim_spawn          clone a child that carries out a plan (containers,
 *                       `exec` into them, OCI hooks in a container's
 *                       namespaces, trial runs): the one way into a namespace
 *                       (shim_spawn_with: the same, and the child's id-map
 *                       helpers started with it, as shim_helper starts them)
 *   shim_monitor_spawn  start nook-monitor with a plan, for a detached container
 *   shim_helper         a host program beside a container (newuidmap, pasta,
 *                       slirp4netns…), run to its end or left running, or the
 *                       scope keeper; never in other namespaces than nook's
 * The rest talk to those processes, wait for and signal them, or relay a tty.
 */

/** Plan format version this library speaks. */
int32_t shim_version(void);

/** Validate a plan without running it. 0, or -errno with a message in err. */
int32_t shim_validate(const uint8_t *plan, uint32_t len, char *err, uint32_t errlen);

/**
 * Spawn entry point 1 of 3: validate the plan, then clone a child (with the
 * plan's CLONE_NEW* flags) that waits for GO on the sync socket and runs the
 * ops (the handshake ladder is in spawn.c, above child_main).
 * out[0] = child pid, out[1] = parent's end of the sync socket, out[2] = pidfd.
 */
int32_t shim_spawn(const uint8_t *plan, uint32_t len, int32_t *out, char *err, uint32_t errlen);

/** Most helpers shim_spawn_with starts beside its child. */
#define SHIM_SPAWN_MAX_HELPERS 2

/**
 * shim_spawn, and right after the clone (before it returns) up to 2 helper
 * programs that need only the child's pid, as the id-map tools do (so they
 * run while control goes back to the caller). `helpers`: argvs back to back,
 * each string NUL-terminated and each argv ended by an empty string;
 * arguments "%PID%" become the child's pid. They start as shim_helper would
 * (fixed PATH, stdin/stdout on /dev/null, no other fds), their stderr into a
 * pipe. out[3 + 2i] = pid of helper i, out[4 + 2i] = the read end of its
 * stderr: give both to shim_helper_collect. When a helper cannot be started,
 * the child is killed and reaped and nothing is left (-errno, err names it).
 */
int32_t shim_spawn_with(const uint8_t *plan, uint32_t len, const uint8_t *helpers, uint32_t hlen, int32_t *out,
                        char *err, uint32_t errlen);

/**
 * Wait for a helper shim_spawn_with started: read its stderr to EOF into err
 * (up to errlen - 1 bytes), close errfd, reap it. Its exit status (128+n for
 * a signal), or -errno.
 */
int32_t shim_helper_collect(int32_t pid, int32_t errfd, char *err, uint32_t errlen);

/** Receive one message (sizeof(struct shim_msg) bytes into msg). Returns bytes, 0 on EOF. */
int32_t shim_recv(int32_t fd, uint8_t *msg, int32_t *fd_out, int32_t timeout_ms);

/** Send a message of `type` with `value` to the child. */
int32_t shim_send(int32_t fd, uint32_t type, int32_t value);

/** waitpid: out[0] = 1 exited / 2 killed / 0 still running (WNOHANG), out[1] = code or signal. */
int32_t shim_wait(int32_t pid, int32_t *out, int32_t nohang);

/** Send a signal through a pidfd (never hits a recycled pid). */
int32_t shim_pidfd_kill(int32_t pidfd, int32_t sig);

/** Close an fd that came back through FFI. */
int32_t shim_close(int32_t fd);

/** pidfd_open(2): a descriptor for pid that never names a recycled process. */
int32_t shim_pidfd_open(int32_t pid);

/** Wait until the process of a pidfd has ended: 1 ended, 0 timeout. */
int32_t shim_pidfd_wait(int32_t pidfd, int32_t timeout_ms);

/* ---- helper programs ---------------------------------------------------------- */

/* flags of shim_helper */
#define SHIM_HELPER_WAIT 1u   /* run it to its end: stderr into err, returns its exit status */
#define SHIM_HELPER_KEEPER 2u /* no program: start the scope keeper (argv, log, keep are ignored) */

/**
 * Spawn entry point 3 of 3: a helper program, in nook's namespaces.
 * argv: NUL-terminated strings back to back (at most 64), argv[0] a path;
 * the environment is a fixed PATH. stdin and stdout are on /dev/null, every
 * fd from 3 up is closed except the `nkeep` fds in `keep` (kept at their
 * numbers), signals start at their defaults and unblocked. posix_spawn-like:
 * cheap from a multithreaded process, unlike a first Deno.Command.
 *
 * flags 0: start it and return: stderr is appended to `log` ("" = /dev/null);
 *   with `deathsig` > 0 the helper gets that signal when the calling *thread*
 *   ends (PR_SET_PDEATHSIG), so call this from the thread that lives as long
 *   as the container. out[0] = pid, out[1] = pidfd. Returns 0.
 * SHIM_HELPER_WAIT: wait for it; its stderr is collected into err (up to
 *   errlen - 1 bytes). Returns its exit status (128+n for a signal).
 * SHIM_HELPER_KEEPER: start a "keeper": a process that does nothing until the
 *   calling process (the whole of it, whichever thread called) has exited, or
 *   until it is killed. nook hands it to a systemd scope next to a container so
 *   the scope outlives the container's last process until nook has read the
 *   container's cgroup. out[0] = its pid.
 * -errno on failure.
 */
int32_t shim_helper(const uint8_t *argv_block, uint32_t len, const char *log, const int32_t *keep, uint32_t nkeep,
                    int32_t deathsig, uint32_t flags, int32_t *out, char *err, uint32_t errlen);

/** pipe2(O_CLOEXEC): out[0] = read end, out[1] = write end. */
int32_t shim_pipe(int32_t *out);

/** mkfifo(path, 0600), then open its read end (O_RDONLY | O_NONBLOCK | O_CLOEXEC); returns that fd. */
int32_t shim_fifo(const char *path);

/** mkfifo(path, mode). */
int32_t shim_mkfifo(const char *path, uint32_t mode);

/**
 * Wait until `fd` is readable and read up to `len` bytes into buf (returns the
 * count; 0 at EOF), or until the process behind `pidfd` exits first (-ECHILD),
 * or `timeout_ms` passes (-ETIMEDOUT). fd -1 waits for the exit only.
 */
int32_t shim_helper_wait(int32_t fd, int32_t pidfd, int32_t timeout_ms, uint8_t *buf, uint32_t len);

/**
 * Can a server bind `port` on address `ip` (IPv4 or IPv6 text) for TCP
 * (udp = 0) or UDP? Binds a socket (SO_REUSEADDR for TCP, as servers do) and
 * closes it. Returns the port (the one the kernel picked when port is 0) or
 * -errno (-EADDRINUSE when taken). Cheaper than walking /proc/net/tcp.
 */
int32_t shim_port_probe(const char *ip, int32_t port, int32_t udp);

/**
 * Connect to the AF_UNIX stream socket at `path` and send `fd` over it
 * (SCM_RIGHTS) with `name` as the message's data, as runc does with a
 * console socket's pty master.
 */
int32_t shim_send_fd(const char *path, int32_t fd, const char *name);

/* ---- the terminal relay ------------------------------------------------------- */

/** Relay between in_fd/out_fd and a pty master until the pty hangs up. */
int32_t shim_pty_relay(int32_t master, int32_t in_fd, int32_t out_fd);

/** Put a terminal in raw mode (cfmakeraw); its old settings go into saved (>= sizeof(struct termios)). */
int32_t shim_tty_raw(int32_t fd, uint8_t *saved, uint32_t savedlen);

/** Restore settings saved by shim_tty_raw. */
int32_t shim_tty_restore(int32_t fd, const uint8_t *saved, uint32_t savedlen);

/** Set a pty's window size. */
int32_t shim_pty_resize(int32_t master, int32_t rows, int32_t cols);

/* ---- detached containers: the monitor ----------------------------------------- */

/**
 * Spawn entry point 2 of 3: start build/nook-monitor (argv as NUL-terminated
 * strings back to back) in a new session with the plan on fd 3 (a memfd) and
 * one end of a new control socket on fd 4, and reap its first process (the
 * monitor forks once more). The plan is validated first (message in err).
 * out[0] = nook's end of the control socket, out[1] = pid of the monitor's
 * first (reaped) process.
 */
int32_t shim_monitor_spawn(const uint8_t *argv_block, uint32_t len, const uint8_t *plan, uint32_t plan_len,
                           int32_t *out, char *err, uint32_t errlen);

/*
 * The monitor's report about the network helper it starts for a container
 * (nook-monitor --helper …): SHIM_MSG_ERROR on the control socket with op
 * SHIM_OP_INDEX_HELPER, value = step | (index of the failed call << 8),
 * err = errno (0 when the helper answered a call with a refusal, which is in text).
 */
#define SHIM_OP_INDEX_HELPER (-2)
enum shim_helper_step {
  SHIM_HELPER_START = 1,   /* it could not be started (err) */
  SHIM_HELPER_EXITED = 2,  /* it exited (or closed its ready fd) before it said it was ready */
  SHIM_HELPER_TIMEOUT = 3, /* it did not say so in time */
  SHIM_HELPER_CALL = 4     /* a request on its API socket failed (err) or was refused (text) */
};

#endif
