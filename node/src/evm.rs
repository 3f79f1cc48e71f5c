//! Contract calls over verified state: revm runs Core Space code whose every account, code
//! and storage read is a state entry verified at one epoch's state root (through
//! [`Query`], cached by root and key), in the environment conflux-rust's `call_virtual`
//! gives a call (timestamp and author of the epoch's pivot header, the number of the
//! epoch's next block, difficulty 0, the call's gas as the block gas limit, the core base
//! price, the chain id), and precompile 1 answers as Conflux's does (the recovered address
//! with the user type bits).
//!
//! Only what is known to behave as on Conflux is run. A [`Guard`] stops the call, and the
//! caller refuses it, on anything whose Conflux rules differ from Ethereum's or are not
//! modelled yet: storage writes (collateral), contract creation and self-destruction,
//! `BLOCKHASH` (CIP-133 hashes), `NUMBER` where block numbers are unknown, blob and
//! transient-storage opcodes, `GAS` used other than as a call's gas argument (the gas
//! schedules differ), internal contracts (native code at `0x0888…`) and precompiles
//! above 9, and any out-of-gas halt (under Ethereum's schedule it proves nothing about
//! Conflux's). What remains, view functions reading verified storage, computes the same
//! bytes on both.

use std::{collections::HashMap, sync::Arc};

use cfxlight_primitives::{
    account::Account, address::AddressType, hash::KECCAK_EMPTY, storage_key::StorageKey, H160, U256,
};
use revm::{
    bytecode::Bytecode,
    context::{BlockEnv, CfgEnv, Context, TxEnv},
    context_interface::result::{ExecutionResult, Output},
    database_interface::DBErrorMarker,
    interpreter::{
        interpreter_types::{Jumps, LegacyBytecode},
        CallInputs, CallOutcome, CreateInputs, CreateOutcome, Interpreter,
    },
    primitives::{hardfork::SpecId, Address, Bytes, TxKind, B256, U256 as RU256},
    state::AccountInfo,
    Database, InspectEvm, Inspector, MainBuilder, MainContext,
};
use rlp::Rlp;

use crate::query::{Query, QueryError};

/// The block environment of a call at one epoch.
#[derive(Debug, Clone)]
pub struct CallEnv {
    /// The epoch whose verified state is read.
    pub epoch: u64,
    /// Core Space chain id (`CHAINID`).
    pub chain_id: u32,
    /// The pivot header's timestamp (`TIMESTAMP`).
    pub timestamp: u64,
    /// The pivot header's author (`COINBASE`).
    pub author: H160,
    /// The pivot header's core base price (`BASEFEE`).
    pub base_price: U256,
    /// `NUMBER`: the number the epoch's next block gets (its first block's number plus its
    /// block count), as conflux-rust's `call_virtual` sets it; `None` where the store does
    /// not know block numbers (a checkpoint start), and then `NUMBER` is refused.
    pub number: Option<u64>,
}

/// One call: who, to what, with what.
#[derive(Debug, Clone)]
pub struct CallInput {
    /// The sender (`CALLER`, `ORIGIN`).
    pub from: H160,
    /// The contract called.
    pub to: H160,
    /// Value sent.
    pub value: U256,
    /// Call data.
    pub data: Vec<u8>,
    /// Gas the call may use (also `GASLIMIT`, as conflux-rust sets it).
    pub gas: u64,
    /// A balance to see for the sender instead of its verified one (the estimator's funded
    /// stand-in sender when a request names none).
    pub sender_balance: Option<U256>,
}

/// How a faithful call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallResult {
    /// Returned these bytes.
    Success(Vec<u8>),
    /// Reverted with these bytes.
    Revert(Vec<u8>),
}

/// Why a call has no faithful answer.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The call reached something whose Conflux behaviour cfxlight does not reproduce.
    #[error("cfxlight cannot run this call faithfully: {0}")]
    Unfaithful(String),
    /// A verified read failed.
    #[error(transparent)]
    Query(#[from] QueryError),
    /// The execution task or the EVM itself failed.
    #[error("execution failed: {0}")]
    Internal(String),
}

