/*
 * What an engine does with a console socket (conmon, containerd's shim):
 * listen on a unix socket, receive the container's pty master over it
 * (SCM_RIGHTS), type INPUT into the terminal and print what comes back until
 * the container side hangs up. Used by tests/oci_runtime_test.ts.
 *   oci_console_receiver SOCKET INPUT
 * Prints "name: NAME" (the data sent with the fd) first; exits 2 on failure.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc != 3) return 2;
  alarm(30); /* never hang a test */
  int ls = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  strncpy(sa.sun_path, argv[1], sizeof sa.sun_path - 1);
  if (bind(ls, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(ls, 1) < 0) return perror("listen"), 2;
  int c = accept(ls, NULL, NULL);
  if (c < 0) return perror("accept"), 2;
  char name[256] = {0};
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } u;
  struct iovec iov = {name, sizeof name - 1};
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
  if (recvmsg(c, &mh, 0) <= 0) return perror("recvmsg"), 2;
  struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
  if (!cm || cm->cmsg_type != SCM_RIGHTS) return fprintf(stderr, "no fd received\n"), 2;
  int master;
  memcpy(&master, CMSG_DATA(cm), sizeof master);
  printf("name: %s\n", name);
  struct termios t;
  printf("isatty: %d\n", tcgetattr(master, &t) == 0);
  fflush(stdout);
  if (write(master, argv[2], strlen(argv[2])) < 0) return perror("write"), 2;
  char buf[4096];
  for (;;) {
    ssize_t n = read(master, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break; /* EIO: the container's side is closed */
    fwrite(buf, 1, (size_t)n, stdout);
    fflush(stdout);
  }
  return 0;
}
