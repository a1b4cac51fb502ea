//! `ferry status` (one environment in detail) and `ferry list` (all of them).

use serde_json::json;

use super::Session;
use crate::cli::args::EnvArg;
use crate::cli::error::CliError;
use crate::state::State;

/// A host as stored, plus its `[app]` releases as structured data (the facts hold them as the
/// probe printed them).
fn host_json(h: &crate::inventory::Host) -> serde_json::Value {
    let mut v = serde_json::to_value(h).unwrap_or_default();
    if let Some(current) = h.facts.get("app_current") {
        let fact = |k: &str| h.facts.get(k).map_or("", String::as_str);
        let on_host =
            crate::resource::app::parse_on_host(current, fact("app_releases"), fact("app_history"));
        v["app"] = json!({
            "current": on_host.current,
            "releases": on_host.releases,
            "switches": on_host.history.iter().map(|(at, version)| json!({"at": at, "version": version})).collect::<Vec<_>>(),
        });
    }
    v
}

pub fn status(s: &Session, args: &EnvArg) -> Result<(), CliError> {
    let (record, file) = s.open(&args.env)?;
    let history = s.store.history(&args.env, 10);
    let roles: std::collections::BTreeMap<&str, Vec<&str>> = {
        let mut m = std::collections::BTreeMap::<&str, Vec<&str>>::new();
        for name in file.roles.keys() {
            m.entry(name).or_default();
        }
        for h in &record.hosts {
            for r in &h.roles {
                m.entry(r).or_default().push(&h.name);
            }
        }
        m
    };
    let failure = match &record.state {
        State::Failed(f) => Some(f),
        _ => None,
    };
    s.out.result(
        &json!({
            "environment": record.name, "state": record.state.name(), "failure": failure, "provider": record.provider,
            "description": record.description, "config_file": record.config_file, "created_at": record.created_at,
            "updated_at": record.updated_at, "hosts": record.hosts.iter().map(host_json).collect::<Vec<_>>(), "roles": roles, "history": history,
        }),
        || {
            let mut t = format!("environment  {}\nstate        {}\n", record.name, record.state.name());
            if let Some(f) = failure {
                t.push_str(&format!("failed       {} at {} (from {}): {}\n", f.step.name(), f.at, f.from.name(), f.error));
                t.push_str(&format!("retry        ferry {} {}\n", f.step.name(), record.name));
            }
            t.push_str(&format!("provider     {}\n", record.provider));
            if let Some(d) = &record.description {
                t.push_str(&format!("description  {d}\n"));
            }
            t.push_str(&format!("config       {}\nupdated      {}\n", record.config_file.display(), record.updated_at));
            t.push_str(&format!("\nhosts ({})\n", record.hosts.len()));
            for h in &record.hosts {
                let facts = ["os", "arch", "hostname"].iter().filter_map(|k| h.facts.get(*k).map(String::as_str)).collect::<Vec<_>>().join(" ");
                let roles = if h.roles.is_empty() { "-".to_owned() } else { h.roles.join(",") };
                t.push_str(&format!("  {:<16} {:<22} roles: {:<20} {facts}\n", h.name, h.address, roles));
                if let Some(cur) = h.facts.get("app_current").filter(|c| !c.is_empty()) {
                    let on_disk = h.facts.get("app_releases").map(|r| r.trim()).unwrap_or("");
                    let switched = h.facts.get("app_history").map(|r| r.trim_end_matches(';').replace(';', ", ")).unwrap_or_default();
                    t.push_str(&format!("  {:<16} release {cur} (on disk: {on_disk}; switches: {switched})\n", ""));
                }
                if let Some(last) = &h.last_run {
                    let verdict = if last.ok { "ok".to_owned() } else { format!("FAILED: {}", last.error.as_deref().unwrap_or("a change failed")) };
                    t.push_str(&format!("  {:<16} last {} at {}: {} change{}, {} round trip{}, {verdict}\n", "", last.step, last.at, last.changes, if last.changes == 1 { "" } else { "s" }, last.round_trips, if last.round_trips == 1 { "" } else { "s" }));
                    for c in &last.changed {
                        t.push_str(&format!("  {:<16}   {c}\n", ""));
                    }
                }
            }
            if !roles.is_empty() {
                t.push_str("\nroles\n");
                for (r, hosts) in &roles {
                    t.push_str(&format!("  {r:<16} {}\n", if hosts.is_empty() { "(no hosts)".to_owned() } else { hosts.join(", ") }));
                }
            }
            t.push_str("\nhistory\n");
            for h in &history {
                let err = h.error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default();
                t.push_str(&format!("  {}  {:<10} {} -> {}  {} in {} ms{err}\n", h.at, h.command, h.from, h.to, h.outcome, h.duration_ms));
            }
            t
        },
    );
    Ok(())
}

pub fn list(s: &Session) -> Result<(), CliError> {
    let envs = s.store.list()?;
    let rows: Vec<serde_json::Value> = envs
        .iter()
        .map(|(name, r)| match r {
            Ok(r) => json!({"environment": name, "state": r.state.name(), "provider": r.provider, "hosts": r.hosts.len(), "updated_at": r.updated_at}),
            Err(e) => json!({"environment": name, "state": "unreadable", "error": e.to_string()}),
        })
        .collect();
    s.out.result(&json!({"environments": rows}), || {
        if envs.is_empty() {
            return format!("no environments in {} (create one with `ferry create <name> --config <file.toml>`)", s.store.root().display());
        }
        let mut t = format!("{:<20} {:<20} {:<9} {:>5}  {}\n", "ENVIRONMENT", "STATE", "PROVIDER", "HOSTS", "LAST CHANGE");
        for (name, r) in &envs {
            match r {
                Ok(r) => t.push_str(&format!("{:<20} {:<20} {:<9} {:>5}  {}\n", name, r.state.name(), r.provider, r.hosts.len(), r.updated_at)),
                Err(e) => t.push_str(&format!("{name:<20} unreadable: {e}\n")),
            }
        }
        t
    });
    Ok(())
}
