//! The images' pinned inputs (`containers/inputs.toml`): Debian packages identified by name,
//! version, architecture and SHA-256, fetched with `apt-get download` into a cache outside the
//! clone, stored under their hash, and checked again whenever they are read.
//!
//! apt runs with its own lists and cache directories and with amd64 + arm64 enabled for this
//! call only, so fetching never touches the machine's apt configuration (see TESTBED's note on
//! arm64 busybox). The mirror is whatever the machine's sources.list says.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::Deserialize;

use crate::context::hex;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    pub deb: Vec<Deb>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deb {
    pub package: String,
    pub version: String,
    /// Debian architecture: `amd64`, `arm64` or `all`.
    pub arch: String,
    pub sha256: String,
}

impl Inputs {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let inputs: Inputs =
            toml::from_str(&text).with_context(|| format!("invalid {}", path.display()))?;
        for d in &inputs.deb {
            if d.sha256.len() != 64 || !d.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                bail!(
                    "{}: sha256 of {} ({}) is not 64 hex digits",
                    path.display(),
                    d.package,
                    d.arch
                );
            }
        }
        Ok(inputs)
    }

    /// The package for a Debian architecture, falling back to an `all` package.
    pub fn find(&self, package: &str, arch: &str) -> anyhow::Result<&Deb> {
        self.deb
            .iter()
            .find(|d| d.package == package && d.arch == arch)
            .or_else(|| {
                self.deb
                    .iter()
                    .find(|d| d.package == package && d.arch == "all")
            })
            .with_context(|| {
                format!(
                    "containers/inputs.toml pins no `{package}` for `{arch}`; add a [[deb]] entry"
                )
            })
    }
}

/// `$FERRY_OCI_INPUTS_DIR`, else `$XDG_CACHE_HOME/ferry/oci-inputs`, else `~/.cache/…`.
pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("FERRY_OCI_INPUTS_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache")
        });
    base.join("ferry").join("oci-inputs")
}

impl Deb {
    fn cached_path(&self, cache: &Path) -> PathBuf {
        cache.join(format!("{}.deb", self.sha256))
    }

    /// The package's bytes from the cache, checked against the pinned hash.
    pub fn read(&self, cache: &Path) -> anyhow::Result<Vec<u8>> {
        let path = self.cached_path(cache);
        let bytes = std::fs::read(&path).with_context(|| {
            format!(
                "{} {} ({}) is not in the cache {}; run `cargo xtask setup` or `cargo xtask oci fetch`",
                self.package,
                self.version,
                self.arch,
                cache.display()
            )
        })?;
        let got = sha256_hex(&bytes);
        if got != self.sha256 {
            bail!(
                "{} has SHA-256 {got}, but containers/inputs.toml pins {}; delete it and run `cargo xtask oci fetch`",
                path.display(),
                self.sha256
            );
        }
        Ok(bytes)
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(bytes))
}

/// Downloads every pinned package missing from the cache; a present one is only re-checked.
pub fn fetch(inputs: &Inputs, cache: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(cache).with_context(|| format!("creating {}", cache.display()))?;
    let missing: Vec<&Deb> = inputs
        .deb
        .iter()
        .filter(|d| d.read(cache).is_err())
        .collect();
    if missing.is_empty() {
        eprintln!(
            "oci inputs: all {} packages present in {}",
            inputs.deb.len(),
            cache.display()
        );
        return Ok(());
    }
    let work = cache.join("apt");
    for sub in ["lists/partial", "cache/archives/partial", "download"] {
        std::fs::create_dir_all(work.join(sub))?;
    }
    let opts = [
        "-o".to_owned(),
        "APT::Architectures::=amd64".to_owned(),
        "-o".to_owned(),
        "APT::Architectures::=arm64".to_owned(),
        // Root downloads into a root-owned cache; the `_apt` sandbox user could not write there.
        "-o".to_owned(),
        "APT::Sandbox::User=root".to_owned(),
        "-o".to_owned(),
        format!("Dir::State::Lists={}", work.join("lists").display()),
        "-o".to_owned(),
        format!("Dir::Cache={}", work.join("cache").display()),
    ];
    eprintln!("oci inputs: apt-get update (private lists, amd64 + arm64)");
    let mut args = opts.to_vec();
    args.extend(["update".to_owned(), "-qq".to_owned()]);
    let status = duct::cmd("apt-get", &args)
        .stdout_to_stderr()
        .unchecked()
        .run()
        .context("running apt-get (fetching image inputs needs Debian's apt)")?
        .status;
    if !status.success() {
        bail!("apt-get update failed ({status}); see its output above");
    }
    let download = work.join("download");
    for d in missing {
        let spec = if d.arch == "all" {
            format!("{}={}", d.package, d.version)
        } else {
            format!("{}:{}={}", d.package, d.arch, d.version)
        };
        eprintln!("oci inputs: apt-get download {spec}");
        let mut args = opts.to_vec();
        args.extend(["download".to_owned(), "-qq".to_owned(), spec.clone()]);
        for e in std::fs::read_dir(&download)? {
            std::fs::remove_file(e?.path())?;
        }
        let status = duct::cmd("apt-get", &args)
            .dir(&download)
            .stdout_to_stderr()
            .unchecked()
            .run()?
            .status;
        if !status.success() {
            bail!("apt-get download {spec} failed ({status}); if the archive no longer has this version, pin the current one in containers/inputs.toml");
        }
        let file = std::fs::read_dir(&download)?
            .next()
            .context("apt-get download wrote no file")??
            .path();
        let bytes = std::fs::read(&file)?;
        let got = sha256_hex(&bytes);
        if got != d.sha256 {
            bail!(
                "{spec} downloaded with SHA-256 {got}, but containers/inputs.toml pins {}; if the new file is trusted, update the pin",
                d.sha256
            );
        }
        std::fs::rename(&file, d.cached_path(cache))?;
    }
    Ok(())
}
