//! The SSH transport: one authenticated connection per host, one channel per round trip.
//!
//! Owns connecting (TCP, host key check against known_hosts, key file or ssh-agent
//! authentication, a connect timeout) and running one script per channel. It does not
//! know where targets come from (the inventory builds [`SshTarget`]s) nor what the
//! scripts do (the executor writes them).
//!
//! The client is russh, pure Rust with its `ring` backend, so the binary stays static
//! and cross-compiles without a C toolchain for aws-lc.

mod known_hosts;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use russh::client::{self, Handle};
use russh::keys::agent::client::AgentClient;
use russh::keys::{Algorithm, PrivateKeyWithHashAlg, PublicKey, PublicKeyOrCertificate};
use russh::{ChannelMsg, Disconnect};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::{sh_quote, ExecOutput};

/// How long [`SshTransport::connect`] waits for TCP, the handshake and authentication together.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where and how to reach one host over SSH. Plain data: the inventory fills it in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SshTarget {
    /// The host's name in the environment, used in messages.
    pub host: String,
    /// DNS name or IP address to connect to.
    pub address: String,
    #[serde(default = "default_port")]
    pub port: u16,
    pub user: String,
    /// Private key file (ed25519, RSA or ECDSA, unencrypted). `None` asks the ssh-agent.
    #[serde(default)]
    pub key: Option<PathBuf>,
    /// The ssh-agent socket used when `key` is `None`. `None` means `$SSH_AUTH_SOCK`.
    #[serde(default)]
    pub agent_socket: Option<PathBuf>,
    /// Where host keys are checked. `None` means `~/.ssh/known_hosts`.
    #[serde(default)]
    pub known_hosts: Option<PathBuf>,
    /// Trust a host that is not in known_hosts yet and record its key there (trust on
    /// first use). A key that differs from a recorded one is refused regardless.
    #[serde(default)]
    pub accept_new_host_key: bool,
    /// Limit for TCP connect + handshake + authentication, e.g. "5s". Default 10s.
    #[serde(
        default,
        with = "humantime_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub connect_timeout: Option<Duration>,
    /// A bastion to reach the host through (OpenSSH's ProxyJump): ferry logs in to it,
    /// opens a direct-tcpip channel to `address:port`, and runs this host's SSH session
    /// inside that channel. The bastion's key is checked like any host's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jump: Option<Box<SshTarget>>,
}

fn default_port() -> u16 {
    22
}

impl SshTarget {
    /// A target on port 22 with the defaults for everything else.
    pub fn new(
        host: impl Into<String>,
        address: impl Into<String>,
        user: impl Into<String>,
    ) -> Self {
        SshTarget {
            host: host.into(),
            address: address.into(),
            port: 22,
            user: user.into(),
            key: None,
            agent_socket: None,
            known_hosts: None,
            accept_new_host_key: false,
            connect_timeout: None,
            jump: None,
        }
    }

    /// The bastion `spec` (`[user@]address[:port]`) in front of this target: it gets this
    /// target's user (unless `spec` names one), key, agent, known_hosts and timeout.
    pub fn jump_host(&self, spec: &str) -> Result<SshTarget, String> {
        let bad = || {
            format!(
                "{}: jump host `{spec}` is not `[user@]address[:port]`",
                self.host
            )
        };
        let (user, rest) = match spec.split_once('@') {
            Some((user, rest)) if !user.is_empty() => (user.to_owned(), rest),
            Some(_) => return Err(bad()),
            None => (self.user.clone(), spec),
        };
        // `[v6]:port`, `[v6]`, `name:port` or `name`.
        let (address, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (addr, after) = v6.split_once(']').ok_or_else(bad)?;
            match after.strip_prefix(':') {
                Some(p) => (addr, p.parse().map_err(|_| bad())?),
                None if after.is_empty() => (addr, 22),
                None => return Err(bad()),
            }
        } else {
            match rest.rsplit_once(':') {
                Some((addr, p)) if !addr.contains(':') => (addr, p.parse().map_err(|_| bad())?),
                Some(_) => (rest, 22),
                None => (rest, 22),
            }
        };
        if address.is_empty() {
            return Err(bad());
        }
        Ok(SshTarget {
            host: format!("{} (jump host of {})", address, self.host),
            address: address.to_owned(),
            port,
            user,
            jump: None,
            ..self.clone()
        })
    }

