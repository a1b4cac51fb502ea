//! Apply: one script per host that makes the planned changes, fed a tar stream with the
//! new file contents (and the secrets) on stdin — contents never travel inside the script.
//!
//! Before replacing anything the script probes the object again and compares with the
//! state explored for the plan (a compare-and-swap on type, mode, owner and SHA-256);
//! if someone changed it in between, the object is reported as a conflict, not overwritten.
//! Writes go to a temporary file beside the target and are renamed into place. Consecutive
//! file writes are batched: files that share a directory, mode and owner are copied into one
//! temporary directory beside their targets and renamed into place by one `mv`, so a few
//! processes run per directory instead of several per file (within such a run, which group
//! is renamed first is not the declaration order; a failed group skips the groups after it).
//! Handlers run last, once each,
//! when a change that notifies them went through.
//!
//! ```text
//! R <change> ok | unchanged | skipped | conflict <current state> | failed <reason>
//! O <change> <len>\n<len bytes>\n    output of a command
//! H <handler> ok | failed <reason>   followed by an O-style block `Q <handler> <len>`
//! ```

use super::script::{sh_quote, PRELUDE};

/// One thing the apply script does; each change of the plan is one action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Replace (or create) a file with new content, mode and (optionally) owner.
    WriteFile {
        path: String,
        content: Vec<u8>,
        mode: u32,
        chown: Option<String>,
        expect: String,
    },
    /// Create a directory (and missing parents).
    Mkdir {
        path: String,
        mode: u32,
        chown: Option<String>,
        expect: String,
    },
    /// Change the mode and/or owner of an existing path.
    SetAttrs {
        path: String,
        mode: Option<u32>,
        chown: Option<String>,
        expect: String,
    },
    /// Point a symbolic link at `target`, replacing what is at `path` (a link or nothing).
    Symlink {
        path: String,
        target: String,
        expect: String,
    },
    /// Run a command, unless its guards say, at apply time, that it is no longer needed.
    Run { command: String, guard: Guard },
    /// Install (when an archive is given) and switch an app's `current` release.
    Switch(AppSwitch),
}

/// Unpack a release (if given) and switch `<root>/current` to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppSwitch {
    pub root: String,
    pub version: String,
    /// A tar.gz and whether its entries sit under one top-level directory.
    pub archive: Option<(Vec<u8>, bool)>,
    pub shared: Vec<String>,
    /// The release `current` pointed at when explored (the compare-and-swap).
    pub expect_current: Option<String>,
    pub prune: Vec<String>,
}

/// Re-checked right before a command runs: the compare-and-swap of commands.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Guard {
    pub creates: Option<String>,
    pub unless: Option<String>,
    pub only_if: Option<String>,
}

/// A handler to run after the changes when one of `notified_by` went through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandlerRun {
    pub name: String,
    pub command: String,
    pub notified_by: Vec<usize>,
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

