//! The pending set as conflux-rust's pool methods show theirs: `txpool_nextNonce`,
//! `cfx_getAccountPendingInfo` and `cfx_getAccountPendingTransactions`.
//!
//! Our pending set holds the transactions this node accepted for the senders it signs for
//! (others are checked and relayed, not kept), so for any other sender these answer as the
//! full node does for an address it has nothing pending from. The state they compare with
//! (nonce, balance) is the verified account at `latest_state`, the full node's "best
//! executed state". One approximation is named: a transaction's cost for `notEnoughCash`
//! is counted without sponsorship (the full node subtracts what a sponsor would pay).

use std::sync::Arc;

use cfxlight_primitives::{transaction::SignedTransaction, H160, H256, U256, U64};
use jsonrpsee::{server::RpcModule, types::ErrorObjectOwned};
use serde::Serialize;
use serde_json::{json, Value};

use super::{
    context::RpcContext,
    error::{invalid_params, query_error},
    params::Args,
    render::tx_json,
};
use crate::txpool::EPOCH_HEIGHT_BOUND;

type Module = RpcModule<Arc<RpcContext>>;

/// Drip of collateral per byte of `storageLimit` (1 CFX per 1,024 bytes).
const DRIPS_PER_STORAGE_BYTE: u64 = 976_562_500_000_000;

/// `cfx_getAccountPendingInfo`'s answer, in conflux-rust's field names.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
struct PendingInfo {
    local_nonce: U256,
    pending_count: U256,
    pending_nonce: U256,
    next_pending_tx: H256,
}

/// Why the first pending transaction is not ready, in conflux-rust's words.
#[derive(Debug, Serialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
enum PendingReason {
    FutureNonce,
    NotEnoughCash,
    OldEpochHeight,
}

/// The first pending transaction's status (`"ready"` or `{"pending": reason}`).
#[derive(Debug, Serialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
enum FirstTxStatus {
    Ready,
    Pending(PendingReason),
}

/// What a transaction can take from its sender's balance: value, gas at its price, and
/// the collateral of its storage limit (saturating: the numbers come from outside).
fn cost(tx: &SignedTransaction) -> U256 {
    let t = &tx.tx;
    let gas = t.gas.saturating_mul(t.gas_price());
    let storage = U256::from(t.storage_limit).saturating_mul(U256::from(DRIPS_PER_STORAGE_BYTE));
    t.value.saturating_add(gas).saturating_add(storage)
}

/// Pending transactions of one sender, by nonce, from `start`.
fn from_nonce(pending: &[SignedTransaction], start: U256) -> Vec<&SignedTransaction> {
    pending.iter().filter(|t| t.tx.nonce >= start).collect()
}

/// conflux-rust's readiness of the first pending transaction: its nonce must continue the
/// state nonce through the transactions pending between them, their costs must fit the
/// balance, and its epoch height must be within the bound of the best epoch.
fn first_status(
    pending: &[SignedTransaction],
    first: &SignedTransaction,
    state_nonce: U256,
    balance: U256,
    best_epoch: u64,
) -> FirstTxStatus {
    let through: Vec<&SignedTransaction> = pending
        .iter()
        .filter(|t| t.tx.nonce >= state_nonce && t.tx.nonce <= first.tx.nonce)
        .collect();
    let expected = state_nonce.saturating_add(U256::from(through.len().saturating_sub(1)));
    let status = if expected != first.tx.nonce {
        FirstTxStatus::Pending(PendingReason::FutureNonce)
    } else if through
        .iter()
        .fold(U256::zero(), |s, t| s.saturating_add(cost(t)))
        > balance
    {
        FirstTxStatus::Pending(PendingReason::NotEnoughCash)
    } else {
        FirstTxStatus::Ready
    };
    if first.tx.epoch_height.saturating_add(EPOCH_HEIGHT_BOUND) < best_epoch {
        return FirstTxStatus::Pending(PendingReason::OldEpochHeight);
    }
    status
}

/// The verified nonce and balance of `addr` at `latest_state`.
async fn state_of(ctx: &RpcContext, addr: H160) -> Result<(U256, U256), ErrorObjectOwned> {
    let epoch = ctx.latest_state()?;
    let acc = ctx.query.account(epoch, addr).await.map_err(query_error)?;
    Ok(acc.map(|a| (a.nonce, a.balance)).unwrap_or_default())
}

fn optional_u256(args: &Args, i: usize, what: &str) -> Result<Option<U256>, ErrorObjectOwned> {
    match args.get(i) {
        None => Ok(None),
        Some(v) => serde_json::from_value::<U256>(v.clone())
            .map(Some)
            .map_err(|e| invalid_params(format!("{what}: {e}"))),
    }
}

