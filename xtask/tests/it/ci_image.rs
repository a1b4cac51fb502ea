//! The complete image as a CI job image, run the way GitLab's runner runs a job: entrypoint
//! cleared (`image: {entrypoint: [""]}`), the runner's shell-detection script as `sh -c`, the
//! job script on stdin, the checkout mounted as the working directory, `CI` variables set.
//! The job deploys with `ferry up` (local provider: the job container is the host), and a
//! failing command must fail the job with its exit code. podman runs it with runc, with the
//! flags TESTBED.md gives for this sandbox.
//!
//! The image needs a static musl ferry: the same build (target, variant, profile) as the OCI
//! tests' musl dist, so with one CARGO_TARGET_DIR for both, whichever runs second finds it
//! built. With `FERRY_TEST_MUSL_PREBUILT=DIR` (a `--prebuilt` layout holding
//! `x86_64-unknown-linux-musl/complete/ferry` and, for completions, the same file under
//! `x86_64-unknown-linux-gnu/complete/`) it takes an existing binary instead.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::support::{require_tools, run_ok, xtask};

/// gitlab-runner's Bourne-shell detection (`shells/bash.go`, BashDetectShellScript): the first
/// shell found is exec'd and reads the job script from stdin.
const DETECT: &str = "if [ -x /usr/local/bin/bash ]; then\n\texec /usr/local/bin/bash \nelif [ -x /usr/bin/bash ]; then\n\texec /usr/bin/bash \nelif [ -x /bin/bash ]; then\n\texec /bin/bash \nelif [ -x /usr/local/bin/sh ]; then\n\texec /usr/local/bin/sh \nelif [ -x /usr/bin/sh ]; then\n\texec /usr/bin/sh \nelif [ -x /bin/sh ]; then\n\texec /bin/sh \nelif [ -x /busybox/sh ]; then\n\texec /busybox/sh \nelse\n\techo shell not found\n\texit 1\nfi\n\n";

const ENV_FILE: &str = r#"# A CI job's deploy: the local provider, so the job container itself is the host.
description = "ferry as a CI job image"

[provider]
type = "local"

[roles.app]
hosts = ["local"]

[[configure]]
type = "directory"
path = "/builds/ferry/out"

[[configure]]
type = "file"
path = "/builds/ferry/out/hello.txt"
content = "deployed from a CI job\n"
"#;

/// The image's index is tagged with the version inside the archive (containers/README.md).
fn version() -> String {
    crate::support::version_regex().replace('\\', "")
}

/// The complete image for linux/amd64 as an `oci-archive`, built by `dist` into `out`.
fn complete_image(out: &Path) -> PathBuf {
    let mut c = xtask();
    c.args([
        "dist",
        "--profile",
        "dist-test",
        "--targets",
        "x86_64-unknown-linux-musl",
        "--variants",
        "complete",
        "--no-sign",
        "--out-dir",
    ])
    .arg(out);
    if let Some(dir) = std::env::var_os("FERRY_TEST_MUSL_PREBUILT") {
        c.arg("--prebuilt").arg(dir);
    }
    run_ok(&mut c);
    out.join(format!("ferry-{}-linux-complete.oci.tar", version()))
}

/// `podman run` with storage in `store` and the flags this sandbox needs (TESTBED.md): vfs,
/// cgroupfs, runc, no network, rlimits within the sandbox's hard limits.
fn podman_run(store: &Path) -> Command {
    let mut c = Command::new("podman");
    c.arg("--root")
        .arg(store.join("root"))
        .arg("--runroot")
        .arg(store.join("run"))
        .args(["--storage-driver", "vfs", "--cgroup-manager", "cgroupfs"])
        .args(["--events-backend", "file", "--runtime", "runc", "--tmpdir"])
        .arg(store.join("tmp"))
        .args(["run", "--rm", "--network", "none"])
        .args([
            "--ulimit",
            "nofile=1024:1024",
            "--ulimit",
            "nproc=1024:1024",
        ]);
    c
}

/// Runs `script` as a GitLab job in `image`; returns (exit code, output). `--rm` removes the
/// container when it exits, so nothing outlives the test.
fn gitlab_job(image: &Path, store: &Path, project: &Path, script: &str) -> (i32, String) {
    let mut cmd = podman_run(store);
    cmd.args(["-i", "--entrypoint", ""])
        .arg("-v")
        .arg(format!("{}:/builds/ferry", project.display()))
        .args(["-w", "/builds/ferry"])
        .args([
            "-e",
            "CI=true",
            "-e",
            "GITLAB_CI=true",
            "-e",
            "CI_JOB_NAME=deploy",
        ])
        // The archive holds the index and each platform's manifest: name the index.
        .arg(format!("oci-archive:{}:{}", image.display(), version()))
        .args(["sh", "-c", DETECT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("running podman");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{text}");
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn complete_image_runs_a_gitlab_job_that_deploys_with_ferry_up() {
    if !require_tools(
        "complete_image_runs_a_gitlab_job_that_deploys_with_ferry_up",
        &["podman", "runc"],
    ) {
        return;
    }
    let dist = tempfile::tempdir().unwrap();
    let image = complete_image(dist.path());
    let store = tempfile::tempdir().unwrap();
    let project = tempfile::tempdir().unwrap();
    std::fs::write(project.path().join("production.toml"), ENV_FILE).unwrap();

    // What the runner generates, reduced to its shape: strict mode, then the job's lines.
    let script = "set -eo pipefail\n\
                  echo \"job $CI_JOB_NAME as $(id -u) in $(pwd)\"\n\
                  ferry --version\n\
                  ferry up production --config production.toml\n\
                  ferry status production --json > status.json\n\
                  ferry configure production\n";
    let (code, out) = gitlab_job(&image, store.path(), project.path(), script);
    assert_eq!(code, 0, "the job failed:\n{out}");
    assert!(out.contains("job deploy as 0 in /builds/ferry"), "{out}");
    assert!(
        out.contains("(complete, x86_64-unknown-linux-musl"),
        "{out}"
    );
    // The deploy wrote into the mounted checkout, and ferry's state is there for the next job.
    assert_eq!(
        std::fs::read_to_string(project.path().join("out/hello.txt")).unwrap(),
        "deployed from a CI job\n"
    );
    let status: serde_json::Value =
        serde_json::from_slice(&std::fs::read(project.path().join("status.json")).unwrap())
            .unwrap();
    assert_eq!(status["environment"], "production", "{status}");
    assert!(project.path().join(".ferry").is_dir());

    // A failing command fails the job with its exit code (2: invalid environment file).
    std::fs::write(
        project.path().join("broken.toml"),
        "[provider]\ntype = \"nope\"\n",
    )
    .unwrap();
    let (code, out) = gitlab_job(
        &image,
        store.path(),
        project.path(),
        "set -eo pipefail\nferry up broken --config broken.toml\necho not reached\n",
    );
    assert_eq!(code, 2, "{out}");
    assert!(!out.contains("not reached"), "{out}");
}