/// The apply script and its stdin. `secrets` are `export` lines, sent inside the payload.
pub fn build(
    exports: &str,
    secrets: &str,
    actions: &[Action],
    handlers: &[HandlerRun],
) -> (String, Vec<u8>) {
    let mut s = String::from(PRELUDE);
    s.push_str(exports);
    s.push_str(
        r#"_stage=$(mktemp -d "${TMPDIR:-/tmp}/ferry.XXXXXX") || { echo 'E cannot create a staging directory'; exit 90; }
trap 'rm -rf "$_stage"' EXIT
tar -xf - -C "$_stage" || { echo 'E cannot unpack the payload'; exit 91; }
. "$_stage/secrets"
_failed=0
_fail() { printf 'R %s failed %s\n' "$1" "$2"; _failed=1; }
_cas() {
  # Creating what was absent, and still is: decided without starting a process.
  if [ "$3" = 'absent - - - -' ] && [ ! -e "$2" ] && [ ! -L "$2" ]; then return 0; fi
  _cur=$(_probe "$2"); [ "$_cur" = "$3" ] || { printf 'R %s conflict %s\n' "$1" "$_cur"; _failed=1; return 1; }
}
_wfailed=0
"#,
    );
    let mut payload = tar::Builder::new(Vec::new());
    add_blob(&mut payload, "secrets", secrets.as_bytes());
    let mut next_group = 0;
    let mut i = 0;
    while i < actions.len() {
        let run = actions[i..]
            .iter()
            .take_while(|a| matches!(a, Action::WriteFile { .. }))
            .count();
        if run > 0 {
            s.push_str(&write_files_script(
                i,
                &actions[i..i + run],
                &mut next_group,
                &mut payload,
            ));
            i += run;
            continue;
        }
        s.push_str("if [ $_failed = 0 ]; then\n");
        s.push_str(&action_script(i, &actions[i], &mut payload));
        s.push_str(&format!("else echo 'R {i} skipped'; fi\n"));
        i += 1;
    }
    for (h, handler) in handlers.iter().enumerate() {
        let fired = handler
            .notified_by
            .iter()
            .map(|i| format!("[ \"${{_ok_{i}:-0}}\" = 1 ]"))
            .collect::<Vec<_>>()
            .join(" || ");
        s.push_str(&format!(
            "if {fired}; then\n  if ( {}\n  ) </dev/null >\"$_stage/out\" 2>&1; then echo 'H {h} ok'; else echo \"H {h} failed exit status $?\"; _failed=1; fi\n  _blob 'Q {h}' \"$_stage/out\"\nfi\n",
            handler.command
        ));
    }
    let payload = payload
        .into_inner()
        .expect("writing a tar to memory cannot fail; this is a bug");
    (s, payload)
}

/// Files written together: their directory, mode and owner.
type WriteGroup<'a> = (&'a str, u32, Option<&'a str>);

/// Consecutive file writes (actions `first..first + writes.len()`): every compare-and-swap
/// first, in order, then per (directory, mode, owner) one copy into a temporary directory
/// beside the targets, one chmod (and chown), and one `mv` renaming each file into place.
fn write_files_script(
    first: usize,
    writes: &[Action],
    next_group: &mut usize,
    payload: &mut tar::Builder<Vec<u8>>,
) -> String {
    let mut s = String::new();
    let mut groups: Vec<(WriteGroup, Vec<(usize, &str)>)> = Vec::new();
    for (offset, action) in writes.iter().enumerate() {
        let Action::WriteFile {
            path,
            mode,
            chown,
            expect,
            ..
        } = action
        else {
            unreachable!("write_files_script is given file writes only");
        };
        let i = first + offset;
        s.push_str(&format!(
            "if [ $_failed = 0 ]; then _cas {i} {} {} && _w_{i}=1; else echo 'R {i} skipped'; fi\n",
            sh_quote(path),
            sh_quote(expect)
        ));
        let (dir, name) = split_path(path);
        let key = (dir, *mode, chown.as_deref());
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, members)) => members.push((i, name)),
            None => groups.push((key, vec![(i, name)])),
        }
    }
    for ((dir, mode, chown), members) in groups {
        let g = *next_group;
        *next_group += 1;
        let dir_q = sh_quote(dir);
        s.push_str("set --\n");
        for (i, name) in &members {
            let Action::WriteFile { content, .. } = &writes[i - first] else {
                unreachable!("members index file writes");
            };
            add_blob(payload, &format!("g{g}/{name}"), content);
            s.push_str(&format!(
                "[ \"${{_w_{i}:-0}}\" = 1 ] && set -- \"$@\" {}\n",
                sh_quote(name)
            ));
        }
        let chown = chown
            .map(|c| format!(" && chown {} -- \"$@\"", sh_quote(c)))
            .unwrap_or_default();
        let report = |ok: bool| -> String {
            members
                .iter()
                .map(|(i, _)| {
                    if ok {
                        format!("  [ \"${{_w_{i}:-0}}\" = 1 ] && {{ echo 'R {i} ok'; _ok_{i}=1; }}\n")
                    } else {
                        format!("  [ \"${{_w_{i}:-0}}\" = 1 ] && {{ if [ $_wfailed = 1 ]; then echo 'R {i} skipped'; else _fail {i} 'cannot write the file'; fi; }}\n")
                    }
                })
                .collect()
        };
        s.push_str(&format!(
            "if [ $# -gt 0 ]; then\n  _t=\n  if [ $_wfailed = 0 ] && _t=$(mktemp -d {dir_q}/.ferry-tmp.XXXXXX) \\\n    && (cd \"$_stage/g{g}\" && exec cp -- \"$@\" \"$_t/\") \\\n    && (cd \"$_t\" && chmod {mode:o} -- \"$@\"{chown} && exec mv -f -- \"$@\" {dir_q}/); then\n{ok}  else\n{failed}    _wfailed=1\n  fi\n  [ -z \"$_t\" ] || rm -rf \"$_t\"\nfi\n",
            ok = report(true),
            failed = report(false),
        ));
    }
    s.push_str("[ $_wfailed = 0 ] || _failed=1\n");
    s
}

