//! `[app]` releases on real SSH hosts: install version A then B from signed dist output,
//! roll back to A, refuse a tampered artifact, and `--auto-rollback` after a failing canary.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::ferry::{Run, Sandbox};
use crate::support::hosts::Testbed;

/// A release directory shaped like `cargo xtask dist` output: a tar.gz per platform with
/// a top-level directory, `.minisig` signatures and a dist-manifest.json.
struct Dist {
    dir: PathBuf,
}

fn stripped_ferry(work: &Path) -> PathBuf {
    let out = work.join("ferry-bin");
    if !out.exists() {
        let st = Command::new("strip")
            .arg("-o")
            .arg(&out)
            .arg(env!("CARGO_BIN_EXE_ferry"))
            .status()
            .expect("strip runs");
        assert!(st.success());
    }
    out
}

fn make_dist(work: &Path, version: &str, keys: &minisign::KeyPair) -> Dist {
    let dir = work.join(format!("dist-{version}"));
    let name = format!("ferry-{version}-linux-amd64-gnu-complete");
    let stage = dir.join("stage").join(&name);
    std::fs::create_dir_all(&stage).unwrap();
    std::fs::copy(stripped_ferry(work), stage.join("ferry")).unwrap();
    std::fs::write(stage.join("VERSION"), format!("{version}\n")).unwrap();
    let archive = format!("{name}.tar.gz");
    let st = Command::new("tar")
        .arg("-czf")
        .arg(dir.join(&archive))
        .arg("-C")
        .arg(dir.join("stage"))
        .arg(&name)
        .status()
        .unwrap();
    assert!(st.success());
    let bytes = std::fs::read(dir.join(&archive)).unwrap();
    let sig = minisign::sign(
        Some(&keys.pk),
        &keys.sk,
        &bytes[..],
        Some(&format!("file:{archive}")),
        None,
    )
    .unwrap();
    std::fs::write(dir.join(format!("{archive}.minisig")), sig.to_string()).unwrap();
    let sha = ferry::resource::sha256_hex(&bytes);
    let manifest = serde_json::json!({
        "dist_version": "ferry-xtask 0.0.0",
        "announcement_tag": format!("v{version}"),
        "releases": [{"app_name": "ferry", "app_version": version, "artifacts": [archive]}],
        "artifacts": {
            archive.clone(): {
                "name": archive, "kind": "executable-zip", "target_triples": ["x86_64-unknown-linux-gnu"],
                "assets": [{"name": "ferry", "path": format!("{name}/ferry"), "kind": "executable"}],
                "checksums": {"sha256": sha},
                "ferry": {"variant": "complete", "platform": "linux-amd64-gnu", "format": "tar.gz", "size": bytes.len(), "sha256": sha, "signature": format!("{archive}.minisig")}
            }
        },
        "ferry": {"schema_version": 1}
    });
    std::fs::write(
        dir.join("dist-manifest.json"),
        serde_json::to_vec_pretty(&manifest).unwrap(),
    )
    .unwrap();
    Dist { dir }
}

fn env_file(tb: &Testbed, work: &Path, keys: &minisign::KeyPair, extra: &str) -> String {
    let mut s = format!(
        r#"[provider]
type = "static"

[app]
root = "/srv/app"
keep = 3
shared = ["logs"]
manifest = "{}/dist-{{version}}/dist-manifest.json"
public_key = "{}"
notify = ["restarted"]

[handlers.restarted]
command = "readlink /srv/app/current >> /srv/restarts"

[[test]]
name = "current release runs"
command = "/srv/app/current/ferry --version"
"#,
        work.display(),
        keys.pk.to_base64()
    );
    s.push_str(extra);
    for h in tb.hosts() {
        s.push_str(&h.env_entry());
    }
    s
}

/// A configured environment `prod` on the testbed with signed dists of 1.0.0 and 2.0.0 in
/// the sandbox; `extra` is appended to the environment file.
fn prod_with_two_releases(tb: &Testbed, extra: &str) -> Sandbox {
    let sb = Sandbox::new();
    let keys = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
    make_dist(sb.path(), "1.0.0", &keys);
    make_dist(sb.path(), "2.0.0", &keys);
    sb.create("prod", &env_file(tb, sb.path(), &keys, extra));
    sb.ferry(&["provision", "prod"]).ok();
    sb.ferry(&["configure", "prod"]).ok();
    sb
}

