//! OCI images from `dist`, checked with the tools users have: skopeo (layout, labels, both
//! platforms), umoci (unpack), the amd64 binary run natively and the arm64 one under
//! qemu-user, runc and podman running the images, and a second build giving the same digests.
//!
//! One real musl dist (both targets, both variants) is built per test run and shared
//! (`musl_dist()`); with a shared CARGO_TARGET_DIR (CI's cache) the builds are incremental.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use crate::support::{in_ci, require_tools, run_ok, xtask};

pub const TARGETS: &str = "x86_64-unknown-linux-musl,aarch64-unknown-linux-musl";
/// A fixed date, so `created` is known: 2023-11-14T22:13:20Z.
pub const EPOCH: &str = "1700000000";
pub const CREATED: &str = "2023-11-14T22:13:20Z";
const BUILD_TOOLS: &[&str] = &["cargo-zigbuild", "zig", "skopeo", "umoci"];

pub fn version() -> String {
    crate::support::version_regex().replace('\\', "")
}

/// `xtask` without any registry credentials or auth files from the developer's environment.
pub fn oci_xtask() -> Command {
    let mut c = xtask();
    for v in [
        "FERRY_OCI_USERNAME",
        "FERRY_OCI_PASSWORD",
        "FERRY_OCI_REPOSITORY",
        "REGISTRY_AUTH_FILE",
        "XDG_RUNTIME_DIR",
    ] {
        c.env_remove(v);
    }
    c.env(
        "DOCKER_CONFIG",
        std::env::temp_dir().join("ferry-no-docker-config"),
    );
    c
}

fn inputs_cached() -> bool {
    let out = oci_xtask().args(["oci", "fetch", "--check"]).output();
    matches!(out, Ok(o) if o.status.success())
}

/// True when the tools and the pinned inputs are there (see `require_tools`).
pub fn require_oci(test: &str, tools: &[&str]) -> bool {
    let all: Vec<&str> = BUILD_TOOLS.iter().chain(tools).copied().collect();
    if !require_tools(test, &all) {
        return false;
    }
    if !inputs_cached() {
        let msg = format!("{test}: the images' pinned packages are not cached; run `cargo xtask setup` (or `cargo xtask oci fetch`)");
        if in_ci() {
            panic!("{msg}");
        }
        eprintln!("\n!!!!!!!! SKIPPED {msg} (this test fails when CI is set)\n");
        return false;
    }
    true
}

pub fn dist_into(out: &Path) -> Output {
    run_ok(
        oci_xtask()
            .args([
                "dist",
                "--profile",
                "dist-test",
                "--targets",
                TARGETS,
                "--variants",
                "complete,minimal",
                "--no-sign",
                "--out-dir",
            ])
            .arg(out)
            .env("SOURCE_DATE_EPOCH", EPOCH),
    )
}

struct MuslDist {
    out: tempfile::TempDir,
    /// A copy of the Containerfile build context the oci stage wrote to the staging dir
    /// (copied at once: a later dist run replaces the staging dir).
    context: tempfile::TempDir,
}

fn shared_musl_dist() -> &'static MuslDist {
    static DIST: OnceLock<MuslDist> = OnceLock::new();
    DIST.get_or_init(|| {
        let out = tempfile::tempdir().unwrap();
        let started = std::time::Instant::now();
        dist_into(out.path());
        eprintln!("musl dist took {:.0}s", started.elapsed().as_secs_f64());
        let target_dir = crate::support::cargo_target_dir();
        let staged = target_dir
            .join("dist-staging")
            .join(version())
            .join("oci-context");
        let context = tempfile::tempdir().unwrap();
        tool(
            "cp",
            &[
                "-a",
                &format!("{}/.", staged.display()),
                context.path().to_str().unwrap(),
            ],
        );
        MuslDist { out, context }
    })
}

/// The shared musl dist: images for both variants and platforms.
pub fn musl_dist() -> &'static Path {
    shared_musl_dist().out.path()
}

pub fn layout(dir: &Path, variant: &str) -> PathBuf {
    dir.join(format!("ferry-{}-linux-{variant}-oci", version()))
}

