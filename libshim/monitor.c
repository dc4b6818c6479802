/*
 * nook-monitor — the one small process that stays with a detached container.
 *
 * `nook run -d` must not leave a Deno process (~40 MB) per container, so the
 * container's parent is this static C program instead. It is started by
 * libshim's shim_monitor_spawn() (posix_spawn, new session), forks once more
 * so it is nobody's child but init's (or a subreaper's), becomes a subreaper
 * itself, and then:
 *
 *   - clones the container with the plan it was handed (child_main() of
 *     spawn.c, from the same static library as libshim.so: the same
 *     interpreter as `nook run`);
 *   - on the first start relays the handshake between nook and the child, so
 *     nook writes the id maps, runs its hooks and gets typed errors exactly as
 *     in the foreground; on a restart (nook is gone) it runs the pre-GO steps
 *     nook listed (newuidmap/newgidmap commands, writes to /proc/PID/uid_map and gid_map)
 *     itself, and at a SYNC of the plan runs the command nook gave (--sync-run N ARGV…,
 *     "%PID%" replaced) before it lets the child continue;
 *   - starts the container's network helper (pasta, slirp4netns: whatever
 *     argv nook gave) as its own child at each start, waits until it is
 *     ready, makes the calls nook listed on the helper's API socket, and only
 *     then lets the container go; stops and reaps it when the container ends;
 *   - holds the container's stdout/stderr (pipes) or pty master and writes
 *     them to a k8s-file log ("TIMESTAMP STREAM F|P text"), rotated at a size;
 *   - waits for the exit status, writes it to the status file (temp + rename),
 *     restarts the container when told to, and exits with it.
 *   - runs the container's healthcheck, an exec plan nook made (--health-plan), every
 *     interval, and writes the results to the health file (its section below says how).
 *
 * No policy lives here: which statuses restart, how often, how long to back
 * off, where to log and how much, what to run before GO or after the end,
 * which helper to start and how to tell that it is ready — all of it comes
 * from TypeScript on the command line (src/monitor/, src/network/detached.ts).
 *
 *   fd 3   the plan (a memfd), read once and kept for restarts
 *   fd 4   the control socket to nook, for the first start's handshake
 *
 * The container's cgroup (--cgroup-file FILE): FILE holds the path
 * of the cgroup v2 directory nook put the container in, written by nook
 * before the first start's GO (no file: no cgroup). Restarted containers are
 * put back there before GO, and at each exit memory.events' oom_kill count,
 * compared with its count at GO, says whether the OOM killer ended the run.
 *
 * Signals: SIGUSR2 = "run a healthcheck now"; SIGUSR1 = "stopped by the user: do not restart"; SIGTERM, SIGINT,
 * SIGHUP = the same, and SIGTERM is passed on to the container.
 *
 * The status file is "key=value" lines (src/containers/status.ts reads it):
 *   state=running|restarting|exited  pid  pid_start  monitor_pid  monitor_start
 *   boot_id  started_at  finished_at (ns since the epoch)  exit_code  restarts  oom_killed  error
 *   helper_pid  helper_start (the network helper of the current run, 0 when none)
 */
#define _GNU_SOURCE
#include "internal.h" /* the plan interpreter's library; this program is its second user */

#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h> /* rename */
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

#define PLAN_FD 3
#define CTL_FD 4
#define MAX_STEPS 16
#define PART_MAX 16384 /* a line longer than this is logged in P(artial) pieces */
#define MAX_CALLS 256
#define MAX_REMOVE 4

extern char **environ;

struct stream {
  int fd;
  const char *name; /* "stdout" / "stderr" */
  char part[PART_MAX];
  size_t plen;
};

struct step {
  int is_write;      /* write data to /proc/PID/file, else run argv */
  const char *file;  /* is_write */
  const char *data;  /* is_write */
  char **argv;       /* run: NULL-terminated, "%PID%" replaced at run time */
};

/*
 * The helper that serves the container's network namespace, as nook
 * described it: argv (with %PID%, %READY_FD% and %EXIT_FD% replaced at each
 * start), when to start it, how it says it is ready, how to ask it to exit,
 * and requests for its API socket. Why the monitor and not nook: the helper
 * must live exactly as long as the container, across restarts, and nook is
 * gone once `run -d` returns.
 */
struct helper {
  char **argv; /* NULL: no helper */
  const char *log;
  int early;           /* start when the child is READY, before its id maps (else right before GO) */
  const char *fifo;    /* readiness: the first bytes written to a FIFO made at this path; NULL: the %READY_FD% pipe */
  int stop_signal;     /* ask it to exit with this signal; 0: close the pipe it has as %EXIT_FD% */
  long long ready_ms, stop_ms;
  const char *call_sock[MAX_CALLS], *call_req[MAX_CALLS];
  int ncalls;
  const char *call_ok; /* a reply is a success when it contains this */
  const char *remove[MAX_REMOVE]; /* paths removed before each start and after it ended */
  int nremove;

  /* the running one */
  pid_t pid; /* 0: none */
  int pidfd, ready_r, exit_w, reaped;
  long long start;
};

/* What went wrong with the helper (SHIM_HELPER_* in shim.h), for nook or the status file. */
struct helper_failure {
  int step, call, err;
  char text[SHIM_MSG_TEXT];
};

static struct {
  const char *id, *status, *log;
  long long log_max;
  int log_files;
  int stdin_pipe;
  int on_success, on_failure;
  long long restart_max; /* -1: no limit */
  long long delay_ms, delay_max_ms;
  struct step steps[MAX_STEPS];
  int nsteps;
  char **exit_argv;
  char **sync_argv; /* run at a plan's SYNC on restarts (nook is not there to answer it) */
  const char *cgroup_file; /* --cgroup-file */
  struct helper helper;

  uint8_t *plan;
  uint32_t plan_len;
  int ctl;       /* control socket while nook is there, else -1 */
  int sigfd;
  int log_fd;
  long long log_size;
  char boot_id[64];
  long long self_start;

  /* the current run */
  pid_t pid;
  long long pid_start, started_ns, finished_ns;
  int exit_code;
  int state; /* 0 starting, 1 running, 2 restarting, 3 exited */
  long long restarts;
  long long delay_cur;
  long long restart_at_ms; /* monotonic deadline of a pending restart */
  int no_restart;
  long long oom_base; /* the cgroup's oom_kill count at this run's GO (-1: not known) */
  int oom_killed;     /* the OOM killer ended the last run */
  char error[SHIM_MSG_TEXT + 64];
  struct stream out, err, tty; /* tty: the pty master (-t); a terminal merges both streams, logged as stdout */
  int stdin_w;
} M;

static void health_reset(void); /* the healthcheck (its section is below the container's start) */

/* ---- small helpers ---------------------------------------------------------- */

static long long now_ns(clockid_t clk) {
  struct timespec ts;
  clock_gettime(clk, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static long long parse_ll(const char *s, int *ok) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || !*s || *end) *ok = 0;
  return v;
}

/* field 22 of /proc/PID/stat (start time in clock ticks since boot): with the
 * pid it names one process for good, so a recycled pid is never mistaken. */
static long long proc_start(pid_t pid) {
  char path[64], buf[1024];
  struct text t = {path, sizeof path, 0};
  text_add(&t, "/proc/");
  text_num(&t, pid);
  text_add(&t, "/stat");
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  char *p = strrchr(buf, ')');
  if (!p) return 0;
  int field = 2;
  for (; *p; p++) {
    if (*p != ' ') continue;
    if (++field == 22) return strtoll(p + 1, NULL, 10);
  }
  return 0;
}

static void set_error(const char *a, const char *b) {
  struct text t = {M.error, sizeof M.error, 0};
  text_add(&t, a);
  text_add(&t, b);
  for (char *p = M.error; *p; p++)
    if (*p == '\n' || *p == '\r') *p = ' ';
}

/* ---- the status file ---------------------------------------------------------- */

