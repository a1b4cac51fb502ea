//! Checks (`[[test]]`): `command`, `http` and `tcp`, run on the host (one round trip for
//! all of a host's checks) or from the controller (ferry's own machine).

use std::time::Duration;

use serde::Serialize;
use tokio::net::TcpStream;

use super::{connect, exports_for, script, RunContext};
use crate::config::{CheckKind, CheckSpec};
use crate::inventory::Host;
use crate::transport::sh_quote;

/// The result of one check on one host.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    pub name: String,
    pub passed: bool,
    /// Exit status (command) or HTTP status (http), when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<i32>,
    pub output: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub host: String,
    pub round_trips: u32,
    pub checks: Vec<CheckResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl CheckReport {
    pub fn passed(&self) -> bool {
        self.error.is_none() && self.checks.iter().all(|c| c.passed)
    }
}

/// Runs every check in scope on every host, hosts in parallel.
pub async fn check_all(ctx: &RunContext, hosts: &[Host], checks: &[CheckSpec]) -> Vec<CheckReport> {
    let mut set = tokio::task::JoinSet::new();
    for (i, host) in hosts.iter().enumerate() {
        let scoped: Vec<CheckSpec> = checks
            .iter()
            .filter(|c| host.in_scope(&c.roles))
            .cloned()
            .collect();
        let (ctx, host) = (ctx.clone(), host.clone());
        set.spawn(async move { (i, check_host(&ctx, &host, &scoped).await) });
    }
    let mut out: Vec<(usize, CheckReport)> = Vec::new();
    while let Some(joined) = set.join_next().await {
        out.push(joined.expect("a check task panicked; this is a bug"));
    }
    out.sort_by_key(|(i, _)| *i);
    let redactor = ctx.redactor();
    out.into_iter()
        .map(|(_, mut r)| {
            for c in &mut r.checks {
                redactor.redact_in_place(&mut c.output);
            }
            if let Some(e) = &mut r.error {
                redactor.redact_in_place(e);
            }
            r
        })
        .collect()
}

async fn check_host(ctx: &RunContext, host: &Host, checks: &[CheckSpec]) -> CheckReport {
    let mut report = CheckReport {
        host: host.name.clone(),
        round_trips: 0,
        checks: Vec::new(),
        error: None,
    };
    let mut results: Vec<Option<CheckResult>> = vec![None; checks.len()];
    let on_host: Vec<usize> = (0..checks.len())
        .filter(|&i| checks[i].runs_on_host())
        .collect();
    if !on_host.is_empty() {
        match run_on_host(ctx, host, checks, &on_host).await {
            Ok(found) => {
                report.round_trips += 1;
                for (i, r) in found {
                    results[i] = Some(r);
                }
            }
            Err(e) => {
                report.error = Some(e);
                return report;
            }
        }
    }
    for (i, check) in checks.iter().enumerate() {
        if !check.runs_on_host() {
            results[i] = Some(run_on_controller(host, check).await);
        }
    }
    for (check, r) in checks.iter().zip(results) {
        match r {
            Some(r) => report.checks.push(r),
            None => {
                report.error = Some(format!("the check script stopped before `{}`", check.name));
                break;
            }
        }
    }
    report
}

fn timeout_of(check: &CheckSpec) -> u64 {
    check.timeout.unwrap_or(10)
}

fn expand(url: &str, host: &Host) -> String {
    url.replace("{host}", &host.name)
        .replace("{address}", &host.address)
}

/// The shell for one host-side check: leaves its output in "$_out" and a status in $_rc.
fn host_script(check: &CheckSpec, host: &Host) -> String {
    let t = timeout_of(check);
    match check.kind {
        CheckKind::Command => format!(
            "if ( {}\n) </dev/null >\"$_out\" 2>&1; then _rc=0; else _rc=$?; fi\n",
            check.command.as_deref().unwrap_or("false")
        ),
        CheckKind::Http => {
            let url = sh_quote(&expand(check.url.as_deref().unwrap_or(""), host));
            format!(
                "if command -v curl >/dev/null 2>&1; then _rc=$(curl -sS --max-time {t} -o \"$_out\" -w '%{{http_code}}' {url} 2>>\"$_out\") || _rc=0\nelse if wget -q -T {t} -O \"$_out\" {url}; then _rc=200; else _rc=0; fi; fi\n"
            )
        }
        CheckKind::Tcp => format!(
            "if nc -z -w {t} 127.0.0.1 {port} >\"$_out\" 2>&1; then _rc=0; else _rc=1; fi\n",
            port = check.port.unwrap_or(0)
        ),
    }
}

