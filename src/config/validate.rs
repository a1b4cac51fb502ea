//! Checks that serde cannot express: cross-references, value formats, duplicates.
//! Also turns serde's messages into located diagnostics with "did you mean" hints.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::locate::{key, render, Locator, Seg};
use super::model::*;
use super::Diagnostic;

/// A problem found by [`check`], before it is located in the source.
pub struct Problem {
    pub path: Vec<Seg>,
    pub message: String,
    pub help: Option<String>,
}

fn problem(path: Vec<Seg>, message: impl Into<String>, help: impl Into<String>) -> Problem {
    Problem {
        path,
        message: message.into(),
        help: Some(help.into()),
    }
}

/// The closest of `candidates` to `word`, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// Turns a serde/TOML error into a located diagnostic.
pub fn from_serde(
    path: &Path,
    source: &str,
    locator: &Locator,
    err: &toml::de::Error,
) -> Diagnostic {
    let message = err.message().trim().to_owned();
    // A span covering the whole document (a missing top-level field) locates nothing.
    let mut span = err
        .span()
        .filter(|s| !(s.start == 0 && s.end >= source.trim_end().len()));
    let mut field_path = span
        .clone()
        .map(|s| locator.path_at(s.start))
        .unwrap_or_default();
    let mut help = None;
    // serde words these as "unknown field `x`, expected one of `a`, `b`" (or "expected `a`"),
    // and the same for enum variants, so the candidates can be read back from the message.
    for what in ["unknown field", "unknown variant"] {
        if let Some(rest) = message.strip_prefix(what) {
            let names: Vec<&str> = rest.split('`').skip(1).step_by(2).collect();
            if let Some((word, candidates)) = names.split_first() {
                help = Some(match did_you_mean(word, candidates.iter().copied()) {
                    Some(m) => format!("did you mean `{m}`?"),
                    None if candidates.is_empty() => "remove it".to_owned(),
                    None => format!("expected one of: {}", candidates.join(", ")),
                });
                // Inside tagged tables serde points at the whole table; point at the key itself.
                if what == "unknown field" && !field_path.ends_with(&[key(word)]) {
                    let mut inner = field_path.clone();
                    inner.push(key(word));
                    if let Some(s) = locator.key_span_of(&inner) {
                        span = Some(s);
                        field_path = inner;
                    }
                }
            }
        }
    }
    if let Some(missing) = message
        .strip_prefix("missing field `")
        .and_then(|r| r.split('`').next())
    {
        help = Some(match missing {
            "provider" => "add a `[provider]` table, e.g. `[provider]` then `type = \"local\"` (see docs/environment.md)".to_owned(),
            _ => format!("add `{missing} = ...` here (see docs/environment.md)"),
        });
    }
    if message.starts_with("invalid type") {
        help = Some("check the value's type: strings are quoted, lists use [ ]".to_owned());
    }
    let d = Diagnostic::new(path.to_owned(), source, span, render(&field_path), message);
    match help {
        Some(h) => d.with_help(h),
        None => d,
    }
}

/// Every problem in a parsed file; empty when it is valid.
pub fn check(file: &EnvironmentFile) -> Vec<Problem> {
    let mut out = Vec::new();
    check_provider(file, &mut out);
    let host_names = check_hosts(file, &mut out);
    let known_roles = check_roles(file, &host_names, &mut out);
    check_vars(&file.vars, vec![key("vars")], &mut out);
    for section in ["configure", "release", "run"] {
        let list = match section {
            "configure" => &file.configure,
            "release" => &file.release,
            _ => &file.run,
        };
        check_resources(section, list, &known_roles, file, &mut out);
    }
    let mut check_names = BTreeSet::new();
    for (i, c) in file.test.iter().enumerate() {
        let at = |k: &str| vec![key("test"), Seg::Index(i), key(k)];
        if !check_names.insert(c.name.as_str()) {
            out.push(problem(
                at("name"),
                format!("a check named `{}` is already declared", c.name),
                "give each check its own name",
            ));
        }
        if c.command.trim().is_empty() {
            out.push(problem(
                at("command"),
                "the command is empty",
                "write the shell command that must exit 0",
            ));
        }
        check_role_refs(&c.roles, at("roles"), &known_roles, file, &mut out);
    }
    out
}

