#!/usr/bin/env python3
"""Load an orgsync fixture (fixtures/*.json) into a running moto server.

Usage:
    .venv/bin/python scripts/seed.py --endpoint http://127.0.0.1:PORT FIXTURE.json
        [--region us-east-1] [--reset] [--enable-auth] [--secrets-out FILE] [-v]

Prints a JSON manifest (the IDs moto generated) on stdout; progress and errors go
to stderr. Never prints secret access keys: --secrets-out writes them to a file
(mode 0600) for tests that need to sign as a fixture user (moto's auth mode).

The fixture format and the manifest are documented in fixtures/README.md.
moto is not thread-safe for writes, so everything is seeded serially.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
import time
import urllib.error
import urllib.request
from typing import Any, Iterator

# Dummy credentials for moto unless the caller set some (moto's default account,
# 123456789012, is the management account). Environment credentials win over any
# profile, so a developer's AWS config is never consulted.
if not os.environ.get("AWS_ACCESS_KEY_ID"):
    os.environ["AWS_ACCESS_KEY_ID"] = "testing"
    os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.pop("AWS_SECURITY_TOKEN", None)

import boto3  # noqa: E402
import botocore.config  # noqa: E402
import botocore.exceptions  # noqa: E402

MANAGEMENT = "management"  # reserved account name: the caller's (management) account
DEFAULT_MEMBER_ROLE = "OrganizationAccountAccessRole"
ADMIN_POLICY_ARN = "arn:aws:iam::aws:policy/AdministratorAccess"
FIXTURE_PASSWORD = "Fixture-Passw0rd!"  # moto stores it; nothing reads it back
SESSION_NAME = "orgsync-seed"


class SeedError(Exception):
    pass


# --------------------------------------------------------------------------- fixture checks

# Allowed keys per object kind (keys starting with "$" are comments and ignored).
# Policy documents are free-form JSON and not checked.
SCHEMA: dict[str, set[str]] = {
    "top": {"description", "organization", "management", "accounts", "identity_center"},
    "organization": {"ous", "member_role_policy", "enable_policy_types", "scps"},
    "scp": {"name", "description", "document", "targets"},
    "ou": {"name", "children"},
    "management": {"iam"},
    "account": {"name", "email", "ou", "status", "role_name", "tags", "iam"},
    "iam": {"users", "groups", "roles", "policies"},
    "user": {"name", "path", "tags", "groups", "managed_policies", "inline_policies",
             "access_keys", "login_profile", "mfa"},
    "access_key": {"status", "used"},
    "login_profile": {"password_reset_required"},
    "group": {"name", "path", "managed_policies", "inline_policies"},
    "role": {"name", "path", "description", "max_session_duration", "tags", "trust",
             "managed_policies", "inline_policies", "permissions_boundary"},
    "policy": {"name", "path", "description", "tags", "document"},
    "identity_center": {"users", "groups", "permission_sets", "assignments", "provision"},
    "ic_user": {"user_name", "display_name", "given_name", "family_name", "emails"},
    "ic_group": {"display_name", "description", "members"},
    "permission_set": {"name", "description", "session_duration", "relay_state", "tags",
                       "managed_policies", "inline_policy", "customer_managed_policies",
                       "permissions_boundary"},
    "cmp_ref": {"name", "path"},
    "assignment": {"account", "permission_set", "user", "group"},
    "provision": {"account", "permission_set"},
}
REQUIRED: dict[str, set[str]] = {
    "ou": {"name"},
    "scp": {"name", "document"},
    "account": {"name", "email"},
    "user": {"name"},
    "group": {"name"},
    "role": {"name", "trust"},
    "policy": {"name", "document"},
    "ic_user": {"user_name"},
    "ic_group": {"display_name"},
    "permission_set": {"name"},
    "cmp_ref": {"name"},
    "assignment": {"account", "permission_set"},
    "provision": {"account", "permission_set"},
}


def check(obj: Any, kind: str, where: str) -> dict:
    if not isinstance(obj, dict):
        raise SeedError(f"{where}: expected an object ({kind})")
    unknown = sorted(k for k in obj if not k.startswith("$") and k not in SCHEMA[kind])
    if unknown:
        raise SeedError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(SCHEMA[kind])}")
    missing = sorted(REQUIRED.get(kind, set()) - obj.keys())
    if missing:
        raise SeedError(f"{where}: missing required key(s) {missing}")
    return obj


def validate(fx: dict) -> None:
    check(fx, "top", "fixture")
    org = fx.get("organization")
    accounts = fx.get("accounts") or []
    if org is not None:
        check(org, "organization", "organization")
        if org.get("member_role_policy", "managed") not in ("managed", "inline", "none"):
            raise SeedError("organization.member_role_policy: expected managed | inline | none")

        def walk(ous: list, where: str) -> None:
            for i, ou in enumerate(ous):
                w = f"{where}[{i}]"
                check(ou, "ou", w)
                if "/" in ou["name"]:
                    raise SeedError(f"{w}: OU names may not contain '/'")
                walk(ou.get("children") or [], w + ".children")

        walk(org.get("ous") or [], "organization.ous")
        for i, p in enumerate(org.get("scps") or []):
            w = f"organization.scps[{i}]"
            check(p, "scp", w)
            for t in p.get("targets") or []:
                if not (t == "root" or t.startswith("ou:") or t.startswith("account:")):
                    raise SeedError(f"{w}.targets: {t!r} is not root, ou:<path> or account:<name>")
    elif accounts:
        raise SeedError("accounts need an organization (set \"organization\": {\"ous\": []})")
    if fx.get("management") is not None:
        check(fx["management"], "management", "management")
        validate_iam(fx["management"].get("iam"), "management.iam")
    names = set()
    for i, a in enumerate(accounts):
        w = f"accounts[{i}]"
        check(a, "account", w)
        if a["name"] == MANAGEMENT or a["name"] in names:
            raise SeedError(f"{w}: account name {a['name']!r} is reserved or repeated")
        names.add(a["name"])
        if a.get("status", "ACTIVE") not in ("ACTIVE", "SUSPENDED"):
            raise SeedError(f"{w}.status: expected ACTIVE or SUSPENDED")
        validate_iam(a.get("iam"), w + ".iam")
    ic = fx.get("identity_center")
    if ic is not None:
        check(ic, "identity_center", "identity_center")
        for i, u in enumerate(ic.get("users") or []):
            check(u, "ic_user", f"identity_center.users[{i}]")
        for i, g in enumerate(ic.get("groups") or []):
            check(g, "ic_group", f"identity_center.groups[{i}]")
        for i, p in enumerate(ic.get("permission_sets") or []):
            w = f"identity_center.permission_sets[{i}]"
            check(p, "permission_set", w)
            for j, r in enumerate(p.get("customer_managed_policies") or []):
                check(r, "cmp_ref", f"{w}.customer_managed_policies[{j}]")
        for i, a in enumerate(ic.get("assignments") or []):
            w = f"identity_center.assignments[{i}]"
            check(a, "assignment", w)
            if ("user" in a) == ("group" in a):
                raise SeedError(f"{w}: give exactly one of user / group")
            if a["account"] != MANAGEMENT and a["account"] not in names:
                raise SeedError(f"{w}: unknown account {a['account']!r}")
        if not isinstance(ic.get("provision", []), list):
            raise SeedError("identity_center.provision: expected a list of {account, permission_set} "
                            "(assignments provision their permission sets on their own)")
        for i, p in enumerate(ic.get("provision") or []):
            w = f"identity_center.provision[{i}]"
            check(p, "provision", w)
            if p["account"] != MANAGEMENT and p["account"] not in names:
                raise SeedError(f"{w}: unknown account {p['account']!r}")
    # Placeholders must name known accounts: check now, before anything is sent.
    substitute(fx, {n: "000000000000" for n in names | {MANAGEMENT}}, "o-check" if org is not None else None)


def validate_iam(iam: Any, where: str) -> None:
    if iam is None:
        return
    check(iam, "iam", where)
    for kind, key in (("user", "users"), ("group", "groups"), ("role", "roles"), ("policy", "policies")):
        seen = set()
        for i, item in enumerate(iam.get(key) or []):
            w = f"{where}.{key}[{i}]"
            check(item, kind, w)
            if item["name"] in seen:
                raise SeedError(f"{w}: duplicate name {item['name']!r}")
            seen.add(item["name"])
            if kind == "user":
                lp = item.get("login_profile", False)
                if not isinstance(lp, bool):
                    check(lp, "login_profile", f"{w}.login_profile")
                keys = item.get("access_keys", 0)
                if isinstance(keys, int):
                    if not 0 <= keys <= 2:
                        raise SeedError(f"{w}.access_keys: 0..2 (IAM allows two keys per user)")
                elif isinstance(keys, list) and len(keys) <= 2:
                    for j, k in enumerate(keys):
                        check(k, "access_key", f"{w}.access_keys[{j}]")
                else:
                    raise SeedError(f"{w}.access_keys: a number 0..2 or a list of up to 2 objects")


# --------------------------------------------------------------------------- substitution

PLACEHOLDER = re.compile(r"\$\{(account|org):([^}]*)\}")


def substitute(value: Any, accounts: dict[str, str], org_id: str | None) -> Any:
    """Replace ${account:NAME} and ${org:id} in every string of a JSON value."""
    if isinstance(value, str):
        def repl(m: re.Match) -> str:
            kind, arg = m.group(1), m.group(2)
            if kind == "account":
                if arg not in accounts:
                    raise SeedError(f"unknown account in {m.group(0)!r} (known: {sorted(accounts)})")
                return accounts[arg]
            if arg != "id" or org_id is None:
                raise SeedError(f"{m.group(0)!r}: only ${{org:id}} exists, and only with an organization")
            return org_id

        return PLACEHOLDER.sub(repl, value)
    if isinstance(value, list):
        return [substitute(v, accounts, org_id) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, accounts, org_id) for k, v in value.items()}
    return value


def doc(value: Any) -> str:
    """A policy document as sent to AWS: objects become compact JSON, strings pass as-is."""
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def tag_list(tags: dict | None) -> list[dict]:
    return [{"Key": k, "Value": str(v)} for k, v in (tags or {}).items()]


# --------------------------------------------------------------------------- clients


def partition_of(region: str) -> str:
    """The AWS partition of a region (its ARNs start arn:<partition>:)."""
    for prefix, part in (("us-gov-", "aws-us-gov"), ("cn-", "aws-cn"), ("us-isob-", "aws-iso-b"),
                         ("us-iso-", "aws-iso"), ("eu-isoe-", "aws-iso-e"), ("us-isof-", "aws-iso-f"),
                         ("eusc-", "aws-eusc")):
        if region.startswith(prefix):
            return part
    return "aws"


def in_partition(value: Any, partition: str) -> Any:
    """Every "arn:aws:" of a JSON value's strings rewritten to the partition's prefix."""
    if partition == "aws":
        return value
    if isinstance(value, str):
        return value.replace("arn:aws:", f"arn:{partition}:")
    if isinstance(value, list):
        return [in_partition(v, partition) for v in value]
    if isinstance(value, dict):
        return {k: in_partition(v, partition) for k, v in value.items()}
    return value


class Clients:
    """One boto3 session; clients cached per (account, service)."""

    def __init__(self, endpoint: str, region: str) -> None:
        self.endpoint = endpoint
        self.region = region
        self.partition = partition_of(region)
        self.session = boto3.session.Session(region_name=region)
        # No retries: a retried create would not be idempotent, and moto does not throttle.
        self.config = botocore.config.Config(
            retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=120
        )
        self._cache: dict[tuple[str, str], Any] = {}
        self._creds: dict[str, dict] = {}

    def _client(self, service: str, creds: dict | None = None) -> Any:
        kw = {}
        if creds:
            kw = {
                "aws_access_key_id": creds["AccessKeyId"],
                "aws_secret_access_key": creds["SecretAccessKey"],
                "aws_session_token": creds.get("SessionToken"),
            }
        return self.session.client(
            service, endpoint_url=self.endpoint, region_name=self.region, config=self.config, **kw
        )

    def mgmt(self, service: str) -> Any:
        key = (MANAGEMENT, service)
        if key not in self._cache:
            self._cache[key] = self._client(service)
        return self._cache[key]

    def member(self, account_id: str, role_name: str, service: str) -> Any:
        key = (account_id, service)
        if key not in self._cache:
            if account_id not in self._creds:
                arn = f"arn:{self.partition}:iam::{account_id}:role/{role_name}"
                with step(f"sts:AssumeRole {arn}"):
                    r = self.mgmt("sts").assume_role(RoleArn=arn, RoleSessionName=SESSION_NAME)
                self._creds[account_id] = r["Credentials"]
            self._cache[key] = self._client(service, self._creds[account_id])
        return self._cache[key]

    def with_key(self, service: str, key_id: str, secret: str) -> Any:
        return self._client(service, {"AccessKeyId": key_id, "SecretAccessKey": secret})


@contextlib.contextmanager
def step(what: str) -> Iterator[None]:
    try:
        yield
    except botocore.exceptions.ClientError as e:
        err = e.response.get("Error", {})
        code, msg = err.get("Code", "?"), err.get("Message", "")
        if msg.lstrip().startswith("<!doctype html>") or code == "500":
            msg = "HTML 500 from moto: the operation is not implemented (or crashed) in this moto"
        raise SeedError(f"{what}: {code}: {msg}") from None
    except botocore.exceptions.BotoCoreError as e:
        raise SeedError(f"{what}: {e}") from None


def moto_api(endpoint: str, path: str, body: bytes = b"") -> None:
    # reset-auth reads the raw body, so it must not be form-encoded (Flask would eat it).
    req = urllib.request.Request(
        endpoint.rstrip("/") + path, data=body, method="POST",
        headers={"Content-Type": "text/plain"},
    )
    try:
        urllib.request.urlopen(req, timeout=120).read()
    except (urllib.error.URLError, OSError) as e:
        raise SeedError(f"POST {path}: {e}") from None


# --------------------------------------------------------------------------- seeding


class Seeder:
    def __init__(self, clients: Clients, verbose: bool) -> None:
        self.c = clients
        self.verbose = verbose
        self.t0 = time.monotonic()
        self.access_keys: dict[str, list[str]] = {}
        self.secrets: dict[str, list[dict]] = {}

    def log(self, msg: str) -> None:
        if self.verbose:
            print(f"seed: {time.monotonic() - self.t0:7.2f}s {msg}", file=sys.stderr)

    # ---- IAM of one account

    def seed_iam(self, iam: Any, label: str, spec: dict | None) -> None:
        """Seed one account's IAM; label is the fixture account name (keys are reported under it)."""
        if not spec:
            return
        local: dict[str, str] = {}

        def ref(r: str, where: str) -> str:
            if r.startswith("local:"):
                name = r[len("local:"):]
                if name not in local:
                    raise SeedError(f"{where}: {r!r} names no policy in this account's iam.policies")
                return local[name]
            if r.startswith("arn:"):
                return r
            raise SeedError(f"{where}: policy ref {r!r} must be an ARN or local:<name>")

        def attach(fn: Any, where: str, arns: list[str], **who: str) -> None:
            for r in arns or []:
                arn = ref(r, where)
                try:
                    with step(f"{where}: attach {arn}"):
                        fn(PolicyArn=arn, **who)
                except SeedError as e:
                    if ":iam::aws:policy/" in arn and "NoSuchEntity" in str(e):
                        raise SeedError(
                            f"{e}\n  moto only knows AWS-managed policies it was told to load: start it with "
                            "scripts/moto-server.py (name the policy in ORGSYNC_MOTO_AWS_POLICIES if it is "
                            "not in the default list) or moto_server with MOTO_IAM_LOAD_MANAGED_POLICIES=true"
                        ) from None
                    raise

        for p in spec.get("policies") or []:
            kw: dict[str, Any] = {"PolicyName": p["name"], "PolicyDocument": doc(p["document"])}
            if "path" in p:
                kw["Path"] = p["path"]
            if "description" in p:
                kw["Description"] = p["description"]
            if p.get("tags"):
                kw["Tags"] = tag_list(p["tags"])
            with step(f"{label}: iam:CreatePolicy {p['name']}"):
                local[p["name"]] = iam.create_policy(**kw)["Policy"]["Arn"]

        for g in spec.get("groups") or []:
            w = f"{label}: group {g['name']}"
            with step(f"{w}: iam:CreateGroup"):
                iam.create_group(GroupName=g["name"], **({"Path": g["path"]} if "path" in g else {}))
            attach(iam.attach_group_policy, w, g.get("managed_policies"), GroupName=g["name"])
            for pname, pdoc in (g.get("inline_policies") or {}).items():
                with step(f"{w}: iam:PutGroupPolicy {pname}"):
                    iam.put_group_policy(GroupName=g["name"], PolicyName=pname, PolicyDocument=doc(pdoc))

        for u in spec.get("users") or []:
            w = f"{label}: user {u['name']}"
            kw = {"UserName": u["name"]}
            if "path" in u:
                kw["Path"] = u["path"]
            if u.get("tags"):
                kw["Tags"] = tag_list(u["tags"])
            with step(f"{w}: iam:CreateUser"):
                iam.create_user(**kw)
            for gname in u.get("groups") or []:
                with step(f"{w}: iam:AddUserToGroup {gname}"):
                    iam.add_user_to_group(GroupName=gname, UserName=u["name"])
            attach(iam.attach_user_policy, w, u.get("managed_policies"), UserName=u["name"])
            for pname, pdoc in (u.get("inline_policies") or {}).items():
                with step(f"{w}: iam:PutUserPolicy {pname}"):
                    iam.put_user_policy(UserName=u["name"], PolicyName=pname, PolicyDocument=doc(pdoc))
            if u.get("login_profile"):
                reset = isinstance(u["login_profile"], dict) and bool(
                    u["login_profile"].get("password_reset_required")
                )
                with step(f"{w}: iam:CreateLoginProfile"):
                    iam.create_login_profile(
                        UserName=u["name"], Password=FIXTURE_PASSWORD, PasswordResetRequired=reset
                    )
                if reset:
                    # moto ignores PasswordResetRequired on CreateLoginProfile; UpdateLoginProfile sets
                    # it (and drops the password unless it is given again).
                    with step(f"{w}: iam:UpdateLoginProfile PasswordResetRequired"):
                        iam.update_login_profile(
                            UserName=u["name"], Password=FIXTURE_PASSWORD, PasswordResetRequired=True
                        )
            if u.get("mfa"):
                with step(f"{w}: iam:CreateVirtualMFADevice"):
                    serial = iam.create_virtual_mfa_device(VirtualMFADeviceName=u["name"])[
                        "VirtualMFADevice"]["SerialNumber"]
                with step(f"{w}: iam:EnableMFADevice"):
                    iam.enable_mfa_device(UserName=u["name"], SerialNumber=serial,
                                          AuthenticationCode1="123456", AuthenticationCode2="654321")
            keys = u.get("access_keys", 0)
            if isinstance(keys, int):
                keys = [{} for _ in range(keys)]
            for k in keys:
                with step(f"{w}: iam:CreateAccessKey"):
                    ak = iam.create_access_key(UserName=u["name"])["AccessKey"]
                kid, secret = ak["AccessKeyId"], ak["SecretAccessKey"]
                self.access_keys.setdefault(f"{label}/{u['name']}", []).append(kid)
                status = k.get("status", "Active")
                self.secrets.setdefault(f"{label}/{u['name']}", []).append(
                    {"access_key_id": kid, "secret_access_key": secret, "status": status}
                )
                if k.get("used"):
                    # Any signed request marks the key as used in moto.
                    with step(f"{w}: sts:GetCallerIdentity with {kid}"):
                        self.c.with_key("sts", kid, secret).get_caller_identity()
                if status != "Active":
                    with step(f"{w}: iam:UpdateAccessKey {kid} {status}"):
                        iam.update_access_key(UserName=u["name"], AccessKeyId=kid, Status=status)

        for r in spec.get("roles") or []:
            w = f"{label}: role {r['name']}"
            kw = {"RoleName": r["name"], "AssumeRolePolicyDocument": doc(r["trust"])}
            if "path" in r:
                kw["Path"] = r["path"]
            if "description" in r:
                kw["Description"] = r["description"]
            if "max_session_duration" in r:
                kw["MaxSessionDuration"] = int(r["max_session_duration"])
            if r.get("tags"):
                kw["Tags"] = tag_list(r["tags"])
            if r.get("permissions_boundary"):
                kw["PermissionsBoundary"] = ref(r["permissions_boundary"], w)
            with step(f"{w}: iam:CreateRole"):
                iam.create_role(**kw)
            attach(iam.attach_role_policy, w, r.get("managed_policies"), RoleName=r["name"])
            for pname, pdoc in (r.get("inline_policies") or {}).items():
                with step(f"{w}: iam:PutRolePolicy {pname}"):
                    iam.put_role_policy(RoleName=r["name"], PolicyName=pname, PolicyDocument=doc(pdoc))

    # ---- whole fixture

    def run(self, fx: dict) -> dict:
        c = self.c
        with step(f"sts:GetCallerIdentity at {c.endpoint}"):
            mgmt_id = c.mgmt("sts").get_caller_identity()["Account"]
        manifest: dict[str, Any] = {
            "management_account": mgmt_id,
            "region": c.region,
            "organization": None,
            "accounts": {},
            "identity_center": None,
            "access_keys": {},
        }
        ids: dict[str, str] = {MANAGEMENT: mgmt_id}
        org_id = None
        role_names: dict[str, str] = {}

        org_spec = fx.get("organization")
        if org_spec is not None:
            org = c.mgmt("organizations")
            with step("organizations:CreateOrganization (moto already has one? use --reset)"):
                o = org.create_organization(FeatureSet="ALL")["Organization"]
            org_id = o["Id"]
            with step("organizations:ListRoots"):
                root_id = org.list_roots()["Roots"][0]["Id"]
            ous: dict[str, str] = {}

            def make_ous(children: list, parent: str, prefix: str) -> None:
                for ou in children:
                    path = prefix + ou["name"]
                    with step(f"organizations:CreateOrganizationalUnit {path}"):
                        ous[path] = org.create_organizational_unit(ParentId=parent, Name=ou["name"])[
                            "OrganizationalUnit"
                        ]["Id"]
                    make_ous(ou.get("children") or [], ous[path], path + "/")

            make_ous(org_spec.get("ous") or [], root_id, "")
            self.log(f"organization {org_id}: {len(ous)} OUs")
            for a in fx.get("accounts") or []:
                kw: dict[str, Any] = {"AccountName": a["name"], "Email": a["email"]}
                if a.get("role_name"):
                    kw["RoleName"] = a["role_name"]
                if a.get("tags"):
                    kw["Tags"] = tag_list(a["tags"])
                with step(f"organizations:CreateAccount {a['name']}"):
                    st = org.create_account(**kw)["CreateAccountStatus"]
                if st.get("State") != "SUCCEEDED":
                    raise SeedError(f"CreateAccount {a['name']}: state {st.get('State')}")
                ids[a["name"]] = st["AccountId"]
                role_names[a["name"]] = a.get("role_name") or DEFAULT_MEMBER_ROLE
                if a.get("ou"):
                    if a["ou"] not in ous:
                        raise SeedError(f"account {a['name']}: unknown OU path {a['ou']!r} (known: {sorted(ous)})")
                    with step(f"organizations:MoveAccount {a['name']} -> {a['ou']}"):
                        org.move_account(
                            AccountId=st["AccountId"], SourceParentId=root_id, DestinationParentId=ous[a["ou"]]
                        )
            self.log(f"{len(fx.get('accounts') or [])} accounts created")
            manifest["organization"] = {
                "id": org_id,
                "root_id": root_id,
                "master_account_id": o["MasterAccountId"],
                "ous": ous,
            }
            manifest["accounts"] = {a["name"]: ids[a["name"]] for a in fx.get("accounts") or []}

        # ${account:NAME} / ${org:id} can point anywhere, so substitute once all IDs exist.
        fx = substitute(fx, ids, org_id)
        if org_spec is not None:
            manifest["management_account_name"] = self.seed_scps(fx["organization"], ids, manifest)

        self.seed_iam(c.mgmt("iam"), MANAGEMENT, (fx.get("management") or {}).get("iam"))
        self.log("management IAM seeded")

        member_policy = (org_spec or {}).get("member_role_policy", "managed")
        admin_arn = in_partition(ADMIN_POLICY_ARN, c.partition)
        for a in fx.get("accounts") or []:
            acct, role = ids[a["name"]], role_names[a["name"]]
            iam = c.member(acct, role, "iam")
            if c.partition != "aws":
                self.member_role_in_partition(iam, a["name"], role, mgmt_id)
            if member_policy == "managed":  # what AWS does for OrganizationAccountAccessRole
                with step(f"{a['name']}: attach {admin_arn} to {role}"):
                    try:
                        iam.attach_role_policy(RoleName=role, PolicyArn=admin_arn)
                    except botocore.exceptions.ClientError as e:
                        if e.response.get("Error", {}).get("Code") == "NoSuchEntity":
                            raise SeedError(
                                f"{a['name']}: moto has no AWS-managed AdministratorAccess; run moto via "
                                "scripts/moto-server.py, or set organization.member_role_policy to "
                                "\"inline\" or \"none\""
                            ) from None
                        raise
            elif member_policy == "inline":
                with step(f"{a['name']}: iam:PutRolePolicy on {role}"):
                    iam.put_role_policy(
                        RoleName=role,
                        PolicyName="AdministratorAccess",
                        PolicyDocument=doc({"Version": "2012-10-17",
                                            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
                    )
            self.seed_iam(iam, a["name"], a.get("iam"))
            self.log(f"account {a['name']} ({acct}) IAM seeded")

        ic = fx.get("identity_center")
        if ic is not None:
            manifest["identity_center"] = self.seed_identity_center(ic, ids)

        org = c.mgmt("organizations") if org_spec is not None else None
        for a in fx.get("accounts") or []:
            if a.get("status", "ACTIVE") == "SUSPENDED":
                # moto: CloseAccount flips Status to SUSPENDED at once (AWS: PENDING_CLOSURE first).
                with step(f"organizations:CloseAccount {a['name']}"):
                    org.close_account(AccountId=ids[a["name"]])
                self.log(f"account {a['name']} closed (SUSPENDED)")

        manifest["access_keys"] = self.access_keys
        return manifest

    def member_role_in_partition(self, iam: Any, name: str, role: str, mgmt_id: str) -> None:
        """moto 5.2.5's CreateAccount makes the member role in the aws partition's IAM whatever
        the region; outside it (GovCloud, China) the seeder makes it where AWS would, trusting
        the management account's root as AWS's does."""
        try:
            iam.get_role(RoleName=role)
            return
        except botocore.exceptions.ClientError as e:
            if e.response.get("Error", {}).get("Code") != "NoSuchEntity":
                raise
        trust = {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "sts:AssumeRole",
            "Principal": {"AWS": f"arn:{self.c.partition}:iam::{mgmt_id}:root"}}]}
        with step(f"{name}: iam:CreateRole {role} in {self.c.partition} (moto made it in aws)"):
            iam.create_role(RoleName=role, AssumeRolePolicyDocument=doc(trust))

    def seed_scps(self, spec: dict, ids: dict[str, str], manifest: dict) -> str:
        """Policy types, service control policies and their attachments; records every SCP's
        id, ARN and targets (moto's FullAWSAccess included) in the manifest. Returns the
        management account's name."""
        org = self.c.mgmt("organizations")
        o = manifest["organization"]
        for t in spec.get("enable_policy_types") or []:
            with step(f"organizations:EnablePolicyType {t}"):
                org.enable_policy_type(RootId=o["root_id"], PolicyType=t)

        def target(t: str) -> str:
            if t == "root":
                return o["root_id"]
            kind, name = t.split(":", 1)
            table = o["ous"] if kind == "ou" else ids
            if name not in table:
                raise SeedError(f"scps: unknown target {t!r}")
            return table[name]

        for p in spec.get("scps") or []:
            with step(f"organizations:CreatePolicy {p['name']}"):
                org.create_policy(Name=p["name"], Description=p.get("description", ""),
                                  Content=doc(p["document"]), Type="SERVICE_CONTROL_POLICY")
        policies = {}
        with step("organizations:ListPolicies SERVICE_CONTROL_POLICY"):
            for s in org.list_policies(Filter="SERVICE_CONTROL_POLICY")["Policies"]:
                policies[s["Name"]] = s
        for p in spec.get("scps") or []:
            for t in p.get("targets") or []:
                with step(f"organizations:AttachPolicy {p['name']} -> {t}"):
                    org.attach_policy(PolicyId=policies[p["name"]]["Id"], TargetId=target(t))
        o["scps"] = {}
        for name, s in policies.items():
            with step(f"organizations:ListTargetsForPolicy {name}"):
                targets = org.list_targets_for_policy(PolicyId=s["Id"])["Targets"]
            o["scps"][name] = {"id": s["Id"], "arn": s["Arn"], "targets": sorted(t["TargetId"] for t in targets)}
        with step("organizations:DescribeAccount (management)"):
            return org.describe_account(AccountId=manifest["management_account"])["Account"]["Name"]

    def seed_identity_center(self, ic: dict, ids: dict[str, str]) -> dict:
        c = self.c
        sso, store = c.mgmt("sso-admin"), c.mgmt("identitystore")
        with step("sso-admin:ListInstances"):
            instances = sso.list_instances()["Instances"]
        if not instances:
            raise SeedError("sso-admin:ListInstances returned no instance (moto creates one per region on first call)")
        ia, sid = instances[0]["InstanceArn"], instances[0]["IdentityStoreId"]
        out: dict[str, Any] = {
            "instance_arn": ia,
            "identity_store_id": sid,
            "users": {},
            "groups": {},
            "memberships": {},
            "permission_sets": {},
        }
        for u in ic.get("users") or []:
            given = u.get("given_name") or u["user_name"].split("@")[0]
            family = u.get("family_name") or "User"
            kw: dict[str, Any] = {
                "IdentityStoreId": sid,
                "UserName": u["user_name"],
                "DisplayName": u.get("display_name") or f"{given} {family}",
                "Name": {"GivenName": given, "FamilyName": family},
            }
            if u.get("emails"):
                kw["Emails"] = [
                    {"Value": e, "Type": "work", "Primary": i == 0} for i, e in enumerate(u["emails"])
                ]
            with step(f"identitystore:CreateUser {u['user_name']}"):
                out["users"][u["user_name"]] = store.create_user(**kw)["UserId"]
        for g in ic.get("groups") or []:
            kw = {"IdentityStoreId": sid, "DisplayName": g["display_name"]}
            if "description" in g:
                kw["Description"] = g["description"]
            with step(f"identitystore:CreateGroup {g['display_name']}"):
                gid = out["groups"][g["display_name"]] = store.create_group(**kw)["GroupId"]
            for m in g.get("members") or []:
                if m not in out["users"]:
                    raise SeedError(f"group {g['display_name']}: unknown member {m!r}")
                with step(f"identitystore:CreateGroupMembership {g['display_name']}/{m}"):
                    out["memberships"][f"{g['display_name']}/{m}"] = store.create_group_membership(
                        IdentityStoreId=sid, GroupId=gid, MemberId={"UserId": out["users"][m]}
                    )["MembershipId"]
        self.log(f"identity store: {len(out['users'])} users, {len(out['groups'])} groups, "
                 f"{len(out['memberships'])} memberships")

        for p in ic.get("permission_sets") or []:
            w = f"permission set {p['name']}"
            # moto answers SessionDuration as the number 3600 when it is omitted, which
            # typed SDKs reject; always send it.
            kw = {"InstanceArn": ia, "Name": p["name"], "SessionDuration": p.get("session_duration", "PT1H")}
            if "description" in p:
                kw["Description"] = p["description"]
            if "relay_state" in p:
                kw["RelayState"] = p["relay_state"]
            if p.get("tags"):
                kw["Tags"] = tag_list(p["tags"])
            with step(f"{w}: sso-admin:CreatePermissionSet"):
                arn = out["permission_sets"][p["name"]] = sso.create_permission_set(**kw)["PermissionSet"][
                    "PermissionSetArn"
                ]
            for m in p.get("managed_policies") or []:
                with step(f"{w}: sso-admin:AttachManagedPolicyToPermissionSet {m}"):
                    sso.attach_managed_policy_to_permission_set(InstanceArn=ia, PermissionSetArn=arn, ManagedPolicyArn=m)
            if p.get("inline_policy") is not None:
                with step(f"{w}: sso-admin:PutInlinePolicyToPermissionSet"):
                    sso.put_inline_policy_to_permission_set(
                        InstanceArn=ia, PermissionSetArn=arn, InlinePolicy=doc(p["inline_policy"])
                    )
            for r in p.get("customer_managed_policies") or []:
                with step(f"{w}: sso-admin:AttachCustomerManagedPolicyReferenceToPermissionSet {r['name']}"):
                    sso.attach_customer_managed_policy_reference_to_permission_set(
                        InstanceArn=ia, PermissionSetArn=arn,
                        CustomerManagedPolicyReference={"Name": r["name"], "Path": r.get("path", "/")},
                    )
            if p.get("permissions_boundary"):
                b = p["permissions_boundary"]
                boundary = (
                    {"ManagedPolicyArn": b["managed_policy_arn"]} if "managed_policy_arn" in b
                    else {"CustomerManagedPolicyReference": {"Name": b["name"], "Path": b.get("path", "/")}}
                )
                with step(f"{w}: sso-admin:PutPermissionsBoundaryToPermissionSet (moto 5.2.5 lacks it)"):
                    sso.put_permissions_boundary_to_permission_set(
                        InstanceArn=ia, PermissionSetArn=arn, PermissionsBoundary=boundary
                    )

        for i, a in enumerate(ic.get("assignments") or []):
            acct = ids[a["account"]]
            if a["permission_set"] not in out["permission_sets"]:
                raise SeedError(f"assignments[{i}]: unknown permission set {a['permission_set']!r}")
            ps = out["permission_sets"][a["permission_set"]]
            if "user" in a:
                ptype, pname, table = "USER", a["user"], out["users"]
            else:
                ptype, pname, table = "GROUP", a["group"], out["groups"]
            if pname not in table:
                raise SeedError(f"assignments[{i}]: unknown {ptype.lower()} {pname!r}")
            with step(f"sso-admin:CreateAccountAssignment {a['account']}/{a['permission_set']}/{pname}"):
                st = sso.create_account_assignment(
                    InstanceArn=ia, TargetId=acct, TargetType="AWS_ACCOUNT", PermissionSetArn=ps,
                    PrincipalType=ptype, PrincipalId=table[pname],
                )["AccountAssignmentCreationStatus"]
            if st.get("Status") != "SUCCEEDED":
                raise SeedError(f"CreateAccountAssignment {a}: status {st.get('Status')}")
        # An assignment provisions its permission set to its account (AWS, and moto through
        # scripts/moto_sso_provisioning.py). `provision` adds a set to an account with no
        # assignment there, as ProvisionPermissionSet does.
        for i, p in enumerate(ic.get("provision") or []):
            if p["permission_set"] not in out["permission_sets"]:
                raise SeedError(f"provision[{i}]: unknown permission set {p['permission_set']!r}")
            with step(f"sso-admin:ProvisionPermissionSet {p['account']}/{p['permission_set']}"):
                st = sso.provision_permission_set(
                    InstanceArn=ia, PermissionSetArn=out["permission_sets"][p["permission_set"]],
                    TargetType="AWS_ACCOUNT", TargetId=ids[p["account"]],
                )["PermissionSetProvisioningStatus"]
            if st.get("Status") != "SUCCEEDED" or st.get("AccountId") != ids[p["account"]]:
                raise SeedError(
                    f"ProvisionPermissionSet {p}: status {st.get('Status')} for account {st.get('AccountId')} "
                    "(moto without scripts/moto_sso_provisioning.py ignores the target)"
                )
        self.log(f"identity center: {len(out['permission_sets'])} permission sets, "
                 f"{len(ic.get('assignments') or [])} assignments, {len(ic.get('provision') or [])} provisioned")
        return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("fixture", help="fixture JSON file (see fixtures/README.md)")
    ap.add_argument("--endpoint", required=True, help="moto server URL, e.g. http://127.0.0.1:5000")
    ap.add_argument("--region", default="us-east-1", help="region for all clients (default us-east-1)")
    ap.add_argument("--reset", action="store_true",
                    help="first turn moto's auth mode off and POST /moto-api/reset")
    ap.add_argument("--enable-auth", action="store_true",
                    help="after seeding, POST /moto-api/reset-auth 0: moto then checks IAM policies and "
                         "rejects the dummy 'testing' credentials (use keys from --secrets-out)")
    ap.add_argument("--secrets-out", metavar="FILE",
                    help="write the created access keys with their secret keys to FILE (mode 0600)")
    ap.add_argument("-v", "--verbose", action="store_true", help="progress and timings on stderr")
    args = ap.parse_args()

    try:
        with open(args.fixture, encoding="utf-8") as f:
            fx = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        print(f"seed: error: {args.fixture}: {e}", file=sys.stderr)
        return 2
    try:
        validate(fx)
    except SeedError as e:
        print(f"seed: error: {args.fixture}: {e}", file=sys.stderr)
        return 2
    # Outside the aws partition (GovCloud, China), the fixture's ARNs are the partition's.
    fx = in_partition(fx, partition_of(args.region))

    try:
        if args.reset:
            moto_api(args.endpoint, "/moto-api/reset-auth", b"inf")
            moto_api(args.endpoint, "/moto-api/reset")
        seeder = Seeder(Clients(args.endpoint, args.region), args.verbose)
        manifest = seeder.run(fx)
        if args.secrets_out:
            fd = os.open(args.secrets_out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(seeder.secrets, f, indent=2)
                f.write("\n")
        if args.enable_auth:
            moto_api(args.endpoint, "/moto-api/reset-auth", b"0")
            seeder.log("auth mode on")
        seeder.log("done")
    except SeedError as e:
        print(f"seed: error: {e}", file=sys.stderr)
        return 1
    json.dump(manifest, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
