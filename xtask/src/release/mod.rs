//! `cargo xtask release` and `cargo xtask changelog`; `rollback.rs` has `cargo xtask rollback`.
//!
//! A release is an ordered list of steps (below, `STEPS`), each recorded in the release journal
//! when done, so a failed run continues with `--resume` exactly where it stopped and a re-run
//! never redoes (or undoes) anything. Preflight runs first and changes nothing; `--dry-run`
//! stops after it and prints the plan.
//!
//! Map: `version.rs` (tags, bumps) · `preflight.rs` · `bump.rs` (Cargo.toml/Cargo.lock) ·
//! `changelog.rs` · `journal.rs` · `github.rs` (octocrab) · `publish.rs` (the transaction) ·
//! `pointer.rs` (latest.json) · `homebrew.rs` · `notify.rs` · `rollback.rs`.

pub mod bump;
pub mod changelog;
pub mod config;
pub mod git;
pub mod github;
pub mod homebrew;
pub mod journal;
pub mod notify;
pub mod oci;
pub mod pointer;
pub mod preflight;
pub mod publish;
pub mod rollback;
pub mod version;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

use self::config::ReleaseConfig;
use self::journal::Journal;
use self::preflight::Problem;
use self::version::{release_tags, Bump, Pre, ReleaseVersion};
use crate::config::DistWorkspace;

/// The release, in order. Why each sits where it does:
pub const STEPS: &[(&str, &str)] = &[
    // Everything that only touches the local repository first: it can be redone by hand.
    ("bump", "set the version in Cargo.toml(s) and Cargo.lock"),
    (
        "changelog",
        "move Unreleased + Conventional Commits into the version's section",
    ),
    ("commit", "commit the bump and the changelog"),
    ("tag", "annotated tag vX.Y.Z on that commit"),
    // Artifacts are built from the tagged commit, so they carry its version and date.
    (
        "dist",
        "build, package, checksum and sign (or take --dist-dir)",
    ),
    (
        "pointer",
        "write and sign latest.json, the installers' pointer",
    ),
    // Nothing leaves the machine before here; --skip-publish stops before this line.
    ("push", "push the release commit and the tag"),
    (
        "draft",
        "find or create the draft GitHub release (invisible to users)",
    ),
    (
        "upload",
        "upload the assets the draft lacks, checking those it has",
    ),
    (
        "verify",
        "re-download every asset: size, SHA-256, SHA256SUMS, signatures",
    ),
    // Only a verified release is ever shown to users.
    (
        "publish",
        "flip the draft to published; make_latest only for the highest stable",
    ),
    // Registries follow the published release; each is skippable.
    ("oci", "push the images and their tags"),
    (
        "homebrew",
        "write Formula/<binary>.rb in the tap, commit, push",
    ),
    ("notify", "POST a JSON summary to the webhook"),
];

/// Stages `--skip` can leave out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Skippable {
    Oci,
    Homebrew,
    Notify,
}