async fn run_on_host(
    ctx: &RunContext,
    host: &Host,
    checks: &[CheckSpec],
    which: &[usize],
) -> Result<Vec<(usize, CheckResult)>, String> {
    let transport = connect(host, ctx).await?;
    let mut s = String::from(script::PRELUDE);
    s.push_str(&exports_for(ctx, host));
    s.push_str("eval \"$(cat)\"\n");
    s.push_str(
        "_out=$(mktemp \"${TMPDIR:-/tmp}/ferry.XXXXXX\") || exit 90\ntrap 'rm -f \"$_out\"' EXIT\n",
    );
    for &i in which {
        s.push_str(&host_script(&checks[i], host));
        s.push_str(&format!("_blob \"T {i} $_rc\" \"$_out\"\n"));
    }
    let out = transport
        .exec(&s, script::secret_exports(&ctx.secrets).into_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut found = Vec::new();
    let mut rest = &out.stdout[..];
    while let Some(end) = rest.iter().position(|&b| b == b'\n') {
        let line = String::from_utf8_lossy(&rest[..end]).into_owned();
        rest = &rest[end + 1..];
        let parts: Vec<&str> = line.split(' ').collect();
        let ["T", i, rc, len] = parts[..] else {
            continue;
        };
        let (Ok(i), Ok(rc), Ok(len)) =
            (i.parse::<usize>(), rc.parse::<i32>(), len.parse::<usize>())
        else {
            break;
        };
        if rest.len() < len + 1 || i >= checks.len() {
            break;
        }
        let output = String::from_utf8_lossy(&rest[..len]).into_owned();
        rest = &rest[len + 1..];
        found.push((i, judge(&checks[i], rc, output)));
    }
    if found.len() < which.len() {
        return Err(format!(
            "the check script stopped early (exit status {}): {}",
            out.status.map_or("none".to_owned(), |s| s.to_string()),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(found)
}

/// Whether a status and output pass the check.
fn judge(check: &CheckSpec, status: i32, output: String) -> CheckResult {
    let status_ok = match check.kind {
        CheckKind::Http => status == i32::from(check.status.unwrap_or(200)),
        _ => status == 0,
    };
    let contains_ok = check.contains.as_deref().is_none_or(|c| output.contains(c));
    let mut output = output;
    if status_ok && !contains_ok {
        output = format!(
            "expected the output to contain {:?}\n{output}",
            check.contains.as_deref().unwrap_or("")
        );
    } else if !status_ok && check.kind == CheckKind::Http {
        output = format!(
            "expected HTTP status {}, got {status}\n{output}",
            check.status.unwrap_or(200)
        );
    }
    CheckResult {
        name: check.name.clone(),
        passed: status_ok && contains_ok,
        status: Some(status),
        output,
    }
}

async fn run_on_controller(host: &Host, check: &CheckSpec) -> CheckResult {
    let limit = Duration::from_secs(timeout_of(check));
    let fail = |output: String| CheckResult {
        name: check.name.clone(),
        passed: false,
        status: None,
        output,
    };
    match check.kind {
        CheckKind::Tcp => {
            let port = check.port.unwrap_or(0);
            match tokio::time::timeout(limit, TcpStream::connect((host.address.as_str(), port)))
                .await
            {
                Ok(Ok(_)) => CheckResult {
                    name: check.name.clone(),
                    passed: true,
                    status: None,
                    output: format!("{}:{port} accepts connections", host.address),
                },
                Ok(Err(e)) => fail(format!("{}:{port}: {e}", host.address)),
                Err(_) => fail(format!(
                    "{}:{port}: no answer within {}s",
                    host.address,
                    limit.as_secs()
                )),
            }
        }
        CheckKind::Http => {
            let url = expand(check.url.as_deref().unwrap_or(""), host);
            match tokio::time::timeout(limit, http_get(&url)).await {
                Ok(Ok((status, body))) => judge(check, i32::from(status), body),
                Ok(Err(e)) => fail(e),
                Err(_) => fail(format!("{url}: no answer within {}s", limit.as_secs())),
            }
        }
        CheckKind::Command => fail("command checks run on the host".to_owned()),
    }
}

async fn http_get(url: &str) -> Result<(u16, String), String> {
    let (status, body) = crate::http::get(url, 1 << 20).await?;
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}
