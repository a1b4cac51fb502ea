//! The deploy engine end to end: the real `ferry` binary against real sshd hosts
//! (`Testbed`), deploying under each host's private /srv and checking the result from the
//! controller side through the host's `srv` directory.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use serde_json::Value;

use crate::support::ferry::{Run, Sandbox};
use crate::support::hosts::{Host, Testbed};

/// `[provider]` plus one `[[hosts]]` table per testbed host, with the roles given for it.
fn static_hosts(tb: &Testbed, roles: &[(&str, &[&str])]) -> String {
    let mut toml = String::from("[provider]\ntype = \"static\"\n");
    for h in tb.hosts() {
        toml.push_str(&host_table(h, &h.known_hosts.display().to_string()));
        let of: Vec<String> = roles
            .iter()
            .filter(|(name, _)| *name == h.name)
            .flat_map(|(_, r)| r.iter().map(|r| format!("{r:?}")))
            .collect();
        toml.push_str(&format!("roles = [{}]\n", of.join(", ")));
    }
    toml
}

fn host_table(h: &Host, known_hosts: &str) -> String {
    format!(
        "[[hosts]]\nname = {:?}\naddress = {:?}\nport = {}\nuser = {:?}\nkey = {:?}\nknown_hosts = {known_hosts:?}\n",
        h.name,
        h.address,
        h.port,
        h.user,
        h.key.display().to_string()
    )
}

fn host_report<'a>(json: &'a Value, host: &str) -> &'a Value {
    json["hosts"]
        .as_array()
        .expect("a hosts array")
        .iter()
        .find(|h| h["host"] == host)
        .unwrap_or_else(|| panic!("no report for {host} in {json:#}"))
}

fn changes(json: &Value, host: &str) -> usize {
    host_report(json, host)["changes"]
        .as_array()
        .map_or(0, Vec::len)
}

/// Every host made at most two round trips (explore + apply), and at least one.
#[track_caller]
fn assert_round_trips(json: &Value, max: u64) {
    for h in json["hosts"].as_array().unwrap() {
        let n = h["round_trips"].as_u64().unwrap();
        assert!(
            (1..=max).contains(&n),
            "{} made {n} round trips: {h:#}",
            h["host"]
        );
    }
}

