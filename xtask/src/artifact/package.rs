//! What deb and rpm packages have in common: the version mapping, the file list (the same
//! payload in both, so a user gets the same files from apt and dnf), and the facts about the
//! binary that decide dependencies.

use std::io::Write;
use std::sync::Arc;

/// One file a Linux package installs.
#[derive(Debug, Clone)]
pub struct PayloadFile {
    /// Absolute install path, e.g. `/usr/bin/ferry`.
    pub path: String,
    pub bytes: Arc<Vec<u8>>,
    pub mode: u32,
    /// Documentation (rpm `%doc`); rpm also marks the licence file.
    pub doc: bool,
    pub license: bool,
}

impl PayloadFile {
    pub fn new(path: impl Into<String>, bytes: Vec<u8>, mode: u32) -> Self {
        Self {
            path: path.into(),
            bytes: Arc::new(bytes),
            mode,
            doc: false,
            license: false,
        }
    }
}

/// Package name of a variant: the default variant is the plain name, the others are
/// `<name>-<variant>` and conflict with it (they install the same `/usr/bin` path).
pub fn package_name(base: &str, variant: &str) -> String {
    if variant == DEFAULT_VARIANT {
        base.to_owned()
    } else {
        format!("{base}-{variant}")
    }
}

pub const DEFAULT_VARIANT: &str = "complete";

/// semver → deb/rpm upstream version: pre-release separators become `~`, which both dpkg and
/// rpm sort *before* the release (`2.1.0~rc.1` < `2.1.0`), as semver does. A `-` left inside
/// the version would read as a Debian revision or be refused by rpm, so every `-` maps.
pub fn package_version(semver: &str) -> String {
    semver.replace('-', "~")
}

/// Debian architecture name for a target arch.
pub fn deb_arch(arch: &str) -> Option<&'static str> {
    match arch {
        "x86_64" => Some("amd64"),
        "aarch64" => Some("arm64"),
        _ => None,
    }
}

/// The highest `GLIBC_x.y` symbol version the binary needs, from its dynamic string table
/// (found by scanning: a version string the linker recorded is present verbatim). `None`
/// for a static (musl) binary, which needs no libc package at all.
pub fn glibc_requirement(binary: &[u8]) -> Option<(u32, u32)> {
    const NEEDLE: &[u8] = b"GLIBC_";
    let mut best: Option<(u32, u32)> = None;
    let mut i = 0;
    while let Some(pos) = binary[i..].windows(NEEDLE.len()).position(|w| w == NEEDLE) {
        let start = i + pos + NEEDLE.len();
        let rest = &binary[start..binary.len().min(start + 16)];
        let end = rest
            .iter()
            .position(|b| !(b.is_ascii_digit() || *b == b'.'))
            .unwrap_or(rest.len());
        if let Ok(s) = std::str::from_utf8(&rest[..end]) {
            let mut parts = s.split('.').map(|p| p.parse::<u32>());
            if let (Some(Ok(major)), Some(Ok(minor))) = (parts.next(), parts.next()) {
                best = best.max(Some((major, minor)));
            }
        }
        i = start;
    }
    best
}

/// gzip with no name and mtime 0 (what `gzip -9n` gives): reproducible, and what lintian and
/// rpmlint expect for man pages and changelogs.
pub fn gzip(bytes: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut gz = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::best());
    gz.write_all(bytes)?;
    Ok(gz.finish()?)
}

/// The payload shared by deb and rpm. `docs` are format-specific files (copyright and
/// changelog for deb, licence and README for rpm) under the package's doc directory.
pub struct Payload {
    pub binary_name: String,
    pub binary: Vec<u8>,
    /// `completions/` and `man/` from the generate stage, when the variant has them.
    pub generated: Option<std::path::PathBuf>,
}

impl Payload {
    pub fn files(&self) -> anyhow::Result<Vec<PayloadFile>> {
        use anyhow::Context;
        let mut files = vec![PayloadFile::new(
            format!("/usr/bin/{}", self.binary_name),
            self.binary.clone(),
            0o755,
        )];
        let Some(gen) = &self.generated else {
            return Ok(files);
        };
        let read = |rel: &str| {
            let p = gen.join(rel);
            std::fs::read(&p).with_context(|| format!("reading {}", p.display()))
        };
        let name = &self.binary_name;
        if gen.join("man").is_dir() {
            let mut man = PayloadFile::new(
                format!("/usr/share/man/man1/{name}.1.gz"),
                gzip(&read(&format!("man/{name}.1"))?)?,
                0o644,
            );
            man.doc = true;
            files.push(man);
        }
        if gen.join("completions").is_dir() {
            // The directories bash-completion, zsh and fish load vendor completions from.
            for (src, dest) in [
                (
                    format!("completions/{name}.bash"),
                    format!("/usr/share/bash-completion/completions/{name}"),
                ),
                (
                    format!("completions/_{name}"),
                    format!("/usr/share/zsh/vendor-completions/_{name}"),
                ),
                (
                    format!("completions/{name}.fish"),
                    format!("/usr/share/fish/vendor_completions.d/{name}.fish"),
                ),
            ] {
                files.push(PayloadFile::new(dest, read(&src)?, 0o644));
            }
        }
        Ok(files)
    }
}

/// RFC 2822 date (`Mon, 23 Nov 2026 01:02:03 +0000`) for Debian changelogs.
pub fn rfc2822(secs: u64) -> String {
    let (y, m, d, hh, mm, ss) = crate::context::civil(secs);
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let wd = DAYS[((secs / 86_400) % 7) as usize];
    format!(
        "{wd}, {d:02} {} {y:04} {hh:02}:{mm:02}:{ss:02} +0000",
        MONTHS[(m - 1) as usize]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pre_releases_map_to_tilde() {
        assert_eq!(package_version("2.1.0"), "2.1.0");
        assert_eq!(package_version("2.1.0-rc.1"), "2.1.0~rc.1");
        assert_eq!(package_version("2.1.0-rc-1+build.5"), "2.1.0~rc~1+build.5");
    }

    #[test]
    fn glibc_requirement_takes_the_highest_version() {
        let bin = b"\0GLIBC_2.2.5\0GLIBC_2.34\0GLIBC_2.17\0GLIBC_PRIVATE\0";
        assert_eq!(glibc_requirement(bin), Some((2, 34)));
        assert_eq!(glibc_requirement(b"static musl binary"), None);
    }

    #[test]
    fn rfc2822_known_date() {
        assert_eq!(rfc2822(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(rfc2822(1_709_251_199), "Thu, 29 Feb 2024 23:59:59 +0000");
    }
}
