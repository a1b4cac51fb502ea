//! Real SSH test hosts: `tests/support/testbed-hosts.sh` run as root, one network
//! namespace and one sshd per host, torn down when the [`Testbed`] is dropped.
//! Plain std: xtask's tests include this file too (`#[path]`), so ferry's own types stay out.
//!
//! Each testbed claims its own slot K (a directory under /run/ferry-testbeds), so it
//! gets its own namespace prefix `fK` and subnet 10.77.K.0/24 and tests run in
//! parallel, also from several test processes. Traffic goes only to those addresses.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The host script, found from the crate that includes this file: ferry's own tests, or
/// xtask's (which share this module through `#[path]`).
fn script() -> PathBuf {
    let mut dir = Some(Path::new(env!("CARGO_MANIFEST_DIR")));
    while let Some(d) = dir {
        let candidate = d.join("tests/support/testbed-hosts.sh");
        if candidate.is_file() {
            return candidate;
        }
        dir = d.parent();
    }
    panic!("tests/support/testbed-hosts.sh not found above the crate directory");
}

const CLAIMS: &str = "/run/ferry-testbeds";
/// Subnets 10.77.100-254 are ours; 10.77.0 stays free for a testbed started by hand.
const SLOTS: std::ops::RangeInclusive<u32> = 100..=254;

/// One test host as the controller sees it.
#[derive(Debug, Clone)]
pub struct Host {
    /// `h1`, `h2`, ...: also the host's hostname.
    pub name: String,
    pub address: String,
    pub port: u16,
    pub user: String,
    /// The client key every host accepts.
    pub key: PathBuf,
    /// Holds the real host keys of every host in the testbed.
    pub known_hosts: PathBuf,
    /// The host's private /srv, seen from the controller.
    pub srv: PathBuf,
}

impl Host {
    /// This host as a `[[hosts]]` entry of an environment file.
    pub fn env_entry(&self) -> String {
        format!(
            "\n[[hosts]]\nname = {:?}\naddress = {:?}\nport = {}\nuser = {:?}\nkey = {:?}\nknown_hosts = {:?}\n",
            self.name,
            self.address,
            self.port,
            self.user,
            self.key.display().to_string(),
            self.known_hosts.display().to_string()
        )
    }
}

/// A running set of hosts; dropping it stops them.
#[derive(Debug)]
pub struct Testbed {
    dir: tempfile::TempDir,
    claim: PathBuf,
    name: String,
    net: String,
    hosts: Vec<Host>,
}

impl Testbed {
    /// Starts `n` hosts. Returns `None` (after saying why on stderr) when this machine
    /// cannot run them: not root, or `ip`/`sshd`/`ssh-keygen`/`unshare` missing. Under
    /// CI (env `CI` set) that is a failure instead, since `.ci/run` installs them.
    /// Use as `let Some(tb) = Testbed::up(3) else { return };`.
    #[must_use]
    pub fn up(n: usize) -> Option<Testbed> {
        if let Some(missing) = missing_prerequisite() {
            if std::env::var_os("CI").is_some() {
                panic!(
                    "test hosts unavailable under CI: {missing}; .ci/run should have installed it"
                );
            }
            eprintln!("SKIPPED: test needs real SSH hosts, but {missing} (CI fails here instead)");
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("ferry-testbed-")
            .tempdir()
            .expect("creating the testbed directory");
        std::fs::create_dir_all(CLAIMS).expect("creating the testbed claim directory");
        for slot in SLOTS {
            let Some(claim) = claim_slot(slot, dir.path()) else {
                continue;
            };
            let name = format!("f{slot}");
            let net = format!("10.77.{slot}");
            let out = Command::new(script())
                .args(["up", &n.to_string()])
                .arg(dir.path())
                .env("TESTBED_NAME", &name)
                .env("TESTBED_NET", &net)
                .output()
                .expect("running testbed-hosts.sh");
            if !out.status.success() {
                // `down` tolerates a half-built testbed, and one never started.
                let _ = Command::new(script()).arg("down").arg(dir.path()).output();
                let _ = std::fs::remove_dir_all(&claim);
                let stderr = String::from_utf8_lossy(&out.stderr);
                // Something we did not claim (a testbed started by hand?) uses this
                // subnet or prefix: try the next slot.
                if stderr.contains("already routed") || stderr.contains("another testbed") {
                    continue;
                }
                panic!("testbed-hosts.sh up {n} failed:\n{stderr}");
            }
            let mut testbed = Testbed {
                dir,
                claim,
                name,
                net,
                hosts: Vec::new(),
            };
            testbed.hosts = testbed.read_hosts();
            assert_eq!(testbed.hosts.len(), n, "the inventory lists every host");
            return Some(testbed);
        }
        panic!("no free testbed slot in 10.77.{SLOTS:?}; stale claims in {CLAIMS}?");
    }

    fn read_hosts(&self) -> Vec<Host> {
        let inventory = std::fs::read_to_string(self.dir.path().join("inventory"))
            .expect("reading the testbed inventory");
        inventory
            .lines()
            .filter_map(|line| line.split_once(' '))
            .map(|(name, address)| Host {
                name: name.to_string(),
                address: address.to_string(),
                port: 22,
                user: "root".to_string(),
                key: self.dir.path().join("id_ed25519"),
                known_hosts: self.dir.path().join("known_hosts"),
                srv: self.dir.path().join(name).join("fs/srv"),
            })
            .collect()
    }

    pub fn hosts(&self) -> &[Host] {
        &self.hosts
    }

    /// The host named `name` (`h1`...). Panics if there is none.
    pub fn host(&self, name: &str) -> &Host {
        self.hosts
            .iter()
            .find(|h| h.name == name)
            .unwrap_or_else(|| panic!("no host {name} in this testbed"))
    }

    /// The testbed's state directory (keys, known_hosts, per-host files).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// An address in the testbed's subnet where nothing answers: connecting there
    /// stays inside the bridge and times out.
    pub fn unused_address(&self) -> String {
        format!("{}.250", self.net)
    }

    /// Lets `public_key` (one `authorized_keys` line) log in to every host.
    pub fn authorize_key(&self, public_key: &str) {
        use std::io::Write;
        let path = format!("/run/testbed-{}/authorized_keys", self.name);
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("opening {path}: {e}"));
        writeln!(file, "{}", public_key.trim()).expect("adding an authorized key");
    }
}

