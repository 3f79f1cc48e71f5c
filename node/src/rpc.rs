//! The dapp-facing JSON-RPC: `cfx_*` methods in conflux-rust's exact JSON shapes, served
//! over HTTP and WebSocket on 127.0.0.1, answered only from what sync verified.
//!
//! This release serves chain position and headers: `cfx_getStatus`, `cfx_epochNumber`,
//! `cfx_getBestBlockHash`, `cfx_getBlockByEpochNumber`, `cfx_getBlockByHash`,
//! `cfx_clientVersion`. A block whose transaction list cannot be verified yet (a non-empty
//! block: bodies are not fetched in this release) is answered with an error, never with a
//! made-up list. Error codes and messages follow conflux-rust's light node.

use std::{net::SocketAddr, sync::Arc};

use cfxlight_chainspec::{ChainSpec, PowMode};
use cfxlight_primitives::{
    hash::KECCAK_EMPTY,
    header::BlockHeader,
    rpc::{Block, BlockTransactions, Status},
    H256, U256,
};
use jsonrpsee::{
    server::{RpcModule, Server, ServerConfig, ServerHandle},
    types::{ErrorObjectOwned, Params},
};

use crate::store::Store;

/// conflux-rust's "invalid parameters" code.
const INVALID_PARAMS: i32 = -32602;
/// conflux-rust's generic "cannot serve this" code.
const UNSUPPORTED: i32 = -32000;
/// Internal error.
const INTERNAL: i32 = -32603;

/// What the RPC answers from.
pub struct RpcContext {
    store: Arc<Store>,
    chain_id: u32,
    evm_chain_id: u32,
    network_id: u64,
    pow: PowMode,
}

impl RpcContext {
    /// An RPC context over the node's store for this chain.
    pub fn new(store: Arc<Store>, spec: &ChainSpec) -> RpcContext {
        RpcContext {
            store,
            chain_id: spec.chain_id,
            evm_chain_id: spec.evm_chain_id,
            network_id: spec.network_id,
            pow: spec.pow,
        }
    }
}

fn internal(e: impl std::fmt::Display) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(INTERNAL, e.to_string(), None::<()>)
}

/// An epoch argument: a tag or a `0x` number.
fn resolve_epoch(
    ctx: &RpcContext,
    tag: Option<&str>,
    data_style: bool,
) -> Result<u64, ErrorObjectOwned> {
    let best = ctx.store.best_epoch().map_err(internal)?.unwrap_or(0);
    let tag = tag.unwrap_or("latest_mined");
    let epoch = match tag {
        "latest_mined" => best,
        "latest_state" => ctx.store.latest_state().map_err(internal)?.unwrap_or(0),
        // Not tracked by a header-following light node (conflux-rust's light node also says 0).
        "latest_confirmed" | "latest_checkpoint" | "latest_finalized" | "earliest" => 0,
        n => {
            let digits = n.strip_prefix("0x").ok_or_else(|| {
                ErrorObjectOwned::owned(
                    INVALID_PARAMS,
                    format!("Invalid params: unknown epoch tag {n:?}"),
                    None::<()>,
                )
            })?;
            u64::from_str_radix(digits, 16).map_err(|_| {
                ErrorObjectOwned::owned(
                    INVALID_PARAMS,
                    format!("Invalid params: bad epoch number {n:?}"),
                    None::<()>,
                )
            })?
        }
    };
    if epoch > best {
        let msg = format!(
            "Filter error: Unable to verify epoch {epoch} (latest verifiable epoch is {best})"
        );
        // conflux-rust puts the reason in `data` for cfx_epochNumber (as a JSON-encoded
        // string, quotes included), in `message` elsewhere.
        return Err(if data_style {
            ErrorObjectOwned::owned(
                INVALID_PARAMS,
                "Invalid parameters: epoch",
                Some(format!("{msg:?}")),
            )
        } else {
            ErrorObjectOwned::owned(INVALID_PARAMS, msg, None::<()>)
        });
    }
    Ok(epoch)
}

fn block_json(ctx: &RpcContext, hash: &H256) -> Result<Option<Block>, ErrorObjectOwned> {
    let Some(raw) = ctx.store.header(hash).map_err(internal)? else {
        return Ok(None);
    };
    let header = BlockHeader::decode(&raw).map_err(internal)?;
    if header.transactions_root != KECCAK_EMPTY {
        return Err(ErrorObjectOwned::owned(
            UNSUPPORTED,
            "This block has transactions; cfxlight does not fetch and verify block bodies yet",
            None::<()>,
        ));
    }
    let mut b = Block::from_header(&header, ctx.network_id);
    if let Some(epoch) = ctx.store.block_epoch(hash).map_err(internal)? {
        b.epoch_number = Some(epoch.into());
        let first = ctx.store.first_block_number(epoch).map_err(internal)?;
        let blocks = ctx.store.epoch_blocks(epoch).map_err(internal)?;
        if let (Some(first), Some(blocks)) = (first, blocks) {
            if let Some(i) = blocks.iter().position(|h| h == hash) {
                b.block_number = Some(U256::from(first + i as u64));
            }
        }
    }
    b.pow_quality = match ctx.pow {
        PowMode::Test => Some(header.test_pow_quality()),
        PowMode::Octopus => None,
    };
    // An empty block: its transaction list is verified empty by its root, and its body size is 0.
    b.transactions = BlockTransactions::Hashes(vec![]);
    b.size = Some(U256::zero());
    Ok(Some(b))
}

