//! The release process as one ordered list of stages; `dist` runs a slice of it.
//!
//! Logging, timing and error decoration happen here, once, around every stage. A skipped
//! stage is logged with its reason and is not an error.

use std::time::Instant;

use anyhow::Context;
use serde::Serialize;

use crate::context::ReleaseContext;
use crate::stage;

/// A step of the release: small, named, with its own skip condition.
pub trait Stage: Sync {
    fn name(&self) -> &'static str;
    /// `Some(reason)` when this stage has nothing to do for this context.
    fn skip(&self, ctx: &ReleaseContext) -> Option<String>;
    fn run(&self, ctx: &mut ReleaseContext) -> anyhow::Result<()>;
}

/// `cargo xtask dist`, in order. Later stages read what earlier ones registered.
pub const DIST: &[&dyn Stage] = &[
    // Binaries first: everything else packages them.
    &stage::build::Build,
    // Completions and man page come from running a host binary, so they need a build.
    &stage::generate::Generate,
    // Archives wrap binaries plus docs and generated files.
    &stage::archive::Archive,
    // Linux packages hold the same binaries as the archives (a test checks they are identical).
    &stage::deb::Deb,
    &stage::rpm::Rpm,
    // The Windows installer wraps the same Windows binary as the zip.
    &stage::msi::Msi,
    // Images take the static Linux binaries and the complete variant's generated files, and
    // are packaging like the archives: before checksums, signatures and the manifest.
    &stage::oci::Oci,
    // Installers and latest.json point at the files above; checksums and signatures cover them.
    &stage::installers::Installers,
    // Checksums cover every shipped file, so they come after all packaging stages.
    &stage::checksum::Checksum,
    // Signatures cover the artifacts and SHA256SUMS, so they follow the checksums.
    &stage::sign::Sign,
    // The manifest describes everything above, signatures included, so it is last.
    &stage::manifest::Manifest,
];

#[derive(Debug, Serialize)]
pub struct StageReport {
    pub name: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    pub seconds: f64,
}

pub fn run(stages: &[&dyn Stage], ctx: &mut ReleaseContext) -> anyhow::Result<Vec<StageReport>> {
    let mut reports = Vec::new();
    for stage in stages {
        if let Some(reason) = stage.skip(ctx) {
            eprintln!("--> {}: skipped ({reason})", stage.name());
            reports.push(StageReport {
                name: stage.name(),
                skipped: Some(reason),
                seconds: 0.0,
            });
            continue;
        }
        eprintln!("--> {}", stage.name());
        let started = Instant::now();
        stage
            .run(ctx)
            .with_context(|| format!("stage `{}` failed", stage.name()))?;
        let seconds = started.elapsed().as_secs_f64();
        eprintln!("    {} done in {seconds:.1}s", stage.name());
        reports.push(StageReport {
            name: stage.name(),
            skipped: None,
            seconds,
        });
    }
    Ok(reports)
}

/// Runs `f` over `items` on up to `jobs` threads; the first error wins, after all finish.
pub fn parallel<T: Sync, R: Send>(
    items: &[T],
    jobs: usize,
    f: impl Fn(&T) -> anyhow::Result<R> + Sync,
) -> anyhow::Result<Vec<R>> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, anyhow::Result<R>)>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..jobs.clamp(1, items.len().max(1)) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                let r = f(item);
                results
                    .lock()
                    .expect("worker panicked: this is a bug, please report it")
                    .push((i, r));
            });
        }
    });
    let mut results = results
        .into_inner()
        .expect("worker panicked: this is a bug, please report it");
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}
