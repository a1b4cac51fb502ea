//! `directory`: a directory (missing parents are created) with, optionally, a mode.
//!
//! ```toml
//! [[configure]]
//! type = "directory"
//! path = "/srv/app"
//! mode = "0750"        # optional: new directories get 0755, existing ones keep theirs
//! ```

use super::file::kind_name;
use super::{missing, parse_mode, Change, Resource, ResourceError};
use crate::config::DirectorySpec;
use crate::engine::apply::Action;
use crate::engine::explore::{Probe, ProbeResult};

#[derive(Debug, Clone)]
pub struct Directory {
    path: String,
    mode: Option<u32>,
}

impl Directory {
    pub fn new(spec: &DirectorySpec) -> Self {
        let path = match spec.path.trim_end_matches('/') {
            "" => "/".to_owned(),
            p => p.to_owned(),
        };
        Directory {
            path,
            mode: spec.mode.as_deref().and_then(parse_mode),
        }
    }
}

impl Resource for Directory {
    fn id(&self) -> String {
        format!("directory:{}", self.path)
    }

    fn probes(&self) -> Vec<Probe> {
        vec![Probe::Path {
            path: self.path.clone(),
            want_sha256: None,
        }]
    }

    fn diff(&self, results: &[ProbeResult]) -> Result<Option<Change>, ResourceError> {
        let Some(ProbeResult::Path(current)) = results.first() else {
            return Err(missing(self.id()));
        };
        let change = |summary: String, action| {
            Ok(Some(Change {
                resource: self.id(),
                summary,
                diff: None,
                action,
            }))
        };
        match current.kind.as_str() {
            "absent" => {
                let mode = self.mode.unwrap_or(0o755);
                change(
                    format!("create (mode {mode:04o})"),
                    Action::Mkdir {
                        path: self.path.clone(),
                        mode,
                        expect: current.token.clone(),
                    },
                )
            }
            "dir" => match self.mode {
                Some(mode) if current.mode != Some(mode) => change(
                    format!(
                        "update mode {:04o} -> {mode:04o}",
                        current.mode.unwrap_or(0)
                    ),
                    Action::Chmod {
                        path: self.path.clone(),
                        mode,
                        expect: current.token.clone(),
                    },
                ),
                _ => Ok(None),
            },
            other => Err(ResourceError::WrongKind {
                id: self.id(),
                path: self.path.clone(),
                found: kind_name(other),
                wanted: "directory",
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::explore::parse_path_state;

    fn dir(mode: Option<&str>) -> Directory {
        Directory::new(&DirectorySpec {
            path: "/srv/app/".into(),
            mode: mode.map(Into::into),
            roles: vec![],
        })
    }

    fn state(token: &str) -> Vec<ProbeResult> {
        vec![ProbeResult::Path(parse_path_state(token, None).unwrap())]
    }

    #[test]
    fn creates_missing_and_fixes_mode() {
        assert_eq!(dir(None).id(), "directory:/srv/app");
        assert_eq!(
            dir(None)
                .diff(&state("absent - - - -"))
                .unwrap()
                .unwrap()
                .summary,
            "create (mode 0755)"
        );
        assert_eq!(
            dir(Some("0750"))
                .diff(&state("dir 755 0 0 -"))
                .unwrap()
                .unwrap()
                .summary,
            "update mode 0755 -> 0750"
        );
        assert_eq!(dir(None).diff(&state("dir 700 0 0 -")).unwrap(), None);
        assert!(dir(None).diff(&state("file 644 0 0 ab")).is_err());
    }
}
