//! The `sync_type` of a sync run (`v1_sync_runs.sync_type`, baton-sdk's `SyncType`): one
//! place that says which kind of sync a writer records, so every writer of partial syncs
//! (account-filtered syncs, `--shard` files, merges with missing shards) spells it the same.
//!
//! Not here: choosing the type (the commands), reading it back (`syncs`).

/// baton-sdk's sync types that orgsync writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncType {
    /// Every resource of the connector's scope.
    Full,
    /// Part of the scope only (baton-sdk's `partial`): a shard, a filtered sync, a merge with
    /// missing shards.
    Partial,
}

impl SyncType {
    /// The value stored in `v1_sync_runs.sync_type`.
    pub fn as_str(self) -> &'static str {
        match self {
            SyncType::Full => "full",
            SyncType::Partial => "partial",
        }
    }
}
