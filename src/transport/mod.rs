//! Transports run one generated POSIX `sh` script on a host, with bytes on its stdin,
//! and return what it printed. They know nothing of resources or plans: the executor
//! builds the scripts, a transport only carries them.
//!
//! Every round trip to a host goes through [`Transport::exec`], so the executor can
//! count them (the execution model promises a constant number per host).

pub mod chroot;
pub mod local;
pub mod ssh;

use thiserror::Error;

/// What a script printed and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    /// The exit status, or `None` when the script was killed by a signal.
    pub status: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl ExecOutput {
    pub fn success(&self) -> bool {
        self.status == Some(0)
    }
}

#[derive(Debug, Error)]
pub enum TransportError {
    #[error("could not start `sh` on this machine: {0}")]
    Spawn(#[source] std::io::Error),
    #[error("lost the connection to the script: {0}")]
    Io(#[source] std::io::Error),
    #[error(transparent)]
    Ssh(#[from] ssh::SshError),
    #[error("{} holds no root filesystem (no bin/sh in it); set the chroot host's address to such a directory", .0.display())]
    NoRoot(std::path::PathBuf),
}

/// A way to reach one host.
#[derive(Debug)]
pub enum Transport {
    Local(local::LocalTransport),
    Ssh(ssh::SshTransport),
    Chroot(chroot::ChrootTransport),
}

impl Transport {
    /// Runs `script` with `sh` on the host, feeding `stdin` to it. One call is one round trip.
    pub async fn exec(&self, script: &str, stdin: Vec<u8>) -> Result<ExecOutput, TransportError> {
        match self {
            Transport::Local(t) => t.exec(script, stdin).await,
            Transport::Ssh(t) => Ok(t.exec(script, stdin).await?),
            Transport::Chroot(t) => t.exec(script, stdin).await,
        }
    }
}

/// Quotes `value` as one POSIX `sh` word: wrapped in single quotes, with each `'`
/// written as `'\''`. Every value that enters a generated script goes through here.
pub fn sh_quote(value: &str) -> String {
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('\'');
    for c in value.chars() {
        if c == '\'' {
            quoted.push_str("'\\''");
        } else {
            quoted.push(c);
        }
    }
    quoted.push('\'');
    quoted
}

#[cfg(test)]
mod tests {
    use super::sh_quote;

    #[test]
    fn quoting_survives_a_real_shell() {
        for value in [
            "plain",
            "",
            "it's",
            "$(touch /nonexistent)",
            "a\nb",
            "'\"\\`*?",
        ] {
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("printf %s {}", sh_quote(value)))
                .output()
                .unwrap();
            assert_eq!(String::from_utf8(out.stdout).unwrap(), value);
        }
    }
}
