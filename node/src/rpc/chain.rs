//! Chain methods: position (`cfx_epochNumber`, `cfx_getStatus`, …), blocks with their
//! verified bodies, transactions and receipts located by verified proofs, logs filtered
//! through verified blooms, fee data from verified headers and bodies, and relay of raw
//! transactions.

use std::sync::Arc;

use cfxlight_chainspec::PowMode;
use cfxlight_primitives::{
    hash::KECCAK_EMPTY,
    header::BlockHeader,
    receipt::TransactionStatus,
    rpc::{self, Block, BlockTransactions, Bytes, RpcAddress, Status},
    transaction::{Action, SignedTransaction, TxKind},
    H160, H256, U256, U64,
};
use jsonrpsee::{server::RpcModule, types::ErrorObjectOwned};
use serde_json::{json, Value};

use super::{
    internal, invalid_param_data, invalid_params, query_error, u, unsupported, Args, Epoch,
    RpcContext,
};
use crate::query::VerifiedTx;

type Module = RpcModule<Arc<RpcContext>>;

/// Most blocks one `cfx_feeHistory` covers (conflux-rust's cap).
const MAX_FEE_HISTORY: u64 = 1024;
/// conflux-rust's tx-pool minimum gas price for core space (1 GDrip): the floor of
/// `cfx_gasPrice`, so that a suggested price is one the pool accepts.
const MIN_GAS_PRICE: u64 = 1_000_000_000;

/// The address a successful contract creation makes (conflux-rust
/// `cal_contract_address`, FromSenderNonceAndCodeHash, then the contract type bits).
pub(crate) fn created_address(sender: &H160, nonce: &U256, code: &[u8]) -> H160 {
    let mut buf = [0u8; 1 + 20 + 32 + 32];
    buf[1..21].copy_from_slice(sender.as_bytes());
    buf[21..53].copy_from_slice(&nonce.to_little_endian());
    buf[53..].copy_from_slice(cfxlight_primitives::hash::keccak256(code).as_bytes());
    let h = cfxlight_primitives::hash::keccak256(buf);
    let mut a = H160::from_slice(&h[12..]);
    a.0[0] = (a.0[0] & 0x0f) | 0x80;
    a
}