static void kv(struct text *t, const char *k, long long v) {
  text_add(t, k);
  text_add(t, "=");
  text_num(t, v);
  text_add(t, "\n");
}

/* Replace path's content whole: written to path.tmp (synced when asked), then renamed over it,
 * so a reader sees the old content or the new, never a part. Nothing changes on an error. */
static void replace_file(const char *path, const char *buf, size_t len, int sync) {
  char tmp[4096];
  struct text tt = {tmp, sizeof tmp, 0};
  text_add(&tt, path);
  text_add(&tt, ".tmp");
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return;
  int ok = write_all(fd, buf, (ssize_t)len) == 0 && (!sync || fsync(fd) == 0);
  close(fd);
  if (!ok || rename(tmp, path) < 0) unlink(tmp);
}

static void write_status(void) {
  static const char *names[] = {"created", "running", "restarting", "exited"};
  char buf[4096];
  struct text t = {buf, sizeof buf, 0};
  text_add(&t, "state=");
  text_add(&t, names[M.state]);
  text_add(&t, "\n");
  kv(&t, "pid", M.state == 1 ? M.pid : 0);
  kv(&t, "pid_start", M.state == 1 ? M.pid_start : 0);
  kv(&t, "monitor_pid", getpid());
  kv(&t, "monitor_start", M.self_start);
  text_add(&t, "boot_id=");
  text_add(&t, M.boot_id);
  text_add(&t, "\n");
  kv(&t, "started_at", M.started_ns);
  kv(&t, "finished_at", M.finished_ns);
  kv(&t, "exit_code", M.exit_code);
  kv(&t, "restarts", M.restarts);
  kv(&t, "oom_killed", M.oom_killed);
  text_add(&t, "error=");
  text_add(&t, M.error);
  text_add(&t, "\n");
  kv(&t, "helper_pid", M.helper.pid);
  kv(&t, "helper_start", M.helper.pid ? M.helper.start : 0);

  /* the record outlives a crash of the machine: synced before it replaces the old one */
  replace_file(M.status, buf, t.len, 1);
}

/* ---- the log -------------------------------------------------------------------- */

static void log_open(void) {
  if (!M.log) return;
  M.log_fd = open(M.log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  struct stat st;
  M.log_size = M.log_fd >= 0 && fstat(M.log_fd, &st) == 0 ? st.st_size : 0;
}

/* FILE.(n-1) → FILE.n, …, FILE → FILE.1; with one file, start it over. */
static void log_rotate(void) {
  close(M.log_fd);
  M.log_fd = -1;
  if (M.log_files <= 1) {
    M.log_fd = open(M.log, O_WRONLY | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    M.log_size = 0;
    return;
  }
  char from[4096], to[4096];
  for (int i = M.log_files - 1; i >= 1; i--) {
    struct text a = {from, sizeof from, 0}, b = {to, sizeof to, 0};
    text_add(&a, M.log);
    if (i > 1) {
      text_add(&a, ".");
      text_num(&a, i - 1);
    }
    text_add(&b, M.log);
    text_add(&b, ".");
    text_num(&b, i);
    rename(from, to);
  }
  log_open();
}

/* RFC 3339 with nanoseconds, UTC: 2024-05-06T07:08:09.123456789Z */
static size_t timestamp(char *out) {
  long long ns = now_ns(CLOCK_REALTIME);
  long long secs = ns / 1000000000LL, frac = ns % 1000000000LL;
  long long days = secs / 86400, rem = secs % 86400;
  /* civil_from_days (Howard Hinnant) */
  long long z = days + 719468, era = z / 146097;
  long long doe = z - era * 146097;
  long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  long long y = yoe + era * 400, doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  long long mp = (5 * doy + 2) / 153, d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) y++;
  long long parts[] = {y, m, d, rem / 3600, rem % 3600 / 60, rem % 60};
  int widths[] = {4, 2, 2, 2, 2, 2};
  const char *seps = "--T::.";
  size_t n = 0;
  for (int i = 0; i < 6; i++) {
    long long v = parts[i];
    for (int w = widths[i] - 1; w >= 0; w--, v /= 10) out[n + (size_t)w] = (char)('0' + v % 10);
    n += (size_t)widths[i];
    out[n++] = seps[i];
  }
  for (int w = 8; w >= 0; w--, frac /= 10) out[n + (size_t)w] = (char)('0' + frac % 10);
  n += 9;
  out[n++] = 'Z';
  return n;
}

/* One log record: "TIMESTAMP STREAM F|P " + a + b + "\n", in one write. */
static void log_line(struct stream *s, char tag, const char *a, size_t an, const char *b, size_t bn) {
  if (M.log_fd < 0) return;
  char head[80];
  size_t hn = timestamp(head);
  head[hn++] = ' ';
  for (const char *p = s->name; *p; p++) head[hn++] = *p;
  head[hn++] = ' ';
  head[hn++] = tag;
  head[hn++] = ' ';
  struct iovec iov[4] = {{head, hn}, {(void *)(uintptr_t)a, an}, {(void *)(uintptr_t)b, bn}, {"\n", 1}};
  long long total = (long long)(hn + an + bn + 1);
  if (M.log_max > 0 && M.log_size > 0 && M.log_size + total > M.log_max) log_rotate();
  if (M.log_fd < 0) return;
  ssize_t w;
  do w = writev(M.log_fd, iov, 4);
  while (w < 0 && errno == EINTR);
  if (w > 0) M.log_size += w;
}

static void log_data(struct stream *s, const char *buf, size_t n) {
  while (n > 0) {
    const char *nl = memchr(buf, '\n', n);
    if (nl) {
      size_t k = (size_t)(nl - buf);
      log_line(s, 'F', s->part, s->plen, buf, k);
      s->plen = 0;
      buf += k + 1, n -= k + 1;
      continue;
    }
    size_t room = PART_MAX - s->plen, k = n < room ? n : room;
    memcpy(s->part + s->plen, buf, k);
    s->plen += k;
    buf += k, n -= k;
    if (s->plen == PART_MAX) {
      log_line(s, 'P', s->part, s->plen, "", 0);
      s->plen = 0;
    }
  }
}

static void stream_close(struct stream *s) {
  if (s->plen) log_line(s, 'P', s->part, s->plen, "", 0);
  s->plen = 0;
  if (s->fd >= 0) close(s->fd);
  s->fd = -1;
}

/* Read what is there; at EOF (or EIO from a pty whose slaves are all closed) close. */
static void pump(struct stream *s, int drain) {
  char buf[65536];
  while (s->fd >= 0) {
    ssize_t n = read(s->fd, buf, sizeof buf);
    if (n > 0) {
      log_data(s, buf, (size_t)n);
      if (!drain) return;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN && !drain) return;
    stream_close(s); /* EOF, EIO, or (draining) nothing more will come */
  }
}

/* ---- the container's cgroup (--cgroup-file) --------------------------------------- */

/* The container's cgroup directory as nook recorded it in --cgroup-file;
 * 0 when there is none (no option, no file, or not an absolute path). */
static int cgroup_dir(char *out, size_t cap) {
  if (!M.cgroup_file) return 0;
  int fd = open(M.cgroup_file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, out, cap - 1);
  close(fd);
  if (n <= 0) return 0;
  out[n] = 0;
  char *nl = strchr(out, '\n');
  if (nl) *nl = 0;
  return out[0] == '/';
}

/* The cgroup's "oom_kill N" from memory.events (its subtree included), or -1. */
static long long cgroup_oom_kills(void) {
  char path[4096 + 32], buf[1024];
  if (!cgroup_dir(path, 4096)) return -1;
  struct text t = {path, sizeof path, strlen(path)};
  text_add(&t, "/memory.events");
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return -1;
  buf[n] = 0;
  for (char *line = buf; line;) {
    if (!strncmp(line, "oom_kill ", 9)) return strtoll(line + 9, NULL, 10);
    char *nl = strchr(line, '\n');
    line = nl ? nl + 1 : NULL;
  }
  return -1;
}

/* Put a restarted container (waiting before GO) back into its cgroup. */
static int cgroup_join(pid_t pid) {
  char path[4096 + 32], num[24];
  if (!cgroup_dir(path, 4096)) return 0;
  struct text t = {path, sizeof path, strlen(path)};
  text_add(&t, "/cgroup.procs");
  struct text nt = {num, sizeof num, 0};
  text_num(&nt, pid);
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write_all(fd, num, (ssize_t)nt.len) < 0) {
    set_error("cannot put the restarted container into its cgroup: ", path);
    if (fd >= 0) close(fd);
    return -1;
  }
  close(fd);
  return 0;
}

