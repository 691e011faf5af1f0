#!/usr/bin/env bash
# `make demo`: start a local AWS emulator (moto), seed the demo organization from
# fixtures/demo.json, run `orgsync sync` against it, and print `orgsync inspect stats`.
# Output goes to demo/ (sync.c1z, sync.jsonl, manifest.json, moto.log). Stops moto at the end.
set -euo pipefail

root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$root"
mkdir -p demo
bin=${ORGSYNC_BIN:-target/debug/orgsync}
[ -x "$bin" ] || cargo build --locked

eval "$(scripts/moto-up.sh --log demo/moto.log)"
trap 'kill "$MOTO_PID" 2>/dev/null || true' EXIT
echo "moto is listening on $MOTO_ENDPOINT (pid $MOTO_PID)"

.venv/bin/python scripts/seed.py --endpoint "$MOTO_ENDPOINT" fixtures/demo.json > demo/manifest.json
echo "seeded fixtures/demo.json (ids in demo/manifest.json)"

# Dummy credentials for the emulator; the endpoint reaches every AWS client orgsync builds.
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
export AWS_ENDPOINT_URL="$MOTO_ENDPOINT" AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_SESSION_TOKEN
# Identity Center assignments are read with the default strategy (auto): scripts/moto-up.sh
# starts moto with its provisioned-permission-set answers patched to AWS's (see
# docs/moto-notes.md §6), so every strategy finds every assignment here.

set +e
"$bin" sync --file demo/sync.c1z --jsonl demo/sync.jsonl --log-format text "$@"
code=$?
set -e
if [ "$code" -ne 0 ] && [ "$code" -ne 3 ]; then
  echo "orgsync sync failed with exit code $code" >&2
  exit "$code"
fi
echo
"$bin" inspect stats --file demo/sync.c1z
echo
echo "Try: $bin inspect grants --file demo/sync.c1z | head"
# An Identity Center permission set on an account, to ask who has it.
ps=$("$bin" inspect grants --file demo/sync.c1z --resource-type account -o json \
  | .venv/bin/python -c 'import json, sys; g = json.load(sys.stdin); print(g[0]["entitlement"]["id"] if g else "")')
if [ -n "$ps" ]; then
  echo "     $bin inspect grants --file demo/sync.c1z --entitlement '$ps'"
fi
