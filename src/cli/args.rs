//! Command-line arguments (clap derive). Definitions only: `commands/` executes them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Quick start:
  ferry create demo --config examples/local.toml
  ferry provision demo && ferry configure demo && ferry release demo && ferry run demo
  ferry status demo
  ferry destroy demo

Exit codes:
  0  success
  1  a step failed (the environment records `<step>_failed`; run the step again to retry),
     or the state could not be read or written (a corrupt state file, a full disk)
  2  invalid usage, an invalid environment file, or an unknown environment
  3  the environment is locked by another ferry command
  4  `ferry test`: a check failed";

/// Ferry takes environments through their lifecycle and applies declarative resources to
/// their hosts, with a constant number of round trips per host.
#[derive(Debug, Parser)]
#[command(name = "ferry", about, long_about = None, disable_version_flag = true, after_help = AFTER_HELP)]
pub struct Cli {
    /// Print version, variant, target and commit (with --json: as JSON).
    #[arg(short = 'V', long)]
    pub version: bool,

    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// Directory holding the environments' state.
    #[arg(
        long,
        global = true,
        env = "FERRY_STATE_DIR",
        default_value = ".ferry",
        value_name = "DIR"
    )]
    pub state_dir: PathBuf,

    /// Print machine-readable JSON on stdout instead of text.
    #[arg(long, global = true)]
    pub json: bool,

    /// Say more (repeat for more detail).
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Print only results and errors, no progress.
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// Trust SSH hosts whose key is not in known_hosts yet, and record their key there
    /// (trust on first use). Without it an unknown host is an error.
    #[arg(long, global = true, env = "FERRY_ACCEPT_NEW_HOST_KEYS")]
    pub accept_new_host_keys: bool,

    /// Seconds to wait for another ferry command working on the same environment.
    #[arg(
        long,
        global = true,
        env = "FERRY_LOCK_TIMEOUT",
        default_value_t = 30,
        value_name = "SECONDS"
    )]
    pub lock_timeout: u64,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate an environment file and store the environment (state: created).
    ///
    /// The file is checked completely before anything is stored; every problem is shown
    /// with its file, line, column and a fix. The validated copy is what later commands use:
    /// to change the environment, edit the file and run `create` again with `--update`.
    ///
    /// Example: ferry create staging --config envs/staging.toml
    Create(CreateArgs),

    /// Create or find the hosts and record their facts (state: provisioned).
    ///
    /// `local` uses this machine; `static` checks each listed host answers; `command` runs the
    /// provider's command and reads the inventory it prints.
    ///
    /// Example: ferry provision staging
    Provision(StepArgs),

    /// Apply the `[[configure]]` resources to the hosts (state: configured).
    ///
    /// Example: ferry configure staging --dry-run
    Configure(StepArgs),

    /// Apply the `[[release]]` resources to the hosts (state: released); with `--version`,
    /// also install that release of the environment's `[app]` and switch to it.
    ///
    /// The artifact for each host's platform is fetched once, its SHA-256 and minisign
    /// signature verified before any host changes, and shipped in the apply call.
    ///
    /// Example: ferry release staging --version 1.4.2 --canary 1 --auto-rollback
    Release(ReleaseArgs),

    /// Switch the `[app]` back to the previous release (or `--to` one) already on the hosts,
    /// then run the `[[test]]` checks. No download, no rebuild.
    ///
    /// Example: ferry rollback staging --to 1.4.1
    Rollback(RollbackArgs),

    /// Apply the `[[run]]` resources to the hosts (state: running).
    ///
    /// Example: ferry run staging
    Run(StepArgs),

    /// Bring an environment all the way up: create it if needed, then provision, configure,
    /// release and run whatever is still to do, and finish with its tests.
    ///
    /// Without --config on a new environment, the built-in local example is used, so
    /// `ferry up demo` works on a fresh machine.
    ///
    /// Example: ferry up demo
    Up(UpArgs),

    /// Show an environment's state, hosts, roles and recent history.
    ///
    /// Example: ferry status staging --json
    Status(EnvArg),

    /// Run the `[[test]]` checks on the hosts; exit 4 when one fails. Changes no state.
    ///
    /// Example: ferry test staging
    Test(EnvArg),

    /// Show what configure, release and run would change on each host, without changing it.
    ///
    /// File contents are shown as unified diffs.
    ///
    /// Example: ferry plan staging --step configure
    Plan(PlanArgs),

    /// Remove what provisioning created and mark the environment destroyed.
    ///
    /// Example: ferry destroy staging
    Destroy(StepArgs),

    /// List every environment with its state and last change.
    ///
    /// Example: ferry list --json
    List,

    /// Report the local tools ferry uses and whether they were found.
    ///
    /// Example: ferry check
    Check,

    /// Print a shell completion script.
    ///
    /// Example: ferry completions bash > /etc/bash_completion.d/ferry
    #[cfg(feature = "complete")]
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },

    /// Print the man page (roff).
    ///
    /// Example: ferry man | man -l -
    #[cfg(feature = "complete")]
    Man,
}

