//! Prometheus metrics: what the node is doing, for a person or a scraper
//! (`--metrics-addr IP:PORT`, off by default; conflux-rust's equivalent is
//! `metrics_prometheus_listen_addr`).
//!
//! Counters live in one process-wide [`Metrics`]; the layers count where things happen
//! (the RPC front per method, the access layer per refusal, the follow loop per penalty,
//! the signing methods per request), and gauges (chain position, claimed tips, peers,
//! pending pool) are read at scrape time. Label values are bounded: methods the node does
//! not serve are counted under `unknown`, so a client cannot grow the metric set.

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex, OnceLock,
    },
    time::Duration,
};

use http_body_util::Full;
use hyper::{body::Bytes, server::conn::http1, service::service_fn};
use hyper_util::rt::{TokioIo, TokioTimer};

/// Latency bucket bounds, in seconds.
const BUCKETS: [f64; 10] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5,
];

#[derive(Default, Clone)]
struct MethodStats {
    calls: u64,
    errors: u64,
    sum_seconds: f64,
    buckets: [u64; BUCKETS.len()],
}

/// Why the RPC refused a request before any method ran.
#[derive(Debug, Clone, Copy)]
pub enum Refusal {
    /// Over the connection limit (429).
    Connections,
    /// Body over the size limit (413).
    BodySize,
    /// Body not received in time (408).
    BodyTimeout,
    /// `Host` not allowed (403).
    Host,
    /// WebSocket `Origin` not allowed (403).
    Origin,
    /// Missing or wrong bearer token (401).
    Token,
    /// Answers being built held the response memory limit (-32009).
    ResponseMemory,
}

const REFUSALS: [&str; 7] = [
    "connections",
    "body_size",
    "body_timeout",
    "host",
    "origin",
    "token",
    "response_memory",
];

/// Why a peer was set aside.
#[derive(Debug, Clone, Copy)]
pub enum PenaltyKind {
    /// Sent data that failed verification.
    Lied,
    /// Showed a lighter fork.
    Lighter,
    /// Failed (timeout, closed).
    Failed,
}

/// The process-wide counters.
#[derive(Default)]
pub struct Metrics {
    methods: Mutex<BTreeMap<String, MethodStats>>,
    refused: [AtomicU64; 7],
    penalties: [AtomicU64; 3],
    signer_requests: AtomicU64,
    signer_refusals: AtomicU64,
}

/// Values read when scraped.
#[derive(Debug, Default, Clone)]
pub struct Gauges {
    /// Newest verified pivot epoch.
    pub best_epoch: u64,
    /// Newest epoch with trusted roots.
    pub latest_state: u64,
    /// Highest tip a connected peer claims (unverified).
    pub claimed_tip: u64,
    /// Connected peers.
    pub peers: u64,
    /// Transactions in our pending pool.
    pub pending: u64,
}

/// The counters.
pub fn global() -> &'static Metrics {
    static M: OnceLock<Metrics> = OnceLock::new();
    M.get_or_init(Metrics::default)
}

