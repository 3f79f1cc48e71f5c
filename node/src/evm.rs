//! Contract execution over verified state: revm runs Core Space code whose every account,
//! code and storage read is a state entry verified at one epoch's state root (through
//! [`Query`], cached by root and key), in the environment conflux-rust's `call_virtual`
//! gives a call (timestamp and author of the epoch's pivot header, the number of the
//! epoch's next block, difficulty 0, the call's gas as the block gas limit, the core base
//! price, the chain id, and `BLOCKHASH` of the previous number answering the pivot hash).
//!
//! revm is configured with Core Space's rules before v2.4 (conflux-rust v3.0.2's `Spec`
//! with `cancun_opcodes` and CIP-645 off, as on a dev chain, whose v2.4 and v3.0 points are
//! mainnet's, and on mainnet and testnet before their v2.4 block numbers; the RPC refuses
//! later epochs): the static gas of each opcode (`SLOAD` 200, `BALANCE` 400, `EXTCODEHASH`
//! 400, the calls 700, no warm/cold accounting; the dev node's gas shows the same), `SSTORE`
//! at a flat 5,000 with no refunds, Core Space's intrinsic gas (68 per non-zero data byte),
//! the precompiles 2–9 at their Byzantium prices plus blake2f, and precompile 1 answering
//! as Conflux's does (the recovered address with the user type bits).
//!
//! Beside revm, one inspector keeps what Conflux adds to Ethereum's execution:
//! - contract addresses: `CREATE` and `CREATE2` (and a deployment) get Core Space's
//!   addresses, made from the code hash, with the contract type bits;
//! - storage collateral: every storage write releases the old owner's 64 units and charges
//!   the transaction's storage owner 64 for a non-zero value, and deployed code 512 units
//!   per KiB begun, frame by frame (a reverted frame's records go with it); the owner's net
//!   charge is `storageCollateralized`;
//! - conflux-rust's estimator (`GasMan`): per frame, the gas it used itself plus 64/63 of
//!   what its sub-calls needed, which the RPC turns into `gasUsed`/`gasLimit`;
//! - the estimator's error unwind (which frame failed, with what), for its revert message.
//!
//! Only what is known to behave as on Conflux is run. The inspector stops the call, and
//! the caller refuses it with the reason, on what is not modelled yet: self-destruction, a
//! creation onto an address with code, `PUSH0` before CIP-119, blob opcodes, transient
//! storage and `MCOPY` (Cancun opcodes come with v2.4), internal contracts (native code at
//! `0x0888…`) other than the views in [`INTERNAL_VIEWS`] (AdminControl's admin,
//! SponsorWhitelistControl's sponsors and whitelist, Staking's balances and vote power,
//! Context's epoch number, PoSRegister's registrations: run here at conflux-rust's price
//! over the verified account or storage), precompiles above 9, and halts whose Conflux
//! wording is not reproduced. A run starts on the RPC task from the entries at hand and
//! moves to a blocking thread (a few at once) when it needs a peer or runs long.

use std::{
    cell::RefCell,
    collections::HashMap,
    rc::Rc,
    sync::{Arc, OnceLock},
};

use cfxlight_primitives::{
    account::Account, address::AddressType, hash::KECCAK_EMPTY, storage_key::StorageKey, H160, U256,
};
use revm::{
    bytecode::Bytecode,
    context::{BlockEnv, CfgEnv, Context, TxEnv},
    context_interface::{
        cfg::{GasId, GasParams},
        result::{ExecutionResult, HaltReason, Output},
        ContextTr, JournalTr,
    },
    database_interface::DBErrorMarker,
    handler::{instructions::EthInstructions, EthPrecompiles},
    interpreter::{
        instructions::{gas_table_spec, instruction_table, GasTable},
        interpreter_types::{Jumps, RuntimeFlag},
        CallInputs, CallOutcome, CreateInputs, CreateOutcome, InstructionResult, Interpreter,
    },
    precompile::Precompiles,
    primitives::{hardfork::SpecId, Address, Bytes, TxKind, B256, U256 as RU256},
    state::AccountInfo,
    Database, InspectEvm, Inspector, MainBuilder, MainContext,
};
use rlp::Rlp;

use crate::query::{Query, QueryError};

/// Collateral units one storage entry takes (conflux-rust `COLLATERAL_UNITS_PER_STORAGE_KEY`:
/// 64 units of 1/1024 CFX, so 1/16 CFX).
pub const UNITS_PER_STORAGE_ENTRY: u64 = 64;
/// Collateral units per KiB (begun) of deployed code (`CODE_COLLATERAL_UNITS_PER_KI_BYTES`).
pub const CODE_UNITS_PER_KIB: u64 = 512;

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
    /// block count), as conflux-rust's `call_virtual` sets it, and the number its rules are
    /// chosen by.
    pub number: u64,
    /// Whether PUSH0 (CIP-119) is active at `number`; before it Conflux rejects the opcode.
    pub push0: bool,
    /// The epoch's pivot block hash: before CIP-133 (v2.4), `BLOCKHASH(number - 1)` answers
    /// it (conflux-rust's `last_hash`) and every other number zero.
    pub pivot_hash: cfxlight_primitives::H256,
}

/// One call: who, to what, with what.
#[derive(Debug, Clone)]
pub struct CallInput {
    /// The sender (`CALLER`, `ORIGIN`).
    pub from: H160,
    /// Who owns the storage the run writes and pays its collateral: the sender, or the
    /// contract called when its collateral sponsor pays (the estimator's second pass).
    pub storage_owner: H160,
    /// The contract called, or `None` for a deployment (`data` is then the init code).
    pub to: Option<H160>,
    /// Value sent.
    pub value: U256,
    /// Call data.
    pub data: Vec<u8>,
    /// Access list `(address, storage keys)`, counted in the intrinsic gas.
    pub access_list: Vec<(H160, usize)>,
    /// Gas the transaction has, intrinsic gas included (also `GASLIMIT`, as conflux-rust
    /// sets it).
    pub gas: u64,
    /// A balance to see for the sender instead of its verified one (the estimator's funded
    /// stand-in sender when a request names none).
    pub sender_balance: Option<U256>,
    /// The sender's nonce for the run (the request's, or its verified one): what a
    /// deployment's address is made from.
    pub sender_nonce: u64,
}

/// A Conflux VM error that ended a frame, with conflux-rust's words for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VmFailure {
    /// `OutOfGas`.
    OutOfGas,
    /// `BadInstruction` (the designated invalid opcode `0xfe`).
    BadInstruction(u8),
    /// `MutableCallInStaticContext`.
    MutableCallInStaticContext,
}

