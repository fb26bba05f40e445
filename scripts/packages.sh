# shellcheck shell=bash
# Sourced by make test's helpers (services.sh, chromium.sh, venv.sh): install the distribution's
# packages where that is ours to do (root on Debian/Ubuntu), else name the one command to run.
# Run from the repository root (the apt-get log goes to var/apt-get.log).

can_apt_install() {  # 0 when apt-get is here and we are root
  command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]
}

apt_lists_present() {
  compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null
}

apt_install() {  # package... -> 0 when installed; the log's tail on stderr when not
  local log=var/apt-get.log
  mkdir -p var
  # Another apt-get (unattended upgrades, a parallel install) holds the dpkg lock for a while:
  # wait for it rather than fail at once.
  run_apt() {  # APT_SUDO: "sudo -n" where the caller may sudo without a password instead of being root
    ${APT_SUDO:-} env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -q "$@" >>"$log" 2>&1 </dev/null
  }
  # A fresh machine or container has no package lists; stale ones name versions the mirror
  # no longer has (404), so a failed install updates once and tries again.
  if ! apt_lists_present; then run_apt update; fi
  if run_apt install -y --no-install-recommends "$@"; then return 0; fi
  if run_apt update && run_apt install -y --no-install-recommends "$@"; then return 0; fi
  tail -n 5 "$log" | sed 's/^/  apt-get: /' >&2
  return 1
}

install_advice() {  # apt-packages brew-packages dnf-packages what -> "run `the one command`", on stdout
  local sudo=sudo
  [ "$(id -u)" = 0 ] && sudo=
  if command -v apt-get >/dev/null 2>&1; then
    echo "run \`${sudo:+$sudo }apt-get install -y $1\`"
  elif command -v brew >/dev/null 2>&1; then
    echo "run \`brew install $2\`"
  elif command -v dnf >/dev/null 2>&1; then
    echo "run \`${sudo:+$sudo }dnf install -y $3\`"
  else
    echo "install $4 with this system's package manager"
  fi
}
