//! sign: a minisign signature (`<file>.minisig`) for every shipped artifact and `SHA256SUMS`.

use anyhow::Context;

use crate::context::{ArtifactKind, ReleaseContext};
use crate::pipeline::{self, Stage};
use crate::stage::checksum::{register, SHIPPED};

pub struct Sign;

impl Stage for Sign {
    fn name(&self) -> &'static str {
        "sign"
    }

    fn skip(&self, ctx: &ReleaseContext) -> Option<String> {
        if ctx.plan.signatures.is_empty() && !ctx.plan.archives.is_empty() {
            Some("--no-sign".to_owned())
        } else if ctx.plan.archives.is_empty() {
            Some("nothing to sign".to_owned())
        } else {
            None
        }
    }

    fn run(&self, ctx: &mut ReleaseContext) -> anyhow::Result<()> {
        let signer = ctx
            .options
            .signer
            .as_ref()
            .expect("skip() checked the signer");
        let mut files: Vec<_> = SHIPPED
            .iter()
            .flat_map(|k| ctx.artifacts.of_kind(*k))
            .collect();
        files.extend(ctx.artifacts.of_kind(ArtifactKind::ChecksumFile));
        let version = &ctx.version;
        let ctx_ref: &ReleaseContext = ctx;
        pipeline::parallel(&files, ctx_ref.options.jobs, |a| {
            let comment = format!(
                "file:{} ferry {version} commit {}",
                a.name, ctx_ref.git.commit
            );
            let sig = signer.sign_file(&a.path, &comment)?;
            let path = ctx_ref.options.out_dir.join(format!("{}.minisig", a.name));
            std::fs::write(&path, sig).with_context(|| format!("writing {}", path.display()))?;
            register(ctx_ref, ArtifactKind::Signature, a, path)
        })?;
        Ok(())
    }
}
