//! Helpers shared by the package and installer tests (deb, rpm, msi, installers): finding
//! artifacts in the shared host dist, a second dist of another version, running tools.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use crate::support::{dist_cmd, host_dist, root, run_ok};

/// The one file in `dir` whose name satisfies `pred`; panics listing the directory otherwise.
pub fn find(dir: &Path, pred: impl Fn(&str) -> bool) -> PathBuf {
    let mut hits: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| pred(&p.file_name().unwrap().to_string_lossy()))
        .collect();
    let listing: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(hits.len(), 1, "expected one match in {listing:?}");
    hits.pop().unwrap()
}

/// Runs a command, returning its output; prints both streams for the test log.
pub fn sh(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    eprintln!(
        "$ {cmd:?} -> {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[track_caller]
pub fn sh_ok(cmd: &mut Command) -> String {
    let out = sh(cmd);
    assert!(out.status.success(), "failed: {cmd:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Where `dist` staged the host dist's binaries (`<target>/<variant>/ferry`): the prebuilt
/// input for extra dists of other versions, so they build nothing.
fn staging_dir() -> PathBuf {
    crate::support::cargo_target_dir()
        .join("dist-staging")
        .join(workspace_version())
}

pub fn workspace_version() -> String {
    let cargo: toml::Table =
        toml::from_str(&std::fs::read_to_string(root().join("Cargo.toml")).unwrap()).unwrap();
    cargo["workspace"]["package"]["version"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A dist of `version` (complete variant, host target) from the host dist's binaries, signed
/// with the host dist's key; one per version per test run.
pub fn dist_of_version(version: &'static str) -> &'static Path {
    static DISTS: OnceLock<std::sync::Mutex<Vec<(&'static str, &'static Path)>>> = OnceLock::new();
    let d = host_dist();
    let lock = DISTS.get_or_init(Default::default);
    let mut dists = lock.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, p)) = dists.iter().find(|(v, _)| *v == version) {
        return p;
    }
    let out: &'static tempfile::TempDir = Box::leak(Box::new(tempfile::tempdir().unwrap()));
    // Copy the staged binaries first: a dist of another version stages under another path.
    let prebuilt: &'static tempfile::TempDir = Box::leak(Box::new(tempfile::tempdir().unwrap()));
    copy_tree(&staging_dir(), prebuilt.path());
    let mut c = dist_cmd(&d.keys, out.path(), "host", "complete");
    c.arg("--prebuilt")
        .arg(prebuilt.path())
        .env("FERRY_DIST_VERSION", version);
    run_ok(&mut c);
    dists.push((version, out.path()));
    out.path()
}

fn copy_tree(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
            copy_tree(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).unwrap();
        }
    }
}

/// The binary inside the host dist's tar.gz of `variant`, extracted with the system tar.
pub fn archived_binary(variant: &str) -> Vec<u8> {
    let d = host_dist();
    let tgz = find(d.out.path(), |n| {
        n.ends_with(&format!("-{variant}.tar.gz")) && n.contains("linux-amd64-gnu")
    });
    let tmp = tempfile::tempdir().unwrap();
    sh_ok(
        Command::new("tar")
            .arg("-xzf")
            .arg(&tgz)
            .arg("-C")
            .arg(tmp.path()),
    );
    let root = std::fs::read_dir(tmp.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::read(root.join("ferry")).unwrap()
}

/// Insta filters for package metadata: versions, sizes, hashes, dates, glibc versions.
pub fn filters() -> Vec<(String, &'static str)> {
    let v = workspace_version().replace('.', r"\.");
    vec![
        (v, "[VERSION]"),
        (r"[0-9a-f]{64}".into(), "[SHA256]"),
        (r"[0-9a-f]{32}".into(), "[MD5]"),
        (r"Installed-Size: \d+".into(), "Installed-Size: [KIB]"),
        (r"libc6 \(>= 2\.\d+\)".into(), "libc6 (>= [GLIBC])"),
        (r#"at_least = "2\.\d+""#.into(), r#"at_least = "[GLIBC]""#),
        (r"glibc >= 2\.\d+".into(), "glibc >= [GLIBC]"),
        (
            r"[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d \+0000".into(),
            "[DATE]",
        ),
        (r"Size\s*: \d+".into(), "Size        : [SIZE]"),
        (r"(Build|Install) Date\s*: .*".into(), "$1 Date: [DATE]"),
    ]
}

/// The host target triple: the one target directory the host dist staged.
pub fn host_triple() -> String {
    let _ = host_dist();
    std::fs::read_dir(staging_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .find(|n| n != "generated" && n != "msi" && n.contains('-'))
        .expect("the host dist staged one target")
}

/// A stand-in executable: a format header and a marker. For tests about packaging only
/// (the msi, the formula), where a cross build would cost minutes and prove nothing more.
pub fn fake_binary(header: &[u8]) -> Vec<u8> {
    let mut b = header.to_vec();
    b.resize(64, 0);
    b.extend_from_slice(b"ferry packaging test stand-in: not a real program\n");
    b
}

pub struct PlatformsDist {
    pub out: tempfile::TempDir,
    pub staging: PathBuf,
}

pub const FAKE_VERSION: &str = "3.4.5";

/// One signed dist (version 3.4.5, complete variant) for the host (real binary, which the
/// generate stage runs) plus stand-in binaries for Windows, macOS and Linux arm64.
pub fn platforms_dist() -> &'static PlatformsDist {
    static D: OnceLock<PlatformsDist> = OnceLock::new();
    D.get_or_init(|| {
        let d = host_dist();
        let host = host_triple();
        let prebuilt = tempfile::tempdir().unwrap().keep();
        let put = |target: &str, name: &str, bytes: &[u8]| {
            let dir = prebuilt.join(target).join("complete");
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(name), bytes).unwrap();
        };
        put(
            &host,
            "ferry",
            &std::fs::read(staging_dir().join(&host).join("complete/ferry")).unwrap(),
        );
        put("x86_64-pc-windows-gnu", "ferry.exe", &fake_binary(b"MZ"));
        put("aarch64-unknown-linux-gnu", "ferry", &fake_binary(b"\x7fELF"));
        put("x86_64-apple-darwin", "ferry", &fake_binary(b"\xcf\xfa\xed\xfe"));
        put("aarch64-apple-darwin", "ferry", &fake_binary(b"\xcf\xfa\xed\xfe"));
        let out = tempfile::tempdir().unwrap();
        let targets = format!(
            "{host},x86_64-pc-windows-gnu,aarch64-unknown-linux-gnu,x86_64-apple-darwin,aarch64-apple-darwin"
        );
        let mut c = dist_cmd(&d.keys, out.path(), &targets, "complete");
        c.arg("--prebuilt")
            .arg(&prebuilt)
            .env("FERRY_DIST_VERSION", FAKE_VERSION);
        run_ok(&mut c);
        let target = crate::support::cargo_target_dir();
        PlatformsDist {
            out,
            staging: target.join("dist-staging").join(FAKE_VERSION),
        }
    })
}
