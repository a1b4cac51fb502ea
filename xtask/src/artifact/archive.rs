//! Reproducible tar.gz, tar.xz and zip archives, written in-process.
//!
//! Reproducible means: entries sorted by path, every mtime the release's `SOURCE_DATE_EPOCH`,
//! uid/gid 0 with empty owner names, modes normalised (0755 for directories and executables,
//! 0644 for the rest), fixed compression settings and no host metadata (gzip mtime 0, no zip
//! extra fields). Text files in zips get CRLF line endings for Windows users.

use std::io::{self, Read, Write};
use std::path::Path;

use anyhow::{bail, Context};
use sha2::Digest;

use crate::config::ArchiveFormat;
use crate::context::{civil, hex};

#[derive(Debug, Clone)]
pub struct Entry {
    /// `/`-separated path inside the archive, without a trailing slash.
    pub path: String,
    pub data: EntryData,
}

#[derive(Debug, Clone)]
pub enum EntryData {
    Dir,
    File {
        bytes: std::sync::Arc<Vec<u8>>,
        executable: bool,
    },
}

/// What `write` produced, hashed while writing so nothing is read back.
pub struct Written {
    pub sha256: String,
    pub size: u64,
}

/// Compression settings match the plain tools' defaults (`gzip -6`, `xz -6`) and `zip -9`, so
/// the benchmark compares like with like.
const GZIP_LEVEL: u32 = 6;
const XZ_PRESET: u32 = 6;
const ZIP_LEVEL: i64 = 9;

pub fn write(
    path: &Path,
    format: ArchiveFormat,
    entries: &[Entry],
    mtime: u64,
) -> anyhow::Result<Written> {
    let mut entries = entries.to_vec();
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut out = HashingWriter::new(io::BufWriter::with_capacity(1 << 20, file));
    match format {
        ArchiveFormat::TarGz => {
            let gz = flate2::GzBuilder::new()
                .mtime(0)
                .operating_system(255)
                .write(&mut out, flate2::Compression::new(GZIP_LEVEL));
            let gz = write_tar(gz, &entries, mtime)?;
            gz.finish()?;
        }
        ArchiveFormat::TarXz => {
            let xz =
                lzma_rust2::XzWriter::new(&mut out, lzma_rust2::XzOptions::with_preset(XZ_PRESET))?;
            let xz = write_tar(xz, &entries, mtime)?;
            xz.finish()?;
        }
        ArchiveFormat::Zip => {
            // The zip writer needs Seek; a release archive fits in memory comfortably.
            let bytes = write_zip(&entries, mtime)?;
            out.write_all(&bytes)?;
        }
    }
    out.flush()?;
    let (sha256, size) = out.finish();
    Ok(Written { sha256, size })
}

fn write_tar<W: Write>(w: W, entries: &[Entry], mtime: u64) -> anyhow::Result<W> {
    let mut b = tar::Builder::new(w);
    for e in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(mtime);
        h.set_uid(0);
        h.set_gid(0);
        h.set_username("")?;
        h.set_groupname("")?;
        match &e.data {
            EntryData::Dir => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
                b.append_data(&mut h, format!("{}/", e.path), io::empty())
                    .with_context(|| format!("adding {}", e.path))?;
            }
            EntryData::File { bytes, executable } => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(if *executable { 0o755 } else { 0o644 });
                h.set_size(bytes.len() as u64);
                b.append_data(&mut h, &e.path, &bytes[..])
                    .with_context(|| format!("adding {}", e.path))?;
            }
        }
    }
    Ok(b.into_inner()?)
}

fn write_zip(entries: &[Entry], mtime: u64) -> anyhow::Result<Vec<u8>> {
    use zip::write::SimpleFileOptions;
    let (y, mo, d, h, mi, s) = civil(mtime);
    let when =
        zip::DateTime::from_date_and_time(y as u16, mo as u8, d as u8, h as u8, mi as u8, s as u8)
            .map_err(|e| {
                anyhow::anyhow!("zip cannot store the date of SOURCE_DATE_EPOCH {mtime}: {e}")
            })?;
    let base = SimpleFileOptions::default()
        .last_modified_time(when)
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(ZIP_LEVEL))
        .large_file(false);
    let mut z = zip::ZipWriter::new(io::Cursor::new(Vec::new()));
    for e in entries {
        match &e.data {
            EntryData::Dir => {
                z.add_directory(format!("{}/", e.path), base.unix_permissions(0o755))?;
            }
            EntryData::File { bytes, executable } => {
                z.start_file(
                    e.path.as_str(),
                    base.unix_permissions(if *executable { 0o755 } else { 0o644 }),
                )?;
                if !*executable && is_text(bytes) {
                    z.write_all(&to_crlf(bytes))?;
                } else {
                    z.write_all(bytes)?;
                }
            }
        }
    }
    Ok(z.finish()?.into_inner())
}

