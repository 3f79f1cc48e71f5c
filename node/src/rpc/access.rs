//! HTTP access rules in front of every RPC port: the bearer token (compared in constant
//! time), the `Host` allow-list (loopback names only on the signing port by default: DNS
//! rebinding), the `Origin` of WebSocket upgrades (browsers apply no CORS to them), and the
//! CORS answers; refusals are counted in [`crate::metrics`].

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse};

/// HTTP access control in front of the JSON-RPC service.
#[derive(Clone, Default)]
pub struct AccessLayer {
    token: Option<Arc<str>>,
    cors: Option<Arc<[String]>>,
    hosts: Option<Arc<[String]>>,
}

impl AccessLayer {
    /// Requires `Authorization: Bearer <token>` when set; answers CORS for these origins
    /// (`*` = any); accepts only these `Host` names (port ignored) when set.
    pub fn new(
        token: Option<String>,
        cors: Option<Vec<String>>,
        hosts: Option<Vec<String>>,
    ) -> Self {
        AccessLayer {
            token: token.map(Into::into),
            cors: cors.map(Into::into),
            hosts: hosts.map(Into::into),
        }
    }
}

impl<S> tower::Layer<S> for AccessLayer {
    type Service = Access<S>;
    fn layer(&self, inner: S) -> Access<S> {
        Access {
            inner,
            cfg: self.clone(),
        }
    }
}

/// The service [`AccessLayer`] wraps around the RPC.
#[derive(Clone)]
pub struct Access<S> {
    inner: S,
    cfg: AccessLayer,
}

type BoxFut<R, E> = Pin<Box<dyn Future<Output = Result<R, E>> + Send>>;

fn reply(status: u16, body: &'static str) -> HttpResponse {
    let mut r = HttpResponse::new(HttpBody::from(body));
    *r.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::FORBIDDEN);
    r
}

impl<S, B> tower::Service<HttpRequest<B>> for Access<S>
where
    S: tower::Service<HttpRequest<B>, Response = HttpResponse> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = HttpResponse;
    type Error = S::Error;
    type Future = BoxFut<HttpResponse, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: HttpRequest<B>) -> Self::Future {
        let allow_origin = match self.cfg.admit(&req) {
            Ok(o) => o,
            Err(r) => return Box::pin(async { Ok(*r) }),
        };
        let fut = self.inner.call(req);
        Box::pin(async move {
            let mut r = fut.await?;
            finish(&mut r, allow_origin.as_deref());
            Ok(r)
        })
    }
}

impl AccessLayer {
    /// Checks a request's Host, CORS preflight and bearer token: Ok with the origin to
    /// answer CORS for (if any), or the refusal to send back.
    pub(crate) fn admit<B>(
        &self,
        req: &HttpRequest<B>,
    ) -> Result<Option<String>, Box<HttpResponse>> {
        if let Some(hosts) = &self.hosts {
            let host = req
                .headers()
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(host_name);
            if !host.is_some_and(|h| hosts.iter().any(|a| a == "*" || *a == h)) {
                crate::metrics::global().refused(crate::metrics::Refusal::Host);
                return Err(Box::new(reply(403, "Host not allowed\n")));
            }
        }
        let origin = req
            .headers()
            .get(http::header::ORIGIN)
            .and_then(|o| o.to_str().ok());
        // Browsers do not apply CORS to WebSocket: a page of any origin could open one, so
        // an upgrade that carries an Origin must come from an allowed one (non-browser
        // clients send none).
        let upgrade = req
            .headers()
            .get(http::header::UPGRADE)
            .and_then(|u| u.to_str().ok())
            .is_some_and(|u| u.eq_ignore_ascii_case("websocket"));
        if upgrade {
            if let Some(o) = origin {
                let allowed = self
                    .cors
                    .as_ref()
                    .is_some_and(|list| list.iter().any(|a| a == "*" || a == o));
                if !allowed {
                    crate::metrics::global().refused(crate::metrics::Refusal::Origin);
                    return Err(Box::new(reply(403, "Origin not allowed\n")));
                }
            }
        }
        let allow_origin = match (&self.cors, origin) {
            (Some(list), Some(o)) if list.iter().any(|a| a == "*" || a == o) => Some(o.to_string()),
            _ => None,
        };
        if req.method() == http::Method::OPTIONS && self.cors.is_some() {
            let mut r = reply(if allow_origin.is_some() { 204 } else { 403 }, "");
            if let Some(o) = &allow_origin {
                add_cors(&mut r, o);
            }
            return Err(Box::new(r));
        }
        if let Some(token) = &self.token {
            let ok = req
                .headers()
                .get(http::header::AUTHORIZATION)
                .and_then(|h| h.to_str().ok())
                .and_then(|h| h.strip_prefix("Bearer "))
                .is_some_and(|t| {
                    bool::from(subtle::ConstantTimeEq::ct_eq(
                        t.as_bytes(),
                        token.as_bytes(),
                    ))
                });
            if !ok {
                crate::metrics::global().refused(crate::metrics::Refusal::Token);
                return Err(Box::new(reply(401, "missing or wrong bearer token\n")));
            }
        }
        Ok(allow_origin)
    }
}

/// Last touches on an admitted request's response: HTTP status as conflux-rust gives it,
/// and the CORS headers.
pub(crate) fn finish(r: &mut HttpResponse, allow_origin: Option<&str>) {
    // conflux-rust answers a body that is not JSON with HTTP 200 and a JSON-RPC parse
    // error; jsonrpsee says 400. Clients look at the JSON, so match it.
    if r.status() == http::StatusCode::BAD_REQUEST {
        *r.status_mut() = http::StatusCode::OK;
    }
    if let Some(o) = allow_origin {
        add_cors(r, o);
    }
}

fn add_cors(r: &mut HttpResponse, origin: &str) {
    let h = r.headers_mut();
    if let Ok(v) = http::HeaderValue::from_str(origin) {
        h.insert(http::header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
    }
    h.insert(
        http::header::ACCESS_CONTROL_ALLOW_METHODS,
        http::HeaderValue::from_static("POST, OPTIONS"),
    );
    h.insert(
        http::header::ACCESS_CONTROL_ALLOW_HEADERS,
        http::HeaderValue::from_static("content-type, authorization"),
    );
}

/// The name of a `Host` header, lower case, without its port (`[::1]:12539` → `[::1]`).
fn host_name(h: &str) -> String {
    let name = if let Some(rest) = h.strip_prefix('[') {
        rest.split_once(']').map_or(h, |(v6, _)| &h[..v6.len() + 2])
    } else {
        h.rsplit_once(':').map_or(h, |(n, _)| n)
    };
    name.to_ascii_lowercase()
}

/// The `Host` names the local (signing) port accepts unless `--rpc-hosts` says otherwise:
/// loopback names only, so a DNS-rebound page (`evil.example` resolving to 127.0.0.1)
/// is refused.
pub const LOCAL_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];
