//! `cargo xtask ci`: the checks CI runs, in the order a developer wants to see them fail.

use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context};

#[derive(Debug, clap::Args)]
pub struct CiArgs {
    /// Skip `cargo fmt --check` and `cargo clippy`.
    #[arg(long)]
    skip_lint: bool,
}

/// One check: a name for the summary and the cargo arguments that run it.
struct Check {
    name: &'static str,
    args: &'static [&'static str],
    lint: bool,
}

const CHECKS: &[Check] = &[
    Check {
        name: "fmt",
        args: &["fmt", "--all", "--", "--check"],
        lint: true,
    },
    Check {
        name: "clippy",
        args: &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--",
            "-D",
            "warnings",
        ],
        lint: true,
    },
    Check {
        name: "test (complete)",
        args: &["test", "--workspace"],
        lint: false,
    },
    Check {
        name: "test (minimal)",
        args: &[
            "test",
            "--package",
            "ferry",
            "--no-default-features",
            "--features",
            "minimal",
        ],
        lint: false,
    },
];

pub fn run(args: &CiArgs) -> anyhow::Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut steps: Vec<(&str, Command)> = Vec::new();
    for check in CHECKS.iter().filter(|c| !(args.skip_lint && c.lint)) {
        let mut c = Command::new(&cargo);
        c.args(check.args);
        steps.push((check.name, c));
    }
    // Then what a release does, for this machine's target: build, package, verify (unsigned:
    // CI has no release key; the tests sign with a throwaway one).
    let xtask = std::env::current_exe().context("locating the xtask binary")?;
    let out = crate::dist::cargo_target_dir(&crate::dist::project_root()).join("ci-dist");
    let mut dist = Command::new(&xtask);
    dist.args([
        "dist",
        "--profile",
        "dist-test",
        "--targets",
        "host",
        "--no-sign",
    ])
    .arg("--out-dir")
    .arg(&out);
    steps.push(("dist (host)", dist));
    let mut verify = Command::new(&xtask);
    verify.arg("verify").arg(&out).arg("--allow-unsigned");
    steps.push(("verify", verify));

    let mut summary = Vec::new();
    for (name, mut command) in steps {
        let shown: Vec<String> = std::iter::once(command.get_program())
            .chain(command.get_args())
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        eprintln!("==> {name}: {}", shown.join(" "));
        let started = Instant::now();
        let status = command
            .status()
            .with_context(|| format!("running {name}"))?;
        summary.push((name, status.success(), started.elapsed()));
        if !status.success() {
            break;
        }
    }
    eprintln!("\n{:<18} {:<6} {:>8}", "check", "result", "time");
    for (name, ok, took) in &summary {
        eprintln!(
            "{:<18} {:<6} {:>7.1}s",
            name,
            if *ok { "ok" } else { "FAILED" },
            took.as_secs_f64()
        );
    }
    if summary.iter().any(|(_, ok, _)| !ok) {
        bail!("a CI check failed; the output above shows which");
    }
    Ok(())
}
