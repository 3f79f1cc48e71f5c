//! The dapp-facing JSON-RPC: `cfx_*` methods in conflux-rust's exact JSON shapes, served
//! over HTTP and WebSocket on 127.0.0.1, answered only from what this node verified.
//!
//! Chain position and headers come from the store that sync filled; state, bodies,
//! receipts and logs come from [`crate::query`], which accepts a peer's answer only after
//! checking it against verified roots. Parameters are parsed by hand so that malformed
//! requests get conflux-rust's codes and messages (`-32602 "Invalid params: …"`), and a
//! method a light node cannot serve answers `-32000 "This API is not implemented yet"`
//! like conflux-rust's light node, never with a made-up value.
//!
//! Modules by concern: `chain` (chain, block, fee and log methods), `state` (verified
//! state reads), `pubsub` (subscriptions), `send` (raw transactions: ours kept, others
//! checked and relayed once), `local` (the signing methods, on the local port only unless
//! the configuration opens them on the public one), `access` (token, Host, Origin, CORS),
//! `http` (our HTTP front for single calls).

mod access;
mod chain;
#[doc(hidden)]
pub mod fuzzing;
mod http;
pub mod local;
mod pubsub;
mod send;
mod state;

use std::{
    net::SocketAddr,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
};

use cfxlight_chainspec::{ChainSpec, PowMode};
use cfxlight_primitives::{address::CfxAddress, H160, H256, U256};
use jsonrpsee::{
    server::{BatchRequestConfig, RpcModule, Server, ServerConfig, ServerHandle},
    types::{ErrorObjectOwned, Params},
};
use serde_json::Value;

use crate::{
    query::{Query, QueryError},
    store::Store,
    txpool::TxPool,
};

pub use access::AccessLayer;
pub use local::{LocalConfig, Signing};

/// conflux-rust's "invalid parameters" code.
pub(crate) const INVALID_PARAMS: i32 = -32602;
/// conflux-rust's generic "cannot serve this / invalid input" code.
pub(crate) const UNSUPPORTED: i32 = -32000;
/// Internal error.
pub(crate) const INTERNAL: i32 = -32603;
/// conflux-rust's NO_PEERS.
pub(crate) const NO_PEERS: i32 = -32066;

/// Chain facts the RPC reports.
#[derive(Debug, Clone, Copy)]
pub struct ChainInfo {
    /// Core chain id.
    pub chain_id: u32,
    /// eSpace chain id.
    pub evm_chain_id: u32,
    /// Network id (address prefix).
    pub network_id: u64,
    /// PoW flavour (how `powQuality` is computed).
    pub pow: PowMode,
    /// First epoch with CIP-1559 fees.
    pub cip1559_height: u64,
}

impl ChainInfo {
    /// The facts of a chain spec.
    pub fn of(spec: &ChainSpec) -> ChainInfo {
        ChainInfo {
            chain_id: spec.chain_id,
            evm_chain_id: spec.evm_chain_id,
            network_id: spec.network_id,
            pow: spec.pow,
            cip1559_height: spec.forks.cip1559_height,
        }
    }
}

/// What the RPC answers from.
pub struct RpcContext {
    pub(crate) store: Arc<Store>,
    pub(crate) query: Arc<Query>,
    pub(crate) chain: ChainInfo,
    /// The `latest_state` epoch the RPC serves: the newest verified state whose watched
    /// accounts are already fetched (u64::MAX until the first prefetch: then the store's).
    pub(crate) served_state: Arc<AtomicU64>,
    pub(crate) signing: Option<Arc<Signing>>,
    pub(crate) pool: Arc<TxPool>,
    pub(crate) pubsub: pubsub::Hub,
    /// The node's shared PoW verifier, for `powQuality` on Octopus chains.
    pub(crate) pow: Option<crate::pow::PowVerifier>,
}

impl RpcContext {
    /// An RPC context over the node's store and verified reads for this chain.
    pub fn new(
        store: Arc<Store>,
        query: Arc<Query>,
        pool: Arc<TxPool>,
        spec: &ChainSpec,
    ) -> RpcContext {
        RpcContext {
            store,
            query,
            chain: ChainInfo::of(spec),
            served_state: Arc::new(AtomicU64::new(u64::MAX)),
            signing: None,
            pool,
            pubsub: pubsub::Hub::default(),
            pow: None,
        }
    }

