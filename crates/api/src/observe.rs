//! Request ids, structured request logs and Prometheus metrics.
//!
//! Every request gets an id — the caller's `x-request-id` when it is sane, else a new
//! one — echoed in the response and carried by the request's tracing span. Counts and
//! latency histograms are kept per route template (never the raw path, which would
//! grow without bound) and status, and rendered at `/metrics` with the pool gauges,
//! for the operator only (a token, or loopback).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Instant;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use crate::AppState;

pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Debug, Default)]
struct Series {
    count: u64,
    sum: f64,
    buckets: [u64; BUCKETS.len()],
}

#[derive(Debug, Default)]
pub struct Metrics {
    series: Mutex<BTreeMap<(String, String, u16), Series>>,
}

impl Metrics {
    fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let mut series = self
            .series
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let s = series
            .entry((method.to_string(), route.to_string(), status))
            .or_default();
        s.count += 1;
        s.sum += seconds;
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                s.buckets[i] += 1;
            }
        }
    }

    /// The Prometheus text exposition of the request series.
    fn render_requests(&self, out: &mut String) {
        let series = self
            .series
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        out.push_str("# HELP everreach_http_requests_total HTTP requests by route and status.\n");
        out.push_str("# TYPE everreach_http_requests_total counter\n");
        for ((method, route, status), s) in series.iter() {
            let _ = writeln!(
                out,
                "everreach_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {}",
                s.count
            );
        }
        out.push_str("# HELP everreach_http_request_duration_seconds HTTP request latency.\n");
        out.push_str("# TYPE everreach_http_request_duration_seconds histogram\n");
        for ((method, route, status), s) in series.iter() {
            let labels = format!("method=\"{method}\",route=\"{route}\",status=\"{status}\"");
            for (i, bound) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "everreach_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {}",
                    s.buckets[i]
                );
            }
            let _ = writeln!(
                out,
                "everreach_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(
                out,
                "everreach_http_request_duration_seconds_sum{{{labels}}} {}",
                s.sum
            );
            let _ = writeln!(
                out,
                "everreach_http_request_duration_seconds_count{{{labels}}} {}",
                s.count
            );
        }
    }
}

tokio::task_local! {
    /// The id of the request being handled, for error pages that show it.
    static REQUEST_ID_NOW: String;
}

/// The id of the request this task is handling (inside [`observe`]), if any.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID_NOW.try_with(Clone::clone).ok()
}

/// A caller's request id if it is short visible ASCII, else a fresh UUID.
fn request_id(req: &Request) -> String {
    req.headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_string)
}

pub async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let id = request_id(&req);
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let span = tracing::info_span!("request", request_id = %id, %method, %route);
    let started = Instant::now();
    let mut response = REQUEST_ID_NOW
        .scope(id.clone(), next.run(req).instrument(span.clone()))
        .await;
    let seconds = started.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    state.metrics.observe(&method, &route, status, seconds);
    span.in_scope(|| tracing::info!(status, ms = seconds * 1000.0, "handled"));
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID.clone(), value);
    }
    response
}

/// Whether the caller may read `/metrics`: with `EVERREACH_METRICS_TOKEN` set, the
/// request must send it as a bearer token; without it, only a client on this
/// machine (loopback) may.
fn may_read_metrics(state: &AppState, req: &Request) -> bool {
    match state.metrics_token.as_deref() {
        Some(expected) => req
            .headers()
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|given| {
                let (a, b) = (given.trim().as_bytes(), expected.as_bytes());
                a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
            }),
        None => req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .is_some_and(|c| c.0.ip().is_loopback()),
    }
}

/// Prometheus text: request counts and latency by route and status, pool usage. Needs
/// the operator token (`EVERREACH_METRICS_TOKEN`) as a bearer token, or, without one
/// configured, a client on this machine.
#[utoipa::path(get, path = "/metrics", tag = "ops", security(),
    responses((status = 200, body = String, content_type = "text/plain", description = "OK"),
              (status = 401, body = crate::error::Problem, description = "No or wrong operator token, or not on this machine")))]
pub async fn metrics(State(state): State<AppState>, req: Request) -> Response {
    if !may_read_metrics(&state, &req) {
        return crate::error::ApiError::Unauthorized(
            "send the operator token (EVERREACH_METRICS_TOKEN) as `Authorization: Bearer …`, or ask from this machine".into(),
        )
        .into_response();
    }
    let mut out = String::new();
    state.metrics.render_requests(&mut out);
    for (name, pool) in [("app", &state.db.app), ("admin", &state.db.admin)] {
        let size = pool.size();
        let idle = pool.num_idle() as u32;
        let _ = writeln!(
            out,
            "everreach_db_pool_connections{{pool=\"{name}\",state=\"idle\"}} {idle}"
        );
        let _ = writeln!(
            out,
            "everreach_db_pool_connections{{pool=\"{name}\",state=\"busy\"}} {}",
            size.saturating_sub(idle)
        );
        let _ = writeln!(
            out,
            "everreach_db_pool_max_connections{{pool=\"{name}\"}} {}",
            pool.options().get_max_connections()
        );
    }
    match everreach_core::jobs::queue_depth(&state.db.app).await {
        Ok(depths) => {
            out.push_str("# HELP everreach_jobs_live Live jobs by queue and state.\n# TYPE everreach_jobs_live gauge\n");
            for (queue, job_state, count) in depths {
                let _ = writeln!(
                    out,
                    "everreach_jobs_live{{queue=\"{queue}\",state=\"{job_state}\"}} {count}"
                );
            }
        }
        Err(e) => tracing::warn!(error = %e, "metrics: job queue depth unavailable"),
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        out,
    )
        .into_response()
}
