//! The IAM credential report: asking for it (an existing report under 4 hours old with one
//! `GetCredentialReport`, else `GenerateCredentialReport` and `GetCredentialReport` until it is
//! ready; which is asked first is guessed from the run's other accounts, [`ReportGuess`]),
//! parsing its CSV into rows per user, and matching a user's access keys to the report's two
//! key slots. One report replaces a `GetLoginProfile`, `ListMFADevices` and
//! `GetAccessKeyLastUsed` per user.
//!
//! Not here: what a read does without the report (`read`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_iam::types::ReportStateType;
use chrono::{DateTime, Utc};

use crate::aws::time::utc;
use crate::aws::{AwsError, ErrorClass, Scope};

use super::model::AccessKey;

/// One access-key slot of a credential-report row.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeySlot {
    pub active: bool,
    pub last_rotated: Option<DateTime<Utc>>,
    pub last_used: Option<DateTime<Utc>>,
    pub last_used_region: Option<String>,
    pub last_used_service: Option<String>,
}

impl KeySlot {
    /// Whether the slot holds a key at all.
    pub fn present(&self) -> bool {
        self.active || self.last_rotated.is_some()
    }
}

/// One user's row of the credential report.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReportRow {
    pub user: String,
    pub arn: String,
    /// `password_enabled`: the user has a login profile (console password).
    pub password_enabled: bool,
    /// `password_last_changed`, kept only when the password is enabled (AWS says `N/A`
    /// otherwise; an emulator may put the user's creation time there).
    pub password_last_changed: Option<DateTime<Utc>>,
    pub password_last_used: Option<DateTime<Utc>>,
    pub mfa_active: Option<bool>,
    pub keys: [KeySlot; 2],
}

/// Why a credential report could not be read.
#[derive(Debug, thiserror::Error)]
#[error("credential report: {0}")]
pub struct ReportError(String);

fn date(v: Option<&str>) -> Option<DateTime<Utc>> {
    let v = v?.trim();
    DateTime::parse_from_rfc3339(v)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

fn text(v: Option<&str>) -> Option<String> {
    let v = v?.trim();
    match v {
        "" | "N/A" | "n/a" | "no_information" | "not_supported" => None,
        _ => Some(v.to_string()),
    }
}

/// Parses the credential report CSV into rows keyed by user name (the root account row is
/// skipped).
pub fn parse_credential_report(csv_text: &str) -> Result<BTreeMap<String, ReportRow>, ReportError> {
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(csv_text.as_bytes());
    let headers = rdr
        .headers()
        .map_err(|e| ReportError(e.to_string()))?
        .clone();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let user_col = col("user").ok_or_else(|| ReportError("no 'user' column".into()))?;
    let get = |rec: &csv::StringRecord, name: &str| {
        col(name).and_then(|i| rec.get(i)).map(str::to_string)
    };
    let mut rows = BTreeMap::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| ReportError(e.to_string()))?;
        let user = rec.get(user_col).unwrap_or_default().to_string();
        if user.is_empty() || user == "<root_account>" {
            continue;
        }
        let slot = |n: u8| KeySlot {
            active: get(&rec, &format!("access_key_{n}_active")).as_deref() == Some("true"),
            last_rotated: date(get(&rec, &format!("access_key_{n}_last_rotated")).as_deref()),
            last_used: date(get(&rec, &format!("access_key_{n}_last_used_date")).as_deref()),
            last_used_region: text(
                get(&rec, &format!("access_key_{n}_last_used_region")).as_deref(),
            ),
            last_used_service: text(
                get(&rec, &format!("access_key_{n}_last_used_service")).as_deref(),
            ),
        };
        let password_enabled = get(&rec, "password_enabled").as_deref() == Some("true");
        let row = ReportRow {
            arn: get(&rec, "arn").unwrap_or_default(),
            password_enabled,
            password_last_changed: date(get(&rec, "password_last_changed").as_deref())
                .filter(|_| password_enabled),
            password_last_used: date(get(&rec, "password_last_used").as_deref()),
            mfa_active: match get(&rec, "mfa_active").as_deref() {
                Some("true") => Some(true),
                Some("false") => Some(false),
                _ => None,
            },
            keys: [slot(1), slot(2)],
            user: user.clone(),
        };
        rows.insert(user, row);
    }
    Ok(rows)
}

