//! How verified chain data is shown: blocks with their verified bodies, transactions with
//! their execution, receipts, in conflux-rust's JSON shapes.

use cfxlight_chainspec::PowMode;
use cfxlight_primitives::{
    hash::KECCAK_EMPTY,
    receipt::TransactionStatus,
    rpc::{self, Block, BlockTransactions, Bytes, RpcAddress},
    transaction::{Action, SignedTransaction},
    H160, H256, U256,
};
use jsonrpsee::types::ErrorObjectOwned;

use super::{
    budget::{hex_len, Charged},
    context::RpcContext,
    error::{internal, query_error},
    fees::effective_gas_price,
};
use crate::query::VerifiedTx;

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
pub(crate) fn tx_json(
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

/// Serialised bytes of a block's header fields.
const BLOCK_FIXED_BYTES: usize = 2_000;
/// Serialised bytes of one full transaction besides its data.
const TX_FIXED_BYTES: usize = 1_000;

/// The verified block JSON of a stored block, or None when it is not in our chain.
pub(crate) async fn block_json(
    ctx: &RpcContext,
    hash: &H256,
    include_txs: bool,
) -> Result<Option<Charged<Block>>, ErrorObjectOwned> {
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
    let size = txs.iter().map(|t| t.encode().len()).sum::<usize>();
    b.size = Some(U256::from(size));
    // Charged before the transactions are rendered: a block is bounded by the chain's
    // block size, but many of them at once are not.
    let mut charge = ctx.budgets.start();
    charge.add(BLOCK_FIXED_BYTES.saturating_add(if include_txs {
        hex_len(size).saturating_add(txs.len().saturating_mul(TX_FIXED_BYTES))
    } else {
        txs.len().saturating_mul(68)
    }))?;
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
    Ok(Some(Charged::new(b, charge)))
}