impl VmFailure {
    /// conflux-rust's `Debug` of the error (`VmError(…)` in RPC error data).
    pub fn debug(self) -> String {
        match self {
            VmFailure::OutOfGas => "OutOfGas".into(),
            VmFailure::BadInstruction(i) => format!("BadInstruction {{ instruction: {i} }}"),
            VmFailure::MutableCallInStaticContext => "MutableCallInStaticContext".into(),
        }
    }

    /// conflux-rust's `Display` of the error (a failed frame's trace output).
    pub fn display(self) -> String {
        match self {
            VmFailure::OutOfGas => "Out of gas".into(),
            VmFailure::BadInstruction(i) => format!("Bad instruction {i:x}"),
            VmFailure::MutableCallInStaticContext => "Mutable call in static context".into(),
        }
    }

    fn of(result: InstructionResult) -> Option<VmFailure> {
        use InstructionResult as R;
        Some(match result {
            R::OutOfGas
            | R::MemoryOOG
            | R::MemoryLimitOOG
            | R::PrecompileOOG
            | R::InvalidOperandOOG
            | R::ReentrancySentryOOG
            // Core Space fails code past its 49,152-byte limit as out of gas.
            | R::CreateContractSizeLimit => VmFailure::OutOfGas,
            R::InvalidFEOpcode => VmFailure::BadInstruction(0xfe),
            R::StateChangeDuringStaticCall | R::CallNotAllowedInsideStatic => {
                VmFailure::MutableCallInStaticContext
            }
            _ => return None,
        })
    }
}

/// How a faithful run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Returned these bytes.
    Success(Vec<u8>),
    /// Reverted with these bytes.
    Revert(Vec<u8>),
    /// The top frame failed with this error.
    Failed(VmFailure),
}

/// A faithful run: its outcome and the figures conflux-rust's estimator takes from it.
#[derive(Debug, Clone)]
pub struct Executed {
    /// How the top frame ended.
    pub outcome: Outcome,
    /// conflux-rust's `GasLimitEstimation`: the gas the top frame needs for the same run.
    pub gas_estimate: u64,
    /// The storage collateral units charged to the sender, net of what it got back (0 on
    /// a revert or failure).
    pub collateral_units: u64,
    /// The estimator's error unwind: the failed frames `(code address, message)`, innermost
    /// first.
    pub errors: Vec<(H160, String)>,
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
    /// A run from what is at hand reached an entry that is not (internal: the call is
    /// repeated with peers asked).
    #[error("a verified entry is not at hand")]
    Miss,
}

/// A verified read failure, carried through revm's database interface.
#[derive(Debug, thiserror::Error)]
enum DbError {
    #[error(transparent)]
    Query(#[from] QueryError),
    /// A fast run reached an entry not at hand (the run is repeated with peers asked).
    #[error("an entry not at hand")]
    Miss,
    #[error("{0}")]
    Unfaithful(String),
    #[error("{0}")]
    Decode(String),
}

impl DBErrorMarker for DbError {}

/// Owners of the storage entries read from the verified state, by `(contract, key)`:
/// `Some` for a non-zero value (a bare value belongs to the contract itself), `None` for
/// an empty slot.
type Owners = Rc<RefCell<HashMap<(H160, RU256), Option<H160>>>>;

/// Reads verified state entries at one epoch: from what is at hand only (a fast run on the
/// async worker, which must not wait), or from peers too (on a blocking thread, which may
/// wait on the runtime).
#[derive(Clone)]
struct Reader {
    query: Arc<Query>,
    epoch: u64,
    /// `None`: what is at hand only.
    handle: Option<tokio::runtime::Handle>,
}

impl Reader {
    fn entries(&self, keys: &[StorageKey]) -> Result<Vec<Option<Vec<u8>>>, DbError> {
        match &self.handle {
            Some(h) => Ok(h.block_on(self.query.state_entries(self.epoch, keys))?),
            None => self
                .query
                .cached_state_entries(self.epoch, keys)?
                .ok_or(DbError::Miss),
        }
    }

    fn account(&self, address: H160) -> Result<Option<Account>, DbError> {
        let raw = self
            .entries(&[StorageKey::Account(address)])?
            .pop()
            .flatten();
        raw.map(|r| Account::decode_value(&r))
            .transpose()
            .map_err(|e| DbError::Decode(format!("verified account of {address:?}: {e}")))
    }
}

/// A storage entry as Conflux keeps it: a bare value (owned by the contract itself), or
/// `[value, owner]`.
fn storage_entry(raw: &[u8]) -> Result<(U256, Option<H160>), rlp::DecoderError> {
    let r = Rlp::new(raw);
    if r.is_list() {
        Ok((r.val_at(0)?, Some(r.val_at(1)?)))
    } else {
        Ok((r.as_val()?, None))
    }
}

/// SponsorWhitelistControl's whitelist entries for `contract`: everyone (`contract ‖
/// 0x0…0`), then `user` (`contract ‖ user`) when one is asked about.
pub(crate) fn whitelist_keys(contract: H160, user: Option<H160>) -> Vec<StorageKey> {
    std::iter::once(H160::zero())
        .chain(user)
        .map(|who| StorageKey::Storage {
            address: H160(SPONSOR_CONTROL),
            key: [contract.as_bytes(), who.as_bytes()].concat(),
        })
        .collect()
}

/// Whether any of the [`whitelist_keys`] entries is set (non-zero).
pub(crate) fn whitelisted(entries: &[Option<Vec<u8>>]) -> bool {
    entries
        .iter()
        .flatten()
        .any(|raw| storage_entry(raw).is_ok_and(|(v, _)| !v.is_zero()))
}

/// A call's result as revm takes it from an inspector: how it ended, its output, its gas.
fn outcome(
    result: InstructionResult,
    output: Bytes,
    gas: revm::interpreter::Gas,
    inputs: &CallInputs,
) -> CallOutcome {
    CallOutcome::new(
        revm::interpreter::InterpreterResult::new(result, output, gas),
        inputs.return_memory_offset.clone(),
    )
}

/// revm's database: verified state entries at one epoch, through a [`Reader`].
struct VerifiedDb {
    reader: Reader,
    balances: HashMap<H160, U256>,
    nonces: HashMap<H160, u64>,
    codes: HashMap<B256, Bytecode>,
    owners: Owners,
    /// `NUMBER` and the hash `BLOCKHASH(NUMBER - 1)` answers.
    number: u64,
    last_hash: B256,
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
        self.reader.entries(keys)
    }
}

impl Database for VerifiedDb {
    type Error = DbError;

