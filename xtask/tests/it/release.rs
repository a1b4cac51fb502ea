//! `cargo xtask release` against a real git repository (bare origin, bare tap), the fake
//! GitHub and a webhook receiver, with fake signed dist directories (no builds).

use crate::http;
use crate::release_support::{fails, git, ok, run, Fixture};

fn tags(f: &Fixture) -> String {
    git(&f.repo, &["tag", "--list"])
}

#[test]
fn releases_publish_a_verified_release_everywhere() {
    let f = Fixture::new();
    let out = f.release("1.0.0", &["--json"]);
    let stdout = ok(&out);
    let summary: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(summary["version"], "1.0.0");
    assert_eq!(summary["latest"], true);
    assert_eq!(summary["prerelease"], false);

    // Version bump: Cargo.toml keeps its comment, the lock's own packages change, deps don't.
    let cargo = std::fs::read_to_string(f.repo.join("Cargo.toml")).unwrap();
    assert!(
        cargo.contains("# the released version\nversion = \"1.0.0\""),
        "{cargo}"
    );
    let lock = std::fs::read_to_string(f.repo.join("Cargo.lock")).unwrap();
    assert!(
        lock.contains("name = \"ferry\"\nversion = \"1.0.0\""),
        "{lock}"
    );
    assert!(
        lock.contains("name = \"serde\"\nversion = \"0.1.0\""),
        "{lock}"
    );
    assert!(
        lock.contains("name = \"xtask\"\nversion = \"0.0.0\""),
        "{lock}"
    );
    let xtask_toml = std::fs::read_to_string(f.repo.join("xtask/Cargo.toml")).unwrap();
    assert!(xtask_toml.contains("version = \"0.0.0\""));

    // CHANGELOG: the section with its date, an empty Unreleased, links.
    let cl = std::fs::read_to_string(f.repo.join("CHANGELOG.md")).unwrap();
    assert!(
        cl.contains(
            "## [Unreleased]\n\n## [1.0.0] - 2026-01-02\n\n### Added\n\n- The first feature.\n"
        ),
        "{cl}"
    );
    assert!(
        cl.contains(&format!(
            "[Unreleased]: {}/ferry-deploy/ferry/compare/v1.0.0...HEAD",
            f.gh.api.url
        )),
        "{cl}"
    );

    // Commit, annotated tag, both pushed; the work tree is clean.
    assert_eq!(
        git(&f.repo, &["log", "-1", "--format=%s"]),
        "chore(release): v1.0.0"
    );
    assert_eq!(git(&f.repo, &["cat-file", "-t", "v1.0.0"]), "tag");
    assert_eq!(
        git(&f.origin, &["rev-parse", "v1.0.0^{commit}"]),
        git(&f.repo, &["rev-parse", "HEAD"])
    );
    assert_eq!(
        git(&f.origin, &["rev-parse", "main"]),
        git(&f.repo, &["rev-parse", "HEAD"])
    );
    assert_eq!(git(&f.repo, &["status", "--porcelain"]), "");

    // GitHub: published, latest, notes from the changelog, every file plus the pointer.
    let rel = f.gh.release("v1.0.0").unwrap();
    assert!(!rel.draft && !rel.prerelease);
    assert_eq!(f.gh.latest_tag().as_deref(), Some("v1.0.0"));
    let body = rel.body.unwrap();
    assert!(
        body.starts_with("## Added\n\n- The first feature."),
        "{body}"
    );
    assert!(body.contains("minisign -V"), "{body}");
    let names = f.gh.asset_names("v1.0.0");
    assert_eq!(names.len(), 8 + 8 + 2 + 2, "{names:?}");
    assert!(
        names.contains(&"latest.json".to_owned())
            && names.contains(&"latest.json.minisig".to_owned())
    );
    // Uploads went to the uploads host, with the token.
    f.gh.with(|s| {
        let ups: Vec<_> = s.log.iter().filter(|l| l.uploads_host).collect();
        assert_eq!(ups.len(), names.len());
        assert!(ups.iter().all(|l| l.authorized));
    });
    // What an installer fetches: latest.json through GitHub's latest.
    let (code, pointer) = http::get_follow(&format!(
        "{}/ferry-deploy/ferry/releases/latest/download/latest.json",
        f.gh.api.url
    ));
    assert_eq!(code, 200);
    let pointer: serde_json::Value = serde_json::from_slice(&pointer).unwrap();
    assert_eq!(pointer["version"], "1.0.0");

    // Homebrew: the formula for 1.0.0 with the archives' digests.
    let formula = f.tap_formula();
    assert!(formula.contains("version \"1.0.0\""), "{formula}");
    let mac = std::fs::read(
        f.dir
            .path()
            .join("dist-1.0.0/ferry-1.0.0-macos-arm64-complete.tar.gz"),
    )
    .unwrap();
    assert!(
        formula.contains(&crate::release_support::sha256_hex(&mac)),
        "{formula}"
    );
    assert!(formula.contains("/releases/download/v1.0.0/ferry-1.0.0-macos-arm64-complete.tar.gz"));

    // Notification: one JSON payload, Slack's `text` plus the details.
    let hooks = f.hook.received();
    assert_eq!(hooks.len(), 1, "{hooks:?}");
    assert_eq!(hooks[0]["version"], "1.0.0");
    assert_eq!(hooks[0]["event"], "release");
    assert!(hooks[0]["text"]
        .as_str()
        .unwrap()
        .contains("ferry 1.0.0 released"));
    assert_eq!(hooks[0]["assets"].as_array().unwrap().len(), names.len());

    // The summary lists every asset with its digest and URL.
    assert_eq!(summary["assets"].as_array().unwrap().len(), names.len());
    assert!(summary["steps"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["name"] == "oci" && s["status"].as_str().unwrap().starts_with("skipped")));

    // A second plain run refuses: the tag is taken.
    let err = fails(&f.release("1.0.0", &[]));
    assert!(err.contains("tag v1.0.0 already exists"), "{err}");
}

