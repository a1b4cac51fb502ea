//! ferry deploys its own releases: two real signed dists of ferry (the workspace version,
//! from `host_dist`, and the next patch version, built from a copy of these sources so that
//! its binary reports that version) are released to real SSH hosts by the ferry binary of
//! the first dist; a tampered archive is refused before any host changes, and a rollback
//! switches every host back.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::hosts::{Host, Testbed};
use crate::packages::{archived_binary, workspace_version};
use crate::support::{cargo_target_dir, dist_cmd, host_dist, root, run_ok, stderr};

const HOST_TARGET: &str = "x86_64-unknown-linux-gnu";

fn next_patch(version: &str) -> String {
    let (head, patch) = version.rsplit_once('.').expect("a X.Y.Z version");
    let patch: u64 = patch.parse().expect("a numeric patch version");
    format!("{head}.{}", patch + 1)
}

/// ferry at `version`: this checkout's tracked files copied, the version bumped in
/// Cargo.toml and Cargo.lock, and built the way `dist --profile dist-test` builds the host
/// target (so the dependencies `host_dist` built are reused).
fn ferry_built_at(version: &str, work: &Path) -> PathBuf {
    let src = work.join(format!("source-{version}"));
    let listed = run_ok(
        Command::new("git")
            .args(["ls-files", "-z"])
            .current_dir(root()),
    );
    for rel in listed.stdout.split(|b| *b == 0).filter(|r| !r.is_empty()) {
        let rel = Path::new(std::str::from_utf8(rel).unwrap());
        let from = root().join(rel);
        // A tracked file deleted in the working tree is not part of what gets built.
        if !from.is_file() {
            continue;
        }
        let to = src.join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&from, &to).unwrap();
    }
    let current = workspace_version();
    let bump = |file: &str, from: &str, to: &str| {
        let path = src.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{file} has no `{from}`");
        std::fs::write(&path, text.replace(from, to)).unwrap();
    };
    bump(
        "Cargo.toml",
        &format!("[workspace.package]\nversion = \"{current}\""),
        &format!("[workspace.package]\nversion = \"{version}\""),
    );
    bump(
        "Cargo.lock",
        &format!("name = \"ferry\"\nversion = \"{current}\""),
        &format!("name = \"ferry\"\nversion = \"{version}\""),
    );
    let commit = run_ok(
        Command::new("git")
            .args(["rev-parse", "--short=12", "HEAD"])
            .current_dir(root()),
    );
    let target_dir = cargo_target_dir();
    // The toolchain's own rustc, as `dist` pins it: a dependency's rust-toolchain.toml must
    // not make the rustup proxy switch toolchains when that dependency gets compiled.
    let sysroot = run_ok(
        Command::new(std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()))
            .args(["--print", "sysroot"])
            .current_dir(root()),
    );
    let rustc = Path::new(String::from_utf8_lossy(&sysroot.stdout).trim()).join("bin/rustc");
    let binary = work.join(format!("ferry-{version}"));
    // The workspace version's dist builds land on the same output path: another test's dist
    // may link its binary there between this build and the copy. A copy that does not report
    // `version` is taken again (the build is then fresh: one link, no compiling).
    for _ in 0..3 {
        run_ok(
            Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
                .args([
                    "build",
                    "--locked",
                    "--package",
                    "ferry",
                    "--bin",
                    "ferry",
                    "--profile",
                    "dist-test",
                    "--target",
                    HOST_TARGET,
                    "--target-dir",
                ])
                .arg(&target_dir)
                .current_dir(&src)
                .env("RUSTC", &rustc)
                .env(
                    "FERRY_BUILD_COMMIT",
                    String::from_utf8_lossy(&commit.stdout).trim(),
                ),
        );
        std::fs::copy(
            target_dir.join(HOST_TARGET).join("dist-test/ferry"),
            &binary,
        )
        .unwrap();
        if reported_by(&binary) == version {
            return binary;
        }
    }
    panic!("the build of ferry {version} kept being replaced by another dist's build");
}

/// The version `ferry --version --json` reports.
fn reported_by(binary: &Path) -> String {
    let out = run_ok(Command::new(binary).args(["--version", "--json"]));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["version"].as_str().unwrap().to_owned()
}

/// A signed dist (host target, complete variant) of `binary` as release `version`, with the
/// host dist's key.
fn dist_of(binary: &Path, version: &str, out: &Path, work: &Path) {
    let slot = work.join(format!("prebuilt-{version}/{HOST_TARGET}/complete"));
    std::fs::create_dir_all(&slot).unwrap();
    std::fs::copy(binary, slot.join("ferry")).unwrap();
    let mut c = dist_cmd(&host_dist().keys, out, HOST_TARGET, "complete");
    c.arg("--prebuilt")
        .arg(slot.parent().unwrap().parent().unwrap())
        .env("FERRY_DIST_VERSION", version);
    run_ok(&mut c);
}

