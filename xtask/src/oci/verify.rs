//! `cargo xtask verify` for images: each `oci-archive` is read the way a registry and a
//! container engine read it — every blob against its digest, the index tagged with the
//! release's version and holding one manifest per platform, each manifest's config and layers
//! present, the config's version label, and the binary in the layers byte for byte the one in
//! the release's archive for that platform and variant.

use std::collections::BTreeMap;
use std::io::Read;

use anyhow::{bail, Context};
use serde_json::Value;

use crate::artifact::oci::image::{sha256_digest, REF_NAME};
use crate::stage::oci::BINARY_PATH;

/// What one image holds, for the report.
pub struct Checked {
    /// `linux/amd64, linux/arm64`.
    pub platforms: Vec<String>,
    pub index_digest: String,
}

/// Checks the oci-archive `bytes` of `variant`; `binary_of(arch)` gives the binary the
/// release's archive holds for that OCI architecture (`amd64`, `arm64`), if any.
pub fn check_archive(
    bytes: &[u8],
    version: &str,
    binary_of: &dyn Fn(&str) -> Option<Vec<u8>>,
) -> anyhow::Result<Checked> {
    let files = read_tar(bytes)?;
    let mut blobs = BTreeMap::new();
    for (path, data) in &files {
        if let Some(hex) = path.strip_prefix("blobs/sha256/") {
            let digest = format!("sha256:{hex}");
            if sha256_digest(data) != digest {
                bail!("blob {digest} does not match its digest");
            }
            blobs.insert(digest, data.as_slice());
        }
    }
    let blob = |digest: &str| -> anyhow::Result<&[u8]> {
        blobs
            .get(digest)
            .copied()
            .with_context(|| format!("the archive has no blob {digest}"))
    };
    let json = |bytes: &[u8], what: &str| -> anyhow::Result<Value> {
        serde_json::from_slice(bytes).with_context(|| format!("{what} is not JSON"))
    };
    let index = json(
        files.get("index.json").context("no index.json")?,
        "index.json",
    )?;
    let tagged = index["manifests"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|d| d["annotations"][REF_NAME] == version)
        .with_context(|| format!("index.json has no entry named {version}"))?;
    let index_digest = tagged["digest"].as_str().unwrap_or_default().to_owned();
    let image_index = json(blob(&index_digest)?, "the image index")?;
    let mut platforms = Vec::new();
    for m in image_index["manifests"].as_array().into_iter().flatten() {
        let arch = m["platform"]["architecture"].as_str().unwrap_or_default();
        let os = m["platform"]["os"].as_str().unwrap_or_default();
        let platform = format!("{os}/{arch}");
        let manifest = json(
            blob(m["digest"].as_str().unwrap_or_default())?,
            &format!("the {platform} manifest"),
        )?;
        let config = json(
            blob(manifest["config"]["digest"].as_str().unwrap_or_default())?,
            &format!("the {platform} config"),
        )?;
        let label = &config["config"]["Labels"]["org.opencontainers.image.version"];
        if label != version {
            bail!("{platform}: the config's version label is {label}, not {version}");
        }
        if config["architecture"] != arch || config["os"] != os {
            bail!(
                "{platform}: the config says {}/{}",
                config["os"],
                config["architecture"]
            );
        }
        let mut binary = None;
        for layer in manifest["layers"].as_array().into_iter().flatten() {
            let gz = blob(layer["digest"].as_str().unwrap_or_default())?;
            let mut tar = Vec::new();
            flate2::read::GzDecoder::new(gz)
                .read_to_end(&mut tar)
                .with_context(|| format!("{platform}: a layer is not gzip"))?;
            if let Some(b) = read_tar(&tar)?.remove(BINARY_PATH) {
                binary = Some(b);
            }
        }
        let binary =
            binary.with_context(|| format!("{platform}: no /{BINARY_PATH} in the layers"))?;
        match binary_of(arch) {
            Some(expected) if expected != binary => {
                bail!("{platform}: /{BINARY_PATH} differs from the binary in the release's archive")
            }
            Some(_) => {}
            None => {
                bail!("{platform}: the release has no archive for this platform to compare with")
            }
        }
        platforms.push(platform);
    }
    if platforms.is_empty() {
        bail!("the image index lists no platform");
    }
    Ok(Checked {
        platforms,
        index_digest,
    })
}

/// Regular files of an uncompressed tar by path (leading `./` and `/` removed).
fn read_tar(bytes: &[u8]) -> anyhow::Result<BTreeMap<String, Vec<u8>>> {
    let mut files = BTreeMap::new();
    let mut archive = tar::Archive::new(bytes);
    for entry in archive.entries().context("reading a tar")? {
        let mut entry = entry.context("reading a tar entry")?;
        if entry.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let path = entry.path()?.to_string_lossy().into_owned();
        let path = path
            .trim_start_matches("./")
            .trim_start_matches('/')
            .to_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data)?;
        files.insert(path, data);
    }
    Ok(files)
}