/// A path's directory (`/` for a top-level name) and file name.
fn split_path(path: &str) -> (&str, &str) {
    match path.rsplit_once('/') {
        Some(("", name)) => ("/", name),
        Some((dir, name)) => (dir, name),
        None => (".", path),
    }
}

fn action_script(i: usize, action: &Action, payload: &mut tar::Builder<Vec<u8>>) -> String {
    // `_ok_N=1` marks a change that went through, for the handlers it notifies.
    let ok = format!("echo 'R {i} ok'; _ok_{i}=1");
    let chown_of = |chown: &Option<String>, target: &str| match chown {
        Some(c) => format!(" && chown {} {target}", sh_quote(c)),
        None => String::new(),
    };
    match action {
        Action::WriteFile { .. } => {
            unreachable!("file writes are batched by write_files_script")
        }
        Action::Mkdir {
            path,
            mode,
            chown,
            expect,
        } => {
            let q = sh_quote(path);
            format!(
                "if _cas {i} {q} {e}; then if mkdir -p {q} && chmod {mode:o} {q}{chown}; then {ok}; else _fail {i} 'cannot create the directory'; fi; fi\n",
                e = sh_quote(expect),
                chown = chown_of(chown, &q),
            )
        }
        Action::SetAttrs {
            path,
            mode,
            chown,
            expect,
        } => {
            let q = sh_quote(path);
            let mut steps = vec!["true".to_owned()];
            if let Some(m) = mode {
                steps.push(format!("chmod {m:o} {q}"));
            }
            if let Some(c) = chown {
                steps.push(format!("chown {} {q}", sh_quote(c)));
            }
            format!(
                "if _cas {i} {q} {e}; then if {}; then {ok}; else _fail {i} 'cannot change mode or owner'; fi; fi\n",
                steps.join(" && "),
                e = sh_quote(expect)
            )
        }
        Action::Symlink {
            path,
            target,
            expect,
        } => {
            let q = sh_quote(path);
            let tmp = sh_quote(&temp_name(path));
            // `ln -s` + rename replaces a file or link atomically; `mv` onto a link to a
            // directory would move *into* it, so links are removed first (not atomic, but
            // a link is recreated in microseconds and never holds data).
            format!(
                "if _cas {i} {q} {e}; then if {{ [ ! -L {q} ] || rm -f {q}; }} && rm -f {tmp} && ln -s {t} {tmp} && mv -f {tmp} {q}; then {ok}; else rm -f {tmp}; _fail {i} 'cannot create the link'; fi; fi\n",
                e = sh_quote(expect),
                t = sh_quote(target),
            )
        }
        Action::Switch(sw) => switch_script(i, sw, &ok, payload),
        Action::Run { command, guard } => {
            let mut done = Vec::new();
            if let Some(p) = &guard.creates {
                done.push(format!("[ -e {} ]", sh_quote(p)));
            }
            if let Some(u) = &guard.unless {
                done.push(format!("( {u}\n) </dev/null >/dev/null 2>&1"));
            }
            if let Some(o) = &guard.only_if {
                done.push(format!("! ( {o}\n) </dev/null >/dev/null 2>&1"));
            }
            let done = if done.is_empty() {
                "false".to_owned()
            } else {
                done.join(" || ")
            };
            format!(
                "if {done}; then echo 'R {i} unchanged'; else\n  if ( {command}\n  ) </dev/null >\"$_stage/out\" 2>&1; then {ok}; else _fail {i} \"exit status $?\"; fi\n  _blob 'O {i}' \"$_stage/out\"\nfi\n"
            )
        }
    }
}

