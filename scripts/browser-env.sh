#!/usr/bin/env bash
# Make sure Debian's headless-capable Chromium is installed, for the browser test of
# `orgsync report --html` (tests/report.rs).
#
# Usage: scripts/browser-env.sh [--quiet]
#
# When `chromium` is missing and this runs as root on Debian/Ubuntu (as CI does), it installs
# the distribution's package with apt-get (`apt-get install -y chromium`). Otherwise it says what
# to install and exits 1: the browser test fails, with the same message, rather than skipping
# silently.
#
# stdout: exactly one line, the absolute path of the chromium binary. Everything else goes to
# stderr.
#
# Environment:
#   ORGSYNC_CHROMIUM   a chromium binary to use instead (checked, not installed)
set -euo pipefail

quiet=0
for arg in "$@"; do
  case $arg in
    -q | --quiet) quiet=1 ;;
    -h | --help)
      sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}" >&2
      exit 0
      ;;
    *)
      echo "browser-env: unknown argument: $arg (try --help)" >&2
      exit 2
      ;;
  esac
done

log() { if [ "$quiet" = 0 ]; then printf 'browser-env: %s\n' "$*" >&2; fi; }
die() {
  printf 'browser-env: error: %s\n' "$*" >&2
  exit 1
}

works() { "$1" --version >/dev/null 2>&1; }

if [ -n "${ORGSYNC_CHROMIUM:-}" ]; then
  works "$ORGSYNC_CHROMIUM" || die "ORGSYNC_CHROMIUM=$ORGSYNC_CHROMIUM does not run ('--version' failed)"
  printf '%s\n' "$ORGSYNC_CHROMIUM"
  exit 0
fi

find_chromium() {
  local c
  for c in chromium chromium-browser; do
    if command -v "$c" >/dev/null 2>&1 && works "$(command -v "$c")"; then
      command -v "$c"
      return 0
    fi
  done
  return 1
}

if found=$(find_chromium); then
  log "up to date ($found: $("$found" --version 2>/dev/null))"
  printf '%s\n' "$found"
  exit 0
fi

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  die "chromium is not installed, and this is not root on a Debian-like system, so it cannot be installed here.
  Install it (Debian/Ubuntu: sudo apt-get install -y chromium), or point ORGSYNC_CHROMIUM at a
  Chromium or Chrome binary. The browser test of 'orgsync report --html' (tests/report.rs) fails without it."
fi

# Serialize concurrent runs (parallel test jobs) on a read-only fd of this script.
if command -v flock >/dev/null 2>&1; then
  exec 9<"${BASH_SOURCE[0]}"
  flock 9
  if found=$(find_chromium); then
    printf '%s\n' "$found"
    exit 0
  fi
fi

log "installing Debian's chromium with apt-get (once; a few minutes)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2 || log "apt-get update failed; trying the install with the lists at hand"
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >&2 ||
  die "apt-get could not install chromium (apt-cache policy chromium says what the sources offer)"
found=$(find_chromium) || die "apt-get installed chromium but no working chromium binary is on PATH"
log "installed $found: $("$found" --version 2>/dev/null)"
printf '%s\n' "$found"
