//! `[ferry.release]` in dist-workspace.toml: where releases go. Strict like the other `[ferry]`
//! tables. Secrets (token, webhook URL) are never here: only the names of the variables that
//! hold them.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ReleaseConfig {
    /// The only branch releases are cut from.
    #[serde(default = "default_branch")]
    pub branch: String,
    /// The git remote tags and release commits are pushed to.
    #[serde(default = "default_remote")]
    pub remote: String,
    pub github: GithubConfig,
    /// `HOST[:PORT]/NAME` images are pushed to (`cargo xtask oci push`); without it the oci
    /// stage is skipped. Credentials: see `cargo xtask oci push --help`.
    #[serde(default)]
    pub image_repository: Option<String>,
    /// Plain HTTP to the image registry (a loopback test registry only).
    #[serde(default)]
    pub image_plain_http: bool,
    /// The Homebrew tap; without it the homebrew stage is skipped.
    #[serde(default)]
    pub homebrew: Option<HomebrewConfig>,
    /// The release webhook; without it the notify stage is skipped.
    #[serde(default)]
    pub notify: Option<NotifyConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct GithubConfig {
    /// `owner/name`.
    pub repository: String,
    /// REST API root; GitHub Enterprise: `https://HOST/api/v3`. `--api-url` overrides it.
    #[serde(default = "default_api")]
    pub api_url: String,
    /// Web root for links in the changelog and notes (GitHub Enterprise: `https://HOST`).
    #[serde(default = "default_web")]
    pub web_url: String,
    /// The variable holding the token (a secret: never in this file).
    #[serde(default = "default_token_env")]
    pub token_env: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct HomebrewConfig {
    /// The tap's git URL (anything `git clone` takes).
    pub tap: String,
    /// The tap's branch.
    #[serde(default = "default_branch")]
    pub branch: String,
    /// The archive variant the formula installs.
    #[serde(default = "default_variant")]
    pub variant: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct NotifyConfig {
    /// The variable holding the webhook URL (Slack-style URLs embed a token, so it is a secret).
    pub webhook_env: String,
}

fn default_branch() -> String {
    "main".into()
}
fn default_remote() -> String {
    "origin".into()
}
fn default_api() -> String {
    "https://api.github.com".into()
}
fn default_web() -> String {
    "https://github.com".into()
}
fn default_token_env() -> String {
    "GITHUB_TOKEN".into()
}
fn default_variant() -> String {
    "complete".into()
}

impl GithubConfig {
    pub fn owner_repo(&self) -> anyhow::Result<(&str, &str)> {
        self.repository
            .split_once('/')
            .filter(|(o, r)| !o.is_empty() && !r.is_empty() && !r.contains('/'))
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "ferry.release.github.repository = `{}` must be `owner/name`",
                    self.repository
                )
            })
    }

    pub fn repo_url(&self) -> String {
        format!("{}/{}", self.web_url.trim_end_matches('/'), self.repository)
    }
}