    /// `address:port`, bracketing IPv6 literals.
    pub fn endpoint(&self) -> String {
        if self.address.contains(':') {
            format!("[{}]:{}", self.address, self.port)
        } else {
            format!("{}:{}", self.address, self.port)
        }
    }

    fn known_hosts_path(&self) -> Result<PathBuf, SshError> {
        if let Some(path) = &self.known_hosts {
            return Ok(path.clone());
        }
        // HOME on Unix, USERPROFILE on Windows: where OpenSSH keeps ~/.ssh on each.
        std::env::var_os("HOME")
            .or_else(|| std::env::var_os("USERPROFILE"))
            .filter(|h| !h.is_empty())
            .map(|home| PathBuf::from(home).join(".ssh").join("known_hosts"))
            .ok_or_else(|| SshError::NoKnownHosts {
                host: self.host.clone(),
            })
    }
}

/// Everything that can go wrong talking SSH to a host. Each message names the host
/// and the endpoint, and says what to do next where there is something to do.
#[derive(Debug, Error)]
pub enum SshError {
    #[error("{host} ({endpoint}): cannot connect: {source}; check the address and port and that sshd is running")]
    Connect {
        host: String,
        endpoint: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{host} ({endpoint}): no SSH session within {}; check that the host is up and the port is reachable, or raise connect_timeout", humantime::format_duration(*.timeout))]
    Timeout {
        host: String,
        endpoint: String,
        timeout: Duration,
    },
    /// The host key check refused the server; boxed because errors are rare and
    /// `Result<_, SshError>` is returned everywhere.
    #[error("{host} ({endpoint}): {problem}")]
    HostKey {
        host: String,
        endpoint: String,
        problem: Box<HostKeyProblem>,
    },
    #[error("{host}: cannot use known_hosts file {}: {source}", .path.display())]
    KnownHosts {
        host: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{host}: no known_hosts file given and neither HOME nor USERPROFILE is set; set known_hosts for this host")]
    NoKnownHosts { host: String },
    #[error("{host}: cannot use private key {}: {reason}", .path.display())]
    KeyFile {
        host: String,
        path: PathBuf,
        reason: String,
    },
    #[error("{host}: private key {} is encrypted and Ferry does not ask for passphrases; load it into the agent with `ssh-add {}` and leave the host's key unset", .path.display(), .path.display())]
    EncryptedKey { host: String, path: PathBuf },
    #[error("{host}: no key file is set and no ssh-agent is known (SSH_AUTH_SOCK is not set); set the host's key, or start ssh-agent and `ssh-add` a key")]
    NoAgent { host: String },
    #[error("{host}: the ssh-agent failed: {reason}")]
    Agent { host: String, reason: String },
    #[error("{host} ({endpoint}): authentication as {user} failed with {method}; check that the public key is in ~{user}/.ssh/authorized_keys on the host")]
    AuthFailed {
        host: String,
        endpoint: String,
        user: String,
        method: String,
    },
    #[error("{host} ({endpoint}): SSH handshake failed: {source}")]
    Handshake {
        host: String,
        endpoint: String,
        #[source]
        source: Box<russh::Error>,
    },
    #[error("{host} ({endpoint}): lost the SSH connection: {source}")]
    Channel {
        host: String,
        endpoint: String,
        #[source]
        source: Box<russh::Error>,
    },
    #[error("{host} ({endpoint}): the jump host {jump} refused to open a channel to it: {source}; check that the bastion allows TCP forwarding (AllowTcpForwarding) and can reach the host")]
    JumpChannel {
        host: String,
        endpoint: String,
        jump: String,
        #[source]
        source: Box<russh::Error>,
    },
    #[error("{host} ({endpoint}): the server refused to run the script (exec request denied)")]
    ExecRefused { host: String, endpoint: String },
    #[error(
        "{host} ({endpoint}): the connection closed before the script reported an exit status"
    )]
    NoExitStatus { host: String, endpoint: String },
}

