//! Builds c1z v1 files in every historic baton-sdk layout: the v0.2.x base tables, then the
//! schema steps baton-sdk took since (research notes §1: columns by `ALTER TABLE`, the
//! sessions table, indexes), each file holding real records (the project's record builders,
//! prost-encoded) in several syncs, in WAL mode, zstd-compressed behind the `C1ZF\0` header
//! without a content size, as Go writers leave them. The DDL here is written out per version,
//! independently of the reader's migration list, so a gap in that list shows.

use std::io::Write;
use std::path::Path;

use prost::Message;
use rusqlite::{Connection, params};

use orgsync::model::any::{grant_expandable, pack, v1_identifier};
use orgsync::model::build::{entitlement, entitlement_ref, grant, resource, rid};
use orgsync::model::{pb, types as rt};

/// The tables as baton-sdk v0.2.50 … v0.2.80 create them. The grants index on
/// `(resource_type_id, resource_id)` reuses the resource-types index name, so it is never
/// created (files before v0.2.81 lack it).
const BASE_V0_2: &str = "
create table if not exists v1_resource_types (id integer primary key, external_id text not null, data blob not null, sync_id text not null, discovered_at datetime not null);
create unique index if not exists idx_resource_types_external_sync_v1 on v1_resource_types (external_id, sync_id);
create table if not exists v1_resources (id integer primary key, resource_type_id text not null, external_id text not null, parent_resource_type_id text, parent_resource_id text, data blob not null, sync_id text not null, discovered_at datetime not null);
create index if not exists idx_resources_resource_type_id_v1 on v1_resources (resource_type_id);
create index if not exists idx_resources_external_sync_v1 on v1_resources (parent_resource_type_id, parent_resource_id);
create unique index if not exists idx_resources_parent_resource_id_v1 on v1_resources (external_id, sync_id);
create table if not exists v1_entitlements (id integer primary key, resource_type_id text not null, resource_id text not null, external_id text not null, data blob not null, sync_id text not null, discovered_at datetime not null);
create index if not exists idx_entitlements_resource_id_v1 on v1_entitlements (resource_type_id, resource_id);
create unique index if not exists idx_entitlements_external_sync_v1 on v1_entitlements (external_id, sync_id);
create table if not exists v1_grants (id integer primary key, resource_type_id text not null, resource_id text not null, entitlement_id text not null, principal_resource_type_id text not null, principal_resource_id text not null, external_id text not null, data blob not null, sync_id text not null, discovered_at datetime not null);
create index if not exists idx_resource_types_external_sync_v1 on v1_grants (resource_type_id, resource_id);
create index if not exists idx_grants_principal_id_v1 on v1_grants (principal_resource_type_id, principal_resource_id);
create index if not exists idx_grants_entitlement_id_principal_id_v1 on v1_grants (entitlement_id, principal_resource_type_id, principal_resource_id);
create unique index if not exists idx_grants_external_sync_v1 on v1_grants (external_id, sync_id);
create table if not exists v1_sync_runs (id integer primary key, sync_id text not null, started_at datetime not null, ended_at datetime, sync_token text not null);
create unique index if not exists idx_sync_runs_sync_id_v1 on v1_sync_runs (sync_id);
create table if not exists v1_assets (id integer primary key, external_id text not null, content_type text not null, data blob not null, sync_id text not null, discovered_at datetime not null);
create unique index if not exists idx_assets_external_sync_v1 on v1_assets (external_id, sync_id);
";