/* ---- starting the container ------------------------------------------------------ */

static int recv_msg(int fd, struct shim_msg *m, int *passed) {
  int32_t n = shim_recv(fd, (uint8_t *)m, passed, -1);
  if (n == (int32_t)sizeof *m) m->text[SHIM_MSG_TEXT - 1] = 0;
  return n == (int32_t)sizeof *m ? 1 : n == 0 ? 0 : -1;
}

static int forward(const struct shim_msg *m, int fd) {
  return send_msg(M.ctl, m->type, m->op, m->err, m->value, m->text, fd);
}

/* nook's answer to a forwarded message: its type, or 0 when nook is gone. */
static uint32_t ctl_reply(void) {
  struct shim_msg m;
  int fd = -1;
  int rc = recv_msg(M.ctl, &m, &fd);
  if (fd >= 0) close(fd);
  return rc == 1 ? m.type : 0;
}

/* Run a command nook listed ("%PID%" replaced by the child's pid) and wait for it; an error names it. */
static int run_step(char **argv, const char *pidtxt) {
  uint8_t block[8192];
  size_t n = 0;
  for (char **a = argv; *a; a++) {
    const char *v = strcmp(*a, "%PID%") == 0 ? pidtxt : *a;
    size_t l = strlen(v) + 1;
    if (n + l > sizeof block) return set_error("command line too long: ", argv[0]), -1;
    memcpy(block + n, v, l);
    n += l;
  }
  char err[512];
  int32_t ignored[2];
  int32_t rc = shim_helper(block, (uint32_t)n, "", NULL, 0, 0, SHIM_HELPER_WAIT, ignored, err, sizeof err);
  if (rc != 0) {
    char msg[SHIM_MSG_TEXT];
    struct text t = {msg, sizeof msg, 0};
    text_add(&t, argv[0]);
    text_add(&t, rc < 0 ? " could not be run: errno " : " failed with status ");
    text_num(&t, rc < 0 ? -rc : rc);
    text_add(&t, ": ");
    set_error(msg, err);
    return -1;
  }
  return 0;
}

/* The pre-GO steps nook listed, for a restart (nook is not there to do them). */
static int pre_go(pid_t pid) {
  char pidtxt[16];
  struct text pt = {pidtxt, sizeof pidtxt, 0};
  text_num(&pt, pid);
  for (int i = 0; i < M.nsteps; i++) {
    struct step *s = &M.steps[i];
    if (s->is_write) {
      char path[256];
      struct text t = {path, sizeof path, 0};
      text_add(&t, "/proc/");
      text_add(&t, pidtxt);
      text_add(&t, "/");
      text_add(&t, s->file);
      int fd = open(path, O_WRONLY | O_CLOEXEC);
      if (fd < 0 || write_all(fd, s->data, (ssize_t)strlen(s->data)) < 0) {
        set_error("cannot write ", path);
        if (fd >= 0) close(fd);
        return -1;
      }
      close(fd);
      continue;
    }
    if (run_step(s->argv, pidtxt) < 0) return -1;
  }
  return 0;
}

static void reap(pid_t pid) {
  int st;
  while (waitpid(pid, &st, __WALL) < 0 && errno == EINTR) {
  }
}

/* ---- the network helper ---------------------------------------------------------- */

/* The helper's argv as a block of NUL-terminated strings, with %PID%,
 * %READY_FD% and %EXIT_FD% replaced wherever they appear in an argument. */
static int helper_block(uint8_t *block, size_t cap, size_t *len, pid_t pid, int ready_w, int exit_r) {
  static const char *keys[3] = {"%PID%", "%READY_FD%", "%EXIT_FD%"};
  char vals[3][24];
  long long nums[3] = {pid, ready_w, exit_r};
  for (int k = 0; k < 3; k++) {
    struct text t = {vals[k], sizeof vals[k], 0};
    text_num(&t, nums[k]);
  }
  size_t n = 0;
  for (char **a = M.helper.argv; *a; a++) {
    for (const char *p = *a; *p;) {
      int k = 0;
      while (k < 3 && strncmp(p, keys[k], strlen(keys[k])) != 0) k++;
      const char *piece = k < 3 ? vals[k] : p;
      size_t l = k < 3 ? strlen(vals[k]) : 1;
      if (n + l + 1 > cap) return -E2BIG;
      memcpy(block + n, piece, l);
      n += l;
      p += k < 3 ? strlen(keys[k]) : 1;
    }
    block[n++] = 0;
  }
  *len = n;
  return 0;
}

/* Start the helper for the container whose setup process is pid. */
static int helper_start(pid_t pid, struct helper_failure *f) {
  struct helper *h = &M.helper;
  int ready[2] = {-1, -1}, ex[2] = {-1, -1}, rc = 0;
  for (int i = 0; i < h->nremove; i++) unlink(h->remove[i]); /* left by an earlier run, or by a killed monitor */
  if (h->fifo) {
    rc = shim_fifo(h->fifo);
    if (rc >= 0) ready[0] = rc, rc = 0;
  } else if (pipe2(ready, O_CLOEXEC) < 0) {
    rc = -errno;
  }
  if (!rc && !h->stop_signal && pipe2(ex, O_CLOEXEC) < 0) rc = -errno;
  uint8_t block[16384];
  size_t n = 0;
  if (!rc) rc = helper_block(block, sizeof block, &n, pid, ready[1], ex[0]);
  int32_t keep[2], out[2];
  uint32_t nkeep = 0;
  if (ready[1] >= 0) keep[nkeep++] = ready[1];
  if (ex[0] >= 0) keep[nkeep++] = ex[0];
  /* Why a parent-death signal: the helper must not outlive the monitor, not
   * even a kill -9 of it; the monitor has one thread, which is the "parent". */
  if (!rc) rc = shim_helper(block, (uint32_t)n, h->log ? h->log : "", keep, nkeep, SIGKILL, 0, out, NULL, 0);
  /* The helper holds its own copies: ours would hide its exit from the ready pipe. */
  if (ready[1] >= 0) close(ready[1]);
  if (ex[0] >= 0) close(ex[0]);
  if (rc < 0) {
    if (ready[0] >= 0) close(ready[0]);
    if (ex[1] >= 0) close(ex[1]);
    f->step = SHIM_HELPER_START;
    f->err = -rc;
    return -1;
  }
  h->pid = out[0];
  h->pidfd = out[1];
  h->ready_r = ready[0];
  h->exit_w = ex[1];
  h->reaped = 0;
  h->start = proc_start(h->pid);
  return 0;
}

