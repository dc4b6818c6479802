/** Linux errno numbers (the generic table shared by x86_64 and aarch64). */
const NAMES: readonly (string | undefined)[] = [
  undefined, "EPERM", "ENOENT", "ESRCH", "EINTR", "EIO", "ENXIO", "E2BIG", "ENOEXEC", "EBADF", "ECHILD",
  "EAGAIN", "ENOMEM", "EACCES", "EFAULT", "ENOTBLK", "EBUSY", "EEXIST", "EXDEV", "ENODEV", "ENOTDIR",
  "EISDIR", "EINVAL", "ENFILE", "EMFILE", "ENOTTY", "ETXTBSY", "EFBIG", "ENOSPC", "ESPIPE", "EROFS",
  "EMLINK", "EPIPE", "EDOM", "ERANGE", "EDEADLK", "ENAMETOOLONG", "ENOLCK", "ENOSYS", "ENOTEMPTY", "ELOOP",
];
const EXTRA: Record<number, string> = {
  61: "ENODATA", 75: "EOVERFLOW", 95: "EOPNOTSUPP", 98: "EADDRINUSE", 110: "ETIMEDOUT", 111: "ECONNREFUSED",
  122: "EDQUOT",
};

/** Symbolic name of an errno (`1` → `"EPERM"`), or `"E<n>"` when unknown. */
export function errnoName(n: number): string {
  return NAMES[n] ?? EXTRA[n] ?? `E${n}`;
}

/** Number of a symbolic errno name, or undefined. */
export function errnoNumber(name: string): number | undefined {
  const i = NAMES.indexOf(name);
  if (i > 0) return i;
  for (const [k, v] of Object.entries(EXTRA)) if (v === name) return Number(k);
  return undefined;
}

const TEXT: Record<string, string> = {
  EPERM: "operation not permitted",
  ENOENT: "no such file or directory",
  ESRCH: "no such process",
  EIO: "input/output error",
  ENXIO: "no such device or address",
  E2BIG: "argument list too long",
  ENOEXEC: "exec format error",
  EBADF: "bad file descriptor",
  EAGAIN: "resource temporarily unavailable",
  ENOMEM: "cannot allocate memory",
  EACCES: "permission denied",
  EBUSY: "device or resource busy",
  EEXIST: "file exists",
  EXDEV: "invalid cross-device link",
  ENODEV: "no such device",
  ENOTDIR: "not a directory",
  EISDIR: "is a directory",
  EINVAL: "invalid argument",
  EMFILE: "too many open files",
  ENOTTY: "inappropriate ioctl for device",
  ETXTBSY: "text file busy",
  ENOSPC: "no space left on device",
  EROFS: "read-only file system",
  EPIPE: "broken pipe",
  ENAMETOOLONG: "file name too long",
  ENOSYS: "function not implemented",
  ENOTEMPTY: "directory not empty",
  ELOOP: "too many levels of symbolic links",
  EOPNOTSUPP: "operation not supported",
  ETIMEDOUT: "timed out",
  EDQUOT: "disk quota exceeded",
};

/** `"EACCES (permission denied)"` for an errno number. */
export function errnoText(n: number): string {
  const name = errnoName(n);
  const text = TEXT[name];
  return text ? `${name} (${text})` : name;
}