fn check_provider(file: &EnvironmentFile, out: &mut Vec<Problem>) {
    match &file.provider {
        Provider::Local { .. } if !file.hosts.is_empty() => out.push(problem(
            vec![key("hosts")],
            "the `local` provider manages this machine only and takes no `[[hosts]]`",
            "remove the `[[hosts]]` tables, or set `type = \"static\"` under `[provider]` to use them",
        )),
        Provider::Static {} if file.hosts.is_empty() => out.push(problem(
            vec![key("provider"), key("type")],
            "the `static` provider needs at least one host",
            "add a `[[hosts]]` table with `name` and `address`",
        )),
        Provider::Command { provision, .. } => {
            if provision.trim().is_empty() {
                out.push(problem(
                    vec![key("provider"), key("provision")],
                    "the provision command is empty",
                    "write a command that creates the hosts and prints their inventory as JSON",
                ));
            }
            if !file.hosts.is_empty() {
                out.push(problem(
                    vec![key("hosts")],
                    "the `command` provider takes its hosts from the inventory its command prints",
                    "remove the `[[hosts]]` tables, or use `type = \"static\"`",
                ));
            }
        }
        _ => {}
    }
}

/// Checks hosts and returns their names (for local: the one implicit host).
fn check_hosts(file: &EnvironmentFile, out: &mut Vec<Problem>) -> Vec<String> {
    if let Provider::Local { .. } = file.provider {
        return vec![crate::inventory::LOCAL_HOST.to_owned()];
    }
    let mut names = Vec::new();
    for (i, h) in file.hosts.iter().enumerate() {
        let at = |k: &str| vec![key("hosts"), Seg::Index(i), key(k)];
        if let Err(why) = crate::inventory::check_host_name(&h.name) {
            out.push(problem(
                at("name"),
                why,
                "use letters, digits, `.`, `-` and `_`",
            ));
        } else if names.contains(&h.name) {
            out.push(problem(
                at("name"),
                format!("host `{}` is declared twice", h.name),
                "give each host its own name",
            ));
        }
        if h.address.trim().is_empty() {
            out.push(problem(
                at("address"),
                "the address is empty",
                "write the host's IP address or DNS name",
            ));
        }
        if h.port == 0 {
            out.push(problem(
                at("port"),
                "port 0 is not a valid SSH port",
                "use the port sshd listens on, usually 22",
            ));
        }
        check_vars(&h.vars, vec![key("hosts"), Seg::Index(i), key("vars")], out);
        names.push(h.name.clone());
    }
    names
}

/// Checks `[roles]` and returns every role name known before provisioning.
fn check_roles(
    file: &EnvironmentFile,
    host_names: &[String],
    out: &mut Vec<Problem>,
) -> BTreeSet<String> {
    let mut known: BTreeSet<String> = file.roles.keys().cloned().collect();
    known.extend(file.hosts.iter().flat_map(|h| h.roles.iter().cloned()));
    let hosts_known = !matches!(file.provider, Provider::Command { .. });
    for (name, role) in &file.roles {
        for (i, h) in role.hosts.iter().enumerate() {
            if hosts_known && !host_names.contains(h) {
                let help = match did_you_mean(h, host_names.iter().map(String::as_str)) {
                    Some(m) => format!("did you mean `{m}`?"),
                    None => format!("known hosts: {}", host_names.join(", ")),
                };
                out.push(problem(
                    vec![key("roles"), key(name), key("hosts"), Seg::Index(i)],
                    format!("no host is named `{h}`"),
                    help,
                ));
            }
        }
        for (i, p) in role.patterns.iter().enumerate() {
            if p.trim().is_empty() {
                out.push(problem(
                    vec![key("roles"), key(name), key("patterns"), Seg::Index(i)],
                    "the pattern is empty",
                    "use a host name pattern such as \"web-*\"",
                ));
            }
        }
    }
    known
}

