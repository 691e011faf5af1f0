//! AWS-like throttling for the fault proxy: a token bucket per (account, API family) that
//! answers with the family's real throttling error only when its bucket is empty, at AWS's
//! rates. Owns the rates (with their sources), the bucket arithmetic, the mapping of a request
//! to its bucket, and a pressure multiplier (×2: the buckets refill at half the rate and hold
//! half as much, so a client that paces itself to AWS's rate pushes twice what is allowed).
//! Not here: the wire format of the error (`proxy::fault_response`) and learning which
//! account a request acts on (the proxy does that from AssumeRole answers and `map_key`).
//!
//! | family | scope | rate /s | burst | documented? | source |
//! |---|---|---|---|---|---|
//! | `sts` | calling account | 600 | 600 | rate yes, burst chosen | IAM User Guide, "IAM and AWS STS quotas" (reference_iam-quotas.html): 600 requests/s per account per Region, shared by AssumeRole, GetCallerIdentity, GetSessionToken, …; an AssumeRole counts against the caller's account, not the role's |
//! | `iam` | account | 15 | 15 | no, chosen | AWS publishes no IAM request rate. AWS Security Blog, "How to monitor and query IAM resources at scale – Part 2" (2023): IAM and STS throttle with token buckets whose size and refill "depend on the API", several buckets may apply to one call; AWS Support (quoted in cloud-custodian#6351): "no documented API call limit for IAM". 15/s is orgsync's `--iam-rate-limit` default (DESIGN.md: ~15–20/s per account). GetAccountAuthorizationDetails and the credential-report calls draw from this bucket |
//! | `organizations` | organization | 4 | 4 | no, chosen | Organizations User Guide, "Quotas and service limits" (orgs_reference_limits.html) lists object limits only and says limits apply at the organization level; the request rate is undocumented (awsdocs/aws-organizations-docs#39). 4/s is orgsync's `--org-rate-limit` default |
//! | `identity-center` (`sso` + `identitystore`) | organization | 20 | 20 | rate yes, burst chosen | IAM Identity Center User Guide, "IAM Identity Center quotas" (singlesignon/latest/userguide/limits.html): the Identity Center APIs have a collective throttle of 20 TPS that cannot be raised. The page does not say whether identity-store calls share that bucket; one shared bucket is the stricter reading |
//!
//! API-shape facts the benchmark's floor uses (not rates): GetAccountAuthorizationDetails
//! returns at most 1,000 items per page (`MaxItems` 1–1000, IAM API Reference); IAM reuses a
//! credential report younger than 4 hours ("Getting credential reports", IAM User Guide), so a
//! warm run needs only GetCredentialReport; Organizations list calls return at most 20 items per
//! page; Identity Center list calls at most 100.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

/// A group of APIs that AWS throttles with one bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    Sts,
    Iam,
    Organizations,
    IdentityCenter,
}

impl Family {
    pub const ALL: [Family; 4] = [
        Family::Sts,
        Family::Iam,
        Family::Organizations,
        Family::IdentityCenter,
    ];

    /// The family of a request to `service` (the SigV4 credential-scope service name).
    pub fn of(service: &str) -> Option<Family> {
        match service {
            "sts" => Some(Family::Sts),
            "iam" => Some(Family::Iam),
            "organizations" => Some(Family::Organizations),
            "sso" | "identitystore" => Some(Family::IdentityCenter),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Family::Sts => "sts",
            Family::Iam => "iam",
            Family::Organizations => "organizations",
            Family::IdentityCenter => "identity-center",
        }
    }

    fn parse(s: &str) -> Option<Family> {
        Family::ALL.into_iter().find(|f| f.name() == s)
    }

    /// Whose bucket a request draws from.
    pub fn scope(self) -> Scope {
        match self {
            Family::Sts | Family::Iam => Scope::Account,
            Family::Organizations | Family::IdentityCenter => Scope::Organization,
        }
    }
}

/// Whose bucket a family's requests draw from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// One bucket per account whose credentials sign the request (for STS: the caller).
    Account,
    /// One bucket for the whole organization.
    Organization,
}

/// A family's bucket: refill `rate` tokens per second, hold at most `burst`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub rate: f64,
    pub burst: f64,
    /// True when AWS documents the rate; false when it is our choice.
    pub documented: bool,
}

/// The rates of every family and the pressure multiplier.
#[derive(Debug, Clone, PartialEq)]
pub struct AwsLimits {
    rates: BTreeMap<Family, Rate>,
    multiplier: f64,
}

impl AwsLimits {
    /// AWS's rates (see the table in the module documentation).
    pub fn aws() -> AwsLimits {
        let r = |rate: f64, documented: bool| Rate {
            rate,
            burst: rate,
            documented,
        };
        AwsLimits {
            rates: BTreeMap::from([
                (Family::Sts, r(600.0, true)),
                (Family::Iam, r(15.0, false)),
                (Family::Organizations, r(4.0, false)),
                (Family::IdentityCenter, r(20.0, true)),
            ]),
            multiplier: 1.0,
        }
    }

