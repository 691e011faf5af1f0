//! `orgsync access`: who can reach what, with the paths of grants, from a c1z file; printed as
//! a table, JSON or CSV. The answers come from `orgsync::access`; this file holds the flags, the
//! help text and the printing. Nothing is printed before the whole answer is computed, so a
//! failure prints one line on stderr and nothing on stdout.

use std::io::Write;
use std::path::PathBuf;

use clap::{ArgGroup, Args, ValueEnum};

use crate::cli::cache_args::CacheArgs;
use crate::cli::exit;
use crate::cli::table;
use orgsync::access::{self, AccessError, Answer, Options, Reach, Subject, Target};

/// `-o`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
}

const ACCESS_ABOUT: &str = "\
Who can reach what, and through which grants, from one sync of a c1z file (expanded by baton or not).

A path is a chain of grants: the first granted to the principal, each next one reached because
its grant extends to holders of the previous entitlement (group membership, a role trusting a
role, a permission set assigned to a group, a policy attached to a group, role or
permission-set assignment). Every step shows its grant id and why it gives access.

Reaching account X means: being an IAM user or role of X; or being able to assume a role of X
(named in its trust policy, or able to assume a role it trusts, and so on across accounts, at
most --max-hops role assumptions, cycles cut); or holding an Identity Center permission set on X
(directly or through a group). A role trusting an account root (account_iam:X) is shown as
\"any principal of account X allowed by its own policies to call sts:AssumeRole\" and leads no
further; --assume-account-principals takes every IAM user and role of X as able to.

--admin keeps only paths ending in full administrative power: the AWS-managed
AdministratorAccess policy, or a stored policy document (managed, inline, permission-set inline)
with an Allow statement whose Action includes \"*\" or \"*:*\" and whose Resource includes \"*\",
without a Condition. NotAction/NotResource statements never count. The account of such a path is
the account of whoever holds the policy. --admin alone lists every admin path of the file.

Not evaluated: conditions (in trust policies too), SCPs/RCPs, permission boundaries, session
policies, resource-based policies other than role trust, Deny statements, and whether a
principal's own policies allow sts:AssumeRole. Paths are what the grants allow, not a proof that
an API call succeeds. See docs/ACCESS.md.";

const ACCESS_EXAMPLES: &str = "\
Examples:
  # Everything an IAM user can reach, with the grants that give it
  orgsync access --principal 'iam_user:arn:aws:iam::111122223333:user/alice'

  # An Identity Center user by its ARN alone (the type is found when unambiguous)
  orgsync access --principal arn:aws:identitystore:us-east-1::d-9067a1b2c3/user/c7b8…

  # Who can get into account 444455556666, and how (role chains of at most 3 hops)
  orgsync access --account 444455556666 --max-hops 3

  # Who has full administrative power in that account
  orgsync access --account 444455556666 --admin -o csv > admins.csv

  # Every admin path in the file; who can assume one role; who holds one entitlement
  orgsync access --admin
  orgsync access --resource 'role:arn:aws:iam::444455556666:role/deploy' -o json
  orgsync access --entitlement 'group:arn:aws:iam::111122223333:group/admins:member'

Exit codes: 0 answered (also when nobody reaches the target), 1 the file could not be read
as expected, 2 bad input (unknown or malformed id, unreadable or non-c1z file).";

#[derive(Debug, Clone, Args)]
#[command(
    after_help = ACCESS_EXAMPLES,
    after_long_help = format!("{ACCESS_ABOUT}

{ACCESS_EXAMPLES}"),
    group(ArgGroup::new("subject").args(["principal", "account", "resource", "entitlement"])),
)]
pub struct AccessArgs {
    /// The c1z file to read.
    #[arg(long, short = 'f', env = "ORGSYNC_FILE", default_value = "sync.c1z")]
    pub file: PathBuf,

    /// Everything this principal reaches: `type:id` (iam_user, role, group, sso_user,
    /// sso_group, account_iam, …) or an id that names one principal.
    #[arg(long, short = 'p', env = "ORGSYNC_ACCESS_PRINCIPAL")]
    pub principal: Option<String>,

