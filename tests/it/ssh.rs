//! The SSH transport against real sshd's (see `support::hosts`).

use std::time::{Duration, Instant};

use ferry::transport::ssh::{HostKeyProblem, SshError, SshTarget, SshTransport};
use ferry::transport::{Transport, TransportError};
use sha2::{Digest, Sha256};

use crate::support::hosts::Testbed;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

async fn connect(target: &SshTarget) -> SshTransport {
    SshTransport::connect(target)
        .await
        .unwrap_or_else(|e| panic!("connecting: {e}"))
}

fn problem(err: &SshError) -> &HostKeyProblem {
    match err {
        SshError::HostKey { problem, .. } => problem,
        other => panic!("expected a host key refusal, got: {other}"),
    }
}

#[test]
fn exec_returns_stdout_stderr_and_status() {
    let Some(tb) = Testbed::up(1) else { return };
    let h1 = tb.host("h1");
    runtime().block_on(async {
        let ssh = connect(&h1.ssh_target()).await;
        let out = ssh
            .exec("hostname; echo oops >&2; exit 3", Vec::new())
            .await
            .unwrap();
        assert_eq!(out.stdout, b"h1\n");
        assert_eq!(out.stderr, b"oops\n");
        assert_eq!(out.status, Some(3));
        // Quotes, `$()` and newlines in the script arrive as written.
        let out = ssh
            .exec("printf '%s|' \"it's\" '$(id)'\necho", Vec::new())
            .await
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "it's|$(id)|\n");
        assert!(out.success());
        // Killed by a signal: no status.
        let out = ssh.exec("kill -9 $$", Vec::new()).await.unwrap();
        assert_eq!(out.status, None);
        // Writes land in the host's private /srv, visible from the controller.
        ssh.exec("echo hi > /srv/marker", Vec::new()).await.unwrap();
        assert_eq!(std::fs::read(h1.srv.join("marker")).unwrap(), b"hi\n");
    });
}

#[test]
fn through_the_transport_enum() {
    let Some(tb) = Testbed::up(1) else { return };
    runtime().block_on(async {
        let t = Transport::Ssh(connect(&tb.host("h1").ssh_target()).await);
        let out = t.exec("cat", b"abc".to_vec()).await.unwrap();
        assert_eq!(out.stdout, b"abc");
    });
}