#[derive(Debug, clap::Args)]
pub struct ReleaseArgs {
    /// Bump from the last release tag (or Cargo.toml's version before the first release).
    #[arg(long, conflicts_with = "version")]
    bump: Option<Bump>,
    /// The exact version, e.g. 1.2.0 or 1.2.0-rc.1.
    #[arg(long)]
    version: Option<String>,
    /// Make it a pre-release on this channel (1.2.0-rc.1, then rc.2, …).
    #[arg(long)]
    pre: Option<Pre>,
    /// Leave the GitHub release as a draft.
    #[arg(long)]
    draft: bool,
    /// Run the preflight and print every step with what it would do; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Stop before anything leaves the machine (after commit, tag, dist); `--resume` publishes.
    #[arg(long)]
    skip_publish: bool,
    /// Continue the interrupted (or --skip-publish) release from its journal.
    #[arg(long, conflicts_with_all = ["bump", "version", "pre", "dry_run"])]
    resume: bool,
    /// Leave out registry stages (comma-separated).
    #[arg(long, value_delimiter = ',')]
    skip: Vec<Skippable>,
    /// Publish the release of the checked-out tag vX.Y.Z (with --version X.Y.Z): no bump,
    /// changelog, commit, tag or push. For CI publish jobs on a pushed tag.
    #[arg(long, requires = "version", conflicts_with_all = ["bump", "pre", "resume"])]
    tagged: bool,
    /// Publish this dist directory instead of running `cargo xtask dist --targets all`.
    #[arg(long, value_name = "DIR")]
    dist_dir: Option<PathBuf>,
    /// GitHub REST API root (GitHub Enterprise: https://HOST/api/v3). Default: from config.
    #[arg(long, env = "FERRY_GITHUB_API_URL")]
    api_url: Option<String>,
    /// Print the summary (or the plan, with --dry-run) as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// The repository to release (default: this one). For tests and release checkouts.
    #[arg(long, env = "FERRY_RELEASE_REPO", hide = true)]
    repo: Option<PathBuf>,
    /// The changelog date, YYYY-MM-DD (default: today, UTC).
    #[arg(long, hide = true)]
    date: Option<String>,
}

/// What a run was asked to do; stored in the journal so `--resume` needs no flags.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RunOptions {
    version: String,
    draft: bool,
    skip_publish: bool,
    skip: Vec<Skippable>,
    dist_dir: Option<PathBuf>,
    api_url: Option<String>,
    date: String,
    /// The tag exists and is checked out: the repository steps are not run.
    #[serde(default)]
    tagged: bool,
}

/// The steps `--tagged` leaves out: the tag and its commit exist and are pushed.
const REPOSITORY_STEPS: &[&str] = &["bump", "changelog", "commit", "tag", "push"];

pub struct Repo {
    pub path: PathBuf,
    pub ws: DistWorkspace,
    pub rc: ReleaseConfig,
}

impl Repo {
    pub fn open(repo: Option<&Path>) -> anyhow::Result<Self> {
        let path = match repo {
            Some(p) => std::path::absolute(p)?,
            None => crate::dist::project_root(),
        };
        let ws = DistWorkspace::load(&path)?;
        let rc = ws.ferry.release.clone().context(
            "dist-workspace.toml has no [ferry.release] table; add one with `github = { repository = \"owner/name\" }`",
        )?;
        Ok(Self { path, ws, rc })
    }

    pub fn repo_url(&self) -> String {
        self.rc.github.repo_url()
    }

    pub fn public_key(&self) -> anyhow::Result<minisign::PublicKey> {
        crate::sign::load_public_key(&self.path.join(&self.ws.ferry.signing_public_key))
    }

    /// Release versions tagged in the repository, highest first.
    pub fn released(&self) -> anyhow::Result<Vec<ReleaseVersion>> {
        let tags = git::tags(&self.path)?;
        Ok(release_tags(tags.iter().map(String::as_str)))
    }

    pub fn token(&self) -> Option<String> {
        std::env::var(&self.rc.github.token_env)
            .ok()
            .filter(|t| !t.trim().is_empty())
    }

    pub fn token_problem(&self) -> Problem {
        Problem(format!(
            "{} is not set; create a token with `contents: write` on {} and export it (CI: use the workflow's token)",
            self.rc.github.token_env, self.rc.github.repository
        ))
    }

    pub fn github(&self, api_url: Option<&str>) -> anyhow::Result<github::Github> {
        let token = self
            .token()
            .ok_or_else(|| anyhow::anyhow!(self.token_problem().0))?;
        let (owner, name) = self.rc.github.owner_repo()?;
        github::Github::new(
            api_url.unwrap_or(&self.rc.github.api_url),
            &token,
            owner,
            name,
        )
    }
}

pub fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    crate::context::rfc3339(secs)[..10].to_owned()
}

/// The outcome of one step, for the summary.
#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    pub name: &'static str,
    /// `done`, `already done`, `skipped: <reason>` or `would: <what>` (dry run).
    pub status: String,
}

