//! `command`: a shell command, made idempotent by its guards.
//!
//! ```toml
//! [[configure]]
//! type = "command"
//! name = "initialise the database"         # optional, for plans and results
//! command = "app-db init"
//! creates = "/srv/app/db/initialised"      # skip when this path exists
//! unless = "app-db status"                 # skip when this exits 0
//! ```
//!
//! Without a guard the command runs on every apply. `unless` runs during explore too:
//! that is how the plan knows whether the command will run.

use super::{missing, Change, Resource, ResourceError};
use crate::config::CommandSpec;
use crate::engine::apply::Action;
use crate::engine::explore::{Probe, ProbeResult};

#[derive(Debug, Clone)]
pub struct Command {
    name: String,
    command: String,
    creates: Option<String>,
    unless: Option<String>,
}

impl Command {
    pub fn new(spec: &CommandSpec) -> Self {
        Command {
            name: spec.name.clone().unwrap_or_else(|| spec.command.clone()),
            command: spec.command.clone(),
            creates: spec.creates.clone(),
            unless: spec.unless.clone(),
        }
    }
}

impl Resource for Command {
    fn id(&self) -> String {
        format!("command:{}", self.name)
    }

    fn probes(&self) -> Vec<Probe> {
        let mut probes = Vec::new();
        if let Some(p) = &self.creates {
            probes.push(Probe::Exists(p.clone()));
        }
        if let Some(u) = &self.unless {
            probes.push(Probe::Status(u.clone()));
        }
        probes
    }

    fn diff(&self, results: &[ProbeResult]) -> Result<Option<Change>, ResourceError> {
        let expected = usize::from(self.creates.is_some()) + usize::from(self.unless.is_some());
        if results.len() != expected {
            return Err(missing(self.id()));
        }
        let done = results
            .iter()
            .any(|r| matches!(r, ProbeResult::Exists(true) | ProbeResult::Status(0)));
        if done {
            return Ok(None);
        }
        Ok(Some(Change {
            resource: self.id(),
            summary: format!("run `{}`", self.command),
            diff: None,
            action: Action::Run {
                command: self.command.clone(),
                creates: self.creates.clone(),
                unless: self.unless.clone(),
            },
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(creates: Option<&str>, unless: Option<&str>) -> Command {
        Command::new(&CommandSpec {
            name: None,
            command: "make".into(),
            creates: creates.map(Into::into),
            unless: unless.map(Into::into),
            roles: vec![],
        })
    }

    #[test]
    fn guards_decide() {
        assert!(cmd(None, None).diff(&[]).unwrap().is_some());
        assert_eq!(
            cmd(Some("/x"), None)
                .diff(&[ProbeResult::Exists(true)])
                .unwrap(),
            None
        );
        assert!(cmd(Some("/x"), None)
            .diff(&[ProbeResult::Exists(false)])
            .unwrap()
            .is_some());
        assert_eq!(
            cmd(None, Some("true"))
                .diff(&[ProbeResult::Status(0)])
                .unwrap(),
            None
        );
        assert!(cmd(Some("/x"), Some("false"))
            .diff(&[ProbeResult::Exists(false), ProbeResult::Status(1)])
            .unwrap()
            .is_some());
    }
}
