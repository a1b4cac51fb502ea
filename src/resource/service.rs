//! `service`: a system service, enabled at boot and/or started — systemd or FreeBSD rc,
//! chosen from the explored `init` fact. Restarts are done by handlers (`service = "name"`).
//!
//! ```toml
//! [[run]]
//! type = "service"
//! name = "nginx"
//! enabled = true
//! state = "started"     # or "stopped"
//! ```

use std::collections::BTreeMap;

use super::{missing, Change, HostContext, Resource, ResourceError};
use crate::config::{ServiceSpec, ServiceState};
use crate::engine::apply::{Action, Guard};
use crate::engine::explore::{Probe, ProbeResult};
use crate::transport::sh_quote;

#[derive(Debug, Clone)]
pub struct Service {
    name: String,
    enabled: Option<bool>,
    state: Option<ServiceState>,
}

impl Service {
    pub fn new(spec: &ServiceSpec) -> Self {
        Service {
            name: spec.name.clone(),
            enabled: spec.enabled,
            state: spec.state,
        }
    }
}

/// The init system's verb for a service: enable, disable, start, stop or restart.
pub fn command(init: &str, verb: &str, name: &str) -> Option<String> {
    let n = sh_quote(name);
    match (init, verb) {
        ("systemd", v) => Some(format!("systemctl {v} {n}")),
        ("rc", "enable") => Some(format!("sysrc {}_enable=YES", sh_quote(name))),
        ("rc", "disable") => Some(format!("sysrc {}_enable=NO", sh_quote(name))),
        ("rc", v) => Some(format!("service {n} {v}")),
        _ => None,
    }
}

/// The restart command for a service handler on a host with these facts.
pub fn restart(name: &str, facts: &BTreeMap<String, String>) -> Option<String> {
    command(
        facts.get("init").map(String::as_str).unwrap_or("none"),
        "restart",
        name,
    )
}

impl Resource for Service {
    fn id(&self) -> String {
        format!("service:{}", self.name)
    }

    fn probes(&self) -> Vec<Probe> {
        let n = sh_quote(&self.name);
        vec![
            Probe::Status(format!("_svc_enabled {n}")),
            Probe::Status(format!("_svc_active {n}")),
        ]
    }

    fn diff(
        &self,
        results: &[ProbeResult],
        ctx: &HostContext,
    ) -> Result<Option<Change>, ResourceError> {
        let (Some(ProbeResult::Status(enabled)), Some(ProbeResult::Status(active))) =
            (results.first(), results.get(1))
        else {
            return Err(missing(self.id()));
        };
        let init = ctx.facts.get("init").map(String::as_str).unwrap_or("none");
        let mut verbs = Vec::new();
        match self.enabled {
            Some(true) if *enabled != 0 => verbs.push("enable"),
            Some(false) if *enabled == 0 => verbs.push("disable"),
            _ => {}
        }
        match self.state {
            Some(ServiceState::Started) if *active != 0 => verbs.push("start"),
            Some(ServiceState::Stopped) if *active == 0 => verbs.push("stop"),
            _ => {}
        }
        if verbs.is_empty() {
            return Ok(None);
        }
        let commands: Option<Vec<String>> =
            verbs.iter().map(|v| command(init, v, &self.name)).collect();
        let Some(commands) = commands else {
            return Err(ResourceError::Unsupported { id: self.id(), message: format!("no supported service manager on the host (init: {init}); ferry knows systemd and FreeBSD rc") });
        };
        Ok(Some(Change {
            resource: self.id(),
            summary: verbs.join(" + "),
            diff: None,
            action: Action::Run {
                command: commands.join(" && "),
                guard: Guard::default(),
            },
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::testing::with_ctx;

    #[test]
    fn enables_and_starts_with_the_hosts_init() {
        let s = Service {
            name: "web".into(),
            enabled: Some(true),
            state: Some(ServiceState::Started),
        };
        let c = with_ctx(&[("init", "systemd")], |ctx| {
            s.diff(&[ProbeResult::Status(1), ProbeResult::Status(3)], ctx)
        })
        .unwrap()
        .unwrap();
        assert_eq!(c.summary, "enable + start");
        assert!(
            matches!(c.action, Action::Run { ref command, .. } if command == "systemctl enable 'web' && systemctl start 'web'")
        );
        let c = with_ctx(&[("init", "rc")], |ctx| {
            s.diff(&[ProbeResult::Status(1), ProbeResult::Status(0)], ctx)
        })
        .unwrap()
        .unwrap();
        assert!(
            matches!(c.action, Action::Run { ref command, .. } if command == "sysrc 'web'_enable=YES")
        );
        assert_eq!(
            with_ctx(&[("init", "systemd")], |ctx| s
                .diff(&[ProbeResult::Status(0), ProbeResult::Status(0)], ctx))
            .unwrap(),
            None
        );
        assert!(with_ctx(&[("init", "none")], |ctx| s
            .diff(&[ProbeResult::Status(1), ProbeResult::Status(0)], ctx))
        .is_err());
    }
}
