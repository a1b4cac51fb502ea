//! `package`, `service`, `user` and `group` for real, on a host that has its own root
//! filesystem: a Debian minbase made by mmdebstrap (cached as a tarball outside the clone,
//! `.ci/run` builds it), unpacked per test and reached with `connection = "chroot"`.
//! Packages come from a local .deb built here with dpkg-deb, served by a `file:` apt
//! repository inside the chroot: nothing goes to the network.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::ferry::Sandbox;

/// Where `.ci/run` caches the minbase root filesystem (override with FERRY_TEST_CHROOT_TAR).
fn chroot_tarball() -> PathBuf {
    match std::env::var_os("FERRY_TEST_CHROOT_TAR") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
            .join(".cache/ferry-chroot/bookworm-minbase.tar"),
    }
}

fn have(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
}

/// Why this machine cannot run the chroot tests, if it cannot.
fn missing() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let root = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().next())
        == Some("0");
    if !root {
        return Some("this test process is not root (chroot needs it)".into());
    }
    for tool in ["chroot", "tar", "dpkg-deb"] {
        if !have(tool) {
            return Some(format!("`{tool}` is not installed"));
        }
    }
    let tar = chroot_tarball();
    if !tar.is_file() {
        return Some(format!(
            "no minbase root filesystem at {} (.ci/run builds it with mmdebstrap)",
            tar.display()
        ));
    }
    None
}

