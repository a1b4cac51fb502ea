//! Minisign keys: loading the secret key from the environment, checking it against the
//! committed public key, and signing. The secret key and its password are never printed.

use std::path::Path;

use anyhow::{bail, Context};

/// The whole secret key file's text (what `minisign -G` writes), e.g. from a CI secret.
pub const ENV_KEY: &str = "FERRY_MINISIGN_KEY";
/// A path to the secret key file, when the key is not in the environment itself.
pub const ENV_KEY_FILE: &str = "FERRY_MINISIGN_KEY_FILE";
/// The secret key's password; unset or empty for an unencrypted key.
pub const ENV_PASSWORD: &str = "FERRY_MINISIGN_PASSWORD";

pub struct Signer {
    sk: minisign::SecretKey,
    pk: minisign::PublicKey,
}

impl Signer {
    /// Loads the secret key and checks that it pairs with `public_key_path`, so a release is
    /// never signed with a key users can't verify.
    pub fn from_env(public_key_path: &Path) -> anyhow::Result<Self> {
        let text = match (std::env::var(ENV_KEY), std::env::var_os(ENV_KEY_FILE)) {
            (Ok(k), _) if !k.trim().is_empty() => k,
            (_, Some(path)) => std::fs::read_to_string(&path)
                .with_context(|| format!("reading the secret key from {ENV_KEY_FILE}={}", Path::new(&path).display()))?,
            _ => bail!(
                "no signing key: set {ENV_KEY} (the key file's text) or {ENV_KEY_FILE} (its path), and {ENV_PASSWORD} if it has one; or pass --no-sign for an unsigned local build"
            ),
        };
        let sk_box = minisign::SecretKeyBox::from_string(&text)
            .map_err(|e| anyhow::anyhow!("the signing key is not a minisign secret key: {e}"))?;
        let password = std::env::var(ENV_PASSWORD).ok().filter(|p| !p.is_empty());
        let sk = match password {
            Some(pw) => sk_box.into_secret_key(Some(pw)),
            None => sk_box.into_unencrypted_secret_key(),
        }
        .map_err(|e| {
            anyhow::anyhow!("cannot open the signing key (wrong or missing {ENV_PASSWORD}?): {e}")
        })?;
        let pk = minisign::PublicKey::from_secret_key(&sk)
            .map_err(|e| anyhow::anyhow!("deriving the public key: {e}"))?;
        let committed = load_public_key(public_key_path)?;
        if committed.to_base64() != pk.to_base64() {
            bail!(
                "the signing key does not match the public key in {}; users verify with that file, so sign with its secret key or pass --public-key",
                public_key_path.display()
            );
        }
        Ok(Self { sk, pk })
    }

    /// The public key (base64 line), which installers embed to verify downloads.
    pub fn public_key_base64(&self) -> String {
        self.pk.to_base64()
    }

    /// Signs a file; the trusted comment names the file so a signature can't be moved to another.
    pub fn sign_file(&self, path: &Path, trusted_comment: &str) -> anyhow::Result<String> {
        let f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let sig = minisign::sign(
            Some(&self.pk),
            &self.sk,
            std::io::BufReader::new(f),
            Some(trusted_comment),
            Some("signature from the ferry release key"),
        )
        .map_err(|e| anyhow::anyhow!("signing {}: {e}", path.display()))?;
        Ok(sig.into_string())
    }
}

pub fn load_public_key(path: &Path) -> anyhow::Result<minisign::PublicKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the public key {}", path.display()))?;
    let pk = minisign::PublicKeyBox::from_string(&text)
        .and_then(|b| b.into_public_key())
        .or_else(|_| minisign::PublicKey::from_base64(text.trim()))
        .map_err(|e| anyhow::anyhow!("{} is not a minisign public key: {e}", path.display()))?;
    Ok(pk)
}