    /// Shares the node's PoW verifier (its Octopus caches) for `powQuality`.
    pub fn with_pow(mut self, pow: crate::pow::PowVerifier) -> RpcContext {
        self.pow = Some(pow);
        self
    }

    /// Adds the signing side (signer, pending pool) behind the local methods.
    pub fn with_signing(mut self, signing: Arc<Signing>) -> RpcContext {
        self.signing = Some(signing);
        self
    }

    /// The shared `latest_state` marker, advanced by the node's prefetch loop.
    pub fn served_state(&self) -> Arc<AtomicU64> {
        self.served_state.clone()
    }

    /// The pub/sub hub, fed by the node's follow loop.
    pub fn hub(&self) -> pubsub::Hub {
        self.pubsub.clone()
    }

    pub(crate) fn best_epoch(&self) -> Result<u64, ErrorObjectOwned> {
        Ok(self.store.best_epoch().map_err(internal)?.unwrap_or(0))
    }

    pub(crate) fn latest_state(&self) -> Result<u64, ErrorObjectOwned> {
        let stored = self.store.latest_state().map_err(internal)?.unwrap_or(0);
        let served = self.served_state.load(Ordering::Acquire);
        Ok(if served == u64::MAX {
            stored
        } else {
            served.min(stored)
        })
    }
}

pub(crate) fn internal(e: impl std::fmt::Display) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(INTERNAL, e.to_string(), None::<()>)
}

/// `-32602 "Invalid params: <msg>"`, as jsonrpc-core words parse failures.
pub(crate) fn invalid_params(msg: impl std::fmt::Display) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(
        INVALID_PARAMS,
        format!("Invalid params: {msg}."),
        None::<()>,
    )
}

/// `-32602 "Invalid parameters: <field>"` with the reason as a JSON-encoded string in
/// `data`, as conflux-rust's `invalid_params` helper writes it.
pub(crate) fn invalid_param_data(field: &str, why: impl std::fmt::Display) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(
        INVALID_PARAMS,
        format!("Invalid parameters: {field}"),
        Some(format!("{:?}", why.to_string())),
    )
}

pub(crate) fn unsupported(msg: impl std::fmt::Display) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(UNSUPPORTED, msg.to_string(), None::<()>)
}

/// conflux-rust's light-node wording for an epoch past what is verified.
pub(crate) fn unverifiable(epoch: u64, latest: u64) -> String {
    format!(
        "Filter error: {}",
        QueryError::NotVerifiable { epoch, latest }
    )
}

/// How a failed verified read reaches a dapp.
pub(crate) fn query_error(e: QueryError) -> ErrorObjectOwned {
    match e {
        QueryError::NotVerifiable { epoch, latest } => {
            invalid_param_data("epoch", unverifiable(epoch, latest))
        }
        QueryError::NoPeers => ErrorObjectOwned::owned(NO_PEERS, e.to_string(), None::<()>),
        QueryError::Store(e) => internal(e),
        e @ (QueryError::Unverified(_) | QueryError::NotServed(_)) => unsupported(e),
    }
}

/// Positional arguments of a request (conflux-rust takes arrays only).
pub(crate) struct Args(Vec<Value>);

impl Args {
    /// The arguments of a method taking `min..=max` of them, with conflux-rust's
    /// messages for a wrong count (a fixed tuple and an optional tail word it differently).
    pub(crate) fn of(
        params: &Params<'_>,
        min: usize,
        max: usize,
    ) -> Result<Args, ErrorObjectOwned> {
        let v: Vec<Value> = match params.as_str() {
            None => vec![],
            Some(s) => match serde_json::from_str::<Value>(s) {
                Ok(Value::Array(a)) => a,
                Ok(Value::Null) => vec![],
                Ok(_) => {
                    return Err(ErrorObjectOwned::owned(
                        INVALID_PARAMS,
                        "`params` should be an array",
                        None::<()>,
                    ))
                }
                Err(e) => return Err(invalid_params(e)),
            },
        };
        let n = v.len();
        if min == max && n != min {
            return Err(invalid_params(format!(
                "invalid length {n}, expected a tuple of size {min}"
            )));
        }
        if n < min {
            return Err(ErrorObjectOwned::owned(
                INVALID_PARAMS,
                format!("`params` should have at least {min} argument(s)"),
                None::<()>,
            ));
        }
        if n > max {
            return Err(invalid_param_data(
                &format!("Expected from {min} to {max} parameters."),
                format!("Got: {n}"),
            ));
        }
        Ok(Args(v))
    }