/* One request on the helper's API socket; the reply (read to EOF) must contain call_ok. */
static int helper_call(int i, struct helper_failure *f) {
  struct helper *h = &M.helper;
  f->step = SHIM_HELPER_CALL;
  f->call = i;
  struct sockaddr_un a;
  memset(&a, 0, sizeof a);
  a.sun_family = AF_UNIX;
  if (strlen(h->call_sock[i]) >= sizeof a.sun_path) return f->err = ENAMETOOLONG, -1;
  memcpy(a.sun_path, h->call_sock[i], strlen(h->call_sock[i]));
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return f->err = errno, -1;
  int rc;
  do rc = connect(s, (struct sockaddr *)&a, sizeof a);
  while (rc < 0 && errno == EINTR);
  if (rc < 0 || write_all(s, h->call_req[i], (ssize_t)strlen(h->call_req[i])) < 0 || shutdown(s, SHUT_WR) < 0) {
    f->err = errno;
    close(s);
    return -1;
  }
  char reply[4096];
  size_t got = 0;
  long long deadline = now_ns(CLOCK_MONOTONIC) / 1000000 + h->ready_ms;
  for (;;) {
    long long left = deadline - now_ns(CLOCK_MONOTONIC) / 1000000;
    struct pollfd p = {s, POLLIN, 0};
    int pr = left > 0 ? poll(&p, 1, (int)left) : 0;
    if (pr < 0 && errno == EINTR) continue;
    if (pr <= 0) {
      f->err = pr == 0 ? ETIMEDOUT : errno;
      close(s);
      return -1;
    }
    char buf[1024];
    ssize_t n = read(s, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      f->err = errno;
      close(s);
      return -1;
    }
    if (n == 0) break;
    for (ssize_t k = 0; k < n && got + 1 < sizeof reply; k++) reply[got++] = buf[k];
  }
  close(s);
  reply[got] = 0;
  if (h->call_ok && !strstr(reply, h->call_ok)) {
    struct text t = {f->text, sizeof f->text, 0};
    text_add(&t, reply);
    f->err = 0;
    return -1;
  }
  return 0;
}

/* Wait (bounded) until the helper says it is ready, then make the calls. */
static int helper_ready(struct helper_failure *f) {
  struct helper *h = &M.helper;
  uint8_t buf[256];
  int32_t rc = shim_helper_wait(h->ready_r, h->pidfd, (int32_t)h->ready_ms, buf, sizeof buf);
  close(h->ready_r);
  h->ready_r = -1;
  if (rc <= 0) { /* nothing written: it exited (EOF, or its pidfd), or it took too long */
    f->step = rc == -ETIMEDOUT ? SHIM_HELPER_TIMEOUT : SHIM_HELPER_EXITED;
    f->err = rc < 0 && rc != -ETIMEDOUT && rc != -ECHILD ? -rc : 0;
    return -1;
  }
  for (int i = 0; i < h->ncalls; i++)
    if (helper_call(i, f) < 0) return -1;
  return 0;
}

/* Ask the helper to exit (its signal, or EOF on its exit pipe), SIGKILL it
 * when it has not within stop_ms, reap it, remove its files. Idempotent. */
static void helper_stop(void) {
  struct helper *h = &M.helper;
  if (!h->pid) return;
  if (h->ready_r >= 0) close(h->ready_r);
  if (!h->reaped) {
    if (h->stop_signal) syscall(SYS_pidfd_send_signal, h->pidfd, h->stop_signal, NULL, 0);
    if (h->exit_w >= 0) close(h->exit_w);
    h->exit_w = -1;
    struct pollfd p = {h->pidfd, POLLIN, 0};
    int pr;
    do pr = poll(&p, 1, (int)h->stop_ms);
    while (pr < 0 && errno == EINTR);
    if (pr <= 0) syscall(SYS_pidfd_send_signal, h->pidfd, SIGKILL, NULL, 0);
    reap(h->pid);
  }
  if (h->exit_w >= 0) close(h->exit_w);
  close(h->pidfd);
  for (int i = 0; i < h->nremove; i++) unlink(h->remove[i]);
  h->pid = 0;
  h->pidfd = h->ready_r = h->exit_w = -1;
}

/* The status file's words for a failed helper (nook, on a first start, says it better). */
static void helper_error(const struct helper_failure *f) {
  const char *name = strrchr(M.helper.argv[0], '/');
  name = name ? name + 1 : M.helper.argv[0];
  char msg[SHIM_MSG_TEXT + 512];
  struct text t = {msg, sizeof msg, 0};
  text_add(&t, "the network helper ");
  text_add(&t, name);
  switch (f->step) {
  case SHIM_HELPER_START:
    text_add(&t, " could not be started");
    break;
  case SHIM_HELPER_EXITED:
    text_add(&t, " exited before it was ready");
    break;
  case SHIM_HELPER_TIMEOUT:
    text_add(&t, " was not ready within ");
    text_num(&t, M.helper.ready_ms);
    text_add(&t, " ms");
    break;
  default:
    text_add(&t, " refused request ");
    text_num(&t, f->call + 1);
    if (!f->err) {
      text_add(&t, ": ");
      text_add(&t, f->text);
    }
  }
  if (f->err) {
    text_add(&t, " (errno ");
    text_num(&t, f->err);
    text_add(&t, ")");
  }
  if (M.helper.log && *M.helper.log && f->step != SHIM_HELPER_START) {
    text_add(&t, "; its log: ");
    text_add(&t, M.helper.log);
  }
  set_error(msg, "");
}

/*
 * Clone the container and drive its handshake (the ladder above child_main in
 * spawn.c). First start: every message goes to nook and nook's answers come
 * back (GO, CONTINUE, ABORT); nook reads the container's pid and pidfd from a
 * PID message sent before anything else. Restart: the monitor answers itself.
 * Returns 0 once the container has exec'd, -1 when it did not start.
 *
 * With a network helper, the stop at READY grows (first start shown; on a
 * restart the monitor runs the pre-GO steps where nook writes the maps):
 *
 *   nook                      monitor                          child
 *                               clone ───────────────────────►
 *        ◄───────────────────── PID (pid, pidfd)
 *                                    ◄──────────────────────── READY
 *                               [--helper-early: start helper]
 *        ◄───────────────────── READY
 *   write id maps, hooks
 *   GO ────────────────────────►
 *                               [else: start the helper now]
 *                               wait for its readiness (bounded),
 *                               then its API calls
 *                               GO ───────────────────────────►
 *   on failure instead: stop the helper, ABORT and reap the child, then
 *        ◄───────────────────── ERROR {op SHIM_OP_INDEX_HELPER, step, errno, reply}
 */