/// What the sender effectively paid per gas under `base` (conflux-rust's rule).
fn effective_gas_price(tx: &SignedTransaction, base: Option<U256>) -> U256 {
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

/// The RPC receipt of a verified transaction.
pub(crate) fn receipt_json(ctx: &RpcContext, v: &VerifiedTx) -> rpc::Receipt {
    let VerifiedTx {
        tx,
        sender,
        epoch,
        block_hash,
        index,
        receipt,
        gas_used,
        header,
        state_root,
    } = v;
    let (sender, block_hash, index, epoch, gas_used, state_root) =
        (*sender, *block_hash, *index, *epoch, *gas_used, *state_root);
    let net = ctx.chain.network_id;
    let addr = |a| RpcAddress::new(a, net);
    let contract_created = match tx.tx.action {
        Action::Create if receipt.outcome_status == TransactionStatus::Success => {
            Some(addr(created_address(&sender, &tx.tx.nonce, &tx.tx.data)))
        }
        _ => None,
    };
    rpc::Receipt {
        transaction_type: Some((tx.tx.tx_type() as u64).into()),
        transaction_hash: tx.hash(),
        index: index.into(),
        block_hash,
        epoch_number: Some(epoch.into()),
        from: addr(sender),
        to: tx.tx.action.to().map(addr),
        gas_used,
        accumulated_gas_used: None,
        gas_fee: receipt.gas_fee,
        effective_gas_price: effective_gas_price(tx, header.base_price.map(|p| p.core)),
        contract_created,
        logs: receipt
            .logs
            .iter()
            .filter(|l| l.space == cfxlight_primitives::receipt::Space::Native)
            .map(|l| rpc::Log {
                address: addr(l.address),
                topics: l.topics.clone(),
                data: Bytes(l.data.clone()),
                block_hash: None,
                epoch_number: None,
                transaction_hash: None,
                transaction_index: None,
                log_index: None,
                transaction_log_index: None,
            })
            .collect(),
        logs_bloom: receipt.log_bloom,
        // The epoch's executed state root, verified through the deferred root 5 epochs on.
        state_root,
        outcome_status: u64::from(receipt.outcome_status.code()).into(),
        tx_exec_error_msg: None,
        gas_covered_by_sponsor: receipt.gas_sponsor_paid,
        storage_covered_by_sponsor: receipt.storage_sponsor_paid,
        storage_collateralized: receipt
            .storage_collateralized
            .first()
            .map(|c| c.collaterals)
            .unwrap_or_default(),
        storage_released: receipt
            .storage_released
            .iter()
            .map(|c| rpc::StorageChange {
                address: addr(c.address),
                collaterals: c.collaterals,
            })
            .collect(),
        burnt_gas_fee: receipt.burnt_gas_fee,
    }
}

/// A transaction as a block or `cfx_getTransactionByHash` shows it, with its execution.
fn tx_json(
    ctx: &RpcContext,
    tx: &SignedTransaction,
    executed: Option<&rpc::Receipt>,
) -> Result<rpc::Transaction, ErrorObjectOwned> {
    let mut t = rpc::Transaction::from_signed(tx, ctx.chain.network_id).map_err(internal)?;
    if let Some(r) = executed {
        t.block_hash = Some(r.block_hash);
        t.transaction_index = Some(r.index);
        t.status = Some(r.outcome_status);
        t.contract_created = r.contract_created;
    }
    Ok(t)
}

/// The verified block JSON of a stored block, or None when it is not in our chain.
pub(crate) async fn block_json(
    ctx: &RpcContext,
    hash: &H256,
    include_txs: bool,
) -> Result<Option<Block>, ErrorObjectOwned> {
    let Some(header) = ctx.query.header(hash).map_err(query_error)? else {
        return Ok(None);
    };
    let mut b = Block::from_header(&header, ctx.chain.network_id);
    let epoch = ctx.store.block_epoch(hash).map_err(internal)?;
    let mut index_in_epoch = None;
    if let Some(epoch) = epoch {
        b.epoch_number = Some(epoch.into());
        let first = ctx.store.first_block_number(epoch).map_err(internal)?;
        let blocks = ctx.store.epoch_blocks(epoch).map_err(internal)?;
        if let Some(i) = blocks.and_then(|b| b.iter().position(|h| h == hash)) {
            index_in_epoch = Some(i);
            // Unknown after a checkpoint start that gave no block number: left null.
            b.block_number = first.map(|f| U256::from(f + i as u64));
        }
    }
    b.pow_quality = match ctx.chain.pow {
        // conflux-rust gives the genesis block, which is not mined, the highest quality.
        _ if header.height == 0 => Some(U256::MAX),
        PowMode::Test => Some(header.test_pow_quality()),
        // The header was verified when stored; this recomputes its quality (≈ 1 ms).
        PowMode::Octopus => match &ctx.pow {
            Some(p) => p.verify_async(header.clone()).await.ok(),
            None => None,
        },
    };
    let txs = if header.transactions_root == KECCAK_EMPTY {
        vec![]
    } else {
        ctx.query.block_txs(*hash).await.map_err(query_error)?
    };
    // Sizes, receipts and the transactions root cover both spaces; everything else the
    // Core RPC shows covers the Core transactions only (conflux-rust `build_block` with
    // the Native space filter).
    b.size = Some(U256::from(
        txs.iter().map(|t| t.encode().len()).sum::<usize>(),
    ));
    // Execution results are facts only where the epoch's receipts root is verified.
    let latest_state = ctx.latest_state()?;
    let receipts = match (epoch, index_in_epoch) {
        (Some(e), Some(i)) if e <= latest_state => {
            if txs.is_empty() {
                Some(vec![])
            } else {
                match ctx.query.epoch_receipts(e).await {
                    Ok(all) => all.get(i).map(|r| r.receipts.clone()),
                    // No peer serves them (the genesis epoch): execution fields stay null.
                    Err(crate::query::QueryError::NotServed(_)) => None,
                    Err(e) => return Err(query_error(e)),
                }
            }
        }
        _ => None,
    };
    // Receipts are positional over both spaces: a transaction's gas is the step of the
    // accumulated gas at its position; the block's gasUsed sums its Core transactions'.
    let gas_at = |rs: &[cfxlight_primitives::receipt::Receipt], i: usize| {
        let prior = match i {
            0 => U256::zero(),
            _ => rs
                .get(i - 1)
                .map(|r| r.accumulated_gas_used)
                .unwrap_or_default(),
        };
        rs.get(i)
            .map(|r| r.accumulated_gas_used.saturating_sub(prior))
            .unwrap_or_default()
    };
    b.gas_used = receipts.as_ref().map(|rs| {
        txs.iter()
            .enumerate()
            .filter(|(_, t)| t.as_native().is_some())
            .fold(U256::zero(), |a, (i, _)| a.saturating_add(gas_at(rs, i)))
    });
    let state_root = match epoch {
        Some(e) => ctx
            .store
            .roots(e)
            .map_err(internal)?
            .map(|r| r.state_root)
            .unwrap_or_default(),
        None => H256::zero(),
    };
    b.transactions = if include_txs {
        let mut out = Vec::with_capacity(txs.len());
        // `i`: position in the block (receipts); `native_index`: the RPC's index.
        let native = txs
            .iter()
            .enumerate()
            .filter_map(|(i, t)| t.as_native().map(|t| (i, t)));
        for (native_index, (i, tx)) in native.enumerate() {
            let executed = match (&receipts, epoch) {
                (Some(rs), Some(e)) => rs
                    .get(i)
                    .filter(|r| r.outcome_status != TransactionStatus::Skipped)
                    .map(|r| {
                        let (sender, _) = tx.recover_sender().unwrap_or_default();
                        receipt_json(
                            ctx,
                            &VerifiedTx {
                                tx: tx.clone(),
                                sender,
                                epoch: e,
                                block_hash: *hash,
                                index: native_index as u64,
                                receipt: r.clone(),
                                gas_used: gas_at(rs, i),
                                header: header.clone(),
                                state_root,
                            },
                        )
                    }),
                _ => None,
            };
            out.push(tx_json(ctx, tx, executed.as_ref())?);
        }
        BlockTransactions::Full(out)
    } else {
        BlockTransactions::Hashes(
            txs.iter()
                .filter(|t| t.as_native().is_some())
                .map(|t| t.hash())
                .collect(),
        )
    };
    Ok(Some(b))
}

fn include_txs(args: &Args, i: usize) -> Result<bool, ErrorObjectOwned> {
    Ok(args.typed::<bool>(i)?.unwrap_or(false))
}

/// An epoch for chain-position methods: anything up to the best epoch.
fn position_epoch(ctx: &RpcContext, e: Option<Epoch>) -> Result<u64, ErrorObjectOwned> {
    let best = ctx.best_epoch()?;
    let epoch = ctx.epoch_number(e.unwrap_or(Epoch::LatestMined))?;
    if epoch > best {
        return Err(ErrorObjectOwned::owned(
            super::INVALID_PARAMS,
            super::unverifiable(epoch, best),
            None::<()>,
        ));
    }
    Ok(epoch)
}

pub(super) fn register(m: &mut Module) -> Result<(), jsonrpsee::core::RegisterMethodError> {
    m.register_method("cfx_clientVersion", |_, _, _| {
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
    m.register_method("cfx_getBestBlockHash", |_, ctx, _| {
        let best = ctx.best_epoch()?;
        ctx.store.pivot(best).map_err(internal)
    })?;
    m.register_method("cfx_getStatus", |_, ctx, _| {
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
        let number = super::parse_u64_hex(args.get(0).unwrap_or(&Value::Null))?;
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
    m.register_async_method("cfx_gasPrice", |_, ctx, _| async move {
        suggested_gas_price(&ctx).await
    })?;
    m.register_async_method("cfx_maxPriorityFeePerGas", |_, ctx, _| async move {
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

fn pivot_header(ctx: &RpcContext, epoch: u64) -> Result<Option<BlockHeader>, ErrorObjectOwned> {
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

async fn fee_history(
    ctx: &RpcContext,
    count: u64,
    newest: u64,
    percentiles: &[f64],
) -> Result<Value, ErrorObjectOwned> {
    if count == 0 {
        return Ok(
            json!({"oldestEpoch": "0x0", "baseFeePerGas": [], "gasUsedRatio": [], "reward": []}),
        );
    }
    let count = count.min(MAX_FEE_HISTORY);
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
    Ok(json!({
        "baseFeePerGas": base,
        "gasUsedRatio": ratio,
        "oldestEpoch": u(oldest),
        "reward": reward,
    }))
}

/// One topic position of a log filter: any, or one of these.
type TopicFilter = Option<Vec<H256>>;

fn parse_list<T: serde::de::DeserializeOwned>(
    v: &Value,
    what: &str,
) -> Result<Option<Vec<T>>, ErrorObjectOwned> {
    match v {
        Value::Null => Ok(None),
        Value::Array(a) => a
            .iter()
            .map(|x| {
                serde_json::from_value(x.clone())
                    .map_err(|e| invalid_params(format!("{what}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        x => serde_json::from_value(x.clone())
            .map(|t| Some(vec![t]))
            .map_err(|e| invalid_params(format!("{what}: {e}"))),
    }
}

/// The fields a conflux-rust log filter takes.
const FILTER_FIELDS: [&str; 7] = [
    "fromEpoch",
    "toEpoch",
    "fromBlock",
    "toBlock",
    "blockHashes",
    "address",
    "topics",
];

/// Which blocks of the scanned epochs a log filter keeps.
enum Wanted {
    All,
    Hashes(std::collections::HashSet<H256>),
    /// Block numbers in the total order.
    Numbers(std::ops::RangeInclusive<u64>),
}

/// Most epochs one `cfx_getLogs` scans (the range is clamped to verified epochs first).
const MAX_LOG_SCAN: u64 = 100_000;
/// Most logs one `cfx_getLogs` answer holds (conflux-rust's `get_logs_filter_max_limit`,
/// unset by default there; an answer beyond it is refused with its message rather than
/// built in memory).
pub(crate) const MAX_LOGS: usize = 10_000;

/// The address and topic parts of a log filter, parsed (a `logs` subscription checks its
/// filter with this when it is made, so a bad one is refused then, not silently later).
pub(super) fn filter_parts(
    ctx: &RpcContext,
    f: &serde_json::Map<String, Value>,
) -> Result<(Option<Vec<H160>>, Vec<TopicFilter>), ErrorObjectOwned> {
    if let Some(k) = f.keys().find(|k| !FILTER_FIELDS.contains(&k.as_str())) {
        return Err(invalid_params(format!(
            "unknown field `{k}`, expected one of `fromEpoch`, `toEpoch`, `fromBlock`, `toBlock`, `blockHashes`, `address`, `topics`"
        )));
    }
    let get = |k: &str| f.get(k).cloned().unwrap_or(Value::Null);
    let addresses: Option<Vec<H160>> = match get("address") {
        Value::Null => None,
        Value::Array(a) => Some(
            a.iter()
                .map(|v| super::parse_address(v, ctx.chain.network_id))
                .collect::<Result<_, _>>()
                .map_err(filter_address)?,
        ),
        v => Some(vec![
            super::parse_address(&v, ctx.chain.network_id).map_err(filter_address)?
        ]),
    };
    let topics: Vec<TopicFilter> = match get("topics") {
        Value::Null => vec![],
        Value::Array(a) => a
            .iter()
            .map(|t| parse_list::<H256>(t, "topics"))
            .collect::<Result<_, _>>()?,
        _ => return Err(invalid_params("topics: expected an array")),
    };
    Ok((addresses, topics))
}

/// `cfx_getLogs` (also one epoch at a time for a `logs` subscription).
pub(super) async fn get_logs(ctx: &RpcContext, filter: Value) -> Result<Value, ErrorObjectOwned> {
    let Value::Object(f) = &filter else {
        return Err(invalid_params("invalid type: expected a log filter object"));
    };
    if let Some(k) = f.keys().find(|k| !FILTER_FIELDS.contains(&k.as_str())) {
        return Err(invalid_params(format!(
            "unknown field `{k}`, expected one of `fromEpoch`, `toEpoch`, `fromBlock`, `toBlock`, `blockHashes`, `address`, `topics`"
        )));
    }
    let get = |k: &str| f.get(k).cloned().unwrap_or(Value::Null);
    let latest = ctx.latest_state()?;
    let epoch_of = |k: &str, default: u64| -> Result<u64, ErrorObjectOwned> {
        match get(k) {
            Value::Null => Ok(default),
            v => ctx.epoch_number(super::parse_epoch(&v)?),
        }
    };
    // One of three ranges, as conflux-rust takes them: epochs, block numbers (both ends)
    // or block hashes.
    let has = |k: &str| !get(k).is_null();
    let by_epochs = has("fromEpoch") || has("toEpoch");
    let by_numbers = has("fromBlock") || has("toBlock");
    let by_hashes = has("blockHashes");
    if usize::from(by_epochs) + usize::from(by_numbers) + usize::from(by_hashes) > 1
        || (by_numbers && !(has("fromBlock") && has("toBlock")))
    {
        return Err(ErrorObjectOwned::owned(
            super::INVALID_PARAMS,
            "Filter must provide one of the following: (1) an epoch range through `fromEpoch` and `toEpoch`, (2) a block number range through `fromBlock` and `toBlock`, (3) a set of block hashes through `blockHashes`",
            None::<()>,
        ));
    }
    let filter_error = |msg: String| {
        ErrorObjectOwned::owned(
            -32016,
            format!("Error processing request: Filter error: {msg}"),
            None::<()>,
        )
    };
    // The blocks whose logs are wanted, when not every block of the epochs is.
    let mut wanted = Wanted::All;
    let (from, to) = if by_hashes {
        let hashes: Vec<H256> = match get("blockHashes") {
            Value::Array(a) => a.iter().map(super::parse_hash).collect::<Result<_, _>>()?,
            v => vec![super::parse_hash(&v)?],
        };
        let mut epochs = vec![];
        for h in &hashes {
            let e = ctx.store.block_epoch(h).map_err(internal)?.ok_or_else(|| {
                invalid_param_data("filter.blockHashes", format!("block {h:?} not found"))
            })?;
            epochs.push(e);
        }
        wanted = Wanted::Hashes(hashes.into_iter().collect());
        (
            epochs.iter().copied().min().unwrap_or(0),
            epochs.iter().copied().max().unwrap_or(0),
        )
    } else if by_numbers {
        let number = |k: &str| super::parse_u64_hex(&get(k));
        let (first, last) = (number("fromBlock")?, number("toBlock")?);
        if first > last {
            return Err(filter_error(format!(
                "Filter has wrong block numbers set (from: {first}, to: {last})"
            )));
        }
        let epoch_of_block = |n: u64, which: &str| -> Result<u64, ErrorObjectOwned> {
            match ctx.store.block_at_number(n).map_err(internal)? {
                Some((epoch, _)) => Ok(epoch),
                None => Err(filter_error(format!(
                    "Unable to find block hash for {which} {n}"
                ))),
            }
        };
        wanted = Wanted::Numbers(first..=last);
        (
            epoch_of_block(first, "from_block")?,
            epoch_of_block(last, "to_block")?,
        )
    } else {
        (epoch_of("fromEpoch", latest)?, epoch_of("toEpoch", latest)?)
    };
    if from > to {
        return Err(filter_error(format!(
            "Filter has wrong epoch numbers set (from: {from}, to: {to})"
        )));
    }
    // Logs are facts only up to the latest verified state.
    let to = to.min(latest);
    if from > to {
        return Ok(json!([]));
    }
    if to - from >= MAX_LOG_SCAN {
        return Err(invalid_param_data(
            "filter",
            format!("the epoch range {from}..={to} exceeds {MAX_LOG_SCAN} epochs"),
        ));
    }
    let (addresses, topics) = filter_parts(ctx, f)?;
    let matches = |l: &cfxlight_primitives::receipt::LogEntry| {
        addresses.as_ref().is_none_or(|a| a.contains(&l.address))
            && topics.iter().enumerate().all(|(i, t)| {
                t.as_ref()
                    .is_none_or(|want| l.topics.get(i).is_some_and(|got| want.contains(got)))
            })
    };
    let mut out = vec![];
    for epoch in from..=to {
        let roots = ctx
            .store
            .roots(epoch)
            .map_err(internal)?
            .ok_or_else(|| internal(format!("roots of epoch {epoch} missing")))?;
        // The empty bloom's hash: nothing was logged in this epoch, no fetch needed.
        if roots.logs_bloom_hash == cfxlight_primitives::hash::keccak256([0u8; 256]) {
            continue;
        }
        let bloom = ctx.query.epoch_bloom(epoch).await.map_err(query_error)?;
        let possible = addresses.as_ref().is_none_or(|a| {
            a.iter()
                .any(|x| bloom.contains_input(ethereum_types::BloomInput::Raw(x.as_bytes())))
        }) && topics.iter().all(|t| {
            t.as_ref().is_none_or(|want| {
                want.iter()
                    .any(|h| bloom.contains_input(ethereum_types::BloomInput::Raw(h.as_bytes())))
            })
        });
        if !possible {
            continue;
        }
        let receipts = ctx.query.epoch_receipts(epoch).await.map_err(query_error)?;
        let blocks = ctx
            .store
            .epoch_blocks(epoch)
            .map_err(internal)?
            .unwrap_or_default();
        // Block numbers are only looked up when the filter is by number.
        let first_number = match wanted {
            Wanted::Numbers(_) => ctx.store.first_block_number(epoch).map_err(internal)?,
            _ => None,
        };
        let mut log_index = 0u64;
        for (i, (block_hash, block)) in blocks.iter().zip(receipts.iter()).enumerate() {
            let keep = match &wanted {
                Wanted::All => true,
                Wanted::Hashes(h) => h.contains(block_hash),
                Wanted::Numbers(r) => first_number.is_some_and(|f| r.contains(&(f + i as u64))),
            };
            if !keep {
                // Still counted: logIndex runs over the whole epoch.
                log_index += block
                    .receipts
                    .iter()
                    .flat_map(|r| &r.logs)
                    .filter(|l| l.space == cfxlight_primitives::receipt::Space::Native)
                    .count() as u64;
                continue;
            }
            let has_logs = block.receipts.iter().any(|r| r.logs.iter().any(&matches));
            let txs = if has_logs {
                ctx.query
                    .block_txs(*block_hash)
                    .await
                    .map_err(query_error)?
            } else {
                vec![]
            };
            for (ti, r) in block.receipts.iter().enumerate() {
                for (li, l) in r.logs.iter().enumerate() {
                    if l.space != cfxlight_primitives::receipt::Space::Native {
                        continue;
                    }
                    if matches(l) {
                        if out.len() >= MAX_LOGS {
                            return Err(invalid_param_data(
                                "filter",
                                format!("This query results in too many logs, max limitation is {MAX_LOGS}, please filter results by a smaller epoch/block range"),
                            ));
                        }
                        out.push(rpc::Log {
                            address: RpcAddress::new(l.address, ctx.chain.network_id),
                            topics: l.topics.clone(),
                            data: Bytes(l.data.clone()),
                            block_hash: Some(*block_hash),
                            epoch_number: Some(u(epoch)),
                            transaction_hash: txs.get(ti).map(|t| t.hash()),
                            transaction_index: Some(u(ti as u64)),
                            log_index: Some(u(log_index)),
                            transaction_log_index: Some(u(li as u64)),
                        });
                    }
                    log_index += 1;
                }
            }
        }
    }
    Ok(json!(out))
}

/// conflux-rust names the filter's field in an address error.
fn filter_address(mut e: ErrorObjectOwned) -> ErrorObjectOwned {
    if e.message() == "Invalid parameters: address" {
        e = ErrorObjectOwned::owned(
            e.code(),
            "Invalid parameters: filter.address",
            e.data()
                .map(|d| d.get().to_string())
                .and_then(|d| serde_json::from_str::<String>(&d).ok()),
        );
    }
    e
}

/// Methods conflux-rust's light node rejects; we answer the same way.
pub(super) fn register_not_implemented(
    m: &mut Module,
) -> Result<(), jsonrpsee::core::RegisterMethodError> {
    for name in [
        "cfx_call",
        "cfx_estimateGasAndCollateral",
        "cfx_getSupplyInfo",
        "cfx_getBlockRewardInfo",
        "cfx_getCollateralInfo",
        "cfx_getFeeBurnt",
        "cfx_getPoSRewardByEpoch",
        "cfx_getParamsFromVote",
        "cfx_getEpochReceipts",
        "cfx_getAccountPendingInfo",
        "cfx_getAccountPendingTransactions",
    ] {
        m.register_method(name, |_, _, _| {
            Err::<(), _>(ErrorObjectOwned::owned(
                super::UNSUPPORTED,
                "This API is not implemented yet",
                Some("Tracking issue: https://github.com/Conflux-Chain/conflux-rust/issues/1461"),
            ))
        })?;
    }
    Ok(())
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
