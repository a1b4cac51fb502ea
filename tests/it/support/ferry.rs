//! Runs the real `ferry` binary in a throwaway directory with its own state directory.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

/// A temporary working directory for one test; removed when dropped.
#[must_use]
pub struct Sandbox {
    dir: tempfile::TempDir,
}

/// What one ferry run printed.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    #[track_caller]
    pub fn ok(self) -> Self {
        assert_eq!(
            self.code, 0,
            "ferry failed\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn code(self, code: i32) -> Self {
        assert_eq!(
            self.code, code,
            "unexpected exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Sandbox {
    pub fn new() -> Self {
        Sandbox {
            dir: tempfile::tempdir().expect("a temp dir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// An absolute path inside the sandbox, as text for environment files.
    pub fn at(&self, rel: &str) -> String {
        self.dir.path().join(rel).display().to_string()
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join(".ferry")
    }

    pub fn write(&self, rel: &str, content: &str) -> PathBuf {
        let p = self.dir.path().join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, content).unwrap();
        p
    }

    pub fn command(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_ferry"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .env_remove("FERRY_STATE_DIR")
            .env_remove("FERRY_LOCK_TIMEOUT")
            .stdin(std::process::Stdio::null());
        cmd
    }

    pub fn ferry(&self, args: &[&str]) -> Run {
        self.command(args).output().expect("ferry runs").into()
    }

    /// Writes `env.toml` and creates environment `name` from it.
    pub fn create(&self, name: &str, config: &str) -> Run {
        self.write("env.toml", config);
        self.ferry(&["create", name, "--config", "env.toml"]).ok()
    }

    pub fn state(&self, name: &str) -> Value {
        self.ferry(&["status", name, "--json"]).ok().json()
    }

    pub fn history(&self, name: &str) -> Vec<Value> {
        let text = std::fs::read_to_string(self.state_dir().join(name).join("history.jsonl"))
            .unwrap_or_default();
        text.lines()
            .map(|l| serde_json::from_str(l).expect("history lines are JSON"))
            .collect()
    }
}
