#!/usr/bin/env bash
# Make sure a Chromium is here for the browser tests (console/tests/browser), from the
# distribution's packages: never a browser download (no `playwright install`).
# Nothing to do when one is found ($CHROMIUM_PATH, chromium, chromium-browser); else install the
# distribution's package when apt-get exists and we are root (or may sudo without a password);
# else one line says what to install, and the browser tests skip saying the same. Never fails
# `make test`: the rest of the suite runs either way.
set -u

if [ -n "${CHROMIUM_PATH:-}" ]; then
  [ -x "$CHROMIUM_PATH" ] && exit 0
  echo "chromium: CHROMIUM_PATH=$CHROMIUM_PATH is not an executable; the browser tests will skip" >&2
  exit 0
fi
for name in chromium chromium-browser; do
  command -v "$name" >/dev/null 2>&1 && exit 0
done

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi
}

if command -v apt-get >/dev/null 2>&1 \
  && { [ "$(id -u)" = 0 ] || { command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; }; }; then
  echo "chromium: installing the distribution's chromium package for the browser tests (apt-get)"
  install() { as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; }
  # The package lists may be missing on a fresh machine: update once and try again.
  if install >/dev/null 2>&1 || { as_root apt-get update >/dev/null 2>&1 && install >/dev/null 2>&1; }; then
    exit 0
  fi
  echo "chromium: apt-get install chromium failed (another apt-get running? offline?); the browser tests will skip" >&2
  exit 0
fi
echo "chromium: no Chromium found; install the distribution's chromium package (apt-get install chromium) or set CHROMIUM_PATH, else the browser tests skip" >&2
exit 0
