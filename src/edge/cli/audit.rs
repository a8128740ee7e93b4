//! `sesame audit verify|search|show`: the auditor's commands over the assertion log.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use clap::{Args, Subcommand};
use openssl::pkey::{PKey, Public};

use super::chains::{export_db, logs};
use super::common::{load_config, Failure, Output};
use crate::audit::files::log_files;
use crate::audit::guard::{missing, read_head};
use crate::audit::search::{search, Filter};
use crate::audit::verify::verify;
use crate::audit::{prune, Entry};
use crate::config::{AuditSink, Config};
use crate::core::text::hex;
use crate::core::text::saml_time;
use crate::edge::{clock, trust, wiring};

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the hash chain and checkpoint signatures; name the first broken record.
    Verify(VerifyArgs),
    /// Find decision records by user, instance, assertion ID, outcome or time.
    Search(SearchArgs),
    /// Verify a SAMLResponse's signature and find its audit record.
    Show(ShowArgs),
    /// Go on with a log whose files end before its head file says they did (records were
    /// removed and cannot be restored): the loss and your reason become the next record.
    AcceptLoss(AcceptLossArgs),
    /// Remove old files up to a checkpoint that ends a file: verifies the whole chain,
    /// records the prune in it, then deletes the files. `verify` accepts the shortened
    /// chain because of that record. Run it while no server writes the log.
    Prune(PruneArgs),
    /// Write the log as JSON-lines files, one chain per replica (`<replica>-<seq>.jsonl`),
    /// that `sesame audit verify FILES…` and the tools in docs/audit-format.md check
    /// offline. From PostgreSQL, every replica's chain; from files, the configured one.
    Export(ExportArgs),
    /// Match CloudTrail's AssumeRoleWithSAML sign-ins against the log: every minted
    /// assertion used or unused; alerts (exit 1) for a sign-in sesame never minted, with
    /// other tags, identity or duration, after NotOnOrAfter, or a reused assertion.
    /// docs/auditor-guide.md explains each alert.
    Reconcile(super::reconcile::ReconcileArgs),
    /// Write Session Manager session logs per tenant (a tag column, default APP_ID),
    /// following session ID -> RoleSessionName -> decision -> the tag set that covered
    /// the target; sessions that lead to no decision go to `unattributed/`.
    Route(super::route::RouteArgs),
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The directory to write into (created; existing files of the same name are replaced).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Only this replica's chain.
    #[arg(long)]
    pub replica: Option<String>,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// The seq of the last record to remove: a checkpoint that ends its file.
    #[arg(long, value_name = "SEQ")]
    pub through: u64,
}

#[derive(Debug, Args)]
pub struct AcceptLossArgs {
    /// Why the records cannot be restored (1-512 characters); kept in the record.
    #[arg(long)]
    pub reason: String,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Log files of one replica, in order. Default: every file of the configured replica.
    pub files: Vec<PathBuf>,
    /// Also trust this certificate (PEM) for checkpoints; repeatable.
    #[arg(long, value_name = "PEM")]
    pub cert: Vec<PathBuf>,
    /// Fail when records follow the last checkpoint (an unsealed tail).
    #[arg(long)]
    pub sealed: bool,
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    #[arg(long)]
    pub user: Option<String>,
    #[arg(long)]
    pub instance: Option<String>,
    #[arg(long)]
    pub assertion_id: Option<String>,
    /// A Session Manager session ID (`<RoleSessionName>-<hex>`, also the name of its
    /// CloudWatch log stream and S3 object): the decision that allowed it. Exact only
    /// with `aws.role_session_name = "per_decision"` (the default).
    #[arg(long, value_name = "ID")]
    pub session_id: Option<String>,
    /// Firecall (break-glass) grants opened and not yet reviewed (`sesame grants
    /// review ID`), instead of decisions; `--user` narrows them.
    #[arg(long)]
    pub review_pending: bool,
    /// minted, minted_some_closed, minted_all_closed, refused or failed.
    #[arg(long)]
    pub status: Option<String>,
    /// Records at or after this instant (RFC 3339).
    #[arg(long, value_name = "RFC3339")]
    pub since: Option<String>,
    /// Records before this instant (RFC 3339).
    #[arg(long, value_name = "RFC3339")]
    pub until: Option<String>,
    /// A table for people, or the matching records as stored (JSON lines).
    #[arg(long, value_enum, default_value_t = Output::Table)]
    pub format: Output,
    /// Log files to search. Default: every file of the configured replica.
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A file holding the SAMLResponse: XML, or its base64 form value.
    #[arg(long, value_name = "FILE")]
    pub response: PathBuf,
}

