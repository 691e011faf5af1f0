#!/usr/bin/env bash
# Empty a running moto server and turn its auth mode off.
#
# Usage: scripts/moto-reset.sh ENDPOINT     (e.g. http://127.0.0.1:5000)
#
# /moto-api/reset drops all data but leaves auth mode as it was, so reset-auth
# is posted first with "inf" (no request is checked). reset-auth reads the raw
# body: it must not be sent form-encoded, hence the text/plain content type.
set -euo pipefail
endpoint=${1:?usage: scripts/moto-reset.sh ENDPOINT}
endpoint=${endpoint%/}
curl -fsS -o /dev/null -X POST -H 'Content-Type: text/plain' --data-binary inf "$endpoint/moto-api/reset-auth"
curl -fsS -o /dev/null -X POST "$endpoint/moto-api/reset"
