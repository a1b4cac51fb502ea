//! A stateful fake of GitHub's releases REST API on loopback, faithful to the shapes in
//! `tests/fixtures/github/releases.openapi.json` (checked by the tests at the bottom), with
//! fault injection. Two listeners, like GitHub: the API and the uploads host; the `upload_url`
//! it hands out points at the latter, so octocrab's upload path is exercised as in production.
//!
//! Semantics kept: drafts are visible only to authenticated callers and never by tag or as
//! latest; `make_latest` ("true"/"false"/"legacy") as documented; 422 `already_exists` for a
//! duplicate tag or asset name; pagination with `Link` headers; asset downloads through
//! `Accept: application/octet-stream` answer 302 to a download URL.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use crate::http::{Handler, Request, Response, Server};

/// The token the fake accepts; tests grep every output for it.
pub const TOKEN: &str = "ghp_FAKEtoken0123456789SECRETdoNotLeak";
pub const OWNER: &str = "ferry-deploy";
pub const REPO: &str = "ferry";

#[derive(Debug, Clone)]
pub struct Rel {
    pub id: u64,
    pub tag_name: String,
    pub name: Option<String>,
    pub body: Option<String>,
    pub draft: bool,
    pub prerelease: bool,
    pub target_commitish: String,
    pub created: u64,
    pub published: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct AssetRec {
    pub id: u64,
    pub release_id: u64,
    pub name: String,
    pub label: Option<String>,
    pub content_type: String,
    pub data: Vec<u8>,
    pub created: u64,
}

#[derive(Debug, Clone)]
pub struct Logged {
    pub method: String,
    pub path: String,
    pub uploads_host: bool,
    pub authorized: bool,
}

#[derive(Default)]
pub struct Faults {
    /// Asset name → how many uploads of it answer 500 (u32::MAX: all of them).
    pub upload_500: BTreeMap<String, u32>,
    /// Asset name → how many uploads of it are stored but their response is dropped.
    pub upload_drop: BTreeMap<String, u32>,
    /// The next N API (not upload) requests answer 500.
    pub api_500: u32,
}

#[derive(Default)]
pub struct State {
    pub releases: Vec<Rel>,
    pub assets: Vec<AssetRec>,
    pub refs: BTreeMap<String, String>,
    pub latest: Option<u64>,
    pub log: Vec<Logged>,
    pub faults: Faults,
    next_id: u64,
    clock: u64,
    api: String,
    uploads: String,
}

impl State {
    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }
    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }
}

pub struct FakeGithub {
    pub state: Arc<Mutex<State>>,
    pub api: Server,
    pub uploads: Server,
}

impl FakeGithub {
    pub fn start() -> Self {
        let state = Arc::new(Mutex::new(State {
            next_id: 1000,
            ..Default::default()
        }));
        let s1 = state.clone();
        let api = Server::start(Arc::new(move |r: &Request| handle(&s1, r, false)) as Handler);
        let s2 = state.clone();
        let uploads = Server::start(Arc::new(move |r: &Request| handle(&s2, r, true)) as Handler);
        {
            let mut st = state.lock().unwrap();
            st.api = api.url.clone();
            st.uploads = uploads.url.clone();
        }
        Self {
            state,
            api,
            uploads,
        }
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.state.lock().unwrap())
    }

    pub fn release(&self, tag: &str) -> Option<Rel> {
        self.with(|s| s.releases.iter().find(|r| r.tag_name == tag).cloned())
    }

    pub fn asset_names(&self, tag: &str) -> Vec<String> {
        self.with(|s| {
            let Some(r) = s.releases.iter().find(|r| r.tag_name == tag) else {
                return vec![];
            };
            let mut v: Vec<_> = s
                .assets
                .iter()
                .filter(|a| a.release_id == r.id)
                .map(|a| a.name.clone())
                .collect();
            v.sort();
            v
        })
    }

    pub fn latest_tag(&self) -> Option<String> {
        self.with(|s| latest_of(s).map(|r| r.tag_name.clone()))
    }

    /// Requests that change state (POST/PATCH/PUT/DELETE).
    pub fn writes(&self) -> Vec<String> {
        self.with(|s| {
            s.log
                .iter()
                .filter(|l| l.method != "GET" && l.method != "HEAD")
                .map(|l| format!("{} {}", l.method, l.path))
                .collect()
        })
    }

    pub fn uploads_of(&self, name: &str) -> usize {
        self.with(|s| {
            s.log
                .iter()
                .filter(|l| {
                    l.uploads_host
                        && l.method == "POST"
                        && l.path.ends_with(&format!("name={name}"))
                })
                .count()
        })
    }

    pub fn clear_log(&self) {
        self.with(|s| s.log.clear());
    }
}

