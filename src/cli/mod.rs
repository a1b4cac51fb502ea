//! The command line: parse, dispatch to `commands/`, print errors, choose the exit code.

pub mod args;
pub mod commands;
pub mod error;
pub mod output;

use clap::Parser;

use crate::state::Step;
use args::{Cli, Command};
use commands::Session;
use error::{CliError, EXIT_USAGE};

/// Runs ferry with these arguments and returns the process exit code.
pub fn main_with_args(argv: impl IntoIterator<Item = std::ffi::OsString>) -> i32 {
    let cli = match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { EXIT_USAGE } else { 0 };
        }
    };
    let json = cli.global.json;
    match dispatch(cli) {
        Ok(()) => 0,
        Err(e) => {
            if !e.reported {
                if json {
                    let mut error = serde_json::json!({"message": e.message, "help": e.help, "exit_code": e.code});
                    if !e.problems.is_empty() {
                        error["problems"] = serde_json::json!(e.problems);
                    }
                    println!("{}", serde_json::json!({ "error": error }));
                } else {
                    eprintln!("error: {}", e.message);
                    if let Some(help) = &e.help {
                        eprintln!("  help: {help}");
                    }
                }
            }
            e.code
        }
    }
}

fn dispatch(cli: Cli) -> Result<(), CliError> {
    let s = Session::new(&cli.global);
    if cli.version {
        let info = crate::version::build_info();
        s.out.result(&info, || info.to_string());
        return Ok(());
    }
    let Some(command) = cli.command else {
        use clap::CommandFactory;
        let _ = Cli::command().print_help();
        return Err(CliError::new("no command given")
            .help("run `ferry --help` for the commands, or see the quick start in README.md")
            .code(EXIT_USAGE));
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .map_err(|e| CliError::new(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async {
        match command {
            Command::Create(a) => commands::create::run(&s, &a),
            Command::Provision(a) => commands::step::run(&s, Step::Provision, &a).await,
            Command::Configure(a) => commands::step::run(&s, Step::Configure, &a).await,
            Command::Release(a) => commands::release::release(&s, &a).await,
            Command::Rollback(a) => commands::release::rollback(&s, &a).await,
            Command::Run(a) => commands::step::run(&s, Step::Run, &a).await,
            Command::Destroy(a) => commands::step::run(&s, Step::Destroy, &a).await,
            Command::Up(a) => commands::up::run(&s, &a).await,
            Command::Status(a) => commands::status::status(&s, &a),
            Command::Test(a) => commands::test::run(&s, &a).await,
            Command::Plan(a) => commands::plan::run(&s, &a).await,
            Command::List => commands::status::list(&s),
            Command::Check => commands::check::run(&s),
            #[cfg(feature = "complete")]
            Command::Completions { shell } => commands::docs::completions(shell),
            #[cfg(feature = "complete")]
            Command::Man => commands::docs::man(),
        }
    })
}
