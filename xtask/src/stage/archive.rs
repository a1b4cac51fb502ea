//! archive: one archive per planned (target, variant, format), written in parallel.
//!
//! Layout: `ferry-{version}-{platform}-{variant}/` holding the binary, the variant's `include`
//! paths from the repository and its generated files (`completions/`, `man/`).

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;

use crate::artifact::archive::{self, Entry, EntryData};
use crate::context::{Artifact, ArtifactKind, ReleaseContext};
use crate::pipeline::{self, Stage};
use crate::plan::PlannedArchive;

pub struct Archive;

impl Stage for Archive {
    fn name(&self) -> &'static str {
        "archive"
    }

    fn skip(&self, ctx: &ReleaseContext) -> Option<String> {
        ctx.plan
            .archives
            .is_empty()
            .then(|| "no archive planned (every build was skipped)".to_owned())
    }

    fn run(&self, ctx: &mut ReleaseContext) -> anyhow::Result<()> {
        std::fs::create_dir_all(&ctx.options.out_dir)
            .with_context(|| format!("creating {}", ctx.options.out_dir.display()))?;
        let bar = progress(ctx, ctx.plan.archives.len() as u64);
        let ctx_ref: &ReleaseContext = ctx;
        pipeline::parallel(&ctx_ref.plan.archives, ctx_ref.options.jobs, |a| {
            bar.set_message(a.name.clone());
            let r = write_one(ctx_ref, a).with_context(|| format!("writing {}", a.name));
            bar.inc(1);
            r
        })?;
        bar.finish_and_clear();
        Ok(())
    }
}

pub fn progress(ctx: &ReleaseContext, len: u64) -> indicatif::ProgressBar {
    if !ctx.options.progress {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template("    {bar:30} {pos}/{len} {elapsed} {wide_msg}")
            .expect("the progress template is valid: this is a bug, please report it"),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

fn write_one(ctx: &ReleaseContext, a: &PlannedArchive) -> anyhow::Result<()> {
    let binary = ctx
        .artifacts
        .binary(a.target, &a.variant)
        .with_context(|| {
            format!(
                "no built binary for {} ({}): this is a bug, please report it",
                a.target, a.variant
            )
        })?;
    let entries = entries_for(ctx, a, &binary.path, &binary.name)?;
    let path = ctx.options.out_dir.join(&a.name);
    let written = archive::write(&path, a.format, &entries, ctx.git.source_date_epoch)?;
    ctx.artifacts.add(Artifact {
        kind: ArtifactKind::Archive,
        name: a.name.clone(),
        target: Some(a.target.to_owned()),
        variant: Some(a.variant.clone()),
        platform: Some(a.platform.to_owned()),
        format: Some(a.format),
        path,
        size: written.size,
        sha256: written.sha256,
    });
    Ok(())
}

fn entries_for(
    ctx: &ReleaseContext,
    a: &PlannedArchive,
    binary: &Path,
    binary_name: &str,
) -> anyhow::Result<Vec<Entry>> {
    let variant = &ctx.config.variants[&a.variant];
    let mut entries = vec![Entry {
        path: a.root.clone(),
        data: EntryData::Dir,
    }];
    let bytes = std::fs::read(binary).with_context(|| format!("reading {}", binary.display()))?;
    entries.push(Entry {
        path: format!("{}/{binary_name}", a.root),
        data: EntryData::File {
            bytes: Arc::new(bytes),
            executable: true,
        },
    });
    for inc in &variant.include {
        add_include(&mut entries, &ctx.options.root, inc, &a.root).with_context(|| {
            format!(
                "adding {} (ferry.variants.{}.include)",
                inc.display(),
                a.variant
            )
        })?;
    }
    if !variant.generated.is_empty() {
        let gen = ctx
            .artifacts
            .of_kind(ArtifactKind::Generated)
            .into_iter()
            .find(|g| g.variant.as_deref() == Some(a.variant.as_str()))
            .with_context(|| {
                format!(
                    "no generated files for variant {}: this is a bug, please report it",
                    a.variant
                )
            })?;
        for child in sorted_children(&gen.path)? {
            let name = child
                .file_name()
                .expect("read_dir entries have names")
                .to_string_lossy()
                .into_owned();
            add_tree(&mut entries, &child, &format!("{}/{name}", a.root))?;
        }
    }
    Ok(entries)
}

/// Adds a repository path. In a git checkout only tracked files go in, so a stray untracked
/// file can't make two builds of one commit differ; elsewhere (a source tarball) the whole tree.
fn add_include(
    entries: &mut Vec<Entry>,
    root: &Path,
    inc: &Path,
    archive_root: &str,
) -> anyhow::Result<()> {
    let src = root.join(inc);
    if !src.exists() {
        anyhow::bail!("{} does not exist", src.display());
    }
    let listed = duct::cmd!("git", "ls-files", "-z", "--", inc)
        .dir(root)
        .stderr_null()
        .stdout_capture()
        .unchecked()
        .run();
    let tracked: Vec<String> = match listed {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout)
            .split('\0')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        _ => {
            return add_tree(
                entries,
                &src,
                &format!("{archive_root}/{}", inc.to_string_lossy()),
            )
        }
    };
    if tracked.is_empty() {
        anyhow::bail!("{} has no files tracked by git", inc.display());
    }
    let mut dirs = std::collections::BTreeSet::new();
    for file in &tracked {
        let mut p = Path::new(file).parent();
        while let Some(d) = p.filter(|d| !d.as_os_str().is_empty()) {
            dirs.insert(d.to_string_lossy().into_owned());
            p = d.parent();
        }
        let bytes = std::fs::read(root.join(file)).with_context(|| format!("reading {file}"))?;
        entries.push(Entry {
            path: format!("{archive_root}/{file}"),
            data: EntryData::File {
                bytes: Arc::new(bytes),
                executable: false,
            },
        });
    }
    for d in dirs {
        let path = format!("{archive_root}/{d}");
        if !entries.iter().any(|e| e.path == path) {
            entries.push(Entry {
                path,
                data: EntryData::Dir,
            });
        }
    }
    Ok(())
}

/// Adds a file or a directory tree. Modes come from the entry kind, not the checkout, so a
/// umask or a filesystem without modes cannot change the archive.
fn add_tree(entries: &mut Vec<Entry>, src: &Path, dest: &str) -> anyhow::Result<()> {
    let meta = std::fs::metadata(src).with_context(|| format!("reading {}", src.display()))?;
    if meta.is_dir() {
        entries.push(Entry {
            path: dest.to_owned(),
            data: EntryData::Dir,
        });
        for child in sorted_children(src)? {
            let name = child
                .file_name()
                .expect("read_dir entries have names")
                .to_string_lossy()
                .into_owned();
            add_tree(entries, &child, &format!("{dest}/{name}"))?;
        }
    } else {
        let bytes = std::fs::read(src).with_context(|| format!("reading {}", src.display()))?;
        entries.push(Entry {
            path: dest.to_owned(),
            data: EntryData::File {
                bytes: Arc::new(bytes),
                executable: false,
            },
        });
    }
    Ok(())
}

fn sorted_children(dir: &Path) -> anyhow::Result<Vec<std::path::PathBuf>> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    v.sort();
    Ok(v)
}