#[test]
fn streams_a_multi_mib_stdin() {
    let Some(tb) = Testbed::up(1) else { return };
    let h1 = tb.host("h1");
    // 8 MiB of varied bytes, more than a channel window, so flow control is exercised.
    let payload: Vec<u8> = (0..8u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let expected = format!("{:x}", Sha256::digest(&payload));
    runtime().block_on(async {
        let ssh = connect(&h1.ssh_target()).await;
        let started = Instant::now();
        let out = ssh
            .exec(
                "cat > /srv/payload && sha256sum /srv/payload",
                payload.clone(),
            )
            .await
            .unwrap();
        eprintln!("8 MiB stdin: {:?}", started.elapsed());
        assert!(out.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(
            String::from_utf8_lossy(&out.stdout).starts_with(&expected),
            "remote sha256 {:?} != {expected}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert_eq!(std::fs::read(h1.srv.join("payload")).unwrap(), payload);
        // A large stdout comes back whole too, while stdin is still being sent.
        let out = ssh
            .exec("cat; head -c 3000000 /dev/zero", payload.clone())
            .await
            .unwrap();
        assert_eq!(out.stdout.len(), payload.len() + 3_000_000);
        // A script that ignores its stdin still finishes.
        let out = ssh.exec("echo done", payload).await.unwrap();
        assert_eq!(out.stdout, b"done\n");
    });
}

#[test]
fn one_connection_serves_many_execs_also_concurrently() {
    let Some(tb) = Testbed::up(1) else { return };
    let h1 = tb.host("h1");
    runtime().block_on(async {
        let started = Instant::now();
        let ssh = std::sync::Arc::new(connect(&h1.ssh_target()).await);
        let connect_time = started.elapsed();
        // The same sshd child serves every channel: its pid is the parent of each script.
        let first = ssh.exec("echo $PPID", Vec::new()).await.unwrap().stdout;
        let mut times = Vec::new();
        for _ in 0..50 {
            let t = Instant::now();
            let out = ssh.exec("echo $PPID", Vec::new()).await.unwrap();
            times.push(t.elapsed());
            assert_eq!(out.stdout, first, "a new connection was opened");
        }
        times.sort();
        eprintln!(
            "connect {connect_time:?}; exec round trip over 50 runs: median {:?}, p90 {:?}, max {:?}",
            times[25], times[45], times[49]
        );
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let ssh = ssh.clone();
                tokio::spawn(async move {
                    ssh.exec(&format!("sleep 0.2; echo {i}"), Vec::new()).await
                })
            })
            .collect();
        let t = Instant::now();
        for (i, task) in tasks.into_iter().enumerate() {
            let out = task.await.unwrap().unwrap();
            assert_eq!(out.stdout, format!("{i}\n").as_bytes());
        }
        // Eight 0.2 s scripts in parallel on one connection take far less than 1.6 s.
        assert!(t.elapsed() < Duration::from_millis(1200), "{:?}", t.elapsed());
        std::sync::Arc::into_inner(ssh).unwrap().close().await;
    });
}

#[test]
fn several_hosts_in_parallel() {
    let Some(tb) = Testbed::up(4) else { return };
    runtime().block_on(async {
        let started = Instant::now();
        let tasks: Vec<_> = tb
            .hosts()
            .iter()
            .map(|h| {
                let target = h.ssh_target();
                tokio::spawn(async move {
                    let ssh = SshTransport::connect(&target).await?;
                    ssh.exec("hostname; echo x > /srv/who", Vec::new()).await
                })
            })
            .collect();
        for (host, task) in tb.hosts().iter().zip(tasks) {
            let out = task.await.unwrap().unwrap();
            assert_eq!(out.stdout, format!("{}\n", host.name).as_bytes());
            assert!(host.srv.join("who").exists());
        }
        eprintln!("4 hosts: connect + exec in {:?}", started.elapsed());
    });
}

#[test]
fn changed_host_key_is_refused_with_the_fix() {
    let Some(tb) = Testbed::up(2) else { return };
    let (h1, h2) = (tb.host("h1"), tb.host("h2"));
    // Record h2's key under h1's address: to the client, h1's key changed.
    let known = std::fs::read_to_string(&h1.known_hosts).unwrap();
    let h2_key = known
        .lines()
        .find(|l| l.starts_with(&format!("{} ", h2.address)))
        .unwrap()
        .split_once(' ')
        .unwrap()
        .1;
    let forged = tb.dir().join("forged_known_hosts");
    std::fs::write(&forged, format!("{} {h2_key}\n", h1.address)).unwrap();
    let target = SshTarget {
        known_hosts: Some(forged.clone()),
        accept_new_host_key: true, // must not matter for a changed key
        ..h1.ssh_target()
    };
    let err = runtime()
        .block_on(SshTransport::connect(&target))
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(problem(&err), HostKeyProblem::Mismatch { line: 1, .. }),
        "{msg}"
    );
    assert!(
        msg.starts_with(&format!("h1 ({}:22): HOST KEY MISMATCH", h1.address)),
        "{msg}"
    );
    assert!(msg.contains("ssh-keygen -R"), "{msg}");
    // The file was left alone.
    assert_eq!(std::fs::read_to_string(&forged).unwrap().lines().count(), 1);
}

