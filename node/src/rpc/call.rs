//! The execution methods, `cfx_call` and `cfx_estimateGasAndCollateral`, run as
//! conflux-rust's `exec_transaction` runs them (v3.0.2: the request's deserialization and
//! network checks, `sign_call`'s gas cap, `verify_transaction_common`, CIP-130, the
//! estimator's stand-in sender and the executive's pre-checks and balance errors, word for
//! word) over the sender's and recipient's accounts verified at the requested epoch.
//!
//! What runs no code (a transfer, with or without data, to an address without code) is
//! answered in full: the estimate is the larger of the intrinsic gas, the EIP-7623 floor
//! and CIP-130's 100 gas per byte. A call into code runs in [`crate::evm`]'s guarded EVM.
//! What needs more than that (an estimate of code, which needs Conflux's gas schedule; a
//! deployment; an internal contract; whatever the guard stops) is refused with -32000
//! naming it, never answered with a figure that might be wrong.

use std::sync::Arc;

use cfxlight_primitives::{
    address::AddressType, hash::KECCAK_EMPTY, transaction::AccessListItem, H160, U256,
};
use ethereum_types::U512;
use jsonrpsee::{server::RpcModule, types::ErrorObjectOwned};
use serde_json::{json, Value};

use super::{
    context::RpcContext,
    error::{internal, invalid_param_data, invalid_params, query_error, unsupported, UNSUPPORTED},
    params::{json_kind, parse_address, parse_epoch, parse_u64_hex, Args, Epoch, StateAt},
};

type Module = RpcModule<Arc<RpcContext>>;

/// conflux-rust's code for a call or estimate that executed and failed.
const CALL_EXECUTION_ERROR: i32 = -32015;
/// conflux-rust's "error processing request" code.
const REQUEST_ERROR: i32 = -32016;
/// The largest `gas` a call or estimate may name, and the one it runs with by default:
/// conflux-rust's `DEFAULT_CFX_GAS_CALL_REQUEST` (the 30 M target block gas limit × the
/// core space's 9/10 share), unless a node sets `max_estimation_gas_limit`.
const MAX_CALL_GAS: u64 = 27_000_000;
/// One CFX in drips.
const ONE_CFX: u64 = 1_000_000_000_000_000_000;
/// Intrinsic gas of a call, of a creation, per zero and non-zero data byte, per access list
/// address and storage key (Core Space, conflux-rust's spec at v3.0).
const TX_GAS: u64 = 21_000;
const TX_CREATE_GAS: u64 = 53_000;
const TX_DATA_ZERO_GAS: u64 = 4;
const TX_DATA_NON_ZERO_GAS: u64 = 68;
const ACCESS_LIST_ADDRESS_GAS: u64 = 2_400;
const ACCESS_LIST_KEY_GAS: u64 = 1_900;

/// A `TransactionRequest` as conflux-rust deserializes it (unknown fields are ignored).
#[derive(Debug, Default, Clone)]
pub(crate) struct CallRequest {
    pub from: Option<(H160, u64)>,
    pub to: Option<(H160, u64)>,
    pub gas_price: Option<U256>,
    pub gas: Option<U256>,
    pub value: Option<U256>,
    pub data: Vec<u8>,
    pub nonce: Option<U256>,
    pub storage_limit: Option<u64>,
    pub access_list: Option<Vec<AccessListItem>>,
    pub max_fee_per_gas: Option<U256>,
    pub max_priority_fee_per_gas: Option<U256>,
    pub ty: Option<u64>,
}

impl CallRequest {
    /// Parses the request object with the deserializer's messages.
    pub(crate) fn parse(v: &Value) -> Result<CallRequest, ErrorObjectOwned> {
        let Value::Object(o) = v else {
            return Err(invalid_params(format!(
                "invalid type: {}, expected struct TransactionRequest",
                json_kind(v)
            )));
        };
        let mut r = CallRequest::default();
        for (k, v) in o {
            if v.is_null() {
                continue;
            }
            match k.as_str() {
                "from" => r.from = Some(any_address(v)?),
                "to" => r.to = Some(any_address(v)?),
                "gasPrice" => r.gas_price = Some(parse_u256(v)?),
                "gas" => r.gas = Some(parse_u256(v)?),
                "value" => r.value = Some(parse_u256(v)?),
                "data" => r.data = parse_bytes(v)?,
                "nonce" => r.nonce = Some(parse_u256(v)?),
                "storageLimit" => r.storage_limit = Some(parse_u64_hex(v)?),
                "maxFeePerGas" => r.max_fee_per_gas = Some(parse_u256(v)?),
                "maxPriorityFeePerGas" => r.max_priority_fee_per_gas = Some(parse_u256(v)?),
                "type" => r.ty = Some(parse_u64_hex(v)?),
                "epochHeight" | "chainId" => {
                    parse_u64_hex(v)?;
                }
                "accessList" => r.access_list = Some(access_list(v)?),
                _ => {}
            }
        }
        Ok(r)
    }

