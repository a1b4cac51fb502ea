//! `cargo xtask`: the release toolchain that turns ferry's source into what users install.
//!
//! It builds `src/` as a black box (through cargo) and reads `installers/`, `packaging/`
//! and `containers/`; it knows nothing of the deployer's internals.

mod ci;

use clap::Parser;

/// Ferry's release toolchain: build, package, sign, publish and roll back ferry.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", version, about, long_about = None)]
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
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Ci(args) => ci::run(&args),
    }
}