pub fn tool(name: &str, args: &[&str]) -> Output {
    let out = Command::new(name)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {name}: {e}"));
    assert!(
        out.status.success(),
        "{name} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).expect("JSON output")
}

/// The index digest a layout names with the version (what a registry tag points to).
pub fn index_digest(layout: &Path) -> String {
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == version().as_str())
        .expect("the layout names the version")["digest"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn skopeo_sees_both_platforms_and_the_labels() {
    if !require_oci("skopeo_sees_both_platforms_and_the_labels", &[]) {
        return;
    }
    let dir = musl_dist();
    let v = version();
    for variant in ["complete", "minimal"] {
        let reference = format!("oci:{}:{v}", layout(dir, variant).display());
        let raw = json(&tool("skopeo", &["inspect", "--raw", &reference]));
        assert_eq!(raw["mediaType"], "application/vnd.oci.image.index.v1+json");
        let platforms: Vec<String> = raw["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                format!(
                    "{}/{}",
                    m["platform"]["os"].as_str().unwrap(),
                    m["platform"]["architecture"].as_str().unwrap()
                )
            })
            .collect();
        assert_eq!(platforms, ["linux/amd64", "linux/arm64"], "{variant}");
        for arch in ["amd64", "arm64"] {
            let info = json(&tool(
                "skopeo",
                &["inspect", "--override-arch", arch, &reference],
            ));
            assert_eq!(info["Architecture"], arch);
            assert_eq!(info["Os"], "linux");
            assert_eq!(info["Created"], CREATED);
            let labels = &info["Labels"];
            for (k, want) in [
                ("version", v.as_str()),
                ("created", CREATED),
                ("licenses", "MIT"),
                ("source", "https://github.com/ferry-deploy/ferry"),
            ] {
                assert_eq!(labels[format!("org.opencontainers.image.{k}")], want, "{k}");
            }
            for k in ["revision", "title", "description"] {
                assert!(
                    labels[format!("org.opencontainers.image.{k}")]
                        .as_str()
                        .is_some_and(|s| !s.is_empty()),
                    "{variant}/{arch}: label {k} missing: {labels}"
                );
            }
            let layers = info["Layers"].as_array().unwrap().len();
            assert_eq!(
                layers,
                if variant == "complete" { 3 } else { 2 },
                "{variant}"
            );
        }
        // The index carries the same annotations, so `skopeo inspect --raw` of a tag shows them.
        assert_eq!(
            raw["annotations"]["org.opencontainers.image.created"],
            CREATED
        );
        let config = json(&tool("skopeo", &["inspect", "--config", &reference]));
        assert_eq!(config["config"]["Entrypoint"][0], "/usr/local/bin/ferry");
        let user = config["config"]["User"].as_str().unwrap();
        assert_eq!(
            user,
            if variant == "complete" {
                "0:0"
            } else {
                "65532:65532"
            }
        );
    }
}

#[test]
fn oci_archive_is_the_layout_and_is_checksummed() {
    if !require_oci(
        "oci_archive_is_the_layout_and_is_checksummed",
        &["sha256sum"],
    ) {
        return;
    }
    let dir = musl_dist();
    let v = version();
    let sums = std::fs::read_to_string(dir.join("SHA256SUMS")).unwrap();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("dist-manifest.json")).unwrap()).unwrap();
    for variant in ["complete", "minimal"] {
        let name = format!("ferry-{v}-linux-{variant}.oci.tar");
        assert!(
            sums.contains(&format!("  {name}\n")),
            "{name} not in SHA256SUMS:\n{sums}"
        );
        assert_eq!(manifest["artifacts"][&name]["kind"], "oci-image");
        let layout_name = format!("ferry-{v}-linux-{variant}-oci");
        let digest = index_digest(&layout(dir, variant));
        assert_eq!(
            manifest["artifacts"][&layout_name]["checksums"]["sha256"],
            digest.trim_start_matches("sha256:")
        );
        let archive = format!("oci-archive:{}:{v}", dir.join(&name).display());
        let info = json(&tool("skopeo", &["inspect", &archive]));
        assert_eq!(
            info["Digest"],
            digest.as_str(),
            "{variant}: archive and layout differ"
        );
    }
    let check = Command::new("sha256sum")
        .args(["-c", "--strict", "SHA256SUMS"])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
}

