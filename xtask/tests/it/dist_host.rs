//! The whole `dist` → `verify` path for the host target, both variants, with real builds,
//! real `sha256sum`/`minisign`/`tar`, plus reproducibility and tampering.

use std::path::Path;

use crate::support::{copy_dir, host_dist, require_tools, run, run_ok, stderr, verify_cmd};

const TOOLS: &[&str] = &["sha256sum", "minisign", "tar", "xz", "gzip"];

fn archives(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tar.gz") || n.ends_with(".tar.xz") || n.ends_with(".zip"))
        .collect();
    v.sort();
    v
}

#[test]
fn dist_then_verify_passes_for_both_variants() {
    if !require_tools("dist_then_verify_passes_for_both_variants", TOOLS) {
        return;
    }
    let d = host_dist();
    let names = archives(d.out.path());
    assert_eq!(names.len(), 4, "{names:?}");
    for n in &names {
        assert!(d.out.path().join(format!("{n}.sha256")).exists());
        assert!(d.out.path().join(format!("{n}.minisig")).exists());
    }
    let out = run_ok(&mut verify_cmd(&d.keys, d.out.path()));
    let log = stderr(&out);
    assert!(
        log.contains("ran natively"),
        "the host binary must be run:\n{log}"
    );
    assert!(
        log.contains(r#""variant":"minimal""#) && log.contains(r#""variant":"complete""#),
        "{log}"
    );
}

#[test]
fn archives_read_back_with_system_tar() {
    if !require_tools("archives_read_back_with_system_tar", TOOLS) {
        return;
    }
    let d = host_dist();
    for n in archives(d.out.path()) {
        let path = d.out.path().join(&n);
        let flag = if n.ends_with(".tar.gz") {
            "-tzvf"
        } else {
            "-tJvf"
        };
        let out = std::process::Command::new("tar")
            .args([flag])
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "tar {flag} {n}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let listing = String::from_utf8_lossy(&out.stdout);
        for line in listing.lines() {
            // GNU tar prints numeric owners when the names are empty.
            assert!(line.contains(" 0/0 "), "{n}: owner is not 0/0: {line}");
        }
        let bin = listing
            .lines()
            .find(|l| l.ends_with("/ferry"))
            .unwrap_or_else(|| panic!("{n}: no binary\n{listing}"));
        assert!(bin.starts_with("-rwxr-xr-x"), "{n}: {bin}");
        if n.contains("-complete.") {
            for want in [
                "/completions/ferry.bash",
                "/completions/_ferry",
                "/man/ferry.1",
                "/README.md",
                "/CHANGELOG.md",
                "/LICENSE",
            ] {
                assert!(
                    listing.lines().any(|l| l.ends_with(want)),
                    "{n}: missing {want}\n{listing}"
                );
            }
        } else {
            assert!(
                !listing.contains("/completions/"),
                "{n}: minimal has no completions"
            );
        }
        let integrity = if n.ends_with(".tar.gz") {
            ("gzip", "-t")
        } else {
            ("xz", "-t")
        };
        let ok = std::process::Command::new(integrity.0)
            .arg(integrity.1)
            .arg(&path)
            .status()
            .unwrap();
        assert!(ok.success(), "{} {} {n}", integrity.0, integrity.1);
    }
}

#[test]
fn two_runs_give_byte_identical_archives_and_packages() {
    if !require_tools("two_runs_give_byte_identical_archives_and_packages", TOOLS) {
        return;
    }
    let d = host_dist();
    let second = tempfile::tempdir().unwrap();
    run_ok(&mut crate::support::dist_cmd(
        &d.keys,
        second.path(),
        "host",
        "complete,minimal",
    ));
    // The packages too (SHA256SUMS lists them, but a named failure says which one differs).
    let packages: Vec<String> = std::fs::read_dir(d.out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".deb") || n.ends_with(".rpm"))
        .collect();
    assert_eq!(packages.len(), 4, "{packages:?}");
    let mut compared = 0;
    for n in archives(d.out.path())
        .into_iter()
        .chain(packages)
        .chain(["SHA256SUMS".to_owned(), "dist-manifest.json".to_owned()])
    {
        let a = std::fs::read(d.out.path().join(&n)).unwrap();
        let b = std::fs::read(second.path().join(&n)).unwrap();
        assert!(a == b, "{n} differs between two runs on the same commit");
        compared += 1;
    }
    assert_eq!(compared, 10);
}

