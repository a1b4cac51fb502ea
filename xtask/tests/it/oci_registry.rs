//! `cargo xtask oci push|retag` against a real registry (Debian's docker-registry) on loopback:
//! the pushed index reads back byte for byte (by tag and by digest), a second push uploads no
//! blob, basic auth works and never shows the password, `--dry-run` contacts nothing, and
//! retag moves `latest` to another digest without uploads.

use std::path::Path;
use std::process::Output;

use crate::oci::{index_digest, layout, musl_dist, oci_xtask, require_oci, tool, version};
use crate::registry::{htpasswd, Registry};
use crate::support::{run, run_ok, stderr};

fn push(dir: &Path, repo: &str) -> Output {
    run_ok(
        oci_xtask()
            .args(["oci", "push"])
            .arg(dir)
            .args(["--repository", repo, "--plain-http"]),
    )
}

/// `skopeo inspect --raw` of a registry reference: the stored manifest/index bytes.
pub fn raw(reference: &str) -> Vec<u8> {
    tool(
        "skopeo",
        &[
            "inspect",
            "--raw",
            "--tls-verify=false",
            &format!("docker://{reference}"),
        ],
    )
    .stdout
}

fn sha256(bytes: &[u8]) -> String {
    let mut child = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    format!(
        "sha256:{}",
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .next()
            .unwrap()
    )
}