#[derive(Debug, Serialize)]
pub struct Summary {
    pub version: String,
    pub tag: String,
    pub dry_run: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release_url: Option<String>,
    pub draft: bool,
    pub prerelease: bool,
    pub latest: bool,
    pub steps: Vec<StepReport>,
    pub assets: Vec<publish::PublishedAsset>,
    pub journal: String,
}

pub fn run(args: &ReleaseArgs) -> anyhow::Result<()> {
    let repo = Repo::open(args.repo.as_deref())?;
    let _lock = if args.dry_run {
        None
    } else {
        Some(Journal::lock(&repo.path)?)
    };
    let summary = if args.resume {
        resume(&repo)?
    } else {
        start(&repo, args)?
    };
    print_summary(&summary, args.json)
}

fn print_summary(s: &Summary, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(s)?);
        return Ok(());
    }
    let what = if s.dry_run { "plan for" } else { "released" };
    println!("{what} ferry {} ({})", s.version, s.tag);
    for st in &s.steps {
        println!("  {:<10} {}", st.name, st.status);
    }
    if let Some(u) = &s.release_url {
        println!("release: {u}{}", if s.draft { " (draft)" } else { "" });
    }
    for a in &s.assets {
        println!("  {}  {}  {}", a.sha256, a.name, a.url);
    }
    println!("journal: {}", s.journal);
    Ok(())
}

fn start(repo: &Repo, args: &ReleaseArgs) -> anyhow::Result<Summary> {
    if let Some((path, j)) = Journal::unfinished(&repo.path)?.pop() {
        bail!(
            "the release of {} is not finished (journal {}); run `cargo xtask release --resume` to continue it",
            j.version,
            path.display()
        );
    }
    let released = repo.released()?;
    let last = released.first().cloned();
    let version = match (&args.version, args.bump, args.pre) {
        (Some(v), _, pre) => {
            let v = ReleaseVersion::parse(v)?;
            if pre.is_some() && !v.is_prerelease() {
                bail!("--pre needs a pre-release --version (1.2.0-rc.1) or a --bump");
            }
            v
        }
        (None, bump, pre) => {
            let base = match &last {
                Some(l) => l.clone(),
                None => ReleaseVersion::parse(&bump::current(&repo.path)?)?,
            };
            base.next(bump, pre)?
        }
    };
    // A tagged release is among the released versions already; the last one is before it.
    let last = if args.tagged {
        released.iter().find(|v| **v < version).cloned()
    } else {
        last
    };
    let date = args.date.clone().unwrap_or_else(today);
    let mut problems = if args.tagged {
        preflight::tagged_checks(&repo.path, &version)?
    } else {
        let mut problems = preflight::git_checks(&preflight::Checks {
            repo: &repo.path,
            branch: &repo.rc.branch,
            remote: &repo.rc.remote,
            version: &version,
            last: last.as_ref(),
        })?;
        if let Err(e) = prepared_changelog(repo, &version, last.as_ref(), &date) {
            problems.push(Problem(format!("{e:#}")));
        }
        problems
    };
    if !args.dry_run {
        if repo.token().is_none() && !args.skip_publish {
            problems.push(repo.token_problem());
        }
        if let Err(e) = signer(repo) {
            problems.push(Problem(format!("{e:#}")));
        }
        if let Some(n) = &repo.rc.notify {
            let unset = std::env::var(&n.webhook_env).map_or(true, |u| u.trim().is_empty());
            if unset && !args.skip.contains(&Skippable::Notify) && !args.draft {
                problems.push(Problem(format!(
                    "{} is not set; export the webhook URL, or pass --skip notify",
                    n.webhook_env
                )));
            }
        }
    }
    preflight::fail_if_any(&problems)?;
    let opts = RunOptions {
        version: version.to_string(),
        draft: args.draft,
        skip_publish: args.skip_publish,
        skip: args.skip.clone(),
        dist_dir: args
            .dist_dir
            .as_ref()
            .map(std::path::absolute)
            .transpose()?,
        api_url: args.api_url.clone(),
        date,
        tagged: args.tagged,
    };
    if args.dry_run {
        return Ok(plan(repo, &version, last.as_ref(), &opts));
    }
    let journal = Journal {
        version: version.to_string(),
        options: serde_json::to_value(&opts)?,
        steps: vec![],
        finished: false,
    };
    execute(repo, journal, opts)
}

