//! Apply: one script per host that makes the planned changes, fed a tar stream with the
//! new file contents on stdin (contents never travel inside the script).
//!
//! Before replacing anything the script probes the object again and compares with the
//! state explored for the plan (a compare-and-swap on type, mode, owner and SHA-256);
//! if someone changed it in between, the object is reported as a conflict, not overwritten.
//! Writes go to a temporary file beside the target and are renamed into place.
//!
//! ```text
//! R <change> ok | unchanged | skipped | conflict <current state> | failed <reason>
//! O <change> <len>\n<len bytes>\n    output of a command
//! ```

use super::script::{sh_quote, PRELUDE};

/// One thing the apply script does; each change of the plan is one action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Replace (or create) a file with new content and mode.
    WriteFile {
        path: String,
        content: Vec<u8>,
        mode: u32,
        expect: String,
        keep_owner: Option<(u32, u32)>,
    },
    /// Create a directory (and missing parents).
    Mkdir {
        path: String,
        mode: u32,
        expect: String,
    },
    /// Change the mode of an existing path.
    Chmod {
        path: String,
        mode: u32,
        expect: String,
    },
    /// Run a command, unless its guards say it is no longer needed.
    Run {
        command: String,
        creates: Option<String>,
        unless: Option<String>,
    },
}

/// How one action went.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum Outcome {
    Ok,
    /// A guard found the work already done at apply time.
    Unchanged,
    /// Not attempted because an earlier change on the host failed.
    Skipped,
    Conflict {
        current: String,
    },
    Failed {
        reason: String,
    },
}

/// The apply script and its stdin.
pub fn build(exports: &str, actions: &[Action]) -> (String, Vec<u8>) {
    let mut s = String::from(PRELUDE);
    s.push_str(exports);
    s.push_str(
        r#"_stage=$(mktemp -d "${TMPDIR:-/tmp}/ferry.XXXXXX") || { echo 'E cannot create a staging directory'; exit 90; }
trap 'rm -rf "$_stage"' EXIT
tar -xf - -C "$_stage" || { echo 'E cannot unpack the payload'; exit 91; }
_failed=0
_fail() { printf 'R %s failed %s\n' "$1" "$2"; _failed=1; }
_cas() { _cur=$(_probe "$2"); [ "$_cur" = "$3" ] || { printf 'R %s conflict %s\n' "$1" "$_cur"; _failed=1; return 1; }; }
"#,
    );
    let mut payload = tar::Builder::new(Vec::new());
    for (i, action) in actions.iter().enumerate() {
        s.push_str("if [ $_failed = 0 ]; then\n");
        match action {
            Action::WriteFile {
                path,
                content,
                mode,
                expect,
                keep_owner,
            } => {
                add_blob(&mut payload, i, content);
                let q = sh_quote(path);
                let tmp = sh_quote(&temp_name(path));
                let chown = match keep_owner {
                    Some((u, g)) => {
                        format!(" && {{ [ \"$(id -u)\" != 0 ] || chown {u}:{g} {tmp}; }}")
                    }
                    None => String::new(),
                };
                s.push_str(&format!(
                    "if _cas {i} {q} {e}; then if cp \"$_stage/{i}\" {tmp} && chmod {mode:o} {tmp}{chown} && mv -f {tmp} {q}; then echo 'R {i} ok'; else rm -f {tmp}; _fail {i} 'cannot write the file'; fi; fi\n",
                    e = sh_quote(expect)
                ));
            }
            Action::Mkdir { path, mode, expect } => {
                let q = sh_quote(path);
                s.push_str(&format!(
                    "if _cas {i} {q} {e}; then if mkdir -p {q} && chmod {mode:o} {q}; then echo 'R {i} ok'; else _fail {i} 'cannot create the directory'; fi; fi\n",
                    e = sh_quote(expect)
                ));
            }
            Action::Chmod { path, mode, expect } => {
                let q = sh_quote(path);
                s.push_str(&format!(
                    "if _cas {i} {q} {e}; then if chmod {mode:o} {q}; then echo 'R {i} ok'; else _fail {i} 'cannot change the mode'; fi; fi\n",
                    e = sh_quote(expect)
                ));
            }
            Action::Run {
                command,
                creates,
                unless,
            } => {
                let mut guard = String::from("false");
                if let Some(p) = creates {
                    guard = format!("[ -e {} ]", sh_quote(p));
                }
                if let Some(u) = unless {
                    guard = format!("{guard} || ( {u}\n) </dev/null >/dev/null 2>&1");
                }
                s.push_str(&format!(
                    "if {guard}; then echo 'R {i} unchanged'; else\n  if ( {command}\n  ) </dev/null >\"$_stage/out\" 2>&1; then echo 'R {i} ok'; else _fail {i} \"exit status $?\"; fi\n  _blob 'O {i}' \"$_stage/out\"\nfi\n"
                ));
            }
        }
        s.push_str(&format!("else echo 'R {i} skipped'; fi\n"));
    }
    let payload = payload
        .into_inner()
        .expect("writing a tar to memory cannot fail; this is a bug");
    (s, payload)
}

