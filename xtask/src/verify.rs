//! `cargo xtask verify <dir>`: checks a dist directory the way users' tools will.
//!
//! Checksums with the real `sha256sum -c`, signatures with the real `minisign -V`, archive
//! layout and modes by reading the archives back, and each binary's `--version --json`, run
//! natively, under qemu-user (aarch64 Linux) or wine (Windows) when present. Binaries that can't
//! run here get their object headers checked (Mach-O, PE, FreeBSD ELF) with the `object` crate.
//! Every problem is collected and reported at once, each naming its file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::Serialize;

use crate::artifact::archive::{self, Listed};
use crate::config::{ArchiveFormat, DistWorkspace, Generated};
use crate::plan::{CHECKSUMS_FILE, MANIFEST_FILE};
use crate::stage::generate::{COMPLETIONS, MAN_PAGE};
use crate::stage::manifest::{DistManifest, ManifestArtifact};
use crate::targets::{Os, TargetInfo};
use crate::tools;

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The dist directory (holding dist-manifest.json).
    dir: PathBuf,
    /// Public key to verify signatures with. Default: `ferry.signing-public-key`.
    #[arg(long, env = "FERRY_MINISIGN_PUBLIC_KEY")]
    public_key: Option<PathBuf>,
    /// Accept a release without signatures (from `dist --no-sign`).
    #[arg(long)]
    allow_unsigned: bool,
    /// Print the checks as JSON on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
struct Check {
    file: String,
    check: &'static str,
    ok: bool,
    detail: String,
}

#[derive(Default)]
struct Report(Vec<Check>);

impl Report {
    fn push(&mut self, file: &str, check: &'static str, ok: bool, detail: impl Into<String>) {
        self.0.push(Check {
            file: file.to_owned(),
            check,
            ok,
            detail: detail.into(),
        });
    }
    fn pass(&mut self, file: &str, check: &'static str, detail: impl Into<String>) {
        self.push(file, check, true, detail);
    }
    fn fail(&mut self, file: &str, check: &'static str, detail: impl Into<String>) {
        self.push(file, check, false, detail);
    }
}

pub fn run(args: &VerifyArgs) -> anyhow::Result<()> {
    let root = crate::dist::project_root();
    let ws = DistWorkspace::load(&root)?;
    let dir = std::path::absolute(&args.dir)?;
    let public_key = root.join(
        args.public_key
            .clone()
            .unwrap_or_else(|| ws.ferry.signing_public_key.clone()),
    );
    let manifest_path = dir.join(MANIFEST_FILE);
    let manifest: DistManifest = serde_json::from_str(
        &std::fs::read_to_string(&manifest_path)
            .with_context(|| format!("reading {}", manifest_path.display()))?,
    )
    .with_context(|| format!("parsing {}", manifest_path.display()))?;

    let missing: Vec<&str> = ["sha256sum", "minisign"]
        .into_iter()
        .filter(|t| !tools::exists(t))
        .collect();
    if !missing.is_empty() {
        bail!(
            "verify needs {}; run `cargo xtask setup` (or apt-get install coreutils minisign)",
            missing.join(" and ")
        );
    }

    let mut report = Report::default();
    check_files(&dir, &manifest, &mut report);
    check_sha256sum(&dir, &manifest, &mut report)?;
    check_signatures(
        &dir,
        &manifest,
        &public_key,
        args.allow_unsigned,
        &mut report,
    )?;
    let binaries = check_archives(&dir, &manifest, &ws, &mut report)?;
    check_images(&dir, &manifest, &binaries, &mut report);

    let failures: Vec<&Check> = report.0.iter().filter(|c| !c.ok).collect();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report.0)?);
    } else {
        for c in &report.0 {
            eprintln!(
                "{} {:<10} {}: {}",
                if c.ok { "ok  " } else { "FAIL" },
                c.check,
                c.file,
                c.detail
            );
        }
    }
    if !failures.is_empty() {
        let list: Vec<String> = failures
            .iter()
            .map(|c| format!("  {} ({}): {}", c.file, c.check, c.detail))
            .collect();
        bail!(
            "verify found {} problem(s) in {}:\n{}",
            failures.len(),
            dir.display(),
            list.join("\n")
        );
    }
    eprintln!("verified {} checks in {}", report.0.len(), dir.display());
    Ok(())
}

