//! Cross targets: aarch64 Linux (run under qemu-user), Windows (run under wine) and an Apple
//! target (Mach-O headers checked), built with the recipe `cargo xtask setup` installs.
//! Only the minimal variant and the `dist-smoke` profile (unoptimised, no debug info): the
//! complete variant differs by features, not by toolchain, and the optimised release-like build
//! is covered by the host test; this keeps CI's cross builds (std from source + every
//! dependency, per target) within its time budget.

use crate::support::{keys, require_tools, run_ok, stderr, verify_cmd, xtask};

const TARGETS: &str = "aarch64-unknown-linux-gnu,x86_64-pc-windows-gnu,aarch64-apple-darwin";

#[test]
fn cross_targets_build_package_and_verify() {
    let tools = [
        "cargo-zigbuild",
        "zig",
        "aarch64-linux-gnu-gcc",
        "x86_64-w64-mingw32-gcc",
        "qemu-aarch64-static",
        "wine",
        "sha256sum",
        "minisign",
    ];
    if !require_tools("cross_targets_build_package_and_verify", &tools) {
        return;
    }
    let keys = keys();
    let out = tempfile::tempdir().unwrap();
    let mut dist = xtask();
    dist.args([
        "dist",
        "--profile",
        "dist-smoke",
        "--targets",
        TARGETS,
        "--variants",
        "minimal",
        "--out-dir",
    ])
    .arg(out.path())
    .arg("--public-key")
    .arg(&keys.public)
    .env("FERRY_MINISIGN_KEY_FILE", &keys.secret);
    let build = run_ok(&mut dist);
    let log = stderr(&build);
    // A target without a way to build is reported as `skip <target>` (stages may skip).
    assert!(
        !log.lines().any(|l| l.trim_start().starts_with("skip ")),
        "a cross target was skipped:\n{log}"
    );
    let v = run_ok(&mut verify_cmd(&keys, out.path()));
    let log = stderr(&v);
    for want in [
        "linux-arm64-gnu-minimal.tar.gz: ran under qemu-aarch64-static",
        "windows-amd64-minimal.zip: ran under wine",
        "macos-arm64-minimal.tar.gz: MachO Aarch64 for aarch64-apple-darwin",
    ] {
        assert!(log.contains(want), "missing `{want}` in:\n{log}");
    }
}
