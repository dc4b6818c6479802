/*
 * An attacker inside a container, for the CVE-2019-5736 tests: watch /proc for
 * processes whose executable lies outside the container, keep an O_PATH handle
 * to each (as the published exploit does), and keep trying to reopen those
 * handles for writing — which succeeds once the executable no longer runs.
 * It never writes to a file it reopened; a sealed memfd is probed with a
 * one-byte pwrite of the byte already there.
 *
 *   exe_watch DIR MAX_SECONDS
 *
 * Writes DIR/ready when it watches, stops when DIR/stop appears (or after
 * MAX_SECONDS), then writes DIR/log and DIR/done. Lines of the log:
 *   scans N                    full passes over /proc
 *   glimpsed N                 processes seen that were not this one
 *   denied N                   /proc/PID/exe that could not be opened (EACCES/EPERM)
 *   outside PID DEV:INO LINK   an executable outside the container was opened
 *   memfd PID LINK             an executable in a memfd (nook's exec helper)
 *   writable DEV:INO LINK      an outside executable was reopened for writing
 *   memfd-written LINK         a memfd executable accepted a write
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_HELD 256

struct held {
  int fd;
  char link[256];
  dev_t dev;
  ino_t ino;
  int reported_writable;
  int memfd;
};

static struct held held[MAX_HELD];
static int nheld;
static FILE *logf;
static long scans, glimpsed, denied;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int seen_before(dev_t dev, ino_t ino) {
  for (int i = 0; i < nheld; i++)
    if (held[i].dev == dev && held[i].ino == ino) return 1;
  return 0;
}

static void try_reopen(void) {
  char p[64];
  for (int i = 0; i < nheld; i++) {
    if (held[i].reported_writable || held[i].memfd) continue; /* a memfd is judged by memfd-written */
    snprintf(p, sizeof p, "/proc/self/fd/%d", held[i].fd);
    int w = open(p, O_WRONLY | O_CLOEXEC);
    if (w >= 0) {
      fprintf(logf, "writable %lu:%lu %s\n", (unsigned long)held[i].dev, (unsigned long)held[i].ino, held[i].link);
      held[i].reported_writable = 1;
      close(w);
    }
  }
}

static void look(pid_t self, const char *name) {
  pid_t pid = (pid_t)atoi(name);
  if (pid <= 0 || pid == self) return;
  glimpsed++;
  char p[64], link[256];
  snprintf(p, sizeof p, "/proc/%d/exe", pid);
  int fd = open(p, O_PATH | O_CLOEXEC);
  if (fd < 0) {
    if (errno == EACCES || errno == EPERM) denied++;
    return;
  }
  /* the handle's own path: /proc/PID/exe may name a later program by now */
  char fdp[64];
  snprintf(fdp, sizeof fdp, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(fdp, link, sizeof link - 1);
  link[n > 0 ? n : 0] = 0;
  struct stat st, in;
  if (fstat(fd, &st) < 0) {
    close(fd);
    return;
  }
  /* inside: the path it names, looked up in this container, is the same file */
  if (n > 0 && stat(link, &in) == 0 && in.st_dev == st.st_dev && in.st_ino == st.st_ino) {
    close(fd);
    return;
  }
  if (seen_before(st.st_dev, st.st_ino) || nheld == MAX_HELD) {
    close(fd);
    return;
  }
  if (strncmp(link, "/memfd:", 7) == 0) {
    fprintf(logf, "memfd %d %s\n", pid, link);
    snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
    int w = open(p, O_RDWR | O_CLOEXEC);
    if (w >= 0) {
      unsigned char b;
      if (pread(w, &b, 1, 0) == 1 && pwrite(w, &b, 1, 0) == 1) fprintf(logf, "memfd-written %s\n", link);
      close(w);
    }
  } else {
    fprintf(logf, "outside %d %lu:%lu %s\n", pid, (unsigned long)st.st_dev, (unsigned long)st.st_ino, link);
  }
  held[nheld].fd = fd;
  held[nheld].dev = st.st_dev;
  held[nheld].ino = st.st_ino;
  snprintf(held[nheld].link, sizeof held[nheld].link, "%s", link);
  held[nheld].reported_writable = 0;
  held[nheld].memfd = strncmp(link, "/memfd:", 7) == 0;
  nheld++;
  fflush(logf);
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: exe_watch DIR MAX_SECONDS\n");
    return 2;
  }
  char path[512];
  snprintf(path, sizeof path, "%s/log", argv[1]);
  logf = fopen(path, "w");
  if (!logf) return 3;
  double end = now() + atof(argv[2]);
  pid_t self = getpid();
  snprintf(path, sizeof path, "%s/ready", argv[1]);
  close(open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
  char stop[512];
  snprintf(stop, sizeof stop, "%s/stop", argv[1]);
  while (now() < end) {
    DIR *d = opendir("/proc");
    if (!d) return 4;
    struct dirent *e;
    while ((e = readdir(d)))
      if (e->d_name[0] >= '1' && e->d_name[0] <= '9') look(self, e->d_name);
    closedir(d);
    try_reopen();
    scans++;
    if (scans % 64 == 0 && access(stop, F_OK) == 0) break;
  }
  /* a last try after nook's processes are gone: that is when the exploit writes */
  usleep(200000);
  try_reopen();
  fprintf(logf, "scans %ld\nglimpsed %ld\ndenied %ld\n", scans, glimpsed, denied);
  fclose(logf);
  snprintf(path, sizeof path, "%s/done", argv[1]);
  close(open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
  return 0;
}