fn check_role_refs(
    roles: &[String],
    at: Vec<Seg>,
    known: &BTreeSet<String>,
    file: &EnvironmentFile,
    out: &mut Vec<Problem>,
) {
    // Hosts of the command provider, and so their roles, are known only after provisioning.
    if matches!(file.provider, Provider::Command { .. }) {
        return;
    }
    for (i, r) in roles.iter().enumerate() {
        if !known.contains(r) {
            let help = match did_you_mean(r, known.iter().map(String::as_str)) {
                Some(m) => format!("did you mean `{m}`?"),
                None => "define it under `[roles]`, or add it to a host's `roles`".to_owned(),
            };
            let mut path = at.clone();
            path.push(Seg::Index(i));
            out.push(problem(path, format!("no role is named `{r}`"), help));
        }
    }
}

fn check_vars(vars: &BTreeMap<String, toml::Value>, at: Vec<Seg>, out: &mut Vec<Problem>) {
    for name in vars.keys() {
        let valid = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            let mut path = at.clone();
            path.push(key(name));
            out.push(problem(
                path,
                format!("`{name}` is not a valid variable name"),
                "start with a letter or `_`, then letters, digits and `_` (commands see it as FERRY_VAR_<NAME>)",
            ));
        }
    }
}

fn check_resources(
    section: &str,
    list: &[ResourceSpec],
    known: &BTreeSet<String>,
    file: &EnvironmentFile,
    out: &mut Vec<Problem>,
) {
    // The first declaration of each object, to name both places when two disagree.
    let mut seen: BTreeMap<(&str, &str), (usize, &ResourceSpec)> = BTreeMap::new();
    for (i, r) in list.iter().enumerate() {
        let at = |k: &str| vec![key(section), Seg::Index(i), key(k)];
        check_role_refs(r.roles(), at("roles"), known, file, out);
        let (kind, path, mode) = match r {
            ResourceSpec::File(f) => ("file", &f.path, &f.mode),
            ResourceSpec::Directory(d) => ("directory", &d.path, &d.mode),
            ResourceSpec::Command(c) => {
                if c.command.trim().is_empty() {
                    out.push(problem(
                        at("command"),
                        "the command is empty",
                        "write the shell command to run",
                    ));
                }
                if let Some(p) = &c.creates {
                    if !p.starts_with('/') {
                        out.push(problem(
                            at("creates"),
                            format!("`{p}` is not an absolute path"),
                            "write the full path, starting with `/`",
                        ));
                    }
                }
                continue;
            }
        };
        if !path.starts_with('/') {
            out.push(problem(
                at("path"),
                format!("`{path}` is not an absolute path"),
                "write the full path on the host, starting with `/`",
            ));
        } else if path.trim_end_matches('/').is_empty() && kind == "file" {
            out.push(problem(
                at("path"),
                "`/` cannot be a file",
                "name a file path such as /etc/app.conf",
            ));
        }
        if let Some(m) = mode {
            if crate::resource::parse_mode(m).is_none() {
                out.push(problem(
                    at("mode"),
                    format!("`{m}` is not an octal file mode"),
                    "write it as a quoted octal number such as \"0644\" or \"0755\"",
                ));
            }
        }
        let id = path.trim_end_matches('/');
        match seen.get(&(kind, id)) {
            Some((first, earlier)) if *earlier != r => out.push(problem(
                at("path"),
                format!(
                    "{kind} `{path}` is also declared as {section}[{first}] with other parameters"
                ),
                format!("keep one declaration of {kind} `{path}`, or make both identical"),
            )),
            Some(_) => {}
            None => {
                seen.insert((kind, id), (i, r));
            }
        }
    }
}
