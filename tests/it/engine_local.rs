//! The execution model on the local transport: round trips, diffs, compare-and-swap, roles.

use crate::support::ferry::Sandbox;

fn provisioned(sb: &Sandbox, name: &str, config: &str) {
    sb.create(name, config);
    sb.ferry(&["provision", name]).ok();
}

#[test]
fn round_trips_stay_constant_whatever_the_number_of_resources() {
    let sb = Sandbox::new();
    let root = sb.at("many");
    let mut config = format!(
        "[provider]\ntype = \"local\"\n[[configure]]\ntype = \"directory\"\npath = \"{root}\"\n"
    );
    for i in 0..60 {
        config.push_str(&format!(
            "[[configure]]\ntype = \"file\"\npath = \"{root}/f{i}\"\ncontent = \"{i}\"\n"
        ));
        config.push_str(&format!("[[configure]]\ntype = \"command\"\nname = \"c{i}\"\ncommand = \"touch {root}/c{i}\"\ncreates = \"{root}/c{i}\"\n"));
    }
    provisioned(&sb, "many", &config);
    let r = sb.ferry(&["configure", "many", "--json"]).ok().json();
    assert_eq!(r["hosts"][0]["changes"].as_array().unwrap().len(), 121);
    assert_eq!(
        r["hosts"][0]["round_trips"], 2,
        "one explore + one apply for 121 resources"
    );
    assert!(sb.path().join("many/f59").exists() && sb.path().join("many/c59").exists());
    let r = sb.ferry(&["configure", "many", "--json"]).ok().json();
    assert_eq!(r["hosts"][0]["changes"].as_array().unwrap().len(), 0);
    assert_eq!(r["hosts"][0]["round_trips"], 1);
}

#[test]
fn plan_shows_a_unified_diff_and_mode_changes_without_changing_anything() {
    let sb = Sandbox::new();
    let root = sb.at("p");
    std::fs::create_dir(sb.path().join("p")).unwrap();
    sb.write("p/conf", "a\nold\nc\n");
    sb.write("p/mode", "same\n");
    provisioned(
        &sb,
        "plan",
        &format!(
            r#"[provider]
type = "local"
[[configure]]
type = "file"
path = "{root}/conf"
content = "a\nnew\nc\n"
[[release]]
type = "file"
path = "{root}/mode"
content = "same\n"
mode = "0600"
"#
        ),
    );
    let r = sb.ferry(&["plan", "plan"]).ok();
    assert!(r.stdout.contains("~ file:"), "{}", r.stdout);
    for needle in [
        "-old",
        "+new",
        " a",
        "@@",
        "(on host)",
        "(desired)",
        "update mode 0644 -> 0600",
        "2 changes planned",
    ] {
        assert!(
            r.stdout.contains(needle),
            "missing {needle:?} in:\n{}",
            r.stdout
        );
    }
    assert_eq!(
        std::fs::read_to_string(sb.path().join("p/conf")).unwrap(),
        "a\nold\nc\n"
    );
    let only = sb
        .ferry(&["plan", "plan", "--step", "release", "--json"])
        .ok()
        .json();
    assert_eq!(only["hosts"][0]["changes"].as_array().unwrap().len(), 1);
    assert_eq!(
        only["hosts"][0]["changes"][0]["resource"],
        format!("file:{root}/mode")
    );
    assert_eq!(only["hosts"][0]["round_trips"], 1);
}

#[test]
fn an_object_changed_between_explore_and_apply_is_a_conflict_not_overwritten() {
    let sb = Sandbox::new();
    let root = sb.at("cas");
    std::fs::create_dir(sb.path().join("cas")).unwrap();
    sb.write("cas/target", "original\n");
    // The command runs inside the apply, after explore saw "original": it plays another
    // operator editing the file in between.
    provisioned(
        &sb,
        "cas",
        &format!(
            r#"[provider]
type = "local"
[[configure]]
type = "command"
name = "someone else edits"
command = "echo 'edited by hand' > {root}/target"
[[configure]]
type = "file"
path = "{root}/target"
content = "ferry's version\n"
"#
        ),
    );
    let r = sb.ferry(&["configure", "cas", "--json"]).code(1).json();
    let change = &r["hosts"][0]["changes"][1];
    assert_eq!(change["outcome"]["status"], "conflict", "{r}");
    assert!(
        change["outcome"]["current"]
            .as_str()
            .unwrap()
            .starts_with("file "),
        "{r}"
    );
    assert_eq!(
        std::fs::read_to_string(sb.path().join("cas/target")).unwrap(),
        "edited by hand\n"
    );
    assert_eq!(sb.state("cas")["state"], "configure_failed");
}