/// The schema steps since, each with the first baton-sdk tag that has it.
const STEPS: [(&str, &str); 9] = [
    (
        "v0.2.81",
        "create index if not exists idx_grants_resource_type_id_resource_id_v1 on v1_grants (resource_type_id, resource_id);",
    ),
    (
        "v0.3.0",
        "alter table v1_sync_runs add column sync_type text not null default 'full';
         alter table v1_sync_runs add column parent_sync_id text not null default '';",
    ),
    (
        "v0.5.0",
        "create table if not exists v1_connector_sessions (id integer primary key, sync_id text not null, key text not null, value blob not null);
         create unique index if not exists idx_session_store_sync_key_v1 on v1_connector_sessions (sync_id, key);",
    ),
    (
        "v0.7.0",
        "alter table v1_sync_runs add column linked_sync_id text not null default '';",
    ),
    (
        "v0.7.22",
        "alter table v1_sync_runs add column supports_diff integer not null default 0;
         alter table v1_grants add column expansion blob;
         alter table v1_grants add column needs_expansion integer not null default 0;
         create index if not exists idx_grants_sync_expansion_v1 on v1_grants (sync_id) where expansion is not null;
         create index if not exists idx_grants_sync_needs_expansion_v1 on v1_grants (sync_id) where needs_expansion = 1;",
    ),
    (
        "v0.7.30",
        "alter table v1_sync_runs add column grants_backfilled integer not null default 0;",
    ),
    (
        "v0.9.10",
        "create index if not exists idx_grants_entitlement_sync_grant_v1 on v1_grants (entitlement_id, sync_id, id);",
    ),
    (
        "v0.10.0",
        "alter table v1_sync_runs add column stats text;",
    ),
    (
        "v0.20.3",
        "alter table v1_sync_runs add column ingest_invariant_generation text not null default '';
         alter table v1_sync_runs add column ingest_invariant_coverage text not null default '';
         alter table v1_sync_runs add column ingest_invariant_mode text not null default '';",
    ),
];

/// One historic layout: the base tables plus the first `steps` of [`STEPS`], and what the
/// reader must add to it on open.
pub struct Layout {
    pub name: &'static str,
    steps: usize,
    pub columns_added: &'static [&'static str],
    pub tables_created: &'static [&'static str],
    pub indexes_created: &'static [&'static str],
}

const SR_ALL: [&str; 9] = [
    "v1_sync_runs.sync_type",
    "v1_sync_runs.parent_sync_id",
    "v1_sync_runs.linked_sync_id",
    "v1_sync_runs.supports_diff",
    "v1_sync_runs.grants_backfilled",
    "v1_sync_runs.stats",
    "v1_sync_runs.ingest_invariant_generation",
    "v1_sync_runs.ingest_invariant_coverage",
    "v1_sync_runs.ingest_invariant_mode",
];

/// Every layout baton-sdk has written, oldest first.
pub const LAYOUTS: [Layout; 8] = [
    Layout {
        name: "v0.2.50-v0.2.80",
        steps: 0,
        columns_added: &[
            SR_ALL[0],
            SR_ALL[1],
            SR_ALL[2],
            SR_ALL[3],
            SR_ALL[4],
            SR_ALL[5],
            SR_ALL[6],
            SR_ALL[7],
            SR_ALL[8],
            "v1_grants.expansion",
            "v1_grants.needs_expansion",
        ],
        tables_created: &["v1_connector_sessions"],
        indexes_created: &[
            "idx_grants_entitlement_sync_grant_v1",
            "idx_grants_resource_type_id_resource_id_v1",
            "idx_grants_sync_expansion_v1",
            "idx_grants_sync_needs_expansion_v1",
            "idx_session_store_sync_key_v1",
        ],
    },
    Layout {
        name: "v0.3-v0.4",
        steps: 2,
        columns_added: &[
            SR_ALL[2],
            SR_ALL[3],
            SR_ALL[4],
            SR_ALL[5],
            SR_ALL[6],
            SR_ALL[7],
            SR_ALL[8],
            "v1_grants.expansion",
            "v1_grants.needs_expansion",
        ],
        tables_created: &["v1_connector_sessions"],
        indexes_created: &[
            "idx_grants_entitlement_sync_grant_v1",
            "idx_grants_sync_expansion_v1",
            "idx_grants_sync_needs_expansion_v1",
            "idx_session_store_sync_key_v1",
        ],
    },
    Layout {
        name: "v0.5-v0.6",
        steps: 3,
        columns_added: &[
            SR_ALL[2],
            SR_ALL[3],
            SR_ALL[4],
            SR_ALL[5],
            SR_ALL[6],
            SR_ALL[7],
            SR_ALL[8],
            "v1_grants.expansion",
            "v1_grants.needs_expansion",
        ],
        tables_created: &[],
        indexes_created: &[
            "idx_grants_entitlement_sync_grant_v1",
            "idx_grants_sync_expansion_v1",
            "idx_grants_sync_needs_expansion_v1",
        ],
    },
    Layout {
        name: "v0.7.0-v0.7.21",
        steps: 4,
        columns_added: &[
            SR_ALL[3],
            SR_ALL[4],
            SR_ALL[5],
            SR_ALL[6],
            SR_ALL[7],
            SR_ALL[8],
            "v1_grants.expansion",
            "v1_grants.needs_expansion",
        ],
        tables_created: &[],
        indexes_created: &[
            "idx_grants_entitlement_sync_grant_v1",
            "idx_grants_sync_expansion_v1",
            "idx_grants_sync_needs_expansion_v1",
        ],
    },
    Layout {
        name: "v0.7.22-v0.7.29",
        steps: 5,
        columns_added: &[SR_ALL[4], SR_ALL[5], SR_ALL[6], SR_ALL[7], SR_ALL[8]],
        tables_created: &[],
        indexes_created: &["idx_grants_entitlement_sync_grant_v1"],
    },
    Layout {
        name: "v0.7.30-v0.9.9",
        steps: 6,
        columns_added: &[SR_ALL[5], SR_ALL[6], SR_ALL[7], SR_ALL[8]],
        tables_created: &[],
        indexes_created: &["idx_grants_entitlement_sync_grant_v1"],
    },
    Layout {
        name: "v0.10-v0.20.2",
        steps: 8,
        columns_added: &[SR_ALL[6], SR_ALL[7], SR_ALL[8]],
        tables_created: &[],
        indexes_created: &[],
    },
    Layout {
        name: "v0.20.3-v0.25",
        steps: 9,
        columns_added: &[],
        tables_created: &[],
        indexes_created: &[],
    },
];