fn read(path: impl AsRef<Path>) -> String {
    let path = path.as_ref();
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// (inode, mtime in ns) of a file: a rewrite, even with the same bytes, changes one of them.
fn stamp(path: impl AsRef<Path>) -> (u64, i64) {
    let m = std::fs::metadata(path).unwrap();
    (m.ino(), m.mtime() * 1_000_000_000 + m.mtime_nsec())
}

fn json_run(sb: &Sandbox, args: &[&str]) -> (Run, Value) {
    let mut all = args.to_vec();
    all.push("--json");
    let run = sb.ferry(&all);
    let json = run.json();
    (run, json)
}

const WEB_DB: &[(&str, &[&str])] = &[("h1", &["web"]), ("h2", &["web"]), ("h3", &["db"])];

#[test]
fn full_lifecycle_with_roles_then_idempotent_reapply_and_drift_repair() {
    let Some(tb) = Testbed::up(3) else { return };
    let sb = Sandbox::new();
    let config = format!(
        r#"{hosts}
[vars]
greeting = "hello"

[[configure]]
type = "directory"
path = "/srv/app"

[[configure]]
type = "file"
path = "/srv/app/common.conf"
content = "shared by all\n"
mode = "0640"

[[configure]]
type = "file"
path = "/srv/app/web.conf"
content = "only web\n"
roles = ["web"]

[[configure]]
type = "file"
path = "/srv/app/db.conf"
content = "only db\n"
roles = ["db"]

[[configure]]
type = "template"
path = "/srv/app/host.txt"
template = "{{{{ greeting }}}} from {{{{ host.name }}}} at {{{{ host.address }}}}, hostname {{{{ facts.hostname }}}}, os {{{{ facts.os }}}}, roles {{{{ host.roles | join(',') }}}}\n"

[[configure]]
type = "symlink"
path = "/srv/app/current.conf"
target = "/srv/app/common.conf"

[[release]]
type = "file"
path = "/srv/app/VERSION"
content = "1.0.0\n"

[[run]]
type = "command"
name = "start"
command = "echo started > /srv/app/running"
creates = "/srv/app/running"

[[test]]
name = "version deployed"
command = "cat /srv/app/VERSION"
contains = "1.0.0"
"#,
        hosts = static_hosts(&tb, WEB_DB)
    );
    sb.create("life", &config);
    sb.ferry(&["provision", "life"]).ok();

    let (run, cold) = json_run(&sb, &["configure", "life"]);
    run.ok();
    assert_eq!(cold["state"], "configured", "{cold:#}");
    assert_round_trips(&cold, 2);
    for h in tb.hosts() {
        let app = h.srv.join("app");
        assert_eq!(read(app.join("common.conf")), "shared by all\n");
        assert_eq!(
            std::fs::metadata(app.join("common.conf")).unwrap().mode() & 0o7777,
            0o640
        );
        let web = h.name != "h3";
        assert_eq!(app.join("web.conf").exists(), web, "{}: web.conf", h.name);
        assert_eq!(app.join("db.conf").exists(), !web, "{}: db.conf", h.name);
        let role = if web { "web" } else { "db" };
        assert_eq!(
            read(app.join("host.txt")),
            format!(
                "hello from {0} at {1}, hostname {0}, os Linux, roles {role}\n",
                h.name, h.address
            )
        );
        assert_eq!(
            std::fs::read_link(app.join("current.conf")).unwrap(),
            Path::new("/srv/app/common.conf")
        );
        // directory, common.conf, web.conf or db.conf, host.txt, current.conf
        assert_eq!(changes(&cold, &h.name), 5);
    }

    // Nothing changed: no change, one round trip, and not a single file rewritten.
    let files = ["common.conf", "host.txt"];
    let before: Vec<_> = tb
        .hosts()
        .iter()
        .flat_map(|h| files.iter().map(|f| stamp(h.srv.join("app").join(f))))
        .collect();
    let (run, again) = json_run(&sb, &["configure", "life"]);
    run.ok();
    for h in tb.hosts() {
        assert_eq!(changes(&again, &h.name), 0, "{again:#}");
        assert_eq!(host_report(&again, &h.name)["round_trips"], 1);
    }
    let after: Vec<_> = tb
        .hosts()
        .iter()
        .flat_map(|h| files.iter().map(|f| stamp(h.srv.join("app").join(f))))
        .collect();
    assert_eq!(before, after, "a no-op re-apply rewrote a file");

    // Drift on h2 only: the next configure repairs exactly that.
    std::fs::write(
        tb.host("h2").srv.join("app/common.conf"),
        "edited by hand\n",
    )
    .unwrap();
    let (run, repair) = json_run(&sb, &["configure", "life"]);
    run.ok();
    assert_eq!(changes(&repair, "h1"), 0);
    assert_eq!(changes(&repair, "h3"), 0);
    assert_eq!(changes(&repair, "h2"), 1, "{repair:#}");
    assert_eq!(
        host_report(&repair, "h2")["changes"][0]["resource"],
        "file:/srv/app/common.conf",
        "{repair:#}"
    );
    assert_round_trips(&repair, 2);
    assert_eq!(
        read(tb.host("h2").srv.join("app/common.conf")),
        "shared by all\n"
    );

    // The rest of the lifecycle.
    let (run, release) = json_run(&sb, &["release", "life"]);
    run.ok();
    assert_eq!(release["state"], "released");
    assert_round_trips(&release, 2);
    let (run, running) = json_run(&sb, &["run", "life"]);
    run.ok();
    assert_eq!(running["state"], "running");
    for h in tb.hosts() {
        assert_eq!(read(h.srv.join("app/VERSION")), "1.0.0\n");
        assert_eq!(read(h.srv.join("app/running")), "started\n");
    }
    sb.ferry(&["test", "life"]).ok();
    let status = sb.state("life");
    assert_eq!(status["state"], "running", "{status:#}");
    sb.ferry(&["destroy", "life"]).ok();
    assert_eq!(sb.state("life")["state"], "destroyed");
}

#[test]
fn plan_and_dry_run_show_unified_diffs_and_change_nothing() {
    let Some(tb) = Testbed::up(3) else { return };
    let sb = Sandbox::new();
    for h in tb.hosts() {
        std::fs::write(h.srv.join("conf"), "a\nold\nc\n").unwrap();
    }
    let config = format!(
        r#"{hosts}
[[configure]]
type = "file"
path = "/srv/conf"
content = "a\nnew\nc\n"
mode = "0600"

[[configure]]
type = "file"
path = "/srv/new"
content = "fresh\n"

[[configure]]
type = "command"
name = "touch marker"
command = "touch /srv/marker"
"#,
        hosts = static_hosts(&tb, &[])
    );
    sb.create("dry", &config);
    sb.ferry(&["provision", "dry"]).ok();
    let before: Vec<_> = tb
        .hosts()
        .iter()
        .map(|h| stamp(h.srv.join("conf")))
        .collect();

    let plan = sb.ferry(&["plan", "dry"]).ok();
    let dry = sb.ferry(&["configure", "dry", "--dry-run"]).ok();
    for out in [&plan.stdout, &dry.stdout] {
        for needle in [
            "@@",
            "-old",
            "+new",
            "+fresh",
            "0644 -> 0600",
            "touch marker",
        ] {
            assert!(out.contains(needle), "missing {needle:?} in:\n{out}");
        }
        for h in tb.hosts() {
            assert!(out.contains(&h.name), "{out}");
        }
    }
    let (run, json) = json_run(&sb, &["plan", "dry"]);
    run.ok();
    for h in tb.hosts() {
        assert_eq!(changes(&json, &h.name), 3, "{json:#}");
        assert_eq!(
            host_report(&json, &h.name)["round_trips"],
            1,
            "a plan only explores"
        );
    }
    let (run, json) = json_run(&sb, &["configure", "dry", "--dry-run"]);
    run.ok();
    assert_eq!(json["dry_run"], true);
    assert_eq!(
        json["state"], "provisioned",
        "a dry run does not move the state"
    );

    let after: Vec<_> = tb
        .hosts()
        .iter()
        .map(|h| stamp(h.srv.join("conf")))
        .collect();
    assert_eq!(before, after);
    for h in tb.hosts() {
        assert_eq!(read(h.srv.join("conf")), "a\nold\nc\n");
        assert!(!h.srv.join("new").exists() && !h.srv.join("marker").exists());
    }
    assert_eq!(sb.state("dry")["state"], "provisioned");
}

#[test]
fn a_handler_fires_once_per_host_and_only_when_a_notifier_changed() {
    let Some(tb) = Testbed::up(3) else { return };
    let sb = Sandbox::new();
    let config = format!(
        r#"{hosts}
[handlers.reload]
command = "echo reloaded >> /srv/reloads"

[handlers.never]
command = "echo fired >> /srv/never"

[[configure]]
type = "file"
path = "/srv/a.conf"
content = "a\n"
notify = ["reload"]

[[configure]]
type = "file"
path = "/srv/b.conf"
content = "b\n"
notify = ["reload"]

[[configure]]
type = "directory"
path = "/srv/stable"
notify = ["never"]
"#,
        hosts = static_hosts(&tb, &[])
    );
    for h in tb.hosts() {
        std::fs::create_dir(h.srv.join("stable")).unwrap();
    }
    sb.create("hand", &config);
    sb.ferry(&["provision", "hand"]).ok();
    let (run, json) = json_run(&sb, &["configure", "hand"]);
    run.ok();
    assert_round_trips(&json, 2);
    for h in tb.hosts() {
        assert_eq!(
            read(h.srv.join("reloads")),
            "reloaded\n",
            "two notifiers, one run"
        );
        assert!(!h.srv.join("never").exists(), "its notifier did not change");
        let handlers = host_report(&json, &h.name)["handlers"].as_array().unwrap();
        assert_eq!(handlers.len(), 1, "{json:#}");
        assert_eq!(handlers[0]["handler"], "reload");
    }

    sb.ferry(&["configure", "hand"]).ok();
    for h in tb.hosts() {
        assert_eq!(read(h.srv.join("reloads")), "reloaded\n", "nothing changed");
    }

    std::fs::write(tb.host("h3").srv.join("b.conf"), "drifted\n").unwrap();
    let (run, json) = json_run(&sb, &["configure", "hand"]);
    run.ok();
    assert_eq!(
        read(tb.host("h3").srv.join("reloads")),
        "reloaded\nreloaded\n"
    );
    assert_eq!(read(tb.host("h1").srv.join("reloads")), "reloaded\n");
    assert!(
        host_report(&json, "h1").get("handlers").is_none(),
        "{json:#}"
    );
}

#[test]
fn a_failing_canary_check_stops_before_the_other_hosts() {
    let Some(tb) = Testbed::up(3) else { return };
    let sb = Sandbox::new();
    let config = format!(
        r#"{hosts}
[[configure]]
type = "file"
path = "/srv/deployed"
content = "v2\n"

[[test]]
name = "healthy"
command = "test -e /srv/healthy"
"#,
        hosts = static_hosts(&tb, &[])
    );
    sb.create("can", &config);
    sb.ferry(&["provision", "can"]).ok();
    let (run, json) = json_run(&sb, &["configure", "can", "--canary", "1"]);
    assert_ne!(run.code, 0, "{}", run.stdout);
    assert_eq!(json["state"], "configure_failed", "{json:#}");
    assert!(json["stopped"].as_str().is_some(), "{json:#}");
    assert_eq!(read(tb.host("h1").srv.join("deployed")), "v2\n");
    for name in ["h2", "h3"] {
        assert_eq!(host_report(&json, name)["not_started"], true, "{json:#}");
        assert!(
            !tb.host(name).srv.join("deployed").exists(),
            "{name} was touched"
        );
    }
    let batches = json["batches"].as_array().unwrap();
    assert_eq!(batches[0]["hosts"], serde_json::json!(["h1"]));
    assert_eq!(sb.state("can")["state"], "configure_failed");

    // Once the check passes, the canary goes first and the rest follow in batches of one.
    for h in tb.hosts() {
        std::fs::write(h.srv.join("healthy"), "").unwrap();
    }
    let (run, json) = json_run(&sb, &["configure", "can", "--canary", "1", "--batch", "1"]);
    run.ok();
    let batches: Vec<_> = json["batches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["hosts"].clone())
        .collect();
    assert_eq!(
        batches,
        [
            serde_json::json!(["h1"]),
            serde_json::json!(["h2"]),
            serde_json::json!(["h3"])
        ],
        "{json:#}"
    );
    for h in tb.hosts() {
        assert_eq!(read(h.srv.join("deployed")), "v2\n");
    }
    assert_eq!(json["state"], "configured");
}

/// Stops the sshd of one testbed host (the test's own process, found in the testbed's
/// pid list and checked to be that host's sshd), so the host refuses connections.
fn stop_sshd(tb: &Testbed, host: &str) {
    let list = read(tb.dir().join("pids.list"));
    let pid = list
        .lines()
        .find_map(|l| {
            let mut f = l.split_whitespace();
            let pid = f.next()?;
            (f.next()? == host).then(|| pid.to_owned())
        })
        .unwrap_or_else(|| panic!("no sshd of {host} in {list}"));
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    assert!(
        String::from_utf8_lossy(&cmdline).contains(&format!("/{host}/sshd_config")),
        "pid {pid} is not the sshd of {host}"
    );
    assert!(std::process::Command::new("kill")
        .arg(&pid)
        .status()
        .unwrap()
        .success());
    // Bounded wait until the listener is gone.
    for _ in 0..50 {
        if !Path::new(&format!("/proc/{pid}")).exists() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("sshd {pid} of {host} did not stop");
}

#[test]
fn one_unreachable_host_fails_alone_and_the_others_converge() {
    let Some(tb) = Testbed::up(4) else { return };
    let sb = Sandbox::new();
    let config = format!(
        r#"{hosts}
[[configure]]
type = "file"
path = "/srv/deployed"
content = "yes\n"
"#,
        hosts = static_hosts(&tb, &[])
    );
    sb.create("unr", &config);
    sb.ferry(&["provision", "unr"]).ok();
    stop_sshd(&tb, "h4");
    let (run, json) = json_run(&sb, &["configure", "unr"]);
    assert_ne!(run.code, 0, "{}", run.stdout);
    assert_eq!(json["state"], "configure_failed", "{json:#}");
    let error = host_report(&json, "h4")["error"]
        .as_str()
        .unwrap_or_default();
    assert!(
        error.contains("h4") && error.contains("cannot connect"),
        "{json:#}"
    );
    assert!(!tb.host("h4").srv.join("deployed").exists());
    for h in tb.hosts().iter().filter(|h| h.name != "h4") {
        assert_eq!(
            read(h.srv.join("deployed")),
            "yes\n",
            "{} converged",
            h.name
        );
        assert!(host_report(&json, &h.name)["error"].is_null(), "{json:#}");
    }
    let status = sb.state("unr");
    let text = status.to_string();
    assert!(
        text.contains("configure_failed") && text.contains("cannot connect"),
        "{status:#}"
    );
    let human = sb.ferry(&["configure", "unr"]);
    assert_ne!(human.code, 0);
    assert!(
        format!("{}{}", human.stdout, human.stderr).contains("h4"),
        "the summary names the failed host"
    );
}

/// Replaces the known_hosts line of `victim` with another host's key under the victim's name.
fn tamper_known_hosts(tb: &Testbed, victim: &Host, path: &Path) {
    let text = read(&tb.hosts()[0].known_hosts);
    let other = tb.hosts().iter().find(|h| h.name != victim.name).unwrap();
    let key_of = |h: &Host| {
        text.lines()
            .find(|l| {
                l.split_whitespace()
                    .next()
                    .unwrap()
                    .split(',')
                    .any(|n| n == h.address)
            })
            .unwrap_or_else(|| panic!("no known_hosts line for {}:\n{text}", h.address))
            .to_owned()
    };
    let victim_line = key_of(victim);
    let other_line = key_of(other);
    let forged = format!(
        "{} {}",
        victim_line.split_whitespace().next().unwrap(),
        other_line
            .split_whitespace()
            .skip(1)
            .collect::<Vec<_>>()
            .join(" ")
    );
    std::fs::write(path, text.replace(&victim_line, &forged)).unwrap();
}

#[test]
fn a_host_key_mismatch_is_refused_even_when_new_keys_are_accepted() {
    let Some(tb) = Testbed::up(3) else { return };
    let sb = Sandbox::new();
    let known_hosts = sb.path().join("known_hosts");
    std::fs::copy(&tb.hosts()[0].known_hosts, &known_hosts).unwrap();
    let mut config = String::from("[provider]\ntype = \"static\"\n");
    for h in tb.hosts() {
        config.push_str(&host_table(h, &known_hosts.display().to_string()));
    }
    config.push_str("[[configure]]\ntype = \"file\"\npath = \"/srv/deployed\"\ncontent = \"x\"\n");
    sb.create("mitm", &config);
    sb.ferry(&["provision", "mitm"]).ok();
    tamper_known_hosts(&tb, tb.host("h2"), &known_hosts);
    for extra in [&[][..], &["--accept-new-host-keys"][..]] {
        let mut args = vec!["configure", "mitm"];
        args.extend_from_slice(extra);
        let (run, json) = json_run(&sb, &args);
        assert_ne!(run.code, 0);
        let error = host_report(&json, "h2")["error"]
            .as_str()
            .unwrap_or_default();
        assert!(error.contains("HOST KEY MISMATCH"), "{json:#}");
        assert!(!tb.host("h2").srv.join("deployed").exists());
        assert_eq!(read(tb.host("h1").srv.join("deployed")), "x");
    }
}

#[test]
fn an_unknown_host_is_refused_unless_new_keys_are_accepted() {
    let Some(tb) = Testbed::up(3) else { return };
    let sb = Sandbox::new();
    let known_hosts = sb.path().join("known_hosts");
    let mut config = String::from("[provider]\ntype = \"static\"\n");
    for h in tb.hosts() {
        config.push_str(&host_table(h, &known_hosts.display().to_string()));
    }
    config.push_str("[[configure]]\ntype = \"file\"\npath = \"/srv/deployed\"\ncontent = \"x\"\n");
    sb.create("tofu", &config);
    let (run, json) = json_run(&sb, &["provision", "tofu"]);
    assert_ne!(run.code, 0);
    assert_eq!(json["state"], "provision_failed", "{json:#}");
    let text = format!("{}{}", run.stdout, run.stderr);
    assert!(text.contains("is not in"), "{text}");
    assert!(
        text.contains("accept"),
        "the error names the opt-in: {text}"
    );
    assert!(!known_hosts.exists() || read(&known_hosts).trim().is_empty());

    sb.ferry(&["provision", "tofu", "--accept-new-host-keys"])
        .ok();
    let recorded = read(&known_hosts);
    for h in tb.hosts() {
        assert!(recorded.contains(&h.address), "{recorded}");
    }
    // Trusted now: no flag needed any more, and the recorded keys are the real ones.
    sb.ferry(&["configure", "tofu"]).ok();
    for h in tb.hosts() {
        assert_eq!(read(h.srv.join("deployed")), "x");
    }
}

#[test]
fn awkward_paths_and_contents_arrive_intact_without_shell_injection() {
    let Some(tb) = Testbed::up(3) else { return };
    let sb = Sandbox::new();
    let dir = "/srv/we ird 'q' \"dq\" $(touch /srv/pwned) `touch /srv/pwned2` ünï ✓";
    let file = format!("{dir}/a file; rm -rf ~ #.txt");
    let content = "line 'one' \"two\"\n$(touch /srv/pwned3)\n`touch /srv/pwned4`\n\\n ${HOME} %s %n\n✓ ünïcödé\n\ttab\n";
    let var = "it's $(touch /srv/pwned5) `x` \"y\" ✓";
    let mut config = format!(
        "{hosts}\n[vars]\nodd = {var:?}\n",
        hosts = static_hosts(&tb, &[])
    );
    for (kind, extra) in [
        ("directory", String::new()),
        ("file", format!("content = {content:?}\n")),
    ] {
        let path = if kind == "file" { &file } else { dir };
        config.push_str(&format!(
            "[[configure]]\ntype = {kind:?}\npath = {path:?}\n{extra}"
        ));
    }
    config.push_str(&format!(
        "[[configure]]\ntype = \"template\"\npath = {:?}\ntemplate = \"{{{{ odd }}}}\\n\"\n",
        format!("{dir}/templated ✓")
    ));
    config.push_str(&format!(
        "[[configure]]\ntype = \"symlink\"\npath = {:?}\ntarget = {file:?}\n",
        format!("{dir}/link $(x)")
    ));
    config.push_str(
        "[[configure]]\ntype = \"command\"\nname = \"echo var\"\ncommand = \"printf '%s' \\\"$FERRY_VAR_ODD\\\" > /srv/from-command\"\n",
    );
    sb.create("odd", &config);
    sb.ferry(&["provision", "odd"]).ok();
    let (run, json) = json_run(&sb, &["configure", "odd"]);
    run.ok();
    assert_round_trips(&json, 2);
    for h in tb.hosts() {
        let local = |p: &str| h.srv.join(p.strip_prefix("/srv/").unwrap());
        assert_eq!(read(local(&file)), content, "{}", h.name);
        assert_eq!(
            read(local(&format!("{dir}/templated ✓"))),
            format!("{var}\n")
        );
        assert_eq!(
            std::fs::read_link(local(&format!("{dir}/link $(x)"))).unwrap(),
            Path::new(&file)
        );
        assert_eq!(read(h.srv.join("from-command")), var);
        for n in ["", "2", "3", "4", "5"] {
            assert!(
                !h.srv.join(format!("pwned{n}")).exists(),
                "{}: pwned{n} exists: something ran a value as code",
                h.name
            );
        }
    }
    let (run, json) = json_run(&sb, &["configure", "odd"]);
    run.ok();
    for h in tb.hosts() {
        let ids: Vec<_> = host_report(&json, &h.name)["changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["resource"].clone())
            .collect();
        assert_eq!(
            ids,
            [serde_json::json!("command:echo var")],
            "only the unguarded command runs again"
        );
    }
}

/// Runs `chattr` on a controller-side path; `false` when this filesystem has no such flags.
fn chattr(flag: &str, path: &Path) -> bool {
    std::process::Command::new("chattr")
        .arg(flag)
        .arg(path)
        .status()
        .is_ok_and(|s| s.success())
}

/// Clears the immutable flag again even when the test fails, so the testbed can be removed.
struct Immutable<'a>(&'a Path);

impl Drop for Immutable<'_> {
    fn drop(&mut self) {
        chattr("-i", self.0);
    }
}

#[test]
fn a_file_on_a_read_only_path_fails_cleanly_and_is_left_untouched() {
    let Some(tb) = Testbed::up(3) else { return };
    let sb = Sandbox::new();
    let h1 = tb.host("h1");
    let locked = h1.srv.join("locked.conf");
    std::fs::write(&locked, "original\n").unwrap();
    for h in tb.hosts().iter().filter(|h| h.name != "h1") {
        std::fs::write(h.srv.join("locked.conf"), "original\n").unwrap();
    }
    // An immutable file cannot be replaced, not even by root: the host's own kernel says no.
    if !chattr("+i", &locked) {
        let why = "chattr +i is not supported on the testbed's filesystem";
        assert!(std::env::var_os("CI").is_none(), "{why}");
        eprintln!("SKIPPED: {why}");
        return;
    }
    let _guard = Immutable(&locked);
    let config = format!(
        r#"{hosts}
[[configure]]
type = "file"
path = "/srv/locked.conf"
content = "replaced\n"

[[configure]]
type = "file"
path = "/srv/after"
content = "after\n"
"#,
        hosts = static_hosts(&tb, &[])
    );
    sb.create("ro", &config);
    sb.ferry(&["provision", "ro"]).ok();
    let before = stamp(&locked);
    let (run, json) = json_run(&sb, &["configure", "ro"]);
    assert_ne!(run.code, 0, "{}", run.stdout);
    assert_eq!(json["state"], "configure_failed");
    let report = host_report(&json, "h1");
    let change = &report["changes"][0];
    assert_eq!(change["resource"], "file:/srv/locked.conf", "{json:#}");
    assert_eq!(change["outcome"]["status"], "failed", "{json:#}");
    assert_eq!(read(&locked), "original\n");
    assert_eq!(stamp(&locked), before);
    // No temporary file is left beside it.
    let names: Vec<_> = std::fs::read_dir(&h1.srv)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| n == "locked.conf" || n == "after"),
        "{names:?}"
    );
    for h in tb.hosts().iter().filter(|h| h.name != "h1") {
        assert_eq!(read(h.srv.join("locked.conf")), "replaced\n");
        assert!(host_report(&json, &h.name)["error"].is_null());
    }
    let human = sb.ferry(&["configure", "ro"]);
    assert_ne!(human.code, 0);
    assert!(
        human.stdout.contains("locked.conf") || human.stderr.contains("locked.conf"),
        "the failure names the file:\n{}\n{}",
        human.stdout,
        human.stderr
    );
}

