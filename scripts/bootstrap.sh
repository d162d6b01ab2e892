#!/usr/bin/env bash
# Installs what Passby needs on a fresh Debian machine, and only what is missing.
set -euo pipefail

need=()
pkg-config --exists libqrencode 2>/dev/null || need+=(libqrencode-dev)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v pkg-config >/dev/null || need+=(pkg-config)
dpkg -s zlib1g-dev >/dev/null 2>&1 || need+=(zlib1g-dev)
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
command -v rsvg-convert >/dev/null || need+=(librsvg2-bin)   # prints offline-code cards as PDF and PNG
# The pages' browser test: Debian's headless Chromium and its driver, and fonts for Chinese text.
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
dpkg -s fonts-noto-cjk >/dev/null 2>&1 || need+=(fonts-noto-cjk)
# The scale-out test: three instances behind Debian's HAProxy.
command -v haproxy >/dev/null || need+=(haproxy)

if [ ${#need[@]} -gt 0 ]; then
  echo "bootstrap: installing ${need[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