fn resume(repo: &Repo) -> anyhow::Result<Summary> {
    let Some((_, journal)) = Journal::unfinished(&repo.path)?.pop() else {
        bail!(
            "no interrupted release to resume (no unfinished journal in {}); start one with `cargo xtask release --bump …`",
            Journal::dir(&repo.path).display()
        );
    };
    let opts: RunOptions = serde_json::from_value(journal.options.clone())
        .context("the journal's options are not readable; finish the release by hand")?;
    eprintln!(
        "resuming the release of {} after: {}",
        journal.version,
        journal
            .steps
            .iter()
            .map(|s| s.step.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    execute(
        repo,
        journal,
        RunOptions {
            skip_publish: false,
            ..opts
        },
    )
}

fn signer(repo: &Repo) -> anyhow::Result<crate::sign::Signer> {
    crate::sign::Signer::from_env(&repo.path.join(&repo.ws.ferry.signing_public_key))
}

fn prepared_changelog(
    repo: &Repo,
    version: &ReleaseVersion,
    last: Option<&ReleaseVersion>,
    date: &str,
) -> anyhow::Result<changelog::Prepared> {
    let path = repo.path.join(changelog::FILE_NAME);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "reading {}; create it with a `## [Unreleased]` section",
            path.display()
        )
    })?;
    let tag = last.map(ReleaseVersion::tag);
    let url = repo.repo_url();
    let entries: Vec<_> = changelog::commits_since(&repo.path, tag.as_deref())?
        .iter()
        .filter_map(|c| changelog::classify(c, &url))
        .collect();
    changelog::prepare(&text, version, last, date, &entries, &url)
}

/// Why a registry stage does not run, or `None` when it does.
fn registry_skip(
    repo: &Repo,
    opts: &RunOptions,
    version: &ReleaseVersion,
    name: &str,
) -> Option<String> {
    let asked = |s: Skippable| opts.skip.contains(&s).then(|| "--skip".to_owned());
    match name {
        "oci" => asked(Skippable::Oci)
            .or_else(|| {
                oci::skip_reason(
                    repo.rc.image_repository.as_deref(),
                    opts.dist_dir.as_deref(),
                )
            })
            .or_else(|| opts.draft.then(|| "--draft: nothing is published".into())),

        "homebrew" => asked(Skippable::Homebrew)
            .or_else(|| {
                repo.rc
                    .homebrew
                    .is_none()
                    .then(|| "no [ferry.release.homebrew]".into())
            })
            .or_else(|| {
                version
                    .is_prerelease()
                    .then(|| "pre-release: the formula tracks stable releases".into())
            })
            .or_else(|| opts.draft.then(|| "--draft: nothing is published".into())),
        "notify" => asked(Skippable::Notify)
            .or_else(|| {
                repo.rc
                    .notify
                    .is_none()
                    .then(|| "no [ferry.release.notify]".into())
            })
            .or_else(|| opts.draft.then(|| "--draft: nothing is published".into())),
        _ => None,
    }
}

