//! The CI definitions in `ci/`: validated by the tools GitHub and GitLab users rely on
//! (actionlint, and check-jsonschema with its vendored GitHub-workflow and GitLab-CI schemas, so
//! no schema is fetched), checked for the release rules (pinned actions, secrets only in the
//! publishing job, least privilege), and installed by `cargo xtask ci-install`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{find_tool, require_tools, root, run, run_ok, stderr, xtask};

const GITHUB: &[&str] = &[
    "ci/github/workflows/ci.yml",
    "ci/github/workflows/release.yml",
];
const GITLAB: &str = "ci/gitlab/.gitlab-ci.yml";
/// Users' jobs (README "CI"): validated like the project's own.
const GITHUB_EXAMPLES: &[&str] = &[
    "ci/examples/github/deploy.yml",
    "ci/examples/github/install.yml",
];
const GITLAB_EXAMPLE: &str = "ci/examples/gitlab/.gitlab-ci.yml";

fn github_all() -> Vec<PathBuf> {
    paths(GITHUB)
        .into_iter()
        .chain(paths(GITHUB_EXAMPLES))
        .collect()
}

fn paths(rel: &[&str]) -> Vec<PathBuf> {
    rel.iter().map(|p| root().join(p)).collect()
}

fn tool(name: &str) -> Command {
    Command::new(find_tool(name).expect("checked by require_tools"))
}

#[test]
fn actionlint_accepts_the_github_workflows() {
    // shellcheck is optional for actionlint; with it, the `run:` scripts are linted too.
    if !require_tools("actionlint_accepts_the_github_workflows", &["actionlint"]) {
        return;
    }
    let mut cmd = tool("actionlint");
    cmd.arg("-no-color").args(github_all());
    let out = run(&mut cmd);
    assert!(
        out.status.success(),
        "actionlint:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        stderr(&out)
    );
}

fn check_jsonschema(schema: &str, files: &[PathBuf]) {
    let mut cmd = tool("check-jsonschema");
    // --builtin-schema uses the schema vendored in the package: no network.
    cmd.args(["--builtin-schema", schema]).args(files);
    let out = run(&mut cmd);
    assert!(
        out.status.success(),
        "check-jsonschema {schema}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        stderr(&out)
    );
}

#[test]
fn github_workflows_match_the_vendored_schema() {
    if !require_tools(
        "github_workflows_match_the_vendored_schema",
        &["check-jsonschema"],
    ) {
        return;
    }
    check_jsonschema("vendor.github-workflows", &github_all());
}

#[test]
fn gitlab_ci_matches_the_vendored_schema() {
    if !require_tools(
        "gitlab_ci_matches_the_vendored_schema",
        &["check-jsonschema"],
    ) {
        return;
    }
    check_jsonschema("vendor.gitlab-ci", &paths(&[GITLAB, GITLAB_EXAMPLE]));
}

