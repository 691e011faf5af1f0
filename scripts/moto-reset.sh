#!/usr/bin/env bash
# Empty a running moto server and turn its auth mode off.
#
# Usage: scripts/moto-reset.sh ENDPOINT     (e.g. http://127.0.0.1:5000)
#
# /moto-api/reset drops all data but leaves auth mode as it was, so reset-auth
# is posted first with "inf" (no request is checked). reset-auth reads the raw
# body: it must not be sent form-encoded, hence the text/plain content type.
# Uses the venv's Python (scripts/moto-env.sh), like scripts/moto-up.sh: no curl needed.
set -euo pipefail
endpoint=${1:?usage: scripts/moto-reset.sh ENDPOINT}
endpoint=${endpoint%/}
script_dir=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
py=$(dirname -- "$("$script_dir/moto-env.sh" --quiet)")/python
"$py" - "$endpoint" <<'PY'
import sys, urllib.request
endpoint = sys.argv[1]
for path, body, ctype in [("/moto-api/reset-auth", b"inf", "text/plain"), ("/moto-api/reset", b"", None)]:
    req = urllib.request.Request(endpoint + path, data=body, method="POST")
    if ctype:
        req.add_header("Content-Type", ctype)
    try:
        urllib.request.urlopen(req, timeout=30).read()
    except Exception as e:  # HTTPError (an error status) or no answer, as curl -f fails
        sys.exit(f"moto-reset: POST {endpoint}{path} failed: {e}")
PY
