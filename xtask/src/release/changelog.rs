//! CHANGELOG.md (Keep a Changelog) plus Conventional Commits → the new version's section, and
//! a changelog section → GitHub release notes.
//!
//! Pure text functions (no I/O besides `commits_since`), so golden-pair tests can pin them.

use std::path::Path;

use anyhow::{bail, Context};

use super::git::git;
use super::version::ReleaseVersion;

pub const FILE_NAME: &str = "CHANGELOG.md";

/// Group order in a section: breaking changes first, then Keep a Changelog's order.
const GROUPS: &[&str] = &[
    "Breaking",
    "Added",
    "Changed",
    "Deprecated",
    "Removed",
    "Fixed",
    "Performance",
    "Security",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    pub hash: String,
    pub subject: String,
    pub body: String,
}

/// A commit that goes into the changelog: its group and its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub group: &'static str,
    pub text: String,
}

/// Commits after `since` (a tag) up to HEAD, oldest first; every commit when `since` is None.
pub fn commits_since(repo: &Path, since: Option<&str>) -> anyhow::Result<Vec<Commit>> {
    let range = match since {
        Some(tag) => format!("{tag}..HEAD"),
        None => "HEAD".to_owned(),
    };
    // Unit/record separators: subjects and bodies can hold anything else.
    let log = git(
        repo,
        &[
            "log",
            "--reverse",
            "--no-merges",
            "--format=%H%x1f%s%x1f%b%x1e",
            &range,
        ],
    )
    .context("reading commits for the changelog")?;
    Ok(log
        .split('\x1e')
        .filter_map(|rec| {
            let mut f = rec.trim_start_matches('\n').splitn(3, '\x1f');
            let hash = f.next()?.trim().to_owned();
            if hash.is_empty() {
                return None;
            }
            Some(Commit {
                hash,
                subject: f.next().unwrap_or("").trim().to_owned(),
                body: f.next().unwrap_or("").trim().to_owned(),
            })
        })
        .collect())
}

/// Classifies a Conventional Commit; `None` for types that users don't read about (chore, docs,
/// refactor, test, ci, …) and for messages that aren't conventional.
pub fn classify(c: &Commit, repo_url: &str) -> Option<Entry> {
    let (head, desc) = c.subject.split_once(": ")?;
    let desc = desc.trim();
    if desc.is_empty() {
        return None;
    }
    let (head, bang) = match head.strip_suffix('!') {
        Some(h) => (h, true),
        None => (head, false),
    };
    let (ty, scope) = match head.split_once('(') {
        Some((t, rest)) => (t, Some(rest.strip_suffix(')')?)),
        None => (head, None),
    };
    if ty.is_empty() || !ty.chars().all(|ch| ch.is_ascii_alphanumeric()) {
        return None;
    }
    let breaking = bang
        || c.body
            .lines()
            .any(|l| l.starts_with("BREAKING CHANGE:") || l.starts_with("BREAKING-CHANGE:"));
    let group = if breaking {
        "Breaking"
    } else {
        match ty.to_ascii_lowercase().as_str() {
            "feat" => "Added",
            "fix" => "Fixed",
            "perf" => "Performance",
            "security" | "sec" => "Security",
            _ => return None,
        }
    };
    // Sentence case, like the hand-written entries next to it.
    let mut chars = desc.chars();
    let desc: String = chars
        .next()
        .map(|f| f.to_uppercase().chain(chars).collect())
        .unwrap_or_default();
    let short = &c.hash[..c.hash.len().min(7)];
    let scope = scope.map(|s| format!("**{s}:** ")).unwrap_or_default();
    Some(Entry {
        group,
        text: format!(
            "{scope}{desc} ([{short}]({}/commit/{}))",
            repo_url.trim_end_matches('/'),
            c.hash
        ),
    })
}

/// CHANGELOG.md split around its "Unreleased" section.
struct Parts<'a> {
    /// Up to and including the `## [Unreleased]` line.
    head: &'a str,
    /// The Unreleased section's body.
    unreleased: &'a str,
    /// From the next `## ` heading (older versions, link references) to the end.
    tail: &'a str,
}

