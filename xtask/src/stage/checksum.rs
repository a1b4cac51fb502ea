//! checksum: `SHA256SUMS` over every shipped artifact (valid for `sha256sum -c`) and a
//! `<artifact>.sha256` beside each, from the hashes recorded while the artifacts were written.

use anyhow::Context;

use crate::context::{hash_file, release_file, Artifact, ArtifactKind, ReleaseContext};
use crate::pipeline::Stage;
use crate::plan::CHECKSUMS_FILE;

pub struct Checksum;

/// Kinds that users download; later packaging stages (deb, rpm, …) add theirs here.
pub const SHIPPED: &[ArtifactKind] = &[
    ArtifactKind::Archive,
    ArtifactKind::Deb,
    ArtifactKind::Rpm,
    ArtifactKind::Msi,
    ArtifactKind::Installer,
    ArtifactKind::LatestPointer,
    ArtifactKind::OciImage,
];

impl Stage for Checksum {
    fn name(&self) -> &'static str {
        "checksum"
    }

    fn skip(&self, ctx: &ReleaseContext) -> Option<String> {
        ctx.plan
            .archives
            .is_empty()
            .then(|| "nothing to checksum".to_owned())
    }

    fn run(&self, ctx: &mut ReleaseContext) -> anyhow::Result<()> {
        let mut shipped: Vec<Artifact> = SHIPPED
            .iter()
            .flat_map(|k| ctx.artifacts.of_kind(*k))
            .collect();
        shipped.sort_by(|a, b| a.name.cmp(&b.name));
        let mut sums = String::new();
        for a in &shipped {
            // Two spaces: sha256sum's text-mode separator, which `sha256sum -c --strict` accepts.
            let line = format!("{}  {}\n", a.sha256, a.name);
            sums.push_str(&line);
            let path = ctx.options.out_dir.join(format!("{}.sha256", a.name));
            std::fs::write(&path, &line).with_context(|| format!("writing {}", path.display()))?;
            register(ctx, ArtifactKind::Checksum, a, path)?;
        }
        let path = ctx.options.out_dir.join(CHECKSUMS_FILE);
        std::fs::write(&path, sums).with_context(|| format!("writing {}", path.display()))?;
        ctx.artifacts.add(release_file(
            ArtifactKind::ChecksumFile,
            CHECKSUMS_FILE,
            path,
        )?);
        Ok(())
    }
}

/// Registers a file derived from `of` (its checksum or signature) with `of`'s coordinates.
pub fn register(
    ctx: &ReleaseContext,
    kind: ArtifactKind,
    of: &Artifact,
    path: std::path::PathBuf,
) -> anyhow::Result<()> {
    let (sha256, size) = hash_file(&path)?;
    ctx.artifacts.add(Artifact {
        kind,
        name: path
            .file_name()
            .expect("artifact paths have a file name")
            .to_string_lossy()
            .into_owned(),
        target: of.target.clone(),
        variant: of.variant.clone(),
        platform: of.platform.clone(),
        format: None,
        path,
        size,
        sha256,
    });
    Ok(())
}
