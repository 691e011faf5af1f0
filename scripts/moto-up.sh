#!/usr/bin/env bash
# Start a moto server in the background on a free 127.0.0.1 port and wait until it answers.
#
# Usage: eval "$(scripts/moto-up.sh [--log FILE])"
#        ... use $MOTO_ENDPOINT ...
#        kill "$MOTO_PID"
#
# Prints shell assignments on stdout: MOTO_ENDPOINT, MOTO_PORT, MOTO_PID.
# Runs scripts/moto-server.py (moto_server with a small AWS-managed policy
# catalogue, see that file) from the venv made by scripts/moto-env.sh.
# Never set MOTO_ACCOUNT_ID for it: that folds every account into one.
set -euo pipefail

script_dir=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
log=/dev/null
while [ $# -gt 0 ]; do
  case $1 in
    --log) log=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}" >&2; exit 0 ;;
    *) echo "moto-up: unknown argument: $1" >&2; exit 2 ;;
  esac
done

moto_server=$("$script_dir/moto-env.sh" --quiet)
py=$(dirname -- "$moto_server")/python
unset MOTO_ACCOUNT_ID

for _attempt in 1 2 3; do
  port=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "$py" "$script_dir/moto-server.py" -H 127.0.0.1 -p "$port" >"$log" 2>&1 </dev/null &
  pid=$!
  if "$py" - "$port" "$pid" <<'PY'; then
import os, sys, time, urllib.request
port, pid = sys.argv[1], int(sys.argv[2])
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit(1)  # server died (port taken?)
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/reset-auth", timeout=1)
        sys.exit(0)
    except urllib.error.HTTPError:
        sys.exit(0)  # any HTTP answer means it is up
    except OSError:
        time.sleep(0.1)
sys.exit(1)
PY
    printf 'MOTO_ENDPOINT=http://127.0.0.1:%s\nMOTO_PORT=%s\nMOTO_PID=%s\n' "$port" "$port" "$pid"
    exit 0
  fi
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
done
echo "moto-up: moto server did not start (see --log output)" >&2
exit 1
