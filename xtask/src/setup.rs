//! `cargo xtask setup`: installs the cross toolchain and the tools `dist`, `verify` and their
//! tests use, on Debian 12. The logic is a shell script because it is mostly apt/pip/cargo
//! calls; it is embedded so the command works from any directory.

use anyhow::{bail, Context};

const SCRIPT: &str = include_str!("../scripts/setup.sh");

#[derive(Debug, clap::Args)]
pub struct SetupArgs {
    /// Skip qemu-user and wine (smoke runs of foreign binaries); header checks still work.
    #[arg(long)]
    no_runners: bool,
}

pub fn run(args: &SetupArgs) -> anyhow::Result<()> {
    let status = duct::cmd!("bash", "-s")
        .stdin_bytes(SCRIPT)
        .env(
            "FERRY_SETUP_RUNNERS",
            if args.no_runners { "0" } else { "1" },
        )
        .stdout_to_stderr()
        .unchecked()
        .run()
        .context("running bash for the setup script")?
        .status;
    if !status.success() {
        bail!("setup failed ({status}); the output above says which step");
    }
    // The images' pinned Debian packages (busybox-static, ca-certificates) into the cache.
    crate::oci::fetch(None).context("fetching the OCI images' pinned inputs")
}
