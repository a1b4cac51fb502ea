//! `dist --dry-run`: the plan, its snapshot, and the errors that stop a run before it starts.

use std::path::Path;

use crate::support::{run, run_ok, xtask};

const ALL_TARGETS: &[&str] = &[
    "x86_64-unknown-linux-gnu",
    "x86_64-unknown-linux-musl",
    "aarch64-unknown-linux-gnu",
    "aarch64-unknown-linux-musl",
    "x86_64-apple-darwin",
    "aarch64-apple-darwin",
    "x86_64-pc-windows-gnu",
    "x86_64-unknown-freebsd",
];

/// A `--prebuilt` layout with placeholder binaries: the plan only checks that they exist.
fn fake_prebuilt(dir: &Path, skip: &[(&str, &str)]) {
    for t in ALL_TARGETS {
        for v in ["complete", "minimal"] {
            if skip.contains(&(t, v)) {
                continue;
            }
            let d = dir.join(t).join(v);
            std::fs::create_dir_all(&d).unwrap();
            let exe = if t.contains("windows") {
                "ferry.exe"
            } else {
                "ferry"
            };
            std::fs::write(d.join(exe), b"placeholder").unwrap();
        }
    }
}

fn plan_json(prebuilt: &Path, out: &Path, extra: &[&str]) -> serde_json::Value {
    let o = run_ok(
        xtask()
            .args([
                "dist",
                "--dry-run",
                "--json",
                "--targets",
                "all",
                "--prebuilt",
            ])
            .arg(prebuilt)
            .arg("--out-dir")
            .arg(out)
            .args(extra),
    );
    serde_json::from_slice(&o.stdout).expect("the plan is JSON")
}

#[test]
fn plan_for_all_targets_is_stable() {
    let tmp = tempfile::tempdir().unwrap();
    let pre = tmp.path().join("pre");
    fake_prebuilt(&pre, &[]);
    let plan = plan_json(&pre, &tmp.path().join("out"), &[]);
    let version = crate::support::version_regex();
    insta::with_settings!({filters => vec![
        (tmp.path().to_str().unwrap(), "[TMP]"),
        (r#""commit": "[0-9a-f]+""#, r#""commit": "[COMMIT]""#),
        (r#""source_date_epoch": \d+"#, r#""source_date_epoch": "[EPOCH]""#),
        (r#""version": "[^"]+""#, r#""version": "[VERSION]""#),
        (&*version, "[VERSION]"),
    ]}, {
        insta::assert_json_snapshot!("plan_all_targets", plan);
    });
}

#[test]
fn plan_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let pre = tmp.path().join("pre");
    fake_prebuilt(&pre, &[]);
    let out = tmp.path().join("out");
    plan_json(&pre, &out, &[]);
    assert!(!out.exists(), "--dry-run created the output directory");
}

#[test]
fn unbuildable_target_is_reported_as_skipped_with_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let pre = tmp.path().join("pre");
    fake_prebuilt(&pre, &[("x86_64-unknown-freebsd", "minimal")]);
    let plan = plan_json(&pre, &tmp.path().join("out"), &[]);
    let builds = plan["builds"].as_array().unwrap();
    let b = builds
        .iter()
        .find(|b| b["target"] == "x86_64-unknown-freebsd" && b["variant"] == "minimal")
        .unwrap();
    assert_eq!(b["how"], "skipped");
    assert!(
        b["reason"].as_str().unwrap().contains("no prebuilt binary"),
        "{b}"
    );
    let names: Vec<&str> = plan["archives"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert!(
        !names.iter().any(|n| n.contains("freebsd-amd64-minimal")),
        "{names:?}"
    );
    assert!(
        names.iter().any(|n| n.contains("freebsd-amd64-complete")),
        "{names:?}"
    );
}

#[test]
fn no_sign_drops_signatures_from_the_plan() {
    let tmp = tempfile::tempdir().unwrap();
    let pre = tmp.path().join("pre");
    fake_prebuilt(&pre, &[]);
    let plan = plan_json(&pre, &tmp.path().join("out"), &["--no-sign"]);
    assert_eq!(plan["signatures"].as_array().unwrap().len(), 0);
    let sign = plan["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "sign")
        .unwrap();
    assert_eq!(sign["skip"], "--no-sign");
}

#[test]
fn unknown_target_and_variant_are_errors_naming_them() {
    let o = run(xtask().args([
        "dist",
        "--dry-run",
        "--targets",
        "riscv64gc-unknown-linux-gnu",
    ]));
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr)
        .contains("target `riscv64gc-unknown-linux-gnu` is not in dist.targets"));
    let o = run(xtask().args(["dist", "--dry-run", "--variants", "tiny"]));
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown variant `tiny`"));
}

#[test]
fn dist_without_a_key_fails_before_building() {
    let tmp = tempfile::tempdir().unwrap();
    let pre = tmp.path().join("pre");
    fake_prebuilt(&pre, &[]);
    let o = run(xtask()
        .args(["dist", "--prebuilt"])
        .arg(&pre)
        .arg("--out-dir")
        .arg(tmp.path().join("out")));
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("FERRY_MINISIGN_KEY") && err.contains("--no-sign"),
        "{err}"
    );
    assert!(
        !err.contains("--> build"),
        "the key check must come before any stage: {err}"
    );
}

#[test]
fn dist_with_a_key_that_does_not_match_the_public_key_fails() {
    let a = crate::support::keys();
    let b = crate::support::keys();
    let tmp = tempfile::tempdir().unwrap();
    let o = run(xtask()
        .args(["dist", "--targets", "host", "--out-dir"])
        .arg(tmp.path().join("out"))
        .arg("--public-key")
        .arg(&a.public)
        .env(
            "FERRY_MINISIGN_KEY",
            std::fs::read_to_string(&b.secret).unwrap(),
        ));
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("does not match the public key"), "{err}");
    // The secret key's text must never be echoed.
    let secret = std::fs::read_to_string(&b.secret).unwrap();
    let secret_line = secret.lines().nth(1).unwrap();
    assert!(!err.contains(secret_line));
}

#[test]
fn an_out_dir_holding_other_files_is_refused_and_left_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let pre = tmp.path().join("pre");
    fake_prebuilt(&pre, &[]);
    let out = tmp.path().join("downloads");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("holiday.jpg"), b"not a release file").unwrap();
    let o = run(xtask()
        .args(["dist", "--no-sign", "--targets", "x86_64-unknown-linux-gnu"])
        .arg("--prebuilt")
        .arg(&pre)
        .arg("--out-dir")
        .arg(&out));
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("holiday.jpg") && err.contains("new or empty directory"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(out.join("holiday.jpg")).unwrap(),
        b"not a release file"
    );
}
