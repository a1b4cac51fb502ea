//! The `git` CLI, run in a given repository. Through the CLI (not a library) so the release does
//! exactly what a maintainer would type, with their credentials helpers and hooks.

use std::path::Path;

use anyhow::{bail, Context};

/// Runs `git args` in `repo` and returns trimmed stdout; stderr goes into the error.
pub fn git(repo: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = duct::cmd("git", args)
        .dir(repo)
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .with_context(|| format!("running git {} (is git installed?)", args.join(" ")))?;
    if !out.status.success() {
        bail!(
            "git {} failed in {}: {}",
            args.join(" "),
            repo.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_owned())
}

/// True when `git args` exits 0 (for questions like "does this ref exist").
pub fn git_ok(repo: &Path, args: &[&str]) -> bool {
    duct::cmd("git", args)
        .dir(repo)
        .stdout_null()
        .stderr_null()
        .unchecked()
        .run()
        .is_ok_and(|o| o.status.success())
}

pub fn tags(repo: &Path) -> anyhow::Result<Vec<String>> {
    Ok(git(repo, &["tag", "--list"])?
        .lines()
        .map(str::to_owned)
        .collect())
}

pub fn current_branch(repo: &Path) -> anyhow::Result<String> {
    git(repo, &["rev-parse", "--abbrev-ref", "HEAD"])
}

/// `git status --porcelain` lines (untracked included): what makes a tree dirty.
pub fn dirty_files(repo: &Path) -> anyhow::Result<Vec<String>> {
    Ok(git(repo, &["status", "--porcelain"])?
        .lines()
        .map(str::to_owned)
        .collect())
}