fn plan(
    repo: &Repo,
    version: &ReleaseVersion,
    last: Option<&ReleaseVersion>,
    opts: &RunOptions,
) -> Summary {
    let steps = STEPS
        .iter()
        .map(|(name, what)| {
            let status = if opts.tagged && REPOSITORY_STEPS.contains(name) {
                "skipped: --tagged".to_owned()
            } else if let Some(r) = registry_skip(repo, opts, version, name) {
                format!("skipped: {r}")
            } else if opts.skip_publish
                && STEPS.iter().position(|s| s.0 == *name)
                    >= STEPS.iter().position(|s| s.0 == "push")
            {
                "skipped: --skip-publish".to_owned()
            } else if *name == "dist" && opts.dist_dir.is_some() {
                format!(
                    "would: use {}",
                    opts.dist_dir
                        .as_ref()
                        .map(|d| d.display().to_string())
                        .unwrap_or_default()
                )
            } else {
                format!("would: {what}")
            };
            StepReport { name, status }
        })
        .collect();
    Summary {
        version: version.to_string(),
        tag: version.tag(),
        dry_run: true,
        release_url: Some(format!(
            "{}/releases/tag/{}",
            repo.repo_url(),
            version.tag()
        )),
        draft: opts.draft,
        prerelease: version.is_prerelease(),
        latest: !version.is_prerelease() && last.is_none_or(|l| version > l) && !opts.draft,
        steps,
        assets: vec![],
        journal: Journal::path(&repo.path, &version.to_string())
            .display()
            .to_string(),
    }
}

/// Runs the steps the journal does not list yet, recording each.
fn execute(repo: &Repo, mut journal: Journal, opts: RunOptions) -> anyhow::Result<Summary> {
    let version = ReleaseVersion::parse(&opts.version)?;
    let tag = version.tag();
    let jpath = Journal::path(&repo.path, &opts.version);
    journal.save(&jpath)?;
    let last = repo.released()?.into_iter().find(|v| *v < version);
    let mut reports = Vec::new();
    let mut summary = Summary {
        version: version.to_string(),
        tag: tag.clone(),
        dry_run: false,
        release_url: None,
        draft: opts.draft,
        prerelease: version.is_prerelease(),
        latest: false,
        steps: vec![],
        assets: vec![],
        journal: jpath.display().to_string(),
    };
    let mut gh: Option<github::Github> = None;
    let mut release: Option<octocrab::models::repos::Release> = None;
    let mut assets: Vec<publish::LocalAsset> = Vec::new();
    let result = (|| -> anyhow::Result<()> {
        for (name, _) in STEPS {
            let name: &'static str = name;
            if opts.skip_publish && name == "push" {
                reports.push(StepReport {
                    name,
                    status:
                        "skipped: --skip-publish (run `cargo xtask release --resume` to publish)"
                            .into(),
                });
                return Ok(());
            }
            if opts.tagged && REPOSITORY_STEPS.contains(&name) {
                reports.push(StepReport {
                    name,
                    status: "skipped: --tagged (the tag exists)".into(),
                });
                continue;
            }
            if let Some(reason) = registry_skip(repo, &opts, &version, name) {
                eprintln!("--> {name}: skipped ({reason})");
                reports.push(StepReport {
                    name,
                    status: format!("skipped: {reason}"),
                });
                continue;
            }
            // Steps whose results later steps need are re-read even when done.
            let done = journal.done(name);
            if done && !matches!(name, "dist" | "pointer" | "draft" | "upload" | "verify") {
                reports.push(StepReport {
                    name,
                    status: "already done".into(),
                });
                continue;
            }
            eprintln!("--> {name}");
            let status = step(
                name,
                repo,
                &opts,
                &version,
                last.as_ref(),
                &mut journal,
                &jpath,
                &mut gh,
                &mut release,
                &mut assets,
                &mut summary,
            )
            .with_context(|| format!("release step `{name}` failed"))?;
            reports.push(StepReport { name, status });
        }
        journal.finished = true;
        journal.save(&jpath)?;
        Ok(())
    })();
    summary.steps = reports;
    if let Err(e) = result {
        let uploads = journal
            .steps
            .iter()
            .filter(|s| s.step == "uploaded")
            .count();
        let mut done: Vec<_> = journal
            .steps
            .iter()
            .filter(|s| s.step != "uploaded")
            .map(|s| s.step.clone())
            .collect();
        if uploads > 0 {
            done.push(format!("{uploads} assets uploaded"));
        }
        bail!(
            "{e:#}\nrelease {tag} stopped; done so far: {}. Fix the cause and run `cargo xtask release --resume` (it continues from here; nothing is redone or deleted)",
            if done.is_empty() { "nothing".to_owned() } else { done.join(", ") }
        );
    }
    Ok(summary)
}

