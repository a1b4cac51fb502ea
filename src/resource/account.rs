//! `user` and `group`: local accounts, with useradd/groupadd (Linux) or pw (FreeBSD).
//!
//! ```toml
//! [[configure]]
//! type = "group"
//! name = "app"
//! gid = 950
//! system = true
//!
//! [[configure]]
//! type = "user"
//! name = "app"
//! group = "app"
//! home = "/srv/app"
//! shell = "/usr/sbin/nologin"
//! system = true
//! after = ["group:app"]
//! ```

use super::{missing, Change, HostContext, Resource, ResourceError};
use crate::config::{GroupSpec, Presence, UserSpec};
use crate::engine::apply::{Action, Guard};
use crate::engine::explore::{Probe, ProbeResult};
use crate::transport::sh_quote;

fn freebsd(ctx: &HostContext) -> bool {
    ctx.facts.get("os").map(String::as_str) == Some("FreeBSD")
}

fn run(id: String, summary: String, command: String) -> Option<Change> {
    Some(Change {
        resource: id,
        summary,
        diff: None,
        action: Action::Run {
            command,
            guard: Guard::default(),
        },
    })
}

#[derive(Debug, Clone)]
pub struct User {
    spec: UserSpec,
}

impl User {
    pub fn new(spec: &UserSpec) -> Self {
        User { spec: spec.clone() }
    }

    fn options(&self, ctx: &HostContext, create: bool) -> Vec<String> {
        let s = &self.spec;
        let mut o = Vec::new();
        if let Some(uid) = s.uid {
            o.push(format!("-u {uid}"));
        }
        if let Some(g) = &s.group {
            o.push(format!("-g {}", sh_quote(g)));
        }
        if let Some(h) = &s.home {
            o.push(format!("-d {}", sh_quote(h)));
            if create {
                o.push("-m".into());
            }
        }
        if let Some(sh) = &s.shell {
            o.push(format!("-s {}", sh_quote(sh)));
        }
        if create && s.system && !freebsd(ctx) {
            o.push("-r".into());
        }
        o
    }
}

impl Resource for User {
    fn id(&self) -> String {
        format!("user:{}", self.spec.name)
    }

    fn probes(&self) -> Vec<Probe> {
        // uid:gid:home:shell, or nothing when the user does not exist.
        vec![Probe::Output(format!(
            "awk -F: -v u={} '$1 == u {{ print $3 \":\" $4 \":\" $6 \":\" $7 }}' /etc/passwd",
            sh_quote(&self.spec.name)
        ))]
    }

    fn diff(
        &self,
        results: &[ProbeResult],
        ctx: &HostContext,
    ) -> Result<Option<Change>, ResourceError> {
        let Some(ProbeResult::Output(line)) = results.first() else {
            return Err(missing(self.id()));
        };
        let n = sh_quote(&self.spec.name);
        let exists = !line.trim().is_empty();
        Ok(match (self.spec.state, exists) {
            (Presence::Absent, false) => None,
            (Presence::Absent, true) => run(
                self.id(),
                "remove".into(),
                if freebsd(ctx) {
                    format!("pw userdel {n}")
                } else {
                    format!("userdel {n}")
                },
            ),
            (Presence::Present, false) => {
                let o = self.options(ctx, true).join(" ");
                let cmd = if freebsd(ctx) {
                    format!("pw useradd {n} {o}")
                } else {
                    format!("useradd {o} {n}")
                };
                run(
                    self.id(),
                    "create".into(),
                    cmd.split_whitespace().collect::<Vec<_>>().join(" "),
                )
            }
            (Presence::Present, true) => {
                let f: Vec<&str> = line.trim().split(':').collect();
                let mut drift = Vec::new();
                let mut o = Vec::new();
                if let Some(uid) = self
                    .spec
                    .uid
                    .filter(|u| f.first() != Some(&u.to_string().as_str()))
                {
                    drift.push(format!("uid {} -> {uid}", f.first().unwrap_or(&"?")));
                    o.push(format!("-u {uid}"));
                }
                if let Some(h) = self
                    .spec
                    .home
                    .as_ref()
                    .filter(|h| f.get(2) != Some(&h.as_str()))
                {
                    drift.push(format!("home -> {h}"));
                    o.push(format!("-d {}", sh_quote(h)));
                }
                if let Some(s) = self
                    .spec
                    .shell
                    .as_ref()
                    .filter(|s| f.get(3) != Some(&s.as_str()))
                {
                    drift.push(format!("shell -> {s}"));
                    o.push(format!("-s {}", sh_quote(s)));
                }
                if drift.is_empty() {
                    None
                } else {
                    let o = o.join(" ");
                    let cmd = if freebsd(ctx) {
                        format!("pw usermod {n} {o}")
                    } else {
                        format!("usermod {o} {n}")
                    };
                    run(self.id(), format!("update {}", drift.join(", ")), cmd)
                }
            }
        })
    }
}