/// `ferry --version --json` of a binary, run by `runner` (empty: natively).
fn version_json(runner: &[&str], binary: &Path) -> serde_json::Value {
    let mut cmd = match runner.split_first() {
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(binary);
            c
        }
        None => Command::new(binary),
    };
    let out = cmd.args(["--version", "--json"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "--version --json printed: {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn unpack(layout: &Path, platform: &str, bundle: &Path) {
    let image = format!("{}:linux-{platform}", layout.display());
    tool(
        "umoci",
        &["unpack", "--image", &image, bundle.to_str().unwrap()],
    );
}

#[test]
fn umoci_unpacked_binaries_run_on_both_platforms() {
    if !require_oci(
        "umoci_unpacked_binaries_run_on_both_platforms",
        &["qemu-aarch64-static"],
    ) {
        return;
    }
    let dir = musl_dist();
    let tmp = tempfile::tempdir().unwrap();
    for variant in ["complete", "minimal"] {
        for (platform, triple, runner) in [
            ("amd64", "x86_64-unknown-linux-musl", &[][..]),
            (
                "arm64",
                "aarch64-unknown-linux-musl",
                &["qemu-aarch64-static"][..],
            ),
        ] {
            let bundle = tmp.path().join(format!("{variant}-{platform}"));
            unpack(&layout(dir, variant), platform, &bundle);
            let rootfs = bundle.join("rootfs");
            let v = version_json(runner, &rootfs.join("usr/local/bin/ferry"));
            assert_eq!(v["variant"], variant, "{v}");
            assert_eq!(v["target"], triple, "{v}");
            let passwd = std::fs::read_to_string(rootfs.join("etc/passwd")).unwrap();
            assert!(passwd.contains(":65532:65532:"), "{passwd}");
            assert!(rootfs.join("etc/ssl/certs/ca-certificates.crt").is_file());
            let has_shell = rootfs.join("bin/sh").symlink_metadata().is_ok();
            assert_eq!(has_shell, variant == "complete", "{variant}: /bin/sh");
            if variant == "complete" {
                assert!(rootfs.join("usr/share/man/man1/ferry.1").is_file());
                assert!(rootfs
                    .join("usr/share/bash-completion/completions/ferry")
                    .is_file());
            }
        }
    }
}

/// Unpacks the amd64 image and runs `args` in it with runc; returns the output and exit code.
fn runc(layout: &Path, args: &[&str], bundle: &Path) -> (String, i32, serde_json::Value) {
    unpack(layout, "amd64", bundle);
    let config_path = bundle.join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&config_path).unwrap()).unwrap();
    // runc wants a tty unless told otherwise (TESTBED.md).
    config["process"]["terminal"] = false.into();
    if !args.is_empty() {
        config["process"]["args"] = args.iter().map(|a| serde_json::Value::from(*a)).collect();
    }
    std::fs::write(&config_path, serde_json::to_vec(&config).unwrap()).unwrap();
    let id = format!(
        "ferry-oci-test-{}-{}",
        std::process::id(),
        bundle.file_name().unwrap().to_string_lossy()
    );
    let out = Command::new("runc")
        .args(["run", "--bundle"])
        .arg(bundle)
        .arg(&id)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (text, out.status.code().unwrap_or(-1), config)
}

