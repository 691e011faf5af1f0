"""Give moto 5.2.5's IAM credential report AWS's age.

moto 5.2.5 answers every GetCredentialReport with GeneratedTime 2015-02-02T20:02:02Z, and every
GenerateCredentialReport after the first with COMPLETE, however long ago that first one was.

AWS ("Getting credential reports", IAM User Guide; docs/moto-notes.md §2) stamps a report with
the time it was generated, reuses a report younger than 4 hours (GenerateCredentialReport
answers COMPLETE) and generates a new one when the last is older (STARTED). A client that reuses
a fresh report (GetCredentialReport first, orgsync's sync) decides its age from GeneratedTime,
so the emulator must give the real time.

install() keeps the time of generation on each IAM backend (an attribute, so /moto-api/reset
empties it with the rest): GenerateCredentialReport answers COMPLETE only for a report under 4
hours old and otherwise starts a new one; GetCredentialReport answers that time. The content is
still built at every GetCredentialReport, as before (§2). Imported by scripts/moto-server.py
before the server starts; anything it patches that is missing stops the server with the moto
version named.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime, timezone
from typing import Any

PINNED_MOTO = "5.2.5"
MAX_AGE_SECONDS = 4 * 3600


def _fail(moto_version: str, what: str) -> None:
    sys.exit(
        f"moto-server: the credential-report patch (scripts/moto_credential_report.py) is "
        f"pinned to moto {PINNED_MOTO} and does not fit the installed moto {moto_version}: {what}. "
        "Check the patch against this moto (docs/moto-notes.md §2) before changing the pin."
    )


def install() -> None:
    import moto
    from moto.core.responses import ActionResult
    from moto.iam import models, responses

    version = getattr(moto, "__version__", "unknown")
    if version != PINNED_MOTO:
        _fail(version, "version differs")
    backend_cls, response_cls = models.IAMBackend, responses.IamResponse
    for cls, names in (
        (backend_cls, ["generate_report", "report_generated", "get_credential_report"]),
        (response_cls, ["generate_credential_report", "get_credential_report"]),
    ):
        missing = [n for n in names if not callable(getattr(cls, n, None))]
        if missing:
            _fail(version, f"{cls.__name__} has no {', '.join(missing)}")

    def generated_at(b: Any) -> float | None:
        return getattr(b, "_orgsync_report_time", None)

    def report_generated(self: Any) -> bool:
        at = generated_at(self)
        return at is not None and time.time() - at < MAX_AGE_SECONDS

    def generate_report(self: Any) -> None:
        if not report_generated(self):
            self._orgsync_report_time = time.time()
        self.credential_report = True

    def r_get_credential_report(self: Any) -> ActionResult:
        report = self.backend.get_credential_report()
        at = generated_at(self.backend) or time.time()
        stamp = datetime.fromtimestamp(at, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return ActionResult({"Content": report, "ReportFormat": "text/csv", "GeneratedTime": stamp})

    backend_cls.report_generated = report_generated
    backend_cls.generate_report = generate_report
    response_cls.get_credential_report = r_get_credential_report
