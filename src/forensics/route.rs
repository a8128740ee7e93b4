//! Session logs per tenant: session ID → RoleSessionName → the decision that allowed it
//! → the tag set that covered the session's target → the tenant, the value of one tag
//! column (default `APP_ID`). Exact when RoleSessionNames are unique per decision (the
//! default); what stays ambiguous goes to `unattributed/` with the reason.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::minted::{Index, Minted};
use super::session_logs::{Format, Piece};
use crate::core::session_name_of;
use crate::core::tags::TagSpec;

/// The inventory's answer for (instance, region): its EC2 tags, `None` when unknown.
pub type Lookup<'a> = dyn Fn(&str, &str) -> Result<Option<HashMap<String, String>>, String> + 'a;

/// A tenant and how it was found, or why none could be.
type Answer = Result<(String, String), String>;

/// Where one session's log went, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Route {
    pub session_id: String,
    /// `None`: unattributed.
    pub tenant: Option<String>,
    /// How the tenant was found, or why none was.
    pub how: String,
    pub decision: Option<String>,
    pub user: Option<String>,
    pub target: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

/// Decides tenants; knows the log, the tag shape, the tenant column and maybe an inventory.
pub struct Attributor<'a> {
    pub index: &'a Index,
    pub spec: &'a TagSpec,
    /// Column of the tenant tag in the spec.
    pub column: usize,
    pub inventory: Option<&'a Lookup<'a>>,
}

impl Attributor<'_> {
    /// The column whose EC2 tag key is `key` (case as configured).
    pub fn column_of(spec: &TagSpec, key: &str) -> Option<usize> {
        spec.columns().iter().position(|c| c.ec2_key.as_str() == key)
    }

    pub fn route(&self, session_id: &str, target: Option<&str>, owner: Option<&str>) -> Route {
        let mut r = Route {
            session_id: session_id.to_owned(),
            tenant: None,
            how: String::new(),
            decision: None,
            user: None,
            target: target.map(str::to_owned),
            owner: owner.map(str::to_owned),
        };
        let Some(name) = session_name_of(session_id) else {
            r.how = "not a session ID".into();
            return r;
        };
        let decisions = self.index.by_session_name(name);
        let mut answers: Vec<(&Minted, Answer)> =
            decisions.iter().map(|m| (*m, self.tenant_of(m, target))).collect();
        match answers.len() {
            0 => r.how = format!("no decision carried RoleSessionName {name:?}"),
            1 => {
                if let Some((m, answer)) = answers.pop() {
                    r.decision = Some(m.assertion_id.clone());
                    r.user = Some(m.user.clone());
                    match answer {
                        Ok((t, how)) => (r.tenant, r.how) = (Some(t), how),
                        Err(why) => r.how = why,
                    }
                }
            }
            n => {
                let tenants: Vec<Option<&String>> =
                    answers.iter().map(|(_, a)| a.as_ref().ok().map(|(t, _)| t)).collect();
                let first = tenants.first().copied().flatten();
                if first.is_some() && tenants.iter().all(|t| *t == first) {
                    r.tenant = first.cloned();
                    r.how = format!("{n} decisions share RoleSessionName {name:?} (aws.role_session_name = \"user\"); all lead to this tenant");
                } else {
                    r.how = format!("ambiguous: {n} decisions share RoleSessionName {name:?} (aws.role_session_name = \"user\") and lead to different tenants");
                }
                r.user = decisions.first().map(|m| m.user.clone());
            }
        }
        r
    }

    /// The tenant of the open set that covered `target` in decision `m`, and how it was known.
    fn tenant_of(&self, m: &Minted, target: Option<&str>) -> Answer {
        let open: Vec<_> = m.sets.iter().filter(|s| s.status == "open").collect();
        if open.is_empty() {
            return Err("the decision had no open set".into());
        }
        let mut tenants = Vec::with_capacity(open.len());
        for s in &open {
            let key = self.spec.principal_name(s.number, self.column);
            match s.tags.get(&key) {
                Some(v) => tenants.push(v.clone()),
                None => return Err("the decision's record predates recorded tags".into()),
            }
        }
        if tenants.iter().all(|t| Some(t) == tenants.first()) {
            let t = tenants.swap_remove(0);
            let how = if open.len() == 1 {
                "the decision's one open set"
            } else {
                "every open set of the decision has this tenant"
            };
            return Ok((t, how.into()));
        }
        let (instance, told) = match target {
            Some(t) => (t, "the log's target"),
            None => (m.instance.as_str(), "the decision's instance (the log names no target)"),
        };
        let Some(lookup) = self.inventory else {
            return Err(format!(
                "{} open sets with different tenants, and no inventory to tell which covered {instance}",
                open.len()
            ));
        };
        let tags = match lookup(instance, &m.region) {
            Ok(Some(t)) => t,
            Ok(None) => {
                return Err(format!(
                    "{} open sets; the inventory does not know {instance} in {}",
                    open.len(),
                    m.region
                ))
            }
            Err(e) => return Err(format!("{} open sets; the inventory failed: {e}", open.len())),
        };
        let covering: Vec<&String> = open
            .iter()
            .zip(&tenants)
            .filter(|(s, _)| {
                self.spec.columns().iter().enumerate().all(|(i, c)| {
                    let want = s.tags.get(&self.spec.principal_name(s.number, i));
                    want.is_some() && tags.get(c.ec2_key.as_str()) == want
                })
            })
            .map(|(_, t)| t)
            .collect();
        match covering.first() {
            Some(first) if covering.iter().all(|t| t == first) => {
                Ok(((*first).clone(), format!("the open set covering {told} {instance}, by the inventory")))
            }
            Some(_) => Err(format!("open sets of different tenants all cover {instance}")),
            None => Err(format!("no open set covers {instance} by the inventory's tags")),
        }
    }
}

