//! The `ReleasePlan`: everything `dist` will do and write, computed before touching the disk.
//!
//! `--dry-run` prints it; tests snapshot it; stages follow it (the archive stage writes exactly
//! the archives listed here). Paths in the plan are relative to the output directory.

use serde::Serialize;

use crate::config::{ArchiveFormat, FerryConfig};
use crate::targets::{Os, TargetInfo};
use crate::toolchain::{self, BuildMethod};

pub const CHECKSUMS_FILE: &str = "SHA256SUMS";
pub const MANIFEST_FILE: &str = "dist-manifest.json";

#[derive(Debug, Clone, Serialize)]
pub struct ReleasePlan {
    pub version: String,
    pub commit: String,
    pub source_date_epoch: u64,
    pub out_dir: String,
    pub stages: Vec<PlannedStage>,
    pub builds: Vec<PlannedBuild>,
    pub archives: Vec<PlannedArchive>,
    pub checksums: Vec<String>,
    pub signatures: Vec<String>,
    pub manifest: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlannedStage {
    pub name: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlannedBuild {
    pub target: &'static str,
    pub platform: &'static str,
    pub variant: String,
    #[serde(flatten)]
    pub how: BuildHow,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case", tag = "how")]
pub enum BuildHow {
    Cargo {
        #[serde(flatten)]
        method: BuildMethod,
        profile: String,
    },
    /// `--prebuilt`: the binary is copied from a directory (packaging tests, benchmarks).
    Prebuilt {
        path: String,
    },
    Skipped {
        reason: String,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct PlannedArchive {
    pub name: String,
    pub target: &'static str,
    pub platform: &'static str,
    pub variant: String,
    pub format: ArchiveFormat,
    /// Top-level directory inside the archive (the name without extension).
    pub root: String,
}

impl PlannedBuild {
    pub fn is_skipped(&self) -> bool {
        matches!(self.how, BuildHow::Skipped { .. })
    }
}

pub struct PlanInput<'a> {
    pub version: &'a str,
    pub commit: &'a str,
    pub source_date_epoch: u64,
    pub out_dir: String,
    pub config: &'a FerryConfig,
    pub targets: &'a [&'static TargetInfo],
    pub variants: &'a [String],
    pub profile: &'a str,
    pub prebuilt: Option<&'a std::path::Path>,
    /// A merge's binaries, by (target, variant), in the partial dirs they came in.
    pub merged: Option<&'a std::collections::BTreeMap<(String, String), std::path::PathBuf>>,
    pub sign: bool,
}

pub fn base_name(version: &str, platform: &str, variant: &str) -> String {
    format!("ferry-{version}-{platform}-{variant}")
}

pub fn compute(input: &PlanInput<'_>, stages: Vec<PlannedStage>) -> ReleasePlan {
    let mut builds = Vec::new();
    let mut archives = Vec::new();
    for target in input.targets {
        // One probe per target: both variants build the same way.
        let method = if input.prebuilt.is_some() || input.merged.is_some() {
            None
        } else {
            Some(toolchain::method_for(target))
        };
        for variant in input.variants {
            let merged = input
                .merged
                .map(|m| m.get(&(target.triple.to_owned(), variant.clone())));
            let how = match (&method, input.prebuilt) {
                _ if merged.is_some() => match merged.flatten() {
                    Some(p) => BuildHow::Prebuilt {
                        path: p.display().to_string(),
                    },
                    None => BuildHow::Skipped {
                        reason: "no partial dir holds this build".to_owned(),
                    },
                },
                (_, Some(dir)) => {
                    let p = dir.join(target.triple).join(variant).join(format!(
                        "{}{}",
                        input.config.binary,
                        target.exe_suffix()
                    ));
                    if p.is_file() {
                        BuildHow::Prebuilt {
                            path: p.display().to_string(),
                        }
                    } else {
                        BuildHow::Skipped {
                            reason: format!("no prebuilt binary at {}", p.display()),
                        }
                    }
                }
                (Some(Ok(m)), None) => BuildHow::Cargo {
                    method: m.clone(),
                    profile: input.profile.to_owned(),
                },
                (Some(Err(why)), None) => BuildHow::Skipped {
                    reason: why.clone(),
                },
                (None, None) => {
                    unreachable!("method is probed whenever there is no prebuilt dir or merge")
                }
            };
            let build = PlannedBuild {
                target: target.triple,
                platform: target.platform,
                variant: variant.clone(),
                how,
            };
            if !build.is_skipped() {
                let formats = if target.os == Os::Windows {
                    &input.config.windows_archives
                } else {
                    &input.config.unix_archives
                };
                let root = base_name(input.version, target.platform, variant);
                for f in formats {
                    archives.push(PlannedArchive {
                        name: format!("{root}.{}", f.extension()),
                        target: target.triple,
                        platform: target.platform,
                        variant: variant.clone(),
                        format: *f,
                        root: root.clone(),
                    });
                }
            }
            builds.push(build);
        }
    }
    archives.sort_by(|a, b| a.name.cmp(&b.name));
    let mut checksums: Vec<String> = archives
        .iter()
        .map(|a| format!("{}.sha256", a.name))
        .collect();
    checksums.push(CHECKSUMS_FILE.to_owned());
    let signatures = if input.sign {
        archives
            .iter()
            .map(|a| a.name.clone())
            .chain([CHECKSUMS_FILE.to_owned()])
            .map(|n| format!("{n}.minisig"))
            .collect()
    } else {
        vec![]
    };
    ReleasePlan {
        version: input.version.to_owned(),
        commit: input.commit.to_owned(),
        source_date_epoch: input.source_date_epoch,
        out_dir: input.out_dir.clone(),
        stages,
        builds,
        archives,
        checksums,
        signatures,
        manifest: MANIFEST_FILE.to_owned(),
    }
}
