//! `cargo xtask rollback` end to end: 1.0.0, 1.1.0, 1.2.0-rc.1, 1.2.0 → rollback to 1.1.0 →
//! release 1.2.1, checking GitHub's latest, the installers' latest.json, the Homebrew tap,
//! the yank, CHANGELOG and the notification at each point. Nothing is ever deleted.

use crate::http;
use crate::release_support::{fails, git, ok, run, Fixture};

fn pointer_version(f: &Fixture) -> String {
    let (code, body) = http::get_follow(&format!(
        "{}/ferry-deploy/ferry/releases/latest/download/latest.json",
        f.gh.api.url
    ));
    assert_eq!(code, 200);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    v["version"].as_str().unwrap().to_owned()
}

fn formula_version(f: &Fixture) -> String {
    let text = f.tap_formula();
    text.lines()
        .find_map(|l| l.trim().strip_prefix("version \""))
        .and_then(|r| r.strip_suffix('"'))
        .unwrap()
        .to_owned()
}

#[test]
fn rollback_repoints_latest_everywhere_and_rolling_forward_works() {
    let f = Fixture::new();
    ok(&f.release("1.0.0", &[]));
    f.change("fix a");
    ok(&f.release("1.1.0", &[]));
    f.change("fix b");
    ok(&f.release("1.2.0-rc.1", &[]));
    f.change("fix c");
    ok(&f.release("1.2.0", &[]));
    assert_eq!(f.gh.latest_tag().as_deref(), Some("v1.2.0"));
    assert_eq!(pointer_version(&f), "1.2.0");
    assert_eq!(formula_version(&f), "1.2.0");
    let assets_before = f.gh.asset_names("v1.2.0");
    let tap_commits = git(&f.tap, &["rev-list", "--count", "main"]);

    // Dry run: verifies, lists every step, changes nothing.
    f.gh.clear_log();
    let out = ok(&run(&mut f.xtask(&[
        "rollback",
        "--to",
        "1.1.0",
        "--dry-run",
        "--reason",
        "crash on start",
    ])));
    for step in [
        "verify",
        "latest",
        "pointer",
        "yank",
        "homebrew",
        "oci",
        "changelog",
        "notify",
    ] {
        assert!(out.contains(&format!("  {step} ")), "{step}:\n{out}");
    }
    assert!(out.contains("would: make v1.1.0 latest"), "{out}");
    assert_eq!(f.gh.writes(), Vec::<String>::new());
    assert_eq!(git(&f.tap, &["rev-list", "--count", "main"]), tap_commits);
    let hooks_before = f.hook.received().len();

    // The rollback.
    let out = ok(&f.rollback_to("1.1.0"));
    assert!(out.contains("rolled back to 1.1.0 from 1.2.0"), "{out}");
    assert_eq!(f.gh.latest_tag().as_deref(), Some("v1.1.0"));
    assert_eq!(pointer_version(&f), "1.1.0", "the installers now get 1.1.0");
    assert_eq!(formula_version(&f), "1.1.0");
    // The tap moved forward by one commit (a revert-style commit; history kept).
    let n: u32 = git(&f.tap, &["rev-list", "--count", "main"])
        .parse()
        .unwrap();
    assert_eq!(n, tap_commits.parse::<u32>().unwrap() + 1);
    assert!(git(&f.tap, &["log", "-1", "--format=%s", "main"]).contains("roll back from 1.2.0"));
    // 1.2.0 is yanked, not deleted: pre-release + notice, all assets still there.
    let bad = f.gh.release("v1.2.0").unwrap();
    assert!(bad.prerelease && !bad.draft);
    let body = bad.body.unwrap();
    assert!(
        body.contains("**Yanked**: this release was rolled back to v1.1.0. Reason: crash on start"),
        "{body}"
    );
    assert_eq!(f.gh.asset_names("v1.2.0"), assets_before);
    f.gh.with(|s| assert!(s.log.iter().all(|l| l.method != "DELETE")));
    // CHANGELOG marks it and the mark is committed and pushed.
    let cl = std::fs::read_to_string(f.repo.join("CHANGELOG.md")).unwrap();
    assert!(cl.contains("## [1.2.0] - 2026-01-02 [YANKED]"), "{cl}");
    assert_eq!(git(&f.repo, &["status", "--porcelain"]), "");
    assert_eq!(
        git(&f.origin, &["rev-parse", "main"]),
        git(&f.repo, &["rev-parse", "HEAD"])
    );
    // Notified.
    let hooks = f.hook.received();
    assert_eq!(hooks.len(), hooks_before + 1);
    let last = hooks.last().unwrap();
    assert_eq!(
        (
            last["event"].as_str(),
            last["version"].as_str(),
            last["rolled_back"].as_str()
        ),
        (Some("rollback"), Some("1.1.0"), Some("1.2.0"))
    );

    // Idempotent: a re-run writes nothing to GitHub and makes no tap or repo commit.
    f.gh.clear_log();
    let head = git(&f.repo, &["rev-parse", "HEAD"]);
    let tap_head = git(&f.tap, &["rev-parse", "main"]);
    let out = ok(&run(&mut f.xtask(&[
        "rollback",
        "--to",
        "1.1.0",
        "--from",
        "1.2.0",
        "--reason",
        "crash on start",
        "--skip",
        "notify",
    ])));
    assert!(
        out.contains("already latest")
            && out.contains("already yanked")
            && out.contains("already marked"),
        "{out}"
    );
    assert_eq!(f.gh.writes(), Vec::<String>::new());
    assert_eq!(git(&f.repo, &["rev-parse", "HEAD"]), head);
    assert_eq!(git(&f.tap, &["rev-parse", "main"]), tap_head);

    // Roll forward with a fixed release: everything points at 1.2.1.
    f.change("fix d");
    ok(&f.release("1.2.1", &[]));
    assert_eq!(f.gh.latest_tag().as_deref(), Some("v1.2.1"));
    assert_eq!(pointer_version(&f), "1.2.1");
    assert_eq!(formula_version(&f), "1.2.1");
    assert!(
        f.gh.release("v1.2.0").unwrap().prerelease,
        "1.2.0 stays yanked"
    );
}

