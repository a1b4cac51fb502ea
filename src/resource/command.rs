//! `command`: a shell command, made idempotent by its guards.
//!
//! ```toml
//! [[configure]]
//! type = "command"
//! name = "initialise the database"         # optional, for plans, results and `after`
//! command = "app-db init"
//! creates = "/srv/app/db/initialised"      # skip when this path exists
//! unless = "app-db status"                 # skip when this exits 0
//! only_if = "test -d /srv/app/db"          # run only when this exits 0
//! ```
//!
//! Without a guard the command runs on every apply. Guards run during explore (that is
//! how the plan knows whether the command will run) and again right before it runs.

use super::{missing, Change, HostContext, Resource, ResourceError};
use crate::config::CommandSpec;
use crate::engine::apply::{Action, Guard};
use crate::engine::explore::{Probe, ProbeResult};

#[derive(Debug, Clone)]
pub struct Command {
    name: String,
    command: String,
    guard: Guard,
}

impl Command {
    pub fn new(spec: &CommandSpec) -> Self {
        Command {
            name: spec.name.clone().unwrap_or_else(|| spec.command.clone()),
            command: spec.command.clone(),
            guard: Guard {
                creates: spec.creates.clone(),
                unless: spec.unless.clone(),
                only_if: spec.only_if.clone(),
            },
        }
    }
}

/// The probes of a guard, in the order [`guard_satisfied`] reads them.
pub(super) fn guard_probes(g: &Guard) -> Vec<Probe> {
    let mut probes = Vec::new();
    if let Some(p) = &g.creates {
        probes.push(Probe::Exists(p.clone()));
    }
    if let Some(u) = &g.unless {
        probes.push(Probe::Status(u.clone()));
    }
    if let Some(o) = &g.only_if {
        probes.push(Probe::Status(o.clone()));
    }
    probes
}

/// Whether the guard says the work is done (or must not run); `None` when probes are missing.
pub(super) fn guard_satisfied(g: &Guard, results: &[ProbeResult]) -> Option<bool> {
    let mut it = results.iter();
    let mut done = false;
    if g.creates.is_some() {
        done |= matches!(it.next()?, ProbeResult::Exists(true));
    }
    if g.unless.is_some() {
        done |= matches!(it.next()?, ProbeResult::Status(0));
    }
    if g.only_if.is_some() {
        done |= !matches!(it.next()?, ProbeResult::Status(0));
    }
    Some(done)
}

impl Resource for Command {
    fn id(&self) -> String {
        format!("command:{}", self.name)
    }

    fn probes(&self) -> Vec<Probe> {
        guard_probes(&self.guard)
    }

    fn diff(
        &self,
        results: &[ProbeResult],
        _ctx: &HostContext,
    ) -> Result<Option<Change>, ResourceError> {
        if guard_satisfied(&self.guard, results).ok_or_else(|| missing(self.id()))? {
            return Ok(None);
        }
        Ok(Some(Change {
            resource: self.id(),
            summary: format!("run `{}`", self.command),
            diff: None,
            action: Action::Run {
                command: self.command.clone(),
                guard: self.guard.clone(),
            },
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::testing::with_ctx;

    fn cmd(creates: Option<&str>, unless: Option<&str>, only_if: Option<&str>) -> Command {
        Command {
            name: "make".into(),
            command: "make".into(),
            guard: Guard {
                creates: creates.map(Into::into),
                unless: unless.map(Into::into),
                only_if: only_if.map(Into::into),
            },
        }
    }

    fn runs(c: &Command, r: &[ProbeResult]) -> bool {
        with_ctx(&[], |ctx| c.diff(r, ctx)).unwrap().is_some()
    }

    #[test]
    fn guards_decide() {
        assert!(runs(&cmd(None, None, None), &[]));
        assert!(!runs(
            &cmd(Some("/x"), None, None),
            &[ProbeResult::Exists(true)]
        ));
        assert!(runs(
            &cmd(Some("/x"), None, None),
            &[ProbeResult::Exists(false)]
        ));
        assert!(!runs(
            &cmd(None, Some("true"), None),
            &[ProbeResult::Status(0)]
        ));
        assert!(runs(
            &cmd(Some("/x"), Some("false"), None),
            &[ProbeResult::Exists(false), ProbeResult::Status(1)]
        ));
        assert!(!runs(
            &cmd(None, None, Some("false")),
            &[ProbeResult::Status(1)]
        ));
        assert!(runs(
            &cmd(None, None, Some("true")),
            &[ProbeResult::Status(0)]
        ));
    }
}
