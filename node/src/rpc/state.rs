//! Account and storage reads (`cfx_getBalance`, `cfx_getAccount`, `cfx_getCode`, …),
//! each answered from a state entry verified against the epoch's state root, and
//! `cfx_getStorageRoot`, answered from a storage root proven in all three tries.

use std::sync::Arc;

use cfxlight_primitives::{
    account::Account, hash::KECCAK_EMPTY, rpc::RpcAddress, storage_key::StorageKey, H160, H256,
    U256,
};
use ethereum_types::BigEndianHash;
use jsonrpsee::{server::RpcModule, types::ErrorObjectOwned};
use rlp::Rlp;
use serde_json::{json, Value};

use super::{
    context::RpcContext,
    error::{internal, query_error, INVALID_PARAMS},
    params::{Args, StateAt},
};

type Module = RpcModule<Arc<RpcContext>>;

/// The account at the requested epoch, or the empty account when it does not exist.
async fn account(ctx: &RpcContext, args: &Args) -> Result<(H160, Account), ErrorObjectOwned> {
    let addr = args.address(0, ctx.chain.network_id)?;
    let epoch = ctx.state_epoch(args.state_epoch(1)?)?;
    let acc = ctx
        .query
        .account(epoch, addr)
        .await
        .map_err(query_error)?
        .unwrap_or_else(empty_account);
    Ok((addr, acc))
}

fn empty_account() -> Account {
    Account {
        kind: cfxlight_primitives::account::AccountKind::Basic,
        balance: U256::zero(),
        nonce: U256::zero(),
        code_hash: KECCAK_EMPTY,
        staking_balance: U256::zero(),
        collateral_for_storage: U256::zero(),
        accumulated_interest_return: U256::zero(),
        admin: H160::zero(),
        sponsor_info: Default::default(),
    }
}

fn addr_json(ctx: &RpcContext, a: H160) -> Value {
    json!(RpcAddress::new(a, ctx.chain.network_id))
}

/// A storage value: a bare integer, or `[value, owner]` once it has an owner.
fn storage_value(raw: &[u8]) -> Result<U256, ErrorObjectOwned> {
    let r = Rlp::new(raw);
    let v = if r.is_list() { r.val_at(0) } else { r.as_val() };
    v.map_err(|e| internal(format!("verified storage value does not decode: {e}")))
}