fn add_blob(builder: &mut tar::Builder<Vec<u8>>, index: usize, content: &[u8]) {
    let mut header = tar::Header::new_ustar();
    header.set_size(content.len() as u64);
    header.set_mode(0o600);
    header.set_mtime(0);
    header.set_cksum();
    builder
        .append_data(&mut header, index.to_string(), content)
        .expect("writing a tar to memory cannot fail; this is a bug");
}

/// A temporary name in the target's own directory, so the final rename stays on one filesystem.
fn temp_name(path: &str) -> String {
    let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
    format!("{dir}/.{name}.ferry-tmp")
}

/// Per-action outcomes and command output, in action order.
/// One action's outcome and, for commands, what it printed.
pub type ActionResult = (Outcome, Option<Vec<u8>>);

pub fn parse(output: &[u8], count: usize) -> Result<Vec<ActionResult>, String> {
    let mut outcomes: Vec<Option<Outcome>> = vec![None; count];
    let mut outputs: Vec<Option<Vec<u8>>> = vec![None; count];
    let mut rest = output;
    while !rest.is_empty() {
        let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        let line = String::from_utf8_lossy(&rest[..end]).into_owned();
        rest = rest.get(end + 1..).unwrap_or(&[]);
        let mut parts = line.splitn(3, ' ');
        match (parts.next(), parts.next(), parts.next()) {
            (Some("R"), Some(i), status) => {
                let i: usize = i
                    .parse()
                    .map_err(|_| format!("malformed result line {line:?}"))?;
                let status = status.unwrap_or("");
                let (word, detail) = status.split_once(' ').unwrap_or((status, ""));
                let outcome = match word {
                    "ok" => Outcome::Ok,
                    "unchanged" => Outcome::Unchanged,
                    "skipped" => Outcome::Skipped,
                    "conflict" => Outcome::Conflict {
                        current: detail.to_owned(),
                    },
                    "failed" => Outcome::Failed {
                        reason: detail.to_owned(),
                    },
                    _ => return Err(format!("malformed result line {line:?}")),
                };
                *outcomes
                    .get_mut(i)
                    .ok_or_else(|| format!("result for unknown change {i}"))? = Some(outcome);
            }
            (Some("O"), Some(i), Some(len)) => {
                let i: usize = i
                    .parse()
                    .map_err(|_| format!("malformed output line {line:?}"))?;
                let len: usize = len
                    .parse()
                    .map_err(|_| format!("malformed output line {line:?}"))?;
                if rest.len() < len + 1 {
                    return Err("the apply output ends inside a command's output".into());
                }
                *outputs
                    .get_mut(i)
                    .ok_or_else(|| format!("output for unknown change {i}"))? =
                    Some(rest[..len].to_vec());
                rest = &rest[len + 1..];
            }
            (Some("E"), _, _) => return Err(line[2..].to_owned()),
            _ if line.is_empty() => {}
            _ => return Err(format!("unexpected line in the apply output: {line:?}")),
        }
    }
    outcomes
        .into_iter()
        .zip(outputs)
        .enumerate()
        .map(|(i, (o, out))| {
            o.map(|o| (o, out))
                .ok_or_else(|| format!("the apply script stopped before change {i}"))
        })
        .collect()
}