    fn basic(&mut self, address: Address) -> Result<Option<AccountInfo>, DbError> {
        let a = h160(address);
        let account = self.reader.account(a)?;
        let override_balance = self.balances.get(&a).copied();
        let override_nonce = self.nonces.get(&a).copied();
        let Some(account) = account else {
            if override_balance.is_none() && override_nonce.is_none() {
                return Ok(None);
            }
            return Ok(Some(AccountInfo {
                balance: ru256(override_balance.unwrap_or_default()),
                nonce: override_nonce.unwrap_or(0),
                ..AccountInfo::default()
            }));
        };
        if account.nonce.bits() > 64 {
            return Err(DbError::Unfaithful(format!(
                "the nonce of {a:?} does not fit revm's 64 bits"
            )));
        }
        let code_hash = B256::from(account.code_hash.0);
        let cached = verified_code(&code_hash);
        let code = if account.code_hash == KECCAK_EMPTY {
            Bytecode::default()
        } else if let Some(code) = cached {
            code
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
            let code = Bytecode::new_raw(Bytes::from(code));
            keep_verified_code(code_hash, &code);
            code
        };
        self.codes.insert(code_hash, code.clone());
        Ok(Some(AccountInfo {
            balance: ru256(override_balance.unwrap_or(account.balance)),
            nonce: override_nonce.unwrap_or(account.nonce.as_u64()),
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
        let a = h160(address);
        let key = StorageKey::Storage {
            address: a,
            key: index.to_be_bytes::<32>().to_vec(),
        };
        let raw = self.entries(&[key])?.pop().flatten();
        let (value, owner) = match raw {
            None => (U256::zero(), None),
            Some(raw) => storage_entry(&raw)
                .map_err(|e| DbError::Decode(format!("verified storage value: {e}")))?,
        };
        // A bare value belongs to the contract itself; an empty slot to no one.
        let owner = if value.is_zero() {
            None
        } else {
            owner.or(Some(a))
        };
        self.owners.borrow_mut().insert((a, index), owner);
        Ok(ru256(value))
    }

    fn block_hash(&mut self, number: u64) -> Result<B256, DbError> {
        // conflux-rust's `blockhash_from_env`: only the previous block's is kept.
        Ok(if number.checked_add(1) == Some(self.number) {
            self.last_hash
        } else {
            B256::ZERO
        })
    }
}

/// Verified code by its hash (it hashed to the code hash of a verified account, so it is
/// that code in any state), analysed once: a warm call neither reads nor hashes it again.
/// Bounded by bytes; emptied when full.
fn code_cache() -> &'static std::sync::Mutex<(HashMap<B256, Bytecode>, usize)> {
    static C: OnceLock<std::sync::Mutex<(HashMap<B256, Bytecode>, usize)>> = OnceLock::new();
    C.get_or_init(Default::default)
}

/// Bytes of code [`code_cache`] keeps.
const CODE_CACHE_BYTES: usize = 4 << 20;

fn verified_code(hash: &B256) -> Option<Bytecode> {
    code_cache().lock().ok()?.0.get(hash).cloned()
}

fn keep_verified_code(hash: B256, code: &Bytecode) {
    if let Ok(mut c) = code_cache().lock() {
        let len = code.len();
        if c.1.saturating_add(len) > CODE_CACHE_BYTES {
            *c = Default::default();
        }
        if c.0.insert(hash, code.clone()).is_none() {
            c.1 = c.1.saturating_add(len);
        }
    }
}

/// Core Space's static opcode gas before v2.4 (conflux-rust `Spec::genesis_spec`: `SLOAD`
/// 200 until `cancun_opcodes` makes it 800), with no warm/cold accounting.
fn conflux_gas_table() -> GasTable {
    use revm::bytecode::opcode::*;
    let mut t = gas_table_spec(SpecId::CANCUN);
    t[SLOAD as usize] = 200;
    t[BALANCE as usize] = 400;
    t[EXTCODESIZE as usize] = 700;
    t[EXTCODECOPY as usize] = 700;
    t[EXTCODEHASH as usize] = 400;
    for op in [CALL, CALLCODE, DELEGATECALL, STATICCALL] {
        t[op as usize] = 700;
    }
    t[SELFDESTRUCT as usize] = 5_000;
    t
}

/// Core Space's dynamic gas before v2.4: `SSTORE` a flat 5,000 whatever the values (the
/// storage itself is paid by collateral), no refunds, no cold surcharges, and its intrinsic
/// gas (21,000, 4 per zero and 68 per non-zero byte, 53,000 for a creation, 2,400 and
/// 1,900 per access-list address and key, no initcode or floor charge), and `CREATE`'s 6
/// gas per init code word.
fn conflux_gas_params() -> GasParams {
    let mut p = GasParams::new_spec(SpecId::CANCUN);
    p.override_gas([
        (GasId::sstore_static(), 5_000),
        (GasId::sstore_set_without_load_cost(), 0),
        (GasId::sstore_reset_without_cold_load_cost(), 0),
        (GasId::sstore_set_refund(), 0),
        (GasId::sstore_reset_refund(), 0),
        (GasId::sstore_clearing_slot_refund(), 0),
        (GasId::selfdestruct_refund(), 0),
        (GasId::cold_account_additional_cost(), 0),
        (GasId::cold_storage_additional_cost(), 0),
        (GasId::cold_storage_cost(), 0),
        (GasId::warm_storage_read_cost(), 0),
        (GasId::tx_base_stipend(), 21_000),
        (GasId::tx_token_cost(), 4),
        (GasId::tx_token_non_zero_byte_multiplier(), 17),
        (GasId::tx_create_cost(), 32_000),
        (GasId::tx_initcode_cost(), 0),
        // CREATE's 6 per init code word: Core Space hashes the code for the address (revm
        // charges this per-word cost on CREATE and CREATE2, and CREATE2 its hashing too; the
        // inspector gives CREATE2 back the second 6).
        (GasId::initcode_per_word(), 6),
        (GasId::tx_access_list_address_cost(), 2_400),
        (GasId::tx_access_list_storage_key_cost(), 1_900),
        (GasId::tx_floor_cost_per_token(), 0),
        (GasId::tx_floor_cost_base_gas(), 0),
    ]);
    p
}

/// Core Space's precompiles before v2.4: 1–8 at their Byzantium prices (no EIP-1108 or
/// EIP-2565), and blake2f (CIP-92). Precompile 1 is answered by the inspector.
fn conflux_precompiles() -> &'static Precompiles {
    static P: OnceLock<Precompiles> = OnceLock::new();
    P.get_or_init(|| {
        let mut p = Precompiles::byzantium().clone();
        p.extend([revm::precompile::blake2::FUN]);
        p
    })
}

/// Core Space's largest deployed code before v3.0 (conflux-rust `create_data_limit`).
const CODE_SIZE_LIMIT: usize = 49_152;

/// The highest precompile address Core Space shares with Ethereum (ecrecover … blake2f).
const LAST_SHARED_PRECOMPILE: u8 = 9;

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

/// conflux-rust's `string_revert_reason_decode`: the string of an `Error(string)` revert,
/// cut to 50 bytes with `...`, or empty.
pub fn revert_reason(output: &[u8]) -> String {
    fn decode(data: &[u8]) -> Option<String> {
        let word = |i: usize| data.get(i..i + 32);
        let offset = usize::try_from(U256::from_big_endian(word(0)?)).ok()?;
        let len = usize::try_from(U256::from_big_endian(word(offset)?)).ok()?;
        let start = offset.checked_add(32)?;
        let bytes = data.get(start..start.checked_add(len)?)?;
        String::from_utf8(bytes.to_vec()).ok()
    }
    if output.len() < 4 || output[..4] != [0x08, 0xc3, 0x79, 0xa0] {
        return String::new();
    }
    match decode(&output[4..]) {
        Some(s) if s.len() < 50 => s,
        Some(s) => match s.get(..50) {
            Some(cut) => format!("{cut}..."),
            None => String::new(),
        },
        None => String::new(),
    }
}

/// One open call frame, as conflux-rust's substate and `GasMan` see it.
#[derive(Default)]
struct Frame {
    /// The code address (the estimator's trace `to`), or the created address.
    to: H160,
    /// Whether the frame runs init code (a successful one pays the code's collateral).
    create: bool,
    /// The gas the frame was given.
    init_gas: u64,
    /// Gas its sub-calls used, and the gas they needed (`GasMan`).
    cost_in_sub: u128,
    limit_for_sub: u128,
    /// Storage owners written in this frame.
    owners: HashMap<(H160, RU256), Option<H160>>,
    /// Collateral units occupied and released, by owner.
    occupied: HashMap<H160, u64>,
    released: HashMap<H160, u64>,
}

impl Frame {
    fn absorb(&mut self, child: Frame) {
        self.owners.extend(child.owners);
        for (a, n) in child.occupied {
            *self.occupied.entry(a).or_default() += n;
        }
        for (a, n) in child.released {
            *self.released.entry(a).or_default() += n;
        }
    }
}

/// Watches every step and frame: notes the first thing Conflux would do differently, and
/// keeps Conflux's collateral, estimator and error-unwind records.
struct Conflux {
    unfaithful: Option<String>,
    /// Verified reads, for the internal contracts' views.
    reader: Reader,
    /// Whether a fast run reached an entry not at hand, or its step budget.
    missed: bool,
    /// Steps a fast run may take on the RPC task before it moves to a blocking thread
    /// (`None`: no limit, the run is on a blocking thread already).
    budget: Option<u64>,
    epoch: u64,
    /// Contracts this run created (their admin and sponsors are not in the verified state).
    created: Vec<H160>,
    /// `NUMBER` (the staking views count from it).
    number: u64,
    /// Whether PUSH0 is active.
    push0: bool,
    /// Who owns what the transaction writes (its sender).
    storage_owner: H160,
    /// Owners of entries read from the verified state.
    base_owners: Owners,
    frames: Vec<Frame>,
    /// The top frame once it ended successfully (its collateral records).
    top: Option<Frame>,
    /// `GasLimitEstimation`.
    gas_estimate: u128,
    /// The error unwind (innermost first).
    errors: Vec<(H160, String)>,
}

impl Conflux {
    fn refuse(&mut self, interp: &mut Interpreter, why: String) {
        self.note(why);
        // Any halt that is not a fatal one (those abort revm); the result is thrown away.
        interp.halt(InstructionResult::OpcodeNotFound);
    }

