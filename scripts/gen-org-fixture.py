#!/usr/bin/env python3
"""Generate a deterministic organization fixture with N member accounts.

Usage: scripts/gen-org-fixture.py --accounts 20 [--users 3] > fixtures/org-20.json

Layout: OUs Workloads/{Prod,NonProd} and Security; members spread over them (every 7th at the
root). Each member has a customer-managed policy, a group with its users, an application role
trusted by EC2, and a deployer role trusted by the previous member's deployer role (a
cross-account chain) and by the management account's root. The first user of each member has
an access key and an inline policy. AWS-managed policies come from scripts/moto-server.py's
catalogue.

Larger shapes (benches/floor.rs uses them; the defaults keep the output above unchanged):

  --roles N            roles per member (default 2: app and deployer); the others are service
                       roles trusted by Lambda, each with one customer-managed policy attached
  --policies N         customer-managed policies per member (default 1)
  --groups N           groups per member (default 1); users join them round-robin
  --keys-every K       also give every K-th user an access key (default 0: the first user only)
  --ic-users N         Identity Center users (default 0: no Identity Center)
  --ic-groups N        Identity Center groups; users join them round-robin (default 0)
  --permission-sets N  permission sets (default 0)
  --assignments N      account assignments, spread over accounts, sets and principals (default 0)
"""

import argparse
import json

ap = argparse.ArgumentParser()
ap.add_argument("--accounts", type=int, default=20)
ap.add_argument("--users", type=int, default=3)
ap.add_argument("--roles", type=int, default=2)
ap.add_argument("--policies", type=int, default=1)
ap.add_argument("--groups", type=int, default=1)
ap.add_argument("--keys-every", type=int, default=0)
ap.add_argument("--ic-users", type=int, default=0)
ap.add_argument("--ic-groups", type=int, default=0)
ap.add_argument("--permission-sets", type=int, default=0)
ap.add_argument("--assignments", type=int, default=0)
args = ap.parse_args()
if args.roles < 2 or args.policies < 1 or args.groups < 1:
    ap.error("--roles must be at least 2, --policies and --groups at least 1")

# AWS-managed policies of scripts/moto-server.py's default catalogue with path / (sso-admin
# accepts only those in permission sets).
AWS_POLICIES = [
    "ReadOnlyAccess",
    "AmazonS3ReadOnlyAccess",
    "AmazonEC2ReadOnlyAccess",
    "CloudWatchReadOnlyAccess",
    "AmazonDynamoDBReadOnlyAccess",
    "SecurityAudit",
]


def aws(name: str) -> str:
    return f"arn:aws:iam::aws:policy/{name}"


def options() -> str:
    defaults = {a.dest: a.default for a in ap._actions if a.dest != "help"}
    given = [
        f"--{k.replace('_', '-')} {v}"
        for k, v in vars(args).items()
        if k in ("accounts", "users") or v != defaults[k]
    ]
    return " ".join(given)


