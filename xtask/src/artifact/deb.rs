//! Debian binary packages, written in-process: an `ar` archive of `debian-binary`,
//! `control.tar.gz` and `data.tar.gz` (deb(5)).
//!
//! Reproducible like the archives: entries sorted, every mtime `SOURCE_DATE_EPOCH`, uid/gid 0
//! with empty owner names, modes from the payload, gzip without name or time.

use std::collections::BTreeSet;
use std::io::Write;

use anyhow::Context;
use md5::Digest;

use crate::artifact::package::PayloadFile;

/// Control files besides `control` and `md5sums` (none today: no maintainer scripts, no
/// conffiles). Kept as a parameter so adding a postinst is a data change.
pub struct Deb<'a> {
    pub control: &'a str,
    pub files: &'a [PayloadFile],
    pub mtime: u64,
}

impl Deb<'_> {
    pub fn to_bytes(&self) -> anyhow::Result<Vec<u8>> {
        let mut files = self.files.to_vec();
        files.sort_by(|a, b| a.path.cmp(&b.path));
        let md5sums: String = files
            .iter()
            .map(|f| {
                let sum = crate::context::hex(&md5::Md5::digest(&f.bytes[..]));
                format!("{sum}  {}\n", f.path.trim_start_matches('/'))
            })
            .collect();
        let control_tar = tar_gz(
            &[],
            &[
                ("control", self.control.as_bytes(), 0o644),
                ("md5sums", md5sums.as_bytes(), 0o644),
            ],
            self.mtime,
        )
        .context("writing control.tar.gz")?;
        let dirs = parent_dirs(&files);
        let data: Vec<(&str, &[u8], u32)> = files
            .iter()
            .map(|f| (f.path.trim_start_matches('/'), &f.bytes[..], f.mode))
            .collect();
        let data_tar = tar_gz(&dirs, &data, self.mtime).context("writing data.tar.gz")?;
        let mut out = b"!<arch>\n".to_vec();
        for (name, bytes) in [
            ("debian-binary", &b"2.0\n"[..]),
            ("control.tar.gz", &control_tar),
            ("data.tar.gz", &data_tar),
        ] {
            ar_member(&mut out, name, bytes, self.mtime)?;
        }
        Ok(out)
    }
}

/// `Installed-Size` in KiB, the way dpkg-gencontrol counts: each file rounded up.
pub fn installed_size_kib(files: &[PayloadFile]) -> u64 {
    files
        .iter()
        .map(|f| (f.bytes.len() as u64).div_ceil(1024))
        .sum::<u64>()
        + 1
}

/// Every directory above the files (`usr`, `usr/bin`, …), sorted; dpkg wants them listed.
fn parent_dirs(files: &[PayloadFile]) -> Vec<String> {
    let mut dirs = BTreeSet::new();
    for f in files {
        let rel = f.path.trim_start_matches('/');
        let mut acc = String::new();
        let parts: Vec<&str> = rel.split('/').collect();
        for p in &parts[..parts.len() - 1] {
            if !acc.is_empty() {
                acc.push('/');
            }
            acc.push_str(p);
            dirs.insert(acc.clone());
        }
    }
    dirs.into_iter().collect()
}

/// A file's bytes and mode; `None` in its place marks a directory.
type FileData<'a> = (&'a [u8], u32);

/// A tar.gz with `./`-prefixed names, as dpkg-deb writes them.
fn tar_gz(dirs: &[String], files: &[(&str, &[u8], u32)], mtime: u64) -> anyhow::Result<Vec<u8>> {
    let gz = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::best());
    let mut b = tar::Builder::new(gz);
    let header = |kind: tar::EntryType, mode: u32, size: u64| -> anyhow::Result<tar::Header> {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(size);
        h.set_mtime(mtime);
        h.set_uid(0);
        h.set_gid(0);
        h.set_username("root")?;
        h.set_groupname("root")?;
        Ok(h)
    };
    // Directories and files interleaved in path order, so a listing reads top-down.
    let mut entries: Vec<(String, Option<FileData>)> = vec![("./".to_owned(), None)];
    entries.extend(dirs.iter().map(|d| (format!("./{d}/"), None)));
    entries.extend(
        files
            .iter()
            .map(|(p, bytes, mode)| (format!("./{p}"), Some((*bytes, *mode)))),
    );
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (path, data) in entries {
        let (mut h, bytes): (tar::Header, &[u8]) = match data {
            None => (header(tar::EntryType::Directory, 0o755, 0)?, &[]),
            Some((bytes, mode)) => (
                header(tar::EntryType::Regular, mode, bytes.len() as u64)?,
                bytes,
            ),
        };
        // The name goes in raw: the tar crate's path setters drop the leading `./` that
        // dpkg-deb writes (and that tools listing a deb show).
        let name = &mut h.as_old_mut().name;
        anyhow::ensure!(
            path.len() < name.len(),
            "{path}: longer than a tar name field; this is a bug, please report it"
        );
        name[..path.len()].copy_from_slice(path.as_bytes());
        h.set_cksum();
        b.append(&h, bytes)
            .with_context(|| format!("adding {path}"))?;
    }
    Ok(b.into_inner()?.finish()?)
}

/// One member of a common-format `ar` archive: a 60-byte header, the data, and a pad byte to
/// keep members 2-aligned.
fn ar_member(out: &mut Vec<u8>, name: &str, bytes: &[u8], mtime: u64) -> anyhow::Result<()> {
    let header = format!(
        "{name:<16}{mtime:<12}{:<6}{:<6}{:<8o}{:<10}`\n",
        0,
        0,
        0o100644,
        bytes.len()
    );
    anyhow::ensure!(
        header.len() == 60,
        "ar header for {name} is {} bytes, not 60: this is a bug, please report it",
        header.len()
    );
    out.write_all(header.as_bytes())?;
    out.write_all(bytes)?;
    if bytes.len() % 2 == 1 {
        out.push(b'\n');
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_dirs_are_listed_once_in_order() {
        let files = vec![
            PayloadFile::new("/usr/bin/ferry", vec![], 0o755),
            PayloadFile::new("/usr/share/doc/ferry/copyright", vec![], 0o644),
        ];
        assert_eq!(
            parent_dirs(&files),
            [
                "usr",
                "usr/bin",
                "usr/share",
                "usr/share/doc",
                "usr/share/doc/ferry"
            ]
        );
    }

    #[test]
    fn same_input_gives_the_same_bytes() {
        let files = vec![PayloadFile::new("/usr/bin/x", b"abc".to_vec(), 0o755)];
        let deb = Deb {
            control: "Package: x\n",
            files: &files,
            mtime: 1_700_000_000,
        };
        assert_eq!(deb.to_bytes().unwrap(), deb.to_bytes().unwrap());
        assert!(deb.to_bytes().unwrap().starts_with(
            b"!<arch>\ndebian-binary   1700000000  0     0     100644  4         `\n2.0\n"
        ));
    }
}
