//! Reading files out of a Debian package (`ar` archive holding `data.tar.{xz,gz}`), in-process,
//! so building images needs neither dpkg-deb nor a container engine.

use std::collections::BTreeMap;
use std::io::Read;

use anyhow::{bail, Context};

/// A regular file found in a package's data tar (modes are set by the image's own rules).
#[derive(Debug, Clone)]
pub enum DebEntry {
    File { bytes: Vec<u8> },
}

/// Every regular file of the package, keyed by path without the leading `./`.
pub fn data_files(deb: &[u8]) -> anyhow::Result<BTreeMap<String, DebEntry>> {
    let (name, member) = ar_members(deb)?
        .into_iter()
        .find(|(n, _)| n.starts_with("data.tar"))
        .context("the package has no data.tar member")?;
    let reader: Box<dyn Read + '_> = match name.as_str() {
        "data.tar.xz" => Box::new(lzma_rust2::XzReader::new(member, true)),
        "data.tar.gz" => Box::new(flate2::read::GzDecoder::new(member)),
        "data.tar" => Box::new(member),
        other => bail!("unsupported package compression `{other}` (xz and gzip are read)"),
    };
    let mut out = BTreeMap::new();
    let mut tar = tar::Archive::new(reader);
    for entry in tar.entries().context("reading the package's data tar")? {
        let mut entry = entry?;
        let path = entry.path()?.to_string_lossy().into_owned();
        let path = path
            .trim_start_matches("./")
            .trim_end_matches('/')
            .to_owned();
        if entry.header().entry_type() == tar::EntryType::Regular {
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes)?;
            out.insert(path, DebEntry::File { bytes });
        }
    }
    Ok(out)
}

/// Members of a System V / GNU `ar` archive: 8-byte magic, then 60-byte headers each followed
/// by the data, padded to an even length.
fn ar_members(bytes: &[u8]) -> anyhow::Result<Vec<(String, &[u8])>> {
    const MAGIC: &[u8] = b"!<arch>\n";
    if !bytes.starts_with(MAGIC) {
        bail!("not a Debian package (no ar header)");
    }
    let mut pos = MAGIC.len();
    let mut out = Vec::new();
    while pos + 60 <= bytes.len() {
        let header = &bytes[pos..pos + 60];
        let name = String::from_utf8_lossy(&header[..16])
            .trim_end()
            .trim_end_matches('/')
            .to_owned();
        let size: usize = String::from_utf8_lossy(&header[48..58])
            .trim()
            .parse()
            .context("corrupt ar member size")?;
        let start = pos + 60;
        let end = start
            .checked_add(size)
            .filter(|e| *e <= bytes.len())
            .context("truncated package")?;
        out.push((name, &bytes[start..end]));
        pos = end + (size % 2);
    }
    Ok(out)
}
