//! The HTTP front of the JSON-RPC ports: our own HTTP/1.1 connection loop (hyper) that
//! answers a single JSON-RPC call by invoking the registered method directly, and hands
//! everything else (batches, notifications, malformed bodies, WebSocket upgrades, wrong
//! methods or content types) to jsonrpsee's own HTTP service, so those keep jsonrpsee's
//! exact answers.
//!
//! Why: a dapp's reads are single calls, and jsonrpsee's server spends most of a cheap
//! call's time on its layers (per-request service construction, boxing, two body passes)
//! rather than on the call. Methods run the same callbacks, with the same response size
//! limit, so their answers are byte for byte the same on either path.

use std::{
    net::SocketAddr,
    sync::{
        atomic::{AtomicU32, Ordering},
        Arc,
    },
};

use http_body_util::{BodyExt, Limited};
use hyper::{body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;
use jsonrpsee::{
    server::{
        http::{is_json, response},
        stop_channel, ConnectionId, HttpBody, HttpRequest, HttpResponse, MethodCallback,
        MethodResponse, Methods, ServerConfig, ServerHandle, StopHandle, TowerServiceBuilder,
    },
    types::{Params, Request},
};
use tokio::{net::TcpListener, sync::Semaphore};
use tower::Service;

use super::local::{finish, AccessLayer};

/// jsonrpsee's HTTP service, for the requests the front does not answer itself.
type Fallback =
    jsonrpsee::server::TowerService<tower::layer::util::Identity, tower::layer::util::Identity>;

/// What every connection of one port shares.
struct Front {
    methods: Methods,
    access: AccessLayer,
    max_request_body: u32,
    max_response_body: u32,
    fallback: TowerServiceBuilder<tower::layer::util::Identity, tower::layer::util::Identity>,
    connections: Arc<Semaphore>,
    next_conn_id: AtomicU32,
}

/// Listens on `listener` and serves JSON-RPC over HTTP until the returned handle is
/// stopped. `config` must be an HTTP-only jsonrpsee configuration (it also gives the
/// limits); `access` is checked before anything else.
pub(crate) fn serve(
    listener: TcpListener,
    methods: impl Into<Methods>,
    config: ServerConfig,
    limits: Limits,
    access: AccessLayer,
) -> std::io::Result<(SocketAddr, ServerHandle)> {
    let addr = listener.local_addr()?;
    let (stop, handle) = stop_channel();
    let front = Arc::new(Front {
        methods: methods.into(),
        access,
        max_request_body: limits.max_request_body,
        max_response_body: limits.max_response_body,
        fallback: jsonrpsee::server::Server::builder()
            .set_config(config)
            .to_service_builder(),
        connections: Arc::new(Semaphore::new(limits.max_connections as usize)),
        next_conn_id: AtomicU32::new(0),
    });
    tokio::spawn(accept_loop(listener, front, stop));
    Ok((addr, handle))
}

/// The limits the front applies itself (the same numbers as the jsonrpsee config's).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Largest request body, bytes.
    pub max_request_body: u32,
    /// Largest response body, bytes.
    pub max_response_body: u32,
    /// Most simultaneous connections.
    pub max_connections: u32,
}

async fn accept_loop(listener: TcpListener, front: Arc<Front>, stop: StopHandle) {
    loop {
        let (socket, _) = tokio::select! {
            r = listener.accept() => match r {
                Ok(s) => s,
                // Out of descriptors and the like: the next accept may work.
                Err(_) => {
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                }
            },
            _ = stop.clone().shutdown() => return,
        };
        // Small replies: sending at once beats waiting for Nagle's timer.
        let _ = socket.set_nodelay(true);
        let permit = front.connections.clone().try_acquire_owned().ok();
        let front = front.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let conn_id = front.next_conn_id.fetch_add(1, Ordering::Relaxed);
            let fallback = front
                .fallback
                .clone()
                .build(front.methods.clone(), stop.clone());
            let full = permit.is_none();
            let svc = service_fn(move |req: hyper::Request<Incoming>| {
                let front = front.clone();
                let fallback = fallback.clone();
                async move {
                    if full {
                        return Ok::<_, std::convert::Infallible>(response::too_many_requests());
                    }
                    Ok(front.handle(req, fallback, conn_id).await)
                }
            });
            let conn = http1::Builder::new()
                .serve_connection(TokioIo::new(socket), svc)
                .with_upgrades();
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = stop.shutdown() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
            drop(permit);
        });
    }
}

impl Front {
    async fn handle(
        &self,
        req: hyper::Request<Incoming>,
        fallback: Fallback,
        conn_id: u32,
    ) -> HttpResponse {
        let allow_origin = match self.access.admit(&req) {
            Ok(o) => o,
            Err(refusal) => return *refusal,
        };
        let mut r = self.respond(req, fallback, conn_id).await;
        finish(&mut r, allow_origin.as_deref());
        r
    }

    async fn respond(
        &self,
        req: hyper::Request<Incoming>,
        mut fallback: Fallback,
        conn_id: u32,
    ) -> HttpResponse {
        let plain_post = req.method() == http::Method::POST
            && is_json(req.headers().get(http::header::CONTENT_TYPE))
            && !req.headers().contains_key(http::header::UPGRADE);
        if !plain_post {
            return delegate(&mut fallback, req.map(HttpBody::new)).await;
        }
        let (parts, body) = req.into_parts();
        let body = match Limited::new(body, self.max_request_body as usize)
            .collect()
            .await
        {
            Ok(b) => b.to_bytes(),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                return response::too_large(self.max_request_body)
            }
            Err(_) => return response::malformed(),
        };
        if let Some(rp) = self.call(&body, conn_id).await {
            return response::from_method_response(rp);
        }
        delegate(
            &mut fallback,
            HttpRequest::from_parts(parts, HttpBody::new(http_body_util::Full::new(body))),
        )
        .await
    }

    /// Answers `body` when it is one JSON-RPC call of a registered method; None sends it
    /// to jsonrpsee.
    async fn call(&self, body: &[u8], conn_id: u32) -> Option<MethodResponse> {
        if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return None;
        }
        let req: Request = serde_json::from_slice(body).ok()?;
        let callback = self.methods.method(&req.method)?;
        let Request {
            id,
            params,
            extensions,
            ..
        } = req;
        let params = Params::new(params.as_ref().map(|p| p.get()));
        let max = self.max_response_body as usize;
        match callback {
            MethodCallback::Sync(f) => Some(f(id, params, max, extensions)),
            MethodCallback::Async(f) => Some(
                f(
                    id.into_owned(),
                    params.into_owned(),
                    ConnectionId(conn_id as usize),
                    max,
                    extensions,
                )
                .await,
            ),
            // Subscriptions need a connection to talk back on: jsonrpsee says so.
            MethodCallback::Subscription(_) | MethodCallback::Unsubscription(_) => None,
        }
    }
}

async fn delegate(fallback: &mut Fallback, req: HttpRequest) -> HttpResponse {
    match fallback.call(req).await {
        Ok(r) => r,
        Err(_) => response::internal_error(),
    }
}