/// Fills the keys' last-used facts from the report's two key slots. A key matches a slot
/// created in the same second (±1 s) with the same active flag; when that leaves a tie (two
/// keys made in one second), keys and slots are paired in creation order. Returns the
/// indices of keys left unmatched (the caller then asks AWS per key).
pub fn match_report_slots(keys: &mut [AccessKey], row: &ReportRow) -> Vec<usize> {
    let near = |k: &AccessKey, s: &KeySlot| match (k.created, s.last_rotated) {
        (Some(c), Some(r)) => (r.timestamp() - c.timestamp()).abs() <= 1,
        _ => false,
    };
    let same_state =
        |k: &AccessKey, s: &KeySlot| s.active == k.status.eq_ignore_ascii_case("active");
    let mut slot_of: Vec<Option<usize>> = vec![None; keys.len()];
    let mut taken = [false; 2];
    // 1. Unique candidates by time and state.
    for (ki, k) in keys.iter().enumerate() {
        let cands: Vec<usize> = (0..2)
            .filter(|&si| near(k, &row.keys[si]) && same_state(k, &row.keys[si]))
            .collect();
        if let [si] = cands[..]
            && !taken[si]
        {
            let others_want_it = keys
                .iter()
                .enumerate()
                .any(|(kj, o)| kj != ki && near(o, &row.keys[si]) && same_state(o, &row.keys[si]));
            if !others_want_it {
                slot_of[ki] = Some(si);
                taken[si] = true;
            }
        }
    }
    // 2. Pair the rest in creation order when times agree.
    let mut rest: Vec<usize> = (0..keys.len()).filter(|&i| slot_of[i].is_none()).collect();
    rest.sort_by_key(|&i| keys[i].created);
    let free: Vec<usize> = (0..2)
        .filter(|&si| !taken[si] && row.keys[si].present())
        .collect();
    if rest.len() == free.len()
        && rest
            .iter()
            .zip(&free)
            .all(|(&ki, &si)| near(&keys[ki], &row.keys[si]))
    {
        for (&ki, &si) in rest.iter().zip(&free) {
            slot_of[ki] = Some(si);
        }
    }
    let mut unmatched = vec![];
    for (ki, slot) in slot_of.iter().enumerate() {
        match slot {
            Some(si) => {
                let s = &row.keys[*si];
                keys[ki].last_used = s.last_used;
                keys[ki].last_used_region = s.last_used_region.clone();
                keys[ki].last_used_service = s.last_used_service.clone();
            }
            None => unmatched.push(ki),
        }
    }
    unmatched
}

/// How old a credential report may be and still be used: IAM itself reuses a report younger
/// than 4 hours instead of generating a new one ("Getting credential reports", IAM User Guide).
pub const REPORT_MAX_AGE: Duration = Duration::from_secs(4 * 3600);

/// Waits between `GetCredentialReport` polls after `GenerateCredentialReport` started a
/// report: at once (moto, and AWS for a report that was already under way, answer at once),
/// then 250 ms doubling to at most 2 s. The old loop slept 250 ms before a second
/// `GenerateCredentialReport`, then up to 4 s.
const POLL_FIRST: Duration = Duration::from_millis(250);
const POLL_MAX: Duration = Duration::from_secs(2);

/// What the run has seen of credential reports so far, shared by its accounts: whether the
/// last account asked had one fresh enough to reuse. Reports are usually all fresh (a run
/// within 4 hours of the last one) or all missing (the first run, or one after a long pause),
/// so the answer in one account predicts the next: `GetCredentialReport` first when reports
/// are being found, `GenerateCredentialReport` first when they are not. Until the first
/// answer, one account asks (`GetCredentialReport`) and the others wait for it, which costs
/// them at most one round trip (their other reads are in flight meanwhile) and saves a
/// refused `GetCredentialReport` per account on a cold run.
#[derive(Debug, Default)]
pub struct ReportGuess {
    /// 0: nothing seen yet; 1: the last report found was fresh; 2: the last was missing or old.
    state: AtomicU8,
    /// Held by the account asking first while nothing has been seen.
    probe: tokio::sync::Mutex<()>,
}

const UNKNOWN: u8 = 0;
const FRESH: u8 = 1;
const MISSING: u8 = 2;

impl ReportGuess {
    fn saw(&self, fresh: bool) {
        self.state
            .store(if fresh { FRESH } else { MISSING }, Ordering::Relaxed);
    }
}

/// The answer to one `GetCredentialReport`.
enum Got {
    /// A report (its age not checked).
    Report {
        rows: BTreeMap<String, ReportRow>,
        generated: Option<DateTime<Utc>>,
    },
    /// Still being generated.
    InProgress,
    /// None to read: never generated, or expired.
    Missing,
}

