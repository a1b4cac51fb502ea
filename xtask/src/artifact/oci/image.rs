//! OCI image JSON documents: image config, image manifest (one per platform) and image index
//! (one per variant, listing the platforms).
//!
//! Structs, not maps, so fields serialise in one fixed order and the same inputs give the same
//! bytes, hence the same digests. Labels and annotations are `BTreeMap`s for the same reason.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::context::hex;

pub const MEDIA_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const MEDIA_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const MEDIA_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const MEDIA_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// The layout's `index.json` names images with this annotation (a tag, for skopeo/umoci).
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
/// Which ferry variant an image holds; `oci push` derives the tag suffix from it.
pub const VARIANT_ANNOTATION: &str = "com.github.ferry-deploy.variant";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Descriptor {
    #[serde(rename = "mediaType")]
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ImageConfig {
    pub created: String,
    pub architecture: String,
    pub os: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    pub config: RunConfig,
    pub rootfs: RootFs,
    pub history: Vec<History>,
}

#[derive(Debug, Serialize)]
pub struct RunConfig {
    #[serde(rename = "User")]
    pub user: String,
    #[serde(rename = "Env")]
    pub env: Vec<String>,
    #[serde(rename = "Entrypoint")]
    pub entrypoint: Vec<String>,
    #[serde(rename = "WorkingDir")]
    pub working_dir: String,
    #[serde(rename = "Labels")]
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
pub struct RootFs {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub diff_ids: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct History {
    pub created: String,
    pub created_by: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    #[serde(rename = "mediaType")]
    pub media_type: String,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Index {
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    #[serde(rename = "mediaType", default)]
    pub media_type: Option<String>,
    pub manifests: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// A serialised document (or any blob) with its digest: what gets written and pushed.
#[derive(Debug, Clone)]
pub struct Blob {
    pub bytes: Vec<u8>,
    pub digest: String,
}

impl Blob {
    pub fn new(bytes: Vec<u8>) -> Self {
        let digest = sha256_digest(&bytes);
        Self { bytes, digest }
    }

    pub fn json(value: &impl Serialize) -> anyhow::Result<Self> {
        Ok(Self::new(serde_json::to_vec(value)?))
    }

    pub fn descriptor(&self, media_type: &str) -> Descriptor {
        Descriptor {
            media_type: media_type.to_owned(),
            digest: self.digest.clone(),
            size: self.bytes.len() as u64,
            platform: None,
            annotations: BTreeMap::new(),
        }
    }
}

pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex(&sha2::Sha256::digest(bytes)))
}

/// OCI platform of a Rust target architecture (`x86_64` → `amd64`, `aarch64` → `arm64/v8`).
pub fn platform_of(rust_arch: &str) -> Option<Platform> {
    let (architecture, variant) = match rust_arch {
        "x86_64" => ("amd64", None),
        "aarch64" => ("arm64", Some("v8")),
        _ => return None,
    };
    Some(Platform {
        architecture: architecture.to_owned(),
        os: "linux".to_owned(),
        variant: variant.map(str::to_owned),
    })
}
