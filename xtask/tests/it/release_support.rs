//! Helpers for `release`/`rollback`/`changelog` tests: a real git repository with a bare
//! `origin` and a bare Homebrew tap (all in one temp dir), a fake signed dist directory per
//! version, the fake GitHub, a webhook receiver, and `xtask` pointed at all of them.
//!
//! Tests never touch this repository's files: `release` rewrites CHANGELOG.md and Cargo.toml.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use crate::github_fake::{FakeGithub, TOKEN};
use crate::http::{Handler, Request, Response, Server};
use crate::support::{root, xtask};

pub const WEBHOOK_ENV: &str = "FERRY_TEST_WEBHOOK";
/// (os-arch platform in archive names) the fake dist carries.
const PLATFORMS: &[&str] = &["linux-amd64", "linux-arm64", "macos-amd64", "macos-arm64"];

pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .envs(git_env())
        .output()
        .expect("git is installed");
    assert!(
        out.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim_end().to_owned()
}

/// A fixed identity and dates, so commit hashes are the same on every run.
pub fn git_env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("GIT_AUTHOR_NAME", "Test"),
        ("GIT_AUTHOR_EMAIL", "test@example.invalid"),
        ("GIT_COMMITTER_NAME", "Test"),
        ("GIT_COMMITTER_EMAIL", "test@example.invalid"),
        ("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z"),
        ("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z"),
        ("GIT_CONFIG_NOSYSTEM", "1"),
        ("GIT_CONFIG_GLOBAL", "/dev/null"),
    ]
}

pub struct Keys {
    pub secret: PathBuf,
    pk: minisign::PublicKey,
    sk: minisign::SecretKey,
}

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub repo: PathBuf,
    pub origin: PathBuf,
    pub tap: PathBuf,
    pub gh: FakeGithub,
    pub hook: Webhook,
    pub keys: Keys,
}

/// Records every JSON body POSTed to it.
pub struct Webhook {
    pub server: Server,
    pub bodies: Arc<Mutex<Vec<serde_json::Value>>>,
}

impl Webhook {
    pub fn start() -> Self {
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let b = bodies.clone();
        let server = Server::start(Arc::new(move |r: &Request| {
            if r.method == "POST" {
                if let Ok(v) = serde_json::from_slice(&r.body) {
                    b.lock().unwrap().push(v);
                }
            }
            Response::empty(200)
        }) as Handler);
        Self { server, bodies }
    }

    pub fn received(&self) -> Vec<serde_json::Value> {
        self.bodies.lock().unwrap().clone()
    }
}

impl Fixture {
    /// A repository at version 0.1.0 with an Unreleased entry, pushed to its origin.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path();
        let origin = base.join("origin.git");
        let tap = base.join("tap.git");
        let repo = base.join("repo");
        git(base, &["init", "-q", "--bare", "-b", "main", "origin.git"]);
        git(base, &["init", "-q", "--bare", "-b", "main", "tap.git"]);
        // The tap starts with a README on main, as a real tap would.
        let tap_work = base.join("tap-init");
        git(base, &["clone", "-q", tap.to_str().unwrap(), "tap-init"]);
        std::fs::write(tap_work.join("README.md"), "# tap\n").unwrap();
        git(&tap_work, &["add", "README.md"]);
        git(&tap_work, &["commit", "-q", "-m", "tap"]);
        git(&tap_work, &["push", "-q", "origin", "HEAD:main"]);
        git(base, &["clone", "-q", origin.to_str().unwrap(), "repo"]);
        git(&repo, &["checkout", "-q", "-B", "main"]);

