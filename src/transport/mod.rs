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
        let (script, stdin) = frame(script, stdin);
        match self {
            Transport::Local(t) => t.exec(&script, stdin).await,
            Transport::Ssh(t) => Ok(t.exec(&script, stdin).await?),
            Transport::Chroot(t) => t.exec(&script, stdin).await,
        }
    }
}

/// Scripts longer than this travel on stdin. Every transport hands the script to `sh -c` as
/// one argument, and Linux refuses a single argument over 128 KiB (MAX_ARG_STRLEN), which a
/// plan with a few thousand resources reaches.
const INLINE_SCRIPT_MAX: usize = 64 * 1024;

/// Unpacks a tar of `script` and `stdin` (see [`frame`]) and runs the one fed the other.
const BOOTSTRAP: &str = r#"_f=$(mktemp -d "${TMPDIR:-/tmp}/ferry-script.XXXXXX") || exit 90
tar -xf - -C "$_f" || { rm -rf "$_f"; echo 'ferry: cannot unpack the script on this host' >&2; exit 91; }
sh "$_f/script" < "$_f/stdin"; _rc=$?; rm -rf "$_f"; exit $_rc"#;

/// `script` and `stdin` as they go to the host: unchanged when the script is short, else a
/// small bootstrap script with both in a tar on stdin.
fn frame(script: &str, stdin: Vec<u8>) -> (std::borrow::Cow<'_, str>, Vec<u8>) {
    if script.len() <= INLINE_SCRIPT_MAX {
        return (script.into(), stdin);
    }
    let mut tar = tar::Builder::new(Vec::with_capacity(script.len() + stdin.len() + 4096));
    for (name, bytes) in [("script", script.as_bytes()), ("stdin", &stdin)] {
        let mut header = tar::Header::new_ustar();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o600);
        header.set_mtime(0);
        header.set_cksum();
        tar.append_data(&mut header, name, bytes)
            .expect("writing a tar to memory cannot fail; this is a bug");
    }
    let framed = tar
        .into_inner()
        .expect("writing a tar to memory cannot fail; this is a bug");
    (BOOTSTRAP.into(), framed)
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
    use super::{sh_quote, Transport, INLINE_SCRIPT_MAX};

    #[tokio::test]
    async fn a_script_over_the_argument_limit_runs_with_its_stdin() {
        // 300 KiB of script: over Linux's 128 KiB limit for one argument.
        let mut script = String::from("set -e\n");
        while script.len() < 300 * 1024 {
            script.push_str(": this line pads the script to well over the argument limit\n");
        }
        assert!(script.len() > 2 * INLINE_SCRIPT_MAX);
        script.push_str("printf '%s|' \"$(cat)\"; echo \"$#\"\n");
        let transport = Transport::Local(super::local::LocalTransport);
        let out = transport
            .exec(&script, b"the stdin".to_vec())
            .await
            .unwrap();
        assert!(out.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8(out.stdout).unwrap(), "the stdin|0\n");
        // The exit status is the script's.
        let failing = format!("{script}exit 7\n");
        let out = transport.exec(&failing, Vec::new()).await.unwrap();
        assert_eq!(out.status, Some(7));
    }

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
