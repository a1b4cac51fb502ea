//! Windows Installer packages: the WiX source is rendered from `packaging/msi/ferry.wxs.j2`,
//! built with `wixl` (msitools), and the PATH entry wixl cannot express is added with
//! `msibuild` (see the template's header comment).
//!
//! Codes: the UpgradeCode is fixed forever (one product line); ProductCode, PackageCode and
//! the component GUID are derived from the version and variant (name-based, SHA-256), so a
//! rebuild of one release gets the same codes.
//!
//! Reproducibility: wixl (msitools 0.101) ignores Package/@Id and stamps the summary
//! information with a random package code and its own clock, and neither wixl nor libmsi reads
//! SOURCE_DATE_EPOCH; `msibuild -s` could set the code but its argument parsing is broken for
//! the uuid argument. So after msibuild, `pin_summary_info` overwrites those three fields in
//! place (same lengths, nothing else moves). The other input from outside is the payload's
//! modification time, which the embedded cabinet records: the stage sets it before wixl runs.

use std::path::Path;
use std::time::{Duration, SystemTime};

use anyhow::{bail, ensure, Context};
use sha2::Digest;

/// Never change this: Windows finds earlier ferry installs to upgrade by it.
pub const UPGRADE_CODE: &str = "6F1D2B7C-5E0A-4C39-9B8E-3A4F6D2E1C57";

/// Tools the msi stage shells out to (Debian packages `wixl` and `msitools`).
pub const TOOLS: &[&str] = &["wixl", "msibuild"];

/// semver → MSI ProductVersion `major.minor.build` (Windows compares only these three;
/// build ≤ 65535). Pre-releases must sort before their release, so the build field is
/// `patch * 100 + n`: n = 99 for a release, the pre-release's number (≤ 98) otherwise.
/// `2.1.0` → `2.1.99`, `2.1.0-rc.1` → `2.1.1`, `2.1.1` → `2.1.199`.
pub fn msi_version(semver: &str) -> anyhow::Result<String> {
    let core = semver.split('+').next().unwrap_or(semver);
    let (release, pre) = match core.split_once('-') {
        Some((r, p)) => (r, Some(p)),
        None => (core, None),
    };
    let nums: Vec<u32> = release
        .split('.')
        .map(|n| {
            n.parse()
                .with_context(|| format!("version {semver} is not semver"))
        })
        .collect::<anyhow::Result<_>>()?;
    let [major, minor, patch] = nums[..] else {
        bail!("version {semver} is not major.minor.patch");
    };
    let n = match pre {
        None => 99,
        Some(p) => p
            .split('.')
            .filter_map(|i| i.parse::<u32>().ok())
            .next_back()
            .unwrap_or(0)
            .min(98),
    };
    let build = patch * 100 + n;
    if major > 255 || minor > 255 || build > 65_535 {
        bail!("version {semver} does not fit an MSI ProductVersion (255.255.65535 with patch*100)");
    }
    Ok(format!("{major}.{minor}.{build}"))
}

/// A GUID derived from a name (stable across builds of the same release).
pub fn guid_for(name: &str) -> String {
    let h = sha2::Sha256::digest(name.as_bytes());
    let hex = crate::context::hex(&h[..16]).to_uppercase();
    // Version nibble 5 and the RFC 4122 variant, as name-based UUIDs have.
    format!(
        "{}-{}-5{}-{}{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        ["8", "9", "A", "B"][usize::from(h[8] & 3)],
        &hex[17..20],
        &hex[20..32]
    )
}

/// Environment table (IDT format) with one row: append `[BINDIR]` to the system PATH on
/// install (`=-*`: set, remove on uninstall, system-wide; `[~];` = append).
const ENVIRONMENT_IDT: &str = "Environment\tName\tValue\tComponent_\ns72\tl255\tL255\ts72\nEnvironment\tEnvironment\nPathEnv\t=-*PATH\t[~];[BINDIR]\tMainExe\n";

/// What wixl would otherwise take from a random source and the clock.
pub struct Pins<'a> {
    /// The PackageCode (summary information revision number), a GUID without braces.
    pub package_code: &'a str,
    /// Seconds since 1970 (SOURCE_DATE_EPOCH) for the creation and save times.
    pub epoch: u64,
}