fn epoch_param(params: &Params<'_>) -> Result<(Option<String>, bool), ErrorObjectOwned> {
    let mut seq = params.sequence();
    let tag: Option<String> = seq.optional_next()?;
    let include: Option<bool> = seq.optional_next()?;
    Ok((tag, include.unwrap_or(false)))
}

/// Builds the `cfx_*` module.
pub fn module(
    ctx: Arc<RpcContext>,
) -> Result<RpcModule<Arc<RpcContext>>, jsonrpsee::core::RegisterMethodError> {
    let mut m = RpcModule::new(ctx);
    m.register_method("cfx_clientVersion", |_, _, _| {
        Ok::<_, ErrorObjectOwned>(format!("cfxlight/v{}", env!("CARGO_PKG_VERSION")))
    })?;
    m.register_method("cfx_epochNumber", |params, ctx, _| {
        let (tag, _) = epoch_param(&params)?;
        resolve_epoch(ctx, tag.as_deref(), true).map(U256::from)
    })?;
    m.register_method("cfx_getBestBlockHash", |_, ctx, _| {
        let best = ctx.store.best_epoch().map_err(internal)?.unwrap_or(0);
        ctx.store.pivot(best).map_err(internal)
    })?;
    m.register_method("cfx_getStatus", |_, ctx, _| {
        let best = ctx.store.best_epoch().map_err(internal)?.unwrap_or(0);
        Ok::<_, ErrorObjectOwned>(Status {
            best_hash: ctx.store.pivot(best).map_err(internal)?.unwrap_or_default(),
            chain_id: u64::from(ctx.chain_id).into(),
            ethereum_space_chain_id: u64::from(ctx.evm_chain_id).into(),
            network_id: ctx.network_id.into(),
            epoch_number: best.into(),
            block_number: ctx.store.block_count().map_err(internal)?.into(),
            pending_tx_number: 0.into(),
            latest_checkpoint: 0.into(),
            latest_confirmed: 0.into(),
            latest_state: ctx
                .store
                .latest_state()
                .map_err(internal)?
                .unwrap_or(0)
                .into(),
            latest_finalized: 0.into(),
        })
    })?;
    m.register_method("cfx_getBlockByEpochNumber", |params, ctx, _| {
        let (tag, _include_txs) = epoch_param(&params)?;
        let epoch = resolve_epoch(ctx, tag.as_deref(), false)?;
        let Some(hash) = ctx.store.pivot(epoch).map_err(internal)? else {
            return Ok(None);
        };
        block_json(ctx, &hash)
    })?;
    m.register_method("cfx_getBlockByHash", |params, ctx, _| {
        let mut seq = params.sequence();
        let hash: H256 = seq.next()?;
        let _include_txs: Option<bool> = seq.optional_next()?;
        block_json(ctx, &hash)
    })?;
    Ok(m)
}

/// Running RPC servers; dropping this stops them.
pub struct RpcServers {
    /// HTTP server.
    pub http: ServerHandle,
    /// WebSocket server.
    pub ws: ServerHandle,
    /// Where HTTP listens.
    pub http_addr: SocketAddr,
    /// Where WebSocket listens.
    pub ws_addr: SocketAddr,
}

/// Starts HTTP and WebSocket servers on 127.0.0.1 (port 0 picks a free one).
pub async fn start(
    ctx: Arc<RpcContext>,
    http_port: u16,
    ws_port: u16,
) -> anyhow::Result<RpcServers> {
    let module = module(ctx)?;
    let http = Server::builder()
        .set_config(ServerConfig::builder().http_only().build())
        .build(("127.0.0.1", http_port))
        .await
        .map_err(|e| {
            anyhow::anyhow!("cannot listen for JSON-RPC over HTTP on 127.0.0.1:{http_port}: {e}")
        })?;
    let ws = Server::builder()
        .set_config(ServerConfig::builder().ws_only().build())
        .build(("127.0.0.1", ws_port))
        .await
        .map_err(|e| {
            anyhow::anyhow!("cannot listen for JSON-RPC over WebSocket on 127.0.0.1:{ws_port}: {e}")
        })?;
    let http_addr = http.local_addr()?;
    let ws_addr = ws.local_addr()?;
    Ok(RpcServers {
        http: http.start(module.clone()),
        ws: ws.start(module),
        http_addr,
        ws_addr,
    })
}
