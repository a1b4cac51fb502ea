//! The Windows installer: a dist with a stand-in Windows executable (this test is about the
//! packaging, not the binary: a cross build would cost minutes), checked with msitools
//! (`msiinfo`, `msiextract`) and, when wine is there, installed, found on PATH and removed
//! with `msiexec`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::packages::{fake_binary, find, platforms_dist, sh, sh_ok, PlatformsDist, FAKE_VERSION};
use crate::support::{dist_cmd, keys, require_tools, run_ok, Keys};

const TOOLS: &[&str] = &["wixl", "msibuild", "msiinfo", "msiextract"];

fn fake_exe() -> Vec<u8> {
    fake_binary(b"MZ")
}

fn msi_dist() -> &'static PlatformsDist {
    platforms_dist()
}

fn msi() -> PathBuf {
    find(msi_dist().out.path(), |n| n.ends_with(".msi"))
}

fn export(msi: &Path, table: &str) -> String {
    sh_ok(Command::new("msiinfo").arg("export").arg(msi).arg(table))
}

#[test]
fn msi_tables_version_path_entry_and_payload() {
    if !require_tools("msi_tables_version_path_entry_and_payload", TOOLS) {
        return;
    }
    let msi = msi();
    assert_eq!(
        msi.file_name().unwrap().to_string_lossy(),
        "ferry-3.4.5-windows-amd64-complete.msi"
    );
    let suminfo = sh_ok(Command::new("msiinfo").arg("suminfo").arg(&msi));
    assert!(suminfo.contains("x64;1033"), "{suminfo}");
    let props = export(&msi, "Property");
    assert!(props.contains("ProductVersion\t3.4.599"), "{props}");
    assert!(
        props.contains("UpgradeCode\t{6F1D2B7C-5E0A-4C39-9B8E-3A4F6D2E1C57}"),
        "{props}"
    );
    let env = export(&msi, "Environment");
    assert!(
        env.contains("PathEnv\t=-*PATH\t[~];[BINDIR]\tMainExe"),
        "{env}"
    );
    let seq = export(&msi, "InstallExecuteSequence");
    assert!(seq.contains("WriteEnvironmentStrings\t\t5200"), "{seq}");
    assert!(seq.contains("RemoveEnvironmentStrings\t\t3300"), "{seq}");
    assert!(export(&msi, "Upgrade").contains("{6F1D2B7C-5E0A-4C39-9B8E-3A4F6D2E1C57}"));
    let x = tempfile::tempdir().unwrap();
    sh_ok(Command::new("msiextract").arg("-C").arg(x.path()).arg(&msi));
    let exe = find_file(x.path(), "ferry.exe").expect("ferry.exe in the msi");
    assert!(
        exe.to_string_lossy()
            .replace('\\', "/")
            .contains("ferry/bin/ferry.exe"),
        "{exe:?}"
    );
    assert_eq!(std::fs::read(&exe).unwrap(), fake_exe());
    // The msi is shipped like the other artifacts: in SHA256SUMS and signed.
    let sums = std::fs::read_to_string(msi_dist().out.path().join("SHA256SUMS")).unwrap();
    assert!(
        sums.contains("  ferry-3.4.5-windows-amd64-complete.msi\n"),
        "{sums}"
    );
    assert!(msi_dist()
        .out
        .path()
        .join("ferry-3.4.5-windows-amd64-complete.msi.minisig")
        .is_file());
    let wxs = std::fs::read_to_string(msi_dist().staging.join("msi/complete/ferry.wxs")).unwrap();
    insta::with_settings!({filters => vec![(r#"Source="[^"]+""#, r#"Source="[EXE]""#)]}, {
        insta::assert_snapshot!("msi_wxs", wxs);
    });
}

fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    for e in std::fs::read_dir(dir).ok()? {
        let p = e.ok()?.path();
        if p.is_dir() {
            if let Some(f) = find_file(&p, name) {
                return Some(f);
            }
        } else if p.file_name().is_some_and(|n| n == name) {
            return Some(p);
        }
    }
    None
}

#[test]
fn msi_installs_onto_path_and_uninstalls_under_wine() {
    if !require_tools(
        "msi_installs_onto_path_and_uninstalls_under_wine",
        &["wine", "wixl", "msibuild"],
    ) {
        return;
    }
    let msi = msi();
    let prefix = tempfile::tempdir().unwrap();
    let wine = |args: &[&str]| {
        let mut c = Command::new("wine");
        c.args(args)
            .env("WINEPREFIX", prefix.path())
            .env("WINEDEBUG", "-all")
            .env("WINEDLLOVERRIDES", "mscoree,mshtml=")
            .env("WINEARCH", "win64");
        c
    };
    sh_ok(&mut wine(&["wineboot", "--init"]));
    let msi_arg = msi.display().to_string();
    sh_ok(&mut wine(&["msiexec", "/i", &msi_arg, "/qn"]));
    let installed = prefix
        .path()
        .join("drive_c/Program Files/ferry/bin/ferry.exe");
    assert_eq!(std::fs::read(&installed).unwrap(), fake_exe());
    let key = r"HKLM\System\CurrentControlSet\Control\Session Manager\Environment";
    let path = sh_ok(&mut wine(&["reg", "query", key, "/v", "PATH"]));
    assert!(path.contains(r"C:\Program Files\ferry\bin"), "{path}");
    sh_ok(&mut wine(&["msiexec", "/x", &msi_arg, "/qn"]));
    assert!(!installed.exists(), "uninstall left ferry.exe");
    let path = sh(&mut wine(&["reg", "query", key, "/v", "PATH"]));
    assert!(!String::from_utf8_lossy(&path.stdout).contains(r"Program Files\ferry\bin"));
    let _ = sh(&mut wine(&["wineserver", "-k"]));
}

/// A stand-in for the host binary that honours generate's contract (`completions <shell>`,
/// `man`), so a dist with a Windows target builds nothing.
const FAKE_HOST: &str = "#!/bin/sh\ncase \"$1\" in\n  completions) echo \"# $2 completions\" ;;\n  man) echo '.TH FERRY 1' ;;\nesac\n";

/// `--prebuilt` input: the stand-in Windows executable and a host binary for generate.
fn windows_prebuilt(dir: &Path) {
    let put = |target: &str, name: &str, bytes: &[u8]| {
        let p = dir.join(target).join("complete").join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    };
    put("x86_64-pc-windows-gnu", "ferry.exe", &fake_exe());
    put(env!("XTASK_HOST_TARGET"), "ferry", FAKE_HOST.as_bytes());
}

/// One dist of the Windows target into `out`, staging under its own cargo target dir.
fn windows_dist(keys: &Keys, prebuilt: &Path, scratch: &Path, out: &Path) -> PathBuf {
    let mut c = dist_cmd(keys, out, "x86_64-pc-windows-gnu", "complete");
    c.arg("--prebuilt")
        .arg(prebuilt)
        .env("CARGO_TARGET_DIR", scratch)
        .env("FERRY_DIST_VERSION", FAKE_VERSION)
        // Pinned: the commit time would change if HEAD moves between the two runs.
        .env("SOURCE_DATE_EPOCH", "1700000000");
    run_ok(&mut c);
    find(out, |n| n.ends_with(".msi"))
}

#[test]
fn msi_is_reproducible() {
    if !require_tools("msi_is_reproducible", TOOLS) {
        return;
    }
    let (keys, tmp) = (keys(), tempfile::tempdir().unwrap());
    let prebuilt = tmp.path().join("prebuilt");
    windows_prebuilt(&prebuilt);
    let build = |i: u32| {
        let scratch = tmp.path().join(format!("scratch-{i}"));
        windows_dist(
            &keys,
            &prebuilt,
            &scratch,
            &tmp.path().join(format!("out-{i}")),
        )
    };
    let first = build(1);
    // Past the 2 s resolution of a cabinet's file times, so any clock read shows.
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let second = build(2);
    let (a, b) = (
        std::fs::read(&first).unwrap(),
        std::fs::read(&second).unwrap(),
    );
    if a != b {
        let info = |m: &Path| sh_ok(Command::new("msiinfo").arg("suminfo").arg(m));
        panic!(
            "two builds of one msi differ in {} of {} bytes\n{}\n{}",
            a.iter().zip(&b).filter(|(x, y)| x != y).count(),
            a.len(),
            info(&first),
            info(&second)
        );
    }
    // Pinned, not merely equal: the derived package code and SOURCE_DATE_EPOCH (UTC).
    let wxs = std::fs::read_to_string(
        tmp.path()
            .join("scratch-1/dist-staging")
            .join(FAKE_VERSION)
            .join("msi/complete/ferry.wxs"),
    )
    .unwrap();
    let code = wxs
        .split("<Package Id=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("a Package Id in the wxs");
    let suminfo = sh_ok(
        Command::new("msiinfo")
            .arg("suminfo")
            .arg(&first)
            .env("TZ", "UTC"),
    );
    assert!(
        suminfo.contains(&format!("Revision number (UUID): {{{code}}}")),
        "{suminfo}"
    );
    assert!(
        suminfo.contains("Created: Tue Nov 14 22:13:20 2023"),
        "{suminfo}"
    );
    assert!(
        suminfo.contains("Last saved: Tue Nov 14 22:13:20 2023"),
        "{suminfo}"
    );
    // Still a valid package: msiextract unpacks the payload intact.
    let x = tempfile::tempdir().unwrap();
    sh_ok(
        Command::new("msiextract")
            .arg("-C")
            .arg(x.path())
            .arg(&first),
    );
    let exe = find_file(x.path(), "ferry.exe").expect("ferry.exe in the msi");
    assert_eq!(std::fs::read(exe).unwrap(), fake_exe());
}
