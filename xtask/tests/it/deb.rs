//! Debian packages from the shared host dist, checked with dpkg-deb, lintian and a real
//! `dpkg --root` install (fresh, upgrade from an older version, variant switch, purge).

use std::path::Path;
use std::process::Command;

use crate::packages::{
    archived_binary, dist_of_version, filters, find, sh, sh_ok, workspace_version,
};
use crate::support::{host_dist, require_tools};

fn deb(variant: &str) -> std::path::PathBuf {
    let pkg = if variant == "complete" {
        "ferry_"
    } else {
        "ferry-minimal_"
    };
    find(host_dist().out.path(), |n| {
        n.starts_with(pkg) && n.ends_with("_amd64.deb")
    })
}

#[test]
fn deb_names_fields_and_files() {
    if !require_tools("deb_names_fields_and_files", &["dpkg-deb"]) {
        return;
    }
    let complete = deb("complete");
    let v = workspace_version();
    assert_eq!(
        complete.file_name().unwrap().to_string_lossy(),
        format!("ferry_{v}_amd64.deb")
    );
    let control = sh_ok(
        Command::new("dpkg-deb")
            .args(["-I"])
            .arg(&complete)
            .arg("control"),
    );
    let minimal_control = sh_ok(
        Command::new("dpkg-deb")
            .args(["-I"])
            .arg(deb("minimal"))
            .arg("control"),
    );
    let contents = sh_ok(Command::new("dpkg-deb").arg("--contents").arg(&complete));
    for line in contents.lines() {
        assert!(
            line.contains(" root/root "),
            "owner is not root/root: {line}"
        );
    }
    for (path, mode) in [
        ("./usr/bin/ferry", "-rwxr-xr-x"),
        ("./usr/share/man/man1/ferry.1.gz", "-rw-r--r--"),
        (
            "./usr/share/bash-completion/completions/ferry",
            "-rw-r--r--",
        ),
        ("./usr/share/zsh/vendor-completions/_ferry", "-rw-r--r--"),
        (
            "./usr/share/fish/vendor_completions.d/ferry.fish",
            "-rw-r--r--",
        ),
        ("./usr/share/doc/ferry/copyright", "-rw-r--r--"),
        ("./usr/share/doc/ferry/changelog.gz", "-rw-r--r--"),
    ] {
        let line = contents
            .lines()
            .find(|l| l.ends_with(path))
            .unwrap_or_else(|| panic!("{path} missing from\n{contents}"));
        assert!(line.starts_with(mode), "{line}");
    }
    let minimal_contents = sh_ok(
        Command::new("dpkg-deb")
            .arg("--contents")
            .arg(deb("minimal")),
    );
    assert!(!minimal_contents.contains("/man/"), "{minimal_contents}");
    assert!(minimal_contents.contains("./usr/share/doc/ferry-minimal/copyright"));
    // The rendered files as installed: copyright and changelog from the complete package.
    let x = tempfile::tempdir().unwrap();
    sh_ok(
        Command::new("dpkg-deb")
            .arg("-x")
            .arg(&complete)
            .arg(x.path()),
    );
    let doc = x.path().join("usr/share/doc/ferry");
    let copyright = std::fs::read_to_string(doc.join("copyright")).unwrap();
    let changelog = sh_ok(
        Command::new("gzip")
            .arg("-dc")
            .arg(doc.join("changelog.gz")),
    );
    let f = filters();
    let filters: Vec<(&str, &str)> = f.iter().map(|(a, b)| (a.as_str(), *b)).collect();
    insta::with_settings!({filters => filters}, {
        insta::assert_snapshot!("deb_control_complete", control);
        insta::assert_snapshot!("deb_control_minimal", minimal_control);
        insta::assert_snapshot!("deb_copyright", copyright);
        insta::assert_snapshot!("deb_changelog", changelog);
    });
}

