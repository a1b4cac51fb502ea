//! A small client of the OCI distribution API: what pushing and retagging need, nothing more.
//!
//! Blocking `ureq` with rustls (ring), so the xtask stays free of C/OpenSSL and of an async
//! runtime. Authentication follows the registry's `WWW-Authenticate` challenge: `Basic` with
//! the credentials, or `Bearer` with a token fetched from the realm (using the credentials when
//! there are some). Credentials are never printed: they live in [`Secret`], and errors name
//! URLs and statuses only.

use std::io::Read;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{bail, Context};

use crate::artifact::oci::image::{sha256_digest, MEDIA_INDEX, MEDIA_MANIFEST};

/// A string that must not be shown: `Debug` prints `***`.
#[derive(Clone)]
pub struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

#[derive(Debug, Clone)]
pub struct Credentials {
    pub username: String,
    pub password: Secret,
}

/// `registry[:port]/repository`, e.g. `127.0.0.1:5000/ferry`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repository {
    pub registry: String,
    pub name: String,
}

impl Repository {
    pub fn parse(s: &str) -> anyhow::Result<Self> {
        let s = s
            .trim_start_matches("docker://")
            .trim_start_matches("http://")
            .trim_start_matches("https://");
        let (registry, name) = s.split_once('/').with_context(|| {
            format!("repository `{s}` needs a registry host: write it as HOST[:PORT]/NAME")
        })?;
        if name.is_empty()
            || name.contains(':')
            || name.contains('@')
            || !name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-/".contains(&b))
        {
            bail!(
                "repository name `{name}` is not valid: lower-case letters, digits, `._-/`, no tag"
            );
        }
        Ok(Self {
            registry: registry.to_owned(),
            name: name.to_owned(),
        })
    }
}

impl std::fmt::Display for Repository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.registry, self.name)
    }
}

pub struct Client {
    agent: ureq::Agent,
    base: String,
    pub repo: Repository,
    creds: Option<Credentials>,
    /// The `Authorization` value that worked last (kept out of `Debug` and logs).
    auth: Mutex<Option<Secret>>,
}

/// A response reduced to what the callers read.
struct Reply {
    status: u16,
    location: Option<String>,
    digest: Option<String>,
    content_type: Option<String>,
    body: Vec<u8>,
}

/// Manifests and indexes are small; a cap keeps a misbehaving server from filling memory.
const MAX_DOCUMENT: u64 = 4 << 20;

