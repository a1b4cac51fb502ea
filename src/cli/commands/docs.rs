//! `ferry completions` and `ferry man`: generated from the clap definitions.

use std::io::Write;

use clap::CommandFactory;

use crate::cli::args::Cli;
use crate::cli::error::CliError;

pub fn completions(shell: clap_complete::Shell) -> Result<(), CliError> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "ferry", &mut script);
    print(&script, "the completions")
}

pub fn man() -> Result<(), CliError> {
    let cmd = Cli::command();
    let subcommands: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .chain(["help".to_owned()])
        .collect();
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd)
        .source(format!("ferry {}", env!("CARGO_PKG_VERSION")))
        .manual("Ferry Manual")
        .render(&mut page)
        .map_err(|e| CliError::new(format!("cannot render the man page: {e}")))?;
    // clap_mangen names each subcommand as a page of its own (`ferry-plan(1)`); there is one
    // page, so they are named as commands instead.
    let mut page = String::from_utf8_lossy(&page).into_owned();
    for name in subcommands {
        page = page.replace(&format!("ferry\\-{name}(1)"), &format!("ferry {name}"));
    }
    print(page.as_bytes(), "the man page")
}

/// Writes `bytes` to stdout; a reader that stops early (`| head`) is not an error.
fn print(bytes: &[u8], what: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(CliError::new(format!("cannot write {what}: {e}")))
        }
        _ => Ok(()),
    }
}