    fn note(&mut self, why: impl Into<String>) {
        if self.unfaithful.is_none() {
            self.unfaithful = Some(why.into());
        }
    }

    /// The owner of `(contract, key)` now: the latest open frame's write, or the verified
    /// state's.
    fn owner_of(&self, contract: H160, key: RU256) -> Option<H160> {
        for f in self.frames.iter().rev() {
            if let Some(o) = f.owners.get(&(contract, key)) {
                return *o;
            }
        }
        self.base_owners
            .borrow()
            .get(&(contract, key))
            .copied()
            .flatten()
    }

    /// conflux-rust's `set_storage`: a changed value releases the old owner's entry and
    /// charges the storage owner for a non-zero one.
    fn record_sstore(&mut self, contract: H160, key: RU256, present: RU256, new: RU256) {
        if present == new {
            return;
        }
        let old_owner = self.owner_of(contract, key);
        let owner = self.storage_owner;
        let Some(frame) = self.frames.last_mut() else {
            return;
        };
        if let Some(o) = old_owner {
            *frame.released.entry(o).or_default() += UNITS_PER_STORAGE_ENTRY;
        }
        let new_owner = if new.is_zero() {
            None
        } else {
            *frame.occupied.entry(owner).or_default() += UNITS_PER_STORAGE_ENTRY;
            Some(owner)
        };
        frame.owners.insert((contract, key), new_owner);
    }

    fn sstore<CTX: ContextTr<Db = VerifiedDb>>(&mut self, interp: &mut Interpreter, ctx: &mut CTX) {
        if interp.runtime_flag.is_static() {
            return; // fails the frame, writes nothing
        }
        let (Ok(key), Ok(new)) = (interp.stack.peek(0), interp.stack.peek(1)) else {
            return; // stack underflow: fails the frame
        };
        let contract = interp.input.target_address;
        match ctx.journal_mut().sload(contract, key) {
            Ok(present) => self.record_sstore(h160(contract), key, present.data, new),
            Err(DbError::Miss) => {
                self.missed = true;
                interp.halt(InstructionResult::OpcodeNotFound);
            }
            Err(e) => {
                let why = format!("reading the storage a write replaces failed: {e}");
                self.refuse(interp, why);
            }
        }
    }
}

impl<CTX: ContextTr<Db = VerifiedDb>> Inspector<CTX> for Conflux {
    fn step(&mut self, interp: &mut Interpreter, ctx: &mut CTX) {
        if let Some(left) = self.budget.as_mut() {
            if *left == 0 {
                // A long run must not hold the async worker: it goes to a blocking thread.
                self.missed = true;
                interp.halt(InstructionResult::OpcodeNotFound);
                return;
            }
            *left -= 1;
        }
        let op = interp.bytecode.opcode();
        let name = match op {
            0x55 => return self.sstore(interp, ctx),
            0x5f if self.push0 => return,
            0x5f => "PUSH0 before CIP-119's height (Conflux fails it as a bad instruction)",
            0x49 | 0x4a => "a blob opcode (no blobs in Core Space)",
            0x5c | 0x5d => {
                "TLOAD/TSTORE (Core Space's transient storage before CIP-154 is not modelled)"
            }
            0x5e => "MCOPY (Core Space's MCOPY gas before CIP-645 is not modelled)",
            0xf5 => {
                // revm charges CREATE2 6 per init code word twice (EIP-3860's metering and
                // the hashing); Core Space before v3.0 charges the hashing only.
                if let Ok(len) = interp.stack.peek(2) {
                    let words = u64::try_from(len).ok().map(|l| l.div_ceil(32));
                    if let Some(w) = words.and_then(|w| w.checked_mul(6)) {
                        if w <= interp.gas.remaining() {
                            interp.gas.erase_cost(w);
                        }
                    }
                }
                return;
            }
            0xff => "SELFDESTRUCT (Conflux's rules differ)",
            _ => return,
        };
        self.refuse(interp, format!("the code executes {name}"));
    }

