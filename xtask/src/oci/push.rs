//! Pushing an image layout to a registry, and retagging (rollback), as functions `release` and
//! `rollback` can call; `cargo xtask oci push|retag` wrap them.
//!
//! Push order: blobs (skipped when a HEAD finds them), then each platform manifest by digest,
//! then the index by digest, then the tags. A re-run after a failure therefore uploads only
//! what is missing, and a tag never points at an index whose parts are not there yet.

use anyhow::{bail, Context};
use serde::Serialize;

use super::registry::Client;
use crate::artifact::oci::image::{
    sha256_digest, Index, Manifest, MEDIA_INDEX, MEDIA_MANIFEST, VARIANT_ANNOTATION,
};
use crate::artifact::oci::layout::Layout;

/// Tags for a version: `1.2.3`, `1.2`, `1`, `latest` for a release; only `1.2.3-rc.1` for a
/// pre-release (it must not move the stable tags). Variants other than `complete` get a
/// `-{variant}` suffix on every tag (`1.2.3-minimal`, `latest-minimal`).
pub fn tags_for(version: &str, variant: &str) -> anyhow::Result<Vec<String>> {
    // Tags cannot hold `+`; build metadata does not identify an image anyway.
    let version = version.split('+').next().unwrap_or(version);
    let (core, pre) = match version.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (version, None),
    };
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() != 3
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        bail!("version `{version}` is not MAJOR.MINOR.PATCH[-PRERELEASE]");
    }
    let mut tags = vec![version.to_owned()];
    if pre.is_none() {
        tags.push(format!("{}.{}", parts[0], parts[1]));
        tags.push(parts[0].to_owned());
        tags.push("latest".to_owned());
    }
    if variant != "complete" {
        for t in &mut tags {
            t.push('-');
            t.push_str(variant);
        }
    }
    Ok(tags)
}

#[derive(Debug, Default, Serialize)]
pub struct PushReport {
    pub repository: String,
    pub variant: String,
    /// The image index digest every tag points to.
    pub digest: String,
    /// `(platform, manifest digest)` per platform.
    pub platforms: Vec<(String, String)>,
    pub tags: Vec<String>,
    pub blobs_uploaded: usize,
    pub blobs_present: usize,
    pub manifests_uploaded: usize,
    pub manifests_present: usize,
    pub tags_set: usize,
    pub tags_unchanged: usize,
    pub dry_run: bool,
}

/// The image a layout names `version` (its index), with its variant from the annotations.
pub struct LayoutImage<'a> {
    pub layout: &'a Layout,
    pub index_digest: String,
    pub index: Index,
    pub variant: String,
    pub version: String,
}

impl<'a> LayoutImage<'a> {
    /// The layout's multi-platform image: the only index it names.
    pub fn find(layout: &'a Layout) -> anyhow::Result<Self> {
        let d = layout
            .refs
            .iter()
            .find(|d| d.media_type == MEDIA_INDEX)
            .context("the layout names no image index; build it with `cargo xtask dist`")?;
        let index: Index = serde_json::from_slice(layout.blob(&d.digest)?)
            .context("the layout's image index is not valid JSON")?;
        let variant = index
            .annotations
            .get(VARIANT_ANNOTATION)
            .cloned()
            .with_context(|| format!("the image index has no `{VARIANT_ANNOTATION}` annotation"))?;
        let version = index
            .annotations
            .get("org.opencontainers.image.version")
            .cloned()
            .context("the image index has no org.opencontainers.image.version annotation")?;
        Ok(Self {
            layout,
            index_digest: d.digest.clone(),
            index,
            variant,
            version,
        })
    }
}

