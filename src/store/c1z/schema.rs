//! The c1z v1 schema: the exact DDL baton-sdk v0.25.0 creates (c1z-v1.md §2.1), and what
//! older baton-sdk versions lacked (the columns added since v0.0.1, in the order baton-sdk's
//! migrations add them). Readers and the writer both apply it. Not here: running the
//! migration (`migrate`), reading rows (`reader`).

/// The exact DDL of baton-sdk v0.25.0 (c1z-v1.md §2.1), including the swapped index names on
/// `v1_resources`, which readers expect.
pub const DDL: &str = r#"
create table if not exists v1_resource_types (
    id integer primary key,
    external_id text not null,
    data blob not null,
    sync_id text not null,
    discovered_at datetime not null
);
create unique index if not exists idx_resource_types_external_sync_v1 on v1_resource_types (external_id, sync_id);
create table if not exists v1_resources (
    id integer primary key,
    resource_type_id text not null,
    external_id text not null,
    parent_resource_type_id text,
    parent_resource_id text,
    data blob not null,
    sync_id text not null,
    discovered_at datetime not null
);
create index if not exists idx_resources_resource_type_id_v1 on v1_resources (resource_type_id);
create index if not exists idx_resources_external_sync_v1 on v1_resources (parent_resource_type_id, parent_resource_id);
create unique index if not exists idx_resources_parent_resource_id_v1 on v1_resources (external_id, sync_id);
create table if not exists v1_entitlements (
    id integer primary key,
    resource_type_id text not null,
    resource_id text not null,
    external_id text not null,
    data blob not null,
    sync_id text not null,
    discovered_at datetime not null
);
create index if not exists idx_entitlements_resource_id_v1 on v1_entitlements (resource_type_id, resource_id);
create unique index if not exists idx_entitlements_external_sync_v1 on v1_entitlements (external_id, sync_id);
create table if not exists v1_sync_runs (
    id integer primary key,
    sync_id text not null,
    started_at datetime not null,
    ended_at datetime,
    sync_token text not null,
    sync_type text not null default 'full',
    parent_sync_id text not null default '',
    linked_sync_id text not null default '',
    supports_diff integer not null default 0,
    grants_backfilled integer not null default 0,
    stats text,
    ingest_invariant_generation text not null default '',
    ingest_invariant_coverage text not null default '',
    ingest_invariant_mode text not null default ''
);
create unique index if not exists idx_sync_runs_sync_id_v1 on v1_sync_runs (sync_id);
create table if not exists v1_grants (
    id integer primary key,
    resource_type_id text not null,
    resource_id text not null,
    entitlement_id text not null,
    principal_resource_type_id text not null,
    principal_resource_id text not null,
    external_id text not null,
    expansion blob,
    needs_expansion integer not null default 0,
    data blob not null,
    sync_id text not null,
    discovered_at datetime not null
);
create index if not exists idx_grants_resource_type_id_resource_id_v1 on v1_grants (resource_type_id, resource_id);
create index if not exists idx_grants_principal_id_v1 on v1_grants (principal_resource_type_id, principal_resource_id);
create index if not exists idx_grants_entitlement_id_principal_id_v1 on v1_grants (entitlement_id, principal_resource_type_id, principal_resource_id);
create unique index if not exists idx_grants_external_sync_v1 on v1_grants (external_id, sync_id);
create index if not exists idx_grants_entitlement_sync_grant_v1 on v1_grants (entitlement_id, sync_id, id);
create index if not exists idx_grants_sync_expansion_v1 on v1_grants (sync_id) where expansion is not null;
create index if not exists idx_grants_sync_needs_expansion_v1 on v1_grants (sync_id) where needs_expansion = 1;
create table if not exists v1_assets (
    id integer primary key,
    external_id text not null,
    content_type text not null,
    data blob not null,
    sync_id text not null,
    discovered_at datetime not null
);
create unique index if not exists idx_assets_external_sync_v1 on v1_assets (external_id, sync_id);
CREATE TABLE IF NOT EXISTS v1_connector_sessions (
    id integer primary key,
    sync_id text NOT NULL,
    key TEXT NOT NULL,
    value BLOB NOT NULL
);
create unique index if not exists idx_session_store_sync_key_v1 on v1_connector_sessions (sync_id, key);
"#;

/// The tables in the order baton-sdk's `InitTables` visits them (since v0.7.22, sync runs
/// before grants because the grants migration reads sync runs).
pub(crate) const TABLES: [&str; 7] = [
    "v1_resource_types",
    "v1_resources",
    "v1_entitlements",
    SYNC_RUNS,
    GRANTS,
    "v1_assets",
    "v1_connector_sessions",
];

const SYNC_RUNS: &str = "v1_sync_runs";
const GRANTS: &str = "v1_grants";