#[test]
fn secrets_are_redacted_in_plan_output_and_state_but_arrive_on_the_host() {
    let Some(tb) = Testbed::up(3) else { return };
    let sb = Sandbox::new();
    let secret = "hunter2-Zq9-secret";
    let config = format!(
        r#"{hosts}
[secrets.token]
env = "FERRY_DEPLOY_TEST_TOKEN"

[[configure]]
type = "template"
path = "/srv/creds"
template = "token={{{{ token }}}}\n"

[[configure]]
type = "command"
name = "show it"
command = "echo using $FERRY_SECRET_TOKEN"
"#,
        hosts = static_hosts(&tb, &[])
    );
    sb.create("sec", &config);
    let with_secret = |args: &[&str]| -> Run {
        sb.command(args)
            .env("FERRY_DEPLOY_TEST_TOKEN", secret)
            .output()
            .unwrap()
            .into()
    };
    with_secret(&["provision", "sec"]).ok();
    for args in [
        &["plan", "sec"][..],
        &["plan", "sec", "--json"],
        &["configure", "sec", "--dry-run"],
        &["configure", "sec", "--json"],
        &["configure", "sec", "--json"],
        &["status", "sec"],
    ] {
        let run = with_secret(args).ok();
        assert!(
            !run.stdout.contains(secret) && !run.stderr.contains(secret),
            "`ferry {}` shows the secret:\n{}\n{}",
            args.join(" "),
            run.stdout,
            run.stderr
        );
        if args == ["plan", "sec"] {
            assert!(run.stdout.contains("+token=[secret]"), "{}", run.stdout);
        }
        if args == ["configure", "sec", "--json"] {
            assert!(run.stdout.contains("using [secret]"), "{}", run.stdout);
        }
    }
    for h in tb.hosts() {
        assert_eq!(read(h.srv.join("creds")), format!("token={secret}\n"));
    }
    let grep = std::process::Command::new("grep")
        .args(["-rl", secret])
        .arg(sb.state_dir())
        .output()
        .unwrap();
    assert!(
        grep.stdout.is_empty(),
        "state files hold the secret: {}",
        String::from_utf8_lossy(&grep.stdout)
    );
}

