//! GET for health checks and release downloads. `http://` is a plain HTTP/1.0 request over
//! TCP (every variant); `https://` goes through ureq with rustls on ring (the complete
//! variant), trusting Mozilla's roots, or exactly the certificates in `SSL_CERT_FILE` when
//! that is set (a private CA, a TLS-intercepting proxy).

#[cfg(feature = "complete")]
use std::path::Path;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Status and body of `GET url`; the body is cut at `limit` bytes.
pub async fn get(url: &str, limit: u64) -> Result<(u16, Vec<u8>), String> {
    if url.starts_with("https://") {
        return https_get(url, limit).await;
    }
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        format!("{url}: only http:// and https:// URLs can be fetched; use a path for local files")
    })?;
    let (authority, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_owned()), |(a, p)| (a, format!("/{p}")));
    let addr = if authority.contains(':') {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    let mut stream = TcpStream::connect(&addr)
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: {authority}\r\nUser-Agent: ferry\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    let mut response = Vec::new();
    stream
        .take(limit + 64 * 1024)
        .read_to_end(&mut response)
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    let head_end = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("{url}: the answer is not HTTP"))?;
    let head = String::from_utf8_lossy(&response[..head_end]);
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("{url}: the answer is not HTTP"))?;
    let mut body = response[head_end + 4..].to_vec();
    body.truncate(limit as usize);
    Ok((status, body))
}

#[cfg(feature = "complete")]
async fn https_get(url: &str, limit: u64) -> Result<(u16, Vec<u8>), String> {
    let owned = url.to_owned();
    tokio::task::spawn_blocking(move || https_get_blocking(&owned, limit))
        .await
        .map_err(|e| format!("{url}: {e}"))?
}

#[cfg(feature = "complete")]
fn https_get_blocking(url: &str, limit: u64) -> Result<(u16, Vec<u8>), String> {
    use std::io::Read;
    use ureq::tls::{RootCerts, TlsConfig};

    let roots = match std::env::var_os("SSL_CERT_FILE") {
        Some(path) => RootCerts::Specific(std::sync::Arc::new(certificates(Path::new(&path))?)),
        None => RootCerts::WebPki,
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(std::time::Duration::from_secs(30)))
        .user_agent(concat!("ferry/", env!("CARGO_PKG_VERSION")))
        .tls_config(TlsConfig::builder().root_certs(roots).build())
        .build()
        .into();
    let mut response = agent.get(url).call().map_err(|e| {
        // rustls's verdicts arrive wrapped in I/O errors as often as in TLS ones.
        let text = e.to_string();
        if text.contains("certificate") {
            format!("{url}: {text} (to trust a private CA, set SSL_CERT_FILE to a PEM file of the certificates to trust)")
        } else {
            format!("{url}: {text}")
        }
    })?;
    let status = response.status().as_u16();
    let mut body = Vec::new();
    response
        .body_mut()
        .as_reader()
        .take(limit)
        .read_to_end(&mut body)
        .map_err(|e| format!("{url}: {e}"))?;
    Ok((status, body))
}

/// The certificates in a PEM file (`SSL_CERT_FILE`).
#[cfg(feature = "complete")]
fn certificates(path: &Path) -> Result<Vec<ureq::tls::Certificate<'static>>, String> {
    let pem = std::fs::read(path).map_err(|e| format!("SSL_CERT_FILE={}: {e}", path.display()))?;
    let certs: Vec<_> = ureq::tls::parse_pem(&pem)
        .filter_map(|item| match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect();
    if certs.is_empty() {
        return Err(format!(
            "SSL_CERT_FILE={} holds no PEM certificate; point it at the CA certificates to trust, or unset it",
            path.display()
        ));
    }
    Ok(certs)
}

#[cfg(not(feature = "complete"))]
async fn https_get(url: &str, _limit: u64) -> Result<(u16, Vec<u8>), String> {
    Err(format!(
        "{url}: this is the minimal build of ferry, without TLS; use the complete build, an http:// mirror or a path"
    ))
}
