//! One shard of an organization sync (`--shard I/N`): which accounts it reads and which
//! organization-wide phases it runs.
//!
//! - **Accounts**: account `A` belongs to shard `fnv1a64(A) mod N`, where `fnv1a64` is the
//!   64-bit FNV-1a hash (offset basis `0xcbf29ce484222325`, prime `0x100000001b3`) of the
//!   account id's ASCII digits. The arithmetic is written out here (no `std::hash`, whose
//!   algorithms may change between Rust versions), so a shard keeps its accounts across
//!   orgsync builds and machines.
//! - **The organization tree** (Organizations listing: accounts, OUs, roots): each shard needs
//!   it to know its accounts. Either every shard lists it (independent shards, but N listings
//!   at once share one organization-wide Organizations limit, so each takes 1/N of
//!   `--org-rate-limit`, [`Shard::org_rate_share`], and lists N times as slowly), or it is
//!   listed once into a plan file (`orgsync plan`, `sync::plan_file`) that every shard reads
//!   (`--plan`). Every shard writes the same organization records; `orgsync merge` keeps one
//!   copy.
//! - **Identity Center and service control policies** are read by shard 0 only, never N times
//!   (Identity Center's limit is organization-wide). Shard 0 gives Identity Center every
//!   account of the organization (not only its own), so assignments of every account are read;
//!   the `account` resources embedded in those records carry a provisional sync status, which
//!   `orgsync merge` replaces with the owning shard's `account` record.
//!
//! Not here: planning (`plan`), running (`engine`), merging shard files (`merge`).

use std::fmt;
use std::str::FromStr;

use crate::arn::AccountId;
use crate::model::stats::AccountStatus;

use super::plan::Plan;

/// The 64-bit FNV-1a hash of `bytes`.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes
        .iter()
        .fold(OFFSET, |h, b| (h ^ u64::from(*b)).wrapping_mul(PRIME))
}

/// Shard `index` of `count` (`0 <= index < count`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Shard {
    index: u32,
    count: u32,
}

/// Why a `--shard` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    #[error("--shard '{0}' is not of the form I/N (e.g. 0/4)")]
    Form(String),
    #[error("--shard '{0}': N must be at least 1")]
    NoShards(String),
    #[error("--shard '{value}': the index must be below {count} (shards are numbered 0 to {})", count - 1)]
    IndexTooLarge { value: String, count: u32 },
}

impl Shard {
    /// Shard `index` of `count`.
    pub fn new(index: u32, count: u32) -> Result<Shard, ShardError> {
        let value = format!("{index}/{count}");
        if count == 0 {
            return Err(ShardError::NoShards(value));
        }
        if index >= count {
            return Err(ShardError::IndexTooLarge { value, count });
        }
        Ok(Shard { index, count })
    }

    pub fn index(&self) -> u32 {
        self.index
    }

    pub fn count(&self) -> u32 {
        self.count
    }

    /// The shard that reads `account` among `count` shards.
    pub fn of(account: &AccountId, count: u32) -> u32 {
        (fnv1a64(account.as_str().as_bytes()) % u64::from(count.max(1))) as u32
    }

    /// True if this shard reads `account`.
    pub fn owns(&self, account: &AccountId) -> bool {
        Shard::of(account, self.count) == self.index
    }

    /// This shard's part of the organization-wide Organizations rate `rps` (0 = unlimited).
    /// When every shard lists the organization (`planned` false), the N shards run at the
    /// same time, so each paces itself at `rps / N` to keep their sum within the
    /// organization's limit. With a plan file (`planned`), a shard makes one Organizations
    /// call (DescribeOrganization) and only shard 0 more (service control policies): shard 0
    /// takes the whole rate, the others `rps / N` for their one call.
    pub fn org_rate_share(&self, rps: f64, planned: bool) -> f64 {
        if rps <= 0.0 || (planned && self.runs_org_phases()) {
            rps
        } else {
            rps / f64::from(self.count)
        }
    }

    /// True if this shard runs the organization-wide phases (Identity Center, service
    /// control policies): shard 0.
    pub fn runs_org_phases(&self) -> bool {
        self.index == 0
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = ShardError;

    fn from_str(s: &str) -> Result<Shard, ShardError> {
        let form = || ShardError::Form(s.to_string());
        let (i, n) = s.trim().split_once('/').ok_or_else(form)?;
        let digits = |x: &str| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit());
        if !digits(i) || !digits(n) {
            return Err(form());
        }
        let index: u32 = i.parse().map_err(|_| form())?;
        let count: u32 = n.parse().map_err(|_| form())?;
        Shard::new(index, count).map_err(|e| match e {
            ShardError::NoShards(_) => ShardError::NoShards(s.to_string()),
            ShardError::IndexTooLarge { count, .. } => ShardError::IndexTooLarge {
                value: s.to_string(),
                count,
            },
            e => e,
        })
    }
}

/// The shard's identity in the c1z stats (`orgsync.shard`), read by `orgsync merge`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ShardStats {
    pub index: u32,
    pub count: u32,
    /// The organization's id (`o-…`).
    pub organization_id: String,
    /// Accounts of the organization the run planned (all shards), and those this shard read.
    pub organization_accounts: usize,
    pub shard_accounts: usize,
    /// True when account filters (`--accounts`, `--ous`, `--exclude-accounts`) narrowed the
    /// run: a merge of such shards is a partial sync.
    pub filtered: bool,
}

