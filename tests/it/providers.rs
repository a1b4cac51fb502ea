//! Providers: `command` runs real commands that create and remove "infrastructure";
//! `static` checks that its hosts answer. Roles decide which host gets which resource.

use crate::support::ferry::Sandbox;

#[test]
fn the_command_provider_creates_hosts_from_an_inventory_and_destroys_them() {
    let sb = Sandbox::new();
    let infra = sb.at("infra");
    let out = sb.at("out");
    // The "cloud": a directory the provision command creates, with an inventory of two
    // hosts reached locally; destroy removes it.
    sb.write(
        "provision.sh",
        &format!(
            r#"set -e
mkdir -p {infra}
echo "creating 2 hosts" >&2
cat <<JSON
{{"hosts": [
  {{"name": "web-1", "address": "127.0.0.1", "connection": "local"}},
  {{"name": "db-1", "address": "127.0.0.1", "connection": "local", "roles": ["db"]}}
]}}
JSON
"#
        ),
    );
    sb.create(
        "cloud",
        &format!(
            r#"[provider]
type = "command"
provision = "sh provision.sh"
destroy = "rm -rf {infra}"

[roles.web]
patterns = ["web-*"]

[[configure]]
type = "command"
name = "mark web"
command = "touch {out}/$FERRY_HOST"
roles = ["web"]
creates = "{out}/web-1"
"#
        ),
    );
    // Both "hosts" are this machine, so they share one output directory.
    std::fs::create_dir(sb.path().join("out")).unwrap();
    let r = sb.ferry(&["provision", "cloud"]).ok();
    assert!(
        r.stderr.contains("creating 2 hosts"),
        "the command's stderr reaches the user: {}",
        r.stderr
    );
    assert!(sb.path().join("infra").is_dir());
    let status = sb.state("cloud");
    let hosts = status["hosts"].as_array().unwrap();
    assert_eq!(hosts.len(), 2);
    assert_eq!(hosts[0]["name"], "web-1");
    assert_eq!(
        hosts[0]["roles"],
        serde_json::json!(["web"]),
        "role from the name pattern"
    );
    assert_eq!(
        hosts[1]["roles"],
        serde_json::json!(["db"]),
        "role from the inventory"
    );
    assert_eq!(status["roles"]["web"], serde_json::json!(["web-1"]));

    sb.ferry(&["configure", "cloud"]).ok();
    let made: Vec<_> = std::fs::read_dir(sb.path().join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(
        made,
        ["web-1"],
        "only the web host ran the web-scoped command"
    );

    sb.ferry(&["destroy", "cloud"]).ok();
    assert!(
        !sb.path().join("infra").exists(),
        "destroy ran the destroy command"
    );
    assert_eq!(sb.state("cloud")["state"], "destroyed");
}

#[test]
fn a_bad_inventory_fails_provisioning_with_a_clear_error() {
    let sb = Sandbox::new();
    sb.create(
        "inv",
        "[provider]\ntype = \"command\"\nprovision = \"echo not json\"\n",
    );
    let r = sb.ferry(&["provision", "inv"]).code(1);
    assert!(
        r.stderr.contains("printed an inventory ferry cannot read"),
        "{}",
        r.stderr
    );
    assert_eq!(sb.state("inv")["state"], "provision_failed");

    sb.write(
        "env.toml",
        "[provider]\ntype = \"command\"\nprovision = \"echo oops >&2; exit 7\"\n",
    );
    sb.ferry(&["create", "inv", "--config", "env.toml", "--update"])
        .ok();
    let r = sb.ferry(&["provision", "inv"]).code(1);
    assert!(
        r.stderr.contains("failed (exit status 7): oops"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_static_host_that_does_not_answer_fails_provisioning_naming_it() {
    let sb = Sandbox::new();
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    sb.create(
        "fixed",
        "[provider]\ntype = \"static\"\n[[hosts]]\nname = \"db-9\"\naddress = \"127.0.0.1\"\nport = 1\nkey = \"/nonexistent/key\"\n",
    );
    let r = sb.ferry(&["provision", "fixed"]).code(1);
    assert!(
        r.stderr.contains("host `db-9` is not reachable"),
        "{}",
        r.stderr
    );
    let status = sb.state("fixed");
    assert_eq!(status["state"], "provision_failed");
    assert!(status["failure"]["error"]
        .as_str()
        .unwrap()
        .contains("db-9"));
}