static int start_container(void) {
  int first = M.ctl >= 0;
  int out[2], err[2], in[2] = {-1, -1}, sv[2];
  int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 ||
      (M.stdin_pipe && pipe2(in, O_CLOEXEC) < 0) || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
    int e = errno;
    if (first) send_msg(M.ctl, SHIM_MSG_ERROR, -1, e, 0, "monitor: cannot create pipes", -1);
    set_error("monitor: cannot create pipes for the container", "");
    return -1;
  }
  int pidfd = -1;
  pid_t pid = raw_clone(plan_clone_flags(M.plan) | SIGCHLD | CLONE_PIDFD, &pidfd);
  if (pid < 0) {
    int e = errno;
    if (first) send_msg(M.ctl, SHIM_MSG_ERROR, -1, e, 0, "clone", -1);
    set_error("monitor: clone failed", "");
    close(out[0]), close(out[1]), close(err[0]), close(err[1]), close(sv[0]), close(sv[1]), close(devnull);
    if (in[0] >= 0) close(in[0]), close(in[1]);
    return -1;
  }
  if (pid == 0) {
    /* The container's stdio on 0-2, the sync socket on 3, nothing else: the
     * monitor's own descriptors (control socket, log, signalfd) must not live
     * on in processes that never exec, such as the --init reaper. */
    dup2(in[0] >= 0 ? in[0] : devnull, 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    if (sv[1] != 3 && dup3(sv[1], 3, O_CLOEXEC) < 0) _exit(CHILD_FAIL_EXIT);
    syscall(SYS_close_range, 4u, ~0u, 0u);
    child_main(M.plan, M.plan_len, 3);
  }
  close(sv[1]), close(out[1]), close(err[1]), close(devnull);
  if (in[0] >= 0) close(in[0]);
  if (M.stdin_w >= 0) close(M.stdin_w);
  M.stdin_w = in[1];
  M.out.fd = out[0], M.err.fd = err[0];
  fcntl(out[0], F_SETFL, O_NONBLOCK);
  fcntl(err[0], F_SETFL, O_NONBLOCK);

  int sock = sv[0], ok = -1;
  struct helper_failure hf;
  memset(&hf, 0, sizeof hf);
  if (first && send_msg(M.ctl, SHIM_MSG_PID, -1, 0, pid, NULL, pidfd) < 0) goto abort;
  for (;;) {
    struct shim_msg m;
    int fd = -1;
    int rc = recv_msg(sock, &m, &fd);
    if (rc == 0) { /* EOF: execve closed the socket, the container runs */
      ok = 0;
      break;
    }
    if (rc < 0) goto abort;
    switch (m.type) {
    case SHIM_MSG_READY:
      /* An early helper (one that needs no id maps) starts while they are written. */
      if (M.helper.argv && M.helper.early && helper_start(pid, &hf) < 0) goto helper_failed;
      if (first) {
        if (forward(&m, -1) < 0 || ctl_reply() != SHIM_MSG_GO) goto abort;
      } else if (cgroup_join(pid) < 0 || pre_go(pid) < 0) {
        goto abort;
      }
      M.oom_base = cgroup_oom_kills(); /* nook has made the cgroup by its GO */
      if (M.helper.argv && !M.helper.early && helper_start(pid, &hf) < 0) goto helper_failed;
      if (M.helper.argv && helper_ready(&hf) < 0) goto helper_failed;
      if (send_msg(sock, SHIM_MSG_GO, -1, 0, 0, NULL, -1) < 0) goto abort;
      break;
    case SHIM_MSG_ERROR:
      if (first) forward(&m, -1);
      {
        char why[SHIM_MSG_TEXT + 32];
        struct text t = {why, sizeof why, 0};
        text_add(&t, m.text);
        text_add(&t, " (errno ");
        text_num(&t, m.err);
        text_add(&t, ")");
        set_error("the container's setup failed on restart: ", why);
      }
      goto abort;
    case SHIM_MSG_SYNC:
      if (first && (forward(&m, -1) < 0 || ctl_reply() != SHIM_MSG_CONTINUE)) goto abort;
      if (!first && M.sync_argv) {
        char pidtxt[16];
        struct text pt = {pidtxt, sizeof pidtxt, 0};
        text_num(&pt, pid);
        if (run_step(M.sync_argv, pidtxt) < 0) goto abort;
      }
      if (send_msg(sock, SHIM_MSG_CONTINUE, -1, 0, 0, NULL, -1) < 0) goto abort;
      break;
    case SHIM_MSG_FD: /* the pty master: ours to read, nook does not need it */
      if (M.tty.fd >= 0) close(M.tty.fd);
      M.tty.fd = fd;
      if (fd >= 0) fcntl(fd, F_SETFL, O_NONBLOCK);
      break;
    case SHIM_MSG_PID: /* op FORK: the old process leaves, the new one is our child (CLONE_PARENT) */
      reap(pid);
      pid = m.value;
      if (first && (forward(&m, fd) < 0 || ctl_reply() != SHIM_MSG_CONTINUE)) goto abort;
      if (fd >= 0) close(fd);
      if (send_msg(sock, SHIM_MSG_CONTINUE, -1, 0, 0, NULL, -1) < 0) goto abort;
      break;
    default:
      goto abort;
    }
  }
  close(sock);
  if (pidfd >= 0) close(pidfd);
  M.pid = pid;
  M.pid_start = proc_start(pid);
  M.started_ns = now_ns(CLOCK_REALTIME);
  M.finished_ns = 0;
  M.exit_code = 0;
  M.error[0] = 0;
  M.oom_killed = 0;
  M.state = 1;
  write_status();
  health_reset();
  if (first) { /* EOF tells nook the container runs; from now on we are on our own */
    close(M.ctl);
    M.ctl = -1;
  }
  return ok;

helper_failed:
  helper_error(&hf);
abort:
  helper_stop();
  send_msg(sock, SHIM_MSG_ABORT, -1, 0, 0, NULL, -1);
  close(sock);
  kill(pid, SIGKILL);
  reap(pid);
  if (pidfd >= 0) close(pidfd);
  /* Told only now, so that nothing of this start is left when `run -d` returns. */
  if (first && hf.step)
    send_msg(M.ctl, SHIM_MSG_ERROR, SHIM_OP_INDEX_HELPER, hf.err, (hf.call << 8) | hf.step, hf.text, -1);
  if (!M.error[0]) set_error("the container's setup was aborted", "");
  return -1;
}

/* ---- the healthcheck ---------------------------------------------------------------- */

/*
 * nook hands over an exec plan (--health-plan FILE: the same plan `nook exec` would build,
 * except that its namespace paths are relative, "ns/net"…) and the numbers of docker's
 * healthcheck; the monitor runs the plan every interval in a child whose working directory is
 * /proc/PID of the current run, so the plan joins whichever run is current, without nook.
 * What a result means is docker's rule, kept to counting: a success makes the container
 * healthy and clears the failing streak; a failure after the start period (or after a first
 * success) adds to the streak, and the streak reaching --health-retries makes it unhealthy,
 * at which point the action nook chose runs: a signal, a SIGKILL after a delay, a restart.
 *
 * The health file (--health-file), rewritten through a temporary name after every result:
 *   status=starting|healthy|unhealthy  failing_streak=N
 *   then per result, oldest first: "log=START_NS END_NS EXIT_CODE LEN\n" + LEN bytes of output + "\n"
 */
#define HEALTH_LOG 5
#define HEALTH_OUT 4096

struct health_result {
  long long start, end;
  int code;
  size_t len;
  char out[HEALTH_OUT];
};

static struct {
  uint8_t *plan;
  uint32_t plan_len;
  const char *file;
  long long interval_ms, timeout_ms, start_period_ms, retries;
  int action_signal;     /* sent to the container when it turns unhealthy (0: nothing) */
  long long kill_after_ms; /* then SIGKILL after this long (0: never) */
  int action_restart;    /* 1: restart it after it ends, whatever the restart policy; else no restart */

  int status; /* 0 starting, 1 healthy, 2 unhealthy */
  long long streak;
  struct health_result log[HEALTH_LOG];
  int nlog;
  long long run_start_ms; /* monotonic: when the current run started */
  long long next_ms;      /* monotonic: when the next check is due */
  int now;                /* asked for a check now (SIGUSR2) */
  /* the check that runs */
  pid_t pid;
  int out_fd, timed_out;
  long long start_ns, deadline_ms;
  size_t len;
  char buf[HEALTH_OUT];
  long long kill_at_ms; /* monotonic deadline of the action's SIGKILL (0: none) */
  int force_restart;
} H;

static long long mono_ms(void) { return now_ns(CLOCK_MONOTONIC) / 1000000; }

static void health_write(void) {
  if (!H.file) return;
  static const char *names[] = {"starting", "healthy", "unhealthy"};
  static char buf[HEALTH_LOG * (HEALTH_OUT + 128) + 256];
  struct text t = {buf, sizeof buf, 0};
  text_add(&t, "status=");
  text_add(&t, names[H.status]);
  text_add(&t, "\n");
  kv(&t, "failing_streak", H.streak);
  for (int i = 0; i < H.nlog; i++) {
    struct health_result *r = &H.log[i];
    text_add(&t, "log=");
    text_num(&t, r->start);
    text_add(&t, " ");
    text_num(&t, r->end);
    text_add(&t, " ");
    text_num(&t, r->code);
    text_add(&t, " ");
    text_num(&t, (long long)r->len);
    text_add(&t, "\n");
    /* the output may hold any byte, NUL too: copied, not text_add'ed */
    if (t.len + r->len + 2 >= t.cap) break;
    memcpy(t.buf + t.len, r->out, r->len);
    t.len += r->len;
    text_add(&t, "\n");
  }
  /* what the checks said lasts only as long as the container runs: no sync */
  replace_file(H.file, buf, t.len, 0);
}