impl Layout {
    fn has(&self, step: &str) -> bool {
        STEPS[..self.steps].iter().any(|(v, _)| *v == step)
    }

    /// The layout has `sync_type` (v0.3.0+).
    pub fn typed(&self) -> bool {
        self.has("v0.3.0")
    }

    /// Grants have `expansion` (v0.7.22+).
    pub fn has_expansion(&self) -> bool {
        self.has("v0.7.22")
    }

    /// Sync runs have `grants_backfilled` (v0.7.30+).
    pub fn has_backfilled(&self) -> bool {
        self.has("v0.7.30")
    }

    /// Sync runs have `stats` (v0.10.0+).
    pub fn has_stats(&self) -> bool {
        self.has("v0.10.0")
    }
}

/// One sync of a generated file.
pub struct Sync {
    pub id: &'static str,
    pub sync_type: &'static str,
    pub parent: &'static str,
    pub started: &'static str,
    pub ended: Option<&'static str>,
    /// Size of its record set (see [`records`]).
    pub scale: usize,
    /// What to store in `stats` when the layout has it: `None` = NULL; `Some("counts")` =
    /// correct Go-style stats; any other text is stored as is.
    pub stats: Option<&'static str>,
}

/// The syncs of a typical file: two finished full syncs, a finished partial one on top
/// (the newest finished), and a newer unfinished sync. Untyped layouts (before v0.3.0) have
/// no partial: every sync there is full.
pub fn typical(layout: &Layout) -> Vec<Sync> {
    let mut v = vec![
        Sync {
            id: "2aAAAAAAAAAAAAAAAAAAAAAAAAA",
            sync_type: "full",
            parent: "",
            started: "2025-01-01 10:00:00.1",
            ended: Some("2025-01-01 10:05:00.25"),
            scale: 2,
            stats: Some("{}"),
        },
        Sync {
            id: "2bBBBBBBBBBBBBBBBBBBBBBBBBB",
            sync_type: "full",
            parent: "",
            started: "2025-02-01 10:00:00.123456",
            ended: Some("2025-02-01 10:05:00.5"),
            scale: 4,
            stats: Some("counts"),
        },
    ];
    if layout.typed() {
        v.push(Sync {
            id: "2cCCCCCCCCCCCCCCCCCCCCCCCCC",
            sync_type: "partial",
            parent: "2bBBBBBBBBBBBBBBBBBBBBBBBBB",
            started: "2025-02-02 09:00:00",
            ended: Some("2025-02-02 09:01:00.75"),
            scale: 3,
            stats: None,
        });
    }
    v.push(Sync {
        id: "2dDDDDDDDDDDDDDDDDDDDDDDDDD",
        sync_type: "full",
        parent: "",
        started: "2025-03-01 08:00:00",
        ended: None,
        scale: 5,
        stats: None,
    });
    v
}

