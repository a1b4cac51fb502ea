//! manifest: `dist-manifest.json`, the machine-readable description of the release.
//!
//! The shape follows cargo-dist's dist-manifest (`releases`, `artifacts` keyed by file name
//! with `kind`, `target_triples`, `assets`, `checksum`, `checksums`), so tools that read
//! cargo-dist manifests can read ours; ferry-specific facts (variant, platform, size,
//! signature) sit in a `ferry` object per artifact. docs/release.md documents the schema.

use std::collections::BTreeMap;

use anyhow::Context;
use serde::Serialize;

use crate::config::PackageMeta;
use crate::context::{release_file, rfc3339, Artifact, ArtifactKind, ReleaseContext};
use crate::pipeline::Stage;
use crate::plan::{CHECKSUMS_FILE, MANIFEST_FILE};

pub const SCHEMA_VERSION: u32 = 1;

/// Manifest `kind` of each package and installer artifact kind.
pub const PACKAGE_KINDS: &[(ArtifactKind, &str)] = &[
    (ArtifactKind::Deb, "deb"),
    (ArtifactKind::Rpm, "rpm"),
    (ArtifactKind::Msi, "msi"),
    (ArtifactKind::Installer, "installer"),
    (ArtifactKind::LatestPointer, "latest-pointer"),
];

pub struct Manifest;

#[derive(Debug, Serialize, serde::Deserialize)]
pub struct DistManifest {
    pub dist_version: String,
    pub announcement_tag: String,
    pub announcement_is_prerelease: bool,
    pub releases: Vec<Release>,
    pub artifacts: BTreeMap<String, ManifestArtifact>,
    pub ferry: ReleaseFacts,
}

#[derive(Debug, Serialize, serde::Deserialize)]
pub struct Release {
    pub app_name: String,
    pub app_version: String,
    pub artifacts: Vec<String>,
}

#[derive(Debug, Serialize, serde::Deserialize)]
pub struct ReleaseFacts {
    pub schema_version: u32,
    pub commit: String,
    pub source_date_epoch: u64,
    pub date: String,
    pub package: PackageMeta,
}

#[derive(Debug, Serialize, serde::Deserialize)]
pub struct ManifestArtifact {
    pub name: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub target_triples: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assets: Vec<Asset>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
    pub checksums: BTreeMap<String, String>,
    pub ferry: ArtifactFacts,
}

#[derive(Debug, Serialize, serde::Deserialize)]
pub struct Asset {
    pub name: String,
    pub path: String,
    pub kind: String,
}

#[derive(Debug, Serialize, serde::Deserialize)]
pub struct ArtifactFacts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    pub size: u64,
    pub sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

impl Stage for Manifest {
    fn name(&self) -> &'static str {
        "manifest"
    }

    fn skip(&self, ctx: &ReleaseContext) -> Option<String> {
        ctx.plan
            .archives
            .is_empty()
            .then(|| "nothing was packaged".to_owned())
    }

    fn run(&self, ctx: &mut ReleaseContext) -> anyhow::Result<()> {
        let manifest = build(ctx);
        let path = ctx.options.out_dir.join(MANIFEST_FILE);
        let mut json = serde_json::to_string_pretty(&manifest)?;
        json.push('\n');
        std::fs::write(&path, json).with_context(|| format!("writing {}", path.display()))?;
        ctx.artifacts
            .add(release_file(ArtifactKind::Manifest, MANIFEST_FILE, path)?);
        Ok(())
    }
}

fn build(ctx: &ReleaseContext) -> DistManifest {
    let signatures: Vec<String> = ctx
        .artifacts
        .of_kind(ArtifactKind::Signature)
        .into_iter()
        .map(|a| a.name)
        .collect();
    let signature_of = |name: &str| {
        let s = format!("{name}.minisig");
        signatures.contains(&s).then_some(s)
    };
    let mut artifacts = BTreeMap::new();
    let mut add = |a: &Artifact, kind: &str, checksum: Option<String>, assets: Vec<Asset>| {
        artifacts.insert(
            a.name.clone(),
            ManifestArtifact {
                name: a.name.clone(),
                kind: kind.to_owned(),
                target_triples: a.target.iter().cloned().collect(),
                assets,
                checksum,
                checksums: BTreeMap::from([("sha256".to_owned(), a.sha256.clone())]),
                ferry: ArtifactFacts {
                    variant: a.variant.clone(),
                    platform: a.platform.clone(),
                    format: a.format.map(|f| f.extension().to_owned()),
                    size: a.size,
                    sha256: a.sha256.clone(),
                    signature: signature_of(&a.name),
                },
            },
        );
    };
    let archives = ctx.artifacts.of_kind(ArtifactKind::Archive);
    for a in &archives {
        let planned = ctx
            .plan
            .archives
            .iter()
            .find(|p| p.name == a.name)
            .expect("archives come from the plan");
        let exe = ctx
            .artifacts
            .binary(planned.target, &planned.variant)
            .map(|b| b.name)
            .unwrap_or_default();
        let assets = vec![Asset {
            name: exe.clone(),
            path: format!("{}/{exe}", planned.root),
            kind: "executable".into(),
        }];
        add(
            a,
            "executable-zip",
            Some(format!("{}.sha256", a.name)),
            assets,
        );
    }
    // Images: the oci-archive is the downloadable file; the layout directory's `sha256` is the
    // image index digest (what a registry tag points to).
    for a in ctx.artifacts.of_kind(ArtifactKind::OciImage) {
        add(&a, "oci-image", Some(format!("{}.sha256", a.name)), vec![]);
    }
    for a in ctx.artifacts.of_kind(ArtifactKind::OciLayout) {
        add(&a, "oci-layout", None, vec![]);
    }
    // Packages and installers (pipeline II): downloadable, with a checksum and a signature.
    for (kind, name) in PACKAGE_KINDS {
        for a in ctx.artifacts.of_kind(*kind) {
            add(&a, name, Some(format!("{}.sha256", a.name)), vec![]);
        }
    }
    for a in ctx.artifacts.of_kind(ArtifactKind::Checksum) {
        add(&a, "checksum", None, vec![]);
    }
    for a in ctx.artifacts.of_kind(ArtifactKind::ChecksumFile) {
        add(&a, "unified-checksum", None, vec![]);
    }
    let mut names: Vec<String> = archives.iter().map(|a| a.name.clone()).collect();
    names.extend(
        ctx.artifacts
            .of_kind(ArtifactKind::OciImage)
            .into_iter()
            .map(|a| a.name),
    );
    for (kind, _) in PACKAGE_KINDS {
        names.extend(ctx.artifacts.of_kind(*kind).into_iter().map(|a| a.name));
    }
    names.push(CHECKSUMS_FILE.to_owned());
    DistManifest {
        dist_version: format!("ferry-xtask {}", env!("CARGO_PKG_VERSION")),
        announcement_tag: format!("v{}", ctx.version),
        announcement_is_prerelease: ctx.version.contains('-'),
        releases: vec![Release {
            app_name: ctx.config.binary.clone(),
            app_version: ctx.version.clone(),
            artifacts: names,
        }],
        artifacts,
        ferry: ReleaseFacts {
            schema_version: SCHEMA_VERSION,
            commit: ctx.git.commit.clone(),
            source_date_epoch: ctx.git.source_date_epoch,
            date: rfc3339(ctx.git.source_date_epoch),
            package: ctx.config.package.clone(),
        },
    }
}
