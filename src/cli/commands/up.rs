//! `ferry up`: create (if needed), provision (if needed), configure, release, run, test —
//! the whole lifecycle in one command, each step recorded as if run by hand.

use super::{create, step, test, Session};
use crate::cli::args::{CreateArgs, EnvArg, RolloutArgs, StepArgs, UpArgs};
use crate::cli::error::CliError;
use crate::state::{Phase, Step};

pub async fn run(s: &Session, args: &UpArgs) -> Result<(), CliError> {
    s.chained.set(true);
    let phase = if s.store.exists(&args.env) {
        Some(s.store.load(&args.env)?.state.phase())
    } else {
        None
    };
    if matches!(phase, None | Some(Phase::Destroyed)) {
        create::run(
            s,
            &CreateArgs {
                env: args.env.clone(),
                config: args.config.clone(),
                update: false,
            },
        )?;
    } else if args.config.is_some() {
        s.out.progress(format!(
            "environment `{}` exists: --config is ignored (use `ferry create {} --config <file> --update` to change it)",
            args.env, args.env
        ));
    }
    let provisioned = matches!(phase, Some(p) if p >= Phase::Provisioned && p != Phase::Destroyed);
    // Provisioning may create machines, so it runs once; the other steps converge, so
    // running them again is how `up` brings a drifted environment back.
    for st in [Step::Provision, Step::Configure, Step::Release, Step::Run] {
        if st == Step::Provision && provisioned {
            continue;
        }
        step::run(
            s,
            st,
            &StepArgs {
                env: args.env.clone(),
                dry_run: false,
                rollout: RolloutArgs::default(),
            },
        )
        .await?;
    }
    test::run(
        s,
        &EnvArg {
            env: args.env.clone(),
        },
    )
    .await
}
