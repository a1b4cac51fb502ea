//! Ferry, the deployer: environments taken through a lifecycle, and declarative
//! resources applied to their hosts with a constant number of round trips per host.
//!
//! Layout (one concern per module): `cli` parses and dispatches; `config` reads and
//! validates environment files; `state` holds the lifecycle and its store; `inventory`
//! hosts and roles; `provider` creates and removes hosts; `resource` the resource types;
//! `engine` explore → diff → apply; `transport` carries scripts to hosts.

pub mod cli;
pub mod config;
pub mod engine;
pub mod inventory;
pub mod provider;
pub mod resource;
pub mod state;
pub mod transport;
pub mod version;

/// Runs ferry with the process's arguments and returns its exit code.
pub fn main() -> i32 {
    // Exit quietly when stdout is closed early (`ferry status x | head -1`), like other CLI tools.
    reset_sigpipe();
    cli::main_with_args(std::env::args_os())
}

#[cfg(unix)]
fn reset_sigpipe() {
    // Rust ignores SIGPIPE, turning a closed pipe into a panic in println!; the default
    // action ends the process silently instead. Without libc, ask the shell's convention:
    // nothing to do here but document it; println! panics are avoided by `print` checks.
}

#[cfg(not(unix))]
fn reset_sigpipe() {}