/* One result: into the log (the last HEALTH_LOG kept), counted, written; the action when it turns unhealthy. */
static void health_record(int code, const char *out, size_t len) {
  if (H.nlog == HEALTH_LOG) {
    memmove(&H.log[0], &H.log[1], sizeof H.log[0] * (HEALTH_LOG - 1));
    H.nlog--;
  }
  struct health_result *r = &H.log[H.nlog++];
  r->start = H.start_ns;
  r->end = now_ns(CLOCK_REALTIME);
  r->code = code;
  r->len = len > HEALTH_OUT ? HEALTH_OUT : len;
  memcpy(r->out, out, r->len);
  H.next_ms = mono_ms() + H.interval_ms;
  if (M.state != 1) { /* the container ended meanwhile: the result says nothing of it */
    health_write();
    return;
  }
  if (code == 0) {
    H.status = 1;
    H.streak = 0;
  } else if (H.status != 0 || mono_ms() - H.run_start_ms >= H.start_period_ms) {
    if (++H.streak >= H.retries && H.status != 2) {
      H.status = 2;
      if (H.action_signal && M.pid > 0) {
        if (H.action_restart) H.force_restart = 1;
        else M.no_restart = 1;
        kill(M.pid, H.action_signal);
        if (H.kill_after_ms > 0) H.kill_at_ms = mono_ms() + H.kill_after_ms;
      }
    }
  }
  health_write();
}

static void health_fail(const char *why, const char *detail) {
  char msg[SHIM_MSG_TEXT + 64];
  struct text t = {msg, sizeof msg, 0};
  text_add(&t, why);
  text_add(&t, detail);
  health_record(-1, msg, t.len);
}

/* A new run of the container: its health starts over (the log stays). */
static void health_reset(void) {
  if (!H.plan) return;
  H.status = 0;
  H.streak = 0;
  H.run_start_ms = mono_ms();
  H.next_ms = H.run_start_ms + H.interval_ms;
  H.kill_at_ms = 0;
  health_write();
}

/* Start a check: clone a child in /proc/PID of the container, hand it the plan, answer its handshake. */
static void health_start(void) {
  if (!H.plan || M.state != 1 || H.pid || M.pid <= 0) return;
  H.now = 0;
  H.start_ns = now_ns(CLOCK_REALTIME);
  char dir[64];
  struct text dt = {dir, sizeof dir, 0};
  text_add(&dt, "/proc/");
  text_num(&dt, M.pid);
  int sv[2] = {-1, -1}, out[2] = {-1, -1};
  int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull < 0 || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0 || pipe2(out, O_CLOEXEC) < 0) {
    int e = errno;
    if (devnull >= 0) close(devnull);
    if (sv[0] >= 0) close(sv[0]), close(sv[1]);
    char num[12];
    health_fail("cannot start the health check: errno ", decimal(num, e));
    return;
  }
  pid_t c = raw_clone(SIGCHLD, NULL);
  if (c == 0) {
    dup2(devnull, 0);
    dup2(out[1], 1);
    dup2(out[1], 2);
    if (sv[1] != 3 && dup3(sv[1], 3, O_CLOEXEC) < 0) _exit(CHILD_FAIL_EXIT);
    syscall(SYS_close_range, 4u, ~0u, 0u);
    /* Why /proc/PID as the working directory: the plan's namespace paths are relative to it,
     * and a directory held open names this run's process for good, never a recycled pid. */
    if (chdir(dir) < 0) _exit(CHILD_FAIL_EXIT);
    child_main(H.plan, H.plan_len, 3);
  }
  close(devnull), close(sv[1]), close(out[1]);
  if (c < 0) {
    char num[12];
    close(sv[0]), close(out[0]);
    health_fail("cannot start the health check: errno ", decimal(num, errno));
    return;
  }
  int sock = sv[0];
  long long deadline = mono_ms() + H.timeout_ms;
  const char *why = NULL;
  char detail[SHIM_MSG_TEXT + 32] = "";
  for (;;) {
    struct shim_msg m;
    int fd = -1;
    long long left = deadline - mono_ms();
    int32_t n = left > 0 ? shim_recv(sock, (uint8_t *)&m, &fd, (int32_t)left) : -ETIMEDOUT;
    if (fd >= 0) close(fd);
    if (n == 0) break; /* EOF: the check's program runs */
    if (n != (int32_t)sizeof m) {
      why = n == -ETIMEDOUT ? "Health check exceeded timeout" : "the health check's setup ended early";
      break;
    }
    m.text[SHIM_MSG_TEXT - 1] = 0;
    if (m.type == SHIM_MSG_READY) {
      char path[4096 + 32], num[24];
      if (cgroup_dir(path, 4096)) { /* under the container's limits, as `nook exec` */
        struct text t = {path, sizeof path, strlen(path)};
        text_add(&t, "/cgroup.procs");
        struct text nt = {num, sizeof num, 0};
        text_num(&nt, c);
        int cf = open(path, O_WRONLY | O_CLOEXEC);
        if (cf >= 0) write_all(cf, num, (ssize_t)nt.len), close(cf);
      }
      if (send_msg(sock, SHIM_MSG_GO, -1, 0, 0, NULL, -1) < 0) why = "the health check's setup ended early";
    } else if (m.type == SHIM_MSG_PID) { /* op FORK: the joined pid namespace applies to the new one */
      reap(c);
      c = m.value;
      if (send_msg(sock, SHIM_MSG_CONTINUE, -1, 0, 0, NULL, -1) < 0) why = "the health check's setup ended early";
    } else if (m.type == SHIM_MSG_ERROR) {
      struct text t = {detail, sizeof detail, 0};
      text_add(&t, ": ");
      text_add(&t, m.text);
      text_add(&t, " (errno ");
      text_num(&t, m.err);
      text_add(&t, ")");
      why = "the health check could not be started";
    } else {
      why = "the health check's setup sent an unexpected message";
    }
    if (why) break;
  }
  close(sock);
  if (why) {
    kill(c, SIGKILL);
    reap(c);
    close(out[0]);
    health_fail(why, detail);
    return;
  }
  fcntl(out[0], F_SETFL, O_NONBLOCK);
  H.pid = c;
  H.out_fd = out[0];
  H.len = 0;
  H.timed_out = 0;
  H.deadline_ms = deadline;
}

/* Read what the check wrote: the first HEALTH_OUT bytes are kept, the rest drained. */
static void health_pump(void) {
  char buf[4096];
  while (H.out_fd >= 0) {
    ssize_t n = read(H.out_fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n < 0 && errno == EAGAIN) return;
      close(H.out_fd);
      H.out_fd = -1;
      return;
    }
    size_t k = (size_t)n < HEALTH_OUT - H.len ? (size_t)n : HEALTH_OUT - H.len;
    memcpy(H.buf + H.len, buf, k);
    H.len += k;
  }
}

static void health_exited(int st) {
  health_pump();
  if (H.out_fd >= 0) close(H.out_fd); /* a background child of the check may hold it: not waited for */
  H.out_fd = -1;
  H.pid = 0;
  if (H.timed_out) {
    health_fail("Health check exceeded timeout", "");
    return;
  }
  health_record(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), H.buf, H.len);
}

/* Due work: a check to start, a check past its timeout, the action's SIGKILL. Returns ms until the next. */
static long long health_tick(void) {
  if (!H.plan) return -1;
  long long now = mono_ms();
  if (H.kill_at_ms && now >= H.kill_at_ms) {
    if (M.pid > 0) kill(M.pid, SIGKILL);
    H.kill_at_ms = 0;
  }
  if (H.pid && !H.timed_out && now >= H.deadline_ms) {
    H.timed_out = 1;
    kill(H.pid, SIGKILL); /* our child, not yet reaped: the pid is still its own */
  }
  if (!H.pid && M.state == 1 && (H.now || now >= H.next_ms)) health_start();
  now = mono_ms();
  long long wait = -1;
  long long due[3] = {H.kill_at_ms, H.pid && !H.timed_out ? H.deadline_ms : 0, !H.pid && M.state == 1 ? H.next_ms : 0};
  for (int i = 0; i < 3; i++) {
    if (!due[i]) continue;
    long long left = due[i] - now < 0 ? 0 : due[i] - now;
    if (wait < 0 || left < wait) wait = left;
  }
  return wait;
}