    /// Whether any price field was given (conflux-rust's `has_gas_price`).
    fn has_gas_price(&self) -> bool {
        self.gas_price.is_some()
            || self.max_fee_per_gas.is_some()
            || self.max_priority_fee_per_gas.is_some()
    }

    /// The transaction type conflux-rust builds (`transaction_type`): the one named, else
    /// CIP-1559 when a fee cap or tip is given, CIP-2930 with an access list, else legacy.
    fn tx_type(&self) -> u64 {
        match self.ty {
            Some(t) => t,
            None if self.max_fee_per_gas.is_some() || self.max_priority_fee_per_gas.is_some() => 2,
            None if self.access_list.is_some() => 1,
            None => 0,
        }
    }

    /// The price per gas the executive charges by (`gas_price()` of the transaction
    /// `sign_call` builds): the legacy price (default 1), or a CIP-1559 fee cap (falling
    /// back to the tip, then the legacy price).
    fn price(&self) -> U256 {
        let legacy = self.gas_price.unwrap_or(U256::one());
        match self.tx_type() {
            2 => self
                .max_fee_per_gas
                .or(self.max_priority_fee_per_gas)
                .unwrap_or(legacy),
            _ => legacy,
        }
    }
}

/// A base32 address of any network (the networks are compared afterwards, as
/// conflux-rust does): the hex address and its network id.
fn any_address(v: &Value) -> Result<(H160, u64), ErrorObjectOwned> {
    let Value::String(s) = v else {
        return Err(invalid_params(format!(
            "invalid type: {}, expected a string",
            json_kind(v)
        )));
    };
    let a: cfxlight_primitives::address::CfxAddress = match s.parse() {
        Ok(a) => a,
        // The parser with the node's own network gives conflux-rust's wording.
        Err(_) => return parse_address(v, 0).map(|a| (a, 0)),
    };
    Ok((a.address, a.network_id))
}

/// A `U256` field: 1 to 64 hex digits, `0x` optional.
fn parse_u256(v: &Value) -> Result<U256, ErrorObjectOwned> {
    const EXPECTED: &str = "a (both 0x-prefixed or not) hex string with length between (0; 64]";
    let Value::String(s) = v else {
        return Err(invalid_params(format!(
            "invalid type: {}, expected {EXPECTED}",
            json_kind(v)
        )));
    };
    let (prefix, digits) = match s.strip_prefix("0x") {
        Some(d) => (2, d),
        None => (0, s.as_str()),
    };
    if digits.is_empty() || digits.len() > 64 {
        return Err(invalid_params(format!(
            "invalid length {}, expected {EXPECTED}",
            digits.len()
        )));
    }
    if let Some((i, c)) = digits.char_indices().find(|(_, c)| !c.is_ascii_hexdigit()) {
        return Err(invalid_params(format!(
            "invalid hex character: {c}, at {}",
            i + prefix
        )));
    }
    U256::from_str_radix(digits, 16).map_err(invalid_params)
}

/// A `Bytes` field: `0x` and an even number of hex digits.
fn parse_bytes(v: &Value) -> Result<Vec<u8>, ErrorObjectOwned> {
    let Value::String(s) = v else {
        return Err(invalid_params(format!(
            "invalid type: {}, expected a 0x-prefixed, hex-encoded vector of bytes",
            json_kind(v)
        )));
    };
    let Some(digits) = s.strip_prefix("0x").filter(|d| d.len() % 2 == 0) else {
        return Err(invalid_params(
            "Invalid bytes format. Expected a 0x-prefixed hex string with even length",
        ));
    };
    if let Some((i, c)) = digits.char_indices().find(|(_, c)| !c.is_ascii_hexdigit()) {
        return Err(invalid_params(format!(
            "Invalid hex: Invalid character {c:?} at position {i}"
        )));
    }
    hex::decode(digits).map_err(invalid_params)
}