#[allow(clippy::too_many_arguments)]
fn step(
    name: &str,
    repo: &Repo,
    opts: &RunOptions,
    version: &ReleaseVersion,
    last: Option<&ReleaseVersion>,
    journal: &mut Journal,
    jpath: &Path,
    gh: &mut Option<github::Github>,
    release: &mut Option<octocrab::models::repos::Release>,
    assets: &mut Vec<publish::LocalAsset>,
    summary: &mut Summary,
) -> anyhow::Result<String> {
    let tag = version.tag();
    let r = &repo.path;
    let done = journal.done(name);
    match name {
        "bump" => {
            let old = bump::current(r)?;
            let files = bump::apply(r, &old, &version.to_string())?;
            journal.record(
                jpath,
                name,
                files
                    .iter()
                    .map(|f| f.display().to_string())
                    .collect::<Vec<_>>()
                    .join(" "),
            )?;
            Ok(format!("{old} → {version}"))
        }
        "changelog" => {
            let prepared = prepared_changelog(repo, version, last, &opts.date)?;
            std::fs::write(r.join(changelog::FILE_NAME), &prepared.text)
                .context("writing CHANGELOG.md")?;
            journal.record(jpath, name, "")?;
            Ok("done".into())
        }
        "commit" => {
            let message = format!("chore(release): {tag}");
            // A crash between the commit and the journal write: the commit is there already.
            if git::git(r, &["log", "-1", "--format=%s"])? != message {
                let mut add = vec!["add", "--", changelog::FILE_NAME];
                let files = journal.detail("bump").unwrap_or("").to_owned();
                add.extend(files.split_whitespace());
                git::git(r, &add)?;
                git::git(r, &["commit", "-q", "-m", &message])?;
            }
            let head = git::git(r, &["rev-parse", "HEAD"])?;
            journal.record(jpath, name, head.clone())?;
            Ok(head)
        }
        "tag" => {
            if !git::git_ok(
                r,
                &["rev-parse", "-q", "--verify", &format!("refs/tags/{tag}")],
            ) {
                git::git(r, &["tag", "-a", &tag, "-m", &format!("ferry {version}")])?;
            }
            journal.record(jpath, name, tag.clone())?;
            Ok(tag.clone())
        }
        "dist" => {
            let dir = match (&opts.dist_dir, journal.detail("dist")) {
                (_, Some(d)) => PathBuf::from(d),
                (Some(d), None) => d.clone(),
                (None, None) => run_dist(r, version)?,
            };
            if !done {
                journal.record(jpath, name, dir.display().to_string())?;
            }
            *assets = publish::local_assets(&[&dir])?;
            if !assets.iter().any(|a| a.name == "SHA256SUMS") {
                bail!(
                    "{} has no SHA256SUMS; it is not a complete dist directory",
                    dir.display()
                );
            }
            Ok(if done {
                "already done".into()
            } else {
                format!("{} files in {}", assets.len(), dir.display())
            })
        }
        "pointer" => {
            // The installers stage (pipeline II) writes and signs latest.json into the dist
            // directory; only a dist without one (an older dist, `--dist-dir`) gets ours.
            if assets.iter().any(|a| a.name == pointer::FILE_NAME) {
                if !done {
                    journal.record(jpath, name, "from dist")?;
                }
                return Ok("latest.json from the dist directory".into());
            }
            let dir = Journal::dir(r).join(&tag);
            if !done {
                pointer::write(
                    &dir,
                    &pointer::Pointer::new(version, &repo.ws.ferry.binary),
                    &signer(repo)?,
                )?;
                journal.record(jpath, name, dir.display().to_string())?;
            }
            let mut all = publish::local_assets(&[&dir])?;
            all.append(assets);
            all.sort_by(|a, b| a.name.cmp(&b.name));
            *assets = all;
            Ok(if done {
                "already done".into()
            } else {
                "latest.json signed".into()
            })
        }
        "push" => {
            git::git(
                r,
                &[
                    "push",
                    "--atomic",
                    "-q",
                    &repo.rc.remote,
                    &repo.rc.branch,
                    &tag,
                ],
            )
            .context("pushing the release commit and tag; check the remote and your push rights")?;
            journal.record(jpath, name, "")?;
            Ok(format!("{} {} {tag}", repo.rc.remote, repo.rc.branch))
        }
        "draft" => {
            if gh.is_none() {
                *gh = Some(repo.github(opts.api_url.as_deref())?);
            }
            let g = gh.as_ref().expect("set above");
            let found = g.find(&tag)?;
            let rel = match found {
                Some(rel) => rel,
                None => {
                    let path = r.join(changelog::FILE_NAME);
                    let text = std::fs::read_to_string(&path)?;
                    let section = changelog::section_of(&text, version).unwrap_or_default();
                    let notes = changelog::release_notes(&section, version, last, &repo.repo_url());
                    g.create_draft(
                        &tag,
                        &format!("ferry {version}"),
                        &notes,
                        version.is_prerelease(),
                    )?
                }
            };
            summary.release_url = Some(rel.html_url.to_string());
            let id = rel.id.into_inner();
            let status = if done {
                "already done".into()
            } else if rel.draft {
                format!("draft {id}")
            } else {
                format!("release {id} exists (published)")
            };
            if !done {
                journal.record(jpath, name, id.to_string())?;
            }
            *release = Some(rel);
            Ok(status)
        }
        "upload" => {
            let g = gh.as_mut().expect("draft ran first");
            let rel = release.as_ref().expect("draft ran first");
            let uploaded = publish::upload_missing(g, rel, assets, |a| {
                journal.record(jpath, "uploaded", format!("{} sha256:{}", a.name, a.sha256))
            })?;
            if !done {
                journal.record(jpath, name, "")?;
            }
            Ok(format!(
                "{} uploaded, {} already there",
                uploaded.len(),
                assets.len() - uploaded.len()
            ))
        }
        "verify" => {
            let g = gh.as_ref().expect("draft ran first");
            let rel = release.as_ref().expect("draft ran first");
            summary.assets = publish::verify(g, rel, Some(assets), &repo.public_key()?)?;
            if !done {
                journal.record(jpath, name, "")?;
            }
            Ok(format!("{} assets verified", summary.assets.len()))
        }
        "publish" => {
            let g = gh.as_ref().expect("draft ran first");
            let rel = release.as_ref().expect("draft ran first");
            let latest = is_highest_stable(g, version)?;
            let updated = g.update(
                rel.id.into_inner(),
                &github::Update {
                    draft: Some(opts.draft),
                    prerelease: Some(version.is_prerelease()),
                    make_latest: Some(latest && !opts.draft),
                    ..Default::default()
                },
            )?;
            summary.latest = latest && !opts.draft;
            summary.release_url = Some(updated.html_url.to_string());
            journal.record(jpath, name, format!("latest={}", summary.latest))?;
            Ok(if opts.draft {
                "left as a draft (--draft)".into()
            } else if summary.latest {
                "published, latest".into()
            } else {
                "published (not latest)".into()
            })
        }
        "oci" => {
            let repository = repo
                .rc
                .image_repository
                .as_deref()
                .expect("skip checked it");
            let dist = journal
                .detail("dist")
                .map(PathBuf::from)
                .context("dist ran first")?;
            if let Some(reason) = oci::skip_reason(Some(repository), Some(&dist)) {
                return Ok(format!("skipped: {reason}"));
            }
            oci::push(&dist, repository, repo.rc.image_plain_http)?;
            journal.record(jpath, name, repository)?;
            Ok(format!("pushed to {repository}"))
        }
        "homebrew" => {
            // The formula follows GitHub's latest: a backport (1.0.1 after 1.1.0) leaves it.
            if journal.detail("publish") != Some("latest=true") {
                return Ok("skipped: not the latest release".into());
            }
            let hb = repo.rc.homebrew.as_ref().expect("skip checked the table");
            let commit = homebrew::update(
                repo,
                hb,
                version,
                &format!("{} {version}", repo.ws.ferry.binary),
                assets,
            )?;
            journal.record(jpath, name, commit.clone())?;
            Ok(commit)
        }
        "notify" => {
            let n = repo.rc.notify.as_ref().expect("skip checked the table");
            let payload = notify::released(repo, version, summary);
            notify::send(n, &payload)?;
            journal.record(jpath, name, "")?;
            Ok("sent".into())
        }
        other => bail!("unknown release step `{other}`: this is a bug, please report it"),
    }
}

