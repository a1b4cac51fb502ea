//! `ferry create`: validate an environment file and store the environment.

use serde_json::json;

use super::Session;
use crate::cli::args::CreateArgs;
use crate::cli::error::{CliError, EXIT_USAGE};
use crate::config;
use crate::state::store::{now, HistoryEntry, SCHEMA_VERSION};
use crate::state::{Phase, Record, State, Step};

/// The environment `create` uses without --config: the quick start's local example.
pub const BUILTIN_EXAMPLE: &str = include_str!("../../../examples/local.toml");
const BUILTIN_NAME: &str = "(built-in) examples/local.toml";

pub fn run(s: &Session, args: &CreateArgs) -> Result<(), CliError> {
    crate::state::store::check_name(&args.env)?;
    // Validate before taking the lock or touching the store: a bad file changes nothing.
    // Without --config, an environment that exists (re-created after destroy, or --update)
    // keeps the file it was created from; only a new one gets the built-in example.
    let remembered = match &args.config {
        Some(_) => None,
        None if s.store.exists(&args.env) => Some(s.store.load(&args.env)?.config_file)
            .filter(|f| f != std::path::Path::new(BUILTIN_NAME)),
        None => None,
    };
    let given = args.config.clone().or(remembered.clone());
    let (source, config_file) = match &given {
        Some(path) => {
            if remembered.is_some() {
                s.out.progress(format!(
                    "no --config given: using the environment's file, {}",
                    path.display()
                ));
            }
            let source =
                std::fs::read_to_string(path).map_err(|source| config::ConfigError::Read {
                    path: path.clone(),
                    source,
                })?;
            (
                source,
                std::path::absolute(path).unwrap_or_else(|_| path.clone()),
            )
        }
        None => {
            s.out
                .progress("no --config given: using the built-in example (examples/local.toml)");
            (
                BUILTIN_EXAMPLE.to_owned(),
                std::path::PathBuf::from(BUILTIN_NAME),
            )
        }
    };
    let file = config::parse(given.as_deref().unwrap_or(&config_file), &source)?;

    let _lock = s.lock(&args.env, Step::Create)?;
    let started = std::time::Instant::now();
    let existing = if s.store.exists(&args.env) {
        Some(s.store.load(&args.env)?)
    } else {
        None
    };
    let from = existing
        .as_ref()
        .map_or_else(|| "none".to_owned(), |r| r.state.name());
    let record = match existing {
        Some(mut record) if args.update => {
            record.config_file = config_file;
            record.provider = file.provider.kind().to_owned();
            record.description = file.description.clone();
            record.updated_at = now();
            record
        }
        Some(record) if record.state.phase() != Phase::Destroyed => {
            return Err(CliError::new(format!("environment `{}` already exists (state: {})", args.env, record.state.name()))
                .help(format!(
                    "to change its environment file run `ferry create {0} --config {1} --update`; to start over run `ferry destroy {0}` first",
                    args.env,
                    config_arg(args)
                ))
                .code(EXIT_USAGE));
        }
        previous => {
            if args.update && previous.is_none() {
                s.out.detail(format!(
                    "environment `{}` did not exist; creating it",
                    args.env
                ));
            }
            let at = now();
            Record {
                schema_version: SCHEMA_VERSION,
                name: args.env.clone(),
                state: State::Settled {
                    phase: Phase::Created,
                },
                config_file,
                provider: file.provider.kind().to_owned(),
                description: file.description.clone(),
                created_at: at.clone(),
                updated_at: at,
                hosts: Vec::new(),
            }
        }
    };
    // The config copy first: a record never points at a missing or older environment file.
    s.store.save_config(&args.env, &source)?;
    s.store.save(&record)?;
    s.store.append_history(
        &args.env,
        &HistoryEntry {
            command: if args.update {
                "create --update".into()
            } else {
                "create".into()
            },
            from,
            to: record.state.name(),
            at: now(),
            outcome: "ok".into(),
            duration_ms: started.elapsed().as_millis() as u64,
            error: None,
        },
    )?;
    let verb = if args.update { "updated" } else { "created" };
    s.out.result(&json!({"environment": args.env, "state": record.state.name(), "provider": record.provider, "action": verb}), || {
        let next = match record.state.phase() {
            // Advice, not a result: -q leaves it out.
            Phase::Created if !s.chained.get() && !s.out.quiet => format!("\nnext: ferry provision {}", args.env),
            _ => String::new(),
        };
        format!("{verb} environment `{}` ({} provider, state: {}){next}", args.env, record.provider, record.state.name())
    });
    Ok(())
}

fn config_arg(args: &CreateArgs) -> String {
    args.config
        .as_ref()
        .map_or_else(|| "<file.toml>".to_owned(), |p| p.display().to_string())
}