pub(super) fn register(m: &mut Module) -> Result<(), jsonrpsee::core::RegisterMethodError> {
    m.register_async_method("cfx_getBalance", |p, ctx, _| async move {
        let args = Args::of(&p, 1, 2)?;
        account(&ctx, &args).await.map(|(_, a)| a.balance)
    })?;
    m.register_async_method("cfx_getNextNonce", |p, ctx, _| async move {
        let args = Args::of(&p, 1, 2)?;
        let (addr, a) = account(&ctx, &args).await?;
        // The node's own pending transactions count for a sender the local signer owns.
        let pending = match args.get(1) {
            None => ctx.pool.next_nonce_after(addr, a.nonce),
            Some(_) => a.nonce,
        };
        Ok::<_, ErrorObjectOwned>(pending)
    })?;
    m.register_async_method("cfx_getStakingBalance", |p, ctx, _| async move {
        let args = Args::of(&p, 1, 2)?;
        account(&ctx, &args).await.map(|(_, a)| a.staking_balance)
    })?;
    m.register_async_method("cfx_getCollateralForStorage", |p, ctx, _| async move {
        let args = Args::of(&p, 1, 2)?;
        account(&ctx, &args)
            .await
            .map(|(_, a)| a.collateral_for_storage)
    })?;
    m.register_async_method("cfx_getAdmin", |p, ctx, _| async move {
        let args = Args::of(&p, 1, 2)?;
        let addr = args.address(0, ctx.chain.network_id)?;
        let epoch = ctx.state_epoch(args.state_epoch(1)?)?;
        // conflux-rust answers null for an account that does not exist.
        let acc = ctx.query.account(epoch, addr).await.map_err(query_error)?;
        Ok::<_, ErrorObjectOwned>(acc.map(|a| addr_json(&ctx, a.admin)))
    })?;
    m.register_async_method("cfx_getAccount", |p, ctx, _| async move {
        let args = Args::of(&p, 1, 2)?;
        let (addr, a) = account(&ctx, &args).await?;
        Ok::<_, ErrorObjectOwned>(json!({
            "address": addr_json(&ctx, addr),
            "balance": a.balance,
            "nonce": a.nonce,
            "codeHash": a.code_hash,
            "stakingBalance": a.staking_balance,
            "collateralForStorage": a.collateral_for_storage,
            "accumulatedInterestReturn": a.accumulated_interest_return,
            "admin": addr_json(&ctx, a.admin),
        }))
    })?;
    m.register_async_method("cfx_getSponsorInfo", |p, ctx, _| async move {
        let args = Args::of(&p, 1, 2)?;
        let (_, a) = account(&ctx, &args).await?;
        let s = &a.sponsor_info;
        let points = s.storage_points.unwrap_or_default();
        Ok::<_, ErrorObjectOwned>(json!({
            "sponsorForGas": addr_json(&ctx, s.sponsor_for_gas),
            "sponsorForCollateral": addr_json(&ctx, s.sponsor_for_collateral),
            "sponsorGasBound": s.sponsor_gas_bound,
            "sponsorBalanceForGas": s.sponsor_balance_for_gas,
            "sponsorBalanceForCollateral": s.sponsor_balance_for_collateral,
            "availableStoragePoints": points.unused,
            "usedStoragePoints": points.used,
        }))
    })?;
    m.register_async_method("cfx_getCode", |p, ctx, _| async move {
        let args = Args::of(&p, 1, 2)?;
        let addr = args.address(0, ctx.chain.network_id)?;
        let epoch = ctx.state_epoch(args.state_epoch(1)?)?;
        let Some(acc) = ctx.query.account(epoch, addr).await.map_err(query_error)? else {
            return Ok(json!("0x"));
        };
        if acc.code_hash == KECCAK_EMPTY {
            return Ok(json!("0x"));
        }
        let key = StorageKey::Code {
            address: addr,
            code_hash: acc.code_hash,
        };
        let raw = ctx
            .query
            .state_entry(epoch, &key)
            .await
            .map_err(query_error)?;
        let code: Vec<u8> = match raw {
            // CodeInfo `[code, owner]`.
            Some(r) => Rlp::new(&r)
                .val_at(0)
                .map_err(|e| internal(format!("verified code entry does not decode: {e}")))?,
            None => vec![],
        };
        if cfxlight_primitives::hash::keccak256(&code) != acc.code_hash && !code.is_empty() {
            return Err(internal(
                "verified code does not hash to the account's code hash",
            ));
        }
        Ok(json!(cfxlight_primitives::rpc::Bytes(code)))
    })?;
    m.register_async_method("cfx_getStorageAt", |p, ctx, _| async move {
        let args = Args::of(&p, 2, 3)?;
        let addr = args.address(0, ctx.chain.network_id)?;
        let slot: U256 = args.required(1, "a hex position")?;
        let epoch = ctx.state_epoch(args.state_epoch(2)?)?;
        let key = StorageKey::Storage {
            address: addr,
            key: H256::from_uint(&slot).as_bytes().to_vec(),
        };
        let raw = ctx
            .query
            .state_entry(epoch, &key)
            .await
            .map_err(query_error)?;
        raw.map(|r| storage_value(&r).map(|v| H256::from_uint(&v)))
            .transpose()
    })?;
    m.register_async_method("cfx_getStorageRoot", |p, ctx, _| async move {
        let args = Args::of(&p, 1, 2)?;
        let addr = args.address(0, ctx.chain.network_id)?;
        // conflux-rust takes an `EpochNumber` here, not the block-hash forms of getBalance.
        let epoch = ctx.state_epoch(args.epoch(1)?.map(StateAt::Epoch))?;
        // Always an object, all parts null for an account without storage, as conflux-rust.
        let root = ctx
            .query
            .storage_root(epoch, addr)
            .await
            .map_err(query_error)?;
        Ok::<_, ErrorObjectOwned>(root)
    })?;
    m.register_async_method("cfx_getInterestRate", |p, ctx, _| async move {
        let args = Args::of(&p, 0, 1)?;
        let epoch = ctx.state_epoch(args.epoch(0)?.map(StateAt::Epoch))?;
        global_param(&ctx, epoch, STAKING_CONTRACT, b"interest_rate").await
    })?;
    m.register_async_method("cfx_getAccumulateInterestRate", |p, ctx, _| async move {
        let args = Args::of(&p, 0, 1)?;
        let epoch = ctx.state_epoch(args.epoch(0)?.map(StateAt::Epoch))?;
        global_param(&ctx, epoch, STAKING_CONTRACT, b"accumulate_interest_rate").await
    })?;
    m.register_async_method("cfx_getPoSEconomics", |p, ctx, _| async move {
        let args = Args::of(&p, 0, 1)?;
        let epoch = ctx.state_epoch(args.epoch(0)?.map(StateAt::Epoch))?;
        Ok::<_, ErrorObjectOwned>(json!({
            "totalPosStakingTokens":
                global_param(&ctx, epoch, STAKING_CONTRACT, b"total_pos_staking_tokens").await?,
            "distributablePosInterest":
                global_param(&ctx, epoch, STAKING_CONTRACT, b"distributable_pos_interest").await?,
            "lastDistributeBlock":
                global_param(&ctx, epoch, PARAMS_CONTRACT, b"last_distribute_block").await?,
        }))
    })?;
    m.register_async_method("cfx_getDepositList", |p, ctx, _| async move {
        let args = Args::of(&p, 1, 2)?;
        staking_list(&ctx, &args, true).await
    })?;
    m.register_async_method("cfx_getVoteList", |p, ctx, _| async move {
        let args = Args::of(&p, 1, 2)?;
        staking_list(&ctx, &args, false).await
    })?;
    m.register_async_method(
        "cfx_checkBalanceAgainstTransaction",
        |p, ctx, _| async move {
            let args = Args::of(&p, 5, 6)?;
            let from = args.address(0, ctx.chain.network_id)?;
            let to = args.address(1, ctx.chain.network_id)?;
            let gas: U256 = args.typed(2)?.unwrap_or_default();
            let price: U256 = args.typed(3)?.unwrap_or_default();
            let storage: U256 = args.typed(4)?.unwrap_or_default();
            if storage.bits() > 64 {
                return Err(jsonrpsee::types::ErrorObjectOwned::owned(
                    INVALID_PARAMS,
                    format!(
                        "storage_limit has to be within the range of u64 but {storage} supplied!"
                    ),
                    None::<()>,
                ));
            }
            let epoch = ctx.state_epoch(args.state_epoch(5)?)?;
            let q = &ctx.query;
            let user = q
                .account(epoch, from)
                .await
                .map_err(query_error)?
                .unwrap_or_else(empty_account);
            let contract = q
                .account(epoch, to)
                .await
                .map_err(query_error)?
                .unwrap_or_else(empty_account);
            let gas_cost = gas.saturating_mul(price);
            // 1 CFX per 1024 bytes of storage: 10^18 / 1024 drip per byte.
            let storage_cost = storage.saturating_mul(U256::from(976_562_500_000_000u64));
            let s = &contract.sponsor_info;
            let is_contract = contract.kind == cfxlight_primitives::account::AccountKind::Contract;
            let will_pay_tx_fee = !(is_contract
                && !s.sponsor_for_gas.is_zero()
                && gas_cost <= s.sponsor_gas_bound
                && gas_cost <= s.sponsor_balance_for_gas);
            let will_pay_collateral = !(is_contract
                && !s.sponsor_for_collateral.is_zero()
                && storage_cost <= s.sponsor_balance_for_collateral);
            let need = (if will_pay_tx_fee {
                gas_cost
            } else {
                U256::zero()
            })
            .saturating_add(if will_pay_collateral {
                storage_cost
            } else {
                U256::zero()
            });
            Ok::<_, ErrorObjectOwned>(json!({
            "willPayTxFee": will_pay_tx_fee,
            "willPayCollateral": will_pay_collateral,
            "isBalanceEnough": user.balance >= need,
            }))
        },
    )?;
    Ok(())
}

