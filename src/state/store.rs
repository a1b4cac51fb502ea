//! Persisted environments: one directory per environment under the state directory.
//!
//! ```text
//! .ferry/<env>/state.json        the record (atomic writes: temp + fsync + rename + fsync dir)
//! .ferry/<env>/environment.toml  the environment file as it was validated by `create`
//! .ferry/<env>/history.jsonl     append-only, one JSON object per command
//! .ferry/<env>/lock              held (flock) by the command working on the environment
//! ```

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::lifecycle::{State, Step};
use crate::inventory::Host;

/// The version of `state.json`'s layout. Bump it with an upgrade function when it changes.
pub const SCHEMA_VERSION: u32 = 1;

const STATE_FILE: &str = "state.json";
const CONFIG_FILE: &str = "environment.toml";
const HISTORY_FILE: &str = "history.jsonl";
const LOCK_FILE: &str = "lock";

#[derive(Debug, Error)]
pub enum StateError {
    #[error("`{0}` is not a valid environment name")]
    BadName(String),
    #[error("no environment is named `{name}` in {dir}")]
    NotFound { name: String, dir: PathBuf },
    #[error("the state file {path} is corrupt: {reason}; ferry left it untouched")]
    Corrupt { path: PathBuf, reason: String },
    #[error("the state file {path} was written by a newer ferry (schema {found}, this ferry knows {SCHEMA_VERSION})")]
    TooNew { path: PathBuf, found: u32 },
    #[error("environment `{name}` is locked by another ferry command ({holder})")]
    Locked { name: String, holder: String },
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl StateError {
    /// What the user can do about it.
    pub fn help(&self) -> Option<String> {
        match self {
            StateError::BadName(_) => Some("use lower-case letters, digits, `-`, `_` and `.`, starting with a letter or digit".into()),
            StateError::NotFound { name, .. } => Some(format!(
                "create it with `ferry create {name} --config <file.toml>`, or run `ferry list` to see the environments (check --state-dir / FERRY_STATE_DIR)"
            )),
            StateError::Corrupt { path, .. } => Some(format!(
                "repair {} by hand (history.jsonl beside it shows the last known states), or remove its directory to forget the environment",
                path.display()
            )),
            StateError::TooNew { .. } => Some("upgrade ferry to the version that wrote it".into()),
            StateError::Locked { .. } => Some("wait for it to finish, or raise --lock-timeout to wait longer".into()),
            StateError::Io { .. } => None,
        }
    }
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> StateError + 'a {
    move |source| StateError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

/// Everything ferry knows about one environment.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Record {
    pub schema_version: u32,
    pub name: String,
    #[serde(flatten)]
    pub state: State,
    /// The environment file `create` read (for messages; the stored copy is what is used).
    pub config_file: PathBuf,
    pub provider: String,
    #[serde(default)]
    pub description: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default)]
    pub hosts: Vec<Host>,
}

/// An environment's name and its record, or why the record cannot be read.
pub type Listed = (String, Result<Record, StateError>);

/// One line of history.jsonl.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HistoryEntry {
    pub command: String,
    pub from: String,
    pub to: String,
    pub at: String,
    /// `ok` or `failed`.
    pub outcome: String,
    pub duration_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

pub fn now() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

pub fn check_name(name: &str) -> Result<(), StateError> {
    let ok = name.len() <= 64
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(StateError::BadName(name.to_owned()))
    }
}

#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

/// Holds an environment's lock until dropped.
#[derive(Debug)]
pub struct EnvLock {
    file: File,
}

impl Drop for EnvLock {
    fn drop(&mut self) {
        // Forget the holder before the lock is released (when the file closes), so nobody
        // reads a stale "locked by" line.
        let _ = self.file.set_len(0);
    }
}

