/*
 * Test-only probe for tests/security_cve_test.ts, linked statically and
 * copied into a busybox rootfs. It reports what a container process starts
 * with, and races the host from inside a container as the published runtime
 * escapes did:
 *
 *   cve_probe fds [FILE]          "cwd: X", "root: X", "fd N: X" (readlink of
 *                                 each /proc/self/fd entry) and the Cap* lines
 *                                 of /proc/self/status, to FILE or stdout
 *   cve_probe swap DIR A B MS     exchange DIR/A and DIR/B (renameat2
 *                                 RENAME_EXCHANGE) for MS milliseconds or until
 *                                 DIR/stop exists; prints "swaps: N"
 *   cve_probe statfs PATH         "PATH: f_type in hex" (or the errno name)
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static const char *err_name(void) { return strerrorname_np(errno) ? strerrorname_np(errno) : "E?"; }

static void link_of(FILE *out, const char *label, const char *path) {
  char buf[4096];
  ssize_t n = readlink(path, buf, sizeof buf - 1);
  if (n < 0) {
    fprintf(out, "%s: %s\n", label, err_name());
    return;
  }
  buf[n] = 0;
  fprintf(out, "%s: %s\n", label, buf);
}

static int fds(const char *file) {
  /* collect the fd numbers first: the directory stream is an fd of its own */
  int nums[1024], count = 0;
  DIR *d = opendir("/proc/self/fd");
  if (!d) {
    printf("opendir: %s\n", err_name());
    return 1;
  }
  int own = dirfd(d);
  struct dirent *e;
  while ((e = readdir(d)) && count < 1024) {
    if (e->d_name[0] == '.') continue;
    int n = atoi(e->d_name);
    if (n != own) nums[count++] = n;
  }
  closedir(d);
  char labels[1024][32];
  char targets[1024][4096];
  for (int i = 0; i < count; i++) {
    char p[64];
    snprintf(p, sizeof p, "/proc/self/fd/%d", nums[i]);
    snprintf(labels[i], sizeof labels[i], "fd %d", nums[i]);
    ssize_t n = readlink(p, targets[i], sizeof targets[i] - 1);
    if (n < 0) snprintf(targets[i], sizeof targets[i], "%s", err_name());
    else targets[i][n] = 0;
  }
  FILE *out = file ? fopen(file, "we") : stdout;
  if (!out) {
    printf("open %s: %s\n", file, err_name());
    return 1;
  }
  link_of(out, "cwd", "/proc/self/cwd");
  link_of(out, "root", "/proc/self/root");
  for (int i = 0; i < count; i++) fprintf(out, "%s: %s\n", labels[i], targets[i]);
  FILE *st = fopen("/proc/self/status", "re");
  if (st) {
    char line[512];
    while (fgets(line, sizeof line, st))
      if (!strncmp(line, "Cap", 3) || !strncmp(line, "NoNewPrivs", 10)) fputs(line, out);
    fclose(st);
  }
  if (file) fclose(out);
  return 0;
}

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int swap(const char *dir, const char *a, const char *b, long ms) {
  int d = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (d < 0) {
    printf("open %s: %s\n", dir, err_name());
    return 1;
  }
  long end = now_ms() + ms, n = 0;
  /* bounded by time and by count: a race that never ends must not hang the suite */
  for (long i = 0; i < 50000000L; i++) {
    if (syscall(SYS_renameat2, d, a, d, b, RENAME_EXCHANGE) == 0) n++;
    if ((i & 1023) == 0) {
      struct stat s;
      if (now_ms() > end || fstatat(d, "stop", &s, AT_SYMLINK_NOFOLLOW) == 0) break;
    }
  }
  printf("swaps: %ld\n", n);
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc >= 2 && !strcmp(argv[1], "fds")) return fds(argc >= 3 ? argv[2] : NULL);
  if (argc == 6 && !strcmp(argv[1], "swap")) return swap(argv[2], argv[3], argv[4], atol(argv[5]));
  if (argc == 3 && !strcmp(argv[1], "statfs")) {
    struct statfs s;
    if (statfs(argv[2], &s) < 0) printf("%s: %s\n", argv[2], err_name());
    else printf("%s: %lx\n", argv[2], (unsigned long)s.f_type);
    return 0;
  }
  fprintf(stderr, "usage: cve_probe fds [FILE] | swap DIR A B MS | statfs PATH\n");
  return 2;
}
