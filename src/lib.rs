//! Ferry, the deployer: environments taken through a lifecycle, and declarative
//! resources applied to their hosts with a constant number of round trips per host.
//!
//! Layout (one concern per module): `cli` parses and dispatches; `config` reads and
//! validates environment files; `state` holds the lifecycle and its store; `inventory`
//! hosts and roles; `provider` creates and removes hosts; `resource` the resource types;
//! `engine` explore → diff → apply; `transport` carries scripts to hosts.

pub mod app;
pub mod cli;
pub mod config;
pub mod engine;
pub mod http;
pub mod inventory;
pub mod plan;
pub mod provider;
pub mod resource;
pub mod state;
pub mod transport;
pub mod version;

/// Runs ferry with the process's arguments and returns its exit code.
pub fn main() -> i32 {
    cli::main_with_args(std::env::args_os())
}
