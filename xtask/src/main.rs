//! `cargo xtask`: the release toolchain that turns ferry's source into what users install.
//!
//! It builds `src/` as a black box (through cargo) and reads `installers/`, `packaging/`
//! and `containers/`; it knows nothing of the deployer's internals.
//!
//! Map: `dist.rs` (command) → `plan.rs` (what will be written) → `pipeline.rs` (ordered
//! stages) → `stage/*.rs` (one per stage) → `artifact/*.rs` (one per file format).
//! `verify.rs` checks a dist directory with third-party tools.

mod artifact;
mod ci;
mod ci_install;
mod config;
mod context;
mod dist;
mod keygen;
mod oci;
mod pipeline;
mod plan;
mod release;
mod setup;
mod sign;
mod split;
mod stage;
mod targets;
mod toolchain;
mod tools;
mod verify;

use clap::Parser;

/// Ferry's release toolchain: build, package, sign, publish and roll back ferry.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Run locally what CI runs: formatting, lints, and the test suites of both variants.
    ///
    /// Example: `cargo xtask ci` (add `--skip-lint` to run only the tests).
    Ci(ci::CiArgs),
    /// Copy the CI definitions in `ci/` to `.github/workflows/` and `.gitlab-ci.yml`.
    ///
    /// Example: `cargo xtask ci-install`, `cargo xtask ci-install --only github --check`.
    CiInstall(ci_install::CiInstallArgs),
    /// Build, package, checksum and sign a release into `target/dist/<version>/`.
    ///
    /// Example: `cargo xtask dist --dry-run`, `cargo xtask dist --targets all --no-sign`.
    Dist(dist::DistArgs),
    /// Check a dist directory: checksums, signatures, archive layout, and the binaries' versions.
    ///
    /// Example: `cargo xtask verify target/dist/0.1.0`.
    Verify(verify::VerifyArgs),
    /// Install the cross toolchain and the tools dist/verify use (Debian 12, as root).
    Setup(setup::SetupArgs),
    /// Release: preflight, version bump, CHANGELOG, tag, dist, publish to GitHub (a draft until
    /// every asset verifies), Homebrew tap, notification. Resumable; `--dry-run` prints the plan.
    ///
    /// Example: `cargo xtask release --bump minor --dry-run`, `cargo xtask release --resume`.
    Release(release::ReleaseArgs),
    /// Re-point "latest" (GitHub, Homebrew, installers' pointer) to a verified earlier release
    /// and mark the bad one yanked; deletes nothing.
    ///
    /// Example: `cargo xtask rollback --to 1.1.0 --reason "crash on start" --dry-run`.
    Rollback(release::rollback::RollbackArgs),
    /// Preview the next CHANGELOG section (Unreleased + Conventional Commits), or write it.
    ///
    /// Example: `cargo xtask changelog`, `cargo xtask changelog --version 1.2.0`.
    Changelog(release::ChangelogArgs),
    /// Make a minisign key pair for signing releases.
    Keygen(keygen::KeygenArgs),
    /// OCI images: fetch their pinned inputs, push them to a registry, retag for rollback.
    ///
    /// Example: `cargo xtask oci push target/dist/0.1.0 --repository registry.example/ferry`.
    Oci(oci::OciArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Ci(args) => ci::run(&args),
        Command::CiInstall(args) => ci_install::run(&args),
        Command::Dist(args) => dist::run(&args),
        Command::Verify(args) => verify::run(&args),
        Command::Setup(args) => setup::run(&args),
        Command::Keygen(args) => keygen::run(&args),
        Command::Oci(args) => oci::run(&args),
        Command::Release(args) => release::run(&args),
        Command::Rollback(args) => release::rollback::run(&args),
        Command::Changelog(args) => release::run_changelog(&args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