/* ---- the end ----------------------------------------------------------------------- */

static void __attribute__((noreturn)) finish(int code) {
  helper_stop();
  M.state = 3;
  if (!M.finished_ns) M.finished_ns = now_ns(CLOCK_REALTIME);
  M.exit_code = code;
  write_status();
  if (M.exit_argv) {
    /* e.g. `nook rm` for run --rm: its own session, not waited for */
    pid_t p = fork();
    if (p == 0) {
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, NULL);
      setsid();
      execve(M.exit_argv[0], M.exit_argv, environ);
      _exit(127);
    }
  }
  _exit(0);
}

static void container_exited(int st) {
  helper_stop(); /* its namespace is going away; a restart starts a new one */
  pump(&M.out, 1);
  pump(&M.err, 1);
  pump(&M.tty, 1);
  stream_close(&M.out);
  stream_close(&M.err);
  stream_close(&M.tty);
  if (M.stdin_w >= 0) close(M.stdin_w);
  M.stdin_w = -1;
  M.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  M.finished_ns = now_ns(CLOCK_REALTIME);
  long long kills = cgroup_oom_kills();
  M.oom_killed = M.oom_base >= 0 && kills > M.oom_base;
  M.pid = 0;
  int want = M.exit_code == 0 ? M.on_success : M.on_failure;
  int forced = H.force_restart; /* the healthcheck's restart action, whatever the policy */
  H.force_restart = 0;
  H.kill_at_ms = 0;
  if (M.no_restart || (!forced && (!want || (M.restart_max >= 0 && M.restarts >= M.restart_max)))) finish(M.exit_code);
  /* docker's back-off: doubled after each restart, back to the start after a run of 10 s */
  if (M.finished_ns - M.started_ns >= 10000000000LL) M.delay_cur = M.delay_ms;
  M.restart_at_ms = now_ns(CLOCK_MONOTONIC) / 1000000 + M.delay_cur;
  M.delay_cur = M.delay_cur * 2 > M.delay_max_ms ? M.delay_max_ms : M.delay_cur * 2;
  M.state = 2;
  write_status();
}

static void on_signal(void) {
  struct signalfd_siginfo si;
  while (read(M.sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
    if (si.ssi_signo == SIGCHLD) {
      int st;
      pid_t w;
      while ((w = waitpid(-1, &st, WNOHANG | __WALL)) > 0) {
        if (w == M.pid) {
          container_exited(st);
        } else if (H.pid && w == H.pid) {
          health_exited(st);
        } else if (M.helper.pid && w == M.helper.pid) { /* it died on its own: the container runs on without network */
          M.helper.reaped = 1;
          helper_stop();
          if (M.state == 1) write_status();
        }
      }
      continue;
    }
    if (si.ssi_signo == SIGUSR2) { /* `nook healthcheck run`: a check now */
      H.now = 1;
      continue;
    }
    /* SIGUSR1, SIGTERM, SIGINT, SIGHUP: stopped by the user, no more restarts */
    M.no_restart = 1;
    if (si.ssi_signo == SIGTERM && M.pid > 0) kill(M.pid, SIGTERM);
    if (M.state == 2) finish(M.exit_code);
  }
}

/* ---- arguments ----------------------------------------------------------------------- */

static void __attribute__((noreturn)) usage(const char *what, const char *arg) {
  char msg[SHIM_MSG_TEXT];
  struct text t = {msg, sizeof msg, 0};
  text_add(&t, "nook-monitor: ");
  text_add(&t, what);
  if (arg) {
    text_add(&t, " \"");
    text_add(&t, arg);
    text_add(&t, "\"");
  }
  /* nook reads this on the control socket; a person running us by hand sees stderr */
  if (send_msg(CTL_FD, SHIM_MSG_ERROR, -1, EINVAL, 0, msg, -1) < 0) {
    write_all(2, msg, (ssize_t)strlen(msg));
    write_all(2, "\n", 1);
  }
  _exit(125);
}

static const char *health_plan_file;

static void parse_args(int argc, char **argv) {
  M.log_files = 1;
  H.interval_ms = H.timeout_ms = 30000;
  H.retries = 3;
  H.out_fd = -1;
  M.restart_max = -1;
  M.delay_ms = 100;
  M.delay_max_ms = 60000;
  M.helper.ready_ms = 10000;
  M.helper.stop_ms = 2000;
  M.helper.pidfd = M.helper.ready_r = M.helper.exit_w = -1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int ok = 1;
#define VALUE() (i + 1 < argc ? argv[++i] : (usage("missing value after", a), ""))
    if (!strcmp(a, "--id")) M.id = VALUE();
    else if (!strcmp(a, "--status")) M.status = VALUE();
    else if (!strcmp(a, "--log")) M.log = VALUE();
    else if (!strcmp(a, "--log-max-size")) M.log_max = parse_ll(VALUE(), &ok);
    else if (!strcmp(a, "--log-max-files")) M.log_files = (int)parse_ll(VALUE(), &ok);
    else if (!strcmp(a, "--stdin-pipe")) M.stdin_pipe = 1;
    else if (!strcmp(a, "--restart-on-success")) M.on_success = 1;
    else if (!strcmp(a, "--restart-on-failure")) M.on_failure = 1;
    else if (!strcmp(a, "--restart-max")) M.restart_max = parse_ll(VALUE(), &ok);
    else if (!strcmp(a, "--restart-delay-ms")) M.delay_ms = parse_ll(VALUE(), &ok);
    else if (!strcmp(a, "--restart-delay-max-ms")) M.delay_max_ms = parse_ll(VALUE(), &ok);
    else if (!strcmp(a, "--cgroup-file")) M.cgroup_file = VALUE();
    else if (!strcmp(a, "--pre-go-write")) {
      if (M.nsteps == MAX_STEPS) usage("too many steps at", a);
      const char *file = VALUE(), *data = VALUE();
      M.steps[M.nsteps++] = (struct step){1, file, data, NULL};
    } else if (!strcmp(a, "--pre-go-run") || !strcmp(a, "--exit-command") || !strcmp(a, "--sync-run")) {
      /* N, then N arguments: copied into a NULL-terminated vector of their own */
      long long n = parse_ll(VALUE(), &ok);
      if (!ok || n < 1 || n > argc - i - 1) usage("bad argument count after", a);
      char **cmd = calloc((size_t)n + 1, sizeof *cmd);
      if (!cmd) usage("out of memory", NULL);
      for (long long k = 0; k < n; k++) cmd[k] = argv[++i];
      if (!strcmp(a, "--exit-command")) {
        M.exit_argv = cmd;
      } else if (!strcmp(a, "--sync-run")) {
        M.sync_argv = cmd;
      } else {
        if (M.nsteps == MAX_STEPS) usage("too many steps at", a);
        M.steps[M.nsteps++] = (struct step){0, NULL, NULL, cmd};
      }
    } else if (!strcmp(a, "--helper")) {
      long long n = parse_ll(VALUE(), &ok);
      if (!ok || n < 1 || n > argc - i - 1) usage("bad argument count after", a);
      M.helper.argv = calloc((size_t)n + 1, sizeof *M.helper.argv);
      if (!M.helper.argv) usage("out of memory", NULL);
      for (long long k = 0; k < n; k++) M.helper.argv[k] = argv[++i];
    } else if (!strcmp(a, "--helper-log")) M.helper.log = VALUE();
    else if (!strcmp(a, "--helper-early")) M.helper.early = 1;
    else if (!strcmp(a, "--helper-ready-fifo")) M.helper.fifo = VALUE();
    else if (!strcmp(a, "--helper-ready-ms")) M.helper.ready_ms = parse_ll(VALUE(), &ok);
    else if (!strcmp(a, "--helper-stop-signal")) M.helper.stop_signal = (int)parse_ll(VALUE(), &ok);
    else if (!strcmp(a, "--helper-stop-ms")) M.helper.stop_ms = parse_ll(VALUE(), &ok);
    else if (!strcmp(a, "--helper-call")) {
      if (M.helper.ncalls == MAX_CALLS) usage("too many calls at", a);
      const char *sock = VALUE(), *req = VALUE();
      M.helper.call_sock[M.helper.ncalls] = sock;
      M.helper.call_req[M.helper.ncalls++] = req;
    } else if (!strcmp(a, "--helper-call-ok")) M.helper.call_ok = VALUE();
    else if (!strcmp(a, "--helper-remove")) {
      if (M.helper.nremove == MAX_REMOVE) usage("too many paths at", a);
      M.helper.remove[M.helper.nremove++] = VALUE();
    } else if (!strcmp(a, "--health-plan")) health_plan_file = VALUE();
    else if (!strcmp(a, "--health-file")) H.file = VALUE();
    else if (!strcmp(a, "--health-interval-ms")) H.interval_ms = parse_ll(VALUE(), &ok);
    else if (!strcmp(a, "--health-timeout-ms")) H.timeout_ms = parse_ll(VALUE(), &ok);
    else if (!strcmp(a, "--health-start-period-ms")) H.start_period_ms = parse_ll(VALUE(), &ok);
    else if (!strcmp(a, "--health-retries")) H.retries = parse_ll(VALUE(), &ok);
    else if (!strcmp(a, "--health-action-signal")) H.action_signal = (int)parse_ll(VALUE(), &ok);
    else if (!strcmp(a, "--health-action-kill-after-ms")) H.kill_after_ms = parse_ll(VALUE(), &ok);
    else if (!strcmp(a, "--health-action-restart")) H.action_restart = 1;
    else usage("unknown argument", a);
    if (!ok) usage("bad number after", a);
#undef VALUE
  }
  if (!M.status) usage("--status is required", NULL);
  if (M.log_files < 1) M.log_files = 1;
  if (M.delay_ms < 1) M.delay_ms = 1;
  if (M.delay_max_ms < M.delay_ms) M.delay_max_ms = M.delay_ms;
  if (M.helper.ready_ms < 1 || M.helper.ready_ms > 600000) usage("--helper-ready-ms out of range", NULL);
  if (M.helper.stop_ms < 0 || M.helper.stop_ms > 600000) usage("--helper-stop-ms out of range", NULL);
  if (M.helper.stop_signal < 0 || M.helper.stop_signal > 64) usage("bad --helper-stop-signal", NULL);
  if (H.interval_ms < 1 || H.timeout_ms < 1 || H.start_period_ms < 0 || H.retries < 1) usage("bad healthcheck numbers", NULL);
  if (H.action_signal < 0 || H.action_signal > 64 || H.kill_after_ms < 0) usage("bad healthcheck action", NULL);
}