fn access_list(v: &Value) -> Result<Vec<AccessListItem>, ErrorObjectOwned> {
    let Value::Array(items) = v else {
        return Err(invalid_params(format!(
            "invalid type: {}, expected a sequence",
            json_kind(v)
        )));
    };
    items
        .iter()
        .map(|i| {
            let Value::Object(o) = i else {
                return Err(invalid_params(format!(
                    "invalid type: {}, expected struct AccessListItem",
                    json_kind(i)
                )));
            };
            let address = o
                .get("address")
                .ok_or_else(|| invalid_params("missing field `address`"))?;
            let keys = match o.get("storageKeys") {
                Some(Value::Array(k)) => {
                    k.iter()
                        .map(super::params::parse_hash)
                        .collect::<Result<Vec<_>, _>>()?
                }
                Some(other) => {
                    return Err(invalid_params(format!(
                        "invalid type: {}, expected a sequence",
                        json_kind(other)
                    )))
                }
                None => return Err(invalid_params("missing field `storageKeys`")),
            };
            Ok(AccessListItem {
                address: any_address(address)?.0,
                storage_keys: keys,
            })
        })
        .collect()
}

/// conflux-rust's `call_execution_error`: -32015 with the message and its detail as data.
fn execution_error(message: impl Into<String>, detail: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(CALL_EXECUTION_ERROR, message.into(), Some(detail.into()))
}

fn request_error(detail: impl std::fmt::Display) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(
        REQUEST_ERROR,
        format!("Error processing request: Msg error detail: {detail}"),
        None::<()>,
    )
}

/// The executive's `NotEnoughCash` as the estimator words it.
fn not_enough_cash(required: U512, got: U256, actual_gas_cost: U256) -> ErrorObjectOwned {
    let e = format!(
        "NotEnoughCash {{ required: {required}, got: {got}, actual_gas_cost: {actual_gas_cost}, max_storage_limit_cost: 0 }}"
    );
    execution_error(
        format!(
            "Can not estimate: transaction execution failed, all gas will be charged (execution error: {e})"
        ),
        e,
    )
}

fn cannot_execute(detail: impl Into<String>) -> ErrorObjectOwned {
    execution_error("Can not estimate: transaction can not be executed", detail)
}

/// The `from`/`to` networks checked as conflux-rust does: against each other, then ours.
fn check_networks(ctx: &RpcContext, r: &CallRequest) -> Result<(), ErrorObjectOwned> {
    let prefix = cfxlight_primitives::address::network_prefix;
    let net = match (r.from, r.to) {
        (Some((_, f)), Some((_, t))) if f != t => {
            return Err(invalid_param_data(
                "request",
                format!(
                    "network prefix inconsistent in from({}) and to({})",
                    prefix(f),
                    prefix(t)
                ),
            ))
        }
        (Some((_, n)), _) | (None, Some((_, n))) => Some(n),
        (None, None) => None,
    };
    match net {
        Some(n) if n != ctx.chain.network_id => Err(invalid_param_data(
            "request",
            format!(
                "network prefix unexpected: ours {}, got {}",
                prefix(ctx.chain.network_id),
                prefix(n)
            ),
        )),
        _ => Ok(()),
    }
}

/// Intrinsic gas (conflux-rust's `gas_required_for` in Core Space) and the EIP-7623 floor.
pub(super) fn intrinsic_gas(
    create: bool,
    data: &[u8],
    access_list: &[AccessListItem],
) -> (u64, u64) {
    let zeros = data.iter().filter(|b| **b == 0).count() as u64;
    let non_zeros = data.len() as u64 - zeros;
    let base = if create { TX_CREATE_GAS } else { TX_GAS }
        + zeros * TX_DATA_ZERO_GAS
        + non_zeros * TX_DATA_NON_ZERO_GAS
        + access_list
            .iter()
            .map(|i| ACCESS_LIST_ADDRESS_GAS + ACCESS_LIST_KEY_GAS * i.storage_keys.len() as u64)
            .sum::<u64>();
    let floor = TX_GAS + zeros * 10 + non_zeros * 40;
    (base, floor)
}

/// The estimate of a call that runs no code: the larger of the intrinsic gas, the
/// EIP-7623 floor and CIP-130's 100 gas per byte of data.
pub(super) fn code_free_gas(data: &[u8], access_list: &[AccessListItem]) -> u64 {
    let (base, floor) = intrinsic_gas(false, data, access_list);
    base.max(floor).max(data.len() as u64 * 100)
}