/// A file whose only sync never finished (like baton-sdk's `*.unexpanded` fixtures).
pub fn unfinished_only() -> Vec<Sync> {
    vec![Sync {
        id: "2eEEEEEEEEEEEEEEEEEEEEEEEEE",
        sync_type: "full",
        parent: "",
        started: "2025-04-01 08:00:00.000001",
        ended: None,
        scale: 3,
        stats: None,
    }]
}

/// The records of one sync of scale `n`: groups and users, a member entitlement per group,
/// memberships, and `n - 1` group-to-group grants carrying GrantExpandable.
pub struct Records {
    pub types: Vec<pb::ResourceType>,
    pub resources: Vec<pb::Resource>,
    pub entitlements: Vec<pb::Entitlement>,
    pub grants: Vec<pb::Grant>,
}

pub fn records(n: usize) -> Records {
    let group = |i: usize| {
        resource(
            rid(rt::GROUP, &format!("g{i}")),
            &format!("group {i}"),
            None,
            vec![pack(&pb::GroupTrait::default())],
            None,
        )
    };
    let member = |i: usize| format!("group:g{i}:member");
    let groups: Vec<pb::Resource> = (0..n).map(group).collect();
    let users: Vec<pb::Resource> = (0..2 * n)
        .map(|j| {
            resource(
                rid(rt::IAM_USER, &format!("u{j}")),
                &format!("user {j}"),
                Some(rid(rt::GROUP, "g0")),
                vec![v1_identifier(format!("u{j}"))],
                None,
            )
        })
        .collect();
    let entitlements: Vec<pb::Entitlement> = groups
        .iter()
        .enumerate()
        .map(|(i, g)| {
            entitlement(
                member(i),
                g.clone(),
                "member",
                format!("group {i} member"),
                String::new(),
                &[rt::IAM_USER, rt::GROUP],
                vec![],
            )
        })
        .collect();
    let mut grants: Vec<pb::Grant> = (0..2 * n)
        .map(|j| {
            let i = j % n;
            grant(
                format!("{}:iam_user:u{j}", member(i)),
                entitlement_ref(&member(i), groups[i].clone()),
                rid(rt::IAM_USER, &format!("u{j}")),
                vec![],
            )
        })
        .collect();
    grants.extend((1..n).map(|i| {
        grant(
            format!("{}:group:g{i}", member(0)),
            entitlement_ref(&member(0), groups[0].clone()),
            rid(rt::GROUP, &format!("g{i}")),
            vec![grant_expandable(member(i), false)],
        )
    }));
    let mut resources = groups;
    resources.extend(users);
    Records {
        types: vec![rt::known(rt::GROUP), rt::known(rt::IAM_USER)],
        resources,
        entitlements,
        grants,
    }
}

/// Go's `SyncStats` JSON for `r` (zero values omitted).
fn go_stats(r: &Records) -> String {
    let users = r.resources.len() - r.entitlements.len();
    serde_json::json!({
        "resource_types": r.types.len(),
        "resources": r.resources.len(),
        "entitlements": r.entitlements.len(),
        "grants": r.grants.len(),
        "resources_by_resource_type": {"group": r.entitlements.len(), "iam_user": users},
        "grants_by_resource_type": {"group": r.grants.len()},
    })
    .to_string()
}

/// Writes a c1z in `layout` holding `syncs` to `path`.
pub fn write(layout: &Layout, syncs: &[Sync], path: &Path) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    {
        let conn = Connection::open(&db).unwrap();
        conn.execute_batch("PRAGMA journal_mode=WAL;").unwrap();
        conn.execute_batch(BASE_V0_2).unwrap();
        for (_, sql) in &STEPS[..layout.steps] {
            conn.execute_batch(sql).unwrap();
        }
        for s in syncs {
            insert_sync(&conn, layout, s);
        }
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .unwrap();
    }
    let raw = std::fs::read(&db).unwrap();
    assert_eq!(
        &raw[18..20],
        &[2, 2],
        "WAL-mode header, as Go writers leave it"
    );
    let mut f = std::fs::File::create(path).unwrap();
    f.write_all(b"C1ZF\0").unwrap();
    let mut enc = zstd::stream::write::Encoder::new(f, 3).unwrap();
    enc.include_checksum(true).unwrap();
    enc.include_contentsize(false).unwrap();
    enc.write_all(&raw).unwrap();
    enc.finish().unwrap();
}