#[test]
fn a_path_of_the_wrong_kind_is_an_error_naming_it() {
    let sb = Sandbox::new();
    std::fs::create_dir_all(sb.path().join("w/dir")).unwrap();
    let root = sb.at("w");
    provisioned(&sb, "kind", &format!("[provider]\ntype = \"local\"\n[[configure]]\ntype = \"file\"\npath = \"{root}/dir\"\ncontent = \"x\"\n"));
    let r = sb.ferry(&["configure", "kind"]).code(1);
    assert!(
        r.stderr
            .contains(&format!("{root}/dir exists but is a directory, not a file")),
        "{}",
        r.stderr
    );
}

#[test]
fn files_keep_their_mode_and_content_is_replaced_atomically() {
    use std::os::unix::fs::PermissionsExt;
    let sb = Sandbox::new();
    let root = sb.at("k");
    std::fs::create_dir(sb.path().join("k")).unwrap();
    let f = sb.write("k/f", "old\n");
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
    provisioned(&sb, "keep", &format!("[provider]\ntype = \"local\"\n[[configure]]\ntype = \"file\"\npath = \"{root}/f\"\ncontent = \"new\\n\"\n"));
    sb.ferry(&["configure", "keep"]).ok();
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "new\n");
    assert_eq!(
        std::fs::metadata(&f).unwrap().permissions().mode() & 0o7777,
        0o600
    );
    let leftovers: Vec<_> = std::fs::read_dir(sb.path().join("k"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, ["f"], "no temporary files left behind");
}

