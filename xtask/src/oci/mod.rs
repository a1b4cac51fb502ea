//! `cargo xtask oci`: work with the images `dist` builds — fetch their pinned inputs, push
//! them to a registry, point a tag at an existing image (rollback).

pub mod inputs;
pub mod push;
pub mod registry;
pub mod verify;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use crate::artifact::oci::layout::Layout;
use crate::config::DistWorkspace;
use crate::dist::project_root;
use registry::{Client, Repository};

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
        /// Only check that every package is cached with the pinned hash (no network).
        #[arg(long)]
        check: bool,
    },
    /// Push the images of a dist directory (or one layout directory) with their tags.
    ///
    /// Tags: `{version}`, `{major}.{minor}`, `{major}`, `latest` (only `{version}` for a
    /// pre-release), with `-minimal` appended for the minimal image. Blobs already in the
    /// registry are not uploaded again. Credentials: FERRY_OCI_USERNAME/FERRY_OCI_PASSWORD or
    /// a docker/podman auth file.
    ///
    /// Example: `cargo xtask oci push target/dist/0.1.0 --repository ghcr.example/org/ferry`.
    Push {
        /// A dist directory (every `*-oci` layout in it) or one OCI layout directory.
        dir: PathBuf,
        #[command(flatten)]
        target: RegistryArgs,
        /// Print the tags and digests that would be pushed; contact no registry.
        #[arg(long)]
        dry_run: bool,
        /// Print the reports as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Point a tag at a manifest or index already in the repository (rollback); no blob moves.
    ///
    /// Example: `cargo xtask oci retag --repository HOST/ferry --to 0.1.0 --tag latest`.
    Retag {
        #[command(flatten)]
        target: RegistryArgs,
        /// The digest (`sha256:…`) or tag the new tags should point to.
        #[arg(long)]
        to: String,
        /// Tags to set (repeatable).
        #[arg(long = "tag", required = true)]
        tags: Vec<String>,
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, clap::Args)]
struct RegistryArgs {
    /// `HOST[:PORT]/NAME` of the image repository.
    #[arg(long, env = "FERRY_OCI_REPOSITORY")]
    repository: String,
    /// Speak plain HTTP (a loopback test registry); default is HTTPS.
    #[arg(long)]
    plain_http: bool,
}

impl RegistryArgs {
    fn client(&self) -> anyhow::Result<Client> {
        let repo = Repository::parse(&self.repository)?;
        let creds = registry::credentials(&repo.registry)?;
        Ok(Client::new(repo, creds, self.plain_http))
    }
}

pub fn run(args: &OciArgs) -> anyhow::Result<()> {
    match &args.command {
        OciCommand::Fetch { cache, check } => {
            if *check {
                check_inputs(cache.clone())
            } else {
                fetch(cache.clone())
            }
        }
        OciCommand::Push {
            dir,
            target,
            dry_run,
            json,
        } => {
            let client = target.client()?;
            let mut reports = Vec::new();
            for layout_dir in layouts_in(dir)? {
                let layout = Layout::read_dir(&layout_dir)?;
                let image = push::LayoutImage::find(&layout)
                    .with_context(|| format!("reading {}", layout_dir.display()))?;
                let tags = push::tags_for(&image.version, &image.variant)?;
                let r = push::push(&client, &image, &tags, *dry_run)
                    .with_context(|| format!("pushing {}", layout_dir.display()))?;
                print_push(&r);
                reports.push(r);
            }
            if *json {
                println!("{}", serde_json::to_string_pretty(&reports)?);
            }
            Ok(())
        }
        OciCommand::Retag {
            target,
            to,
            tags,
            dry_run,
            json,
        } => {
            let client = target.client()?;
            let mut reports = Vec::new();
            for tag in tags {
                let r = push::retag(&client, to, tag, *dry_run)?;
                eprintln!(
                    "{}{}:{} -> {} (was {})",
                    if r.dry_run {
                        "would retag "
                    } else {
                        "retagged "
                    },
                    r.repository,
                    r.tag,
                    r.digest,
                    r.previous.as_deref().unwrap_or("unset")
                );
                reports.push(r);
            }
            if *json {
                println!("{}", serde_json::to_string_pretty(&reports)?);
            }
            Ok(())
        }
    }
}

fn print_push(r: &push::PushReport) {
    let verb = if r.dry_run { "would push" } else { "pushed" };
    eprintln!("{verb} {} ({}) index {}", r.repository, r.variant, r.digest);
    for (platform, digest) in &r.platforms {
        eprintln!("  {platform}: {digest}");
    }
    for t in &r.tags {
        eprintln!("  tag {}:{t}", r.repository);
    }
    if !r.dry_run {
        eprintln!(
            "  blobs: {} uploaded, {} already present; manifests: {} uploaded, {} already present; tags: {} set, {} unchanged",
            r.blobs_uploaded,
            r.blobs_present,
            r.manifests_uploaded,
            r.manifests_present,
            r.tags_set,
            r.tags_unchanged
        );
    }
}

/// The layout directories to push: `dir` itself if it is one, else its `*-oci` children.
pub fn layouts_in(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if dir.join("oci-layout").is_file() {
        return Ok(vec![dir.to_owned()]);
    }
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("oci-layout").is_file())
        .collect();
    v.sort();
    if v.is_empty() {
        bail!(
            "{} holds no OCI layout; run `cargo xtask dist` with the musl targets first",
            dir.display()
        );
    }
    Ok(v)
}

/// Fails unless every pinned input is in the cache with its hash.
fn check_inputs(cache: Option<PathBuf>) -> anyhow::Result<()> {
    let root = project_root();
    let ws = DistWorkspace::load(&root)?;
    let Some(image) = ws.ferry.image else {
        return Ok(());
    };
    let inputs = inputs::Inputs::load(&root.join(image.inputs))?;
    let cache = cache.unwrap_or_else(inputs::cache_dir);
    for d in &inputs.deb {
        d.read(&cache)?;
    }
    eprintln!("oci inputs: all {} packages cached", inputs.deb.len());
    Ok(())
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