/// Runs the controller's ferry with the test's state dir.
struct Controller {
    binary: PathBuf,
    state: PathBuf,
}

impl Controller {
    fn run(&self, args: &[&str]) -> Output {
        let out = Command::new(&self.binary)
            .args(args)
            .env("FERRY_STATE_DIR", &self.state)
            .env_remove("FERRY_LOCK_TIMEOUT")
            .output()
            .unwrap();
        eprintln!(
            "$ ferry {}\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    #[track_caller]
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "ferry {args:?} failed:\n{}",
            stderr(&out)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

fn current(h: &Host) -> String {
    std::fs::read_link(h.srv.join("ferry/current"))
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

/// `ferry --version --json` of the release `version` on host `h`.
fn reported_version(h: &Host, version: &str) -> String {
    reported_by(&h.srv.join(format!("ferry/releases/{version}/ferry")))
}

#[test]
fn ferry_releases_its_own_dists_to_ssh_hosts_and_rolls_back() {
    let Some(tb) = Testbed::up(3) else { return };
    let dist = host_dist();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let a = workspace_version();
    let b = next_patch(&a);

    std::os::unix::fs::symlink(dist.out.path(), w.join(format!("dist-{a}"))).unwrap();
    let binary_b = ferry_built_at(&b, w);
    dist_of(&binary_b, &b, &w.join(format!("dist-{b}")), w);

    // The deployer is the first dist's own binary.
    let controller = Controller {
        binary: w.join("controller-ferry"),
        state: w.join("state"),
    };
    std::fs::write(&controller.binary, archived_binary("complete")).unwrap();
    std::fs::set_permissions(
        &controller.binary,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();

    let mut env = format!(
        r#"[provider]
type = "static"

[app]
root = "/srv/ferry"
keep = 3
variant = "complete"
manifest = "{}/dist-{{version}}/dist-manifest.json"
public_key_file = "{}"

[[test]]
name = "the current release runs"
command = "/srv/ferry/current/ferry --version"
"#,
        w.display(),
        dist.keys.public.display()
    );
    for h in tb.hosts() {
        env.push_str(&h.env_entry());
    }
    std::fs::write(w.join("prod.toml"), env).unwrap();
    let config = w.join("prod.toml");
    controller.ok(&["create", "prod", "--config", config.to_str().unwrap()]);
    controller.ok(&["provision", "prod"]);
    controller.ok(&["configure", "prod"]);

    controller.ok(&["release", "prod", "--version", &a]);
    for h in tb.hosts() {
        assert_eq!(current(h), format!("releases/{a}"), "{}", h.name);
        assert_eq!(reported_version(h, &a), a, "{}", h.name);
    }

    // A tampered copy of B's dist: refused before any host changes.
    let tampered = w.join("tampered");
    std::fs::create_dir_all(&tampered).unwrap();
    crate::support::copy_dir(&w.join(format!("dist-{b}")), &tampered);
    let archive = tampered.join(format!("ferry-{b}-linux-amd64-gnu-complete.tar.gz"));
    let mut bytes = std::fs::read(&archive).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&archive, bytes).unwrap();
    let manifest = tampered.join("dist-manifest.json");
    let refused = controller.run(&[
        "release",
        "prod",
        "--version",
        &b,
        "--manifest",
        manifest.to_str().unwrap(),
    ]);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("does not match the manifest"),
        "{}",
        stderr(&refused)
    );
    for h in tb.hosts() {
        assert_eq!(current(h), format!("releases/{a}"), "{} changed", h.name);
        assert!(!h.srv.join(format!("ferry/releases/{b}")).exists());
    }

    controller.ok(&["release", "prod", "--version", &b, "--canary", "1"]);
    for h in tb.hosts() {
        assert_eq!(current(h), format!("releases/{b}"), "{}", h.name);
        assert_eq!(reported_version(h, &b), b, "{}", h.name);
        assert_eq!(reported_version(h, &a), a, "{} keeps A", h.name);
    }

    let out = controller.ok(&["rollback", "prod", "--json"]);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    for host in report["hosts"].as_array().unwrap() {
        assert_eq!(
            host["changes"][0]["summary"],
            format!("roll back to {a} (from {b})")
        );
    }
    for h in tb.hosts() {
        assert_eq!(current(h), format!("releases/{a}"), "{}", h.name);
        let on_host = run_ok(Command::new(h.srv.join("ferry/current/ferry")).arg("--version"));
        assert!(
            String::from_utf8_lossy(&on_host.stdout).contains(&a),
            "{}",
            String::from_utf8_lossy(&on_host.stdout)
        );
    }
    let status = controller.ok(&["status", "prod"]);
    assert!(status.contains(&format!("release {a}")), "{status}");
}
