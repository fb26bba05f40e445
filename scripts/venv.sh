#!/usr/bin/env bash
# Create the virtualenv (usage: scripts/venv.sh PYTHON DIR) for make run and make test.
# Debian and Ubuntu ship Python's venv without ensurepip (the python3.X-venv package): there
# `python3 -m venv` fails yet leaves DIR/bin/python behind, a venv without pip that every later
# run would take for a good one. So a venv counts only with a working pip, and a missing
# ensurepip is installed as root on Debian/Ubuntu, else named in the one command to run.
set -u
cd "$(dirname "$0")/.." || exit 1
. scripts/packages.sh
python=$1 venv=$2

[ -x "$venv/bin/python" ] && "$venv/bin/python" -m pip --version >/dev/null 2>&1 && exit 0

if ! command -v "$python" >/dev/null 2>&1; then
  echo "venv: $python not found (the project needs Python 3.11 or newer): $(install_advice "python3 python3-venv" \
    python@3.12 python3 "Python 3.11 or newer"), then make again" >&2
  exit 1
fi
version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "venv: $python is Python $version; the project needs 3.11 or newer (make PYTHON=python3.12 ... picks another)" >&2
  exit 1
fi

if ! "$python" -c 'import ensurepip' 2>/dev/null; then
  if ! can_apt_install; then
    echo "venv: $python ($version) has no ensurepip, which python -m venv needs:" \
      "$(install_advice "python$version-venv" python@"$version" python3 "Python's venv module"), then make again" >&2
    exit 1
  fi
  echo "venv: installing python$version-venv from the distribution's packages (apt-get as root; log in var/apt-get.log)"
  apt_install "python$version-venv" || {
    echo "venv: apt-get could not install python$version-venv (offline? see var/apt-get.log)" >&2
    exit 1
  }
fi

rm -rf "$venv"
if ! "$python" -m venv "$venv"; then
  rm -rf "$venv"
  exit 1
fi
