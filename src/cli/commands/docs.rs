//! `ferry completions` and `ferry man`: generated from the clap definitions.

use clap::CommandFactory;

use crate::cli::args::Cli;
use crate::cli::error::CliError;

pub fn completions(shell: clap_complete::Shell) -> Result<(), CliError> {
    clap_complete::generate(shell, &mut Cli::command(), "ferry", &mut std::io::stdout());
    Ok(())
}

pub fn man() -> Result<(), CliError> {
    clap_mangen::Man::new(Cli::command())
        .render(&mut std::io::stdout())
        .map_err(|e| CliError::new(format!("cannot write the man page: {e}")))
}