    fn call(&mut self, ctx: &mut CTX, inputs: &mut CallInputs) -> Option<CallOutcome> {
        let target = h160(inputs.bytecode_address);
        self.frames.push(Frame {
            to: target,
            init_gas: inputs.gas_limit,
            ..Frame::default()
        });
        self.errors.clear();
        if target == H160::from_low_u64_be(1) {
            let mut gas = revm::interpreter::Gas::new(inputs.gas_limit);
            let (result, output) = if gas.record_regular_cost(ECRECOVER_GAS) {
                let out = conflux_ecrecover(&inputs.input.bytes(ctx))
                    .map(|o| Bytes::from(o.to_vec()))
                    .unwrap_or_default();
                (InstructionResult::Return, out)
            } else {
                gas.spend_all();
                (InstructionResult::PrecompileOOG, Bytes::new())
            };
            return Some(outcome(result, output, gas, inputs));
        }
        if AddressType::of(&target) == AddressType::Builtin {
            let precompile = target.0[..19].iter().all(|b| *b == 0)
                && (1..=LAST_SHARED_PRECOMPILE).contains(&target.0[19]);
            if !precompile {
                let input = inputs.input.bytes(ctx);
                return match self.internal_view(target, &input, inputs) {
                    Ok(outcome) => Some(outcome),
                    Err(why) => {
                        self.note(format!(
                            "the code calls {target:?}, an internal contract: {why}"
                        ));
                        None
                    }
                };
            }
        }
        None
    }

    fn call_end(&mut self, _: &mut CTX, _: &CallInputs, outcome: &mut CallOutcome) {
        self.end_frame(&outcome.result);
    }

    fn create(&mut self, ctx: &mut CTX, inputs: &mut CreateInputs) -> Option<CreateOutcome> {
        // Core Space's address: keccak(0x00 ‖ sender ‖ nonce (32 bytes, little-endian) ‖
        // code hash) for CREATE, keccak(0xff ‖ sender ‖ salt ‖ code hash) for CREATE2, with
        // the contract type bits.
        let caller = inputs.caller();
        let nonce = match ctx.journal_mut().load_account(caller) {
            Ok(a) => a.data.info.nonce,
            Err(DbError::Miss) => {
                self.missed = true;
                0
            }
            Err(e) => {
                self.note(format!("loading the creator's account failed: {e}"));
                0
            }
        };
        let code_hash = cfxlight_primitives::hash::keccak256(inputs.init_code());
        let mut buf = [0u8; 85];
        buf[1..21].copy_from_slice(caller.as_slice());
        match inputs.scheme() {
            revm::context_interface::CreateScheme::Create => {
                buf[21..29].copy_from_slice(&nonce.to_le_bytes());
            }
            revm::context_interface::CreateScheme::Create2 { salt } => {
                buf[0] = 0xff;
                buf[21..53].copy_from_slice(&salt.to_be_bytes::<32>());
            }
            revm::context_interface::CreateScheme::Custom { .. } => {
                self.note("a custom create scheme");
            }
        }
        buf[53..].copy_from_slice(code_hash.as_bytes());
        let hash = cfxlight_primitives::hash::keccak256(buf);
        let mut address = H160::from_slice(&hash.as_bytes()[12..]);
        address.0[0] = (address.0[0] & 0x0f) | 0x80;
        inputs.set_scheme(revm::context_interface::CreateScheme::Custom {
            address: addr(address),
        });
        self.created.push(address);
        self.frames.push(Frame {
            to: address,
            create: true,
            init_gas: inputs.gas_limit(),
            ..Frame::default()
        });
        self.errors.clear();
        None
    }

    fn create_end(&mut self, _: &mut CTX, _: &CreateInputs, outcome: &mut CreateOutcome) {
        self.end_frame(&outcome.result);
    }
}

/// AdminControl, SponsorWhitelistControl: the internal contracts whose views are served.
const ADMIN_CONTROL: [u8; 20] = internal(0);
/// SponsorWhitelistControl's address.
const SPONSOR_CONTROL: [u8; 20] = internal(1);

const fn internal(last: u8) -> [u8; 20] {
    let mut a = [0u8; 20];
    a[0] = 0x08;
    a[1] = 0x88;
    a[19] = last;
    a
}

/// Staking, and Context (CIP-64): more internal contracts with views served here.
const STAKING: [u8; 20] = internal(2);
const CONTEXT: [u8; 20] = internal(4);
/// PoSRegister (CIP-43): who registered which PoS identifier, with how many votes.
const POS_REGISTER: [u8; 20] = internal(5);

/// The internal contracts' views served here: (contract, signature, upfront gas, arguments
/// as 32-byte words). The gas is conflux-rust's before v2.4: `query_with_default_gas` is
/// `balance_gas` (400), the whitelist reads `cold_sload_gas` (200), the vote-list views 200
/// per entry plus one, PoSRegister's 230, `epochNumber` the base tier (2); every returned
/// word costs 3 more.
const INTERNAL_VIEWS: [([u8; 20], &str, u64, usize); 15] = [
    (ADMIN_CONTROL, "getAdmin(address)", 400, 1),
    (SPONSOR_CONTROL, "getSponsorForGas(address)", 400, 1),
    (
        SPONSOR_CONTROL,
        "getSponsoredBalanceForGas(address)",
        400,
        1,
    ),
    (
        SPONSOR_CONTROL,
        "getSponsoredGasFeeUpperBound(address)",
        400,
        1,
    ),
    (SPONSOR_CONTROL, "getSponsorForCollateral(address)", 400, 1),
    (
        SPONSOR_CONTROL,
        "getSponsoredBalanceForCollateral(address)",
        400,
        1,
    ),
    (SPONSOR_CONTROL, "isWhitelisted(address,address)", 200, 2),
    (SPONSOR_CONTROL, "isAllWhitelisted(address)", 200, 1),
    (STAKING, "getStakingBalance(address)", 400, 1),
    // 200 per vote-list entry plus one, counted when the list is read.
    (STAKING, "getLockedStakingBalance(address,uint256)", 0, 2),
    (STAKING, "getVotePower(address,uint256)", 0, 2),
    (CONTEXT, "epochNumber()", 2, 0),
    // `cold_sload_gas` + `sha3_gas`: one slot at keccak(prefix ‖ key).
    (POS_REGISTER, "getVotes(bytes32)", 230, 1),
    (POS_REGISTER, "identifierToAddress(bytes32)", 230, 1),
    (POS_REGISTER, "addressToIdentifier(address)", 230, 1),
];

impl Conflux {
    /// A verified read; a miss in a fast run is remembered, so the run is repeated.
    fn read<T>(&mut self, f: impl FnOnce(&Reader) -> Result<T, DbError>) -> Result<T, DbError> {
        let r = f(&self.reader);
        if matches!(r, Err(DbError::Miss)) {
            self.missed = true;
        }
        r
    }