pub(super) fn register(m: &mut Module) -> Result<(), jsonrpsee::core::RegisterMethodError> {
    m.register_async_method("txpool_nextNonce", |p, ctx, _| async move {
        let args = Args::of(&p, 1, 1)?;
        let addr = args.address(0, ctx.chain.network_id)?;
        let (nonce, _) = state_of(&ctx, addr).await?;
        Ok::<_, ErrorObjectOwned>(ctx.pool.next_nonce_after(addr, nonce))
    })?;
    m.register_async_method("cfx_getAccountPendingInfo", |p, ctx, _| async move {
        let args = Args::of(&p, 1, 1)?;
        let addr = args.address(0, ctx.chain.network_id)?;
        let pending = ctx.pool.of_sender(addr);
        // `localNonce` is the verified state nonce. (The full node reports the state nonce
        // it cached when the address last had a transaction in its pool, and 0 for one that
        // never had: the same figure for every account that ever sent through it.)
        let (nonce, _) = state_of(&ctx, addr).await?;
        let mut info = PendingInfo {
            local_nonce: nonce,
            pending_count: U256::zero(),
            pending_nonce: U256::zero(),
            next_pending_tx: H256::zero(),
        };
        let rest = from_nonce(&pending, nonce);
        if let Some(first) = rest.first() {
            info.pending_count = U256::from(rest.len());
            info.pending_nonce = first.tx.nonce;
            info.next_pending_tx = first.hash();
        }
        Ok::<_, ErrorObjectOwned>(Some(info))
    })?;
    m.register_async_method(
        "cfx_getAccountPendingTransactions",
        |p, ctx, _| async move {
            let args = Args::of(&p, 1, 3)?;
            let addr = args.address(0, ctx.chain.network_id)?;
            let start = optional_u256(&args, 1, "start nonce")?;
            let limit = match args.get(2) {
                None => None,
                Some(v) => Some(
                    serde_json::from_value::<U64>(v.clone())
                        .map_err(|e| invalid_params(format!("limit: {e}")))?
                        .as_u64(),
                ),
            };
            let pending = ctx.pool.of_sender(addr);
            let empty =
                json!({"pendingTransactions": [], "firstTxStatus": null, "pendingCount": "0x0"});
            if pending.is_empty() {
                return Ok::<Value, ErrorObjectOwned>(empty);
            }
            let (nonce, balance) = state_of(&ctx, addr).await?;
            let rest = from_nonce(&pending, start.unwrap_or(nonce));
            let Some(first) = rest.first() else {
                return Ok(empty);
            };
            let status = first_status(&pending, first, nonce, balance, ctx.best_epoch()?);
            let shown = usize::try_from(limit.unwrap_or(u64::MAX)).unwrap_or(usize::MAX);
            let txs = rest
                .iter()
                .take(shown)
                .map(|t| tx_json(&ctx, t, None))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(json!({
                "pendingTransactions": txs,
                "firstTxStatus": status,
                "pendingCount": U64::from(rest.len() as u64),
            }))
        },
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use cfxlight_primitives::transaction::{Action, Transaction, TxKind};

    fn tx(nonce: u64, value: u64, epoch_height: u64) -> SignedTransaction {
        let t = Transaction {
            nonce: nonce.into(),
            gas: 21_000.into(),
            action: Action::Call(H160::repeat_byte(0x11)),
            value: value.into(),
            storage_limit: 0,
            epoch_height,
            chain_id: 2029,
            data: vec![],
            kind: TxKind::Legacy {
                gas_price: 1.into(),
            },
        };
        let key = cfxlight_primitives::crypto::signing_key(&[7u8; 32]).expect("a valid key");
        t.sign(&key).expect("signs")
    }

    #[test]
    fn statuses_follow_conflux_rusts_readiness_rules() {
        let p = vec![tx(5, 100, 1_000), tx(6, 100, 1_000), tx(8, 100, 1_000)];
        // Nonce 5 continues the state nonce 5 and 100 + 21,000 fits.
        assert_eq!(
            first_status(&p, &p[0], 5.into(), 1_000_000.into(), 1_000),
            FirstTxStatus::Ready
        );
        // The state nonce is 4: nothing pending at 4, so 5 is a future nonce.
        assert_eq!(
            first_status(&p, &p[0], 4.into(), 1_000_000.into(), 1_000),
            FirstTxStatus::Pending(PendingReason::FutureNonce)
        );
        // Starting at 8 from state nonce 5 skips 7: a future nonce.
        assert_eq!(
            first_status(&p, &p[2], 5.into(), 1_000_000.into(), 1_000),
            FirstTxStatus::Pending(PendingReason::FutureNonce)
        );
        // 5 and 6 together cost 42,200: a balance of 42,199 is not enough for 6.
        assert_eq!(
            first_status(&p, &p[1], 5.into(), 42_199.into(), 1_000),
            FirstTxStatus::Pending(PendingReason::NotEnoughCash)
        );
        assert_eq!(
            first_status(&p, &p[1], 5.into(), 42_200.into(), 1_000),
            FirstTxStatus::Ready
        );
        // Anchored more than 100,000 epochs below the best epoch.
        assert_eq!(
            first_status(&p, &p[0], 5.into(), 1_000_000.into(), 101_001),
            FirstTxStatus::Pending(PendingReason::OldEpochHeight)
        );
        assert_eq!(
            serde_json::to_value(FirstTxStatus::Pending(PendingReason::NotEnoughCash))
                .expect("serialises"),
            json!({"pending": "notEnoughCash"})
        );
        assert_eq!(
            serde_json::to_value(FirstTxStatus::Ready).expect("serialises"),
            json!("ready")
        );
    }

    #[test]
    fn cost_counts_value_gas_and_collateral_without_overflow() {
        let mut t = tx(0, 5, 0);
        assert_eq!(cost(&t), U256::from(21_005));
        t.tx.storage_limit = 1024;
        assert_eq!(cost(&t), U256::from(21_005u64 + 1_000_000_000_000_000_000));
        t.tx.value = U256::MAX;
        assert_eq!(cost(&t), U256::MAX);
    }
}