/// Why a server's host key was refused.
#[derive(Debug, Error)]
pub enum HostKeyProblem {
    #[error("host key {fingerprint} is not in {}; if this is the right host, add it with `ssh-keyscan -p {port} {address} >> {}` (or set accept_new_host_key to trust it on first use)", .known_hosts.display(), .known_hosts.display())]
    Unknown {
        address: String,
        port: u16,
        fingerprint: String,
        known_hosts: PathBuf,
    },
    #[error("HOST KEY MISMATCH: the server offered {fingerprint} but {}:{line} records {expected} for {name}; someone may be intercepting the connection, or the host was reinstalled. If you know the key changed, remove the old entry with `ssh-keygen -R '{name}' -f {}` and add the new one", .known_hosts.display(), .known_hosts.display())]
    Mismatch {
        name: String,
        fingerprint: String,
        expected: String,
        known_hosts: PathBuf,
        line: usize,
    },
    #[error("the server's host key {fingerprint} is marked @revoked in {}:{line}; refusing to connect", .known_hosts.display())]
    Revoked {
        fingerprint: String,
        known_hosts: PathBuf,
        line: usize,
    },
    #[error("the server offered a {offered} host key but {} only records {} for {name}; add the {offered} key with `ssh-keyscan -t {offered} -p {port} {address}` after checking it", .known_hosts.display(), .recorded.join(", "))]
    TypeNotRecorded {
        name: String,
        address: String,
        port: u16,
        offered: String,
        recorded: Vec<String>,
        known_hosts: PathBuf,
    },
    #[error("the server presented a host certificate; Ferry checks plain host keys only")]
    Certificate,
}

/// An authenticated connection to one host. Each [`exec`](SshTransport::exec) opens one
/// channel on it, so one value serves every round trip to the host, also concurrently.
pub struct SshTransport {
    target: SshTarget,
    handle: Handle<Client>,
    /// The bastion's connection, which carries this one's; kept open as long as it is.
    _jump: Option<Box<SshTransport>>,
}

impl fmt::Debug for SshTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SshTransport")
            .field("host", &self.target.host)
            .field("endpoint", &self.target.endpoint())
            .field("user", &self.target.user)
            .finish_non_exhaustive()
    }
}

