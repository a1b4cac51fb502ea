//! `file` and `template`: a regular file with exact content, mode and (optionally) owner.
//!
//! ```toml
//! [[configure]]
//! type = "file"
//! path = "/etc/app/app.conf"
//! content = "port = 8080\n"      # or: source = "files/app.conf" (relative to the environment file)
//! mode = "0640"                  # optional: new files get 0644, existing ones keep theirs
//! owner = "app"                  # optional, name or uid
//! group = "app"                  # optional, name or gid
//!
//! [[configure]]
//! type = "template"
//! path = "/etc/app/app.conf"
//! template = "port = {{ port }}\nhost = {{ host.name }}\n"   # or: source = "templates/app.conf.j2"
//! ```

use std::path::Path;

use sha2::{Digest, Sha256};

use super::attrs::Ownership;
use super::{
    kind_name, missing, parse_mode, template, Change, HostContext, Resource, ResourceError,
};
use crate::config::{FileSpec, TemplateSpec};
use crate::engine::apply::Action;
use crate::engine::explore::{Probe, ProbeResult};

#[derive(Debug, Clone)]
enum Content {
    Bytes { bytes: Vec<u8>, sha256: String },
    Template(String),
}

#[derive(Debug, Clone)]
pub struct File {
    kind: &'static str,
    path: String,
    content: Content,
    mode: Option<u32>,
    ownership: Ownership,
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn read_source(id: &str, base: &Path, source: &str) -> Result<Vec<u8>, ResourceError> {
    let path = base.join(source);
    std::fs::read(&path).map_err(|e| ResourceError::Source {
        id: id.to_owned(),
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

impl File {
    pub fn from_file_spec(spec: &FileSpec, base: &Path) -> Result<Self, ResourceError> {
        let id = format!("file:{}", spec.path);
        let bytes = match (&spec.content, &spec.source) {
            (Some(c), _) => c.as_bytes().to_vec(),
            (None, Some(src)) => read_source(&id, base, src)?,
            (None, None) => Vec::new(),
        };
        Ok(File {
            kind: "file",
            path: spec.path.clone(),
            content: Content::Bytes {
                sha256: hex(&Sha256::digest(&bytes)),
                bytes,
            },
            mode: spec.mode.as_deref().and_then(parse_mode),
            ownership: Ownership {
                owner: spec.owner.clone(),
                group: spec.group.clone(),
            },
        })
    }

    pub fn from_template_spec(spec: &TemplateSpec, base: &Path) -> Result<Self, ResourceError> {
        let id = format!("template:{}", spec.path);
        let text = match (&spec.template, &spec.source) {
            (Some(t), _) => t.clone(),
            (None, Some(src)) => String::from_utf8(read_source(&id, base, src)?).map_err(|_| {
                ResourceError::Template {
                    id: id.clone(),
                    message: format!("{src} is not UTF-8 text"),
                }
            })?,
            (None, None) => String::new(),
        };
        if let Err(message) = template::syntax_check(&text) {
            return Err(ResourceError::Template { id, message });
        }
        Ok(File {
            kind: "template",
            path: spec.path.clone(),
            content: Content::Template(text),
            mode: spec.mode.as_deref().and_then(parse_mode),
            ownership: Ownership {
                owner: spec.owner.clone(),
                group: spec.group.clone(),
            },
        })
    }
}

impl Resource for File {
    fn id(&self) -> String {
        format!("{}:{}", self.kind, self.path)
    }

    fn probes(&self) -> Vec<Probe> {
        // A template's digest is known only once rendered with the host's facts, so its
        // current content always comes back (up to the diff size limit).
        let want = match &self.content {
            Content::Bytes { sha256, .. } => Some(sha256.clone()),
            Content::Template(_) => None,
        };
        let mut probes = vec![Probe::Path {
            path: self.path.clone(),
            want_sha256: want,
        }];
        probes.extend(self.ownership.probes());
        probes
    }

    fn diff(
        &self,
        results: &[ProbeResult],
        ctx: &HostContext,
    ) -> Result<Option<Change>, ResourceError> {
        let Some(ProbeResult::Path(current)) = results.first() else {
            return Err(missing(self.id()));
        };
        let wanted_owner = self.ownership.resolve(&self.id(), &results[1..])?;
        let (content, sha256) = match &self.content {
            Content::Bytes { bytes, sha256 } => (bytes.clone(), sha256.clone()),
            Content::Template(text) => {
                let rendered =
                    template::render(text, ctx).map_err(|message| ResourceError::Template {
                        id: self.id(),
                        message,
                    })?;
                let sha = hex(&Sha256::digest(rendered.as_bytes()));
                (rendered.into_bytes(), sha)
            }
        };
        let change = |summary: String, diff: Option<String>, action: Action| {
            Ok(Some(Change {
                resource: self.id(),
                summary,
                diff,
                action,
            }))
        };
        match current.kind.as_str() {
            "absent" => {
                let mode = self.mode.unwrap_or(0o644);
                let chown = Ownership::chown(wanted_owner, None);
                let diff = text_diff(&self.path, b"", &content);
                let owner = chown
                    .as_deref()
                    .map(|c| format!(", owner {c}"))
                    .unwrap_or_default();
                change(
                    format!("create ({} bytes, mode {mode:04o}{owner})", content.len()),
                    diff,
                    Action::WriteFile {
                        path: self.path.clone(),
                        content,
                        mode,
                        chown,
                        expect: current.token.clone(),
                    },
                )
            }
            "file" => {
                let mode = self.mode.or(current.mode).unwrap_or(0o644);
                let content_changed = current.sha256.as_deref() != Some(sha256.as_str());
                let mode_changed = current.mode != Some(mode);
                let chown = Ownership::chown(wanted_owner, Some(current));
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
                let summary = format!("update {}", what.join(", "));
                if !content_changed {
                    let mode = mode_changed.then_some(mode);
                    return change(
                        summary,
                        None,
                        Action::SetAttrs {
                            path: self.path.clone(),
                            mode,
                            chown,
                            expect: current.token.clone(),
                        },
                    );
                }
                let diff = match &current.content {
                    Some(old) => text_diff(&self.path, old, &content),
                    None => Some("(the file is too large to show a diff)\n".to_owned()),
                };
                // The new file is written by the connecting user; as root, give it back to
                // its owner unless the resource manages ownership itself.
                let chown = chown.or_else(|| {
                    (ctx.facts.get("uid").map(String::as_str) == Some("0"))
                        .then(|| {
                            current
                                .uid
                                .zip(current.gid)
                                .map(|(u, g)| format!("{u}:{g}"))
                        })
                        .flatten()
                });
                change(
                    summary,
                    diff,
                    Action::WriteFile {
                        path: self.path.clone(),
                        content,
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
                wanted: "file",
            }),
        }
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
    use crate::resource::testing::with_ctx;

    fn file(content: &str, mode: Option<&str>) -> File {
        let spec: FileSpec = toml::from_str(&format!(
            "path = '/etc/a'\ncontent = '''{content}'''\n{}",
            mode.map(|m| format!("mode = '{m}'")).unwrap_or_default()
        ))
        .unwrap();
        File::from_file_spec(&spec, Path::new("/")).unwrap()
    }

    fn state(token: &str, content: Option<&str>) -> Vec<ProbeResult> {
        vec![ProbeResult::Path(
            parse_path_state(token, content.map(|c| c.as_bytes().to_vec())).unwrap(),
        )]
    }

    fn diff(f: &File, r: &[ProbeResult]) -> Result<Option<Change>, ResourceError> {
        with_ctx(&[("uid", "0")], |ctx| f.diff(r, ctx))
    }

    fn sha(f: &File) -> String {
        match &f.content {
            Content::Bytes { sha256, .. } => sha256.clone(),
            Content::Template(_) => unreachable!(),
        }
    }

    #[test]
    fn absent_file_is_created_with_default_mode() {
        let c = diff(&file("hi\n", None), &state("absent - - - -", None))
            .unwrap()
            .unwrap();
        assert_eq!(c.summary, "create (3 bytes, mode 0644)");
        assert!(matches!(
            c.action,
            Action::WriteFile {
                mode: 0o644,
                chown: None,
                ..
            }
        ));
        assert!(c.diff.unwrap().contains("+hi"));
    }

    #[test]
    fn converged_file_has_no_change() {
        let f = file("hi\n", Some("0600"));
        let token = format!("file 600 0 0 {}", sha(&f));
        assert_eq!(diff(&f, &state(&token, None)).unwrap(), None);
    }

    #[test]
    fn content_change_shows_a_unified_diff_and_keeps_mode_and_owner() {
        let c = diff(
            &file("new\n", None),
            &state("file 640 5 6 0000", Some("old\n")),
        )
        .unwrap()
        .unwrap();
        assert_eq!(c.summary, "update content");
        let d = c.diff.unwrap();
        assert!(d.contains("-old") && d.contains("+new"), "{d}");
        assert!(
            matches!(c.action, Action::WriteFile { mode: 0o640, chown: Some(ref o), .. } if o == "5:6")
        );
    }

    #[test]
    fn mode_only_change_sets_attributes() {
        let f = file("x", Some("0600"));
        let token = format!("file 644 0 0 {}", sha(&f));
        let c = diff(&f, &state(&token, None)).unwrap().unwrap();
        assert_eq!(c.summary, "update mode 0644 -> 0600");
        assert!(matches!(
            c.action,
            Action::SetAttrs {
                mode: Some(0o600),
                chown: None,
                ..
            }
        ));
    }

    #[test]
    fn owner_is_resolved_from_probes() {
        let spec: FileSpec =
            toml::from_str("path = '/etc/a'\ncontent = 'x'\nowner = 'app'\ngroup = '50'").unwrap();
        let f = File::from_file_spec(&spec, Path::new("/")).unwrap();
        assert_eq!(f.probes().len(), 3);
        let token = format!("file 644 0 0 {}", sha(&f));
        let mut r = state(&token, None);
        r.push(ProbeResult::Output("1001".into()));
        r.push(ProbeResult::Output("50".into()));
        let c = diff(&f, &r).unwrap().unwrap();
        assert_eq!(c.summary, "update owner 0:0 -> 1001:50");
        r[1] = ProbeResult::Output(String::new());
        assert_eq!(
            diff(&f, &r).unwrap_err().to_string(),
            "file:/etc/a: user `app` does not exist on the host"
        );
    }

    #[test]
    fn a_directory_in_the_way_is_an_error() {
        let e = diff(&file("x", None), &state("dir 755 0 0 -", None)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "file:/etc/a: /etc/a exists but is a directory, not a file"
        );
    }

    #[test]
    fn templates_render_per_host() {
        let spec: TemplateSpec =
            toml::from_str("path = '/etc/t'\ntemplate = \"port={{ port }} os={{ facts.os }}\\n\"")
                .unwrap();
        let t = File::from_template_spec(&spec, Path::new("/")).unwrap();
        let c = with_ctx(&[("os", "Linux")], |ctx| {
            t.diff(&state("absent - - - -", None), ctx)
        })
        .unwrap()
        .unwrap();
        assert!(
            matches!(c.action, Action::WriteFile { ref content, .. } if content == b"port=8080 os=Linux\n")
        );
        let bad: TemplateSpec = toml::from_str("path = '/etc/t'\ntemplate = '{{ nope }}'").unwrap();
        let t = File::from_template_spec(&bad, Path::new("/")).unwrap();
        let e = with_ctx(&[], |ctx| t.diff(&state("absent - - - -", None), ctx)).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("template:/etc/t: undefined value"),
            "{e}"
        );
    }
}