#[test]
fn dry_run_changes_nothing_and_lists_every_step() {
    let f = Fixture::new();
    let head = git(&f.repo, &["rev-parse", "HEAD"]);
    let mut cmd = f.xtask(&["release", "--bump", "minor", "--dry-run"]);
    // Dry runs need no token and no key.
    cmd.env_remove("GITHUB_TOKEN")
        .env_remove("FERRY_MINISIGN_KEY_FILE");
    let out = ok(&run(&mut cmd));
    assert!(out.contains("plan for ferry 0.2.0 (v0.2.0)"), "{out}");
    for step in [
        "bump",
        "changelog",
        "commit",
        "tag",
        "dist",
        "push",
        "draft",
        "upload",
        "verify",
        "publish",
        "homebrew",
        "notify",
    ] {
        assert!(
            out.contains(&format!("  {step} ")),
            "{step} missing:\n{out}"
        );
    }
    assert_eq!(git(&f.repo, &["status", "--porcelain"]), "");
    assert_eq!(git(&f.repo, &["rev-parse", "HEAD"]), head);
    assert_eq!(tags(&f), "");
    assert_eq!(f.gh.writes(), Vec::<String>::new());
    assert!(f.hook.received().is_empty());
    assert!(!f.repo.join("target/release-journal").exists());
}

