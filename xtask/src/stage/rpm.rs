//! rpm: one RPM package per Linux architecture and variant, with the same binary choice,
//! names, conflicts and payload as the deb stage (see `stage/deb.rs`), plus the licence under
//! `/usr/share/licenses/` and the README as documentation, where RPM distributions keep them.

use anyhow::Context;
use serde::Serialize;

use crate::artifact::package::{glibc_requirement, package_version, Payload, PayloadFile};
use crate::artifact::rpm::{self, Metadata};
use crate::artifact::template;
use crate::context::{package_file, ArtifactKind, ReleaseContext};
use crate::pipeline::Stage;
use crate::stage::deb::{linux_packages, linux_planned, other_packages, LinuxPackage};

pub struct Rpm;

impl Stage for Rpm {
    fn name(&self) -> &'static str {
        "rpm"
    }

    fn skip(&self, ctx: &ReleaseContext) -> Option<String> {
        (!linux_planned(ctx)).then(|| "no Linux target is built".to_owned())
    }

    fn run(&self, ctx: &mut ReleaseContext) -> anyhow::Result<()> {
        for p in linux_packages(ctx)? {
            write_one(ctx, &p).with_context(|| format!("building the rpm of {}", p.name))?;
        }
        Ok(())
    }
}

#[derive(Serialize)]
pub struct RpmTemplateContext<'a> {
    pub package: &'a str,
    pub version: String,
    pub arch: &'static str,
    pub variant: &'a str,
    pub meta: &'a crate::config::PackageMeta,
    pub conflicts: Vec<String>,
    /// `2.34` when the binary links glibc.
    pub glibc: Option<String>,
}

pub fn render_metadata(
    ctx: &ReleaseContext,
    p: &LinuxPackage,
    glibc: Option<String>,
) -> anyhow::Result<String> {
    let tctx = RpmTemplateContext {
        package: &p.name,
        version: package_version(&ctx.version),
        arch: p.target.arch,
        variant: &p.variant,
        meta: &ctx.config.package,
        conflicts: other_packages(ctx, &p.variant),
        glibc,
    };
    template::render(&ctx.options.root, template::RPM_METADATA, &tctx)
}

fn write_one(ctx: &ReleaseContext, p: &LinuxPackage) -> anyhow::Result<()> {
    let root = &ctx.options.root;
    let binary = std::fs::read(&p.binary.path)
        .with_context(|| format!("reading {}", p.binary.path.display()))?;
    let glibc = glibc_requirement(&binary).map(|(a, b)| format!("{a}.{b}"));
    let mut files = Payload {
        binary_name: p.binary.name.clone(),
        binary,
        generated: p.generated.clone(),
    }
    .files()?;
    let mut license = PayloadFile::new(
        format!("/usr/share/licenses/{}/LICENSE", p.name),
        std::fs::read(root.join("LICENSE")).context("reading LICENSE")?,
        0o644,
    );
    license.license = true;
    files.push(license);
    let mut readme = PayloadFile::new(
        format!("/usr/share/doc/{}/README.md", p.name),
        std::fs::read(root.join("README.md")).context("reading README.md")?,
        0o644,
    );
    readme.doc = true;
    files.push(readme);
    let meta = Metadata::parse(&render_metadata(ctx, p, glibc)?)?;
    let bytes = rpm::build(&meta, &files, ctx.git.source_date_epoch)?;
    let name = meta.file_name();
    std::fs::create_dir_all(&ctx.options.out_dir)?;
    let path = ctx.options.out_dir.join(&name);
    std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
    ctx.artifacts.add(package_file(
        ArtifactKind::Rpm,
        name,
        path,
        Some(p.target.triple.to_owned()),
        &p.variant,
        p.target.platform,
    )?);
    Ok(())
}
