//! The Homebrew tap: a git repository holding `Formula/<binary>.rb`. A release clones it,
//! writes the formula for the new version, commits and pushes; rollback writes the target
//! version's formula the same way (a new commit: history is never rewritten).

use anyhow::{bail, Context};
use serde::Serialize;

use super::config::HomebrewConfig;
use super::git::git;
use super::publish::LocalAsset;
use super::version::ReleaseVersion;
use super::Repo;

pub const TEMPLATE: &str = "packaging/homebrew/ferry.rb.j2";

/// (os, cpu, platform in archive names) the formula covers.
const PLATFORMS: &[(&str, &str, &str)] = &[
    ("macos", "arm", "macos-arm64"),
    ("macos", "intel", "macos-amd64"),
    ("linux", "arm", "linux-arm64"),
    ("linux", "intel", "linux-amd64"),
];

#[derive(Serialize)]
struct Build {
    cpu: &'static str,
    url: String,
    sha256: String,
}

#[derive(Serialize)]
struct Os {
    name: &'static str,
    builds: Vec<Build>,
}

/// A file name and its SHA-256, from a dist directory or a verified release.
pub struct Named<'a> {
    pub name: &'a str,
    pub sha256: &'a str,
}

impl<'a> From<&'a LocalAsset> for Named<'a> {
    fn from(a: &'a LocalAsset) -> Self {
        Named {
            name: &a.name,
            sha256: &a.sha256,
        }
    }
}

impl<'a> From<&'a super::publish::PublishedAsset> for Named<'a> {
    fn from(a: &'a super::publish::PublishedAsset) -> Self {
        Named {
            name: &a.name,
            sha256: &a.sha256,
        }
    }
}

/// The formula text for `version` from its assets.
pub fn formula(
    repo: &Repo,
    hb: &HomebrewConfig,
    version: &ReleaseVersion,
    assets: &[Named<'_>],
) -> anyhow::Result<String> {
    let meta = &repo.ws.ferry.package;
    let bin = &repo.ws.ferry.binary;
    let mut oses: Vec<Os> = Vec::new();
    // `urls` is what the dist stage's template reads (slot → url, sha256); `oses` what the
    // older template did. Both are given so either template renders.
    let mut urls = std::collections::BTreeMap::new();
    for (os, cpu, platform) in PLATFORMS {
        let Some((a, name)) = [*platform, &format!("{platform}-gnu")]
            .iter()
            .find_map(|p| {
                let name = format!("{bin}-{version}-{p}-{}.tar.gz", hb.variant);
                assets.iter().find(|a| a.name == name).map(|a| (a, name))
            })
        else {
            continue;
        };
        let build = Build {
            cpu,
            url: format!(
                "{}/releases/download/{}/{name}",
                repo.repo_url(),
                version.tag()
            ),
            sha256: a.sha256.to_owned(),
        };
        urls.insert(
            *platform,
            minijinja::context! { url => build.url.clone(), sha256 => build.sha256.clone() },
        );
        match oses.iter_mut().find(|o| o.name == *os) {
            Some(o) => o.builds.push(build),
            None => oses.push(Os {
                name: os,
                builds: vec![build],
            }),
        }
    }
    if oses.is_empty() {
        bail!(
            "no {}-{version}-<macos|linux>-<arm64|amd64>-{}.tar.gz among the release's files: the formula would install nothing",
            bin, hb.variant
        );
    }
    let source = std::fs::read_to_string(repo.path.join(TEMPLATE))
        .with_context(|| format!("reading the formula template {TEMPLATE}"))?;
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.set_keep_trailing_newline(true);
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    let class_name: String = bin
        .split(['-', '_'])
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect();
    let ctx = minijinja::context! {
        class_name, binary => bin, tag => version.tag(), version => version.to_string(),
        description => meta.description.replace('"', "\\\""), homepage => meta.homepage, license => meta.license,
        oses, urls, app => bin, desc => meta.description.replace('"', "\\\""),
        variant => hb.variant,
    };
    env.template_from_named_str(TEMPLATE, &source)
        .and_then(|t| t.render(ctx))
        .map_err(|e| anyhow::anyhow!("rendering {TEMPLATE}: {e:#}"))
}

/// Writes the formula into the tap and pushes it; returns the tap's commit (unchanged formula:
/// no commit, the current one is returned). `message` is the commit message.
pub fn write_to_tap(
    hb: &HomebrewConfig,
    file: &str,
    text: &str,
    message: &str,
) -> anyhow::Result<String> {
    let tmp = tempdir()?;
    let dir = tmp.join("tap");
    git(
        &tmp,
        &["clone", "-q", "--branch", &hb.branch, &hb.tap, "tap"],
    )
    .context("cloning the Homebrew tap (ferry.release.homebrew.tap)")?;
    let path = dir.join("Formula").join(file);
    std::fs::create_dir_all(path.parent().expect("has a parent"))?;
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    let result = if old == text {
        git(&dir, &["rev-parse", "HEAD"])
    } else {
        std::fs::write(&path, text)?;
        git(&dir, &["add", "--", &format!("Formula/{file}")])?;
        git(
            &dir,
            &[
                "-c",
                "user.name=ferry release",
                "-c",
                "user.email=release@ferry.invalid",
                "commit",
                "-q",
                "-m",
                message,
            ],
        )?;
        git(&dir, &["push", "-q", "origin", &hb.branch]).context("pushing the Homebrew tap")?;
        git(&dir, &["rev-parse", "HEAD"])
    };
    let _ = std::fs::remove_dir_all(&tmp);
    result
}

pub fn update(
    repo: &Repo,
    hb: &HomebrewConfig,
    version: &ReleaseVersion,
    message: &str,
    assets: &[LocalAsset],
) -> anyhow::Result<String> {
    // The dist's homebrew stage renders `<binary>.rb` (signed and checksummed with the rest):
    // publish that file as is; render one only for a dist without it.
    let file = format!("{}.rb", repo.ws.ferry.binary);
    let text = match assets.iter().find(|a| a.name == file) {
        Some(a) => std::fs::read_to_string(&a.path)
            .with_context(|| format!("reading {}", a.path.display()))?,
        None => {
            let named: Vec<Named<'_>> = assets.iter().map(Named::from).collect();
            formula(repo, hb, version, &named)?
        }
    };
    write_to_tap(hb, &format!("{}.rb", repo.ws.ferry.binary), &text, message)
}

fn tempdir() -> anyhow::Result<std::path::PathBuf> {
    let base = std::env::temp_dir().join(format!(
        "ferry-tap-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    std::fs::create_dir_all(&base).with_context(|| format!("creating {}", base.display()))?;
    Ok(base)
}
