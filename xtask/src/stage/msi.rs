//! msi: one Windows Installer package per variant of the x86_64 Windows build
//! (`ferry-{version}-windows-amd64-{variant}.msi`): per-machine install to
//! `Program Files\ferry\bin`, on the system PATH, upgrading any earlier ferry MSI.
//! Reproducible: the same binary, version and SOURCE_DATE_EPOCH give the same bytes (see
//! `artifact::msi` for what wixl would otherwise stamp).
//!
//! Needs `wixl` and `msibuild` (msitools); without them the stage is skipped with that reason
//! (CI installs them through `cargo xtask setup`, and the msi tests fail there if they are
//! missing).

use anyhow::Context;
use serde::Serialize;

use crate::artifact::msi::{self, guid_for, msi_version, UPGRADE_CODE};
use crate::artifact::template;
use crate::context::{package_file, Artifact, ArtifactKind, ReleaseContext};
use crate::pipeline::Stage;
use crate::plan::base_name;
use crate::targets::{Os, TargetInfo};
use crate::tools;

pub struct Msi;

#[derive(Serialize)]
pub struct WxsContext<'a> {
    pub product_name: &'a str,
    pub manufacturer: &'a str,
    pub homepage: &'a str,
    pub version: &'a str,
    pub variant: &'a str,
    pub msi_version: String,
    pub upgrade_code: &'static str,
    pub product_code: String,
    pub package_code: String,
    pub component_guid: String,
    pub exe_name: String,
    pub exe_source: String,
}

fn windows_amd64(b: &str) -> bool {
    TargetInfo::lookup(b).is_some_and(|t| t.os == Os::Windows && t.arch == "x86_64")
}

impl Stage for Msi {
    fn name(&self) -> &'static str {
        "msi"
    }

    fn skip(&self, ctx: &ReleaseContext) -> Option<String> {
        if !ctx
            .plan
            .builds
            .iter()
            .any(|b| !b.is_skipped() && windows_amd64(b.target))
        {
            return Some("no x86_64 Windows build planned".to_owned());
        }
        let missing: Vec<&str> = msi::TOOLS
            .iter()
            .copied()
            .filter(|t| !tools::exists(t))
            .collect();
        (!missing.is_empty()).then(|| {
            format!(
                "{} not found (apt install wixl msitools, or `cargo xtask setup`)",
                missing.join(", ")
            )
        })
    }

    fn run(&self, ctx: &mut ReleaseContext) -> anyhow::Result<()> {
        let binaries: Vec<Artifact> = ctx
            .artifacts
            .of_kind(ArtifactKind::Binary)
            .into_iter()
            .filter(|b| b.target.as_deref().is_some_and(windows_amd64))
            .collect();
        for b in binaries {
            let variant = b.variant.clone().unwrap_or_default();
            write_one(ctx, &b, &variant)
                .with_context(|| format!("building the msi of the {variant} variant"))?;
        }
        Ok(())
    }
}

/// What the codes of one release and variant are derived from.
fn release_id(ctx: &ReleaseContext, variant: &str) -> String {
    format!("{} {} {variant}", ctx.config.package.name, ctx.version)
}

fn package_code(ctx: &ReleaseContext, variant: &str) -> String {
    guid_for(&format!("package {}", release_id(ctx, variant)))
}

/// Renders the WiX source for one Windows binary (also used by the snapshot test).
pub fn render_wxs(ctx: &ReleaseContext, exe: &Artifact, variant: &str) -> anyhow::Result<String> {
    let id = release_id(ctx, variant);
    let w = WxsContext {
        product_name: &ctx.config.package.name,
        manufacturer: "Ferry",
        homepage: &ctx.config.package.homepage,
        version: &ctx.version,
        variant,
        msi_version: msi_version(&ctx.version)?,
        upgrade_code: UPGRADE_CODE,
        product_code: guid_for(&format!("product {id}")),
        package_code: package_code(ctx, variant),
        // The file's component keeps its GUID across releases (same path, same component).
        component_guid: guid_for("component ferry.exe"),
        exe_name: exe.name.clone(),
        // Copied into the work directory first (see `artifact::msi::build`).
        exe_source: exe.name.clone(),
    };
    template::render(&ctx.options.root, template::MSI_WXS, &w)
}

fn write_one(ctx: &ReleaseContext, exe: &Artifact, variant: &str) -> anyhow::Result<()> {
    let wxs = render_wxs(ctx, exe, variant)?;
    let name = format!("{}.msi", base_name(&ctx.version, "windows-amd64", variant));
    let work = ctx.options.staging_dir.join("msi").join(variant);
    std::fs::create_dir_all(&work)?;
    let payload = work.join(&exe.name);
    std::fs::copy(&exe.path, &payload)
        .with_context(|| format!("copying {}", exe.path.display()))?;
    // The cabinet records the file's time, and a copy is stamped with the time of copying.
    msi::set_mtime(&payload, ctx.git.source_date_epoch)?;
    let wxs_path = work.join("ferry.wxs");
    std::fs::write(&wxs_path, wxs)?;
    std::fs::create_dir_all(&ctx.options.out_dir)?;
    let path = ctx.options.out_dir.join(&name);
    let code = package_code(ctx, variant);
    let pins = msi::Pins {
        package_code: &code,
        epoch: ctx.git.source_date_epoch,
    };
    msi::build(&wxs_path, &path, &work, &pins)?;
    ctx.artifacts.add(package_file(
        ArtifactKind::Msi,
        name,
        path,
        exe.target.clone(),
        variant,
        "windows-amd64",
    )?);
    Ok(())
}
