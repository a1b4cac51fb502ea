//! Releases of an application, on the controller side: reading a release's
//! dist-manifest.json, choosing each host's artifact from its explored platform, and
//! fetching it once (cached by SHA-256) with its digest and minisign signature verified
//! before any host changes. The host side lives in `resource::app`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum AppError {
    #[error("cannot read the release manifest {location}: {reason}")]
    Manifest { location: String, reason: String },
    #[error("the manifest {location} is for version {found}, not {wanted}")]
    WrongVersion {
        location: String,
        found: String,
        wanted: String,
    },
    #[error("no {variant} artifact in the manifest fits host `{host}` ({platform}); the manifest has: {available}")]
    NoArtifact {
        host: String,
        platform: String,
        variant: String,
        available: String,
    },
    #[error("cannot fetch {name}: {reason}")]
    Fetch { name: String, reason: String },
    #[error("{name} does not match the manifest: SHA-256 is {found}, the manifest says {wanted}; nothing was deployed")]
    Digest {
        name: String,
        found: String,
        wanted: String,
    },
    #[error("{name}: {reason}; nothing was deployed")]
    Signature { name: String, reason: String },
    #[error("the app's public key is not usable: {0}")]
    PublicKey(String),
}

/// One archive of a release, as the manifest describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    pub name: String,
    pub target: String,
    pub variant: String,
    pub sha256: String,
    pub signature: Option<String>,
    /// Whether the archive's entries sit under one top-level directory.
    pub nested: bool,
}

#[derive(Debug, Clone)]
pub struct Manifest {
    pub version: String,
    pub artifacts: Vec<Artifact>,
    /// Where the artifacts are: the manifest's directory or URL prefix.
    base: Base,
}

#[derive(Debug, Clone)]
enum Base {
    Dir(PathBuf),
    Url(String),
}

/// Reads a manifest from a path (relative to `config_dir`), a file:// or an http:// URL.
pub async fn load_manifest(location: &str, config_dir: &Path) -> Result<Manifest, AppError> {
    let err = |reason: String| AppError::Manifest {
        location: location.to_owned(),
        reason,
    };
    let (bytes, base) = if location.starts_with("http://") || location.starts_with("https://") {
        let (status, body) = crate::http::get(location, 64 << 20).await.map_err(err)?;
        if status != 200 {
            return Err(err(format!("HTTP status {status}")));
        }
        (
            body,
            Base::Url(
                location
                    .rsplit_once('/')
                    .map_or(location, |(b, _)| b)
                    .to_owned(),
            ),
        )
    } else {
        let path = config_dir.join(location.strip_prefix("file://").unwrap_or(location));
        let bytes = std::fs::read(&path).map_err(|e| err(e.to_string()))?;
        (
            bytes,
            Base::Dir(path.parent().map(Path::to_owned).unwrap_or_default()),
        )
    };
    let v: Value = serde_json::from_slice(&bytes).map_err(|e| err(format!("not JSON: {e}")))?;
    let version = v["releases"][0]["app_version"]
        .as_str()
        .ok_or_else(|| err("no releases[0].app_version".into()))?
        .to_owned();
    let mut artifacts = Vec::new();
    for (name, a) in v["artifacts"].as_object().into_iter().flatten() {
        let f = &a["ferry"];
        // Deployable archives only: tar.gz (every Unix host can unpack it).
        if a["kind"] != "executable-zip" || f["format"] != "tar.gz" {
            continue;
        }
        let (Some(target), Some(variant)) =
            (a["target_triples"][0].as_str(), f["variant"].as_str())
        else {
            continue;
        };
        let sha256 = f["sha256"]
            .as_str()
            .or(a["checksums"]["sha256"].as_str())
            .ok_or_else(|| err(format!("{name} has no sha256")))?;
        let nested = a["assets"][0]["path"]
            .as_str()
            .is_some_and(|p| p.contains('/'));
        artifacts.push(Artifact {
            name: name.clone(),
            target: target.to_owned(),
            variant: variant.to_owned(),
            sha256: sha256.to_owned(),
            signature: f["signature"].as_str().map(str::to_owned),
            nested,
        });
    }
    Ok(Manifest {
        version,
        artifacts,
        base,
    })
}

impl Manifest {
    pub fn check_version(&self, wanted: &str, location: &str) -> Result<(), AppError> {
        if self.version == wanted {
            Ok(())
        } else {
            Err(AppError::WrongVersion {
                location: location.to_owned(),
                found: self.version.clone(),
                wanted: wanted.to_owned(),
            })
        }
    }