/// Builds `out` from `wxs` with wixl, adds the PATH entry with msibuild, then pins the summary
/// information so the same inputs give the same bytes.
pub fn build(wxs: &Path, out: &Path, work: &Path, pins: &Pins) -> anyhow::Result<()> {
    run_wixl(wxs, out, work)?;
    add_path_entry(out, work)?;
    pin_summary_info(out, pins)
        .with_context(|| format!("pinning the summary information of {}", out.display()))
}

/// Sets a file's modification time to `epoch`: a cabinet records it for every file it holds.
pub fn set_mtime(path: &Path, epoch: u64) -> anyhow::Result<()> {
    std::fs::File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(epoch)))
        .with_context(|| format!("setting the modification time of {}", path.display()))
}

fn run_wixl(wxs: &Path, out: &Path, work: &Path) -> anyhow::Result<()> {
    // wixl resolves File/@Source relative to its working directory and rejects absolute paths.
    let status = duct::cmd!("wixl", "-a", "x64", "-o", out, wxs)
        .dir(work)
        .stdout_to_stderr()
        .unchecked()
        .run()
        .context("running wixl (install the wixl package)")?;
    if !status.status.success() {
        bail!("wixl failed ({}); its output is above", status.status);
    }
    Ok(())
}

fn add_path_entry(out: &Path, work: &Path) -> anyhow::Result<()> {
    let idt = work.join("Environment.idt");
    std::fs::write(&idt, ENVIRONMENT_IDT)?;
    let out_status = duct::cmd!(
        "msibuild",
        out,
        "-i",
        &idt,
        "-q",
        "INSERT INTO `InstallExecuteSequence` (`Action`,`Sequence`) VALUES ('WriteEnvironmentStrings',5200)",
        "-q",
        "INSERT INTO `InstallExecuteSequence` (`Action`,`Sequence`) VALUES ('RemoveEnvironmentStrings',3300)"
    )
    .stdout_to_stderr()
    .unchecked()
    .run()
    .context("running msibuild (install the msitools package)")?;
    if !out_status.status.success() {
        bail!(
            "msibuild failed ({}); its output is above",
            out_status.status
        );
    }
    Ok(())
}

/// Summary information property ids and types (MS-OLEPS, Windows Installer's PID_* names).
const PID_REVNUMBER: u32 = 9;
const PID_LASTPRINTED: u32 = 11;
const PID_CREATE_DTM: u32 = 12;
const PID_LASTSAVE_DTM: u32 = 13;
const VT_LPSTR: u32 = 30;
const VT_FILETIME: u32 = 64;
const SUMMARY_STREAM: &str = "\u{5}SummaryInformation";
/// Seconds from 1601-01-01 (FILETIME's origin) to 1970-01-01.
const FILETIME_UNIX_OFFSET: u64 = 11_644_473_600;

/// Overwrites the package code and the creation/save times in the msi's summary information,
/// in place: the stream keeps its length, so the compound file's layout does not change.
pub fn pin_summary_info(msi: &Path, pins: &Pins) -> anyhow::Result<()> {
    let mut file = std::fs::read(msi).with_context(|| format!("reading {}", msi.display()))?;
    let positions = Cfb::parse(&file)?.stream_positions(SUMMARY_STREAM)?;
    let mut stream: Vec<u8> = positions.iter().map(|&p| file[p]).collect();
    pin_properties(&mut stream, pins)?;
    for (&p, &b) in positions.iter().zip(&stream) {
        file[p] = b;
    }
    std::fs::write(msi, file).with_context(|| format!("writing {}", msi.display()))
}

