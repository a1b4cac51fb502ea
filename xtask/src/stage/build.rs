//! build: compile ferry for each planned target × variant, or copy `--prebuilt` binaries, and
//! stage them (outside the output directory) as `Binary` artifacts.
//!
//! Builds run one after another: cargo serialises them on its lock anyway, and each one already
//! uses every core.

use std::path::PathBuf;

use anyhow::{bail, Context};

use crate::context::{hash_file, Artifact, ArtifactKind, ReleaseContext};
use crate::pipeline::Stage;
use crate::plan::{BuildHow, PlannedBuild};
use crate::targets::{Linker, TargetInfo};
use crate::toolchain::{cargo_command, BuildMethod};
use crate::tools;

pub struct Build;

impl Stage for Build {
    fn name(&self) -> &'static str {
        "build"
    }

    fn skip(&self, ctx: &ReleaseContext) -> Option<String> {
        ctx.plan
            .builds
            .iter()
            .all(PlannedBuild::is_skipped)
            .then(|| "no buildable target".to_owned())
    }

    fn run(&self, ctx: &mut ReleaseContext) -> anyhow::Result<()> {
        for b in &ctx.plan.builds {
            let target = TargetInfo::lookup(b.target).expect("planned targets come from the table");
            let binary_name = format!("{}{}", ctx.config.binary, target.exe_suffix());
            let built: PathBuf = match &b.how {
                BuildHow::Skipped { reason } => {
                    eprintln!("    skip {} ({}): {reason}", b.target, b.variant);
                    continue;
                }
                BuildHow::Prebuilt { path } => PathBuf::from(path),
                BuildHow::Cargo { method, profile } => {
                    eprintln!("    build {} ({}) with {:?}", b.target, b.variant, method);
                    cargo_build(ctx, target, &b.variant, method, profile)
                        .with_context(|| format!("building {} ({})", b.target, b.variant))?;
                    cargo_output(ctx, b.target, profile, &binary_name)
                }
            };
            // Copy right away: the next variant's build overwrites the same cargo output path.
            let staged = ctx
                .options
                .staging_dir
                .join(b.target)
                .join(&b.variant)
                .join(&binary_name);
            std::fs::create_dir_all(staged.parent().expect("staged path has a parent"))?;
            std::fs::copy(&built, &staged)
                .with_context(|| format!("copying {} to {}", built.display(), staged.display()))?;
            // A prebuilt binary may have lost its mode on the way (CI artifact uploads drop it);
            // staged binaries are programs, whatever their source said.
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o755))
                    .with_context(|| format!("making {} executable", staged.display()))?;
            }
            let (sha256, size) = hash_file(&staged)?;
            ctx.artifacts.add(Artifact {
                kind: ArtifactKind::Binary,
                name: binary_name,
                target: Some(b.target.to_owned()),
                variant: Some(b.variant.clone()),
                platform: Some(b.platform.to_owned()),
                format: None,
                path: staged,
                size,
                sha256,
            });
        }
        Ok(())
    }
}

/// Runs cargo for one target and variant: `cargo [zig]build --profile P --target T` plus
/// `-Zbuild-std` and linker settings when the method says so (see CROSS.md).
pub fn cargo_build(
    ctx: &ReleaseContext,
    target: &TargetInfo,
    variant: &str,
    method: &BuildMethod,
    profile: &str,
) -> anyhow::Result<()> {
    let v = ctx
        .config
        .variants
        .get(variant)
        .with_context(|| format!("unknown variant `{variant}`"))?;
    let (program, mut args, envs) = cargo_command(&method.toolchain);
    args.push(
        if method.linker == Linker::Zig {
            "zigbuild"
        } else {
            "build"
        }
        .to_owned(),
    );
    args.extend(
        [
            "--locked",
            "--package",
            "ferry",
            "--bin",
            &ctx.config.binary,
            "--profile",
            profile,
            "--target",
            target.triple,
            "--target-dir",
        ]
        .map(str::to_owned),
    );
    args.push(ctx.options.cargo_target_dir.display().to_string());
    if !v.default_features {
        args.push("--no-default-features".into());
    }
    if !v.features.is_empty() {
        args.push("--features".into());
        args.push(v.features.join(","));
    }
    if method.build_std {
        args.push("-Zbuild-std=std,panic_abort".into());
    }
    let env_triple = target.triple.to_uppercase().replace('-', "_");
    let mut cmd = duct::cmd(&program, &args)
        .dir(&ctx.options.root)
        .env("PATH", tools::path_env())
        .env("FERRY_BUILD_COMMIT", &ctx.git.commit)
        .env("SOURCE_DATE_EPOCH", ctx.git.source_date_epoch.to_string())
        // zig stamps Mach-O minos 15.0 without it.
        .env("MACOSX_DEPLOYMENT_TARGET", "11.0")
        .stdout_to_stderr();
    // The outer `cargo run` may export a toolchain choice that is wrong for this build; the
    // toolchain's own settings replace it. (In duct the innermost setting wins, so a variable
    // is either removed or set, never both.)
    for var in ["RUSTUP_TOOLCHAIN", "RUSTC", "RUSTDOC"] {
        if !envs.iter().any(|(k, _)| k == var) {
            cmd = cmd.env_remove(var);
        }
    }
    for (k, val) in envs {
        cmd = cmd.env(k, val);
    }
    if method.build_std {
        // Debian's cargo/rustc are stable builds; -Zbuild-std needs the nightly gate opened.
        cmd = cmd.env("RUSTC_BOOTSTRAP", "1");
        if target.build_std_no_self_contained {
            // A std built from source has no self-contained crt objects; the linker driver
            // (mingw gcc, zig) supplies them instead.
            cmd = cmd.env(
                format!("CARGO_TARGET_{env_triple}_RUSTFLAGS"),
                "-C link-self-contained=no",
            );
        }
    }
    if let Linker::Gcc(gcc) = method.linker {
        cmd = cmd.env(format!("CARGO_TARGET_{env_triple}_LINKER"), gcc);
    }
    let out = cmd
        .unchecked()
        .run()
        .with_context(|| format!("running {}", program.to_string_lossy()))?;
    if !out.status.success() {
        bail!("cargo failed ({}); its output is above", out.status);
    }
    Ok(())
}

/// Where cargo leaves the binary for a target and profile (`dev` builds land in `debug/`).
pub fn cargo_output(ctx: &ReleaseContext, triple: &str, profile: &str, binary: &str) -> PathBuf {
    let profile_dir = if profile == "dev" { "debug" } else { profile };
    ctx.options
        .cargo_target_dir
        .join(triple)
        .join(profile_dir)
        .join(binary)
}
