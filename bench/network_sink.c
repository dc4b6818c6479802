/*
 * Throughput sink for bench/network.sh: connect to ADDR:PORT (retrying for up to 10 s while
 * the source starts), read MIB MiB, print the rate in MB/s from the first byte to the last.
 * Built static so it runs in a busybox root filesystem, beside bench/network_stream.c.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc != 4) return 2;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[2]))};
  if (inet_pton(AF_INET, argv[1], &a.sin_addr) != 1) return 2;
  long long want = atoll(argv[3]) << 20, got = 0;
  int s = -1;
  for (int i = 0; i < 200; i++) {
    s = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(s, (struct sockaddr *)&a, sizeof a) == 0) break;
    close(s);
    s = -1;
    usleep(50000);
  }
  if (s < 0) {
    puts("failed (no connection)");
    return 1;
  }
  static char buf[1 << 20];
  double t0 = 0;
  while (got < want) {
    ssize_t n = read(s, buf, sizeof buf);
    if (n <= 0) break;
    if (got == 0) t0 = now();
    got += n;
  }
  if (got < want) {
    puts("failed (short read)");
    return 1;
  }
  printf("%.0f MB/s\n", got / 1e6 / (now() - t0));
  return 0;
}
