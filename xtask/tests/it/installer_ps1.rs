//! The rendered `install.ps1`. No PowerShell can be installed on the test machines (no Debian,
//! PyPI or crates.io package ships one, and npm's `pwsh` downloads it from GitHub at install
//! time), so this checks the rendering only: a snapshot, the embedded key, and the release
//! layout it shares with install.sh.

use crate::packages::workspace_version;
use crate::support::host_dist;

#[test]
fn install_ps1_is_rendered_with_the_release_key() {
    let d = host_dist();
    let text = std::fs::read_to_string(d.out.path().join("install.ps1")).unwrap();
    let pk = std::fs::read_to_string(&d.keys.public).unwrap();
    let key = pk.lines().nth(1).unwrap();
    assert!(
        text.contains(&format!("$PublicKey = \"{key}\"")),
        "the test key is embedded"
    );
    for want in [
        "/latest/download/latest.json",
        "/download/v$Version",
        "$App-$Version-$Platform-$Variant.zip",
        "Get-FileHash -Algorithm SHA256",
        "[Environment]::SetEnvironmentVariable(\"Path\", $Value, \"User\")",
    ] {
        assert!(text.contains(want), "{want} missing");
    }
    let sums = std::fs::read_to_string(d.out.path().join("SHA256SUMS")).unwrap();
    assert!(sums.contains("  install.ps1\n") && sums.contains("  install.sh\n"));
    let v = workspace_version().replace('.', r"\.");
    insta::with_settings!({filters => vec![
        (v.as_str(), "[VERSION]"),
        (r#"\$PublicKey = "[A-Za-z0-9+/=]+""#, r#"$PublicKey = "[KEY]""#),
    ]}, {
        insta::assert_snapshot!("install_ps1", text);
    });
}
