//! Explore: one script per host that prints its facts and the state of every object
//! the resources asked about, in a line format parsed here.
//!
//! ```text
//! F <name> <value>                 a host fact
//! P <resource> <probe> <result>    a probe's result (see `Probe`)
//! C <resource> <probe> <len>\n<len bytes>\n   a file's current content
//! ```

use std::collections::BTreeMap;

use super::script::{sh_quote, PRELUDE};

/// Files larger than this are compared by digest only: the plan says "content changed"
/// without a unified diff, and the explore output stays small.
pub const MAX_DIFF_BYTES: u64 = 256 * 1024;

/// Something a resource needs to know about the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// Type, mode, owner and digest of a path; its content too when the digest is not `want_sha256`.
    Path {
        path: String,
        want_sha256: Option<String>,
    },
    /// Whether a path exists.
    Exists(String),
    /// The exit status of a command (output discarded).
    Status(String),
    /// The first line a command prints (e.g. a uid looked up by name).
    Output(String),
}

/// The explored state of a path.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PathState {
    /// `absent`, `file`, `dir`, `link` or `other`.
    pub kind: String,
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub sha256: Option<String>,
    /// The exact probe line, compared again by the apply script before a change.
    pub token: String,
    pub content: Option<Vec<u8>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeResult {
    Path(PathState),
    Exists(bool),
    Status(i32),
    Output(String),
}

/// Everything one explore call learned.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Explored {
    pub facts: BTreeMap<String, String>,
    /// Indexed like the resources, then like each resource's probes.
    pub results: Vec<Vec<ProbeResult>>,
}

const FACTS: &str = r#"printf 'F os %s\n' "$(uname -s)"
printf 'F arch %s\n' "$(uname -m)"
printf 'F kernel %s\n' "$(uname -r)"
printf 'F hostname %s\n' "$(uname -n)"
printf 'F user %s\n' "$(id -un 2>/dev/null || echo unknown)"
printf 'F uid %s\n' "$(id -u)"
for _m in apt-get:apt dnf:dnf yum:yum apk:apk pkg:pkg; do
  if command -v "${_m%%:*}" >/dev/null 2>&1; then printf 'F pkgmgr %s\n' "${_m#*:}"; break; fi
done
if [ -d /run/systemd/system ]; then printf 'F init systemd\n'
elif [ "$(uname -s)" = FreeBSD ]; then printf 'F init rc\n'
else printf 'F init none\n'; fi
if [ "$(uname -s)" = Linux ]; then
  if ldd --version 2>&1 | grep -qi musl || [ -e /lib/ld-musl-x86_64.so.1 ] || [ -e /lib/ld-musl-aarch64.so.1 ]; then
    printf 'F libc musl\n'
  else
    printf 'F libc gnu\n'
  fi
fi
"#;

/// The explore script for `probes` (one list per resource).
pub fn script(exports: &str, probes: &[Vec<Probe>]) -> String {
    let mut s = String::from(PRELUDE);
    s.push_str(exports);
    // Secrets arrive on stdin as `export` lines, never in the script (which other users
    // of the host can see in the process list).
    s.push_str("eval \"$(cat)\"\n");
    s.push_str(FACTS);
    s.push_str(&batch_path_probes(probes));
    let mut path_index = 0;
    for (r, list) in probes.iter().enumerate() {
        for (p, probe) in list.iter().enumerate() {
            match probe {
                Probe::Path { path, want_sha256 } => {
                    let q = sh_quote(path);
                    // `_fp` reads the batched stat/digest lines in probe order, by the
                    // kind recorded when they were made, so a path that changes in between
                    // cannot shift the lines; it falls back to `_probe` (same output).
                    let k = path_index;
                    path_index += 1;
                    s.push_str(&format!("_fp {k} {q}; printf 'P {r} {p} %s\\n' \"$_r\"\n"));
                    let want = sh_quote(want_sha256.as_deref().unwrap_or("-"));
                    s.push_str(&format!(
                        "case \"$_r\" in file*) if [ \"${{_r##* }}\" != {want} ] && [ \"$(wc -c < {q})\" -le {MAX_DIFF_BYTES} ]; then _blob 'C {r} {p}' {q}; fi;; esac\n"
                    ));
                }
                Probe::Exists(path) => {
                    s.push_str(&format!("if [ -e {} ] || [ -L {0} ]; then echo 'P {r} {p} yes'; else echo 'P {r} {p} no'; fi\n", sh_quote(path)));
                }
                Probe::Output(cmd) => {
                    s.push_str(&format!("printf 'P {r} {p} %s\\n' \"$( ( {cmd}\n) </dev/null 2>/dev/null | head -n 1)\"\n"));
                }
                Probe::Status(cmd) => {
                    s.push_str(&format!(
                        "if ( {cmd}\n) </dev/null >/dev/null 2>&1; then echo 'P {r} {p} 0'; else echo \"P {r} {p} $?\"; fi\n"
                    ));
                }
            }
        }
    }
    s
}

