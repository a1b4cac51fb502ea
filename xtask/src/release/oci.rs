//! Images in the release: `cargo xtask oci push` after publishing, `cargo xtask oci retag` in a
//! rollback. Run as the same xtask executable in a child process, so the release goes through
//! exactly the command a maintainer would type (its credentials, its checks and its output).

use std::path::Path;

use anyhow::{bail, Context};

use super::version::ReleaseVersion;

/// Why the image stage does not run for `dist`, or `None`.
pub fn skip_reason(repository: Option<&str>, dist: Option<&Path>) -> Option<String> {
    let Some(_) = repository else {
        return Some("no ferry.release.image-repository".into());
    };
    if let Some(d) = dist {
        let has_layout = std::fs::read_dir(d).ok().is_some_and(|entries| {
            entries
                .flatten()
                .any(|e| e.path().is_dir() && e.file_name().to_string_lossy().ends_with("-oci"))
        });
        if !has_layout {
            return Some(format!("{} has no image layout (`*-oci`)", d.display()));
        }
    }
    None
}

fn xtask(args: &[String]) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("finding the xtask executable")?;
    let status = std::process::Command::new(exe)
        .args(args)
        .status()
        .context("running `cargo xtask oci`")?;
    if !status.success() {
        bail!(
            "`cargo xtask {}` failed (see above)",
            args.iter().take(2).cloned().collect::<Vec<_>>().join(" ")
        );
    }
    Ok(())
}

fn registry_args(repository: &str, plain_http: bool) -> Vec<String> {
    let mut v = vec!["--repository".to_owned(), repository.to_owned()];
    if plain_http {
        v.push("--plain-http".into());
    }
    v
}

/// Pushes every image of the dist directory with its version tags (`oci push` decides them).
pub fn push(dist: &Path, repository: &str, plain_http: bool) -> anyhow::Result<()> {
    let mut args = vec![
        "oci".to_owned(),
        "push".to_owned(),
        dist.display().to_string(),
    ];
    args.extend(registry_args(repository, plain_http));
    xtask(&args)
}

/// The tags a rollback moves to `to`: `latest`, `{major}.{minor}` and `{major}`, per variant
/// (`-minimal` suffix for non-default variants, as `oci push` names them).
pub fn rollback_tags(to: &ReleaseVersion, suffix: &str) -> Vec<String> {
    let v = &to.0;
    [
        "latest".to_owned(),
        format!("{}.{}", v.major, v.minor),
        v.major.to_string(),
    ]
    .into_iter()
    .map(|t| format!("{t}{suffix}"))
    .collect()
}

pub fn retag(
    to: &ReleaseVersion,
    variants: &[String],
    repository: &str,
    plain_http: bool,
    dry_run: bool,
) -> anyhow::Result<Vec<String>> {
    let mut moved = Vec::new();
    for variant in variants {
        let suffix = if variant == "complete" {
            String::new()
        } else {
            format!("-{variant}")
        };
        let mut args = vec!["oci".to_owned(), "retag".to_owned()];
        args.extend(registry_args(repository, plain_http));
        args.extend(["--to".to_owned(), format!("{to}{suffix}")]);
        for t in rollback_tags(to, &suffix) {
            args.extend(["--tag".to_owned(), t.clone()]);
            moved.push(t);
        }
        if dry_run {
            args.push("--dry-run".into());
        }
        xtask(&args)?;
    }
    Ok(moved)
}