/// A verified read failure, carried through revm's database interface.
#[derive(Debug, thiserror::Error)]
enum DbError {
    #[error(transparent)]
    Query(#[from] QueryError),
    #[error("{0}")]
    Unfaithful(String),
    #[error("{0}")]
    Decode(String),
}

impl DBErrorMarker for DbError {}

/// revm's database: verified state entries at one epoch, fetched on demand from the async
/// query layer (this runs on a blocking thread, so it may wait on the runtime).
struct VerifiedDb {
    query: Arc<Query>,
    epoch: u64,
    handle: tokio::runtime::Handle,
    balances: HashMap<H160, U256>,
    codes: HashMap<B256, Bytecode>,
}

fn h160(a: Address) -> H160 {
    H160(a.into_array())
}

fn addr(a: H160) -> Address {
    Address::from(a.0)
}

fn ru256(v: U256) -> RU256 {
    RU256::from_be_bytes(v.to_big_endian())
}

impl VerifiedDb {
    fn entries(&self, keys: &[StorageKey]) -> Result<Vec<Option<Vec<u8>>>, DbError> {
        Ok(self
            .handle
            .block_on(self.query.state_entries(self.epoch, keys))?)
    }
}

impl Database for VerifiedDb {
    type Error = DbError;

    fn basic(&mut self, address: Address) -> Result<Option<AccountInfo>, DbError> {
        let a = h160(address);
        let raw = self.entries(&[StorageKey::Account(a)])?.pop().flatten();
        let account = raw
            .map(|r| Account::decode_value(&r))
            .transpose()
            .map_err(|e| DbError::Decode(format!("verified account of {a:?}: {e}")))?;
        let override_balance = self.balances.get(&a).copied();
        let Some(account) = account else {
            return Ok(override_balance.map(|b| AccountInfo {
                balance: ru256(b),
                ..AccountInfo::default()
            }));
        };
        if account.nonce.bits() > 64 {
            return Err(DbError::Unfaithful(format!(
                "the nonce of {a:?} does not fit revm's 64 bits"
            )));
        }
        let code_hash = B256::from(account.code_hash.0);
        let code = if account.code_hash == KECCAK_EMPTY {
            Bytecode::default()
        } else {
            let key = StorageKey::Code {
                address: a,
                code_hash: account.code_hash,
            };
            let raw = self.entries(&[key])?.pop().flatten().unwrap_or_default();
            // CodeInfo `[code, owner]`.
            let code: Vec<u8> = Rlp::new(&raw)
                .val_at(0)
                .map_err(|e| DbError::Decode(format!("verified code of {a:?}: {e}")))?;
            if cfxlight_primitives::hash::keccak256(&code) != account.code_hash {
                return Err(DbError::Decode(format!(
                    "the verified code of {a:?} does not hash to its code hash"
                )));
            }
            Bytecode::new_raw(Bytes::from(code))
        };
        self.codes.insert(code_hash, code.clone());
        Ok(Some(AccountInfo {
            balance: ru256(override_balance.unwrap_or(account.balance)),
            nonce: account.nonce.as_u64(),
            code_hash,
            code: Some(code),
            ..AccountInfo::default()
        }))
    }

    fn code_by_hash(&mut self, code_hash: B256) -> Result<Bytecode, DbError> {
        // Every code hash revm sees came from `basic`, which loaded the code with it.
        self.codes
            .get(&code_hash)
            .cloned()
            .ok_or_else(|| DbError::Unfaithful(format!("code {code_hash} asked for by hash alone")))
    }

    fn storage(&mut self, address: Address, index: RU256) -> Result<RU256, DbError> {
        let key = StorageKey::Storage {
            address: h160(address),
            key: index.to_be_bytes::<32>().to_vec(),
        };
        let Some(raw) = self.entries(&[key])?.pop().flatten() else {
            return Ok(RU256::ZERO);
        };
        // A bare integer, or `[value, owner]` once the slot has an owner.
        let r = Rlp::new(&raw);
        let v: U256 = if r.is_list() { r.val_at(0) } else { r.as_val() }
            .map_err(|e| DbError::Decode(format!("verified storage value: {e}")))?;
        Ok(ru256(v))
    }

