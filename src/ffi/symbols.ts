/**
 * The one FFI symbol table of libshim. The C prototype of every parameter is
 * noted next to it; every function returns a negative errno on failure.
 *
 * Why almost everything is `nonblocking`: Deno compiles a fast-call stub for
 * each synchronous symbol when the library is opened (≈0.2 ms each, on every
 * start of nook), while nonblocking ones cost next to nothing to declare.
 * Only `shim_spawn` and `shim_helper` (starting a helper) must be synchronous:
 * clone() copies the calling thread, and the parent-death signal of the
 * container (and of its network helper) follows that thread, so it has to be
 * the JS thread that lives as long as nook, not a pool thread that may end when
 * idle. `shim_helper_run` is the same C function bound a second time as
 * nonblocking, for a helper nook waits for (and for the scope keeper).
 *
 * libshim has three spawn entry points (shim.h says which): `shim_spawn`
 * (plans), `shim_monitor_spawn` and `shim_helper`.
 */
export const SYMBOLS = {
  /** int32_t shim_version(void) */
  shim_version: { parameters: [], result: "i32", nonblocking: true },
  /** int32_t shim_validate(const uint8_t *plan, uint32_t len, char *err, uint32_t errlen) */
  shim_validate: { parameters: ["buffer", "u32", "buffer", "u32"], result: "i32", nonblocking: true },
  /** int32_t shim_spawn(const uint8_t *plan, uint32_t len, int32_t *out, char *err, uint32_t errlen) */
  shim_spawn: { parameters: ["buffer", "u32", "buffer", "buffer", "u32"], result: "i32" },
  /**
   * int32_t shim_spawn_with(const uint8_t *plan, uint32_t len, const uint8_t *helpers, uint32_t hlen, int32_t *out,
   *                         char *err, uint32_t errlen) — synchronous, like shim_spawn
   */
  shim_spawn_with: { parameters: ["buffer", "u32", "buffer", "u32", "buffer", "buffer", "u32"], result: "i32" },
  /** int32_t shim_helper_collect(int32_t pid, int32_t errfd, char *err, uint32_t errlen) */
  shim_helper_collect: { parameters: ["i32", "i32", "buffer", "u32"], result: "i32", nonblocking: true },
  /** int32_t shim_recv(int32_t fd, uint8_t *msg, int32_t *fd_out, int32_t timeout_ms) */
  shim_recv: { parameters: ["i32", "buffer", "buffer", "i32"], result: "i32", nonblocking: true },
  /** int32_t shim_send(int32_t fd, uint32_t type, int32_t value) */
  shim_send: { parameters: ["i32", "u32", "i32"], result: "i32", nonblocking: true },
  /** int32_t shim_wait(int32_t pid, int32_t *out, int32_t nohang) */
  shim_wait: { parameters: ["i32", "buffer", "i32"], result: "i32", nonblocking: true },
  /** int32_t shim_pidfd_kill(int32_t pidfd, int32_t sig) */
  shim_pidfd_kill: { parameters: ["i32", "i32"], result: "i32", nonblocking: true },
  /** int32_t shim_close(int32_t fd) */
  shim_close: { parameters: ["i32"], result: "i32", nonblocking: true },
  /** int32_t shim_pty_relay(int32_t master, int32_t in_fd, int32_t out_fd) */
  shim_pty_relay: { parameters: ["i32", "i32", "i32"], result: "i32", nonblocking: true },
  /** int32_t shim_tty_raw(int32_t fd, uint8_t *saved, uint32_t savedlen) */
  shim_tty_raw: { parameters: ["i32", "buffer", "u32"], result: "i32", nonblocking: true },
  /** int32_t shim_tty_restore(int32_t fd, const uint8_t *saved, uint32_t savedlen) */
  shim_tty_restore: { parameters: ["i32", "buffer", "u32"], result: "i32", nonblocking: true },
  /** int32_t shim_pty_resize(int32_t master, int32_t rows, int32_t cols) */
  shim_pty_resize: { parameters: ["i32", "i32", "i32"], result: "i32", nonblocking: true },
  /** int32_t shim_monitor_spawn(const uint8_t *argv_block, uint32_t len, const uint8_t *plan, uint32_t plan_len, int32_t *out, char *err, uint32_t errlen) */
  shim_monitor_spawn: {
    parameters: ["buffer", "u32", "buffer", "u32", "buffer", "buffer", "u32"],
    result: "i32",
    nonblocking: true,
  },
  /** int32_t shim_pidfd_open(int32_t pid) */
  shim_pidfd_open: { parameters: ["i32"], result: "i32", nonblocking: true },
  /** int32_t shim_pidfd_wait(int32_t pidfd, int32_t timeout_ms) */
  shim_pidfd_wait: { parameters: ["i32", "i32"], result: "i32", nonblocking: true },
  /** int32_t shim_pipe(int32_t *out) */
  shim_pipe: { parameters: ["buffer"], result: "i32", nonblocking: true },
  /** int32_t shim_fifo(const char *path) */
  shim_fifo: { parameters: ["buffer"], result: "i32", nonblocking: true },
  /**
   * int32_t shim_helper(const uint8_t *argv_block, uint32_t len, const char *log, const int32_t *keep, uint32_t nkeep,
   *                     int32_t deathsig, uint32_t flags, int32_t *out, char *err, uint32_t errlen)
   * — synchronous, to start a helper whose parent-death signal follows this thread (see above).
   */
  shim_helper: {
    parameters: ["buffer", "u32", "buffer", "buffer", "u32", "i32", "u32", "buffer", "buffer", "u32"],
    result: "i32",
  },
  /** The same `shim_helper`, nonblocking: a helper run to its end (SHIM_HELPER_WAIT), or the keeper. */
  shim_helper_run: {
    name: "shim_helper",
    parameters: ["buffer", "u32", "buffer", "buffer", "u32", "i32", "u32", "buffer", "buffer", "u32"],
    result: "i32",
    nonblocking: true,
  },
  /** int32_t shim_helper_wait(int32_t fd, int32_t pidfd, int32_t timeout_ms, uint8_t *buf, uint32_t len) */
  shim_helper_wait: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32", nonblocking: true },
  /** int32_t shim_port_probe(const char *ip, int32_t port, int32_t udp) */
  shim_port_probe: { parameters: ["buffer", "i32", "i32"], result: "i32", nonblocking: true },
  // the OCI runtime: its start FIFO and the console socket
  /** int32_t shim_mkfifo(const char *path, uint32_t mode) */
  shim_mkfifo: { parameters: ["buffer", "u32"], result: "i32", nonblocking: true },
  /** int32_t shim_send_fd(const char *path, int32_t fd, const char *name) */
  shim_send_fd: { parameters: ["buffer", "i32", "buffer"], result: "i32", nonblocking: true },
} as const satisfies Deno.ForeignLibraryInterface;

/** The opened library's symbols. */
export type Shim = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];
