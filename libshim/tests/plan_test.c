/*
 * C tests of libshim's plan interpreter, fed with plans built by hand here —
 * not by the TypeScript encoder — so the two sides check each other.
 * Built and run by tests/libshim_c.test.ts; prints "ok N" lines, exits 1 on
 * the first failure.
 */
#define _GNU_SOURCE
#include "../shim.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int tests;

#define CHECK(cond, ...)                                  \
  do {                                                    \
    if (!(cond)) {                                        \
      fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
      fprintf(stderr, __VA_ARGS__);                       \
      fprintf(stderr, "\n");                              \
      exit(1);                                            \
    }                                                     \
  } while (0)

/* ---- a tiny plan builder ---- */
struct buf {
  uint8_t d[8192];
  size_t n;
};

static void put(struct buf *b, const void *p, size_t n) {
  memcpy(b->d + b->n, p, n);
  b->n += n;
}
static void u16(struct buf *b, uint16_t v) { put(b, &v, 2); }
static void u32(struct buf *b, uint32_t v) { put(b, &v, 4); }
static void u64(struct buf *b, uint64_t v) { put(b, &v, 8); }
static void str(struct buf *b, const char *s) {
  u32(b, (uint32_t)strlen(s) + 1);
  put(b, s, strlen(s) + 1);
}

/* header with op_count; total_len patched by finish() */
static void header(struct buf *b, uint32_t ops, uint64_t flags) {
  b->n = 0;
  u32(b, SHIM_PLAN_MAGIC);
  u16(b, SHIM_PLAN_VERSION);
  u16(b, SHIM_PLAN_HEADER_LEN);
  u32(b, 0);
  u32(b, ops);
  u64(b, flags);
}
static size_t op_begin(struct buf *b, uint16_t op) {
  u16(b, op);
  u16(b, 0);
  u32(b, 0);
  return b->n;
}
static void op_end(struct buf *b, size_t start) {
  uint32_t len = (uint32_t)(b->n - start);
  memcpy(b->d + start - 4, &len, 4);
}
static void finish(struct buf *b) {
  uint32_t n = (uint32_t)b->n;
  memcpy(b->d + 8, &n, 4);
}

/* a valid plan: sethostname, chdir, exec /bin/true */
static void good_plan(struct buf *b, const char *exe) {
  header(b, 3, 0);
  size_t s = op_begin(b, SHIM_OP_CHDIR);
  str(b, "/");
  op_end(b, s);
  s = op_begin(b, SHIM_OP_UMASK);
  u64(b, 022);
  op_end(b, s);
  s = op_begin(b, SHIM_OP_EXEC);
  u32(b, 2);
  str(b, "/nonexistent/true");
  str(b, exe);
  u32(b, 1);
  str(b, "true");
  u32(b, 1);
  str(b, "PATH=/bin");
  u64(b, 0);
  op_end(b, s);
  finish(b);
}

static int validate(struct buf *b, char *err) { return shim_validate(b->d, (uint32_t)b->n, err, 256); }

static void expect_invalid(struct buf *b, const char *needle, const char *what) {
  char err[256];
  int rc = validate(b, err);
  CHECK(rc == -EINVAL, "%s: expected -EINVAL, got %d (%s)", what, rc, err);
  CHECK(strstr(err, needle), "%s: message \"%s\" lacks \"%s\"", what, err, needle);
  printf("ok %d - %s rejected: %s\n", ++tests, what, err);
}

/* a plan: NETLINK_FILE path, then exec /bin/sh -c script */
static void netlink_plan(struct buf *b, uint64_t clone_flags, const char *path, const char *script) {
  header(b, 2, clone_flags);
  size_t s = op_begin(b, SHIM_OP_NETLINK_FILE);
  str(b, path);
  op_end(b, s);
  s = op_begin(b, SHIM_OP_EXEC);
  u32(b, 1);
  str(b, "/bin/sh");
  u32(b, 3);
  str(b, "sh");
  str(b, "-c");
  str(b, script);
  u32(b, 0);
  u64(b, SHIM_EXEC_DIRECT);
  op_end(b, s);
  finish(b);
}

