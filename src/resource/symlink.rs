//! `symlink`: a symbolic link at `path` pointing to `target`.
//!
//! ```toml
//! [[release]]
//! type = "symlink"
//! path = "/srv/app/current"
//! target = "/srv/app/releases/1.4.2"
//! ```
//!
//! An existing link is re-pointed; a file or directory in the way is an error (ferry never
//! deletes data to make room for a link).

use super::{kind_name, missing, Change, HostContext, Resource, ResourceError};
use crate::config::SymlinkSpec;
use crate::engine::apply::Action;
use crate::engine::explore::{Probe, ProbeResult};
use crate::transport::sh_quote;

#[derive(Debug, Clone)]
pub struct Symlink {
    path: String,
    target: String,
}

impl Symlink {
    pub fn new(spec: &SymlinkSpec) -> Self {
        Symlink {
            path: spec.path.clone(),
            target: spec.target.clone(),
        }
    }
}

impl Resource for Symlink {
    fn id(&self) -> String {
        format!("symlink:{}", self.path)
    }

    fn probes(&self) -> Vec<Probe> {
        vec![
            Probe::Path {
                path: self.path.clone(),
                want_sha256: None,
            },
            Probe::Output(format!("readlink {}", sh_quote(&self.path))),
        ]
    }

    fn diff(
        &self,
        results: &[ProbeResult],
        _ctx: &HostContext,
    ) -> Result<Option<Change>, ResourceError> {
        let (Some(ProbeResult::Path(current)), Some(ProbeResult::Output(points_to))) =
            (results.first(), results.get(1))
        else {
            return Err(missing(self.id()));
        };
        let summary = match current.kind.as_str() {
            "absent" => format!("create -> {}", self.target),
            "link" if *points_to == self.target => return Ok(None),
            "link" => format!("update {points_to} -> {}", self.target),
            other => {
                return Err(ResourceError::WrongKind {
                    id: self.id(),
                    path: self.path.clone(),
                    found: kind_name(other),
                    wanted: "symbolic link",
                })
            }
        };
        Ok(Some(Change {
            resource: self.id(),
            summary,
            diff: None,
            action: Action::Symlink {
                path: self.path.clone(),
                target: self.target.clone(),
                expect: current.token.clone(),
            },
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::explore::parse_path_state;
    use crate::resource::testing::with_ctx;

    #[test]
    fn links_are_created_repointed_or_left_alone() {
        let l = Symlink::new(&SymlinkSpec {
            path: "/a".into(),
            target: "/b".into(),
            roles: vec![],
            notify: vec![],
            after: vec![],
        });
        let diff = |token: &str, to: &str| {
            with_ctx(&[], |ctx| {
                l.diff(
                    &[
                        ProbeResult::Path(parse_path_state(token, None).unwrap()),
                        ProbeResult::Output(to.into()),
                    ],
                    ctx,
                )
            })
        };
        assert_eq!(
            diff("absent - - - -", "").unwrap().unwrap().summary,
            "create -> /b"
        );
        assert_eq!(diff("link 777 0 0 -", "/b").unwrap(), None);
        assert_eq!(
            diff("link 777 0 0 -", "/c").unwrap().unwrap().summary,
            "update /c -> /b"
        );
        assert!(diff("dir 755 0 0 -", "").is_err());
    }
}