fn switch_script(
    i: usize,
    sw: &AppSwitch,
    ok: &str,
    payload: &mut tar::Builder<Vec<u8>>,
) -> String {
    let root = sh_quote(&sw.root);
    let v = sh_quote(&sw.version);
    let expect = sh_quote(sw.expect_current.as_deref().unwrap_or(""));
    let mut s = format!(
        "_root={root}; _v={v}; _rel=\"$_root/releases/$_v\"; _cur=$(readlink \"$_root/current\" 2>/dev/null | sed 's|^releases/||')\n\
         if [ \"$_cur\" != {expect} ]; then printf 'R {i} conflict current is %s\\n' \"${{_cur:-nothing}}\"; _failed=1; else (\n\
         set -e\nmkdir -p \"$_root/releases\" \"$_root/shared\"\n"
    );
    match &sw.archive {
        Some((bytes, nested)) => {
            add_blob(payload, &i.to_string(), bytes);
            let strip = if *nested { " --strip-components=1" } else { "" };
            s.push_str(&format!(
                "if [ ! -e \"$_rel/.ferry-release\" ]; then\n  _tmp=\"$_root/releases/.incoming-$_v\"; rm -rf \"$_tmp\"; mkdir -p \"$_tmp\"\n  gzip -dc \"$_stage/{i}\" | tar -xf - -C \"$_tmp\"{strip}\n"
            ));
            for sh in &sw.shared {
                let q = sh_quote(sh);
                s.push_str(&format!(
                    "  mkdir -p \"$_root/shared/\"{q}; rm -rf \"$_tmp/\"{q}; mkdir -p \"$(dirname \"$_tmp/\"{q})\"; ln -s \"$_root/shared/\"{q} \"$_tmp/\"{q}\n"
                ));
            }
            s.push_str("  echo \"$_v\" > \"$_tmp/.ferry-release\"; rm -rf \"$_rel\"; mv \"$_tmp\" \"$_rel\"\nfi\n");
        }
        None => s.push_str("[ -e \"$_rel/.ferry-release\" ] || { echo \"release $_v is not on this host\" >&2; exit 1; }\n"),
    }
    // Rename a new link over `current`: GNU mv -T, BSD mv -h; a first release has nothing to replace.
    s.push_str(
        "rm -f \"$_root/.current.tmp\"; ln -s \"releases/$_v\" \"$_root/.current.tmp\"\n\
         mv -T \"$_root/.current.tmp\" \"$_root/current\" 2>/dev/null || mv -h \"$_root/.current.tmp\" \"$_root/current\" 2>/dev/null || { [ ! -e \"$_root/current\" ] && mv \"$_root/.current.tmp\" \"$_root/current\"; }\n\
         [ \"$(readlink \"$_root/current\")\" = \"releases/$_v\" ]\n\
         printf '%s %s\\n' \"$(date -u +%Y-%m-%dT%H:%M:%SZ)\" \"$_v\" >> \"$_root/.ferry-history\"\n",
    );
    for p in &sw.prune {
        s.push_str(&format!("rm -rf \"$_root/releases/\"{}\n", sh_quote(p)));
    }
    s.push_str(&format!(") >\"$_stage/out\" 2>&1 && {{ {ok}; }} || _fail {i} \"$(tail -n 1 \"$_stage/out\")\"; fi\n"));
    s
}

