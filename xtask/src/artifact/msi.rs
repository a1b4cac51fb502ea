//! Windows Installer packages: the WiX source is rendered from `packaging/msi/ferry.wxs.j2`,
//! built with `wixl` (msitools), and the PATH entry wixl cannot express is added with
//! `msibuild` (see the template's header comment).
//!
//! Codes: the UpgradeCode is fixed forever (one product line); ProductCode, PackageCode and
//! the component GUID are derived from the version and variant (name-based, SHA-256), so a
//! rebuild of one release gets the same codes.

use std::path::Path;

use anyhow::{bail, Context};
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

/// Builds `out` from `wxs` with wixl, then adds the PATH entry with msibuild.
pub fn build(wxs: &Path, out: &Path, work: &Path) -> anyhow::Result<()> {
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

    #[test]
    fn guids_are_stable_and_well_formed() {
        let g = guid_for("ferry 1.0.0 complete");
        assert_eq!(g, guid_for("ferry 1.0.0 complete"));
        assert_ne!(g, guid_for("ferry 1.0.1 complete"));
        assert_eq!(g.len(), 36);
        assert_eq!(&g[14..15], "5");
    }
}