#[test]
fn deb_payload_binary_is_the_archived_binary() {
    if !require_tools(
        "deb_payload_binary_is_the_archived_binary",
        &["dpkg-deb", "tar"],
    ) {
        return;
    }
    for variant in ["complete", "minimal"] {
        let x = tempfile::tempdir().unwrap();
        sh_ok(
            Command::new("dpkg-deb")
                .arg("-x")
                .arg(deb(variant))
                .arg(x.path()),
        );
        let packaged = std::fs::read(x.path().join("usr/bin/ferry")).unwrap();
        assert!(
            packaged == archived_binary(variant),
            "{variant}: the deb's binary differs from the archive's"
        );
    }
}

#[test]
fn lintian_reports_no_errors_or_warnings() {
    if !require_tools("lintian_reports_no_errors_or_warnings", &["lintian"]) {
        return;
    }
    let out = sh(Command::new("lintian")
        .args(["--fail-on", "error,warning", "--no-tag-display-limit"])
        .arg(deb("complete"))
        .arg(deb("minimal")));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "lintian found problems:\n{stdout}");
}

fn scratch_root() -> tempfile::TempDir {
    let r = tempfile::tempdir().unwrap();
    for d in [
        "var/lib/dpkg/info",
        "var/lib/dpkg/updates",
        "var/lib/dpkg/triggers",
    ] {
        std::fs::create_dir_all(r.path().join(d)).unwrap();
    }
    std::fs::write(r.path().join("var/lib/dpkg/status"), "").unwrap();
    r
}

fn dpkg(root: &Path) -> Command {
    let mut c = Command::new("dpkg");
    // An empty root has no libc6 package (the binary runs on the host's libc instead).
    c.arg(format!("--root={}", root.display()))
        .arg("--force-depends");
    c
}

fn version_of(root: &Path, pkg: &str) -> String {
    let out = sh(Command::new("dpkg-query")
        .arg(format!(
            "--admindir={}",
            root.join("var/lib/dpkg").display()
        ))
        .args(["-W", "-f", "${Version} ${Status}"])
        .arg(pkg));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn dpkg_installs_upgrades_switches_variant_and_purges() {
    if !require_tools(
        "dpkg_installs_upgrades_switches_variant_and_purges",
        &["dpkg", "dpkg-query"],
    ) {
        return;
    }
    let v = workspace_version();
    let old = find(dist_of_version("0.0.1"), |n| {
        n.starts_with("ferry_") && n.ends_with(".deb")
    });
    let r = scratch_root();
    let bin = r.path().join("usr/bin/ferry");
    sh_ok(dpkg(r.path()).arg("-i").arg(&old));
    assert_eq!(version_of(r.path(), "ferry"), "0.0.1 install ok installed");
    // Upgrade to this release.
    sh_ok(dpkg(r.path()).arg("-i").arg(deb("complete")));
    assert_eq!(
        version_of(r.path(), "ferry"),
        format!("{v} install ok installed")
    );
    let version = sh_ok(Command::new(&bin).arg("--version"));
    assert!(
        version.contains(&v) && version.contains("complete"),
        "{version}"
    );
    assert!(r.path().join("usr/share/man/man1/ferry.1.gz").is_file());
    // The minimal package conflicts with and replaces the complete one.
    sh_ok(dpkg(r.path()).arg("-i").arg(deb("minimal")));
    let version = sh_ok(Command::new(&bin).arg("--version"));
    assert!(version.contains("minimal"), "{version}");
    assert!(!version_of(r.path(), "ferry").contains("install ok installed"));
    assert!(!r.path().join("usr/share/man/man1/ferry.1.gz").exists());
    sh_ok(dpkg(r.path()).args(["-P", "ferry-minimal"]));
    assert!(!bin.exists(), "purge left the binary behind");
    assert!(!r.path().join("usr/share/doc/ferry-minimal").exists());
}

#[test]
fn pre_release_versions_sort_before_the_release() {
    if !require_tools("pre_release_versions_sort_before_the_release", &["dpkg"]) {
        return;
    }
    let rc = find(dist_of_version("9.1.0-rc.1"), |n| n.ends_with(".deb"));
    assert_eq!(
        rc.file_name().unwrap().to_string_lossy(),
        "ferry_9.1.0~rc.1_amd64.deb"
    );
    let ok = Command::new("dpkg")
        .args(["--compare-versions", "9.1.0~rc.1", "lt", "9.1.0"])
        .status()
        .unwrap();
    assert!(ok.success());
}