/// The account's credential report: an existing one when it is under [`REPORT_MAX_AGE`] old
/// (one `GetCredentialReport`), otherwise a new one (`GenerateCredentialReport`, then
/// `GetCredentialReport` until it is ready, at most `timeout`). Which is asked first follows
/// `guess`.
pub(super) async fn credential_report(
    scope: &Scope,
    timeout: Duration,
    guess: &ReportGuess,
) -> Result<BTreeMap<String, ReportRow>, AwsError> {
    let start = Instant::now();
    let mut probing = None;
    if guess.state.load(Ordering::Relaxed) == UNKNOWN {
        let held = guess.probe.lock().await;
        if guess.state.load(Ordering::Relaxed) == UNKNOWN {
            probing = Some(held);
        }
    }
    if probing.is_some() || guess.state.load(Ordering::Relaxed) == FRESH {
        let got = get_report(scope).await;
        match got? {
            Got::Report { rows, generated } if is_fresh(generated, Utc::now()) => {
                guess.saw(true);
                return Ok(rows);
            }
            _ => guess.saw(false),
        }
    }
    drop(probing);
    generate_report(scope, timeout, start, guess).await
}

/// Whether a report generated at `generated` may still be used at `now`. A report without a
/// time is not; one from the future (clock skew) is.
fn is_fresh(generated: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    let Some(at) = generated else {
        return false;
    };
    match (now - at).to_std() {
        Ok(age) => age < REPORT_MAX_AGE,
        Err(_) => true,
    }
}

/// `GenerateCredentialReport`, then `GetCredentialReport` until a report is there (asking
/// for a new one again should it be missing after all). A report read after
/// `GenerateCredentialReport` is taken whatever its `GeneratedTime`: IAM just made or
/// confirmed it.
async fn generate_report(
    scope: &Scope,
    timeout: Duration,
    start: Instant,
    guess: &ReportGuess,
) -> Result<BTreeMap<String, ReportRow>, AwsError> {
    let iam = scope.iam();
    let lim = scope.iam_limiter();
    let mut generate = true;
    let mut delay = Duration::ZERO;
    loop {
        if generate {
            let generated = scope
                .call(lim, || iam.generate_credential_report().send())
                .await?;
            // COMPLETE at once: IAM had a recent report.
            guess.saw(generated.state() == Some(&ReportStateType::Complete));
        }
        match get_report(scope).await? {
            Got::Report { rows, .. } => return Ok(rows),
            Got::InProgress => generate = false,
            Got::Missing => generate = true,
        }
        if start.elapsed() + delay >= timeout {
            return Err(AwsError::local(
                "iam",
                "GetCredentialReport",
                ErrorClass::Timeout,
                format!("the credential report was not ready after {timeout:?}"),
            ));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).clamp(POLL_FIRST, POLL_MAX);
    }
}

