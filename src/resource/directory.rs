//! `directory`: a directory (missing parents are created) with, optionally, mode and owner.
//!
//! ```toml
//! [[configure]]
//! type = "directory"
//! path = "/srv/app"
//! mode = "0750"        # optional: new directories get 0755, existing ones keep theirs
//! owner = "app"        # optional
//! ```

use super::attrs::Ownership;
use super::{kind_name, missing, parse_mode, Change, HostContext, Resource, ResourceError};
use crate::config::{normalise_dir, DirectorySpec};
use crate::engine::apply::Action;
use crate::engine::explore::{Probe, ProbeResult};

#[derive(Debug, Clone)]
pub struct Directory {
    path: String,
    mode: Option<u32>,
    ownership: Ownership,
}

impl Directory {
    pub fn new(spec: &DirectorySpec) -> Self {
        Directory {
            path: normalise_dir(&spec.path).to_owned(),
            mode: spec.mode.as_deref().and_then(parse_mode),
            ownership: Ownership {
                owner: spec.owner.clone(),
                group: spec.group.clone(),
            },
        }
    }
}

impl Resource for Directory {
    fn id(&self) -> String {
        format!("directory:{}", self.path)
    }

    fn probes(&self) -> Vec<Probe> {
        let mut p = vec![Probe::Path {
            path: self.path.clone(),
            want_sha256: None,
        }];
        p.extend(self.ownership.probes());
        p
    }

    fn diff(
        &self,
        results: &[ProbeResult],
        _ctx: &HostContext,
    ) -> Result<Option<Change>, ResourceError> {
        let Some(ProbeResult::Path(current)) = results.first() else {
            return Err(missing(self.id()));
        };
        let wanted_owner = self.ownership.resolve(&self.id(), &results[1..])?;
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
                let chown = Ownership::chown(wanted_owner, None);
                let owner = chown
                    .as_deref()
                    .map(|c| format!(", owner {c}"))
                    .unwrap_or_default();
                change(
                    format!("create (mode {mode:04o}{owner})"),
                    Action::Mkdir {
                        path: self.path.clone(),
                        mode,
                        chown,
                        expect: current.token.clone(),
                    },
                )
            }
            "dir" => {
                let mode = self.mode.filter(|m| current.mode != Some(*m));
                let chown = Ownership::chown(wanted_owner, Some(current));
                let mut what = Vec::new();
                if let Some(m) = mode {
                    what.push(format!("mode {:04o} -> {m:04o}", current.mode.unwrap_or(0)));
                }
                if let Some(c) = &chown {
                    what.push(format!(
                        "owner {}:{} -> {c}",
                        current.uid.unwrap_or(0),
                        current.gid.unwrap_or(0)
                    ));
                }
                if what.is_empty() {
                    return Ok(None);
                }
                change(
                    format!("update {}", what.join(", ")),
                    Action::SetAttrs {
                        path: self.path.clone(),
                        mode,
                        chown,
                        expect: current.token.clone(),
                    },
                )
            }
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
    use crate::resource::testing::with_ctx;

    fn dir(mode: Option<&str>) -> Directory {
        let spec: DirectorySpec = toml::from_str(&format!(
            "path = '/srv/app/'\n{}",
            mode.map(|m| format!("mode = '{m}'")).unwrap_or_default()
        ))
        .unwrap();
        Directory::new(&spec)
    }

    fn diff(d: &Directory, token: &str) -> Result<Option<Change>, ResourceError> {
        with_ctx(&[], |ctx| {
            d.diff(
                &[ProbeResult::Path(parse_path_state(token, None).unwrap())],
                ctx,
            )
        })
    }

    #[test]
    fn creates_missing_and_fixes_mode() {
        assert_eq!(dir(None).id(), "directory:/srv/app");
        assert_eq!(
            diff(&dir(None), "absent - - - -").unwrap().unwrap().summary,
            "create (mode 0755)"
        );
        assert_eq!(
            diff(&dir(Some("0750")), "dir 755 0 0 -")
                .unwrap()
                .unwrap()
                .summary,
            "update mode 0755 -> 0750"
        );
        assert_eq!(diff(&dir(None), "dir 700 0 0 -").unwrap(), None);
        assert!(diff(&dir(None), "file 644 0 0 ab").is_err());
    }
}
