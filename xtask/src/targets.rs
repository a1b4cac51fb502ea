//! The target table: what the pipeline knows about each supported target triple.
//!
//! One row per triple: the platform name used in file names, the OS family (archive formats,
//! `.exe`), the linker it needs and how a built binary can be checked on this machine.
//! Adding a target is adding a row here and a line in `dist-workspace.toml`.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Os {
    Linux,
    Macos,
    Windows,
    Freebsd,
}

/// How the final link happens; decides `cargo build` vs `cargo zigbuild` (see CROSS.md recipe).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Linker {
    /// The host's own toolchain (native build).
    Native,
    /// A Debian cross gcc, named here, passed as `CARGO_TARGET_<T>_LINKER`.
    Gcc(&'static str),
    /// zig through `cargo zigbuild`: it brings libc/crt objects for musl, macOS and FreeBSD.
    Zig,
}

#[derive(Debug, Clone, Copy)]
pub struct TargetInfo {
    pub triple: &'static str,
    /// `ferry-{version}-{platform}-{variant}`: the static (musl) Linux builds take the plain
    /// `linux-*` names because they run on any distribution; the glibc ones say `-gnu`.
    pub platform: &'static str,
    pub os: Os,
    pub arch: &'static str,
    pub linker: Linker,
    /// With a std built from source, rustc has no self-contained crt objects for these targets,
    /// so the linker driver must supply them (`-C link-self-contained=no`).
    pub build_std_no_self_contained: bool,
}

const TARGETS: &[TargetInfo] = &[
    TargetInfo {
        triple: "x86_64-unknown-linux-gnu",
        platform: "linux-amd64-gnu",
        os: Os::Linux,
        arch: "x86_64",
        linker: Linker::Native,
        build_std_no_self_contained: false,
    },
    TargetInfo {
        triple: "x86_64-unknown-linux-musl",
        platform: "linux-amd64",
        os: Os::Linux,
        arch: "x86_64",
        linker: Linker::Zig,
        build_std_no_self_contained: true,
    },
    TargetInfo {
        triple: "aarch64-unknown-linux-gnu",
        platform: "linux-arm64-gnu",
        os: Os::Linux,
        arch: "aarch64",
        linker: Linker::Gcc("aarch64-linux-gnu-gcc"),
        build_std_no_self_contained: false,
    },
    TargetInfo {
        triple: "aarch64-unknown-linux-musl",
        platform: "linux-arm64",
        os: Os::Linux,
        arch: "aarch64",
        linker: Linker::Zig,
        build_std_no_self_contained: true,
    },
    TargetInfo {
        triple: "x86_64-apple-darwin",
        platform: "macos-amd64",
        os: Os::Macos,
        arch: "x86_64",
        linker: Linker::Zig,
        build_std_no_self_contained: false,
    },
    TargetInfo {
        triple: "aarch64-apple-darwin",
        platform: "macos-arm64",
        os: Os::Macos,
        arch: "aarch64",
        linker: Linker::Zig,
        build_std_no_self_contained: false,
    },
    TargetInfo {
        triple: "x86_64-pc-windows-gnu",
        platform: "windows-amd64",
        os: Os::Windows,
        arch: "x86_64",
        linker: Linker::Gcc("x86_64-w64-mingw32-gcc"),
        build_std_no_self_contained: true,
    },
    TargetInfo {
        triple: "x86_64-unknown-freebsd",
        platform: "freebsd-amd64",
        os: Os::Freebsd,
        arch: "x86_64",
        linker: Linker::Zig,
        build_std_no_self_contained: false,
    },
];

/// The triple this xtask was compiled for, i.e. the machine it runs on.
pub fn host_triple() -> &'static str {
    // Set by xtask's build script from cargo's TARGET.
    env!("XTASK_HOST_TARGET")
}

impl TargetInfo {
    pub fn all() -> impl Iterator<Item = &'static TargetInfo> {
        TARGETS.iter()
    }

    pub fn lookup(triple: &str) -> Option<&'static TargetInfo> {
        TARGETS.iter().find(|t| t.triple == triple)
    }

    pub fn exe_suffix(&self) -> &'static str {
        if self.os == Os::Windows {
            ".exe"
        } else {
            ""
        }
    }

    pub fn is_host(&self) -> bool {
        self.triple == host_triple()
    }

    /// The linker actually needed from here: a native build needs none even if the row says
    /// otherwise (e.g. building aarch64-gnu on an aarch64 machine).
    pub fn linker_from_host(&self) -> Linker {
        if self.is_host() {
            Linker::Native
        } else if self.linker == Linker::Native {
            // A gnu triple for another arch than ours: fall back to zig, which links anything.
            Linker::Zig
        } else {
            self.linker
        }
    }
}
