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

/// Scripts get each problem as data: file, line, column, field, message and help.
#[test]
fn json_errors_list_every_problem_as_data() {
    let sb = Sandbox::new();
    sb.write(
        "env.toml",
        "[provider]\ntype = \"local\"\n[vars]\n\"my-var\" = 1\n[[configure]]\ntype = \"file\"\npath = \"/etc/a\"\n",
    );
    let r = sb
        .ferry(&["create", "e", "--config", "env.toml", "--json"])
        .code(2)
        .json();
    let problems = r["error"]["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 2, "{r}");
    assert_eq!(problems[0]["file"], "env.toml");
    assert_eq!(problems[0]["line"], 4);
    assert_eq!(problems[0]["column"], 1);
    assert_eq!(problems[0]["field"], "vars.my-var");
    assert!(problems[0]["help"].as_str().unwrap().contains("FERRY_VAR_"));
    assert_eq!(problems[1]["field"], "configure[0].path");
    assert_eq!(problems[1]["message"], "a file needs `content` or `source`");
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

/// Every problem `check` finds that the single-case tests above leave out, one small file
/// each, in one snapshot that reads top to bottom like the checks in src/config/validate.rs.
#[test]
fn each_validation_problem() {
    const LOCAL: &str = "[provider]\ntype = \"local\"\n";
    const STATIC: &str = "[provider]\ntype = \"static\"\n[[hosts]]\nname = \"web1\"\naddress = \"10.0.0.1\"\nroles = [\"web\"]\n";
    let cases: &[(&str, String)] = &[
        // The provider and its hosts.
        (
            "empty provision command",
            "[provider]\ntype = \"command\"\nprovision = \" \"\n".into(),
        ),
        (
            "command provider with hosts",
            "[provider]\ntype = \"command\"\nprovision = \"./up.sh\"\n[[hosts]]\nname = \"h\"\naddress = \"1.2.3.4\"\n".into(),
        ),
        (
            "hosts under the provider",
            "[provider]\ntype = \"static\"\n[[provider.hosts]]\nname = \"a\"\naddress = \"10.0.0.1\"\n".into(),
        ),
        (
            "host declared twice",
            format!("{STATIC}[[hosts]]\nname = \"web1\"\naddress = \"10.0.0.2\"\n"),
        ),
        (
            "invalid host name",
            "[provider]\ntype = \"static\"\n[[hosts]]\nname = \"web 1\"\naddress = \"10.0.0.1\"\n".into(),
        ),
        (
            "empty host name",
            "[provider]\ntype = \"static\"\n[[hosts]]\nname = \"\"\naddress = \"10.0.0.1\"\n".into(),
        ),
        (
            "empty address",
            "[provider]\ntype = \"static\"\n[[hosts]]\nname = \"web1\"\naddress = \" \"\n".into(),
        ),
        (
            "port 0",
            "[provider]\ntype = \"static\"\n[[hosts]]\nname = \"web1\"\naddress = \"10.0.0.1\"\nport = 0\n".into(),
        ),
        (
            "port out of range",
            "[provider]\ntype = \"static\"\n[[hosts]]\nname = \"web1\"\naddress = \"10.0.0.1\"\nport = 70000\n".into(),
        ),
        (
            "bad host variable name",
            format!("{STATIC}[hosts.vars]\n\"1st\" = true\n"),
        ),
        // Roles.
        (
            "empty role pattern",
            format!("{STATIC}[roles.app]\npatterns = [\"web-*\", \"\"]\n"),
        ),
        (
            "role lists an unknown host, nothing close",
            format!("{STATIC}[roles.db]\nhosts = [\"db1\"]\n"),
        ),
        // Resources.
        (
            "unknown handler, none declared",
            format!("{LOCAL}[[configure]]\ntype = \"file\"\npath = \"/etc/app.conf\"\ncontent = \"x\"\nnotify = [\"reload\"]\n"),
        ),
        (
            "unknown handler whose name needs quoting in TOML",
            format!("{LOCAL}[[configure]]\ntype = \"file\"\npath = \"/etc/app.conf\"\ncontent = \"x\"\nnotify = [\"reload web server\"]\n"),
        ),
        (
            "file path names a directory",
            format!("{LOCAL}[[configure]]\ntype = \"file\"\npath = \"/etc/app/\"\ncontent = \"x\"\n"),
        ),
        (
            "file with content and source",
            format!("{LOCAL}[[configure]]\ntype = \"file\"\npath = \"/etc/app.conf\"\ncontent = \"x\"\nsource = \"files/app.conf\"\n"),
        ),
        (
            "path with a NUL byte",
            format!("{LOCAL}[[configure]]\ntype = \"directory\"\npath = \"/srv/a\\u0000b\"\n"),
        ),
        (
            "empty symlink target",
            format!("{LOCAL}[[configure]]\ntype = \"symlink\"\npath = \"/srv/current\"\ntarget = \"\"\n"),
        ),
        (
            "template with neither template nor source",
            format!("{LOCAL}[[configure]]\ntype = \"template\"\npath = \"/etc/app.conf\"\n"),
        ),
        (
            "template with both template and source",
            format!("{LOCAL}[[configure]]\ntype = \"template\"\npath = \"/etc/app.conf\"\ntemplate = \"x\"\nsource = \"app.conf.j2\"\n"),
        ),
        (
            "unknown after reference, nothing close",
            format!("{LOCAL}[[run]]\ntype = \"command\"\ncommand = \"x\"\nafter = [\"service:app\"]\n"),
        ),
        (
            "relative creates",
            format!("{LOCAL}[[run]]\ntype = \"command\"\ncommand = \"make install\"\ncreates = \"bin/app\"\n"),
        ),
        (
            "invalid package, service, user and group names",
            format!("{LOCAL}[[configure]]\ntype = \"package\"\nname = \"nginx full\"\n[[configure]]\ntype = \"service\"\nname = \"\"\n[[configure]]\ntype = \"user\"\nname = \"app/user\"\n[[configure]]\ntype = \"group\"\nname = \"app group\"\n"),
        ),
        // Checks.
        (
            "command check without command",
            format!("{LOCAL}[[test]]\nname = \"up\"\n"),
        ),
        (
            "http check with a url without scheme",
            format!("{LOCAL}[[test]]\nname = \"up\"\ntype = \"http\"\nurl = \"localhost:8080\"\n"),
        ),
        (
            "tcp check without port",
            format!("{LOCAL}[[test]]\nname = \"up\"\ntype = \"tcp\"\n"),
        ),
        (
            "tcp check on port 0",
            format!("{LOCAL}[[test]]\nname = \"up\"\ntype = \"tcp\"\nport = 0\n"),
        ),
        (
            "fields that do not apply to a tcp check",
            format!("{LOCAL}[[test]]\nname = \"up\"\ntype = \"tcp\"\nport = 80\nurl = \"http://x\"\ncontains = \"ok\"\n"),
        ),
        (
            "check in an unknown role, close to a known one",
            format!("{STATIC}[[test]]\nname = \"up\"\ncommand = \"true\"\nroles = [\"webs\"]\n"),
        ),
        // [app].
        ("app without root", format!("{LOCAL}[app]\nkeep = 3\n")),
        ("app with a relative root", format!("{LOCAL}[app]\nroot = \"srv/shop\"\n")),
        ("keep 0", format!("{LOCAL}[app]\nroot = \"/srv/shop\"\nkeep = 0\n")),
        ("keep 1", format!("{LOCAL}[app]\nroot = \"/srv/shop\"\nkeep = 1\n")),
        (
            "bad shared paths",
            format!("{LOCAL}[app]\nroot = \"/srv/shop\"\nshared = [\"logs\", \"/var/log\", \"../up\", \"\", \"data//x\"]\n"),
        ),
        (
            "unknown variant",
            format!("{LOCAL}[app]\nroot = \"/srv/shop\"\nvariant = \"full\"\n"),
        ),
        (
            "both public_key and public_key_file",
            format!("{LOCAL}[app]\nroot = \"/srv/shop\"\nmanifest = \"m.json\"\npublic_key = \"RWQ\"\npublic_key_file = \"minisign.pub\"\n"),
        ),
        (
            "manifest without a key",
            format!("{LOCAL}[app]\nroot = \"/srv/shop\"\nmanifest = \"dist/{{version}}/dist-manifest.json\"\n"),
        ),
        (
            "app notifies an unknown handler",
            format!("{LOCAL}[app]\nroot = \"/srv/shop\"\nnotify = [\"restart shop\"]\n[handlers.restart]\nservice = \"shop\"\n"),
        ),
        (
            "app in unknown roles",
            format!("{STATIC}[app]\nroot = \"/srv/shop\"\nroles = [\"wbe\", \"db\"]\n"),
        ),
        // Handlers and secrets.
        (
            "handler with neither command nor service",
            format!("{LOCAL}[handlers.restart]\n"),
        ),
        (
            "handler with both command and service",
            format!("{LOCAL}[handlers.restart]\ncommand = \"systemctl restart app\"\nservice = \"app\"\n"),
        ),
        (
            "secret with both env and file",
            format!("{LOCAL}[secrets.token]\nenv = \"TOKEN\"\nfile = \"token.txt\"\n"),
        ),
        (
            "variable and secret of one name",
            format!("{LOCAL}[vars]\ntoken = \"x\"\n[secrets.token]\nenv = \"TOKEN\"\n"),
        ),
        (
            "bad secret name",
            format!("{LOCAL}[secrets.api-token]\nenv = \"TOKEN\"\n"),
        ),
    ];
    let mut report = String::new();
    for (name, config) in cases {
        report.push_str(&format!("## {name}\n{}\n\n", error_for(config).trim_end()));
    }
    insta::assert_snapshot!(report);
}