#[derive(Debug, Args)]
pub struct EnvArg {
    /// The environment's name.
    pub env: String,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The environment's name (lower-case letters, digits, `-`, `_`, `.`).
    pub env: String,

    /// The environment file (TOML); see docs/environment.md. Without it, an environment that
    /// exists (destroyed, or with --update) re-reads the file it was created from, and a new
    /// one gets the built-in example (examples/local.toml: a small site under /tmp).
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Replace the stored environment file of an existing environment, keeping its state.
    #[arg(long)]
    pub update: bool,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// The environment's name.
    pub env: String,

    /// The environment file, used when the environment does not exist yet.
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct StepArgs {
    /// The environment's name.
    pub env: String,

    /// Show what would happen, change nothing.
    #[arg(long, short = 'n')]
    pub dry_run: bool,

    #[command(flatten)]
    pub rollout: RolloutArgs,
}

#[derive(Debug, Args)]
pub struct ReleaseArgs {
    #[command(flatten)]
    pub step: StepArgs,

    /// The `[app]` version to install and switch to.
    #[arg(long, value_name = "X.Y.Z")]
    pub version: Option<String>,

    /// The release's dist-manifest.json (a path, or an http:// or https:// URL; default: `[app] manifest`).
    #[arg(long, value_name = "PATH|URL", requires = "version")]
    pub manifest: Option<String>,

    /// When the rollout fails (a host fails, or canary/batch checks fail), switch the hosts
    /// already done back to their previous release.
    #[arg(long)]
    pub auto_rollback: bool,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The environment's name.
    pub env: String,

    /// The release to switch to (default: the one before the current, per host).
    #[arg(long, value_name = "X.Y.Z")]
    pub to: Option<String>,

    /// Show what would be switched, change nothing.
    #[arg(long, short = 'n')]
    pub dry_run: bool,

    #[command(flatten)]
    pub rollout: RolloutArgs,
}

#[derive(Debug, Args, Clone, Default)]
pub struct RolloutArgs {
    /// Work on at most N hosts at once (default: all of a batch).
    #[arg(long, value_name = "N", default_value_t = 0, hide_default_value = true)]
    pub parallel: usize,

    /// Stop starting hosts after the first host fails (default: every host runs).
    #[arg(long)]
    pub fail_fast: bool,

    /// Apply to a first batch of N hosts (or P%), run the environment's checks on it, and
    /// continue to the rest only if they pass.
    #[arg(long, value_name = "N|P%")]
    pub canary: Option<crate::engine::rollout::Canary>,

    /// After the canary, go on in batches of N hosts, checking each batch before the next.
    #[arg(long, value_name = "N")]
    pub batch: Option<usize>,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The environment's name.
    pub env: String,

    /// Plan one step's resources only (default: configure, release and run).
    #[arg(long, value_enum)]
    pub step: Option<PlanStep>,

    /// Explore at most N hosts at once (default: all).
    #[arg(long, value_name = "N", default_value_t = 0, hide_default_value = true)]
    pub parallel: usize,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PlanStep {
    Configure,
    Release,
    Run,
}