    fn block_hash(&mut self, number: u64) -> Result<B256, DbError> {
        Err(DbError::Unfaithful(format!(
            "BLOCKHASH({number}) (Conflux keeps block hashes by CIP-133 rules cfxlight does not model yet)"
        )))
    }
}

/// The highest precompile address Core Space shares with Ethereum (ecrecover … blake2f).
const LAST_SHARED_PRECOMPILE: u8 = 9;

/// Watches every step and call, and notes the first thing Conflux would do differently.
#[derive(Default)]
struct Guard {
    unfaithful: Option<String>,
    /// Whether `NUMBER` has its Conflux value in the block environment.
    number_known: bool,
}

impl Guard {
    fn refuse(&mut self, interp: &mut Interpreter, why: String) {
        if self.unfaithful.is_none() {
            self.unfaithful = Some(why);
        }
        // Any halt that is not a fatal one (those abort revm); the result is thrown away.
        interp.halt(revm::interpreter::InstructionResult::OpcodeNotFound);
    }
}

/// Conflux's `ecrecover` (precompile 1): Ethereum's, with the recovered address given
/// Conflux's user-account type bits (`0x1…`), as conflux-rust's builtin returns it.
/// `None` for an input Ethereum's would answer with empty output (bad `v`, `r`, `s`).
fn conflux_ecrecover(input: &[u8]) -> Option<[u8; 32]> {
    let mut buf = [0u8; 128];
    let n = input.len().min(128);
    buf[..n].copy_from_slice(&input[..n]);
    let v = &buf[32..64];
    if v[..31].iter().any(|b| *b != 0) || !(27..=28).contains(&v[31]) {
        return None;
    }
    let sig = cfxlight_primitives::crypto::Signature {
        v: v[31] - 27,
        r: U256::from_big_endian(&buf[64..96]),
        s: U256::from_big_endian(&buf[96..128]),
    };
    let hash = cfxlight_primitives::H256::from_slice(&buf[..32]);
    let public = cfxlight_primitives::crypto::recover(&hash, &sig).ok()?;
    let address = cfxlight_primitives::crypto::public_to_address(&public);
    let mut out = [0u8; 32];
    out[12..].copy_from_slice(address.as_bytes());
    Some(out)
}

/// The gas of precompile 1 (the same on Conflux and Ethereum).
const ECRECOVER_GAS: u64 = 3_000;

impl<CTX: revm::context_interface::ContextTr> Inspector<CTX> for Guard {
    fn step(&mut self, interp: &mut Interpreter, _: &mut CTX) {
        let op = interp.bytecode.opcode();
        let name = match op {
            0x40 => "BLOCKHASH (Conflux's CIP-133 block hashes are not modelled yet)",
            0x43 if self.number_known => return,
            0x43 => {
                "NUMBER (block numbers are not known since the checkpoint this node started from)"
            }
            0x49 | 0x4a => "a blob opcode (no blobs in Core Space)",
            0x55 => "SSTORE (Conflux charges storage collateral, not modelled yet)",
            0x5c | 0x5d => "TLOAD/TSTORE (transient storage is not modelled yet)",
            0x5e => "MCOPY (not checked against Core Space yet)",
            0x5f => "PUSH0 (not checked against Core Space yet)",
            0xf0 | 0xf5 => {
                "CREATE/CREATE2 (Conflux's contract addresses and collateral are not modelled yet)"
            }
            0xff => "SELFDESTRUCT (Conflux's rules differ)",
            0x5a => {
                // Solidity passes `gas()` straight to a call: the callee's gas then differs
                // between the schedules but the outcome does not, unless it runs out.
                let next = interp
                    .bytecode
                    .bytecode_slice()
                    .get(interp.bytecode.pc() + 1)
                    .copied();
                if matches!(next, Some(0xf1 | 0xf2 | 0xf4 | 0xfa)) {
                    return;
                }
                "GAS used as a value (Conflux's gas schedule differs from Ethereum's)"
            }
            _ => return,
        };
        self.refuse(interp, format!("the code executes {name}"));
    }

    fn call(&mut self, ctx: &mut CTX, inputs: &mut CallInputs) -> Option<CallOutcome> {
        let target = h160(inputs.bytecode_address);
        if target == H160::from_low_u64_be(1) {
            let mut gas = revm::interpreter::Gas::new(inputs.gas_limit);
            if !gas.record_regular_cost(ECRECOVER_GAS) {
                self.unfaithful
                    .get_or_insert_with(|| "ecrecover ran out of gas".into());
                return None;
            }
            let output = conflux_ecrecover(&inputs.input.bytes(ctx))
                .map(|o| Bytes::from(o.to_vec()))
                .unwrap_or_default();
            return Some(CallOutcome::new(
                revm::interpreter::InterpreterResult::new(
                    revm::interpreter::InstructionResult::Return,
                    output,
                    gas,
                ),
                inputs.return_memory_offset.clone(),
            ));
        }
        if AddressType::of(&target) == AddressType::Builtin {
            let precompile = target.0[..19].iter().all(|b| *b == 0)
                && (1..=LAST_SHARED_PRECOMPILE).contains(&target.0[19]);
            if !precompile && self.unfaithful.is_none() {
                self.unfaithful = Some(format!(
                    "the code calls {target:?}, an internal contract (native code cfxlight does not run yet)"
                ));
            }
        }
        None
    }

