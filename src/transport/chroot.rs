//! The `chroot` transport: scripts run with `chroot <root> sh -c` on the machine ferry runs
//! on, so a host can be a directory holding a root filesystem (a minbase Debian made by
//! mmdebstrap, an image being prepared). Packages, users and services are managed inside
//! that root, not on the machine itself. Needs root, like `chroot`.

use std::path::{Path, PathBuf};

use tokio::process::Command;

use super::local::run;
use super::{ExecOutput, TransportError};

#[derive(Debug, Clone)]
pub struct ChrootTransport {
    root: PathBuf,
}

impl ChrootTransport {
    /// A transport into `root`, which must hold a root filesystem with a `/bin/sh`.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, TransportError> {
        let root = root.into();
        // Checked here so a wrong address is one clear error, not a failed explore script.
        if !root.join("bin/sh").exists() {
            return Err(TransportError::NoRoot(root));
        }
        Ok(ChrootTransport { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub async fn exec(&self, script: &str, stdin: Vec<u8>) -> Result<ExecOutput, TransportError> {
        let mut command = Command::new("chroot");
        command.arg(&self.root).args(["/bin/sh", "-c", script]);
        // Nothing runs in a chroot: systemctl must edit unit files (enable, disable,
        // is-enabled) instead of looking for a service manager's bus, which without
        // /proc it cannot tell is absent.
        command.env("SYSTEMD_OFFLINE", "1");
        run(command, stdin).await
    }
}
