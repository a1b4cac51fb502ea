//! `dist-workspace.toml`: the release configuration.
//!
//! The `[dist]` table is cargo-dist's; we read only what the pipeline uses (`targets`) and let
//! the rest through, so the file stays valid for cargo-dist. The `[ferry]` tables are ours and
//! strict (`deny_unknown_fields`): a typo is an error naming the key, not a silently ignored
//! setting. This module does no I/O besides reading the file and knows nothing of stages.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::Deserialize;

use crate::targets::TargetInfo;

pub const FILE_NAME: &str = "dist-workspace.toml";

#[derive(Debug, Deserialize)]
pub struct DistWorkspace {
    pub dist: DistTable,
    pub ferry: FerryConfig,
}

/// The part of cargo-dist's `[dist]` table the pipeline reads; other keys belong to cargo-dist.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct DistTable {
    pub targets: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct FerryConfig {
    /// Targets cargo-dist does not accept in `dist.targets`; xtask builds them too.
    #[serde(default)]
    pub extra_targets: Vec<String>,
    pub binary: String,
    pub signing_public_key: PathBuf,
    pub unix_archives: Vec<ArchiveFormat>,
    pub windows_archives: Vec<ArchiveFormat>,
    pub package: PackageMeta,
    pub variants: BTreeMap<String, Variant>,
    /// OCI images (`[ferry.image]`); without the table the oci stage is skipped.
    #[serde(default)]
    pub image: Option<ImageConfig>,
    /// Where releases go (`[ferry.release]`, see `release/config.rs`); `release` needs it.
    #[serde(default)]
    pub release: Option<crate::release::config::ReleaseConfig>,
}

/// `[ferry.image]`: what the oci stage builds. Tags and the registry come from `oci push`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ImageConfig {
    /// Static Linux targets whose binaries become the image's platforms.
    pub targets: Vec<String>,
    /// Pinned packages (busybox-static, ca-certificates), relative to the repository.
    pub inputs: PathBuf,
    /// Variants whose image also gets a shell and core utilities (busybox) and runs as root.
    pub with_shell: Vec<String>,
}

#[derive(Debug, Clone, serde::Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct PackageMeta {
    pub name: String,
    pub description: String,
    pub homepage: String,
    pub license: String,
    pub maintainer: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Variant {
    pub default_features: bool,
    pub features: Vec<String>,
    /// Repository paths (files or folders) copied into this variant's archives.
    pub include: Vec<PathBuf>,
    #[serde(default)]
    pub generated: Vec<Generated>,
}

/// Files produced by running a host-built binary, because they are the same on every platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Generated {
    Completions,
    Man,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, serde::Serialize)]
pub enum ArchiveFormat {
    #[serde(rename = "tar.gz")]
    TarGz,
    #[serde(rename = "tar.xz")]
    TarXz,
    #[serde(rename = "zip")]
    Zip,
}

impl ArchiveFormat {
    pub fn extension(self) -> &'static str {
        match self {
            ArchiveFormat::TarGz => "tar.gz",
            ArchiveFormat::TarXz => "tar.xz",
            ArchiveFormat::Zip => "zip",
        }
    }
}

impl DistWorkspace {
    /// Every target the pipeline knows from the file, in order, without duplicates.
    pub fn targets(&self) -> Vec<String> {
        let mut all = self.dist.targets.clone();
        for t in &self.ferry.extra_targets {
            if !all.contains(t) {
                all.push(t.clone());
            }
        }
        all
    }

