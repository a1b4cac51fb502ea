//! GitHub releases through octocrab: find, create, update, list/upload/download assets.
//!
//! Synchronous on the outside (the xtask is), driving octocrab on a current-thread runtime.
//! The token lives only inside octocrab; nothing here formats it. Every call that can fail
//! transiently is retried with backoff a bounded number of times.

use std::time::Duration;

use anyhow::Context;
use octocrab::models::repos::{Asset, Release};
use octocrab::repos::releases::MakeLatest;
use octocrab::Octocrab;

/// Attempts per request (1 + retries); backoff doubles from `BACKOFF`.
const ATTEMPTS: u32 = 4;
const BACKOFF: Duration = Duration::from_millis(150);

pub struct Github {
    rt: tokio::runtime::Runtime,
    octo: Octocrab,
    api_url: String,
    token: String,
    /// The upload host octocrab sends the token to (GitHub: uploads.github.com).
    upload_origin: Option<String>,
    pub owner: String,
    pub repo: String,
}

/// The fields of a release `update` changes; `None` leaves a field as it is.
#[derive(Default)]
pub struct Update<'a> {
    pub body: Option<&'a str>,
    pub draft: Option<bool>,
    pub prerelease: Option<bool>,
    pub make_latest: Option<bool>,
}

impl Github {
    pub fn new(api_url: &str, token: &str, owner: &str, repo: &str) -> anyhow::Result<Self> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the async runtime for the GitHub client")?;
        // octocrab spawns its buffer worker on the current runtime when built.
        let octo = {
            let _guard = rt.enter();
            Octocrab::default()
        };
        let mut gh = Self {
            rt,
            octo,
            api_url: api_url.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            upload_origin: None,
            owner: owner.to_owned(),
            repo: repo.to_owned(),
        };
        // GitHub.com serves uploads from another host; Enterprise serves them from its own.
        let upload = (gh.api_url == "https://api.github.com")
            .then(|| "https://uploads.github.com".to_owned());
        gh.rebuild(upload)?;
        Ok(gh)
    }

    fn rebuild(&mut self, upload_origin: Option<String>) -> anyhow::Result<()> {
        let _guard = self.rt.enter();
        let mut b = Octocrab::builder()
            .base_uri(self.api_url.as_str())
            .with_context(|| format!("--api-url `{}` is not a URL", self.api_url))?
            .personal_token(self.token.clone());
        if let Some(u) = &upload_origin {
            b = b.upload_uri(u.as_str()).context("upload URL")?;
        }
        self.octo = b.build().context("building the GitHub client")?;
        self.upload_origin = upload_origin;
        Ok(())
    }

    /// Every release, drafts included (the list is the only way to find a draft by tag: GitHub's
    /// by-tag lookup skips drafts), following pagination.
    pub fn releases(&self) -> anyhow::Result<Vec<Release>> {
        let handler = self.octo.repos(&self.owner, &self.repo);
        self.rt.block_on(async {
            let mut page = retry("listing releases", || async {
                handler.releases().list().per_page(100u8).send().await
            })
            .await?;
            let mut all = std::mem::take(&mut page.items);
            let mut next = page.next.clone();
            // Bounded: 100 pages of 100 releases is far beyond any real project.
            for _ in 0..100 {
                let Some(url) = next.take() else { break };
                let p: Option<octocrab::Page<Release>> = retry("listing releases", || async {
                    self.octo.get_page(&Some(url.clone())).await
                })
                .await?;
                let Some(mut p) = p else { break };
                all.append(&mut p.items);
                next = p.next;
            }
            Ok(all)
        })
    }

    pub fn find(&self, tag: &str) -> anyhow::Result<Option<Release>> {
        Ok(self.releases()?.into_iter().find(|r| r.tag_name == tag))
    }

    pub fn create_draft(
        &self,
        tag: &str,
        name: &str,
        body: &str,
        prerelease: bool,
    ) -> anyhow::Result<Release> {
        let handler = self.octo.repos(&self.owner, &self.repo);
        // Not retried: a create whose response was lost would make a second draft. The caller
        // looks the draft up by tag before creating, which makes a re-run safe instead.
        self.rt
            .block_on(async {
                handler
                    .releases()
                    .create(tag)
                    .name(name)
                    .body(body)
                    .draft(true)
                    .prerelease(prerelease)
                    .make_latest(MakeLatest::False)
                    .send()
                    .await
            })
            .map_err(|e| gh_error(e, &format!("creating the draft release {tag}")))
    }

    pub fn update(&self, id: u64, u: &Update<'_>) -> anyhow::Result<Release> {
        let handler = self.octo.repos(&self.owner, &self.repo);
        self.rt
            .block_on(retry(&format!("updating release {id}"), || async {
                let releases = handler.releases();
                let mut b = releases.update(id);
                if let Some(body) = u.body {
                    b = b.body(body);
                }
                if let Some(d) = u.draft {
                    b = b.draft(d);
                }
                if let Some(p) = u.prerelease {
                    b = b.prerelease(p);
                }
                if let Some(l) = u.make_latest {
                    b = b.make_latest(if l {
                        MakeLatest::True
                    } else {
                        MakeLatest::False
                    });
                }
                b.send().await
            }))
    }

    pub fn latest(&self) -> anyhow::Result<Option<Release>> {
        let handler = self.octo.repos(&self.owner, &self.repo);
        match self
            .rt
            .block_on(async { handler.releases().get_latest().await })
        {
            Ok(r) => Ok(Some(r)),
            Err(e) if status(&e) == Some(404) => Ok(None),
            Err(e) => Err(gh_error(e, "reading the latest release")),
        }
    }

    pub fn assets(&self, id: u64) -> anyhow::Result<Vec<Asset>> {
        let handler = self.octo.repos(&self.owner, &self.repo);
        self.rt.block_on(async {
            let mut page = retry("listing assets", || async {
                handler.releases().assets(id).per_page(100u8).send().await
            })
            .await?;
            let mut all = std::mem::take(&mut page.items);
            let mut next = page.next.clone();
            for _ in 0..100 {
                let Some(url) = next.take() else { break };
                let p: Option<octocrab::Page<Asset>> = retry("listing assets", || async {
                    self.octo.get_page(&Some(url.clone())).await
                })
                .await?;
                let Some(mut p) = p else { break };
                all.append(&mut p.items);
                next = p.next;
            }
            Ok(all)
        })
    }

    /// Uploads one asset, retrying with backoff. Before each retry it looks for the asset on
    /// the release, because an upload whose response was lost may have landed.
    pub fn upload(
        &mut self,
        release: &Release,
        name: &str,
        bytes: Vec<u8>,
    ) -> anyhow::Result<Asset> {
        self.ensure_upload_host(&release.upload_url)?;
        let id = release.id.into_inner();
        let bytes = bytes::Bytes::from(bytes);
        let mut last = None;
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                std::thread::sleep(BACKOFF * 2u32.pow(attempt - 1));
                if let Some(a) = self.assets(id)?.into_iter().find(|a| a.name == name) {
                    return Ok(a);
                }
            }
            let handler = self.octo.repos(&self.owner, &self.repo);
            let res = self.rt.block_on(async {
                handler
                    .releases()
                    .upload_asset(id, name, bytes.clone())
                    .send()
                    .await
            });
            match res {
                Ok(a) => return Ok(a),
                Err(e) if retryable(&e) => {
                    eprintln!(
                        "    upload of {name} failed (attempt {}/{ATTEMPTS}): {}",
                        attempt + 1,
                        describe(&e)
                    );
                    last = Some(e);
                }
                Err(e) => return Err(gh_error(e, &format!("uploading {name}"))),
            }
        }
        Err(gh_error(
            last.expect("at least one attempt ran: this is a bug, please report it"),
            &format!("uploading {name} ({ATTEMPTS} attempts)"),
        ))
    }

    /// octocrab sends the token only to its base host and the configured upload host; the
    /// release's `upload_url` names the real one.
    fn ensure_upload_host(&mut self, upload_url: &str) -> anyhow::Result<()> {
        let uri: http::Uri = upload_url
            .split('{')
            .next()
            .unwrap_or(upload_url)
            .parse()
            .with_context(|| format!("the release's upload_url `{upload_url}` is not a URL"))?;
        let origin = format!(
            "{}://{}",
            uri.scheme_str().unwrap_or("https"),
            uri.authority().map(|a| a.as_str()).unwrap_or("")
        );
        let api_origin: http::Uri = self.api_url.parse()?;
        let api_origin = format!(
            "{}://{}",
            api_origin.scheme_str().unwrap_or("https"),
            api_origin.authority().map(|a| a.as_str()).unwrap_or("")
        );
        if origin != api_origin && self.upload_origin.as_deref() != Some(&origin) {
            self.rebuild(Some(origin))?;
        }
        Ok(())
    }

    /// An asset's bytes through the API (works for drafts, unlike `browser_download_url`).
    pub fn download(&self, asset: &Asset) -> anyhow::Result<Vec<u8>> {
        use http_body_util::BodyExt;
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::ACCEPT,
            http::HeaderValue::from_static("application/octet-stream"),
        );
        let url = asset.url.to_string();
        self.rt
            .block_on(retry(&format!("downloading {}", asset.name), || async {
                let res = self
                    .octo
                    ._get_with_headers(url.as_str(), Some(headers.clone()))
                    .await?;
                let res = octocrab::map_github_error(res).await?;
                Ok(res.into_body().collect().await?.to_bytes().to_vec())
            }))
    }
}

