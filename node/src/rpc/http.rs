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
    borrow::Cow,
    net::SocketAddr,
    sync::{
        atomic::{AtomicU32, Ordering},
        Arc,
    },
};

use http::Extensions;
use http_body_util::{BodyExt, Limited};
use hyper::{body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::{TokioIo, TokioTimer};
use jsonrpsee::{
    server::{
        http::{is_json, response},
        stop_channel, ConnectionId, HttpBody, HttpRequest, HttpResponse, MethodCallback,
        MethodResponse, Methods, ServerConfig, ServerHandle, StopHandle, TowerServiceBuilder,
    },
    types::{Id, Params, TwoPointZero},
};
use serde_json::value::RawValue;
use tokio::{net::TcpListener, sync::Semaphore};
use tower::Service;

use super::access::{finish, AccessLayer};

/// jsonrpsee's HTTP service, for the requests the front does not answer itself.
type Fallback =
    jsonrpsee::server::TowerService<tower::layer::util::Identity, tower::layer::util::Identity>;

/// What every connection of one port shares.
struct Front {
    methods: Methods,
    access: AccessLayer,
    max_request_body: u32,
    max_response_body: u32,
    header_timeout: std::time::Duration,
    fallback: TowerServiceBuilder<tower::layer::util::Identity, tower::layer::util::Identity>,
    stop: StopHandle,
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
        header_timeout: limits.header_timeout,
        fallback: jsonrpsee::server::Server::builder()
            .set_config(config)
            .to_service_builder(),
        stop,
        connections: Arc::new(Semaphore::new(limits.max_connections as usize)),
        next_conn_id: AtomicU32::new(0),
    });
    tokio::spawn(accept_loop(listener, front));
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
    /// A connection that does not send a complete request head within this time (also
    /// while idle between requests) is closed, so stalled clients cannot hold every
    /// connection slot.
    pub header_timeout: std::time::Duration,
}

impl Limits {
    /// How long a client may take to send a request head.
    pub const HEADER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
    /// How long a client may take to send a request body after its head.
    pub const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
    /// How long sent data may wait for the client's acknowledgement before the kernel
    /// drops the connection (a client that stops reading our replies).
    pub const WRITE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
}

/// The reply to a connection over the limit, written before anything is read.
const TOO_MANY: &[u8] = b"HTTP/1.1 429 Too Many Requests\r\ncontent-type: text/plain\r\ncontent-length: 21\r\nconnection: close\r\n\r\nToo many connections\n";

async fn accept_loop(listener: TcpListener, front: Arc<Front>) {
    let stop = front.stop.clone();
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
        // A client that stops reading our replies must not hold its slot for ever.
        let _ = socket2::SockRef::from(&socket).set_tcp_user_timeout(Some(Limits::WRITE_TIMEOUT));
        let permit = front.connections.clone().try_acquire_owned().ok();
        if permit.is_none() {
            crate::metrics::global().refused(crate::metrics::Refusal::Connections);
            // Over the limit: one 429 and closed at once, without waiting for its request.
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut socket = socket;
                let _ = tokio::time::timeout(std::time::Duration::from_secs(1), async {
                    // Take what a well-behaved client sends at once (its request), so it
                    // reads our reply rather than a reset; a silent one waits 200 ms at most.
                    let mut buf = [0u8; 8192];
                    let _ = tokio::time::timeout(
                        std::time::Duration::from_millis(200),
                        socket.read(&mut buf),
                    )
                    .await;
                    let _ = socket.write_all(TOO_MANY).await;
                    let _ = socket.shutdown().await;
                })
                .await;
            });
            continue;
        }
        let front = front.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let conn_id = front.next_conn_id.fetch_add(1, Ordering::Relaxed);
            let header_timeout = front.header_timeout;
            let svc = service_fn(move |req: hyper::Request<Incoming>| {
                let front = front.clone();
                async move { Ok::<_, std::convert::Infallible>(front.handle(req, conn_id).await) }
            });
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
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

/// `408 Request Timeout`, closing the connection.
fn request_timeout() -> HttpResponse {
    let mut r = HttpResponse::new(HttpBody::from("request body not received in time\n"));
    *r.status_mut() = http::StatusCode::REQUEST_TIMEOUT;
    r.headers_mut().insert(
        http::header::CONNECTION,
        http::HeaderValue::from_static("close"),
    );
    r
}

