//! `[app]` releases on a host: `<root>/releases/<version>/` unpacked from an archive,
//! shared directories linked in, `<root>/current` switched atomically (a symlink renamed
//! over the old one), the switch appended to `<root>/.ferry-history`, old releases pruned.
//! Rollback is the same switch to a release already on the host: no download, constant time.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{missing, Change, HostContext, Resource, ResourceError};
use crate::engine::apply::{Action, AppSwitch};
use crate::engine::explore::{Probe, ProbeResult};
use crate::transport::sh_quote;

/// What to switch to.
#[derive(Debug, Clone)]
pub enum Goal {
    /// Install (if needed) and switch to `version`; archives by target triple.
    Install {
        version: String,
        archives: BTreeMap<String, (Arc<Vec<u8>>, bool)>,
    },
    /// Switch back to `to`, or to the release before the current one.
    Rollback { to: Option<String> },
}

#[derive(Debug, Clone)]
pub struct App {
    pub root: String,
    pub keep: usize,
    pub shared: Vec<String>,
    pub goal: Goal,
}

/// What explore found of the app on a host.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OnHost {
    pub current: Option<String>,
    /// Complete releases on disk.
    pub releases: Vec<String>,
    /// Switches, oldest first: (time, version).
    pub history: Vec<(String, String)>,
}

impl OnHost {
    /// Versions by most recent switch first; never-switched ones last, by name.
    fn by_recency(&self) -> Vec<String> {
        let mut order: Vec<String> = Vec::new();
        for (_, v) in self.history.iter().rev() {
            if self.releases.contains(v) && !order.contains(v) {
                order.push(v.clone());
            }
        }
        let mut rest: Vec<String> = self
            .releases
            .iter()
            .filter(|v| !order.contains(v))
            .cloned()
            .collect();
        rest.sort();
        order.extend(rest);
        order
    }

    /// The release `current` was switched from most recently, if still on disk.
    pub fn previous(&self) -> Option<String> {
        let current = self.current.as_deref()?;
        self.by_recency().into_iter().find(|v| v != current)
    }
}

/// Shell that lists complete releases, the current one, and the switch history.
pub fn probe_commands(root: &str) -> [String; 3] {
    let r = sh_quote(root);
    [
        format!("readlink {r}/current | sed 's|^releases/||'"),
        format!("for d in {r}/releases/*/; do [ -e \"$d.ferry-release\" ] && basename \"$d\"; done | tr '\\n' ' '"),
        format!("tail -n 50 {r}/.ferry-history 2>/dev/null | tr '\\n' ';'"),
    ]
}

pub fn parse_on_host(current: &str, releases: &str, history: &str) -> OnHost {
    OnHost {
        current: Some(current.trim().to_owned()).filter(|c| !c.is_empty()),
        releases: releases.split_whitespace().map(str::to_owned).collect(),
        history: history
            .split(';')
            .filter_map(|l| {
                l.trim()
                    .split_once(' ')
                    .map(|(t, v)| (t.to_owned(), v.to_owned()))
            })
            .collect(),
    }
}

impl Resource for App {
    fn id(&self) -> String {
        format!("app:{}", self.root)
    }

    fn probes(&self) -> Vec<Probe> {
        probe_commands(&self.root)
            .into_iter()
            .map(Probe::Output)
            .collect()
    }