fn add_blob(builder: &mut tar::Builder<Vec<u8>>, name: &str, content: &[u8]) {
    let mut header = tar::Header::new_ustar();
    header.set_size(content.len() as u64);
    header.set_mode(0o600);
    header.set_mtime(0);
    header.set_cksum();
    builder
        .append_data(&mut header, name, content)
        .expect("writing a tar to memory cannot fail; this is a bug");
}

/// A temporary name in the target's own directory, so the final rename stays on one filesystem.
fn temp_name(path: &str) -> String {
    let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
    format!("{dir}/.{name}.ferry-tmp")
}

/// One action's outcome and, for commands, what it printed.
pub type ActionResult = (Outcome, Option<Vec<u8>>);

/// A handler that ran: whether it succeeded, and its output.
pub type HandlerResult = (Result<(), String>, Vec<u8>);

/// What the apply script reported.
#[derive(Debug, Default)]
pub struct Applied {
    pub actions: Vec<ActionResult>,
    /// Per handler that ran: whether it succeeded, and its output.
    pub handlers: Vec<Option<HandlerResult>>,
    /// Facts the script printed after its changes (`F <name> <value>`).
    pub facts: std::collections::BTreeMap<String, String>,
}

pub fn parse(output: &[u8], count: usize, handler_count: usize) -> Result<Applied, String> {
    let mut outcomes: Vec<Option<Outcome>> = vec![None; count];
    let mut outputs: Vec<Option<Vec<u8>>> = vec![None; count];
    let mut handlers: Vec<Option<HandlerResult>> = vec![None; handler_count];
    let mut facts = std::collections::BTreeMap::new();
    let mut rest = output;
    let bad = |line: &str| format!("malformed line in the apply output: {line:?}");
    while !rest.is_empty() {
        let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        let line = String::from_utf8_lossy(&rest[..end]).into_owned();
        rest = rest.get(end + 1..).unwrap_or(&[]);
        if let Some((name, value)) = super::explore::fact_line(&line) {
            facts.insert(name.to_owned(), value.to_owned());
            continue;
        }
        let mut parts = line.splitn(3, ' ');
        let (tag, index, tail) = (parts.next(), parts.next(), parts.next().unwrap_or(""));
        let index: Option<usize> = index.and_then(|i| i.parse().ok());
        match (tag, index) {
            (Some("R"), Some(i)) => {
                let (word, detail) = tail.split_once(' ').unwrap_or((tail, ""));
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
                    _ => return Err(bad(&line)),
                };
                *outcomes.get_mut(i).ok_or_else(|| bad(&line))? = Some(outcome);
            }
            (Some("H"), Some(h)) => {
                let result = match tail.split_once(' ').unwrap_or((tail, "")) {
                    ("ok", _) => Ok(()),
                    ("failed", why) => Err(why.to_owned()),
                    _ => return Err(bad(&line)),
                };
                *handlers.get_mut(h).ok_or_else(|| bad(&line))? = Some((result, Vec::new()));
            }
            (Some(tag @ ("O" | "Q")), Some(i)) => {
                let len: usize = tail.parse().map_err(|_| bad(&line))?;
                if rest.len() < len + 1 {
                    return Err("the apply output ends inside a command's output".into());
                }
                let bytes = rest[..len].to_vec();
                rest = &rest[len + 1..];
                if tag == "O" {
                    *outputs.get_mut(i).ok_or_else(|| bad(&line))? = Some(bytes);
                } else if let Some(Some((_, out))) = handlers.get_mut(i) {
                    *out = bytes;
                }
            }
            (Some("E"), _) => return Err(line[2..].to_owned()),
            _ if line.is_empty() => {}
            _ => return Err(format!("unexpected line in the apply output: {line:?}")),
        }
    }
    let actions = outcomes
        .into_iter()
        .zip(outputs)
        .enumerate()
        .map(|(i, (o, out))| {
            o.map(|o| (o, out))
                .ok_or_else(|| format!("the apply script stopped before change {i}"))
        })
        .collect::<Result<_, _>>()?;
    Ok(Applied {
        actions,
        handlers,
        facts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ABSENT: &str = "absent - - - -";

    fn write(path: &std::path::Path, content: &str, mode: u32, expect: &str) -> Action {
        Action::WriteFile {
            path: path.display().to_string(),
            content: content.as_bytes().to_vec(),
            mode,
            chown: None,
            expect: expect.to_owned(),
        }
    }

    /// Runs the script as the engine would (on `sh`, the payload on stdin) and parses it.
    fn apply(actions: &[Action]) -> Applied {
        let (script, payload) = build("", "", actions, &[]);
        let mut child = std::process::Command::new("sh")
            .arg("-c")
            .arg(&script)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(&payload).unwrap();
        let out = child.wait_with_output().unwrap();
        parse(&out.stdout, actions.len(), 0).unwrap()
    }

    fn statuses(applied: &Applied) -> Vec<Outcome> {
        applied.actions.iter().map(|(o, _)| o.clone()).collect()
    }

    fn mode(path: &std::path::Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn batched_writes_keep_each_files_mode_and_leave_no_temporary_files() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        let actions = [
            write(&a.join("one.conf"), "1\n", 0o644, ABSENT),
            write(&a.join(".hidden"), "2\n", 0o600, ABSENT),
            write(&b.join("-dash"), "3\n", 0o755, ABSENT),
            write(&a.join("two conf"), "4\n", 0o644, ABSENT),
        ];
        let applied = apply(&actions);
        assert_eq!(statuses(&applied), vec![Outcome::Ok; 4]);
        assert_eq!(std::fs::read_to_string(a.join("two conf")).unwrap(), "4\n");
        assert_eq!(mode(&a.join(".hidden")), 0o600);
        assert_eq!(mode(&b.join("-dash")), 0o755);
        assert_eq!(mode(&a.join("one.conf")), 0o644);
        let left: Vec<_> = std::fs::read_dir(&a)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.contains("ferry-tmp"))
            .collect();
        assert!(left.is_empty(), "temporary files left: {left:?}");
    }

    #[test]
    fn a_conflict_keeps_earlier_writes_and_skips_later_ones() {
        let dir = tempfile::tempdir().unwrap();
        let p = |n: &str| dir.path().join(n);
        std::fs::write(p("changed"), "someone else's\n").unwrap();
        let actions = [
            write(&p("first"), "1\n", 0o644, ABSENT),
            write(&p("changed"), "2\n", 0o644, ABSENT),
            write(&p("third"), "3\n", 0o644, ABSENT),
        ];
        let out = statuses(&apply(&actions));
        assert_eq!(out[0], Outcome::Ok);
        assert!(
            matches!(&out[1], Outcome::Conflict { current } if current.starts_with("file ")),
            "{out:?}"
        );
        assert_eq!(out[2], Outcome::Skipped);
        assert_eq!(std::fs::read_to_string(p("first")).unwrap(), "1\n");
        assert_eq!(
            std::fs::read_to_string(p("changed")).unwrap(),
            "someone else's\n"
        );
        assert!(!p("third").exists());
    }

    #[test]
    fn a_failed_directory_fails_its_files_and_skips_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let p = |n: &str| dir.path().join(n);
        let actions = [
            write(&p("ok"), "1\n", 0o644, ABSENT),
            write(&p("missing/x"), "2\n", 0o644, ABSENT),
            write(&p("missing/y"), "3\n", 0o644, ABSENT),
            write(&p("later"), "4\n", 0o600, ABSENT),
            Action::Run {
                command: format!("touch {}", sh_quote(&p("ran").display().to_string())),
                guard: Guard::default(),
            },
        ];
        let out = statuses(&apply(&actions));
        assert_eq!(out[0], Outcome::Ok, "{out:?}");
        assert!(matches!(out[1], Outcome::Failed { .. }), "{out:?}");
        assert!(matches!(out[2], Outcome::Failed { .. }), "{out:?}");
        assert_eq!(out[3], Outcome::Skipped, "{out:?}");
        assert_eq!(out[4], Outcome::Skipped, "{out:?}");
        assert!(!p("later").exists() && !p("ran").exists());
    }
}