fn time(n: u64) -> String {
    // 2026-01-01T00:00:00Z plus n minutes: distinct, ordered, valid RFC 3339.
    let mins = n % (24 * 60);
    let day = 1 + n / (24 * 60);
    format!(
        "2026-01-{:02}T{:02}:{:02}:00Z",
        day.min(28),
        mins / 60,
        mins % 60
    )
}

fn user(api: &str) -> Value {
    json!({
        "login": "ferry-bot", "id": 1, "node_id": "MDQ6VXNlcjE=",
        "avatar_url": format!("{api}/avatars/1"), "gravatar_id": "",
        "url": format!("{api}/users/ferry-bot"), "html_url": format!("{api}/ferry-bot"),
        "followers_url": format!("{api}/users/ferry-bot/followers"),
        "following_url": format!("{api}/users/ferry-bot/following{{/other_user}}"),
        "gists_url": format!("{api}/users/ferry-bot/gists{{/gist_id}}"),
        "starred_url": format!("{api}/users/ferry-bot/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{api}/users/ferry-bot/subscriptions"),
        "organizations_url": format!("{api}/users/ferry-bot/orgs"),
        "repos_url": format!("{api}/users/ferry-bot/repos"),
        "events_url": format!("{api}/users/ferry-bot/events{{/privacy}}"),
        "received_events_url": format!("{api}/users/ferry-bot/received_events"),
        "type": "Bot", "site_admin": false
    })
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn asset_json(s: &State, a: &AssetRec) -> Value {
    let tag = s
        .releases
        .iter()
        .find(|r| r.id == a.release_id)
        .map(|r| r.tag_name.clone())
        .unwrap_or_default();
    json!({
        "url": format!("{}/repos/{OWNER}/{REPO}/releases/assets/{}", s.api, a.id),
        "browser_download_url": format!("{}/{OWNER}/{REPO}/releases/download/{tag}/{}", s.api, a.name),
        "id": a.id, "node_id": format!("RA_{}", a.id), "name": a.name, "label": a.label,
        "state": "uploaded", "content_type": a.content_type, "size": a.data.len(),
        "digest": format!("sha256:{}", sha256_hex(&a.data)),
        "download_count": 0, "created_at": time(a.created), "updated_at": time(a.created),
        "uploader": user(&s.api)
    })
}

fn release_json(s: &State, r: &Rel) -> Value {
    let api = &s.api;
    let base = format!("{api}/repos/{OWNER}/{REPO}/releases/{}", r.id);
    // Drafts have no tag page yet: GitHub gives them an `untagged-…` html_url.
    let html = if r.draft {
        format!("{api}/{OWNER}/{REPO}/releases/tag/untagged-{}", r.id)
    } else {
        format!("{api}/{OWNER}/{REPO}/releases/tag/{}", r.tag_name)
    };
    let assets: Vec<Value> = s
        .assets
        .iter()
        .filter(|a| a.release_id == r.id)
        .map(|a| asset_json(s, a))
        .collect();
    json!({
        "url": base, "html_url": html, "assets_url": format!("{base}/assets"),
        "upload_url": format!("{}/repos/{OWNER}/{REPO}/releases/{}/assets{{?name,label}}", s.uploads, r.id),
        "tarball_url": format!("{api}/repos/{OWNER}/{REPO}/tarball/{}", r.tag_name),
        "zipball_url": format!("{api}/repos/{OWNER}/{REPO}/zipball/{}", r.tag_name),
        "id": r.id, "node_id": format!("RE_{}", r.id), "tag_name": r.tag_name,
        "target_commitish": r.target_commitish, "name": r.name, "body": r.body,
        "draft": r.draft, "prerelease": r.prerelease, "immutable": false,
        "created_at": time(r.created), "published_at": r.published.map(time),
        "updated_at": time(r.published.unwrap_or(r.created)),
        "author": user(api), "assets": assets
    })
}

fn semver_key(tag: &str) -> Option<semver::Version> {
    semver::Version::parse(tag.strip_prefix('v')?).ok()
}

/// GitHub's latest: the release last marked latest if it still qualifies, else (legacy) the
/// newest by creation date, then the highest semver, among published non-prereleases.
fn latest_of(s: &State) -> Option<&Rel> {
    let ok = |r: &&Rel| !r.draft && !r.prerelease;
    if let Some(r) = s
        .latest
        .and_then(|id| s.releases.iter().find(|r| r.id == id))
        .filter(ok)
    {
        return Some(r);
    }
    s.releases.iter().filter(ok).max_by(|a, b| {
        (a.created, semver_key(&a.tag_name)).cmp(&(b.created, semver_key(&b.tag_name)))
    })
}

fn error(status: u16, message: &str) -> Response {
    Response::json(
        status,
        &json!({"message": message, "documentation_url": "https://docs.github.com/rest/releases/releases", "status": status.to_string()}),
    )
}

fn validation(resource: &str, field: &str, code: &str) -> Response {
    Response::json(
        422,
        &json!({"message": "Validation Failed", "errors": [{"resource": resource, "code": code, "field": field}], "documentation_url": "https://docs.github.com/rest/releases/releases#create-a-release"}),
    )
}

/// `per_page` (default 30, max 100) and `page` with a `Link` header, as GitHub paginates.
fn paginate(req: &Request, base: &str, items: Vec<Value>) -> Response {
    let per: usize = req
        .query("per_page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(30)
        .clamp(1, 100);
    let page: usize = req
        .query("page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1)
        .max(1);
    let pages = items.len().div_ceil(per).max(1);
    let slice: Vec<Value> = items.into_iter().skip((page - 1) * per).take(per).collect();
    let mut res = Response::json(200, &Value::Array(slice));
    let mut links = Vec::new();
    if page < pages {
        links.push(format!(
            "<{base}?per_page={per}&page={}>; rel=\"next\"",
            page + 1
        ));
        links.push(format!(
            "<{base}?per_page={per}&page={pages}>; rel=\"last\""
        ));
    }
    if page > 1 {
        links.push(format!(
            "<{base}?per_page={per}&page={}>; rel=\"prev\"",
            page - 1
        ));
        links.push(format!("<{base}?per_page={per}&page=1>; rel=\"first\""));
    }
    if !links.is_empty() {
        res = res.with_header("link", &links.join(", "));
    }
    res
}

fn handle(state: &Arc<Mutex<State>>, req: &Request, uploads_host: bool) -> Response {
    let mut s = state.lock().unwrap();
    let auth = req.header("authorization");
    let authorized =
        auth.is_some_and(|a| a == format!("Bearer {TOKEN}") || a == format!("token {TOKEN}"));
    let full_path = if req.query.is_empty() {
        req.path.clone()
    } else {
        format!(
            "{}?{}",
            req.path,
            req.query
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("&")
        )
    };
    s.log.push(Logged {
        method: req.method.clone(),
        path: full_path,
        uploads_host,
        authorized,
    });
    let seg: Vec<&str> = req.path.trim_start_matches('/').split('/').collect();
    // Public download URLs (what browsers and installers fetch): no auth, published only.
    if !uploads_host && seg.len() >= 5 && seg[0] == OWNER && seg[1] == REPO && seg[2] == "releases"
    {
        return download(&s, &seg[3..]);
    }
    if !uploads_host && seg.len() == 3 && seg[0] == "download" && seg[1] == "assets" {
        let id: u64 = seg[2].parse().unwrap_or(0);
        return match s.assets.iter().find(|a| a.id == id) {
            Some(a) => bytes(&a.data),
            None => error(404, "Not Found"),
        };
    }
    if auth.is_none() && req.method != "GET" {
        return error(401, "Requires authentication");
    }
    if auth.is_some() && !authorized {
        return error(401, "Bad credentials");
    }
    if !uploads_host && s.faults.api_500 > 0 {
        s.faults.api_500 -= 1;
        return error(500, "Server Error");
    }
    if seg.len() < 3 || seg[0] != "repos" || seg[1] != OWNER || seg[2] != REPO {
        return error(404, "Not Found");
    }
    let rest = &seg[3..];
    let m = req.method.as_str();
    let api = s.api.clone();
    let body: Value = if req.body.is_empty() || uploads_host {
        Value::Null
    } else {
        match serde_json::from_slice(&req.body) {
            Ok(v) => v,
            Err(_) => return error(400, "Problems parsing JSON"),
        }
    };
    match (m, rest) {
        ("GET", []) => Response::json(
            200,
            &json!({"id": 1, "name": REPO, "full_name": format!("{OWNER}/{REPO}"), "private": false, "default_branch": "main"}),
        ),
        ("POST", ["releases", id, "assets"]) if uploads_host => upload(&mut s, req, id),
        (_, _) if uploads_host => error(404, "Not Found"),
        ("GET", ["releases"]) => {
            let mut rs: Vec<&Rel> = s
                .releases
                .iter()
                .filter(|r| authorized || !r.draft)
                .collect();
            rs.sort_by_key(|r| std::cmp::Reverse(r.created));
            let items = rs.into_iter().map(|r| release_json(&s, r)).collect();
            paginate(req, &format!("{api}/repos/{OWNER}/{REPO}/releases"), items)
        }
        ("POST", ["releases"]) => {
            let Some(tag) = body.get("tag_name").and_then(Value::as_str) else {
                return validation("Release", "tag_name", "missing_field");
            };
            if s.releases.iter().any(|r| r.tag_name == tag) {
                return validation("Release", "tag_name", "already_exists");
            }
            let make_latest = body
                .get("make_latest")
                .and_then(Value::as_str)
                .unwrap_or("true");
            if !["true", "false", "legacy"].contains(&make_latest) {
                return validation("Release", "make_latest", "invalid");
            }
            let draft = body.get("draft").and_then(Value::as_bool).unwrap_or(false);
            let id = s.id();
            let t = s.tick();
            let r = Rel {
                id,
                tag_name: tag.to_owned(),
                name: body.get("name").and_then(Value::as_str).map(str::to_owned),
                body: body.get("body").and_then(Value::as_str).map(str::to_owned),
                draft,
                prerelease: body
                    .get("prerelease")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                target_commitish: body
                    .get("target_commitish")
                    .and_then(Value::as_str)
                    .unwrap_or("main")
                    .to_owned(),
                created: t,
                published: (!draft).then_some(t),
            };
            if !r.draft && !r.prerelease && make_latest == "true" {
                s.latest = Some(id);
            }
            s.releases.push(r.clone());
            Response::json(201, &release_json(&s, &r))
        }
        ("GET", ["releases", "latest"]) => match latest_of(&s) {
            Some(r) => Response::json(200, &release_json(&s, r)),
            None => error(404, "Not Found"),
        },
        ("GET", ["releases", "tags", tag]) => {
            match s.releases.iter().find(|r| r.tag_name == *tag && !r.draft) {
                Some(r) => Response::json(200, &release_json(&s, r)),
                None => error(404, "Not Found"),
            }
        }
        ("GET", ["releases", "assets", id]) => {
            let id: u64 = id.parse().unwrap_or(0);
            let Some(a) = s.assets.iter().find(|a| a.id == id) else {
                return error(404, "Not Found");
            };
            if req
                .header("accept")
                .is_some_and(|a| a.contains("application/octet-stream"))
            {
                return Response::empty(302)
                    .with_header("location", &format!("{api}/download/assets/{id}"));
            }
            Response::json(200, &asset_json(&s, a))
        }
        ("DELETE", ["releases", "assets", id]) => {
            let id: u64 = id.parse().unwrap_or(0);
            let before = s.assets.len();
            s.assets.retain(|a| a.id != id);
            if s.assets.len() == before {
                error(404, "Not Found")
            } else {
                Response::empty(204)
            }
        }
        ("GET", ["releases", id]) => match find(&s, id) {
            Some(r) if authorized || !r.draft => Response::json(200, &release_json(&s, r)),
            _ => error(404, "Not Found"),
        },
        ("PATCH", ["releases", id]) => {
            let Some(idx) = id
                .parse::<u64>()
                .ok()
                .and_then(|id| s.releases.iter().position(|r| r.id == id))
            else {
                return error(404, "Not Found");
            };
            let make_latest = body.get("make_latest").and_then(Value::as_str);
            if make_latest.is_some_and(|m| !["true", "false", "legacy"].contains(&m)) {
                return validation("Release", "make_latest", "invalid");
            }
            let t = s.tick();
            let r = &mut s.releases[idx];
            let was_draft = r.draft;
            if let Some(v) = body.get("tag_name").and_then(Value::as_str) {
                r.tag_name = v.to_owned();
            }
            if let Some(v) = body.get("name").and_then(Value::as_str) {
                r.name = Some(v.to_owned());
            }
            if let Some(v) = body.get("body").and_then(Value::as_str) {
                r.body = Some(v.to_owned());
            }
            if let Some(v) = body.get("draft").and_then(Value::as_bool) {
                r.draft = v;
            }
            if let Some(v) = body.get("prerelease").and_then(Value::as_bool) {
                r.prerelease = v;
            }
            if was_draft && !r.draft {
                r.published = Some(t);
            }
            let r = r.clone();
            // Absent make_latest defaults to "true" for a newly published release.
            let ml = make_latest.unwrap_or(if was_draft && !r.draft { "true" } else { "" });
            if ml == "true" && !r.draft && !r.prerelease {
                s.latest = Some(r.id);
            } else if ml == "legacy"
                || s.latest == Some(r.id) && (ml == "false" || r.prerelease || r.draft)
            {
                s.latest = None;
            }
            Response::json(200, &release_json(&s, &r))
        }
        ("DELETE", ["releases", id]) => {
            let Some(id) = id
                .parse::<u64>()
                .ok()
                .filter(|id| s.releases.iter().any(|r| r.id == *id))
            else {
                return error(404, "Not Found");
            };
            s.releases.retain(|r| r.id != id);
            s.assets.retain(|a| a.release_id != id);
            Response::empty(204)
        }
        ("GET", ["releases", id, "assets"]) => {
            let Some(r) = find(&s, id) else {
                return error(404, "Not Found");
            };
            let items = s
                .assets
                .iter()
                .filter(|a| a.release_id == r.id)
                .map(|a| asset_json(&s, a))
                .collect();
            paginate(
                req,
                &format!("{api}/repos/{OWNER}/{REPO}/releases/{}/assets", r.id),
                items,
            )
        }
        ("GET", ["git", "ref", r @ ..]) => {
            let name = format!("refs/{}", r.join("/"));
            match s.refs.get(&name) {
                Some(sha) => Response::json(200, &ref_json(&api, &name, sha)),
                None => error(404, "Not Found"),
            }
        }
        ("POST", ["git", "refs"]) => {
            let (Some(name), Some(sha)) = (
                body.get("ref").and_then(Value::as_str),
                body.get("sha").and_then(Value::as_str),
            ) else {
                return validation("Reference", "ref", "missing_field");
            };
            if s.refs.contains_key(name) {
                return validation("Reference", "ref", "already_exists");
            }
            s.refs.insert(name.to_owned(), sha.to_owned());
            Response::json(201, &ref_json(&api, name, sha))
        }
        _ => error(404, "Not Found"),
    }
}

fn find<'a>(s: &'a State, id: &str) -> Option<&'a Rel> {
    let id: u64 = id.parse().ok()?;
    s.releases.iter().find(|r| r.id == id)
}

fn ref_json(api: &str, name: &str, sha: &str) -> Value {
    json!({"ref": name, "node_id": "REF_1", "url": format!("{api}/repos/{OWNER}/{REPO}/git/{name}"),
           "object": {"type": "commit", "sha": sha, "url": format!("{api}/repos/{OWNER}/{REPO}/git/commits/{sha}")}})
}

fn bytes(data: &[u8]) -> Response {
    Response {
        status: 200,
        headers: vec![("content-type".into(), "application/octet-stream".into())],
        body: data.to_vec(),
        drop_connection: false,
    }
}

/// `/{owner}/{repo}/releases/download/{tag}/{name}` and `…/releases/latest/download/{name}`.
fn download(s: &State, rest: &[&str]) -> Response {
    let (rel, name) = match rest {
        ["download", tag, name] => (
            s.releases.iter().find(|r| r.tag_name == *tag && !r.draft),
            *name,
        ),
        ["latest", "download", name] => (latest_of(s), *name),
        _ => return error(404, "Not Found"),
    };
    let Some(rel) = rel else {
        return error(404, "Not Found");
    };
    match s
        .assets
        .iter()
        .find(|a| a.release_id == rel.id && a.name == name)
    {
        Some(a) => bytes(&a.data),
        None => error(404, "Not Found"),
    }
}

fn upload(s: &mut State, req: &Request, id: &str) -> Response {
    let Some(rid) = id
        .parse::<u64>()
        .ok()
        .filter(|id| s.releases.iter().any(|r| r.id == *id))
    else {
        return error(404, "Not Found");
    };
    let Some(name) = req
        .query("name")
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
    else {
        return validation("ReleaseAsset", "name", "missing_field");
    };
    if let Some(n) = s.faults.upload_500.get_mut(&name) {
        if *n > 0 {
            if *n != u32::MAX {
                *n -= 1;
            }
            return error(500, "Server Error");
        }
    }
    if s.assets
        .iter()
        .any(|a| a.release_id == rid && a.name == name)
    {
        return validation("ReleaseAsset", "name", "already_exists");
    }
    let aid = s.id();
    let t = s.tick();
    let a = AssetRec {
        id: aid,
        release_id: rid,
        name: name.clone(),
        label: req
            .query("label")
            .filter(|l| !l.is_empty())
            .map(str::to_owned),
        content_type: req
            .header("content-type")
            .unwrap_or("application/octet-stream")
            .to_owned(),
        data: req.body.clone(),
        created: t,
    };
    s.assets.push(a.clone());
    if let Some(n) = s.faults.upload_drop.get_mut(&name) {
        if *n > 0 {
            *n -= 1;
            let mut r = Response::empty(500);
            r.drop_connection = true;
            return r;
        }
    }
    Response::json(201, &asset_json(s, &a))
}

// ---- the fake's shapes against GitHub's OpenAPI description ----

/// Checks `value` against `schema` (a subset of JSON Schema as the OpenAPI file uses it:
/// $ref, type, nullable, required, properties, items, enum, allOf/anyOf/oneOf).
fn check(spec: &Value, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let mut node = spec;
        for part in r.trim_start_matches("#/").split('/') {
            node = &node[part];
        }
        return check(spec, node, value, at, errors);
    }
    if value.is_null() {
        if schema.get("nullable") != Some(&json!(true)) && schema.get("type").is_some() {
            errors.push(format!("{at}: null but not nullable"));
        }
        return;
    }
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for s in all {
            check(spec, s, value, at, errors);
        }
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(any) = schema.get(key).and_then(Value::as_array) {
            let ok = any.iter().any(|s| {
                let mut e = Vec::new();
                check(spec, s, value, at, &mut e);
                e.is_empty()
            });
            if !ok {
                errors.push(format!("{at}: matches none of {key}"));
            }
        }
    }
    let ty = schema.get("type").and_then(Value::as_str);
    let type_ok = match ty {
        Some("object") => value.is_object(),
        Some("array") => value.is_array(),
        Some("string") => value.is_string(),
        Some("integer") => value.is_i64() || value.is_u64(),
        Some("number") => value.is_number(),
        Some("boolean") => value.is_boolean(),
        _ => true,
    };
    if !type_ok {
        errors.push(format!("{at}: expected {}, got {value}", ty.unwrap_or("?")));
        return;
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array) {
        if !e.contains(value) {
            errors.push(format!("{at}: {value} not in {e:?}"));
        }
    }
    if let Some(req) = schema.get("required").and_then(Value::as_array) {
        for k in req.iter().filter_map(Value::as_str) {
            if value.get(k).is_none() {
                errors.push(format!("{at}: missing required `{k}`"));
            }
        }
    }
    if let (Some(props), Some(obj)) = (
        schema.get("properties").and_then(Value::as_object),
        value.as_object(),
    ) {
        for (k, v) in obj {
            if let Some(s) = props.get(k) {
                check(spec, s, v, &format!("{at}.{k}"), errors);
            }
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), value.as_array()) {
        for (i, v) in arr.iter().enumerate() {
            check(spec, items, v, &format!("{at}[{i}]"), errors);
        }
    }
}

