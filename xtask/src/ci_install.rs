//! `cargo xtask ci-install`: copies the CI definitions kept in `ci/` to where GitHub and GitLab
//! read them (`.github/workflows/`, `.gitlab-ci.yml`), with a header that names their source.
//!
//! `ci/` is the source of truth so the workflows are reviewed, tested (actionlint and the
//! vendored JSON schemas, in `tests/it/ci_workflows.rs`) and versioned with the toolchain they
//! call. A copy rather than a symlink: a symlink depends on how the CI host reads the
//! repository and on the clone (Windows checkouts without symlink support get a text file),
//! while a copy with a header naming its source works everywhere, and `--check` fails when it
//! is missing or stale, naming the command that fixes it. (GitLab can also read
//! `ci/gitlab/.gitlab-ci.yml` in place: Settings → CI/CD → CI/CD configuration file.)

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

/// `(source in ci/, destination in the checkout, which CI system)`.
const FILES: &[(&str, &str, Ci)] = &[
    (
        "ci/github/workflows/ci.yml",
        ".github/workflows/ci.yml",
        Ci::Github,
    ),
    (
        "ci/github/workflows/release.yml",
        ".github/workflows/release.yml",
        Ci::Github,
    ),
    ("ci/gitlab/.gitlab-ci.yml", ".gitlab-ci.yml", Ci::Gitlab),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Ci {
    Github,
    Gitlab,
}

#[derive(Debug, clap::Args)]
pub struct CiInstallArgs {
    /// Which CI systems to install for (comma-separated). Default: both.
    #[arg(long, value_delimiter = ',')]
    only: Vec<Ci>,
    /// Write nothing; fail when an installed file is missing or differs from `ci/`.
    #[arg(long)]
    check: bool,
    /// The checkout to install into. Default: this repository.
    #[arg(long, value_name = "DIR")]
    into: Option<PathBuf>,
}

/// The header every installed copy starts with; YAML comments, so both systems ignore it.
fn header(source: &str) -> String {
    format!(
        "# Installed by `cargo xtask ci-install` from {source}: edit that file, then run the\n\
         # command again (`cargo xtask ci-install --check` fails while this copy is stale).\n"
    )
}

/// The files to write: destination path (relative to the checkout) and content.
pub fn render(root: &Path, only: &[Ci]) -> anyhow::Result<Vec<(&'static str, String)>> {
    FILES
        .iter()
        .filter(|(_, _, ci)| only.is_empty() || only.contains(ci))
        .map(|(src, dest, _)| {
            let body = std::fs::read_to_string(root.join(src))
                .with_context(|| format!("reading {src}"))?;
            Ok((*dest, header(src) + &body))
        })
        .collect()
}

pub fn run(args: &CiInstallArgs) -> anyhow::Result<()> {
    let root = crate::dist::project_root();
    let into = match &args.into {
        Some(d) => std::path::absolute(d)?,
        None => root.clone(),
    };
    let files = render(&root, &args.only)?;
    if args.check {
        let stale: Vec<&str> = files
            .iter()
            .filter(|(dest, want)| {
                std::fs::read_to_string(into.join(dest)).ok().as_deref() != Some(want.as_str())
            })
            .map(|(dest, _)| *dest)
            .collect();
        if !stale.is_empty() {
            bail!(
                "{} out of date with ci/ in {}: run `cargo xtask ci-install{}` and commit the result",
                stale.join(", "),
                into.display(),
                args.into
                    .as_ref()
                    .map(|d| format!(" --into {}", d.display()))
                    .unwrap_or_default()
            );
        }
        eprintln!("ci-install: {} file(s) up to date", files.len());
        return Ok(());
    }
    for (dest, content) in &files {
        let path = into.join(dest);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(&path, content).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("ci-install: wrote {dest}");
    }
    Ok(())
}
