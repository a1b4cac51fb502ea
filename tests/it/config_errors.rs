//! Every kind of environment-file problem, as the user sees it: file, line, column,
//! field, message and fix. Messages are snapshots (tests/it/snapshots/).

use crate::support::ferry::Sandbox;

/// The error `ferry create` prints for `config`, with the sandbox path filtered out.
fn error_for(config: &str) -> String {
    let sb = Sandbox::new();
    sb.write("env.toml", config);
    let r = sb.ferry(&["create", "e", "--config", "env.toml"]).code(2);
    assert!(
        !sb.state_dir().join("e/state.json").exists(),
        "an invalid file stores nothing"
    );
    r.stderr
}

macro_rules! config_error {
    ($name:ident, $config:expr) => {
        #[test]
        fn $name() {
            insta::assert_snapshot!(error_for($config));
        }
    };
}

config_error!(syntax_error, "[provider\ntype = \"local\"\n");
config_error!(
    unknown_top_level_field,
    "descripton = \"x\"\n[provider]\ntype = \"local\"\n"
);
config_error!(unknown_resource_field, "[provider]\ntype = \"local\"\n[[configure]]\ntype = \"file\"\npath = \"/tmp/x\"\ncontnet = \"hi\"\n");
config_error!(unknown_provider_type, "[provider]\ntype = \"loacl\"\n");
config_error!(
    unknown_resource_type,
    "[provider]\ntype = \"local\"\n[[release]]\ntype = \"fiel\"\npath = \"/x\"\n"
);
config_error!(missing_provider, "description = \"no provider\"\n");
config_error!(
    missing_required_field,
    "[provider]\ntype = \"local\"\n[[configure]]\ntype = \"file\"\npath = \"/tmp/x\"\n"
);
config_error!(
    wrong_type,
    "[provider]\ntype = \"local\"\n[[configure]]\ntype = \"directory\"\npath = 42\n"
);
config_error!(
    several_semantic_problems,
    r#"[provider]
type = "static"

[[hosts]]
name = "web1"
address = "10.0.0.1"
roles = ["web"]

[roles.db]
hosts = ["wbe1"]

[[configure]]
type = "directory"
path = "relative/dir"
mode = "0999"
roles = ["wbe"]

[[test]]
name = "a"
command = "true"
[[test]]
name = "a"
command = "true"
"#
);
config_error!(
    local_with_hosts,
    "[provider]\ntype = \"local\"\n[[hosts]]\nname = \"h\"\naddress = \"1.2.3.4\"\n"
);
config_error!(static_without_hosts, "[provider]\ntype = \"static\"\n");
config_error!(
    conflicting_declarations,
    "[provider]\ntype = \"local\"\n[[configure]]\ntype = \"file\"\npath = \"/etc/a\"\ncontent = \"1\"\n[[configure]]\ntype = \"file\"\npath = \"/etc/a\"\ncontent = \"2\"\n"
);
config_error!(
    bad_variable_name,
    "[provider]\ntype = \"local\"\n[vars]\n\"my-var\" = 1\n"
);
config_error!(
    empty_command,
    "[provider]\ntype = \"local\"\n[[run]]\ntype = \"command\"\ncommand = \" \"\n"
);

#[test]
fn a_missing_file_is_named() {
    let sb = Sandbox::new();
    let r = sb.ferry(&["create", "e", "--config", "nope.toml"]).code(2);
    assert!(
        r.stderr
            .contains("cannot read the environment file nope.toml"),
        "{}",
        r.stderr
    );
}

#[test]
fn the_documented_example_is_valid() {
    // docs/environment.md's complete example must stay a valid environment file.
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/environment.md"))
        .unwrap();
    let example = doc
        .split("```toml\n")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .expect("a toml block in docs/environment.md");
    let sb = Sandbox::new();
    sb.create("doc", example);
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/local.toml");
    sb.ferry(&["create", "quick", "--config", shipped]).ok();
}
config_error!(
    missing_symlink_target,
    "[provider]\ntype = \"local\"\n[[configure]]\ntype = \"symlink\"\npath = \"/tmp/x\"\n"
);
config_error!(
    after_cycle_and_unknown_handler,
    "[provider]\ntype = \"local\"\n[[configure]]\ntype = \"command\"\nname = \"a\"\ncommand = \"a\"\nafter = [\"command:b\"]\nnotify = [\"restrat\"]\n[[configure]]\ntype = \"command\"\nname = \"b\"\ncommand = \"b\"\nafter = [\"command:a\"]\n[handlers.restart]\ncommand = \"true\"\n"
);
config_error!(unknown_after_reference, "[provider]\ntype = \"local\"\n[[run]]\ntype = \"command\"\ncommand = \"x\"\nafter = [\"package:ngnix\"]\n[[run]]\ntype = \"package\"\nname = \"nginx\"\n");
config_error!(
    secret_without_source,
    "[provider]\ntype = \"local\"\n[secrets.token]\n"
);
config_error!(
    http_check_without_url,
    "[provider]\ntype = \"local\"\n[[test]]\nname = \"up\"\ntype = \"http\"\ncommand = \"x\"\n"
);
config_error!(template_syntax, "[provider]\ntype = \"local\"\n[[configure]]\ntype = \"template\"\npath = \"/etc/x\"\ntemplate = \"{% if x %}\"\n");
