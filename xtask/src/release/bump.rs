//! The version bump: every Cargo.toml that carries the released version, and Cargo.lock.
//!
//! toml_edit keeps comments and layout, so the release commit's diff is just the version lines.
//! A manifest whose version differs from the old one (xtask's `0.0.0`) is not ours to bump.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::Context;
use toml_edit::{DocumentMut, Item, Value};

/// The version the repository's Cargo.toml says (workspace package first).
pub fn current(repo: &Path) -> anyhow::Result<String> {
    let doc = read(&repo.join("Cargo.toml"))?;
    doc.get("workspace")
        .and_then(|w| w.get("package"))
        .and_then(|p| p.get("version"))
        .or_else(|| doc.get("package").and_then(|p| p.get("version")))
        .and_then(Item::as_str)
        .map(str::to_owned)
        .context("Cargo.toml has no [workspace.package] or [package] version to release")
}

/// Rewrites `old` → `new`; returns the files it changed (relative to `repo`).
pub fn apply(repo: &Path, old: &str, new: &str) -> anyhow::Result<Vec<PathBuf>> {
    let mut changed = Vec::new();
    let mut packages = BTreeSet::new();
    let root_path = repo.join("Cargo.toml");
    let mut root = read(&root_path)?;
    let mut root_changed = false;
    let mut inherits = false;
    if let Some(v) = root
        .get_mut("workspace")
        .and_then(|w| w.get_mut("package"))
        .and_then(|p| p.get_mut("version"))
    {
        if v.as_str() == Some(old) {
            *v = toml_edit::value(new);
            root_changed = true;
            inherits = true;
        }
    }
    let members: Vec<String> = root
        .get("workspace")
        .and_then(|w| w.get("members"))
        .and_then(Item::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if bump_package(&mut root, old, new, inherits, &mut packages) {
        root_changed = true;
    }
    if root_changed {
        write(&root_path, &root)?;
        changed.push(PathBuf::from("Cargo.toml"));
    }
    for m in members.iter().filter(|m| *m != ".") {
        let path = repo.join(m).join("Cargo.toml");
        if !path.exists() {
            continue;
        }
        let mut doc = read(&path)?;
        let before = packages.len();
        let changed_here = bump_package(&mut doc, old, new, inherits, &mut packages);
        if changed_here {
            write(&path, &doc)?;
            changed.push(PathBuf::from(m).join("Cargo.toml"));
        } else if packages.len() == before {
            continue;
        }
    }
    let lock_path = repo.join("Cargo.lock");
    if lock_path.exists() {
        let mut lock = read(&lock_path)?;
        let mut lock_changed = false;
        if let Some(pkgs) = lock
            .get_mut("package")
            .and_then(Item::as_array_of_tables_mut)
        {
            for p in pkgs.iter_mut() {
                let ours = p.get("source").is_none()
                    && p.get("name")
                        .and_then(Item::as_str)
                        .is_some_and(|n| packages.contains(n))
                    && p.get("version").and_then(Item::as_str) == Some(old);
                if ours {
                    p["version"] = toml_edit::value(new);
                    lock_changed = true;
                }
            }
        }
        if lock_changed {
            write(&lock_path, &lock)?;
            changed.push(PathBuf::from("Cargo.lock"));
        }
    }
    Ok(changed)
}

/// Bumps `[package].version` when it is `old`; records the package name when it carries the
/// version (literally or by `version.workspace = true`). Returns whether the file changed.
fn bump_package(
    doc: &mut DocumentMut,
    old: &str,
    new: &str,
    inherits: bool,
    packages: &mut BTreeSet<String>,
) -> bool {
    let Some(pkg) = doc.get_mut("package") else {
        return false;
    };
    let name = pkg.get("name").and_then(Item::as_str).map(str::to_owned);
    let Some(v) = pkg.get_mut("version") else {
        return false;
    };
    let workspace = v.get("workspace").and_then(Item::as_bool).unwrap_or(false)
        || v.as_inline_table()
            .and_then(|t| t.get("workspace"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
    if workspace && inherits {
        packages.extend(name);
        return false;
    }
    if v.as_str() == Some(old) {
        *v = toml_edit::value(new);
        packages.extend(name);
        return true;
    }
    false
}

fn read(path: &Path) -> anyhow::Result<DocumentMut> {
    std::fs::read_to_string(path)
        .with_context(|| format!("reading {}", path.display()))?
        .parse()
        .with_context(|| format!("parsing {}", path.display()))
}

fn write(path: &Path, doc: &DocumentMut) -> anyhow::Result<()> {
    std::fs::write(path, doc.to_string()).with_context(|| format!("writing {}", path.display()))
}
