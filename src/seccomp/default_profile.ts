/**
 * nook's built-in seccomp profile: the same decisions as docker's default
 * (moby `profiles/seccomp/default.json`), written for the two architectures
 * nook has tables for. An allow-list: everything not listed fails with EPERM;
 * syscalls newer than every rule fail with ENOSYS (see compile.ts).
 *
 * What it keeps from a container, with the default capabilities:
 * - new namespaces and mounts: `unshare`, `setns`, `mount`, `umount2`, the new
 *   mount API, `clone` with any CLONE_NEW* flag, `clone3` (ENOSYS, so libcs
 *   fall back to `clone`, where the flags can be checked) — unless CAP_SYS_ADMIN;
 * - the kernel keyring (`keyctl`, `add_key`, `request_key`), `userfaultfd`,
 *   `kexec_*`, kernel modules, `bpf`, `perf_event_open`, `io_uring_*`
 *   (docker stopped allowing it in 2023; podman never did);
 * - `personality` other than the harmless personas, `socket(AF_VSOCK)`;
 * - syscalls that need a capability the container does not have are allowed
 *   only when it has it (`chroot` with SYS_CHROOT, `ptrace` with SYS_PTRACE on
 *   kernels older than 4.8…), as in docker.
 *
 * @module
 */
import type { SeccompProfile, SyscallRule } from "./profile.ts";

const words = (s: string): string[] => s.trim().split(/\s+/);

const allow = (names: string, more: Partial<SyscallRule> = {}): SyscallRule => ({
  names: words(names),
  action: "SCMP_ACT_ALLOW",
  args: [],
  includes: { caps: [], arches: [] },
  excludes: { caps: [], arches: [] },
  ...more,
});

/** Allowed only with this capability in the container's bounding set. */
const withCap = (cap: string, names: string): SyscallRule => allow(names, { includes: { caps: [cap], arches: [] } });

/** personality(2) values a program may set: PER_LINUX, PER_LINUX32, UNAME26 and both, and the query 0xffffffff. */
const PERSONAS = [0x0, 0x8, 0x20000, 0x20008, 0xffff_ffff];

/** CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET. */
const CLONE_NAMESPACE_FLAGS = 0x7e02_0000n;

const AF_VSOCK = 40n;

