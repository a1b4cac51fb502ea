//! The lifecycle of an environment: one state enum and every allowed transition.
//!
//! ```text
//!  create      provision      configure      release      run
//! ───────► created ─────► provisioned ─────► configured ─────► released ─────► running
//!             │               │                 │               │               │
//!             └───────────────┴──── destroy ────┴───────────────┴───────────────┴──► destroyed
//!
//! A step that fails leaves `<step>_failed` (recording the step, the error, the time and
//! the state it started from); running the same step again retries it.
//! status, test, plan: any state, no transition.   check, list: no environment.
//! ```
//!
//! A step may also be re-run from any later state (re-applying `configure` on a running
//! environment is routine); the environment then is in that step's state again.

use serde::{Deserialize, Serialize};

/// The steps that move an environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Step {
    Create,
    Provision,
    Configure,
    Release,
    Run,
    Destroy,
}

impl Step {
    pub fn name(self) -> &'static str {
        match self {
            Step::Create => "create",
            Step::Provision => "provision",
            Step::Configure => "configure",
            Step::Release => "release",
            Step::Run => "run",
            Step::Destroy => "destroy",
        }
    }

    /// The state a successful step leaves.
    pub fn target(self) -> Phase {
        match self {
            Step::Create => Phase::Created,
            Step::Provision => Phase::Provisioned,
            Step::Configure => Phase::Configured,
            Step::Release => Phase::Released,
            Step::Run => Phase::Running,
            Step::Destroy => Phase::Destroyed,
        }
    }

    /// The step that must have succeeded before this one.
    pub fn prerequisite(self) -> Option<Step> {
        match self {
            Step::Create | Step::Destroy => None,
            Step::Provision => Some(Step::Create),
            Step::Configure => Some(Step::Provision),
            Step::Release => Some(Step::Configure),
            Step::Run => Some(Step::Release),
        }
    }
}

/// A settled state (everything but failure).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Created,
    Provisioned,
    Configured,
    Released,
    Running,
    Destroyed,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Created => "created",
            Phase::Provisioned => "provisioned",
            Phase::Configured => "configured",
            Phase::Released => "released",
            Phase::Running => "running",
            Phase::Destroyed => "destroyed",
        }
    }
}

/// An environment's state as persisted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum State {
    Settled { phase: Phase },
    Failed(Failure),
}

/// What a failed step records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub step: Step,
    /// The state the step started from, which the environment is still in underneath.
    pub from: Phase,
    pub error: String,
    pub at: String,
}

impl State {
    pub fn name(&self) -> String {
        match self {
            State::Settled { phase } => phase.name().to_owned(),
            State::Failed(f) => format!("{}_failed", f.step.name()),
        }
    }

    /// The last settled state: for a failure, the one its step started from.
    pub fn phase(&self) -> Phase {
        match self {
            State::Settled { phase } => *phase,
            State::Failed(f) => f.from,
        }
    }
}

/// Why a step may not run now, with the command that should run first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub state: String,
    pub first: Option<Step>,
}

/// Decides whether `step` may run in `state`. `Create` is decided by the store (it has
/// no state yet, or re-creates a destroyed environment).
pub fn check(state: &State, step: Step) -> Result<(), Refusal> {
    // After a failure, only that step, earlier ones and destroy may run: a later step would
    // work on what the failed step left half done (e.g. hosts a failed re-provision replaced).
    let phase = match state {
        State::Failed(f) => f
            .step
            .prerequisite()
            .map_or(f.from, |p| f.from.min(p.target())),
        State::Settled { phase } => *phase,
    };
    if phase == Phase::Destroyed {
        // Only a new `create` brings a destroyed environment back; `destroy` again is a no-op retry.
        return match step {
            Step::Destroy => Ok(()),
            _ => Err(Refusal {
                state: state.name(),
                first: Some(Step::Create),
            }),
        };
    }
    let Some(pre) = step.prerequisite() else {
        return Ok(());
    };
    if phase >= pre.target() {
        return Ok(());
    }
    // Name the earliest step still missing: from `created`, `release` needs `provision` first.
    let mut first = pre;
    while let Some(p) = first.prerequisite() {
        if phase >= p.target() {
            break;
        }
        first = p;
    }
    Err(Refusal {
        state: state.name(),
        first: Some(first),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settled(phase: Phase) -> State {
        State::Settled { phase }
    }

    #[test]
    fn the_happy_path_is_allowed_in_order() {
        let order = [Step::Provision, Step::Configure, Step::Release, Step::Run];
        let mut state = settled(Phase::Created);
        for step in order {
            assert_eq!(check(&state, step), Ok(()), "{step:?} from {state:?}");
            state = settled(step.target());
        }
        assert_eq!(state, settled(Phase::Running));
    }

    #[test]
    fn out_of_order_names_the_first_missing_step() {
        let r = check(&settled(Phase::Created), Step::Configure).unwrap_err();
        assert_eq!(r.first, Some(Step::Provision));
        let r = check(&settled(Phase::Created), Step::Run).unwrap_err();
        assert_eq!(r.first, Some(Step::Provision));
        let r = check(&settled(Phase::Configured), Step::Run).unwrap_err();
        assert_eq!(r.first, Some(Step::Release));
    }

    #[test]
    fn a_failed_step_can_be_retried_and_earlier_ones_rerun() {
        let failed = State::Failed(Failure {
            step: Step::Configure,
            from: Phase::Provisioned,
            error: "x".into(),
            at: "t".into(),
        });
        assert_eq!(failed.name(), "configure_failed");
        assert_eq!(check(&failed, Step::Configure), Ok(()));
        assert_eq!(check(&failed, Step::Provision), Ok(()));
        assert_eq!(
            check(&failed, Step::Release).unwrap_err().first,
            Some(Step::Configure)
        );
        assert_eq!(check(&failed, Step::Destroy), Ok(()));
        // A failed re-provision of a configured environment blocks configure until it succeeds.
        let reprovision = State::Failed(Failure {
            step: Step::Provision,
            from: Phase::Configured,
            error: "x".into(),
            at: "t".into(),
        });
        assert_eq!(
            check(&reprovision, Step::Configure).unwrap_err().first,
            Some(Step::Provision)
        );
        assert_eq!(check(&reprovision, Step::Provision), Ok(()));
    }

    #[test]
    fn destroyed_environments_need_create() {
        for step in [Step::Provision, Step::Configure, Step::Release, Step::Run] {
            assert_eq!(
                check(&settled(Phase::Destroyed), step).unwrap_err().first,
                Some(Step::Create)
            );
        }
    }

    #[test]
    fn every_state_allows_destroy_and_earlier_steps() {
        for phase in [
            Phase::Created,
            Phase::Provisioned,
            Phase::Configured,
            Phase::Released,
            Phase::Running,
        ] {
            assert_eq!(check(&settled(phase), Step::Destroy), Ok(()));
            assert_eq!(check(&settled(phase), Step::Provision), Ok(()));
        }
    }
}