    pub fn load(root: &Path) -> anyhow::Result<Self> {
        let path = root.join(FILE_NAME);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("invalid {}", path.display()))
    }

    /// Parses and validates; toml's errors already name the key, line and column.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let ws: DistWorkspace = toml::from_str(text)?;
        ws.validate()?;
        Ok(ws)
    }

    fn validate(&self) -> anyhow::Result<()> {
        let lists = [
            ("dist.targets", &self.dist.targets),
            ("ferry.extra-targets", &self.ferry.extra_targets),
        ];
        for (key, list) in lists {
            for (i, t) in list.iter().enumerate() {
                if TargetInfo::lookup(t).is_none() {
                    bail!(
                        "{key}[{i}]: unsupported target `{t}`; supported: {}",
                        TargetInfo::all()
                            .map(|t| t.triple)
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                }
            }
        }
        if self.ferry.variants.is_empty() {
            bail!(
                "ferry.variants: at least one variant is needed (e.g. [ferry.variants.complete])"
            );
        }
        for (name, v) in &self.ferry.variants {
            if !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            {
                bail!("ferry.variants.{name}: a variant name is lower-case ASCII, digits and `-` (it goes into file names)");
            }
            for p in &v.include {
                if p.is_absolute() || p.components().any(|c| c == std::path::Component::ParentDir) {
                    bail!(
                        "ferry.variants.{name}.include: `{}` must be a path inside the repository",
                        p.display()
                    );
                }
            }
        }
        if let Some(image) = &self.ferry.image {
            for t in &image.targets {
                let ok = TargetInfo::lookup(t).is_some_and(|i| {
                    i.triple.ends_with("-linux-musl") && self.targets().contains(t)
                });
                if !ok {
                    bail!("ferry.image.targets: `{t}` must be a static Linux (`*-linux-musl`) target listed in dist.targets");
                }
            }
            for v in &image.with_shell {
                if !self.ferry.variants.contains_key(v) {
                    bail!("ferry.image.with-shell: unknown variant `{v}`");
                }
            }
        }
        if self.ferry.unix_archives.is_empty() || self.ferry.windows_archives.is_empty() {
            bail!("ferry.unix-archives and ferry.windows-archives each need at least one format");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo_file() -> String {
        std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join(FILE_NAME),
        )
        .unwrap()
    }

    #[test]
    fn the_repository_file_parses() {
        let ws = DistWorkspace::parse(&repo_file()).unwrap();
        assert!(ws.targets().contains(&"x86_64-unknown-freebsd".to_owned()));
        assert_eq!(ws.ferry.variants.len(), 2);
    }

    #[test]
    fn unknown_key_in_ferry_table_is_named() {
        let text = repo_file().replace("binary = \"ferry\"", "binary = \"ferry\"\nbinnary = \"x\"");
        let err = format!("{:#}", DistWorkspace::parse(&text).unwrap_err());
        assert!(err.contains("unknown field `binnary`"), "{err}");
    }

    #[test]
    fn unknown_key_in_a_variant_is_named() {
        let text = repo_file().replace(
            "[ferry.variants.minimal]",
            "[ferry.variants.minimal]\nfeature = []",
        );
        let err = format!("{:#}", DistWorkspace::parse(&text).unwrap_err());
        assert!(
            err.contains("unknown field `feature`") && err.contains("line"),
            "{err}"
        );
    }

    #[test]
    fn invalid_archive_format_is_named() {
        let text = repo_file().replace(
            r#"unix-archives = ["tar.gz", "tar.xz"]"#,
            r#"unix-archives = ["tar.bz2"]"#,
        );
        let err = format!("{:#}", DistWorkspace::parse(&text).unwrap_err());
        assert!(
            err.contains("tar.bz2") && err.contains("unix-archives"),
            "{err}"
        );
    }

    #[test]
    fn unsupported_target_is_named_with_its_key() {
        let text = repo_file().replace(
            r#"extra-targets = ["x86_64-unknown-freebsd"]"#,
            r#"extra-targets = ["sparc-sun-solaris"]"#,
        );
        let err = format!("{:#}", DistWorkspace::parse(&text).unwrap_err());
        assert!(
            err.contains("ferry.extra-targets[0]: unsupported target `sparc-sun-solaris`"),
            "{err}"
        );
    }

    #[test]
    fn unknown_keys_in_cargo_dist_table_are_cargo_dists_business() {
        let text = repo_file().replacen(
            "
[dist]
",
            "
[dist]
some-future-cargo-dist-key = true
",
            1,
        );
        DistWorkspace::parse(&text).unwrap();
    }
}
