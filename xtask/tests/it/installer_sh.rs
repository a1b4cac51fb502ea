//! The rendered `install.sh` of the shared host dist: shellcheck, a snapshot, and real runs
//! under dash, bash and busybox sh against a loopback HTTP server that serves dist dirs in
//! GitHub's release URL layout.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::packages::{dist_of_version, sh, sh_ok, workspace_version};
use crate::support::{copy_dir, find_tool, host_dist, require_tools};

/// A static file server on 127.0.0.1 (ephemeral port), stopped when dropped.
struct Server {
    url: String,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    fn start(root: PathBuf) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let _ = serve(stream, &root);
                    }
                    Err(_) => std::thread::sleep(std::time::Duration::from_millis(5)),
                }
            }
        });
        Self {
            url,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(stream: TcpStream, root: &Path) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    // Headers up to the blank line (bounded: a client sends a handful).
    for _ in 0..100 {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
    }
    let path = request.split_whitespace().nth(1).unwrap_or("/");
    let mut out = stream;
    let file = (!path.contains(".."))
        .then(|| root.join(path.trim_start_matches('/')))
        .filter(|p| p.is_file());
    match file.map(std::fs::read) {
        Some(Ok(body)) => {
            write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )?;
            out.write_all(&body)?;
        }
        _ => write!(
            out,
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )?,
    }
    out.flush()
}

/// `root/latest/download/*` and `root/download/v<version>/*`: GitHub's release layout.
fn site(latest: &Path, releases: &[(&str, &Path)]) -> tempfile::TempDir {
    let site = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(site.path().join("latest")).unwrap();
    std::os::unix::fs::symlink(latest, site.path().join("latest/download")).unwrap();
    std::fs::create_dir_all(site.path().join("download")).unwrap();
    for (v, dir) in releases {
        std::os::unix::fs::symlink(dir, site.path().join(format!("download/v{v}"))).unwrap();
    }
    site
}

#[derive(Clone, Copy, Debug)]
enum Shell {
    Dash,
    Bash,
    Busybox,
}

/// A directory of tool symlinks to use as PATH. bash runs without curl (so wget is used);
/// busybox runs with nothing but its own applets (its wget, sha256sum, tar; no minisign).
fn tool_path(shell: Shell, dir: &Path) -> String {
    let link = |name: &str, to: &Path| {
        let _ = std::os::unix::fs::symlink(to, dir.join(name));
    };
    match shell {
        Shell::Busybox => {
            let bb = find_tool("busybox").unwrap();
            let list = sh_ok(Command::new(&bb).arg("--list"));
            for applet in list.lines() {
                link(applet, &bb);
            }
        }
        Shell::Dash | Shell::Bash => {
            for t in [
                "sh",
                "dash",
                "bash",
                "curl",
                "wget",
                "uname",
                "ldd",
                "grep",
                "sed",
                "awk",
                "cut",
                "mktemp",
                "rm",
                "mkdir",
                "cp",
                "chmod",
                "mv",
                "cat",
                "tar",
                "gzip",
                "date",
                "id",
                "sha256sum",
                "minisign",
                "rmdir",
                "env",
                "printf",
            ] {
                if matches!(shell, Shell::Bash) && t == "curl" {
                    continue;
                }
                if let Some(p) = find_tool(t) {
                    link(t, &p);
                }
            }
        }
    }
    dir.display().to_string()
}

struct Run {
    home: tempfile::TempDir,
    tools: tempfile::TempDir,
    shell: Shell,
    script: PathBuf,
}

impl Run {
    fn new(shell: Shell) -> Self {
        let script = host_dist().out.path().join("install.sh");
        Self {
            home: tempfile::tempdir().unwrap(),
            tools: tempfile::tempdir().unwrap(),
            shell,
            script,
        }
    }

    fn bin(&self) -> PathBuf {
        self.home.path().join(".local/bin/ferry")
    }

    fn receipt(&self) -> PathBuf {
        self.home.path().join(".config/ferry/install-receipt.json")
    }