impl Front {
    async fn handle(&self, req: hyper::Request<Incoming>, conn_id: u32) -> HttpResponse {
        let allow_origin = match self.access.admit(&req) {
            Ok(o) => o,
            Err(refusal) => return *refusal,
        };
        let mut r = self.respond(req, conn_id).await;
        finish(&mut r, allow_origin.as_deref());
        r
    }

    async fn respond(&self, req: hyper::Request<Incoming>, conn_id: u32) -> HttpResponse {
        let plain_post = req.method() == http::Method::POST
            && is_json(req.headers().get(http::header::CONTENT_TYPE))
            && !req.headers().contains_key(http::header::UPGRADE);
        if !plain_post {
            // jsonrpsee reads the body itself: the whole request gets the deadline.
            return tokio::time::timeout(
                Limits::BODY_TIMEOUT,
                self.delegate(req.map(HttpBody::new)),
            )
            .await
            .unwrap_or_else(|_| request_timeout());
        }
        let (parts, body) = req.into_parts();
        let body = match tokio::time::timeout(
            Limits::BODY_TIMEOUT,
            Limited::new(body, self.max_request_body as usize).collect(),
        )
        .await
        {
            Ok(Ok(b)) => b.to_bytes(),
            Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
                crate::metrics::global().refused(crate::metrics::Refusal::BodySize);
                return response::too_large(self.max_request_body);
            }
            Ok(Err(_)) => return response::malformed(),
            // A body that stalls: the connection goes (keep-alive off on this reply).
            Err(_) => {
                crate::metrics::global().refused(crate::metrics::Refusal::BodyTimeout);
                return request_timeout();
            }
        };
        if let Some(rp) = self.call(&body, conn_id).await {
            return response::from_method_response(rp);
        }
        self.delegate(HttpRequest::from_parts(
            parts,
            HttpBody::new(http_body_util::Full::new(body)),
        ))
        .await
    }

    /// jsonrpsee's own answer to a request the front does not handle itself. Its service
    /// is built only here, so the calls the front answers do not pay for it.
    async fn delegate(&self, req: HttpRequest) -> HttpResponse {
        let mut service: Fallback = self
            .fallback
            .clone()
            .build(self.methods.clone(), self.stop.clone());
        match service.call(req).await {
            Ok(r) => r,
            Err(_) => response::internal_error(),
        }
    }

    /// Answers `body` when it is one JSON-RPC call of a registered method; None sends it
    /// to jsonrpsee.
    async fn call(&self, body: &[u8], conn_id: u32) -> Option<MethodResponse> {
        let (id, method, params) = read_call(body)?;
        let callback = self.methods.method(&method)?;
        let params = Params::new(params.map(RawValue::get));
        let max = self.max_response_body as usize;
        let started = std::time::Instant::now();
        let r = match callback {
            MethodCallback::Sync(f) => Some(f(id, params, max, Extensions::new())),
            MethodCallback::Async(f) => Some(
                f(
                    id.into_owned(),
                    params.into_owned(),
                    ConnectionId(conn_id as usize),
                    max,
                    Extensions::new(),
                )
                .await,
            ),
            // Subscriptions need a connection to talk back on: jsonrpsee says so.
            MethodCallback::Subscription(_) | MethodCallback::Unsubscription(_) => None,
        };
        if let Some(r) = &r {
            // A registered method's name: the label set is bounded by the module.
            crate::metrics::global().rpc_call(&method, r.is_success(), started.elapsed());
        }
        r
    }
}

/// Reads `body` as one JSON-RPC call the front may answer itself: its id (as jsonrpsee
/// would read it), method and raw params. None for anything else (a batch, malformed
/// JSON, an id jsonrpsee reads differently), which then goes to jsonrpsee.
pub(crate) fn read_call(body: &[u8]) -> Option<(Id<'_>, Cow<'_, str>, Option<&RawValue>)> {
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return None;
    }
    let call: Call = serde_json::from_slice(body).ok()?;
    let id = call.id()?;
    Some((id, call.method, call.params))
}

/// One JSON-RPC call as the front reads it. jsonrpsee's own `Request` reads its id as an
/// untagged enum, which buffers the value and formats an error message for every variant
/// it tries; in profiles that was a tenth of a cheap call. Anything this stricter reading
/// refuses goes to jsonrpsee, which then answers as it always did.
#[derive(serde::Deserialize)]
struct Call<'a> {
    #[allow(dead_code)] // present and "2.0", or the call is jsonrpsee's to judge
    jsonrpc: TwoPointZero,
    #[serde(borrow)]
    id: &'a RawValue,
    #[serde(borrow)]
    method: Cow<'a, str>,
    #[serde(borrow, default)]
    params: Option<&'a RawValue>,
}

