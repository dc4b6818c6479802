/**
 * The one FFI symbol table of libshim. The C prototype of every parameter is
 * noted next to it; every function returns a negative errno on failure.
 */
export const SYMBOLS = {
  /** int32_t shim_version(void) */
  shim_version: { parameters: [], result: "i32" },
  /** int32_t shim_validate(const uint8_t *plan, uint32_t len, char *err, uint32_t errlen) */
  shim_validate: { parameters: ["buffer", "u32", "buffer", "u32"], result: "i32" },
  /** int32_t shim_spawn(const uint8_t *plan, uint32_t len, int32_t *out, char *err, uint32_t errlen) */
  shim_spawn: { parameters: ["buffer", "u32", "buffer", "buffer", "u32"], result: "i32" },
  /** int32_t shim_recv(int32_t fd, uint8_t *msg, int32_t *fd_out, int32_t timeout_ms) — on a worker thread */
  shim_recv: { parameters: ["i32", "buffer", "buffer", "i32"], result: "i32", nonblocking: true },
  /** the same C function, called on the JS thread (for replies that are already queued) */
  shim_recv_now: { name: "shim_recv", parameters: ["i32", "buffer", "buffer", "i32"], result: "i32" },
  /** int32_t shim_send(int32_t fd, uint32_t type, int32_t value) */
  shim_send: { parameters: ["i32", "u32", "i32"], result: "i32" },
  /** int32_t shim_wait(int32_t pid, int32_t *out, int32_t nohang) — on a worker thread */
  shim_wait: { parameters: ["i32", "buffer", "i32"], result: "i32", nonblocking: true },
  /** the same C function on the JS thread, for WNOHANG polls */
  shim_wait_now: { name: "shim_wait", parameters: ["i32", "buffer", "i32"], result: "i32" },
  /** int32_t shim_pidfd_kill(int32_t pidfd, int32_t sig) */
  shim_pidfd_kill: { parameters: ["i32", "i32"], result: "i32" },
  /** int32_t shim_close(int32_t fd) */
  shim_close: { parameters: ["i32"], result: "i32" },
  /** int32_t shim_pty_relay(int32_t master, int32_t in_fd, int32_t out_fd) — on a worker thread */
  shim_pty_relay: { parameters: ["i32", "i32", "i32"], result: "i32", nonblocking: true },
  /** int32_t shim_tty_raw(int32_t fd, uint8_t *saved, uint32_t savedlen) */
  shim_tty_raw: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  /** int32_t shim_tty_restore(int32_t fd, const uint8_t *saved, uint32_t savedlen) */
  shim_tty_restore: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  /** int32_t shim_pty_resize(int32_t master, int32_t rows, int32_t cols) */
  shim_pty_resize: { parameters: ["i32", "i32", "i32"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The opened library's symbols. */
export type Shim = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];
