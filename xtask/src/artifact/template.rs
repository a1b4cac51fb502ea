//! Templates are real files in the repository, rendered with minijinja; their ids (paths
//! relative to the repository root) are the named constants below, so a renamed file is a
//! compile-time search away.
//!
//! Undefined variables are errors: a typo in a template must fail the release, not ship an
//! installer with an empty URL in it.

use std::path::Path;

use anyhow::Context;
use serde::Serialize;

pub const INSTALL_SH: &str = "installers/install.sh.j2";
pub const DEB_CONTROL: &str = "packaging/deb/control.j2";
pub const DEB_COPYRIGHT: &str = "packaging/deb/copyright.j2";
pub const DEB_CHANGELOG: &str = "packaging/deb/changelog.j2";
pub const DEB_LINTIAN_OVERRIDES: &str = "packaging/deb/lintian-overrides.j2";
pub const INSTALL_PS1: &str = "installers/install.ps1.j2";
pub const MSI_WXS: &str = "packaging/msi/ferry.wxs.j2";
pub const RPM_METADATA: &str = "packaging/rpm/metadata.toml.j2";

/// Renders the template `id` (a path under `root`) with `ctx`.
pub fn render(root: &Path, id: &str, ctx: impl Serialize) -> anyhow::Result<String> {
    let path = root.join(id);
    let source = std::fs::read_to_string(&path)
        .with_context(|| format!("reading template {}", path.display()))?;
    render_str(id, &source, ctx)
}

pub fn render_str(id: &str, source: &str, ctx: impl Serialize) -> anyhow::Result<String> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.set_keep_trailing_newline(true);
    // Templates for shell, PowerShell, TOML and XML: no HTML escaping anywhere.
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    // JSON strings and arrays are also valid TOML, PowerShell-safe double-quoted strings aside;
    // minijinja's own `tojson` needs a cargo feature that brings nothing else we use.
    env.add_filter("tojson", |v: minijinja::Value| {
        serde_json::to_string(&v).map_err(|e| {
            minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e.to_string())
        })
    });
    let tmpl = env
        .template_from_named_str(id, source)
        .with_context(|| format!("parsing template {id}"))?;
    tmpl.render(ctx)
        .map_err(|e| anyhow::anyhow!("rendering template {id}: {e:#}"))
}