fn export(cfg: &Config, a: &ExportArgs) -> Result<(), Failure> {
    let chains = if cfg.audit.sink == AuditSink::Postgres {
        export_db(cfg, &a.out, a.replica.as_deref())?
    } else {
        let replica = a.replica.clone().unwrap_or_else(|| cfg.audit.replica.clone());
        std::fs::create_dir_all(&a.out).map_err(|e| Failure::new(3, format!("{}: {e}", a.out.display())))?;
        let mut copied = Vec::new();
        for f in log_files(&cfg.audit.dir, &replica).map_err(|e| Failure::new(3, e))? {
            let to = a.out.join(f.file_name().unwrap_or_default());
            std::fs::copy(&f, &to).map_err(|e| Failure::new(3, format!("{}: {e}", to.display())))?;
            copied.push(to);
        }
        vec![(replica, copied)]
    };
    for (replica, files) in &chains {
        println!("replica {replica}: {} files in {}", files.len(), a.out.display());
    }
    if chains.iter().all(|(_, f)| f.is_empty()) {
        return Err(Failure::new(3, "nothing to export: no records"));
    }
    Ok(())
}

fn time(flag: &'static str, v: Option<String>) -> Result<Option<chrono::DateTime<chrono::Utc>>, Failure> {
    v.map(|s| crate::core::text::instant(flag, &s).map_err(|e| Failure::new(2, e))).transpose()
}

/// A partial last record is skipped, not fatal: a writer was cut off mid-write.
fn note_torn(found: &crate::audit::search::Found) {
    for (file, bytes) in &found.torn {
        eprintln!(
            "note: skipped a partial last record ({bytes} bytes) in {}: a writer stopped mid-write; the next \
             start sets it aside",
            file.display()
        );
    }
}

/// Every certificate that may have signed a checkpoint, by key id, plus `extra`.
fn certs(cfg: &Config, extra: &[PathBuf]) -> Result<HashMap<String, PKey<Public>>, Failure> {
    let mut certs: HashMap<String, PKey<Public>> = HashMap::new();
    let mut all = trust::known_certs(cfg).map_err(|e| Failure::new(3, e))?;
    for p in extra {
        let c = crate::keys::load_cert(p).map_err(|e| Failure::new(2, e))?;
        let der = c.to_der().map_err(|e| Failure::new(2, e))?;
        all.push((hex(&openssl::sha::sha256(&der)), c));
    }
    for (id, c) in all {
        certs.insert(id, c.public_key().map_err(|e| Failure::new(2, e))?);
    }
    Ok(certs)
}

fn prune(cfg: &Config, through: u64) -> Result<(), Failure> {
    let files = log_files(&cfg.audit.dir, &cfg.audit.replica).map_err(|e| Failure::new(3, e))?;
    let certs = certs(cfg, &[])?;
    verify(&files, &certs).map_err(|b| Failure::new(1, format!("not pruning a broken log: {b}")))?;
    let plan = prune::plan(&cfg.audit.dir, &cfg.audit.replica, through).map_err(|e| Failure::new(2, e))?;
    let now = clock::now();
    let (material, _) = wiring::load_keys(cfg, now).map_err(|e| Failure::new(3, e))?;
    let log = wiring::open_audit_accepting(cfg, &material, now, None).map_err(|e| Failure::new(3, e))?;
    let entry = Entry {
        time: saml_time(now),
        caller: Some(format!("cli:{}", std::env::var("USER").unwrap_or_else(|_| "unknown".into()))),
        ..Entry::default()
    };
    prune::execute(&plan, &log, entry).map_err(|e| Failure::new(3, e))?;
    println!(
        "pruned records {}..={} ({} files); the prune is recorded in the log",
        plan.first,
        plan.through,
        plan.files.len()
    );
    log.close().map_err(|e| Failure::new(3, e))
}

