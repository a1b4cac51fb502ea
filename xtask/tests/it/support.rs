//! Shared test helpers.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// The cargo target dir `dist` builds in: `CARGO_TARGET_DIR`, else `<root>/target`.
pub fn cargo_target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

/// `cargo xtask` as a command, with signing variables from the outer environment removed so a
/// developer's real key can never leak into a test.
pub fn xtask() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_xtask"));
    c.current_dir(root());
    for v in [
        "FERRY_MINISIGN_KEY",
        "FERRY_MINISIGN_KEY_FILE",
        "FERRY_MINISIGN_PASSWORD",
        "FERRY_MINISIGN_PUBLIC_KEY",
    ] {
        c.env_remove(v);
    }
    for v in [
        "FERRY_DIST_TARGETS",
        "FERRY_DIST_VARIANTS",
        "FERRY_DIST_OUT_DIR",
        "FERRY_DIST_PROFILE",
        "FERRY_DIST_VERSION",
    ] {
        c.env_remove(v);
    }
    c
}

pub fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("running xtask");
    eprintln!("$ {cmd:?}\n{}", String::from_utf8_lossy(&out.stderr));
    out
}

#[track_caller]
pub fn run_ok(cmd: &mut Command) -> Output {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "command failed: {cmd:?}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false")
}

/// Where `cargo xtask setup` puts zig, dist and rust-objcopy.
pub fn xcross_bin() -> PathBuf {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    std::env::var_os("XCROSS_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| home.join(".local/share/xcross"))
        .join("bin")
}

pub fn find_tool(name: &str) -> Option<PathBuf> {
    let mut dirs = vec![xcross_bin()];
    if let Some(p) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&p));
    }
    if let Some(h) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(h).join(".cargo/bin"));
    }
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

/// True when every tool is there. Otherwise: in CI (env `CI` set) the test fails, since
/// `.ci/run` installs them; locally it says loudly that it skips.
#[track_caller]
pub fn require_tools(test: &str, tools: &[&str]) -> bool {
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|t| find_tool(t).is_none())
        .collect();
    if missing.is_empty() {
        return true;
    }
    let msg = format!(
        "{test}: missing {}; run `cargo xtask setup`",
        missing.join(", ")
    );
    if in_ci() {
        panic!("{msg} (CI must install them: see .ci/run)");
    }
    eprintln!("\n!!!!!!!! SKIPPED {msg} (this test fails when CI is set)\n");
    false
}

/// A throwaway minisign key pair, made with the crate (see TESTBED pitfalls on CLI keys).
pub struct Keys {
    /// Keeps the key files alive as long as the keys are used.
    pub _dir: tempfile::TempDir,
    pub public: PathBuf,
    pub secret: PathBuf,
}

pub fn keys() -> Keys {
    let dir = tempfile::tempdir().unwrap();
    let kp = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
    let public = dir.path().join("test.pub");
    let secret = dir.path().join("test.key");
    std::fs::write(&public, kp.pk.to_box().unwrap().into_string()).unwrap();
    std::fs::write(&secret, kp.sk.to_box(None).unwrap().into_string()).unwrap();
    Keys {
        _dir: dir,
        public,
        secret,
    }
}

/// `dist` with a test key, for the given targets and variants, into `out`.
pub fn dist_cmd(keys: &Keys, out: &Path, targets: &str, variants: &str) -> Command {
    let mut c = xtask();
    c.args([
        "dist",
        "--profile",
        "dist-test",
        "--targets",
        targets,
        "--variants",
        variants,
        "--out-dir",
    ])
    .arg(out)
    .arg("--public-key")
    .arg(&keys.public)
    .env("FERRY_MINISIGN_KEY_FILE", &keys.secret);
    c
}

pub fn verify_cmd(keys: &Keys, dir: &Path) -> Command {
    let mut c = xtask();
    c.arg("verify")
        .arg(dir)
        .arg("--public-key")
        .arg(&keys.public);
    c
}

pub struct HostDist {
    pub keys: Keys,
    pub out: tempfile::TempDir,
}

/// One signed host dist of both variants, built once per test run and shared.
pub fn host_dist() -> &'static HostDist {
    static DIST: OnceLock<HostDist> = OnceLock::new();
    DIST.get_or_init(|| {
        let keys = keys();
        let out = tempfile::tempdir().unwrap();
        run_ok(&mut dist_cmd(&keys, out.path(), "host", "complete,minimal"));
        HostDist { keys, out }
    })
}

/// Copies a directory's files (flat), for tests that tamper with a dist.
pub fn copy_dir(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The workspace version, as a regex that matches it literally (for insta filters).
pub fn version_regex() -> String {
    let cargo: toml::Table =
        toml::from_str(&std::fs::read_to_string(root().join("Cargo.toml")).unwrap()).unwrap();
    let v = cargo["workspace"]["package"]["version"].as_str().unwrap();
    v.replace('.', r"\.")
}
