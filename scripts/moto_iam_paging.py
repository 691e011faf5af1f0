"""Give moto 5.2.5's IAM GetAccountAuthorizationDetails AWS's pages.

moto 5.2.5 ignores MaxItems and Marker on GetAccountAuthorizationDetails: every user, group,
role and managed policy of the account comes in one answer with IsTruncated=false
(docs/moto-notes.md §1). AWS pages it: at most MaxItems items per answer (1 to 1,000; 100 when
not given), counted over the four lists together, IsTruncated and a Marker for the rest
(GetAccountAuthorizationDetails, IAM API Reference). A client reading a large account then
holds one page of the answer at a time; against moto it held the whole account at once (a
5,000-user, 5,000-role account is one answer of tens of megabytes), which made the memory a
benchmark measured the emulator's, not AWS's.

install() replaces the response handler: the backend's lists (users, groups, roles, managed
policies, in that order, as moto answered them; the Filter honoured as before) are cut into
pages of MaxItems; the Marker is the offset of the next page's first item. Imported by
scripts/moto-server.py before the server starts; anything it patches that is missing stops
the server with the moto version named.
"""

from __future__ import annotations

import sys
from typing import Any

PINNED_MOTO = "5.2.5"
DEFAULT_MAX_ITEMS = 100
LISTS = (
    ("users", "UserDetailList"),
    ("groups", "GroupDetailList"),
    ("roles", "RoleDetailList"),
    ("managed_policies", "Policies"),
)


def _fail(moto_version: str, what: str) -> None:
    sys.exit(
        f"moto-server: the IAM paging patch (scripts/moto_iam_paging.py) is pinned to moto "
        f"{PINNED_MOTO} and does not fit the installed moto {moto_version}: {what}. "
        "Check the patch against this moto (docs/moto-notes.md §1) before changing the pin."
    )


def install() -> None:
    import moto
    from moto.core.responses import ActionResult
    from moto.iam import responses
    from moto.iam.exceptions import ValidationError

    version = getattr(moto, "__version__", "unknown")
    if version != PINNED_MOTO:
        _fail(version, "version differs")
    response_cls = responses.IamResponse
    if not callable(getattr(response_cls, "get_account_authorization_details", None)):
        _fail(version, "IamResponse has no get_account_authorization_details")

    def get_account_authorization_details(self: Any) -> ActionResult:
        filter_param = self._get_param("Filter", [])
        details = self.backend.get_account_authorization_details(filter_param)
        items = [(key, item) for name, key in LISTS for item in details[name]]
        raw_max = self._get_param("MaxItems")
        marker = self._get_param("Marker")
        try:
            max_items = int(raw_max) if raw_max not in (None, "") else DEFAULT_MAX_ITEMS
            start = int(marker) if marker else 0
        except ValueError as e:
            raise ValidationError(f"invalid MaxItems or Marker: {e}") from e
        if not 1 <= max_items <= 1000 or not 0 <= start <= len(items):
            raise ValidationError("MaxItems must be 1-1000 and Marker one this server gave")
        end = start + max_items
        result: dict[str, Any] = {key: [] for _, key in LISTS}
        for key, item in items[start:end]:
            result[key].append(item)
        result["IsTruncated"] = end < len(items)
        if end < len(items):
            result["Marker"] = str(end)
        return ActionResult(result)

    response_cls.get_account_authorization_details = get_account_authorization_details
