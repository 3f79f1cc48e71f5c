//! The floor of JSON-RPC over HTTP on this machine: an HTTP/1.1 server on the same stack as
//! cfxlight's front (tokio, hyper, TCP_NODELAY) that answers every POST with one fixed
//! `cfx_getBalance`-sized reply, doing no JSON-RPC work at all. `scripts/bench-rpc --floor`
//! runs wrk against it, so the table shows how much of a request's cost is the kernel's
//! loopback TCP and the load generator, which no server can remove.
//!
//!     cargo run --release -p cfxlight-node --example http_floor -- 127.0.0.1:14600

use std::{convert::Infallible, net::SocketAddr};

use http_body_util::{BodyExt, Full};
use hyper::{body::Bytes, server::conn::http1, service::service_fn, Response};
use hyper_util::rt::TokioIo;

const REPLY: &str = r#"{"jsonrpc":"2.0","id":1,"result":"0x21e19e0c9bab2400000"}"#;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:14600".into())
        .parse()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    eprintln!("http_floor: listening on http://{}", listener.local_addr()?);
    loop {
        let (socket, _) = listener.accept().await?;
        let _ = socket.set_nodelay(true);
        tokio::spawn(async move {
            let svc = service_fn(|req: hyper::Request<hyper::body::Incoming>| async move {
                // Read the body, as a real server must.
                let _ = req.into_body().collect().await;
                Ok::<_, Infallible>(
                    Response::builder()
                        .header("content-type", "application/json; charset=utf-8")
                        .body(Full::new(Bytes::from_static(REPLY.as_bytes())))
                        .unwrap_or_default(),
                )
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(socket), svc)
                .await;
        });
    }
}
