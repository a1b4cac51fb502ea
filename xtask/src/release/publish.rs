//! Publishing as a transaction: draft → upload what is missing → re-download and verify every
//! asset (size, SHA-256, SHA256SUMS, minisign signatures) → flip to published.
//!
//! Until the last step the release is a draft, which users don't see, so a failure anywhere
//! leaves nothing half-published; a re-run finds the draft by tag and carries on. Nothing is
//! ever deleted: an asset that is there with other contents stops the run with a message.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use octocrab::models::repos::{Asset, Release};
use serde::Serialize;

use super::github::{digest_hex, Github};
use crate::context::hex;

/// A local file to publish.
#[derive(Debug, Clone)]
pub struct LocalAsset {
    pub name: String,
    pub path: PathBuf,
    pub size: u64,
    pub sha256: String,
}

/// What the summary prints per asset.
#[derive(Debug, Clone, Serialize)]
pub struct PublishedAsset {
    pub name: String,
    pub size: u64,
    pub sha256: String,
    pub url: String,
}

pub fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(bytes))
}

/// Every regular file directly in `dir` (OCI layout directories are pushed, not uploaded).
pub fn local_assets(dirs: &[&Path]) -> anyhow::Result<Vec<LocalAsset>> {
    let mut out: BTreeMap<String, LocalAsset> = BTreeMap::new();
    for dir in dirs {
        for e in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
            let e = e?;
            if !e.file_type()?.is_file() {
                continue;
            }
            let name = e.file_name().to_string_lossy().into_owned();
            let (sha256, size) = crate::context::hash_file(&e.path())?;
            out.insert(
                name.clone(),
                LocalAsset {
                    name,
                    path: e.path(),
                    size,
                    sha256,
                },
            );
        }
    }
    Ok(out.into_values().collect())
}

/// Uploads what the release lacks; checks the size and digest of what it has. Calls `done`
/// after each upload (the journal). Returns the names uploaded by this call.
pub fn upload_missing(
    gh: &mut Github,
    release: &Release,
    assets: &[LocalAsset],
    mut done: impl FnMut(&LocalAsset) -> anyhow::Result<()>,
) -> anyhow::Result<Vec<String>> {
    let id = release.id.into_inner();
    let present = gh.assets(id)?;
    let mut uploaded = Vec::new();
    // One failed asset does not stop the others: a resume then has only it left to do.
    let mut failed = Vec::new();
    for a in assets {
        if let Some(remote) = present.iter().find(|r| r.name == a.name) {
            check_remote(remote, a)?;
            continue;
        }
        let bytes =
            std::fs::read(&a.path).with_context(|| format!("reading {}", a.path.display()))?;
        eprintln!("    uploading {} ({} bytes)", a.name, a.size);
        match gh.upload(release, &a.name, bytes) {
            Ok(remote) => {
                check_remote(&remote, a)?;
                done(a)?;
                uploaded.push(a.name.clone());
            }
            Err(e) => failed.push(format!("{e:#}")),
        }
    }
    if !failed.is_empty() {
        bail!(
            "{} of {} uploads failed ({} done): {}",
            failed.len(),
            assets.len(),
            uploaded.len(),
            failed.join("; ")
        );
    }
    Ok(uploaded)
}

/// An asset already on the release must be the same file; never replaced, never deleted.
fn check_remote(remote: &Asset, local: &LocalAsset) -> anyhow::Result<()> {
    let size_ok = u64::try_from(remote.size).ok() == Some(local.size);
    let digest_ok = digest_hex(remote).is_none_or(|d| d == local.sha256);
    if remote.state != "uploaded" || !size_ok || !digest_ok {
        bail!(
            "asset {} on the release is not the local file (state {}, size {} vs {}, digest {} vs sha256:{}); releases never delete assets, so delete it by hand (`gh release delete-asset`) if it is a broken upload, then re-run with --resume",
            local.name,
            remote.state,
            remote.size,
            local.size,
            remote.digest.as_deref().unwrap_or("none"),
            local.sha256
        );
    }
    Ok(())
}

/// Downloads every asset of `release` and checks it: against `expected` (local files) when
/// given, against SHA256SUMS always, and every `X.minisig` against `X` with `public_key`.
pub fn verify(
    gh: &Github,
    release: &Release,
    expected: Option<&[LocalAsset]>,
    public_key: &minisign::PublicKey,
) -> anyhow::Result<Vec<PublishedAsset>> {
    let id = release.id.into_inner();
    let remote = gh.assets(id)?;
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut out = Vec::new();
    for a in &remote {
        let bytes = gh.download(a)?;
        let sum = sha256(&bytes);
        if u64::try_from(a.size).ok() != Some(bytes.len() as u64) {
            bail!(
                "{}: downloaded {} bytes, the release says {}",
                a.name,
                bytes.len(),
                a.size
            );
        }
        if let Some(d) = digest_hex(a) {
            if d != sum {
                bail!("{}: downloaded SHA-256 {sum}, GitHub reports {d}", a.name);
            }
        }
        out.push(PublishedAsset {
            name: a.name.clone(),
            size: bytes.len() as u64,
            sha256: sum,
            url: a.browser_download_url.to_string(),
        });
        files.insert(a.name.clone(), bytes);
    }
    if let Some(expected) = expected {
        for l in expected {
            let got = files.get(&l.name).with_context(|| {
                format!("{} is missing from release {}", l.name, release.tag_name)
            })?;
            if got.len() as u64 != l.size || sha256(got) != l.sha256 {
                bail!("{}: the download differs from the local file", l.name);
            }
        }
    }
    let sums = files
        .get("SHA256SUMS")
        .with_context(|| format!("release {} has no SHA256SUMS", release.tag_name))?;
    let sums = std::str::from_utf8(sums).context("SHA256SUMS is not text")?;
    let mut listed = 0;
    for line in sums.lines().filter(|l| !l.trim().is_empty()) {
        let (sum, name) = line
            .split_once("  ")
            .with_context(|| format!("SHA256SUMS line `{line}` is not `<sha256>  <name>`"))?;
        let name = name.trim_start_matches('*');
        if let Some(bytes) = files.get(name) {
            if sha256(bytes) != sum {
                bail!("{name}: its SHA-256 does not match SHA256SUMS");
            }
            listed += 1;
        } else {
            bail!(
                "{name} is listed in SHA256SUMS but not on release {}",
                release.tag_name
            );
        }
    }
    if listed == 0 {
        bail!("SHA256SUMS of {} lists no file", release.tag_name);
    }
    if !files.contains_key("SHA256SUMS.minisig") {
        bail!("release {} has no SHA256SUMS.minisig", release.tag_name);
    }
    for (name, sig) in files.iter().filter(|(n, _)| n.ends_with(".minisig")) {
        let signed = name.trim_end_matches(".minisig");
        let data = files
            .get(signed)
            .with_context(|| format!("{name} signs {signed}, which is not on the release"))?;
        let sig = minisign::SignatureBox::from_string(
            std::str::from_utf8(sig).with_context(|| format!("{name} is not text"))?,
        )
        .map_err(|e| anyhow::anyhow!("{name} is not a minisign signature: {e}"))?;
        minisign::verify(
            public_key,
            &sig,
            std::io::Cursor::new(data),
            true,
            false,
            false,
        )
        .map_err(|e| anyhow::anyhow!("{name}: the signature does not verify: {e}"))?;
    }
    Ok(out)
}
