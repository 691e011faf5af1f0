//! The grants of one sync as the edges of a path search, read lazily from the c1z's SQLite
//! tables through their indexes and memoized: what an entitlement's holders are, what a
//! principal holds, and which grants expand from an entitlement (GrantExpandable). Only the
//! rows a search touches are read, and of each row only the columns plus a skim of the blob
//! (annotations and sources, not the embedded entitlement).
//!
//! Edges are the sync's **direct** grants. A derived grant (one carrying `GrantImmutable`, or
//! whose `sources` are non-empty without its own entitlement as a key, as grant expansion
//! writes them) is a consequence of other edges and is skipped, so expanded and unexpanded
//! files give the same answers. GrantExpandable comes from the `expansion` column, or from the
//! grant's annotations in files without that column.
//!
//! Two kinds of edge are implied rather than stored:
//! - **account-root trust** (only with `assume_account_principals`): a grant of
//!   `role:R:assignment` to `account_iam:X` is read as a grant to every IAM user and role of
//!   account X in the sync (a role also passing it on to whoever can assume that role, as a
//!   role-trust grant does);
//! - **permission-set policy**: a policy granted to `permission_set:P` that the binding
//!   `permission_set_assignment:P-X` does not hold itself (the permission set's inline policy)
//!   is read as held by the binding, for the holders of its `assigned` entitlement.
//!
//! Not here: the search itself (`search`), the admin rule (`admin`).

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use prost::Message;
use rusqlite::{Connection, OptionalExtension, params};

use crate::model::{any, pb, types as rt};

use super::AccessError;
use super::account::arn_account;

/// An interned entitlement id.
pub(crate) type Ent = u32;
/// An interned principal (resource type, resource id).
pub(crate) type Prin = u32;
/// An index into [`Graph::edges`].
pub(crate) type EdgeIx = u32;

/// Why an edge exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// A direct grant of the sync.
    Grant,
    /// A grant to `account_iam:X` read as a grant to an IAM principal of X.
    AccountRoot,
    /// A permission set's policy read as held by one of its bindings.
    PermissionSetPolicy,
}

/// One edge: `holder` holds `ent`; with `from` non-empty, whoever holds one of `from` holds
/// `ent` too (GrantExpandable).
#[derive(Debug, Clone)]
pub(crate) struct Edge {
    /// The grant id.
    pub id: String,
    pub ent: Ent,
    /// The resource the entitlement is on (the grant row's `resource_type_id`, `resource_id`).
    pub ent_type: String,
    pub ent_resource: String,
    /// Who holds `ent` through this edge (an implied edge's holder differs from the grant's
    /// principal).
    pub holder: Prin,
    /// The grant's principal.
    pub granted_to: Prin,
    pub from: Vec<Ent>,
    pub shallow: bool,
    /// Principal resource types the expansion carries (empty: all).
    pub filter: Vec<String>,
    pub origin: Origin,
}

impl Edge {
    /// A trust hop: the entitlement is a role's `assignment`.
    pub fn is_hop(&self) -> bool {
        self.ent_type == rt::ROLE
    }
}

/// The grant blob's top-level annotations and sources; everything else is skipped unparsed.
#[derive(Clone, PartialEq, prost::Message)]
struct GrantHead {
    #[prost(message, repeated, tag = "4")]
    annotations: Vec<prost_types::Any>,
    #[prost(message, optional, tag = "5")]
    sources: Option<pb::GrantSources>,
}

impl GrantHead {
    fn is_derived(&self, entitlement_id: &str) -> bool {
        self.annotations.iter().any(any::is::<pb::GrantImmutable>)
            || self
                .sources
                .as_ref()
                .is_some_and(|s| !s.sources.is_empty() && !s.sources.contains_key(entitlement_id))
    }
}