fn split(text: &str) -> anyhow::Result<Parts<'_>> {
    let start = find_line(text, 0, |l| {
        l.trim_end().eq_ignore_ascii_case("## [unreleased]")
    })
    .context("CHANGELOG.md has no `## [Unreleased]` heading; add one above the first version")?;
    let body_start = text[start..]
        .find('\n')
        .map_or(text.len(), |i| start + i + 1);
    let end = find_line(text, body_start, |l| {
        l.starts_with("## ") || l.starts_with("[") && l.contains("]: ")
    })
    .unwrap_or(text.len());
    Ok(Parts {
        head: &text[..body_start],
        unreleased: &text[body_start..end],
        tail: &text[end..],
    })
}

fn find_line(text: &str, from: usize, pred: impl Fn(&str) -> bool) -> Option<usize> {
    let mut pos = from;
    for line in text[from..].split_inclusive('\n') {
        if pred(line.trim_end_matches(['\n', '\r'])) {
            return Some(pos);
        }
        pos += line.len();
    }
    None
}

/// `(group, items)` of a section body: `### Group` headings with `- item` bullets (an item's
/// continuation lines stay with it). Text outside any group is kept under "Changed".
fn parse_groups(body: &str) -> Vec<(String, Vec<String>)> {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    let mut current: Option<usize> = None;
    for line in body.lines() {
        if let Some(name) = line.strip_prefix("### ") {
            let name = name.trim().to_owned();
            let i = groups
                .iter()
                .position(|(g, _)| *g == name)
                .unwrap_or_else(|| {
                    groups.push((name, Vec::new()));
                    groups.len() - 1
                });
            current = Some(i);
        } else if let Some(item) = line.strip_prefix("- ").or_else(|| line.strip_prefix("* ")) {
            let i = *current.get_or_insert_with(|| {
                groups.push(("Changed".into(), Vec::new()));
                groups.len() - 1
            });
            groups[i].1.push(item.trim_end().to_owned());
        } else if line.starts_with("  ") && !line.trim().is_empty() {
            if let Some(last) = current.and_then(|i| groups[i].1.last_mut()) {
                last.push('\n');
                last.push_str(line.trim_end());
            }
        }
    }
    groups.retain(|(_, items)| !items.is_empty());
    groups
}

