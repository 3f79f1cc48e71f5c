//! The signing side of the RPC: `cfx_accounts`, `cfx_sendTransaction`,
//! `cfx_signTransaction`, `cfx_sign`, `cfx_signTypedData_v4`, served on the loopback-only
//! local port (`--rpc-local-port`, default 12539 like conflux-rust) and on the public ports
//! only when `--rpc-public-signing` says so. The relay is in [`super::send`], the HTTP
//! access rules in [`super::access`].
//!
//! A send builds the transaction from verified state (nonce from the verified state nonce
//! raised past our own pending transactions, epoch height from the verified tip, fees from
//! verified headers and bodies), has the configured signer sign it, checks that the
//! signature recovers to `from`, stores it durably in the pending set, and only then
//! relays it. A signer failure (card pulled, wrong PIN, policy refusal) reaches the dapp
//! as a clear error, with nothing relayed and no nonce used.

use std::sync::Arc;

use cfxlight_primitives::{
    rpc::{Bytes, RpcAddress},
    transaction::{AccessListItem, Action, SignedTransaction, Transaction, TxKind},
    H160, U256,
};
use cfxlight_signer::{Signer, SignerError};
use jsonrpsee::{server::RpcModule, types::ErrorObjectOwned};
use serde_json::{Map, Value};

use super::{
    context::RpcContext,
    error::{internal, invalid_param_data, invalid_params, query_error},
    params::{parse_address, Args},
};

type Module = RpcModule<Arc<RpcContext>>;

/// conflux-rust's ACCOUNT_ERROR code, used for every signer failure.
pub const SIGNER_ERROR: i32 = -32023;

/// Where the signing methods are served.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LocalConfig {
    /// Loopback HTTP port of the local RPC (None: no local server).
    pub port: Option<u16>,
    /// Also serve the signing methods on the public ports.
    pub public_signing: bool,
    /// Bearer token the signing endpoints require, if set.
    #[serde(skip_serializing)]
    pub token: Option<String>,
}

impl Default for LocalConfig {
    fn default() -> Self {
        LocalConfig {
            port: Some(12539),
            public_signing: false,
            token: None,
        }
    }
}

/// The signer the local methods use.
pub struct Signing {
    /// The configured backend (already wrapped in policy and audit when configured).
    pub signer: Arc<dyn Signer>,
}

fn signer_error(e: SignerError) -> ErrorObjectOwned {
    crate::metrics::global().signer_request(true);
    ErrorObjectOwned::owned(SIGNER_ERROR, format!("signer: {e}"), None::<()>)
}

fn signing(ctx: &RpcContext) -> Result<&Arc<Signing>, ErrorObjectOwned> {
    ctx.signing.as_ref().ok_or_else(|| {
        ErrorObjectOwned::owned(
            SIGNER_ERROR,
            "no signer configured: start the node with --signer <spec>",
            None::<()>,
        )
    })
}

fn quantity(o: &Map<String, Value>, k: &str) -> Result<Option<U256>, ErrorObjectOwned> {
    match o.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => serde_json::from_value::<U256>(v.clone())
            .map(Some)
            .map_err(|e| invalid_params(format!("`{k}`: {e}"))),
    }
}

/// Ceiling on the fees the node fills in itself, as a multiple of the verified base price
/// (or of the pool minimum, whichever is higher): the medians behind the suggestions come
/// from block bodies peers serve, so a peer must not be able to make the node suggest a
/// fee that drains the account. Fees the request gives are used as given (and bounded by
/// the signer's policy, `max_gas_price` / `max_fee_per_tx`).
pub const MAX_SUGGESTED_FEE_MULTIPLE: u64 = 10;

/// The highest price per gas the node suggests on its own: [`MAX_SUGGESTED_FEE_MULTIPLE`]
/// × max(base price, pool minimum), saturating.
fn suggested_fee_ceiling(base: U256) -> U256 {
    base.max(super::fees::min_gas_price())
        .saturating_mul(U256::from(MAX_SUGGESTED_FEE_MULTIPLE))
}

