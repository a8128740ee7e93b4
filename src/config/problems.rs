//! Every problem a configuration has, each with its location (`section.key` or a
//! file name), collected so `sesame check` and start-up report all of them at once.

/// Every problem found, each as `location: message`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Problems(pub Vec<(String, String)>);

impl Problems {
    pub fn push(&mut self, at: impl Into<String>, msg: impl Into<String>) {
        self.0.push((at.into(), msg.into()));
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration ({source_name}):\n{}", .problems.0.iter().map(|(a, m)| format!("  - {a}: {m}")).collect::<Vec<_>>().join("\n"))]
pub struct ConfigError {
    pub source_name: String,
    pub problems: Problems,
}

impl ConfigError {
    pub fn code(&self) -> &'static str {
        "config_invalid"
    }
}

impl Problems {
    /// An integer setting in `lo..=hi`, or `default` when absent; out of range is a
    /// problem (and the default stands in, so later checks still run).
    pub fn number(&mut self, at: &str, v: Option<i64>, default: i64, lo: i64, hi: i64) -> i64 {
        let v = v.unwrap_or(default);
        if (lo..=hi).contains(&v) {
            v
        } else {
            self.push(at, format!("must be between {lo} and {hi} (got {v})"));
            default
        }
    }

    /// A required text setting; empty or absent is a problem.
    pub fn required(&mut self, at: &str, v: Option<String>) -> String {
        match v {
            Some(s) if !s.trim().is_empty() => s,
            _ => {
                self.push(at, "is required");
                String::new()
            }
        }
    }
}