fn accept_loss(cfg: &Config, reason: &str) -> Result<(), Failure> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 512 || reason.chars().any(char::is_control) {
        return Err(Failure::new(2, "--reason: must be 1-512 characters with no control characters"));
    }
    let now = clock::now();
    let (material, _) = wiring::load_keys(cfg, now).map_err(|e| Failure::new(3, e))?;
    let log = wiring::open_audit_accepting(cfg, &material, now, Some(reason.to_owned()))
        .map_err(|e| Failure::new(3, e))?;
    match &log.recovery().lost {
        Some((found, head, _)) => println!(
            "recorded the loss of records {}..={} of replica {}; the chain goes on from seq {found}",
            found + 1,
            head.seq,
            cfg.audit.replica
        ),
        None => println!("nothing is missing from replica {}; nothing was recorded", cfg.audit.replica),
    }
    log.close().map_err(|e| Failure::new(3, e))
}

pub fn run(config: Option<&Path>, cmd: AuditCommand) -> Result<(), Failure> {
    let cfg = load_config(config)?;
    match cmd {
        AuditCommand::AcceptLoss(a) => accept_loss(&cfg, &a.reason),
        AuditCommand::Prune(a) => prune(&cfg, a.through),
        AuditCommand::Export(a) => export(&cfg, &a),
        AuditCommand::Reconcile(a) => super::reconcile::run(&cfg, a),
        AuditCommand::Route(a) => super::route::run(&cfg, a),
        AuditCommand::Verify(a) => {
            let certs = certs(&cfg, &a.cert)?;
            let defaulted = a.files.is_empty();
            let logs = logs(&cfg, a.files)?;
            for (_, files) in &logs.chains {
                verify_chain(&cfg, files, &certs, defaulted, a.sealed)?;
            }
            Ok(())
        }
        AuditCommand::Search(a) => {
            let role_session_name = match &a.session_id {
                None => None,
                Some(id) => Some(crate::core::session_name_of(id).map(str::to_owned).ok_or_else(|| {
                    Failure::new(
                        2,
                        format!("--session-id: must be <RoleSessionName>-<hex digits>, at most 96 characters (got {id:?})"),
                    )
                })?),
            };
            let filter = Filter {
                user: a.user,
                instance: a.instance,
                assertion_id: a.assertion_id,
                role_session_name,
                response_sha256: None,
                outcome: a.status,
                since: time("--since", a.since)?,
                until: time("--until", a.until)?,
            };
            let files = logs(&cfg, a.files)?.all_files();
            let found = if a.review_pending {
                let mut f = crate::audit::search::review_pending(&files).map_err(|e| Failure::new(3, e))?;
                f.hits
                    .retain(|h| filter.user.as_ref().is_none_or(|u| h.record.entry.user.as_ref() == Some(u)));
                f
            } else {
                search(&files, &filter).map_err(|e| Failure::new(3, e))?
            };
            note_torn(&found);
            let hits = found.hits;
            match a.format {
                Output::Json => hits.iter().for_each(|h| println!("{}", h.raw)),
                Output::Table => {
                    println!(
                        "{:>8}  {:20}  {:18}  {:12}  {:19}  {:10}  {:35}  sets",
                        "seq", "time", "outcome", "user", "instance", "region", "assertion_id"
                    );
                    for h in &hits {
                        let e = &h.record.entry;
                        let sets: Vec<String> =
                            e.sets.iter().map(|s| format!("{}={}", s.entitlement, s.status)).collect();
                        let d = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
                        println!(
                            "{:>8}  {:20}  {:18}  {:12}  {:19}  {:10}  {:35}  {}",
                            h.record.seq,
                            e.time,
                            d(&e.outcome),
                            d(&e.user),
                            d(&e.instance),
                            d(&e.region),
                            d(&e.assertion_id),
                            sets.join(",")
                        );
                    }
                    println!("{} records", hits.len());
                }
            }
            Ok(())
        }
        AuditCommand::Show(a) => show(&cfg, &a.response),
    }
}

