//! A plain HTTP/1.0 GET over TCP: enough for health checks and for fetching release
//! manifests from a local mirror, without a TLS stack in the binary.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Status and body of `GET url`; the body is cut at `limit` bytes.
pub async fn get(url: &str, limit: u64) -> Result<(u16, Vec<u8>), String> {
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        format!("{url}: only http:// URLs are fetched by ferry itself (there is no TLS in the binary); use a path, a local mirror, or run the check on the host")
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
