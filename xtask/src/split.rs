//! `cargo xtask dist --split` and `--merge`: a release built on several machines.
//!
//! A split run executes the per-target stages of `pipeline::DIST` (build … rpm) for its
//! `--targets` and writes a *partial* dist dir: the shipped per-target files, the staged binaries
//! and generated files under `staging/`, and `partial.json` listing them with their SHA-256.
//! A merge reads partial dirs, refuses duplicates, foreign versions/commits and gaps in the
//! matrix, registers their artifacts as if this machine had built them, and runs the
//! whole-release stages (oci … manifest): multi-arch images, installers, checksums, signatures
//! and the manifest see every platform at once. Because the stages are the same code on the same
//! inputs, a merge gives the same bytes as one local run of the same targets (a test checks it).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

use crate::config::ArchiveFormat;
use crate::context::{hash_file, Artifact, ArtifactKind, Options, ReleaseContext};
use crate::pipeline::{self, Stage, StageReport};

pub const PARTIAL_FILE: &str = "partial.json";
/// Inside a partial dir: the staged binaries (`<target>/<variant>/ferry`) and generated files.
const STAGING: &str = "staging";
/// Stages that need every platform at once; the stages before the first of them work per
/// target.
const WHOLE_RELEASE_STAGES: &[&str] = &["oci", "installers", "checksum", "sign", "manifest"];
const PARTIAL_SCHEMA: u32 = 1;

/// The per-target stages (`--split`).
pub fn split_stages() -> &'static [&'static dyn Stage] {
    &pipeline::DIST[..boundary()]
}

/// The whole-release stages (`--merge`).
pub fn merge_stages() -> &'static [&'static dyn Stage] {
    &pipeline::DIST[boundary()..]
}

fn boundary() -> usize {
    pipeline::DIST
        .iter()
        .position(|s| WHOLE_RELEASE_STAGES.contains(&s.name()))
        .expect("the dist pipeline has whole-release stages")
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Partial {
    pub schema_version: u32,
    pub version: String,
    pub commit: String,
    pub source_date_epoch: u64,
    pub targets: Vec<String>,
    pub variants: Vec<String>,
    pub artifacts: Vec<PartialArtifact>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PartialArtifact {
    /// An `ArtifactKind` of the per-target stages: binary, generated, archive, deb, rpm….
    pub kind: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<ArchiveFormat>,
    /// Relative to the partial dir, `/`-separated.
    pub path: String,
    pub size: u64,
    /// Empty for `generated` (a directory).
    pub sha256: String,
}

/// Kinds that are not files of their own in the output dir: staged, not shipped.
fn is_staged(kind: ArtifactKind) -> bool {
    matches!(kind, ArtifactKind::Binary | ArtifactKind::Generated)
}

fn kind_name(kind: ArtifactKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .expect("artifact kinds serialize as strings")
}

fn kind_of(name: &str) -> anyhow::Result<ArtifactKind> {
    serde_json::from_value(serde_json::Value::from(name))
        .with_context(|| format!("unknown artifact kind `{name}` in a partial manifest"))
}

/// `--split`: the per-target stages, then the partial manifest and the staged files.
pub fn run_split(ctx: &mut ReleaseContext) -> anyhow::Result<Vec<StageReport>> {
    let reports = pipeline::run(split_stages(), ctx)?;
    let out = ctx.options.out_dir.clone();
    let mut artifacts = Vec::new();
    for a in ctx.artifacts.all() {
        let kind = kind_name(a.kind);
        // Staged files are not shipped, so they travel in their own folder; shipped files are
        // already in the output dir.
        let rel = if is_staged(a.kind) {
            let rel = a
                .path
                .strip_prefix(&ctx.options.staging_dir)
                .with_context(|| format!("{} is outside the staging dir", a.path.display()))?;
            let rel = Path::new(STAGING).join(rel);
            copy_tree(&a.path, &out.join(&rel))?;
            rel
        } else {
            a.path
                .strip_prefix(&out)
                .with_context(|| format!("{} is outside the output dir", a.path.display()))?
                .to_owned()
        };
        artifacts.push(PartialArtifact {
            kind,
            name: a.name,
            target: a.target,
            variant: a.variant,
            platform: a.platform,
            format: a.format,
            path: slash_path(&rel),
            size: a.size,
            sha256: a.sha256,
        });
    }
    let partial = Partial {
        schema_version: PARTIAL_SCHEMA,
        version: ctx.version.clone(),
        commit: ctx.git.commit.clone(),
        source_date_epoch: ctx.git.source_date_epoch,
        targets: ctx
            .options
            .targets
            .iter()
            .map(|t| t.triple.to_owned())
            .collect(),
        variants: ctx.options.variants.clone(),
        artifacts,
    };
    std::fs::write(
        out.join(PARTIAL_FILE),
        serde_json::to_string_pretty(&partial)? + "\n",
    )
    .context("writing the partial manifest")?;
    Ok(reports)
}

pub fn read_partial(dir: &Path) -> anyhow::Result<Partial> {
    let path = dir.join(PARTIAL_FILE);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "reading {} (is it the output of `cargo xtask dist --split`?)",
            path.display()
        )
    })?;
    let p: Partial =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    if p.schema_version != PARTIAL_SCHEMA {
        bail!(
            "{}: partial schema {} (this xtask reads {PARTIAL_SCHEMA})",
            path.display(),
            p.schema_version
        );
    }
    Ok(p)
}