/// Patches the property set in `stream`; fails if wixl stopped writing one of the three
/// properties, since the msi would then not be reproducible any more.
fn pin_properties(stream: &mut [u8], pins: &Pins) -> anyhow::Result<()> {
    ensure!(u16_at(stream, 0)? == 0xFFFE, "not a property set stream");
    let section = u32_at(stream, 44)? as usize;
    let count = u32_at(stream, section + 4)? as usize;
    let filetime = (pins.epoch + FILETIME_UNIX_OFFSET) * 10_000_000;
    let mut pinned = Vec::new();
    for i in 0..count {
        let entry = section + 8 + 8 * i;
        let pid = u32_at(stream, entry)?;
        let value = section + u32_at(stream, entry + 4)? as usize;
        match pid {
            PID_REVNUMBER => set_lpstr(stream, value, &format!("{{{}}}", pins.package_code))?,
            PID_LASTPRINTED | PID_CREATE_DTM | PID_LASTSAVE_DTM => {
                set_filetime(stream, value, filetime)?;
            }
            _ => continue,
        }
        pinned.push(pid);
    }
    for pid in [PID_REVNUMBER, PID_CREATE_DTM, PID_LASTSAVE_DTM] {
        ensure!(
            pinned.contains(&pid),
            "no property {pid} in the summary information"
        );
    }
    Ok(())
}

fn set_lpstr(stream: &mut [u8], at: usize, value: &str) -> anyhow::Result<()> {
    ensure!(
        u32_at(stream, at)? == VT_LPSTR,
        "the package code is not a string"
    );
    // The stored length counts the terminating NUL.
    let len = u32_at(stream, at + 4)? as usize;
    ensure!(
        len == value.len() + 1,
        "the package code wixl wrote has {} bytes, {value} has {}",
        len.saturating_sub(1),
        value.len()
    );
    slice_mut(stream, at + 8, value.len())?.copy_from_slice(value.as_bytes());
    Ok(())
}

fn set_filetime(stream: &mut [u8], at: usize, value: u64) -> anyhow::Result<()> {
    ensure!(
        u32_at(stream, at)? == VT_FILETIME,
        "a date is not a FILETIME"
    );
    slice_mut(stream, at + 4, 8)?.copy_from_slice(&value.to_le_bytes());
    Ok(())
}

fn slice_mut(b: &mut [u8], at: usize, len: usize) -> anyhow::Result<&mut [u8]> {
    let total = b.len();
    b.get_mut(at..at + len)
        .with_context(|| format!("offset {at} is past the end ({total} bytes)"))
}

fn u16_at(b: &[u8], at: usize) -> anyhow::Result<u16> {
    let s = b
        .get(at..at + 2)
        .with_context(|| format!("offset {at} is past the end"))?;
    Ok(u16::from_le_bytes([s[0], s[1]]))
}

fn u32_at(b: &[u8], at: usize) -> anyhow::Result<u32> {
    let s = b
        .get(at..at + 4)
        .with_context(|| format!("offset {at} is past the end"))?;
    Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// Just enough of a compound file (MS-CFB) reader to find where a stream's bytes are: an msi
/// is one, and no tool here edits a summary stream's dates.
struct Cfb<'a> {
    bytes: &'a [u8],
    sector_size: usize,
    fat: Vec<u32>,
}

const END_OF_CHAIN: u32 = 0xFFFF_FFFE;
const FREE_SECTOR: u32 = 0xFFFF_FFFF;
const DIR_ENTRY_LEN: usize = 128;
const OBJ_STREAM: u8 = 2;

