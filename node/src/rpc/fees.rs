//! Fee data from verified headers and bodies: base prices, the suggested gas price and
//! priority fee (medians of what recent verified blocks paid), and `cfx_feeHistory` with
//! bounded, validated percentiles.

use cfxlight_primitives::{
    hash::KECCAK_EMPTY,
    header::BlockHeader,
    rpc,
    transaction::{SignedTransaction, TxKind},
    U256,
};
use jsonrpsee::types::ErrorObjectOwned;
use serde_json::{json, Value};

use super::{
    budget::Charged,
    context::RpcContext,
    error::{internal, invalid_params, query_error},
    params::u,
};

/// Most blocks one `cfx_feeHistory` covers (conflux-rust's cap).
const MAX_FEE_HISTORY: u64 = 1024;
/// conflux-rust's tx-pool minimum gas price for core space (1 GDrip): the floor of
/// `cfx_gasPrice`, so that a suggested price is one the pool accepts.
const MIN_GAS_PRICE: u64 = 1_000_000_000;

/// What the sender effectively paid per gas under `base` (conflux-rust's rule).
pub(crate) fn effective_gas_price(tx: &SignedTransaction, base: Option<U256>) -> U256 {
    let price = tx.tx.gas_price();
    let Some(base) = base else { return price };
    if price < base {
        return price;
    }
    match &tx.tx.kind {
        TxKind::Cip1559 {
            max_priority_fee_per_gas,
            max_fee_per_gas,
            ..
        } => base + (*max_priority_fee_per_gas).min(*max_fee_per_gas - base),
        _ => price,
    }
}

/// The core base price of the pivot block of `epoch` (0 before CIP-1559).
pub(crate) fn base_price(ctx: &RpcContext, epoch: u64) -> Result<U256, ErrorObjectOwned> {
    Ok(pivot_header(ctx, epoch)?
        .and_then(|h| h.base_price)
        .map(|p| p.core)
        .unwrap_or_default())
}

/// The pool's minimum gas price.
pub(crate) fn min_gas_price() -> U256 {
    U256::from(MIN_GAS_PRICE)
}

/// `cfx_gasPrice`: the median price per gas paid in recent verified blocks, at least the
/// tip's base price and the pool minimum.
pub(crate) async fn suggested_gas_price(ctx: &RpcContext) -> Result<U256, ErrorObjectOwned> {
    let base = base_price(ctx, ctx.best_epoch()?)?;
    let (_, paid) = recent_fees(ctx).await?;
    Ok(paid.max(base).max(min_gas_price()))
}

/// `cfx_maxPriorityFeePerGas`: the median priority fee paid in the transactions of the
/// last verified pivot blocks that had any (0 when none did).
pub(crate) async fn suggested_priority_fee(ctx: &RpcContext) -> Result<U256, ErrorObjectOwned> {
    Ok(recent_fees(ctx).await?.0)
}

pub(super) fn pivot_header(
    ctx: &RpcContext,
    epoch: u64,
) -> Result<Option<BlockHeader>, ErrorObjectOwned> {
    let Some(h) = ctx.store.pivot(epoch).map_err(internal)? else {
        return Ok(None);
    };
    ctx.query.header(&h).map_err(query_error)
}

/// Medians of the priority fee and of the price per gas paid by the transactions of the
/// last verified pivot blocks that had any (0 when none did).
async fn recent_fees(ctx: &RpcContext) -> Result<(U256, U256), ErrorObjectOwned> {
    let best = ctx.best_epoch()?;
    let mut fees = vec![];
    let mut paid = vec![];
    for epoch in (best.saturating_sub(20)..=best).rev() {
        let Some(h) = ctx.store.pivot(epoch).map_err(internal)? else {
            continue;
        };
        let Some(header) = ctx.query.header(&h).map_err(query_error)? else {
            continue;
        };
        if header.transactions_root == KECCAK_EMPTY {
            continue;
        }
        let base = header.base_price.map(|p| p.core).unwrap_or_default();
        let txs = ctx.query.block_txs(h).await.map_err(query_error)?;
        // Core transactions only, as conflux-rust's cfx_gasPrice counts.
        for tx in txs.iter().filter_map(|t| t.as_native()) {
            let price = effective_gas_price(tx, Some(base));
            fees.push(price.saturating_sub(base));
            paid.push(price);
        }
        if fees.len() >= 100 {
            break;
        }
    }
    fees.sort_unstable();
    paid.sort_unstable();
    let median = |v: &[U256]| v.get(v.len() / 2).copied().unwrap_or_default();
    Ok((median(&fees), median(&paid)))
}

/// Most reward percentiles one `cfx_feeHistory` takes (geth's bound; conflux-rust v3.0.2
/// checks none, and a 5 MiB list of them made 1024 epochs × that many U256s).
pub(crate) const MAX_PERCENTILES: usize = 100;

