//! oci: one multi-platform OCI image per variant from the static Linux binaries, written as a
//! layout directory and as an `oci-archive` tarball, without a container engine.
//!
//! Layers, shared where they can be (registries store a blob once):
//! 1. `base` — `/etc/passwd`, `/etc/group`, CA certificates, `/tmp`, the non-root user's home.
//!    Identical for every platform and variant.
//! 2. `busybox` — `/bin/busybox` and one symlink per applet (variants in `with-shell` only).
//! 3. `ferry` — `/usr/local/bin/ferry`, plus completions, man page and docs for variants that
//!    ship generated files.
//!
//! What goes in is decided here; `artifact/oci/` knows the formats. `containers/README.md`
//! documents the result for users.

use std::collections::BTreeMap;

use anyhow::Context;

use crate::artifact::oci::deb::{self, DebEntry};
use crate::artifact::oci::image::{
    self, Blob, Descriptor, History, ImageConfig, Index, Manifest, RootFs, RunConfig, MEDIA_CONFIG,
    MEDIA_INDEX, MEDIA_LAYER_GZIP, MEDIA_MANIFEST, VARIANT_ANNOTATION,
};
use crate::artifact::oci::layer::{self, Tree};
use crate::artifact::oci::layout::Layout;
use crate::context::{hash_file, rfc3339, Artifact, ArtifactKind, ReleaseContext};
use crate::oci::inputs::{self, Inputs};
use crate::pipeline::Stage;
use crate::targets::TargetInfo;

pub struct Oci;

/// distroless's "nonroot" uid/gid: a well-known non-root id that maps to no host user.
pub const NONROOT_ID: u32 = 65532;
pub const BINARY_PATH: &str = "usr/local/bin/ferry";
const BUSYBOX_APPLETS: &str = "containers/busybox-applets.txt";
const CA_BUNDLE: &str = "etc/ssl/certs/ca-certificates.crt";

impl Stage for Oci {
    fn name(&self) -> &'static str {
        "oci"
    }

    fn skip(&self, ctx: &ReleaseContext) -> Option<String> {
        let Some(image) = &ctx.config.image else {
            return Some("no [ferry.image] in dist-workspace.toml".to_owned());
        };
        let planned = ctx
            .plan
            .builds
            .iter()
            .any(|b| !b.is_skipped() && image.targets.iter().any(|t| t == b.target));
        (!planned).then(|| {
            format!(
                "no static Linux build planned (image targets: {})",
                image.targets.join(", ")
            )
        })
    }

    fn run(&self, ctx: &mut ReleaseContext) -> anyhow::Result<()> {
        let image_cfg = ctx
            .config
            .image
            .clone()
            .expect("skip() checked [ferry.image]");
        let inputs = Inputs::load(&ctx.options.root.join(&image_cfg.inputs))?;
        let cache = inputs::cache_dir();
        let mtime = ctx.git.source_date_epoch;
        let base_files = base_tree(&inputs, &cache).context("assembling the base layer")?;
        let base = layer::build(&base_files, mtime)?;
        // One busybox layer per platform, shared by every variant that has a shell.
        let mut busybox: BTreeMap<String, (Tree, layer::Layer)> = BTreeMap::new();
        std::fs::create_dir_all(&ctx.options.out_dir)?;
        let context_root = ctx.options.staging_dir.join("oci-context");
        if context_root.exists() {
            std::fs::remove_dir_all(&context_root)?;
        }
        for variant in ctx.options.variants.clone() {
            let with_shell = image_cfg.with_shell.contains(&variant);
            let mut layout = Layout::default();
            let mut manifests = Vec::new();
            for triple in &image_cfg.targets {
                let Some(binary) = ctx.artifacts.binary(triple, &variant) else {
                    eprintln!("    {variant}: no {triple} binary, so no image for it");
                    continue;
                };
                let target = TargetInfo::lookup(triple).expect("validated in config.rs");
                let platform = image::platform_of(target.arch)
                    .with_context(|| format!("no OCI platform for {triple}"))?;
                let arch = platform.architecture.clone();
                // The Containerfile's build context: the same trees as files (containers/README.md).
                let context = context_root.join(format!("linux-{arch}"));
                if !context.join("base").exists() {
                    base_files.materialize(&context.join("base"))?;
                }
                let mut layers = vec![("base", &base)];
                if with_shell {
                    if !busybox.contains_key(&arch) {
                        let t = busybox_tree(ctx, &inputs, &cache, &arch).with_context(|| {
                            format!("assembling the busybox layer for {triple}")
                        })?;
                        t.materialize(&context.join("busybox"))?;
                        let l = layer::build(&t, mtime)?;
                        busybox.insert(arch.clone(), (t, l));
                    }
                    layers.push(("busybox", &busybox[&arch].1));
                }
                let app_files = ferry_tree(ctx, &variant, &binary.path)
                    .with_context(|| format!("assembling the ferry layer for {triple}"))?;
                app_files.materialize(&context.join(format!("ferry-{variant}")))?;
                let app = layer::build(&app_files, mtime)?;
                layers.push(("ferry", &app));
                let manifest = platform_manifest(ctx, &variant, with_shell, &platform, &layers)?;
                for (_, l) in &layers {
                    layout.add_blob(&Blob {
                        bytes: l.blob.clone(),
                        digest: l.digest.clone(),
                    });
                }
                layout.add_blob(&manifest.config);
                layout.add_blob(&manifest.manifest);
                let mut d = manifest.manifest.descriptor(MEDIA_MANIFEST);
                d.platform = Some(platform.clone());
                layout.add_ref(&format!("linux-{arch}"), d.clone());
                manifests.push(d);
            }
            if manifests.is_empty() {
                continue;
            }
            // The index is what a tag points to; per-platform refs above let umoci pick one.
            let index = Blob::json(&Index {
                schema_version: 2,
                media_type: Some(MEDIA_INDEX.to_owned()),
                manifests: manifests.clone(),
                annotations: annotations(ctx, &variant),
            })?;
            layout.add_blob(&index);
            let index_desc = index.descriptor(MEDIA_INDEX);
            layout.add_ref(&ctx.version, index_desc.clone());
            write(ctx, &variant, &layout, &index_desc)?;
        }
        Ok(())
    }
}

