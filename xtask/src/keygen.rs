//! `cargo xtask keygen`: a new minisign key pair. The public key goes to the path the config
//! names (committed); the secret key goes where you say, never into the repository.

use std::path::PathBuf;

use anyhow::{bail, Context};

use crate::sign::ENV_PASSWORD;

#[derive(Debug, clap::Args)]
pub struct KeygenArgs {
    /// Where to write the secret key (keep it out of the repository).
    #[arg(long)]
    secret_key: PathBuf,
    /// Where to write the public key. Default: `ferry.signing-public-key`.
    #[arg(long)]
    public_key: Option<PathBuf>,
    /// Overwrite existing files.
    #[arg(long)]
    force: bool,
}

pub fn run(args: &KeygenArgs) -> anyhow::Result<()> {
    let root = crate::dist::project_root();
    let ws = crate::config::DistWorkspace::load(&root)?;
    let public = args
        .public_key
        .clone()
        .unwrap_or_else(|| root.join(&ws.ferry.signing_public_key));
    for p in [&args.secret_key, &public] {
        if p.exists() && !args.force {
            bail!("{} exists; pass --force to replace it", p.display());
        }
    }
    if args.secret_key.starts_with(&root)
        || std::path::absolute(&args.secret_key)?.starts_with(&root)
    {
        bail!(
            "the secret key must live outside the repository ({})",
            root.display()
        );
    }
    let password = std::env::var(ENV_PASSWORD).ok().filter(|p| !p.is_empty());
    let kp = match password {
        Some(pw) => minisign::KeyPair::generate_encrypted_keypair(Some(pw)),
        None => {
            eprintln!("warning: {ENV_PASSWORD} is not set, so the secret key is not encrypted");
            minisign::KeyPair::generate_unencrypted_keypair()
        }
    }
    .map_err(|e| anyhow::anyhow!("generating a key pair: {e}"))?;
    let sk = kp
        .sk
        .to_box(None)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .into_string();
    let pk = kp
        .pk
        .to_box()
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .into_string();
    if let Some(dir) = args.secret_key.parent() {
        std::fs::create_dir_all(dir)?;
    }
    write_private(&args.secret_key, &sk)?;
    std::fs::write(&public, pk).with_context(|| format!("writing {}", public.display()))?;
    eprintln!(
        "wrote {} (public) and {} (secret)",
        public.display(),
        args.secret_key.display()
    );
    Ok(())
}

fn write_private(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .with_context(|| format!("writing {}", path.display()))
}
