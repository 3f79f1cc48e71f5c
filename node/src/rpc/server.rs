//! Server assembly: the limits (`--rpc-*`), the method module, and the public HTTP and
//! WebSocket servers plus the loopback-only local (signing) server.

use std::{net::SocketAddr, sync::Arc};

use jsonrpsee::server::{BatchRequestConfig, RpcModule, Server, ServerConfig, ServerHandle};

use super::{
    access, budget::Budgets, call, chain, context::RpcContext, filters, filters::FilterLimits,
    http, local, logs::LogLimits, pool, pubsub, state, AccessLayer, LocalConfig,
};

/// Server limits and access (the `--rpc-*` flags).
#[derive(Debug, Clone, serde::Serialize)]
pub struct RpcConfig {
    /// HTTP port on the RPC interface.
    pub http_port: u16,
    /// WebSocket port on the RPC interface.
    pub ws_port: u16,
    /// Interface the public ports bind to.
    pub interface: std::net::IpAddr,
    /// Largest request body, bytes.
    pub max_request_body: u32,
    /// Largest response body, bytes.
    pub max_response_body: u32,
    /// Memory all responses being built at once may hold, bytes.
    pub max_response_memory: u64,
    /// The bounds of one `cfx_getLogs`.
    pub logs: LogLimits,
    /// The bounds of the polled filters.
    pub filters: FilterLimits,
    /// Most calls in one batch.
    pub max_batch: u32,
    /// Most simultaneous connections per server.
    pub max_connections: u32,
    /// Most subscriptions per WebSocket connection.
    pub max_subscriptions: u32,
    /// Origins answered with CORS headers (`*` = any); None: no CORS.
    pub cors: Option<Vec<String>>,
    /// Accepted `Host` header names; None: any.
    pub hosts: Option<Vec<String>>,
    /// Local (signing) port settings.
    pub local: LocalConfig,
}

impl RpcConfig {
    /// The response budgets these limits set (see [`Budgets`]).
    pub fn budgets(&self) -> Budgets {
        Budgets::new(
            self.max_response_body as usize,
            usize::try_from(self.max_response_memory).unwrap_or(usize::MAX),
        )
    }
}

impl Default for RpcConfig {
    fn default() -> Self {
        RpcConfig {
            http_port: 12537,
            ws_port: 12535,
            interface: std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
            max_request_body: 5 * 1024 * 1024,
            max_response_body: 50 * 1024 * 1024,
            max_response_memory: 200 * 1024 * 1024,
            logs: LogLimits::default(),
            filters: FilterLimits::default(),
            max_batch: 1000,
            max_connections: 256,
            max_subscriptions: 64,
            cors: None,
            hosts: None,
            local: LocalConfig::default(),
        }
    }
}

/// Builds the public `cfx_*` module (plus pub/sub and, when configured, signing).
pub fn module(
    ctx: Arc<RpcContext>,
    with_signing: bool,
) -> Result<RpcModule<Arc<RpcContext>>, jsonrpsee::core::RegisterMethodError> {
    let mut m = RpcModule::new(ctx);
    chain::register(&mut m)?;
    state::register(&mut m)?;
    call::register(&mut m)?;
    pool::register(&mut m)?;
    filters::register(&mut m)?;
    pubsub::register(&mut m)?;
    local::register(&mut m, with_signing)?;
    chain::register_not_implemented(&mut m)?;
    Ok(m)
}

/// Running RPC servers; dropping this stops them.
pub struct RpcServers {
    /// HTTP server.
    pub http: ServerHandle,
    /// WebSocket server.
    pub ws: ServerHandle,
    /// Local (signing) HTTP server, when enabled.
    pub local: Option<ServerHandle>,
    /// Where HTTP listens.
    pub http_addr: SocketAddr,
    /// Where WebSocket listens.
    pub ws_addr: SocketAddr,
    /// Where the local HTTP server listens.
    pub local_addr: Option<SocketAddr>,
}

fn server_config(c: &RpcConfig, http: bool) -> ServerConfig {
    let b = ServerConfig::builder()
        .max_request_body_size(c.max_request_body)
        .max_response_body_size(c.max_response_body)
        .max_connections(c.max_connections)
        .max_subscriptions_per_connection(c.max_subscriptions)
        .set_batch_request_config(BatchRequestConfig::Limit(c.max_batch))
        .set_id_provider(pubsub::HexIdProvider);
    if http {
        b.http_only().build()
    } else {
        // A WebSocket that stops answering pings (or a page left open and idle) gives its
        // slot back: pinged every 30 s, closed after 60 s without a pong.
        b.ws_only()
            .enable_ws_ping(
                jsonrpsee::server::PingConfig::new()
                    .ping_interval(std::time::Duration::from_secs(30))
                    .inactive_limit(std::time::Duration::from_secs(60)),
            )
            .build()
    }
}

/// Starts the public HTTP and WebSocket servers, and the loopback-only local server when
/// a port is configured (port 0 picks a free one).
pub async fn start(ctx: Arc<RpcContext>, config: &RpcConfig) -> anyhow::Result<RpcServers> {
    let public = module(ctx.clone(), config.local.public_signing)?;
    // The token guards the signing methods: on the public ports only when they are there.
    let public_access = AccessLayer::new(
        config
            .local
            .public_signing
            .then(|| config.local.token.clone())
            .flatten(),
        config.cors.clone(),
        config.hosts.clone(),
    );
    let limits = http::Limits {
        max_request_body: config.max_request_body,
        max_response_body: config.max_response_body,
        max_connections: config.max_connections,
        header_timeout: http::Limits::HEADER_TIMEOUT,
    };
    let bind = |port| SocketAddr::new(config.interface, port);
    let listener = tokio::net::TcpListener::bind(bind(config.http_port))
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot listen for JSON-RPC over HTTP on {}: {e}",
                bind(config.http_port)
            )
        })?;
    let (http_addr, http) = http::serve(
        listener,
        public.clone(),
        server_config(config, true),
        limits,
        public_access.clone(),
    )?;
    let ws = Server::builder()
        .set_config(server_config(config, false))
        .set_http_middleware(tower::ServiceBuilder::new().layer(public_access))
        .build(bind(config.ws_port))
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot listen for JSON-RPC over WebSocket on {}: {e}",
                bind(config.ws_port)
            )
        })?;
    let ws_addr = ws.local_addr()?;
    let (local, local_addr) = match config.local.port {
        Some(port) => {
            // The signing port is loopback-only, whatever the public interface.
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
                .await
                .map_err(|e| {
                    anyhow::anyhow!("cannot listen for local JSON-RPC on 127.0.0.1:{port}: {e}")
                })?;
            let (addr, handle) = http::serve(
                listener,
                module(ctx, true)?,
                server_config(config, true),
                limits,
                // Loopback names only unless configured; CORS only behind a token
                // (configuration refuses CORS on signing ports without one).
                AccessLayer::new(
                    config.local.token.clone(),
                    config.local.token.as_ref().and(config.cors.clone()),
                    Some(config.hosts.clone().unwrap_or_else(|| {
                        access::LOCAL_HOSTS.iter().map(|h| h.to_string()).collect()
                    })),
                ),
            )?;
            (Some(handle), Some(addr))
        }
        None => (None, None),
    };
    Ok(RpcServers {
        http,
        ws: ws.start(public),
        local,
        http_addr,
        ws_addr,
        local_addr,
    })
}