/// Builds the transaction a `cfx_sendTransaction` request describes, filling what it
/// leaves out from verified chain data. Returns it with its sender.
async fn build_tx(ctx: &RpcContext, req: &Value) -> Result<(H160, Transaction), ErrorObjectOwned> {
    let Value::Object(o) = req else {
        return Err(invalid_params("the transaction must be an object"));
    };
    let net = ctx.chain.network_id;
    let from = parse_address(
        o.get("from")
            .ok_or_else(|| invalid_params("`from` is required"))?,
        net,
    )?;
    let action = match o.get("to") {
        None | Some(Value::Null) => Action::Create,
        Some(v) => Action::Call(parse_address(v, net)?),
    };
    let data = match o.get("data") {
        None | Some(Value::Null) => vec![],
        Some(v) => {
            serde_json::from_value::<Bytes>(v.clone())
                .map_err(|e| invalid_params(format!("`data`: {e}")))?
                .0
        }
    };
    if let Some(id) = quantity(o, "chainId")? {
        if id != U256::from(ctx.chain.chain_id) {
            return Err(invalid_params(format!(
                "`chainId` {id} is not this chain's ({})",
                ctx.chain.chain_id
            )));
        }
    }
    let given_gas = quantity(o, "gas")?;
    let given_storage = match quantity(o, "storageLimit")? {
        Some(s) if s.bits() > 64 => return Err(invalid_params("`storageLimit` is too large")),
        Some(s) => Some(s.as_u64()),
        None => None,
    };
    let best = ctx.best_epoch()?;
    let epoch_height = match quantity(o, "epochHeight")? {
        Some(e) if e.bits() > 64 => return Err(invalid_params("`epochHeight` is too large")),
        Some(e) => e.as_u64(),
        None => best,
    };
    // The freshest verified state (not the one the read path serves): the nonce lags
    // execution by the deferred epochs already, no need to add more.
    let latest_state = ctx.store.latest_state().map_err(internal)?.unwrap_or(0);
    let nonce = match quantity(o, "nonce")? {
        Some(n) => n,
        None => {
            let state = ctx
                .query
                .account(latest_state, from)
                .await
                .map_err(query_error)?
                .map(|a| a.nonce)
                .unwrap_or_default();
            ctx.pool.next_nonce_after(from, state)
        }
    };
    let access_list: Option<Vec<AccessListItem>> = match o.get("accessList") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .map(|i| {
                    let addr = i
                        .get("address")
                        .ok_or_else(|| invalid_params("accessList item needs `address`"))?;
                    Ok(AccessListItem {
                        address: parse_address(addr, net)?,
                        storage_keys: serde_json::from_value(
                            i.get("storageKeys")
                                .cloned()
                                .unwrap_or(Value::Array(vec![])),
                        )
                        .map_err(|e| invalid_params(format!("storageKeys: {e}")))?,
                    })
                })
                .collect::<Result<_, ErrorObjectOwned>>()?,
        ),
        Some(_) => return Err(invalid_params("`accessList` must be an array")),
    };
    // What the request leaves out is estimated as conflux-rust's `prepare_transaction`
    // does: the request itself, nonce filled in, through `cfx_estimateGasAndCollateral`.
    let (gas, storage_limit) = match (given_gas, given_storage) {
        (Some(g), Some(s)) => (g, s),
        (g, s) => {
            let (est_gas, est_storage) = super::call::estimate_for_send(ctx, req, nonce).await?;
            (g.unwrap_or(est_gas), s.unwrap_or(est_storage))
        }
    };
    let ty = match quantity(o, "type")? {
        Some(t) if t > U256::from(2) => {
            return Err(invalid_params(format!("unsupported transaction type {t}")))
        }
        Some(t) => t.as_u64(),
        None if o.contains_key("maxFeePerGas") || o.contains_key("maxPriorityFeePerGas") => 2,
        None if o.get("gasPrice").is_some_and(|v| !v.is_null()) && access_list.is_some() => 1,
        None if o.get("gasPrice").is_some_and(|v| !v.is_null()) => 0,
        // Typed (CIP-1559) by default where the chain has activated it.
        None if best >= ctx.chain.cip1559_height => 2,
        None => 0,
    };
    let base = super::fees::base_price(ctx, best)?;
    let ceiling = suggested_fee_ceiling(base);
    let kind = match ty {
        0 | 1 => {
            let gas_price = match quantity(o, "gasPrice")? {
                Some(p) => p,
                None => super::fees::suggested_gas_price(ctx).await?.min(ceiling),
            };
            if ty == 0 {
                TxKind::Legacy { gas_price }
            } else {
                TxKind::Cip2930 {
                    gas_price,
                    access_list: access_list.unwrap_or_default(),
                }
            }
        }
        _ => {
            let given_tip = quantity(o, "maxPriorityFeePerGas")?;
            let tip = match given_tip {
                Some(t) => t,
                None => super::fees::suggested_priority_fee(ctx).await?.min(ceiling),
            };
            let max_fee = match quantity(o, "maxFeePerGas")? {
                Some(m) => m,
                // Room for the base price to double before the transaction stalls, and
                // never below the pool's minimum; under the ceiling unless the request
                // set the tip itself (then the tip is the caller's, and must fit).
                None => {
                    let fee = base
                        .saturating_mul(U256::from(2u8))
                        .saturating_add(tip)
                        .max(super::fees::min_gas_price());
                    match given_tip {
                        Some(_) => fee,
                        None => fee.min(ceiling),
                    }
                }
            };
            if tip > max_fee {
                return Err(invalid_params(
                    "`maxPriorityFeePerGas` exceeds `maxFeePerGas`",
                ));
            }
            TxKind::Cip1559 {
                max_priority_fee_per_gas: tip,
                max_fee_per_gas: max_fee,
                access_list: access_list.unwrap_or_default(),
            }
        }
    };
    let value = quantity(o, "value")?.unwrap_or_default();
    Ok((
        from,
        Transaction {
            kind,
            nonce,
            gas,
            action,
            value,
            storage_limit,
            epoch_height,
            chain_id: ctx.chain.chain_id,
            data,
        },
    ))
}