    /// Runs one of [`INTERNAL_VIEWS`] as conflux-rust's internal contract does (the upfront
    /// gas, 3 per returned word, out of gas when short) over the verified account or
    /// storage it reads; `Err` with the reason for anything else.
    fn internal_view(
        &mut self,
        target: H160,
        input: &[u8],
        inputs: &CallInputs,
    ) -> Result<CallOutcome, String> {
        let Some(selector) = input.get(..4) else {
            return Err("call data without a function selector".into());
        };
        let Some(&(_, name, upfront, words)) = INTERNAL_VIEWS.iter().find(|(at, sig, ..)| {
            *at == target.0
                && cfxlight_primitives::hash::keccak256(sig.as_bytes()).as_bytes()[..4] == *selector
        }) else {
            return Err("a function cfxlight does not run yet (it serves the admin, sponsor, whitelist, staking-balance and epoch-number views)".into());
        };
        if input.len() != 4 + 32 * words {
            return Err(format!(
                "{name} with {} bytes of arguments",
                input.len() - 4
            ));
        }
        if !inputs.call_value().is_zero() {
            return Err(format!("{name} with value"));
        }
        let arg = |i: usize| H160::from_slice(&input[4 + 32 * i + 12..4 + 32 * (i + 1)]);
        if (0..words).any(|i| self.created.contains(&arg(i))) {
            return Err(format!("{name} of a contract this call created"));
        }
        // The vote list `[[amount, unlock block number], …]` (by unlock number), for the
        // staking views that read it.
        let votes = if upfront == 0 {
            let raw = self
                .read(|r| r.entries(&[StorageKey::VoteList(arg(0))]))
                .map_err(|e| format!("reading the vote list {name} asks for: {e}"))?
                .pop()
                .flatten();
            let mut list = vec![];
            if let Some(raw) = raw {
                for item in Rlp::new(&raw).iter() {
                    let pair = (item.val_at::<U256>(0), item.val_at::<U256>(1));
                    let (Ok(amount), Ok(unlock)) = pair else {
                        return Err("the verified vote list does not decode".into());
                    };
                    list.push((amount, unlock));
                }
            }
            list
        } else {
            vec![]
        };
        let upfront = if upfront == 0 {
            200 * (votes.len() as u64 + 1)
        } else {
            upfront
        };
        let mut gas = revm::interpreter::Gas::new(inputs.gas_limit);
        // 3 per returned word: `getVotes` returns two.
        let return_gas = if name == "getVotes(bytes32)" { 6 } else { 3 };
        if !gas.record_regular_cost(upfront + return_gas) {
            gas.spend_all();
            return Ok(outcome(
                InstructionResult::OutOfGas,
                Bytes::new(),
                gas,
                inputs,
            ));
        }
        let word = |v: U256| v.to_big_endian().to_vec();
        let address = |a: H160| {
            let mut w = vec![0u8; 32];
            w[12..].copy_from_slice(a.as_bytes());
            w
        };
        let flag = |b: bool| word(U256::from(u8::from(b)));
        let out = match name {
            // `call_virtual` runs as the next epoch: its height is the epoch's plus one.
            "epochNumber()" => word(U256::from(self.epoch.saturating_add(1))),
            "getVotes(bytes32)"
            | "identifierToAddress(bytes32)"
            | "addressToIdentifier(address)" => {
                // PoSRegister's storage: keccak(prefix as 8 big-endian bytes ‖ key), prefix 0
                // for the votes, 1 for the address, 2 for the identifier.
                let (prefix, key) = match name {
                    "getVotes(bytes32)" => (0u64, &input[4..36]),
                    "identifierToAddress(bytes32)" => (1, &input[4..36]),
                    _ => (2, &input[16..36]),
                };
                let slot =
                    cfxlight_primitives::hash::keccak256([&prefix.to_be_bytes()[..], key].concat());
                let raw = self
                    .read(|r| {
                        r.entries(&[StorageKey::Storage {
                            address: H160(POS_REGISTER),
                            key: slot.as_bytes().to_vec(),
                        }])
                    })
                    .map_err(|e| format!("reading the PoS register for {name}: {e}"))?
                    .pop()
                    .flatten();
                let value = match raw {
                    None => U256::zero(),
                    Some(raw) => {
                        storage_entry(&raw)
                            .map_err(|e| format!("the verified PoS register does not decode: {e}"))?
                            .0
                    }
                };
                match name {
                    // `IndexStatus`: registered votes in the lowest 64 bits, unlocked next.
                    "getVotes(bytes32)" => {
                        let mut out = [0u8; 64];
                        out[24..32].copy_from_slice(&value.0[0].to_be_bytes());
                        out[56..64].copy_from_slice(&value.0[1].to_be_bytes());
                        out.to_vec()
                    }
                    "identifierToAddress(bytes32)" => {
                        let mut w = value.to_big_endian();
                        w[..12].fill(0);
                        w.to_vec()
                    }
                    _ => value.to_big_endian().to_vec(),
                }
            }
            "getLockedStakingBalance(address,uint256)" | "getVotePower(address,uint256)" => {
                // conflux-rust: the block number's low 64 bits, at least the current one.
                let at = U256::from_big_endian(&input[36..68])
                    .low_u64()
                    .max(self.number);
                // Locked at `b`: the amount of the first entry unlocking after `b`.
                let locked = |b: u64| {
                    votes
                        .iter()
                        .find(|(_, unlock)| *unlock > U256::from(b))
                        .map(|(amount, _)| *amount)
                        .unwrap_or_default()
                };
                if name.starts_with("getLocked") {
                    word(locked(at))
                } else {
                    const QUARTER: u64 = 15_768_000; // MINED_BLOCK_COUNT_PER_QUARTER
                    let Some(year) = at.checked_add(4 * QUARTER) else {
                        return Err(format!("{name} at a block number near 2^64"));
                    };
                    let three = locked(at + QUARTER);
                    let six = locked(at + 2 * QUARTER);
                    word((three + six + locked(year) * 2) / 4)
                }
            }
            "isWhitelisted(address,address)" | "isAllWhitelisted(address)" => {
                let keys = whitelist_keys(arg(0), (words == 2).then(|| arg(1)));
                let entries = self
                    .read(|r| r.entries(&keys))
                    .map_err(|e| format!("reading the whitelist {name} asks for: {e}"))?;
                flag(whitelisted(&entries))
            }
            _ => {
                let account = self
                    .read(|r| r.account(arg(0)))
                    .map_err(|e| format!("reading the account {name} asks for: {e}"))?;
                // An account that does not exist has no admin, sponsors or stake.
                let (admin, sponsor, staking) = account
                    .map(|a| (a.admin, a.sponsor_info, a.staking_balance))
                    .unwrap_or_default();
                match name {
                    "getAdmin(address)" => address(admin),
                    "getSponsorForGas(address)" => address(sponsor.sponsor_for_gas),
                    "getSponsoredBalanceForGas(address)" => word(sponsor.sponsor_balance_for_gas),
                    "getSponsoredGasFeeUpperBound(address)" => word(sponsor.sponsor_gas_bound),
                    "getSponsorForCollateral(address)" => address(sponsor.sponsor_for_collateral),
                    "getStakingBalance(address)" => word(staking),
                    _ => word(sponsor.sponsor_balance_for_collateral),
                }
            }
        };
        Ok(outcome(
            InstructionResult::Return,
            Bytes::from(out),
            gas,
            inputs,
        ))
    }

