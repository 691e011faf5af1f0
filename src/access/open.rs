//! Opening a c1z file for answers, optionally through a cache of prepared copies.
//!
//! A c1z is one zstd stream around a SQLite database; reading it means writing the whole
//! database out first (`store::c1z::C1zReader`), which for a million grants is gigabytes and
//! seconds, while an answer then touches a few thousand rows. Through the cache of prepared
//! copies (`store::c1z::cache`: where, keyed how, built atomically, evicted when) the database
//! is written out once, cut down to what answers read — the id columns, GrantExpandable, a
//! grant's `GrantImmutable` and sources, a resource's id, name and policy document — with the
//! indexes the search uses. Later questions about the same file open that copy read-only.
//!
//! Not here: the c1z reader itself (`store::c1z`), what is asked (`access`).

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use crate::model::types as rt;
use crate::store::StoreError;
use crate::store::c1z::C1zReader;
use crate::store::c1z::cache::{self, CachePolicy};

use super::AccessError;

/// An opened sync: the database and the sync the answers are about.
pub struct Opened {
    conn: Source,
    sync_id: String,
}

enum Source {
    Reader(Box<C1zReader>),
    Cached(Connection),
}

impl Opened {
    pub fn connection(&self) -> &Connection {
        match &self.conn {
            Source::Reader(r) => r.connection(),
            Source::Cached(c) => c,
        }
    }

    pub fn sync_id(&self) -> &str {
        &self.sync_id
    }
}