#[test]
fn preflight_reports_every_problem_with_its_fix() {
    let f = Fixture::new();
    // Clean and on main, but: a taken tag, a lower version, no token, no key.
    git(&f.repo, &["tag", "-a", "v0.5.0", "-m", "old"]);
    git(&f.repo, &["tag", "-a", "v0.4.0", "-m", "old"]);
    let mut cmd = f.xtask(&["release", "--version", "0.4.0"]);
    cmd.env_remove("GITHUB_TOKEN")
        .env_remove("FERRY_MINISIGN_KEY_FILE");
    let err = fails(&run(&mut cmd));
    assert!(
        err.contains("tag v0.4.0 already exists") && err.contains("--resume"),
        "{err}"
    );
    assert!(
        err.contains("0.4.0 is not greater than the last release 0.5.0"),
        "{err}"
    );
    assert!(
        err.contains("GITHUB_TOKEN is not set; create a token"),
        "{err}"
    );
    assert!(
        err.contains("no signing key: set FERRY_MINISIGN_KEY"),
        "{err}"
    );
    assert!(err.contains("4 problems"), "{err}");

    // Pre-releases order below their release: 0.5.0 is out, so 0.5.0-rc.1 is refused.
    let err = fails(&run(&mut f.xtask(&["release", "--version", "0.5.0-rc.1"])));
    assert!(
        err.contains("0.5.0-rc.1 is not greater than the last release 0.5.0"),
        "{err}"
    );

    // Dirty tree and wrong branch.
    std::fs::write(f.repo.join("stray.txt"), "x").unwrap();
    git(&f.repo, &["checkout", "-q", "-b", "feature"]);
    let err = fails(&run(&mut f.xtask(&["release", "--bump", "patch"])));
    assert!(
        err.contains("the work tree is not clean (1 changed: ?? stray.txt)")
            && err.contains("git stash -u"),
        "{err}"
    );
    assert!(
        err.contains(
            "on branch `feature`, but releases are cut from `main`; run `git switch main`"
        ),
        "{err}"
    );
    std::fs::remove_file(f.repo.join("stray.txt")).unwrap();
    git(&f.repo, &["checkout", "-q", "main"]);

    // Nothing to release: empty Unreleased and no conventional commits since the last tag.
    let cl = std::fs::read_to_string(f.repo.join("CHANGELOG.md")).unwrap();
    std::fs::write(
        f.repo.join("CHANGELOG.md"),
        cl.replace("### Added\n\n- The first feature.\n", ""),
    )
    .unwrap();
    git(&f.repo, &["commit", "-q", "-am", "chore: tidy"]);
    git(&f.repo, &["tag", "-a", "v0.6.0", "-m", "x"]);
    let err = fails(&run(&mut f.xtask(&["release", "--bump", "patch"])));
    assert!(
        err.contains("nothing to release") && err.contains("add entries under `## [Unreleased]`"),
        "{err}"
    );

    assert!(err.contains("nothing was changed"));
    assert_eq!(f.gh.writes(), Vec::<String>::new());
    assert_eq!(git(&f.repo, &["status", "--porcelain"]), "");
}

#[test]
fn a_failed_upload_leaves_an_invisible_draft_and_resume_uploads_only_what_is_missing() {
    let f = Fixture::new();
    let broken = "ferry-1.0.0-macos-arm64-complete.tar.gz";
    f.gh.with(|s| s.faults.upload_500.insert(broken.into(), u32::MAX));
    let err = fails(&f.release("1.0.0", &[]));
    assert!(err.contains(&format!("uploading {broken}")), "{err}");
    assert!(err.contains("cargo xtask release --resume"), "{err}");
    // Retried with backoff before giving up.
    assert_eq!(f.gh.uploads_of(broken), 4);

    // Mid-way: users see nothing. A draft exists (authenticated), but no public release.
    let rel = f.gh.release("v1.0.0").unwrap();
    assert!(rel.draft);
    assert_eq!(f.gh.latest_tag(), None);
    let (code, _, body) = http::request(
        "GET",
        &format!("{}/repos/ferry-deploy/ferry/releases", f.gh.api.url),
        &[],
        b"",
    );
    assert_eq!(
        (code, String::from_utf8_lossy(&body).into_owned()),
        (200, "[]".to_owned())
    );
    let (code, _) = http::get_follow(&format!(
        "{}/ferry-deploy/ferry/releases/download/v1.0.0/SHA256SUMS",
        f.gh.api.url
    ));
    assert_eq!(code, 404);
    let before = f.gh.asset_names("v1.0.0");
    assert!(!before.contains(&broken.to_owned()) && !before.is_empty());

    // A plain re-run is refused in favour of --resume.
    let err = fails(&f.release("1.0.1", &[]));
    assert!(err.contains("run `cargo xtask release --resume`"), "{err}");

    f.gh.with(|s| s.faults.upload_500.clear());
    f.gh.clear_log();
    let out = ok(&run(&mut f.xtask(&["release", "--resume"])));
    assert!(out.contains("released ferry 1.0.0"), "{out}");
    // Only the missing asset went up; nothing was deleted; no second draft.
    f.gh.with(|s| {
        let ups: Vec<_> = s
            .log
            .iter()
            .filter(|l| l.uploads_host)
            .map(|l| l.path.clone())
            .collect();
        assert_eq!(ups.len(), 1, "{ups:?}");
        assert!(ups[0].ends_with(broken));
        assert!(s.log.iter().all(|l| l.method != "DELETE"));
        assert_eq!(s.releases.len(), 1);
    });
    let rel = f.gh.release("v1.0.0").unwrap();
    assert!(!rel.draft);
    assert_eq!(f.gh.latest_tag().as_deref(), Some("v1.0.0"));
    assert_eq!(git(&f.repo, &["tag", "--list"]), "v1.0.0");
}

