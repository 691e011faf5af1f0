#!/usr/bin/env bash
# Install the AWS emulator (moto server) and boto3 into <repo>/.venv.
#
# Usage: scripts/moto-env.sh [--with-cfn-lint] [--with-scim] [--force] [--quiet]
#
#   --with-cfn-lint  also install scripts/requirements-lint.txt (cfn-lint)
#   --with-scim      also install scripts/requirements-scim.txt (scim2-server, the SCIM
#                    server of the Identity Center SCIM status tests)
#   --force          reinstall even when the stamp says the venv is current
#   --quiet          no progress messages (errors are still printed)
#
# Idempotent and fast when nothing changed: the venv holds a stamp file with the
# SHA-256 of each requirements file it was built from; when the stamp matches,
# pip is not run at all.
#
# stdout: exactly one line, the absolute path of moto_server (so callers can do
#         MOTO_SERVER=$(scripts/moto-env.sh)). Everything else goes to stderr.
#
# The venv is always <repo>/.venv: the Makefile, scripts/demo.sh and the tests
# (tests/support) look for it there.
#
# Environment:
#   PYTHON        interpreter used to create the venv (default: python3)
set -euo pipefail

script_dir=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
repo_root=$(cd -- "$script_dir/.." && pwd -P)
venv=$repo_root/.venv
python=${PYTHON:-python3}
req_moto=$script_dir/requirements-moto.txt
req_lint=$script_dir/requirements-lint.txt
req_scim=$script_dir/requirements-scim.txt
stamp_moto=$venv/.orgsync-moto.stamp
stamp_lint=$venv/.orgsync-lint.stamp
stamp_scim=$venv/.orgsync-scim.stamp

with_lint=0
with_scim=0
force=0
quiet=0
for arg in "$@"; do
  case $arg in
    --with-cfn-lint) with_lint=1 ;;
    --with-scim) with_scim=1 ;;
    --force) force=1 ;;
    -q | --quiet) quiet=1 ;;
    -h | --help)
      sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}" >&2
      exit 0
      ;;
    *)
      echo "moto-env: unknown argument: $arg (try --help)" >&2
      exit 2
      ;;
  esac
done

log() { if [ "$quiet" = 0 ]; then printf 'moto-env: %s\n' "$*" >&2; fi; }
die() {
  printf 'moto-env: error: %s\n' "$*" >&2
  exit 1
}

file_hash() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  else
    "$python" -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' "$1"
  fi
}

# True when the venv's interpreter runs and the stamp matches the requirements.
is_current() { # $1 = stamp file, $2 = requirements file
  [ -x "$venv/bin/python" ] &&
    [ -f "$1" ] &&
    [ "$(cat "$1")" = "$(file_hash "$2")" ] &&
    "$venv/bin/python" -c '' 2>/dev/null
}

all_current() {
  [ "$force" = 0 ] || return 1
  is_current "$stamp_moto" "$req_moto" && [ -x "$venv/bin/moto_server" ] || return 1
  if [ "$with_lint" = 1 ]; then
    is_current "$stamp_lint" "$req_lint" || return 1
  fi
  if [ "$with_scim" = 1 ]; then
    is_current "$stamp_scim" "$req_scim" && [ -x "$venv/bin/scim2-server" ] || return 1
  fi
}

# Fast path: nothing to do.
if all_current; then
  log "up to date ($venv)"
  printf '%s\n' "$venv/bin/moto_server"
  exit 0
fi

# Serialize concurrent runs (e.g. parallel test jobs) on a read-only fd of the
# requirements file, so no lock file is left behind. flock is in util-linux.
if command -v flock >/dev/null 2>&1; then
  exec 9<"$req_moto"
  flock 9
  if all_current; then # another run finished the job while we waited
    printf '%s\n' "$venv/bin/moto_server"
    exit 0
  fi
fi

command -v "$python" >/dev/null 2>&1 ||
  die "'$python' not found. Install Python 3.10+ (Debian: apt-get install -y python3 python3-venv)."
"$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' ||
  die "moto 5.2.5 needs Python >= 3.10; '$python' is $("$python" -V 2>&1)."

# `python3 -m venv` needs the venv and ensurepip modules. Debian ships ensurepip
# separately in pythonX.Y-venv (python3-venv pulls in the default one).
ensure_venv_module() {
  "$python" -c 'import venv, ensurepip' 2>/dev/null && return 0
  local pyver pkg
  pyver=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  pkg=python$pyver-venv
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "the venv module (ensurepip) is missing; installing $pkg with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2 || true
    apt-get install -y -qq "$pkg" >&2 || apt-get install -y -qq python3-venv >&2 ||
      die "apt-get could not install $pkg or python3-venv"
    "$python" -c 'import venv, ensurepip' 2>/dev/null ||
      die "'$python' still has no ensurepip after installing $pkg (is '$python' Debian's python3?)"
  else
    die "'$python' cannot create virtualenvs: the ensurepip module is missing.
  On Debian/Ubuntu install it with:  sudo apt-get install -y $pkg   (or python3-venv)
  or point PYTHON at another Python 3.10+ interpreter."
  fi
}

if [ -d "$venv" ] && ! "$venv/bin/python" -c '' 2>/dev/null; then
  log "removing broken virtualenv at $venv"
  rm -rf -- "$venv"
fi

if [ ! -x "$venv/bin/python" ]; then
  ensure_venv_module
  log "creating virtualenv $venv ($("$python" -V 2>&1))"
  if ! "$python" -m venv "$venv" >&2; then
    rm -rf -- "$venv"
    die "'$python -m venv $venv' failed"
  fi
fi
# Keep the venv out of git even before .gitignore lists it (Python >= 3.13's
# venv writes the same file itself).
[ -f "$venv/.gitignore" ] || printf '*\n' >"$venv/.gitignore"

pip_install() { # $1 = requirements file
  local qflag=()
  [ "$quiet" = 1 ] && qflag=(-q)
  "$venv/bin/python" -m pip install --disable-pip-version-check --no-input \
    --progress-bar off "${qflag[@]}" -r "$1" >&2
}

if [ "$force" = 1 ] || ! is_current "$stamp_moto" "$req_moto" || [ ! -x "$venv/bin/moto_server" ]; then
  log "installing $(basename "$req_moto")"
  rm -f -- "$stamp_moto"
  pip_install "$req_moto"
  [ -x "$venv/bin/moto_server" ] || die "pip finished but $venv/bin/moto_server is missing"
  file_hash "$req_moto" >"$stamp_moto"
fi

if [ "$with_lint" = 1 ] && { [ "$force" = 1 ] || ! is_current "$stamp_lint" "$req_lint"; }; then
  log "installing $(basename "$req_lint")"
  rm -f -- "$stamp_lint"
  pip_install "$req_lint"
  file_hash "$req_lint" >"$stamp_lint"
fi

if [ "$with_scim" = 1 ] && { [ "$force" = 1 ] || ! is_current "$stamp_scim" "$req_scim" || [ ! -x "$venv/bin/scim2-server" ]; }; then
  log "installing $(basename "$req_scim")"
  rm -f -- "$stamp_scim"
  pip_install "$req_scim"
  [ -x "$venv/bin/scim2-server" ] || die "pip finished but $venv/bin/scim2-server is missing"
  file_hash "$req_scim" >"$stamp_scim"
fi

log "moto_server: $venv/bin/moto_server"
log "seeder:      $venv/bin/python $script_dir/seed.py --endpoint http://127.0.0.1:PORT FIXTURE.json"
printf '%s\n' "$venv/bin/moto_server"
