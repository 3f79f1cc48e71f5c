//! Chain methods: position (`cfx_epochNumber`, `cfx_getStatus`, …), blocks, transactions
//! and receipts (shown by [`super::render`]), logs ([`super::logs`]), fees
//! ([`super::fees`]) and relay of raw transactions ([`super::send`]); and the methods a
//! light node cannot serve, answered as conflux-rust's light node answers them.

use std::sync::Arc;

use cfxlight_primitives::{
    receipt::TransactionStatus,
    rpc::{Bytes, Status},
    H256, U256, U64,
};
use jsonrpsee::{server::RpcModule, types::ErrorObjectOwned};
use serde_json::Value;

use super::{
    context::RpcContext,
    error::{
        internal, invalid_params, query_error, unsupported, unverifiable, INVALID_PARAMS,
        UNSUPPORTED,
    },
    fees::{check_percentiles, fee_history, suggested_gas_price, suggested_priority_fee},
    logs::get_logs,
    params::{parse_u64_hex, Args, Epoch},
    render::{block_json, receipt_json, tx_json},
};

type Module = RpcModule<Arc<RpcContext>>;

fn include_txs(args: &Args, i: usize) -> Result<bool, ErrorObjectOwned> {
    Ok(args.typed::<bool>(i)?.unwrap_or(false))
}

/// An epoch for chain-position methods: anything up to the best epoch.
fn position_epoch(ctx: &RpcContext, e: Option<Epoch>) -> Result<u64, ErrorObjectOwned> {
    let best = ctx.best_epoch()?;
    let epoch = ctx.epoch_number(e.unwrap_or(Epoch::LatestMined))?;
    if epoch > best {
        return Err(ErrorObjectOwned::owned(
            INVALID_PARAMS,
            unverifiable(epoch, best),
            None::<()>,
        ));
    }
    Ok(epoch)
}