/** The built-in profile, as a profile object (no JSON to parse at run time). */
export function defaultProfile(): SeccompProfile {
  return {
    defaultAction: "SCMP_ACT_ERRNO",
    defaultErrnoRet: 1, // EPERM
    architectures: [],
    archMap: [],
    flags: [],
    syscalls: [
      // files and directories
      allow(`
        access faccessat faccessat2 chdir fchdir chmod fchmod fchmodat fchmodat2 chown fchown fchownat lchown
        creat open openat openat2 close close_range dup dup2 dup3 link linkat unlink unlinkat rename renameat
        renameat2 mkdir mkdirat rmdir symlink symlinkat readlink readlinkat getcwd getdents getdents64 mknod
        mknodat truncate ftruncate fallocate fadvise64 readahead umask utime utimes utimensat futimesat stat fstat
        lstat newfstatat statx statfs fstatfs fsync fdatasync sync syncfs sync_file_range flock fcntl lseek
        name_to_handle_at copy_file_range sendfile splice tee vmsplice cachestat fanotify_mark inotify_add_watch
        inotify_init inotify_init1 inotify_rm_watch getxattr lgetxattr fgetxattr setxattr lsetxattr fsetxattr
        listxattr llistxattr flistxattr removexattr lremovexattr fremovexattr`),
      // reading, writing, waiting
      allow(`
        read write readv writev pread64 pwrite64 preadv preadv2 pwritev pwritev2 ioctl poll ppoll select pselect6
        epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old
        eventfd eventfd2 pipe pipe2 io_setup io_destroy io_submit io_cancel io_getevents io_pgetevents ioprio_get
        ioprio_set`),
      // memory
      allow(`
        brk mmap munmap mremap mprotect madvise mincore msync mlock mlock2 mlockall munlock munlockall
        remap_file_pages membarrier memfd_create memfd_secret pkey_alloc pkey_free pkey_mprotect map_shadow_stack`),
      // processes, threads, scheduling
      allow(`
        execve execveat exit exit_group fork vfork wait4 waitid kill tgkill tkill getpid getppid gettid getpgid
        setpgid getpgrp getsid setsid getpriority setpriority getrusage getrlimit setrlimit prlimit64 prctl seccomp
        capget capset set_tid_address set_robust_list get_robust_list rseq restart_syscall pidfd_open
        pidfd_send_signal process_mrelease landlock_add_rule landlock_create_ruleset landlock_restrict_self getcpu
        sched_getaffinity sched_getattr sched_getparam sched_get_priority_max sched_get_priority_min
        sched_getscheduler sched_rr_get_interval sched_setaffinity sched_setattr sched_setparam sched_setscheduler
        sched_yield get_thread_area set_thread_area times sysinfo uname getrandom futex futex_waitv futex_wake futex_wait
        futex_requeue`),
      // user and group ids (the kernel checks CAP_SETUID/CAP_SETGID)
      allow(`
        getuid geteuid getgid getegid getresuid getresgid getgroups setuid setgid setreuid setregid setresuid
        setresgid setgroups setfsuid setfsgid`),
      // signals and time
      allow(`
        rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait
        rt_tgsigqueueinfo sigaltstack signalfd signalfd4 pause alarm clock_getres clock_gettime clock_nanosleep
        clock_adjtime adjtimex gettimeofday time nanosleep getitimer setitimer timer_create timer_delete
        timer_getoverrun timer_gettime timer_settime timerfd_create timerfd_gettime timerfd_settime`),
      // sockets (socket itself below) and System V / POSIX IPC
      allow(`
        socketpair bind listen accept accept4 connect getsockname getpeername getsockopt setsockopt shutdown sendto
        sendmsg sendmmsg recvfrom recvmsg recvmmsg msgctl msgget msgrcv msgsnd semctl semget semop semtimedop shmat
        shmctl shmdt shmget mq_getsetattr mq_notify mq_open mq_timedreceive mq_timedsend mq_unlink`),
      // ptrace is safe to allow since 4.8 (it can no longer bypass seccomp)
      allow("ptrace process_vm_readv process_vm_writev", { includes: { caps: [], arches: [], minKernel: "4.8" } }),
      // every socket family but vsock (a way to the hypervisor's host)
      allow("socket", { args: [{ index: 0, op: "SCMP_CMP_NE", value: AF_VSOCK, valueTwo: 0n }] }),
      ...PERSONAS.map((p) =>
        allow("personality", { args: [{ index: 0, op: "SCMP_CMP_EQ", value: BigInt(p), valueTwo: 0n }] })
      ),
      allow("arch_prctl modify_ldt", { includes: { caps: [], arches: ["amd64"] } }),
      withCap("CAP_DAC_READ_SEARCH", "open_by_handle_at"),
      withCap(
        "CAP_SYS_ADMIN",
        `bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie mount mount_setattr move_mount
        open_tree perf_event_open quotactl quotactl_fd setdomainname sethostname setns syslog umount2 unshare`,
      ),
      // without CAP_SYS_ADMIN: clone without namespace flags only; clone3 says ENOSYS (its flags are in memory)
      allow("clone", {
        args: [{ index: 0, op: "SCMP_CMP_MASKED_EQ", value: CLONE_NAMESPACE_FLAGS, valueTwo: 0n }],
        excludes: { caps: ["CAP_SYS_ADMIN"], arches: [] },
      }),
      {
        names: ["clone3"],
        action: "SCMP_ACT_ERRNO",
        errnoRet: 38, // ENOSYS
        args: [],
        includes: { caps: [], arches: [] },
        excludes: { caps: ["CAP_SYS_ADMIN"], arches: [] },
      },
      withCap("CAP_SYS_BOOT", "reboot"),
      withCap("CAP_SYS_CHROOT", "chroot"),
      withCap("CAP_SYS_MODULE", "delete_module init_module finit_module"),
      withCap("CAP_SYS_PACCT", "acct"),
      withCap("CAP_SYS_PTRACE", "kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev ptrace"),
      withCap("CAP_SYS_RAWIO", "iopl ioperm"),
      withCap("CAP_SYS_TIME", "settimeofday clock_settime"),
      withCap("CAP_SYS_TTY_CONFIG", "vhangup"),
      withCap("CAP_SYS_NICE", "get_mempolicy mbind set_mempolicy set_mempolicy_home_node"),
      withCap("CAP_SYSLOG", "syslog"),
      withCap("CAP_BPF", "bpf"),
      withCap("CAP_PERFMON", "perf_event_open"),
    ],
  };
}