    /// Argument `i`, None when missing or null.
    pub(crate) fn get(&self, i: usize) -> Option<&Value> {
        self.0.get(i).filter(|v| !v.is_null())
    }

    pub(crate) fn typed<T: serde::de::DeserializeOwned>(
        &self,
        i: usize,
    ) -> Result<Option<T>, ErrorObjectOwned> {
        self.get(i)
            .map(|v| serde_json::from_value(v.clone()).map_err(invalid_params))
            .transpose()
    }

    /// Argument `i` as a `T`; missing or null is "invalid type: null, expected
    /// {expected}", as serde words it in conflux-rust.
    pub(crate) fn required<T: serde::de::DeserializeOwned>(
        &self,
        i: usize,
        expected: &str,
    ) -> Result<T, ErrorObjectOwned> {
        self.typed(i)?
            .ok_or_else(|| invalid_params(format!("invalid type: null, expected {expected}")))
    }

    pub(crate) fn hash(&self, i: usize) -> Result<H256, ErrorObjectOwned> {
        match self.get(i) {
            Some(v) => parse_hash(v),
            None => Err(invalid_params(
                "invalid type: null, expected a (both 0x-prefixed or not) hex string with length of 64",
            )),
        }
    }

    pub(crate) fn address(&self, i: usize, network_id: u64) -> Result<H160, ErrorObjectOwned> {
        let v = self
            .get(i)
            .ok_or_else(|| invalid_params("invalid type: null, expected a string"))?;
        parse_address(v, network_id)
    }

    /// An `EpochNumber` argument (tags and numbers).
    pub(crate) fn epoch(&self, i: usize) -> Result<Option<Epoch>, ErrorObjectOwned> {
        self.get(i).map(parse_epoch).transpose()
    }

    /// An `EpochNumberOrBlockHash` argument of the state methods: a tag, a number,
    /// `hash:<block hash>`, `{"epochNumber": "0x…"}` or `{"blockHash": …, "requirePivot": …}`.
    pub(crate) fn state_epoch(&self, i: usize) -> Result<Option<StateAt>, ErrorObjectOwned> {
        let Some(v) = self.get(i) else {
            return Ok(None);
        };
        Ok(Some(match v {
            Value::String(s) if s.starts_with("hash:") => StateAt::Block {
                hash: parse_hash(&Value::String(s["hash:".len()..].to_string()))?,
                require_pivot: false,
            },
            Value::Object(o) => {
                if let Some(n) = o.get("epochNumber") {
                    let Value::String(n) = n else {
                        return Err(invalid_params(format!(
                            "invalid type: {}, expected a block number",
                            json_kind(n)
                        )));
                    };
                    let digits = n
                        .strip_prefix("0x")
                        .ok_or_else(|| invalid_params("Invalid block number: missing 0x prefix"))?;
                    StateAt::Epoch(Epoch::Number(
                        u64::from_str_radix(digits, 16)
                            .map_err(|e| invalid_params(format!("Invalid block number: {e}")))?,
                    ))
                } else if let Some(h) = o.get("blockHash") {
                    StateAt::Block {
                        hash: parse_hash(h)?,
                        require_pivot: o
                            .get("requirePivot")
                            .and_then(Value::as_bool)
                            .unwrap_or(true),
                    }
                } else {
                    return Err(invalid_params(
                        "invalid type: map, expected an epoch number or 'latest_mined', 'latest_state', 'latest_checkpoint', 'latest_finalized', 'latest_confirmed', or 'earliest', or 'hash:<BLOCK_HASH>'",
                    ));
                }
            }
            other => StateAt::Epoch(parse_epoch_with(other, EXPECT_EPOCH_OR_HASH)?),
        }))
    }
}