impl<'a> Cfb<'a> {
    fn parse(bytes: &'a [u8]) -> anyhow::Result<Self> {
        ensure!(
            bytes.len() >= 512
                && bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]),
            "not a compound file"
        );
        let shift = u16_at(bytes, 30)?;
        ensure!(shift == 9 || shift == 12, "sector shift {shift}");
        let mut cfb = Self {
            bytes,
            sector_size: 1 << shift,
            fat: Vec::new(),
        };
        for id in cfb.fat_sectors()? {
            let sector = cfb.sector(id)?;
            cfb.fat.extend(words(sector));
        }
        Ok(cfb)
    }

    /// The FAT's own sectors: 109 listed in the header, the rest in the DIFAT chain.
    fn fat_sectors(&self) -> anyhow::Result<Vec<u32>> {
        let mut ids: Vec<u32> = words(&self.bytes[76..512]).collect();
        let mut next = u32_at(self.bytes, 68)?;
        for _ in 0..u32_at(self.bytes, 72)? {
            let sector: Vec<u32> = words(self.sector(next)?).collect();
            let (last, listed) = sector.split_last().context("empty DIFAT sector")?;
            ids.extend(listed);
            next = *last;
        }
        Ok(ids.into_iter().filter(|&id| id != FREE_SECTOR).collect())
    }

    fn sector(&self, id: u32) -> anyhow::Result<&'a [u8]> {
        let start = (id as usize + 1) * self.sector_size;
        self.bytes
            .get(start..start + self.sector_size)
            .with_context(|| format!("sector {id} is past the end of the file"))
    }

    /// The sector ids of a chain in `table` (the FAT or the mini FAT).
    fn chain(start: u32, table: &[u32]) -> anyhow::Result<Vec<u32>> {
        let mut ids = Vec::new();
        let mut id = start;
        while id != END_OF_CHAIN {
            // A chain longer than its table loops.
            ensure!(ids.len() < table.len(), "sector chain from {start} loops");
            ids.push(id);
            id = *table
                .get(id as usize)
                .with_context(|| format!("sector {id} is not in the allocation table"))?;
        }
        Ok(ids)
    }

    /// File offsets of the bytes of the stream called `name`, in stream order.
    fn stream_positions(&self, name: &str) -> anyhow::Result<Vec<usize>> {
        let entries = self.dir_entries()?;
        let mut found = entries
            .iter()
            .filter(|e| e[66] == OBJ_STREAM && entry_name(e) == name);
        let entry = found
            .next()
            .with_context(|| format!("no stream {name:?}"))?;
        ensure!(found.next().is_none(), "two streams called {name:?}");
        let start = u32_at(entry, 116)?;
        // Version 3 files keep only 32 bits of size (the high half may be garbage).
        let size = u32_at(entry, 120)? as usize;
        if size >= u32_at(self.bytes, 56)? as usize {
            let sectors = Self::chain(start, &self.fat)?;
            return spread(&sectors, self.sector_size, size, |id, off| {
                Ok((id as usize + 1) * self.sector_size + off)
            });
        }
        // A small stream lives in the mini stream (the root entry's data), in mini sectors.
        let mini_size = 1usize << u16_at(self.bytes, 32)?;
        let mini_stream = Self::chain(u32_at(entries[0], 116)?, &self.fat)?;
        let mut mini_fat = Vec::new();
        for id in Self::chain(u32_at(self.bytes, 60)?, &self.fat)? {
            mini_fat.extend(words(self.sector(id)?));
        }
        let sectors = Self::chain(start, &mini_fat)?;
        spread(&sectors, mini_size, size, |id, off| {
            let at = id as usize * mini_size + off;
            let sector = mini_stream
                .get(at / self.sector_size)
                .context("mini sector past the end of the mini stream")?;
            Ok((*sector as usize + 1) * self.sector_size + at % self.sector_size)
        })
    }

    fn dir_entries(&self) -> anyhow::Result<Vec<&'a [u8]>> {
        let mut entries = Vec::new();
        for id in Self::chain(u32_at(self.bytes, 48)?, &self.fat)? {
            entries.extend(self.sector(id)?.chunks_exact(DIR_ENTRY_LEN));
        }
        ensure!(!entries.is_empty(), "no directory");
        Ok(entries)
    }
}

/// Offsets of `size` bytes stored in `sectors` of `unit` bytes, `locate` mapping (sector,
/// offset in it) to a file offset.
fn spread(
    sectors: &[u32],
    unit: usize,
    size: usize,
    locate: impl Fn(u32, usize) -> anyhow::Result<usize>,
) -> anyhow::Result<Vec<usize>> {
    ensure!(
        sectors.len() * unit >= size,
        "stream chain shorter than its size"
    );
    (0..size)
        .map(|i| locate(sectors[i / unit], i % unit))
        .collect()
}

fn words(b: &[u8]) -> impl Iterator<Item = u32> + '_ {
    b.chunks_exact(4)
        .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
}