/// Before planning a merge: checks the partial dirs against each other and the requested
/// matrix, and each binary against its recorded SHA-256. Returns where each (target, variant)
/// binary is, for the plan to take as prebuilt: a merge then plans what a local run would,
/// and nothing is written before the build stage (a `--dry-run` writes nothing at all).
pub fn prepare_merge(
    dirs: &[PathBuf],
    options: &Options,
    version: &str,
    commit: &str,
    source_date_epoch: u64,
) -> anyhow::Result<BTreeMap<(String, String), PathBuf>> {
    if options.prebuilt.is_some() {
        bail!("--merge takes its binaries from the partial dirs; drop --prebuilt");
    }
    let mut seen_files: BTreeMap<String, &Path> = BTreeMap::new();
    let mut seen_builds: BTreeMap<(String, String), &Path> = BTreeMap::new();
    let mut partials = Vec::new();
    for dir in dirs {
        let p = read_partial(dir)?;
        if (p.version.as_str(), p.commit.as_str(), p.source_date_epoch)
            != (version, commit, source_date_epoch)
        {
            bail!(
                "{} was built from ferry {} at commit {} (SOURCE_DATE_EPOCH {}), but this merge is {version} at {commit} ({source_date_epoch}): every split job must build the same commit",
                dir.display(), p.version, p.commit, p.source_date_epoch
            );
        }
        for a in &p.artifacts {
            // Generated files are the same for every target and come with every partial.
            if a.kind == "generated" {
                continue;
            }
            if let Some(first) = seen_files.insert(a.path.clone(), dir) {
                bail!(
                    "`{}` is in two partial dirs: {} and {}",
                    a.path,
                    first.display(),
                    dir.display()
                );
            }
            if a.kind == "binary" {
                let key = (
                    a.target.clone().unwrap_or_default(),
                    a.variant.clone().unwrap_or_default(),
                );
                if let Some(first) = seen_builds.insert(key.clone(), dir) {
                    bail!(
                        "{} ({}) was built twice: in {} and {}",
                        key.0,
                        key.1,
                        first.display(),
                        dir.display()
                    );
                }
            }
        }
        partials.push((dir, p));
    }
    let wanted: BTreeSet<(String, String)> = options
        .targets
        .iter()
        .flat_map(|t| {
            options
                .variants
                .iter()
                .map(|v| (t.triple.to_owned(), v.clone()))
        })
        .collect();
    let have: BTreeSet<(String, String)> = seen_builds.keys().cloned().collect();
    let missing: Vec<String> = wanted
        .difference(&have)
        .map(|(t, v)| format!("{t} ({v})"))
        .collect();
    if !missing.is_empty() {
        bail!(
            "the partial dirs lack {}: add the split jobs that build them, or narrow --targets",
            missing.join(", ")
        );
    }
    let extra: Vec<String> = have
        .difference(&wanted)
        .map(|(t, v)| format!("{t} ({v})"))
        .collect();
    if !extra.is_empty() {
        bail!(
            "the partial dirs hold builds this merge does not release: {}; pass their targets in --targets",
            extra.join(", ")
        );
    }
    let mut binaries = BTreeMap::new();
    for (dir, p) in &partials {
        for a in &p.artifacts {
            let src = dir.join(&a.path);
            check_hash(&src, a)?;
            if a.kind == "binary" {
                let key = (
                    a.target.clone().unwrap_or_default(),
                    a.variant.clone().unwrap_or_default(),
                );
                binaries.insert(key, src);
            }
        }
    }
    Ok(binaries)
}