#[test]
fn a_dropped_upload_response_is_not_uploaded_twice() {
    let f = Fixture::new();
    let name = "SHA256SUMS";
    f.gh.with(|s| s.faults.upload_drop.insert(name.into(), 1));
    ok(&f.release("1.0.0", &[]));
    assert_eq!(f.gh.uploads_of(name), 1, "the retry found the stored asset");
    let names = f.gh.asset_names("v1.0.0");
    assert_eq!(names.iter().filter(|n| *n == name).count(), 1);
}

#[test]
fn rerunning_after_a_crash_redoes_nothing_and_deletes_nothing() {
    let f = Fixture::new();
    ok(&f.release("1.0.0", &[]));
    // A crash after the uploads: the journal forgets verify/publish/registries.
    let jpath = f.repo.join("target/release-journal/v1.0.0.json");
    let mut j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&jpath).unwrap()).unwrap();
    let steps = j["steps"].as_array().unwrap().clone();
    let cut = steps.iter().position(|s| s["step"] == "verify").unwrap();
    j["steps"] = serde_json::Value::Array(steps[..cut].to_vec());
    j["finished"] = false.into();
    std::fs::write(&jpath, serde_json::to_string(&j).unwrap()).unwrap();
    let tap_head = git(&f.tap, &["rev-parse", "main"]);
    f.gh.clear_log();
    ok(&run(&mut f.xtask(&["release", "--resume"])));
    f.gh.with(|s| {
        assert!(
            s.log
                .iter()
                .all(|l| !l.uploads_host && l.method != "DELETE" && l.method != "POST"),
            "only reads and the publish PATCH"
        );
    });
    // Same formula: no new tap commit.
    assert_eq!(git(&f.tap, &["rev-parse", "main"]), tap_head);
    let err = fails(&run(&mut f.xtask(&["release", "--resume"])));
    assert!(err.contains("no interrupted release to resume"), "{err}");
}

#[test]
fn make_latest_goes_only_to_the_highest_stable_and_prereleases_are_flagged() {
    let f = Fixture::new();
    ok(&f.release("1.0.0", &[]));
    f.change("fix one");
    ok(&f.release("1.1.0", &[]));
    assert_eq!(f.gh.latest_tag().as_deref(), Some("v1.1.0"));
    f.change("fix two");
    let out = ok(&f.release("1.2.0-rc.1", &["--json"]));
    let s: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (s["prerelease"].as_bool(), s["latest"].as_bool()),
        (Some(true), Some(false))
    );
    assert!(f.gh.release("v1.2.0-rc.1").unwrap().prerelease);
    assert_eq!(f.gh.latest_tag().as_deref(), Some("v1.1.0"));
    // The formula tracks stable releases only.
    assert!(f.tap_formula().contains("version \"1.1.0\""));
    // A backport below the highest stable (1.0.1 after 1.1.0) is refused by preflight, so
    // `make_latest` only ever moves up; the rc above did not take it.
    // --bump from a pre-release finishes it.
    f.change("fix four");
    let mut cmd = f.xtask(&["release", "--bump", "minor", "--dry-run"]);
    let out = ok(&run(&mut cmd));
    assert!(out.contains("plan for ferry 1.2.0 (v1.2.0)"), "{out}");
}

