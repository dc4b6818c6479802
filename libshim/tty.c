/*
 * libshim — the terminal relay: a container's pty master to nook's terminal
 * (Deno cannot read or write an fd that came back through FFI), raw mode and
 * window size.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <sys/ioctl.h>
#include <termios.h>

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