    fn install(&self, url: &str, args: &[&str]) -> Output {
        let path = tool_path(self.shell, self.tools.path());
        let mut c = match self.shell {
            Shell::Dash => Command::new(find_tool("dash").unwrap()),
            Shell::Bash => Command::new(find_tool("bash").unwrap()),
            Shell::Busybox => {
                let mut c = Command::new(find_tool("busybox").unwrap());
                c.arg("sh");
                c
            }
        };
        c.arg(&self.script)
            .arg("--base-url")
            .arg(url)
            .args(args)
            .env_clear()
            .env("HOME", self.home.path())
            // Tests run as root: without this the installer would pick /usr/local/bin.
            .env("FERRY_INSTALL_DIR", self.home.path().join(".local/bin"))
            .env("PATH", path);
        sh(&mut c)
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn lifecycle(shell: Shell) {
    let d = host_dist();
    let v = workspace_version();
    let old = dist_of_version("0.0.1");
    let site = site(d.out.path(), &[(&v, d.out.path()), ("0.0.1", old)]);
    let server = Server::start(site.path().to_owned());
    let r = Run::new(shell);

    // Fresh install of the latest release (resolved through latest.json).
    let out = r.install(&server.url, &[]);
    assert!(out.status.success(), "{shell:?}: {}", stderr(&out));
    let log = stdout(&out);
    assert!(log.lines().count() <= 8, "a few lines, not a wall:\n{log}");
    if matches!(shell, Shell::Busybox) {
        assert!(log.contains("minisign not found"), "{log}");
    } else {
        assert!(log.contains("minisign signature"), "{log}");
    }
    let version = sh_ok(Command::new(r.bin()).arg("--version"));
    assert!(
        version.contains(&v) && version.contains("complete"),
        "{version}"
    );
    let receipt = std::fs::read_to_string(r.receipt()).unwrap();
    for want in [
        format!("\"version\": \"{v}\""),
        "\"variant\": \"complete\"".to_owned(),
        format!("\"path\": \"{}\"", r.bin().display()),
        "\"installed_at\": \"20".to_owned(),
    ] {
        assert!(receipt.contains(&want), "{want} not in\n{receipt}");
    }
    let profile = std::fs::read_to_string(r.home.path().join(".profile")).unwrap();
    assert!(
        profile.contains(&format!(
            "export PATH=\"{}:$PATH\"",
            r.bin().parent().unwrap().display()
        )),
        "{profile}"
    );

    // Reinstall: same result, the PATH line is not added twice.
    let out = r.install(&server.url, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let profile = std::fs::read_to_string(r.home.path().join(".profile")).unwrap();
    assert_eq!(
        profile.matches("added by the ferry installer").count(),
        1,
        "{profile}"
    );

    // A pinned older version, then the minimal variant.
    let out = r.install(&server.url, &["--version", "0.0.1", "--no-modify-path"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(std::fs::read_to_string(r.receipt())
        .unwrap()
        .contains("\"version\": \"0.0.1\""));
    let out = r.install(&server.url, &["--minimal"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let version = sh_ok(Command::new(r.bin()).arg("--version"));
    assert!(version.contains("minimal"), "{version}");

    // Uninstall removes the binary, the PATH line and the receipt.
    let out = r.install(&server.url, &["--uninstall"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!r.bin().exists() && !r.receipt().exists());
    let profile = std::fs::read_to_string(r.home.path().join(".profile")).unwrap();
    assert!(!profile.contains("ferry installer"), "{profile}");
    drop(server);
}

#[test]
fn install_sh_lifecycle_under_dash() {
    if require_tools(
        "install_sh_lifecycle_under_dash",
        &["dash", "curl", "minisign"],
    ) {
        lifecycle(Shell::Dash);
    }
}

#[test]
fn install_sh_lifecycle_under_bash_with_wget() {
    if require_tools(
        "install_sh_lifecycle_under_bash_with_wget",
        &["bash", "wget", "minisign"],
    ) {
        lifecycle(Shell::Bash);
    }
}

#[test]
fn install_sh_lifecycle_under_busybox() {
    if require_tools("install_sh_lifecycle_under_busybox", &["busybox"]) {
        lifecycle(Shell::Busybox);
    }
}

#[test]
fn tampered_archive_is_refused_and_nothing_is_installed() {
    if !require_tools(
        "tampered_archive_is_refused_and_nothing_is_installed",
        &["dash", "curl"],
    ) {
        return;
    }
    let d = host_dist();
    let bad = tempfile::tempdir().unwrap();
    copy_dir(d.out.path(), bad.path());
    let v = workspace_version();
    let victim = bad
        .path()
        .join(format!("ferry-{v}-linux-amd64-gnu-complete.tar.gz"));
    let mut bytes = std::fs::read(&victim).unwrap();
    let i = bytes.len() / 2;
    bytes[i] ^= 0x55;
    std::fs::write(&victim, bytes).unwrap();
    let site = site(bad.path(), &[(&v, bad.path())]);
    let server = Server::start(site.path().to_owned());
    let r = Run::new(Shell::Dash);
    let out = r.install(&server.url, &[]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("checksum mismatch") && err.contains("nothing was installed"),
        "{err}"
    );
    assert!(!r.bin().exists() && !r.receipt().exists());
    assert!(!r.home.path().join(".profile").exists());
}

#[test]
fn missing_release_and_missing_minisign_are_clear_errors() {
    if !require_tools(
        "missing_release_and_missing_minisign_are_clear_errors",
        &["dash", "curl", "busybox"],
    ) {
        return;
    }
    let d = host_dist();
    let v = workspace_version();
    let site = site(d.out.path(), &[(&v, d.out.path())]);
    let server = Server::start(site.path().to_owned());
    let r = Run::new(Shell::Dash);
    let out = r.install(&server.url, &["--version", "9.9.9"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("release 9.9.9 not found"),
        "{}",
        stderr(&out)
    );
    let r = Run::new(Shell::Busybox);
    let out = r.install(&server.url, &["--require-signature"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("minisign is not installed"),
        "{}",
        stderr(&out)
    );
    assert!(!r.bin().exists());
    // --dry-run resolves and says what it would do, installing nothing.
    let r = Run::new(Shell::Dash);
    let out = r.install(&server.url, &["--dry-run"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("would install ferry"),
        "{}",
        stdout(&out)
    );
    assert!(!r.bin().exists() && !r.home.path().join(".config").exists());
}

#[test]
fn install_sh_is_shellcheck_clean_and_snapshotted() {
    let script = host_dist().out.path().join("install.sh");
    let text = std::fs::read_to_string(&script).unwrap();
    let v = workspace_version().replace('.', r"\.");
    insta::with_settings!({filters => vec![
        (v.as_str(), "[VERSION]"),
        (r#"PUBLIC_KEY="[A-Za-z0-9+/=]+""#, r#"PUBLIC_KEY="[KEY]""#),
    ]}, {
        insta::assert_snapshot!("install_sh", text);
    });
    if require_tools("install_sh_is_shellcheck_clean", &["shellcheck"]) {
        sh_ok(
            Command::new("shellcheck")
                .args(["--shell=sh", "--severity=style"])
                .arg(&script),
        );
    }
}