    /// Every principal reaching this account (12-digit id).
    #[arg(long, env = "ORGSYNC_ACCESS_ACCOUNT")]
    pub account: Option<String>,

    /// Every principal reaching an entitlement of this resource (`type:id`).
    #[arg(long, env = "ORGSYNC_ACCESS_RESOURCE")]
    pub resource: Option<String>,

    /// Every principal reaching this entitlement.
    #[arg(long, short = 'e', env = "ORGSYNC_ACCESS_ENTITLEMENT")]
    pub entitlement: Option<String>,

    /// Only paths ending in full administrative power (alone: every admin path).
    #[arg(long, env = "ORGSYNC_ACCESS_ADMIN")]
    pub admin: bool,

    /// At most this many role assumptions (trust hops) per path.
    #[arg(
        long,
        env = "ORGSYNC_ACCESS_MAX_HOPS",
        default_value_t = 5,
        value_name = "N"
    )]
    pub max_hops: u32,

    /// At most this many paths per row (the shortest); the row says how many exist.
    #[arg(long, env = "ORGSYNC_ACCESS_MAX_PATHS", default_value_t = 10, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_paths: u32,

    /// Take a role trusting an account root as assumable by every IAM user and role of that
    /// account (their own policies are not evaluated).
    #[arg(long, env = "ORGSYNC_ACCESS_ASSUME_ACCOUNT_PRINCIPALS")]
    pub assume_account_principals: bool,

    #[command(flatten)]
    pub cache: CacheArgs,

    /// Output format.
    #[arg(
        long,
        short = 'o',
        env = "ORGSYNC_OUTPUT",
        value_enum,
        default_value = "table"
    )]
    pub output: Format,
}

impl AccessArgs {
    fn subject(&self) -> Subject {
        if let Some(p) = &self.principal {
            Subject::Principal(p.clone())
        } else if let Some(a) = &self.account {
            Subject::Account(a.clone())
        } else if let Some(r) = &self.resource {
            Subject::Resource(r.clone())
        } else if let Some(e) = &self.entitlement {
            Subject::Entitlement(e.clone())
        } else {
            Subject::Everyone
        }
    }
}

fn fail(e: AccessError) -> anyhow::Error {
    if e.is_input() {
        exit::usage(e)
    } else {
        anyhow::Error::new(e)
    }
}

/// Runs `orgsync access`.
pub fn run(args: AccessArgs) -> anyhow::Result<u8> {
    let started = std::time::Instant::now();
    let opened = access::open::open(&args.file, &args.cache.policy()).map_err(exit::usage)?;
    let opened_at = started.elapsed();
    let opts = Options {
        admin: args.admin,
        max_hops: args.max_hops,
        max_paths: args.max_paths as usize,
        assume_account_principals: args.assume_account_principals,
    };
    let answer = access::answer(
        opened.connection(),
        opened.sync_id(),
        &args.subject(),
        &opts,
    )
    .map_err(fail)?;
    if !answer.complete {
        tracing::warn!(
            budget = access::STEP_BUDGET,
            "the path search stopped at its step budget: rows or paths may be missing (lower --max-hops)"
        );
    }
    let answered_at = started.elapsed();
    let text = match args.output {
        Format::Json => json(&args, &answer)?,
        Format::Csv => csv(&answer)?,
        Format::Table => table_text(&answer),
    };
    let rendered_at = started.elapsed();
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    tracing::debug!(
        open_ms = opened_at.as_millis() as u64,
        answer_ms = (answered_at - opened_at).as_millis() as u64,
        render_ms = (rendered_at - answered_at).as_millis() as u64,
        write_ms = (started.elapsed() - rendered_at).as_millis() as u64,
        rows = answer.results.len(),
        "access answered"
    );
    // A large answer is hundreds of thousands of small allocations; the process ends here,
    // so skip freeing them one by one.
    std::mem::forget(answer);
    std::mem::forget(text);
    Ok(exit::OK)
}