/// Where a state read looks: an epoch, or the epoch of a block.
#[derive(Debug, Clone, Copy)]
pub(crate) enum StateAt {
    Epoch(Epoch),
    Block { hash: H256, require_pivot: bool },
}

/// A block or transaction hash, 0x-prefixed or not, with conflux-rust's errors.
pub(crate) fn parse_hash(v: &Value) -> Result<H256, ErrorObjectOwned> {
    let Value::String(s) = v else {
        return Err(invalid_params(format!(
            "invalid type: {}, expected a (both 0x-prefixed or not) hex string with length of 64",
            json_kind(v)
        )));
    };
    let digits = s.strip_prefix("0x").unwrap_or(s);
    if digits.len() != 64 {
        return Err(invalid_params(format!(
            "invalid length {}, expected a (both 0x-prefixed or not) hex string with length of 64",
            digits.len()
        )));
    }
    let bytes = hex::decode(digits).map_err(|e| invalid_params(format!("invalid hex: {e}")))?;
    Ok(H256::from_slice(&bytes))
}

/// A base32 address of our network, with conflux-rust's errors.
pub(crate) fn parse_address(v: &Value, network_id: u64) -> Result<H160, ErrorObjectOwned> {
    let Value::String(s) = v else {
        return Err(invalid_params(format!(
            "invalid type: {}, expected a string",
            json_kind(v)
        )));
    };
    let a: CfxAddress = s
        .parse()
        .map_err(|e: cfxlight_primitives::address::AddressError| {
            // conflux-rust's wording for the common cases, so scripts that match on it work.
            use cfxlight_primitives::address::AddressError as E;
            let why = match &e {
                E::MissingPrefix => "zero or multiple prefixes".to_string(),
                E::InvalidChar(c) => format!("invalid char ({c})"),
                other => other.to_string(),
            };
            invalid_params(format!("Invalid base32 address: input {s} error {why}"))
        })?;
    if a.network_id != network_id {
        return Err(invalid_param_data(
            "address",
            format!(
                "network prefix unexpected: ours {}, got {}",
                cfxlight_primitives::address::network_prefix(network_id),
                cfxlight_primitives::address::network_prefix(a.network_id)
            ),
        ));
    }
    Ok(a.address)
}

/// A `U64` parameter (a block number), with conflux-rust's messages: a hex string of 1
/// to 16 digits, `0x` optional.
pub(crate) fn parse_u64_hex(v: &Value) -> Result<u64, ErrorObjectOwned> {
    const EXPECTED: &str = "a (both 0x-prefixed or not) hex string with length between (0; 16]";
    let Value::String(s) = v else {
        return Err(invalid_params(format!(
            "invalid type: {}, expected {EXPECTED}",
            json_kind(v)
        )));
    };
    let digits = s.strip_prefix("0x").unwrap_or(s);
    if digits.is_empty() || digits.len() > 16 {
        return Err(invalid_params(format!(
            "invalid length {}, expected {EXPECTED}",
            digits.len()
        )));
    }
    if let Some((i, c)) = digits.char_indices().find(|(_, c)| !c.is_ascii_hexdigit()) {
        return Err(invalid_params(format!(
            "invalid hex character: {c}, at {i}"
        )));
    }
    u64::from_str_radix(digits, 16).map_err(invalid_params)
}

fn json_kind(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("boolean `{b}`"),
        Value::Number(n) => format!("integer `{n}`"),
        Value::String(s) => format!("string {s:?}"),
        Value::Array(_) => "sequence".into(),
        Value::Object(_) => "map".into(),
    }
}

/// An epoch argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Epoch {
    LatestMined,
    LatestState,
    LatestConfirmed,
    LatestCheckpoint,
    LatestFinalized,
    Earliest,
    Number(u64),
}

