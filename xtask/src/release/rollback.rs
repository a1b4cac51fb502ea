//! `cargo xtask rollback --to X.Y.Z`: re-point everything that says "latest" to a verified
//! prior release and mark the bad one yanked. Nothing is deleted: assets, tags and releases stay.
//!
//! Every step first looks at the current state and does nothing when it already holds, so a
//! re-run after a failure completes the rollback, and `--dry-run` lists what each step would do.
//! Rolling forward is the same command with `--to` the newer version (its yank is undone).

use std::path::PathBuf;

use anyhow::{bail, Context};
use serde::Serialize;

use super::changelog;
use super::git::git;
use super::github::Update;
use super::publish::{self, PublishedAsset};
use super::version::ReleaseVersion;
use super::{homebrew, notify, Repo, StepReport};

#[derive(Debug, clap::Args)]
pub struct RollbackArgs {
    /// The version to go back (or forward) to; it must be published and verify.
    #[arg(long)]
    to: String,
    /// The release to yank. Default: GitHub's current latest release.
    #[arg(long)]
    from: Option<String>,
    /// Why (goes into the yanked release's notice and the notification).
    #[arg(long, default_value = "rolled back")]
    reason: String,
    /// Verify the target and list every step with what it would do; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Leave out these steps (comma-separated): oci, homebrew, notify.
    #[arg(long, value_delimiter = ',')]
    skip: Vec<super::Skippable>,
    #[arg(long, env = "FERRY_GITHUB_API_URL")]
    api_url: Option<String>,
    #[arg(long)]
    json: bool,
    #[arg(long, env = "FERRY_RELEASE_REPO", hide = true)]
    repo: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
struct RollbackSummary {
    to: String,
    from: Option<String>,
    dry_run: bool,
    steps: Vec<StepReport>,
    assets: Vec<PublishedAsset>,
}

pub fn run(args: &RollbackArgs) -> anyhow::Result<()> {
    let repo = Repo::open(args.repo.as_deref())?;
    let _lock = if args.dry_run {
        None
    } else {
        Some(super::journal::Journal::lock(&repo.path)?)
    };
    let to = ReleaseVersion::parse(&args.to)?;
    let gh = repo.github(args.api_url.as_deref())?;
    // 1. The target must be a published release that verifies; refuse anything else.
    let target = gh.find(&to.tag())?.with_context(|| {
        format!(
            "there is no GitHub release {}; roll back to a published version",
            to.tag()
        )
    })?;
    if target.draft {
        bail!(
            "{} is a draft, never published; roll back to a published version",
            to.tag()
        );
    }
    eprintln!(
        "--> verify {}: downloading and checking every asset",
        to.tag()
    );
    let assets = publish::verify(&gh, &target, None, &repo.public_key()?).with_context(|| {
        format!(
            "{} does not verify, so it is not a safe rollback target",
            to.tag()
        )
    })?;
    let from = match &args.from {
        Some(f) => Some(ReleaseVersion::parse(f)?),
        None => gh
            .latest()?
            .and_then(|r| ReleaseVersion::from_tag(&r.tag_name))
            .filter(|v| *v != to),
    };
    let from_release = match &from {
        Some(f) => Some(
            gh.find(&f.tag())?
                .with_context(|| format!("there is no GitHub release {} to yank", f.tag()))?,
        ),
        None => None,
    };
    let mut steps: Vec<StepReport> = vec![StepReport {
        name: "verify",
        status: format!("{} assets verified", assets.len()),
    }];
    let mut failed: Option<anyhow::Error> = None;
    let dry = args.dry_run;
    let skip = |s: super::Skippable| args.skip.contains(&s);
    let mut record = |name: &'static str, r: anyhow::Result<String>| match r {
        Ok(status) => steps.push(StepReport { name, status }),
        Err(e) => {
            steps.push(StepReport {
                name,
                status: format!("FAILED: {e:#}"),
            });
            if failed.is_none() {
                failed = Some(e);
            }
        }
    };