#[test]
fn rolling_forward_to_a_yanked_release_lifts_the_yank() {
    let f = Fixture::new();
    ok(&f.release("1.0.0", &[]));
    f.change("fix a");
    ok(&f.release("1.1.0", &[]));
    ok(&run(
        &mut f.xtask(&["rollback", "--to", "1.0.0", "--reason", "bad"])
    ));
    assert!(f.gh.release("v1.1.0").unwrap().prerelease);
    ok(&run(&mut f.xtask(&[
        "rollback",
        "--to",
        "1.1.0",
        "--from",
        "1.0.0",
        "--reason",
        "fixed upstream",
    ])));
    let rel = f.gh.release("v1.1.0").unwrap();
    assert!(!rel.prerelease);
    assert!(!rel.body.unwrap().contains("Yanked"));
    assert_eq!(f.gh.latest_tag().as_deref(), Some("v1.1.0"));
    assert_eq!(formula_version(&f), "1.1.0");
    let cl = std::fs::read_to_string(f.repo.join("CHANGELOG.md")).unwrap();
    assert!(
        cl.contains("## [1.1.0] - 2026-01-02\n") && cl.contains("## [1.0.0] - 2026-01-02 [YANKED]"),
        "{cl}"
    );
}

#[test]
fn rollback_refuses_a_target_that_does_not_verify_and_changes_nothing() {
    let f = Fixture::new();
    ok(&f.release("1.0.0", &[]));
    f.change("fix a");
    ok(&f.release("1.1.0", &[]));
    // Someone replaced an asset of 1.0.0 on GitHub.
    f.gh.with(|s| {
        let a = s
            .assets
            .iter_mut()
            .find(|a| a.name == "ferry-1.0.0-linux-amd64-complete.tar.gz")
            .unwrap();
        a.data = b"tampered".to_vec();
    });
    f.gh.clear_log();
    let err = fails(&run(&mut f.xtask(&["rollback", "--to", "1.0.0"])));
    assert!(
        err.contains("1.0.0 does not verify, so it is not a safe rollback target"),
        "{err}"
    );
    assert!(
        err.contains("ferry-1.0.0-linux-amd64-complete.tar.gz"),
        "{err}"
    );
    assert_eq!(f.gh.writes(), Vec::<String>::new());
    assert_eq!(f.gh.latest_tag().as_deref(), Some("v1.1.0"));
    // A version that was never released.
    let err = fails(&run(&mut f.xtask(&["rollback", "--to", "0.9.0"])));
    assert!(err.contains("there is no GitHub release v0.9.0"), "{err}");
}