/* A plan read whole from fd (then closed) and validated: kept for every restart or check.
 * `what` and `arg` name it in the error that ends the monitor when it is missing or invalid. */
static uint8_t *read_plan(int fd, const char *what, const char *arg, uint32_t *len) {
  struct stat st;
  if (fstat(fd, &st) < 0 || st.st_size < SHIM_PLAN_HEADER_LEN || st.st_size > SHIM_PLAN_MAX_LEN) usage(what, arg);
  *len = (uint32_t)st.st_size;
  uint8_t *plan = malloc(*len);
  if (!plan || pread(fd, plan, *len, 0) != (ssize_t)*len) usage(what, arg);
  close(fd);
  char verr[256];
  if (shim_validate(plan, *len, verr, sizeof verr) < 0) usage("invalid plan:", verr);
  return plan;
}

/* The healthcheck's exec plan (--health-plan), read once and kept like the container's. */
static void health_load(void) {
  if (!health_plan_file) return;
  int fd = open(health_plan_file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) usage("cannot read the health plan", health_plan_file);
  H.plan = read_plan(fd, "cannot read the health plan", health_plan_file, &H.plan_len);
  if (plan_clone_flags(H.plan) != 0) usage("the health plan must make no namespaces", NULL);
}

int main(int argc, char **argv) {
  parse_args(argc, argv);

  /* the plan, kept for restarts */
  M.plan = read_plan(PLAN_FD, "no plan on fd 3", NULL, &M.plan_len);
  if (plan_clone_flags(M.plan) & 0xff) usage("clone flags carry an exit signal", NULL);
  M.ctl = CTL_FD;
  health_load();

  /* Second fork: the process nook started exits now (nook reaps it), so the
   * monitor is re-parented away from nook and lives in a session of its own. */
  pid_t p = fork();
  if (p < 0) usage("fork failed", NULL);
  if (p > 0) _exit(0);
  setsid();
  /* Why a subreaper: processes the container's setup forks with CLONE_PARENT
   * (op FORK) and anything orphaned below us are ours to reap, not init's. */
  prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  prctl(PR_SET_NAME, "nook-monitor", 0, 0, 0);
  if (chdir("/") < 0) usage("chdir / failed", NULL);
  syscall(SYS_close_range, 5u, ~0u, 0u);

  sigset_t set;
  sigemptyset(&set);
  int sigs[] = {SIGCHLD, SIGUSR1, SIGUSR2, SIGTERM, SIGINT, SIGHUP};
  for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) sigaddset(&set, sigs[i]);
  sigprocmask(SIG_BLOCK, &set, NULL);
  signal(SIGPIPE, SIG_IGN);
  M.sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (M.sigfd < 0) usage("signalfd failed", NULL);

  int bfd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
  if (bfd >= 0) {
    ssize_t n = read(bfd, M.boot_id, sizeof M.boot_id - 1);
    close(bfd);
    M.boot_id[n > 0 ? n : 0] = 0;
    for (char *q = M.boot_id; *q; q++)
      if (*q == '\n') *q = 0;
  }
  M.self_start = proc_start(getpid());
  M.out = (struct stream){-1, "stdout", {0}, 0};
  M.err = (struct stream){-1, "stderr", {0}, 0};
  M.tty = (struct stream){-1, "stdout", {0}, 0};
  M.stdin_w = M.log_fd = -1;
  M.delay_cur = M.delay_ms;
  log_open();

  if (start_container() < 0) {
    /* First start: nook got the error and records it; we leave quietly. */
    _exit(0);
  }

  for (;;) {
    long long hwait = health_tick();
    struct pollfd pf[5] = {{M.sigfd, POLLIN, 0}, {M.out.fd, POLLIN, 0}, {M.err.fd, POLLIN, 0}, {M.tty.fd, POLLIN, 0},
                           {H.out_fd, POLLIN, 0}};
    long long timeout = hwait;
    if (M.state == 2) {
      long long left = M.restart_at_ms - now_ns(CLOCK_MONOTONIC) / 1000000;
      if (left < 0) left = 0;
      if (timeout < 0 || left < timeout) timeout = left;
    }
    int pr = poll(pf, 5, timeout > 86400000 ? 86400000 : (int)timeout);
    if (pr < 0 && errno != EINTR) finish(M.exit_code);
    if (pr > 0) {
      if (pf[1].revents) pump(&M.out, 0);
      if (pf[2].revents) pump(&M.err, 0);
      if (pf[3].revents) pump(&M.tty, 0);
      if (pf[4].revents) health_pump();
      if (pf[0].revents) on_signal();
    }
    if (M.state == 2 && now_ns(CLOCK_MONOTONIC) / 1000000 >= M.restart_at_ms) {
      M.restarts++;
      if (start_container() < 0) finish(125);
    }
  }
}