    // 2. GitHub's latest (and so the installers' latest.json, which is read through it).
    record(
        "latest",
        (|| {
            let yanked = target
                .body
                .as_deref()
                .is_some_and(|b| b.starts_with(changelog::YANK_MARK));
            let current = gh.latest()?.map(|r| r.tag_name);
            if current.as_deref() == Some(&to.tag())
                && !yanked
                && target.prerelease == to.is_prerelease()
            {
                return Ok("already latest".into());
            }
            if dry {
                return Ok(format!(
                    "would: make {} latest{}",
                    to.tag(),
                    if yanked { " and lift its yank" } else { "" }
                ));
            }
            let body = target.body.as_deref().and_then(changelog::unyank_notice);
            gh.update(
                target.id.into_inner(),
                &Update {
                    body: body.as_deref(),
                    prerelease: Some(to.is_prerelease()),
                    make_latest: Some(true),
                    ..Default::default()
                },
            )?;
            Ok(format!("{} is latest", to.tag()))
        })(),
    );
    record(
        "pointer",
        Ok(format!(
            "latest.json is read through GitHub's latest: {}",
            if assets.iter().any(|a| a.name == super::pointer::FILE_NAME) {
                format!("{}'s signed pointer", to.tag())
            } else {
                format!(
                    "WARNING: {} has no latest.json (released before pointers)",
                    to.tag()
                )
            }
        )),
    );

    // 3. Yank the bad release: pre-release flag (so it can never be latest) plus a notice.
    if let (Some(f), Some(rel)) = (&from, &from_release) {
        record(
            "yank",
            (|| {
                let body = rel.body.clone().unwrap_or_default();
                let notice = changelog::yank_notice(&body, &to, &args.reason);
                if notice.is_none() && rel.prerelease {
                    return Ok(format!("{} already yanked", f.tag()));
                }
                if dry {
                    return Ok(format!(
                        "would: mark {} yanked (pre-release + notice)",
                        f.tag()
                    ));
                }
                gh.update(
                    rel.id.into_inner(),
                    &Update {
                        body: notice.as_deref(),
                        prerelease: Some(true),
                        make_latest: Some(false),
                        ..Default::default()
                    },
                )?;
                Ok(format!("{} yanked", f.tag()))
            })(),
        );
    }

    // 4. The Homebrew formula: the target's, as a new commit in the tap.
    record(
        "homebrew",
        (|| {
            let Some(hb) = repo.rc.homebrew.as_ref() else {
                return Ok("skipped: no [ferry.release.homebrew]".into());
            };
            if skip(super::Skippable::Homebrew) {
                return Ok("skipped: --skip".into());
            }
            if to.is_prerelease() {
                return Ok(
                    "skipped: pre-release target; the formula tracks stable releases".into(),
                );
            }
            // The target's own formula (made by its dist, verified above) when it has one.
            let file = format!("{}.rb", repo.ws.ferry.binary);
            let text = match gh
                .assets(target.id.into_inner())?
                .into_iter()
                .find(|a| a.name == file)
            {
                Some(a) => String::from_utf8(gh.download(&a)?)
                    .with_context(|| format!("{file} of {} is not text", to.tag()))?,
                None => {
                    let named: Vec<homebrew::Named<'_>> =
                        assets.iter().map(homebrew::Named::from).collect();
                    homebrew::formula(&repo, hb, &to, &named)?
                }
            };
            if dry {
                return Ok(format!(
                    "would: write the {} formula to the tap (unchanged formulas make no commit)",
                    to.tag()
                ));
            }
            let msg = match &from {
                Some(f) => format!(
                    "{} {to}: roll back from {f} ({})",
                    repo.ws.ferry.binary, args.reason
                ),
                None => format!("{} {to}", repo.ws.ferry.binary),
            };
            homebrew::write_to_tap(hb, &format!("{}.rb", repo.ws.ferry.binary), &text, &msg)
        })(),
    );

    record(
        "oci",
        (|| {
            if skip(super::Skippable::Oci) {
                return Ok("skipped: --skip".into());
            }
            let Some(repository) = repo.rc.image_repository.as_deref() else {
                return Ok("skipped: no ferry.release.image-repository".into());
            };
            let variants: Vec<String> = repo.ws.ferry.variants.keys().cloned().collect();
            let moved =
                super::oci::retag(&to, &variants, repository, repo.rc.image_plain_http, dry)?;
            Ok(format!(
                "{}{}",
                if dry { "would: retag " } else { "retagged " },
                moved.join(", ")
            ))
        })(),
    );

