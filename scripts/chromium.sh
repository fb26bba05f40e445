#!/usr/bin/env bash
# Make sure a Chromium is here for the browser tests (console/tests/browser), from the
# distribution's packages: never a browser download (no `playwright install`).
# Found ($CHROMIUM_PATH, chromium, chromium-browser): one line. Else install the distribution's
# package when apt-get exists and we are root (or may sudo without a password); else one line
# names the command that installs it, and the browser tests skip saying the same. Never fails
# `make test`: the rest of the suite runs either way.
set -u
cd "$(dirname "$0")/.." || exit 1
. scripts/packages.sh

if [ -n "${CHROMIUM_PATH:-}" ]; then
  if [ -x "$CHROMIUM_PATH" ]; then
    echo "chromium: the browser tests use $CHROMIUM_PATH (CHROMIUM_PATH)"
  else
    echo "chromium: CHROMIUM_PATH=$CHROMIUM_PATH is not an executable; the browser tests will skip" >&2
  fi
  exit 0
fi
found() {
  local name path
  for name in chromium chromium-browser; do
    path=$(command -v "$name") && echo "chromium: the browser tests use $path" && return 0
  done
  return 1
}
found && exit 0

if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1 \
  && sudo -n true 2>/dev/null; then
  APT_SUDO="sudo -n"
fi
if can_apt_install || [ -n "${APT_SUDO:-}" ]; then
  echo "chromium: installing the distribution's chromium package for the browser tests (apt-get; log in var/apt-get.log)"
  apt_install chromium && found && exit 0
  echo "chromium: apt-get install chromium failed (another apt-get running? offline?); the browser tests will skip" >&2
  exit 0
fi
echo "chromium: no Chromium found: $(install_advice chromium "--cask chromium" chromium Chromium)" \
  "(or set CHROMIUM_PATH), else the browser tests skip" >&2
exit 0