impl Metrics {
    /// One RPC call of a method the node serves (others pass `"unknown"`), its outcome
    /// and how long it took.
    pub fn rpc_call(&self, method: &str, ok: bool, took: Duration) {
        let mut m = self.methods.lock().unwrap_or_else(|e| e.into_inner());
        let s = m.entry(method.to_string()).or_default();
        s.calls += 1;
        if !ok {
            s.errors += 1;
        }
        let secs = took.as_secs_f64();
        s.sum_seconds += secs;
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                s.buckets[i] += 1;
            }
        }
    }

    /// A request refused before any method ran.
    pub fn refused(&self, why: Refusal) {
        self.refused[why as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// A peer set aside.
    pub fn penalty(&self, kind: PenaltyKind) {
        self.penalties[kind as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// A signing request, and whether the signer (or its policy) refused it.
    pub fn signer_request(&self, refused: bool) {
        self.signer_requests.fetch_add(1, Ordering::Relaxed);
        if refused {
            self.signer_refusals.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The Prometheus text exposition of the counters and these gauges.
    pub fn render(&self, g: &Gauges) -> String {
        let mut out = String::new();
        let mut gauge = |name: &str, help: &str, v: u64| {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}\n"
            ));
        };
        gauge(
            "cfxlight_best_epoch",
            "Newest verified pivot epoch.",
            g.best_epoch,
        );
        gauge(
            "cfxlight_latest_state_epoch",
            "Newest epoch whose deferred roots are trusted.",
            g.latest_state,
        );
        gauge(
            "cfxlight_peer_claimed_tip",
            "Highest tip a connected peer claims (unverified).",
            g.claimed_tip,
        );
        gauge(
            "cfxlight_sync_lag_epochs",
            "Claimed tip minus best epoch.",
            g.claimed_tip.saturating_sub(g.best_epoch),
        );
        gauge(
            "cfxlight_peers_connected",
            "Connected light-protocol providers.",
            g.peers,
        );
        gauge(
            "cfxlight_pending_transactions",
            "Transactions in the node's own pending pool.",
            g.pending,
        );
        out.push_str("# HELP cfxlight_peer_penalties_total Peers set aside, by reason.\n# TYPE cfxlight_peer_penalties_total counter\n");
        for (i, k) in ["lied", "lighter", "failed"].iter().enumerate() {
            out.push_str(&format!(
                "cfxlight_peer_penalties_total{{reason=\"{k}\"}} {}\n",
                self.penalties[i].load(Ordering::Relaxed)
            ));
        }
        out.push_str("# HELP cfxlight_rpc_refused_total RPC requests refused before any method ran, by limit.\n# TYPE cfxlight_rpc_refused_total counter\n");
        for (i, k) in REFUSALS.iter().enumerate() {
            out.push_str(&format!(
                "cfxlight_rpc_refused_total{{limit=\"{k}\"}} {}\n",
                self.refused[i].load(Ordering::Relaxed)
            ));
        }
        out.push_str(&format!(
            "# HELP cfxlight_signer_requests_total Signing requests.\n# TYPE cfxlight_signer_requests_total counter\ncfxlight_signer_requests_total {}\n\
             # HELP cfxlight_signer_refusals_total Signing requests the signer or its policy refused.\n# TYPE cfxlight_signer_refusals_total counter\ncfxlight_signer_refusals_total {}\n",
            self.signer_requests.load(Ordering::Relaxed),
            self.signer_refusals.load(Ordering::Relaxed)
        ));
        let methods = self
            .methods
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        out.push_str("# HELP cfxlight_rpc_requests_total RPC calls by method.\n# TYPE cfxlight_rpc_requests_total counter\n");
        for (m, s) in &methods {
            out.push_str(&format!(
                "cfxlight_rpc_requests_total{{method=\"{m}\"}} {}\n",
                s.calls
            ));
        }
        out.push_str("# HELP cfxlight_rpc_errors_total RPC calls answered with an error, by method.\n# TYPE cfxlight_rpc_errors_total counter\n");
        for (m, s) in &methods {
            out.push_str(&format!(
                "cfxlight_rpc_errors_total{{method=\"{m}\"}} {}\n",
                s.errors
            ));
        }
        out.push_str("# HELP cfxlight_rpc_seconds RPC call latency by method.\n# TYPE cfxlight_rpc_seconds histogram\n");
        for (m, s) in &methods {
            for (i, b) in BUCKETS.iter().enumerate() {
                out.push_str(&format!(
                    "cfxlight_rpc_seconds_bucket{{method=\"{m}\",le=\"{b}\"}} {}\n",
                    s.buckets[i]
                ));
            }
            out.push_str(&format!(
                "cfxlight_rpc_seconds_bucket{{method=\"{m}\",le=\"+Inf\"}} {c}\ncfxlight_rpc_seconds_sum{{method=\"{m}\"}} {}\ncfxlight_rpc_seconds_count{{method=\"{m}\"}} {c}\n",
                s.sum_seconds,
                c = s.calls
            ));
        }
        out
    }
}

/// Serves `GET /metrics` (any path) on `addr` until the process ends; `gauges` is read at
/// every scrape. Returns the bound address.
pub async fn serve(
    addr: SocketAddr,
    gauges: Arc<dyn Fn() -> Gauges + Send + Sync>,
) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let gauges = gauges.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |_req: hyper::Request<hyper::body::Incoming>| {
                    let body = global().render(&gauges());
                    async move {
                        let mut r = hyper::Response::new(Full::new(Bytes::from(body)));
                        r.headers_mut().insert(
                            hyper::header::CONTENT_TYPE,
                            hyper::header::HeaderValue::from_static("text/plain; version=0.0.4"),
                        );
                        Ok::<_, std::convert::Infallible>(r)
                    }
                });
                let _ = tokio::time::timeout(
                    Duration::from_secs(30),
                    http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(Duration::from_secs(10))
                        .serve_connection(TokioIo::new(socket), svc),
                )
                .await;
            });
        }
    });
    Ok(bound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_has_every_family_and_counts_what_happened() {
        let m = Metrics::default();
        m.rpc_call("cfx_getBalance", true, Duration::from_micros(700));
        m.rpc_call("cfx_getBalance", false, Duration::from_millis(30));
        m.refused(Refusal::Host);
        m.penalty(PenaltyKind::Lied);
        m.signer_request(true);
        let text = m.render(&Gauges {
            best_epoch: 100,
            latest_state: 93,
            claimed_tip: 105,
            peers: 2,
            pending: 1,
        });
        for line in [
            "cfxlight_best_epoch 100",
            "cfxlight_sync_lag_epochs 5",
            "cfxlight_rpc_requests_total{method=\"cfx_getBalance\"} 2",
            "cfxlight_rpc_errors_total{method=\"cfx_getBalance\"} 1",
            "cfxlight_rpc_seconds_bucket{method=\"cfx_getBalance\",le=\"0.001\"} 1",
            "cfxlight_rpc_seconds_bucket{method=\"cfx_getBalance\",le=\"0.05\"} 2",
            "cfxlight_rpc_refused_total{limit=\"host\"} 1",
            "cfxlight_peer_penalties_total{reason=\"lied\"} 1",
            "cfxlight_signer_refusals_total 1",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }
}
