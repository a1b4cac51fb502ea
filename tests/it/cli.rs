//! The command line itself: version, help, completions, man page, check.

use crate::support::ferry::Sandbox;

#[test]
fn version_names_variant_target_and_commit() {
    let sb = Sandbox::new();
    let j = sb.ferry(&["--version", "--json"]).ok().json();
    assert_eq!(j["name"], "ferry");
    assert_eq!(j["version"], env!("CARGO_PKG_VERSION"));
    let variant = if cfg!(feature = "complete") {
        "complete"
    } else {
        "minimal"
    };
    assert_eq!(j["variant"], variant);
    assert!(
        j["target"]
            .as_str()
            .unwrap()
            .contains(std::env::consts::ARCH),
        "{j}"
    );
    assert!(!j["commit"].as_str().unwrap().is_empty());
    let text = sb.ferry(&["--version"]).ok().stdout;
    assert_eq!(
        text.trim(),
        format!(
            "ferry {} ({variant}, {}, commit {})",
            j["version"].as_str().unwrap(),
            j["target"].as_str().unwrap(),
            j["commit"].as_str().unwrap()
        )
    );
}

#[test]
fn every_command_explains_itself_with_an_example() {
    let sb = Sandbox::new();
    let mut commands = vec![
        "create",
        "provision",
        "configure",
        "release",
        "run",
        "status",
        "test",
        "plan",
        "destroy",
        "list",
        "check",
        "up",
        "rollback",
    ];
    if cfg!(feature = "complete") {
        commands.extend(["completions", "man"]);
    }
    for c in commands {
        let r = sb.ferry(&[c, "--help"]).ok();
        assert!(
            r.stdout.contains("Example: ferry"),
            "`ferry {c} --help` has no example:\n{}",
            r.stdout
        );
    }
    let top = sb.ferry(&["--help"]).ok().stdout;
    for needle in [
        "--state-dir",
        "FERRY_STATE_DIR",
        "--json",
        "--verbose",
        "--quiet",
        "Exit codes",
        "Quick start",
    ] {
        assert!(top.contains(needle), "missing {needle} in --help");
    }
    let r = sb.ferry(&[]).code(2);
    assert!(r.stderr.contains("no command given"), "{}", r.stderr);
    sb.ferry(&["frobnicate"]).code(2);
}

#[cfg(feature = "complete")]
#[test]
fn completions_and_man_page_are_generated() {
    let sb = Sandbox::new();
    let bash = sb.ferry(&["completions", "bash"]).ok().stdout;
    assert!(
        bash.contains("complete -F") && bash.contains("provision"),
        "{bash}"
    );
    let zsh = sb.ferry(&["completions", "zsh"]).ok().stdout;
    assert!(zsh.starts_with("#compdef ferry"));
    let man = sb.ferry(&["man"]).ok().stdout;
    assert!(
        man.contains(&format!(
            ".TH ferry 1  \"ferry {}\"",
            env!("CARGO_PKG_VERSION")
        )) && man.contains("provision"),
        "{man}"
    );
    assert!(
        !man.contains("(1)"),
        "no references to per-command pages that do not exist: {man}"
    );
    // bash itself must accept the script.
    let path = sb.write("ferry.bash", &bash);
    let st = std::process::Command::new("bash")
        .arg("-n")
        .arg(path)
        .status()
        .unwrap();
    assert!(st.success());
}

/// `ferry completions zsh | head -1`: a reader that is gone ends ferry quietly.
#[cfg(feature = "complete")]
#[test]
fn generated_output_into_a_closed_pipe_is_not_an_error() {
    let sb = Sandbox::new();
    for args in [&["completions", "zsh"][..], &["man"]] {
        let mut child = sb
            .command(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Closed before ferry writes (it is still starting): its write meets a broken pipe.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {:?} {stderr}", out.status);
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
    }
}

#[cfg(not(feature = "complete"))]
#[test]
fn the_minimal_variant_has_no_completions_or_man_page() {
    let sb = Sandbox::new();
    sb.ferry(&["completions", "bash"]).code(2);
    sb.ferry(&["man"]).code(2);
}

#[test]
fn check_reports_local_tools() {
    let sb = Sandbox::new();
    let j = sb.ferry(&["check", "--json"]).ok().json();
    assert_eq!(j["ok"], true);
    let sh = j["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "sh")
        .unwrap();
    assert_eq!(sh["found"], true);
    assert_eq!(sh["required"], true);
    let text = sb.ferry(&["check"]).ok().stdout;
    assert!(
        text.contains("ok      sh") && text.contains("everything ferry needs locally is here"),
        "{text}"
    );
}