    /// The artifact for a host with these facts: its OS and architecture, and for Linux the
    /// C library (a glibc host takes a -gnu build when there is one, else the static musl one).
    pub fn pick(
        &self,
        host: &str,
        facts: &BTreeMap<String, String>,
        variant: &str,
    ) -> Result<&Artifact, AppError> {
        let candidates = targets_for(facts);
        candidates
            .iter()
            .find_map(|t| {
                self.artifacts
                    .iter()
                    .find(|a| &a.target == t && a.variant == variant)
            })
            .ok_or_else(|| AppError::NoArtifact {
                host: host.to_owned(),
                platform: format!(
                    "{} {} {}",
                    facts.get("os").map_or("?", String::as_str),
                    facts.get("arch").map_or("?", String::as_str),
                    facts.get("libc").map_or("", String::as_str)
                )
                .trim()
                .to_owned(),
                variant: variant.to_owned(),
                available: self
                    .artifacts
                    .iter()
                    .map(|a| format!("{} ({})", a.target, a.variant))
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// The artifact's bytes, from the cache or fetched, verified against the manifest's
    /// SHA-256 and the minisign signature.
    pub async fn fetch(
        &self,
        artifact: &Artifact,
        cache: &Path,
        public_key: &minisign_verify::PublicKey,
    ) -> Result<Vec<u8>, AppError> {
        let cached = cache.join(&artifact.sha256);
        let bytes = match std::fs::read(&cached) {
            Ok(b) => b,
            Err(_) => self.read(&artifact.name).await?,
        };
        let found = crate::resource::sha256_hex(&bytes);
        if found != artifact.sha256 {
            let _ = std::fs::remove_file(&cached);
            return Err(AppError::Digest {
                name: artifact.name.clone(),
                found,
                wanted: artifact.sha256.clone(),
            });
        }
        let sig_name = artifact
            .signature
            .clone()
            .unwrap_or_else(|| format!("{}.minisig", artifact.name));
        let sig_text = self
            .read(&sig_name)
            .await
            .map_err(|_| AppError::Signature {
                name: artifact.name.clone(),
                reason: format!("its signature {sig_name} is missing"),
            })?;
        let sig_text = String::from_utf8(sig_text).map_err(|_| AppError::Signature {
            name: artifact.name.clone(),
            reason: "the signature is not text".into(),
        })?;
        let signature =
            minisign_verify::Signature::decode(&sig_text).map_err(|e| AppError::Signature {
                name: artifact.name.clone(),
                reason: format!("unreadable signature: {e}"),
            })?;
        public_key
            .verify(&bytes, &signature, false)
            .map_err(|e| AppError::Signature {
                name: artifact.name.clone(),
                reason: format!(
                    "the minisign signature does not verify with the app's public key ({e})"
                ),
            })?;
        if !cached.exists() {
            if let Some(dir) = cached.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            let _ = crate::state::store::write_atomic(&cached, &bytes);
        }
        Ok(bytes)
    }

    async fn read(&self, name: &str) -> Result<Vec<u8>, AppError> {
        let fail = |reason: String| AppError::Fetch {
            name: name.to_owned(),
            reason,
        };
        match &self.base {
            Base::Dir(dir) => std::fs::read(dir.join(name)).map_err(|e| fail(e.to_string())),
            Base::Url(base) => {
                let (status, body) = crate::http::get(&format!("{base}/{name}"), 1 << 30)
                    .await
                    .map_err(fail)?;
                if status == 200 {
                    Ok(body)
                } else {
                    Err(fail(format!("HTTP status {status}")))
                }
            }
        }
    }
}

/// Target triples that run on a host, best first.
pub fn targets_for(facts: &BTreeMap<String, String>) -> Vec<String> {
    let arch = match facts.get("arch").map(String::as_str) {
        Some("x86_64" | "amd64") => "x86_64",
        Some("aarch64" | "arm64") => "aarch64",
        Some(other) => other,
        None => "unknown",
    };
    match facts.get("os").map(String::as_str) {
        Some("Linux") => match facts.get("libc").map(String::as_str) {
            Some("musl") => vec![format!("{arch}-unknown-linux-musl")],
            _ => vec![
                format!("{arch}-unknown-linux-gnu"),
                format!("{arch}-unknown-linux-musl"),
            ],
        },
        Some("Darwin") => vec![format!("{arch}-apple-darwin")],
        Some("FreeBSD") => vec![format!("{arch}-unknown-freebsd")],
        _ => Vec::new(),
    }
}

/// The app's minisign public key, from the inline value or the file.
pub fn public_key(
    inline: Option<&str>,
    file: Option<&str>,
    config_dir: &Path,
) -> Result<minisign_verify::PublicKey, AppError> {
    match (inline, file) {
        (Some(k), _) => minisign_verify::PublicKey::from_base64(k.trim())
            .map_err(|e| AppError::PublicKey(e.to_string())),
        (None, Some(f)) => {
            let text = std::fs::read_to_string(config_dir.join(f))
                .map_err(|e| AppError::PublicKey(format!("{f}: {e}")))?;
            minisign_verify::PublicKey::decode(&text)
                .map_err(|e| AppError::PublicKey(format!("{f}: {e}")))
        }
        (None, None) => Err(AppError::PublicKey(
            "none is configured: set `public_key` or `public_key_file` under [app]".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn hosts_get_targets_for_their_platform() {
        assert_eq!(
            targets_for(&facts(&[
                ("os", "Linux"),
                ("arch", "x86_64"),
                ("libc", "gnu")
            ])),
            ["x86_64-unknown-linux-gnu", "x86_64-unknown-linux-musl"]
        );
        assert_eq!(
            targets_for(&facts(&[
                ("os", "Linux"),
                ("arch", "aarch64"),
                ("libc", "musl")
            ])),
            ["aarch64-unknown-linux-musl"]
        );
        assert_eq!(
            targets_for(&facts(&[("os", "Darwin"), ("arch", "arm64")])),
            ["aarch64-apple-darwin"]
        );
        assert_eq!(
            targets_for(&facts(&[("os", "FreeBSD"), ("arch", "amd64")])),
            ["x86_64-unknown-freebsd"]
        );
    }
}
