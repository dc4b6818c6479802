/*
 * libshim's internals: what its files (plan.c, spawn.c, helper.c, tty.c) and
 * nook-monitor share. Nothing here is exported from libshim.so (the library
 * is built with hidden visibility; SHIM_EXPORT marks the API of shim.h).
 *
 * The files by concern:
 *   plan.c    the plan reader and its ops: what the cloned child carries out
 *   spawn.c   spawn and handshake: clone a child for a plan, the sync socket,
 *             waiting and signalling, starting the container monitor
 *   helper.c  helper programs (newuidmap, pasta, slirp4netns…) and the scope
 *             keeper, started without a plan; pipes and FIFOs for them
 *   tty.c     the terminal relay
 *   monitor.c nook-monitor's loop (a program of its own, linked with the same
 *             static library)
 *   exec_helper.c nook-exec, the program container processes are exec'd
 *             through (embedded as build/exec_helper.h)
 *
 * Each .c file defines _GNU_SOURCE before it includes this header.
 */
#ifndef NOOK_SHIM_INTERNAL_H
#define NOOK_SHIM_INTERNAL_H

#include "shim.h"

#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#define SHIM_EXPORT __attribute__((visibility("default")))
#define CHILD_FAIL_EXIT 125

/* ---- small string helpers (async-signal-safe) ----------------------------- */

struct text {
  char *buf;
  size_t cap, len;
};

static inline void text_add(struct text *t, const char *s) {
  if (!t->buf || t->cap == 0) return;
  while (s && *s && t->len + 1 < t->cap) t->buf[t->len++] = *s++;
  t->buf[t->len] = 0;
}

static inline void text_num(struct text *t, long long v) {
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

/* Decimal of v into buf (at least 12 bytes). */
static inline const char *decimal(char *buf, long long v) {
  struct text t = {buf, 12, 0};
  text_num(&t, v);
  return buf;
}

/* write(2) all of buf, waiting out EAGAIN and EINTR. 0, or -1 with errno set. */
static inline int write_all(int fd, const char *buf, ssize_t n) {
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

/* ---- plan.c: the plan reader and ops --------------------------------------- */

/* The clone flags in a plan's header (the plan is validated first). */
uint64_t plan_clone_flags(const uint8_t *plan);

/* In the child, after GO: run the plan's ops until EXEC; report a failure on
 * sock and exit. Never returns. */
void plan_run(const uint8_t *plan, uint32_t len, int sock) __attribute__((noreturn));

/* Overwrite this process's argument area (what ps shows) with title. */
void set_title(const char *title);

/* ---- helper.c: helper programs ------------------------------------------------ */

/* Most arguments of a helper's argv. */
#define SHIM_MAX_ARGV 64

/* argv from NUL-terminated strings back to back (at most SHIM_MAX_ARGV, NULL
 * after the last); argv points into block. argc or -errno. */
int argv_from_block(const uint8_t *block, uint32_t len, char **argv);

/* Start argv (run to its end) with stderr into a new pipe, without waiting:
 * out[0] = pid, out[1] = the pipe's read end. 0 or -errno. */
int32_t helper_start_piped(char **argv, int32_t *out);

/* ---- spawn.c: spawn and handshake -------------------------------------------- */

/* One struct shim_msg on the sync socket, with fd riding along when >= 0. 0 or -errno. */
int send_msg(int sock, uint32_t type, int32_t op, int32_t err, int32_t value, const char *text, int fd);

/* sendmsg of len bytes, with fd riding along (SCM_RIGHTS) when fd >= 0. 0 or -errno. */
int send_with_fd(int sock, const void *data, size_t len, int fd);

/* Blocks until the parent sends a message; returns its type, or 0 on EOF/error. */
uint32_t child_wait_msg(int sock);

/* fork-like clone(2) with any flags: the child continues on a copy of our stack. */
pid_t raw_clone(uint64_t flags, int *pidfd);

/* Every signal back to SIG_DFL (raw rt_sigaction, 1..64). */
void default_signal_handlers(void);

/* Every signal back to its default action, none blocked, in a fresh child. */
void reset_signals(void);

/* The child side of the handshake (the ladder is drawn above it in spawn.c):
 * READY, wait for GO, run the plan. Never returns. */
void child_main(const uint8_t *plan, uint32_t len, int sock) __attribute__((noreturn));

#endif