/// Every manifest entry exists with the size and SHA-256 the manifest records.
fn check_files(dir: &Path, m: &DistManifest, r: &mut Report) {
    for (name, a) in &m.artifacts {
        if a.kind == "oci-layout" {
            check_layout_file(dir, name, a, r);
            continue;
        }
        match crate::context::hash_file(&dir.join(name)) {
            Ok((sha, size)) if sha == a.ferry.sha256 && size == a.ferry.size => {
                r.pass(name, "manifest", "size and sha256 match")
            }
            Ok((sha, size)) => r.fail(
                name,
                "manifest",
                format!(
                    "manifest says {} bytes sha256 {}, file has {size} bytes sha256 {sha}",
                    a.ferry.size, a.ferry.sha256
                ),
            ),
            Err(e) => r.fail(name, "manifest", format!("{e:#}")),
        }
    }
}

/// An OCI layout directory: its manifest `sha256` is the digest of the image index it tags.
fn check_layout_file(dir: &Path, name: &str, a: &ManifestArtifact, r: &mut Report) {
    let index = dir.join(name).join("index.json");
    let digests: Vec<String> = std::fs::read(&index)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .map(|v| {
            v["manifests"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|d| d["digest"].as_str())
                .map(|d| d.trim_start_matches("sha256:").to_owned())
                .collect()
        })
        .unwrap_or_default();
    if digests.contains(&a.ferry.sha256) {
        r.pass(
            name,
            "manifest",
            "layout tags the image index the manifest names",
        );
    } else {
        r.fail(
            name,
            "manifest",
            format!(
                "{} does not tag image index sha256:{}",
                index.display(),
                a.ferry.sha256
            ),
        );
    }
}

fn shipped(m: &DistManifest) -> impl Iterator<Item = (&String, &ManifestArtifact)> {
    m.artifacts.iter().filter(|(_, a)| {
        // Packages and installers are shipped too: in SHA256SUMS and signed.
        a.kind == "executable-zip"
            || a.kind == "oci-image"
            || crate::stage::manifest::PACKAGE_KINDS
                .iter()
                .any(|(_, k)| *k == a.kind)
    })
}

fn check_sha256sum(dir: &Path, m: &DistManifest, r: &mut Report) -> anyhow::Result<()> {
    let mut lists: Vec<String> = vec![CHECKSUMS_FILE.to_owned()];
    lists.extend(
        m.artifacts
            .values()
            .filter(|a| a.kind == "checksum")
            .map(|a| a.name.clone()),
    );
    for list in lists {
        let out = duct::cmd("sha256sum", ["-c", "--strict", list.as_str()])
            .dir(dir)
            .stderr_to_stdout()
            .stdout_capture()
            .unchecked()
            .run()
            .context("running sha256sum")?;
        let text = String::from_utf8_lossy(&out.stdout);
        if out.status.success() {
            r.pass(&list, "sha256sum", "sha256sum -c: OK");
        } else {
            // sha256sum prints `<file>: FAILED`; name the artifact itself, not only the list.
            for line in text.lines().filter(|l| !l.ends_with(": OK")) {
                let file = line.split(':').next().unwrap_or(&list);
                r.fail(file, "sha256sum", format!("sha256sum -c {list}: {line}"));
            }
            if text.lines().all(|l| l.ends_with(": OK")) {
                r.fail(
                    &list,
                    "sha256sum",
                    format!("sha256sum -c failed ({})", out.status),
                );
            }
        }
    }
    // SHA256SUMS must cover everything shipped, or a missing line would go unnoticed.
    let sums = std::fs::read_to_string(dir.join(CHECKSUMS_FILE)).unwrap_or_default();
    for (name, _) in shipped(m) {
        if !sums.lines().any(|l| l.ends_with(&format!("  {name}"))) {
            r.fail(name, "sha256sum", format!("not listed in {CHECKSUMS_FILE}"));
        }
    }
    Ok(())
}