/// Why a call to `to` would run code at `epoch` (`None`: it runs none, so it can be
/// estimated without an EVM): an internal contract or precompile, or an account with code.
pub(super) async fn runs_code(
    ctx: &RpcContext,
    epoch: u64,
    to: H160,
) -> Result<Option<String>, ErrorObjectOwned> {
    let shown = cfxlight_primitives::address::encode(&to, ctx.chain.network_id);
    match AddressType::of(&to) {
        AddressType::Builtin => {
            return Ok(Some(format!(
                "{shown} is an internal contract or precompile, native code cfxlight does not run"
            )))
        }
        AddressType::Unknown => return Ok(None),
        AddressType::User | AddressType::Contract | AddressType::Null => {}
    }
    let account = ctx.query.account(epoch, to).await.map_err(query_error)?;
    Ok(account
        .filter(|a| a.code_hash != KECCAK_EMPTY)
        .map(|_| format!("{shown} has code")))
}

/// The epoch an estimate reads: default `latest_state`; the full node's words for one it
/// has not executed, ours for one whose state we have not verified.
fn estimate_epoch(ctx: &RpcContext, v: Option<&Value>) -> Result<u64, ErrorObjectOwned> {
    let e = match v {
        None | Some(Value::Null) => Epoch::LatestState,
        Some(v) => parse_epoch(v)?,
    };
    match e {
        Epoch::LatestMined => Err(request_error("Latest mined epoch is not executed")),
        Epoch::Number(n) if n > ctx.best_epoch()? => Err(request_error(
            "Invalid params: expected a numbers with less than largest epoch number.",
        )),
        e => ctx.state_epoch(Some(StateAt::Epoch(e))),
    }
}

/// Which method runs the request: the checks are the same, their words differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `cfx_estimateGasAndCollateral`.
    Estimate,
    /// `cfx_call`.
    Call,
}

impl Mode {
    fn cannot_execute(self, detail: impl Into<String>) -> ErrorObjectOwned {
        match self {
            Mode::Estimate => cannot_execute(detail),
            Mode::Call => execution_error("Transaction can not be executed", detail),
        }
    }

    fn not_enough_cash(self, required: U512, got: U256, actual: U256) -> ErrorObjectOwned {
        match self {
            Mode::Estimate => not_enough_cash(required, got, actual),
            Mode::Call => execution_error(
                "Transaction execution failed",
                format!(
                    "NotEnoughCash {{ required: {required}, got: {got}, actual_gas_cost: {actual}, max_storage_limit_cost: 0 }}"
                ),
            ),
        }
    }
}

/// How a request ended: an estimate, or a call's output.
enum Outcome {
    Estimate(U256),
    Output(Vec<u8>),
}