/// One `stat` and one digest command for every path probe, instead of a few processes
/// per path: with hundreds of files, process start-up was nearly all of the explore time.
/// Their lines are read back in probe order; if a count does not match (a path changed
/// kind in between, an unreadable file), `_fast=0` sends every probe down the slow path.
fn batch_path_probes(probes: &[Vec<Probe>]) -> String {
    let paths: Vec<String> = probes
        .iter()
        .flatten()
        .filter_map(|p| match p {
            Probe::Path { path, .. } => Some(sh_quote(path)),
            _ => None,
        })
        .collect();
    // The paths appear once more here, as arguments: the script is one `sh -c` argument,
    // which Linux limits to 128 KiB, so per-path code stays as short as it was.
    let mut s = String::from(BATCH);
    if !paths.is_empty() {
        s.push_str("set --");
        for q in &paths {
            s.push(' ');
            s.push_str(q);
        }
        s.push_str("\n_batch \"$@\"\nset --\n");
    }
    s
}

/// Shell functions of the batched path probes (see `batch_path_probes`).
const BATCH: &str = r#"_fast=0
_kinds() { _i=0; for _p in "$@"; do
  if [ -L "$_p" ]; then _k=l; elif [ -f "$_p" ]; then _k=f; elif [ -d "$_p" ]; then _k=d; elif [ -e "$_p" ]; then _k=o; else _k=a; fi
  eval "_k$_i=$_k"; _i=$((_i + 1)); done; }
# _pick KINDS CMD PATH...: runs CMD on the paths of those kinds, in order; _cnt says how many.
_pick() { _w=$1; _c=$2; shift 2; _i=0; for _p in "$@"; do shift; eval "_kk=\$_k$_i"
  case " $_w " in *" $_kk "*) set -- "$@" "$_p";; esac; _i=$((_i + 1)); done
  _cnt=$#; [ $# -eq 0 ] || "$_c" "$@"; }
_batch() {
  _ex=$(mktemp -d "${TMPDIR:-/tmp}/ferry.XXXXXX") || return 0
  trap 'rm -rf "$_ex"' EXIT
  _kinds "$@"
  _pick "f d o" _st_all "$@" > "$_ex/st" 2>/dev/null; _ns=$_cnt
  _pick f _sha_all "$@" > "$_ex/sha" 2>/dev/null; _nh=$_cnt
  if [ "$(wc -l < "$_ex/st")" -eq $_ns ] && [ "$(wc -l < "$_ex/sha")" -eq $_nh ]; then
    _fast=1; exec 3< "$_ex/st" 4< "$_ex/sha"
  fi; }
_fp() { if [ $_fast = 1 ]; then eval "_kk=\$_k$1"; case $_kk in
  l) _r="link $(_st "$2") -";;
  f) read -r _s <&3; read -r _h _x <&4; _r="file $_s ${_h#\\}";;
  d) read -r _s <&3; _r="dir $_s -";;
  o) read -r _s <&3; _r="other $_s -";;
  *) _r='absent - - - -';;
  esac; else _r=$(_probe "$2"); fi; }
"#;

/// Reads the explore output back, checking that every probe answered.
/// Shell that prints each `(name, command)` fact as `F <name> <value>` (the command's first
/// line of output): in the explore script, and again at the end of the apply script.
pub fn fact_lines(commands: &[(String, String)]) -> String {
    commands
        .iter()
        .map(|(name, command)| {
            format!(
                "printf 'F {name} %s\\n' \"$( ( {command}\n) </dev/null 2>/dev/null | head -n 1)\"\n"
            )
        })
        .collect()
}

/// A fact line of either script's output: `F <name> <value>`.
pub fn fact_line(line: &str) -> Option<(&str, &str)> {
    let fact = line.strip_prefix("F ")?;
    Some(fact.split_once(' ').unwrap_or((fact, "")))
}

