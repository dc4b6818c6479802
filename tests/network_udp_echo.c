/*
 * A tiny UDP echo tool for the network tests (busybox-static has no UDP
 * server or client). Built static by the test so it runs in a busybox rootfs.
 *
 *   udp_echo serve PORT SECONDS      echo every datagram back, for at most SECONDS
 *   udp_echo send HOST PORT MESSAGE  send MESSAGE, print the reply; retries 50 × 100 ms
 *
 * Exit 0 on success, 1 on timeout, 2 on usage or socket errors.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int sock_with_timeout(int ms) {
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  if (s < 0) return -1;
  struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return s;
}

int main(int argc, char **argv) {
  char buf[2048];
  if (argc == 4 && strcmp(argv[1], "serve") == 0) {
    int s = sock_with_timeout(200);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[2]))};
    a.sin_addr.s_addr = htonl(INADDR_ANY);
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0) return perror("bind"), 2;
    time_t end = time(NULL) + atoi(argv[3]);
    while (time(NULL) < end) {
      struct sockaddr_in from;
      socklen_t fl = sizeof from;
      ssize_t n = recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
      if (n > 0) sendto(s, buf, (size_t)n, 0, (struct sockaddr *)&from, fl);
    }
    return 0;
  }
  if (argc == 5 && strcmp(argv[1], "send") == 0) {
    int s = sock_with_timeout(100);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[3]))};
    if (s < 0 || inet_pton(AF_INET, argv[2], &a.sin_addr) != 1) return 2;
    for (int i = 0; i < 50; i++) {
      sendto(s, argv[4], strlen(argv[4]), 0, (struct sockaddr *)&a, sizeof a);
      ssize_t n = recv(s, buf, sizeof buf - 1, 0);
      if (n > 0) {
        buf[n] = 0;
        printf("%s\n", buf);
        return 0;
      }
    }
    return 1;
  }
  fprintf(stderr, "usage: udp_echo serve PORT SECONDS | udp_echo send HOST PORT MESSAGE\n");
  return 2;
}
