#!/usr/bin/env bash
# Assembles an ARM sysroot from Debian's own arm64 / armhf packages, for cross builds
# (platforms/linux-*/toolchain.cmake) and for running the ARM binaries under qemu-user.
#   tools/arm-sysroot.sh arm64|armhf [DIR]      default DIR: build/sysroot/ARCH
#
# Why not `dpkg --add-architecture` + apt-get install PKG:arm64: libxnnpack0 and libpthreadpool0
# are not Multi-Arch: same, so apt would replace the native amd64 libraries the host build
# needs. Instead the .debs are fetched with a private apt state (own lists, cache and an empty
# dpkg status) and unpacked with dpkg-deb -x. The sysroot also carries its own dynamic loader,
# libc and libstdc++ from the same .debs: qemu's -L then uses one consistent set (a loader from
# the cross toolchain with a libc from elsewhere was seen to hang at the first thread start).
# Idempotent: a sysroot whose stamp lists the same packages is left as it is.
set -euo pipefail
cd "$(dirname "$0")/.."

arch="${1:?usage: tools/arm-sysroot.sh arm64|armhf [DIR]}"
case "$arch" in
  arm64) triplet=aarch64-linux-gnu ;;
  armhf) triplet=arm-linux-gnueabihf ;;
  *) echo "arm-sysroot: error: unknown architecture '$arch' (use arm64 or armhf)" >&2; exit 2 ;;
esac
dest="${2:-build/sysroot/$arch}"

# Runtime + link-time pieces only: headers are architecture-independent and come from the host
# packages (flatbuffers, doctest, json, CLI11 are header-only for the runtime).
# encore-serve: Debian's cpp-httplib is a compiled library built with OpenSSL, zlib and Brotli, so
# its .so needs theirs to link (-rpath-link) and run. libssl-dev is here for one header:
# openssl/configuration.h is architecture-specific (/usr/include/TRIPLET/openssl). zlib's and
# Brotli's headers are the same on every architecture (the host's -dev packages, which
# libcpp-httplib-dev pulls in, serve) and nothing links them directly, so their -dev packages
# are left out.
packages=(
  libc6 libgcc-s1 libstdc++6
  libxnnpack0 libxnnpack-dev libpthreadpool0 libpthreadpool-dev libcpuinfo0 libcpuinfo-dev
  libutf8proc2 libutf8proc-dev libpcre2-8-0 libpcre2-dev
  libcpp-httplib0.11 libcpp-httplib-dev libssl3 libssl-dev zlib1g libbrotli1
)
stamp="$dest/.encore-sysroot"
want="$arch ${packages[*]}"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "arm-sysroot: $dest is up to date"
  exit 0
fi

state="$(dirname "$dest")/.apt-$arch"
mkdir -p "$state/lists/partial" "$state/cache/archives/partial" "$state/debs"
: >"$state/status"
apt_opts=(
  -o "APT::Architecture=amd64" -o "APT::Architectures::=$arch"
  -o "Dir::State::Lists=$PWD/$state/lists" -o "Dir::Cache=$PWD/$state/cache"
  -o "Dir::State::status=$PWD/$state/status" -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root"
)
echo "arm-sysroot: updating a private package index for $arch"
# The armhf security index was seen to fail its size check on the mirror; everything needed is
# in the main suite, so a failed update of one index is not fatal (the download below is).
if ! apt-get "${apt_opts[@]}" -qq update >"$state/update.log" 2>&1; then
  echo "arm-sysroot: warning: apt-get update reported errors (see $state/update.log); continuing" >&2
fi
echo "arm-sysroot: downloading ${#packages[@]} packages"
(cd "$state/debs" && rm -f ./*.deb && apt-get "${apt_opts[@]}" -qq download "${packages[@]/%/:$arch}")

rm -rf "$dest"
mkdir -p "$dest"
for deb in "$state/debs"/*.deb; do
  dpkg-deb -x "$deb" "$dest"
done
echo "$want" >"$stamp"
echo "arm-sysroot: $arch sysroot in $dest ($(du -sh "$dest" | cut -f1))"