    // 5. CHANGELOG.md: `[YANKED]` on the bad version (and off the target, rolling forward).
    record("changelog", changelog_marks(&repo, &to, from.as_ref(), dry));

    // 6. Tell people.
    record(
        "notify",
        (|| {
            let Some(n) = repo.rc.notify.as_ref() else {
                return Ok("skipped: no [ferry.release.notify]".into());
            };
            if skip(super::Skippable::Notify) {
                return Ok("skipped: --skip".into());
            }
            if dry {
                return Ok("would: POST the rollback to the webhook".into());
            }
            let bin = &repo.ws.ferry.binary;
            notify::send(
                n,
                &notify::Payload {
                    text: format!(
                        "{bin} rolled back to {to}{}: {}",
                        from.as_ref()
                            .map(|f| format!(" from {f}"))
                            .unwrap_or_default(),
                        args.reason
                    ),
                    event: "rollback",
                    project: bin.clone(),
                    version: to.to_string(),
                    tag: to.tag(),
                    url: Some(target.html_url.to_string()),
                    prerelease: to.is_prerelease(),
                    latest: true,
                    rolled_back: from.as_ref().map(ToString::to_string),
                    reason: Some(args.reason.clone()),
                    assets: assets.clone(),
                },
            )?;
            Ok("sent".into())
        })(),
    );

    let summary = RollbackSummary {
        to: to.to_string(),
        from: from.as_ref().map(ToString::to_string),
        dry_run: dry,
        steps,
        assets,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!(
            "{} to {}{}",
            if dry { "rollback plan" } else { "rolled back" },
            summary.to,
            summary
                .from
                .as_deref()
                .map(|f| format!(" from {f}"))
                .unwrap_or_default()
        );
        for s in &summary.steps {
            println!("  {:<10} {}", s.name, s.status);
        }
    }
    if let Some(e) = failed {
        bail!("{e:#}\nthe rollback is incomplete: the steps above marked FAILED did not happen, the others did; fix the cause and re-run the same command (done steps are left as they are)");
    }
    Ok(())
}

fn changelog_marks(
    repo: &Repo,
    to: &ReleaseVersion,
    from: Option<&ReleaseVersion>,
    dry: bool,
) -> anyhow::Result<String> {
    let path = repo.path.join(changelog::FILE_NAME);
    let mut text = std::fs::read_to_string(&path).context("reading CHANGELOG.md")?;
    let mut changed = Vec::new();
    if let Some(f) = from {
        if let Some(t) = changelog::set_yanked(&text, f, true) {
            text = t;
            changed.push(format!("{f} [YANKED]"));
        }
    }
    if let Some(t) = changelog::set_yanked(&text, to, false) {
        text = t;
        changed.push(format!("{to} un-yanked"));
    }
    if changed.is_empty() {
        return Ok("already marked".into());
    }
    if dry {
        return Ok(format!(
            "would: {} in CHANGELOG.md, commit and push",
            changed.join(", ")
        ));
    }
    let r = &repo.path;
    let dirty = super::git::dirty_files(r)?;
    if !dirty.is_empty() {
        bail!("the work tree is not clean, so CHANGELOG.md can't be committed; commit or stash ({}) and re-run", dirty.join(", "));
    }
    std::fs::write(&path, text).context("writing CHANGELOG.md")?;
    git(r, &["add", "--", changelog::FILE_NAME])?;
    git(
        r,
        &[
            "commit",
            "-q",
            "-m",
            &format!("chore(release): {} (rollback)", changed.join(", ")),
        ],
    )?;
    let pushed = git(r, &["push", "-q", &repo.rc.remote, &repo.rc.branch]);
    Ok(match pushed {
        Ok(_) => format!("{} (committed, pushed)", changed.join(", ")),
        Err(e) => bail!(
            "committed the CHANGELOG marks but pushing failed: {e:#}; run `git push {} {}`",
            repo.rc.remote,
            repo.rc.branch
        ),
    })
}
