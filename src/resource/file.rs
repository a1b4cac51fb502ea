//! `file`: a regular file with exact content and, optionally, a mode.
//!
//! ```toml
//! [[configure]]
//! type = "file"
//! path = "/etc/app/app.conf"
//! content = "port = 8080\n"
//! mode = "0640"        # optional: new files get 0644, existing ones keep theirs
//! ```

use sha2::{Digest, Sha256};

use super::{missing, parse_mode, Change, Resource, ResourceError};
use crate::config::FileSpec;
use crate::engine::apply::Action;
use crate::engine::explore::{Probe, ProbeResult};

#[derive(Debug, Clone)]
pub struct File {
    path: String,
    content: Vec<u8>,
    sha256: String,
    mode: Option<u32>,
}

impl File {
    pub fn new(spec: &FileSpec) -> Self {
        let content = spec.content.as_bytes().to_vec();
        File {
            path: spec.path.clone(),
            sha256: hex(&Sha256::digest(&content)),
            content,
            mode: spec.mode.as_deref().and_then(parse_mode),
        }
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Resource for File {
    fn id(&self) -> String {
        format!("file:{}", self.path)
    }

    fn probes(&self) -> Vec<Probe> {
        vec![Probe::Path {
            path: self.path.clone(),
            want_sha256: Some(self.sha256.clone()),
        }]
    }

    fn diff(&self, results: &[ProbeResult]) -> Result<Option<Change>, ResourceError> {
        let Some(ProbeResult::Path(current)) = results.first() else {
            return Err(missing(self.id()));
        };
        let (summary, diff, mode, keep_owner) = match current.kind.as_str() {
            "absent" => {
                let mode = self.mode.unwrap_or(0o644);
                let diff = text_diff(&self.path, b"", &self.content);
                (
                    format!("create ({} bytes, mode {mode:04o})", self.content.len()),
                    diff,
                    mode,
                    None,
                )
            }
            "file" => {
                let mode = self.mode.or(current.mode).unwrap_or(0o644);
                let content_changed = current.sha256.as_deref() != Some(self.sha256.as_str());
                let mode_changed = current.mode != Some(mode);
                let mut what = Vec::new();
                if content_changed {
                    what.push("content".to_owned());
                }
                if mode_changed {
                    what.push(format!(
                        "mode {:04o} -> {mode:04o}",
                        current.mode.unwrap_or(0)
                    ));
                }
                if what.is_empty() {
                    return Ok(None);
                }
                if !content_changed {
                    return Ok(Some(Change {
                        resource: self.id(),
                        summary: format!("update {}", what.join(", ")),
                        diff: None,
                        action: Action::Chmod {
                            path: self.path.clone(),
                            mode,
                            expect: current.token.clone(),
                        },
                    }));
                }
                let diff = match &current.content {
                    Some(old) => text_diff(&self.path, old, &self.content),
                    None => Some("(the file is too large to show a diff)\n".to_owned()),
                };
                let owner = current.uid.zip(current.gid);
                (format!("update {}", what.join(", ")), diff, mode, owner)
            }
            other => {
                return Err(ResourceError::WrongKind {
                    id: self.id(),
                    path: self.path.clone(),
                    found: kind_name(other),
                    wanted: "file",
                })
            }
        };
        Ok(Some(Change {
            resource: self.id(),
            summary,
            diff,
            action: Action::WriteFile {
                path: self.path.clone(),
                content: self.content.clone(),
                mode,
                expect: current.token.clone(),
                keep_owner,
            },
        }))
    }
}

pub(super) fn kind_name(kind: &str) -> String {
    match kind {
        "dir" => "directory".to_owned(),
        "link" => "symbolic link".to_owned(),
        "other" => "special file".to_owned(),
        k => k.to_owned(),
    }
}

/// A unified diff from `old` to `new`, or a note when either side is not text.
fn text_diff(path: &str, old: &[u8], new: &[u8]) -> Option<String> {
    match (std::str::from_utf8(old), std::str::from_utf8(new)) {
        (Ok(old), Ok(new)) => Some(
            similar::TextDiff::from_lines(old, new)
                .unified_diff()
                .context_radius(3)
                .header(&format!("{path} (on host)"), &format!("{path} (desired)"))
                .to_string(),
        ),
        _ => Some("(binary content differs)\n".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::explore::parse_path_state;

    fn file(content: &str, mode: Option<&str>) -> File {
        File::new(&FileSpec {
            path: "/etc/a".into(),
            content: content.into(),
            mode: mode.map(Into::into),
            roles: vec![],
        })
    }

    fn state(token: &str, content: Option<&str>) -> Vec<ProbeResult> {
        vec![ProbeResult::Path(
            parse_path_state(token, content.map(|c| c.as_bytes().to_vec())).unwrap(),
        )]
    }

    #[test]
    fn absent_file_is_created_with_default_mode() {
        let c = file("hi\n", None)
            .diff(&state("absent - - - -", None))
            .unwrap()
            .unwrap();
        assert_eq!(c.summary, "create (3 bytes, mode 0644)");
        assert!(matches!(c.action, Action::WriteFile { mode: 0o644, .. }));
        assert!(c.diff.unwrap().contains("+hi"));
    }

    #[test]
    fn converged_file_has_no_change() {
        let f = file("hi\n", Some("0600"));
        let token = format!("file 600 0 0 {}", f.sha256);
        assert_eq!(f.diff(&state(&token, None)).unwrap(), None);
    }

    #[test]
    fn content_change_shows_a_unified_diff_and_keeps_mode_and_owner() {
        let c = file("new\n", None)
            .diff(&state("file 640 5 6 0000", Some("old\n")))
            .unwrap()
            .unwrap();
        assert_eq!(c.summary, "update content");
        let diff = c.diff.unwrap();
        assert!(diff.contains("-old") && diff.contains("+new"), "{diff}");
        assert!(matches!(
            c.action,
            Action::WriteFile {
                mode: 0o640,
                keep_owner: Some((5, 6)),
                ..
            }
        ));
    }

    #[test]
    fn mode_only_change_is_a_chmod() {
        let f = file("x", Some("0600"));
        let token = format!("file 644 0 0 {}", f.sha256);
        let c = f.diff(&state(&token, None)).unwrap().unwrap();
        assert_eq!(c.summary, "update mode 0644 -> 0600");
        assert!(matches!(c.action, Action::Chmod { mode: 0o600, .. }));
    }

    #[test]
    fn a_directory_in_the_way_is_an_error() {
        let e = file("x", None)
            .diff(&state("dir 755 0 0 -", None))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "file:/etc/a: /etc/a exists but is a directory, not a file"
        );
    }
}