/* RTM_NEWADDR 10.1.2.3/24 on lo (index 1), then RTM_NEWLINK lo up: as nook builds them */
static size_t netlink_requests(uint8_t *out) {
  struct {
    struct nlmsghdr h;
    struct ifaddrmsg a;
    struct rtattr ra;
    uint8_t addr[4];
  } addr = {{sizeof addr, RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, 1, 0},
            {AF_INET, 24, 0, 0, 1}, {8, IFA_LOCAL}, {10, 1, 2, 3}};
  struct {
    struct nlmsghdr h;
    struct ifinfomsg i;
  } up = {{sizeof up, RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, 2, 0}, {0, 0, 0, 1, IFF_UP, IFF_UP}};
  memcpy(out, &addr, sizeof addr);
  memcpy(out + sizeof addr, &up, sizeof up);
  return sizeof addr + sizeof up;
}

int main(void) {
  struct buf b;
  char err[256];

  CHECK(shim_version() == SHIM_PLAN_VERSION, "version");
  printf("ok %d - version %d\n", ++tests, shim_version());

  good_plan(&b, "/bin/true");
  CHECK(validate(&b, err) == 0, "valid plan rejected: %s", err);
  printf("ok %d - a valid plan passes\n", ++tests);

  /* wrong magic, version, header length, total length */
  good_plan(&b, "/bin/true");
  b.d[0] ^= 0xff;
  expect_invalid(&b, "magic", "wrong magic");
  good_plan(&b, "/bin/true");
  b.d[4] = 99;
  expect_invalid(&b, "version", "wrong version");
  good_plan(&b, "/bin/true");
  b.d[6] = 20;
  expect_invalid(&b, "header length", "wrong header length");
  good_plan(&b, "/bin/true");
  CHECK(shim_validate(b.d, (uint32_t)b.n - 1, err, sizeof err) == -EINVAL, "short buffer");
  printf("ok %d - total length must match the buffer: %s\n", ++tests, err);
  CHECK(shim_validate(b.d, 10, err, sizeof err) == -EINVAL && strstr(err, "shorter"), "tiny buffer");
  printf("ok %d - a buffer shorter than the header: %s\n", ++tests, err);
  CHECK(shim_validate(NULL, 0, err, sizeof err) == -EINVAL, "null plan");
  printf("ok %d - a NULL plan\n", ++tests);

  /* op count larger than the ops present */
  good_plan(&b, "/bin/true");
  b.d[12] = 4;
  expect_invalid(&b, "truncated", "op count beyond the data");
  good_plan(&b, "/bin/true");
  b.d[12] = 2;
  expect_invalid(&b, "after the last op", "op count short of the data");

  /* unknown op */
  header(&b, 1, 0);
  size_t s = op_begin(&b, 999);
  op_end(&b, s);
  finish(&b);
  expect_invalid(&b, "unknown op", "unknown op 999");
  header(&b, 1, 0);
  s = op_begin(&b, 0);
  op_end(&b, s);
  finish(&b);
  expect_invalid(&b, "unknown op", "op 0");

  /* reserved field */
  header(&b, 1, 0);
  s = op_begin(&b, SHIM_OP_NO_NEW_PRIVS);
  op_end(&b, s);
  b.d[s - 6] = 1;
  finish(&b);
  expect_invalid(&b, "reserved", "non-zero reserved field");

  /* oversize string length */
  header(&b, 1, 0);
  s = op_begin(&b, SHIM_OP_CHDIR);
  u32(&b, 0x7fffffff);
  put(&b, "/\0", 2);
  op_end(&b, s);
  finish(&b);
  expect_invalid(&b, "malformed", "oversize string length");

  /* string without its NUL */
  header(&b, 1, 0);
  s = op_begin(&b, SHIM_OP_CHDIR);
  u32(&b, 2);
  put(&b, "/x", 2);
  op_end(&b, s);
  finish(&b);
  expect_invalid(&b, "malformed", "string without NUL");

  /* zero-length string (n must include the NUL) */
  header(&b, 1, 0);
  s = op_begin(&b, SHIM_OP_CHDIR);
  u32(&b, 0);
  op_end(&b, s);
  finish(&b);
  expect_invalid(&b, "malformed", "zero-length string");

  /* payload length beyond the plan */
  header(&b, 1, 0);
  s = op_begin(&b, SHIM_OP_CHDIR);
  str(&b, "/");
  op_end(&b, s);
  memcpy(b.d + s - 4, &(uint32_t){1000}, 4);
  finish(&b);
  expect_invalid(&b, "past the end", "payload length beyond the plan");

  /* trailing bytes inside a payload */
  header(&b, 1, 0);
  s = op_begin(&b, SHIM_OP_CHDIR);
  str(&b, "/");
  u32(&b, 7);
  op_end(&b, s);
  finish(&b);
  expect_invalid(&b, "trailing", "extra bytes in a payload");

  /* strv count larger than possible */
  header(&b, 1, 0);
  s = op_begin(&b, SHIM_OP_EXEC);
  u32(&b, 0x10000000);
  op_end(&b, s);
  finish(&b);
  expect_invalid(&b, "malformed", "huge strv count");

  /* u64v count larger than possible */
  header(&b, 1, 0);
  s = op_begin(&b, SHIM_OP_SETID);
  u64(&b, 0);
  u64(&b, 0);
  u32(&b, 0xffffffff);
  op_end(&b, s);
  finish(&b);
  expect_invalid(&b, "malformed", "huge u64v count");

  /* exec without candidates */
  header(&b, 1, 0);
  s = op_begin(&b, SHIM_OP_EXEC);
  u32(&b, 0);
  u32(&b, 1);
  str(&b, "x");
  u32(&b, 0);
  u64(&b, 0);
  op_end(&b, s);
  finish(&b);
  expect_invalid(&b, "candidate", "exec without candidates");

  /* seccomp program that is not whole instructions */
  header(&b, 1, 0);
  s = op_begin(&b, SHIM_OP_SECCOMP);
  u32(&b, 5);
  put(&b, "abcde", 5);
  u64(&b, 0);
  op_end(&b, s);
  finish(&b);
  expect_invalid(&b, "seccomp", "seccomp program of 5 bytes");

  /* protect_path with an unknown kind */
  header(&b, 1, 0);
  s = op_begin(&b, SHIM_OP_PROTECT_PATH);
  str(&b, "/proc/kcore");
  u64(&b, 3);
  op_end(&b, s);
  finish(&b);
  expect_invalid(&b, "unknown kind", "protect_path kind 3");

  /* mutation fuzz: no input may crash the validator; bounded count */
  srand(12345);
  int rejected = 0;
  for (int i = 0; i < 20000; i++) {
    good_plan(&b, "/bin/true");
    int flips = 1 + rand() % 4;
    for (int k = 0; k < flips; k++) b.d[rand() % b.n] = (uint8_t)rand();
    uint32_t len = (uint32_t)(rand() % 4 == 0 ? rand() % (b.n + 1) : b.n);
    if (shim_validate(b.d, len, err, sizeof err) < 0) rejected++;
  }
  printf("ok %d - 20000 mutated plans validated without a crash (%d rejected)\n", ++tests, rejected);

  /* an invalid plan is refused by spawn too, before any clone */
  int32_t out[3];
  good_plan(&b, "/bin/true");
  b.d[4] = 99; /* an unknown plan version */
  CHECK(shim_spawn(b.d, (uint32_t)b.n, out, err, sizeof err) == -EINVAL, "spawn of bad plan");
  printf("ok %d - spawn refuses a bad plan: %s\n", ++tests, err);

  /* a real spawn without namespaces: READY, GO, EOF after exec, exit 0 */
  good_plan(&b, "/bin/true");
  CHECK(shim_spawn(b.d, (uint32_t)b.n, out, err, sizeof err) == 0, "spawn: %s", err);
  struct shim_msg m;
  int fd = -1;
  CHECK(shim_recv(out[1], (uint8_t *)&m, &fd, 5000) == sizeof m && m.type == SHIM_MSG_READY, "READY");
  CHECK(shim_send(out[1], SHIM_MSG_GO, 0) == 0, "GO");
  CHECK(shim_recv(out[1], (uint8_t *)&m, &fd, 5000) == 0, "EOF after exec");
  int32_t st[2];
  CHECK(shim_wait(out[0], st, 0) == out[0] && st[0] == 1 && st[1] == 0, "exit 0: %d %d", st[0], st[1]);
  close(out[1]);
  close(out[2]);
  printf("ok %d - spawn runs a plan: first candidate missing, second exec'd, exit 0\n", ++tests);

  /* spawn_with starts its helpers with the child, "%PID%" replaced by the child's pid */
  {
    static const char helpers[] = "/bin/sh\0-c\0echo \"$1\" >&2\0sh\0%PID%\0\0"
                                  "/bin/sh\0-c\0exit 3\0\0";
    int32_t wout[7];
    good_plan(&b, "/bin/true");
    CHECK(shim_spawn_with(b.d, (uint32_t)b.n, (const uint8_t *)helpers, sizeof helpers - 1, wout, err, sizeof err) == 0,
          "spawn_with: %s", err);
    char said[64], want[32];
    CHECK(shim_helper_collect(wout[3], wout[4], said, sizeof said) == 0, "first helper exits 0");
    snprintf(want, sizeof want, "%d\n", wout[0]);
    CHECK(strcmp(said, want) == 0, "the helper got the child's pid: \"%s\", not \"%s\"", said, want);
    CHECK(shim_helper_collect(wout[5], wout[6], said, sizeof said) == 3, "second helper's exit status");
    CHECK(shim_recv(wout[1], (uint8_t *)&m, &fd, 5000) == sizeof m && m.type == SHIM_MSG_READY, "READY");
    CHECK(shim_send(wout[1], SHIM_MSG_GO, 0) == 0, "GO");
    CHECK(shim_recv(wout[1], (uint8_t *)&m, &fd, 5000) == 0, "EOF after exec");
    CHECK(shim_wait(wout[0], st, 0) == wout[0] && st[0] == 1 && st[1] == 0, "exit 0");
    close(wout[1]);
    close(wout[2]);
    printf("ok %d - spawn_with starts helpers with the child's pid and hands back their exit status\n", ++tests);
    /* a block whose last argv is not ended, or three argvs: refused before any clone */
    static const char unended[] = "/bin/true\0";
    CHECK(shim_spawn_with(b.d, (uint32_t)b.n, (const uint8_t *)unended, sizeof unended - 1, wout, err, sizeof err) ==
              -EINVAL,
          "unended helper argv");
    static const char three[] = "/bin/true\0\0/bin/true\0\0/bin/true\0\0";
    CHECK(shim_spawn_with(b.d, (uint32_t)b.n, (const uint8_t *)three, sizeof three - 1, wout, err, sizeof err) == -E2BIG,
          "three helpers");
    static const char missing[] = "/nonexistent/newuidmap\0%PID%\0\0";
    CHECK(shim_spawn_with(b.d, (uint32_t)b.n, (const uint8_t *)missing, sizeof missing - 1, wout, err, sizeof err) ==
                  -ENOENT &&
              strstr(err, "/nonexistent/newuidmap"),
          "a helper that cannot start: %s", err);
    printf("ok %d - spawn_with refuses a bad helper block, and a helper that cannot start ends the child: %s\n",
           ++tests, err);
  }

  /* protect_path skips a path that does not exist (no privilege needed to get that far) */
  header(&b, 3, 0);
  s = op_begin(&b, SHIM_OP_PROTECT_PATH);
  str(&b, "/nonexistent/kcore");
  u64(&b, SHIM_PROTECT_MASK);
  op_end(&b, s);
  s = op_begin(&b, SHIM_OP_PROTECT_PATH);
  str(&b, "/nonexistent/sys");
  u64(&b, SHIM_PROTECT_READONLY);
  op_end(&b, s);
  s = op_begin(&b, SHIM_OP_EXEC);
  u32(&b, 1);
  str(&b, "/bin/true");
  u32(&b, 1);
  str(&b, "true");
  u32(&b, 0);
  u64(&b, 0);
  op_end(&b, s);
  finish(&b);
  CHECK(shim_spawn(b.d, (uint32_t)b.n, out, err, sizeof err) == 0, "spawn: %s", err);
  CHECK(shim_recv(out[1], (uint8_t *)&m, &fd, 5000) == sizeof m && m.type == SHIM_MSG_READY, "READY");
  shim_send(out[1], SHIM_MSG_GO, 0);
  CHECK(shim_recv(out[1], (uint8_t *)&m, &fd, 5000) == 0, "EOF after exec (the missing paths were skipped)");
  CHECK(shim_wait(out[0], st, 0) == out[0] && st[0] == 1 && st[1] == 0, "exit 0");
  close(out[1]);
  close(out[2]);
  printf("ok %d - protect_path skips paths that do not exist\n", ++tests);

  /* a failing op reports {op index, errno, text} */
  header(&b, 2, 0);
  s = op_begin(&b, SHIM_OP_UMASK);
  u64(&b, 022);
  op_end(&b, s);
  s = op_begin(&b, SHIM_OP_CHDIR);
  str(&b, "/nonexistent/dir");
  op_end(&b, s);
  finish(&b);
  CHECK(shim_spawn(b.d, (uint32_t)b.n, out, err, sizeof err) == 0, "spawn: %s", err);
  CHECK(shim_recv(out[1], (uint8_t *)&m, &fd, 5000) == sizeof m && m.type == SHIM_MSG_READY, "READY");
  shim_send(out[1], SHIM_MSG_GO, 0);
  CHECK(shim_recv(out[1], (uint8_t *)&m, &fd, 5000) == sizeof m, "ERROR message");
  CHECK(m.type == SHIM_MSG_ERROR && m.op == 1 && m.err == ENOENT, "error {%u, %d, %d}", m.type, m.op, m.err);
  CHECK(strstr(m.text, "/nonexistent/dir"), "text names the path: %s", m.text);
  CHECK(shim_wait(out[0], st, 0) == out[0] && st[0] == 1 && st[1] == 125, "exit 125");
  close(out[1]);
  close(out[2]);
  printf("ok %d - a failing op reports op 1, ENOENT, \"%s\"\n", ++tests, m.text);

  /* ABORT instead of GO: the child leaves without running anything */
  good_plan(&b, "/bin/true");
  CHECK(shim_spawn(b.d, (uint32_t)b.n, out, err, sizeof err) == 0, "spawn");
  shim_recv(out[1], (uint8_t *)&m, &fd, 5000);
  shim_send(out[1], SHIM_MSG_ABORT, 0);
  CHECK(shim_wait(out[0], st, 0) == out[0] && st[0] == 1 && st[1] == 125, "abort exits 125");
  close(out[1]);
  close(out[2]);
  printf("ok %d - ABORT ends the child before any op\n", ++tests);

  /* the parent going away before GO: the child exits */
  good_plan(&b, "/bin/true");
  CHECK(shim_spawn(b.d, (uint32_t)b.n, out, err, sizeof err) == 0, "spawn");
  shim_recv(out[1], (uint8_t *)&m, &fd, 5000);
  close(out[1]);
  CHECK(shim_wait(out[0], st, 0) == out[0] && st[0] == 1 && st[1] == 125, "EOF exits 125");
  close(out[2]);
  printf("ok %d - a closed socket before GO ends the child\n", ++tests);

  /* ---- the OCI runtime's ops and helpers ---- */

  /* mount_or_bind with its last field missing */
  header(&b, 1, 0);
  s = op_begin(&b, SHIM_OP_MOUNT_OR_BIND);
  str(&b, "sysfs");
  str(&b, "/sys");
  str(&b, "sysfs");
  u64(&b, 0);
  str(&b, "");
  str(&b, "/sys");
  op_end(&b, s);
  finish(&b);
  expect_invalid(&b, "malformed", "mount_or_bind without attr_set");

  /* barrier_wait with no barrier open fails with EBADF */
  header(&b, 1, 0);
  s = op_begin(&b, SHIM_OP_BARRIER_WAIT);
  op_end(&b, s);
  finish(&b);
  CHECK(validate(&b, err) == 0, "barrier_wait alone is a valid plan: %s", err);
  CHECK(shim_spawn(b.d, (uint32_t)b.n, out, err, sizeof err) == 0, "spawn: %s", err);
  shim_recv(out[1], (uint8_t *)&m, &fd, 5000);
  shim_send(out[1], SHIM_MSG_GO, 0);
  CHECK(shim_recv(out[1], (uint8_t *)&m, &fd, 5000) == sizeof m && m.type == SHIM_MSG_ERROR && m.err == EBADF,
        "barrier_wait without barrier: type %u err %d", m.type, m.err);
  shim_wait(out[0], st, 0);
  close(out[1]);
  close(out[2]);
  printf("ok %d - barrier_wait without barrier_open fails: %s\n", ++tests, m.text);

  /* barrier: the child blocks until one byte arrives on the FIFO, then execs */
  char fifo[] = "/tmp/nook-plan-test-XXXXXX";
  CHECK(mkdtemp(fifo), "mkdtemp");
  char fifo_path[64];
  snprintf(fifo_path, sizeof fifo_path, "%s/exec.fifo", fifo);
  CHECK(shim_mkfifo(fifo_path, 0600) == 0, "mkfifo");
  CHECK(shim_mkfifo(fifo_path, 0600) == -EEXIST, "mkfifo twice is EEXIST");
  header(&b, 3, 0);
  s = op_begin(&b, SHIM_OP_BARRIER_OPEN);
  str(&b, fifo_path);
  op_end(&b, s);
  s = op_begin(&b, SHIM_OP_BARRIER_WAIT);
  op_end(&b, s);
  s = op_begin(&b, SHIM_OP_EXEC);
  u32(&b, 1);
  str(&b, "/bin/true");
  u32(&b, 1);
  str(&b, "true");
  u32(&b, 0);
  u64(&b, 0);
  op_end(&b, s);
  finish(&b);
  CHECK(shim_spawn(b.d, (uint32_t)b.n, out, err, sizeof err) == 0, "spawn: %s", err);
  shim_recv(out[1], (uint8_t *)&m, &fd, 5000);
  shim_send(out[1], SHIM_MSG_GO, 0);
  CHECK(shim_recv(out[1], (uint8_t *)&m, &fd, 300) == -ETIMEDOUT, "the child waits at the barrier");
  CHECK(shim_wait(out[0], st, 1) == 0, "still running at the barrier");
  int wfd = open(fifo_path, O_WRONLY | O_NONBLOCK);
  CHECK(wfd >= 0, "open the barrier for writing (the child holds a reader): %d", errno);
  CHECK(write(wfd, "0", 1) == 1, "write the byte");
  close(wfd);
  CHECK(shim_recv(out[1], (uint8_t *)&m, &fd, 5000) == 0, "EOF after exec");
  CHECK(shim_wait(out[0], st, 0) == out[0] && st[0] == 1 && st[1] == 0, "exit 0");
  close(out[1]);
  close(out[2]);
  printf("ok %d - barrier_open/barrier_wait hold the child until a byte arrives\n", ++tests);
  CHECK(open(fifo_path, O_WRONLY | O_NONBLOCK) < 0 && errno == ENXIO, "no reader left once the child exec'd");
  printf("ok %d - the barrier is closed before exec (no reader left)\n", ++tests);
  unlink(fifo_path);

  /* mount_or_bind: a refused mount falls back to a bind; here both are refused (no namespace).
   * Never as root: there the mount would succeed, on the host. */
  if (geteuid() == 0) {
    printf("ok %d - # skip mount_or_bind's refusal: as root the mount would not be refused\n", ++tests);
  } else {
    header(&b, 1, 0);
    s = op_begin(&b, SHIM_OP_MOUNT_OR_BIND);
    str(&b, "sysfs");
    str(&b, fifo);
    str(&b, "sysfs");
    u64(&b, 0);
    str(&b, "");
    str(&b, "/sys");
    u64(&b, 1);
    op_end(&b, s);
    finish(&b);
    CHECK(shim_spawn(b.d, (uint32_t)b.n, out, err, sizeof err) == 0, "spawn: %s", err);
    shim_recv(out[1], (uint8_t *)&m, &fd, 5000);
    shim_send(out[1], SHIM_MSG_GO, 0);
    CHECK(shim_recv(out[1], (uint8_t *)&m, &fd, 5000) == sizeof m && m.type == SHIM_MSG_ERROR, "error");
    CHECK(getuid() == 0 || strstr(m.text, "bind instead"), "the fallback was tried: %s", m.text);
    shim_wait(out[0], st, 0);
    close(out[1]);
    close(out[2]);
    printf("ok %d - mount_or_bind reports the fallback's failure: %s\n", ++tests, m.text);
  }

  /* input + direct exec (how an OCI hook runs): stdin holds the data, the program is exec'd itself */
  header(&b, 2, 0);
  s = op_begin(&b, SHIM_OP_INPUT);
  u32(&b, 6);
  put(&b, "state\n", 6);
  u64(&b, 0);
  op_end(&b, s);
  s = op_begin(&b, SHIM_OP_EXEC);
  u32(&b, 1);
  str(&b, "/bin/sh");
  u32(&b, 3);
  str(&b, "sh");
  str(&b, "-c");
  str(&b, "read x; [ \"$x\" = state ] && [ \"$V\" = env-ok ] && case $(readlink /proc/$$/exe) in /memfd:*) exit 5;; esac || exit 4; exit 3");
  u32(&b, 1);
  str(&b, "V=env-ok");
  u64(&b, SHIM_EXEC_DIRECT);
  op_end(&b, s);
  finish(&b);
  CHECK(validate(&b, err) == 0, "input + direct exec: %s", err);
  CHECK(shim_spawn(b.d, (uint32_t)b.n, out, err, sizeof err) == 0, "spawn: %s", err);
  shim_recv(out[1], (uint8_t *)&m, &fd, 5000);
  shim_send(out[1], SHIM_MSG_GO, 0);
  CHECK(shim_recv(out[1], (uint8_t *)&m, &fd, 5000) == 0, "EOF after the direct exec: %s", m.text);
  CHECK(shim_wait(out[0], st, 0) == out[0] && st[0] == 1 && st[1] == 3, "the program read its input: %d %d", st[0], st[1]);
  close(out[1]);
  close(out[2]);
  printf("ok %d - input puts data on stdin, a direct exec runs the program itself\n", ++tests);

  /* a direct exec of a missing program is the op's error */
  header(&b, 1, 0);
  s = op_begin(&b, SHIM_OP_EXEC);
  u32(&b, 1);
  str(&b, "/nonexistent/hook");
  u32(&b, 1);
  str(&b, "hook");
  u32(&b, 0);
  u64(&b, SHIM_EXEC_DIRECT);
  op_end(&b, s);
  finish(&b);
  CHECK(shim_spawn(b.d, (uint32_t)b.n, out, err, sizeof err) == 0, "spawn: %s", err);
  shim_recv(out[1], (uint8_t *)&m, &fd, 5000);
  shim_send(out[1], SHIM_MSG_GO, 0);
  CHECK(shim_recv(out[1], (uint8_t *)&m, &fd, 5000) == sizeof m && m.type == SHIM_MSG_ERROR && m.err == ENOENT && m.op == 0,
        "missing program: type %u err %d", m.type, m.err);
  shim_wait(out[0], st, 0);
  close(out[1]);
  close(out[2]);
  printf("ok %d - a direct exec reports a missing program: %s\n", ++tests, m.text);

  /* a direct exec takes one path, and EXEC knows no other flag */
  for (int k = 0; k < 2; k++) {
    header(&b, 1, 0);
    s = op_begin(&b, SHIM_OP_EXEC);
    u32(&b, k ? 1 : 2);
    str(&b, "/bin/true");
    if (!k) str(&b, "/usr/bin/true");
    u32(&b, 1);
    str(&b, "true");
    u32(&b, 0);
    u64(&b, k ? 0x80 : SHIM_EXEC_DIRECT);
    op_end(&b, s);
    finish(&b);
    expect_invalid(&b, k ? "unknown flags" : "exactly one", k ? "exec with an unknown flag" : "direct exec of two paths");
  }

  /* netlink_file: a missing file is the op's error; in a network namespace of its own the
   * requests configure it (an address on lo, lo up), and a refused one is the op's error */
  {
    char nl_path[96];
    snprintf(nl_path, sizeof nl_path, "%s/requests", fifo);
    netlink_plan(&b, 0, nl_path, "exit 0");
    CHECK(validate(&b, err) == 0, "netlink_file plan: %s", err);
    CHECK(shim_spawn(b.d, (uint32_t)b.n, out, err, sizeof err) == 0, "spawn: %s", err);
    shim_recv(out[1], (uint8_t *)&m, &fd, 5000);
    shim_send(out[1], SHIM_MSG_GO, 0);
    CHECK(shim_recv(out[1], (uint8_t *)&m, &fd, 5000) == sizeof m && m.type == SHIM_MSG_ERROR && m.err == ENOENT && m.op == 0,
          "missing file: type %u err %d", m.type, m.err);
    shim_wait(out[0], st, 0);
    close(out[1]);
    close(out[2]);
    printf("ok %d - netlink_file reports a missing file: %s\n", ++tests, m.text);

    uint8_t reqs[256];
    size_t n = netlink_requests(reqs);
    int wfd = open(nl_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(wfd >= 0 && write(wfd, reqs, n) == (ssize_t)n, "write the requests");
    close(wfd);
    netlink_plan(&b, CLONE_NEWUSER | CLONE_NEWNET, nl_path,
                 "grep -q '10.1.2.3' /proc/net/fib_trie || exit 4; exit 3");
    if (shim_spawn(b.d, (uint32_t)b.n, out, err, sizeof err) != 0) {
      printf("ok %d - # skip netlink_file in a network namespace: no user namespace here (%s)\n", ++tests, err);
    } else {
      shim_recv(out[1], (uint8_t *)&m, &fd, 5000);
      if (m.type == SHIM_MSG_ERROR) {
        printf("ok %d - # skip netlink_file in a network namespace: %s\n", ++tests, m.text);
        shim_wait(out[0], st, 0);
      } else {
        shim_send(out[1], SHIM_MSG_GO, 0);
        CHECK(shim_recv(out[1], (uint8_t *)&m, &fd, 5000) == 0, "EOF after exec: %s", m.text);
        CHECK(shim_wait(out[0], st, 0) == out[0] && st[0] == 1 && st[1] == 3, "the namespace has the address: %d %d", st[0], st[1]);
        printf("ok %d - netlink_file sends the requests in the child's network namespace\n", ++tests);
      }
      close(out[1]);
      close(out[2]);
      /* the same address twice: the second request is refused (EEXIST), and that is the op's error */
      uint8_t twice[512];
      memcpy(twice, reqs, n);
      memcpy(twice + n, reqs, n);
      wfd = open(nl_path, O_WRONLY | O_TRUNC);
      CHECK(wfd >= 0 && write(wfd, twice, 2 * n) == (ssize_t)(2 * n), "write the requests twice");
      close(wfd);
      CHECK(shim_spawn(b.d, (uint32_t)b.n, out, err, sizeof err) == 0, "spawn: %s", err);
      shim_recv(out[1], (uint8_t *)&m, &fd, 5000);
      shim_send(out[1], SHIM_MSG_GO, 0);
      CHECK(shim_recv(out[1], (uint8_t *)&m, &fd, 5000) == sizeof m && m.type == SHIM_MSG_ERROR && m.err == EEXIST && m.op == 0,
            "refused request: type %u err %d %s", m.type, m.err, m.text);
      shim_wait(out[0], st, 0);
      close(out[1]);
      close(out[2]);
      printf("ok %d - netlink_file reports the kernel's refusal: %s\n", ++tests, m.text);
    }
    unlink(nl_path);
  }

  /* helpers run to their end: status and stderr; the keeper is the other mode */
  static const char helper_argv[] = "/bin/sh\0-c\0echo oops >&2; exit 3";
  char herr[256];
  int32_t hout[2];
  int rc = shim_helper((const uint8_t *)helper_argv, sizeof helper_argv, "", NULL, 0, 0, SHIM_HELPER_WAIT, hout, herr, sizeof herr);
  CHECK(rc == 3 && strstr(herr, "oops"), "helper run: %d %s", rc, herr);
  printf("ok %d - shim_helper runs a helper to its end: status and stderr\n", ++tests);
  rc = shim_helper((const uint8_t *)"/nonexistent/helper", 20, "", NULL, 0, 0, SHIM_HELPER_WAIT, hout, herr, sizeof herr);
  CHECK(rc == -ENOENT, "missing helper: %d", rc);
  CHECK(shim_helper((const uint8_t *)helper_argv, sizeof helper_argv, "", NULL, 0, 0, 0x40, hout, herr, sizeof herr) == -EINVAL,
        "unknown flags");
  CHECK(shim_helper((const uint8_t *)"x", 1, "", NULL, 0, 0, 0, hout, NULL, 0) == -EINVAL, "argv without a NUL");
  printf("ok %d - shim_helper refuses a missing program, unknown flags and a malformed argv\n", ++tests);

  /* send_fd: a listener receives the fd and the name */
  char sock_path[80];
  snprintf(sock_path, sizeof sock_path, "%s/console.sock", fifo);
  int ls = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  strcpy(sa.sun_path, sock_path);
  CHECK(bind(ls, (struct sockaddr *)&sa, sizeof sa) == 0 && listen(ls, 1) == 0, "listen");
  int devnull = open("/dev/null", O_RDWR);
  CHECK(shim_send_fd(sock_path, devnull, "/dev/ptmx") == 0, "send_fd");
  int conn = accept(ls, NULL, NULL);
  char data[64] = {0};
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } cu;
  struct iovec iov = {data, sizeof data - 1};
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cu.buf, .msg_controllen = sizeof cu.buf};
  CHECK(recvmsg(conn, &mh, 0) > 0, "recvmsg");
  struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
  CHECK(cm && cm->cmsg_type == SCM_RIGHTS, "an fd came");
  int got_fd;
  memcpy(&got_fd, CMSG_DATA(cm), sizeof got_fd);
  struct stat s1, s2;
  CHECK(fstat(got_fd, &s1) == 0 && fstat(devnull, &s2) == 0 && s1.st_rdev == s2.st_rdev, "same file");
  CHECK(strcmp(data, "/dev/ptmx") == 0, "name: %s", data);
  close(got_fd), close(conn), close(ls), close(devnull);
  CHECK(shim_send_fd("/nonexistent/sock", 0, "x") == -ENOENT, "missing socket is ENOENT");
  printf("ok %d - send_fd passes an fd and its name over a unix socket\n", ++tests);
  unlink(sock_path);
  rmdir(fifo);

  int pfd = shim_pidfd_open(getpid());
  CHECK(pfd >= 0, "pidfd_open of self: %d", pfd);
  close(pfd);
  printf("ok %d - pidfd_open\n", ++tests);

  printf("1..%d\n", tests);
  return 0;
}
