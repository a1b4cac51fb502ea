//! Owner and group of paths: the probes that resolve names to ids on the host, and the
//! `chown` argument a change needs. Shared by `file`, `template` and `directory`.

use super::{missing, ResourceError};
use crate::engine::explore::{PathState, Probe, ProbeResult};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ownership {
    pub owner: Option<String>,
    pub group: Option<String>,
}

impl Ownership {
    /// Probes (after the path's own) that resolve owner and group names to ids.
    pub fn probes(&self) -> Vec<Probe> {
        let mut p = Vec::new();
        if let Some(o) = &self.owner {
            p.push(Probe::Output(format!(
                "_uid_of {}",
                crate::transport::sh_quote(o)
            )));
        }
        if let Some(g) = &self.group {
            p.push(Probe::Output(format!(
                "_gid_of {}",
                crate::transport::sh_quote(g)
            )));
        }
        p
    }

    /// The wanted (uid, gid), read from the probe results that follow the path's.
    pub fn resolve(
        &self,
        id: &str,
        results: &[ProbeResult],
    ) -> Result<(Option<u32>, Option<u32>), ResourceError> {
        let mut it = results.iter();
        let mut next =
            |what: &'static str, name: &Option<String>| -> Result<Option<u32>, ResourceError> {
                let Some(name) = name else { return Ok(None) };
                match it.next() {
                    Some(ProbeResult::Output(text)) => {
                        text.trim()
                            .parse()
                            .map(Some)
                            .map_err(|_| ResourceError::NoSuchAccount {
                                id: id.to_owned(),
                                what,
                                name: name.clone(),
                            })
                    }
                    _ => Err(missing(id.to_owned())),
                }
            };
        let uid = next("user", &self.owner)?;
        let gid = next("group", &self.group)?;
        Ok((uid, gid))
    }

    /// The `chown` argument to reach (uid, gid) from `current`, or None when it already matches.
    pub fn chown(
        wanted: (Option<u32>, Option<u32>),
        current: Option<&PathState>,
    ) -> Option<String> {
        let (cu, cg) = current.map_or((None, None), |c| (c.uid, c.gid));
        let uid = wanted.0.filter(|u| Some(*u) != cu);
        let gid = wanted.1.filter(|g| Some(*g) != cg);
        match (uid, gid) {
            (None, None) => None,
            (Some(u), None) => Some(u.to_string()),
            (None, Some(g)) => Some(format!(":{g}")),
            (Some(u), Some(g)) => Some(format!("{u}:{g}")),
        }
    }
}