    /// Pushes `m` times the rate: every bucket refills at `rate / m` and holds `burst / m`
    /// (at least one token). `m` = 1 is AWS as documented.
    pub fn multiplier(mut self, m: f64) -> AwsLimits {
        assert!(m.is_finite() && m > 0.0, "multiplier must be positive");
        self.multiplier = m;
        self
    }

    pub fn pressure(&self) -> f64 {
        self.multiplier
    }

    /// Replaces one family's rate and burst (marked as chosen, not documented).
    pub fn with(mut self, family: Family, rate: f64, burst: f64) -> AwsLimits {
        assert!(rate > 0.0 && burst >= 1.0, "rate > 0 and burst >= 1");
        self.rates.insert(
            family,
            Rate {
                rate,
                burst,
                documented: false,
            },
        );
        self
    }

    /// Applies overrides written `family=rate[/burst],…` (e.g. `iam=20,organizations=2/4`;
    /// burst defaults to the rate).
    pub fn overridden(mut self, spec: &str) -> Result<AwsLimits, String> {
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (name, value) = item
                .split_once('=')
                .ok_or_else(|| format!("'{item}': expected family=rate[/burst]"))?;
            let family = Family::parse(name.trim()).ok_or_else(|| {
                format!("'{name}': not a family (sts, iam, organizations, identity-center)")
            })?;
            let (rate, burst) = match value.split_once('/') {
                Some((r, b)) => (r, Some(b)),
                None => (value, None),
            };
            let num = |s: &str| {
                s.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite() && *v > 0.0)
                    .ok_or_else(|| format!("'{item}': '{s}' is not a positive number"))
            };
            let rate = num(rate)?;
            let burst = burst.map(num).transpose()?.unwrap_or(rate).max(1.0);
            self = self.with(family, rate, burst);
        }
        Ok(self)
    }

    /// The rate as configured, before the multiplier.
    pub fn nominal(&self, family: Family) -> Rate {
        self.rates[&family]
    }

    /// The bucket's refill rate and capacity after the multiplier.
    pub fn effective(&self, family: Family) -> (f64, f64) {
        let r = self.rates[&family];
        (
            r.rate / self.multiplier,
            (r.burst / self.multiplier).max(1.0),
        )
    }

    /// One line per family: `iam 15/s burst 15 per account (chosen)`.
    pub fn describe(&self) -> Vec<String> {
        Family::ALL
            .iter()
            .map(|f| {
                let (rate, burst) = self.effective(*f);
                let r = self.rates[f];
                format!(
                    "{} {rate:.1}/s burst {burst:.0} per {} ({})",
                    f.name(),
                    match f.scope() {
                        Scope::Account => "account",
                        Scope::Organization => "organization",
                    },
                    if r.documented { "AWS's" } else { "chosen" }
                )
            })
            .collect()
    }
}

/// A token bucket: starts full, refills continuously at `rate` per second up to `capacity`.
/// A request that finds less than one token is refused and takes nothing.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    capacity: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub fn new(rate: f64, capacity: f64, now: Instant) -> TokenBucket {
        TokenBucket {
            rate,
            capacity,
            tokens: capacity,
            last: now,
        }
    }

    /// Takes a token at `now` if there is one.
    pub fn try_take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
        self.last = self.last.max(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Every bucket of a running proxy, created on first use.
#[derive(Debug)]
pub struct Buckets {
    limits: AwsLimits,
    buckets: HashMap<(Family, String), TokenBucket>,
    admitted: BTreeMap<Family, u64>,
    throttled: BTreeMap<Family, u64>,
}

impl Buckets {
    pub fn new(limits: AwsLimits) -> Buckets {
        Buckets {
            limits,
            buckets: HashMap::new(),
            admitted: BTreeMap::new(),
            throttled: BTreeMap::new(),
        }
    }

    pub fn limits(&self) -> &AwsLimits {
        &self.limits
    }

    /// Whether a request to `service` signed by credentials of `account` (None: a key the
    /// proxy cannot place) passes at `now`. Services outside the four families always pass.
    pub fn admit(&mut self, service: &str, account: Option<&str>, now: Instant) -> bool {
        let Some(family) = Family::of(service) else {
            return true;
        };
        let key = match family.scope() {
            Scope::Account => account.unwrap_or("(unknown account)").to_string(),
            Scope::Organization => String::new(),
        };
        let (rate, capacity) = self.limits.effective(family);
        let ok = self
            .buckets
            .entry((family, key))
            .or_insert_with(|| TokenBucket::new(rate, capacity, now))
            .try_take(now);
        *if ok {
            self.admitted.entry(family)
        } else {
            self.throttled.entry(family)
        }
        .or_default() += 1;
        ok
    }

    /// Requests refused, by family name.
    pub fn throttled(&self) -> BTreeMap<&'static str, u64> {
        self.throttled.iter().map(|(f, n)| (f.name(), *n)).collect()
    }

    /// Requests let through, by family name.
    pub fn admitted(&self) -> BTreeMap<&'static str, u64> {
        self.admitted.iter().map(|(f, n)| (f.name(), *n)).collect()
    }
}