async fn sign_tx(
    ctx: &RpcContext,
    from: H160,
    tx: &Transaction,
) -> Result<SignedTransaction, ErrorObjectOwned> {
    let s = signing(ctx)?;
    // The request asks for `from`'s key over this transaction's hash; the signer's
    // `VerifiedSignature` says whose key made it over what, so no second recovery here.
    let req = cfxlight_signer::SignRequest::transaction(from, tx);
    let sig = s.signer.sign_request(&req).await.map_err(signer_error)?;
    crate::metrics::global().signer_request(false);
    if !sig.is_for(&req) {
        return Err(ErrorObjectOwned::owned(
            SIGNER_ERROR,
            "signer returned a signature that is not `from`'s over this transaction",
            None::<()>,
        ));
    }
    Ok(tx.clone().with_signature(sig.into_signature()))
}

/// Registers the signing methods (when `with_signing`).
pub(super) fn register(
    m: &mut Module,
    with_signing: bool,
) -> Result<(), jsonrpsee::core::RegisterMethodError> {
    if !with_signing {
        return Ok(());
    }
    m.register_async_method("cfx_accounts", |p, ctx, _| async move {
        Args::none(&p)?;
        let s = signing(&ctx)?;
        let accounts = s.signer.accounts().await.map_err(signer_error)?;
        Ok::<_, ErrorObjectOwned>(
            accounts
                .iter()
                .map(|a| RpcAddress::new(a.address, ctx.chain.network_id))
                .collect::<Vec<_>>(),
        )
    })?;
    m.register_async_method("cfx_sendTransaction", |p, ctx, _| async move {
        let args = Args::of(&p, 1, 2)?;
        let req = args.get(0).cloned().unwrap_or(Value::Null);
        let from = match &req {
            Value::Object(o) => o
                .get("from")
                .map(|v| parse_address(v, ctx.chain.network_id))
                .transpose()?,
            _ => None,
        }
        .ok_or_else(|| invalid_params("`from` is required"))?;
        // One send per sender at a time: the nonce picked here is used by this send only.
        let lock = ctx.pool.sender_lock(from);
        let _guard = lock.lock().await;
        let (from, tx) = build_tx(&ctx, &req).await?;
        let signed = sign_tx(&ctx, from, &tx).await?;
        super::send::submit(&ctx, signed, from).await
    })?;
    m.register_async_method("cfx_signTransaction", |p, ctx, _| async move {
        let args = Args::of(&p, 1, 2)?;
        let req = args.get(0).cloned().unwrap_or(Value::Null);
        let (from, tx) = build_tx(&ctx, &req).await?;
        let signed = sign_tx(&ctx, from, &tx).await?;
        Ok::<_, ErrorObjectOwned>(Bytes(signed.encode()))
    })?;
    m.register_async_method("cfx_sign", |p, ctx, _| async move {
        // conflux-rust's order: (data, address[, password]).
        let args = Args::of(&p, 2, 3)?;
        let data: Bytes = args.required(0, "0x-hex data")?;
        let from = args.address(1, ctx.chain.network_id)?;
        let s = signing(&ctx)?;
        let sig = s
            .signer
            .sign_message(&from, &data.0)
            .await
            .map_err(signer_error)?;
        crate::metrics::global().signer_request(false);
        Ok::<_, ErrorObjectOwned>(Bytes(rsv(&sig)))
    })?;
    // CIP-23 typed data, as Fluent names the method: (address, typed data as a JSON object
    // or as a string holding one). The wallet shows the content; the signer signs its hash.
    m.register_async_method("cfx_signTypedData_v4", |p, ctx, _| async move {
        let args = Args::of(&p, 2, 2)?;
        let from = args.address(0, ctx.chain.network_id)?;
        let json = match args.get(1) {
            Some(Value::String(s)) => s.clone(),
            Some(v @ Value::Object(_)) => v.to_string(),
            _ => {
                return Err(invalid_params(
                    "typed data: expected a JSON object or string",
                ))
            }
        };
        let typed = cfxlight_signer::typed_data::TypedData::from_json(&json)
            .map_err(|e| invalid_param_data("typedData", e))?;
        let digest = typed
            .hash()
            .map_err(|e| invalid_param_data("typedData", e))?;
        let s = signing(&ctx)?;
        let sig = s
            .signer
            .sign_typed_data(&from, &typed)
            .await
            .map_err(signer_error)?;
        // Checked against the account's key by the backend; here that it is this request's.
        if sig.signer() != from || sig.digest() != digest {
            return Err(ErrorObjectOwned::owned(
                SIGNER_ERROR,
                "signer returned a signature that is not the address's over this typed data",
                None::<()>,
            ));
        }
        crate::metrics::global().signer_request(false);
        Ok::<_, ErrorObjectOwned>(Bytes(rsv(&sig)))
    })?;
    Ok(())
}

