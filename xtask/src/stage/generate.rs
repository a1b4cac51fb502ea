//! generate: shell completions and the man page, produced by running a host-built binary of the
//! variant (they are the same on every platform, so one run serves every target's archive).
//!
//! Contract with the binary: `ferry completions <shell>` and `ferry man` print to stdout.

use std::path::Path;

use anyhow::{bail, Context};

use crate::config::Generated;
use crate::context::{Artifact, ArtifactKind, ReleaseContext};
use crate::pipeline::Stage;
use crate::targets::{host_triple, TargetInfo};
use crate::toolchain;

pub struct Generate;

/// Shell name for `ferry completions` and the file name shells look for.
pub const COMPLETIONS: &[(&str, &str)] = &[
    ("bash", "ferry.bash"),
    ("zsh", "_ferry"),
    ("fish", "ferry.fish"),
    ("powershell", "_ferry.ps1"),
    ("elvish", "ferry.elv"),
];
pub const MAN_PAGE: &str = "ferry.1";

impl Stage for Generate {
    fn name(&self) -> &'static str {
        "generate"
    }

    fn skip(&self, ctx: &ReleaseContext) -> Option<String> {
        if variants_needing(ctx).is_empty() {
            Some("no planned archive has generated files".to_owned())
        } else {
            None
        }
    }

    fn run(&self, ctx: &mut ReleaseContext) -> anyhow::Result<()> {
        for variant in variants_needing(ctx) {
            let binary = host_binary(ctx, &variant)?;
            let dir = ctx.options.staging_dir.join("generated").join(&variant);
            if dir.exists() {
                std::fs::remove_dir_all(&dir)?;
            }
            let wanted = &ctx.config.variants[&variant].generated;
            if wanted.contains(&Generated::Completions) {
                std::fs::create_dir_all(dir.join("completions"))?;
                for (shell, file) in COMPLETIONS {
                    let out = run_binary(&binary, &["completions", shell])?;
                    std::fs::write(dir.join("completions").join(file), out)?;
                }
            }
            if wanted.contains(&Generated::Man) {
                std::fs::create_dir_all(dir.join("man"))?;
                let out = run_binary(&binary, &["man"])?;
                std::fs::write(dir.join("man").join(MAN_PAGE), out)?;
            }
            ctx.artifacts.add(Artifact {
                kind: ArtifactKind::Generated,
                name: format!("generated-{variant}"),
                target: None,
                variant: Some(variant),
                platform: None,
                format: None,
                path: dir,
                size: 0,
                sha256: String::new(),
            });
        }
        Ok(())
    }
}

fn variants_needing(ctx: &ReleaseContext) -> Vec<String> {
    let mut v: Vec<String> = ctx
        .plan
        .archives
        .iter()
        .map(|a| a.variant.clone())
        .filter(|v| {
            ctx.config
                .variants
                .get(v)
                .is_some_and(|c| !c.generated.is_empty())
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

/// The host binary of `variant`: the one the build stage made, else built (or taken from
/// `--prebuilt`) now, since a cross-only run still needs a binary this machine can execute.
fn host_binary(ctx: &ReleaseContext, variant: &str) -> anyhow::Result<std::path::PathBuf> {
    let host = host_triple();
    if let Some(a) = ctx.artifacts.binary(host, variant) {
        return Ok(a.path);
    }
    let target = TargetInfo::lookup(host).with_context(|| {
        format!(
            "this machine ({host}) is not a supported target, so it cannot generate completions"
        )
    })?;
    let binary = format!("{}{}", ctx.config.binary, target.exe_suffix());
    if let Some(dir) = &ctx.options.prebuilt {
        let p = dir.join(host).join(variant).join(&binary);
        if p.is_file() {
            return Ok(p);
        }
        bail!(
            "generating completions needs a host binary; put one at {}",
            p.display()
        );
    }
    let method = toolchain::method_for(target)
        .map_err(|why| anyhow::anyhow!("cannot build for this machine: {why}"))?;
    eprintln!("    build {host} ({variant}) to generate completions and man page");
    super::build::cargo_build(ctx, target, variant, &method, &ctx.options.profile)?;
    Ok(super::build::cargo_output(
        ctx,
        host,
        &ctx.options.profile,
        &binary,
    ))
}

fn run_binary(binary: &Path, args: &[&str]) -> anyhow::Result<Vec<u8>> {
    let out = duct::cmd(binary, args)
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .with_context(|| format!("running {}", binary.display()))?;
    if !out.status.success() || out.stdout.is_empty() {
        bail!(
            "`{} {}` failed ({}): the complete variant must provide `ferry completions <shell>` and `ferry man` printing to stdout (docs/release.md); stderr: {}",
            binary.display(),
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(out.stdout)
}