fn sh(cmd: &mut Command) -> String {
    let out = cmd.output().expect("the command runs");
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Builds `ferry-probe_1.0_all.deb` (a file, a systemd unit and a postinst) into `dir`.
fn build_deb(dir: &Path) -> PathBuf {
    let pkg = dir.join("pkg");
    for d in ["DEBIAN", "usr/share/ferry-probe", "lib/systemd/system"] {
        std::fs::create_dir_all(pkg.join(d)).unwrap();
    }
    std::fs::write(
        pkg.join("DEBIAN/control"),
        "Package: ferry-probe\nVersion: 1.0\nArchitecture: all\nMaintainer: Ferry tests <tests@ferry.invalid>\nDescription: probe package for ferry's tests\n",
    )
    .unwrap();
    let postinst = pkg.join("DEBIAN/postinst");
    std::fs::write(&postinst, "#!/bin/sh\nset -e\nmkdir -p /var/lib/ferry-probe\necho ran > /var/lib/ferry-probe/postinst\n").unwrap();
    sh(Command::new("chmod").arg("0755").arg(&postinst));
    std::fs::write(
        pkg.join("usr/share/ferry-probe/hello"),
        "hello from the package\n",
    )
    .unwrap();
    std::fs::write(
        pkg.join("lib/systemd/system/ferry-probe.service"),
        "[Unit]\nDescription=ferry probe\n[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n",
    )
    .unwrap();
    let deb = dir.join("ferry-probe_1.0_all.deb");
    sh(Command::new("dpkg-deb")
        .args(["--root-owner-group", "--build"])
        .arg(&pkg)
        .arg(&deb));
    deb
}

/// Unpacks the cached minbase into `root` and makes its apt see only a local repository
/// holding `deb`.
fn prepare_root(root: &Path, deb: &Path) {
    std::fs::create_dir_all(root).unwrap();
    sh(Command::new("tar")
        .arg("-xf")
        .arg(chroot_tarball())
        .arg("-C")
        .arg(root));
    let repo = root.join("opt/repo");
    std::fs::create_dir_all(&repo).unwrap();
    std::fs::copy(deb, repo.join("ferry-probe_1.0_all.deb")).unwrap();
    // A Packages index by hand: the control fields plus where the file is and its digest.
    let control = sh(Command::new("dpkg-deb").arg("-f").arg(deb));
    let bytes = std::fs::read(deb).unwrap();
    let sha = sh(Command::new("sha256sum").arg(deb));
    let sha = sha.split_whitespace().next().unwrap();
    std::fs::write(
        repo.join("Packages"),
        format!(
            "{}Filename: ./ferry-probe_1.0_all.deb\nSize: {}\nSHA256: {sha}\n\n",
            control.trim_end().to_owned() + "\n",
            bytes.len()
        ),
    )
    .unwrap();
    let _ = std::fs::remove_file(root.join("etc/apt/sources.list"));
    let _ = std::fs::remove_dir_all(root.join("etc/apt/sources.list.d"));
    std::fs::create_dir_all(root.join("etc/apt/sources.list.d")).unwrap();
    std::fs::write(
        root.join("etc/apt/sources.list.d/local.list"),
        "deb [trusted=yes] file:/opt/repo ./\n",
    )
    .unwrap();
    sh(Command::new("chroot").arg(root).args([
        "apt-get",
        "update",
        "-qq",
        "-o",
        "Acquire::Languages=none",
    ]));
    // Ferry decides "systemd" from /run/systemd/system, which only exists where systemd
    // runs. In the chroot nothing runs, but `systemctl enable` works on the unit files
    // offline, which is what this test exercises.
    std::fs::create_dir_all(root.join("run/systemd/system")).unwrap();
}

fn changes(json: &Value) -> Vec<String> {
    json["hosts"][0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["resource"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn packages_services_users_and_groups_in_a_chroot() {
    if let Some(why) = missing() {
        assert!(
            std::env::var_os("CI").is_none(),
            "chroot tests cannot run under CI: {why}; .ci/run should have prepared it"
        );
        eprintln!("SKIPPED: chroot test: {why} (CI fails here instead)");
        return;
    }
    let sb = Sandbox::new();
    let deb = build_deb(sb.path());
    let root = sb.path().join("root");
    prepare_root(&root, &deb);
    let config = format!(
        r#"[provider]
type = "static"

[[hosts]]
name = "box"
connection = "chroot"
address = {root:?}

[[configure]]
type = "group"
name = "ferrygrp"
gid = 4242

[[configure]]
type = "user"
name = "ferryusr"
uid = 4242
group = "ferrygrp"
home = "/home/ferryusr"
shell = "/bin/sh"
after = ["group:ferrygrp"]

[[configure]]
type = "package"
name = "ferry-probe"

[[configure]]
type = "service"
name = "ferry-probe"
enabled = true
after = ["package:ferry-probe"]
"#,
        root = root.display().to_string()
    );
    sb.create("box", &config);
    sb.ferry(&["provision", "box"]).ok();
    let facts = sb.state("box").to_string();
    assert!(facts.contains("\"pkgmgr\":\"apt\""), "{facts}");
    let cold = sb.ferry(&["configure", "box", "--json"]).ok().json();
    assert_eq!(
        changes(&cold),
        [
            "group:ferrygrp",
            "user:ferryusr",
            "package:ferry-probe",
            "service:ferry-probe"
        ],
        "{cold:#}"
    );
    assert_eq!(cold["hosts"][0]["round_trips"], 2);
    assert_eq!(
        std::fs::read_to_string(root.join("usr/share/ferry-probe/hello")).unwrap(),
        "hello from the package\n"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("var/lib/ferry-probe/postinst")).unwrap(),
        "ran\n",
        "the maintainer script ran inside the chroot"
    );
    let passwd = std::fs::read_to_string(root.join("etc/passwd")).unwrap();
    assert!(
        passwd.contains("ferryusr:x:4242:4242::/home/ferryusr:/bin/sh"),
        "{passwd}"
    );
    let group = std::fs::read_to_string(root.join("etc/group")).unwrap();
    assert!(group.contains("ferrygrp:x:4242:"), "{group}");
    // The link is absolute inside the root, so read it rather than follow it from here.
    let wants = root.join("etc/systemd/system/multi-user.target.wants/ferry-probe.service");
    assert_eq!(
        std::fs::read_link(&wants).ok(),
        Some(PathBuf::from("/lib/systemd/system/ferry-probe.service")),
        "systemctl enable made the wants link"
    );
    // Nothing on this machine changed: the user exists only inside the root.
    let host_passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    assert!(!host_passwd.contains("ferryusr"));

    let again = sb.ferry(&["configure", "box", "--json"]).ok().json();
    assert!(changes(&again).is_empty(), "{again:#}");
    assert_eq!(again["hosts"][0]["round_trips"], 1);

    // Drift inside the root is corrected: a changed shell, a disabled service.
    sh(Command::new("chroot")
        .arg(&root)
        .args(["usermod", "-s", "/bin/bash", "ferryusr"]));
    sh(Command::new("chroot")
        .arg(&root)
        .args(["systemctl", "disable", "ferry-probe"])
        .env("SYSTEMD_OFFLINE", "1"));
    let repair = sb.ferry(&["configure", "box", "--json"]).ok().json();
    assert_eq!(
        changes(&repair),
        ["user:ferryusr", "service:ferry-probe"],
        "{repair:#}"
    );
    let passwd = std::fs::read_to_string(root.join("etc/passwd")).unwrap();
    assert!(passwd.contains("ferryusr:x:4242:4242::/home/ferryusr:/bin/sh"));

    // And removal: the package and the user go (the group stays declared present).
    let absent = config
        .replace(
            "type = \"package\"\nname = \"ferry-probe\"\n",
            "type = \"package\"\nname = \"ferry-probe\"\nstate = \"absent\"\n",
        )
        .replace(
            "shell = \"/bin/sh\"\n",
            "shell = \"/bin/sh\"\nstate = \"absent\"\n",
        );
    let absent = absent[..absent.find("[[configure]]\ntype = \"service\"").unwrap()].to_owned();
    sb.write("env.toml", &absent);
    sb.ferry(&["create", "box", "--config", "env.toml", "--update"])
        .ok();
    let removed = sb.ferry(&["configure", "box", "--json"]).ok().json();
    assert_eq!(
        changes(&removed),
        ["user:ferryusr", "package:ferry-probe"],
        "{removed:#}"
    );
    assert!(!root.join("usr/share/ferry-probe/hello").exists());
    let passwd = std::fs::read_to_string(root.join("etc/passwd")).unwrap();
    assert!(!passwd.contains("ferryusr"));
}

#[test]
fn a_chroot_host_without_a_root_filesystem_is_a_clear_error() {
    let sb = Sandbox::new();
    let empty = sb.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    sb.create(
        "nothing",
        &format!(
            "[provider]\ntype = \"static\"\n[[hosts]]\nname = \"box\"\nconnection = \"chroot\"\naddress = {:?}\n",
            empty.display().to_string()
        ),
    );
    let run = sb.ferry(&["provision", "nothing"]);
    assert_ne!(run.code, 0);
    let text = format!("{}{}", run.stdout, run.stderr);
    assert!(text.contains("holds no root filesystem"), "{text}");
}
