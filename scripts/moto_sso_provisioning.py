"""Give moto 5.2.5's sso-admin AWS's "provisioned permission set" state.

moto 5.2.5 keeps one list of "provisioned" permission sets per Identity Center instance,
filled only by ProvisionPermissionSet (whose TargetType/TargetId it ignores), and:

- ListAccountsForProvisionedPermissionSet answers the caller's account for any set in that
  list, whatever accounts the set was assigned in;
- ListPermissionSetsProvisionedToAccount ignores AccountId (and ProvisioningStatus and
  paging) and answers the whole list, once per ProvisionPermissionSet call;
- CreateAccountAssignment provisions nothing; DeleteAccountAssignment deprovisions nothing;
  DeletePermissionSet succeeds while assignments still use the set.

AWS (IAM Identity Center API reference and user guide; sources in docs/moto-notes.md §6)
provisions a permission set to an account with its first assignment there
(CreateAccountAssignment) or by ProvisionPermissionSet (TargetType AWS_ACCOUNT + TargetId, or
ALL_PROVISIONED_ACCOUNTS to re-provision every account it is provisioned to), deprovisions it
when the last assignment of that set in that account is deleted, and refuses
(ConflictException) to delete a permission set that assignments still use.

install() replaces the backend methods that own this state, and the three response handlers
that drop the request parameters the backend needs (AccountId, TargetType/TargetId,
ProvisioningStatus, MaxResults/NextToken). The state is a dict on each backend, so
/moto-api/reset empties it with the rest. Imported by scripts/moto-server.py before the server
starts; anything it patches that is missing stops the server with the moto version named.
"""

from __future__ import annotations

import functools
import inspect
import json
import sys
from typing import Any, Callable

PINNED_MOTO = "5.2.5"

# What install() replaces, wraps or calls; checked before anything is touched.
BACKEND_METHODS = [
    "create_account_assignment",
    "delete_account_assignment",
    "delete_permission_set",
    "provision_permission_set",
    "list_permission_sets_provisioned_to_account",
    "list_accounts_for_provisioned_permission_set",
    "_find_permission_set",
]
# Changes to a permission set's policies: afterwards the accounts it is provisioned to hold
# an older version until ProvisionPermissionSet (ProvisioningStatus
# LATEST_PERMISSION_SET_NOT_PROVISIONED). moto's UpdatePermissionSet handler never reaches
# the backend (it renames the instance instead), so it changes nothing here either.
BACKEND_CHANGES = [
    "put_inline_policy_to_permission_set",
    "delete_inline_policy_from_permission_set",
    "attach_managed_policy_to_permission_set",
    "detach_managed_policy_from_permission_set",
    "attach_customer_managed_policy_reference_to_permission_set",
    "detach_customer_managed_policy_reference_from_permission_set",
]
RESPONSE_METHODS = [
    "provision_permission_set",
    "list_permission_sets_provisioned_to_account",
    "list_accounts_for_provisioned_permission_set",
]

# AWS documents MaxResults 1..100 for both list calls and no default; 100 as moto's others.
PAGINATION_MODEL = {
    name: {
        "input_token": "next_token",
        "limit_key": "max_results",
        "limit_default": 100,
        "unique_attribute": "self",  # the items are strings: each is its own key
    }
    for name in ("list_permission_sets_provisioned_to_account", "list_accounts_for_provisioned_permission_set")
}
PROVISIONING_STATUSES = ("LATEST_PERMISSION_SET_PROVISIONED", "LATEST_PERMISSION_SET_NOT_PROVISIONED")


def _fail(moto_version: str, what: str) -> None:
    sys.exit(
        f"moto-server: the sso-admin provisioning patch (scripts/moto_sso_provisioning.py) is "
        f"pinned to moto {PINNED_MOTO} and does not fit the installed moto {moto_version}: {what}. "
        "Check the patch against this moto (docs/moto-notes.md §6) before changing the pin."
    )


