/*
 * Throughput source for bench/network.sh: listen on PORT (on ADDR, default every address),
 * accept one connection, send zeros in 1 MiB writes until the reader goes
 * away. Built static so it runs in a busybox root filesystem; faster than
 * busybox nc, so the network path is what gets measured.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc != 2 && argc != 3) return 2;
  signal(SIGPIPE, SIG_IGN);
  int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[1]))};
  if (argc == 3 && inet_pton(AF_INET, argv[2], &a.sin_addr) != 1) return 2;
  if (bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 8) < 0) return 1;
  static char buf[1 << 20];
  for (;;) {
    int c = accept(s, NULL, NULL);
    if (c < 0) return 1;
    ssize_t n = 0, total = 0;
    while ((n = write(c, buf, sizeof buf)) > 0) total += n;
    close(c);
    if (total > (1 << 20)) return 0; /* a real reader (not a probe that found nothing yet): done */
  }
}
