//! cargo-dist interop: `dist plan` accepts dist-workspace.toml and plans the same targets
//! (minus `ferry.extra-targets`, which cargo-dist does not support).

use std::collections::BTreeSet;

use crate::support::{find_tool, require_tools, root};

#[test]
fn cargo_dist_plans_the_same_targets() {
    if !require_tools("cargo_dist_plans_the_same_targets", &["dist"]) {
        return;
    }
    let dist = find_tool("dist").unwrap();
    let out = std::process::Command::new(dist)
        .args(["plan", "--output-format=json", "--no-local-paths"])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "dist plan rejected dist-workspace.toml:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let planned: BTreeSet<String> = plan["artifacts"]
        .as_object()
        .unwrap()
        .values()
        .filter(|a| a["kind"] == "executable-zip")
        .flat_map(|a| {
            a["target_triples"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_str().unwrap().to_owned())
        })
        .collect();
    let config: toml::Table =
        toml::from_str(&std::fs::read_to_string(root().join("dist-workspace.toml")).unwrap())
            .unwrap();
    let ours: BTreeSet<String> = config["dist"]["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(planned, ours);
}
