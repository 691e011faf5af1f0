#!/usr/bin/env bash
# Compare the records two orgsync binaries write for the same emulated organization.
#
# Usage: scripts/records-diff.sh OLD_BIN NEW_BIN FIXTURE.json [extra `orgsync sync` args...]
#
# Starts one moto (scripts/moto-up.sh), seeds FIXTURE once, runs `OLD_BIN sync` and
# `NEW_BIN sync` against that same state, and compares the decoded records: every line of
# their JSON-lines output (one canonical-JSON record per line), sorted. Prints the record
# counts and exits 0 when they are identical, 1 listing the ids of the records that differ.
# One field is masked: a role's `aws_role_last_used`, which the first run's own AssumeRole
# into that role changes before the second run reads it.
# Used to show that a refactor (or a speed change) leaves every record as it was.
set -euo pipefail

[ $# -ge 3 ] || { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" >&2; exit 2; }
old=$(realpath "$1") new=$(realpath "$2") fixture=$(realpath "$3")
shift 3
root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
work=$(mktemp -d)
eval "$("$root/scripts/moto-up.sh" --log "$work/moto.log")"
trap 'kill "$MOTO_PID" 2>/dev/null || true; rm -rf "$work"' EXIT

"$root/.venv/bin/python" "$root/scripts/seed.py" --endpoint "$MOTO_ENDPOINT" "$fixture" >"$work/manifest.json"

export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
export AWS_ENDPOINT_URL="$MOTO_ENDPOINT" AWS_EC2_METADATA_DISABLED=true
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
export ORGSYNC_ORG_RATE_LIMIT=100 ORGSYNC_NO_PROGRESS=true ORGSYNC_LOG_LEVEL=warn
unset AWS_PROFILE AWS_SESSION_TOKEN

for side in old new; do
  bin=$old
  [ "$side" = new ] && bin=$new
  set +e
  "$bin" sync --no-file --jsonl "$work/$side.jsonl" "$@" 2>"$work/$side.log"
  code=$?
  set -e
  if [ "$code" -ne 0 ] && [ "$code" -ne 3 ]; then
    echo "records-diff: $side binary exited $code:" >&2
    tail -5 "$work/$side.log" >&2
    exit 2
  fi
  sed -E 's/"aws_role_last_used":"[^"]*"/"aws_role_last_used":"<masked>"/g' "$work/$side.jsonl" \
    | LC_ALL=C sort >"$work/$side.sorted"
  echo "$side: exit $code, $(wc -l <"$work/$side.sorted") records"
done
if cmp -s "$work/old.sorted" "$work/new.sorted"; then
  echo "records-diff: identical"
else
  diff "$work/old.sorted" "$work/new.sorted" | grep -E '^[<>]' \
    | sed -E 's/^([<>]) \{"id":("[^"]*"),"kind":("[^"]*").*/\1 \3 \2/' | head -50
  echo "records-diff: the records differ" >&2
  exit 1
fi