/// Case- and punctuation-insensitive key, so "Add X." and a commit "add x" count as one entry.
fn dedup_key(item: &str) -> String {
    let text = item.split(" ([").next().unwrap_or(item);
    text.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The new version's section body: Unreleased items first (hand-written, they win a tie), then
/// commits, grouped in `GROUPS` order, deduplicated.
pub fn section_body(unreleased: &str, entries: &[Entry]) -> String {
    let mut groups = parse_groups(unreleased);
    for e in entries {
        let i = groups
            .iter()
            .position(|(g, _)| g == e.group)
            .unwrap_or_else(|| {
                groups.push((e.group.to_owned(), Vec::new()));
                groups.len() - 1
            });
        groups[i].1.push(e.text.clone());
    }
    let rank = |g: &str| GROUPS.iter().position(|x| *x == g).unwrap_or(GROUPS.len());
    groups.sort_by_key(|(g, _)| rank(g));
    let mut seen = std::collections::HashSet::new();
    let mut out = String::new();
    for (g, items) in groups {
        let items: Vec<_> = items
            .into_iter()
            .filter(|i| seen.insert(dedup_key(i)))
            .collect();
        if items.is_empty() {
            continue;
        }
        out.push_str(&format!("### {g}\n\n"));
        for i in items {
            out.push_str(&format!("- {i}\n"));
        }
        out.push('\n');
    }
    out.trim_end().to_owned()
}

/// The result of preparing a release's changelog.
pub struct Prepared {
    /// The whole new CHANGELOG.md.
    pub text: String,
    /// The new version's section body (no heading): the release notes' source.
    pub section: String,
}

/// Moves Unreleased + `entries` into a `## [version] - date` section and updates the link
/// references (Keep a Changelog). Fails when there is nothing to release.
pub fn prepare(
    text: &str,
    version: &ReleaseVersion,
    previous: Option<&ReleaseVersion>,
    date: &str,
    entries: &[Entry],
    repo_url: &str,
) -> anyhow::Result<Prepared> {
    let parts = split(text)?;
    let section = section_body(parts.unreleased, entries);
    if section.is_empty() {
        bail!(
            "nothing to release: CHANGELOG.md's Unreleased section is empty and no feat/fix/perf/security commits were made since {}; add entries under `## [Unreleased]`",
            previous.map_or("the first commit".to_owned(), |p| p.tag())
        );
    }
    let repo_url = repo_url.trim_end_matches('/');
    let mut out = String::new();
    out.push_str(parts.head);
    out.push_str(&format!("\n## [{version}] - {date}\n\n{section}\n\n"));
    let tag = version.tag();
    let new_link = match previous {
        Some(p) => format!("[{version}]: {repo_url}/compare/{}...{tag}\n", p.tag()),
        None => format!("[{version}]: {repo_url}/releases/tag/{tag}\n"),
    };
    let unreleased_link = format!("[Unreleased]: {repo_url}/compare/{tag}...HEAD\n");
    let mut replaced = false;
    let mut tail = String::new();
    for line in parts.tail.split_inclusive('\n') {
        if line.to_ascii_lowercase().starts_with("[unreleased]:") {
            tail.push_str(&unreleased_link);
            tail.push_str(&new_link);
            replaced = true;
        } else {
            tail.push_str(line);
        }
    }
    if !replaced {
        if !tail.is_empty() && !tail.ends_with("\n\n") {
            tail.push_str(if tail.ends_with('\n') { "\n" } else { "\n\n" });
        }
        tail.push_str(&unreleased_link);
        tail.push_str(&new_link);
    }
    out.push_str(&tail);
    Ok(Prepared { text: out, section })
}

/// The body of `## [version]` (without its heading), for notes and for rollback.
pub fn section_of(text: &str, version: &ReleaseVersion) -> Option<String> {
    let heading = format!("## [{version}]");
    let start = find_line(text, 0, |l| l.starts_with(&heading))?;
    let body_start = text[start..]
        .find('\n')
        .map_or(text.len(), |i| start + i + 1);
    let end = find_line(text, body_start, |l| {
        l.starts_with("## ") || l.starts_with('[') && l.contains("]: ")
    })
    .unwrap_or(text.len());
    Some(text[body_start..end].trim().to_owned())
}

/// Marks (or unmarks) `## [version] - date` as `[YANKED]`, Keep a Changelog's notation.
/// Returns `None` when the text already says so (idempotent) or has no such section.
pub fn set_yanked(text: &str, version: &ReleaseVersion, yanked: bool) -> Option<String> {
    let heading = format!("## [{version}]");
    let start = find_line(text, 0, |l| l.starts_with(&heading))?;
    let end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let line = &text[start..end];
    let is = line.trim_end().ends_with("[YANKED]");
    let new = match (is, yanked) {
        (false, true) => format!("{} [YANKED]", line.trim_end()),
        (true, false) => line
            .trim_end()
            .trim_end_matches("[YANKED]")
            .trim_end()
            .to_owned(),
        _ => return None,
    };
    Some(format!("{}{new}{}", &text[..start], &text[end..]))
}

/// GitHub release notes from a changelog section: the section, then where to compare and how to
/// verify the download.
pub fn release_notes(
    section: &str,
    version: &ReleaseVersion,
    previous: Option<&ReleaseVersion>,
    repo_url: &str,
) -> String {
    let repo_url = repo_url.trim_end_matches('/');
    // GitHub renders the release title as the heading; `###` groups become `##` under it.
    let body: String = section
        .lines()
        .map(|l| match l.strip_prefix("### ") {
            Some(g) => format!("## {g}\n"),
            None => format!("{l}\n"),
        })
        .collect();
    let mut out = body.trim_end().to_owned();
    out.push_str("\n\n## Verify the download\n\n```sh\nsha256sum -c --ignore-missing SHA256SUMS\nminisign -V -p minisign.pub -m SHA256SUMS\n```\n");
    if let Some(p) = previous {
        out.push_str(&format!(
            "\n**Full changelog**: {repo_url}/compare/{}...{}\n",
            p.tag(),
            version.tag()
        ));
    }
    out
}

/// The notice rollback puts at the top of a yanked release's body (and recognises, to stay
/// idempotent).
pub const YANK_MARK: &str = "> [!WARNING]\n> **Yanked**";

pub fn yank_notice(body: &str, to: &ReleaseVersion, reason: &str) -> Option<String> {
    if body.starts_with(YANK_MARK) {
        return None;
    }
    Some(format!(
        "{YANK_MARK}: this release was rolled back to {}. Reason: {reason}\n\n{body}",
        to.tag()
    ))
}

/// Removes the yank notice (rolling forward to a yanked release again).
pub fn unyank_notice(body: &str) -> Option<String> {
    if !body.starts_with(YANK_MARK) {
        return None;
    }
    Some(
        body.split_once("\n\n")
            .map_or("", |(_, rest)| rest)
            .to_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(subject: &str, body: &str) -> Commit {
        Commit {
            hash: "0123456789abcdef0123456789abcdef01234567".into(),
            subject: subject.into(),
            body: body.into(),
        }
    }

    #[test]
    fn conventional_types() {
        let url = "https://github.com/o/r";
        let g = |s: &str, b: &str| classify(&c(s, b), url).map(|e| e.group);
        assert_eq!(g("feat: x", ""), Some("Added"));
        assert_eq!(g("feat(ssh): x", ""), Some("Added"));
        assert_eq!(g("fix: x", ""), Some("Fixed"));
        assert_eq!(g("perf: x", ""), Some("Performance"));
        assert_eq!(g("security: x", ""), Some("Security"));
        assert_eq!(g("feat!: x", ""), Some("Breaking"));
        assert_eq!(g("fix(api)!: x", ""), Some("Breaking"));
        assert_eq!(g("fix: x", "BREAKING CHANGE: y"), Some("Breaking"));
        assert_eq!(g("chore: x", ""), None);
        assert_eq!(g("docs: x", ""), None);
        assert_eq!(g("Merge branch x", ""), None);
        assert_eq!(g("feat x", ""), None);
        assert_eq!(g("feat: ", ""), None);
        let e = classify(&c("feat(ssh): agent keys", ""), url).unwrap();
        assert_eq!(
            e.text,
            "**ssh:** Agent keys ([0123456](https://github.com/o/r/commit/0123456789abcdef0123456789abcdef01234567))"
        );
    }

    /// Golden pair: a changelog section → GitHub release notes.
    #[test]
    fn release_notes_golden() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/changelog/notes");
        let section = std::fs::read_to_string(dir.join("section.md")).unwrap();
        let got = release_notes(
            section.trim(),
            &ReleaseVersion::parse("1.1.0").unwrap(),
            Some(&ReleaseVersion::parse("1.0.0").unwrap()),
            "https://github.com/ferry-deploy/ferry",
        );
        let golden = dir.join("notes.md");
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&golden, &got).unwrap();
        }
        assert_eq!(got, std::fs::read_to_string(&golden).unwrap());
    }

    #[test]
    fn yank_marks_are_idempotent() {
        let v = ReleaseVersion::parse("1.2.0").unwrap();
        let text = "# C\n\n## [1.2.0] - 2026-01-01\n\n- x\n";
        let y = set_yanked(text, &v, true).unwrap();
        assert!(y.contains("## [1.2.0] - 2026-01-01 [YANKED]\n"));
        assert_eq!(set_yanked(&y, &v, true), None);
        assert_eq!(set_yanked(&y, &v, false).unwrap(), text);
        let to = ReleaseVersion::parse("1.1.0").unwrap();
        let b = yank_notice("notes", &to, "bad").unwrap();
        assert_eq!(yank_notice(&b, &to, "bad"), None);
        assert_eq!(unyank_notice(&b).unwrap(), "notes");
    }
}