        let kp = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
        let public = repo.join("packaging/minisign.pub");
        let secret = base.join("test.key");
        std::fs::create_dir_all(repo.join("packaging/homebrew")).unwrap();
        std::fs::write(&public, kp.pk.to_box().unwrap().into_string()).unwrap();
        std::fs::write(&secret, kp.sk.to_box(None).unwrap().into_string()).unwrap();
        std::fs::copy(
            root().join("packaging/homebrew/ferry.rb.j2"),
            repo.join("packaging/homebrew/ferry.rb.j2"),
        )
        .unwrap();
        let gh = FakeGithub::start();
        let hook = Webhook::start();
        std::fs::write(
            repo.join("Cargo.toml"),
            "[workspace]\nmembers = [\".\", \"xtask\"]\n\n[workspace.package]\n# the released version\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[package]\nname = \"ferry\"\nversion.workspace = true\nedition.workspace = true\n",
        )
        .unwrap();
        std::fs::create_dir_all(repo.join("xtask/src")).unwrap();
        std::fs::write(
            repo.join("xtask/Cargo.toml"),
            "[package]\nname = \"xtask\"\nversion = \"0.0.0\"\nedition = \"2021\"\n",
        )
        .unwrap();
        std::fs::write(
            repo.join("Cargo.lock"),
            "# This file is automatically @generated by Cargo.\n# It is not intended for manual editing.\nversion = 4\n\n[[package]]\nname = \"ferry\"\nversion = \"0.1.0\"\n\n[[package]]\nname = \"serde\"\nversion = \"0.1.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n\n[[package]]\nname = \"xtask\"\nversion = \"0.0.0\"\n",
        )
        .unwrap();
        std::fs::write(
            repo.join("CHANGELOG.md"),
            "# Changelog\n\nAll notable changes to this project are documented in this file.\n\n## [Unreleased]\n\n### Added\n\n- The first feature.\n",
        )
        .unwrap();
        std::fs::write(repo.join(".gitignore"), "/target\n").unwrap();
        // The repository's own [ferry.release] points at the real GitHub: replaced.
        let ws = without_release_table(
            &std::fs::read_to_string(root().join("dist-workspace.toml")).unwrap(),
        );
        let ws = format!(
            "{ws}\n[ferry.release]\nbranch = \"main\"\ngithub = {{ repository = \"ferry-deploy/ferry\", web-url = \"{web}\" }}\nhomebrew = {{ tap = \"{tap}\" }}\nnotify = {{ webhook-env = \"{WEBHOOK_ENV}\" }}\n",
            web = gh.api.url,
            tap = tap.display()
        );
        std::fs::write(repo.join("dist-workspace.toml"), ws).unwrap();
        git(&repo, &["add", "-A"]);
        git(&repo, &["commit", "-q", "-m", "initial"]);
        git(&repo, &["push", "-q", "-u", "origin", "main"]);
        Self {
            dir,
            repo,
            origin,
            tap,
            gh,
            hook,
            keys: Keys {
                secret,
                pk: kp.pk,
                sk: kp.sk,
            },
        }
    }

    /// A signed dist directory for `version`, as `cargo xtask dist` lays it out (small files).
    pub fn dist(&self, version: &str) -> PathBuf {
        let d = self.dir.path().join(format!("dist-{version}"));
        std::fs::create_dir_all(&d).unwrap();
        let mut sums = String::new();
        let mut names = Vec::new();
        for p in PLATFORMS {
            for variant in ["complete", "minimal"] {
                let name = format!("ferry-{version}-{p}-{variant}.tar.gz");
                std::fs::write(d.join(&name), format!("archive {version} {p} {variant}\n"))
                    .unwrap();
                names.push(name);
            }
        }
        names.sort();
        for n in &names {
            let bytes = std::fs::read(d.join(n)).unwrap();
            sums.push_str(&format!("{}  {n}\n", sha256_hex(&bytes)));
            self.sign(&d.join(n));
        }
        std::fs::write(d.join("SHA256SUMS"), sums).unwrap();
        self.sign(&d.join("SHA256SUMS"));
        d
    }

    pub fn sign(&self, path: &Path) {
        let sig = minisign::sign(
            Some(&self.keys.pk),
            &self.keys.sk,
            std::io::Cursor::new(std::fs::read(path).unwrap()),
            Some("test"),
            None,
        )
        .unwrap();
        let mut sig_path = path.as_os_str().to_owned();
        sig_path.push(".minisig");
        std::fs::write(sig_path, sig.into_string()).unwrap();
    }

    /// `cargo xtask <args>` against this fixture: repo, fake GitHub, key, token, webhook.
    pub fn xtask(&self, args: &[&str]) -> Command {
        self.xtask_in(&self.repo, args)
    }

    /// [`Fixture::xtask`] on another checkout of the repository (a CI job's clone).
    pub fn xtask_in(&self, repo: &Path, args: &[&str]) -> Command {
        let mut c = xtask();
        c.args(args)
            .arg("--repo")
            .arg(repo)
            .env("FERRY_GITHUB_API_URL", &self.gh.api.url)
            .env("GITHUB_TOKEN", TOKEN)
            .env("FERRY_MINISIGN_KEY_FILE", &self.keys.secret)
            .env(
                WEBHOOK_ENV,
                format!("{}/hooks/T000/B000/secretpart", self.hook.server.url),
            )
            .envs(git_env());
        c
    }

    /// `release --version V --dist-dir <fake dist of V> --date 2026-01-02 <extra>`.
    pub fn release(&self, version: &str, extra: &[&str]) -> Output {
        self.release_dist(version, &self.dist(version), extra)
    }

    /// `release --version V --dist-dir <dist> --date 2026-01-02 <extra>`.
    pub fn release_dist(&self, version: &str, dist: &Path, extra: &[&str]) -> Output {
        let mut args = vec![
            "release",
            "--version",
            version,
            "--date",
            "2026-01-02",
            "--dist-dir",
        ];
        let dist = dist.to_str().unwrap().to_owned();
        args.push(&dist);
        args.extend_from_slice(extra);
        run(&mut self.xtask(&args))
    }

    /// `rollback --to V --reason "crash on start"`.
    pub fn rollback_to(&self, version: &str) -> Output {
        run(&mut self.xtask(&["rollback", "--to", version, "--reason", "crash on start"]))
    }

    /// Adds a commit (an Unreleased entry, so the next release has content).
    pub fn change(&self, subject: &str) {
        let path = self.repo.join("CHANGELOG.md");
        let text = std::fs::read_to_string(&path).unwrap();
        let text = text.replacen(
            "## [Unreleased]\n",
            &format!("## [Unreleased]\n\n### Fixed\n\n- {subject}\n"),
            1,
        );
        std::fs::write(&path, text).unwrap();
        git(&self.repo, &["commit", "-q", "-am", subject]);
    }

    pub fn tap_formula(&self) -> String {
        git(&self.tap, &["show", "main:Formula/ferry.rb"])
    }
}

fn without_release_table(text: &str) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            skipping = t == "[ferry.release]" || t.starts_with("[ferry.release.");
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Runs and returns the output; prints both streams for failing tests.
pub fn run(c: &mut Command) -> Output {
    let out = c.output().expect("running xtask");
    eprintln!(
        "$ {:?}\n--- stdout\n{}--- stderr\n{}",
        c.get_args().collect::<Vec<_>>(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[track_caller]
pub fn ok(out: &Output) -> String {
    assert!(out.status.success(), "command failed");
    assert_no_secret(out);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[track_caller]
pub fn fails(out: &Output) -> String {
    assert!(!out.status.success(), "command succeeded but should fail");
    assert_no_secret(out);
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The token, the signing key and the webhook URL's secret part never appear in any output.
#[track_caller]
pub fn assert_no_secret(out: &Output) {
    for stream in [&out.stdout, &out.stderr] {
        let s = String::from_utf8_lossy(stream);
        assert!(!s.contains(TOKEN), "the GitHub token leaked:\n{s}");
        assert!(!s.contains("secretpart"), "the webhook URL leaked:\n{s}");
        assert!(
            !s.contains("untrusted comment: minisign encrypted secret key"),
            "the key leaked"
        );
    }
}
