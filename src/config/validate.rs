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
    /// The problem is the key's name, not its value: point at the key.
    pub at_key: bool,
}

fn problem(path: Vec<Seg>, message: impl Into<String>, help: impl Into<String>) -> Problem {
    Problem {
        path,
        message: message.into(),
        help: Some(help.into()),
        at_key: false,
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
                // A common slip: hosts belong to the file, not to the provider.
                if *word == "hosts" && field_path.first() == Some(&key("provider")) {
                    help = Some(
                        "hosts are declared at the top level: write `[[hosts]]`, not `[[provider.hosts]]`"
                            .to_owned(),
                    );
                }
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
    if message.contains("expected u16") {
        help = Some("a port is a number from 1 to 65535".to_owned());
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
    check_vars(&file.vars, vec![key("vars")], "FERRY_VAR", &mut out);
    for section in ["configure", "release", "run"] {
        let list = match section {
            "configure" => &file.configure,
            "release" => &file.release,
            _ => &file.run,
        };
        check_resources(section, list, &known_roles, file, &mut out);
    }
    check_checks(file, &known_roles, &mut out);
    check_app(file, &known_roles, &mut out);
    check_handlers_and_secrets(file, &mut out);
    out
}

fn check_checks(file: &EnvironmentFile, known_roles: &BTreeSet<String>, out: &mut Vec<Problem>) {
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
        let (needed, wrong): (&str, &[&str]) = match c.kind {
            CheckKind::Command => ("command", &["url", "status", "port"]),
            CheckKind::Http => ("url", &["command", "port"]),
            CheckKind::Tcp => ("port", &["command", "url", "status", "contains"]),
        };
        let present = match c.kind {
            CheckKind::Command => c.command.as_deref().is_some_and(|x| !x.trim().is_empty()),
            CheckKind::Http => c
                .url
                .as_deref()
                .is_some_and(|x| x.starts_with("http://") || x.starts_with("https://")),
            CheckKind::Tcp => c.port.is_some_and(|p| p != 0),
        };
        if !present {
            let what = match c.kind {
                CheckKind::Command => "a `command` check needs a non-empty `command`",
                CheckKind::Http => {
                    "an `http` check needs a `url` starting with http:// or https://"
                }
                CheckKind::Tcp => "a `tcp` check needs a `port`",
            };
            // A value that is there but unusable needs another fix than a missing one.
            let help = match c.kind {
                CheckKind::Http if c.url.is_some() => {
                    "start the url with http:// or https://, such as \"http://{address}:8080/health\"".to_owned()
                }
                CheckKind::Tcp if c.port.is_some() => {
                    "use the port the service listens on, from 1 to 65535".to_owned()
                }
                _ => format!("add `{needed} = ...` to this check"),
            };
            out.push(problem(at(needed), what, help));
        }
        for field in wrong {
            let set = match *field {
                "command" => c.command.is_some(),
                "url" => c.url.is_some(),
                "status" => c.status.is_some(),
                "port" => c.port.is_some(),
                _ => c.contains.is_some(),
            };
            if set {
                out.push(problem(
                    at(field),
                    format!(
                        "`{field}` does not apply to `{}` checks",
                        format!("{:?}", c.kind).to_lowercase()
                    ),
                    format!("remove `{field}`, or change `type`"),
                ));
            }
        }
        check_role_refs(&c.roles, at("roles"), known_roles, file, out);
    }
}

fn check_app(file: &EnvironmentFile, known_roles: &BTreeSet<String>, out: &mut Vec<Problem>) {
    let Some(app) = &file.app else { return };
    let at = |k: &str| vec![key("app"), key(k)];
    check_path(&app.root, at("root"), out);
    if app.keep < 2 {
        out.push(problem(
            at("keep"),
            format!(
                "`keep = {}` leaves no earlier release to roll back to",
                app.keep
            ),
            "keep at least 2: the current release and the one before it",
        ));
    }
    for (i, s) in app.shared.iter().enumerate() {
        if s.is_empty() || s.starts_with('/') || s.split('/').any(|p| p == ".." || p.is_empty()) {
            let mut path = at("shared");
            path.push(Seg::Index(i));
            out.push(problem(
                path,
                format!("`{s}` is not a relative path inside the release"),
                "write a path such as \"logs\" or \"data/uploads\"",
            ));
        }
    }
    if !["complete", "minimal"].contains(&app.variant.as_str()) {
        out.push(problem(
            at("variant"),
            format!("`{}` is not a variant", app.variant),
            "use \"complete\" or \"minimal\"",
        ));
    }
    if app.public_key.is_some() && app.public_key_file.is_some() {
        out.push(problem(
            at("public_key"),
            "give `public_key` or `public_key_file`, not both",
            "keep one of them",
        ));
    }
    if app.manifest.is_some() && app.public_key.is_none() && app.public_key_file.is_none() {
        out.push(problem(at("manifest"), "artifacts from a manifest are verified with minisign, but no public key is given", "add `public_key = \"RW...\"` (the second line of the release's minisign.pub) or `public_key_file`"));
    }
    for (j, h) in app.notify.iter().enumerate() {
        if !file.handlers.contains_key(h) {
            let mut path = at("notify");
            path.push(Seg::Index(j));
            out.push(problem(
                path,
                format!("no handler is named `{h}`"),
                handler_hint(h, file),
            ));
        }
    }
    check_role_refs(&app.roles, at("roles"), known_roles, file, out);
}

/// Help for a `notify` that names no handler: the closest name, or how to declare it.
fn handler_hint(name: &str, file: &EnvironmentFile) -> String {
    match did_you_mean(name, file.handlers.keys().map(String::as_str)) {
        Some(m) => format!("did you mean `{m}`?"),
        None => format!(
            "declare it as `[handlers.{}]` with a `command` or a `service`",
            // As TOML writes the key: bare when it can be, quoted otherwise.
            toml_edit::Key::new(name).display_repr()
        ),
    }
}

/// "Exactly one of `a` and `b`" problems: the message and fix differ for none and both.
fn one_of(
    path: Vec<Seg>,
    what: &str,
    (a, b): (&str, &str),
    both: bool,
    add: &str,
    out: &mut Vec<Problem>,
) {
    if both {
        out.push(problem(
            path,
            format!("{what} takes `{a}` or `{b}`, not both"),
            format!("remove `{a}` or `{b}`"),
        ));
    } else {
        out.push(problem(
            path,
            format!("{what} needs `{a}` or `{b}`"),
            add.to_owned(),
        ));
    }
}

fn check_handlers_and_secrets(file: &EnvironmentFile, out: &mut Vec<Problem>) {
    for (name, h) in &file.handlers {
        if h.command.is_some() == h.service.is_some() {
            let at = vec![key("handlers"), key(name)];
            let add = "write `command = \"...\"` to run a command, or `service = \"name\"` to restart a service";
            one_of(
                at,
                "a handler",
                ("command", "service"),
                h.command.is_some(),
                add,
                out,
            );
        }
    }
    for (name, sec) in &file.secrets {
        if sec.env.is_some() == sec.file.is_some() {
            let at = vec![key("secrets"), key(name)];
            let add = "write `env = \"VARIABLE\"` or `file = \"path/to/secret\"`; values never go in the environment file";
            one_of(at, "a secret", ("env", "file"), sec.env.is_some(), add, out);
        }
        if file.vars.contains_key(name) {
            out.push(problem(
                vec![key("secrets"), key(name)],
                format!("`{name}` is both a variable and a secret"),
                "rename one of them",
            ));
        }
    }
    let names = file
        .secrets
        .keys()
        .map(|k| (k.clone(), toml::Value::Boolean(true)))
        .collect();
    check_vars(&names, vec![key("secrets")], "FERRY_SECRET", out);
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
        check_vars(
            &h.vars,
            vec![key("hosts"), Seg::Index(i), key("vars")],
            "FERRY_VAR",
            out,
        );
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

/// Names of variables (or secrets), which commands see as `<prefix>_<NAME>`.
fn check_vars(
    vars: &BTreeMap<String, toml::Value>,
    at: Vec<Seg>,
    prefix: &str,
    out: &mut Vec<Problem>,
) {
    for name in vars.keys() {
        let valid = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            let mut path = at.clone();
            path.push(key(name));
            out.push(Problem {
                at_key: true,
                ..problem(
                path,
                format!("`{name}` is not a valid variable name"),
                format!("start with a letter or `_`, then letters, digits and `_` (commands see it as {prefix}_<NAME>)"),
            )
            });
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
    let mut seen: BTreeMap<String, (usize, &ResourceSpec)> = BTreeMap::new();
    for (i, r) in list.iter().enumerate() {
        let at = |k: &str| vec![key(section), Seg::Index(i), key(k)];
        let common = r.common();
        check_role_refs(common.roles, at("roles"), known, file, out);
        for (j, h) in common.notify.iter().enumerate() {
            if !file.handlers.contains_key(h) {
                let mut path = at("notify");
                path.push(Seg::Index(j));
                out.push(problem(
                    path,
                    format!("no handler is named `{h}`"),
                    handler_hint(h, file),
                ));
            }
        }
        check_resource(r, &at, out);
        let id = r.id();
        match seen.get(&id) {
            Some((first, earlier)) if *earlier != r => out.push(problem(
                first_field(r, &at),
                format!("`{id}` is also declared as {section}[{first}] with other parameters"),
                format!("keep one declaration of `{id}`, or make both identical"),
            )),
            Some(_) => {}
            None => {
                seen.insert(id, (i, r));
            }
        }
    }
    match crate::plan::order(list) {
        Ok(_) => {}
        Err(crate::plan::PlanError::UnknownAfter {
            index,
            after,
            reference,
            known,
        }) => {
            let help = match did_you_mean(&reference, known.iter().map(String::as_str)) {
                Some(m) => format!("did you mean `{m}`?"),
                None => "name a resource of the same step by its id, such as \"package:nginx\" or \"file:/etc/app.conf\"".to_owned(),
            };
            out.push(problem(
                vec![
                    key(section),
                    Seg::Index(index),
                    key("after"),
                    Seg::Index(after),
                ],
                format!("`after` names `{reference}`, which is not declared in `{section}`"),
                help,
            ));
        }
        Err(e @ crate::plan::PlanError::Cycle { index, .. }) => {
            out.push(problem(
                vec![key(section), Seg::Index(index), key("after")],
                e.to_string(),
                "remove one of these `after` entries",
            ));
        }
    }
}

/// Where to point at a resource as a whole: its identifying field.
fn first_field(r: &ResourceSpec, at: &dyn Fn(&str) -> Vec<Seg>) -> Vec<Seg> {
    match r {
        ResourceSpec::File(_)
        | ResourceSpec::Directory(_)
        | ResourceSpec::Symlink(_)
        | ResourceSpec::Template(_) => at("path"),
        ResourceSpec::Command(c) if c.name.is_some() => at("name"),
        ResourceSpec::Command(_) => at("command"),
        _ => at("name"),
    }
}

fn check_path(path: &str, field: Vec<Seg>, out: &mut Vec<Problem>) {
    if !path.starts_with('/') {
        out.push(problem(
            field,
            format!("`{path}` is not an absolute path"),
            "write the full path on the host, starting with `/`",
        ));
    } else if path.contains('\0') {
        out.push(problem(field, "the path contains a NUL byte", "remove it"));
    }
}

fn check_mode(mode: &Option<String>, field: Vec<Seg>, out: &mut Vec<Problem>) {
    if let Some(m) = mode {
        if crate::resource::parse_mode(m).is_none() {
            out.push(problem(
                field,
                format!("`{m}` is not an octal file mode"),
                "write it as a quoted octal number such as \"0644\" or \"0755\"",
            ));
        }
    }
}

fn check_name(name: &str, what: &str, field: Vec<Seg>, out: &mut Vec<Problem>) {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+' | '@' | ':'));
    if !ok {
        out.push(problem(
            field,
            format!("`{name}` is not a valid {what} name"),
            "use letters, digits and . - _ + @ :",
        ));
    }
}

fn check_resource(r: &ResourceSpec, at: &dyn Fn(&str) -> Vec<Seg>, out: &mut Vec<Problem>) {
    match r {
        ResourceSpec::File(f) => {
            check_path(&f.path, at("path"), out);
            if f.path.trim_end_matches('/').is_empty() || f.path.ends_with('/') {
                out.push(problem(
                    at("path"),
                    format!("`{}` names a directory, not a file", f.path),
                    "name a file path such as /etc/app.conf",
                ));
            }
            if f.content.is_some() == f.source.is_some() {
                let both = f.content.is_some();
                let add = "write `content = \"...\"`, or `source = \"files/app.conf\"` (relative to the environment file)";
                let place = if both { at("source") } else { at("path") };
                one_of(place, "a file", ("content", "source"), both, add, out);
            }
            check_mode(&f.mode, at("mode"), out);
        }
        ResourceSpec::Template(t) => {
            check_path(&t.path, at("path"), out);
            if t.template.is_some() == t.source.is_some() {
                let both = t.template.is_some();
                let add = "write `template = \"...\"`, or `source = \"templates/app.conf.j2\"`";
                let place = if both { at("source") } else { at("path") };
                one_of(place, "a template", ("template", "source"), both, add, out);
            }
            if let Some(text) = &t.template {
                if let Err(e) = crate::resource::template::syntax_check(text) {
                    out.push(problem(
                        at("template"),
                        format!("the template does not parse: {e}"),
                        "see minijinja's syntax: {{ var }}, {% if %}...{% endif %}",
                    ));
                }
            }
            check_mode(&t.mode, at("mode"), out);
        }
        ResourceSpec::Directory(d) => {
            check_path(&d.path, at("path"), out);
            check_mode(&d.mode, at("mode"), out);
        }
        ResourceSpec::Symlink(l) => {
            check_path(&l.path, at("path"), out);
            if l.target.is_empty() {
                out.push(problem(
                    at("target"),
                    "the link target is empty",
                    "write the path the link points to",
                ));
            }
        }
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
        }
        ResourceSpec::Package(p) => check_name(&p.name, "package", at("name"), out),
        ResourceSpec::Service(sv) => check_name(&sv.name, "service", at("name"), out),
        ResourceSpec::User(u) => check_name(&u.name, "user", at("name"), out),
        ResourceSpec::Group(g) => check_name(&g.name, "group", at("name"), out),
    }
}