pub fn parse(output: &[u8], probes: &[Vec<Probe>]) -> Result<Explored, String> {
    let mut explored = Explored::default();
    let mut raw: BTreeMap<(usize, usize), String> = BTreeMap::new();
    let mut contents: BTreeMap<(usize, usize), Vec<u8>> = BTreeMap::new();
    let mut rest = output;
    while !rest.is_empty() {
        let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        let line = String::from_utf8_lossy(&rest[..end]).into_owned();
        rest = rest.get(end + 1..).unwrap_or(&[]);
        if let Some((name, value)) = fact_line(&line) {
            explored.facts.insert(name.to_owned(), value.to_owned());
            continue;
        }
        let mut parts = line.splitn(4, ' ');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some("P"), Some(r), Some(p), result) => {
                raw.insert((num(r)?, num(p)?), result.unwrap_or("").to_owned());
            }
            (Some("C"), Some(r), Some(p), Some(len)) => {
                let len: usize = num(len)?;
                if rest.len() < len + 1 {
                    return Err("the explore output ends inside a file's content".into());
                }
                contents.insert((num(r)?, num(p)?), rest[..len].to_vec());
                rest = &rest[len + 1..];
            }
            _ if line.is_empty() => {}
            _ => return Err(format!("unexpected line in the explore output: {line:?}")),
        }
    }
    for (r, list) in probes.iter().enumerate() {
        let mut results = Vec::with_capacity(list.len());
        for (p, probe) in list.iter().enumerate() {
            let Some(text) = raw.remove(&(r, p)) else {
                return Err(format!("the explore script did not report probe {p} of resource {r}; it may have been cut short"));
            };
            results.push(match probe {
                Probe::Path { .. } => {
                    ProbeResult::Path(parse_path_state(&text, contents.remove(&(r, p)))?)
                }
                Probe::Exists(_) => ProbeResult::Exists(text == "yes"),
                Probe::Status(_) => ProbeResult::Status(num(&text)?),
                Probe::Output(_) => ProbeResult::Output(text),
            });
        }
        explored.results.push(results);
    }
    Ok(explored)
}

fn num<T: std::str::FromStr>(s: &str) -> Result<T, String> {
    s.trim()
        .parse()
        .map_err(|_| format!("expected a number in the explore output, found {s:?}"))
}

pub fn parse_path_state(token: &str, content: Option<Vec<u8>>) -> Result<PathState, String> {
    let f: Vec<&str> = token.split(' ').collect();
    if f.len() != 5 {
        return Err(format!("malformed path state {token:?}"));
    }
    let opt = |s: &str| (s != "-").then(|| s.to_owned());
    Ok(PathState {
        kind: f[0].to_owned(),
        mode: opt(f[1]).and_then(|m| u32::from_str_radix(&m, 8).ok()),
        uid: opt(f[2]).and_then(|m| m.parse().ok()),
        gid: opt(f[3]).and_then(|m| m.parse().ok()),
        sha256: opt(f[4]),
        token: token.to_owned(),
        content,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_facts_probes_and_binary_content() {
        let probes = vec![
            vec![
                Probe::Path {
                    path: "/a".into(),
                    want_sha256: None,
                },
                Probe::Exists("/b".into()),
            ],
            vec![Probe::Status("true".into())],
        ];
        let mut out = b"F os Linux\nF hostname web 1\nP 0 0 file 644 0 0 abc\nC 0 0 3\na\nb\nP 0 1 no\nP 1 0 3\n".to_vec();
        out.extend_from_slice(b"");
        let e = parse(&out, &probes).unwrap();
        assert_eq!(e.facts["os"], "Linux");
        assert_eq!(e.facts["hostname"], "web 1");
        let ProbeResult::Path(st) = &e.results[0][0] else {
            panic!()
        };
        assert_eq!(
            (st.kind.as_str(), st.mode, st.sha256.as_deref()),
            ("file", Some(0o644), Some("abc"))
        );
        assert_eq!(st.content.as_deref(), Some(&b"a\nb"[..]));
        assert_eq!(e.results[0][1], ProbeResult::Exists(false));
        assert_eq!(e.results[1][0], ProbeResult::Status(3));
    }

    #[test]
    fn a_missing_probe_is_an_error() {
        let probes = vec![vec![Probe::Exists("/b".into())]];
        assert!(parse(b"F os Linux\n", &probes)
            .unwrap_err()
            .contains("did not report"));
    }
}