#[test]
fn push_reads_back_identically_and_a_second_push_uploads_nothing() {
    if !require_oci(
        "push_reads_back_identically_and_a_second_push_uploads_nothing",
        &["docker-registry", "skopeo", "sha256sum"],
    ) {
        return;
    }
    let dir = musl_dist();
    let registry = Registry::start(None);
    let repo = registry.repo("ferry");
    let v = version();
    let first = stderr(&push(dir, &repo));
    assert!(first.contains("tags: 4 set"), "{first}");
    for variant in ["complete", "minimal"] {
        let l = layout(dir, variant);
        let digest = index_digest(&l);
        let local = std::fs::read(
            l.join("blobs/sha256")
                .join(digest.trim_start_matches("sha256:")),
        )
        .unwrap();
        let suffix = if variant == "minimal" { "-minimal" } else { "" };
        for tag in [v.clone(), "latest".to_owned()] {
            let remote = raw(&format!("{repo}:{tag}{suffix}"));
            assert_eq!(
                remote, local,
                "{tag}{suffix}: pushed index differs from the layout's"
            );
        }
        // Pull back by digest: same bytes, same digest.
        let by_digest = raw(&format!("{repo}@{digest}"));
        assert_eq!(sha256(&by_digest), digest);
        // Both platforms are there and resolvable.
        let arm = tool(
            "skopeo",
            &[
                "inspect",
                "--tls-verify=false",
                "--override-arch",
                "arm64",
                &format!("docker://{repo}:{v}{suffix}"),
            ],
        );
        let info: serde_json::Value = serde_json::from_slice(&arm.stdout).unwrap();
        assert_eq!(info["Architecture"], "arm64");
    }
    let tags = tool(
        "skopeo",
        &[
            "list-tags",
            "--tls-verify=false",
            &format!("docker://{repo}"),
        ],
    );
    let tags: serde_json::Value = serde_json::from_slice(&tags.stdout).unwrap();
    let mut tags: Vec<String> = tags["Tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_owned())
        .collect();
    tags.sort();
    let (major, minor) = {
        let p: Vec<&str> = v.split('.').collect();
        (p[0].to_owned(), format!("{}.{}", p[0], p[1]))
    };
    let mut want = vec![
        v.clone(),
        format!("{v}-minimal"),
        minor.clone(),
        format!("{minor}-minimal"),
        major.clone(),
        format!("{major}-minimal"),
        "latest".to_owned(),
        "latest-minimal".to_owned(),
    ];
    want.sort();
    assert_eq!(tags, want);

    let second = stderr(&push(dir, &repo));
    assert_eq!(
        second.matches("blobs: 0 uploaded").count(),
        2,
        "a re-push must upload no blob:\n{second}"
    );
    assert_eq!(
        second.matches("tags: 0 set, 4 unchanged").count(),
        2,
        "{second}"
    );
}

#[test]
fn dry_run_prints_tags_and_digests_and_contacts_nothing() {
    if !require_oci("dry_run_prints_tags_and_digests_and_contacts_nothing", &[]) {
        return;
    }
    let dir = musl_dist();
    // Port 1 on loopback: nothing listens, so any request would fail the command.
    let out = run_ok(oci_xtask().args(["oci", "push"]).arg(dir).args([
        "--repository",
        "127.0.0.1:1/ferry",
        "--plain-http",
        "--dry-run",
    ]));
    let log = stderr(&out);
    let v = version();
    for variant in ["complete", "minimal"] {
        assert!(log.contains(&index_digest(&layout(dir, variant))), "{log}");
    }
    for tag in [
        format!(":{v}\n"),
        ":latest\n".to_owned(),
        ":latest-minimal\n".to_owned(),
    ] {
        assert!(
            log.contains(&format!("tag 127.0.0.1:1/ferry{tag}")),
            "missing {tag}:\n{log}"
        );
    }
    assert!(log.contains("linux/arm64: sha256:"), "{log}");
}

#[test]
fn basic_auth_registry_needs_credentials_and_never_shows_them() {
    if !require_oci(
        "basic_auth_registry_needs_credentials_and_never_shows_them",
        &["docker-registry", "skopeo", "htpasswd"],
    ) {
        return;
    }
    let dir = musl_dist();
    let auth_dir = tempfile::tempdir().unwrap();
    let password = "s3cret-Pa55word";
    let file = htpasswd(auth_dir.path(), "ferry", password);
    let registry = Registry::start(Some(&file));
    let repo = registry.repo("ferry");
    let denied = run(oci_xtask().args(["oci", "push"]).arg(dir).args([
        "--repository",
        &repo,
        "--plain-http",
    ]));
    assert!(!denied.status.success());
    let log = stderr(&denied);
    assert!(
        log.contains("FERRY_OCI_USERNAME"),
        "the error must say how to log in:\n{log}"
    );
    let ok = run_ok(
        oci_xtask()
            .args(["oci", "push"])
            .arg(dir)
            .args(["--repository", &repo, "--plain-http"])
            .env("FERRY_OCI_USERNAME", "ferry")
            .env("FERRY_OCI_PASSWORD", password),
    );
    let log = format!("{}{}", stderr(&ok), String::from_utf8_lossy(&ok.stdout));
    assert!(
        !log.contains(password),
        "the password leaked into the output"
    );
    // Credentials from a docker config file work too (a re-push: nothing to upload).
    let docker = tempfile::tempdir().unwrap();
    let auth = data_encoding_base64(&format!("ferry:{password}"));
    std::fs::write(
        docker.path().join("config.json"),
        format!(
            r#"{{"auths":{{"127.0.0.1:{}":{{"auth":"{auth}"}}}}}}"#,
            registry.port
        ),
    )
    .unwrap();
    let again = run_ok(
        oci_xtask()
            .args(["oci", "push"])
            .arg(dir)
            .args(["--repository", &repo, "--plain-http"])
            .env("DOCKER_CONFIG", docker.path()),
    );
    let log = stderr(&again);
    assert!(log.contains("blobs: 0 uploaded"), "{log}");
    assert!(!log.contains(password) && !log.contains(&auth));
}

/// Base64 without a dependency in the tests (RFC 4648, with padding).
fn data_encoding_base64(s: &str) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::new();
    for chunk in b.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn retag_moves_latest_to_another_digest_without_uploads() {
    if !require_oci(
        "retag_moves_latest_to_another_digest_without_uploads",
        &["docker-registry", "skopeo", "sha256sum"],
    ) {
        return;
    }
    let dir = musl_dist();
    let registry = Registry::start(None);
    let repo = registry.repo("ferry");
    push(dir, &repo);
    let complete = index_digest(&layout(dir, "complete"));
    let minimal = index_digest(&layout(dir, "minimal"));
    assert_eq!(sha256(&raw(&format!("{repo}:latest"))), complete);
    let blobs_before = count_blobs(registry.dir.path());
    // Roll `latest` to another image by digest (as rollback does), then back by tag.
    let out = run_ok(oci_xtask().args([
        "oci",
        "retag",
        "--repository",
        &repo,
        "--plain-http",
        "--to",
        &minimal,
        "--tag",
        "latest",
    ]));
    assert!(
        stderr(&out).contains(&format!("(was {complete})")),
        "{}",
        stderr(&out)
    );
    assert_eq!(sha256(&raw(&format!("{repo}:latest"))), minimal);
    let dry = run_ok(oci_xtask().args([
        "oci",
        "retag",
        "--repository",
        &repo,
        "--plain-http",
        "--to",
        &version(),
        "--tag",
        "latest",
        "--dry-run",
    ]));
    assert!(stderr(&dry).contains("would retag"), "{}", stderr(&dry));
    assert_eq!(
        sha256(&raw(&format!("{repo}:latest"))),
        minimal,
        "--dry-run changed the tag"
    );
    run_ok(oci_xtask().args([
        "oci",
        "retag",
        "--repository",
        &repo,
        "--plain-http",
        "--to",
        &version(),
        "--tag",
        "latest",
    ]));
    assert_eq!(sha256(&raw(&format!("{repo}:latest"))), complete);
    assert_eq!(
        count_blobs(registry.dir.path()),
        blobs_before,
        "retag uploaded blobs"
    );
    let missing = run(oci_xtask().args([
        "oci",
        "retag",
        "--repository",
        &repo,
        "--plain-http",
        "--to",
        "9.9.9",
        "--tag",
        "latest",
    ]));
    assert!(!missing.status.success());
    let _ = registry.log();
}

/// Blobs the registry stores (its filesystem layout: `blobs/sha256/<2 hex>/<digest>/data`).
fn count_blobs(registry_dir: &Path) -> usize {
    let root = registry_dir.join("storage/docker/registry/v2/blobs/sha256");
    let Ok(prefixes) = std::fs::read_dir(&root) else {
        return 0;
    };
    prefixes
        .map(|p| std::fs::read_dir(p.unwrap().path()).unwrap().count())
        .sum()
}
