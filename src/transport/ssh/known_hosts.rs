//! Reading and appending OpenSSH `known_hosts` files.
//!
//! Owns the matching rules (plain and hashed names, `[host]:port`, `*`/`?` wildcards,
//! `!` negation, `@revoked`); it does no I/O besides [`append`], so the verdicts are
//! unit-tested on strings. russh ships a checker too, but it splits lines on single
//! spaces and gives up on the whole file at the first key it cannot parse, which a
//! real `~/.ssh/known_hosts` with years of history easily contains.

use std::io::Write;
use std::path::Path;

use data_encoding::BASE64;
use russh::keys::{Algorithm, HashAlg, PublicKey};

/// What a known_hosts file says about the key a server offered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Verdict {
    /// A line for this name holds exactly this key.
    Known,
    /// A line for this name holds another key of the same type.
    Changed { line: usize, expected: String },
    /// The key is listed under `@revoked`.
    Revoked { line: usize },
    /// The name is listed, but only with keys of other types.
    OtherTypes { types: Vec<String> },
    /// The name is not in the file.
    Unknown,
}

/// The name OpenSSH looks up for a connection: the bare address on port 22, else `[address]:port`.
pub(super) fn lookup_name(address: &str, port: u16) -> String {
    if port == 22 {
        address.to_string()
    } else {
        format!("[{address}]:{port}")
    }
}

/// The SHA-256 fingerprint as `ssh-keygen -l` prints it.
pub(super) fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

struct Entry<'a> {
    line: usize,
    revoked: bool,
    key: PublicKey,
    patterns: &'a str,
}

/// Lines that can describe a host key, with the lines that cannot be parsed skipped,
/// as OpenSSH does. `@cert-authority` lines are skipped: Ferry does not accept host
/// certificates, so they never apply.
fn entries(contents: &str) -> impl Iterator<Item = Entry<'_>> {
    contents.lines().enumerate().filter_map(|(i, raw)| {
        let mut fields = raw.split_whitespace();
        let mut first = fields.next()?;
        if first.starts_with('#') {
            return None;
        }
        let mut revoked = false;
        if let Some(marker) = first.strip_prefix('@') {
            match marker {
                "revoked" => revoked = true,
                _ => return None,
            }
            first = fields.next()?;
        }
        let key_type = fields.next()?;
        let blob = fields.next()?;
        let key = PublicKey::from_openssh(&format!("{key_type} {blob}")).ok()?;
        Some(Entry {
            line: i + 1,
            revoked,
            key,
            patterns: first,
        })
    })
}

/// Checks `key` offered by the server known as `name` (from [`lookup_name`]).
pub(super) fn check(contents: &str, name: &str, key: &PublicKey) -> Verdict {
    let mut changed = None;
    let mut other_types = Vec::new();
    let mut known = false;
    for entry in entries(contents) {
        let same_key = entry.key.key_data() == key.key_data();
        // A revoked key is refused whatever name it is listed under, as OpenSSH does.
        if entry.revoked {
            if same_key {
                return Verdict::Revoked { line: entry.line };
            }
            continue;
        }
        if !host_matches(entry.patterns, name) {
            continue;
        }
        if same_key {
            known = true;
        } else if same_family(&entry.key.algorithm(), &key.algorithm()) {
            changed.get_or_insert((entry.line, fingerprint(&entry.key)));
        } else {
            other_types.push(entry.key.algorithm().to_string());
        }
    }
    // OpenSSH accepts a key when any line for the name holds it, even if another
    // line holds an older key of the same type.
    if known {
        return Verdict::Known;
    }
    if let Some((line, expected)) = changed {
        return Verdict::Changed { line, expected };
    }
    if !other_types.is_empty() {
        other_types.sort();
        other_types.dedup();
        return Verdict::OtherTypes { types: other_types };
    }
    Verdict::Unknown
}

