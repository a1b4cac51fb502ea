//! deb: one Debian package per Linux architecture and variant, from the built binary plus the
//! variant's generated files (man page, completions), with copyright and changelog.
//!
//! Which binary: the glibc build of the architecture when it was built (Debian has glibc,
//! and the package then depends on the libc6 it needs), else the static musl build (no libc
//! dependency). Package names: `ferry` for the complete variant, `ferry-<variant>` for the
//! others, which conflict with and replace each other (same `/usr/bin/ferry`).

use std::path::PathBuf;

use anyhow::Context;
use serde::Serialize;

use crate::artifact::deb::{installed_size_kib, Deb as DebFile};
use crate::artifact::package::{
    self, deb_arch, glibc_requirement, package_name, package_version, rfc2822, Payload, PayloadFile,
};
use crate::artifact::template;
use crate::context::{package_file, Artifact, ArtifactKind, ReleaseContext};
use crate::pipeline::Stage;
use crate::targets::{Os, TargetInfo};

pub struct Deb;

impl Stage for Deb {
    fn name(&self) -> &'static str {
        "deb"
    }

    fn skip(&self, ctx: &ReleaseContext) -> Option<String> {
        linux_planned(ctx)
            .then_some(())
            .is_none()
            .then(|| "no Linux target is built".to_owned())
    }

    fn run(&self, ctx: &mut ReleaseContext) -> anyhow::Result<()> {
        for p in linux_packages(ctx)? {
            write_one(ctx, &p).with_context(|| format!("building the deb of {}", p.name))?;
        }
        Ok(())
    }
}

/// True when the plan builds at least one Linux binary (decided before anything is built).
pub fn linux_planned(ctx: &ReleaseContext) -> bool {
    ctx.plan.builds.iter().any(|b| {
        !b.is_skipped()
            && TargetInfo::lookup(b.target)
                .is_some_and(|t| t.os == Os::Linux && deb_arch(t.arch).is_some())
    })
}

/// One Linux package to make: shared by the deb and rpm stages.
pub struct LinuxPackage {
    pub name: String,
    pub variant: String,
    pub target: &'static TargetInfo,
    pub binary: Artifact,
    pub generated: Option<PathBuf>,
}

/// Per (architecture, variant): the glibc binary if built, else the musl one.
pub fn linux_packages(ctx: &ReleaseContext) -> anyhow::Result<Vec<LinuxPackage>> {
    let mut out: Vec<LinuxPackage> = Vec::new();
    let mut binaries = ctx.artifacts.of_kind(ArtifactKind::Binary);
    // gnu before musl, so the first one seen per (arch, variant) wins.
    binaries.sort_by_key(|b| {
        let t = b.target.clone().unwrap_or_default();
        (!t.ends_with("-gnu"), t, b.variant.clone())
    });
    for b in binaries {
        let (Some(triple), Some(variant)) = (b.target.as_deref(), b.variant.clone()) else {
            continue;
        };
        let Some(target) = TargetInfo::lookup(triple) else {
            continue;
        };
        if target.os != Os::Linux || deb_arch(target.arch).is_none() {
            continue;
        }
        if out
            .iter()
            .any(|p| p.target.arch == target.arch && p.variant == variant)
        {
            continue;
        }
        let generated = ctx
            .artifacts
            .of_kind(ArtifactKind::Generated)
            .into_iter()
            .find(|g| g.variant.as_deref() == Some(variant.as_str()))
            .map(|g| g.path);
        out.push(LinuxPackage {
            name: package_name(&ctx.config.package.name, &variant),
            variant,
            target,
            binary: b,
            generated,
        });
    }
    out.sort_by(|a, b| (&a.name, a.target.arch).cmp(&(&b.name, b.target.arch)));
    Ok(out)
}

/// Names of the other variants' packages: each conflicts with (and replaces) the others.
pub fn other_packages(ctx: &ReleaseContext, variant: &str) -> Vec<String> {
    ctx.config
        .variants
        .keys()
        .filter(|v| *v != variant)
        .map(|v| package_name(&ctx.config.package.name, v))
        .collect()
}

#[derive(Serialize)]
pub struct DebTemplateContext<'a> {
    pub package: &'a str,
    pub version: String,
    pub architecture: &'static str,
    pub variant: &'a str,
    pub meta: &'a crate::config::PackageMeta,
    pub depends: Option<String>,
    pub conflicts: Vec<String>,
    pub installed_size: u64,
    pub has_man_page: bool,
    pub date: String,
    /// LICENSE's lines, trailing blanks trimmed (DEP-5 indents them and writes ` .` for blanks).
    pub license_lines: Vec<String>,
}

fn write_one(ctx: &ReleaseContext, p: &LinuxPackage) -> anyhow::Result<()> {
    let root = &ctx.options.root;
    let binary = std::fs::read(&p.binary.path)
        .with_context(|| format!("reading {}", p.binary.path.display()))?;
    let depends = glibc_requirement(&binary).map(|(a, b)| format!("libc6 (>= {a}.{b})"));
    let mut files = Payload {
        binary_name: p.binary.name.clone(),
        binary,
        generated: p.generated.clone(),
    }
    .files()?;
    let has_man_page = files.iter().any(|f| f.path.starts_with("/usr/share/man/"));
    let license_lines = std::fs::read_to_string(root.join("LICENSE"))
        .context("reading LICENSE")?
        .trim()
        .lines()
        .map(|l| l.trim_end().to_owned())
        .collect();
    let mut tctx = DebTemplateContext {
        package: &p.name,
        version: package_version(&ctx.version),
        architecture: deb_arch(p.target.arch).expect("linux_packages filters on known arches"),
        variant: &p.variant,
        meta: &ctx.config.package,
        depends,
        conflicts: other_packages(ctx, &p.variant),
        installed_size: 0,
        has_man_page,
        date: rfc2822(ctx.git.source_date_epoch),
        license_lines,
    };
    let doc = format!("/usr/share/doc/{}", p.name);
    files.push(PayloadFile::new(
        format!("{doc}/copyright"),
        template::render(root, template::DEB_COPYRIGHT, &tctx)?.into_bytes(),
        0o644,
    ));
    files.push(PayloadFile::new(
        format!("{doc}/changelog.gz"),
        package::gzip(template::render(root, template::DEB_CHANGELOG, &tctx)?.as_bytes())?,
        0o644,
    ));
    let overrides = template::render(root, template::DEB_LINTIAN_OVERRIDES, &tctx)?;
    if !overrides.trim().is_empty() {
        files.push(PayloadFile::new(
            format!("/usr/share/lintian/overrides/{}", p.name),
            overrides.into_bytes(),
            0o644,
        ));
    }
    tctx.installed_size = installed_size_kib(&files);
    let control = template::render(root, template::DEB_CONTROL, &tctx)?;
    let bytes = DebFile {
        control: &control,
        files: &files,
        mtime: ctx.git.source_date_epoch,
    }
    .to_bytes()?;
    let name = format!("{}_{}_{}.deb", p.name, tctx.version, tctx.architecture);
    std::fs::create_dir_all(&ctx.options.out_dir)?;
    let path = ctx.options.out_dir.join(&name);
    std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
    ctx.artifacts.add(package_file(
        ArtifactKind::Deb,
        name,
        path,
        Some(p.target.triple.to_owned()),
        &p.variant,
        p.target.platform,
    )?);
    Ok(())
}