/// A tenant value as a folder name: ASCII letters, digits and `._-=@+` kept, every
/// other byte `%XX`; an empty value is `%`.
pub fn folder(tenant: &str) -> String {
    if tenant.is_empty() {
        return "%".into();
    }
    let mut out = String::with_capacity(tenant.len());
    for b in tenant.bytes() {
        if b.is_ascii_alphanumeric()
            || b"_-=@+".contains(&b)
            || (b == b'.' && tenant.bytes().any(|c| c != b'.'))
        {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Writes pieces under `out`: `tenants/<tenant>/<SessionId>.log|.jsonl` or
/// `unattributed/…`, deciding each session once, on its first piece.
pub struct Router<'a> {
    attributor: Attributor<'a>,
    out: PathBuf,
    routes: BTreeMap<String, Route>,
    open: HashMap<(String, Format), std::io::BufWriter<std::fs::File>>,
}

/// Files kept open at once; more are closed (and reopened to append) as needed.
const OPEN_FILES: usize = 128;

impl<'a> Router<'a> {
    /// `out` must not exist or be empty: routing twice into one folder would append twice.
    pub fn new(attributor: Attributor<'a>, out: &Path) -> Result<Self, String> {
        if out.exists() {
            let mut entries = std::fs::read_dir(out).map_err(|e| format!("{}: {e}", out.display()))?;
            if entries.next().is_some() {
                return Err(format!("--out {}: not empty; give a new folder", out.display()));
            }
        }
        Ok(Self { attributor, out: out.to_path_buf(), routes: BTreeMap::new(), open: HashMap::new() })
    }

    pub fn write(&mut self, p: Piece<'_>) -> Result<(), String> {
        if !self.routes.contains_key(p.session_id) {
            let r = self.attributor.route(p.session_id, p.target, p.owner);
            self.routes.insert(p.session_id.to_owned(), r);
        }
        let key = (p.session_id.to_owned(), p.format);
        if !self.open.contains_key(&key) {
            if self.open.len() >= OPEN_FILES {
                self.flush()?;
            }
            let route = self.routes.get(p.session_id).ok_or("a route vanished")?;
            let dir = match &route.tenant {
                Some(t) => self.out.join("tenants").join(folder(t)),
                None => self.out.join("unattributed"),
            };
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            let ext = match p.format {
                Format::Transcript => "log",
                Format::Events => "jsonl",
            };
            let path = dir.join(format!("{}.{ext}", p.session_id));
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            self.open.insert(key.clone(), std::io::BufWriter::new(f));
        }
        let w = self.open.get_mut(&key).ok_or("an open file vanished")?;
        w.write_all(p.data).map_err(|e| format!("{}: {e}", self.out.display()))
    }

    fn flush(&mut self) -> Result<(), String> {
        for (_, mut w) in self.open.drain() {
            w.flush().map_err(|e| format!("{}: {e}", self.out.display()))?;
        }
        Ok(())
    }

    /// Flushes every file, writes `routing.jsonl` (one line per session) and returns the routes.
    pub fn finish(mut self) -> Result<Vec<Route>, String> {
        self.flush()?;
        std::fs::create_dir_all(&self.out).map_err(|e| format!("{}: {e}", self.out.display()))?;
        let mut manifest = String::new();
        for r in self.routes.values() {
            manifest.push_str(&serde_json::to_string(r).map_err(|e| e.to_string())?);
            manifest.push('\n');
        }
        let path = self.out.join("routing.jsonl");
        std::fs::write(&path, manifest).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(self.routes.into_values().collect())
    }
}
