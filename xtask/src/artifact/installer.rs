//! Installers rendered per release (`install.sh`, `install.ps1`) and `latest.json`, the
//! pointer they resolve "latest" with.
//!
//! `latest.json` sits in every release's dist dir and is signed like the other artifacts
//! (`latest.json.minisig`). Installers fetch it from the release GitHub marks as latest
//! (`…/releases/latest/download/latest.json`), so re-pointing "latest" (a rollback) changes what
//! new installs get, and a mirror cannot point users at another version without the signing
//! key. A mirror can still serve an older, validly signed `latest.json` (replay): pin
//! `--version` where that matters.

use serde::Serialize;

/// What the installer templates get.
#[derive(Debug, Serialize)]
pub struct InstallerContext<'a> {
    pub app: &'a str,
    pub version: &'a str,
    /// `https://github.com/OWNER/REPO/releases`: the base of GitHub's release URL layout.
    pub release_base: String,
    /// Minisign public key (base64 line); empty for an unsigned build.
    pub public_key: String,
}

#[derive(Debug, Serialize)]
pub struct LatestPointer<'a> {
    pub app: &'a str,
    pub version: &'a str,
    pub tag: String,
    pub date: String,
}

impl LatestPointer<'_> {
    /// One key per line, so installers can read it with `sed` (no JSON parser needed).
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("plain strings serialise");
        s.push('\n');
        s
    }
}

/// The release base for a GitHub homepage URL (`https://github.com/o/r` → `…/o/r/releases`).
pub fn release_base(homepage: &str) -> String {
    format!("{}/releases", homepage.trim_end_matches('/'))
}