impl SshTransport {
    /// Connects, checks the host key and authenticates, all within the target's connect timeout.
    pub async fn connect(target: &SshTarget) -> Result<SshTransport, SshError> {
        let timeout = target.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT);
        match tokio::time::timeout(timeout, Self::connect_inner(target)).await {
            Ok(result) => result,
            Err(_) => Err(SshError::Timeout {
                host: target.host.clone(),
                endpoint: target.endpoint(),
                timeout,
            }),
        }
    }

    async fn connect_inner(target: &SshTarget) -> Result<SshTransport, SshError> {
        let known_hosts = target.known_hosts_path()?;
        let name = known_hosts::lookup_name(&target.address, target.port);
        let recorded = match std::fs::read_to_string(&known_hosts) {
            Ok(text) => text,
            // A missing file is an unknown host, reported (with the fix) once the key is seen.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => {
                return Err(SshError::KnownHosts {
                    host: target.host.clone(),
                    path: known_hosts,
                    source,
                })
            }
        };
        // Load the key before touching the network: a bad key file is a local mistake.
        let key = match &target.key {
            Some(path) => Some(load_key(&target.host, path)?),
            None => None,
        };

        let config = client_config(&known_hosts::known_algorithms(&recorded, &name));
        let outcome = Arc::new(Mutex::new(None));
        let handler = Client {
            target: target.clone(),
            known_hosts,
            name,
            recorded,
            outcome: outcome.clone(),
        };
        let endpoint = target.endpoint();
        let (connected, jump) = match &target.jump {
            Some(jump_target) => {
                // Boxed: an async fn cannot hold its own future inline (jump of a jump...).
                let jump = Box::pin(Self::connect_inner(jump_target)).await?;
                let channel = jump
                    .handle
                    .channel_open_direct_tcpip(
                        target.address.as_str(),
                        u32::from(target.port),
                        "127.0.0.1",
                        0,
                    )
                    .await
                    .map_err(|source| SshError::JumpChannel {
                        host: target.host.clone(),
                        endpoint: endpoint.clone(),
                        jump: jump_target.endpoint(),
                        source: Box::new(source),
                    })?;
                let stream = channel.into_stream();
                (
                    client::connect_stream(Arc::new(config), stream, handler).await,
                    Some(Box::new(jump)),
                )
            }
            None => {
                let tcp = tokio::net::TcpStream::connect((target.address.as_str(), target.port))
                    .await
                    .map_err(|source| SshError::Connect {
                        host: target.host.clone(),
                        endpoint: endpoint.clone(),
                        source,
                    })?;
                // Scripts are small request/response exchanges: don't let Nagle hold them back.
                let _ = tcp.set_nodelay(true);
                (
                    client::connect_stream(Arc::new(config), tcp, handler).await,
                    None,
                )
            }
        };
        let mut handle = match connected {
            Ok(handle) => handle,
            Err(source) => {
                // The handler left the real reason when it refused the host key.
                let stashed = outcome.lock().unwrap_or_else(|p| p.into_inner()).take();
                return Err(stashed.unwrap_or(SshError::Handshake {
                    host: target.host.clone(),
                    endpoint,
                    source: Box::new(source),
                }));
            }
        };
        match key {
            Some(key) => auth_with_key(target, &mut handle, key).await?,
            None => auth_with_agent(target, &mut handle).await?,
        }
        Ok(SshTransport {
            target: target.clone(),
            handle,
            _jump: jump,
        })
    }

    /// The target this connection was made for.
    pub fn target(&self) -> &SshTarget {
        &self.target
    }

    /// Runs `script` with `sh -c` on the host, streams `stdin` to it followed by EOF, and
    /// collects its output. One call is one channel: one round trip.
    pub async fn exec(&self, script: &str, stdin: Vec<u8>) -> Result<ExecOutput, SshError> {
        let lost = |source| SshError::Channel {
            host: self.target.host.clone(),
            endpoint: self.target.endpoint(),
            source: Box::new(source),
        };
        let channel = self.handle.channel_open_session().await.map_err(lost)?;
        // sshd hands the command to the user's login shell; `sh -c` with one quoted word
        // makes the script run under POSIX sh whether that shell is sh, bash, zsh or ksh.
        // (csh-family login shells reject the newlines inside the quotes: not supported.)
        let command = format!("sh -c {}", sh_quote(script));
        channel.exec(true, command).await.map_err(lost)?;
        let (mut reader, writer) = channel.split();

        let send = async {
            if !stdin.is_empty() {
                writer.data_bytes(stdin).await?;
            }
            writer.eof().await
        };
        let receive = async {
            let mut out = ExecOutput {
                status: None,
                stdout: Vec::new(),
                stderr: Vec::new(),
            };
            let mut exited = false;
            let mut refused = false;
            while let Some(msg) = reader.wait().await {
                match msg {
                    ChannelMsg::Data { data } => out.stdout.extend_from_slice(&data),
                    // Extended data type 1 is stderr (RFC 4254 §5.2); there is no other in use.
                    ChannelMsg::ExtendedData { data, ext: 1 } => {
                        out.stderr.extend_from_slice(&data)
                    }
                    ChannelMsg::ExitStatus { exit_status } => {
                        // sshd reports 0..=255; cast keeps the value.
                        out.status = Some(exit_status as i32);
                        exited = true;
                    }
                    ChannelMsg::ExitSignal { .. } => exited = true,
                    ChannelMsg::Failure => refused = true,
                    ChannelMsg::Close => break,
                    _ => {}
                }
            }
            (out, exited, refused)
        };
        // Send and receive at once: a script that prints a lot before reading its stdin
        // would otherwise fill the window and wait for us forever. Once the channel is
        // closed the rest of stdin is dropped, like a local pipe whose reader exited.
        tokio::pin!(send);
        tokio::pin!(receive);
        let mut sending = true;
        let (out, exited, refused) = loop {
            tokio::select! {
                _ = &mut send, if sending => sending = false,
                done = &mut receive => break done,
            }
        };
        if refused && !exited {
            return Err(SshError::ExecRefused {
                host: self.target.host.clone(),
                endpoint: self.target.endpoint(),
            });
        }
        if !exited {
            return Err(SshError::NoExitStatus {
                host: self.target.host.clone(),
                endpoint: self.target.endpoint(),
            });
        }
        Ok(out)
    }

    /// Says goodbye to the server. Dropping the transport also closes the connection,
    /// only less politely.
    pub async fn close(self) {
        let _ = self
            .handle
            .disconnect(Disconnect::ByApplication, "", "en")
            .await;
    }
}

