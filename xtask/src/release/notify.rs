//! The release notification: a JSON POST to a webhook (Slack-compatible: `text` is what Slack
//! shows; the other fields are for machines). The URL is a secret (Slack's embeds a token), so it
//! comes from the environment and no error or log line contains it.

use std::time::Duration;

use anyhow::{bail, Context};
use serde::Serialize;

use super::config::NotifyConfig;
use super::version::ReleaseVersion;
use super::{Repo, Summary};

#[derive(Debug, Serialize)]
pub struct Payload {
    /// Slack's message text.
    pub text: String,
    /// `release` or `rollback`.
    pub event: &'static str,
    pub project: String,
    pub version: String,
    pub tag: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    pub prerelease: bool,
    pub latest: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rolled_back: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub assets: Vec<super::publish::PublishedAsset>,
}

pub fn released(repo: &Repo, version: &ReleaseVersion, s: &Summary) -> Payload {
    let bin = &repo.ws.ferry.binary;
    Payload {
        text: format!(
            "{bin} {version} released{}{}",
            if s.prerelease { " (pre-release)" } else { "" },
            s.release_url
                .as_deref()
                .map(|u| format!(": {u}"))
                .unwrap_or_default()
        ),
        event: "release",
        project: bin.clone(),
        version: version.to_string(),
        tag: version.tag(),
        url: s.release_url.clone(),
        prerelease: s.prerelease,
        latest: s.latest,
        rolled_back: None,
        reason: None,
        assets: s.assets.clone(),
    }
}

/// POSTs `payload` to the URL in the configured variable. A few retries on transport errors and
/// 5xx; the URL is never printed (it names only the variable).
pub fn send(cfg: &NotifyConfig, payload: &Payload) -> anyhow::Result<()> {
    let var = &cfg.webhook_env;
    let url = std::env::var(var)
        .ok()
        .filter(|u| !u.trim().is_empty())
        .with_context(|| {
            format!("{var} is not set; export the webhook URL, or pass --skip notify")
        })?;
    let body = serde_json::to_vec(payload)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let _guard = rt.enter();
    // octocrab is the HTTP client we already ship (rustls); without a token it is a plain client.
    let client = octocrab::Octocrab::builder()
        .build()
        .context("building the webhook client")?;
    let mut last = String::new();
    for attempt in 0..3u32 {
        if attempt > 0 {
            std::thread::sleep(Duration::from_millis(200 * 2u64.pow(attempt)));
        }
        let uri: http::Uri = match url.parse() {
            Ok(u) => u,
            Err(_) => bail!("{var} does not hold a URL"),
        };
        let res = rt.block_on(async {
            let req = http::Request::post(uri)
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(octocrab::OctoBody::from(body.clone()))?;
            client.execute(req).await.map_err(anyhow::Error::from)
        });
        match res {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(r) if r.status().is_server_error() => last = format!("HTTP {}", r.status()),
            Ok(r) => bail!(
                "the webhook in {var} answered HTTP {}; check the URL",
                r.status()
            ),
            // The transport error may contain the URL; keep only its kind.
            Err(_) => last = "could not connect".into(),
        }
    }
    bail!("the webhook in {var} failed 3 times ({last}); re-run with --resume, or --skip notify")
}
