//! The execution methods, `cfx_call` and `cfx_estimateGasAndCollateral`, run as
//! conflux-rust's `exec_transaction` runs them (v3.0.2: the request's deserialization and
//! network checks, `sign_call`'s gas cap, `verify_transaction_common`, CIP-130, the
//! estimator's stand-in sender and the executive's pre-checks and balance errors, word for
//! word) over the sender's and recipient's accounts verified at the requested epoch.
//!
//! What the request runs, code or not, runs in [`crate::evm`]'s EVM with Core Space's rules,
//! and the answer is built as conflux-rust's estimator builds it: `GasMan`'s figure × 7/6
//! plus the intrinsic gas (at least the EIP-7623 floor and CIP-130's 100 per byte), the
//! sender's net storage collateral, the estimator's balance recheck with that collateral,
//! the storage-limit check, and its revert message with the innermost failed frame.
//! Sponsorship is the executive's and the estimator's: the contract's sponsors and the
//! sender's whitelisting read verified, the gas sponsor's bound and balance, and the
//! estimator's second pass with the contract owning what the run writes. What
//! cfxlight does not model is refused with -32000 naming it, never answered with a figure
//! that might be wrong: an internal contract's function other than the admin and sponsor
//! views, an epoch
//! past the chain's v2.4 block number or v3.0 height (their gas schedules), and whatever
//! the EVM's inspector stops.

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
/// Drips per storage collateral unit (1/1024 CFX; an entry's 64 units are 1/16 CFX).
const DRIPS_PER_COLLATERAL_UNIT: u64 = ONE_CFX / 1024;
/// Intrinsic gas of a call, of a creation, per zero and non-zero data byte, per access list
/// address and storage key (Core Space, conflux-rust's spec at v3.0).
const TX_GAS: u64 = 21_000;
const TX_CREATE_GAS: u64 = 53_000;
const TX_DATA_ZERO_GAS: u64 = 4;
const TX_DATA_NON_ZERO_GAS: u64 = 68;
/// Per non-zero data byte from the v3.0 height (CIP-645's EIP-2028).
const TX_DATA_NON_ZERO_GAS_V3: u64 = 16;
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
/// The estimator's words for an execution error (`e` is its `Debug`).
fn execution_failed_estimate(e: &str) -> ErrorObjectOwned {
    execution_error(
        format!(
            "Can not estimate: transaction execution failed, all gas will be charged (execution error: {e})"
        ),
        e,
    )
}