pub(super) fn register(m: &mut Module) -> Result<(), jsonrpsee::core::RegisterMethodError> {
    m.register_method("cfx_clientVersion", |p, _, _| {
        Args::none(&p)?;
        Ok::<_, ErrorObjectOwned>(format!("cfxlight/v{}", env!("CARGO_PKG_VERSION")))
    })?;
    m.register_method("cfx_epochNumber", |p, ctx, _| {
        let args = Args::of(&p, 0, 1)?;
        let epoch = ctx.epoch_number(args.epoch(0)?.unwrap_or(Epoch::LatestMined))?;
        let best = ctx.best_epoch()?;
        if epoch > best {
            // conflux-rust puts the reason in `data` for this method.
            return Err(query_error(crate::query::QueryError::NotVerifiable {
                epoch,
                latest: best,
            }));
        }
        Ok(U256::from(epoch))
    })?;
    m.register_method("cfx_getBestBlockHash", |p, ctx, _| {
        Args::none(&p)?;
        let best = ctx.best_epoch()?;
        ctx.store.pivot(best).map_err(internal)
    })?;
    m.register_method("cfx_getStatus", |p, ctx, _| {
        Args::none(&p)?;
        let best = ctx.best_epoch()?;
        let pending = ctx.pool.len() as u64;
        Ok::<_, ErrorObjectOwned>(Status {
            best_hash: ctx.store.pivot(best).map_err(internal)?.unwrap_or_default(),
            chain_id: u64::from(ctx.chain.chain_id).into(),
            ethereum_space_chain_id: u64::from(ctx.chain.evm_chain_id).into(),
            network_id: ctx.chain.network_id.into(),
            epoch_number: best.into(),
            block_number: ctx
                .store
                .block_count()
                .map_err(internal)?
                .unwrap_or(0)
                .into(),
            pending_tx_number: pending.into(),
            latest_checkpoint: 0.into(),
            latest_confirmed: 0.into(),
            latest_state: ctx.latest_state()?.into(),
            latest_finalized: 0.into(),
        })
    })?;
    m.register_async_method("cfx_getBlockByEpochNumber", |p, ctx, _| async move {
        let args = Args::of(&p, 2, 2)?;
        let epoch = position_epoch(&ctx, args.epoch(0)?)?;
        let include = include_txs(&args, 1)?;
        let Some(hash) = ctx.store.pivot(epoch).map_err(internal)? else {
            return Ok(None);
        };
        block_json(&ctx, &hash, include).await
    })?;
    m.register_async_method("cfx_getBlockByHash", |p, ctx, _| async move {
        let args = Args::of(&p, 2, 2)?;
        let hash = args.hash(0)?;
        let include = include_txs(&args, 1)?;
        block_json(&ctx, &hash, include).await
    })?;
    m.register_async_method("cfx_getBlockByBlockNumber", |p, ctx, _| async move {
        let args = Args::of(&p, 2, 2)?;
        let number = parse_u64_hex(args.get(0).unwrap_or(&Value::Null))?;
        let include = include_txs(&args, 1)?;
        match ctx.store.block_at_number(number).map_err(internal)? {
            Some((_, hash)) => block_json(&ctx, &hash, include).await,
            None => Ok(None),
        }
    })?;
    m.register_async_method(
        "cfx_getBlockByHashWithPivotAssumption",
        |p, ctx, _| async move {
            let args = Args::of(&p, 3, 3)?;
            let hash = args.hash(0)?;
            let pivot = args.hash(1)?;
            let epoch: U64 = args.required(2, "an epoch number")?;
            let epoch = epoch.as_u64();
            if ctx.store.pivot(epoch).map_err(internal)? != Some(pivot) {
                return Err(invalid_params("pivot chain assumption failed"));
            }
            let in_epoch = ctx
                .store
                .epoch_blocks(epoch)
                .map_err(internal)?
                .is_some_and(|b| b.contains(&hash));
            if !in_epoch {
                return Err(invalid_params(format!(
                    "block {hash:?} is not executed in epoch {epoch}"
                )));
            }
            let b = block_json(&ctx, &hash, true).await?;
            b.ok_or_else(|| invalid_params("block not found"))
        },
    )?;
    m.register_method("cfx_getBlocksByEpoch", |p, ctx, _| {
        let args = Args::of(&p, 1, 1)?;
        let epoch = position_epoch(ctx, args.epoch(0)?)?;
        Ok::<_, ErrorObjectOwned>(
            ctx.store
                .epoch_blocks(epoch)
                .map_err(internal)?
                .unwrap_or_default(),
        )
    })?;
    m.register_method("cfx_getSkippedBlocksByEpoch", |p, ctx, _| {
        let args = Args::of(&p, 1, 1)?;
        position_epoch(ctx, args.epoch(0)?)?;
        // Sync stores the executed blocks of each epoch; a block the consensus skipped is
        // never part of our verified chain, so there is none we could vouch for.
        Ok::<_, ErrorObjectOwned>(Vec::<H256>::new())
    })?;
    m.register_async_method("cfx_getTransactionByHash", |p, ctx, _| async move {
        let args = Args::of(&p, 1, 1)?;
        let hash = args.hash(0)?;
        if let Some(v) = ctx.query.tx(hash).await.map_err(query_error)? {
            let r = receipt_json(&ctx, &v);
            let exec = (v.receipt.outcome_status != TransactionStatus::Skipped).then_some(&r);
            return Ok::<_, ErrorObjectOwned>(Some(tx_json(&ctx, &v.tx, exec)?));
        }
        // Our own pending transaction: known, not yet executed.
        if let Some(tx) = ctx.pool.get(&hash) {
            return Ok(Some(tx_json(&ctx, &tx, None)?));
        }
        Ok(None)
    })?;
    m.register_async_method("cfx_getTransactionReceipt", |p, ctx, _| async move {
        let args = Args::of(&p, 1, 1)?;
        let hash = args.hash(0)?;
        let v = ctx.query.tx(hash).await.map_err(query_error)?;
        Ok::<_, ErrorObjectOwned>(
            v.filter(|v| v.receipt.outcome_status != TransactionStatus::Skipped)
                .map(|v| receipt_json(&ctx, &v)),
        )
    })?;
    m.register_async_method("cfx_getLogs", |p, ctx, _| async move {
        let args = Args::of(&p, 1, 1)?;
        get_logs(&ctx, args.get(0).cloned().unwrap_or(Value::Null)).await
    })?;
    m.register_async_method("cfx_gasPrice", |p, ctx, _| async move {
        Args::none(&p)?;
        suggested_gas_price(&ctx).await
    })?;
    m.register_async_method("cfx_maxPriorityFeePerGas", |p, ctx, _| async move {
        Args::none(&p)?;
        suggested_priority_fee(&ctx).await
    })?;
    m.register_async_method("cfx_feeHistory", |p, ctx, _| async move {
        let args = Args::of(&p, 2, 3)?;
        // A hex quantity or, as conflux-rust also takes, a plain JSON integer.
        let count: U64 = match args.get(0) {
            Some(Value::Number(n)) => n
                .as_u64()
                .map(U64::from)
                .ok_or_else(|| invalid_params(format!("invalid block count {n}")))?,
            _ => args.required(0, "a block count")?,
        };
        let percentiles: Vec<f64> = args.typed(2)?.unwrap_or_default();
        check_percentiles(&percentiles)?;
        let newest = position_epoch(&ctx, args.epoch(1)?)?;
        fee_history(&ctx, count.as_u64(), newest, &percentiles).await
    })?;
    m.register_async_method("cfx_sendRawTransaction", |p, ctx, _| async move {
        let args = Args::of(&p, 1, 1)?;
        let raw: Bytes = args.required(0, "a hex raw transaction")?;
        super::send::relay_raw(&ctx, &raw.0).await
    })?;
    m.register_method("cfx_getConfirmationRiskByHash", |p, ctx, _| {
        let args = Args::of(&p, 1, 1)?;
        let hash = args.hash(0)?;
        // A header-following node does not run GHAST, so it cannot compute the risk;
        // it says so rather than inventing a number.
        if ctx.store.block_epoch(&hash).map_err(internal)?.is_none() {
            return Ok(None::<U256>);
        }
        Err(unsupported(
            "cfx_getConfirmationRiskByHash needs the block tree, which cfxlight does not keep",
        ))
    })?;
    Ok(())
}

/// Methods conflux-rust's light node rejects; we answer the same way.
pub(super) fn register_not_implemented(
    m: &mut Module,
) -> Result<(), jsonrpsee::core::RegisterMethodError> {
    for name in [
        "cfx_getSupplyInfo",
        "cfx_getBlockRewardInfo",
        "cfx_getCollateralInfo",
        "cfx_getFeeBurnt",
        "cfx_getPoSRewardByEpoch",
        "cfx_getParamsFromVote",
        "cfx_getEpochReceipts",
    ] {
        m.register_method(name, |_, _, _| {
            Err::<(), _>(ErrorObjectOwned::owned(
                UNSUPPORTED,
                "This API is not implemented yet",
                Some("Tracking issue: https://github.com/Conflux-Chain/conflux-rust/issues/1461"),
            ))
        })?;
    }
    Ok(())
}