impl Drop for Testbed {
    fn drop(&mut self) {
        // `down` only stops what `up` recorded in this directory.
        let out = Command::new(script())
            .arg("down")
            .arg(self.dir.path())
            .output();
        match out {
            Ok(out) if out.status.success() => {
                let _ = std::fs::remove_dir_all(&self.claim);
            }
            // Keep the claim so the slot is not reused while something of it may linger;
            // the next `up` that finds the claim's owner dead cleans it up.
            Ok(out) => eprintln!(
                "testbed-hosts.sh down {} failed:\n{}",
                self.dir.path().display(),
                String::from_utf8_lossy(&out.stderr)
            ),
            Err(e) => eprintln!("cannot run testbed-hosts.sh down: {e}"),
        }
    }
}

/// Claims slot `slot` for `dir`, cleaning up a stale claim left by a dead process.
/// `None` when another live testbed holds it.
fn claim_slot(slot: u32, dir: &Path) -> Option<PathBuf> {
    let claim = Path::new(CLAIMS).join(slot.to_string());
    // At most two tries: one may find a stale claim and remove it.
    for _ in 0..2 {
        // create_dir is atomic across processes: exactly one creator wins.
        if std::fs::create_dir(&claim).is_ok() {
            std::fs::write(claim.join("pid"), std::process::id().to_string()).ok()?;
            std::fs::write(claim.join("dir"), dir.as_os_str().as_encoded_bytes()).ok()?;
            return Some(claim);
        }
        let owner = std::fs::read_to_string(claim.join("pid")).ok()?;
        let owner_alive = owner
            .trim()
            .parse::<u32>()
            .map(|pid| Path::new(&format!("/proc/{pid}")).exists())
            .unwrap_or(true);
        if owner_alive {
            return None;
        }
        // The owner died without `down`: stop what it started, then take the slot over.
        if let Ok(old_dir) = std::fs::read_to_string(claim.join("dir")) {
            if Path::new(&old_dir).join("state.env").exists() {
                let _ = Command::new(script()).arg("down").arg(&old_dir).output();
            }
        }
        let _ = std::fs::remove_dir_all(&claim);
    }
    None
}

fn missing_prerequisite() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().next().map(str::to_string));
    if uid.as_deref() != Some("0") {
        return Some("this test process is not root (namespaces and mounts need it)".into());
    }
    for tool in ["ip", "unshare", "ssh-keygen"] {
        let found = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
            .unwrap_or(false);
        if !found {
            return Some(format!("`{tool}` is not installed"));
        }
    }
    if !Path::new("/usr/sbin/sshd").is_file() {
        return Some("/usr/sbin/sshd is not installed (openssh-server)".into());
    }
    None
}
