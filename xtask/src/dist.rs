//! `cargo xtask dist`: build → generate → archive → checksum → sign → manifest, locally, into
//! `target/dist/<version>/`. Parses flags into `Options`, computes the plan, then runs (or with
//! `--dry-run` prints) it.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::Serialize;

use crate::config::DistWorkspace;
use crate::context::{Artifact, Artifacts, GitInfo, Options, ReleaseContext};
use crate::pipeline::{self, StageReport};
use crate::plan::{self, PlanInput, PlannedStage, ReleasePlan};
use crate::sign::Signer;
use crate::split;
use crate::targets::{host_triple, TargetInfo};

#[derive(Debug, clap::Args)]
pub struct DistArgs {
    /// Targets to build, comma-separated triples, `host`, or `all` (every target in
    /// dist-workspace.toml). Default: this machine's target.
    #[arg(long, value_delimiter = ',', env = "FERRY_DIST_TARGETS")]
    targets: Vec<String>,
    /// Variants to build, comma-separated (`complete`, `minimal`). Default: all of them.
    #[arg(long, value_delimiter = ',', env = "FERRY_DIST_VARIANTS")]
    variants: Vec<String>,
    /// Output directory. Default: `<cargo target dir>/dist/<version>`.
    #[arg(long, env = "FERRY_DIST_OUT_DIR")]
    out_dir: Option<PathBuf>,
    /// Cargo profile for the binaries (`dist-test` builds faster, for tests).
    #[arg(long, default_value = "release", env = "FERRY_DIST_PROFILE")]
    profile: String,
    /// Take binaries from `<DIR>/<target>/<variant>/ferry[.exe]` instead of building them.
    #[arg(long, value_name = "DIR")]
    prebuilt: Option<PathBuf>,
    /// Don't sign; otherwise a key is required (FERRY_MINISIGN_KEY or FERRY_MINISIGN_KEY_FILE).
    #[arg(long)]
    no_sign: bool,
    /// Public key the signing key must match. Default: `ferry.signing-public-key`.
    #[arg(long, env = "FERRY_MINISIGN_PUBLIC_KEY")]
    public_key: Option<PathBuf>,
    /// Print the plan and exit without building or writing anything.
    #[arg(long)]
    dry_run: bool,
    /// Print results (or the plan, with --dry-run) as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// Parallel packaging jobs. Default: the number of CPUs.
    #[arg(long)]
    jobs: Option<usize>,
    /// Build and package only `--targets` into a partial dist dir (with `partial.json`) for a
    /// later `--merge`: one job per target on CI runners. Nothing is signed.
    #[arg(long, conflicts_with = "merge")]
    split: bool,
    /// Combine partial dist dirs from `--split` runs, check the matrix is complete (all
    /// configured targets, or `--targets`), then checksum, sign, write the manifest, images
    /// and installers for every platform.
    #[arg(long, value_name = "DIR", num_args = 1.., conflicts_with = "prebuilt")]
    merge: Vec<PathBuf>,
}

pub fn project_root() -> PathBuf {
    // xtask always runs through cargo from this workspace; its manifest dir is `<root>/xtask`.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace root")
        .to_owned()
}

pub fn workspace_version(root: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(root.join("Cargo.toml")).context("reading Cargo.toml")?;
    let doc: toml::Table = toml::from_str(&text).context("parsing Cargo.toml")?;
    let version = doc
        .get("workspace")
        .and_then(|w| w.get("package"))
        .and_then(|p| p.get("version"))
        .or_else(|| doc.get("package").and_then(|p| p.get("version")))
        .and_then(|v| v.as_str())
        .context("Cargo.toml has no [workspace.package] or [package] version")?;
    Ok(version.to_owned())
}

pub fn cargo_target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}

#[derive(Serialize)]
struct DistReport<'a> {
    plan: &'a ReleasePlan,
    stages: Vec<StageReport>,
    artifacts: Vec<Artifact>,
}