/// A grant blob cut down to what the search reads: its `GrantImmutable` and
/// `GrantExpandable` annotations and its sources (still a valid `Grant` message).
pub(crate) fn trimmed_grant(data: &[u8]) -> Result<Vec<u8>, prost::DecodeError> {
    let mut head = GrantHead::decode(data)?;
    head.annotations
        .retain(|a| any::is::<pb::GrantImmutable>(a) || any::is::<pb::GrantExpandable>(a));
    Ok(head.encode_to_vec())
}

/// A resource blob cut down to its id, display name and, for policies, the
/// `policy_document` of its profile (still a valid `Resource` message).
pub(crate) fn trimmed_resource(data: &[u8], policy: bool) -> Result<Vec<u8>, prost::DecodeError> {
    if !policy {
        let r = ResourceCore::decode(data)?;
        return Ok(ResourceCore { profile: None, ..r }.encode_to_vec());
    }
    let mut r = ResourceCore::decode(data)?;
    if let Some(p) = r.profile.as_mut() {
        p.fields.retain(|k, _| k == "policy_document");
    }
    Ok(r.encode_to_vec())
}

/// Whether a stored grant (its `data` blob) was derived by grant expansion: it carries
/// `GrantImmutable`, or its `sources` are non-empty without its own entitlement as a key
/// (grant-expansion.md R15/R16). Reads only the grant's annotations and sources.
pub fn is_derived_grant(data: &[u8], entitlement_id: &str) -> Result<bool, prost::DecodeError> {
    Ok(GrantHead::decode(data)?.is_derived(entitlement_id))
}

/// A resource blob's display name; everything else is skipped unparsed.
#[derive(Clone, PartialEq, prost::Message)]
struct ResourceName {
    #[prost(string, tag = "3")]
    display_name: String,
}

/// A resource blob's id, display name and profile; everything else is skipped unparsed.
#[derive(Clone, PartialEq, prost::Message)]
struct ResourceCore {
    #[prost(message, optional, tag = "1")]
    id: Option<pb::ResourceId>,
    #[prost(string, tag = "3")]
    display_name: String,
    #[prost(message, optional, tag = "9")]
    profile: Option<prost_types::Struct>,
}

#[derive(Default)]
struct Interner<K: std::hash::Hash + Eq + Clone> {
    keys: Vec<K>,
    index: HashMap<K, u32>,
}

impl<K: std::hash::Hash + Eq + Clone> Interner<K> {
    fn get(&mut self, k: K) -> u32 {
        if let Some(i) = self.index.get(&k) {
            return *i;
        }
        let i = self.keys.len() as u32;
        self.keys.push(k.clone());
        self.index.insert(k, i);
        i
    }
}

/// The sync's grant graph, filled on demand.
pub(crate) struct Graph<'c> {
    conn: &'c Connection,
    sync_id: String,
    expansion_col: &'static str,
    assume_account_principals: bool,
    ents: Interner<String>,
    prins: Interner<(String, String)>,
    pub edges: Vec<Edge>,
    /// Grant row id → its edge; None for a derived grant.
    rows: HashMap<i64, Option<EdgeIx>>,
    /// (the grant's edge, the implied holder) → the implied edge.
    implied: HashMap<(EdgeIx, Prin), EdgeIx>,
    real_by_ent: HashMap<Ent, Rc<[EdgeIx]>>,
    real_by_holder: HashMap<Prin, Rc<[EdgeIx]>>,
    by_ent: HashMap<Ent, Rc<[EdgeIx]>>,
    by_holder: HashMap<Prin, Rc<[EdgeIx]>>,
    ent_rows: HashMap<Ent, Option<Prin>>,
    account_principals: HashMap<String, Rc<[Prin]>>,
    /// Top-level IAM users and roles (the caller's own account's), read once.
    top_level: Option<Vec<(String, String)>>,
    bindings: HashMap<String, Rc<[Prin]>>,
    names: HashMap<Prin, Option<String>>,
}

const GRANT_COLUMNS: &str = "id, external_id, entitlement_id, resource_type_id, resource_id, principal_resource_type_id, principal_resource_id";

