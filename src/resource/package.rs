//! `package`: a system package, installed or removed with the host's package manager
//! (apt, dnf, yum, apk or FreeBSD pkg — from the explored `pkgmgr` fact).
//!
//! ```toml
//! [[configure]]
//! type = "package"
//! name = "nginx"
//! state = "present"     # or "absent"
//! ```

use super::{missing, Change, HostContext, Resource, ResourceError};
use crate::config::{PackageSpec, Presence};
use crate::engine::apply::{Action, Guard};
use crate::engine::explore::{Probe, ProbeResult};
use crate::transport::sh_quote;

#[derive(Debug, Clone)]
pub struct Package {
    name: String,
    state: Presence,
}

impl Package {
    pub fn new(spec: &PackageSpec) -> Self {
        Package {
            name: spec.name.clone(),
            state: spec.state,
        }
    }

    fn installed_check(&self) -> String {
        format!("_pkg_installed {}", sh_quote(&self.name))
    }
}

/// The install and remove commands of a package manager.
fn commands(pkgmgr: &str, name: &str) -> Option<(String, String)> {
    let n = sh_quote(name);
    Some(match pkgmgr {
        "apt" => (
            format!("DEBIAN_FRONTEND=noninteractive apt-get install -y -q {n}"),
            format!("DEBIAN_FRONTEND=noninteractive apt-get remove -y -q {n}"),
        ),
        "dnf" | "yum" => (
            format!("{pkgmgr} install -y {n}"),
            format!("{pkgmgr} remove -y {n}"),
        ),
        "apk" => (
            format!("apk add --no-progress {n}"),
            format!("apk del --no-progress {n}"),
        ),
        "pkg" => (format!("pkg install -y {n}"), format!("pkg delete -y {n}")),
        _ => return None,
    })
}

impl Resource for Package {
    fn id(&self) -> String {
        format!("package:{}", self.name)
    }

    fn probes(&self) -> Vec<Probe> {
        vec![Probe::Status(self.installed_check())]
    }

    fn diff(
        &self,
        results: &[ProbeResult],
        ctx: &HostContext,
    ) -> Result<Option<Change>, ResourceError> {
        let Some(ProbeResult::Status(status)) = results.first() else {
            return Err(missing(self.id()));
        };
        let installed = *status == 0;
        if installed == (self.state == Presence::Present) {
            return Ok(None);
        }
        let pkgmgr = ctx
            .facts
            .get("pkgmgr")
            .map(String::as_str)
            .unwrap_or("none");
        let Some((install, remove)) = commands(pkgmgr, &self.name) else {
            return Err(ResourceError::Unsupported { id: self.id(), message: format!("no supported package manager on the host (found: {pkgmgr}); ferry knows apt, dnf, yum, apk and pkg") });
        };
        let (summary, command, guard) = match self.state {
            Presence::Present => (
                "install",
                install,
                Guard {
                    unless: Some(self.installed_check()),
                    ..Guard::default()
                },
            ),
            Presence::Absent => (
                "remove",
                remove,
                Guard {
                    only_if: Some(self.installed_check()),
                    ..Guard::default()
                },
            ),
        };
        Ok(Some(Change {
            resource: self.id(),
            summary: format!("{summary} with {pkgmgr}"),
            diff: None,
            action: Action::Run { command, guard },
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::testing::with_ctx;

    fn pkg(state: Presence) -> Package {
        Package {
            name: "nginx".into(),
            state,
        }
    }

    #[test]
    fn installs_with_the_hosts_manager_only_when_needed() {
        let c = with_ctx(&[("pkgmgr", "apt")], |ctx| {
            pkg(Presence::Present).diff(&[ProbeResult::Status(1)], ctx)
        })
        .unwrap()
        .unwrap();
        assert_eq!(c.summary, "install with apt");
        assert!(
            matches!(c.action, Action::Run { ref command, .. } if command.contains("apt-get install -y -q 'nginx'"))
        );
        assert_eq!(
            with_ctx(&[("pkgmgr", "apt")], |ctx| pkg(Presence::Present)
                .diff(&[ProbeResult::Status(0)], ctx))
            .unwrap(),
            None
        );
        let c = with_ctx(&[("pkgmgr", "pkg")], |ctx| {
            pkg(Presence::Absent).diff(&[ProbeResult::Status(0)], ctx)
        })
        .unwrap()
        .unwrap();
        assert!(
            matches!(c.action, Action::Run { ref command, .. } if command == "pkg delete -y 'nginx'")
        );
        assert!(with_ctx(&[], |ctx| pkg(Presence::Present)
            .diff(&[ProbeResult::Status(2)], ctx))
        .is_err());
    }
}
