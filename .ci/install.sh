#!/usr/bin/env bash
# Install posterm into ./.venv on Debian 12 (run as root). "demo" installs what the
# simulator needs; "test" adds the test tools, pcscd, vpcd and socat.
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-demo}"
export DEBIAN_FRONTEND=noninteractive
# pyscard builds from source: a C compiler with libc headers, Python headers, swig, PC/SC headers.
packages=(python3-venv python3-dev build-essential pkg-config swig libpcsclite-dev libpcsclite1)
if [ "$what" = test ]; then
  packages+=(pcscd vsmartcard-vpcd socat pcsc-tools procps)
fi
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
if [ "$what" = test ]; then
  .venv/bin/python -m pip install -q -e '.[sim,test]'
else
  .venv/bin/python -m pip install -q -e '.[sim]'
fi