fn check_signatures(
    dir: &Path,
    m: &DistManifest,
    pk: &Path,
    allow_unsigned: bool,
    r: &mut Report,
) -> anyhow::Result<()> {
    let mut signed: Vec<&str> = shipped(m).map(|(n, _)| n.as_str()).collect();
    signed.push(CHECKSUMS_FILE);
    for name in signed {
        let sig = format!("{name}.minisig");
        if !dir.join(&sig).exists() {
            if allow_unsigned {
                r.pass(name, "minisign", "unsigned (--allow-unsigned)");
            } else {
                r.fail(
                    &sig,
                    "minisign",
                    "signature missing (pass --allow-unsigned for a --no-sign build)",
                );
            }
            continue;
        }
        let out = duct::cmd(
            "minisign",
            ["-V", "-q", "-p"]
                .map(std::ffi::OsString::from)
                .into_iter()
                .chain([pk.as_os_str().to_owned(), "-m".into(), name.into()]),
        )
        .dir(dir)
        .stderr_to_stdout()
        .stdout_capture()
        .unchecked()
        .run()
        .context("running minisign")?;
        if out.status.success() {
            r.pass(&sig, "minisign", format!("minisign -V: {name} verified"));
        } else {
            r.fail(
                &sig,
                "minisign",
                format!(
                    "minisign -V -m {name}: {}",
                    String::from_utf8_lossy(&out.stdout).trim()
                ),
            );
        }
    }
    Ok(())
}

fn format_of(a: &ManifestArtifact) -> Option<ArchiveFormat> {
    match a.ferry.format.as_deref()? {
        "tar.gz" => Some(ArchiveFormat::TarGz),
        "tar.xz" => Some(ArchiveFormat::TarXz),
        "zip" => Some(ArchiveFormat::Zip),
        _ => None,
    }
}

/// The binary of each (target, variant), with the archive it came from.
type Binaries = BTreeMap<(String, String), (String, Vec<u8>)>;

