//! The resource declarations of an environment file, one struct per type. Every type also
//! takes the common fields `roles`, `notify` and `after` (added by `resource_spec!`).

use serde::{Deserialize, Serialize};

/// Declares a resource's parameters plus the fields every resource has.
macro_rules! resource_spec {
    ($(#[$meta:meta])* pub struct $name:ident { $($(#[$fmeta:meta])* pub $field:ident : $ty:ty,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $($(#[$fmeta])* pub $field: $ty,)*
            /// Apply only on hosts in one of these roles (every host when empty).
            #[serde(default)]
            pub roles: Vec<String>,
            /// Handlers to run (once, after the step's resources) when this resource changes.
            #[serde(default)]
            pub notify: Vec<String>,
            /// Resources (by id, e.g. "package:nginx") that must be applied before this one.
            #[serde(default)]
            pub after: Vec<String>,
        }
    };
}

/// A declared resource, tagged by `type`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum ResourceSpec {
    File(FileSpec),
    Directory(DirectorySpec),
    Symlink(SymlinkSpec),
    Template(TemplateSpec),
    Command(CommandSpec),
    Package(PackageSpec),
    Service(ServiceSpec),
    User(UserSpec),
    Group(GroupSpec),
}

resource_spec! {
    /// A regular file with exact content.
    pub struct FileSpec {
        pub path: String,
        /// The content, inline.
        #[serde(default)]
        pub content: Option<String>,
        /// Or: a local file (relative to the environment file) whose bytes are the content.
        #[serde(default)]
        pub source: Option<String>,
        /// Octal mode such as "0644"; a new file gets 0644, an existing one keeps its mode.
        #[serde(default)]
        pub mode: Option<String>,
        /// Owner (user name or uid); unmanaged when absent.
        #[serde(default)]
        pub owner: Option<String>,
        /// Group (name or gid); unmanaged when absent.
        #[serde(default)]
        pub group: Option<String>,
    }
}

resource_spec! {
    /// A directory; missing parents are created.
    pub struct DirectorySpec {
        pub path: String,
        /// Octal mode such as "0755"; a new directory gets 0755.
        #[serde(default)]
        pub mode: Option<String>,
        #[serde(default)]
        pub owner: Option<String>,
        #[serde(default)]
        pub group: Option<String>,
    }
}

resource_spec! {
    /// A symbolic link at `path` pointing to `target`.
    pub struct SymlinkSpec {
        pub path: String,
        pub target: String,
    }
}

resource_spec! {
    /// A file rendered with minijinja from the environment's, host's and facts' variables.
    pub struct TemplateSpec {
        pub path: String,
        /// The template text, inline.
        #[serde(default)]
        pub template: Option<String>,
        /// Or: a local template file, relative to the environment file.
        #[serde(default)]
        pub source: Option<String>,
        #[serde(default)]
        pub mode: Option<String>,
        #[serde(default)]
        pub owner: Option<String>,
        #[serde(default)]
        pub group: Option<String>,
    }
}

resource_spec! {
    /// A shell command, made idempotent by its guards.
    pub struct CommandSpec {
        /// A short name for plans, results and `after`; defaults to the command itself.
        #[serde(default)]
        pub name: Option<String>,
        pub command: String,
        /// Skip when this path exists on the host.
        #[serde(default)]
        pub creates: Option<String>,
        /// Skip when this command exits 0 on the host.
        #[serde(default)]
        pub unless: Option<String>,
        /// Run only when this command exits 0 on the host.
        #[serde(default)]
        pub only_if: Option<String>,
    }
}

resource_spec! {
    /// A system package, installed with the host's package manager (apt, dnf, apk or pkg).
    pub struct PackageSpec {
        pub name: String,
        /// `present` (default) or `absent`.
        #[serde(default)]
        pub state: Presence,
    }
}

resource_spec! {
    /// A system service (systemd, or FreeBSD rc).
    pub struct ServiceSpec {
        pub name: String,
        /// Start at boot.
        #[serde(default)]
        pub enabled: Option<bool>,
        /// `started` or `stopped`; unmanaged when absent.
        #[serde(default)]
        pub state: Option<ServiceState>,
    }
}

resource_spec! {
    /// A local user account.
    pub struct UserSpec {
        pub name: String,
        #[serde(default)]
        pub uid: Option<u32>,
        /// Primary group.
        #[serde(default)]
        pub group: Option<String>,
        #[serde(default)]
        pub home: Option<String>,
        #[serde(default)]
        pub shell: Option<String>,
        /// A system account (no aging, low uid).
        #[serde(default)]
        pub system: bool,
        #[serde(default)]
        pub state: Presence,
    }
}

resource_spec! {
    /// A local group.
    pub struct GroupSpec {
        pub name: String,
        #[serde(default)]
        pub gid: Option<u32>,
        #[serde(default)]
        pub system: bool,
        #[serde(default)]
        pub state: Presence,
    }
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Presence {
    #[default]
    Present,
    Absent,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ServiceState {
    Started,
    Stopped,
}

/// The fields every resource has, whatever its type.
pub struct Common<'a> {
    pub roles: &'a [String],
    pub notify: &'a [String],
    pub after: &'a [String],
}

impl ResourceSpec {
    pub fn common(&self) -> Common<'_> {
        macro_rules! common {
            ($s:expr) => {
                Common {
                    roles: &$s.roles,
                    notify: &$s.notify,
                    after: &$s.after,
                }
            };
        }
        match self {
            ResourceSpec::File(s) => common!(s),
            ResourceSpec::Directory(s) => common!(s),
            ResourceSpec::Symlink(s) => common!(s),
            ResourceSpec::Template(s) => common!(s),
            ResourceSpec::Command(s) => common!(s),
            ResourceSpec::Package(s) => common!(s),
            ResourceSpec::Service(s) => common!(s),
            ResourceSpec::User(s) => common!(s),
            ResourceSpec::Group(s) => common!(s),
        }
    }

    pub fn roles(&self) -> &[String] {
        self.common().roles
    }

    /// The object this declares, as `type:identity`; two declarations with one id are one object.
    pub fn id(&self) -> String {
        match self {
            ResourceSpec::File(s) => format!("file:{}", s.path),
            ResourceSpec::Directory(s) => format!("directory:{}", normalise_dir(&s.path)),
            ResourceSpec::Symlink(s) => format!("symlink:{}", s.path),
            ResourceSpec::Template(s) => format!("template:{}", s.path),
            ResourceSpec::Command(s) => {
                format!("command:{}", s.name.as_deref().unwrap_or(&s.command))
            }
            ResourceSpec::Package(s) => format!("package:{}", s.name),
            ResourceSpec::Service(s) => format!("service:{}", s.name),
            ResourceSpec::User(s) => format!("user:{}", s.name),
            ResourceSpec::Group(s) => format!("group:{}", s.name),
        }
    }
}

pub fn normalise_dir(path: &str) -> &str {
    match path.trim_end_matches('/') {
        "" => "/",
        p => p,
    }
}