/// Runs a request as conflux-rust's `exec_transaction` does, up to where it would need
/// an EVM that cfxlight does not have (refused with -32000, naming it).
async fn execute(
    ctx: &RpcContext,
    r: &CallRequest,
    epoch: u64,
    mode: Mode,
) -> Result<Outcome, ErrorObjectOwned> {
    check_networks(ctx, r)?;
    // sign_call: the gas it runs with, bounded by the node's maximum.
    let max_gas = U256::from(MAX_CALL_GAS);
    let gas = r.gas.unwrap_or(max_gas);
    if gas > max_gas {
        return Err(invalid_param_data(
            "gas",
            format!("specified gas is larger than max gas {max_gas}"),
        ));
    }
    match r.tx_type() {
        0..=2 => {}
        t => {
            return Err(ErrorObjectOwned::owned(
                super::error::INVALID_PARAMS,
                "Invalid parameters: Unrecognized transaction type",
                Some(json!((t as u8).to_string())),
            ))
        }
    }
    let price = r.price();
    // verify_transaction_common.
    if price.is_zero() {
        return Err(invalid_param_data(
            "tx",
            "Transaction error (Zero gas price is not allowed)",
        ));
    }
    let Some((to, _)) = r.to else {
        return Err(no_evm(mode, "a deployment runs its init code"));
    };
    let no_list = vec![];
    let list = r
        .access_list
        .as_ref()
        .filter(|_| r.tx_type() != 0)
        .unwrap_or(&no_list);
    let (base_gas, floor_gas) = intrinsic_gas(false, &r.data, list);
    if gas < U256::from(base_gas) {
        return Err(invalid_param_data(
            "tx",
            format!("Transaction error (Transaction gas {gas} less than intrinsic gas {base_gas})"),
        ));
    }
    // CIP-130: at least 100 gas per byte of data when a gas limit is given.
    let cip130 = U256::from(r.data.len() as u64 * 100);
    if r.gas.is_some() && gas < cip130 {
        return Err(mode.cannot_execute(format!(
            "not enough gas limit with respected to tx size: expected {cip130} got {gas}"
        )));
    }
    if AddressType::of(&to) == AddressType::Unknown {
        return Err(mode.cannot_execute(format!("invalid recipient address {to:?}")));
    }
    // Code to run: an estimate needs Conflux's gas figure, which only an EVM with
    // Conflux's schedule gives; a call needs only the output, which the guarded EVM gives.
    let code = runs_code(ctx, epoch, to).await?;
    match &code {
        Some(why) if mode == Mode::Estimate || AddressType::of(&to) == AddressType::Builtin => {
            return Err(no_evm(mode, why))
        }
        _ => {}
    }
    if gas < U256::from(base_gas.max(floor_gas)) {
        return Err(mode.cannot_execute(format!(
            "not enough gas limit with respected to tx size: expected {} got {gas}",
            base_gas.max(floor_gas)
        )));
    }
    let value = r.value.unwrap_or_default();
    // The sender: the one named, or a fresh account the estimator funds with 10^9 CFX
    // (at most 2^128 drips).
    let (balance, exists) = match r.from {
        Some((from, _)) => match ctx.query.account(epoch, from).await.map_err(query_error)? {
            Some(a) => (a.balance, true),
            None => (U256::zero(), false),
        },
        None => {
            let grant = value
                .saturating_add(U256::from(1_000_000_000u64) * U256::from(ONE_CFX))
                .min(U256::one() << 128);
            (grant, true)
        }
    };
    let has_sender = r.from.is_some();
    // The first pass: the executive charges gas only when sender, limit and price are all
    // given; a sender that does not exist may not be asked to pay anything.
    let charged_gas = if has_sender && r.gas.is_some() && r.has_gas_price() {
        gas.full_mul(price)
    } else {
        U512::zero()
    };
    let intended = U512::from(value) + charged_gas;
    if !intended.is_zero() && !exists {
        return Err(mode.cannot_execute("SenderDoesNotExist"));
    }
    if U512::from(balance) < intended {
        let actual = U256::try_from(charged_gas.min(U512::from(balance))).unwrap_or(U256::MAX);
        return Err(mode.not_enough_cash(intended, balance, actual));
    }
    let ran_code = code.is_some();
    let output = match code {
        None => vec![],
        Some(_) => {
            let result = run_code(ctx, r, epoch, to, gas, (balance, has_sender)).await?;
            match result {
                crate::evm::CallResult::Success(out) => out,
                // A revert ends the first pass: no balance recheck follows.
                crate::evm::CallResult::Revert(out) => {
                    return Err(execution_error(
                        "Transaction reverted",
                        format!("0x{}", hex::encode(out)),
                    ))
                }
            }
        }
    };
    // The estimator's own balance recheck for a named sender. With code run, the fee it
    // counts is Conflux's gas figure, known here only to lie below gas × 7/6 + intrinsic.
    if has_sender {
        let estimated = U256::from(code_free_gas(&r.data, list));
        let fee = if r.has_gas_price() {
            estimated.saturating_mul(price)
        } else {
            U256::zero()
        };
        let needed = U512::from(value) + U512::from(fee);
        if ran_code && r.has_gas_price() {
            let bound = gas
                .saturating_mul(U256::from(7u8))
                .checked_div(U256::from(6u8))
                .unwrap_or_default()
                .saturating_add(U256::from(base_gas))
                .max(estimated);
            if U512::from(balance) < U512::from(value) + bound.full_mul(price) {
                return Err(unsupported(
                    "cfxlight cannot run this call faithfully: whether the sender can pay depends on Conflux's gas figure for the call, which cfxlight does not compute yet (leave out gasPrice, or call from a funded sender)",
                ));
            }
        } else if U512::from(balance) < needed {
            return Err(mode.not_enough_cash(needed, balance, balance.min(fee)));
        }
        if mode == Mode::Estimate {
            return Ok(Outcome::Estimate(estimated));
        }
    }
    match mode {
        Mode::Estimate => Ok(Outcome::Estimate(U256::from(code_free_gas(&r.data, list)))),
        Mode::Call => Ok(Outcome::Output(output)),
    }
}