/// `ferry-{version}-linux-{variant}`: the multi-platform image's base name.
pub fn image_name(version: &str, variant: &str) -> String {
    format!("ferry-{version}-linux-{variant}")
}

fn write(
    ctx: &ReleaseContext,
    variant: &str,
    layout: &Layout,
    index: &Descriptor,
) -> anyhow::Result<()> {
    let name = image_name(&ctx.version, variant);
    let dir = ctx.options.out_dir.join(format!("{name}-oci"));
    let size = layout.write_dir(&dir)?;
    let archive_name = format!("{name}.oci.tar");
    let archive_path = ctx.options.out_dir.join(&archive_name);
    std::fs::write(&archive_path, layout.archive(ctx.git.source_date_epoch)?)
        .with_context(|| format!("writing {}", archive_path.display()))?;
    let (sha256, archive_size) = hash_file(&archive_path)?;
    eprintln!(
        "    {name}: index {} ({} platforms), {archive_size} bytes",
        index.digest,
        layout.refs.len() - 1
    );
    ctx.artifacts.add(Artifact {
        kind: ArtifactKind::OciImage,
        name: archive_name,
        target: None,
        variant: Some(variant.to_owned()),
        platform: Some("linux".to_owned()),
        format: None,
        path: archive_path,
        size: archive_size,
        sha256,
    });
    ctx.artifacts.add(Artifact {
        kind: ArtifactKind::OciLayout,
        name: format!("{name}-oci"),
        target: None,
        variant: Some(variant.to_owned()),
        platform: Some("linux".to_owned()),
        format: None,
        path: dir,
        size,
        sha256: index
            .digest
            .strip_prefix("sha256:")
            .unwrap_or(&index.digest)
            .to_owned(),
    });
    Ok(())
}

/// The OCI labels/annotations every document of a variant's image carries.
fn annotations(ctx: &ReleaseContext, variant: &str) -> BTreeMap<String, String> {
    let p = &ctx.config.package;
    let oci = |k: &str| format!("org.opencontainers.image.{k}");
    BTreeMap::from([
        (oci("version"), ctx.version.clone()),
        (oci("revision"), ctx.git.commit.clone()),
        (oci("source"), p.homepage.clone()),
        (oci("created"), rfc3339(ctx.git.source_date_epoch)),
        (oci("licenses"), p.license.clone()),
        (oci("title"), format!("{} ({variant})", p.name)),
        (oci("description"), p.description.clone()),
        (VARIANT_ANNOTATION.to_owned(), variant.to_owned()),
    ])
}

