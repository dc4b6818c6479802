#!/bin/sh
# Build nook's release files for this machine's architecture into dist/ (or $NOOK_DIST):
#
#   nook-linux-<arch>          the single binary: deno compile, with libshim and hello embedded
#   nook-linux-<arch>.sha256   its SHA-256, in the format install.sh checks
#   install.sh                 the installer, pointing at --base-url          (not with --compile-only)
#   SHA256SUMS                 checksums of everything above                   (not with --compile-only)
#
# Usage: tools/release.sh [--compile-only] [--base-url URL]
#   --base-url URL   where the release files will be served from; baked into dist/install.sh
#                    (also NOOK_RELEASE_BASE_URL). install.sh fetches URL/v<version>/nook-linux-<arch>
#                    or URL/latest/nook-linux-<arch>.
#
# The command files, and modules only some runs need, are imported with computed
# specifiers (src/lazy: so no start-up of nook pays for walking their module graphs, npm
# packages included), hence --include of src. deno compile downloads its base runtime
# (denort) from Deno's servers, or uses DENORT_BIN.
# libshim is C built with the system compiler, so build each architecture on a machine of
# that architecture. RELEASING.md describes how a release is cut.
set -eu
root=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd -P)
compile_only=0
base_url=${NOOK_RELEASE_BASE_URL:-}
while [ $# -gt 0 ]; do
  case $1 in
    --compile-only) compile_only=1 ;;
    --base-url) base_url=${2:?--base-url needs a URL}; shift ;;
    --base-url=*) base_url=${1#--base-url=} ;;
    -h | --help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "release: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

dist=${NOOK_DIST:-$root/dist}
deno=${NOOK_DENO:-$root/.deno/node_modules/deno/deno}
[ -x "$deno" ] || deno=$(command -v deno) || { echo "release: no Deno; run ./nook --version once to install it" >&2; exit 1; }
case $(uname -m) in
  x86_64 | amd64) arch=x86_64 ;;
  aarch64 | arm64) arch=aarch64 ;;
  *) echo "release: no release target for $(uname -m)" >&2; exit 1 ;;
esac
target=$arch-unknown-linux-gnu
asset=nook-linux-$arch
version=$(sed -n 's/.*NOOK_VERSION = "\(.*\)".*/\1/p' "$root/src/version.ts")

"$root/libshim/build.sh"
mkdir -p "$dist"
echo "release: deno compile → $dist/$asset (nook $version, $target)" >&2
if ! "$deno" compile --quiet --allow-all --config "$root/deno.json" --target "$target" \
  --include "$root/build/libshim.so" --include "$root/build/hello" --include "$root/build/nook-monitor" \
  --include "$root/src" \
  --output "$dist/$asset" "$root/src/cli/main.ts"; then
  echo "release: deno compile failed; it needs its base runtime (denort) from Deno's servers, or DENORT_BIN pointing at one" >&2
  exit 1
fi
(cd "$dist" && sha256sum "$asset" >"$asset.sha256")
"$dist/$asset" --version >/dev/null || { echo "release: the compiled binary does not start" >&2; exit 1; }
[ "$compile_only" = 1 ] && { cat "$dist/$asset.sha256"; exit 0; }

if [ -z "$base_url" ]; then
  echo "release: warning: no --base-url given; dist/install.sh keeps the placeholder release host" >&2
  cp "$root/install.sh" "$dist/install.sh"
else
  sed "s|^DEFAULT_RELEASE_URL=.*|DEFAULT_RELEASE_URL=\"$base_url\"|" "$root/install.sh" >"$dist/install.sh"
fi
chmod 0755 "$dist/install.sh"
(cd "$dist" && sha256sum "$asset" install.sh >SHA256SUMS)
cat <<MSG
release: nook $version for linux/$arch is in $dist:
$(cd "$dist" && ls -1 "$asset" "$asset.sha256" install.sh SHA256SUMS | sed 's/^/  /')
Upload $asset and $asset.sha256 to ${base_url:-<base-url>}/v$version/ and ${base_url:-<base-url>}/latest/,
and install.sh to the address users curl (see RELEASING.md).
MSG
