//! `cargo xtask changelog` on a real git repository: golden pairs in
//! `tests/fixtures/changelog/<case>/` (`before.md` + `commits.txt` → `after.md`). Commit hashes
//! differ per run (the repository holds a temp path), so they are written `{sha:N}`/`{short:N}`
//! with N the commit's place in `commits.txt`. `UPDATE_GOLDEN=1` rewrites `after.md`.

use std::path::Path;

use crate::release_support::{git, ok, run, Fixture};

fn fixtures() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/changelog")
}

/// Sets CHANGELOG.md to `before`, tags v1.0.0, then makes one empty commit per message.
fn prepare(f: &Fixture, case: &str) -> Vec<String> {
    let dir = fixtures().join(case);
    std::fs::copy(dir.join("before.md"), f.repo.join("CHANGELOG.md")).unwrap();
    git(&f.repo, &["commit", "-q", "-am", "chore: changelog"]);
    git(&f.repo, &["tag", "-a", "v1.0.0", "-m", "1.0.0"]);
    let commits = std::fs::read_to_string(dir.join("commits.txt")).unwrap();
    let mut hashes = Vec::new();
    for msg in commits.split("\n----\n") {
        git(
            &f.repo,
            &["commit", "-q", "--allow-empty", "-m", msg.trim()],
        );
        hashes.push(git(&f.repo, &["rev-parse", "HEAD"]));
    }
    hashes
}

fn normalise(text: &str, f: &Fixture, hashes: &[String]) -> String {
    let mut t = text.replace(&f.gh.api.url, "https://github.com");
    for (i, h) in hashes.iter().enumerate() {
        t = t.replace(h.as_str(), &format!("{{sha:{}}}", i + 1));
        t = t.replace(&format!("[{}]", &h[..7]), &format!("[{{short:{}}}]", i + 1));
    }
    t
}

#[test]
fn conventional_commits_and_unreleased_become_the_version_section() {
    let f = Fixture::new();
    let hashes = prepare(&f, "conventional");
    let before = std::fs::read_to_string(f.repo.join("CHANGELOG.md")).unwrap();

    // Without --version it previews and writes nothing.
    let preview = ok(&run(&mut f.xtask(&["changelog", "--date", "2026-01-02"])));
    assert!(preview.contains("### Breaking"), "{preview}");
    assert_eq!(
        std::fs::read_to_string(f.repo.join("CHANGELOG.md")).unwrap(),
        before
    );

    ok(&run(&mut f.xtask(&[
        "changelog",
        "--version",
        "1.1.0",
        "--date",
        "2026-01-02",
    ])));
    let got = normalise(
        &std::fs::read_to_string(f.repo.join("CHANGELOG.md")).unwrap(),
        &f,
        &hashes,
    );
    let golden = fixtures().join("conventional/after.md");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, &got).unwrap();
    }
    let want = std::fs::read_to_string(&golden).unwrap();
    assert_eq!(got, want, "CHANGELOG differs from {}", golden.display());
}

#[test]
fn changelog_with_nothing_to_release_says_how_to_fix_it() {
    let f = Fixture::new();
    let cl = std::fs::read_to_string(f.repo.join("CHANGELOG.md")).unwrap();
    std::fs::write(
        f.repo.join("CHANGELOG.md"),
        cl.replace("### Added\n\n- The first feature.\n", ""),
    )
    .unwrap();
    git(&f.repo, &["commit", "-q", "-am", "docs: empty"]);
    let out = run(&mut f.xtask(&["changelog"]));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("nothing to release") && err.contains("## [Unreleased]"),
        "{err}"
    );
}