/// A shard needs an organization.
#[derive(Debug, thiserror::Error)]
#[error(
    "--shard {0}: the caller is not in an organization it can list, and only an organization's accounts can be sharded"
)]
pub struct NotAnOrganization(pub Shard);

/// Narrows `plan` to the shard's accounts. The accounts of other shards are carried for the
/// organization-wide phases when this shard runs them (shard 0), with a provisional status
/// (`Ok`, or `Skipped` for an account the plan skips): `orgsync merge` puts the owning shard's
/// record in their place.
pub(crate) fn apply(
    shard: Shard,
    plan: &mut Plan,
    filtered: bool,
) -> Result<ShardStats, NotAnOrganization> {
    let Some(org) = plan.org.as_ref() else {
        return Err(NotAnOrganization(shard));
    };
    let organization_id = org.org.as_ref().map(|o| o.id.clone()).unwrap_or_default();
    let organization_accounts = plan.accounts.len();
    let (mine, others): (Vec<_>, Vec<_>) = std::mem::take(&mut plan.accounts)
        .into_iter()
        .partition(|a| shard.owns(&a.info.account_id));
    if shard.runs_org_phases() {
        for a in &others {
            let status = match &a.skip {
                Some(reason) => AccountStatus::Skipped {
                    reason: reason.clone(),
                },
                None => AccountStatus::Ok,
            };
            if let Some(o) = &a.org_account {
                plan.carried
                    .other_shards
                    .insert(a.info.account_id.clone(), o.resource(&status));
                plan.carried
                    .planned
                    .insert(a.info.account_id.clone(), o.is_active());
            }
        }
    }
    plan.notes.push(format!(
        "shard {shard}: {} of the organization's {organization_accounts} accounts{}",
        mine.len(),
        if shard.runs_org_phases() {
            "; this shard reads Identity Center and service control policies"
        } else {
            "; Identity Center and service control policies are read by shard 0"
        }
    ));
    plan.accounts = mine;
    Ok(ShardStats {
        index: shard.index,
        count: shard.count,
        organization_id,
        organization_accounts,
        shard_accounts: plan.accounts.len(),
        filtered,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_matches_the_published_test_vectors() {
        // From the FNV reference test suite (Fowler/Noll/Vo).
        assert_eq!(fnv1a64(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a64(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x85944171f73967e8);
    }

    #[test]
    fn accounts_keep_their_shard() {
        // Fixed expectations: a change of the hash would move accounts between shards of
        // runs that are being merged or resumed.
        let a: AccountId = "111111111111".parse().unwrap();
        let b: AccountId = "123456789012".parse().unwrap();
        let (ha, hb) = (fnv1a64(b"111111111111"), fnv1a64(b"123456789012"));
        assert_eq!(Shard::of(&a, 4), (ha % 4) as u32);
        assert_eq!(Shard::of(&b, 7), (hb % 7) as u32);
        assert_eq!(Shard::of(&a, 1), 0);
        let s: Shard = format!("{}/4", Shard::of(&a, 4)).parse().unwrap();
        assert!(s.owns(&a));
    }

    #[test]
    fn every_account_is_in_exactly_one_shard_and_shards_are_balanced() {
        let n = 4;
        let shards: Vec<Shard> = (0..n).map(|i| Shard::new(i, n).unwrap()).collect();
        let mut sizes = [0usize; 4];
        for k in 0..2000u64 {
            let id: AccountId = format!("{:012}", 100_000_000_000 + k * 7919)
                .parse()
                .unwrap();
            let owners: Vec<&Shard> = shards.iter().filter(|s| s.owns(&id)).collect();
            assert_eq!(owners.len(), 1, "{id}");
            sizes[owners[0].index() as usize] += 1;
        }
        for s in sizes {
            assert!((400..=600).contains(&s), "{sizes:?}");
        }
    }

    #[test]
    fn shards_share_the_organizations_rate() {
        let s = Shard::new(1, 4).unwrap();
        assert_eq!(s.org_rate_share(4.0, false), 1.0);
        assert_eq!(s.org_rate_share(4.0, true), 1.0);
        assert_eq!(
            s.org_rate_share(0.0, false),
            0.0,
            "unlimited stays unlimited"
        );
        let zero = Shard::new(0, 4).unwrap();
        assert_eq!(zero.org_rate_share(4.0, false), 1.0);
        assert_eq!(
            zero.org_rate_share(4.0, true),
            4.0,
            "the only shard listing SCPs"
        );
    }

    #[test]
    fn parses_i_of_n_and_names_the_bad_value() {
        assert_eq!("0/4".parse::<Shard>().unwrap(), Shard::new(0, 4).unwrap());
        assert_eq!("3/4".parse::<Shard>().unwrap().to_string(), "3/4");
        for (bad, says) in [
            ("5/4", "'5/4': the index must be below 4"),
            ("4/4", "'4/4': the index must be below 4"),
            ("0/0", "'0/0': N must be at least 1"),
            ("a/b", "'a/b' is not of the form I/N"),
            ("1", "'1' is not of the form I/N"),
            ("-1/4", "'-1/4' is not of the form I/N"),
            ("1/4/2", "'1/4/2' is not of the form I/N"),
            ("99999999999/4", "'99999999999/4' is not of the form I/N"),
        ] {
            let e = bad.parse::<Shard>().unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
