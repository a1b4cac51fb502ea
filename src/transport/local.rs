//! The `local` transport: scripts run with `sh` on the machine ferry runs on.

use std::process::Stdio;

use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use super::{ExecOutput, TransportError};

#[derive(Debug, Default, Clone)]
pub struct LocalTransport;

impl LocalTransport {
    pub async fn exec(&self, script: &str, stdin: Vec<u8>) -> Result<ExecOutput, TransportError> {
        let mut command = Command::new("sh");
        command.arg("-c").arg(script);
        run(command, stdin).await
    }
}

/// Runs `command` with `stdin` fed to it and collects its output (shared with `chroot`).
pub(super) async fn run(
    mut command: Command,
    stdin: Vec<u8>,
) -> Result<ExecOutput, TransportError> {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(TransportError::Spawn)?;
    let mut pipe = child
        .stdin
        .take()
        .expect("stdin was requested as piped; this is a bug");
    // Feed stdin while the script runs, so a script that reads little cannot deadlock us.
    let writer = tokio::spawn(async move {
        // A script may exit without reading all of stdin; that is not an error.
        let _ = pipe.write_all(&stdin).await;
        let _ = pipe.shutdown().await;
    });
    let output = child.wait_with_output().await.map_err(TransportError::Io)?;
    let _ = writer.await;
    Ok(ExecOutput {
        status: output.status.code(),
        stdout: output.stdout,
        stderr: output.stderr,
    })
}