/// The key types recorded for `name`, so the client can ask the server for one of
/// those first (as OpenSSH does) instead of tripping over a key type it never recorded.
pub(super) fn known_algorithms(contents: &str, name: &str) -> Vec<Algorithm> {
    entries(contents)
        .filter(|e| !e.revoked && host_matches(e.patterns, name))
        .map(|e| e.key.algorithm())
        .collect()
}

/// RSA keys are one type in known_hosts (`ssh-rsa`) whatever signature hash is negotiated.
pub(super) fn same_family(a: &Algorithm, b: &Algorithm) -> bool {
    match (a, b) {
        (Algorithm::Rsa { .. }, Algorithm::Rsa { .. }) => true,
        _ => a == b,
    }
}

/// Appends `name key` to the file, creating it (and its directory) if needed.
pub(super) fn append(path: &Path, name: &str, key: &PublicKey) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let existing = std::fs::read(path).unwrap_or_default();
    let openssh = key
        .to_openssh()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))?;
    // Only the type and the key: the comment of a server key is not worth recording.
    let mut fields = openssh.split_whitespace();
    let (Some(key_type), Some(blob)) = (fields.next(), fields.next()) else {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "the server key has no OpenSSH encoding",
        ));
    };
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let separator = if existing.is_empty() || existing.ends_with(b"\n") {
        ""
    } else {
        "\n"
    };
    writeln!(file, "{separator}{name} {key_type} {blob}")?;
    file.sync_all()
}

/// One host field of a line: a comma-separated list of patterns, or one hashed name.
/// A matching negated pattern (`!name`) wins over everything else on the line.
fn host_matches(patterns: &str, name: &str) -> bool {
    if let Some(hashed) = patterns.strip_prefix("|1|") {
        return hashed_matches(hashed, name);
    }
    let mut matched = false;
    for pattern in patterns.split(',') {
        if let Some(negated) = pattern.strip_prefix('!') {
            if glob(negated, name) {
                return false;
            }
        } else if glob(pattern, name) {
            matched = true;
        }
    }
    matched
}

/// `|1|base64(salt)|base64(HMAC-SHA1(salt, name))`, as written by `ssh-keygen -H`.
fn hashed_matches(hashed: &str, name: &str) -> bool {
    let Some((salt, hash)) = hashed.split_once('|') else {
        return false;
    };
    let (Ok(salt), Ok(hash)) = (
        BASE64.decode(salt.as_bytes()),
        BASE64.decode(hash.as_bytes()),
    ) else {
        return false;
    };
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &salt);
    ring::hmac::verify(&key, name.as_bytes(), &hash).is_ok()
}

