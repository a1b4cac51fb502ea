//! Image layers: reproducible gzip-compressed tars.
//!
//! Reproducible means the same entries give the same bytes on any machine: entries sorted by
//! path, parent directories added explicitly, every mtime the release's `SOURCE_DATE_EPOCH`,
//! numeric owners only (no user names from the build host), fixed gzip settings (mtime 0,
//! OS "unknown"). Modes come from the entry, never from a checkout's file system.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

use anyhow::Context;
use sha2::Digest;

use crate::context::hex;

/// Highest level: an image is compressed once and pulled many times.
const GZIP_LEVEL: u32 = 9;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Dir {
        mode: u32,
        owner: u32,
    },
    File {
        bytes: Arc<Vec<u8>>,
        mode: u32,
    },
    /// A symbolic link to `target` (absolute or relative, stored as given).
    Symlink {
        target: String,
    },
}

/// A layer's file tree: `/`-separated paths without a leading `/`, mapped to their node.
/// A map keeps paths unique and sorted.
#[derive(Debug, Default, Clone)]
pub struct Tree(BTreeMap<String, Node>);

impl Tree {
    pub fn dir(&mut self, path: &str, mode: u32, owner: u32) {
        self.parents(path);
        self.0.insert(path.to_owned(), Node::Dir { mode, owner });
    }

    pub fn file(&mut self, path: &str, bytes: Vec<u8>, mode: u32) {
        self.parents(path);
        self.0.insert(
            path.to_owned(),
            Node::File {
                bytes: Arc::new(bytes),
                mode,
            },
        );
    }

    pub fn symlink(&mut self, path: &str, target: &str) {
        self.parents(path);
        self.0.insert(
            path.to_owned(),
            Node::Symlink {
                target: target.to_owned(),
            },
        );
    }

    /// Every parent gets an entry (root-owned 0755 unless set explicitly), so extracting the
    /// layer alone never makes directories with the extracting tool's defaults.
    fn parents(&mut self, path: &str) {
        let mut end = 0;
        while let Some(i) = path[end..].find('/') {
            let parent = &path[..end + i];
            self.0.entry(parent.to_owned()).or_insert(Node::Dir {
                mode: 0o755,
                owner: 0,
            });
            end += i + 1;
        }
    }

    pub fn paths(&self) -> impl Iterator<Item = (&String, &Node)> {
        self.0.iter()
    }

    /// Writes the tree under `dir` (a build context for the Containerfile): modes as in the
    /// layer; owners too when running as root, since only root may chown.
    pub fn materialize(&self, dir: &std::path::Path) -> anyhow::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        for (path, node) in &self.0 {
            let dest = dir.join(path);
            match node {
                Node::Dir { mode, owner } => {
                    std::fs::create_dir_all(&dest)?;
                    std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(*mode))?;
                    if *owner != 0 {
                        let _ = std::os::unix::fs::chown(&dest, Some(*owner), Some(*owner));
                    }
                }
                Node::File { bytes, mode } => {
                    std::fs::write(&dest, &bytes[..])
                        .with_context(|| format!("writing {}", dest.display()))?;
                    std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(*mode))?;
                }
                Node::Symlink { target } => std::os::unix::fs::symlink(target, &dest)
                    .with_context(|| format!("linking {}", dest.display()))?,
            }
        }
        Ok(())
    }
}

/// A written layer: the compressed blob and the two digests an image needs.
pub struct Layer {
    pub blob: Vec<u8>,
    /// `sha256:…` of the compressed blob (the manifest's layer digest).
    pub digest: String,
    /// `sha256:…` of the uncompressed tar (the config's `rootfs.diff_ids`).
    pub diff_id: String,
}

pub fn build(tree: &Tree, mtime: u64) -> anyhow::Result<Layer> {
    let tar = tar_bytes(tree, mtime)?;
    let diff_id = format!("sha256:{}", hex(&sha2::Sha256::digest(&tar)));
    let mut gz = flate2::GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(Vec::new(), flate2::Compression::new(GZIP_LEVEL));
    gz.write_all(&tar)?;
    let blob = gz.finish()?;
    let digest = format!("sha256:{}", hex(&sha2::Sha256::digest(&blob)));
    Ok(Layer {
        blob,
        digest,
        diff_id,
    })
}

/// The uncompressed tar of a tree (also used for the `oci-archive` file).
pub fn tar_bytes(tree: &Tree, mtime: u64) -> anyhow::Result<Vec<u8>> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, node) in &tree.0 {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(mtime);
        h.set_username("")?;
        h.set_groupname("")?;
        match node {
            Node::Dir { mode, owner } => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(*mode);
                h.set_uid((*owner).into());
                h.set_gid((*owner).into());
                h.set_size(0);
                b.append_data(&mut h, format!("{path}/"), std::io::empty())
            }
            Node::File { bytes, mode } => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(*mode);
                h.set_uid(0);
                h.set_gid(0);
                h.set_size(bytes.len() as u64);
                b.append_data(&mut h, path, &bytes[..])
            }
            Node::Symlink { target } => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_mode(0o777);
                h.set_uid(0);
                h.set_gid(0);
                h.set_size(0);
                b.append_link(&mut h, path, target)
            }
        }
        .with_context(|| format!("adding {path} to a layer"))?;
    }
    Ok(b.into_inner()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_are_added_and_entries_sorted() {
        let mut t = Tree::default();
        t.file("usr/local/bin/ferry", b"x".to_vec(), 0o755);
        t.dir("tmp", 0o1777, 0);
        t.symlink("bin/sh", "/bin/busybox");
        let paths: Vec<&str> = t.paths().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            paths,
            [
                "bin",
                "bin/sh",
                "tmp",
                "usr",
                "usr/local",
                "usr/local/bin",
                "usr/local/bin/ferry"
            ]
        );
    }

    #[test]
    fn same_tree_same_digests() {
        let mut t = Tree::default();
        t.file(
            "etc/passwd",
            b"root:x:0:0::/:/sbin/nologin\n".to_vec(),
            0o644,
        );
        let a = build(&t, 1_700_000_000).unwrap();
        let b = build(&t, 1_700_000_000).unwrap();
        assert_eq!(a.digest, b.digest);
        assert_eq!(a.diff_id, b.diff_id);
        let c = build(&t, 1_700_000_001).unwrap();
        assert_ne!(a.diff_id, c.diff_id, "the mtime is part of the layer");
    }
}