fn client_config(recorded: &[Algorithm]) -> client::Config {
    let mut config = client::Config {
        // A dead peer is noticed within about a minute instead of never.
        keepalive_interval: Some(Duration::from_secs(15)),
        keepalive_max: 4,
        nodelay: true,
        ..Default::default()
    };
    // Ask first for the host key types known_hosts records for this host, as OpenSSH
    // does, so a server with several host keys shows one we can check.
    if !recorded.is_empty() {
        let mut preferred = config.preferred.key.to_vec();
        preferred.sort_by_key(|a| !recorded.iter().any(|r| known_hosts::same_family(a, r)));
        config.preferred.key = preferred.into();
    }
    config
}

fn load_key(host: &str, path: &Path) -> Result<russh::keys::PrivateKey, SshError> {
    russh::keys::load_secret_key(path, None).map_err(|e| match e {
        russh::keys::Error::KeyIsEncrypted => SshError::EncryptedKey {
            host: host.to_string(),
            path: path.to_path_buf(),
        },
        // Only the kind of failure: parser errors never quote the key material.
        russh::keys::Error::IO(io) => SshError::KeyFile {
            host: host.to_string(),
            path: path.to_path_buf(),
            reason: io.to_string(),
        },
        other => SshError::KeyFile {
            host: host.to_string(),
            path: path.to_path_buf(),
            reason: format!("not a usable private key ({other})"),
        },
    })
}

async fn auth_with_key(
    target: &SshTarget,
    handle: &mut Handle<Client>,
    key: russh::keys::PrivateKey,
) -> Result<(), SshError> {
    let hash = rsa_hash(target, handle, &key.algorithm()).await?;
    let method = format!(
        "key {}",
        target.key.as_deref().unwrap_or(Path::new("")).display()
    );
    let result = handle
        .authenticate_publickey(
            &target.user,
            PrivateKeyWithHashAlg::new(Arc::new(key), hash),
        )
        .await
        .map_err(|source| handshake(target, source))?;
    if result.success() {
        Ok(())
    } else {
        Err(auth_failed(target, method))
    }
}