    /// Closes the innermost frame: `GasMan`'s figures, the error unwind, and its storage
    /// records kept (success) or dropped.
    fn end_frame(&mut self, result: &revm::interpreter::InterpreterResult) {
        let Some(mut frame) = self.frames.pop() else {
            return;
        };
        let outcome = result.result;
        let ok = outcome.is_ok();
        let gas_left = if outcome.is_ok_or_revert() {
            result.gas.remaining()
        } else {
            0
        };
        if matches!(
            outcome,
            InstructionResult::CallTooDeep | InstructionResult::OutOfFunds
        ) {
            // Conflux fails such a call before it opens a frame; the unwind would differ.
            self.note("a call failed before it started (depth or balance)");
        }
        if outcome == InstructionResult::CreateCollision {
            // Conflux fails it without a frame and without using the creator's nonce.
            self.note(
                "a contract creation at an address that already has code (Conflux's collision rules differ from revm's)",
            );
        }
        if frame.create && ok {
            // conflux-rust's `ret`: the deployed code's collateral, 512 units per KiB begun.
            let units = (result.output.len() as u64).div_ceil(1024) * CODE_UNITS_PER_KIB;
            *frame.occupied.entry(self.storage_owner).or_default() += units;
        }
        // GasMan: this frame's own cost plus 64/63 of its sub-calls' needs.
        let cost = u128::from(frame.init_gas.saturating_sub(gas_left));
        let own = cost.saturating_sub(frame.cost_in_sub);
        let needed = own + (frame.limit_for_sub * 64).div_ceil(63);
        // The error unwind; a failed creation's trace names no address.
        if frame.create && !ok {
            frame.to = H160::zero();
        }
        if ok {
            self.errors.clear();
        } else if outcome.is_revert() {
            let reason = revert_reason(&result.output);
            self.errors
                .push((frame.to, format!("Vm reverted. {reason}")));
        } else {
            match VmFailure::of(outcome) {
                Some(f) => self.errors.push((frame.to, f.display())),
                None => self.note(format!(
                    "a frame halted with {outcome:?}, whose Conflux wording cfxlight does not reproduce"
                )),
            }
        }
        match self.frames.last_mut() {
            Some(parent) => {
                parent.cost_in_sub += cost;
                parent.limit_for_sub += needed;
                if ok {
                    parent.absorb(frame);
                }
            }
            None => {
                self.gas_estimate = needed;
                if ok {
                    self.top = Some(frame);
                }
            }
        }
    }
}

/// Opcodes a run from what is at hand may take on the RPC task (a balance read takes a few
/// hundred; this bounds the worker's time to a few milliseconds).
const FAST_RUN_STEPS: u64 = 100_000;

/// Runs on blocking threads at once; more wait their turn (each may run 27 M gas).
const BLOCKING_RUNS: usize = 4;

/// Runs one call at `env.epoch` over verified state: first on this task from what is at
/// hand and within [`FAST_RUN_STEPS`] (a warm view needs no thread hand-off), and when that
/// reaches an entry not at hand or its step budget, again on a thread of the blocking pool,
/// at most [`BLOCKING_RUNS`] at once, not on the async workers, while reads wait on peers.
pub async fn call(
    query: Arc<Query>,
    env: CallEnv,
    input: CallInput,
) -> Result<Executed, CallError> {
    let fast = Reader {
        query: query.clone(),
        epoch: env.epoch,
        handle: None,
    };
    match run(fast, env.clone(), input.clone()) {
        Err(CallError::Miss) => {}
        done => return done,
    }
    let reader = Reader {
        query,
        epoch: env.epoch,
        handle: Some(tokio::runtime::Handle::current()),
    };
    static RUNS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(BLOCKING_RUNS);
    let _turn = RUNS
        .acquire()
        .await
        .map_err(|e| CallError::Internal(format!("call queue: {e}")))?;
    tokio::task::spawn_blocking(move || run(reader, env, input))
        .await
        .map_err(|e| CallError::Internal(format!("call task: {e}")))?
}

fn run(reader: Reader, env: CallEnv, input: CallInput) -> Result<Executed, CallError> {
    let mut balances = HashMap::new();
    if let Some(b) = input.sender_balance {
        balances.insert(input.from, b);
    }
    let nonces = HashMap::from([(input.from, input.sender_nonce)]);
    let owners: Owners = Rc::default();
    let db = VerifiedDb {
        reader: reader.clone(),
        balances,
        nonces,
        codes: HashMap::new(),
        owners: owners.clone(),
        number: env.number,
        last_hash: B256::from(env.pivot_hash.0),
    };
    let mut cfg = CfgEnv::new_with_spec(SpecId::CANCUN);
    cfg.set_gas_params(conflux_gas_params());
    cfg.chain_id = u64::from(env.chain_id);
    // The node checked nonce, balance and fees by Conflux's rules already; revm only runs
    // the code, so it neither charges nor checks them again.
    cfg.disable_nonce_check = true;
    cfg.disable_balance_check = true;
    cfg.disable_base_fee = true;
    cfg.disable_fee_charge = true;
    cfg.disable_block_gas_limit = true;
    cfg.tx_gas_limit_cap = Some(u64::MAX);
    // Core Space's code size limit before v3.0 (`create_data_limit`), and no init code limit
    // (EIP-3860 comes with CIP-645).
    cfg.limit_contract_code_size = Some(CODE_SIZE_LIMIT);
    cfg.limit_contract_initcode_size = Some(usize::MAX);
    let block = BlockEnv {
        number: RU256::from(env.number),
        beneficiary: addr(env.author),
        timestamp: RU256::from(env.timestamp),
        gas_limit: input.gas,
        basefee: u64::try_from(env.base_price).unwrap_or(u64::MAX),
        difficulty: RU256::ZERO,
        prevrandao: Some(B256::ZERO),
        ..BlockEnv::default()
    };
    let access_list: Vec<revm::context_interface::transaction::AccessListItem> = input
        .access_list
        .iter()
        .map(
            |(a, keys)| revm::context_interface::transaction::AccessListItem {
                address: addr(*a),
                storage_keys: vec![B256::ZERO; *keys],
            },
        )
        .collect();
    let tx = TxEnv::builder()
        .caller(addr(input.from))
        .kind(match input.to {
            Some(to) => TxKind::Call(addr(to)),
            None => TxKind::Create,
        })
        .value(ru256(input.value))
        .data(Bytes::from(input.data))
        .gas_limit(input.gas)
        .gas_price(0)
        .chain_id(Some(u64::from(env.chain_id)))
        .tx_type(Some(if access_list.is_empty() { 0 } else { 1 }))
        .access_list(access_list.into())
        .build()
        .map_err(|e| CallError::Internal(format!("{e:?}")))?;
    let mut evm = Context::mainnet()
        .with_db(db)
        .with_cfg(cfg)
        .with_block(block)
        .build_mainnet_with_inspector(Conflux {
            unfaithful: None,
            budget: reader.handle.is_none().then_some(FAST_RUN_STEPS),
            reader,
            missed: false,
            epoch: env.epoch,
            created: Vec::new(),
            number: env.number,
            push0: env.push0,
            storage_owner: input.storage_owner,
            base_owners: owners,
            frames: Vec::new(),
            top: None,
            gas_estimate: 0,
            errors: Vec::new(),
        });
    evm.instruction =
        EthInstructions::new(instruction_table(), conflux_gas_table(), SpecId::CANCUN);
    evm.precompiles = EthPrecompiles {
        precompiles: conflux_precompiles(),
        spec: SpecId::CANCUN,
    };
    let outcome = evm.inspect_one_tx(tx);
    let inspector = &mut evm.inspector;
    let missed = matches!(
        outcome,
        Err(revm::context_interface::result::EVMError::Database(
            DbError::Miss
        ))
    );
    if inspector.missed || missed {
        return Err(CallError::Miss);
    }
    if let Some(why) = inspector.unfaithful.take() {
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
    let outcome = match outcome {
        ExecutionResult::Success { output, .. } => Outcome::Success(match output {
            Output::Call(b) => b.to_vec(),
            Output::Create(b, _) => b.to_vec(),
        }),
        ExecutionResult::Revert { output, .. } => Outcome::Revert(output.to_vec()),
        ExecutionResult::Halt { reason, .. } => Outcome::Failed(match reason {
            HaltReason::OutOfGas(_) => VmFailure::OutOfGas,
            HaltReason::InvalidFEOpcode => VmFailure::BadInstruction(0xfe),
            other => {
                return Err(CallError::Unfaithful(format!(
                "the call halted with {other:?}, whose Conflux wording cfxlight does not reproduce"
            )))
            }
        }),
    };
    let collateral_units = match (&outcome, &inspector.top) {
        (Outcome::Success(_), Some(top)) => {
            // `storage_collateralized.first()`: only the storage owner is ever charged.
            let owner = input.storage_owner;
            let inc = top.occupied.get(&owner).copied().unwrap_or(0);
            let sub = top.released.get(&owner).copied().unwrap_or(0);
            inc.saturating_sub(sub)
        }
        _ => 0,
    };
    Ok(Executed {
        outcome,
        gas_estimate: u64::try_from(inspector.gas_estimate).unwrap_or(u64::MAX),
        collateral_units,
        errors: std::mem::take(&mut inspector.errors),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_string(s: &str) -> Vec<u8> {
        let mut out = vec![0x08, 0xc3, 0x79, 0xa0];
        out.extend(U256::from(32).to_big_endian());
        out.extend(U256::from(s.len()).to_big_endian());
        let mut body = s.as_bytes().to_vec();
        body.resize(s.len().div_ceil(32) * 32, 0);
        out.extend(body);
        out
    }

    #[test]
    fn revert_reasons_decode_as_conflux_rust_words_them() {
        // conflux-rust's own vector (solidity-abi utils.rs).
        assert_eq!(
            revert_reason(&error_string("This is an error message")),
            "This is an error message"
        );
        let long = "x".repeat(60);
        assert_eq!(
            revert_reason(&error_string(&long)),
            format!("{}...", "x".repeat(50))
        );
        assert_eq!(
            revert_reason(&error_string(&"y".repeat(49))),
            "y".repeat(49)
        );
        // A custom error, a panic, nothing, a cut-off body: no reason.
        assert_eq!(revert_reason(&[0x4e, 0x48, 0x7b, 0x71, 0, 1]), "");
        assert_eq!(revert_reason(&[]), "");
        assert_eq!(revert_reason(&error_string("abc")[..40]), "");
    }

    #[test]
    fn vm_failures_print_conflux_rust_debug_and_display() {
        assert_eq!(VmFailure::OutOfGas.debug(), "OutOfGas");
        assert_eq!(VmFailure::OutOfGas.display(), "Out of gas");
        let bad = VmFailure::BadInstruction(0xfe);
        assert_eq!(bad.debug(), "BadInstruction { instruction: 254 }");
        assert_eq!(bad.display(), "Bad instruction fe");
        assert_eq!(
            VmFailure::of(InstructionResult::MemoryOOG),
            Some(VmFailure::OutOfGas)
        );
        assert_eq!(VmFailure::of(InstructionResult::InvalidJump), None);
    }

    #[test]
    fn the_schedule_is_core_spaces_before_v2_4() {
        use revm::bytecode::opcode::*;
        let t = conflux_gas_table();
        // What the dev node charges (measured with gasleft() around each opcode).
        assert_eq!(
            [
                t[SLOAD as usize],
                t[BALANCE as usize],
                t[EXTCODESIZE as usize],
                t[EXTCODEHASH as usize],
                t[STATICCALL as usize]
            ],
            [200, 400, 700, 400, 700]
        );
        let p = conflux_gas_params();
        assert_eq!(p.get(GasId::sstore_static()), 5_000);
        assert_eq!(p.get(GasId::sstore_set_without_load_cost()), 0);
        assert_eq!(p.get(GasId::sstore_clearing_slot_refund()), 0);
        assert_eq!(p.get(GasId::cold_account_additional_cost()), 0);
        // 68 gas per non-zero byte: 17 tokens of 4.
        assert_eq!(
            p.get(GasId::tx_token_non_zero_byte_multiplier()) * p.get(GasId::tx_token_cost()),
            68
        );
        assert!(conflux_precompiles()
            .get(&Address::with_last_byte(9))
            .is_some());
        assert!(conflux_precompiles()
            .get(&Address::with_last_byte(10))
            .is_none());
    }
}