#[test]
fn skip_publish_stops_before_anything_leaves_the_machine_and_resume_publishes() {
    let f = Fixture::new();
    let out = ok(&f.release("1.0.0", &["--skip-publish"]));
    assert!(out.contains("--skip-publish"), "{out}");
    assert_eq!(tags(&f), "v1.0.0");
    assert!(
        git(&f.origin, &["tag", "--list"]).is_empty(),
        "nothing pushed"
    );
    assert_eq!(f.gh.writes(), Vec::<String>::new());
    ok(&run(&mut f.xtask(&["release", "--resume"])));
    assert_eq!(git(&f.origin, &["tag", "--list"]), "v1.0.0");
    assert!(!f.gh.release("v1.0.0").unwrap().draft);
}

#[test]
fn draft_releases_stay_drafts() {
    let f = Fixture::new();
    ok(&f.release("1.0.0", &["--draft"]));
    assert!(f.gh.release("v1.0.0").unwrap().draft);
    assert_eq!(f.gh.latest_tag(), None);
    assert!(
        f.hook.received().is_empty(),
        "nothing published, nothing announced"
    );
}

#[test]
fn secrets_stay_out_of_outputs_files_and_errors() {
    let f = Fixture::new();
    // A webhook that can't be reached: the error names the variable, never the URL.
    let mut cmd = f.xtask(&["release", "--version", "1.0.0", "--date", "2026-01-02"]);
    let dist = f.dist("1.0.0");
    cmd.arg("--dist-dir").arg(&dist).env(
        crate::release_support::WEBHOOK_ENV,
        "http://127.0.0.1:1/hooks/T000/B000/secretpart",
    );
    let err = fails(&run(&mut cmd));
    assert!(
        err.contains("the webhook in FERRY_TEST_WEBHOOK failed"),
        "{err}"
    );
    // Published already (notify is last); the resume with a working URL only notifies.
    assert!(!f.gh.release("v1.0.0").unwrap().draft);
    ok(&run(&mut f.xtask(&["release", "--resume"])));
    assert_eq!(f.hook.received().len(), 1);
    // Nothing written by the release holds the token or the webhook URL.
    let mut stack = vec![f.repo.join("target"), dist];
    let mut files = 0;
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            stack.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        } else {
            files += 1;
            let text = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
            assert!(
                !text.contains(crate::github_fake::TOKEN) && !text.contains("secretpart"),
                "{}",
                p.display()
            );
        }
    }
    assert!(files > 3, "the journal and pointer were checked");
    // Nor does the release on GitHub.
    f.gh.with(|s| {
        for r in &s.releases {
            assert!(!r
                .body
                .clone()
                .unwrap_or_default()
                .contains(crate::github_fake::TOKEN));
        }
        for a in &s.assets {
            assert!(!String::from_utf8_lossy(&a.data).contains(crate::github_fake::TOKEN));
        }
    });
}

#[test]
fn the_client_follows_pagination_when_deciding_latest() {
    let f = Fixture::new();
    // 150 older releases on GitHub; only the oldest (last page at 100 per page) is higher.
    f.gh.with(|s| {
        for i in 0..150u64 {
            s.releases.push(crate::github_fake::Rel {
                id: 1 + i,
                tag_name: if i == 149 {
                    "v9.0.0".into()
                } else {
                    format!("v0.0.{i}")
                },
                name: None,
                body: None,
                draft: false,
                prerelease: false,
                target_commitish: "main".into(),
                created: 0,
                published: Some(0),
            });
        }
    });
    let out = ok(&f.release("1.0.0", &["--json"]));
    let s: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(s["latest"], false, "v9.0.0 on page 2 is higher");
    f.gh.with(|s| {
        assert!(
            s.log.iter().any(|l| l.path.contains("page=2")),
            "read the second page"
        );
    });
}