fn spec() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/github/releases.openapi.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The response schema of `method path` for `status` in the spec.
fn response_schema<'a>(spec: &'a Value, path: &str, method: &str, status: &str) -> &'a Value {
    let mut node = &spec["paths"][path][method]["responses"][status];
    if let Some(r) = node.get("$ref").and_then(Value::as_str) {
        node = &spec["components"]["responses"][r.rsplit('/').next().unwrap()];
    }
    &node["content"]["application/json"]["schema"]
}

#[test]
fn fake_responses_match_the_openapi_schemas() {
    let gh = FakeGithub::start();
    let spec = spec();
    let auth = format!("Bearer {TOKEN}");
    let h: &[(&str, &str)] = &[
        ("authorization", &auth),
        ("content-type", "application/json"),
    ];
    let api = gh.api.url.clone();
    let repo = format!("{api}/repos/{OWNER}/{REPO}");
    let mut errors = Vec::new();
    let mut expect = |what: &str,
                      path: &str,
                      method: &str,
                      status: u16,
                      res: (u16, Vec<(String, String)>, Vec<u8>)| {
        assert_eq!(res.0, status, "{what}: {}", String::from_utf8_lossy(&res.2));
        let body: Value = serde_json::from_slice(&res.2).unwrap();
        // The status must be one the operation documents; its body is checked when the
        // description gives a schema (the upload's 422 has none).
        assert!(
            !spec["paths"][path][method]["responses"][status.to_string()].is_null(),
            "{what}: {method} {path} does not document {status}"
        );
        let schema = response_schema(&spec, path, method, &status.to_string());
        if !schema.is_null() {
            check(&spec, schema, &body, what, &mut errors);
        }
        body
    };
    let created = expect(
        "create",
        "/repos/{owner}/{repo}/releases",
        "post",
        201,
        crate::http::request(
            "POST",
            &format!("{repo}/releases"),
            h,
            br#"{"tag_name":"v1.0.0","name":"ferry 1.0.0","body":"notes","draft":true}"#,
        ),
    );
    let id = created["id"].as_u64().unwrap();
    let upload_url = created["upload_url"]
        .as_str()
        .unwrap()
        .split('{')
        .next()
        .unwrap()
        .to_owned();
    assert!(
        upload_url.starts_with(&gh.uploads.url),
        "upload_url points at the uploads host: {upload_url}"
    );
    let asset = expect(
        "upload",
        "/repos/{owner}/{repo}/releases/{release_id}/assets",
        "post",
        201,
        crate::http::request(
            "POST",
            &format!("{upload_url}?name=a.tar.gz"),
            &[
                ("authorization", &auth),
                ("content-type", "application/octet-stream"),
            ],
            b"hello",
        ),
    );
    assert_eq!(
        asset["digest"],
        json!(format!("sha256:{}", sha256_hex(b"hello")))
    );
    expect(
        "upload duplicate",
        "/repos/{owner}/{repo}/releases/{release_id}/assets",
        "post",
        422,
        crate::http::request(
            "POST",
            &format!("{upload_url}?name=a.tar.gz"),
            &[("authorization", &auth)],
            b"x",
        ),
    );
    expect(
        "get",
        "/repos/{owner}/{repo}/releases/{release_id}",
        "get",
        200,
        crate::http::request("GET", &format!("{repo}/releases/{id}"), h, b""),
    );
    expect(
        "list",
        "/repos/{owner}/{repo}/releases",
        "get",
        200,
        crate::http::request("GET", &format!("{repo}/releases"), h, b""),
    );
    expect(
        "assets",
        "/repos/{owner}/{repo}/releases/{release_id}/assets",
        "get",
        200,
        crate::http::request("GET", &format!("{repo}/releases/{id}/assets"), h, b""),
    );
    expect(
        "asset",
        "/repos/{owner}/{repo}/releases/assets/{asset_id}",
        "get",
        200,
        crate::http::request(
            "GET",
            &format!("{repo}/releases/assets/{}", asset["id"]),
            h,
            b"",
        ),
    );
    expect(
        "draft by tag",
        "/repos/{owner}/{repo}/releases/tags/{tag}",
        "get",
        404,
        crate::http::request("GET", &format!("{repo}/releases/tags/v1.0.0"), h, b""),
    );
    expect(
        "latest without any",
        "/repos/{owner}/{repo}/releases/latest",
        "get",
        404,
        crate::http::request("GET", &format!("{repo}/releases/latest"), h, b""),
    );
    expect(
        "publish",
        "/repos/{owner}/{repo}/releases/{release_id}",
        "patch",
        200,
        crate::http::request(
            "PATCH",
            &format!("{repo}/releases/{id}"),
            h,
            br#"{"draft":false,"make_latest":"true"}"#,
        ),
    );
    expect(
        "by tag",
        "/repos/{owner}/{repo}/releases/tags/{tag}",
        "get",
        200,
        crate::http::request("GET", &format!("{repo}/releases/tags/v1.0.0"), h, b""),
    );
    expect(
        "latest",
        "/repos/{owner}/{repo}/releases/latest",
        "get",
        200,
        crate::http::request("GET", &format!("{repo}/releases/latest"), h, b""),
    );
    expect(
        "duplicate tag",
        "/repos/{owner}/{repo}/releases",
        "post",
        422,
        crate::http::request(
            "POST",
            &format!("{repo}/releases"),
            h,
            br#"{"tag_name":"v1.0.0"}"#,
        ),
    );
    expect(
        "create ref",
        "/repos/{owner}/{repo}/git/refs",
        "post",
        201,
        crate::http::request(
            "POST",
            &format!("{repo}/git/refs"),
            h,
            br#"{"ref":"refs/tags/v1.0.0","sha":"0123456789abcdef0123456789abcdef01234567"}"#,
        ),
    );
    expect(
        "get ref",
        "/repos/{owner}/{repo}/git/ref/{ref}",
        "get",
        200,
        crate::http::request("GET", &format!("{repo}/git/ref/tags/v1.0.0"), h, b""),
    );
    assert!(
        errors.is_empty(),
        "the fake disagrees with the OpenAPI description:\n{}",
        errors.join("\n")
    );

    // Auth: no token, wrong token.
    let (code, _, _) = crate::http::request(
        "POST",
        &format!("{repo}/releases"),
        &[],
        br#"{"tag_name":"v2"}"#,
    );
    assert_eq!(code, 401);
    let (code, _, _) = crate::http::request(
        "GET",
        &format!("{repo}/releases"),
        &[("authorization", "Bearer nope")],
        b"",
    );
    assert_eq!(code, 401);
    // Download through the API redirects; the public URL serves published assets.
    let (code, hs, _) = crate::http::request(
        "GET",
        &format!("{repo}/releases/assets/{}", asset["id"]),
        &[
            ("authorization", &auth),
            ("accept", "application/octet-stream"),
        ],
        b"",
    );
    assert_eq!(code, 302, "{hs:?}");
    assert_eq!(
        crate::http::get_follow(&format!(
            "{api}/{OWNER}/{REPO}/releases/latest/download/a.tar.gz"
        )),
        (200, b"hello".to_vec())
    );
}

#[test]
fn pagination_follows_link_headers() {
    let gh = FakeGithub::start();
    let auth = format!("Bearer {TOKEN}");
    let repo = format!("{}/repos/{OWNER}/{REPO}", gh.api.url);
    for i in 0..5 {
        let body = format!(r#"{{"tag_name":"v0.{i}.0"}}"#);
        assert_eq!(
            crate::http::request(
                "POST",
                &format!("{repo}/releases"),
                &[("authorization", &auth)],
                body.as_bytes()
            )
            .0,
            201
        );
    }
    let (code, hs, body) = crate::http::request(
        "GET",
        &format!("{repo}/releases?per_page=2"),
        &[("authorization", &auth)],
        b"",
    );
    assert_eq!(code, 200);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2);
    let link = &hs.iter().find(|(n, _)| n == "link").unwrap().1;
    assert!(
        link.contains("page=2>; rel=\"next\"") && link.contains("page=3>; rel=\"last\""),
        "{link}"
    );
    // Newest first, as GitHub lists them.
    assert_eq!(v[0]["tag_name"], "v0.4.0");
}