async fn auth_with_agent(target: &SshTarget, handle: &mut Handle<Client>) -> Result<(), SshError> {
    let Some(socket) = target
        .agent_socket
        .clone()
        .or_else(|| std::env::var_os("SSH_AUTH_SOCK").map(PathBuf::from))
        .filter(|p| !p.as_os_str().is_empty())
    else {
        return Err(SshError::NoAgent {
            host: target.host.clone(),
        });
    };
    let agent_error = |e: russh::keys::Error| SshError::Agent {
        host: target.host.clone(),
        reason: format!("{} ({e})", socket.display()),
    };
    let mut agent = agent_client(&socket).await.map_err(agent_error)?;
    let identities = agent.request_identities().await.map_err(agent_error)?;
    if identities.is_empty() {
        return Err(SshError::Agent {
            host: target.host.clone(),
            reason: "it holds no keys; add one with `ssh-add`".to_string(),
        });
    }
    // Servers cut the connection after MaxAuthTries (6 by default) failures, like
    // OpenSSH we offer the agent's keys in its order and stop at the first success.
    for identity in &identities {
        let key: PublicKey = identity.public_key().into_owned();
        let hash = rsa_hash(target, handle, &key.algorithm()).await?;
        match handle
            .authenticate_publickey_with(&target.user, key, hash, &mut agent)
            .await
        {
            Ok(result) if result.success() => return Ok(()),
            Ok(_) => continue,
            Err(e) => {
                return Err(SshError::Agent {
                    host: target.host.clone(),
                    reason: e.to_string(),
                })
            }
        }
    }
    Err(auth_failed(
        target,
        format!("the {} key(s) in ssh-agent", identities.len()),
    ))
}

#[cfg(unix)]
async fn agent_client(
    socket: &Path,
) -> Result<
    AgentClient<impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin>,
    russh::keys::Error,
> {
    AgentClient::connect_uds(socket).await
}

// On Windows the agent is a named pipe (OpenSSH for Windows) named by SSH_AUTH_SOCK too.
#[cfg(windows)]
async fn agent_client(
    socket: &Path,
) -> Result<
    AgentClient<impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin>,
    russh::keys::Error,
> {
    AgentClient::connect_named_pipe(socket).await
}

/// RSA keys sign with the best hash the server accepts; other key types have one.
async fn rsa_hash(
    target: &SshTarget,
    handle: &Handle<Client>,
    algorithm: &Algorithm,
) -> Result<Option<russh::keys::HashAlg>, SshError> {
    if !matches!(algorithm, Algorithm::Rsa { .. }) {
        return Ok(None);
    }
    let best = handle
        .best_supported_rsa_hash()
        .await
        .map_err(|source| handshake(target, source))?;
    Ok(best.flatten())
}

fn handshake(target: &SshTarget, source: russh::Error) -> SshError {
    SshError::Handshake {
        host: target.host.clone(),
        endpoint: target.endpoint(),
        source: Box::new(source),
    }
}

fn auth_failed(target: &SshTarget, method: String) -> SshError {
    SshError::AuthFailed {
        host: target.host.clone(),
        endpoint: target.endpoint(),
        user: target.user.clone(),
        method,
    }
}

/// russh's callbacks for one connection: checks the host key against known_hosts.
struct Client {
    target: SshTarget,
    known_hosts: PathBuf,
    /// The name the host is recorded under (see [`known_hosts::lookup_name`]).
    name: String,
    /// The known_hosts contents, read once per connect.
    recorded: String,
    /// Why the key was refused; russh only returns a generic error to `connect`.
    outcome: Arc<Mutex<Option<SshError>>>,
}

impl Client {
    fn verify(&self, key: &PublicKey) -> Result<(), SshError> {
        let t = &self.target;
        let fingerprint = known_hosts::fingerprint(key);
        let known_hosts = self.known_hosts.clone();
        let problem = match known_hosts::check(&self.recorded, &self.name, key) {
            known_hosts::Verdict::Known => return Ok(()),
            known_hosts::Verdict::Unknown if t.accept_new_host_key => {
                return known_hosts::append(&known_hosts, &self.name, key).map_err(|source| {
                    SshError::KnownHosts {
                        host: t.host.clone(),
                        path: known_hosts.clone(),
                        source,
                    }
                })
            }
            known_hosts::Verdict::Unknown => HostKeyProblem::Unknown {
                address: t.address.clone(),
                port: t.port,
                fingerprint,
                known_hosts,
            },
            known_hosts::Verdict::Changed { line, expected } => HostKeyProblem::Mismatch {
                name: self.name.clone(),
                fingerprint,
                expected,
                known_hosts,
                line,
            },
            known_hosts::Verdict::Revoked { line } => HostKeyProblem::Revoked {
                fingerprint,
                known_hosts,
                line,
            },
            known_hosts::Verdict::OtherTypes { types } => HostKeyProblem::TypeNotRecorded {
                name: self.name.clone(),
                address: t.address.clone(),
                port: t.port,
                offered: key.algorithm().to_string(),
                recorded: types,
                known_hosts,
            },
        };
        Err(self.refuse(problem))
    }