/// One `GetCredentialReport`, parsed.
async fn get_report(scope: &Scope) -> Result<Got, AwsError> {
    let iam = scope.iam();
    match scope
        .call(scope.iam_limiter(), || iam.get_credential_report().send())
        .await
    {
        Ok(out) => {
            let text = out
                .content()
                .map(|b| String::from_utf8_lossy(b.as_ref()))
                .unwrap_or_default();
            let rows = parse_credential_report(&text).map_err(|e| {
                AwsError::local(
                    "iam",
                    "GetCredentialReport",
                    ErrorClass::Other,
                    e.to_string(),
                )
            })?;
            Ok(Got::Report {
                rows,
                generated: out.generated_time().and_then(utc),
            })
        }
        Err(e) => match e.code.as_deref() {
            Some("ReportInProgress") => Ok(Got::InProgress),
            Some("ReportNotPresent" | "ReportExpired") => Ok(Got::Missing),
            _ => Err(e),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated
<root_account>,arn:aws:iam::111122223333:root,2020-01-01T00:00:00+00:00,not_supported,2024-01-01T00:00:00+00:00,not_supported,not_supported,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A
alice,arn:aws:iam::111122223333:user/alice,2024-01-01T00:00:00+00:00,true,2024-03-01T10:00:00+00:00,2024-01-01T00:00:00+00:00,N/A,true,true,2024-01-02T00:00:00+00:00,2024-04-01T00:00:00+00:00,us-east-1,s3,false,2024-01-05T00:00:00+00:00,N/A,N/A,N/A,false,N/A,false,N/A
bob,arn:aws:iam::111122223333:user/bob,2024-01-01T00:00:00+00:00,false,N/A,N/A,N/A,false,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A
";

    #[test]
    fn parses_report_rows() {
        let rows = parse_credential_report(REPORT).unwrap();
        assert_eq!(rows.len(), 2);
        let a = &rows["alice"];
        assert_eq!(
            a.password_last_used.unwrap().to_rfc3339(),
            "2024-03-01T10:00:00+00:00"
        );
        assert_eq!(a.mfa_active, Some(true));
        assert!(a.password_enabled);
        assert_eq!(
            a.password_last_changed.unwrap().to_rfc3339(),
            "2024-01-01T00:00:00+00:00"
        );
        assert!(a.keys[0].present() && a.keys[0].active);
        assert_eq!(a.keys[0].last_used_service.as_deref(), Some("s3"));
        assert!(a.keys[1].present() && !a.keys[1].active);
        assert_eq!(a.keys[1].last_used, None);
        let b = &rows["bob"];
        assert_eq!(b.password_last_used, None);
        assert!(!b.password_enabled);
        assert_eq!(b.password_last_changed, None);
        assert!(!b.keys[0].present() && !b.keys[1].present());
        assert!(parse_credential_report("nope,x\n1,2\n").is_err());
        // Without a password, a date in password_last_changed (moto writes the user's
        // creation time there; AWS writes N/A) is not a password change.
        let moto = REPORT.replace(
            "bob,arn:aws:iam::111122223333:user/bob,2024-01-01T00:00:00+00:00,false,N/A,N/A",
            "bob,arn:aws:iam::111122223333:user/bob,2024-01-01T00:00:00+00:00,false,not_supported,2024-01-01T00:00:00+00:00",
        );
        assert_ne!(moto, REPORT);
        let rows = parse_credential_report(&moto).unwrap();
        assert_eq!(rows["bob"].password_last_changed, None);
        assert_eq!(rows["bob"].password_last_used, None);
    }

    fn key(id: &str, created: &str, status: &str) -> AccessKey {
        AccessKey {
            id: id.into(),
            created: date(Some(created)),
            status: status.into(),
            ..Default::default()
        }
    }

    #[test]
    fn matches_keys_to_slots_by_creation_time() {
        let rows = parse_credential_report(REPORT).unwrap();
        let mut keys = vec![
            key("AKIA2", "2024-01-05T00:00:00.5+00:00", "Inactive"),
            key("AKIA1", "2024-01-02T00:00:00+00:00", "Active"),
        ];
        assert!(match_report_slots(&mut keys, &rows["alice"]).is_empty());
        assert_eq!(keys[1].last_used_region.as_deref(), Some("us-east-1"));
        assert_eq!(keys[0].last_used, None);
        let mut other = vec![key("AKIA3", "2023-01-01T00:00:00+00:00", "Active")];
        assert_eq!(match_report_slots(&mut other, &rows["alice"]), vec![0]);
    }

    #[test]
    fn keys_made_in_the_same_second_are_told_apart() {
        let csv = REPORT.replace(
            "2024-01-05T00:00:00+00:00,N/A,N/A,N/A",
            "2024-01-02T00:00:00+00:00,N/A,N/A,N/A",
        );
        let rows = parse_credential_report(&csv).unwrap();
        // By active flag.
        let mut keys = vec![
            key("OLD", "2024-01-02T00:00:00.1+00:00", "Active"),
            key("NEW", "2024-01-02T00:00:00.2+00:00", "Inactive"),
        ];
        assert!(match_report_slots(&mut keys, &rows["alice"]).is_empty());
        assert!(keys[0].last_used.is_some() && keys[1].last_used.is_none());
        // Both inactive-vs-active ambiguous: creation order decides.
        let csv2 = csv.replace(
            ",false,2024-01-02T00:00:00+00:00,N/A",
            ",true,2024-01-02T00:00:00+00:00,N/A",
        );
        let rows2 = parse_credential_report(&csv2).unwrap();
        let mut keys = vec![
            key("SECOND", "2024-01-02T00:00:00.9+00:00", "Active"),
            key("FIRST", "2024-01-02T00:00:00.1+00:00", "Active"),
        ];
        assert!(match_report_slots(&mut keys, &rows2["alice"]).is_empty());
        assert!(keys[1].last_used.is_some(), "slot 1 = the older key");
        assert!(keys[0].last_used.is_none());
    }
}