/// A signature as `r ‖ s ‖ v` (65 bytes), as `cfx_sign` answers it.
fn rsv(sig: &cfxlight_primitives::crypto::Signature) -> Vec<u8> {
    let mut out = Vec::with_capacity(65);
    out.extend_from_slice(&sig.r.to_big_endian());
    out.extend_from_slice(&sig.s.to_big_endian());
    out.push(sig.v);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggested_fees_are_capped_at_a_multiple_of_the_base_or_pool_minimum() {
        let min = super::super::fees::min_gas_price();
        let m = U256::from(MAX_SUGGESTED_FEE_MULTIPLE);
        // No base price (before CIP-1559), or one under the pool minimum: the minimum counts.
        assert_eq!(suggested_fee_ceiling(U256::zero()), min * m);
        assert_eq!(suggested_fee_ceiling(U256::one()), min * m);
        let base = min * U256::from(3u8);
        assert_eq!(suggested_fee_ceiling(base), base * m);
        // A peer-supplied base of 2^256 - 1 neither panics nor wraps.
        assert_eq!(suggested_fee_ceiling(U256::MAX), U256::MAX);
        // A draining median (balance / 21000) comes out at the ceiling.
        let draining = U256::exp10(30);
        assert_eq!(draining.min(suggested_fee_ceiling(base)), base * m);
    }
}