fn check_archives(
    dir: &Path,
    m: &DistManifest,
    ws: &DistWorkspace,
    r: &mut Report,
) -> anyhow::Result<Binaries> {
    let epoch = m.ferry.source_date_epoch;
    let version = m
        .releases
        .first()
        .map(|rel| rel.app_version.clone())
        .unwrap_or_default();
    // One binary per (target, variant): every format of it must hold the same bytes.
    let mut binaries: Binaries = BTreeMap::new();
    // Packages and installers are shipped but are not archives; their own tools check them.
    for (name, a) in shipped(m).filter(|(_, a)| a.kind == "executable-zip") {
        let (Some(format), Some(target), Some(variant)) = (
            format_of(a),
            a.target_triples.first(),
            a.ferry.variant.as_ref(),
        ) else {
            r.fail(
                name,
                "layout",
                "manifest entry lacks format, target or variant",
            );
            continue;
        };
        let Some(info) = TargetInfo::lookup(target) else {
            r.fail(name, "layout", format!("unknown target {target}"));
            continue;
        };
        let entries = match archive::read(&dir.join(name), format) {
            Ok(e) => e,
            Err(e) => {
                r.fail(name, "layout", format!("{e:#}"));
                continue;
            }
        };
        let root = name
            .trim_end_matches(&format!(".{}", format.extension()))
            .to_owned();
        let exe = format!("{}{}", ws.ferry.binary, info.exe_suffix());
        let problems = layout_problems(&entries, &root, &exe, variant, ws, format, epoch);
        if problems.is_empty() {
            r.pass(
                name,
                "layout",
                format!(
                    "{} entries, modes, owners and mtimes as expected",
                    entries.len()
                ),
            );
        } else {
            for p in problems {
                r.fail(name, "layout", p);
            }
        }
        let Some(bin) = entries.iter().find(|e| e.path == format!("{root}/{exe}")) else {
            continue;
        };
        match binaries.get(&(target.clone(), variant.clone())) {
            Some((other, bytes)) if *bytes != bin.data => {
                r.fail(
                    name,
                    "binary",
                    format!("its {exe} differs from the one in {other}"),
                );
            }
            Some(_) => {}
            None => {
                binaries.insert(
                    (target.clone(), variant.clone()),
                    (name.clone(), bin.data.clone()),
                );
            }
        }
    }
    let scratch = std::env::temp_dir().join(format!("ferry-verify-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    for ((target, variant), (archive_name, bytes)) in &binaries {
        let info = TargetInfo::lookup(target).expect("checked above");
        check_headers(r, archive_name, info, bytes);
        let path = scratch.join(format!("{target}-{variant}{}", info.exe_suffix()));
        std::fs::write(&path, bytes)?;
        #[cfg(unix)]
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
        check_version(r, archive_name, info, variant, &version, &path);
    }
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(binaries)
}

/// Each image (oci-archive) against the release's musl archives of its variant.
fn check_images(dir: &Path, m: &DistManifest, binaries: &Binaries, r: &mut Report) {
    let version = m
        .releases
        .first()
        .map(|rel| rel.app_version.clone())
        .unwrap_or_default();
    for (name, a) in m.artifacts.iter().filter(|(_, a)| a.kind == "oci-image") {
        let Some(variant) = a.ferry.variant.as_deref() else {
            r.fail(name, "image", "manifest entry lacks the variant");
            continue;
        };
        let binary_of = |arch: &str| {
            let triple = match arch {
                "amd64" => "x86_64-unknown-linux-musl",
                "arm64" => "aarch64-unknown-linux-musl",
                _ => return None,
            };
            binaries
                .get(&(triple.to_owned(), variant.to_owned()))
                .map(|(_, bytes)| bytes.clone())
        };
        let checked = std::fs::read(dir.join(name))
            .map_err(anyhow::Error::from)
            .and_then(|bytes| crate::oci::verify::check_archive(&bytes, &version, &binary_of));
        match checked {
            Ok(c) => r.pass(
                name,
                "image",
                format!(
                    "index {} ({}): blobs match their digests, version label {version}, binaries identical to the archives'",
                    c.index_digest,
                    c.platforms.join(", ")
                ),
            ),
            Err(e) => r.fail(name, "image", format!("{e:#}")),
        }
    }
}

fn layout_problems(
    entries: &[Listed],
    root: &str,
    exe: &str,
    variant: &str,
    ws: &DistWorkspace,
    format: ArchiveFormat,
    epoch: u64,
) -> Vec<String> {
    let mut p = Vec::new();
    let paths: Vec<&str> = entries.iter().map(|e| e.path.as_str()).collect();
    let mut sorted = paths.clone();
    sorted.sort_unstable();
    if paths != sorted {
        p.push("entries are not sorted".to_owned());
    }
    let mut expected = vec![format!("{root}/{exe}")];
    if let Some(v) = ws.ferry.variants.get(variant) {
        expected.extend(
            v.include
                .iter()
                .map(|i| format!("{root}/{}", i.to_string_lossy())),
        );
        if v.generated.contains(&Generated::Completions) {
            expected.extend(
                COMPLETIONS
                    .iter()
                    .map(|(_, f)| format!("{root}/completions/{f}")),
            );
        }
        if v.generated.contains(&Generated::Man) {
            expected.push(format!("{root}/man/{MAN_PAGE}"));
        }
    } else {
        p.push(format!("variant {variant} is not in dist-workspace.toml"));
    }
    for e in &expected {
        if !paths.contains(&e.as_str()) {
            p.push(format!("missing {e}"));
        }
    }
    for e in entries {
        if e.path != root && !e.path.starts_with(&format!("{root}/")) {
            p.push(format!(
                "{} is outside the top-level directory {root}/",
                e.path
            ));
        }
        let want = if e.is_dir || e.path == format!("{root}/{exe}") {
            0o755
        } else {
            0o644
        };
        if e.mode & 0o7777 != want {
            p.push(format!(
                "{} has mode {:o}, expected {want:o}",
                e.path,
                e.mode & 0o7777
            ));
        }
        if e.uid != 0 || e.gid != 0 || !e.owner_names.0.is_empty() || !e.owner_names.1.is_empty() {
            p.push(format!(
                "{} is owned by {}:{} ({:?}), expected 0:0 with empty names",
                e.path, e.uid, e.gid, e.owner_names
            ));
        }
        // Zip stores local time in 2-second steps.
        let tolerance = if format == ArchiveFormat::Zip { 1 } else { 0 };
        if e.mtime.abs_diff(epoch) > tolerance {
            p.push(format!(
                "{} has mtime {}, expected SOURCE_DATE_EPOCH {epoch}",
                e.path, e.mtime
            ));
        }
        if format == ArchiveFormat::Zip
            && !e.is_dir
            && e.path != format!("{root}/{exe}")
            && archive::is_text(&e.data)
        {
            let bare_lf = e.data.windows(2).any(|w| w[1] == b'\n' && w[0] != b'\r')
                || e.data.first() == Some(&b'\n');
            if bare_lf {
                p.push(format!(
                    "{} is a text file with LF line endings in a zip (expected CRLF)",
                    e.path
                ));
            }
        }
    }
    p
}

/// Object-file checks that need no runner: format, architecture, OS.
fn check_headers(r: &mut Report, archive_name: &str, info: &TargetInfo, bytes: &[u8]) {
    use object::{Architecture, BinaryFormat, Object, ObjectSection};
    let file = match object::File::parse(bytes) {
        Ok(f) => f,
        Err(e) => {
            return r.fail(
                archive_name,
                "headers",
                format!("the binary is not an object file: {e}"),
            )
        }
    };
    let want_format = match info.os {
        Os::Linux | Os::Freebsd => BinaryFormat::Elf,
        Os::Macos => BinaryFormat::MachO,
        Os::Windows => BinaryFormat::Pe,
    };
    let want_arch = if info.arch == "aarch64" {
        Architecture::Aarch64
    } else {
        Architecture::X86_64
    };
    let mut problems = Vec::new();
    if file.format() != want_format {
        problems.push(format!(
            "format {:?}, expected {want_format:?}",
            file.format()
        ));
    }
    if file.architecture() != want_arch {
        problems.push(format!(
            "architecture {:?}, expected {want_arch:?}",
            file.architecture()
        ));
    }
    if info.os == Os::Freebsd {
        // FreeBSD binaries say so in EI_OSABI (9) or in a `.note.tag` "FreeBSD" note.
        let osabi_freebsd = bytes.get(7) == Some(&9);
        let note = file
            .section_by_name(".note.tag")
            .and_then(|s| s.data().ok())
            .is_some_and(|d| d.windows(7).any(|w| w == b"FreeBSD"));
        if !osabi_freebsd && !note {
            problems
                .push("ELF is not marked as FreeBSD (no OSABI 9, no FreeBSD .note.tag)".to_owned());
        }
    }
    if info.os == Os::Linux && bytes.get(7) == Some(&9) {
        problems.push("ELF is marked FreeBSD, expected Linux".to_owned());
    }
    if problems.is_empty() {
        r.pass(
            archive_name,
            "headers",
            format!("{want_format:?} {want_arch:?} for {}", info.triple),
        );
    } else {
        r.fail(archive_name, "headers", problems.join("; "));
    }
}

/// A wrapper program (none: run the binary itself) and the environment it needs.
type Runner = (Option<PathBuf>, Vec<(&'static str, &'static str)>);

/// How to execute a binary of `info` on this machine, if at all.
fn runner(info: &TargetInfo) -> Result<Runner, String> {
    let host = crate::targets::host_triple();
    let host_arch = host.split('-').next().unwrap_or_default();
    let host_linux = host.contains("-linux-");
    if info.os == Os::Linux && host_linux && info.arch == host_arch {
        return Ok((None, vec![]));
    }
    if info.os == Os::Linux && host_linux && info.arch == "aarch64" {
        let qemu = tools::find("qemu-aarch64-static").ok_or("qemu-aarch64-static not found")?;
        // glibc builds need the cross loader and libc; musl builds are static.
        let env = if info.triple.ends_with("-gnu") {
            vec![("QEMU_LD_PREFIX", "/usr/aarch64-linux-gnu")]
        } else {
            vec![]
        };
        return Ok((Some(qemu), env));
    }
    if info.os == Os::Windows && host_linux {
        let wine = tools::find("wine").ok_or("wine not found")?;
        return Ok((Some(wine), vec![("WINEDEBUG", "-all")]));
    }
    Err(format!("{} binaries cannot run here", info.triple))
}

fn check_version(
    r: &mut Report,
    archive_name: &str,
    info: &TargetInfo,
    variant: &str,
    version: &str,
    path: &Path,
) {
    let (wrapper, env) = match runner(info) {
        Ok(x) => x,
        Err(why) => {
            return r.pass(
                archive_name,
                "run",
                format!("not run ({why}); headers checked instead"),
            )
        }
    };
    let mut argv: Vec<std::ffi::OsString> = Vec::new();
    if wrapper.is_some() {
        argv.push(path.into());
    }
    argv.extend(["--version".into(), "--json".into()]);
    let program = wrapper.clone().unwrap_or_else(|| path.to_owned());
    let mut cmd = duct::cmd(&program, &argv)
        .stdout_capture()
        .stderr_capture()
        .unchecked();
    for (k, v) in env {
        cmd = cmd.env(k, v);
    }
    let how = wrapper.as_ref().map_or("natively".to_owned(), |w| {
        format!(
            "under {}",
            w.file_name().unwrap_or_default().to_string_lossy()
        )
    });
    let out = match cmd.run() {
        Ok(o) => o,
        Err(e) => {
            return r.fail(
                archive_name,
                "run",
                format!("running ferry --version --json {how}: {e}"),
            )
        }
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return r.fail(
            archive_name,
            "run",
            format!(
                "`ferry --version --json` {how} exited {}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        );
    }
    let v: serde_json::Value = match serde_json::from_str(stdout.trim()) {
        Ok(v) => v,
        Err(e) => {
            return r.fail(
                archive_name,
                "run",
                format!(
                    "`ferry --version --json` printed no JSON ({e}): {}",
                    stdout.trim()
                ),
            )
        }
    };
    let mut problems = Vec::new();
    for (key, want) in [
        ("name", "ferry"),
        ("version", version),
        ("variant", variant),
        ("target", info.triple),
    ] {
        if v.get(key).and_then(|x| x.as_str()) != Some(want) {
            problems.push(format!(
                "{key} is {}, expected {want}",
                v.get(key).unwrap_or(&serde_json::Value::Null)
            ));
        }
    }
    if problems.is_empty() {
        r.pass(archive_name, "run", format!("ran {how}: {v}"));
    } else {
        r.fail(
            archive_name,
            "run",
            format!("ran {how}: {}", problems.join("; ")),
        );
    }
}
