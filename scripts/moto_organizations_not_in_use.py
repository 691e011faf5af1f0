"""Make moto 5.2.5 answer DescribeAccount outside an organization as AWS does.

AWS (Organizations API reference, DescribeAccount, Errors) answers a caller whose account is
not in an organization with AWSOrganizationsNotInUseException. moto 5.2.5 looks the account up
in its (empty) account list first and answers AccountNotFoundException instead, so a client
cannot tell "no organization" from "no such account in this organization".

install() wraps OrganizationsBackend.describe_account: with no organization it raises moto's
own AWSOrganizationsNotInUseException (as moto's other Organizations calls already do);
otherwise it is moto's method unchanged. Imported by scripts/moto-server.py before the server
starts; anything it patches that is missing stops the server with the moto version named.
"""

from __future__ import annotations

import sys
from typing import Any

PINNED_MOTO = "5.2.5"


def _fail(moto_version: str, what: str) -> None:
    sys.exit(
        f"moto-server: the Organizations patch (scripts/moto_organizations_not_in_use.py) is "
        f"pinned to moto {PINNED_MOTO} and does not fit the installed moto {moto_version}: {what}."
    )


def install() -> None:
    import moto

    version = getattr(moto, "__version__", "unknown")
    if version != PINNED_MOTO:
        _fail(version, "a different version")
    try:
        from moto.organizations import models
        from moto.organizations.exceptions import AWSOrganizationsNotInUseException
    except ImportError as e:
        _fail(version, str(e))
    backend = getattr(models, "OrganizationsBackend", None)
    original = getattr(backend, "describe_account", None)
    if original is None:
        _fail(version, "OrganizationsBackend.describe_account is missing")

    def describe_account(self: Any, **kwargs: Any) -> dict[str, Any]:
        if getattr(self, "org", None) is None:
            raise AWSOrganizationsNotInUseException()
        return original(self, **kwargs)

    backend.describe_account = describe_account