impl Store {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Store { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn dir(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    pub fn config_path(&self, name: &str) -> PathBuf {
        self.dir(name).join(CONFIG_FILE)
    }

    /// Takes the environment's lock, waiting up to `timeout` for another command to finish.
    pub fn lock(
        &self,
        name: &str,
        command: Step,
        timeout: Duration,
        mut waiting: impl FnMut(&str),
    ) -> Result<EnvLock, StateError> {
        check_name(name)?;
        let dir = self.dir(name);
        fs::create_dir_all(&dir).map_err(io("creating", &dir))?;
        let path = dir.join(LOCK_FILE);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io("opening", &path))?;
        let started = Instant::now();
        let mut told = false;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(fs::TryLockError::WouldBlock) => {
                    let mut holder = String::new();
                    // From the start each time: the holder may have rewritten it meanwhile.
                    let _ = (&file).seek(std::io::SeekFrom::Start(0));
                    let _ = (&file).read_to_string(&mut holder);
                    let holder = if holder.trim().is_empty() {
                        "unknown holder".to_owned()
                    } else {
                        holder.trim().to_owned()
                    };
                    if started.elapsed() >= timeout {
                        return Err(StateError::Locked {
                            name: name.to_owned(),
                            holder,
                        });
                    }
                    if !told {
                        waiting(&holder);
                        told = true;
                    }
                    std::thread::sleep(
                        Duration::from_millis(50).min(timeout.saturating_sub(started.elapsed())),
                    );
                }
                Err(fs::TryLockError::Error(e)) => return Err(io("locking", &path)(e)),
            }
        }
        // Say who holds it, for the message a waiting command prints.
        let _ = file.set_len(0);
        let _ = (&file).write_all(
            format!(
                "`ferry {}` pid {} since {}",
                command.name(),
                std::process::id(),
                now()
            )
            .as_bytes(),
        );
        Ok(EnvLock { file })
    }

    pub fn exists(&self, name: &str) -> bool {
        self.dir(name).join(STATE_FILE).exists()
    }

    pub fn load(&self, name: &str) -> Result<Record, StateError> {
        check_name(name)?;
        let path = self.dir(name).join(STATE_FILE);
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StateError::NotFound {
                    name: name.to_owned(),
                    dir: self.root.clone(),
                })
            }
            Err(e) => return Err(io("reading", &path)(e)),
        };
        parse_record(&path, &text, name)
    }

    /// Writes the record atomically: a reader sees the old or the new file, never a mix.
    pub fn save(&self, record: &Record) -> Result<(), StateError> {
        let mut json = serde_json::to_vec_pretty(record)
            .expect("a state record always serialises; this is a bug");
        json.push(b'\n');
        write_atomic(&self.dir(&record.name).join(STATE_FILE), &json)
    }

    pub fn save_config(&self, name: &str, source: &str) -> Result<(), StateError> {
        write_atomic(&self.config_path(name), source.as_bytes())
    }

    pub fn read_config(&self, name: &str) -> Result<String, StateError> {
        let path = self.config_path(name);
        fs::read_to_string(&path).map_err(io("reading", &path))
    }

    pub fn append_history(&self, name: &str, entry: &HistoryEntry) -> Result<(), StateError> {
        let path = self.dir(name).join(HISTORY_FILE);
        let mut line =
            serde_json::to_vec(entry).expect("a history entry always serialises; this is a bug");
        line.push(b'\n');
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io("opening", &path))?;
        // One write call per line: O_APPEND keeps concurrent appends from interleaving.
        f.write_all(&line).map_err(io("appending to", &path))?;
        f.sync_data().map_err(io("syncing", &path))
    }

    /// The last `n` history entries, oldest first. Unreadable lines are skipped, not fatal:
    /// history is for people, and one bad line must not hide the rest.
    pub fn history(&self, name: &str, n: usize) -> Vec<HistoryEntry> {
        let path = self.dir(name).join(HISTORY_FILE);
        let text = fs::read_to_string(path).unwrap_or_default();
        let entries: Vec<HistoryEntry> = text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        entries[entries.len().saturating_sub(n)..].to_vec()
    }

    /// Every environment (directories holding a state file), sorted by name.
    pub fn list(&self) -> Result<Vec<Listed>, StateError> {
        let entries = match fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io("reading", &self.root)(e)),
        };
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter(|e| e.path().join(STATE_FILE).is_file())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        names.sort();
        Ok(names
            .into_iter()
            .map(|n| (n.clone(), self.load(&n)))
            .collect())
    }
}

fn parse_record(path: &Path, text: &str, name: &str) -> Result<Record, StateError> {
    let corrupt = |reason: String| StateError::Corrupt {
        path: path.to_owned(),
        reason,
    };
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| corrupt(e.to_string()))?;
    match value.get("schema_version").and_then(|v| v.as_u64()) {
        Some(v) if v as u32 > SCHEMA_VERSION => {
            return Err(StateError::TooNew {
                path: path.to_owned(),
                found: v as u32,
            })
        }
        Some(_) => {}
        None => return Err(corrupt("`schema_version` is missing".into())),
    }
    let record: Record = serde_json::from_value(value).map_err(|e| corrupt(e.to_string()))?;
    if record.name != name {
        return Err(corrupt(format!(
            "it names environment `{}`, but lives in the directory of `{name}`",
            record.name
        )));
    }
    Ok(record)
}

/// Writes `bytes` to `path` so that a crash leaves either the old file or the new one:
/// a temporary file in the same directory, fsync, rename over the target, fsync the directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    let dir = path
        .parent()
        .expect("state files live in a directory; this is a bug");
    let tmp = dir.join(format!(
        ".{}.tmp.{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("state"),
        std::process::id()
    ));
    let result = (|| {
        let mut f = File::create(&tmp).map_err(io("creating", &tmp))?;
        f.write_all(bytes).map_err(io("writing", &tmp))?;
        f.sync_all().map_err(io("syncing", &tmp))?;
        fs::rename(&tmp, path).map_err(io("replacing", path))?;
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io("syncing", dir))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}