fn json(args: &AccessArgs, answer: &Answer) -> anyhow::Result<String> {
    let mut v = serde_json::to_value(answer)?;
    if let Some(o) = v.as_object_mut() {
        o.insert(
            "file".into(),
            serde_json::json!(args.file.display().to_string()),
        );
        o.insert(
            "not_evaluated".into(),
            serde_json::json!(access::NOT_EVALUATED),
        );
    }
    let mut s = serde_json::to_string_pretty(&v)?;
    s.push('\n');
    Ok(s)
}

fn target_text(r: &Reach) -> (String, String, String) {
    match &r.target {
        Target::Entitlement { id, name, .. } => (
            "entitlement".into(),
            id.clone(),
            name.clone().unwrap_or_default(),
        ),
        Target::AccountPrincipal => (
            "account_principal".into(),
            format!("account:{}", r.account.clone().unwrap_or_default()),
            "(IAM principal of the account)".into(),
        ),
    }
}

fn csv(answer: &Answer) -> anyhow::Result<String> {
    let mut w = csv::Writer::from_writer(vec![]);
    w.write_record([
        "principal_type",
        "principal_id",
        "principal_name",
        "target_kind",
        "target",
        "target_name",
        "account",
        "path",
        "hops",
        "steps",
        "grants",
        "paths_found",
    ])?;
    for r in &answer.results {
        let (kind, target, target_name) = target_text(r);
        for (i, p) in r.paths.iter().enumerate() {
            let steps: Vec<String> = p
                .steps
                .iter()
                .map(|s| format!("{} {}", s.kind.as_str(), s.entitlement))
                .collect();
            let grants: Vec<&str> = p.steps.iter().map(|s| s.grant.as_str()).collect();
            w.write_record([
                r.principal.resource_type.as_str(),
                r.principal.id.as_str(),
                r.principal.name.as_deref().unwrap_or_default(),
                kind.as_str(),
                target.as_str(),
                target_name.as_str(),
                r.account.as_deref().unwrap_or_default(),
                &(i + 1).to_string(),
                &p.hops.to_string(),
                &steps.join(" > "),
                &grants.join(" > "),
                &r.paths_found.to_string(),
            ])?;
        }
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}

fn table_text(answer: &Answer) -> String {
    let mut t = table(&[
        "PRINCIPAL",
        "NAME",
        "REACHES",
        "ACCOUNT",
        "HOPS",
        "PATH (why: entitlement [grant])",
    ]);
    let mut paths = 0usize;
    let mut principals = std::collections::BTreeSet::new();
    for r in &answer.results {
        principals.insert((&r.principal.resource_type, &r.principal.id));
        let (_, target, target_name) = target_text(r);
        let reaches = if target_name.is_empty() {
            target
        } else {
            format!("{target}\n({target_name})")
        };
        for p in &r.paths {
            paths += 1;
            let lines: Vec<String> = if p.steps.is_empty() {
                vec!["(none needed)".into()]
            } else {
                p.steps
                    .iter()
                    .map(|s| {
                        let mut line =
                            format!("{}: {} [{}]", s.kind.as_str(), s.entitlement, s.grant);
                        if let Some(n) = &s.note {
                            line.push_str(&format!("\n  ({n})"));
                        }
                        line
                    })
                    .collect()
            };
            t.add_row(vec![
                format!("{}:{}", r.principal.resource_type, r.principal.id),
                r.principal.name.clone().unwrap_or_default(),
                reaches.clone(),
                r.account.clone().unwrap_or_default(),
                p.hops.to_string(),
                lines.join("\n"),
            ]);
        }
        let more = r.paths_found.saturating_sub(r.paths.len() as u64);
        if more > 0 {
            t.add_row(vec![
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                format!("… {more} more path(s); raise --max-paths to see them"),
            ]);
        }
    }
    let mut s = if answer.results.is_empty() {
        "No access found.\n".to_string()
    } else {
        format!("{t}\n")
    };
    s.push_str(&format!(
        "\n{} row(s), {} principal(s), {} path(s) shown{}.\nNot evaluated: {}.\n",
        answer.results.len(),
        principals.len(),
        paths,
        if answer.complete {
            ""
        } else {
            " (INCOMPLETE: the search stopped at its step budget)"
        },
        access::NOT_EVALUATED
    ));
    s
}
