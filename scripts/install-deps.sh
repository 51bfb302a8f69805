#!/usr/bin/env bash
# Installs every Debian package that dokja's build, tests and benchmarks use.
set -euo pipefail
packages=(
  build-essential cmake pkg-config
  libopenblas-openmp-dev libcjson-dev libssl-dev libcmocka-dev
  python3-torch python3-numpy
  libopenmpi-dev openmpi-bin
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
