//! Whole lifecycles through the real binary: order, failures, retries, dry runs.

use crate::support::ferry::Sandbox;

/// A local environment whose resources all live inside the sandbox.
fn local_env(sb: &Sandbox) -> String {
    let root = sb.at("site");
    format!(
        r#"
description = "test site"
[provider]
type = "local"
destroy = "rm -rf {root}"

[vars]
greeting = "hello"

[[configure]]
type = "directory"
path = "{root}"

[[configure]]
type = "file"
path = "{root}/app.conf"
mode = "0640"
content = "port = 8080\n"

[[release]]
type = "command"
name = "write release"
command = 'echo "$FERRY_VAR_GREETING from $FERRY_HOST in $FERRY_ENV" > {root}/RELEASE'
creates = "{root}/RELEASE"

[[run]]
type = "command"
name = "start"
command = "touch {root}/running"
unless = "test -f {root}/running"

[[test]]
name = "config in place"
command = "grep -q 8080 {root}/app.conf"
"#
    )
}

#[test]
fn a_local_environment_goes_from_create_to_destroyed() {
    let sb = Sandbox::new();
    sb.create("web", &local_env(&sb));
    assert_eq!(sb.state("web")["state"], "created");
    for (step, state) in [
        ("provision", "provisioned"),
        ("configure", "configured"),
        ("release", "released"),
        ("run", "running"),
    ] {
        let out = sb.ferry(&[step, "web", "--json"]).ok().json();
        assert_eq!(out["state"], state, "{step}");
        assert_eq!(sb.state("web")["state"], state);
    }
    let root = sb.path().join("site");
    let conf = root.join("app.conf");
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), "port = 8080\n");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&conf).unwrap().permissions().mode() & 0o7777,
        0o640
    );
    assert_eq!(
        std::fs::read_to_string(root.join("RELEASE")).unwrap(),
        "hello from local in web\n"
    );
    assert!(root.join("running").exists());

    sb.ferry(&["test", "web"]).ok();
    let status = sb.state("web");
    assert_eq!(status["hosts"][0]["name"], "local");
    assert_eq!(
        status["hosts"][0]["facts"]["os"],
        std::env::consts::OS.replace("linux", "Linux")
    );

    sb.ferry(&["destroy", "web"]).ok();
    assert_eq!(sb.state("web")["state"], "destroyed");
    assert!(!root.exists(), "the local provider's destroy command ran");

    let history = sb.history("web");
    let commands: Vec<&str> = history
        .iter()
        .map(|h| h["command"].as_str().unwrap())
        .collect();
    assert_eq!(
        commands,
        [
            "create",
            "provision",
            "configure",
            "release",
            "run",
            "test",
            "destroy"
        ]
    );
    assert_eq!(history[2]["from"], "provisioned");
    assert_eq!(history[2]["to"], "configured");
    assert!(history
        .iter()
        .all(|h| h["outcome"] == "ok" && h["duration_ms"].is_u64() && h["at"].is_string()));
}