/// `make_latest` goes only to the highest stable version among published releases.
pub fn is_highest_stable(gh: &github::Github, version: &ReleaseVersion) -> anyhow::Result<bool> {
    if version.is_prerelease() {
        return Ok(false);
    }
    let mut published: Vec<ReleaseVersion> = gh
        .releases()?
        .iter()
        .filter(|r| !r.draft && !r.prerelease)
        .filter_map(|r| ReleaseVersion::from_tag(&r.tag_name))
        .collect();
    published.push(version.clone());
    Ok(version::highest_stable(&published) == Some(version))
}

/// `cargo xtask dist --targets all` into `target/dist/<version>`, as its own process: the
/// same command a maintainer runs, with its own preflight (signing key, toolchains).
fn run_dist(repo: &Path, version: &ReleaseVersion) -> anyhow::Result<PathBuf> {
    let out = crate::dist::cargo_target_dir(repo)
        .join("dist")
        .join(version.to_string());
    let exe = std::env::current_exe().context("finding the xtask executable")?;
    let status = std::process::Command::new(exe)
        .args(["dist", "--targets", "all", "--out-dir"])
        .arg(&out)
        .current_dir(repo)
        .status()
        .context("running `cargo xtask dist`")?;
    if !status.success() {
        bail!("`cargo xtask dist --targets all` failed (see above); fix it and run `cargo xtask release --resume`");
    }
    Ok(out)
}

