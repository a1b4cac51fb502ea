//! Finding third-party tools: PATH plus the directory `cargo xtask setup` fills.

use std::path::PathBuf;

/// Where `setup` puts its shims (zig, rust-objcopy, dist); outside the clone on purpose.
pub fn xcross_bin() -> PathBuf {
    let base = std::env::var_os("XCROSS_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_default();
            home.join(".local/share/xcross")
        });
    base.join("bin")
}

/// PATH with setup's shim directory and cargo's bin directory in front, for child processes.
pub fn path_env() -> std::ffi::OsString {
    let mut dirs = vec![xcross_bin()];
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".cargo/bin"));
    }
    if let Some(p) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&p));
    }
    std::env::join_paths(dirs).unwrap_or_default()
}

/// Full path of a tool on the extended PATH.
pub fn find(tool: &str) -> Option<PathBuf> {
    std::env::split_paths(&path_env())
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

pub fn exists(tool: &str) -> bool {
    find(tool).is_some()
}
