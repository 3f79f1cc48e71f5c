//! `cfx_sendRawTransaction` and the last step of every send: decode and check a raw
//! transaction; keep and rebroadcast it when its sender is ours (the signer's accounts,
//! senders of our pending transactions); check anyone else's against verified state and
//! relay it once, never keeping it (a flood from throwaway keys costs nothing).

use cfxlight_primitives::{
    transaction::{Action, SignedTransaction},
    H160, H256,
};
use jsonrpsee::types::ErrorObjectOwned;

use super::{
    context::RpcContext,
    error::{internal, invalid_param_data, query_error, INVALID_PARAMS, NO_PEERS},
};

/// Decodes, checks and relays a raw transaction, and tracks it as our own.
pub(crate) async fn relay_raw(ctx: &RpcContext, raw: &[u8]) -> Result<H256, ErrorObjectOwned> {
    let tx = SignedTransaction::decode(raw)
        .map_err(|e| invalid_param_data("raw", format!("invalid raw transaction: {e}")))?;
    if tx.tx.chain_id != ctx.chain.chain_id {
        return Err(invalid_param_data(
            "raw",
            format!(
                "transaction chain id {} is not this chain's ({})",
                tx.tx.chain_id, ctx.chain.chain_id
            ),
        ));
    }
    let (sender, _) = tx
        .recover_sender()
        .map_err(|e| invalid_param_data("raw", format!("invalid signature: {e}")))?;
    // conflux-rust refuses a transaction it already has; a verified execution or our own
    // pending set says the same here.
    let hash = tx.hash();
    let known = ctx.pool.get(&hash).is_some() || matches!(ctx.query.tx(hash).await, Ok(Some(_)));
    if known {
        return Err(ErrorObjectOwned::owned(
            INVALID_PARAMS,
            "Invalid parameters: tx \"tx already exist\"",
            Some("\"tx already exist\""),
        ));
    }
    // Our own senders (the signer's accounts, senders we already track) are kept and
    // rebroadcast until settled. Anyone else's transaction is checked against verified
    // state and relayed once: never persisted, never pinned, so a flood from throwaway keys
    // costs the node neither disk nor memory nor prefetch work (M1).
    if ctx.query.is_pinned(&sender) {
        return submit(ctx, tx, sender).await;
    }
    check_foreign(ctx, &tx, sender).await?;
    if ctx.query.peers().broadcast_raw_tx(&tx.encode()).await == 0 {
        return Err(ErrorObjectOwned::owned(
            NO_PEERS,
            "no peer took the transaction: it was not relayed",
            None::<()>,
        ));
    }
    Ok(hash)
}

/// How far above the verified state nonce a relayed transaction's nonce may be.
pub const NONCE_WINDOW: u64 = 2_000;

/// A transaction from a sender the node does not sign for must be possible in the
/// verified state: its nonce at or above the state nonce and within [`NONCE_WINDOW`], its
/// epoch height within the bound of the tip, and (unless it calls a contract, whose
/// sponsor may pay) a balance that covers value and gas.
async fn check_foreign(
    ctx: &RpcContext,
    tx: &SignedTransaction,
    sender: H160,
) -> Result<(), ErrorObjectOwned> {
    let refuse = |why: String| invalid_param_data("tx", why);
    let best = ctx.best_epoch()?;
    let bound = crate::txpool::EPOCH_HEIGHT_BOUND;
    let height = tx.tx.epoch_height;
    if height > best.saturating_add(bound) || height.saturating_add(bound) < best {
        return Err(refuse(format!(
            "epoch height {height} is more than {bound} epochs from the tip {best}"
        )));
    }
    let latest = ctx.latest_state()?;
    let account = ctx
        .query
        .account(latest, sender)
        .await
        .map_err(query_error)?;
    let (nonce, balance) = account.map(|a| (a.nonce, a.balance)).unwrap_or_default();
    if tx.tx.nonce < nonce {
        return Err(refuse(format!(
            "nonce {} is below the sender's verified nonce {nonce}",
            tx.tx.nonce
        )));
    }
    if tx.tx.nonce > nonce.saturating_add(NONCE_WINDOW.into()) {
        return Err(refuse(format!(
            "nonce {} is more than {NONCE_WINDOW} above the sender's verified nonce {nonce}",
            tx.tx.nonce
        )));
    }
    let cost = tx
        .tx
        .gas
        .saturating_mul(tx.tx.gas_price())
        .saturating_add(tx.tx.value);
    let calls_contract = matches!(tx.tx.action, Action::Call(to) if to.0[0] & 0xf0 == 0x80);
    if balance < cost && !calls_contract {
        return Err(refuse(format!(
            "the sender's verified balance {balance} does not cover value + gas × price {cost}"
        )));
    }
    Ok(())
}

pub(super) async fn submit(
    ctx: &RpcContext,
    tx: SignedTransaction,
    sender: H160,
) -> Result<H256, ErrorObjectOwned> {
    if ctx.query.peers().alive().is_empty() {
        return Err(ErrorObjectOwned::owned(
            NO_PEERS,
            "no peer connected: the transaction cannot be relayed",
            None::<()>,
        ));
    }
    let hash = tx.hash();
    ctx.pool.add(tx.clone(), sender).map_err(|e| match e {
        crate::txpool::PoolError::Full { .. } => invalid_param_data("tx", e.to_string()),
        crate::txpool::PoolError::Store(e) => internal(e),
    })?;
    ctx.query.pin(sender);
    ctx.pool.relay(&ctx.query, &tx).await;
    Ok(hash)
}