/// Runs `f` up to `ATTEMPTS` times while it fails with a retryable error.
async fn retry<T, F, Fut>(what: &str, mut f: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = octocrab::Result<T>>,
{
    let mut attempt = 0;
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(e) if retryable(&e) && attempt + 1 < ATTEMPTS => {
                eprintln!(
                    "    {what} failed (attempt {}/{ATTEMPTS}): {}",
                    attempt + 1,
                    describe(&e)
                );
                tokio::time::sleep(BACKOFF * 2u32.pow(attempt)).await;
                attempt += 1;
            }
            Err(e) => return Err(gh_error(e, what)),
        }
    }
}

pub fn status(e: &octocrab::Error) -> Option<u16> {
    match e {
        octocrab::Error::GitHub { source, .. } => Some(source.status_code.as_u16()),
        _ => None,
    }
}

/// 5xx, 429 and transport errors are worth another try; 4xx are not.
fn retryable(e: &octocrab::Error) -> bool {
    match status(e) {
        Some(s) => s >= 500 || s == 429,
        None => !matches!(
            e,
            octocrab::Error::Serde { .. } | octocrab::Error::Json { .. }
        ),
    }
}

fn describe(e: &octocrab::Error) -> String {
    match e {
        octocrab::Error::GitHub { source, .. } => {
            format!("HTTP {}: {}", source.status_code.as_u16(), source.message)
        }
        other => {
            let mut s = other.to_string();
            let mut src = std::error::Error::source(other);
            while let Some(x) = src {
                s.push_str(": ");
                s.push_str(&x.to_string());
                src = x.source();
            }
            s
        }
    }
}

fn gh_error(e: octocrab::Error, what: &str) -> anyhow::Error {
    let hint = match status(&e) {
        Some(401) => "; the token was refused: check GITHUB_TOKEN (it needs `contents: write`)",
        Some(403) => "; the token lacks permission: it needs `contents: write` on the repository",
        Some(404) => "; check ferry.release.github.repository and that the token can see it",
        _ => "",
    };
    anyhow::anyhow!("{what}: {}{hint}", describe(&e))
}

/// `sha256:<hex>` as GitHub reports asset digests.
pub fn digest_hex(asset: &Asset) -> Option<&str> {
    asset
        .digest
        .as_deref()
        .and_then(|d| d.strip_prefix("sha256:"))
}