#[test]
fn runc_runs_sh_in_complete_and_ferry_in_minimal() {
    if !require_oci("runc_runs_sh_in_complete_and_ferry_in_minimal", &["runc"]) {
        return;
    }
    let dir = musl_dist();
    let tmp = tempfile::tempdir().unwrap();
    let (out, code, _) = runc(
        &layout(dir, "complete"),
        &[
            "/bin/sh",
            "-c",
            "ferry --version && id -u && ls /etc/ssl/certs && exit 7",
        ],
        &tmp.path().join("complete"),
    );
    assert_eq!(code, 7, "the script's exit code must propagate:\n{out}");
    assert!(
        out.contains("(complete, x86_64-unknown-linux-musl"),
        "{out}"
    );
    assert!(out.contains("ca-certificates.crt"), "{out}");
    let (out, code, config) = runc(&layout(dir, "minimal"), &[], &tmp.path().join("minimal"));
    // The entrypoint alone (no command) prints help and exits non-zero or zero depending on the
    // CLI; what matters is that ferry ran as the non-root user.
    assert!(
        out.contains("ferry") || out.contains("Usage"),
        "code {code}:\n{out}"
    );
    assert_eq!(config["process"]["user"]["uid"], 65532);
    let (out, code, _) = runc(
        &layout(dir, "minimal"),
        &["/usr/local/bin/ferry", "--version"],
        &tmp.path().join("minimal-version"),
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("(minimal, x86_64-unknown-linux-musl"), "{out}");
}

/// podman with storage in `dir` and the flags this kind of sandbox needs (TESTBED.md).
pub fn podman(dir: &Path) -> Command {
    let mut c = Command::new("podman");
    c.arg("--root")
        .arg(dir.join("root"))
        .arg("--runroot")
        .arg(dir.join("run"))
        .args([
            "--storage-driver",
            "vfs",
            "--cgroup-manager",
            "cgroupfs",
            "--events-backend",
            "file",
            "--runtime",
            "runc",
            "--tmpdir",
        ])
        .arg(dir.join("tmp"));
    c
}

pub const PODMAN_RUN: &[&str] = &[
    "run",
    "--rm",
    "--network",
    "none",
    "--ulimit",
    "nofile=1024:1024",
    "--ulimit",
    "nproc=1024:1024",
];

#[test]
fn podman_runs_both_images_from_the_archive() {
    if !require_oci(
        "podman_runs_both_images_from_the_archive",
        &["podman", "runc"],
    ) {
        return;
    }
    let dir = musl_dist();
    let store = tempfile::tempdir().unwrap();
    let v = version();
    for variant in ["complete", "minimal"] {
        let archive = format!(
            "oci-archive:{}:{v}",
            dir.join(format!("ferry-{v}-linux-{variant}.oci.tar"))
                .display()
        );
        let out = run_ok(
            podman(store.path())
                .args(PODMAN_RUN)
                .arg(&archive)
                .arg("--version"),
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains(&format!("ferry {v} ({variant}, x86_64-unknown-linux-musl")),
            "{text}"
        );
    }
    // A CI system runs `sh -c` with the entrypoint cleared. (From the archive: podman names
    // an `oci:` layout after its path, and refuses a temporary dir's upper-case letters.)
    let archive = format!(
        "oci-archive:{}:{v}",
        dir.join(format!("ferry-{v}-linux-complete.oci.tar"))
            .display()
    );
    let out = podman(store.path())
        .args(PODMAN_RUN)
        .args(["--entrypoint", "/bin/sh"])
        .arg(&archive)
        .args(["-c", "echo in-ci; exit 3"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("in-ci"));
}

#[test]
fn same_commit_gives_the_same_digests() {
    if !require_oci("same_commit_gives_the_same_digests", &[]) {
        return;
    }
    let first = musl_dist();
    let second = tempfile::tempdir().unwrap();
    dist_into(second.path());
    let v = version();
    for variant in ["complete", "minimal"] {
        assert_eq!(
            index_digest(&layout(first, variant)),
            index_digest(&layout(second.path(), variant)),
            "{variant}: index digests differ between two builds of one commit"
        );
        let name = format!("ferry-{v}-linux-{variant}.oci.tar");
        assert_eq!(
            std::fs::read(first.join(&name)).unwrap(),
            std::fs::read(second.path().join(&name)).unwrap(),
            "{name} differs"
        );
    }
}

/// Compressed size of one platform's image: config + layers, as a registry stores it.
fn image_size(layout: &Path, platform: &str) -> u64 {
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let manifest_digest = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| {
            m["annotations"]["org.opencontainers.image.ref.name"] == format!("linux-{platform}")
        })
        .unwrap()["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_owned();
    let m: serde_json::Value = serde_json::from_slice(
        &std::fs::read(layout.join("blobs/sha256").join(manifest_digest)).unwrap(),
    )
    .unwrap();
    std::iter::once(&m["config"])
        .chain(m["layers"].as_array().unwrap())
        .map(|d| d["size"].as_u64().unwrap())
        .sum()
}

#[test]
fn minimal_image_is_within_a_mib_of_the_compressed_binary() {
    if !require_oci(
        "minimal_image_is_within_a_mib_of_the_compressed_binary",
        &[],
    ) {
        return;
    }
    let dir = musl_dist();
    let v = version();
    for platform in ["amd64", "arm64"] {
        let archive = dir.join(format!("ferry-{v}-linux-{platform}-minimal.tar.gz"));
        let binary_gz = std::fs::metadata(&archive).unwrap().len();
        let minimal = image_size(&layout(dir, "minimal"), platform);
        let complete = image_size(&layout(dir, "complete"), platform);
        eprintln!(
            "linux/{platform}: minimal image {minimal} bytes, complete image {complete} bytes, minimal .tar.gz {binary_gz} bytes"
        );
        assert!(
            minimal < binary_gz + (1 << 20),
            "{platform}: minimal image {minimal} is more than 1 MiB over the archive {binary_gz}"
        );
    }
}

/// Every entry of a root filesystem: path, kind, mode and symlink target, sorted.
fn listing(rootfs: &Path) -> Vec<String> {
    use std::os::unix::fs::PermissionsExt;
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            let meta = p.symlink_metadata().unwrap();
            let rel = p.strip_prefix(base).unwrap().display().to_string();
            if meta.file_type().is_symlink() {
                out.push(format!(
                    "{rel} -> {}",
                    std::fs::read_link(&p).unwrap().display()
                ));
            } else if meta.is_dir() {
                out.push(format!("{rel}/ {:o}", meta.permissions().mode() & 0o7777));
                walk(base, &p, out);
            } else {
                out.push(format!("{rel} {:o}", meta.permissions().mode() & 0o7777));
            }
        }
    }
    let mut out = Vec::new();
    walk(rootfs, rootfs, &mut out);
    out.sort();
    out
}

