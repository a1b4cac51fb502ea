//! The store: locking between concurrent commands, corrupt files, listing.

use std::time::{Duration, Instant};

use crate::support::ferry::Sandbox;

fn slow_env(sb: &Sandbox, seconds: u32) -> String {
    let root = sb.at("slow");
    format!("[provider]\ntype = \"local\"\n[[configure]]\ntype = \"command\"\nname = \"slow\"\ncommand = \"sleep {seconds}; mkdir -p {root}\"\n")
}

/// Starts `ferry configure` in the background and waits until it holds the lock.
fn start_holding_lock(sb: &Sandbox, env: &str) -> std::process::Child {
    let child = sb
        .command(&["configure", env, "-q"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let lock = sb.state_dir().join(env).join("lock");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&lock)
        .unwrap_or_default()
        .contains("ferry configure")
    {
        assert!(
            Instant::now() < deadline,
            "the first command never took the lock"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

#[test]
fn a_second_command_on_a_locked_environment_fails_clearly_or_waits() {
    let sb = Sandbox::new();
    sb.create("busy", &slow_env(&sb, 2));
    sb.ferry(&["provision", "busy"]).ok();

    // Refused at once, or after a wait that runs out: either way the holder is named (a
    // wait reads the lock file again, from its start).
    for timeout in ["0", "1"] {
        let mut first = start_holding_lock(&sb, "busy");
        let r = sb
            .ferry(&["release", "busy", "--lock-timeout", timeout])
            .code(3);
        assert!(
            r.stderr.contains(
                "environment `busy` is locked by another ferry command (`ferry configure` pid"
            ),
            "{}",
            r.stderr
        );
        assert!(r.stderr.contains("--lock-timeout"), "{}", r.stderr);
        assert!(first.wait().unwrap().success());
    }

    // With time to wait, the second command runs once the first is done, and both land.
    let mut first = start_holding_lock(&sb, "busy");
    let r = sb.ferry(&["release", "busy", "--lock-timeout", "30"]).ok();
    assert!(
        r.stderr.contains("waiting for environment `busy`"),
        "{}",
        r.stderr
    );
    assert!(first.wait().unwrap().success());
    assert_eq!(sb.state("busy")["state"], "released");
    let commands: Vec<String> = sb
        .history("busy")
        .iter()
        .map(|h| h["command"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        commands,
        [
            "create",
            "provision",
            "configure",
            "configure",
            "configure",
            "release"
        ]
    );
}

#[test]
fn a_corrupt_state_file_is_reported_and_never_overwritten() {
    let sb = Sandbox::new();
    sb.create("bad", "[provider]\ntype = \"local\"\n");
    let state = sb.state_dir().join("bad/state.json");
    let garbage = "{ \"schema_version\": 1, \"name\": \"bad\", \"state\": \"creat";
    std::fs::write(&state, garbage).unwrap();
    for args in [
        &["status", "bad"][..],
        &["provision", "bad"],
        &["destroy", "bad"],
    ] {
        let r = sb.ferry(args).code(1);
        assert!(
            r.stderr.contains("state file") && r.stderr.contains("is corrupt"),
            "{}",
            r.stderr
        );
        assert!(r.stderr.contains("ferry left it untouched"), "{}", r.stderr);
    }
    assert_eq!(std::fs::read_to_string(&state).unwrap(), garbage);
    let list = sb.ferry(&["list", "--json"]).ok().json();
    assert_eq!(list["environments"][0]["state"], "unreadable");

    // A hand edit naming an unknown state is caught too.
    std::fs::write(&state, r#"{"schema_version":1,"name":"bad","state":"settled","phase":"flying","config_file":"x","provider":"local","created_at":"t","updated_at":"t"}"#).unwrap();
    let r = sb.ferry(&["status", "bad"]).code(1);
    assert!(
        r.stderr.contains("unknown variant `flying`"),
        "{}",
        r.stderr
    );

    std::fs::write(&state, r#"{"schema_version":99,"name":"bad"}"#).unwrap();
    let r = sb.ferry(&["status", "bad"]).code(1);
    assert!(
        r.stderr.contains("written by a newer ferry (schema 99"),
        "{}",
        r.stderr
    );
}

#[test]
fn state_is_written_atomically_with_no_temporary_files_left() {
    let sb = Sandbox::new();
    sb.create("tidy", "[provider]\ntype = \"local\"\n");
    sb.ferry(&["provision", "tidy"]).ok();
    let mut files: Vec<String> = std::fs::read_dir(sb.state_dir().join("tidy"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(
        files,
        ["environment.toml", "history.jsonl", "lock", "state.json"]
    );
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(sb.state_dir().join("tidy/state.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(state["schema_version"], 1);
    assert_eq!(state["state"], "settled");
    assert_eq!(state["phase"], "provisioned");
}

#[test]
fn list_shows_every_environment_and_the_state_dir_can_be_chosen() {
    let sb = Sandbox::new();
    sb.create("b-env", "[provider]\ntype = \"local\"\n");
    sb.create("a-env", "[provider]\ntype = \"local\"\n");
    sb.ferry(&["provision", "a-env"]).ok();
    let r = sb.ferry(&["list"]).ok();
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert!(lines[0].starts_with("ENVIRONMENT"));
    assert!(
        lines[1].starts_with("a-env") && lines[1].contains("provisioned"),
        "{}",
        r.stdout
    );
    assert!(
        lines[2].starts_with("b-env") && lines[2].contains("created"),
        "{}",
        r.stdout
    );

    let other = sb.path().join("elsewhere");
    let r = sb
        .command(&["list", "--json"])
        .env("FERRY_STATE_DIR", &other)
        .output()
        .unwrap();
    let j: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(j["environments"], serde_json::json!([]));
    sb.ferry(&[
        "--state-dir",
        other.to_str().unwrap(),
        "create",
        "c-env",
        "--config",
        "env.toml",
    ])
    .ok();
    assert!(other.join("c-env/state.json").exists());
}

#[test]
fn unknown_environments_and_bad_names_are_clear_errors() {
    let sb = Sandbox::new();
    let r = sb.ferry(&["status", "nope"]).code(2);
    assert!(
        r.stderr.contains("no environment is named `nope`"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("ferry create nope --config"),
        "{}",
        r.stderr
    );
    let r = sb.ferry(&["status", "nope", "--json"]).code(2).json();
    assert_eq!(
        r["error"]["exit_code"], 2,
        "an unknown environment is a usage error"
    );
    assert!(r["error"]["message"]
        .as_str()
        .unwrap()
        .contains("no environment is named `nope`"));
    sb.write("env.toml", "[provider]\ntype = \"local\"\n");
    let r = sb
        .ferry(&["create", "Bad/Name", "--config", "env.toml"])
        .code(2);
    assert!(
        r.stderr
            .contains("`Bad/Name` is not a valid environment name"),
        "{}",
        r.stderr
    );
}
