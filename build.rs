//! Captures what `ferry --version` reports: the target triple and the git commit.
//! `FERRY_BUILD_COMMIT` wins over git so that release builds from a tarball (no .git)
//! can still say which commit they are.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=FERRY_BUILD_COMMIT");
    // A path that does not exist makes cargo rerun this script (and rebuild ferry) every
    // time; in a `git worktree` or a tarball `.git/HEAD` is not there.
    for path in [".git/HEAD", ".git/refs"] {
        if std::path::Path::new(path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".to_owned());
    println!("cargo:rustc-env=FERRY_TARGET={target}");
    let commit = std::env::var("FERRY_BUILD_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(git_commit);
    println!(
        "cargo:rustc-env=FERRY_COMMIT={}",
        commit.unwrap_or_else(|| "unknown".to_owned())
    );
}

fn git_commit() -> Option<String> {
    let out = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}
