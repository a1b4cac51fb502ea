//! `ferry check`: which local tools ferry uses, and whether they are here.

use std::process::Command;

use serde::Serialize;
use serde_json::json;

use super::Session;
use crate::cli::error::CliError;

#[derive(Serialize)]
struct Tool {
    name: &'static str,
    purpose: &'static str,
    required: bool,
    found: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
}

fn probe(name: &'static str, purpose: &'static str, required: bool, version_args: &[&str]) -> Tool {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
        .ok()
        .filter(|o| o.status.success());
    let detail = found.as_ref().map(|o| {
        let path = String::from_utf8_lossy(&o.stdout).trim().to_owned();
        let version = (!version_args.is_empty())
            .then(|| Command::new(name).args(version_args).output().ok())
            .flatten()
            .map(|o| {
                let text = if o.stdout.is_empty() {
                    o.stderr
                } else {
                    o.stdout
                };
                String::from_utf8_lossy(&text)
                    .lines()
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_owned()
            })
            .filter(|v| !v.is_empty());
        match version {
            Some(v) => format!("{path} ({v})"),
            None => path,
        }
    });
    Tool {
        name,
        purpose,
        required,
        found: found.is_some(),
        detail,
    }
}

pub fn run(s: &Session) -> Result<(), CliError> {
    let mut tools = vec![
        probe(
            "sh",
            "runs explore/apply scripts for the local provider and local hosts",
            true,
            &[],
        ),
        probe(
            "tar",
            "unpacks file contents on local hosts",
            true,
            &["--version"],
        ),
        probe(
            "ssh-agent",
            "holds SSH keys for remote hosts when no key file is configured",
            false,
            &[],
        ),
    ];
    let agent = std::env::var_os("SSH_AUTH_SOCK").filter(|s| std::path::Path::new(s).exists());
    tools.push(Tool {
        name: "SSH_AUTH_SOCK",
        purpose: "a running SSH agent, for remote hosts without a `key`",
        required: false,
        found: agent.is_some(),
        detail: agent.map(|_| "agent socket present".to_owned()),
    });
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    let keys: Vec<String> = home
        .iter()
        .flat_map(|h| ["id_ed25519", "id_ecdsa", "id_rsa"].map(|k| h.join(".ssh").join(k)))
        .filter(|p| p.exists())
        .map(|p| p.display().to_string())
        .collect();
    tools.push(Tool {
        name: "ssh keys",
        purpose: "default private keys, for remote hosts",
        required: false,
        found: !keys.is_empty(),
        detail: (!keys.is_empty()).then(|| keys.join(", ")),
    });
    let known = home
        .map(|h| h.join(".ssh/known_hosts"))
        .filter(|p| p.exists());
    tools.push(Tool {
        name: "known_hosts",
        purpose: "host keys that remote hosts are verified against",
        required: false,
        found: known.is_some(),
        detail: known.map(|p| p.display().to_string()),
    });
    let ok = tools.iter().all(|t| t.found || !t.required);
    s.out.result(&json!({"ok": ok, "tools": tools}), || {
        let mut t = String::new();
        for tool in &tools {
            let mark = match (tool.found, tool.required) {
                (true, _) => "ok     ",
                (false, true) => "MISSING",
                (false, false) => "absent ",
            };
            t.push_str(&format!(
                "{mark} {:<14} {}\n",
                tool.name,
                tool.detail.as_deref().unwrap_or(tool.purpose)
            ));
        }
        t.push_str(if ok {
            "everything ferry needs locally is here"
        } else {
            "a required tool is missing: install it with your package manager"
        });
        t
    });
    if ok {
        Ok(())
    } else {
        Err(CliError::new("a required local tool is missing").reported())
    }
}