#[test]
fn containerfile_builds_the_same_filesystem() {
    if !require_oci(
        "containerfile_builds_the_same_filesystem",
        &["podman", "runc"],
    ) {
        return;
    }
    let dist = shared_musl_dist();
    let context = dist.context.path().join("linux-amd64");
    let store = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let containerfile = crate::support::root().join("containers/Containerfile");
    for variant in ["minimal", "complete"] {
        let tag = format!("localhost/ferry-containerfile-test:{variant}");
        run_ok(
            podman(store.path())
                .args([
                    "build",
                    "--isolation",
                    "chroot",
                    "--target",
                    variant,
                    "-t",
                    &tag,
                    "-f",
                ])
                .arg(&containerfile)
                .arg(&context),
        );
        let exported = tmp.path().join(format!("podman-{variant}"));
        run_ok(
            podman(store.path())
                .args(["push", &tag])
                .arg(format!("oci:{}:x", exported.display())),
        );
        let theirs = tmp.path().join(format!("theirs-{variant}"));
        tool(
            "umoci",
            &[
                "unpack",
                "--image",
                &format!("{}:x", exported.display()),
                theirs.to_str().unwrap(),
            ],
        );
        let ours = tmp.path().join(format!("ours-{variant}"));
        unpack(&layout(dist.out.path(), variant), "amd64", &ours);
        let (mut theirs, ours) = (
            listing(&theirs.join("rootfs")),
            listing(&ours.join("rootfs")),
        );
        // A RUN step leaves its mount points behind, empty: /dev, /proc, /sys, /run and the
        // files the engine bind-mounts into /etc. They are not part of the image's content.
        theirs.retain(|l| {
            let path = l.split(' ').next().unwrap_or("");
            ![
                "dev/",
                "proc/",
                "sys/",
                "run/",
                "etc/hostname",
                "etc/hosts",
                "etc/resolv.conf",
            ]
            .contains(&path)
        });
        let only_theirs: Vec<_> = theirs.iter().filter(|l| !ours.contains(l)).collect();
        let only_ours: Vec<_> = ours.iter().filter(|l| !theirs.contains(l)).collect();
        assert!(
            only_theirs.is_empty() && only_ours.is_empty(),
            "{variant}: Containerfile and pipeline differ\nonly Containerfile: {only_theirs:#?}\nonly pipeline: {only_ours:#?}"
        );
        eprintln!("{variant}: {} entries identical", ours.len());
    }
}