#[test]
fn the_validators_reject_a_broken_workflow() {
    // Guards against a validator that passes everything (wrong flags, empty file list).
    if !require_tools(
        "the_validators_reject_a_broken_workflow",
        &["actionlint", "check-jsonschema"],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yml");
    std::fs::write(
        &bad,
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n      - uses: actions/checkout@v4\n        run: echo both\n",
    )
    .unwrap();
    let out = tool("actionlint")
        .arg("-no-color")
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success(), "actionlint accepted {bad:?}");
    let out = tool("check-jsonschema")
        .args(["--builtin-schema", "vendor.github-workflows"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success(), "check-jsonschema accepted {bad:?}");
}

fn yaml(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap()
}

#[test]
fn actions_are_pinned_by_full_commit_sha_with_a_version_comment() {
    for rel in GITHUB.iter().chain(GITHUB_EXAMPLES) {
        for (n, line) in yaml(rel).lines().enumerate() {
            let Some(rest) = line
                .trim_start()
                .trim_start_matches("- ")
                .strip_prefix("uses: ")
            else {
                continue;
            };
            // Container images are named by tag in the users' examples (`ferry:1`, as the
            // README shows); the comment there tells them to pin a digest.
            if rest.starts_with("docker://") {
                continue;
            }
            let (action, comment) = rest.split_once(" # ").unwrap_or((rest, ""));
            let sha = action.rsplit_once('@').map_or("", |(_, r)| r);
            assert!(
                sha.len() == 40 && sha.chars().all(|c| c.is_ascii_hexdigit()),
                "{rel}:{}: `{action}` is not pinned by a full commit SHA",
                n + 1
            );
            assert!(
                comment.starts_with('v'),
                "{rel}:{}: `{action}` needs a `# vX.Y.Z` comment",
                n + 1
            );
        }
    }
}

/// The jobs of a workflow as `(name, text)`, split on the two-space job keys under `jobs:`.
fn jobs(text: &str) -> Vec<(String, String)> {
    let body = &text[text.find("\njobs:\n").expect("a jobs: map") + 7..];
    let mut out: Vec<(String, String)> = Vec::new();
    for line in body.lines() {
        let is_key = line.starts_with("  ") && !line.starts_with("   ") && line.ends_with(':');
        if is_key && !line.trim_start().starts_with('#') {
            out.push((line.trim().trim_end_matches(':').to_owned(), String::new()));
        } else if let Some((_, t)) = out.last_mut() {
            t.push_str(line);
            t.push('\n');
        }
    }
    out
}

#[test]
fn secrets_and_write_permissions_are_only_in_the_publish_job() {
    let release = yaml("ci/github/workflows/release.yml");
    assert!(
        release.contains("\npermissions: {}\n"),
        "release.yml must default to no permissions"
    );
    let jobs = jobs(&release);
    assert_eq!(
        jobs.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        ["build", "publish"]
    );
    for (name, text) in &jobs {
        let secrets = text.contains("secrets.");
        let writes = text.contains(": write");
        assert_eq!(
            secrets,
            name == "publish",
            "{name}: secrets belong in the publish job only"
        );
        assert_eq!(writes, name == "publish", "{name}: write permissions");
        assert!(text.contains("permissions:"), "{name}: no permissions:");
    }
    let ci = yaml("ci/github/workflows/ci.yml");
    assert!(!ci.contains("secrets."), "ci.yml uses no secrets");
    assert!(ci.contains("\npermissions:\n  contents: read\n"));
}

#[test]
fn release_matrix_covers_every_configured_target() {
    let ws: toml::Table =
        toml::from_str(&std::fs::read_to_string(root().join("dist-workspace.toml")).unwrap())
            .unwrap();
    let mut targets: Vec<&str> = ws["dist"]["targets"]
        .as_array()
        .unwrap()
        .iter()
        .chain(ws["ferry"]["extra-targets"].as_array().unwrap())
        .map(|t| t.as_str().unwrap())
        .collect();
    targets.sort();
    for rel in ["ci/github/workflows/release.yml", GITLAB] {
        let text = yaml(rel);
        let mut built: Vec<&str> = text
            .lines()
            .filter_map(|l| {
                l.trim()
                    .strip_prefix("targets: ")
                    .or(l.trim().strip_prefix("TARGETS: "))
            })
            // `${{ matrix.targets }}` is where the matrix values are used, not a value.
            .filter(|t| !t.contains("${{"))
            .flat_map(|t| t.split(','))
            .collect();
        built.sort();
        assert_eq!(built, targets, "{rel}: split builds vs dist-workspace.toml");
        assert!(text.contains("--merge"), "{rel}: no merge step");
    }
}

fn ci_install(into: &Path) -> Command {
    let mut c = xtask();
    c.arg("ci-install").arg("--into").arg(into);
    c
}

#[test]
fn ci_install_writes_copies_and_check_names_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(ci_install(dir.path()).arg("--check"));
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains(".github/workflows/ci.yml") && err.contains("run `cargo xtask ci-install"),
        "{err}"
    );

    run_ok(&mut ci_install(dir.path()));
    for (src, dest) in [
        ("ci/github/workflows/ci.yml", ".github/workflows/ci.yml"),
        (
            "ci/github/workflows/release.yml",
            ".github/workflows/release.yml",
        ),
        (GITLAB, ".gitlab-ci.yml"),
    ] {
        let installed = std::fs::read_to_string(dir.path().join(dest)).unwrap();
        assert!(installed.starts_with("# Installed by `cargo xtask ci-install` from"));
        assert!(
            installed.ends_with(&yaml(src)),
            "{dest} is not a copy of {src}"
        );
    }
    run_ok(ci_install(dir.path()).arg("--check"));

    // A hand edit of an installed copy is caught.
    let ci = dir.path().join(".gitlab-ci.yml");
    std::fs::write(&ci, "stages: [test]\n").unwrap();
    let out = run(ci_install(dir.path()).arg("--check"));
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(".gitlab-ci.yml out of date"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn ci_install_only_github() {
    let dir = tempfile::tempdir().unwrap();
    run_ok(ci_install(dir.path()).args(["--only", "github"]));
    assert!(dir.path().join(".github/workflows/release.yml").is_file());
    assert!(!dir.path().join(".gitlab-ci.yml").exists());
}