/// `--merge`: registers the partial dirs' artifacts, then runs the whole-release stages.
pub fn run_merge(ctx: &mut ReleaseContext, dirs: &[PathBuf]) -> anyhow::Result<Vec<StageReport>> {
    // The build stage copies the merged binaries (the plan's prebuilt dir) to the staging dir
    // and registers them exactly as a local run does.
    let build: &[&dyn Stage] = &[&crate::stage::build::Build];
    let mut reports = pipeline::run(build, ctx)?;
    std::fs::create_dir_all(&ctx.options.out_dir)?;
    let mut generated = BTreeSet::new();
    for dir in dirs {
        let p = read_partial(dir)?;
        for a in p.artifacts {
            let kind = kind_of(&a.kind)?;
            let src = dir.join(&a.path);
            let dest = match kind {
                ArtifactKind::Binary => continue,
                // The same on every platform (generate's contract), so the first partial's copy
                // serves every archive; the others were already packed into their archives.
                ArtifactKind::Generated => {
                    if !generated.insert(a.name.clone()) {
                        continue;
                    }
                    let rel = a
                        .path
                        .strip_prefix(&format!("{STAGING}/"))
                        .with_context(|| format!("`{}` is not under {STAGING}/", a.path))?;
                    ctx.options.staging_dir.join(rel)
                }
                _ => ctx.options.out_dir.join(&a.name),
            };
            if dest.exists() {
                std::fs::remove_dir_all(&dest).or_else(|_| std::fs::remove_file(&dest))?;
            }
            copy_tree(&src, &dest)?;
            ctx.artifacts.add(Artifact {
                kind,
                name: a.name,
                target: a.target,
                variant: a.variant,
                platform: a.platform,
                format: a.format,
                path: dest,
                size: a.size,
                sha256: a.sha256,
            });
        }
    }
    // Every planned archive must have arrived: a split job that skipped a format or a
    // variant would otherwise ship a release without it.
    let have: BTreeSet<String> = ctx
        .artifacts
        .of_kind(ArtifactKind::Archive)
        .into_iter()
        .map(|a| a.name)
        .collect();
    let missing: Vec<&str> = ctx
        .plan
        .archives
        .iter()
        .map(|a| a.name.as_str())
        .filter(|n| !have.contains(*n))
        .collect();
    if !missing.is_empty() {
        bail!("the partial dirs lack the archives {}", missing.join(", "));
    }
    reports.extend(pipeline::run(merge_stages(), ctx)?);
    Ok(reports)
}

fn check_hash(path: &Path, a: &PartialArtifact) -> anyhow::Result<()> {
    if a.sha256.is_empty() {
        return Ok(());
    }
    let (sha, size) = hash_file(path)?;
    if sha != a.sha256 || size != a.size {
        bail!(
            "{} does not match its partial manifest (SHA-256 {sha}, {size} bytes; listed {} , {} bytes): a damaged or mixed-up upload",
            path.display(),
            a.sha256,
            a.size
        );
    }
    Ok(())
}

fn slash_path(p: &Path) -> String {
    p.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Copies a file, or a directory recursively (generated files), keeping the exec bit.
fn copy_tree(src: &Path, dest: &Path) -> anyhow::Result<()> {
    if src.is_dir() {
        std::fs::create_dir_all(dest)?;
        for e in std::fs::read_dir(src).with_context(|| format!("reading {}", src.display()))? {
            let e = e?;
            copy_tree(&e.path(), &dest.join(e.file_name()))?;
        }
    } else {
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::copy(src, dest)
            .with_context(|| format!("copying {} to {}", src.display(), dest.display()))?;
    }
    Ok(())
}