#[derive(Debug, clap::Args)]
pub struct ChangelogArgs {
    /// Write the section for this version into CHANGELOG.md. Without it, print what the next
    /// release's section would be and change nothing.
    #[arg(long)]
    version: Option<String>,
    /// With --version: print the new CHANGELOG.md instead of writing it.
    #[arg(long)]
    dry_run: bool,
    /// The section's date, YYYY-MM-DD (default: today, UTC).
    #[arg(long)]
    date: Option<String>,
    #[arg(long, env = "FERRY_RELEASE_REPO", hide = true)]
    repo: Option<PathBuf>,
}

pub fn run_changelog(args: &ChangelogArgs) -> anyhow::Result<()> {
    let repo = Repo::open(args.repo.as_deref())?;
    let released = repo.released()?;
    let date = args.date.clone().unwrap_or_else(today);
    match &args.version {
        None => {
            let last = released.first();
            let next = ReleaseVersion::parse("0.0.0-unreleased").expect("a valid version literal");
            let p = prepared_changelog(&repo, &next, last, &date)?;
            println!("{}", p.section);
        }
        Some(v) => {
            let v = ReleaseVersion::parse(v)?;
            let last = released.iter().find(|r| **r < v);
            let p = prepared_changelog(&repo, &v, last, &date)?;
            if args.dry_run {
                print!("{}", p.text);
            } else {
                std::fs::write(repo.path.join(changelog::FILE_NAME), p.text)
                    .context("writing CHANGELOG.md")?;
                eprintln!("wrote the {v} section of CHANGELOG.md");
            }
        }
    }
    Ok(())
}
