# Shared by the bench/*.sh scripts (sourced, POSIX sh): where the project is, running as the
# unprivileged test user (benchmarks measure the rootless product), and a busybox root.

# The project root.
bench_root=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd -P)

# bench_as_user "$0" "$@": as root, build libshim and the launcher's bundle (build/ is root's:
# the user could not, and would run the slower sources) and re-run the script as
# $NOOK_TEST_USER (default nooktest) with a clean environment; the variables named in
# $BENCH_PASS are kept (NOOK_BENCH_COMPARE among them: the other checkout is built likewise). As any other user it returns and the script goes on.
bench_as_user() {
  [ "$(id -u)" = 0 ] || return 0
  _user=${NOOK_TEST_USER:-nooktest}
  "$bench_root/libshim/build.sh"
  "$bench_root/nook" --version >/dev/null
  chmod -R a+rX "$bench_root/build"
  # NOOK_BENCH_COMPARE: the other checkout's nook is built here too, for the same reason
  if [ -n "${NOOK_BENCH_COMPARE:-}" ]; then
    _other=$(dirname -- "$NOOK_BENCH_COMPARE")
    "$_other/libshim/build.sh"
    "$NOOK_BENCH_COMPARE" --version >/dev/null
    chmod -R a+rX "$_other/build"
  fi
  _keep=""
  for _v in ${BENCH_PASS:-}; do
    eval "[ -n \"\${$_v+set}\" ]" && _keep="$_keep $_v=$(eval "printf %s \"\$$_v\"")"
  done
  # shellcheck disable=SC2086 # word splitting of the kept NAME=value pairs is wanted
  exec runuser -u "$_user" -- env -i HOME="$(getent passwd "$_user" | cut -d: -f6)" USER="$_user" \
    PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin $_keep "$@"
}

# bench_need CMD...: stop with the package to install when a tool is missing.
bench_need() {
  for _t in "$@"; do
    command -v "$_t" >/dev/null || { echo "bench: $_t is not installed (apt install $_t)" >&2; exit 1; }
  done
}

# bench_busybox_rootfs DIR APPLET...: a minimal root filesystem with static busybox and the applets named.
bench_busybox_rootfs() {
  _bb=""
  for _c in /bin/busybox /usr/bin/busybox $(command -v busybox); do
    # a dynamic busybox (Debian's "busybox" package) cannot run in a root with no libc
    [ -x "$_c" ] && ! head -c 8192 "$_c" | grep -aq 'ld-linux\|ld-musl' && { _bb=$_c; break; }
  done
  [ -n "$_bb" ] || { echo "bench: no static busybox here (apt install busybox-static)" >&2; exit 1; }
  _dir=$1
  shift
  mkdir -p "$_dir/bin" "$_dir/proc" "$_dir/dev" "$_dir/sys" "$_dir/etc" "$_dir/tmp"
  cp "$_bb" "$_dir/bin/busybox"
  for _a in "$@"; do ln -s busybox "$_dir/bin/$_a"; done
}

# bench_deno FILE.ts ARGS...: run a TypeScript bench with the project's Deno (installed first
# by the launcher) and config.
bench_deno() {
  "$bench_root/nook" --version >/dev/null
  _ts=$1
  shift
  exec "${NOOK_DENO:-$bench_root/.deno/node_modules/deno/deno}" run --allow-all --quiet \
    --config "$bench_root/deno.json" "$bench_root/bench/$_ts" "$@"
}