/// The internal staking contract, whose storage holds the global interest parameters.
const STAKING_CONTRACT: H160 = H160([
    0x08, 0x88, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02,
]);
/// The internal params-control contract.
const PARAMS_CONTRACT: H160 = H160([
    0x08, 0x88, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x07,
]);

/// A global parameter (conflux-rust `global_params.rs`): a storage slot of an internal
/// contract named by a byte string; absent means zero.
async fn global_param(
    ctx: &RpcContext,
    epoch: u64,
    contract: H160,
    name: &[u8],
) -> Result<U256, ErrorObjectOwned> {
    let key = StorageKey::Storage {
        address: contract,
        key: name.to_vec(),
    };
    let raw = ctx
        .query
        .state_entry(epoch, &key)
        .await
        .map_err(query_error)?;
    raw.map(|r| storage_value(&r))
        .transpose()
        .map(Option::unwrap_or_default)
}

/// Deposit (`true`) or vote list: absent means empty; entries decode into conflux-rust's
/// JSON shapes.
async fn staking_list(
    ctx: &RpcContext,
    args: &Args,
    deposit: bool,
) -> Result<Value, ErrorObjectOwned> {
    let addr = args.address(0, ctx.chain.network_id)?;
    let epoch = ctx.state_epoch(args.state_epoch(1)?)?;
    let key = if deposit {
        StorageKey::DepositList(addr)
    } else {
        StorageKey::VoteList(addr)
    };
    let Some(raw) = ctx
        .query
        .state_entry(epoch, &key)
        .await
        .map_err(query_error)?
    else {
        return Ok(json!([]));
    };
    let r = Rlp::new(&raw);
    let bad =
        |e: rlp::DecoderError| internal(format!("verified staking list does not decode: {e}"));
    let mut out = vec![];
    for item in r.iter() {
        if deposit {
            out.push(json!({
                "amount": item.val_at::<U256>(0).map_err(bad)?,
                "depositTime": item.val_at::<U256>(1).map_err(bad)?,
                "accumulatedInterestRate": item.val_at::<U256>(2).map_err(bad)?,
            }));
        } else {
            out.push(json!({
                "amount": item.val_at::<U256>(0).map_err(bad)?,
                "unlockBlockNumber": item.val_at::<U256>(1).map_err(bad)?,
            }));
        }
    }
    Ok(Value::Array(out))
}