/// The columns each table has had since it first appeared (baton-sdk v0.0.1; sessions
/// v0.5.0). They have no default, so a table lacking one cannot be brought up to date: the
/// file is not a c1z.
pub(crate) const BASE_COLUMNS: [(&str, &[&str]); 7] = [
    (
        "v1_resource_types",
        &["id", "external_id", "data", "sync_id", "discovered_at"],
    ),
    (
        "v1_resources",
        &[
            "id",
            "resource_type_id",
            "external_id",
            "parent_resource_type_id",
            "parent_resource_id",
            "data",
            "sync_id",
            "discovered_at",
        ],
    ),
    (
        "v1_entitlements",
        &[
            "id",
            "resource_type_id",
            "resource_id",
            "external_id",
            "data",
            "sync_id",
            "discovered_at",
        ],
    ),
    (
        SYNC_RUNS,
        &["id", "sync_id", "started_at", "ended_at", "sync_token"],
    ),
    (
        GRANTS,
        &[
            "id",
            "resource_type_id",
            "resource_id",
            "entitlement_id",
            "principal_resource_type_id",
            "principal_resource_id",
            "external_id",
            "data",
            "sync_id",
            "discovered_at",
        ],
    ),
    (
        "v1_assets",
        &[
            "id",
            "external_id",
            "content_type",
            "data",
            "sync_id",
            "discovered_at",
        ],
    ),
    ("v1_connector_sessions", &["id", "sync_id", "key", "value"]),
];

/// A column baton-sdk added after v0.0.1, with the declaration its migration uses (so an old
/// file reads the same default the SDK gives it).
#[derive(Debug, Clone, Copy)]
pub(crate) struct AddedColumn {
    pub table: &'static str,
    pub column: &'static str,
    pub declaration: &'static str,
}

const fn added(
    table: &'static str,
    column: &'static str,
    declaration: &'static str,
) -> AddedColumn {
    AddedColumn {
        table,
        column,
        declaration,
    }
}

/// Every column added after v0.0.1, in the order baton-sdk's `Migrations()` add them
/// (sync runs, then grants); the comments name the first baton-sdk tag whose files have them.
pub(crate) const ADDED_COLUMNS: [AddedColumn; 11] = [
    // v0.3.0
    added(SYNC_RUNS, "sync_type", "text not null default 'full'"),
    added(SYNC_RUNS, "parent_sync_id", "text not null default ''"),
    // v0.7.0
    added(SYNC_RUNS, "linked_sync_id", "text not null default ''"),
    // v0.7.22
    added(SYNC_RUNS, "supports_diff", "integer not null default 0"),
    // v0.7.30
    added(SYNC_RUNS, "grants_backfilled", "integer not null default 0"),
    // v0.10.0
    added(SYNC_RUNS, "stats", "text"),
    // v0.20.3
    added(
        SYNC_RUNS,
        "ingest_invariant_generation",
        "text not null default ''",
    ),
    added(
        SYNC_RUNS,
        "ingest_invariant_coverage",
        "text not null default ''",
    ),
    added(
        SYNC_RUNS,
        "ingest_invariant_mode",
        "text not null default ''",
    ),
    // v0.7.22
    added(GRANTS, "expansion", "blob"),
    added(GRANTS, "needs_expansion", "integer not null default 0"),
];

/// The statements of [`DDL`], one by one.
fn statements() -> impl Iterator<Item = &'static str> {
    DDL.split(';').map(str::trim).filter(|s| !s.is_empty())
}

/// The `create table` statements of [`DDL`], in its order.
pub(crate) fn create_tables() -> impl Iterator<Item = &'static str> {
    statements().filter(|s| s.to_ascii_lowercase().starts_with("create table"))
}

/// The `create [unique] index` statements of [`DDL`], in its order. They name columns that
/// old files lack, so they run after the columns are added.
pub(crate) fn create_indexes() -> impl Iterator<Item = &'static str> {
    statements().filter(|s| {
        let s = s.to_ascii_lowercase();
        s.starts_with("create index") || s.starts_with("create unique index")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ddl_splits_into_the_seven_tables_and_sixteen_indexes() {
        let tables: Vec<&str> = create_tables()
            .map(|s| {
                s.split_whitespace()
                    .nth(5)
                    .expect("create table if not exists <name>")
            })
            .collect();
        let mut sorted = tables.clone();
        sorted.sort_unstable();
        let mut want = TABLES.to_vec();
        want.sort_unstable();
        assert_eq!(sorted, want);
        assert_eq!(create_indexes().count(), 16);
        assert_eq!(
            create_tables().count() + create_indexes().count(),
            statements().count(),
            "every DDL statement is a table or an index"
        );
    }

    #[test]
    fn every_added_column_is_in_the_current_ddl_and_no_base_column_is_added() {
        for c in ADDED_COLUMNS {
            let table = create_tables()
                .find(|s| s.contains(&format!(" {} (", c.table)))
                .expect("table in DDL");
            assert!(
                table.contains(&format!("{} {}", c.column, c.declaration)),
                "{}.{} is declared `{}` in DDL",
                c.table,
                c.column,
                c.declaration
            );
            let base = BASE_COLUMNS.iter().find(|(t, _)| *t == c.table).unwrap().1;
            assert!(!base.contains(&c.column));
        }
    }
}
