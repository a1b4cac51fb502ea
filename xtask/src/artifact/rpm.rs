//! RPM packages, written in-process with the pure-Rust `rpm` crate (v4 format, gzip payload,
//! SHA-256 digests). Reproducible: build time and every file mtime are `SOURCE_DATE_EPOCH`,
//! owners root, modes from the payload.
//!
//! Unsigned on purpose: the release is signed with minisign (the `.minisig` beside the rpm and
//! SHA256SUMS); an OpenPGP signature for `rpmkeys` would need a second key to guard. rpm still
//! checks the header and payload digests (`rpmkeys --checksig` → "digests OK").

use anyhow::Context;
use serde::Deserialize;

use crate::artifact::package::PayloadFile;

/// Header fields from `packaging/rpm/metadata.toml.j2`, rendered per package.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Metadata {
    pub name: String,
    pub version: String,
    pub release: String,
    pub arch: String,
    pub summary: String,
    pub description: String,
    pub license: String,
    pub url: String,
    pub vendor: String,
    pub packager: String,
    pub group: String,
    #[serde(default)]
    pub requires: Vec<Versioned>,
    #[serde(default)]
    pub conflicts: Vec<String>,
    pub changelog: Changelog,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Versioned {
    pub name: String,
    pub at_least: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Changelog {
    pub author: String,
    pub text: String,
}

impl Metadata {
    pub fn parse(rendered: &str) -> anyhow::Result<Self> {
        toml::from_str(rendered).context("the rendered rpm metadata is not valid TOML")
    }

    pub fn file_name(&self) -> String {
        format!(
            "{}-{}-{}.{}.rpm",
            self.name, self.version, self.release, self.arch
        )
    }
}

pub fn build(meta: &Metadata, files: &[PayloadFile], mtime: u64) -> anyhow::Result<Vec<u8>> {
    let epoch = u32::try_from(mtime).context("SOURCE_DATE_EPOCH does not fit rpm's 32-bit time")?;
    let config = rpm::BuildConfig::v4()
        .compression(rpm::CompressionType::Gzip)
        .source_date(epoch);
    let mut b = rpm::PackageBuilder::new(
        &meta.name,
        &meta.version,
        &meta.license,
        &meta.arch,
        &meta.summary,
    );
    b.using_config(config)
        .release(meta.release.clone())
        .description(meta.description.trim_end())
        .url(meta.url.clone())
        .vendor(meta.vendor.clone())
        .packager(meta.packager.clone())
        .group(meta.group.clone())
        // A fixed build host: the real one would make two builds of one commit differ.
        .build_host("localhost")
        .add_changelog_entry(&meta.changelog.author, &meta.changelog.text, epoch);
    for r in &meta.requires {
        b.requires(rpm::Dependency::greater_eq(
            r.name.clone(),
            r.at_least.clone(),
        ));
    }
    for c in &meta.conflicts {
        // Conflicts, not Obsoletes: switching variant is a deliberate `dnf swap`.
        b.conflicts(rpm::Dependency::any(c.clone()));
    }
    let mut files = files.to_vec();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    for f in &files {
        let mut opts = rpm::FileOptions::new(f.path.clone()).permissions(f.mode as u16);
        if f.doc {
            opts = opts.doc();
        }
        if f.license {
            opts = opts.license();
        }
        b.with_file_contents(f.bytes.to_vec(), opts)
            .with_context(|| format!("adding {}", f.path))?;
    }
    let pkg = b.build().context("building the rpm")?;
    let mut out = Vec::new();
    pkg.write(&mut out).context("writing the rpm")?;
    Ok(out)
}