    fn diff(
        &self,
        results: &[ProbeResult],
        ctx: &HostContext,
    ) -> Result<Option<Change>, ResourceError> {
        let [ProbeResult::Output(cur), ProbeResult::Output(rels), ProbeResult::Output(hist)] =
            results
        else {
            return Err(missing(self.id()));
        };
        let on_host = parse_on_host(cur, rels, hist);
        let from = on_host.current.clone();
        let (version, archive) = match &self.goal {
            Goal::Install { version, archives } => {
                if from.as_deref() == Some(version.as_str()) && on_host.releases.contains(version) {
                    return Ok(None);
                }
                let archive = if on_host.releases.contains(version) {
                    None
                } else {
                    let targets = crate::app::targets_for(ctx.facts);
                    let found = targets
                        .iter()
                        .find_map(|t| archives.get(t))
                        .ok_or_else(|| ResourceError::Unsupported {
                            id: self.id(),
                            message: format!(
                                "no artifact was fetched for this host's platform (it runs {})",
                                targets.join(" or ")
                            ),
                        })?;
                    Some(found.clone())
                };
                (version.clone(), archive)
            }
            Goal::Rollback { to } => {
                let target = match to {
                    Some(v) => v.clone(),
                    None => on_host
                        .previous()
                        .ok_or_else(|| ResourceError::Unsupported {
                            id: self.id(),
                            message: "there is no earlier release on this host to roll back to"
                                .into(),
                        })?,
                };
                if !on_host.releases.contains(&target) {
                    let there = if on_host.releases.is_empty() {
                        "none".to_owned()
                    } else {
                        on_host.releases.join(", ")
                    };
                    return Err(ResourceError::Unsupported {
                        id: self.id(),
                        message: format!(
                            "release {target} is not on this host (releases there: {there})"
                        ),
                    });
                }
                if from.as_deref() == Some(target.as_str()) {
                    return Ok(None);
                }
                (target, None)
            }
        };
        // Keep the newest `keep` releases, counting the one switched to and the one left.
        let mut keep_order = vec![version.clone()];
        keep_order.extend(on_host.by_recency().into_iter().filter(|v| *v != version));
        let prune: Vec<String> = keep_order
            .iter()
            .skip(self.keep.max(2))
            .filter(|v| Some(*v) != from.as_ref())
            .cloned()
            .collect();
        let verb = match (&self.goal, archive.is_some()) {
            (Goal::Rollback { .. }, _) => "roll back",
            (_, true) => "install and switch",
            (_, false) => "switch",
        };
        let mut summary = format!(
            "{verb} to {version} (from {})",
            from.as_deref().unwrap_or("nothing")
        );
        if !prune.is_empty() {
            summary.push_str(&format!(", prune {}", prune.join(", ")));
        }
        Ok(Some(Change {
            resource: self.id(),
            summary,
            diff: None,
            action: Action::Switch(AppSwitch {
                root: self.root.clone(),
                version,
                archive: archive.map(|(bytes, nested)| (bytes.as_ref().clone(), nested)),
                shared: self.shared.clone(),
                expect_current: from,
                prune,
            }),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::testing::with_ctx;

    fn results(cur: &str, rels: &str, hist: &str) -> Vec<ProbeResult> {
        vec![
            ProbeResult::Output(cur.into()),
            ProbeResult::Output(rels.into()),
            ProbeResult::Output(hist.into()),
        ]
    }

    fn app(goal: Goal) -> App {
        App {
            root: "/srv/app".into(),
            keep: 2,
            shared: vec![],
            goal,
        }
    }

    #[test]
    fn rollback_goes_to_the_previous_switch_and_refuses_missing_versions() {
        let a = app(Goal::Rollback { to: None });
        let r = results("2.0", "1.0 1.5 2.0", "t1 1.0;t2 1.5;t3 1.0;t4 2.0;");
        let c = with_ctx(&[], |ctx| a.diff(&r, ctx)).unwrap().unwrap();
        assert_eq!(c.summary, "roll back to 1.0 (from 2.0), prune 1.5");
        let a = app(Goal::Rollback {
            to: Some("0.9".into()),
        });
        let e = with_ctx(&[], |ctx| a.diff(&r, ctx)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "app:/srv/app: release 0.9 is not on this host (releases there: 1.0, 1.5, 2.0)"
        );
    }

    #[test]
    fn install_sends_the_archive_only_when_the_release_is_missing() {
        let archives = BTreeMap::from([(
            "x86_64-unknown-linux-musl".to_owned(),
            (Arc::new(vec![1u8, 2]), true),
        )]);
        let a = app(Goal::Install {
            version: "2.0".into(),
            archives,
        });
        let facts = [("os", "Linux"), ("arch", "x86_64"), ("libc", "gnu")];
        let c = with_ctx(&facts, |ctx| a.diff(&results("1.0", "1.0", "t 1.0;"), ctx))
            .unwrap()
            .unwrap();
        assert!(matches!(
            c.action,
            Action::Switch(AppSwitch {
                archive: Some(_),
                ..
            })
        ));
        let c = with_ctx(&facts, |ctx| {
            a.diff(&results("1.0", "1.0 2.0", "t 1.0;"), ctx)
        })
        .unwrap()
        .unwrap();
        assert!(matches!(
            c.action,
            Action::Switch(AppSwitch { archive: None, .. })
        ));
        assert_eq!(
            with_ctx(&facts, |ctx| a.diff(&results("2.0", "1.0 2.0", ""), ctx)).unwrap(),
            None
        );
    }
}