/// OpenSSH's pattern language: `*` any run, `?` one character, case-insensitive.
fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let t: Vec<char> = text.to_lowercase().chars().collect();
    // Iterative matcher with one backtrack point: linear in practice, no recursion.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED_A: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJdD7y3aLq454yWBdwLWbieU1ebz9/cu7/QEXn9OIeZJ";
    const ED_B: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILIG2T/B0l0gaqj3puu510tu9N1OkQ4znY3LYuEm5zCF";

    fn key(s: &str) -> PublicKey {
        PublicKey::from_openssh(s).unwrap()
    }

    /// `|1|salt|hash` for `name`, computed the way `ssh-keygen -H` does.
    fn hashed(name: &str) -> String {
        let salt = [7u8; 20];
        let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &salt);
        let tag = ring::hmac::sign(&k, name.as_bytes());
        format!(
            "|1|{}|{}",
            BASE64.encode(&salt),
            BASE64.encode(tag.as_ref())
        )
    }

    #[test]
    fn lookup_name_brackets_non_default_ports() {
        assert_eq!(lookup_name("10.0.0.1", 22), "10.0.0.1");
        assert_eq!(lookup_name("10.0.0.1", 2222), "[10.0.0.1]:2222");
    }

    #[test]
    fn plain_hashed_and_bracketed_entries_match() {
        let file = format!(
            "# comment\n\nother {ED_B}\n10.0.0.1,web {ED_A}\n{} {ED_A}\n[10.0.0.3]:2222\t{ED_A} a comment\n",
            hashed("10.0.0.2")
        );
        assert_eq!(check(&file, "10.0.0.1", &key(ED_A)), Verdict::Known);
        assert_eq!(check(&file, "web", &key(ED_A)), Verdict::Known);
        assert_eq!(check(&file, "10.0.0.2", &key(ED_A)), Verdict::Known);
        assert_eq!(check(&file, "[10.0.0.3]:2222", &key(ED_A)), Verdict::Known);
        assert_eq!(check(&file, "10.0.0.3", &key(ED_A)), Verdict::Unknown);
        assert_eq!(check(&file, "10.0.0.9", &key(ED_A)), Verdict::Unknown);
    }

    #[test]
    fn a_different_key_of_the_same_type_is_a_change() {
        let file = format!(
            "garbage line\nssh-ed25519 notbase64\n{} {ED_A}\n",
            hashed("h")
        );
        assert_eq!(
            check(&file, "h", &key(ED_B)),
            Verdict::Changed {
                line: 3,
                expected: fingerprint(&key(ED_A))
            }
        );
    }

    #[test]
    fn any_matching_line_accepts() {
        let file = format!("h {ED_B}\nh {ED_A}\n");
        assert_eq!(check(&file, "h", &key(ED_A)), Verdict::Known);
    }

    #[test]
    fn revoked_keys_are_refused_under_any_name() {
        let file = format!("h {ED_A}\n@revoked * {ED_A}\n");
        assert_eq!(check(&file, "h", &key(ED_A)), Verdict::Revoked { line: 2 });
    }

    #[test]
    fn wildcards_and_negation() {
        let file = format!("*.example.org,!bad.example.org {ED_A}\n");
        assert_eq!(check(&file, "a.example.org", &key(ED_A)), Verdict::Known);
        assert_eq!(
            check(&file, "bad.example.org", &key(ED_A)),
            Verdict::Unknown
        );
        assert!(glob("10.0.0.?", "10.0.0.7"));
        assert!(!glob("10.0.0.?", "10.0.0.17"));
        assert!(glob("*", ""));
        assert!(glob("a*b*c", "aXXbYYc"));
        assert!(!glob("a*b*c", "aXXbYY"));
    }

    #[test]
    fn other_key_types_are_reported() {
        let rsa = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQC7KjylR2iBDBvXkB2zCFDQa4lYMEyPmh9aNG704fpJHzg7Alp+pmT8Y3ju/jx12Bvs1FqYIgoyIngJSt/3NxdrauvrTIBMbrI2q0mX0jEBmV1sjhnv6APtU0m8jmNArEGF8kyJYLpIszC2Nv+gkVisI/yrqGpwG0izDR5Fh3/oxQ==";
        let file = format!("h {rsa}\n");
        assert_eq!(
            check(&file, "h", &key(ED_A)),
            Verdict::OtherTypes {
                types: vec![key(rsa).algorithm().to_string()]
            }
        );
        assert!(same_family(
            &known_algorithms(&file, "h")[0],
            &Algorithm::Rsa {
                hash: Some(HashAlg::Sha512)
            }
        ));
    }

    #[test]
    fn append_creates_and_keeps_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/known_hosts");
        append(&path, "[10.0.0.1]:2222", &key(ED_A)).unwrap();
        std::fs::write(
            &path,
            format!("{}no-newline", std::fs::read_to_string(&path).unwrap()),
        )
        .unwrap();
        append(&path, "h", &key(ED_B)).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            format!("[10.0.0.1]:2222 {ED_A}\nno-newline\nh {ED_B}\n")
        );
        assert_eq!(check(&text, "h", &key(ED_B)), Verdict::Known);
    }
}