#[test]
fn hosts_behind_a_jump_host_are_reached_through_it() {
    let Some(tb) = Testbed::up(3) else { return };
    let sb = Sandbox::new();
    let bastion = tb.host("h1");
    let mut config = String::from("[provider]\ntype = \"static\"\n");
    for h in tb.hosts() {
        config.push_str(&host_table(h, &h.known_hosts.display().to_string()));
        if h.name != "h1" {
            config.push_str(&format!("jump = \"root@{}:22\"\n", bastion.address));
        }
    }
    // sshd tells a session where its client connected from: for h2 and h3 that must be the
    // bastion, for h1 the controller.
    config.push_str(
        "[[configure]]\ntype = \"command\"\nname = \"client\"\ncommand = \"echo \\\"$SSH_CLIENT\\\" | cut -d' ' -f1 > /srv/client\"\n",
    );
    sb.create("jump", &config);
    sb.ferry(&["provision", "jump"]).ok();
    let (run, json) = json_run(&sb, &["configure", "jump"]);
    run.ok();
    assert_round_trips(&json, 2);
    assert_ne!(read(bastion.srv.join("client")).trim(), bastion.address);
    for name in ["h2", "h3"] {
        assert_eq!(
            read(tb.host(name).srv.join("client")).trim(),
            bastion.address,
            "{name} was not reached through the bastion"
        );
    }

    // A bastion that does not answer is named in the error.
    let broken = config.replace(
        &format!("jump = \"root@{}:22\"", bastion.address),
        &format!("jump = \"root@{}:1\"", bastion.address),
    );
    sb.create("broken", &broken);
    let run = sb.ferry(&["provision", "broken"]);
    assert_ne!(run.code, 0, "{}", run.stdout);
    let text = format!("{}{}", run.stdout, run.stderr);
    assert!(text.contains("jump host") && text.contains(":1"), "{text}");
}