pub fn run(args: &DistArgs) -> anyhow::Result<()> {
    let root = project_root();
    let ws = DistWorkspace::load(&root)?;
    // FERRY_DIST_VERSION packages an older or pre-release version (tests of upgrades and
    // version mapping); releases take the version from Cargo.toml.
    let version = match std::env::var("FERRY_DIST_VERSION") {
        Ok(v) if !v.is_empty() => v,
        _ => workspace_version(&root)?,
    };
    let git = GitInfo::discover(&root)?;
    // A merge releases the whole configured matrix unless told otherwise.
    let all = ["all".to_owned()];
    let requested = if !args.merge.is_empty() && args.targets.is_empty() {
        &all[..]
    } else {
        &args.targets[..]
    };
    let targets = select_targets(requested, &ws.targets())?;
    let variants = select_variants(
        &args.variants,
        &ws.ferry.variants.keys().cloned().collect::<Vec<_>>(),
    )?;
    let cargo_target_dir = cargo_target_dir(&root);
    let out_dir = match &args.out_dir {
        Some(d) => std::path::absolute(d)?,
        None => cargo_target_dir.join("dist").join(&version),
    };
    let public_key = root.join(
        args.public_key
            .clone()
            .unwrap_or_else(|| ws.ferry.signing_public_key.clone()),
    );
    // Preflight: a missing or wrong key fails now, before minutes of building.
    // A split run signs nothing: the merge signs the whole release.
    let signer = if args.no_sign || args.dry_run || args.split {
        None
    } else {
        Some(Signer::from_env(&public_key)?)
    };
    let staging_dir = cargo_target_dir.join("dist-staging").join(&version);
    let options = Options {
        root,
        out_dir,
        cargo_target_dir,
        staging_dir,
        targets,
        variants,
        profile: args.profile.clone(),
        prebuilt: args
            .prebuilt
            .as_ref()
            .map(std::path::absolute)
            .transpose()?,
        signer,
        jobs: args
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())),
        progress: !args.json,
    };
    // A merge plans with the partial dirs' binaries as if they were `--prebuilt`.
    let merged = if args.merge.is_empty() {
        None
    } else {
        Some(split::prepare_merge(
            &args.merge,
            &options,
            &version,
            &git.commit,
            git.source_date_epoch,
        )?)
    };
    let input = PlanInput {
        version: &version,
        commit: &git.commit,
        source_date_epoch: git.source_date_epoch,
        out_dir: options.out_dir.display().to_string(),
        config: &ws.ferry,
        targets: &options.targets,
        variants: &options.variants,
        profile: &options.profile,
        prebuilt: options.prebuilt.as_deref(),
        merged: merged.as_ref(),
        sign: !args.no_sign,
    };
    let plan = plan::compute(&input, vec![]);
    let mut ctx = ReleaseContext {
        version,
        git,
        options,
        config: ws.ferry,
        plan,
        artifacts: Artifacts::default(),
    };
    let stage_list = if args.split {
        split::split_stages()
    } else if !args.merge.is_empty() {
        split::merge_stages()
    } else {
        pipeline::DIST
    };
    ctx.plan.stages = stage_list
        .iter()
        .map(|s| PlannedStage {
            name: s.name(),
            skip: if s.name() == "sign" && args.no_sign {
                Some("--no-sign".into())
            } else {
                s.skip(&ctx)
            },
        })
        .collect();
    if args.dry_run {
        if args.json {
            println!("{}", serde_json::to_string_pretty(&ctx.plan)?);
        } else {
            print_plan(&ctx.plan);
        }
        return Ok(());
    }
    // Two dists of one version share the staging dir: the second waits for the first.
    let _staging_lock = lock_staging(&ctx.options.staging_dir)?;
    if ctx.options.out_dir.exists() {
        // A stale artifact from an earlier run must never end up checksummed or uploaded;
        // but only a directory of dist output is ours to clear.
        if let Some(foreign) = foreign_entry(&ctx.options.out_dir, &ctx.config.binary)? {
            bail!(
                "--out-dir {} holds `{foreign}`, which `dist` did not write; it clears its output directory first, so give it a new or empty directory (or one an earlier dist wrote)",
                ctx.options.out_dir.display()
            );
        }
        std::fs::remove_dir_all(&ctx.options.out_dir)
            .with_context(|| format!("clearing {}", ctx.options.out_dir.display()))?;
    }
    let stages = if args.split {
        split::run_split(&mut ctx)?
    } else if !args.merge.is_empty() {
        split::run_merge(&mut ctx, &args.merge)?
    } else {
        pipeline::run(pipeline::DIST, &mut ctx)?
    };
    let skipped: Vec<_> = ctx.plan.builds.iter().filter(|b| b.is_skipped()).collect();
    if args.json {
        let report = DistReport {
            plan: &ctx.plan,
            stages,
            artifacts: ctx.artifacts.all(),
        };
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        eprintln!(
            "\nwrote {} artifacts to {}",
            ctx.artifacts.all().len(),
            ctx.options.out_dir.display()
        );
        for b in skipped {
            if let plan::BuildHow::Skipped { reason } = &b.how {
                eprintln!("skipped {} ({}): {reason}", b.target, b.variant);
            }
        }
    }
    Ok(())
}

