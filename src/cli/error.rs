//! The one error type commands return: a message, an optional fix, and an exit code.

use std::fmt;

use crate::config::ConfigError;
use crate::provider::ProviderError;
use crate::state::StateError;

pub const EXIT_FAILED: i32 = 1;
pub const EXIT_USAGE: i32 = 2;
pub const EXIT_LOCKED: i32 = 3;
pub const EXIT_CHECKS: i32 = 4;

#[derive(Debug)]
pub struct CliError {
    pub message: String,
    pub help: Option<String>,
    pub code: i32,
    /// Set when the command already printed its (JSON) result and only the exit code is left.
    pub reported: bool,
    /// An invalid environment file's problems, one object each (file, line, column, field,
    /// message, help), for `--json`.
    pub problems: Vec<crate::config::Diagnostic>,
}

impl CliError {
    pub fn new(message: impl Into<String>) -> Self {
        CliError {
            message: message.into(),
            help: None,
            code: EXIT_FAILED,
            reported: false,
            problems: Vec::new(),
        }
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn code(mut self, code: i32) -> Self {
        self.code = code;
        self
    }

    pub fn reported(mut self) -> Self {
        self.reported = true;
        self
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<StateError> for CliError {
    fn from(e: StateError) -> Self {
        let code = match e {
            StateError::Locked { .. } => EXIT_LOCKED,
            StateError::BadName(_) | StateError::NotFound { .. } => EXIT_USAGE,
            _ => EXIT_FAILED,
        };
        CliError {
            help: e.help(),
            message: e.to_string(),
            code,
            reported: false,
            problems: Vec::new(),
        }
    }
}

impl From<ConfigError> for CliError {
    fn from(e: ConfigError) -> Self {
        let problems = match &e {
            ConfigError::Invalid(diagnostics) => diagnostics.clone(),
            ConfigError::Read { .. } => Vec::new(),
        };
        CliError {
            message: e.to_string(),
            help: None,
            code: EXIT_USAGE,
            reported: false,
            problems,
        }
    }
}

impl From<ProviderError> for CliError {
    fn from(e: ProviderError) -> Self {
        CliError {
            help: e.help(),
            message: e.to_string(),
            code: EXIT_FAILED,
            reported: false,
            problems: Vec::new(),
        }
    }
}