#[derive(Debug, Clone)]
pub struct Group {
    spec: GroupSpec,
}

impl Group {
    pub fn new(spec: &GroupSpec) -> Self {
        Group { spec: spec.clone() }
    }
}

impl Resource for Group {
    fn id(&self) -> String {
        format!("group:{}", self.spec.name)
    }

    fn probes(&self) -> Vec<Probe> {
        vec![Probe::Output(format!(
            "awk -F: -v g={} '$1 == g {{ print $3 }}' /etc/group",
            sh_quote(&self.spec.name)
        ))]
    }

    fn diff(
        &self,
        results: &[ProbeResult],
        ctx: &HostContext,
    ) -> Result<Option<Change>, ResourceError> {
        let Some(ProbeResult::Output(gid)) = results.first() else {
            return Err(missing(self.id()));
        };
        let n = sh_quote(&self.spec.name);
        let bsd = freebsd(ctx);
        Ok(match (self.spec.state, gid.trim()) {
            (Presence::Absent, "") => None,
            (Presence::Absent, _) => run(
                self.id(),
                "remove".into(),
                if bsd {
                    format!("pw groupdel {n}")
                } else {
                    format!("groupdel {n}")
                },
            ),
            (Presence::Present, "") => {
                let mut o = Vec::new();
                if let Some(g) = self.spec.gid {
                    o.push(format!("-g {g}"));
                }
                if self.spec.system && !bsd {
                    o.push("-r".into());
                }
                let o = o.join(" ");
                let cmd = if bsd {
                    format!("pw groupadd {n} {o}")
                } else {
                    format!("groupadd {o} {n}")
                };
                run(
                    self.id(),
                    "create".into(),
                    cmd.split_whitespace().collect::<Vec<_>>().join(" "),
                )
            }
            (Presence::Present, current) => {
                match self.spec.gid.filter(|g| g.to_string() != current) {
                    Some(g) => run(
                        self.id(),
                        format!("update gid {current} -> {g}"),
                        if bsd {
                            format!("pw groupmod {n} -g {g}")
                        } else {
                            format!("groupmod -g {g} {n}")
                        },
                    ),
                    None => None,
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::testing::with_ctx;

    #[test]
    fn users_are_created_updated_and_removed() {
        let spec: UserSpec =
            toml::from_str("name = 'app'\nuid = 1500\nshell = '/bin/sh'\nsystem = true").unwrap();
        let u = User::new(&spec);
        let c = with_ctx(&[("os", "Linux")], |ctx| {
            u.diff(&[ProbeResult::Output(String::new())], ctx)
        })
        .unwrap()
        .unwrap();
        assert!(
            matches!(c.action, Action::Run { ref command, .. } if command == "useradd -u 1500 -s '/bin/sh' -r 'app'"),
            "{c:?}"
        );
        let c = with_ctx(&[("os", "FreeBSD")], |ctx| {
            u.diff(&[ProbeResult::Output(String::new())], ctx)
        })
        .unwrap()
        .unwrap();
        assert!(
            matches!(c.action, Action::Run { ref command, .. } if command == "pw useradd 'app' -u 1500 -s '/bin/sh'"),
            "{c:?}"
        );
        assert_eq!(
            with_ctx(&[], |ctx| u.diff(
                &[ProbeResult::Output("1500:1500:/home/app:/bin/sh".into())],
                ctx
            ))
            .unwrap(),
            None
        );
        let c = with_ctx(&[], |ctx| {
            u.diff(
                &[ProbeResult::Output("1400:1500:/home/app:/bin/bash".into())],
                ctx,
            )
        })
        .unwrap()
        .unwrap();
        assert_eq!(c.summary, "update uid 1400 -> 1500, shell -> /bin/sh");
    }

    #[test]
    fn groups_are_created_with_their_gid() {
        let g = Group::new(&toml::from_str("name = 'app'\ngid = 950").unwrap());
        let c = with_ctx(&[], |ctx| {
            g.diff(&[ProbeResult::Output(String::new())], ctx)
        })
        .unwrap()
        .unwrap();
        assert!(
            matches!(c.action, Action::Run { ref command, .. } if command == "groupadd -g 950 'app'")
        );
        assert_eq!(
            with_ctx(&[], |ctx| g.diff(&[ProbeResult::Output("950".into())], ctx)).unwrap(),
            None
        );
    }
}