impl<'c> Graph<'c> {
    pub fn new(
        conn: &'c Connection,
        sync_id: &str,
        assume_account_principals: bool,
    ) -> Result<Self, AccessError> {
        // Files written before the SDK moved GrantExpandable out of the blob have no
        // `expansion` column (grant-expansion.md R2).
        let has_expansion: bool = conn
            .query_row(
                "select count(*) from pragma_table_info('v1_grants') where name = 'expansion'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n > 0)?;
        Ok(Graph {
            conn,
            sync_id: sync_id.to_string(),
            expansion_col: if has_expansion { "expansion" } else { "NULL" },
            assume_account_principals,
            ents: Interner::default(),
            prins: Interner::default(),
            edges: vec![],
            rows: HashMap::new(),
            implied: HashMap::new(),
            real_by_ent: HashMap::new(),
            real_by_holder: HashMap::new(),
            by_ent: HashMap::new(),
            by_holder: HashMap::new(),
            ent_rows: HashMap::new(),
            account_principals: HashMap::new(),
            top_level: None,
            bindings: HashMap::new(),
            names: HashMap::new(),
        })
    }

    pub fn conn(&self) -> &'c Connection {
        self.conn
    }

    pub fn sync_id(&self) -> &str {
        &self.sync_id
    }

    pub fn ent(&mut self, id: &str) -> Ent {
        self.ents.get(id.to_string())
    }

    pub fn ent_id(&self, e: Ent) -> &str {
        &self.ents.keys[e as usize]
    }

    pub fn prin(&mut self, resource_type: &str, id: &str) -> Prin {
        self.prins.get((resource_type.to_string(), id.to_string()))
    }

    pub fn prin_key(&self, p: Prin) -> (&str, &str) {
        let (t, i) = &self.prins.keys[p as usize];
        (t, i)
    }

    pub fn prin_text(&self, p: Prin) -> String {
        let (t, i) = self.prin_key(p);
        format!("{t}:{i}")
    }

    pub fn edge(&self, e: EdgeIx) -> &Edge {
        &self.edges[e as usize]
    }

    /// Whether edge `e` gives an entitlement of principal `p`'s own resource.
    pub fn is_own(&self, p: Prin, e: EdgeIx) -> bool {
        let edge = &self.edges[e as usize];
        let (t, i) = self.prin_key(p);
        edge.ent_type == t && edge.ent_resource == i
    }

