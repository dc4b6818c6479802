/*
 * The program of nook's built-in `hello` image: prints what the container
 * sees, and exits 1 if it does not look like a container.
 * nook passes the host's namespace inodes in NOOK_HOST_NS ("user=4026531837 mnt=…").
 * With the argument "pause" it is the idle process of a pod's infra container instead.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *NS[] = {"user", "mnt", "pid", "uts", "ipc", "net", "cgroup"};

static unsigned long host_inode(const char *name) {
  const char *all = getenv("NOOK_HOST_NS");
  if (!all) return 0;
  char key[32];
  snprintf(key, sizeof key, "%s=", name);
  for (const char *p = all; (p = strstr(p, key)); p++)
    if (p == all || p[-1] == ' ') return strtoul(p + strlen(key), NULL, 10);
  return 0;
}

int main(int argc, char **argv) {
  /* "pause": the process a pod's infra container runs under nook-init (its pid 1): it only
   * holds the pod's namespaces open, and ends with SIGTERM (which nook-init passes on). */
  if (argc > 1 && strcmp(argv[1], "pause") == 0)
    for (;;) pause();
  int ok = 1;
  char host[256] = "?", map[256] = "?", link[128], path[64];
  gethostname(host, sizeof host);
  FILE *f = fopen("/proc/self/uid_map", "r");
  if (f) {
    if (fgets(map, sizeof map, f)) map[strcspn(map, "\n")] = 0;
    fclose(f);
  }
  printf("\nHello from nook!\n");
  printf("This message shows that your installation appears to be working correctly.\n\n");
  printf("What this container sees:\n");
  printf("  pid:         %d\n", (int)getpid());
  printf("  uid:         %d (uid_map: %s)\n", (int)getuid(), map);
  printf("  hostname:    %s\n", host);
  printf("  namespaces:");
  int differ = 0, known = 0;
  for (size_t i = 0; i < sizeof NS / sizeof *NS; i++) {
    snprintf(path, sizeof path, "/proc/self/ns/%s", NS[i]);
    ssize_t n = readlink(path, link, sizeof link - 1);
    if (n < 0) {
      printf(" %s=?", NS[i]);
      continue;
    }
    link[n] = 0;
    unsigned long mine = strtoul(strchr(link, '[') ? strchr(link, '[') + 1 : link, NULL, 10);
    unsigned long theirs = host_inode(NS[i]);
    if (theirs) known++;
    if (theirs && theirs != mine) differ++;
    printf(" %s%s", NS[i], theirs && theirs == mine ? "(shared)" : "");
  }
  if (known) printf("\n               %d of %d differ from the host's\n", differ, known);
  else printf("\n");
  if (getpid() != 1 || getuid() != 0) ok = 0;
  printf("\nTo try something more ambitious: nook run --rm -it --rootfs DIR sh\n\n");
  return ok ? 0 : 1;
}
