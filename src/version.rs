//! What this binary is: version, variant, target and commit, fixed at build time.

use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct BuildInfo {
    pub name: &'static str,
    pub version: &'static str,
    pub variant: &'static str,
    pub target: &'static str,
    pub commit: &'static str,
}

/// The variant is decided by cargo features; `complete` wins when both are enabled
/// (features are additive, so `--all-features` builds the complete binary).
pub const VARIANT: &str = if cfg!(feature = "complete") {
    "complete"
} else {
    "minimal"
};

pub fn build_info() -> BuildInfo {
    BuildInfo {
        name: env!("CARGO_PKG_NAME"),
        version: env!("CARGO_PKG_VERSION"),
        variant: VARIANT,
        target: env!("FERRY_TARGET"),
        commit: env!("FERRY_COMMIT"),
    }
}

impl std::fmt::Display for BuildInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} ({}, {}, commit {})",
            self.name, self.version, self.variant, self.target, self.commit
        )
    }
}