    /// The entitlement's resource when the sync has a row for it (None: no row, so it expands
    /// nowhere and nothing expands into it, as grant expansion's R4/R6).
    pub fn ent_row(&mut self, e: Ent) -> Result<Option<Prin>, AccessError> {
        if let Some(r) = self.ent_rows.get(&e) {
            return Ok(*r);
        }
        let row: Option<(String, String)> = self
            .conn
            .prepare_cached(
                "select resource_type_id, resource_id from v1_entitlements where external_id = ?1 and sync_id = ?2",
            )?
            .query_row(params![self.ents.keys[e as usize], self.sync_id], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let p = row.map(|(t, i)| self.prin(&t, &i));
        self.ent_rows.insert(e, p);
        Ok(p)
    }

    /// The display name of a principal's resource row, if it has one.
    pub fn name(&mut self, p: Prin) -> Result<Option<String>, AccessError> {
        if let Some(n) = self.names.get(&p) {
            return Ok(n.clone());
        }
        let key = self.prin_text(p);
        let blob: Option<Vec<u8>> = self
            .conn
            .prepare_cached(
                "select data from v1_resources where external_id = ?1 and sync_id = ?2",
            )?
            .query_row(params![key, self.sync_id], |r| r.get(0))
            .optional()?;
        let name = match blob {
            Some(b) => Some(ResourceName::decode(b.as_slice())?.display_name),
            None => None,
        };
        self.names.insert(p, name.clone());
        Ok(name)
    }

    fn load(
        &mut self,
        sql: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<EdgeIx>, AccessError> {
        let conn = self.conn;
        let mut stmt = conn.prepare_cached(sql)?;
        let mut rows = stmt.query(args)?;
        let mut out = vec![];
        while let Some(row) = rows.next()? {
            let rowid: i64 = row.get(0)?;
            if let Some(known) = self.rows.get(&rowid) {
                out.extend(*known);
                continue;
            }
            let ent_id: String = row.get(2)?;
            let head =
                GrantHead::decode(row.get_ref(8)?.as_blob().map_err(rusqlite::Error::from)?)?;
            if head.is_derived(&ent_id) {
                self.rows.insert(rowid, None);
                continue;
            }
            let ge = match row
                .get_ref(7)?
                .as_blob_or_null()
                .map_err(rusqlite::Error::from)?
            {
                Some(bytes) => Some(pb::GrantExpandable::decode(bytes)?),
                None => any::find::<pb::GrantExpandable>(&head.annotations),
            };
            let ptype: String = row.get(5)?;
            let pid: String = row.get(6)?;
            let holder = self.prin(&ptype, &pid);
            let ent = self.ent(&ent_id);
            let (from, shallow, filter) = match ge {
                Some(ge) => (
                    ge.entitlement_ids
                        .iter()
                        .map(|s| s.trim())
                        .filter(|s| !s.is_empty())
                        .map(|s| self.ents.get(s.to_string()))
                        .collect(),
                    ge.shallow,
                    ge.resource_type_ids,
                ),
                None => (vec![], false, vec![]),
            };
            let ix = self.edges.len() as EdgeIx;
            self.edges.push(Edge {
                id: row.get(1)?,
                ent,
                ent_type: row.get(3)?,
                ent_resource: row.get(4)?,
                holder,
                granted_to: holder,
                from,
                shallow,
                filter,
                origin: Origin::Grant,
            });
            self.rows.insert(rowid, Some(ix));
            out.push(ix);
        }
        Ok(out)
    }

    fn real_of_ent(&mut self, e: Ent) -> Result<Rc<[EdgeIx]>, AccessError> {
        if let Some(v) = self.real_by_ent.get(&e) {
            return Ok(v.clone());
        }
        let sql = format!(
            "select {GRANT_COLUMNS}, {}, data from v1_grants where entitlement_id = ?1 and sync_id = ?2",
            self.expansion_col
        );
        let id = self.ents.keys[e as usize].clone();
        let sync = self.sync_id.clone();
        let v: Rc<[EdgeIx]> = self.load(&sql, &[&id, &sync])?.into();
        self.real_by_ent.insert(e, v.clone());
        Ok(v)
    }

    fn real_of_holder(&mut self, p: Prin) -> Result<Rc<[EdgeIx]>, AccessError> {
        if let Some(v) = self.real_by_holder.get(&p) {
            return Ok(v.clone());
        }
        let sql = format!(
            "select {GRANT_COLUMNS}, {}, data from v1_grants where principal_resource_type_id = ?1 and principal_resource_id = ?2 and sync_id = ?3",
            self.expansion_col
        );
        let (t, i) = self.prins.keys[p as usize].clone();
        let sync = self.sync_id.clone();
        let v: Rc<[EdgeIx]> = self.load(&sql, &[&t, &i, &sync])?.into();
        self.real_by_holder.insert(p, v.clone());
        Ok(v)
    }

    fn implied_edge(&mut self, base: EdgeIx, holder: Prin, origin: Origin) -> EdgeIx {
        let key = (base, holder);
        if let Some(ix) = self.implied.get(&key) {
            return *ix;
        }
        let (htype, hid) = self.prins.keys[holder as usize].clone();
        let from = match origin {
            Origin::AccountRoot if htype == rt::ROLE => {
                vec![self.ents.get(format!("{}:{hid}:assignment", rt::ROLE))]
            }
            Origin::PermissionSetPolicy => {
                vec![self.ents.get(format!("{htype}:{hid}:assigned"))]
            }
            _ => vec![],
        };
        let b = &self.edges[base as usize];
        let e = Edge {
            id: b.id.clone(),
            ent: b.ent,
            ent_type: b.ent_type.clone(),
            ent_resource: b.ent_resource.clone(),
            holder,
            granted_to: b.granted_to,
            from,
            shallow: false,
            filter: vec![],
            origin,
        };
        let ix = self.edges.len() as EdgeIx;
        self.edges.push(e);
        self.implied.insert(key, ix);
        ix
    }

    /// IAM users and roles of `account` in the sync, sorted: a member account's are children
    /// of its `account_iam` resource, the caller's own account's are top level (as baton-aws
    /// writes them); either way their ARN must name the account.
    pub fn account_principals(&mut self, account: &str) -> Result<Rc<[Prin]>, AccessError> {
        if let Some(v) = self.account_principals.get(account) {
            return Ok(v.clone());
        }
        let mut found: Vec<(String, String)> = {
            let mut stmt = self.conn.prepare_cached(
                "select resource_type_id, external_id from v1_resources
                 where parent_resource_type_id = 'account_iam' and parent_resource_id = ?2 and sync_id = ?1
                   and resource_type_id in ('iam_user', 'role')",
            )?;
            let rows = stmt.query_map(params![self.sync_id, account], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
            rows.collect::<Result<_, _>>()?
        };
        if self.top_level.is_none() {
            let mut stmt = self.conn.prepare_cached(
                "select resource_type_id, external_id from v1_resources
                 where parent_resource_type_id is null and sync_id = ?1
                   and resource_type_id in ('iam_user', 'role')",
            )?;
            let rows = stmt.query_map(params![self.sync_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
            self.top_level = Some(rows.collect::<Result<_, _>>()?);
        }
        found.extend(self.top_level.iter().flatten().cloned());
        found.sort();
        found.dedup();
        let mut out = vec![];
        for (t, key) in found {
            let id = key.strip_prefix(&format!("{t}:")).unwrap_or(&key);
            if arn_account(id) == Some(account) {
                out.push(self.prin(&t, id));
            }
        }
        let v: Rc<[Prin]> = out.into();
        self.account_principals
            .insert(account.to_string(), v.clone());
        Ok(v)
    }

    /// The `permission_set_assignment` bindings of permission set `ps` (by their `assigned`
    /// entitlements).
    fn bindings_of(&mut self, ps: &str) -> Result<Rc<[Prin]>, AccessError> {
        if let Some(v) = self.bindings.get(ps) {
            return Ok(v.clone());
        }
        let found: Vec<String> = {
            let mut stmt = self.conn.prepare_cached(
                "select distinct resource_id from v1_entitlements
                 where sync_id = ?1 and resource_type_id = 'permission_set_assignment'
                   and resource_id > ?2 and resource_id < ?3 order by resource_id",
            )?;
            let rows = stmt.query_map(
                params![self.sync_id, format!("{ps}-"), format!("{ps}.")],
                |r| r.get(0),
            )?;
            rows.collect::<Result<_, _>>()?
        };
        let out: Vec<Prin> = found
            .iter()
            .filter(|b| {
                b.strip_prefix(ps)
                    .and_then(|s| s.strip_prefix('-'))
                    .is_some_and(super::account::is_account_id)
            })
            .map(|b| self.prin(rt::PERMISSION_SET_ASSIGNMENT, b))
            .collect();
        let v: Rc<[Prin]> = out.into();
        self.bindings.insert(ps.to_string(), v.clone());
        Ok(v)
    }

    /// Every edge into `e`: its direct grants and the edges they imply.
    pub fn of_ent(&mut self, e: Ent) -> Result<Rc<[EdgeIx]>, AccessError> {
        if let Some(v) = self.by_ent.get(&e) {
            return Ok(v.clone());
        }
        let real = self.real_of_ent(e)?;
        let mut out: Vec<EdgeIx> = real.to_vec();
        for &g in real.iter() {
            let (gtype, gid) = self.prins.keys[self.edges[g as usize].granted_to as usize].clone();
            if gtype == rt::ACCOUNT_IAM
                && self.assume_account_principals
                && self.edges[g as usize].ent_type == rt::ROLE
            {
                let role = self.edges[g as usize].ent_resource.clone();
                for &u in self.account_principals(&gid)?.iter() {
                    if self.prin_key(u) != (rt::ROLE, role.as_str()) {
                        out.push(self.implied_edge(g, u, Origin::AccountRoot));
                    }
                }
            }
            if gtype == rt::PERMISSION_SET {
                for &b in self.bindings_of(&gid)?.iter() {
                    let held = self.real_of_holder(b)?;
                    if !held.iter().any(|&h| self.edges[h as usize].ent == e) {
                        out.push(self.implied_edge(g, b, Origin::PermissionSetPolicy));
                    }
                }
            }
        }
        let v: Rc<[EdgeIx]> = out.into();
        self.by_ent.insert(e, v.clone());
        Ok(v)
    }

    /// Every edge whose holder is `p`: its direct grants and the edges they imply.
    pub fn of_holder(&mut self, p: Prin) -> Result<Rc<[EdgeIx]>, AccessError> {
        if let Some(v) = self.by_holder.get(&p) {
            return Ok(v.clone());
        }
        let real = self.real_of_holder(p)?;
        let mut out: Vec<EdgeIx> = real.to_vec();
        let (ptype, pid) = self.prins.keys[p as usize].clone();
        if self.assume_account_principals
            && (ptype == rt::IAM_USER || ptype == rt::ROLE)
            && let Some(account) = arn_account(&pid)
        {
            let root = self.prin(rt::ACCOUNT_IAM, account);
            for &g in self.real_of_holder(root)?.iter() {
                let edge = &self.edges[g as usize];
                if edge.ent_type == rt::ROLE && !(ptype == rt::ROLE && edge.ent_resource == pid) {
                    out.push(self.implied_edge(g, p, Origin::AccountRoot));
                }
            }
        }
        if ptype == rt::PERMISSION_SET_ASSIGNMENT
            && let Some((ps, account)) = pid.rsplit_once('-')
            && super::account::is_account_id(account)
        {
            let held: HashSet<Ent> = real.iter().map(|&h| self.edges[h as usize].ent).collect();
            let set = self.prin(rt::PERMISSION_SET, ps);
            for &g in self.real_of_holder(set)?.iter() {
                if !held.contains(&self.edges[g as usize].ent) {
                    out.push(self.implied_edge(g, p, Origin::PermissionSetPolicy));
                }
            }
        }
        let v: Rc<[EdgeIx]> = out.into();
        self.by_holder.insert(p, v.clone());
        Ok(v)
    }

    /// The edges through which holders of `s` hold something else: edges held by `s`'s
    /// resource whose GrantExpandable lists `s`. None when `s` has no row (R4).
    pub fn expanding_from(&mut self, s: Ent) -> Result<Vec<EdgeIx>, AccessError> {
        let Some(owner) = self.ent_row(s)? else {
            return Ok(vec![]);
        };
        let held = self.of_holder(owner)?;
        Ok(held
            .iter()
            .copied()
            .filter(|&g| self.edges[g as usize].from.contains(&s))
            .collect())
    }

    /// Whether the sync has a resource row or a grant for principal `p`.
    pub fn principal_exists(&mut self, p: Prin) -> Result<bool, AccessError> {
        if self.name(p)?.is_some() {
            return Ok(true);
        }
        let (t, i) = self.prins.keys[p as usize].clone();
        let n: Option<i64> = self
            .conn
            .prepare_cached(
                "select 1 from v1_grants where principal_resource_type_id = ?1 and principal_resource_id = ?2 and sync_id = ?3 limit 1",
            )?
            .query_row(params![t, i, self.sync_id], |r| r.get(0))
            .optional()?;
        Ok(n.is_some())
    }
}