struct PlatformManifest {
    config: Blob,
    manifest: Blob,
}

fn platform_manifest(
    ctx: &ReleaseContext,
    variant: &str,
    with_shell: bool,
    platform: &image::Platform,
    layers: &[(&str, &layer::Layer)],
) -> anyhow::Result<PlatformManifest> {
    let created = rfc3339(ctx.git.source_date_epoch);
    let labels = annotations(ctx, variant);
    // A CI job image runs scripts that write to the workspace and install tools: root, like
    // the usual CI images. The minimal image only runs ferry, so it drops privileges.
    let (user, home) = if with_shell {
        ("0:0".to_owned(), "/root".to_owned())
    } else {
        (
            format!("{NONROOT_ID}:{NONROOT_ID}"),
            "/home/nonroot".to_owned(),
        )
    };
    let mut path = "PATH=/usr/local/bin".to_owned();
    if with_shell {
        path.push_str(":/bin");
    }
    let config = Blob::json(&ImageConfig {
        created: created.clone(),
        architecture: platform.architecture.clone(),
        os: platform.os.clone(),
        variant: platform.variant.clone(),
        config: RunConfig {
            user,
            env: vec![
                path,
                format!("SSL_CERT_FILE=/{CA_BUNDLE}"),
                format!("HOME={home}"),
            ],
            entrypoint: vec![format!("/{BINARY_PATH}")],
            working_dir: home,
            labels: labels.clone(),
        },
        rootfs: RootFs {
            kind: "layers",
            diff_ids: layers.iter().map(|(_, l)| l.diff_id.clone()).collect(),
        },
        history: layers
            .iter()
            .map(|(name, _)| History {
                created: created.clone(),
                created_by: format!("cargo xtask dist: {name} layer (containers/README.md)"),
            })
            .collect(),
    })?;
    let manifest = Blob::json(&Manifest {
        schema_version: 2,
        media_type: MEDIA_MANIFEST.to_owned(),
        config: config.descriptor(MEDIA_CONFIG),
        layers: layers
            .iter()
            .map(|(_, l)| Descriptor {
                media_type: MEDIA_LAYER_GZIP.to_owned(),
                digest: l.digest.clone(),
                size: l.blob.len() as u64,
                platform: None,
                annotations: BTreeMap::new(),
            })
            .collect(),
        annotations: labels,
    })?;
    Ok(PlatformManifest { config, manifest })
}

/// The files of the base layer, also used by tests and the Containerfile check.
fn base_tree(inputs: &Inputs, cache: &std::path::Path) -> anyhow::Result<Tree> {
    let ca = inputs.find("ca-certificates", "all")?;
    let files = deb::data_files(&ca.read(cache)?)
        .with_context(|| format!("reading {} {}", ca.package, ca.version))?;
    let mut bundle = Vec::new();
    // update-ca-certificates concatenates the enabled certificates in name order; Debian
    // enables all of Mozilla's by default.
    for (path, entry) in &files {
        if path.starts_with("usr/share/ca-certificates/mozilla/") && path.ends_with(".crt") {
            let DebEntry::File { bytes } = entry;
            bundle.extend_from_slice(bytes);
            if !bundle.ends_with(b"\n") {
                bundle.push(b'\n');
            }
        }
    }
    anyhow::ensure!(
        !bundle.is_empty(),
        "{} {} has no certificates under usr/share/ca-certificates/mozilla",
        ca.package,
        ca.version
    );
    let mut t = Tree::default();
    t.file(
        "etc/passwd",
        format!(
            "root:x:0:0:root:/root:/bin/sh\nnonroot:x:{NONROOT_ID}:{NONROOT_ID}:nonroot:/home/nonroot:/sbin/nologin\n"
        )
        .into_bytes(),
        0o644,
    );
    t.file(
        "etc/group",
        format!("root:x:0:\nnonroot:x:{NONROOT_ID}:\n").into_bytes(),
        0o644,
    );
    t.file(CA_BUNDLE, bundle, 0o644);
    copy_doc(&mut t, &files, "usr/share/doc/ca-certificates/copyright")?;
    t.dir("root", 0o700, 0);
    t.dir("home/nonroot", 0o755, NONROOT_ID);
    t.dir("tmp", 0o1777, 0);
    Ok(t)
}

