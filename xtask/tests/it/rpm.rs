//! RPM packages from the shared host dist, checked with rpm, rpmkeys, rpmlint and a real
//! `rpm --root` install (fresh, upgrade from an older version, variant switch, erase).

use std::path::Path;
use std::process::Command;

use crate::packages::{
    archived_binary, dist_of_version, filters, find, sh, sh_ok, workspace_version,
};
use crate::support::{host_dist, require_tools};

fn rpm_file(variant: &str) -> std::path::PathBuf {
    find(host_dist().out.path(), |n| {
        n.ends_with(".x86_64.rpm")
            && if variant == "complete" {
                n.starts_with("ferry-") && !n.starts_with("ferry-minimal-")
            } else {
                n.starts_with("ferry-minimal-")
            }
    })
}

fn qp(rpm: &Path, args: &[&str]) -> String {
    sh_ok(Command::new("rpm").arg("-qp").args(args).arg(rpm))
}

#[test]
fn rpm_header_files_and_dependencies() {
    if !require_tools("rpm_header_files_and_dependencies", &["rpm"]) {
        return;
    }
    let complete = rpm_file("complete");
    let v = workspace_version();
    assert_eq!(
        complete.file_name().unwrap().to_string_lossy(),
        format!("ferry-{v}-1.x86_64.rpm")
    );
    let info = sh_ok(Command::new("rpm").arg("-qip").arg(&complete));
    let files = qp(&complete, &["-l"]);
    for want in [
        "/usr/bin/ferry",
        "/usr/share/man/man1/ferry.1.gz",
        "/usr/share/bash-completion/completions/ferry",
        "/usr/share/zsh/vendor-completions/_ferry",
        "/usr/share/fish/vendor_completions.d/ferry.fish",
        "/usr/share/licenses/ferry/LICENSE",
        "/usr/share/doc/ferry/README.md",
    ] {
        assert!(
            files.lines().any(|l| l == want),
            "{want} missing from\n{files}"
        );
    }
    let modes = qp(
        &complete,
        &[
            "--qf",
            "[%{FILEMODES:perms} %{FILEUSERNAME}:%{FILEGROUPNAME} %{FILENAMES}\n]",
        ],
    );
    assert!(
        modes.contains("-rwxr-xr-x root:root /usr/bin/ferry"),
        "{modes}"
    );
    let requires = qp(&complete, &["--requires"]);
    assert!(requires.contains("glibc >= 2."), "{requires}");
    assert!(qp(&complete, &["--conflicts"]).contains("ferry-minimal"));
    let minimal = rpm_file("minimal");
    assert!(qp(&minimal, &["--conflicts"]).lines().any(|l| l == "ferry"));
    assert!(!qp(&minimal, &["-l"]).contains("/man/"));
    let docs = qp(&complete, &["-d"]);
    assert!(docs.contains("/usr/share/man/man1/ferry.1.gz"), "{docs}");
    let f = filters();
    let filters: Vec<(&str, &str)> = f.iter().map(|(a, b)| (a.as_str(), *b)).collect();
    insta::with_settings!({filters => filters}, {
        insta::assert_snapshot!("rpm_info_complete", info);
    });
}

#[test]
fn rpm_digests_check_and_a_flipped_byte_fails() {
    if !require_tools("rpm_digests_check_and_a_flipped_byte_fails", &["rpmkeys"]) {
        return;
    }
    let rpm = rpm_file("complete");
    let out = sh_ok(Command::new("rpmkeys").arg("--checksig").arg(&rpm));
    assert!(out.contains("digests OK"), "{out}");
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.rpm");
    let mut bytes = std::fs::read(&rpm).unwrap();
    let i = bytes.len() - 100;
    bytes[i] ^= 0x55;
    std::fs::write(&bad, bytes).unwrap();
    let out = sh(Command::new("rpmkeys").arg("--checksig").arg(&bad));
    assert!(!out.status.success(), "rpmkeys accepted a corrupted rpm");
}

#[test]
fn rpmlint_reports_no_errors() {
    if !require_tools("rpmlint_reports_no_errors", &["rpmlint"]) {
        return;
    }
    let out = sh(Command::new("rpmlint")
        .arg("-c")
        .arg(crate::support::root().join("packaging/rpm/rpmlint.toml"))
        .arg(rpm_file("complete"))
        .arg(rpm_file("minimal")));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "rpmlint found errors:\n{stdout}");
    assert!(
        stdout.contains("0 errors, 0 warnings"),
        "rpmlint warnings:\n{stdout}"
    );
}