/// A directory entry's name: UTF-16LE, its byte length (with the NUL) at offset 64.
fn entry_name(entry: &[u8]) -> String {
    let len = usize::from(u16::from_le_bytes([entry[64], entry[65]])).min(64);
    let units: Vec<u16> = entry[..len]
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|&u| u != 0)
        .collect();
    String::from_utf16_lossy(&units)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msi_versions_order_like_semver() {
        assert_eq!(msi_version("2.1.0").unwrap(), "2.1.99");
        assert_eq!(msi_version("2.1.0-rc.1").unwrap(), "2.1.1");
        assert_eq!(msi_version("2.1.1").unwrap(), "2.1.199");
        assert_eq!(msi_version("0.1.0+build.7").unwrap(), "0.1.99");
        assert!(msi_version("1.2").is_err());
    }

    /// A summary information stream as wixl lays it out: header, one section, then
    /// (pid, type, value) for a title, the package code and the two dates.
    fn summary_stream(code: &str, created: u64, saved: u64) -> Vec<u8> {
        let mut values: Vec<(u32, Vec<u8>)> = Vec::new();
        let lpstr = |s: &str| {
            let mut v = VT_LPSTR.to_le_bytes().to_vec();
            v.extend((s.len() as u32 + 1).to_le_bytes());
            v.extend(s.as_bytes());
            v.push(0);
            v.resize(v.len().next_multiple_of(4), 0);
            v
        };
        let filetime = |t: u64| {
            let mut v = VT_FILETIME.to_le_bytes().to_vec();
            v.extend(t.to_le_bytes());
            v
        };
        values.push((2, lpstr("Installation Database")));
        values.push((PID_REVNUMBER, lpstr(code)));
        values.push((PID_CREATE_DTM, filetime(created)));
        values.push((PID_LASTSAVE_DTM, filetime(saved)));
        let mut s = vec![0u8; 48];
        s[0..2].copy_from_slice(&0xFFFE_u16.to_le_bytes());
        s[44..48].copy_from_slice(&48_u32.to_le_bytes());
        let mut section = vec![0u8; 8];
        let mut offset = 8 + 8 * values.len();
        for (pid, v) in &values {
            section.extend(pid.to_le_bytes());
            section.extend((offset as u32).to_le_bytes());
            offset += v.len();
        }
        for (_, v) in &values {
            section.extend(v);
        }
        let len = section.len() as u32;
        section[0..4].copy_from_slice(&len.to_le_bytes());
        section[4..8].copy_from_slice(&(values.len() as u32).to_le_bytes());
        s.extend(section);
        s
    }

    #[test]
    fn pinning_rewrites_the_package_code_and_dates_only() {
        let random = "{EDC1F0FD-2E77-4922-98F4-828FCCA0EC38}";
        let code = guid_for("package ferry 1.0.0 complete");
        let mut stream = summary_stream(random, 1, 2);
        let pins = Pins {
            package_code: &code,
            epoch: 1_700_000_000,
        };
        pin_properties(&mut stream, &pins).unwrap();
        let filetime = (1_700_000_000 + FILETIME_UNIX_OFFSET) * 10_000_000;
        let expected = summary_stream(&format!("{{{code}}}"), filetime, filetime);
        assert_eq!(stream, expected);
    }

    #[test]
    fn pinning_refuses_what_it_cannot_patch_in_place() {
        let pins = Pins {
            package_code: "6F1D2B7C-5E0A-4C39-9B8E-3A4F6D2E1C57",
            epoch: 0,
        };
        let err = pin_properties(&mut summary_stream("{short}", 1, 2), &pins).unwrap_err();
        assert!(err.to_string().contains("has 7 bytes"), "{err}");
        assert!(pin_properties(&mut [0u8; 8], &pins).is_err());
    }

    #[test]
    fn guids_are_stable_and_well_formed() {
        let g = guid_for("ferry 1.0.0 complete");
        assert_eq!(g, guid_for("ferry 1.0.0 complete"));
        assert_ne!(g, guid_for("ferry 1.0.1 complete"));
        assert_eq!(g.len(), 36);
        assert_eq!(&g[14..15], "5");
    }
}