/// The executive's `NotEnoughCash` error, as its `Debug` prints it.
fn not_enough_cash_debug(required: U512, got: U256, actual: U256, storage: U256) -> String {
    format!(
        "NotEnoughCash {{ required: {required}, got: {got}, actual_gas_cost: {actual}, max_storage_limit_cost: {storage} }}"
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

/// Whether a call at `epoch` runs past the chain's v3.0 height, where CIP-645 (16 gas per
/// non-zero data byte, EIP-2929's cold and warm accounts, EIP-2200's storage gas) and
/// EIP-7623's floor apply to Core Space (`call_virtual` runs as the next epoch, so at the
/// epoch's height plus one).
pub(super) fn v3_active(ctx: &RpcContext, epoch: u64) -> bool {
    epoch.saturating_add(1) >= ctx.chain.v3_height
}

/// Intrinsic gas (conflux-rust's `gas_required_for` in Core Space) and the EIP-7623 floor
/// (the one its estimator counts whatever the height).
pub(super) fn intrinsic_gas(
    v3: bool,
    create: bool,
    data: &[u8],
    access_list: &[AccessListItem],
) -> (u64, u64) {
    let zeros = data.iter().filter(|b| **b == 0).count() as u64;
    let non_zeros = data.len() as u64 - zeros;
    let non_zero_gas = if v3 {
        TX_DATA_NON_ZERO_GAS_V3
    } else {
        TX_DATA_NON_ZERO_GAS
    };
    let base = if create { TX_CREATE_GAS } else { TX_GAS }
        + zeros * TX_DATA_ZERO_GAS
        + non_zeros * non_zero_gas
        + access_list
            .iter()
            .map(|i| ACCESS_LIST_ADDRESS_GAS + ACCESS_LIST_KEY_GAS * i.storage_keys.len() as u64)
            .sum::<u64>();
    let floor = TX_GAS + zeros * 10 + non_zeros * 40;
    (base, floor)
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

/// A contract's sponsors as the executive sees them for one sender.
struct Sponsorship {
    /// The contract's sponsor fields (from its verified account).
    info: cfxlight_primitives::account::SponsorInfo,
    /// Whether SponsorWhitelistControl whitelists the sender (or everyone) for it.
    whitelisted: bool,
}

/// The sponsors of `contract` and whether they serve `user`, at `epoch`: `None` when it has
/// neither. The whitelist is SponsorWhitelistControl's storage, `contract ‖ user` (or
/// `contract ‖ 0x0…0` for everyone), read verified.
async fn sponsorship(
    ctx: &RpcContext,
    epoch: u64,
    contract: H160,
    user: H160,
) -> Result<Option<Sponsorship>, ErrorObjectOwned> {
    let account = ctx
        .query
        .account(epoch, contract)
        .await
        .map_err(query_error)?;
    let Some(info) = account.map(|a| a.sponsor_info) else {
        return Ok(None);
    };
    if info.sponsor_for_gas.is_zero() && info.sponsor_for_collateral.is_zero() {
        return Ok(None);
    }
    let entries = ctx
        .query
        .state_entries(epoch, &crate::evm::whitelist_keys(contract, Some(user)))
        .await
        .map_err(query_error)?;
    Ok(Some(Sponsorship {
        whitelisted: crate::evm::whitelisted(&entries),
        info,
    }))
}

/// What a collateral sponsor can pay: its balance and its unused storage points.
fn collateral_sponsor_balance(s: &cfxlight_primitives::account::SponsorInfo) -> U256 {
    s.sponsor_balance_for_collateral.saturating_add(
        s.storage_points
            .as_ref()
            .map(|p| p.unused)
            .unwrap_or_default(),
    )
}

/// `cfx_sendTransaction`'s estimate of what its request leaves out (`gas`, `storageLimit`),
/// as conflux-rust's `prepare_transaction` makes it: the request itself, with the nonce it
/// was given, estimated at `latest_state`.
pub(super) async fn estimate_for_send(
    ctx: &RpcContext,
    request: &Value,
    nonce: U256,
) -> Result<(U256, u64), ErrorObjectOwned> {
    let mut r = CallRequest::parse(request)?;
    r.nonce = Some(nonce);
    let epoch = estimate_epoch(ctx, None)?;
    match execute(ctx, &r, epoch, Mode::Estimate).await? {
        Outcome::Estimate(gas, storage) => Ok((gas, storage)),
        Outcome::Output(_) => Err(internal("an estimate produced an output")),
    }
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

    fn not_enough_cash(
        self,
        required: U512,
        got: U256,
        actual: U256,
        storage: U256,
    ) -> ErrorObjectOwned {
        self.execution_failed(&not_enough_cash_debug(required, got, actual, storage))
    }

    /// An `ExecutionErrorBumpNonce` other than a revert (`e` is the error's `Debug`).
    fn execution_failed(self, e: &str) -> ErrorObjectOwned {
        match self {
            Mode::Estimate => execution_failed_estimate(e),
            Mode::Call => execution_error("Transaction execution failed", e),
        }
    }
}

/// How a request ended: an estimate, or a call's output.
enum Outcome {
    /// The estimated gas, and the storage collateral units.
    Estimate(U256, u64),
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
    let to = r.to.map(|(t, _)| t);
    let no_list = vec![];
    let list = r
        .access_list
        .as_ref()
        .filter(|_| r.tx_type() != 0)
        .unwrap_or(&no_list);
    let v3 = v3_active(ctx, epoch);
    let (base_gas, floor_gas) = intrinsic_gas(v3, to.is_none(), &r.data, list);
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
    if let Some(to) = to.filter(|t| AddressType::of(t) == AddressType::Unknown) {
        return Err(mode.cannot_execute(format!("invalid recipient address {to:?}")));
    }
    // Code to run (a deployment's init code, or the recipient's): in the EVM with Core
    // Space's schedule, unless it is native code, or the epoch's schedule is a later one,
    // or a sponsor could pay (none is modelled yet).
    let code = match to {
        Some(to) => runs_code(ctx, epoch, to).await?,
        None => Some("a deployment runs its init code".to_string()),
    };
    // The block environment, once per request (both estimator passes share it).
    let env = if code.is_some() {
        if v3 {
            return Err(no_evm(
                mode,
                format!(
                    "epoch {epoch} is past this chain's v3.0 height ({}), whose CIP-645 gas schedule cfxlight does not model yet",
                    ctx.chain.v3_height
                ),
            ));
        }
        let number = match next_block_number(ctx, epoch)? {
            None => {
                return Err(no_evm(
                    mode,
                    format!("the block numbers of epoch {epoch} are not known (this node started from a checkpoint), and Core Space's rules depend on them"),
                ))
            }
            Some(n) if n >= ctx.chain.v24_number => {
                return Err(no_evm(
                    mode,
                    format!(
                        "block {n} is past this chain's v2.4 number ({}), whose Cancun opcodes and SLOAD price cfxlight does not model yet",
                        ctx.chain.v24_number
                    ),
                ))
            }
            Some(n) => n,
        };
        Some(call_env(ctx, epoch, number)?)
    } else {
        None
    };
    // The EIP-7623 floor counts here only from the v3.0 height.
    let minimum = if v3 {
        base_gas.max(floor_gas)
    } else {
        base_gas
    };
    if gas < U256::from(minimum) {
        return Err(mode.cannot_execute(format!(
            "not enough gas limit with respected to tx size: expected {minimum} got {gas}"
        )));
    }
    let value = r.value.unwrap_or_default();
    // The sender: the one named, or a fresh account the estimator funds with 10^9 CFX
    // (at most 2^128 drips).
    let (balance, exists, state_nonce) = match r.from {
        Some((from, _)) => match ctx.query.account(epoch, from).await.map_err(query_error)? {
            Some(a) => (a.balance, true, a.nonce),
            None => (U256::zero(), false, U256::zero()),
        },
        None => {
            let grant = value
                .saturating_add(U256::from(1_000_000_000u64) * U256::from(ONE_CFX))
                .min(U256::one() << 128);
            (grant, true, U256::zero())
        }
    };
    // The estimator sets the sender's nonce to the request's, or takes the state's.
    let nonce = r.nonce.unwrap_or(state_nonce);
    let has_sender = r.from.is_some();
    // The estimator's stand-in sender: a fresh user address, funded.
    let from = match r.from {
        Some((f, _)) => f,
        None => {
            let mut a = H160(rand::random());
            a.0[0] = 0x10 | (a.0[0] & 0x0f);
            a
        }
    };
    // The executive's costs: gas is charged only when sender, limit and price are all
    // given; a whitelisted sender of a sponsored contract may have the sponsor pay it.
    let charge_gas = has_sender && r.gas.is_some() && r.has_gas_price();
    let gas_cost = if charge_gas {
        gas.full_mul(price)
    } else {
        U512::zero()
    };
    let sponsor = match to {
        Some(to) if code.is_some() => sponsorship(ctx, epoch, to, from).await?,
        _ => None,
    };
    let (gas_eligible, storage_eligible, gas_sponsored) = match &sponsor {
        Some(sp) if sp.whitelisted => {
            let eligible = gas_cost <= U512::from(sp.info.sponsor_gas_bound);
            (
                eligible,
                !sp.info.sponsor_for_collateral.is_zero(),
                eligible && U512::from(sp.info.sponsor_balance_for_gas) >= gas_cost,
            )
        }
        _ => (false, false, false),
    };
    let value512 = U512::from(value);
    let intended = value512 + if gas_eligible { U512::zero() } else { gas_cost };
    let total = value512
        + if gas_sponsored {
            U512::zero()
        } else {
            gas_cost
        };
    if !intended.is_zero() && !exists {
        return Err(mode.cannot_execute("SenderDoesNotExist"));
    }
    if U512::from(balance) < intended {
        let actual = U256::try_from(gas_cost.min(U512::from(balance))).unwrap_or(U256::MAX);
        return Err(mode.not_enough_cash(total, balance, actual, U256::zero()));
    }
    if U512::from(balance) < total {
        // The sponsor ran out between eligibility and payment.
        let sp = sponsor.as_ref().map(|s| &s.info);
        let gas_balance = sp
            .filter(|_| gas_eligible)
            .map(|s| s.sponsor_balance_for_gas)
            .unwrap_or_default();
        let storage_balance = sp
            .filter(|_| storage_eligible)
            .map(collateral_sponsor_balance)
            .unwrap_or_default();
        return Err(mode.cannot_execute(format!(
            "NotEnoughCashFromSponsor {{ required_gas_cost: {gas_cost}, gas_sponsor_balance: {gas_balance}, required_storage_cost: 0, storage_sponsor_balance: {storage_balance} }}"
        )));
    }
    let sender = Sender {
        from,
        balance,
        named: has_sender,
        nonce,
    };
    let run = Run {
        r,
        to,
        gas,
        access_list: list,
    };
    // The first pass, over the code if there is any, with the sender owning what it writes.
    let executed = match &env {
        None => crate::evm::Executed {
            outcome: crate::evm::Outcome::Success(vec![]),
            gas_estimate: 0,
            collateral_units: 0,
            errors: vec![],
        },
        Some(env) => run_code(ctx, &run, env, &sender, from).await?,
    };
    if let crate::evm::Outcome::Revert(out) = &executed.outcome {
        // A revert or failure ends the estimate: no balance recheck follows.
        return Err(match mode {
            Mode::Call => {
                execution_error("Transaction reverted", format!("0x{}", hex::encode(out)))
            }
            Mode::Estimate => estimate_reverted(ctx, out, &executed.errors),
        });
    }
    if let crate::evm::Outcome::Failed(f) = &executed.outcome {
        return Err(mode.execution_failed(&format!("VmError({})", f.debug())));
    }
    // The estimator's second pass, when a collateral sponsor could pay for this sender:
    // the contract owns what the run writes, if the sponsor's balance covers it.
    let collateral_sponsor = sponsor
        .as_ref()
        .filter(|sp| sp.whitelisted && !sp.info.sponsor_for_collateral.is_zero())
        .filter(|_| to.is_some_and(|t| AddressType::of(&t) == AddressType::Contract));
    let (executed, overwrite, storage_sponsored) = match (collateral_sponsor, to, &env) {
        (Some(sp), Some(contract), Some(env)) => {
            let second = run_code(ctx, &run, env, &sender, contract).await?;
            // `as_u64` in conflux-rust; a balance past 2^64 units cannot occur (total supply).
            let max_units = (collateral_sponsor_balance(&sp.info)
                / U256::from(DRIPS_PER_COLLATERAL_UNIT))
            .low_u64();
            let finished = matches!(second.outcome, crate::evm::Outcome::Success(_));
            if finished && max_units >= second.collateral_units {
                (second, None, true)
            } else {
                let units = executed.collateral_units.max(max_units.saturating_add(64));
                (executed, Some(units), false)
            }
        }
        _ => (executed, None, false),
    };
    let crate::evm::Outcome::Success(output) = executed.outcome else {
        return Err(internal("the chosen pass did not finish"));
    };
    // estimated_gas_limit: GasMan's figure × 7/6 plus the intrinsic gas, at least the
    // EIP-7623 floor and CIP-130's 100 per byte.
    let estimated = U256::from(
        (executed.gas_estimate as u128 * 7 / 6 + u128::from(base_gas))
            .max(u128::from(floor_gas))
            .max(r.data.len() as u128 * 100),
    );
    let storage_units = overwrite.unwrap_or(executed.collateral_units);
    // Who the estimator says paid: the gas sponsor only while it still covers the
    // estimated fee; the collateral sponsor when the second pass was taken (CIP-78).
    let mut gas_sponsor_paid = gas_sponsored;
    let gas_sponsor = sponsor
        .as_ref()
        .filter(|sp| sp.whitelisted && !sp.info.sponsor_for_gas.is_zero())
        .filter(|_| to.is_some_and(|t| AddressType::of(&t) == AddressType::Contract));
    if gas_sponsor.is_none() && gas_sponsor_paid && r.has_gas_price() {
        gas_sponsor_paid = false;
    }
    if !charge_gas && r.has_gas_price() && gas_sponsor_paid {
        if let Some(sp) = gas_sponsor {
            let fee = estimated.full_mul(price);
            if fee > U512::from(sp.info.sponsor_balance_for_gas)
                || fee > U512::from(sp.info.sponsor_gas_bound)
            {
                gas_sponsor_paid = false;
            }
        }
    }
    // The estimator's balance recheck for a named sender: value, the estimated fee when a
    // price is given and no sponsor pays it, and the collateral no sponsor pays.
    if has_sender {
        let fee = if r.has_gas_price() && !gas_sponsor_paid {
            estimated.saturating_mul(price)
        } else {
            U256::zero()
        };
        let collateral = if storage_sponsored {
            U256::zero()
        } else {
            U256::from(storage_units) * U256::from(DRIPS_PER_COLLATERAL_UNIT)
        };
        let needed = U512::from(value) + U512::from(fee) + U512::from(collateral);
        if U512::from(balance) < needed {
            return Err(mode.not_enough_cash(needed, balance, balance.min(fee), collateral));
        }
    }
    if let Some(limit) = r.storage_limit {
        if limit < storage_units {
            return Err(mode.execution_failed("VmError(ExceedStorageLimit)"));
        }
    }
    match mode {
        Mode::Estimate => Ok(Outcome::Estimate(estimated, storage_units)),
        Mode::Call => Ok(Outcome::Output(output)),
    }
}

/// The estimator's revert message: the reason, and the innermost failed frame.
fn estimate_reverted(
    ctx: &RpcContext,
    output: &[u8],
    errors: &[(H160, String)],
) -> ErrorObjectOwned {
    let reason = crate::evm::revert_reason(output);
    let reason = if reason.is_empty() {
        String::new()
    } else {
        format!(": {reason}")
    };
    let shown: Vec<String> = errors
        .iter()
        .map(|(a, e)| {
            // `RpcAddress::base32_address`: the verbose form.
            let a = cfxlight_primitives::address::CfxAddress::new(*a, ctx.chain.network_id);
            format!("{}: {e}", a.to_verbose())
        })
        .collect();
    let innermost = shown
        .first()
        .map(|e| format!(" Innermost error is at {e}."))
        .unwrap_or_default();
    execution_error(
        format!("Estimation isn't accurate: transaction is reverted{reason}{innermost}"),
        shown.join("\n"),
    )
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

/// The sender as the first pass sees it.
struct Sender {
    /// Its address (the stand-in's when unnamed).
    from: H160,
    /// Its balance (the stand-in's grant when unnamed).
    balance: U256,
    /// Whether the request named it.
    named: bool,
    /// Its nonce for the run.
    nonce: U256,
}

/// What one pass runs: the request, with its recipient, gas and access list.
struct Run<'a> {
    r: &'a CallRequest,
    to: Option<H160>,
    gas: U256,
    access_list: &'a [AccessListItem],
}

/// The block environment of a call at `epoch` whose next block gets `number`: the pivot
/// header's fields, as conflux-rust's `call_virtual` sets them.
fn call_env(
    ctx: &RpcContext,
    epoch: u64,
    number: u64,
) -> Result<crate::evm::CallEnv, ErrorObjectOwned> {
    let Some(header) = super::fees::pivot_header(ctx, epoch)? else {
        return Err(unsupported(format!(
            "the pivot header of epoch {epoch} is not in the store"
        )));
    };
    Ok(crate::evm::CallEnv {
        epoch,
        chain_id: ctx.chain.chain_id,
        timestamp: header.timestamp,
        author: header.author,
        base_price: header.base_price.map(|p| p.core).unwrap_or_default(),
        number,
        push0: number >= ctx.chain.push0_number,
        pivot_hash: header.hash(),
    })
}

/// Runs the request's code (the recipient's, or a deployment's init code when `to` is
/// `None`) in the EVM in `env`, with `storage_owner` owning what it writes.
async fn run_code(
    ctx: &RpcContext,
    run: &Run<'_>,
    env: &crate::evm::CallEnv,
    sender: &Sender,
    storage_owner: H160,
) -> Result<crate::evm::Executed, ErrorObjectOwned> {
    let Run {
        r,
        to,
        gas,
        access_list,
    } = *run;
    let input = crate::evm::CallInput {
        from: sender.from,
        storage_owner,
        to,
        value: r.value.unwrap_or_default(),
        data: r.data.clone(),
        access_list: access_list
            .iter()
            .map(|i| (i.address, i.storage_keys.len()))
            .collect(),
        gas: gas.low_u64(),
        sender_balance: (!sender.named).then_some(sender.balance),
        sender_nonce: match u64::try_from(sender.nonce) {
            Ok(n) => n,
            Err(_) => return Err(unsupported("the sender's nonce does not fit 64 bits")),
        },
    };
    crate::evm::call(ctx.query.clone(), env.clone(), input)
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
            "cfxlight cannot estimate this transaction: {what} (give `gas` and `storageLimit` yourself)"
        ),
        Mode::Call => format!("cfxlight cannot run this call faithfully: {what}"),
    };
    ErrorObjectOwned::owned(UNSUPPORTED, msg, None::<()>)
}

pub(super) fn register(m: &mut Module) -> Result<(), jsonrpsee::core::RegisterMethodError> {
    m.register_async_method("cfx_estimateGasAndCollateral", |p, ctx, _| async move {
        let args = Args::of(&p, 1, 2)?;
        let request = CallRequest::parse(args.get(0).unwrap_or(&Value::Null))?;
        let epoch = estimate_epoch(&ctx, args.get(1))?;
        match execute(&ctx, &request, epoch, Mode::Estimate).await? {
            Outcome::Estimate(gas, storage) => Ok(json!({
                "gasLimit": gas,
                "gasUsed": gas,
                "storageCollateralized": format!("{storage:#x}"),
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
            Outcome::Estimate(..) => Err(internal("a call produced an estimate")),
        }
    })?;
    Ok(())
}
