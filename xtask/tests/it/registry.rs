//! A throwaway OCI registry (Debian's `docker-registry`, distribution v2.8) on loopback, plain
//! HTTP, with its own config and data directory, stopped when dropped.
//!
//! The port is picked by binding port 0 and releasing it; a start that loses the race to
//! another process retries on a new port.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Registry {
    pub port: u16,
    child: Child,
    pub dir: tempfile::TempDir,
}

impl Registry {
    /// Starts a registry; with `htpasswd` (a bcrypt file from `htpasswd -B`) it needs basic auth.
    pub fn start(htpasswd: Option<&Path>) -> Registry {
        let mut last_log = String::new();
        for _ in 0..3 {
            let dir = tempfile::tempdir().unwrap();
            let port = free_port();
            let storage = dir.path().join("storage");
            std::fs::create_dir_all(&storage).unwrap();
            let mut config = format!(
                "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: ferry-test-{port}\n",
                storage.display()
            );
            if let Some(h) = htpasswd {
                config.push_str(&format!(
                    "auth:\n  htpasswd:\n    realm: ferry-test\n    path: {}\n",
                    h.display()
                ));
            }
            let config_path = dir.path().join("config.yml");
            std::fs::write(&config_path, config).unwrap();
            let log_path = dir.path().join("registry.log");
            let log = std::fs::File::create(&log_path).unwrap();
            let mut cmd = Command::new("docker-registry");
            cmd.arg("serve")
                .arg(&config_path)
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log);
            // Own process group: a Ctrl-C of the test run is not delivered to it twice, and
            // Drop stops it explicitly.
            std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
            let mut child = cmd.spawn().expect("starting docker-registry");
            let mut ready = false;
            for _ in 0..100 {
                if child.try_wait().unwrap().is_some() {
                    break;
                }
                if let Some(code) = v2_status(port) {
                    ready = code == 200 || code == 401;
                    if ready {
                        break;
                    }
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            if ready {
                return Registry { port, child, dir };
            }
            let _ = child.kill();
            let _ = child.wait();
            last_log = std::fs::read_to_string(&log_path).unwrap_or_default();
        }
        panic!("docker-registry did not start on loopback (3 tries); last log:\n{last_log}");
    }

    /// `127.0.0.1:PORT/NAME`.
    pub fn repo(&self, name: &str) -> String {
        format!("127.0.0.1:{}/{name}", self.port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The status code of `GET /v2/`, or `None` while nothing answers.
fn v2_status(port: u16) -> Option<u16> {
    let mut s =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(200))
            .ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(format!("GET /v2/ HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n").as_bytes())
        .ok()?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).ok()?;
    let line = String::from_utf8_lossy(&buf[..n]);
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A bcrypt htpasswd file (registry requires bcrypt) made with `htpasswd -Bbn`.
pub fn htpasswd(dir: &Path, user: &str, password: &str) -> PathBuf {
    let out = Command::new("htpasswd")
        .args(["-Bbn", user, password])
        .output()
        .expect("running htpasswd");
    assert!(out.status.success(), "htpasswd failed");
    let path = dir.join("htpasswd");
    std::fs::write(&path, out.stdout).unwrap();
    path
}