/// The number the block after `epoch`'s last gets (`NUMBER` in a call at `epoch`), when the
/// store knows block numbers.
fn next_block_number(ctx: &RpcContext, epoch: u64) -> Result<Option<u64>, ErrorObjectOwned> {
    let first = ctx.store.first_block_number(epoch).map_err(internal)?;
    let blocks = ctx.store.epoch_blocks(epoch).map_err(internal)?;
    Ok(match (first, blocks) {
        (Some(f), Some(b)) => Some(f.saturating_add(b.len() as u64)),
        _ => None,
    })
}

/// Runs the recipient's code in the guarded EVM over the verified state of `epoch`.
async fn run_code(
    ctx: &RpcContext,
    r: &CallRequest,
    epoch: u64,
    to: H160,
    gas: U256,
    (balance, has_sender): (U256, bool),
) -> Result<crate::evm::CallResult, ErrorObjectOwned> {
    let Some(header) = super::fees::pivot_header(ctx, epoch)? else {
        return Err(unsupported(format!(
            "the pivot header of epoch {epoch} is not in the store"
        )));
    };
    // The estimator's stand-in sender: a fresh user address, funded.
    let from = match r.from {
        Some((f, _)) => f,
        None => {
            let mut a = H160(rand::random());
            a.0[0] = 0x10 | (a.0[0] & 0x0f);
            a
        }
    };
    let env = crate::evm::CallEnv {
        epoch,
        chain_id: ctx.chain.chain_id,
        timestamp: header.timestamp,
        author: header.author,
        base_price: header.base_price.map(|p| p.core).unwrap_or_default(),
        number: next_block_number(ctx, epoch)?,
    };
    let input = crate::evm::CallInput {
        from,
        to,
        value: r.value.unwrap_or_default(),
        data: r.data.clone(),
        gas: gas.low_u64(),
        sender_balance: (!has_sender).then_some(balance),
    };
    crate::evm::call(ctx.query.clone(), env, input)
        .await
        .map_err(|e| match e {
            crate::evm::CallError::Query(q) => query_error(q),
            other => unsupported(other),
        })
}

/// -32000: this needs what cfxlight's EVM cannot do faithfully yet.
fn no_evm(mode: Mode, what: impl std::fmt::Display) -> ErrorObjectOwned {
    let msg = match mode {
        Mode::Estimate => format!(
            "cfxlight cannot estimate this transaction: {what}, and cfxlight does not compute Conflux's gas for contract code yet (give `gas` and `storageLimit` yourself)"
        ),
        Mode::Call => format!("cfxlight cannot run this call faithfully: {what}"),
    };
    ErrorObjectOwned::owned(UNSUPPORTED, msg, None::<()>)
}

/// `cfx_sendTransaction`'s refusal to fill `gas`/`storageLimit` for code.
pub(super) fn no_estimate(what: impl std::fmt::Display) -> ErrorObjectOwned {
    no_evm(Mode::Estimate, what)
}

pub(super) fn register(m: &mut Module) -> Result<(), jsonrpsee::core::RegisterMethodError> {
    m.register_async_method("cfx_estimateGasAndCollateral", |p, ctx, _| async move {
        let args = Args::of(&p, 1, 2)?;
        let request = CallRequest::parse(args.get(0).unwrap_or(&Value::Null))?;
        let epoch = estimate_epoch(&ctx, args.get(1))?;
        match execute(&ctx, &request, epoch, Mode::Estimate).await? {
            Outcome::Estimate(gas) => Ok(json!({
                "gasLimit": gas,
                "gasUsed": gas,
                "storageCollateralized": "0x0",
            })),
            Outcome::Output(_) => Err(internal("an estimate produced an output")),
        }
    })?;
    m.register_async_method("cfx_call", |p, ctx, _| async move {
        let args = Args::of(&p, 1, 2)?;
        let request = CallRequest::parse(args.get(0).unwrap_or(&Value::Null))?;
        let epoch = estimate_epoch(&ctx, args.get(1))?;
        match execute(&ctx, &request, epoch, Mode::Call).await? {
            Outcome::Output(out) => Ok(json!(cfxlight_primitives::rpc::Bytes(out))),
            Outcome::Estimate(_) => Err(internal("a call produced an estimate")),
        }
    })?;
    Ok(())
}
