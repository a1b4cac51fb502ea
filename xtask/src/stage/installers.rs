//! installers: `install.sh` (and `install.ps1`) rendered for this release, and `latest.json`,
//! the signed pointer to this release that installers resolve "latest" with (see
//! `artifact/installer.rs`). They sit after the packages so that they could list them, and
//! before checksums and signatures, which cover them.

use anyhow::Context;

use crate::artifact::installer::{release_base, InstallerContext, LatestPointer};
use crate::artifact::template;
use crate::context::{release_file, rfc3339, ArtifactKind, ReleaseContext};
use crate::pipeline::Stage;

pub struct Installers;

pub const LATEST_FILE: &str = "latest.json";

/// (template, output file name).
const RENDERED: &[(&str, &str)] = &[
    (template::INSTALL_SH, "install.sh"),
    (template::INSTALL_PS1, "install.ps1"),
];

impl Stage for Installers {
    fn name(&self) -> &'static str {
        "installers"
    }

    fn skip(&self, ctx: &ReleaseContext) -> Option<String> {
        ctx.plan
            .archives
            .is_empty()
            .then(|| "no archive to install from".to_owned())
    }

    fn run(&self, ctx: &mut ReleaseContext) -> anyhow::Result<()> {
        std::fs::create_dir_all(&ctx.options.out_dir)?;
        let tctx = InstallerContext {
            app: &ctx.config.binary,
            version: &ctx.version,
            release_base: release_base(&ctx.config.package.homepage),
            public_key: ctx
                .options
                .signer
                .as_ref()
                .map(|s| s.public_key_base64())
                .unwrap_or_default(),
        };
        for (tmpl, file) in RENDERED {
            let text = template::render(&ctx.options.root, tmpl, &tctx)?;
            add(ctx, ArtifactKind::Installer, file, text.as_bytes(), true)?;
        }
        let latest = LatestPointer {
            app: &ctx.config.binary,
            version: &ctx.version,
            tag: format!("v{}", ctx.version),
            date: rfc3339(ctx.git.source_date_epoch),
        };
        add(
            ctx,
            ArtifactKind::LatestPointer,
            LATEST_FILE,
            latest.to_json().as_bytes(),
            false,
        )
    }
}

fn add(
    ctx: &ReleaseContext,
    kind: ArtifactKind,
    name: &str,
    bytes: &[u8],
    #[cfg_attr(not(unix), allow(unused_variables))] executable: bool,
) -> anyhow::Result<()> {
    let path = ctx.options.out_dir.join(name);
    std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
    #[cfg(unix)]
    if executable {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
    }
    ctx.artifacts.add(release_file(kind, name, path)?);
    Ok(())
}