ous = ["Workloads/Prod", "Workloads/NonProd", "Security"]
accounts = []
for i in range(1, args.accounts + 1):
    name = f"acct{i:03d}"
    prev = f"acct{i - 1:03d}" if i > 1 else "management"
    groups = [f"{name}-devs"] + [f"{name}-team{g}" for g in range(2, args.groups + 1)]
    policy_names = [f"{name}-data"] + [f"{name}-pol{p}" for p in range(2, args.policies + 1)]
    users = []
    for u in range(1, args.users + 1):
        user = {"name": f"{name}-user{u}", "groups": [groups[(u - 1) % len(groups)]]}
        if u == 1:
            user["access_keys"] = 1
            user["inline_policies"] = {
                "self-service": {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "iam:ChangePassword", "Resource": "*"}],
                }
            }
        elif args.keys_every and u % args.keys_every == 0:
            user["access_keys"] = 1
        if u == 2:
            user["tags"] = {"email": f"{name}-user2@example.com"}
            user["managed_policies"] = ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
        users.append(user)
    deployer_trust = ["arn:aws:iam::${account:management}:root"]
    if prev != "management":
        prev_path = "/ci/" if (i - 1) % 2 == 0 else "/"
        deployer_trust.append(f"arn:aws:iam::${{account:{prev}}}:role{prev_path}{prev}-deployer")
    policies = [
        {
            "name": f"{name}-data",
            "path": "/app/",
            "document": {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{name}-data/*"}],
            },
        }
    ]
    for p in policy_names[1:]:
        policies.append(
            {
                "name": p,
                "document": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:Query"],
                         "Resource": f"arn:aws:dynamodb:*:*:table/{p}"}
                    ],
                },
            }
        )
    group_specs = [{"name": groups[0], "managed_policies": [f"local:{name}-data"]}]
    for g, gname in enumerate(groups[1:], start=1):
        group_specs.append({"name": gname, "managed_policies": [aws(AWS_POLICIES[g % len(AWS_POLICIES)])]})
    roles = [
        {
            "name": f"{name}-app",
            "trust": {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
            },
            "managed_policies": ["arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"],
        },
        {
            "name": f"{name}-deployer",
            "path": "/ci/" if i % 2 == 0 else "/",
            "trust": {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"AWS": deployer_trust}, "Action": "sts:AssumeRole"}],
            },
            "managed_policies": ["arn:aws:iam::aws:policy/PowerUserAccess"],
        },
    ]
    for r in range(3, args.roles + 1):
        roles.append(
            {
                "name": f"{name}-svc{r}",
                "path": "/service/",
                "trust": {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
                },
                "managed_policies": [f"local:{policy_names[r % len(policy_names)]}"],
            }
        )
    accounts.append(
        {
            "name": name,
            "email": f"{name}@example.com",
            "ou": None if i % 7 == 0 else ous[i % len(ous)],
            "iam": {"policies": policies, "groups": group_specs, "users": users, "roles": roles},
        }
    )

identity_center = None
if args.ic_users or args.ic_groups or args.permission_sets:
    ic_users = [
        {"user_name": f"person{u:04d}@example.com", "given_name": f"Person{u:04d}", "family_name": "Example",
         "emails": [f"person{u:04d}@example.com"]}
        for u in range(1, args.ic_users + 1)
    ]
    ic_groups = [
        {"display_name": f"Team{g:03d}",
         "members": [u["user_name"] for k, u in enumerate(ic_users) if k % args.ic_groups == g - 1]}
        for g in range(1, args.ic_groups + 1)
    ]
    sets = [
        {"name": f"Set{p:03d}", "managed_policies": [aws(AWS_POLICIES[p % len(AWS_POLICIES)])]}
        for p in range(1, args.permission_sets + 1)
    ]
    if sets:
        sets[0]["inline_policy"] = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}],
        }
    targets = ["management"] + [a["name"] for a in accounts]
    principals = [("group", g["display_name"]) for g in ic_groups] + [("user", u["user_name"]) for u in ic_users]
    assignments, seen = [], set()
    if sets and principals:
        k = 0
        while len(assignments) < args.assignments and k < args.assignments * 4:
            kind, who = principals[k % len(principals)]
            key = (targets[k % len(targets)], sets[k % len(sets)]["name"], kind, who)
            k += 1
            if key in seen:
                continue
            seen.add(key)
            assignments.append({"account": key[0], "permission_set": key[1], kind: who})
    identity_center = {"users": ic_users, "groups": ic_groups, "permission_sets": sets, "assignments": assignments}

fixture = {
    "description": f"Generated by scripts/gen-org-fixture.py {options()}",
    "organization": {
        "ous": [
            {"name": "Workloads", "children": [{"name": "Prod", "children": []}, {"name": "NonProd", "children": []}]},
            {"name": "Security", "children": []},
        ]
    },
    "management": {
        "iam": {
            "groups": [{"name": "org-admins", "managed_policies": ["arn:aws:iam::aws:policy/AdministratorAccess"]}],
            "users": [{"name": "admin@example.com", "groups": ["org-admins"]}],
        }
    },
    "accounts": accounts,
    "identity_center": identity_center,
}
print(json.dumps(fixture, indent=1))