#[test]
fn rpm_payload_binary_is_the_archived_binary() {
    if !require_tools(
        "rpm_payload_binary_is_the_archived_binary",
        &["rpm2cpio", "cpio"],
    ) {
        return;
    }
    for variant in ["complete", "minimal"] {
        let x = tempfile::tempdir().unwrap();
        // The rpm crate writes no ARCHIVESIZE tag, so rpm2cpio 4.18 exits 1 after writing the
        // whole archive; the byte comparison below is what proves the payload intact.
        let cpio = sh(Command::new("rpm2cpio").arg(rpm_file(variant)));
        assert!(
            cpio.stdout.starts_with(b"070701"),
            "rpm2cpio wrote no cpio archive"
        );
        let mut child = Command::new("cpio")
            .args(["-idm", "--quiet"])
            .current_dir(x.path())
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(&cpio.stdout).unwrap();
        assert!(child.wait().unwrap().success());
        let packaged = std::fs::read(x.path().join("usr/bin/ferry")).unwrap();
        assert!(
            packaged == archived_binary(variant),
            "{variant}: the rpm's binary differs from the archive's"
        );
    }
}

fn rpm_root(root: &Path) -> Command {
    let mut c = Command::new("rpm");
    // No glibc package in an empty root (the binary runs on the host's libc instead).
    c.arg(format!("--root={}", root.display())).arg("--nodeps");
    c
}

#[test]
fn rpm_installs_upgrades_switches_variant_and_erases() {
    if !require_tools(
        "rpm_installs_upgrades_switches_variant_and_erases",
        &["rpm"],
    ) {
        return;
    }
    let v = workspace_version();
    let old = find(dist_of_version("0.0.1"), |n| n.ends_with(".rpm"));
    let r = tempfile::tempdir().unwrap();
    let bin = r.path().join("usr/bin/ferry");
    sh_ok(rpm_root(r.path()).arg("-i").arg(&old));
    let q = |pkg: &str| {
        String::from_utf8_lossy(
            &sh(Command::new("rpm")
                .arg(format!("--root={}", r.path().display()))
                .args(["-q", "--qf", "%{VERSION}", pkg]))
            .stdout,
        )
        .into_owned()
    };
    assert_eq!(q("ferry"), "0.0.1");
    sh_ok(rpm_root(r.path()).arg("-U").arg(rpm_file("complete")));
    assert_eq!(q("ferry"), v);
    let version = sh_ok(Command::new(&bin).arg("--version"));
    assert!(
        version.contains(&v) && version.contains("complete"),
        "{version}"
    );
    sh_ok(
        Command::new("rpm")
            .arg(format!("--root={}", r.path().display()))
            .args(["-V", "--nodeps", "ferry"]),
    );
    // The variants conflict: installing minimal beside complete is refused; after an erase
    // (what `dnf swap ferry ferry-minimal` does) it installs.
    let both = sh(Command::new("rpm")
        .arg(format!("--root={}", r.path().display()))
        .arg("-i")
        .arg(rpm_file("minimal")));
    assert!(
        !both.status.success(),
        "the variants were installed side by side"
    );
    assert!(
        String::from_utf8_lossy(&both.stderr).contains("conflicts with"),
        "{both:?}"
    );
    sh_ok(rpm_root(r.path()).args(["-e", "ferry"]));
    sh_ok(rpm_root(r.path()).arg("-i").arg(rpm_file("minimal")));
    let version = sh_ok(Command::new(&bin).arg("--version"));
    assert!(version.contains("minimal"), "{version}");
    assert!(!q("ferry").starts_with(&v), "ferry is still installed");
    sh_ok(rpm_root(r.path()).args(["-e", "ferry-minimal"]));
    assert!(!bin.exists(), "erase left the binary behind");
}

#[test]
fn pre_release_rpm_sorts_before_the_release() {
    if !require_tools("pre_release_rpm_sorts_before_the_release", &["rpm"]) {
        return;
    }
    let rc = find(dist_of_version("9.1.0-rc.1"), |n| n.ends_with(".rpm"));
    assert_eq!(
        rc.file_name().unwrap().to_string_lossy(),
        "ferry-9.1.0~rc.1-1.x86_64.rpm"
    );
    let cmp = sh_ok(
        Command::new("rpm").args(["--eval", "%{lua: print(rpm.vercmp('9.1.0~rc.1', '9.1.0'))}"]),
    );
    assert_eq!(cmp.trim(), "-1");
}