/// A real signed dist of `version` for this machine's target (complete variant): archives,
/// packages, install.sh and its signed latest.json, from the host binary of `host_dist`.
fn real_dist(f: &Fixture, version: &str) -> std::path::PathBuf {
    real_dist_of(f, version, &["x86_64-unknown-linux-gnu"], &["complete"])
}

/// [`real_dist`] for these targets and variants; every slot holds the host binary (the
/// images and packages only carry it, nothing here runs a foreign one).
fn real_dist_of(
    f: &Fixture,
    version: &str,
    targets: &[&str],
    variants: &[&str],
) -> std::path::PathBuf {
    let host = crate::support::host_dist();
    let binary_dir = f.dir.path().join("host-binary");
    if !binary_dir.join("ferry").exists() {
        let archive = std::fs::read_dir(host.out.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| {
                p.to_string_lossy()
                    .ends_with("-linux-amd64-gnu-complete.tar.gz")
            })
            .expect("host_dist has the complete tar.gz");
        std::fs::create_dir_all(&binary_dir).unwrap();
        crate::support::run_ok(
            std::process::Command::new("tar")
                .arg("-xzf")
                .arg(&archive)
                .arg("--strip-components=1")
                .arg("-C")
                .arg(&binary_dir),
        );
    }
    let pre = f.dir.path().join(format!("prebuilt-{version}"));
    // The host slot always: the generate stage runs it for completions and the man page.
    for target in targets.iter().chain(&["x86_64-unknown-linux-gnu"]) {
        for variant in variants {
            let slot = pre.join(target).join(variant);
            std::fs::create_dir_all(&slot).unwrap();
            std::fs::copy(binary_dir.join("ferry"), slot.join("ferry")).unwrap();
        }
    }
    let out = f.dir.path().join(format!("real-dist-{version}"));
    let mut c = crate::support::xtask();
    c.args([
        "dist",
        "--targets",
        &targets.join(","),
        "--variants",
        &variants.join(","),
    ])
    .arg("--prebuilt")
    .arg(&pre)
    .arg("--out-dir")
    .arg(&out)
    .arg("--public-key")
    .arg(f.repo.join("packaging/minisign.pub"))
    .env("FERRY_DIST_VERSION", version)
    .env("FERRY_MINISIGN_KEY_FILE", &f.keys.secret)
    .env_remove("FERRY_MINISIGN_KEY");
    crate::support::run_ok(&mut c);
    out
}