/// Text = valid UTF-8 without NUL bytes; good enough for READMEs, completions and man pages.
pub fn is_text(bytes: &[u8]) -> bool {
    !bytes.contains(&0) && std::str::from_utf8(bytes).is_ok()
}

/// LF → CRLF, leaving existing CRLF alone.
pub fn to_crlf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 32);
    let mut prev = 0u8;
    for &b in bytes {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    out
}

/// One entry as read back from an archive (for `verify`).
#[derive(Debug)]
pub struct Listed {
    pub path: String,
    pub is_dir: bool,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub owner_names: (String, String),
    pub mtime: u64,
    pub data: Vec<u8>,
}

pub fn read(path: &Path, format: ArchiveFormat) -> anyhow::Result<Vec<Listed>> {
    let file = io::BufReader::new(
        std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?,
    );
    match format {
        ArchiveFormat::TarGz => read_tar(flate2::read::GzDecoder::new(file)),
        ArchiveFormat::TarXz => read_tar(lzma_rust2::XzReader::new(file, false)),
        ArchiveFormat::Zip => read_zip(file),
    }
    .with_context(|| format!("reading archive {}", path.display()))
}

fn read_tar<R: Read>(r: R) -> anyhow::Result<Vec<Listed>> {
    let mut a = tar::Archive::new(r);
    let mut out = Vec::new();
    for e in a.entries()? {
        let mut e = e?;
        let h = e.header().clone();
        let path = e.path()?.to_string_lossy().trim_end_matches('/').to_owned();
        let is_dir = h.entry_type().is_dir();
        let mut data = Vec::new();
        if !is_dir {
            e.read_to_end(&mut data)?;
        }
        out.push(Listed {
            path,
            is_dir,
            mode: h.mode()?,
            uid: h.uid()?,
            gid: h.gid()?,
            owner_names: (
                h.username().ok().flatten().unwrap_or_default().to_owned(),
                h.groupname().ok().flatten().unwrap_or_default().to_owned(),
            ),
            mtime: h.mtime()?,
            data,
        });
    }
    Ok(out)
}

fn read_zip<R: Read + io::Seek>(r: R) -> anyhow::Result<Vec<Listed>> {
    let mut z = zip::ZipArchive::new(r)?;
    let mut out = Vec::new();
    for i in 0..z.len() {
        let mut f = z.by_index(i)?;
        let is_dir = f.is_dir();
        let mut data = Vec::new();
        if !is_dir {
            f.read_to_end(&mut data)?;
        }
        let mtime = f.last_modified().map(|d| {
            let days = days_from_civil(
                i64::from(d.year()),
                u32::from(d.month()),
                u32::from(d.day()),
            );
            (days * 86_400) as u64
                + u64::from(d.hour()) * 3600
                + u64::from(d.minute()) * 60
                + u64::from(d.second())
        });
        out.push(Listed {
            path: f.name().trim_end_matches('/').to_owned(),
            is_dir,
            mode: f.unix_mode().unwrap_or(0) & 0o7777,
            uid: 0,
            gid: 0,
            owner_names: (String::new(), String::new()),
            mtime: mtime.unwrap_or(0),
            data,
        });
    }
    if out.is_empty() {
        bail!("the zip has no entries");
    }
    Ok(out)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

struct HashingWriter<W: Write> {
    inner: W,
    hasher: sha2::Sha256,
    count: u64,
}

impl<W: Write> HashingWriter<W> {
    fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: sha2::Sha256::new(),
            count: 0,
        }
    }

    fn finish(self) -> (String, u64) {
        (hex(&self.hasher.finalize()), self.count)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_conversion_keeps_existing_crlf() {
        assert_eq!(to_crlf(b"a\nb\r\nc\n"), b"a\r\nb\r\nc\r\n");
    }

    #[test]
    fn civil_round_trip() {
        for secs in [315_532_800u64, 1_700_000_000, 1_709_251_199] {
            let (y, m, d, ..) = civil(secs);
            assert_eq!(days_from_civil(y, m, d), (secs / 86_400) as i64);
        }
    }
}
