//! OCI image layout: a directory (`oci-layout`, `index.json`, `blobs/sha256/<hex>`) and the same
//! files as an uncompressed tar, the `oci-archive` format podman and skopeo read.
//!
//! Both are written from one in-memory set of blobs, so the archive is byte for byte the
//! directory, and reading a layout back (for `oci push`) checks every blob against its digest.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context};

use super::image::{sha256_digest, Blob, Descriptor, Index, REF_NAME};
use super::layer::Tree;

const OCI_LAYOUT: &str = r#"{"imageLayoutVersion":"1.0.0"}"#;

/// Everything a layout holds: blobs by digest, and the named entries of `index.json`.
#[derive(Debug, Default)]
pub struct Layout {
    pub blobs: BTreeMap<String, Vec<u8>>,
    /// `index.json`'s manifests, each with an `org.opencontainers.image.ref.name`.
    pub refs: Vec<Descriptor>,
}

impl Layout {
    pub fn add_blob(&mut self, blob: &Blob) {
        self.blobs
            .entry(blob.digest.clone())
            .or_insert_with(|| blob.bytes.clone());
    }

    pub fn add_ref(&mut self, name: &str, mut descriptor: Descriptor) {
        descriptor
            .annotations
            .insert(REF_NAME.to_owned(), name.to_owned());
        self.refs.push(descriptor);
    }

    fn index_json(&self) -> anyhow::Result<Vec<u8>> {
        let index = Index {
            schema_version: 2,
            media_type: Some(super::image::MEDIA_INDEX.to_owned()),
            manifests: self.refs.clone(),
            annotations: BTreeMap::new(),
        };
        let mut bytes = serde_json::to_vec(&index)?;
        bytes.push(b'\n');
        Ok(bytes)
    }

    /// The layout as a file tree (relative paths), shared by the directory and the archive.
    fn tree(&self) -> anyhow::Result<Tree> {
        let mut t = Tree::default();
        t.file("oci-layout", OCI_LAYOUT.as_bytes().to_vec(), 0o644);
        t.file("index.json", self.index_json()?, 0o644);
        for (digest, bytes) in &self.blobs {
            let (alg, hex) = digest
                .split_once(':')
                .context("blob digest without algorithm: this is a bug, please report it")?;
            t.file(&format!("blobs/{alg}/{hex}"), bytes.clone(), 0o644);
        }
        Ok(t)
    }

    /// Writes the directory (replacing an old one) and returns the size of its blobs.
    pub fn write_dir(&self, dir: &Path) -> anyhow::Result<u64> {
        if dir.exists() {
            std::fs::remove_dir_all(dir).with_context(|| format!("clearing {}", dir.display()))?;
        }
        let mut total = 0;
        for (path, node) in self.tree()?.paths() {
            let dest = dir.join(path);
            match node {
                super::layer::Node::Dir { .. } => std::fs::create_dir_all(&dest)?,
                super::layer::Node::File { bytes, .. } => {
                    std::fs::create_dir_all(dest.parent().expect("layout files have a parent"))?;
                    std::fs::write(&dest, &bytes[..])
                        .with_context(|| format!("writing {}", dest.display()))?;
                    total += bytes.len() as u64;
                }
                super::layer::Node::Symlink { .. } => {
                    unreachable!("a layout has no symlinks: this is a bug, please report it")
                }
            }
        }
        Ok(total)
    }

    /// The `oci-archive` bytes: the layout directory as a reproducible tar.
    pub fn archive(&self, mtime: u64) -> anyhow::Result<Vec<u8>> {
        super::layer::tar_bytes(&self.tree()?, mtime)
    }

    /// Reads a layout directory, checking each blob's digest.
    pub fn read_dir(dir: &Path) -> anyhow::Result<Self> {
        let index_path = dir.join("index.json");
        let text = std::fs::read(&index_path)
            .with_context(|| format!("reading {} (is it an OCI layout?)", index_path.display()))?;
        let index: Index = serde_json::from_slice(&text)
            .with_context(|| format!("parsing {}", index_path.display()))?;
        let mut blobs = BTreeMap::new();
        let blob_dir = dir.join("blobs").join("sha256");
        for e in std::fs::read_dir(&blob_dir)
            .with_context(|| format!("listing {}", blob_dir.display()))?
        {
            let e = e?;
            let bytes = std::fs::read(e.path())?;
            let digest = format!("sha256:{}", e.file_name().to_string_lossy());
            if sha256_digest(&bytes) != digest {
                bail!(
                    "{} does not match its digest; the layout is corrupt, rebuild it with `cargo xtask dist`",
                    e.path().display()
                );
            }
            blobs.insert(digest, bytes);
        }
        Ok(Self {
            blobs,
            refs: index.manifests,
        })
    }

    pub fn blob(&self, digest: &str) -> anyhow::Result<&[u8]> {
        self.blobs
            .get(digest)
            .map(Vec::as_slice)
            .with_context(|| format!("the layout has no blob {digest}"))
    }
}