#[test]
fn tampered_artifact_fails_verify_naming_it() {
    if !require_tools("tampered_artifact_fails_verify_naming_it", TOOLS) {
        return;
    }
    let d = host_dist();
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(d.out.path(), tmp.path());
    let victim = archives(tmp.path())
        .into_iter()
        .find(|n| n.ends_with("-minimal.tar.xz"))
        .unwrap();
    let path = tmp.path().join(&victim);
    let mut bytes = std::fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    std::fs::write(&path, bytes).unwrap();
    let out = run(&mut verify_cmd(&d.keys, tmp.path()));
    assert!(!out.status.success(), "verify accepted a tampered archive");
    let err = stderr(&out);
    let summary = &err[err.find("verify found").expect("a failure summary")..];
    assert!(
        summary.contains(&format!("{victim} (sha256sum)")),
        "{summary}"
    );
    assert!(
        summary.contains(&format!("{victim}.minisig (minisign)")),
        "{summary}"
    );
    // The untouched archives still pass.
    let other = archives(tmp.path())
        .into_iter()
        .find(|n| n.ends_with("-complete.tar.gz"))
        .unwrap();
    assert!(!summary.contains(&format!("{other} (")), "{summary}");
}

#[test]
fn tampered_signature_fails_verify_naming_it() {
    if !require_tools("tampered_signature_fails_verify_naming_it", TOOLS) {
        return;
    }
    let d = host_dist();
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(d.out.path(), tmp.path());
    let sig = tmp.path().join("SHA256SUMS.minisig");
    let text = std::fs::read_to_string(&sig).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    // Line 2 is the base64 signature; flip one character in its middle.
    let mut chars: Vec<char> = lines[1].chars().collect();
    let i = chars.len() / 2;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    lines[1] = chars.into_iter().collect();
    std::fs::write(&sig, lines.join("\n") + "\n").unwrap();
    let out = run(&mut verify_cmd(&d.keys, tmp.path()));
    assert!(
        !out.status.success(),
        "verify accepted a tampered signature"
    );
    let err = stderr(&out);
    let summary = &err[err.find("verify found").expect("a failure summary")..];
    assert!(
        summary.contains("SHA256SUMS.minisig (minisign)"),
        "{summary}"
    );
}

#[test]
fn verify_with_another_public_key_fails() {
    if !require_tools("verify_with_another_public_key_fails", TOOLS) {
        return;
    }
    let d = host_dist();
    let other = crate::support::keys();
    let out = run(&mut verify_cmd(&other, d.out.path()));
    assert!(!out.status.success());
    assert!(stderr(&out).contains(".minisig (minisign)"));
}

#[test]
fn checksum_file_and_manifest_have_a_stable_shape() {
    if !require_tools("checksum_file_and_manifest_have_a_stable_shape", TOOLS) {
        return;
    }
    let d = host_dist();
    let version = crate::support::version_regex();
    let filters = vec![
        (r"[0-9a-f]{64}", "[SHA256]"),
        (r"linux-[a-z0-9]+(-gnu)?-", "[PLATFORM]-"),
        (r"(x86_64|aarch64)-unknown-linux-gnu", "[HOST]"),
        (r#""size": \d+"#, r#""size": "[SIZE]""#),
        (r#""commit": "[0-9a-f]+""#, r#""commit": "[COMMIT]""#),
        (
            r#""source_date_epoch": \d+"#,
            r#""source_date_epoch": "[EPOCH]""#,
        ),
        (r#""date": "[^"]+""#, r#""date": "[DATE]""#),
        (&*version, "[VERSION]"),
    ];
    let sums = std::fs::read_to_string(d.out.path().join("SHA256SUMS")).unwrap();
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(d.out.path().join("dist-manifest.json")).unwrap(),
    )
    .unwrap();
    insta::with_settings!({filters => filters}, {
        insta::assert_snapshot!("sha256sums", sums);
    });
    // FIXME: snapshot the whole manifest (filtered) once a snapshot has been reviewed; until
    // then, assert its cargo-dist-shaped structure field by field.
    assert_eq!(manifest["ferry"]["schema_version"], 1);
    assert!(manifest["announcement_tag"]
        .as_str()
        .unwrap()
        .starts_with('v'));
    let artifacts = manifest["artifacts"].as_object().unwrap();
    let archives: Vec<_> = artifacts
        .values()
        .filter(|a| a["kind"] == "executable-zip")
        .collect();
    assert_eq!(archives.len(), 4, "{manifest:#}");
    for a in archives {
        let name = a["name"].as_str().unwrap();
        assert_eq!(a["checksum"], format!("{name}.sha256"));
        assert_eq!(a["ferry"]["signature"], format!("{name}.minisig"));
        assert_eq!(a["checksums"]["sha256"], a["ferry"]["sha256"]);
        assert!(a["ferry"]["size"].as_u64().unwrap() > 0);
        assert!(["complete", "minimal"].contains(&a["ferry"]["variant"].as_str().unwrap()));
        assert_eq!(a["assets"][0]["kind"], "executable");
        assert_eq!(a["target_triples"].as_array().unwrap().len(), 1);
    }
    assert_eq!(artifacts["SHA256SUMS"]["kind"], "unified-checksum");
    assert_eq!(
        artifacts["SHA256SUMS"]["ferry"]["signature"],
        "SHA256SUMS.minisig"
    );
}
