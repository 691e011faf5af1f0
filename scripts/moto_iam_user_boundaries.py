"""Give moto 5.2.5's IAM users permissions boundaries, as AWS does.

moto 5.2.5 has role boundaries only: PutUserPermissionsBoundary and
DeleteUserPermissionsBoundary answer "not implemented", CreateUser drops its
PermissionsBoundary parameter, and neither GetUser nor GetAccountAuthorizationDetails'
UserDetailList carries a PermissionsBoundary (docs/moto-notes.md §1).

AWS (IAM API reference: PutUserPermissionsBoundary, CreateUser, GetUser,
GetAccountAuthorizationDetails) sets a user's boundary with either call and answers it in both
reads as {PermissionsBoundaryType: PermissionsBoundaryPolicy, PermissionsBoundaryArn}.

install() gives moto's User a `permissions_boundary` (moto's serializer answers every shape
member from the attribute of the same snake_case name, so GetUser and GAAD carry it as they
carry a role's), the backend the two calls (validated as moto validates a role's), and
CreateUser its parameter. The boundary lives on the user, so /moto-api/reset empties it with
the rest. Imported by scripts/moto-server.py before the server starts; anything it patches
that is missing stops the server with the moto version named.
"""

from __future__ import annotations

import sys
from typing import Any

PINNED_MOTO = "5.2.5"


def _fail(moto_version: str, what: str) -> None:
    sys.exit(
        f"moto-server: the IAM user boundary patch (scripts/moto_iam_user_boundaries.py) is "
        f"pinned to moto {PINNED_MOTO} and does not fit the installed moto {moto_version}: {what}."
    )


def install() -> None:
    import moto
    from moto.core.responses import EmptyResult
    from moto.iam import models, responses

    version = getattr(moto, "__version__", "unknown")
    if version != PINNED_MOTO:
        _fail(version, "version differs")
    backend, response, user = models.IAMBackend, responses.IamResponse, models.User
    for cls, names in ((backend, ["get_user", "put_role_permissions_boundary"]), (response, ["create_user"])):
        missing = [n for n in names if not callable(getattr(cls, n, None))]
        if missing:
            _fail(version, f"{cls.__name__} has no {', '.join(missing)}")
    for cls, name in ((user, "permissions_boundary"), (backend, "put_user_permissions_boundary"),
                      (response, "put_user_permissions_boundary")):
        if hasattr(cls, name):
            _fail(version, f"{cls.__name__} has its own {name}; the patch may be obsolete")

    def permissions_boundary(self: Any) -> dict[str, str] | None:
        arn = self.__dict__.get("_orgsync_boundary")
        if not arn:
            return None
        return {"PermissionsBoundaryType": "PermissionsBoundaryPolicy", "PermissionsBoundaryArn": arn}

    user.permissions_boundary = property(permissions_boundary)

    def check(backend_: Any, boundary: str | None) -> None:
        if not boundary or not backend_.policy_arn_regex.match(boundary):
            raise models.RESTError(
                "InvalidParameterValue",
                f"Value ({boundary}) for parameter PermissionsBoundary is invalid.",
            )

    def put_user_permissions_boundary(self: Any, user_name: str, boundary: str) -> None:
        check(self, boundary)
        self.get_user(user_name).__dict__["_orgsync_boundary"] = boundary

    def delete_user_permissions_boundary(self: Any, user_name: str) -> None:
        self.get_user(user_name).__dict__.pop("_orgsync_boundary", None)

    backend.put_user_permissions_boundary = put_user_permissions_boundary
    backend.delete_user_permissions_boundary = delete_user_permissions_boundary

    def put_response(self: Any) -> Any:
        self.backend.put_user_permissions_boundary(
            self._get_param("UserName"), self._get_param("PermissionsBoundary")
        )
        return EmptyResult()

    def delete_response(self: Any) -> Any:
        self.backend.delete_user_permissions_boundary(self._get_param("UserName"))
        return EmptyResult()

    response.put_user_permissions_boundary = put_response
    response.delete_user_permissions_boundary = delete_response

    create_user = response.create_user

    def create_user_with_boundary(self: Any) -> Any:
        boundary = self._get_param("PermissionsBoundary")
        if boundary is not None:
            check(self.backend, boundary)
        result = create_user(self)
        if boundary:
            self.backend.put_user_permissions_boundary(self._get_param("UserName"), boundary)
        return result

    response.create_user = create_user_with_boundary
