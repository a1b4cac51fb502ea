//! `latest.json`: the signed pointer the installers read, one per release, uploaded with its
//! assets (normally made by the installers stage of `dist`; this writes one when the dist
//! directory has none). Installers fetch it from `releases/latest/download/latest.json`, so whatever GitHub
//! calls "latest" is what they install: moving `make_latest` (release, rollback) re-points them.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use super::version::ReleaseVersion;
use crate::sign::Signer;

pub const FILE_NAME: &str = "latest.json";

/// The same fields as the installers stage's pointer (`artifact/installer.rs`), which
/// install.sh reads: a release made from an older dist directory points the same way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pointer {
    pub app: String,
    pub version: String,
    pub tag: String,
}

impl Pointer {
    pub fn new(version: &ReleaseVersion, app: &str) -> Self {
        Self {
            app: app.to_owned(),
            version: version.to_string(),
            tag: version.tag(),
        }
    }
}

/// Writes `latest.json` and its signature into `dir`; returns both paths.
pub fn write(dir: &Path, pointer: &Pointer, signer: &Signer) -> anyhow::Result<[PathBuf; 2]> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(FILE_NAME);
    std::fs::write(&path, serde_json::to_string_pretty(pointer)? + "\n")
        .with_context(|| format!("writing {}", path.display()))?;
    let sig = signer.sign_file(
        &path,
        &format!("file:{FILE_NAME} version:{}", pointer.version),
    )?;
    let sig_path = dir.join(format!("{FILE_NAME}.minisig"));
    std::fs::write(&sig_path, sig).with_context(|| format!("writing {}", sig_path.display()))?;
    Ok([path, sig_path])
}