    fn refuse(&self, problem: HostKeyProblem) -> SshError {
        SshError::HostKey {
            host: self.target.host.clone(),
            endpoint: self.target.endpoint(),
            problem: Box::new(problem),
        }
    }
}

impl client::Handler for Client {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        server_key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let verdict = match server_key {
            PublicKeyOrCertificate::PublicKey { key, .. } => self.verify(key),
            PublicKeyOrCertificate::Certificate(_) => Err(self.refuse(HostKeyProblem::Certificate)),
        };
        match verdict {
            Ok(()) => Ok(true),
            Err(e) => {
                *self.outcome.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                Ok(false)
            }
        }
    }
}

/// `Option<Duration>` as a humantime string ("5s", "1m 30s"), the way users write it.
mod humantime_opt {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(d) => s.serialize_str(&humantime::format_duration(*d).to_string()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let text: Option<String> = Option::deserialize(d)?;
        text.map(|t| humantime::parse_duration(&t).map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jump_hosts_parse_like_proxyjump() {
        let mut target = SshTarget::new("web", "10.0.0.5", "deploy");
        target.key = Some("id".into());
        let j = target.jump_host("bastion").unwrap();
        assert_eq!(
            (j.user.as_str(), j.address.as_str(), j.port),
            ("deploy", "bastion", 22)
        );
        assert_eq!(
            j.key, target.key,
            "the bastion is logged in to with the host's key"
        );
        let j = target.jump_host("ops@10.0.0.1:2222").unwrap();
        assert_eq!(
            (j.user.as_str(), j.address.as_str(), j.port),
            ("ops", "10.0.0.1", 2222)
        );
        let j = target.jump_host("[fe80::1]:22").unwrap();
        assert_eq!(
            (j.address.as_str(), j.endpoint()),
            ("fe80::1", "[fe80::1]:22".to_owned())
        );
        let j = target.jump_host("fe80::1").unwrap();
        assert_eq!((j.address.as_str(), j.port), ("fe80::1", 22));
        for bad in ["", "@x", "x:port", "[fe80::1", "[::1]x"] {
            assert!(target.jump_host(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn target_deserializes_with_defaults() {
        let t: SshTarget =
            toml::from_str("host = \"web1\"\naddress = \"10.0.0.1\"\nuser = \"deploy\"\n").unwrap();
        assert_eq!(t, SshTarget::new("web1", "10.0.0.1", "deploy"));
        let t: SshTarget = toml::from_str(
            "host = \"h\"\naddress = \"::1\"\nport = 2222\nuser = \"u\"\nconnect_timeout = \"1s 500ms\"\n",
        )
        .unwrap();
        assert_eq!(t.connect_timeout, Some(Duration::from_millis(1500)));
        assert_eq!(t.endpoint(), "[::1]:2222");
        let back: SshTarget = toml::from_str(&toml::to_string(&t).unwrap()).unwrap();
        assert_eq!(back, t);
    }

    #[test]
    fn encrypted_and_garbage_keys_are_reported_without_their_contents() {
        let dir = tempfile::tempdir().unwrap();
        let garbage = dir.path().join("garbage");
        std::fs::write(&garbage, "-----BEGIN OPENSSH PRIVATE KEY-----\nc2VjcmV0\n").unwrap();
        let err = load_key("h1", &garbage).unwrap_err().to_string();
        assert!(err.starts_with("h1: cannot use private key"), "{err}");
        assert!(!err.contains("c2VjcmV0"), "{err}");
        let missing = load_key("h1", &dir.path().join("nope")).unwrap_err();
        assert!(matches!(missing, SshError::KeyFile { .. }), "{missing}");
    }
}
