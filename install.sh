#!/bin/sh
# Install nook, the rootless container runtime, for the current user:
#
#   curl -fsSL https://<release host>/install.sh | sh
#
# Downloads the release binary for this machine and its SHA-256 checksum,
# verifies it, and installs it as ~/.local/bin/nook. Never needs root.
#
# Settings (environment variables):
#   NOOK_INSTALL       directory to install into (default: ~/.local/bin)
#   NOOK_VERSION       release to install, e.g. 0.2.0 (default: the latest)
#   NOOK_RELEASE_URL   where releases live; files are fetched from
#                      $NOOK_RELEASE_URL/latest/nook-linux-<arch> or
#                      $NOOK_RELEASE_URL/v<version>/nook-linux-<arch> (and .sha256)
set -eu

# Cutting a release rewrites this line (tools/release.sh --base-url URL).
DEFAULT_RELEASE_URL="https://nook-releases.invalid/download"

RELEASE_URL=${NOOK_RELEASE_URL:-$DEFAULT_RELEASE_URL}
VERSION=${NOOK_VERSION:-latest}
BIN_DIR=${NOOK_INSTALL:-${HOME:?HOME is not set; set NOOK_INSTALL to the directory to install into}/.local/bin}

say() { printf 'nook install: %s\n' "$*"; }
die() {
  printf 'nook install: error: %s\n' "$1" >&2
  [ -z "${2:-}" ] || printf '  hint: %s\n' "$2" >&2
  exit 1
}

# --- what to download --------------------------------------------------------
os=$(uname -s)
[ "$os" = Linux ] || die "nook runs on Linux only, and this is $os" \
  "rootless containers need Linux user namespaces; on macOS or Windows, run nook inside a Linux VM"
machine=$(uname -m)
case $machine in
  x86_64 | amd64) arch=x86_64 ;;
  aarch64 | arm64) arch=aarch64 ;;
  *) die "there is no nook release for this architecture ($machine)" \
    "releases exist for x86_64 and aarch64 Linux; on other machines build nook from source" ;;
esac
asset="nook-linux-$arch"
case $VERSION in
  latest) url="$RELEASE_URL/latest/$asset" ;;
  v*) url="$RELEASE_URL/$VERSION/$asset" ;;
  *) url="$RELEASE_URL/v$VERSION/$asset" ;;
esac

# --- tools --------------------------------------------------------------------
if command -v curl >/dev/null 2>&1; then
  fetch() { curl -fsSL --retry 2 -o "$2" "$1"; }
elif command -v wget >/dev/null 2>&1; then
  fetch() { wget -q -O "$2" "$1"; }
else
  die "neither curl nor wget is installed" "install one of them (Debian/Ubuntu: sudo apt install curl)"
fi
if command -v sha256sum >/dev/null 2>&1; then
  sha256() { sha256sum "$1" | cut -d' ' -f1; }
elif command -v shasum >/dev/null 2>&1; then
  sha256() { shasum -a 256 "$1" | cut -d' ' -f1; }
elif command -v openssl >/dev/null 2>&1; then
  sha256() { openssl dgst -sha256 "$1" | sed 's/.*= *//'; }
else
  die "no SHA-256 tool (sha256sum, shasum or openssl) is installed" "install coreutils"
fi

# --- download into the target directory, verify, then rename into place -------
mkdir -p "$BIN_DIR" 2>/dev/null || die "cannot create $BIN_DIR" "set NOOK_INSTALL to a directory you can write"
[ -w "$BIN_DIR" ] || die "cannot write to $BIN_DIR" "set NOOK_INSTALL to a directory you can write (no root needed)"
tmp=$(mktemp "$BIN_DIR/.nook-install.XXXXXX") || die "cannot create a temporary file in $BIN_DIR"
trap 'rm -f "$tmp" "$tmp.sha256"' EXIT
trap 'exit 130' INT TERM

say "downloading $url"
fetch "$url" "$tmp" || die "cannot download $url" "check the network, or set NOOK_VERSION to a release that exists"
fetch "$url.sha256" "$tmp.sha256" || die "cannot download the checksum $url.sha256"

expected=$(cut -d' ' -f1 <"$tmp.sha256" | tr -d '\r\n' | tr 'A-F' 'a-f')
actual=$(sha256 "$tmp")
case $expected in
  *[!0-9a-f]* | "") die "the checksum file $url.sha256 does not hold a SHA-256 digest" ;;
esac
[ ${#expected} -eq 64 ] || die "the checksum file $url.sha256 does not hold a SHA-256 digest"
if [ "$expected" != "$actual" ]; then
  die "checksum mismatch for $asset: expected $expected, got $actual; nothing was installed" \
    "the download was damaged or tampered with; try again, and report it if it persists"
fi
say "checksum verified (sha256 $actual)"

chmod 0755 "$tmp"
mv -f "$tmp" "$BIN_DIR/nook"
trap - EXIT
rm -f "$tmp.sha256"
say "installed $BIN_DIR/nook"

# --- next steps -----------------------------------------------------------------
if ! "$BIN_DIR/nook" --version >/dev/null 2>&1; then
  say "warning: $BIN_DIR/nook does not start here; if $BIN_DIR is on a noexec filesystem, set NOOK_INSTALL elsewhere"
fi
case ":${PATH:-}:" in
  *":$BIN_DIR:"*) ;;
  *)
    say "$BIN_DIR is not on your PATH; add it:"
    case ${SHELL:-} in
      */fish) say "  fish_add_path $BIN_DIR" ;;
      */zsh) say "  echo 'export PATH=\"$BIN_DIR:\$PATH\"' >> ~/.zshrc && . ~/.zshrc" ;;
      */bash) say "  echo 'export PATH=\"$BIN_DIR:\$PATH\"' >> ~/.bashrc && . ~/.bashrc" ;;
      *) say "  echo 'export PATH=\"$BIN_DIR:\$PATH\"' >> ~/.profile  (then log in again)" ;;
    esac
    ;;
esac
say "next: run 'nook doctor' to check this host for rootless containers"
