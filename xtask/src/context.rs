//! The release context that flows through the stages: grouped, not a bag of fields.
//!
//! `version` and `git` say what is released, `options` how (from the command line), `config`
//! the repository's release configuration, `plan` what will be written (computed before any
//! disk write), and `artifacts` what the stages have written so far. Stages find their inputs
//! in `artifacts` by kind.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{bail, Context};
use serde::Serialize;

use crate::config::{ArchiveFormat, FerryConfig};
use crate::plan::ReleasePlan;
use crate::sign::Signer;
use crate::targets::TargetInfo;

pub struct ReleaseContext {
    pub version: String,
    pub git: GitInfo,
    pub options: Options,
    pub config: FerryConfig,
    pub plan: ReleasePlan,
    pub artifacts: Artifacts,
}

#[derive(Debug, Clone, Serialize)]
pub struct GitInfo {
    /// Short commit hash, the same string `ferry --version` prints.
    pub commit: String,
    /// Archive mtimes and the manifest date: `SOURCE_DATE_EPOCH`, else the commit time.
    pub source_date_epoch: u64,
}

pub struct Options {
    pub root: PathBuf,
    pub out_dir: PathBuf,
    pub cargo_target_dir: PathBuf,
    /// Where built binaries are copied between build and archive (outside `out_dir`).
    pub staging_dir: PathBuf,
    pub targets: Vec<&'static TargetInfo>,
    pub variants: Vec<String>,
    pub profile: String,
    pub prebuilt: Option<PathBuf>,
    /// `None` with `--no-sign`.
    pub signer: Option<Signer>,
    pub jobs: usize,
    pub progress: bool,
}

// Deserialize: partial manifests of `dist --split` name kinds, and `--merge` reads them back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ArtifactKind {
    /// A built executable in the staging dir (not shipped on its own).
    Binary,
    /// Completions and man page from a host binary (staging dir, goes into archives).
    Generated,
    Archive,
    /// A multi-platform image as an `oci-archive` tarball (shipped, checksummed, signed).
    OciImage,
    /// The same image as an OCI layout directory; its `sha256` is the image index digest.
    OciLayout,
    /// `.deb` package (`ferry_{debversion}_{arch}.deb`).
    Deb,
    /// `.rpm` package (`ferry-{version}-{release}.{arch}.rpm`).
    Rpm,
    /// Windows Installer package (`ferry-{version}-windows-amd64-{variant}.msi`).
    Msi,
    /// `install.sh` / `install.ps1`, rendered for this release.
    Installer,
    /// `latest.json`: the signed pointer installers resolve "latest" with.
    LatestPointer,
    /// `<artifact>.sha256`.
    Checksum,
    /// `SHA256SUMS`, covering every shipped artifact.
    ChecksumFile,
    /// `<file>.minisig`.
    Signature,
    Manifest,
}

#[derive(Debug, Clone, Serialize)]
pub struct Artifact {
    pub kind: ArtifactKind,
    /// File name (a directory name for `Generated`).
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<ArchiveFormat>,
    pub path: PathBuf,
    pub size: u64,
    pub sha256: String,
}

/// Thread-safe because packaging stages register from several worker threads.
#[derive(Default)]
pub struct Artifacts(Mutex<Vec<Artifact>>);

impl Artifacts {
    pub fn add(&self, artifact: Artifact) {
        self.0
            .lock()
            .expect("artifact list poisoned: this is a bug, please report it")
            .push(artifact);
    }