#[test]
fn unknown_host_is_refused_unless_trusted_on_first_use() {
    let Some(tb) = Testbed::up(1) else { return };
    let h1 = tb.host("h1");
    let empty = tb.dir().join("empty_known_hosts");
    let target = SshTarget {
        known_hosts: Some(empty.clone()),
        ..h1.ssh_target()
    };
    let rt = runtime();
    let err = rt.block_on(SshTransport::connect(&target)).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(problem(&err), HostKeyProblem::Unknown { .. }),
        "{msg}"
    );
    assert!(
        msg.contains(&format!(
            "ssh-keyscan -p 22 {} >> {}",
            h1.address,
            empty.display()
        )),
        "{msg}"
    );
    assert!(!empty.exists(), "a refused key must not be recorded");

    // Opting in records the key, after which the host is known.
    let tofu = SshTarget {
        accept_new_host_key: true,
        ..target.clone()
    };
    rt.block_on(async { connect(&tofu).await.exec("true", Vec::new()).await.unwrap() });
    let recorded = std::fs::read_to_string(&empty).unwrap();
    assert!(
        recorded.starts_with(&format!("{} ssh-ed25519 ", h1.address)),
        "{recorded}"
    );
    rt.block_on(async {
        connect(&target)
            .await
            .exec("true", Vec::new())
            .await
            .unwrap()
    });
}

#[test]
fn hashed_known_hosts_entries_are_accepted() {
    let Some(tb) = Testbed::up(1) else { return };
    let h1 = tb.host("h1");
    let hashed = tb.dir().join("hashed_known_hosts");
    std::fs::copy(&h1.known_hosts, &hashed).unwrap();
    // Output captured: ssh-keygen -H chats on stdout even with -q.
    let hashing = std::process::Command::new("ssh-keygen")
        .args(["-q", "-H", "-f"])
        .arg(&hashed)
        .output()
        .unwrap();
    assert!(hashing.status.success(), "{hashing:?}");
    assert!(std::fs::read_to_string(&hashed).unwrap().starts_with("|1|"));
    let target = SshTarget {
        known_hosts: Some(hashed),
        ..h1.ssh_target()
    };
    runtime().block_on(async {
        connect(&target)
            .await
            .exec("true", Vec::new())
            .await
            .unwrap()
    });
}

#[test]
fn wrong_key_fails_authentication_naming_the_host() {
    let Some(tb) = Testbed::up(1) else { return };
    let h1 = tb.host("h1");
    let stranger = tb.dir().join("stranger");
    keygen(&stranger, "ed25519", "");
    let target = SshTarget {
        key: Some(stranger.clone()),
        ..h1.ssh_target()
    };
    let err = runtime()
        .block_on(SshTransport::connect(&target))
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, SshError::AuthFailed { .. }), "{msg}");
    assert!(
        msg.starts_with(&format!(
            "h1 ({}:22): authentication as root failed",
            h1.address
        )),
        "{msg}"
    );
    // The message names the key file, never its contents.
    let secret = std::fs::read_to_string(&stranger).unwrap();
    let body = secret.lines().nth(1).unwrap();
    assert!(!msg.contains(body), "{msg}");
}

#[test]
fn rsa_and_ecdsa_keys_authenticate() {
    let Some(tb) = Testbed::up(1) else { return };
    let h1 = tb.host("h1");
    let rt = runtime();
    for kind in ["rsa", "ecdsa"] {
        let key = tb.dir().join(format!("id_{kind}"));
        keygen(&key, kind, "");
        tb.authorize_key(&std::fs::read_to_string(key.with_extension("pub")).unwrap());
        let target = SshTarget {
            key: Some(key),
            ..h1.ssh_target()
        };
        let out = rt.block_on(async { connect(&target).await.exec("echo ok", Vec::new()).await });
        assert_eq!(out.unwrap().stdout, b"ok\n", "{kind}");
    }
}

#[test]
fn encrypted_key_points_to_the_agent() {
    let Some(tb) = Testbed::up(1) else { return };
    let key = tb.dir().join("id_locked");
    keygen(&key, "ed25519", "correct horse");
    let target = SshTarget {
        key: Some(key.clone()),
        ..tb.host("h1").ssh_target()
    };
    let err = runtime()
        .block_on(SshTransport::connect(&target))
        .unwrap_err();
    assert!(matches!(err, SshError::EncryptedKey { .. }), "{err}");
    assert!(
        err.to_string()
            .contains(&format!("ssh-add {}", key.display())),
        "{err}"
    );
}

