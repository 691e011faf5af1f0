#!/usr/bin/env python3
"""Run moto_server (moto 5.2.5) with a small catalogue of AWS-managed IAM policies and
sso-admin's provisioned-permission-set state patched to answer as AWS does.

Why: moto's IAM only knows AWS-managed policies (arn:aws:iam::aws:policy/...) when
MOTO_IAM_LOAD_MANAGED_POLICIES=true, and then it builds all ~1,580 of them for
every account's IAM backend: ~1.4 s per account (first IAM touch or CreateAccount),
~2 s per unfiltered GetAccountAuthorizationDetails (every loaded AWS policy is
returned, attached or not) and ~8 s per /moto-api/reset. This wrapper loads only
the policies named below, which keeps those costs in milliseconds.

Usage (same arguments as moto_server):
    .venv/bin/python scripts/moto-server.py -H 127.0.0.1 -p PORT

Environment:
    ORGSYNC_MOTO_AWS_POLICIES
        default  the DEFAULT_POLICIES list below (the default)
        all      moto's full catalogue (slow, see above)
        none     no AWS-managed policies in IAM (attaching one fails NoSuchEntity)
        a comma-separated list of policy names (last ARN segment, e.g.
        "ReadOnlyAccess,ViewOnlyAccess"); the word "default" inside the list
        expands to DEFAULT_POLICIES.

Only IAM's catalogue is trimmed. sso-admin validates permission-set policy ARNs
against moto's full list on its own (see docs/moto-notes.md for its path bug).

sso-admin: scripts/moto_sso_provisioning.py (imported from this directory) makes
CreateAccountAssignment / ProvisionPermissionSet provision a permission set to an account and
ListAccountsForProvisionedPermissionSet / ListPermissionSetsProvisionedToAccount answer from
that state, as AWS does (moto 5.2.5 answers the caller's account, and every set whatever
the account). It is always installed; the server refuses to start if the patch does not fit
the installed moto.

IAM: scripts/moto_iam_user_boundaries.py gives users permissions boundaries
(PutUserPermissionsBoundary, DeleteUserPermissionsBoundary, CreateUser's PermissionsBoundary),
answered by GetUser and GetAccountAuthorizationDetails as AWS does; moto 5.2.5 has role
boundaries only. Installed the same way.

Organizations: scripts/moto_organizations_not_in_use.py answers DescribeAccount outside an
organization with AWSOrganizationsNotInUseException, as AWS does (moto 5.2.5 answers
AccountNotFoundException). Installed the same way.

IAM: scripts/moto_credential_report.py stamps a credential report with the time it was
generated and reuses it for 4 hours, as AWS does (moto 5.2.5 answers a fixed 2015 time and
reuses a report forever). scripts/moto_iam_paging.py pages GetAccountAuthorizationDetails at
MaxItems as AWS does (moto 5.2.5 answers the whole account in one page).
"""

from __future__ import annotations

import json
import os
import sys

# Policy names (moto keys its catalogue by name; the path comes from the data).
DEFAULT_POLICIES = [
    # path /
    "AdministratorAccess",
    "PowerUserAccess",
    "ReadOnlyAccess",
    "SecurityAudit",
    "IAMFullAccess",
    "IAMReadOnlyAccess",
    "AmazonS3FullAccess",
    "AmazonS3ReadOnlyAccess",
    "AmazonEC2FullAccess",
    "AmazonEC2ReadOnlyAccess",
    "AmazonDynamoDBFullAccess",
    "AmazonDynamoDBReadOnlyAccess",
    "AmazonRDSReadOnlyAccess",
    "AmazonVPCReadOnlyAccess",
    "CloudWatchReadOnlyAccess",
    "AWSCloudTrail_ReadOnlyAccess",
    "AWSBillingReadOnlyAccess",
    "AWSSupportAccess",
    "AWSOrganizationsReadOnlyAccess",
    "AWSOrganizationsFullAccess",
    "AWSSSOReadOnly",
    "AWSLambda_ReadOnlyAccess",
    "AWSLambda_FullAccess",
    "AmazonSSMManagedInstanceCore",
    # path /job-function/
    "ViewOnlyAccess",
    "Billing",
    "DatabaseAdministrator",
    "SystemAdministrator",
    "NetworkAdministrator",
    "SupportUser",
    # path /service-role/
    "AWSLambdaBasicExecutionRole",
    "AmazonECSTaskExecutionRolePolicy",
]


def _selected(spec: str, catalogue: dict) -> dict:
    names: list[str] = []
    for item in (s.strip() for s in spec.split(",")):
        if not item:
            continue
        if item == "default":
            names.extend(DEFAULT_POLICIES)
        else:
            names.append(item.rsplit("/", 1)[-1])  # accept full ARNs too
    missing = sorted({n for n in names if n not in catalogue})
    if missing:
        sys.exit(f"moto-server: unknown AWS-managed policies: {', '.join(missing)}")
    return {n: catalogue[n] for n in dict.fromkeys(names)}


def main() -> None:
    spec = os.environ.get("ORGSYNC_MOTO_AWS_POLICIES", "default").strip() or "default"
    if spec == "none":
        os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "false"
    else:
        os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
        if spec != "all":
            import moto.iam.models as iam_models

            catalogue = json.loads(iam_models.aws_managed_policies_data)
            iam_models.aws_managed_policies_data = json.dumps(_selected(spec, catalogue))

    import moto_credential_report  # scripts/ is sys.path[0] when this file runs as a script
    import moto_iam_paging
    import moto_iam_user_boundaries
    import moto_organizations_not_in_use
    import moto_sso_provisioning

    moto_sso_provisioning.install()
    moto_credential_report.install()
    moto_iam_paging.install()
    moto_iam_user_boundaries.install()
    moto_organizations_not_in_use.install()

    from moto.server import main as moto_main

    moto_main(sys.argv[1:])


if __name__ == "__main__":
    main()
