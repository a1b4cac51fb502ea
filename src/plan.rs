//! The object graph of one step: identical duplicates merged, then ordered by declaration
//! order plus explicit `after = [...]` edges. Conflicting duplicates are caught by config
//! validation, which uses [`order`] too, so a bad graph never reaches a host.

use std::collections::{BTreeMap, BTreeSet};

use thiserror::Error;

use crate::config::ResourceSpec;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum PlanError {
    #[error("`after` names `{reference}`, which is not declared in this step")]
    UnknownAfter {
        index: usize,
        after: usize,
        reference: String,
        known: Vec<String>,
    },
    #[error("these resources wait for each other (`after` cycle): {}", .members.join(" -> "))]
    Cycle { index: usize, members: Vec<String> },
}

/// Indices into `specs`, first declarations only, in the order to apply them.
pub fn order(specs: &[ResourceSpec]) -> Result<Vec<usize>, PlanError> {
    // Identical duplicates collapse onto the first declaration of the id.
    let mut first: BTreeMap<String, usize> = BTreeMap::new();
    let mut kept = Vec::new();
    for (i, s) in specs.iter().enumerate() {
        if let std::collections::btree_map::Entry::Vacant(e) = first.entry(s.id()) {
            e.insert(i);
            kept.push(i);
        }
    }
    // Edges: every `after` of every declaration (duplicates included) points at a first one.
    let mut deps: BTreeMap<usize, BTreeSet<usize>> =
        kept.iter().map(|&i| (i, BTreeSet::new())).collect();
    for (i, s) in specs.iter().enumerate() {
        let me = first[&s.id()];
        for (a, reference) in s.common().after.iter().enumerate() {
            match first.get(reference.as_str()) {
                Some(&dep) if dep != me => {
                    deps.get_mut(&me)
                        .expect("every kept index has an entry")
                        .insert(dep);
                }
                Some(_) => {}
                None => {
                    return Err(PlanError::UnknownAfter {
                        index: i,
                        after: a,
                        reference: reference.clone(),
                        known: first.keys().cloned().collect(),
                    })
                }
            }
        }
    }
    // Kahn's algorithm, always taking the earliest-declared ready resource, so that without
    // `after` the order is exactly the declaration order.
    let mut done: BTreeSet<usize> = BTreeSet::new();
    let mut out = Vec::with_capacity(kept.len());
    while out.len() < kept.len() {
        let next = kept
            .iter()
            .copied()
            .find(|i| !done.contains(i) && deps[i].iter().all(|d| done.contains(d)));
        match next {
            Some(i) => {
                done.insert(i);
                out.push(i);
            }
            None => {
                let stuck: Vec<usize> =
                    kept.iter().copied().filter(|i| !done.contains(i)).collect();
                let members = find_cycle(&stuck, &deps)
                    .into_iter()
                    .map(|i| specs[i].id())
                    .collect::<Vec<_>>();
                return Err(PlanError::Cycle {
                    index: stuck[0],
                    members,
                });
            }
        }
    }
    Ok(out)
}

/// One cycle among `stuck` (each of which waits for another stuck one), closed on itself.
fn find_cycle(stuck: &[usize], deps: &BTreeMap<usize, BTreeSet<usize>>) -> Vec<usize> {
    let stuck_set: BTreeSet<usize> = stuck.iter().copied().collect();
    let mut path = vec![stuck[0]];
    loop {
        let cur = *path.last().expect("the path is never empty");
        let next = deps[&cur]
            .iter()
            .copied()
            .find(|d| stuck_set.contains(d))
            .expect("a stuck resource waits for another stuck one");
        if let Some(pos) = path.iter().position(|&p| p == next) {
            let mut cycle = path[pos..].to_vec();
            cycle.push(next);
            return cycle;
        }
        path.push(next);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specs(toml: &str) -> Vec<ResourceSpec> {
        #[derive(serde::Deserialize)]
        struct S {
            r: Vec<ResourceSpec>,
        }
        toml::from_str::<S>(toml).unwrap().r
    }

    #[test]
    fn declaration_order_without_after() {
        let s = specs("[[r]]\ntype='command'\ncommand='a'\n[[r]]\ntype='command'\ncommand='b'\n");
        assert_eq!(order(&s).unwrap(), [0, 1]);
    }

    #[test]
    fn after_moves_a_resource_behind_its_dependency() {
        let s = specs(
            "[[r]]\ntype='file'\npath='/etc/app'\ncontent='x'\nafter=['package:app']\n[[r]]\ntype='command'\ncommand='other'\n[[r]]\ntype='package'\nname='app'\n",
        );
        assert_eq!(order(&s).unwrap(), [1, 2, 0]);
    }

    #[test]
    fn identical_duplicates_merge() {
        let s = specs("[[r]]\ntype='directory'\npath='/a'\n[[r]]\ntype='directory'\npath='/a/'\n[[r]]\ntype='directory'\npath='/b'\n");
        assert_eq!(order(&s).unwrap(), [0, 2]);
    }

    #[test]
    fn cycles_are_named() {
        let s = specs(
            "[[r]]\ntype='command'\nname='a'\ncommand='a'\nafter=['command:c']\n[[r]]\ntype='command'\nname='b'\ncommand='b'\nafter=['command:a']\n[[r]]\ntype='command'\nname='c'\ncommand='c'\nafter=['command:b']\n",
        );
        let e = order(&s).unwrap_err();
        assert_eq!(e.to_string(), "these resources wait for each other (`after` cycle): command:a -> command:c -> command:b -> command:a");
    }

    #[test]
    fn unknown_references_are_errors() {
        let s = specs("[[r]]\ntype='command'\ncommand='a'\nafter=['package:ngnix']\n[[r]]\ntype='package'\nname='nginx'\n");
        assert!(matches!(
            order(&s).unwrap_err(),
            PlanError::UnknownAfter {
                index: 0,
                after: 0,
                ..
            }
        ));
    }
}