#[test]
fn agent_keys_authenticate() {
    let Some(tb) = Testbed::up(1) else { return };
    let socket = tb.dir().join("agent.sock");
    let mut agent = std::process::Command::new("ssh-agent")
        .arg("-D")
        .arg("-a")
        .arg(&socket)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("starting ssh-agent");
    // Kill the agent we started, by its pid, whatever the test does.
    struct Reap<'a>(&'a mut std::process::Child);
    impl Drop for Reap<'_> {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _reap = Reap(&mut agent);
    for _ in 0..100 {
        if socket.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let h1 = tb.host("h1");
    let added = std::process::Command::new("ssh-add")
        .arg("-q")
        .arg(&h1.key)
        .env("SSH_AUTH_SOCK", &socket)
        .status()
        .unwrap();
    assert!(added.success());
    let target = SshTarget {
        key: None,
        agent_socket: Some(socket),
        ..h1.ssh_target()
    };
    let out =
        runtime().block_on(async { connect(&target).await.exec("echo agent", Vec::new()).await });
    assert_eq!(out.unwrap().stdout, b"agent\n");
}

#[test]
fn closed_port_and_silent_address_fail_within_the_timeout() {
    let Some(tb) = Testbed::up(1) else { return };
    let h1 = tb.host("h1");
    let rt = runtime();
    // Nothing listens on port 2 of the host: refused at once.
    let closed = SshTarget {
        port: 2,
        ..h1.ssh_target()
    };
    let err = rt.block_on(SshTransport::connect(&closed)).unwrap_err();
    assert!(matches!(err, SshError::Connect { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with(&format!("h1 ({}:2): cannot connect", h1.address)),
        "{err}"
    );

    // No one has this address on the bridge: nothing answers, the timeout fires.
    let silent = SshTarget {
        address: tb.unused_address(),
        connect_timeout: Some(Duration::from_millis(700)),
        ..h1.ssh_target()
    };
    let started = Instant::now();
    let err = rt.block_on(SshTransport::connect(&silent)).unwrap_err();
    let waited = started.elapsed();
    assert!(matches!(err, SshError::Timeout { .. }), "{err}");
    assert!(waited < Duration::from_secs(2), "{waited:?}");
    assert!(
        err.to_string().contains("no SSH session within 700ms"),
        "{err}"
    );

    // Through the Transport error type the message is unchanged.
    let wrapped = TransportError::from(err);
    assert!(wrapped.to_string().starts_with("h1 ("), "{wrapped}");
}

fn keygen(path: &std::path::Path, kind: &str, passphrase: &str) {
    let status = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", kind, "-N", passphrase, "-C", "ferry-test", "-f"])
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success(), "ssh-keygen -t {kind}");
}

#[test]
fn dropping_the_transport_closes_the_connection() {
    let Some(tb) = Testbed::up(1) else { return };
    let rt = runtime();
    // `$PPID` of a script is the sshd process serving this connection; the host shares
    // the machine's process table, so the controller can watch it go.
    let session_pid = rt.block_on(async {
        let ssh = connect(&tb.host("h1").ssh_target()).await;
        let out = ssh.exec("echo $PPID", Vec::new()).await.unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    });
    let proc_dir = std::path::PathBuf::from(format!("/proc/{session_pid}"));
    let gone = |p: &std::path::Path| {
        // A zombie awaiting its parent counts as gone.
        std::fs::read_to_string(p.join("stat"))
            .map(|s| {
                s.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            })
            .unwrap_or(true)
    };
    for _ in 0..100 {
        if gone(&proc_dir) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("sshd session {session_pid} still runs 2 s after the transport was dropped");
}