/// Runs `install.sh` from `dist` against the fake GitHub's release downloads; returns the
/// version its receipt records.
fn install_latest(f: &Fixture, dist: &std::path::Path, home: &std::path::Path) -> String {
    crate::support::run_ok(
        std::process::Command::new("sh")
            .arg(dist.join("install.sh"))
            .arg("--base-url")
            .arg(format!("{}/ferry-deploy/ferry/releases", f.gh.api.url))
            .env("HOME", home)
            .env_remove("XDG_CONFIG_HOME")
            .env("FERRY_INSTALL_DIR", home.join("bin")),
    );
    let receipt: serde_json::Value = serde_json::from_slice(
        &std::fs::read(home.join(".config/ferry/install-receipt.json")).unwrap(),
    )
    .unwrap();
    assert!(home.join("bin/ferry").is_file());
    receipt["version"].as_str().unwrap().to_owned()
}

#[test]
fn after_a_rollback_the_installer_installs_the_rolled_back_version() {
    if !crate::support::require_tools(
        "after_a_rollback_the_installer_installs_the_rolled_back_version",
        &["sha256sum", "minisign", "tar", "gzip", "curl"],
    ) {
        return;
    }
    let f = Fixture::new();
    let release = |version: &str| {
        let dist = real_dist(&f, version);
        ok(&f.release_dist(version, &dist, &[]));
        dist
    };
    release("1.0.0");
    f.change("fix a");
    release("1.1.0");
    f.change("fix b");
    let dist_120 = release("1.2.0");
    let home = f.dir.path().join("home");
    assert_eq!(install_latest(&f, &dist_120, &home), "1.2.0");

    ok(&f.rollback_to("1.1.0"));
    assert_eq!(
        install_latest(&f, &dist_120, &home),
        "1.1.0",
        "after the rollback the installer installs 1.1.0"
    );

    f.change("fix c");
    let dist_121 = release("1.2.1");
    assert_eq!(install_latest(&f, &dist_121, &home), "1.2.1");
}

#[test]
fn images_follow_releases_and_rollbacks_in_a_real_registry() {
    if !crate::oci::require_oci(
        "images_follow_releases_and_rollbacks_in_a_real_registry",
        &["docker-registry", "skopeo", "sha256sum", "minisign"],
    ) {
        return;
    }
    let registry = crate::registry::Registry::start(None);
    let repository = registry.repo("ferry");
    let f = Fixture::new();
    let ws = f.repo.join("dist-workspace.toml");
    let text = std::fs::read_to_string(&ws).unwrap();
    let last_table = text.lines().rev().find(|l| l.starts_with('[')).unwrap();
    assert_eq!(last_table, "[ferry.release]", "appended keys land in it");
    std::fs::write(
        &ws,
        format!("{text}image-repository = \"{repository}\"\nimage-plain-http = true\n"),
    )
    .unwrap();
    git(
        &f.repo,
        &["commit", "-q", "-am", "release images to the test registry"],
    );
    git(&f.repo, &["push", "-q", "origin", "main"]);
    let digest = |tag: &str| {
        crate::release_support::sha256_hex(&crate::oci_registry::raw(&format!(
            "{repository}:{tag}"
        )))
    };
    let release = |version: &str| {
        let dist = real_dist_of(
            &f,
            version,
            &["x86_64-unknown-linux-musl", "aarch64-unknown-linux-musl"],
            &["complete", "minimal"],
        );
        ok(&f.release_dist(version, &dist, &[]));
    };
    release("1.1.0");
    f.change("fix b");
    release("1.2.0");
    let (v110, v120) = (digest("1.1.0"), digest("1.2.0"));
    assert_ne!(v110, v120);
    assert_eq!(digest("latest"), v120);
    assert_eq!(digest("1"), v120);

    ok(&f.rollback_to("1.1.0"));
    assert_eq!(digest("latest"), v110, "latest points at 1.1.0's image");
    assert_eq!(digest("1"), v110);
    assert_eq!(digest("latest-minimal"), digest("1.1.0-minimal"));
    assert_eq!(digest("1.2.0"), v120, "the yanked release's image stays");

    f.change("fix c");
    release("1.2.1");
    assert_eq!(digest("latest"), digest("1.2.1"));
    assert_eq!(digest("1.2"), digest("1.2.1"));
}