    fn create(&mut self, _: &mut CTX, _: &mut CreateInputs) -> Option<CreateOutcome> {
        if self.unfaithful.is_none() {
            self.unfaithful = Some("the code creates a contract".into());
        }
        None
    }
}

/// Runs one call at `env.epoch` over verified state. Blocks a thread of the blocking pool,
/// not the async workers, while reads wait on peers.
pub async fn call(
    query: Arc<Query>,
    env: CallEnv,
    input: CallInput,
) -> Result<CallResult, CallError> {
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || run(query, handle, env, input))
        .await
        .map_err(|e| CallError::Internal(format!("call task: {e}")))?
}

fn run(
    query: Arc<Query>,
    handle: tokio::runtime::Handle,
    env: CallEnv,
    input: CallInput,
) -> Result<CallResult, CallError> {
    let mut balances = HashMap::new();
    if let Some(b) = input.sender_balance {
        balances.insert(input.from, b);
    }
    let db = VerifiedDb {
        query,
        epoch: env.epoch,
        handle,
        balances,
        codes: HashMap::new(),
    };
    let mut cfg = CfgEnv::new_with_spec(SpecId::CANCUN);
    cfg.chain_id = u64::from(env.chain_id);
    // The node checked nonce, balance and fees by Conflux's rules already; revm only runs
    // the code, so it neither charges nor checks them again.
    cfg.disable_nonce_check = true;
    cfg.disable_balance_check = true;
    cfg.disable_base_fee = true;
    cfg.disable_fee_charge = true;
    cfg.disable_block_gas_limit = true;
    cfg.tx_gas_limit_cap = Some(u64::MAX);
    let block = BlockEnv {
        number: RU256::from(env.number.unwrap_or(0)),
        beneficiary: addr(env.author),
        timestamp: RU256::from(env.timestamp),
        gas_limit: input.gas,
        basefee: u64::try_from(env.base_price).unwrap_or(u64::MAX),
        difficulty: RU256::ZERO,
        prevrandao: Some(B256::ZERO),
        ..BlockEnv::default()
    };
    let tx = TxEnv::builder()
        .caller(addr(input.from))
        .kind(TxKind::Call(addr(input.to)))
        .value(ru256(input.value))
        .data(Bytes::from(input.data))
        .gas_limit(input.gas)
        .gas_price(0)
        .chain_id(Some(u64::from(env.chain_id)))
        .build()
        .map_err(|e| CallError::Internal(format!("{e:?}")))?;
    let mut evm = Context::mainnet()
        .with_db(db)
        .with_cfg(cfg)
        .with_block(block)
        .build_mainnet_with_inspector(Guard {
            unfaithful: None,
            number_known: env.number.is_some(),
        });
    let outcome = evm.inspect_one_tx(tx);
    if let Some(why) = evm.inspector.unfaithful.take() {
        return Err(CallError::Unfaithful(why));
    }
    let outcome = outcome.map_err(|e| match e {
        revm::context_interface::result::EVMError::Database(DbError::Query(q)) => {
            CallError::Query(q)
        }
        revm::context_interface::result::EVMError::Database(DbError::Unfaithful(w)) => {
            CallError::Unfaithful(w)
        }
        other => CallError::Internal(format!("{other:?}")),
    })?;
    match outcome {
        ExecutionResult::Success { output, .. } => Ok(CallResult::Success(match output {
            Output::Call(b) => b.to_vec(),
            Output::Create(b, _) => b.to_vec(),
        })),
        ExecutionResult::Revert { output, .. } => Ok(CallResult::Revert(output.to_vec())),
        ExecutionResult::Halt { reason, .. } => Err(CallError::Unfaithful(format!(
            "the call halted ({reason:?}) under Ethereum's gas schedule, which is not Conflux's"
        ))),
    }
}