impl Client {
    /// `plain_http` is for loopback test registries; everything else speaks HTTPS.
    pub fn new(repo: Repository, creds: Option<Credentials>, plain_http: bool) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(600)))
            .user_agent(concat!("ferry-xtask/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        let scheme = if plain_http { "http" } else { "https" };
        Self {
            agent,
            base: format!("{scheme}://{}", repo.registry),
            repo,
            creds,
            auth: Mutex::new(None),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/v2/{}/{path}", self.base, self.repo.name)
    }

    /// Sends a request, answering one authentication challenge if the registry asks.
    fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> anyhow::Result<Reply> {
        for attempt in 0..2 {
            let auth = self
                .auth
                .lock()
                .expect("auth lock poisoned: this is a bug, please report it")
                .clone();
            let mut req = ureq::http::Request::builder().method(method).uri(url);
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            if let Some(a) = &auth {
                req = req.header("Authorization", &a.0);
            }
            let result = match body {
                Some(b) => self.agent.run(req.body(b.to_vec())?),
                None => self.agent.run(req.body(())?),
            };
            let mut resp = result.with_context(|| format!("{method} {url}"))?;
            let status = resp.status().as_u16();
            let header = |n: &str| {
                resp.headers()
                    .get(n)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            if status == 401 && attempt == 0 {
                let challenge = header("www-authenticate").unwrap_or_default();
                let value = self.authenticate(&challenge).with_context(|| {
                    format!(
                        "authenticating to {} for {method} {url}",
                        self.repo.registry
                    )
                })?;
                *self
                    .auth
                    .lock()
                    .expect("auth lock poisoned: this is a bug, please report it") = Some(value);
                continue;
            }
            let location = header("location");
            let digest = header("docker-content-digest");
            let content_type = header("content-type");
            let mut body = Vec::new();
            if method != "HEAD" {
                resp.body_mut()
                    .as_reader()
                    .take(MAX_DOCUMENT)
                    .read_to_end(&mut body)
                    .with_context(|| format!("reading the answer to {method} {url}"))?;
            }
            return Ok(Reply {
                status,
                location,
                digest,
                content_type,
                body,
            });
        }
        bail!(
            "{method} {url}: the registry refused the credentials (401); check FERRY_OCI_USERNAME/FERRY_OCI_PASSWORD or `docker login {}`",
            self.repo.registry
        )
    }

    /// The `Authorization` value for a `WWW-Authenticate` challenge.
    fn authenticate(&self, challenge: &str) -> anyhow::Result<Secret> {
        let (scheme, params) = challenge.split_once(' ').unwrap_or((challenge, ""));
        match scheme.to_ascii_lowercase().as_str() {
            "basic" => {
                let c = self.creds.as_ref().with_context(|| {
                    format!(
                        "{} needs credentials: set FERRY_OCI_USERNAME and FERRY_OCI_PASSWORD, or `docker login` to it",
                        self.repo.registry
                    )
                })?;
                Ok(Secret(basic(c)))
            }
            "bearer" => {
                let p = challenge_params(params);
                let realm = p
                    .iter()
                    .find(|(k, _)| k == "realm")
                    .map(|(_, v)| v.clone())
                    .context("Bearer challenge without realm")?;
                let mut url = format!(
                    "{realm}?scope={}",
                    percent(&format!("repository:{}:pull,push", self.repo.name))
                );
                if let Some((_, service)) = p.iter().find(|(k, _)| k == "service") {
                    url.push_str(&format!("&service={}", percent(service)));
                }
                let mut req = self.agent.get(&url);
                if let Some(c) = &self.creds {
                    req = req.header("Authorization", &basic(c));
                }
                let mut resp = req.call().with_context(|| format!("GET {realm}"))?;
                if resp.status().as_u16() != 200 {
                    bail!(
                        "the token service {realm} answered {}; check the credentials",
                        resp.status()
                    );
                }
                let json: serde_json::Value = serde_json::from_slice(
                    &resp
                        .body_mut()
                        .with_config()
                        .limit(MAX_DOCUMENT)
                        .read_to_vec()?,
                )
                .context("the token service answered something that is not JSON")?;
                let token = json
                    .get("token")
                    .or_else(|| json.get("access_token"))
                    .and_then(|t| t.as_str())
                    .context("the token service's answer has no token")?;
                Ok(Secret(format!("Bearer {token}")))
            }
            _ => bail!("unsupported authentication scheme `{scheme}` (Basic and Bearer work)"),
        }
    }

    pub fn has_blob(&self, digest: &str) -> anyhow::Result<bool> {
        let url = self.url(&format!("blobs/{digest}"));
        let r = self.send("HEAD", &url, &[], None)?;
        match r.status {
            200 => Ok(true),
            404 => Ok(false),
            s => bail!("HEAD {url}: unexpected status {s}"),
        }
    }

    /// Monolithic upload: POST for a session, PUT the bytes with the digest.
    pub fn upload_blob(&self, digest: &str, bytes: &[u8]) -> anyhow::Result<()> {
        let url = self.url("blobs/uploads/");
        let r = self.send("POST", &url, &[], Some(&[]))?;
        if r.status != 202 {
            bail!(
                "POST {url}: status {} ({})",
                r.status,
                String::from_utf8_lossy(&r.body).trim()
            );
        }
        let location = r.location.context("upload session without Location")?;
        let mut put = if location.starts_with("http://") || location.starts_with("https://") {
            location
        } else {
            format!("{}{location}", self.base)
        };
        put.push(if put.contains('?') { '&' } else { '?' });
        put.push_str(&format!("digest={}", percent(digest)));
        let r = self.send(
            "PUT",
            &put,
            &[("Content-Type", "application/octet-stream")],
            Some(bytes),
        )?;
        if r.status != 201 {
            bail!(
                "uploading {digest}: status {} ({})",
                r.status,
                String::from_utf8_lossy(&r.body).trim()
            );
        }
        Ok(())
    }

    /// The digest a manifest reference (tag or digest) resolves to, `None` when unknown.
    pub fn manifest_digest(&self, reference: &str) -> anyhow::Result<Option<String>> {
        let url = self.url(&format!("manifests/{reference}"));
        let accept = format!("{MEDIA_INDEX}, {MEDIA_MANIFEST}");
        let r = self.send("HEAD", &url, &[("Accept", &accept)], None)?;
        match r.status {
            200 => Ok(r.digest),
            404 => Ok(None),
            s => bail!("HEAD {url}: unexpected status {s}"),
        }
    }

    /// The manifest bytes and media type for a tag or digest.
    pub fn get_manifest(&self, reference: &str) -> anyhow::Result<(Vec<u8>, String)> {
        let url = self.url(&format!("manifests/{reference}"));
        let accept = format!("{MEDIA_INDEX}, {MEDIA_MANIFEST}");
        let r = self.send("GET", &url, &[("Accept", &accept)], None)?;
        if r.status != 200 {
            bail!("GET {url}: status {}; is `{reference}` pushed?", r.status);
        }
        let media = r
            .content_type
            .context("the registry sent a manifest without Content-Type")?;
        Ok((r.body, media))
    }

    pub fn put_manifest(
        &self,
        reference: &str,
        bytes: &[u8],
        media_type: &str,
    ) -> anyhow::Result<()> {
        let url = self.url(&format!("manifests/{reference}"));
        let r = self.send("PUT", &url, &[("Content-Type", media_type)], Some(bytes))?;
        if r.status != 201 {
            bail!(
                "PUT {url}: status {} ({})",
                r.status,
                String::from_utf8_lossy(&r.body).trim()
            );
        }
        if let Some(d) = r.digest {
            let want = sha256_digest(bytes);
            if d != want {
                bail!("PUT {url}: the registry stored digest {d}, expected {want}");
            }
        }
        Ok(())
    }
}

fn basic(c: &Credentials) -> String {
    let raw = format!("{}:{}", c.username, c.password.0);
    format!("Basic {}", data_encoding::BASE64.encode(raw.as_bytes()))
}

/// `key="value",key2="value2"` from a challenge (values may contain commas inside quotes).
fn challenge_params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = s.trim();
    while let Some((key, after)) = rest.split_once('=') {
        let key = key
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let (value, tail) = if let Some(q) = after.strip_prefix('"') {
            let end = q.find('"').unwrap_or(q.len());
            (&q[..end], q.get(end + 1..).unwrap_or(""))
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        out.push((key, value.to_owned()));
        rest = tail.trim_start_matches(',').trim();
    }
    out
}

/// Percent-encoding for query values (RFC 3986 unreserved characters pass).
fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Credentials from `FERRY_OCI_USERNAME`/`FERRY_OCI_PASSWORD`, else from a docker/podman
/// config file's `auths` entry for the registry (`$DOCKER_CONFIG/config.json`,
/// `~/.docker/config.json`, `$REGISTRY_AUTH_FILE`, `$XDG_RUNTIME_DIR/containers/auth.json`).
pub fn credentials(registry: &str) -> anyhow::Result<Option<Credentials>> {
    if let (Ok(u), Ok(p)) = (
        std::env::var("FERRY_OCI_USERNAME"),
        std::env::var("FERRY_OCI_PASSWORD"),
    ) {
        if !u.is_empty() {
            return Ok(Some(Credentials {
                username: u,
                password: Secret(p),
            }));
        }
    }
    let mut files = Vec::new();
    if let Some(d) = std::env::var_os("DOCKER_CONFIG") {
        files.push(std::path::PathBuf::from(d).join("config.json"));
    }
    if let Some(h) = std::env::var_os("HOME") {
        files.push(std::path::PathBuf::from(h).join(".docker/config.json"));
    }
    if let Some(f) = std::env::var_os("REGISTRY_AUTH_FILE") {
        files.push(f.into());
    }
    if let Some(d) = std::env::var_os("XDG_RUNTIME_DIR") {
        files.push(std::path::PathBuf::from(d).join("containers/auth.json"));
    }
    for f in files.iter().filter(|f| f.is_file()) {
        let text = std::fs::read(f).with_context(|| format!("reading {}", f.display()))?;
        let json: serde_json::Value = serde_json::from_slice(&text)
            .with_context(|| format!("{} is not JSON", f.display()))?;
        let Some(auths) = json.get("auths").and_then(|a| a.as_object()) else {
            continue;
        };
        let entry = auths.iter().find(|(k, _)| {
            let k = k
                .trim_start_matches("https://")
                .trim_start_matches("http://");
            k == registry || k.split('/').next() == Some(registry)
        });
        if let Some(auth) = entry
            .and_then(|(_, v)| v.get("auth"))
            .and_then(|a| a.as_str())
        {
            let raw = data_encoding::BASE64
                .decode(auth.as_bytes())
                .with_context(|| {
                    format!("the `auth` for {registry} in {} is not base64", f.display())
                })?;
            let raw = String::from_utf8(raw).with_context(|| {
                format!("the `auth` for {registry} in {} is not UTF-8", f.display())
            })?;
            let (u, p) = raw.split_once(':').with_context(|| {
                format!(
                    "the `auth` for {registry} in {} is not USER:PASSWORD",
                    f.display()
                )
            })?;
            return Ok(Some(Credentials {
                username: u.to_owned(),
                password: Secret(p.to_owned()),
            }));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bearer_challenge() {
        let p = challenge_params(
            r#"realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#,
        );
        assert_eq!(p[0], ("realm".into(), "https://auth.example/token".into()));
        assert_eq!(p[1], ("service".into(), "registry.example".into()));
        assert_eq!(p[2].1, "repository:a/b:pull,push");
    }

    #[test]
    fn repository_needs_a_host_and_no_tag() {
        let r = Repository::parse("127.0.0.1:5000/ferry/ferry").unwrap();
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.name, "ferry/ferry");
        assert!(Repository::parse("ferry").is_err());
        assert!(Repository::parse("host/ferry:1.0").is_err());
    }

    #[test]
    fn secrets_do_not_debug_print() {
        let c = Credentials {
            username: "u".into(),
            password: Secret("hunter2".into()),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
