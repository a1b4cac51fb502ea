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
    let mut summary = Vec::new();
    for check in CHECKS.iter().filter(|c| !(args.skip_lint && c.lint)) {
        eprintln!("==> {}: cargo {}", check.name, check.args.join(" "));
        let started = Instant::now();
        let status = Command::new(&cargo)
            .args(check.args)
            .status()
            .with_context(|| format!("running cargo for {}", check.name))?;
        summary.push((check.name, status.success(), started.elapsed()));
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