fn show(cfg: &Config, path: &Path) -> Result<(), Failure> {
    let raw = std::fs::read(path).map_err(|e| Failure::new(2, format!("{}: {e}", path.display())))?;
    let trimmed = raw.trim_ascii();
    // The record holds the digest of the exact bytes released: the base64 form value
    // decodes to them; a saved XML file may have lost or gained the final newline.
    let candidates: Vec<Vec<u8>> = if trimmed.starts_with(b"<") {
        vec![raw.clone(), trimmed.to_vec(), [trimmed, b"\n"].concat()]
    } else {
        let compact: Vec<u8> = trimmed.iter().copied().filter(|b| !b.is_ascii_whitespace()).collect();
        vec![base64::engine::general_purpose::STANDARD
            .decode(compact)
            .map_err(|_| Failure::new(2, "--response: neither XML nor base64"))?]
    };
    let xml = candidates.first().cloned().unwrap_or_default();
    let mut verified = None;
    for (id, cert) in trust::known_certs(cfg).map_err(|e| Failure::new(3, e))? {
        let pem = cert.to_pem().map_err(|e| Failure::new(3, e))?;
        if let Ok(assertion_id) = crate::saml::libxmlsec::verify_assertion(&xml, &pem) {
            verified = Some((assertion_id, id));
            break;
        }
    }
    let Some((assertion_id, key_id)) = verified else {
        return Err(Failure::new(
            1,
            "signature: INVALID — not signed by any configured certificate, or altered after signing",
        ));
    };
    println!("signature: valid (certificate {key_id}), assertion {assertion_id}");
    let mut hits = Vec::new();
    let mut digest = String::new();
    let logs = logs(cfg, Vec::new())?;
    for c in &candidates {
        digest = hex(&openssl::sha::sha256(c));
        let filter = Filter { response_sha256: Some(digest.clone()), ..Filter::default() };
        let found = search(&logs.all_files(), &filter).map_err(|e| Failure::new(3, e))?;
        note_torn(&found);
        hits = found.hits;
        if !hits.is_empty() {
            break;
        }
    }
    match hits.iter().find(|h| h.record.entry.assertion_id.as_deref() == Some(assertion_id.as_str())) {
        Some(h) => {
            println!("record: {}:{} seq {}", h.file.display(), h.line, h.record.seq);
            println!("{}", h.raw);
            Ok(())
        }
        None => Err(Failure::new(
            1,
            format!("no audit record with response digest {digest} and assertion {assertion_id}"),
        )),
    }
}

/// Verifies one chain and prints its summary. `defaulted`: the configured log, which
/// must start at its genesis (or a declared prune) and reach its head file.
fn verify_chain(
    cfg: &Config,
    files: &[PathBuf],
    certs: &HashMap<String, PKey<Public>>,
    defaulted: bool,
    sealed: bool,
) -> Result<(), Failure> {
    let r = verify(files, certs).map_err(|b| Failure::new(1, format!("audit log broken at {b}")))?;
    let mut pruned = None;
    if defaulted {
        pruned = r.require_genesis().map_err(|e| Failure::new(1, e))?;
    }
    if defaulted && cfg.audit.sink == AuditSink::Files {
        if let Some(head) = read_head(&cfg.audit.dir, &cfg.audit.replica).map_err(|e| Failure::new(1, e))? {
            if head.seq > r.last_seq {
                return Err(Failure::new(1, missing(&cfg.audit.dir, &cfg.audit.replica, &head, r.last_seq)));
            }
        }
    }
    println!(
        "ok: replica {} — {} records (seq {}..{}) in {} files, {} checkpoints, head {}",
        r.replica, r.records, r.first_seq, r.last_seq, r.files, r.checkpoints, r.head
    );
    match pruned {
        Some(through) => println!("note: records 1..={through} were pruned (a prune record declares it)"),
        None if r.starts_mid_chain => {
            println!("note: the chain starts at seq {} (earlier files were not given)", r.first_seq)
        }
        None => {}
    }
    if r.v1_checkpoints > 0 {
        println!(
            "note: {} checkpoints are of record format 1: they sign replica, seq and prev, not their time",
            r.v1_checkpoints
        );
    }
    if r.unsealed > 0 {
        let msg = format!(
            "{} records follow the last checkpoint: a truncation among them would not be detectable",
            r.unsealed
        );
        if sealed {
            return Err(Failure::new(1, msg));
        }
        println!("warning: {msg}");
    }
    Ok(())
}