    pub fn of_kind(&self, kind: ArtifactKind) -> Vec<Artifact> {
        let mut v: Vec<Artifact> = self
            .0
            .lock()
            .expect("artifact list poisoned: this is a bug, please report it")
            .iter()
            .filter(|a| a.kind == kind)
            .cloned()
            .collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    pub fn all(&self) -> Vec<Artifact> {
        let mut v = self
            .0
            .lock()
            .expect("artifact list poisoned: this is a bug, please report it")
            .clone();
        v.sort_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
        v
    }

    pub fn binary(&self, target: &str, variant: &str) -> Option<Artifact> {
        self.of_kind(ArtifactKind::Binary)
            .into_iter()
            .find(|a| a.target.as_deref() == Some(target) && a.variant.as_deref() == Some(variant))
    }
}

impl GitInfo {
    /// Reads the commit from `FERRY_BUILD_COMMIT` or git, and the date from
    /// `SOURCE_DATE_EPOCH` or the commit time, so two runs on one commit agree.
    pub fn discover(root: &Path) -> anyhow::Result<Self> {
        let commit = match std::env::var("FERRY_BUILD_COMMIT") {
            Ok(c) if !c.is_empty() => c,
            _ => git(root, &["rev-parse", "--short", "HEAD"])
                .context("reading the commit (set FERRY_BUILD_COMMIT outside a git checkout)")?,
        };
        let source_date_epoch = match std::env::var("SOURCE_DATE_EPOCH") {
            Ok(s) if !s.is_empty() => s
                .trim()
                .parse()
                .with_context(|| format!("SOURCE_DATE_EPOCH={s:?} is not a number of seconds"))?,
            _ => git(root, &["log", "-1", "--format=%ct", "HEAD"])
                .context("reading the commit time (set SOURCE_DATE_EPOCH outside a git checkout)")?
                .parse()
                .context("git printed a commit time that is not a number")?,
        };
        // Zip cannot store dates before 1980; catch it here rather than deep in a stage.
        if source_date_epoch < 315_532_800 {
            bail!("SOURCE_DATE_EPOCH {source_date_epoch} is before 1980, which zip archives cannot store");
        }
        Ok(Self {
            commit,
            source_date_epoch,
        })
    }
}

fn git(root: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = duct::cmd("git", args).dir(root).stderr_capture().read()?;
    Ok(out.trim().to_owned())
}

/// A package of one target and variant (deb, rpm, msi), its digest and size read from the file
/// as written.
pub fn package_file(
    kind: ArtifactKind,
    name: String,
    path: PathBuf,
    target: Option<String>,
    variant: &str,
    platform: &str,
) -> anyhow::Result<Artifact> {
    let (sha256, size) = hash_file(&path)?;
    Ok(Artifact {
        kind,
        name,
        target,
        variant: Some(variant.to_owned()),
        platform: Some(platform.to_owned()),
        format: None,
        path,
        size,
        sha256,
    })
}

/// A whole-release file (checksums, manifest, installer, pointer): no target, variant or
/// platform; its digest and size are read from the file as written.
pub fn release_file(kind: ArtifactKind, name: &str, path: PathBuf) -> anyhow::Result<Artifact> {
    let (sha256, size) = hash_file(&path)?;
    Ok(Artifact {
        kind,
        name: name.to_owned(),
        target: None,
        variant: None,
        platform: None,
        format: None,
        path,
        size,
        sha256,
    })
}

/// Opens `path` (creating it and its directory) and tries its exclusive lock, which lasts
/// until the file is dropped; the flag says whether the lock was taken (false: another process
/// holds it, and the caller either waits with `File::lock` or gives up).
pub fn try_lock_file(path: &Path) -> anyhow::Result<(std::fs::File, bool)> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok((file, true)),
        Err(std::fs::TryLockError::WouldBlock) => Ok((file, false)),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("locking {}", path.display()))
        }
    }
}

/// Hex SHA-256 and size of a file, streamed.
pub fn hash_file(path: &Path) -> anyhow::Result<(String, u64)> {
    use sha2::Digest;
    let mut f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut h = sha2::Sha256::new();
    let n = std::io::copy(&mut f, &mut h).with_context(|| format!("reading {}", path.display()))?;
    Ok((hex(&h.finalize()), n))
}

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// `YYYY-MM-DDTHH:MM:SSZ` for a Unix time (civil-from-days, H. Hinnant), to keep a date
/// library out of the xtask for one function.
pub fn rfc3339(secs: u64) -> String {
    let (y, m, d, hh, mm, ss) = civil(secs);
    format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z")
}

pub fn civil(secs: u64) -> (i64, u32, u32, u32, u32, u32) {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y,
        m,
        d,
        (rem / 3600) as u32,
        (rem % 3600 / 60) as u32,
        (rem % 60) as u32,
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_known_dates() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(315_532_800), "1980-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(1_709_251_199), "2024-02-29T23:59:59Z");
    }
}