/// Pushes one image with `tags`. With `dry_run`, only reads the layout and reports.
pub fn push(
    client: &Client,
    image: &LayoutImage<'_>,
    tags: &[String],
    dry_run: bool,
) -> anyhow::Result<PushReport> {
    let mut report = PushReport {
        repository: client.repo.to_string(),
        variant: image.variant.clone(),
        digest: image.index_digest.clone(),
        tags: tags.to_vec(),
        dry_run,
        ..PushReport::default()
    };
    let mut manifests = Vec::new();
    for d in &image.index.manifests {
        let bytes = image.layout.blob(&d.digest)?;
        let m: Manifest = serde_json::from_slice(bytes)
            .with_context(|| format!("manifest {} is not valid JSON", d.digest))?;
        let platform = d
            .platform
            .as_ref()
            .map(|p| format!("{}/{}", p.os, p.architecture))
            .unwrap_or_default();
        report.platforms.push((platform, d.digest.clone()));
        manifests.push((d.digest.clone(), bytes, m));
    }
    if dry_run {
        return Ok(report);
    }
    let mut seen = std::collections::BTreeSet::new();
    for (_, _, m) in &manifests {
        for blob in std::iter::once(&m.config).chain(&m.layers) {
            if !seen.insert(blob.digest.clone()) {
                continue;
            }
            if client.has_blob(&blob.digest)? {
                report.blobs_present += 1;
            } else {
                let bytes = image.layout.blob(&blob.digest)?;
                client
                    .upload_blob(&blob.digest, bytes)
                    .with_context(|| format!("uploading blob {}", blob.digest))?;
                report.blobs_uploaded += 1;
            }
        }
    }
    let index_bytes = image.layout.blob(&image.index_digest)?;
    let documents = manifests
        .iter()
        .map(|(d, b, _)| (d.as_str(), *b, MEDIA_MANIFEST))
        .chain([(image.index_digest.as_str(), index_bytes, MEDIA_INDEX)]);
    for (digest, bytes, media) in documents {
        if client.manifest_digest(digest)?.is_some() {
            report.manifests_present += 1;
        } else {
            client.put_manifest(digest, bytes, media)?;
            report.manifests_uploaded += 1;
        }
    }
    for tag in tags {
        if client.manifest_digest(tag)?.as_deref() == Some(image.index_digest.as_str()) {
            report.tags_unchanged += 1;
        } else {
            client.put_manifest(tag, index_bytes, MEDIA_INDEX)?;
            report.tags_set += 1;
        }
    }
    Ok(report)
}

#[derive(Debug, Serialize)]
pub struct RetagReport {
    pub repository: String,
    pub tag: String,
    pub digest: String,
    /// What the tag pointed to before, if anything (for the release journal).
    pub previous: Option<String>,
    pub dry_run: bool,
}

/// Points `tag` at the manifest or index `source` (a digest or another tag) already in the
/// repository, without uploading any blob: the bytes are fetched and put back under the tag.
pub fn retag(
    client: &Client,
    source: &str,
    tag: &str,
    dry_run: bool,
) -> anyhow::Result<RetagReport> {
    let (bytes, media) = client
        .get_manifest(source)
        .with_context(|| format!("reading {source} from {}", client.repo))?;
    let digest = sha256_digest(&bytes);
    if source.starts_with("sha256:") && source != digest {
        bail!("the registry returned a manifest with digest {digest} for {source}");
    }
    let previous = client.manifest_digest(tag)?;
    if !dry_run && previous.as_deref() != Some(digest.as_str()) {
        client.put_manifest(tag, &bytes, &media)?;
    }
    Ok(RetagReport {
        repository: client.repo.to_string(),
        tag: tag.to_owned(),
        digest,
        previous,
        dry_run,
    })
}

#[cfg(test)]
mod tests {
    use super::tags_for;

    #[test]
    fn release_tags() {
        assert_eq!(
            tags_for("1.2.3", "complete").unwrap(),
            ["1.2.3", "1.2", "1", "latest"]
        );
        assert_eq!(
            tags_for("0.1.0", "minimal").unwrap(),
            [
                "0.1.0-minimal",
                "0.1-minimal",
                "0-minimal",
                "latest-minimal"
            ]
        );
    }

    #[test]
    fn prerelease_moves_no_stable_tag() {
        assert_eq!(tags_for("1.2.3-rc.1", "complete").unwrap(), ["1.2.3-rc.1"]);
        assert_eq!(
            tags_for("1.2.3-rc.1+build.5", "minimal").unwrap(),
            ["1.2.3-rc.1-minimal"]
        );
    }

    #[test]
    fn rejects_non_semver() {
        assert!(tags_for("1.2", "complete").is_err());
        assert!(tags_for("v1.2.3", "complete").is_err());
    }
}
