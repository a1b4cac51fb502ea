//! The release journal: one JSON file per release under `target/release-journal/`, recording
//! each completed step, so `--resume` continues exactly where a failed run stopped and
//! `rollback` knows what a release created.
//!
//! Written atomically (temp file + fsync + rename) after every step: a crash leaves either the
//! old or the new journal, never half of one.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Journal {
    pub version: String,
    /// The options the run started with, so `--resume` needs no flags.
    pub options: serde_json::Value,
    pub steps: Vec<Step>,
    pub finished: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub step: String,
    /// What the step made (commit hash, release id, asset name and digest, …).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

impl Journal {
    pub fn dir(repo: &Path) -> PathBuf {
        repo.join("target").join("release-journal")
    }

    /// Holds the repository's release lock until dropped: one `release` or `rollback` at a
    /// time, since both move tags, `latest` and the tap.
    pub fn lock(repo: &Path) -> anyhow::Result<std::fs::File> {
        let path = Self::dir(repo).join(".lock");
        match crate::context::try_lock_file(&path)? {
            (file, true) => Ok(file),
            (_, false) => anyhow::bail!(
                "another `cargo xtask release` or `rollback` is running in this repository ({} is locked); wait for it to finish, then run `cargo xtask release --resume` if it stopped",
                path.display()
            ),
        }
    }

    pub fn path(repo: &Path, version: &str) -> PathBuf {
        Self::dir(repo).join(format!("v{version}.json"))
    }

    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the release journal {}", path.display()))?;
        serde_json::from_str(&text)
            .with_context(|| format!("the release journal {} is not valid", path.display()))
    }

    /// The unfinished journals in `repo`, newest version last.
    pub fn unfinished(repo: &Path) -> anyhow::Result<Vec<(PathBuf, Journal)>> {
        let dir = Self::dir(repo);
        let mut out = Vec::new();
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Ok(out);
        };
        for e in entries {
            let path = e?.path();
            if path.extension().is_some_and(|x| x == "json") {
                let j = Self::load(&path)?;
                if !j.finished {
                    out.push((path, j));
                }
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    pub fn done(&self, step: &str) -> bool {
        self.steps.iter().any(|s| s.step == step)
    }

    pub fn detail(&self, step: &str) -> Option<&str> {
        self.steps
            .iter()
            .rev()
            .find(|s| s.step == step)
            .map(|s| s.detail.as_str())
    }

    /// Records a completed step and writes the journal before returning, so a crash right
    /// after a step never forgets it.
    pub fn record(
        &mut self,
        path: &Path,
        step: &str,
        detail: impl Into<String>,
    ) -> anyhow::Result<()> {
        self.steps.push(Step {
            step: step.to_owned(),
            detail: detail.into(),
        });
        self.save(path)
    }

    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        let dir = path.parent().context("journal path has no parent")?;
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let tmp = path.with_extension("json.tmp");
        let mut f =
            std::fs::File::create(&tmp).with_context(|| format!("writing {}", tmp.display()))?;
        f.write_all(serde_json::to_string_pretty(self)?.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }
}