#[test]
fn a_plan_whose_script_exceeds_the_argument_limit_applies_in_two_round_trips() {
    let Some(tb) = Testbed::up(1) else { return };
    let sb = Sandbox::new();
    // 1500 files with long names: the apply script is far over the 128 KiB that one `sh -c`
    // argument may hold, so it has to travel on stdin.
    let mut config = static_hosts(&tb, &[]);
    for d in 0..30 {
        config.push_str(&format!(
            "[[configure]]\ntype = \"directory\"\npath = \"/srv/many/dir-{d}\"\n"
        ));
    }
    let long = "a-rather-long-file-name-to-make-the-script-big".repeat(2);
    for f in 0..1500 {
        config.push_str(&format!(
            "[[configure]]\ntype = \"file\"\npath = \"/srv/many/dir-{}/{long}-{f}.conf\"\ncontent = \"file {f}\\n\"\n",
            f % 30
        ));
    }
    sb.write("env.toml", &config);
    sb.ferry(&["create", "many", "--config", "env.toml"]).ok();
    sb.ferry(&["provision", "many"]).ok();
    let (_, json) = json_run(&sb, &["configure", "many"]);
    assert_round_trips(&json, 2);
    let h = tb.hosts()[0].name.clone();
    assert_eq!(changes(&json, &h), 1530, "{json:#}");
    let srv = &tb.hosts()[0].srv;
    assert_eq!(
        read(srv.join(format!("many/dir-7/{long}-1447.conf"))),
        "file 1447\n"
    );
    let written = (0..30)
        .map(|d| {
            std::fs::read_dir(srv.join(format!("many/dir-{d}")))
                .unwrap()
                .count()
        })
        .sum::<usize>();
    assert_eq!(
        written, 1500,
        "exactly the declared files, no temporary ones left"
    );
    let (_, again) = json_run(&sb, &["configure", "many"]);
    assert_eq!(changes(&again, &h), 0, "{again:#}");
    assert_round_trips(&again, 1);
}