/// At most [`MAX_PERCENTILES`], each in [0, 100], in non-decreasing order.
pub(crate) fn check_percentiles(p: &[f64]) -> Result<(), ErrorObjectOwned> {
    if p.len() > MAX_PERCENTILES {
        return Err(invalid_params(format!(
            "at most {MAX_PERCENTILES} reward percentiles, got {}",
            p.len()
        )));
    }
    if let Some(bad) = p.iter().find(|x| !(0.0..=100.0).contains(*x)) {
        return Err(invalid_params(format!(
            "reward percentile {bad} is outside [0, 100]"
        )));
    }
    if p.windows(2).any(|w| w[1] < w[0]) {
        return Err(invalid_params(
            "reward percentiles must be in non-decreasing order",
        ));
    }
    Ok(())
}

pub(crate) async fn fee_history(
    ctx: &RpcContext,
    count: u64,
    newest: u64,
    percentiles: &[f64],
) -> Result<Charged<Value>, ErrorObjectOwned> {
    if count == 0 {
        return Ok(Charged::new(
            json!({"oldestEpoch": "0x0", "baseFeePerGas": [], "gasUsedRatio": [], "reward": []}),
            ctx.budgets.start(),
        ));
    }
    let count = count.min(MAX_FEE_HISTORY);
    // Known up front: a base fee, a ratio and the rewards per block.
    let mut charge = ctx.budgets.start();
    charge.add(
        usize::try_from(count)
            .unwrap_or(usize::MAX)
            .saturating_mul(percentiles.len().saturating_mul(70).saturating_add(100)),
    )?;
    let oldest = newest.saturating_sub(count - 1);
    let (mut base, mut ratio, mut reward) = (vec![], vec![], vec![]);
    for epoch in oldest..=newest {
        let Some(h) = ctx.store.pivot(epoch).map_err(internal)? else {
            return Err(internal(format!("epoch {epoch} missing from the store")));
        };
        let header = ctx
            .query
            .header(&h)
            .map_err(query_error)?
            .ok_or_else(|| internal("pivot header missing"))?;
        let Some(price) = header.base_price.map(|p| p.core) else {
            base.push(U256::zero());
            ratio.push(0.0);
            reward.push(vec![U256::zero(); percentiles.len()]);
            continue;
        };
        base.push(price);
        let body = if header.transactions_root == KECCAK_EMPTY {
            vec![]
        } else {
            ctx.query.block_txs(h).await.map_err(query_error)?
        };
        // Core transactions only (conflux-rust filters the Native space here).
        let txs: Vec<&SignedTransaction> = body.iter().filter_map(|t| t.as_native()).collect();
        let limit = rpc::rpc_gas_limit(header.gas_limit, true);
        let used = txs
            .iter()
            .fold(U256::zero(), |a, t| a.saturating_add(t.tx.gas));
        ratio.push(
            if limit.is_zero() || limit.bits() > 127 || used.bits() > 127 {
                1.0
            } else {
                used.as_u128() as f64 / limit.as_u128() as f64
            },
        );
        let mut paid: Vec<U256> = txs
            .iter()
            .map(|t| {
                if t.tx.gas_price() < price {
                    U256::zero()
                } else {
                    effective_gas_price(t, Some(price))
                }
            })
            .collect();
        paid.sort_unstable();
        reward.push(
            percentiles
                .iter()
                .map(|p| {
                    if paid.is_empty() {
                        return U256::zero();
                    }
                    let i = ((p * paid.len() as f64 / 100.0) as usize).min(paid.len() - 1);
                    paid[i]
                })
                .collect(),
        );
    }
    let next = pivot_header(ctx, newest + 1)?
        .and_then(|h| h.base_price)
        .map(|p| p.core)
        .unwrap_or_default();
    base.push(next);
    Ok(Charged::new(
        json!({
            "baseFeePerGas": base,
            "gasUsedRatio": ratio,
            "oldestEpoch": u(oldest),
            "reward": reward,
        }),
        charge,
    ))
}

#[cfg(test)]
mod limits_tests {
    use super::*;

    #[test]
    fn fee_history_percentiles_are_bounded_ranged_and_ordered() {
        assert!(check_percentiles(&[]).is_ok());
        assert!(check_percentiles(&[0.0, 25.0, 25.0, 100.0]).is_ok());
        assert!(check_percentiles(&vec![50.0; MAX_PERCENTILES]).is_ok());
        for bad in [
            vec![50.0; MAX_PERCENTILES + 1],
            vec![-1.0],
            vec![100.5],
            vec![f64::NAN],
            vec![60.0, 40.0],
        ] {
            let e = check_percentiles(&bad).unwrap_err();
            assert_eq!(e.code(), -32602, "{bad:?}");
        }
    }
}
