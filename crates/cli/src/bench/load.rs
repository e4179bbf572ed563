//! `everreach bench load`: a small HTTP/1.1 load generator run as its own process
//! (as wrk or oha would be): N keep-alive connections, each sending the same GET as
//! fast as answers come back, for a fixed time. Prints one JSON line: requests/s,
//! errors, and latency percentiles.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::Latency;

#[derive(Debug, Serialize, serde::Deserialize, Clone, Copy)]
pub struct LoadResult {
    pub requests: u64,
    pub errors: u64,
    pub seconds: f64,
    pub requests_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// Runs the load and returns its result.
pub async fn run(
    addr: SocketAddr,
    path: &str,
    bearer: Option<&str>,
    connections: usize,
    seconds: f64,
) -> anyhow::Result<LoadResult> {
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n");
    if let Some(token) = bearer {
        request.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    request.push_str("\r\n");
    let request = std::sync::Arc::new(request.into_bytes());
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(seconds);
    let mut tasks = Vec::with_capacity(connections);
    for _ in 0..connections {
        let request = request.clone();
        tasks.push(tokio::spawn(async move {
            connection(addr, &request, deadline).await
        }));
    }
    let mut micros = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (lat, errs) = task.await.context("a load connection panicked")??;
        micros.extend(lat);
        errors += errs;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let requests = micros.len() as u64;
    let latency = Latency::of(&mut micros);
    Ok(LoadResult {
        requests,
        errors,
        seconds: elapsed,
        requests_per_second: requests as f64 / elapsed,
        p50_ms: latency.p50_ms,
        p99_ms: latency.p99_ms,
        max_ms: latency.max_ms,
    })
}

/// One keep-alive connection: latencies (µs) of answered requests, and non-2xx count.
async fn connection(
    addr: SocketAddr,
    request: &[u8],
    deadline: Instant,
) -> anyhow::Result<(Vec<u32>, u64)> {
    let mut stream = TcpStream::connect(addr)
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    stream.set_nodelay(true)?;
    let mut latencies = Vec::with_capacity(100_000);
    let mut errors = 0;
    let mut buf = vec![0u8; 64 * 1024];
    while Instant::now() < deadline {
        let sent = Instant::now();
        stream.write_all(request).await?;
        let status = read_response(&mut stream, &mut buf).await?;
        latencies.push(sent.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
        if !(200..300).contains(&status) {
            errors += 1;
        }
    }
    Ok((latencies, errors))
}

/// Reads one response (headers, then a Content-Length body); returns its status.
async fn read_response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> anyhow::Result<u16> {
    let mut filled = 0;
    let header_end = loop {
        if filled == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        let n = stream.read(&mut buf[filled..]).await?;
        if n == 0 {
            bail!("the server closed the connection");
        }
        filled += n;
        if let Some(i) = buf[..filled].windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = std::str::from_utf8(&buf[..header_end]).context("response headers are not UTF-8")?;
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("no status line")?;
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())
                .flatten()
        })
        .context("the benchmark needs responses with Content-Length")?;
    let mut have = filled - header_end;
    while have < length {
        let want = (length - have).min(buf.len());
        let n = stream.read(&mut buf[..want]).await?;
        if n == 0 {
            bail!("the server closed the connection mid-body");
        }
        have += n;
    }
    Ok(status)
}
