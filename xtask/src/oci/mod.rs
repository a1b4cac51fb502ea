//! `cargo xtask oci`: work with the images `dist` builds — fetch their pinned inputs, push
//! them to a registry, point a tag at an existing image (rollback).

pub mod inputs;

use std::path::PathBuf;

use crate::config::DistWorkspace;
use crate::dist::project_root;

#[derive(Debug, clap::Args)]
pub struct OciArgs {
    #[command(subcommand)]
    command: OciCommand,
}

#[derive(Debug, clap::Subcommand)]
enum OciCommand {
    /// Download the pinned Debian packages of containers/inputs.toml into the cache.
    ///
    /// Example: `cargo xtask oci fetch` (`cargo xtask setup` runs it too).
    Fetch {
        /// Cache directory. Default: `$FERRY_OCI_INPUTS_DIR` or `~/.cache/ferry/oci-inputs`.
        #[arg(long)]
        cache: Option<PathBuf>,
    },
}

pub fn run(args: &OciArgs) -> anyhow::Result<()> {
    match &args.command {
        OciCommand::Fetch { cache } => fetch(cache.clone()),
    }
}

/// Fetches the pinned image inputs; `setup` calls this after installing apt packages.
pub fn fetch(cache: Option<PathBuf>) -> anyhow::Result<()> {
    let root = project_root();
    let ws = DistWorkspace::load(&root)?;
    let Some(image) = ws.ferry.image else {
        eprintln!("no [ferry.image] in dist-workspace.toml: no image inputs to fetch");
        return Ok(());
    };
    let inputs = inputs::Inputs::load(&root.join(image.inputs))?;
    inputs::fetch(&inputs, &cache.unwrap_or_else(inputs::cache_dir))
}
