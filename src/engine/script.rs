//! The shell text shared by explore and apply scripts: the prelude of helper functions
//! (portable across GNU, BSD and busybox userlands) and the environment exported to
//! user commands. Values enter scripts only through [`sh_quote`].

use std::collections::BTreeMap;

pub use crate::transport::sh_quote;

/// Helper functions every generated script starts with.
///
/// `_probe PATH` prints `KIND MODE UID GID SHA256` for a path (`-` where not applicable);
/// this exact line is the token the apply script compares before it replaces anything.
pub const PRELUDE: &str = r#"set -u
umask 022
if stat -c %a / >/dev/null 2>&1; then
  _st() { stat -c '%a %u %g' -- "$1"; }
  _st_all() { stat -c '%a %u %g' -- "$@"; }
else
  _st() { stat -f '%Lp %u %g' "$1"; }
  _st_all() { stat -f '%Lp %u %g' "$@"; }
fi
# `_sha_all` prints one line per file, the digest first (GNU prefixes a `\` when the name
# needs escaping; readers strip it).
if command -v sha256sum >/dev/null 2>&1; then
  _sha() { sha256sum < "$1" | cut -d ' ' -f 1; }
  _sha_all() { sha256sum -- "$@"; }
elif command -v sha256 >/dev/null 2>&1; then
  _sha() { sha256 -q < "$1"; }
  _sha_all() { sha256 -q "$@"; }
else
  _sha() { shasum -a 256 < "$1" | cut -d ' ' -f 1; }
  _sha_all() { shasum -a 256 "$@"; }
fi
_probe() {
  if [ -L "$1" ]; then printf 'link %s -\n' "$(_st "$1")"
  elif [ -f "$1" ]; then printf 'file %s %s\n' "$(_st "$1")" "$(_sha "$1")"
  elif [ -d "$1" ]; then printf 'dir %s -\n' "$(_st "$1")"
  elif [ -e "$1" ]; then printf 'other %s -\n' "$(_st "$1")"
  else printf 'absent - - - -\n'; fi
}
# Users and groups by name or number, from the files every Unix has.
_uid_of() { case "$1" in *[!0-9]*) id -u "$1" 2>/dev/null;; *) echo "$1";; esac; }
_gid_of() { case "$1" in *[!0-9]*) awk -F: -v g="$1" '$1 == g { print $3 }' /etc/group;; *) echo "$1";; esac; }
_pkg_installed() {
  if command -v dpkg-query >/dev/null 2>&1; then dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'
  elif command -v rpm >/dev/null 2>&1; then rpm -q "$1" >/dev/null 2>&1
  elif command -v apk >/dev/null 2>&1; then apk info -e "$1" >/dev/null 2>&1
  elif command -v pkg >/dev/null 2>&1; then pkg info -e "$1" >/dev/null 2>&1
  else return 2; fi
}
_svc_enabled() {
  if command -v systemctl >/dev/null 2>&1; then systemctl is-enabled --quiet "$1" 2>/dev/null
  else service "$1" enabled >/dev/null 2>&1; fi
}
_svc_active() {
  if command -v systemctl >/dev/null 2>&1; then systemctl is-active --quiet "$1" 2>/dev/null
  else service "$1" status >/dev/null 2>&1; fi
}
_blob() { printf '%s %s\n' "$1" "$(wc -c < "$2" | tr -d ' ')"; cat "$2"; printf '\n'; }
"#;

/// `export` lines for secrets, sent on stdin (explore) or in the payload (apply).
pub fn secret_exports(secrets: &BTreeMap<String, String>) -> String {
    secrets
        .iter()
        .map(|(name, value)| {
            format!(
                "export FERRY_SECRET_{}={}\n",
                name.to_ascii_uppercase(),
                sh_quote(value)
            )
        })
        .collect()
}

/// `export` lines for what user commands may read: FERRY_ENV, FERRY_HOST and every
/// variable as FERRY_VAR_<NAME> (host variables override environment ones).
pub fn exports(env: &str, host: &str, vars: &BTreeMap<String, toml::Value>) -> String {
    let mut out = format!(
        "export FERRY_ENV={} FERRY_HOST={}\n",
        sh_quote(env),
        sh_quote(host)
    );
    for (name, value) in vars {
        let text = match value {
            toml::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        out.push_str(&format!(
            "export FERRY_VAR_{}={}\n",
            name.to_ascii_uppercase(),
            sh_quote(&text)
        ));
    }
    out
}