/// What an `EpochNumber` parameter accepts, in conflux-rust's words.
const EXPECT_EPOCH: &str = "an epoch number or 'latest_mined', 'latest_state', 'latest_checkpoint', 'latest_finalized', 'latest_confirmed' or 'earliest'";
/// What an `EpochNumberOrBlockHash` parameter accepts.
const EXPECT_EPOCH_OR_HASH: &str = "an epoch number or 'latest_mined', 'latest_state', 'latest_checkpoint', 'latest_finalized', 'latest_confirmed', or 'earliest', or 'hash:<BLOCK_HASH>'";

pub(crate) fn parse_epoch(v: &Value) -> Result<Epoch, ErrorObjectOwned> {
    parse_epoch_with(v, EXPECT_EPOCH)
}

fn parse_epoch_with(v: &Value, expected: &str) -> Result<Epoch, ErrorObjectOwned> {
    let Value::String(s) = v else {
        return Err(invalid_params(format!(
            "invalid type: {}, expected {expected}",
            json_kind(v)
        )));
    };
    Ok(match s.as_str() {
        "latest_mined" => Epoch::LatestMined,
        "latest_state" => Epoch::LatestState,
        "latest_confirmed" => Epoch::LatestConfirmed,
        "latest_checkpoint" => Epoch::LatestCheckpoint,
        "latest_finalized" => Epoch::LatestFinalized,
        "earliest" => Epoch::Earliest,
        n => {
            let digits = n
                .strip_prefix("0x")
                .ok_or_else(|| invalid_params("Invalid epoch number: missing 0x prefix"))?;
            Epoch::Number(
                u64::from_str_radix(digits, 16)
                    .map_err(|e| invalid_params(format!("Invalid epoch number: {e}")))?,
            )
        }
    })
}

impl RpcContext {
    /// The epoch number of a tag, for chain-position methods (bounded by the best epoch).
    pub(crate) fn epoch_number(&self, e: Epoch) -> Result<u64, ErrorObjectOwned> {
        Ok(match e {
            Epoch::LatestMined => self.best_epoch()?,
            Epoch::LatestState => self.latest_state()?,
            // Not tracked by a header-following light node (conflux-rust's light node says 0 too).
            Epoch::LatestConfirmed
            | Epoch::LatestCheckpoint
            | Epoch::LatestFinalized
            | Epoch::Earliest => 0,
            Epoch::Number(n) => n,
        })
    }

    /// The epoch of a state read: default `latest_state`, and only verified states.
    pub(crate) fn state_epoch(&self, at: Option<StateAt>) -> Result<u64, ErrorObjectOwned> {
        let e = match at {
            None => Epoch::LatestState,
            Some(StateAt::Epoch(e)) => e,
            Some(StateAt::Block {
                hash,
                require_pivot,
            }) => {
                let not_found = || {
                    invalid_param_data(
                        "epoch parameter",
                        format!("block's epoch number is not found: {hash:?}"),
                    )
                };
                let epoch = self
                    .store
                    .block_epoch(&hash)
                    .map_err(internal)?
                    .ok_or_else(not_found)?;
                if require_pivot && self.store.pivot(epoch).map_err(internal)? != Some(hash) {
                    return Err(invalid_param_data(
                        "epoch parameter",
                        format!("should be a pivot block: {hash:?}"),
                    ));
                }
                Epoch::Number(epoch)
            }
        };
        let latest = self.latest_state()?;
        let epoch = match e {
            // A light node has no state past latest_state; conflux-rust's light node also
            // answers latest_mined from its latest verified state.
            // One reading of the marker: a second could differ across a rewind.
            Epoch::LatestMined | Epoch::LatestState => latest,
            other => self.epoch_number(other)?,
        };
        if epoch > latest {
            return Err(query_error(QueryError::NotVerifiable { epoch, latest }));
        }
        Ok(epoch)
    }
}

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

impl Default for RpcConfig {
    fn default() -> Self {
        RpcConfig {
            http_port: 12537,
            ws_port: 12535,
            interface: std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
            max_request_body: 5 * 1024 * 1024,
            max_response_body: 50 * 1024 * 1024,
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

/// `U256` from a u64, for JSON fields.
pub(crate) fn u(n: u64) -> U256 {
    U256::from(n)
}