fn insert_sync(conn: &Connection, layout: &Layout, s: &Sync) {
    let r = records(s.scale);
    let at = s.started;
    let mut cols = vec!["sync_id", "started_at", "ended_at", "sync_token"];
    let mut vals: Vec<rusqlite::types::Value> = vec![
        s.id.to_string().into(),
        s.started.to_string().into(),
        s.ended.map(str::to_string).into(),
        "{}".to_string().into(),
    ];
    if layout.typed() {
        cols.extend(["sync_type", "parent_sync_id"]);
        vals.extend([s.sync_type.to_string().into(), s.parent.to_string().into()]);
    }
    if layout.has_backfilled() {
        cols.push("grants_backfilled");
        vals.push(1i64.into());
    }
    if layout.has_stats() {
        cols.push("stats");
        vals.push(match s.stats {
            None => rusqlite::types::Value::Null,
            Some("counts") => go_stats(&r).into(),
            Some(text) => text.to_string().into(),
        });
    }
    let marks: Vec<String> = (1..=cols.len()).map(|i| format!("?{i}")).collect();
    conn.execute(
        &format!(
            "insert into v1_sync_runs ({}) values ({})",
            cols.join(", "),
            marks.join(", ")
        ),
        rusqlite::params_from_iter(vals),
    )
    .unwrap();

    for t in &r.types {
        conn.execute(
            "insert into v1_resource_types (external_id, data, sync_id, discovered_at) values (?1, ?2, ?3, ?4)",
            params![t.id, t.encode_to_vec(), s.id, at],
        )
        .unwrap();
    }
    for x in &r.resources {
        let id = x.id.clone().unwrap();
        let parent = x.parent_resource_id.clone();
        conn.execute(
            "insert into v1_resources (resource_type_id, external_id, parent_resource_type_id, parent_resource_id, data, sync_id, discovered_at) values (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                id.resource_type,
                format!("{}:{}", id.resource_type, id.resource),
                parent.as_ref().map(|p| p.resource_type.clone()),
                parent.as_ref().map(|p| p.resource.clone()),
                x.encode_to_vec(),
                s.id,
                at
            ],
        )
        .unwrap();
    }
    for e in &r.entitlements {
        let id = e.resource.as_ref().unwrap().id.clone().unwrap();
        conn.execute(
            "insert into v1_entitlements (resource_type_id, resource_id, external_id, data, sync_id, discovered_at) values (?1, ?2, ?3, ?4, ?5, ?6)",
            params![id.resource_type, id.resource, e.id, e.encode_to_vec(), s.id, at],
        )
        .unwrap();
    }
    for (k, g) in r.grants.iter().enumerate() {
        let ent = g.entitlement.clone().unwrap();
        let rid = ent.resource.unwrap().id.unwrap();
        let pid = g.principal.clone().unwrap().id.unwrap();
        let base = params![
            rid.resource_type,
            rid.resource,
            ent.id,
            pid.resource_type,
            pid.resource,
            g.id,
            s.id,
            at
        ];
        if layout.has_expansion() {
            // Written as v0.7.22+ writes: GrantExpandable in `expansion`, not in `data`; the
            // first membership grant carries the SDK's transient empty marker.
            let (stored, expansion) = orgsync::store::c1z::split_expansion(g);
            let expansion = if k == 0 { Some(vec![]) } else { expansion };
            let needs = i64::from(expansion.as_ref().is_some_and(|e| !e.is_empty()));
            conn.execute(
                "insert into v1_grants (resource_type_id, resource_id, entitlement_id, principal_resource_type_id, principal_resource_id, external_id, sync_id, discovered_at, data, expansion, needs_expansion) values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                rusqlite::params_from_iter(base.iter().copied().chain(params![stored.encode_to_vec(), expansion, needs].iter().copied())),
            )
            .unwrap();
        } else {
            conn.execute(
                "insert into v1_grants (resource_type_id, resource_id, entitlement_id, principal_resource_type_id, principal_resource_id, external_id, sync_id, discovered_at, data) values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                rusqlite::params_from_iter(base.iter().copied().chain(params![g.encode_to_vec()].iter().copied())),
            )
            .unwrap();
        }
    }
}