impl<'a> Call<'a> {
    /// The id as jsonrpsee would read it: null, a u64 or a string; None for anything else.
    fn id(&self) -> Option<Id<'a>> {
        let raw: &'a str = self.id.get();
        match raw.as_bytes().first()? {
            b'n' if raw == "null" => Some(Id::Null),
            b'0'..=b'9' => raw.parse().ok().map(Id::Number),
            b'"' => serde_json::from_str::<Cow<str>>(raw).ok().map(Id::Str),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    //! The front must answer every request exactly as jsonrpsee's server (with the same
    //! access layer) does: the same callbacks behind both, the same bytes out.

    use std::time::Duration;

    use jsonrpsee::{server::RpcModule, types::ErrorObjectOwned};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    fn module() -> RpcModule<()> {
        let mut m = RpcModule::new(());
        m.register_method("echo", |p, _, _| p.parse::<serde_json::Value>())
            .unwrap();
        m.register_async_method("later", |p, _, _| async move {
            let n: u64 = p.one()?;
            Ok::<_, ErrorObjectOwned>(n + 1)
        })
        .unwrap();
        m.register_method("fails", |_, _, _| {
            Err::<(), _>(ErrorObjectOwned::owned(-32000, "no", Some("why")))
        })
        .unwrap();
        m
    }

    fn config() -> ServerConfig {
        ServerConfig::builder()
            .max_request_body_size(200)
            .http_only()
            .build()
    }

    /// An HTTP/1.1 request; `close` asks the server to close after answering.
    fn request(method: &str, ctype: &str, body: &str, close: bool) -> String {
        let connection = if close { "Connection: close\r\n" } else { "" };
        format!(
            "{method} / HTTP/1.1\r\nHost: localhost\r\nContent-Type: {ctype}\r\n\
             Content-Length: {}\r\n{connection}\r\n{body}",
            body.len()
        )
    }

    /// Everything the server sends until it closes the connection, which it must do
    /// within `limit` (`what` says why it should).
    async fn read_until_closed(
        s: &mut tokio::net::TcpStream,
        limit: Duration,
        what: &str,
    ) -> String {
        let mut buf = Vec::new();
        tokio::time::timeout(limit, s.read_to_end(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("not closed within {limit:?}: {what}"))
            .unwrap_or_else(|e| panic!("closed uncleanly ({e}): {what}"));
        String::from_utf8_lossy(&buf).into_owned()
    }

    /// Status line and body of one request sent on its own connection.
    async fn send(addr: SocketAddr, method: &str, ctype: &str, body: &str) -> (String, String) {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(request(method, ctype, body, true).as_bytes())
            .await
            .unwrap();
        let out = read_until_closed(&mut s, Duration::from_secs(5), "Connection: close").await;
        let status = out.lines().next().unwrap_or_default().to_string();
        let body = out
            .split_once("\r\n\r\n")
            .map(|(_, b)| b)
            .unwrap_or_default();
        (status, body.to_string())
    }

    #[tokio::test]
    async fn the_front_answers_as_jsonrpsee_does() {
        let access = AccessLayer::new(None, None, None);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let limits = Limits {
            max_request_body: 200,
            max_response_body: 10_000,
            max_connections: 8,
            header_timeout: Limits::HEADER_TIMEOUT,
        };
        let (front, _h1) = serve(listener, module(), config(), limits, access.clone()).unwrap();
        let reference = jsonrpsee::server::Server::builder()
            .set_config(config())
            .set_http_middleware(tower::ServiceBuilder::new().layer(access))
            .build("127.0.0.1:0")
            .await
            .unwrap();
        let reference_addr = reference.local_addr().unwrap();
        let _h2 = reference.start(module());
        let json = "application/json";
        let big = format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"echo","params":["{}"]}}"#,
            "x".repeat(300)
        );
        let cases: Vec<(&str, &str, String)> = [
            r#"{"jsonrpc":"2.0","id":1,"method":"echo","params":[1,"a"]}"#,
            r#"  {"jsonrpc":"2.0","id":"x\"y","method":"echo","params":{"a":1}}"#,
            r#"{"jsonrpc":"2.0","id":null,"method":"echo"}"#,
            r#"{"jsonrpc":"2.0","id":-1,"method":"echo","params":[]}"#,
            r#"{"jsonrpc":"2.0","id":1.5,"method":"echo","params":[]}"#,
            r#"{"jsonrpc":"2.0","id":18446744073709551616,"method":"echo"}"#,
            r#"{"jsonrpc":"2.0","id":{},"method":"echo","params":[]}"#,
            r#"{"jsonrpc":"2.0","method":"echo","params":[]}"#,
            r#"{"id":1,"method":"echo","params":[]}"#,
            r#"{"jsonrpc":"1.0","id":1,"method":"echo","params":[]}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"echo","params":null}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"ech\u006f","params":[2]}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"nope","params":[]}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"later","params":[41]}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"later","params":["x"]}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"fails","params":[]}"#,
            r#"{"jsonrpc":"2.0","id":1,"id":2,"method":"echo","params":[]}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"echo","params":[],"extra":true}"#,
            r#"[{"jsonrpc":"2.0","id":1,"method":"echo","params":[]},{"jsonrpc":"2.0","id":2,"method":"later","params":[1]}]"#,
            r#"[]"#,
            r#""#,
            r#"{"#,
            r#"not json"#,
        ]
        .into_iter()
        .map(|b| ("POST", json, b.to_string()))
        .chain([
            ("POST", json, big),
            ("POST", "text/plain", r#"{"jsonrpc":"2.0","id":1,"method":"echo"}"#.into()),
            ("GET", json, String::new()),
            ("PUT", json, r#"{"jsonrpc":"2.0","id":1,"method":"echo"}"#.into()),
        ])
        .collect();
        for (method, ctype, body) in &cases {
            let ours = send(front, method, ctype, body).await;
            let theirs = send(reference_addr, method, ctype, body).await;
            // Headers differ only in Date; status line and body must be the same.
            assert_eq!(ours, theirs, "{method} {ctype} {body}");
        }
    }

    #[tokio::test]
    async fn connections_beyond_the_limit_are_told_to_come_back_later() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let limits = Limits {
            max_request_body: 200,
            max_response_body: 10_000,
            max_connections: 1,
            header_timeout: Duration::from_millis(300),
        };
        let access = AccessLayer::new(None, None, None);
        let (addr, _h) = serve(listener, module(), config(), limits, access).unwrap();
        // The first connection stays open (it is held, not yet closed).
        let held = tokio::net::TcpStream::connect(addr).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let body = r#"{"jsonrpc":"2.0","id":1,"method":"echo","params":[]}"#;
        let (status, text) = send(addr, "POST", "application/json", body).await;
        assert_eq!(status, "HTTP/1.1 429 Too Many Requests");
        assert!(text.contains("Too many connections"), "{text}");
        // Refused connections do not stay open for more requests.
        let keep_alive = request("POST", "application/json", body, false);
        let mut refused = tokio::net::TcpStream::connect(addr).await.unwrap();
        refused.write_all(keep_alive.as_bytes()).await.unwrap();
        let reply = read_until_closed(
            &mut refused,
            Duration::from_millis(250),
            "closed right after its 429, well before the header timeout",
        )
        .await;
        assert!(reply.starts_with("HTTP/1.1 429"), "{reply}");
        drop(held);
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (status, text) = send(addr, "POST", "application/json", body).await;
        assert_eq!(status, "HTTP/1.1 200 OK", "{text}");

        // A client that stalls inside its request head is cut off, and its slot freed.
        let mut stalled = tokio::net::TcpStream::connect(addr).await.unwrap();
        stalled
            .write_all(b"POST / HTTP/1.1\r\nHost: localhost\r\n")
            .await
            .unwrap();
        read_until_closed(
            &mut stalled,
            Duration::from_secs(3),
            "a stalled connection is closed within the header timeout",
        )
        .await;

        // So is one left idle after a request (keep-alive).
        let mut idle = tokio::net::TcpStream::connect(addr).await.unwrap();
        idle.write_all(keep_alive.as_bytes()).await.unwrap();
        let reply = read_until_closed(
            &mut idle,
            Duration::from_secs(3),
            "an idle keep-alive connection is closed within the header timeout",
        )
        .await;
        assert!(reply.starts_with("HTTP/1.1 200 OK"), "{reply}");
        let (status, text) = send(addr, "POST", "application/json", body).await;
        assert_eq!(status, "HTTP/1.1 200 OK", "{text}");
    }
}