#[test]
fn test_reports_failing_checks_with_exit_4() {
    let sb = Sandbox::new();
    provisioned(
        &sb,
        "checks",
        "[provider]\ntype = \"local\"\n[[test]]\nname = \"passes\"\ncommand = \"true\"\n[[test]]\nname = \"fails\"\ncommand = \"echo broken; exit 1\"\n",
    );
    let r = sb.ferry(&["test", "checks"]).code(4);
    assert!(
        r.stdout.contains("pass local: passes")
            && r.stdout.contains("FAIL local: fails")
            && r.stdout.contains("| broken"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("1 of 2 checks passed"), "{}", r.stdout);
    let j = sb.ferry(&["test", "checks", "--json"]).code(4).json();
    assert_eq!(j["passed"], false);
    assert_eq!(j["hosts"][0]["checks"][1]["status"], 1);
    assert_eq!(j["hosts"][0]["round_trips"], 1);
    assert_eq!(
        sb.state("checks")["state"],
        "provisioned",
        "test changes no state"
    );
    assert_eq!(sb.history("checks").last().unwrap()["outcome"], "failed");
}

#[test]
fn templates_symlinks_handlers_and_after_work_together() {
    let sb = Sandbox::new();
    let root = sb.at("app");
    provisioned(
        &sb,
        "app",
        &format!(
            r#"[provider]
type = "local"
[vars]
port = 8080
[handlers.reload]
command = "echo reloaded >> {root}/reloads"
[[configure]]
type = "template"
path = "{root}/app.conf"
template = "port={{{{ port }}}} host={{{{ host.name }}}} os={{{{ facts.os }}}}\n"
notify = ["reload"]
after = ["directory:{root}"]
[[configure]]
type = "directory"
path = "{root}"
[[configure]]
type = "symlink"
path = "{root}/current"
target = "{root}/app.conf"
notify = ["reload"]
[[configure]]
type = "command"
name = "never"
command = "touch {root}/never"
only_if = "false"
"#
        ),
    );
    let r = sb.ferry(&["configure", "app", "--json"]).ok().json();
    let changes: Vec<&str> = r["hosts"][0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["resource"].as_str().unwrap())
        .collect();
    assert_eq!(
        changes,
        [
            format!("directory:{root}"),
            format!("template:{root}/app.conf"),
            format!("symlink:{root}/current")
        ],
        "after moved the template behind its directory"
    );
    assert_eq!(r["hosts"][0]["handlers"][0]["handler"], "reload");
    assert_eq!(
        r["hosts"][0]["round_trips"], 2,
        "handlers run inside the apply call"
    );
    let conf = std::fs::read_to_string(sb.path().join("app/app.conf")).unwrap();
    assert!(conf.starts_with("port=8080 host=local os="), "{conf}");
    assert_eq!(
        std::fs::read_link(sb.path().join("app/current")).unwrap(),
        sb.path().join("app/app.conf")
    );
    assert_eq!(
        std::fs::read_to_string(sb.path().join("app/reloads")).unwrap(),
        "reloaded\n",
        "one run for two notifications"
    );
    assert!(
        !sb.path().join("app/never").exists(),
        "only_if kept the command from running"
    );

    // Nothing changed: the handler does not fire again.
    let r = sb.ferry(&["configure", "app", "--json"]).ok().json();
    assert_eq!(r["hosts"][0]["changes"].as_array().unwrap().len(), 0);
    assert_eq!(
        std::fs::read_to_string(sb.path().join("app/reloads")).unwrap(),
        "reloaded\n"
    );
}

#[test]
fn secrets_never_reach_output_or_state() {
    let sb = Sandbox::new();
    let root = sb.at("s");
    sb.create(
        "sec",
        &format!(
            r#"[provider]
type = "local"
[secrets.token]
env = "FERRY_TEST_TOKEN"
[[configure]]
type = "directory"
path = "{root}"
[[configure]]
type = "template"
path = "{root}/creds"
template = "token={{{{ token }}}}\n"
[[configure]]
type = "command"
name = "echo it"
command = "echo using $FERRY_SECRET_TOKEN; exit 1"
"#
        ),
    );
    let secret = "s3cr3t-value-42";
    let r: crate::support::ferry::Run = sb
        .command(&["provision", "sec"])
        .env("FERRY_TEST_TOKEN", secret)
        .output()
        .unwrap()
        .into();
    r.ok();
    let plan = sb
        .command(&["plan", "sec"])
        .env("FERRY_TEST_TOKEN", secret)
        .output()
        .unwrap();
    let plan = String::from_utf8_lossy(&plan.stdout).into_owned();
    assert!(
        plan.contains("+token=[secret]"),
        "the diff is redacted: {plan}"
    );
    let r: crate::support::ferry::Run = sb
        .command(&["configure", "sec"])
        .env("FERRY_TEST_TOKEN", secret)
        .output()
        .unwrap()
        .into();
    let r = r.code(1);
    assert!(r.stdout.contains("using [secret]"), "{}", r.stdout);
    assert!(!r.stdout.contains(secret) && !r.stderr.contains(secret));
    assert_eq!(
        std::fs::read_to_string(sb.path().join("s/creds")).unwrap(),
        format!("token={secret}\n"),
        "the host gets the real value"
    );
    for entry in std::fs::read_dir(sb.state_dir().join("sec")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap_or_default();
        assert!(!text.contains(secret), "a state file holds the secret");
    }
    let missing = sb.ferry(&["configure", "sec"]).code(1);
    assert!(
        missing
            .stderr
            .contains("FERRY_TEST_TOKEN, which is not set"),
        "{}",
        missing.stderr
    );
}

#[test]
fn a_canary_whose_checks_fail_stops_the_rollout() {
    let sb = Sandbox::new();
    let out = sb.at("out");
    std::fs::create_dir(sb.path().join("out")).unwrap();
    let hosts: Vec<String> = (1..=4)
        .map(|i| {
            format!("{{\"name\": \"h{i}\", \"address\": \"127.0.0.1\", \"connection\": \"local\"}}")
        })
        .collect();
    sb.write(
        "inventory.json",
        &format!("{{\"hosts\": [{}]}}", hosts.join(",")),
    );
    provisioned(
        &sb,
        "canary",
        &format!(
            r#"[provider]
type = "command"
provision = "cat inventory.json"
[[configure]]
type = "command"
name = "mark"
command = "touch {out}/$FERRY_HOST"
[[test]]
name = "healthy"
command = "test ! -e {out}/h1"
"#
        ),
    );
    let r = sb
        .ferry(&["configure", "canary", "--canary", "1", "--json"])
        .code(1)
        .json();
    assert!(
        r["stopped"]
            .as_str()
            .unwrap()
            .contains("canary checks failed on h1"),
        "{r}"
    );
    assert_eq!(r["hosts"][1]["not_started"], true);
    let marked: Vec<_> = std::fs::read_dir(sb.path().join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(marked, ["h1"], "only the canary was touched");
    assert_eq!(sb.state("canary")["state"], "configure_failed");

    // In batches of two with passing checks, every host gets there.
    std::fs::remove_file(sb.path().join("out/h1")).unwrap();
    sb.write(
        "env.toml",
        &std::fs::read_to_string(sb.path().join("env.toml"))
            .unwrap()
            .replace("test ! -e", "test -e"),
    );
    sb.ferry(&["create", "canary", "--config", "env.toml", "--update"])
        .ok();
    let r = sb
        .ferry(&[
            "configure",
            "canary",
            "--canary",
            "25%",
            "--batch",
            "2",
            "--parallel",
            "1",
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(r["batches"].as_array().unwrap().len(), 3, "{r}");
    assert_eq!(std::fs::read_dir(sb.path().join("out")).unwrap().count(), 4);
}