fn copy_doc(t: &mut Tree, files: &BTreeMap<String, DebEntry>, path: &str) -> anyhow::Result<()> {
    match files.get(path) {
        Some(DebEntry::File { bytes }) => {
            t.file(path, bytes.clone(), 0o644);
            Ok(())
        }
        _ => anyhow::bail!("the package has no {path}"),
    }
}

fn busybox_tree(
    ctx: &ReleaseContext,
    inputs: &Inputs,
    cache: &std::path::Path,
    arch: &str,
) -> anyhow::Result<Tree> {
    let deb = inputs.find("busybox-static", arch)?;
    let files = deb::data_files(&deb.read(cache)?)
        .with_context(|| format!("reading {} {} ({arch})", deb.package, deb.version))?;
    let Some(DebEntry::File { bytes }) = files.get("bin/busybox") else {
        anyhow::bail!("{} has no bin/busybox", deb.package);
    };
    let mut t = Tree::default();
    t.file("bin/busybox", bytes.clone(), 0o755);
    // The applet list is committed (from `busybox --list` of the pinned version) because an
    // arm64 binary can't be asked on an amd64 machine; the links are what
    // `busybox --install -s /bin` makes, which the Containerfile runs.
    let applets_path = ctx.options.root.join(BUSYBOX_APPLETS);
    let applets = std::fs::read_to_string(&applets_path)
        .with_context(|| format!("reading {}", applets_path.display()))?;
    for applet in applets.lines().map(str::trim).filter(|l| !l.is_empty()) {
        t.symlink(&format!("bin/{applet}"), "/bin/busybox");
    }
    copy_doc(&mut t, &files, "usr/share/doc/busybox-static/copyright")?;
    Ok(t)
}

/// Where the complete variant's generated files go, so shells and `man` find them.
const GENERATED_PATHS: &[(&str, &str)] = &[
    (
        "completions/ferry.bash",
        "usr/share/bash-completion/completions/ferry",
    ),
    (
        "completions/_ferry",
        "usr/share/zsh/vendor-completions/_ferry",
    ),
    (
        "completions/ferry.fish",
        "usr/share/fish/vendor_completions.d/ferry.fish",
    ),
    ("man/ferry.1", "usr/share/man/man1/ferry.1"),
];

fn ferry_tree(
    ctx: &ReleaseContext,
    variant: &str,
    binary: &std::path::Path,
) -> anyhow::Result<Tree> {
    let mut t = Tree::default();
    let bytes = std::fs::read(binary).with_context(|| format!("reading {}", binary.display()))?;
    t.file(BINARY_PATH, bytes, 0o755);
    let v = &ctx.config.variants[variant];
    for inc in &v.include {
        let rel = inc.to_string_lossy().replace('\\', "/");
        add_tree(
            &mut t,
            &ctx.options.root.join(inc),
            &format!("usr/share/doc/ferry/{rel}"),
        )?;
    }
    if !v.generated.is_empty() {
        let gen = ctx
            .artifacts
            .of_kind(ArtifactKind::Generated)
            .into_iter()
            .find(|g| g.variant.as_deref() == Some(variant))
            .with_context(|| {
                format!("no generated files for {variant}: this is a bug, please report it")
            })?;
        for (from, to) in GENERATED_PATHS {
            let src = gen.path.join(from);
            if src.is_file() {
                t.file(to, std::fs::read(&src)?, 0o644);
            }
        }
    }
    Ok(t)
}

fn add_tree(t: &mut Tree, src: &std::path::Path, dest: &str) -> anyhow::Result<()> {
    let meta = std::fs::metadata(src).with_context(|| format!("reading {}", src.display()))?;
    if meta.is_dir() {
        t.dir(dest, 0o755, 0);
        let mut children: Vec<_> = std::fs::read_dir(src)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()?;
        children.sort();
        for c in children {
            let name = c
                .file_name()
                .expect("read_dir entries have names")
                .to_string_lossy()
                .into_owned();
            add_tree(t, &c, &format!("{dest}/{name}"))?;
        }
    } else {
        t.file(dest, std::fs::read(src)?, 0o644);
    }
    Ok(())
}