fn current(h: &crate::support::hosts::Host) -> String {
    std::fs::read_link(h.srv.join("app/current"))
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

#[test]
fn releases_switch_atomically_and_roll_back_without_downloading() {
    let Some(tb) = Testbed::up(3) else { return };
    let sb = prod_with_two_releases(&tb, "");

    let r = sb
        .ferry(&["release", "prod", "--version", "1.0.0", "--json"])
        .ok()
        .json();
    assert_eq!(
        r["hosts"][0]["changes"][0]["summary"],
        "install and switch to 1.0.0 (from nothing)"
    );
    assert!(r["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .all(|h| h["round_trips"] == 2));
    sb.ferry(&["release", "prod", "--version", "2.0.0"]).ok();
    for h in tb.hosts() {
        assert_eq!(current(h), "releases/2.0.0", "{}", h.name);
        let out = Command::new(h.srv.join("app/releases/1.0.0/ferry"))
            .args(["--version", "--json"])
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            v["variant"],
            ferry::version::VARIANT,
            "the binary shipped in the release runs"
        );
        assert_eq!(
            std::fs::read_to_string(h.srv.join("app/releases/2.0.0/VERSION")).unwrap(),
            "2.0.0\n"
        );
        assert!(h.srv.join("app/shared/logs").is_dir());
        assert_eq!(
            std::fs::read_link(h.srv.join("app/releases/2.0.0/logs")).unwrap(),
            Path::new("/srv/app/shared/logs")
        );
        assert_eq!(
            std::fs::read_to_string(h.srv.join("restarts")).unwrap(),
            "releases/1.0.0\nreleases/2.0.0\n",
            "the handler ran after each switch"
        );
    }
    // Releasing the current version again changes nothing.
    let r = sb
        .ferry(&["release", "prod", "--version", "2.0.0", "--json"])
        .ok()
        .json();
    assert!(r["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .all(|h| h["changes"].as_array().unwrap().is_empty()));

    // Rollback: the artifacts can be gone, nothing is downloaded.
    std::fs::remove_dir_all(sb.path().join("dist-1.0.0")).unwrap();
    std::fs::remove_dir_all(sb.state_dir().join("cache")).unwrap();
    let r = sb.ferry(&["rollback", "prod", "--json"]).ok().json();
    assert_eq!(
        r["hosts"][0]["changes"][0]["summary"],
        "roll back to 1.0.0 (from 2.0.0)"
    );
    assert!(r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["checks"][0]["passed"] == true));
    for h in tb.hosts() {
        assert_eq!(current(h), "releases/1.0.0");
    }
    let status = sb.ferry(&["status", "prod"]).ok().stdout;
    assert!(
        status.contains("release 1.0.0 (on disk: 1.0.0 2.0.0;"),
        "status shows the hosts as the rollback left them: {status}"
    );
    let r = sb.ferry(&["rollback", "prod", "--to", "0.9.0"]).code(1);
    assert!(
        r.stderr
            .contains("release 0.9.0 is not on this host (releases there: 1.0.0, 2.0.0)"),
        "{}",
        r.stderr
    );
    let status = sb.ferry(&["status", "prod"]).ok().stdout;
    assert!(
        status.contains("release 1.0.0") && status.contains("on disk: 1.0.0 2.0.0"),
        "{status}"
    );
    let status = sb.ferry(&["status", "prod", "--json"]).ok().json();
    for h in status["hosts"].as_array().unwrap() {
        let app = &h["app"];
        assert_eq!(app["current"], "1.0.0", "{h}");
        assert_eq!(
            app["releases"],
            serde_json::json!(["1.0.0", "2.0.0"]),
            "{h}"
        );
        let switches = app["switches"].as_array().unwrap();
        let versions: Vec<&str> = switches
            .iter()
            .map(|s| s["version"].as_str().unwrap())
            .collect();
        assert_eq!(versions, ["1.0.0", "2.0.0", "1.0.0"], "{h}");
        assert!(
            switches
                .iter()
                .all(|s| s["at"].as_str().unwrap().len() >= 19),
            "every switch has its time: {h}"
        );
    }
    let history = sb.history("prod");
    assert!(history
        .iter()
        .any(|h| h["command"].as_str().unwrap().starts_with("rollback")));
}

#[test]
fn a_tampered_artifact_is_refused_before_any_host_changes() {
    let Some(tb) = Testbed::up(3) else { return };
    let sb = Sandbox::new();
    let keys = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
    let dist = make_dist(sb.path(), "1.0.0", &keys);
    sb.create("prod", &env_file(&tb, sb.path(), &keys, ""));
    sb.ferry(&["provision", "prod"]).ok();
    sb.ferry(&["configure", "prod"]).ok();
    let archive = dist.dir.join("ferry-1.0.0-linux-amd64-gnu-complete.tar.gz");
    let mut bytes = std::fs::read(&archive).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 0xff;
    std::fs::write(&archive, &bytes).unwrap();
    let r = sb.ferry(&["release", "prod", "--version", "1.0.0"]).code(1);
    assert!(
        r.stderr.contains("does not match the manifest: SHA-256 is"),
        "{}",
        r.stderr
    );
    for h in tb.hosts() {
        assert!(!h.srv.join("app").exists(), "{} was touched", h.name);
    }

    // Right digest, wrong signer: refused too.
    let other = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
    make_dist(sb.path(), "1.1.0", &other);
    let r = sb.ferry(&["release", "prod", "--version", "1.1.0"]).code(1);
    assert!(
        r.stderr.contains("minisign signature does not verify"),
        "{}",
        r.stderr
    );
    assert_eq!(
        sb.state("prod")["state"],
        "configured",
        "a refused release records no failure: nothing ran"
    );
}

#[test]
fn auto_rollback_switches_the_canary_back_when_its_checks_fail() {
    let Some(tb) = Testbed::up(3) else { return };
    let check = "\n[[test]]\nname = \"not 2.0.0\"\ncommand = \"! grep -q 2.0.0 /srv/app/current/VERSION\"\n";
    let sb = prod_with_two_releases(&tb, check);
    sb.ferry(&["release", "prod", "--version", "1.0.0"]).ok();
    let r = sb
        .ferry(&[
            "release",
            "prod",
            "--version",
            "2.0.0",
            "--canary",
            "1",
            "--auto-rollback",
            "--json",
        ])
        .code(1)
        .json();
    let stopped = r["stopped"].as_str().unwrap();
    assert!(
        stopped.contains("canary checks failed on h1")
            && stopped.contains("--auto-rollback switched h1 back"),
        "{stopped}"
    );
    for h in tb.hosts() {
        assert_eq!(current(h), "releases/1.0.0", "{}", h.name);
    }
    assert!(
        !tb.host("h2").srv.join("app/releases/2.0.0").exists(),
        "the rest were never touched"
    );
}

#[test]
fn a_rollback_goes_through_the_canary_like_a_release() {
    let Some(tb) = Testbed::up(3) else { return };
    // Once /srv/guard exists, only 2.0.0 passes the check: rolling the canary back fails it.
    let check = "\n[[test]]\nname = \"on 2.0.0\"\ncommand = \"! test -e /srv/guard || grep -q 2.0.0 /srv/app/current/VERSION\"\n";
    let sb = prod_with_two_releases(&tb, check);
    sb.ferry(&["release", "prod", "--version", "1.0.0"]).ok();
    sb.ferry(&["release", "prod", "--version", "2.0.0"]).ok();
    for h in tb.hosts() {
        std::fs::write(h.srv.join("guard"), "").unwrap();
    }
    let r = sb
        .ferry(&["rollback", "prod", "--canary", "1", "--json"])
        .code(1)
        .json();
    let stopped = r["stopped"].as_str().unwrap();
    assert!(stopped.contains("canary checks failed on h1"), "{stopped}");
    assert_eq!(current(tb.host("h1")), "releases/1.0.0");
    for h in ["h2", "h3"] {
        assert_eq!(
            current(tb.host(h)),
            "releases/2.0.0",
            "{h} is not rolled back after a failed canary"
        );
    }
}

/// `openssl s_server -WWW` serving `root` over TLS on loopback with a fresh self-signed
/// certificate for 127.0.0.1; stopped when dropped.
struct HttpsServer {
    child: std::process::Child,
    port: u16,
    /// The CA certificate to trust.
    ca: PathBuf,
}

const MAKE_CERTS: &str = r#"set -e; cd "$1"
ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
openssl req -x509 $ec -days 2 -subj '/CN=ferry test CA' -keyout ca.key -out ca.pem
openssl req $ec -subj /CN=127.0.0.1 -keyout server.key -out server.csr
printf 'basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\n' > server.ext
openssl x509 -req -days 2 -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -extfile server.ext -out server.pem
"#;

impl HttpsServer {
    fn start(root: &Path, work: &Path) -> Option<HttpsServer> {
        if Command::new("openssl").arg("version").output().is_err() {
            assert!(
                std::env::var_os("CI").is_none(),
                "openssl is missing under CI; .ci/run installs it"
            );
            eprintln!("SKIPPED: openssl is not installed");
            return None;
        }
        // A CA and a server certificate it signs (webpki refuses a CA as the server's).
        let tls = work.join("tls");
        std::fs::create_dir_all(&tls).unwrap();
        let out = Command::new("sh")
            .args(["-c", MAKE_CERTS, "sh"])
            .arg(&tls)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (cert, key) = (tls.join("server.pem"), tls.join("server.key"));
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("openssl")
            .args(["s_server", "-quiet", "-WWW", "-accept"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("-cert")
            .arg(&cert)
            .arg("-key")
            .arg(&key)
            .current_dir(root)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let server = HttpsServer {
            child,
            port,
            ca: tls.join("ca.pem"),
        };
        // Bounded: 100 tries, 50 ms apart.
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(server);
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("openssl s_server did not listen on {port}");
    }
}

impl Drop for HttpsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_release_manifest_over_https_is_fetched_with_the_trusted_roots() {
    let Some(tb) = Testbed::up(2) else { return };
    let sb = prod_with_two_releases(&tb, "");
    let Some(server) = HttpsServer::start(sb.path(), sb.path()) else {
        return;
    };
    let url = |v: &str| {
        format!(
            "https://127.0.0.1:{}/dist-{v}/dist-manifest.json",
            server.port
        )
    };

    if cfg!(not(feature = "complete")) {
        let r = sb
            .ferry(&[
                "release",
                "prod",
                "--version",
                "1.0.0",
                "--manifest",
                &url("1.0.0"),
            ])
            .code(1);
        assert!(
            r.stderr.contains("minimal build of ferry, without TLS"),
            "{}",
            r.stderr
        );
        return;
    }
    // Release 1.0.0 from the https manifest, trusting `ca` (or only the built-in roots).
    let release = |ca: Option<&Path>| -> Run {
        let mut c = sb.command(&[
            "release",
            "prod",
            "--version",
            "1.0.0",
            "--manifest",
            &url("1.0.0"),
        ]);
        match ca {
            Some(ca) => c.env("SSL_CERT_FILE", ca),
            None => c.env_remove("SSL_CERT_FILE"),
        };
        c.output().unwrap().into()
    };
    // A certificate nobody trusts: refused, with the way to trust it, and nothing changes.
    let r = release(None);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("SSL_CERT_FILE"), "{}", r.stderr);
    for h in tb.hosts() {
        assert!(!h.srv.join("app").exists(), "{} was touched", h.name);
    }

    let r = release(Some(&server.ca));
    assert_eq!(r.code, 0, "{}", r.stderr);
    for h in tb.hosts() {
        assert_eq!(current(h), "releases/1.0.0", "{}", h.name);
        assert_eq!(
            std::fs::read_to_string(h.srv.join("app/releases/1.0.0/VERSION")).unwrap(),
            "1.0.0\n"
        );
    }
}