#[test]
fn a_ci_job_on_the_pushed_tag_publishes_it_with_tagged() {
    let f = Fixture::new();
    // The maintainer cuts the release locally and pushes the tag; CI publishes it.
    ok(&f.release("1.0.0", &["--skip-publish"]));
    git(&f.repo, &["push", "-q", "origin", "HEAD", "v1.0.0"]);
    let ci = f.dir.path().join("ci-checkout");
    git(
        f.dir.path(),
        &[
            "clone",
            "-q",
            "--branch",
            "v1.0.0",
            f.origin.to_str().unwrap(),
            ci.to_str().unwrap(),
        ],
    );
    let dist = f.dist("1.0.0");
    let release = |repo: &std::path::Path, version: &str| {
        let mut c = f.xtask_in(
            repo,
            &[
                "release",
                "--version",
                version,
                "--tagged",
                "--json",
                "--dist-dir",
                dist.to_str().unwrap(),
            ],
        );
        run(&mut c)
    };
    // A tag that is not the checked-out commit is refused, naming the fix.
    let err = fails(&release(&ci, "1.0.1"));
    assert!(err.contains("no tag v1.0.1"), "{err}");
    let before = git(&f.origin, &["rev-parse", "HEAD"]);
    let out = ok(&release(&ci, "1.0.0"));
    let summary: serde_json::Value = serde_json::from_str(&out).unwrap();
    let steps: Vec<(String, String)> = summary["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_owned(),
                s["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for repo_step in ["bump", "changelog", "commit", "tag", "push"] {
        let status = &steps.iter().find(|(n, _)| n == repo_step).unwrap().1;
        assert!(
            status.starts_with("skipped: --tagged"),
            "{repo_step}: {status}"
        );
    }
    let published = f.gh.release("v1.0.0").expect("the release exists");
    assert!(!published.draft);
    assert_eq!(
        git(&f.origin, &["rev-parse", "HEAD"]),
        before,
        "nothing was pushed"
    );
    assert_eq!(git(&f.origin, &["tag", "--list"]), "v1.0.0");
}

#[test]
fn the_homebrew_formula_is_valid_ruby_and_snapshotted() {
    if !crate::support::require_tools(
        "the_homebrew_formula_is_valid_ruby_and_snapshotted",
        &["ruby"],
    ) {
        return;
    }
    let f = Fixture::new();
    ok(&f.release("1.0.0", &[]));
    let formula = f.tap_formula();
    let path = f.dir.path().join("ferry.rb");
    std::fs::write(&path, &formula).unwrap();
    let check = run(std::process::Command::new("ruby").arg("-c").arg(&path));
    assert!(
        String::from_utf8_lossy(&check.stdout).contains("Syntax OK"),
        "{formula}"
    );
    // Every platform of both OSes, and the complete variant's completions and man page.
    for needle in [
        "on_macos do",
        "on_linux do",
        "on_arm do",
        "on_intel do",
        "bash_completion.install",
        "man1.install",
        "test do",
    ] {
        assert!(formula.contains(needle), "{needle} missing:\n{formula}");
    }
    // The fake GitHub's port changes per run.
    let base = &f.gh.api.url;
    insta::assert_snapshot!(
        "homebrew_formula",
        formula.replace(base.trim_end_matches('/'), "http://github.test")
    );
}

#[test]
fn a_second_release_while_one_runs_is_refused_and_changes_nothing() {
    let f = Fixture::new();
    let dir = f.repo.join("target/release-journal");
    std::fs::create_dir_all(&dir).unwrap();
    // What a running `release` holds.
    let held = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(".lock"))
        .unwrap();
    held.lock().unwrap();
    let err = fails(&f.release("1.0.0", &[]));
    assert!(err.contains("is running in this repository"), "{err}");
    assert_eq!(tags(&f), "");
    assert_eq!(f.gh.writes(), Vec::<String>::new());
    drop(held);
    ok(&f.release("1.0.0", &[]));
    assert_eq!(tags(&f), "v1.0.0");
}