/// Opens the sync of `path` that `C1zReader` chooses; through the cache of prepared copies
/// `policy` (`store::c1z::cache`) unless it says to read cold.
pub fn open(path: &Path, policy: &CachePolicy) -> Result<Opened, AccessError> {
    let Some(copy) = cache::prepared(policy, "access", path, |out| build_copy(path, out))? else {
        let r = C1zReader::open(path)?;
        let sync_id = r.sync().sync_id.clone();
        return Ok(Opened {
            conn: Source::Reader(Box::new(r)),
            sync_id,
        });
    };
    let conn = Connection::open_with_flags(
        &copy.path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(StoreError::from)?;
    let sync_id: String = conn
        .query_row("select sync_id from orgsync_copy", [], |r| r.get(0))
        .map_err(StoreError::from)?;
    Ok(Opened {
        conn: Source::Cached(conn),
        sync_id,
    })
}

/// The tables of a prepared copy: the columns answers read, same names as in the c1z.
const COPY_DDL: &str = "
create table v1_resources (id integer primary key, resource_type_id text not null, external_id text not null,
    parent_resource_type_id text, parent_resource_id text, data blob not null, sync_id text not null);
create table v1_entitlements (id integer primary key, resource_type_id text not null, resource_id text not null,
    external_id text not null, sync_id text not null);
create table v1_grants (id integer primary key, resource_type_id text not null, resource_id text not null,
    entitlement_id text not null, principal_resource_type_id text not null, principal_resource_id text not null,
    external_id text not null, expansion blob, data blob not null, sync_id text not null);
create table orgsync_copy (sync_id text not null);
";

/// The indexes the search uses, built after the rows are in.
const COPY_INDEXES: &str = "
create unique index copy_resources_external on v1_resources (external_id, sync_id);
create index copy_resources_type on v1_resources (resource_type_id);
create index copy_resources_parent on v1_resources (parent_resource_type_id, parent_resource_id);
create unique index copy_entitlements_external on v1_entitlements (external_id, sync_id);
create index copy_entitlements_resource on v1_entitlements (resource_type_id, resource_id);
create index copy_grants_entitlement on v1_grants (entitlement_id, sync_id);
create index copy_grants_principal on v1_grants (principal_resource_type_id, principal_resource_id);
";

/// Fills `out` (a new empty file of the cache) with the prepared copy of the c1z at `src`: the
/// c1z reader opens it (decompressed, brought up to the current schema, its sync chosen as
/// every reader of orgsync chooses it), and the rows answers read are copied out.
fn build_copy(src: &Path, out: &Path) -> Result<(), StoreError> {
    let reader = C1zReader::open(src)?;
    prepare(&reader, out).map_err(|e| match e {
        AccessError::Store(e) => e,
        AccessError::Sqlite(e) => StoreError::Sqlite(e),
        AccessError::Decode(e) => StoreError::Decode(e),
        AccessError::Input(why) => StoreError::NotC1z {
            path: src.to_path_buf(),
            why,
        },
    })
}

/// Copies what answers read from the reader's database into a new database `out`.
fn prepare(reader: &C1zReader, out: &Path) -> Result<(), AccessError> {
    {
        let conn = Connection::open(out).map_err(StoreError::from)?;
        conn.execute_batch("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;")?;
        conn.execute_batch(COPY_DDL)?;
    }
    let conn = reader.connection();
    conn.execute("attach database ?1 as copy", [out.to_string_lossy()])?;
    // No rollback journal beside the copy in the cache directory: a failed build discards
    // the whole copy.
    conn.execute_batch("PRAGMA copy.journal_mode = OFF; PRAGMA copy.synchronous = OFF;")?;
    let copied = copy_rows(conn, &reader.sync().sync_id);
    let detached = conn.execute("detach database copy", []);
    copied?;
    detached?;
    Ok(())
}

fn copy_rows(conn: &Connection, sync_id: &str) -> Result<(), AccessError> {
    conn.execute_batch("begin")?;
    let copied = (|| -> Result<(), AccessError> {
        conn.execute(
            "insert into copy.orgsync_copy (sync_id) values (?1)",
            [sync_id],
        )?;
        conn.execute_batch(
            "insert into copy.v1_entitlements (id, resource_type_id, resource_id, external_id, sync_id)
               select id, resource_type_id, resource_id, external_id, sync_id from main.v1_entitlements;",
        )?;
        {
            let mut read = conn.prepare(
                "select id, resource_type_id, external_id, parent_resource_type_id, parent_resource_id, data, sync_id from main.v1_resources",
            )?;
            let mut write = conn.prepare(
                "insert into copy.v1_resources (id, resource_type_id, external_id, parent_resource_type_id, parent_resource_id, data, sync_id) values (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            let mut rows = read.query([])?;
            while let Some(r) = rows.next()? {
                let rtype: String = r.get(1)?;
                let policy = rtype == rt::IAM_POLICY || rtype == rt::INLINE_POLICY;
                let data = super::graph::trimmed_resource(
                    r.get_ref(5)?.as_blob().map_err(rusqlite::Error::from)?,
                    policy,
                )?;
                write.execute(rusqlite::params![
                    r.get::<_, i64>(0)?,
                    rtype,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    data,
                    r.get::<_, String>(6)?
                ])?;
            }
        }
        {
            let mut read = conn.prepare(
                "select id, resource_type_id, resource_id, entitlement_id, principal_resource_type_id, principal_resource_id, external_id, expansion, data, sync_id from main.v1_grants",
            )?;
            let mut write = conn.prepare(
                "insert into copy.v1_grants (id, resource_type_id, resource_id, entitlement_id, principal_resource_type_id, principal_resource_id, external_id, expansion, data, sync_id)
                 values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?;
            let mut rows = read.query([])?;
            while let Some(r) = rows.next()? {
                let data = super::graph::trimmed_grant(
                    r.get_ref(8)?.as_blob().map_err(rusqlite::Error::from)?,
                )?;
                write.execute(rusqlite::params![
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                    r.get::<_, Option<Vec<u8>>>(7)?,
                    data,
                    r.get::<_, String>(9)?
                ])?;
            }
        }
        for stmt in COPY_INDEXES
            .split(';')
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            conn.execute_batch(&stmt.replacen(" index ", " index copy.", 1))?;
        }
        Ok(())
    })();
    match copied {
        Ok(()) => conn.execute_batch("commit")?,
        Err(_) => {
            let _ = conn.execute_batch("rollback");
        }
    }
    copied
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Record;
    use crate::model::build::{resource, rid};
    use crate::store::c1z::C1zWriter;

    fn write(path: &Path, name: &str) {
        let mut w = C1zWriter::create(path).unwrap();
        w.write(&[Record::Resource(resource(
            rid(
                "iam_user",
                &format!("arn:aws:iam::111122223333:user/{name}"),
            ),
            name,
            None,
            vec![],
            None,
        ))])
        .unwrap();
        let stats = w.stats().unwrap();
        w.finish(&stats).unwrap();
    }

    fn copies(dir: &Path) -> usize {
        std::fs::read_dir(dir).unwrap().count()
    }

    #[test]
    fn a_cached_copy_is_reused_and_replaced_with_its_file() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = tmp.path().join("cache");
        let file = tmp.path().join("a.c1z");
        write(&file, "alice");
        let pol = CachePolicy {
            dir: Some(cache.clone()),
            max_bytes: 1 << 30,
            min_file_bytes: 0,
        };
        let a = open(&file, &pol).unwrap();
        let first = a.sync_id().to_string();
        assert_eq!(copies(&cache), 1);
        drop(a);
        // The same file: the same copy.
        let again = open(&file, &pol).unwrap();
        assert_eq!(again.sync_id(), first);
        assert_eq!(copies(&cache), 1);
        // A new sync at the same path is a new file: a new copy, never the stale one.
        std::thread::sleep(std::time::Duration::from_millis(20));
        write(&file, "bob");
        let b = open(&file, &pol).unwrap();
        assert_ne!(b.sync_id(), first);
        let n: i64 = b
            .connection()
            .query_row(
                "select count(*) from v1_resources where external_id like '%user/bob'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 1);
        assert_eq!(copies(&cache), 2);
        // Not a c1z: an error, and nothing left in the cache for it.
        let junk = tmp.path().join("junk.c1z");
        std::fs::write(&junk, "plain text").unwrap();
        assert!(matches!(
            open(&junk, &pol),
            Err(AccessError::Store(StoreError::NotC1z { .. }))
        ));
        assert_eq!(copies(&cache), 2);
    }
}
