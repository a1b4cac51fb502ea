//! Release preflight: every check before anything changes, all failures reported at once, each
//! with the command that fixes it.

use std::path::Path;

use super::git::{self, git_ok};
use super::version::ReleaseVersion;

/// One failed check: what is wrong and how to fix it.
#[derive(Debug)]
pub struct Problem(pub String);

pub struct Checks<'a> {
    pub repo: &'a Path,
    pub branch: &'a str,
    pub remote: &'a str,
    pub version: &'a ReleaseVersion,
    pub last: Option<&'a ReleaseVersion>,
}

/// The git checks; the changelog and secret checks are added by the caller, which has them.
pub fn git_checks(c: &Checks<'_>) -> anyhow::Result<Vec<Problem>> {
    let mut problems = Vec::new();
    let dirty = git::dirty_files(c.repo)?;
    if !dirty.is_empty() {
        let shown: Vec<_> = dirty.iter().take(5).map(|l| l.trim().to_owned()).collect();
        problems.push(Problem(format!(
            "the work tree is not clean ({} changed: {}{}); commit or stash them first (`git stash -u`)",
            dirty.len(),
            shown.join(", "),
            if dirty.len() > 5 { ", …" } else { "" }
        )));
    }
    let branch = git::current_branch(c.repo)?;
    if branch != c.branch {
        problems.push(Problem(format!(
            "on branch `{branch}`, but releases are cut from `{}`; run `git switch {}`",
            c.branch, c.branch
        )));
    }
    let tag = c.version.tag();
    let local = git_ok(
        c.repo,
        &["rev-parse", "-q", "--verify", &format!("refs/tags/{tag}")],
    );
    let remote = !local
        && git_ok(c.repo, &["remote", "get-url", c.remote])
        && !git::git(
            c.repo,
            &["ls-remote", "--tags", c.remote, &format!("refs/tags/{tag}")],
        )
        .unwrap_or_default()
        .is_empty();
    if local || remote {
        problems.push(Problem(format!(
            "tag {tag} already exists{}; pick the next version (`--bump patch`), or if a release of it was interrupted run `cargo xtask release --resume`",
            if remote { format!(" on {}", c.remote) } else { String::new() }
        )));
    }
    if let Some(last) = c.last {
        if c.version <= last {
            problems.push(Problem(format!(
                "version {} is not greater than the last release {last} (semver order: 1.2.0-rc.1 < 1.2.0); pass a larger --version or --bump",
                c.version
            )));
        }
    }
    Ok(problems)
}

pub fn fail_if_any(problems: &[Problem]) -> anyhow::Result<()> {
    if problems.is_empty() {
        return Ok(());
    }
    let list: Vec<_> = problems.iter().map(|p| format!("  - {}", p.0)).collect();
    anyhow::bail!(
        "preflight failed ({} problem{}), nothing was changed:\n{}",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" },
        list.join("\n")
    )
}

/// `--tagged` (a CI publish job on a pushed tag): the tag exists and is the checked-out
/// commit, which carries the version and its CHANGELOG section.
pub fn tagged_checks(repo: &Path, version: &ReleaseVersion) -> anyhow::Result<Vec<Problem>> {
    let mut problems = Vec::new();
    let tag = version.tag();
    let tagged = git::git(
        repo,
        &[
            "rev-parse",
            "-q",
            "--verify",
            &format!("refs/tags/{tag}^{{commit}}"),
        ],
    )
    .ok();
    let head = git::git(repo, &["rev-parse", "HEAD"])?;
    match tagged {
        None => problems.push(Problem(format!(
            "--tagged publishes an existing tag, but there is no tag {tag}; make it with `cargo xtask release --version {version} --skip-publish` and push it, or drop --tagged"
        ))),
        Some(commit) if commit.trim() != head.trim() => problems.push(Problem(format!(
            "--tagged publishes the checked-out commit, but HEAD ({}) is not {tag} ({}); run `git checkout {tag}` first",
            &head.trim()[..head.trim().len().min(12)],
            &commit.trim()[..commit.trim().len().min(12)]
        ))),
        Some(_) => {}
    }
    let current = super::bump::current(repo)?;
    if current != version.to_string() {
        problems.push(Problem(format!(
            "Cargo.toml says version {current}, but the tag is {tag}; a tagged release is published from the commit that set its version"
        )));
    }
    Ok(problems)
}