#[test]
fn out_of_order_commands_name_the_command_to_run_first() {
    let sb = Sandbox::new();
    sb.create("staging", &local_env(&sb));
    let r = sb.ferry(&["configure", "staging"]).code(2);
    assert!(
        r.stderr
            .contains("cannot configure environment `staging`: it is created"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("run `ferry provision staging` first"),
        "{}",
        r.stderr
    );
    let r = sb.ferry(&["run", "staging"]).code(2);
    assert!(
        r.stderr.contains("run `ferry provision staging` first"),
        "{}",
        r.stderr
    );
    sb.ferry(&["provision", "staging"]).ok();
    let r = sb.ferry(&["run", "staging"]).code(2);
    assert!(
        r.stderr.contains("run `ferry configure staging` first"),
        "{}",
        r.stderr
    );
    assert_eq!(
        sb.state("staging")["state"],
        "provisioned",
        "a refused command changes nothing"
    );
    assert_eq!(
        sb.history("staging").len(),
        2,
        "a refused command writes no history"
    );
}

#[test]
fn a_failed_step_is_recorded_and_retrying_it_resumes() {
    let sb = Sandbox::new();
    let marker = sb.at("marker");
    let root = sb.at("out");
    sb.create(
        "app",
        &format!(
            r#"
[provider]
type = "local"
[[configure]]
type = "directory"
path = "{root}"
[[configure]]
type = "command"
name = "needs marker"
command = "test -f {marker} && echo found || (echo 'marker missing' >&2; exit 3)"
[[configure]]
type = "file"
path = "{root}/after"
content = "x"
"#
        ),
    );
    sb.ferry(&["provision", "app"]).ok();
    let r = sb.ferry(&["configure", "app"]).code(1);
    assert!(r.stderr.contains("configure failed"), "{}", r.stderr);
    assert!(
        r.stderr.contains("run `ferry configure app` again"),
        "{}",
        r.stderr
    );
    assert!(
        r.stdout.contains("marker missing"),
        "the command's output is shown: {}",
        r.stdout
    );
    assert!(
        r.stdout.contains("skipped"),
        "later changes are skipped: {}",
        r.stdout
    );
    let status = sb.state("app");
    assert_eq!(status["state"], "configure_failed");
    assert_eq!(status["failure"]["step"], "configure");
    assert_eq!(status["failure"]["from"], "provisioned");
    assert!(
        status["failure"]["error"]
            .as_str()
            .unwrap()
            .contains("exit status 3"),
        "{status}"
    );
    assert!(status["failure"]["at"].is_string());
    assert!(!sb.path().join("out/after").exists());
    // Only the failed step or an earlier one may run now.
    sb.ferry(&["release", "app"]).code(2);

    std::fs::write(&marker, "").unwrap();
    let r = sb.ferry(&["configure", "app", "--json"]).ok().json();
    assert_eq!(r["from"], "configure_failed");
    assert_eq!(r["state"], "configured");
    assert!(sb.path().join("out/after").exists());
    let history = sb.history("app");
    assert_eq!(history[2]["outcome"], "failed");
    assert_eq!(history[2]["to"], "configure_failed");
    assert_eq!(history[3]["outcome"], "ok");
}

#[test]
fn dry_run_changes_nothing_and_shows_the_plan() {
    let sb = Sandbox::new();
    sb.create("dry", &local_env(&sb));
    sb.ferry(&["provision", "dry"]).ok();
    let r = sb.ferry(&["configure", "dry", "--dry-run"]).ok();
    assert!(r.stdout.contains("+ directory:"), "{}", r.stdout);
    assert!(
        r.stdout.contains("+port = 8080"),
        "a unified diff of the new file: {}",
        r.stdout
    );
    assert!(r.stdout.contains("nothing was changed"), "{}", r.stdout);
    assert!(!sb.path().join("site").exists());
    assert_eq!(sb.state("dry")["state"], "provisioned");
    assert_eq!(sb.history("dry").len(), 2);
    let r = sb.ferry(&["destroy", "dry", "--dry-run"]).ok();
    assert!(
        r.stdout.contains("would run the destroy command"),
        "{}",
        r.stdout
    );
    assert_eq!(sb.state("dry")["state"], "provisioned");
}

#[test]
fn quiet_prints_results_and_errors_only() {
    let sb = Sandbox::new();
    sb.write("env.toml", &local_env(&sb));
    let r = sb
        .ferry(&["-q", "create", "calm", "--config", "env.toml"])
        .ok();
    assert_eq!(
        r.stdout,
        "created environment `calm` (local provider, state: created)\n"
    );
    assert_eq!(r.stderr, "");
    let r = sb.ferry(&["-q", "provision", "calm"]).ok();
    assert!(!r.stdout.contains("next:"), "{}", r.stdout);
    assert_eq!(r.stderr, "");
    let r = sb.ferry(&["provision", "calm"]).ok();
    assert!(
        r.stdout.contains("next: ferry configure calm"),
        "{}",
        r.stdout
    );
}

#[test]
fn destroyed_environments_must_be_created_again() {
    let sb = Sandbox::new();
    sb.create("gone", &local_env(&sb));
    sb.ferry(&["destroy", "gone"]).ok();
    let r = sb.ferry(&["provision", "gone"]).code(2);
    assert!(
        r.stderr.contains("run `ferry create gone` first"),
        "{}",
        r.stderr
    );
    // The hint as written: the environment keeps its own file, not the built-in example.
    sb.ferry(&["create", "gone"]).ok();
    let state = sb.state("gone");
    assert_eq!(state["state"], "created");
    assert_eq!(state["description"], "test site");
    assert!(
        state["config_file"].as_str().unwrap().ends_with("env.toml"),
        "{state}"
    );
}

#[test]
fn create_refuses_an_existing_environment_and_update_replaces_its_file() {
    let sb = Sandbox::new();
    sb.create("dup", &local_env(&sb));
    sb.ferry(&["provision", "dup"]).ok();
    let r = sb.ferry(&["create", "dup", "--config", "env.toml"]).code(2);
    assert!(
        r.stderr.contains("already exists (state: provisioned)"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("--update"), "{}", r.stderr);
    sb.write(
        "env.toml",
        &local_env(&sb).replace("test site", "changed site"),
    );
    sb.ferry(&["create", "dup", "--config", "env.toml", "--update"])
        .ok();
    let status = sb.state("dup");
    assert_eq!(status["state"], "provisioned", "update keeps the state");
    assert_eq!(status["description"], "changed site");
    // --update without --config re-reads the environment's own file.
    sb.write(
        "env.toml",
        &local_env(&sb).replace("test site", "edited again"),
    );
    sb.ferry(&["create", "dup", "--update"]).ok();
    assert_eq!(sb.state("dup")["description"], "edited again");
}

#[test]
fn a_second_apply_reports_zero_changes_and_writes_nothing() {
    use std::os::unix::fs::MetadataExt;
    let sb = Sandbox::new();
    sb.create("idem", &local_env(&sb));
    sb.ferry(&["provision", "idem"]).ok();
    let first = sb.ferry(&["configure", "idem", "--json"]).ok().json();
    assert_eq!(first["hosts"][0]["changes"].as_array().unwrap().len(), 2);
    assert_eq!(first["hosts"][0]["round_trips"], 2);
    let conf = sb.path().join("site/app.conf");
    let before = std::fs::metadata(&conf).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let second = sb.ferry(&["configure", "idem", "--json"]).ok().json();
    assert_eq!(second["hosts"][0]["changes"].as_array().unwrap().len(), 0);
    assert_eq!(
        second["hosts"][0]["round_trips"], 1,
        "nothing to change: explore only"
    );
    let after = std::fs::metadata(&conf).unwrap();
    assert_eq!(
        (before.ino(), before.mtime_nsec(), before.ctime_nsec()),
        (after.ino(), after.mtime_nsec(), after.ctime_nsec())
    );
}

#[test]
fn up_takes_the_built_in_example_from_nothing_to_running_and_tested() {
    // This is the README's quick start: `ferry up demo` on a fresh machine.
    let sb = Sandbox::new();
    let r = sb.ferry(&["up", "quickstart"]).ok();
    assert!(
        r.stderr.contains("using the built-in example"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.contains("2 of 2 checks passed"), "{}", r.stdout);
    assert!(
        !r.stdout.contains("next:"),
        "up runs the next steps itself: {}",
        r.stdout
    );
    assert_eq!(sb.state("quickstart")["state"], "running");
    let commands: Vec<String> = sb
        .history("quickstart")
        .iter()
        .map(|h| h["command"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        commands,
        ["create", "provision", "configure", "release", "run", "test"]
    );
    // A second `up` converges again without provisioning: nothing changes.
    let again = sb.ferry(&["up", "quickstart", "--json", "-q"]).ok();
    assert!(
        again.stdout.contains("\"passed\": true"),
        "{}",
        again.stdout
    );
    assert_eq!(sb.history("quickstart").len(), 10);
    sb.ferry(&["destroy", "quickstart"]).ok();
    assert!(
        !std::path::Path::new("/tmp/ferry-demo").exists(),
        "the example's destroy command cleaned up"
    );
}