#[test]
fn verify_checks_both_images_and_names_a_corrupt_blob() {
    if !require_oci(
        "verify_checks_both_images_and_names_a_corrupt_blob",
        &["sha256sum", "minisign"],
    ) {
        return;
    }
    let dir = musl_dist();
    let v = version();
    let verify = |d: &Path| {
        oci_xtask()
            .args(["verify", "--allow-unsigned"])
            .arg(d)
            .output()
            .unwrap()
    };
    let out = verify(dir);
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{log}");
    for variant in ["complete", "minimal"] {
        let line = log
            .lines()
            .find(|l| {
                l.contains("image") && l.contains(&format!("ferry-{v}-linux-{variant}.oci.tar"))
            })
            .unwrap_or_else(|| panic!("no image check for {variant}:\n{log}"));
        assert!(
            line.starts_with("ok") && line.contains("linux/amd64") && line.contains("linux/arm64"),
            "{line}"
        );
    }
    // One byte of one blob changed inside the minimal image's archive.
    let tampered = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), tampered.path().join(e.file_name())).unwrap();
        }
    }
    let name = format!("ferry-{v}-linux-minimal.oci.tar");
    let original = std::fs::read(dir.join(&name)).unwrap();
    let mut rebuilt = tar::Builder::new(Vec::new());
    let mut archive = tar::Archive::new(original.as_slice());
    let mut changed = None;
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let mut header = entry.header().clone();
        let path = entry.path().unwrap().into_owned();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut data).unwrap();
        if changed.is_none() && path.starts_with("blobs/sha256") && data.len() > 100 {
            data[50] ^= 1;
            changed = Some(path.file_name().unwrap().to_string_lossy().into_owned());
        }
        rebuilt
            .append_data(&mut header, &path, data.as_slice())
            .unwrap();
    }
    std::fs::write(tampered.path().join(&name), rebuilt.into_inner().unwrap()).unwrap();
    let changed = changed.expect("the image has a blob");
    let out = verify(tampered.path());
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success());
    assert!(
        log.lines().any(|l| l.starts_with("FAIL")
            && l.contains("image")
            && l.contains(&name)
            && l.contains(&changed)),
        "{log}"
    );
}

#[test]
fn image_configs_are_snapshotted() {
    if !require_oci("image_configs_are_snapshotted", &[]) {
        return;
    }
    let dir = musl_dist();
    for variant in ["complete", "minimal"] {
        let l = layout(dir, variant);
        let index: serde_json::Value =
            serde_json::from_slice(&std::fs::read(l.join("index.json")).unwrap()).unwrap();
        let manifest_digest = index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == "linux-amd64")
            .unwrap()["digest"]
            .as_str()
            .unwrap()
            .trim_start_matches("sha256:")
            .to_owned();
        let blob = |hex: &str| std::fs::read(l.join("blobs/sha256").join(hex)).unwrap();
        let manifest: serde_json::Value = serde_json::from_slice(&blob(&manifest_digest)).unwrap();
        let config_hex = manifest["config"]["digest"]
            .as_str()
            .unwrap()
            .trim_start_matches("sha256:")
            .to_owned();
        let config: serde_json::Value = serde_json::from_slice(&blob(&config_hex)).unwrap();
        let text = serde_json::to_string_pretty(&config).unwrap();
        // Layer digests follow the binary, which embeds the commit; so does the revision.
        insta::with_settings!({filters => vec![
            (r"sha256:[0-9a-f]{64}", "sha256:[digest]"),
            (r#""org.opencontainers.image.revision": "[0-9a-f]+""#, r#""org.opencontainers.image.revision": "[commit]""#),
            (crate::support::version_regex().as_str(), "[version]"),
        ]}, {
            insta::assert_snapshot!(format!("image_config_{variant}"), text);
        });
    }
}