def install() -> None:
    import moto
    from moto.core.exceptions import JsonRESTError
    from moto.core.utils import unix_time
    from moto.moto_api._internal import mock_random as random
    from moto.ssoadmin import models, responses
    from moto.utilities.paginator import paginate

    version = getattr(moto, "__version__", "unknown")
    if version != PINNED_MOTO:
        _fail(version, "version differs")
    backend_cls, response_cls = models.SSOAdminBackend, responses.SSOAdminResponse
    for cls, names in ((backend_cls, BACKEND_METHODS + BACKEND_CHANGES), (response_cls, RESPONSE_METHODS)):
        missing = [n for n in names if not callable(getattr(cls, n, None))]
        if missing:
            _fail(version, f"{cls.__name__} has no {', '.join(missing)}")
    if not hasattr(models, "ConflictException"):
        _fail(version, "moto.ssoadmin.models has no ConflictException")
    ConflictException = models.ConflictException

    class ValidationException(JsonRESTError):
        code = 400

        def __init__(self, message: str) -> None:
            super().__init__("ValidationException", message)

    # ---- state, per backend (one account and region): reset with it by /moto-api/reset.

    def provisioned(b: Any) -> dict[tuple[str, str, str], int]:
        """(instance ARN, permission set ARN, account ID) -> the set's version provisioned there."""
        return b.__dict__.setdefault("_orgsync_provisioned", {})

    def versions(b: Any) -> dict[tuple[str, str], int]:
        """(instance ARN, permission set ARN) -> its version, raised by every policy change."""
        return b.__dict__.setdefault("_orgsync_versions", {})

    def version_of(b: Any, inst: str, ps: str) -> int:
        return versions(b).get((inst, ps), 0)

    def assigned(b: Any, inst: str, ps: str, account: str | None = None) -> bool:
        return any(
            a.instance_arn == inst and a.permission_set_arn == ps and account in (None, a.target_id)
            for a in b.account_assignments
        )

    def status_matches(b: Any, key: tuple[str, str, str], status: str | None) -> bool:
        if status is None:
            return True
        latest = provisioned(b)[key] == version_of(b, key[0], key[1])
        return latest == (status == "LATEST_PERMISSION_SET_PROVISIONED")

    def check_status(status: str | None) -> None:
        if status is not None and status not in PROVISIONING_STATUSES:
            raise ValidationException(f"ProvisioningStatus must be one of {', '.join(PROVISIONING_STATUSES)}")

    orig: dict[str, Callable[..., Any]] = {n: getattr(backend_cls, n) for n in BACKEND_METHODS + BACKEND_CHANGES}

    # ---- backend: assignments provision and deprovision.

    def create_account_assignment(self: Any, **kw: Any) -> dict[str, Any]:
        out = orig["create_account_assignment"](self, **kw)
        if kw["target_type"] == "AWS_ACCOUNT":
            inst, ps = kw["instance_arn"], kw["permission_set_arn"]
            # A new pair gets the current version; an existing one keeps its own (AWS: an
            # assignment does not re-provision an updated set, ProvisionPermissionSet does).
            provisioned(self).setdefault((inst, ps, kw["target_id"]), version_of(self, inst, ps))
        return out

    def delete_account_assignment(self: Any, **kw: Any) -> dict[str, Any]:
        out = orig["delete_account_assignment"](self, **kw)
        inst, ps, account = kw["instance_arn"], kw["permission_set_arn"], kw["target_id"]
        if not assigned(self, inst, ps, account):
            provisioned(self).pop((inst, ps, account), None)
        return out

    def delete_permission_set(self: Any, instance_arn: str, permission_set_arn: str) -> dict[str, Any]:
        self._find_permission_set(instance_arn, permission_set_arn)  # ResourceNotFoundException first
        if assigned(self, instance_arn, permission_set_arn):
            # AWS's answer (see docs/moto-notes.md §6 for the source).
            raise ConflictException("Could not delete because PermissionSet has ApplicationProfile associated with it")
        out = orig["delete_permission_set"](self, instance_arn=instance_arn, permission_set_arn=permission_set_arn)
        for key in [k for k in provisioned(self) if k[:2] == (instance_arn, permission_set_arn)]:
            del provisioned(self)[key]
        versions(self).pop((instance_arn, permission_set_arn), None)
        return out

    def provision_permission_set(
        self: Any, instance_arn: str, permission_set_arn: str, target_type: str | None = None,
        target_id: str | None = None,
    ) -> list[str]:
        """Provisions the set's current version; returns the accounts it went to."""
        self._find_permission_set(instance_arn, permission_set_arn)
        now = version_of(self, instance_arn, permission_set_arn)
        if target_type == "AWS_ACCOUNT":
            if not target_id:
                raise ValidationException("TargetId is required when TargetType is AWS_ACCOUNT")
            accounts = [target_id]
        elif target_type == "ALL_PROVISIONED_ACCOUNTS":
            accounts = [k[2] for k in provisioned(self) if k[:2] == (instance_arn, permission_set_arn)]
        else:
            raise ValidationException("TargetType must be AWS_ACCOUNT or ALL_PROVISIONED_ACCOUNTS")
        for account in accounts:
            provisioned(self)[(instance_arn, permission_set_arn, account)] = now
        return accounts

    # ---- backend: the two listings (paged with moto's own paginator).

    @paginate(PAGINATION_MODEL)
    def list_permission_sets_provisioned_to_account(
        self: Any, instance_arn: str, account_id: str, provisioning_status: str | None = None
    ) -> list[str]:
        check_status(provisioning_status)
        return [
            k[1] for k in provisioned(self)
            if k[0] == instance_arn and k[2] == account_id and status_matches(self, k, provisioning_status)
        ]

    @paginate(PAGINATION_MODEL)
    def list_accounts_for_provisioned_permission_set(
        self: Any, instance_arn: str, permission_set_arn: str, provisioning_status: str | None = None
    ) -> list[str]:
        check_status(provisioning_status)
        self._find_permission_set(instance_arn, permission_set_arn)
        return [
            k[2] for k in provisioned(self)
            if k[:2] == (instance_arn, permission_set_arn) and status_matches(self, k, provisioning_status)
        ]

    def changes_version(name: str) -> Callable[..., Any]:
        fn, sig = orig[name], inspect.signature(orig[name])

        @functools.wraps(fn)
        def wrapper(self: Any, *args: Any, **kw: Any) -> Any:
            out = fn(self, *args, **kw)
            a = sig.bind(self, *args, **kw).arguments
            key = (a["instance_arn"], a["permission_set_arn"])
            versions(self)[key] = versions(self).get(key, 0) + 1
            return out

        return wrapper

    for name, fn in {
        "create_account_assignment": create_account_assignment,
        "delete_account_assignment": delete_account_assignment,
        "delete_permission_set": delete_permission_set,
        "provision_permission_set": provision_permission_set,
        "list_permission_sets_provisioned_to_account": list_permission_sets_provisioned_to_account,
        "list_accounts_for_provisioned_permission_set": list_accounts_for_provisioned_permission_set,
        **{n: changes_version(n) for n in BACKEND_CHANGES},
    }.items():
        setattr(backend_cls, name, fn)

    # ---- responses: pass what the request says to the backend, answer in AWS's shape.

    def page(self: Any) -> dict[str, Any]:
        return {"max_results": self._get_int_param("MaxResults"), "next_token": self._get_param("NextToken")}

    def with_token(body: dict[str, Any], token: str | None) -> str:
        if token is not None:
            body["NextToken"] = token
        return json.dumps(body)

    def r_provision_permission_set(self: Any) -> str:
        target_type, target_id = self._get_param("TargetType"), self._get_param("TargetId")
        ps = self._get_param("PermissionSetArn")
        self.ssoadmin_backend.provision_permission_set(
            instance_arn=self._get_param("InstanceArn"), permission_set_arn=ps,
            target_type=target_type, target_id=target_id,
        )
        status: dict[str, Any] = {
            "CreatedDate": unix_time(), "PermissionSetArn": ps,
            "RequestId": str(random.uuid4()), "Status": "SUCCEEDED",
        }
        if target_type == "AWS_ACCOUNT":
            status["AccountId"] = target_id
        return json.dumps({"PermissionSetProvisioningStatus": status})

    def r_list_permission_sets_provisioned_to_account(self: Any) -> str:
        account = self._get_param("AccountId")
        if not account:
            raise ValidationException("AccountId is required")
        arns, token = self.ssoadmin_backend.list_permission_sets_provisioned_to_account(
            instance_arn=self._get_param("InstanceArn"), account_id=account,
            provisioning_status=self._get_param("ProvisioningStatus"), **page(self),
        )
        return with_token({"PermissionSets": arns}, token)

    def r_list_accounts_for_provisioned_permission_set(self: Any) -> str:
        accounts, token = self.ssoadmin_backend.list_accounts_for_provisioned_permission_set(
            instance_arn=self._get_param("InstanceArn"), permission_set_arn=self._get_param("PermissionSetArn"),
            provisioning_status=self._get_param("ProvisioningStatus"), **page(self),
        )
        return with_token({"AccountIds": accounts}, token)

    response_cls.provision_permission_set = r_provision_permission_set
    response_cls.list_permission_sets_provisioned_to_account = r_list_permission_sets_provisioned_to_account
    response_cls.list_accounts_for_provisioned_permission_set = r_list_accounts_for_provisioned_permission_set