/// An exclusive lock on `<staging dir>.lock`, held until dropped.
fn lock_staging(staging_dir: &Path) -> anyhow::Result<std::fs::File> {
    // Beside the dir, named after it whole (`with_extension` would eat a version's `.0`).
    let mut name = staging_dir.file_name().unwrap_or_default().to_owned();
    name.push(".lock");
    let path = staging_dir.with_file_name(name);
    let (file, taken) = crate::context::try_lock_file(&path)?;
    if !taken {
        eprintln!(
            "waiting for another `dist` of this version to finish ({} is locked)",
            path.display()
        );
        file.lock()
            .with_context(|| format!("locking {}", path.display()))?;
    }
    Ok(file)
}

/// The first entry of `dir` that is not something `dist` writes (named after the binary, or
/// one of the whole-release files), if any.
fn foreign_entry(dir: &Path, binary: &str) -> anyhow::Result<Option<String>> {
    const OURS: &[&str] = &[
        plan::CHECKSUMS_FILE,
        plan::MANIFEST_FILE,
        split::PARTIAL_FILE,
        "install.sh",
        "install.ps1",
        "latest.json",
        "staging",
    ];
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        let base = name.strip_suffix(".sha256").unwrap_or(&name);
        let base = base.strip_suffix(".minisig").unwrap_or(base);
        if !(base.starts_with(binary) || OURS.contains(&base)) {
            return Ok(Some(name));
        }
    }
    Ok(None)
}

fn print_plan(plan: &ReleasePlan) {
    println!(
        "ferry {} (commit {}, SOURCE_DATE_EPOCH {})",
        plan.version, plan.commit, plan.source_date_epoch
    );
    println!("output: {}", plan.out_dir);
    println!("stages:");
    for s in &plan.stages {
        match &s.skip {
            Some(r) => println!("  {} (skipped: {r})", s.name),
            None => println!("  {}", s.name),
        }
    }
    println!("builds:");
    for b in &plan.builds {
        match &b.how {
            plan::BuildHow::Skipped { reason } => {
                println!("  {} {}: skipped: {reason}", b.target, b.variant)
            }
            how => println!(
                "  {} {}: {}",
                b.target,
                b.variant,
                serde_json::to_string(how).unwrap_or_default()
            ),
        }
    }
    println!("files:");
    for f in plan
        .archives
        .iter()
        .map(|a| &a.name)
        .chain(&plan.checksums)
        .chain(&plan.signatures)
    {
        println!("  {f}");
    }
    println!("  {}", plan.manifest);
}

fn select_targets(
    requested: &[String],
    configured: &[String],
) -> anyhow::Result<Vec<&'static TargetInfo>> {
    let names: Vec<String> = if requested.is_empty() || requested == ["host"] {
        vec![host_triple().to_owned()]
    } else if requested == ["all"] {
        configured.to_vec()
    } else {
        requested
            .iter()
            .map(|t| {
                if t == "host" {
                    host_triple().to_owned()
                } else {
                    t.clone()
                }
            })
            .collect()
    };
    let mut out = Vec::new();
    for n in names {
        if !configured.contains(&n) {
            bail!(
                "target `{n}` is not in dist.targets or ferry.extra-targets of dist-workspace.toml; configured: {}",
                configured.join(", ")
            );
        }
        let t = TargetInfo::lookup(&n).expect("configured targets are validated against the table");
        if !out.iter().any(|o: &&TargetInfo| o.triple == t.triple) {
            out.push(t);
        }
    }
    Ok(out)
}

fn select_variants(requested: &[String], configured: &[String]) -> anyhow::Result<Vec<String>> {
    if requested.is_empty() {
        return Ok(configured.to_vec());
    }
    for v in requested {
        if !configured.contains(v) {
            bail!(
                "unknown variant `{v}`; configured in [ferry.variants]: {}",
                configured.join(", ")
            );
        }
    }
    let mut v = requested.to_vec();
    v.dedup();
    Ok(v)
}
