//! Which cargo/rustc can build a target here, and how (CROSS.md's recipe, as code).
//!
//! Per target: first the std mode — std installed for the current toolchain (`rustup target
//! add`), else `-Zbuild-std` with a toolchain that has matching std sources (rustup's
//! `rust-src`, or Debian's `rustc-web` + `rust-web-src`) — then the linker (native, a cross gcc,
//! or zig through cargo-zigbuild). A target with no way to build is skipped with the reason.

use std::ffi::OsString;
use std::path::Path;

use serde::Serialize;

use crate::targets::{Linker, TargetInfo};
use crate::tools;

/// The Debian-packaged toolchain's sysroot; `setup` installs it (see `xtask/scripts/setup.sh`).
const DEBIAN_SYSROOT: &str = "/usr";
/// The name `setup` links the Debian toolchain under in rustup.
const DEBIAN_RUSTUP_NAME: &str = "debian-web";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "toolchain")]
pub enum Toolchain {
    /// The cargo running this xtask (`$CARGO`) and its rustc.
    Current,
    /// Debian's rustc through rustup (`rustup run debian-web cargo`).
    DebianRustup,
    /// Debian's rustc without rustup (`RUSTC=/usr/bin/rustc /usr/bin/cargo`).
    DebianPlain,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BuildMethod {
    #[serde(flatten)]
    pub toolchain: Toolchain,
    /// `-Zbuild-std=std,panic_abort` (std compiled from source).
    pub build_std: bool,
    pub linker: Linker,
}

/// Decides how `target` builds here, or why it can't.
pub fn method_for(target: &TargetInfo) -> Result<BuildMethod, String> {
    let linker = target.linker_from_host();
    let linker_missing = match linker {
        Linker::Native => None,
        Linker::Gcc(gcc) => (!tools::exists(gcc)).then(|| format!("linker `{gcc}` not found")),
        Linker::Zig => (!tools::exists("cargo-zigbuild") || !tools::exists("zig"))
            .then(|| "cargo-zigbuild and zig are needed to link it".to_owned()),
    };
    if let Some(why) = linker_missing {
        return Err(format!("{why}; run `cargo xtask setup`"));
    }
    let current_sysroot = rustc_print(&current_rustc(), &["--print", "sysroot"]);
    if target.is_host() || std_installed(&current_rustc(), target.triple) {
        return Ok(BuildMethod {
            toolchain: Toolchain::Current,
            build_std: false,
            linker,
        });
    }
    if let Some(sysroot) = current_sysroot {
        if has_std_sources(Path::new(&sysroot)) {
            return Ok(BuildMethod {
                toolchain: Toolchain::Current,
                build_std: true,
                linker,
            });
        }
    }
    if has_std_sources(Path::new(DEBIAN_SYSROOT)) && Path::new("/usr/bin/rustc").exists() {
        let toolchain = if rustup_has(DEBIAN_RUSTUP_NAME) {
            Toolchain::DebianRustup
        } else {
            Toolchain::DebianPlain
        };
        return Ok(BuildMethod {
            toolchain,
            build_std: true,
            linker,
        });
    }
    Err(format!(
        "no std for {} (`rustup target add {}`), and no std sources to build it from (`rustup component add rust-src`, or `cargo xtask setup` on Debian)",
        target.triple, target.triple
    ))
}

fn current_rustc() -> String {
    std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned())
}

/// `RUSTC` set to the current toolchain's own rustc binary. Cargo otherwise runs the rustup
/// proxy from each dependency's source directory, and a crate that ships a
/// `rust-toolchain.toml` (ff 0.14 pins 1.85.0) would switch the build to a toolchain that
/// may not be installed.
fn current_rustc_pinned() -> Option<(String, String)> {
    let sysroot = rustc_print(&current_rustc(), &["--print", "sysroot"])?;
    let rustc = Path::new(&sysroot)
        .join("bin")
        .join(format!("rustc{}", std::env::consts::EXE_SUFFIX));
    rustc
        .is_file()
        .then(|| ("RUSTC".to_owned(), rustc.display().to_string()))
}

fn rustc_print(rustc: &str, args: &[&str]) -> Option<String> {
    duct::cmd(rustc, args)
        .stderr_null()
        .unchecked()
        .read()
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// `rustup target add` puts `libstd-*.rlib` in the target libdir; nothing else does.
fn std_installed(rustc: &str, triple: &str) -> bool {
    let Some(libdir) = rustc_print(rustc, &["--print", "target-libdir", "--target", triple]) else {
        return false;
    };
    std::fs::read_dir(libdir)
        .map(|rd| {
            rd.flatten().any(|e| {
                let n = e.file_name();
                let n = n.to_string_lossy();
                n.starts_with("libstd-") && n.ends_with(".rlib")
            })
        })
        .unwrap_or(false)
}

fn has_std_sources(sysroot: &Path) -> bool {
    sysroot.join("lib/rustlib/src/rust/library/std").is_dir()
}

fn rustup_has(name: &str) -> bool {
    duct::cmd!("rustup", "toolchain", "list")
        .stderr_null()
        .unchecked()
        .read()
        .map(|s| s.lines().any(|l| l.split_whitespace().next() == Some(name)))
        .unwrap_or(false)
}

/// The command that runs cargo for this toolchain, with the program and leading arguments.
/// A program name, not a `Path`: duct runs a `Path` as given but looks a string up in PATH.
pub fn cargo_command(toolchain: &Toolchain) -> (OsString, Vec<String>, Vec<(String, String)>) {
    match toolchain {
        Toolchain::Current => (
            std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()),
            vec![],
            current_rustc_pinned().into_iter().collect(),
        ),
        Toolchain::DebianRustup => (
            "rustup".into(),
            vec!["run".into(), DEBIAN_RUSTUP_NAME.into(), "cargo".into()],
            vec![],
        ),
        Toolchain::DebianPlain => (
            "/usr/bin/cargo".into(),
            vec![],
            vec![
                ("RUSTC".into(), "/usr/bin/rustc".into()),
                ("RUSTDOC".into(), "/usr/bin/rustdoc".into()),
            ],
        ),
    }
}
