//! The JSON shapes of conflux-rust's `cfx_*` RPC (`crates/rpc/rpc-cfx-types/src/`).
//!
//! Field names are camelCase as conflux-rust writes them; quantities are minimal `0x` hex
//! (`U256`/`U64` serde), hashes are full 32-byte hex, addresses are CIP-37 base32 for the
//! node's network. These types are what the node's RPC serves, so a dapp sees exactly what
//! a conflux-rust node would show it.

use std::sync::atomic::{AtomicBool, Ordering};

use ethereum_types::{Bloom, H160, H256, U256, U64};
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

use crate::{
    address::CfxAddress,
    header::BlockHeader,
    mpt::{NodeMerkle, StorageRoot},
    transaction::{SignedTransaction, TxKind},
};

static SIMPLE_ADDRESSES: AtomicBool = AtomicBool::new(false);

/// Chooses how RPC output writes addresses. conflux-rust writes the verbose form
/// (`NET2029:TYPE.USER:AAP8…`) unless `rpc_address_simple_mode` is set, and so do we.
pub fn set_simple_address_mode(simple: bool) {
    SIMPLE_ADDRESSES.store(simple, Ordering::Relaxed);
}

/// An address in RPC JSON: accepts either base32 form, writes the configured one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RpcAddress(pub CfxAddress);

impl RpcAddress {
    /// Pairs an address with the network it is shown for.
    pub fn new(address: H160, network_id: u64) -> RpcAddress {
        RpcAddress(CfxAddress::new(address, network_id))
    }

    /// The 20 address bytes.
    pub fn hex(&self) -> H160 {
        self.0.address
    }
}

impl Serialize for RpcAddress {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if SIMPLE_ADDRESSES.load(Ordering::Relaxed) {
            self.0.serialize(s)
        } else {
            s.serialize_str(&self.0.to_verbose())
        }
    }
}

impl<'de> Deserialize<'de> for RpcAddress {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        CfxAddress::deserialize(d).map(RpcAddress)
    }
}

/// Arbitrary bytes as `0x`-prefixed lower-case hex.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Bytes(pub Vec<u8>);

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("0x{}", hex::encode(&self.0)))
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let body = s
            .strip_prefix("0x")
            .ok_or_else(|| de::Error::custom("hex bytes must start with 0x"))?;
        hex::decode(body).map(Bytes).map_err(de::Error::custom)
    }
}

/// A block's transactions: hashes (`includeTxs = false`) or full objects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum BlockTransactions {
    /// Transaction hashes only.
    Hashes(Vec<H256>),
    /// Full transaction objects.
    Full(Vec<Transaction>),
}

/// `cfx_getBlockByHash` / `cfx_getBlockByEpochNumber` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Block {
    /// Block hash.
    pub hash: H256,
    /// Parent hash.
    pub parent_hash: H256,
    /// Tree height.
    pub height: U256,
    /// Author, base32.
    pub miner: RpcAddress,
    /// Deferred state root.
    pub deferred_state_root: H256,
    /// Deferred receipts root.
    pub deferred_receipts_root: H256,
    /// Deferred logs bloom hash.
    pub deferred_logs_bloom_hash: H256,
    /// Blame count.
    pub blame: U64,
    /// Transactions root.
    pub transactions_root: H256,
    /// Epoch the block was executed in (None before it is).
    pub epoch_number: Option<U256>,
    /// Position in the total order (None before execution).
    pub block_number: Option<U256>,
    /// Gas limit.
    pub gas_limit: U256,
    /// Gas used (None before execution).
    pub gas_used: Option<U256>,
    /// Core-space base price (from CIP-1559 on).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub base_fee_per_gas: Option<U256>,
    /// Timestamp.
    pub timestamp: U256,
    /// PoW difficulty.
    pub difficulty: U256,
    /// PoW quality.
    pub pow_quality: Option<U256>,
    /// Referee hashes.
    pub referee_hashes: Vec<H256>,
    /// GHAST adaptive flag.
    pub adaptive: bool,
    /// PoW nonce.
    pub nonce: U256,
    /// Transactions (hashes or full).
    pub transactions: BlockTransactions,
    /// RLP size of the block.
    pub size: Option<U256>,
    /// Custom header items (their content bytes).
    pub custom: Vec<Bytes>,
    /// PoS reference.
    pub pos_reference: Option<H256>,
}

impl Block {
    /// The header-derived fields of a block; execution fields (`epochNumber`,
    /// `blockNumber`, `gasUsed`, `size`, `powQuality`) and the transactions are the
    /// caller's to fill in from verified data.
    pub fn from_header(h: &BlockHeader, network_id: u64) -> Block {
        Block {
            hash: h.hash(),
            parent_hash: h.parent_hash,
            height: h.height.into(),
            miner: RpcAddress::new(h.author, network_id),
            deferred_state_root: h.deferred_state_root,
            deferred_receipts_root: h.deferred_receipts_root,
            deferred_logs_bloom_hash: h.deferred_logs_bloom_hash,
            blame: h.blame.into(),
            transactions_root: h.transactions_root,
            epoch_number: None,
            block_number: None,
            gas_limit: rpc_gas_limit(h.gas_limit, h.base_price.is_some()),
            gas_used: None,
            base_fee_per_gas: h.base_price.map(|p| p.core),
            timestamp: h.timestamp.into(),
            difficulty: h.difficulty,
            pow_quality: None,
            referee_hashes: h.referee_hashes.clone(),
            adaptive: h.adaptive,
            nonce: h.nonce,
            transactions: BlockTransactions::Hashes(vec![]),
            size: None,
            custom: h
                .custom
                .iter()
                .map(|raw| {
                    // RPC shows the item's content (CIP-112 form); a single byte < 0x80 is
                    // its own encoding.
                    let r = rlp::Rlp::new(raw);
                    Bytes(r.data().map(<[u8]>::to_vec).unwrap_or_else(|_| raw.clone()))
                })
                .collect(),
            pos_reference: h.pos_reference,
        }
    }
}

/// The eSpace view of a pivot block (`eth_getBlockByNumber`): the two header fields that
/// the core RPC hides (eSpace base price) or shows rounded (block gas limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EspaceBlockFields {
    /// `baseFeePerGas` of the eSpace block.
    pub base_fee_per_gas: U256,
    /// `gasLimit` of the eSpace block: ⌊block gas limit × 5 / 10⌋.
    pub gas_limit: U256,
}

/// Share of the block gas limit core space may use after CIP-1559, in tenths
/// (conflux-rust `CIP1559_CORE_TRANSACTION_GAS_RATIO`); the RPC reports this share.
const CORE_GAS_TENTHS: u64 = 9;
/// eSpace's share, in tenths (`CIP1559_ESPACE_TRANSACTION_GAS_RATIO`).
const ESPACE_GAS_TENTHS: u64 = 5;

/// The `gasLimit` the core RPC shows for a header's gas limit.
pub fn rpc_gas_limit(header_gas_limit: U256, cip1559: bool) -> U256 {
    if cip1559 {
        // ⌊g × 9/10⌋ without the product: a peer's header may carry any 256-bit value.
        let ten = U256::from(10);
        header_gas_limit / ten * U256::from(CORE_GAS_TENTHS)
            + header_gas_limit % ten * U256::from(CORE_GAS_TENTHS) / ten
    } else {
        header_gas_limit
    }
}

impl Block {
    /// Rebuilds the wire header from an RPC block and checks that it hashes to the hash
    /// the node reported; the returned header is that block's header, byte for byte.
    ///
    /// `custom_items_are_bytes`: whether the block is past CIP-112. A block past CIP-1559
    /// also needs its eSpace view: the core RPC omits the eSpace base price and shows the
    /// gas limit as ⌊limit × 9/10⌋. With the eSpace ⌊limit × 5/10⌋ at most two limits
    /// fit both views, and only the true one reproduces the hash.
    pub fn rebuild_header(
        &self,
        custom_items_are_bytes: bool,
        espace: Option<&EspaceBlockFields>,
    ) -> Result<BlockHeader, &'static str> {
        let candidates: Vec<(U256, Option<crate::header::BasePrice>)> =
            match (self.base_fee_per_gas, espace) {
                (None, _) => vec![(self.gas_limit, None)],
                (Some(_), None) => return Err("a block past CIP-1559 needs its eSpace view"),
                (Some(core), Some(e)) => {
                    let price = crate::header::BasePrice {
                        core,
                        espace: e.base_fee_per_gas,
                    };
                    let doubled = e.gas_limit.saturating_mul(10.into()) / ESPACE_GAS_TENTHS;
                    [doubled, doubled.saturating_add(U256::one())]
                        .into_iter()
                        .filter(|g| {
                            rpc_gas_limit(*g, true) == self.gas_limit
                                && g.saturating_mul(ESPACE_GAS_TENTHS.into()) / 10 == e.gas_limit
                        })
                        .map(|g| (g, Some(price)))
                        .collect()
                }
            };
        for (gas_limit, base_price) in candidates {
            let h = self.header_with(custom_items_are_bytes, gas_limit, base_price)?;
            if h.hash() == self.hash {
                return Ok(h);
            }
        }
        Err("no header built from these fields hashes to the reported block hash")
    }

    fn header_with(
        &self,
        custom_items_are_bytes: bool,
        gas_limit: U256,
        base_price: Option<crate::header::BasePrice>,
    ) -> Result<BlockHeader, &'static str> {
        let u64_of = |v: &U256, what: &'static str| {
            if v.bits() > 64 {
                Err(what)
            } else {
                Ok(v.low_u64())
            }
        };
        let mut h = BlockHeader {
            parent_hash: self.parent_hash,
            height: u64_of(&self.height, "height exceeds u64")?,
            timestamp: u64_of(&self.timestamp, "timestamp exceeds u64")?,
            author: self.miner.hex(),
            transactions_root: self.transactions_root,
            deferred_state_root: self.deferred_state_root,
            deferred_receipts_root: self.deferred_receipts_root,
            deferred_logs_bloom_hash: self.deferred_logs_bloom_hash,
            blame: u32::try_from(self.blame.as_u64()).map_err(|_| "blame exceeds u32")?,
            difficulty: self.difficulty,
            adaptive: self.adaptive,
            gas_limit,
            referee_hashes: self.referee_hashes.clone(),
            nonce: self.nonce,
            pos_reference: self.pos_reference,
            base_price,
            custom: self
                .custom
                .iter()
                .map(|b| {
                    if custom_items_are_bytes {
                        rlp::encode(&b.0).to_vec()
                    } else {
                        b.0.clone()
                    }
                })
                .collect(),
            hash: H256::zero(),
        };
        h.rehash();
        Ok(h)
    }
}

/// One access-list entry in RPC form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessListItem {
    /// Address, base32.
    pub address: RpcAddress,
    /// Storage slots.
    pub storage_keys: Vec<H256>,
}

/// `cfx_getTransactionByHash` result and full-block entries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Transaction {
    /// Envelope type (0, 1, 2).
    #[serde(rename = "type", skip_serializing_if = "Option::is_none", default)]
    pub transaction_type: Option<U64>,
    /// Transaction hash.
    pub hash: H256,
    /// Nonce.
    pub nonce: U256,
    /// Containing block, once packed.
    pub block_hash: Option<H256>,
    /// Index in the block, once packed.
    pub transaction_index: Option<U64>,
    /// Sender, base32.
    pub from: RpcAddress,
    /// Recipient, base32 (None for deployments).
    pub to: Option<RpcAddress>,
    /// Value in drip.
    pub value: U256,
    /// Gas price (the fee cap for CIP-1559).
    pub gas_price: U256,
    /// Gas limit.
    pub gas: U256,
    /// Address of the created contract, once executed.
    pub contract_created: Option<RpcAddress>,
    /// Call data.
    pub data: Bytes,
    /// Storage limit.
    pub storage_limit: U256,
    /// Epoch height.
    pub epoch_height: U256,
    /// Chain id.
    pub chain_id: Option<U256>,
    /// Outcome status, once executed.
    pub status: Option<U64>,
    /// Access list (typed transactions).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub access_list: Option<Vec<AccessListItem>>,
    /// Priority fee (CIP-1559).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub max_priority_fee_per_gas: Option<U256>,
    /// Fee cap (CIP-1559).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub max_fee_per_gas: Option<U256>,
    /// Recovery parity.
    pub v: U256,
    /// Signature r.
    pub r: U256,
    /// Signature s.
    pub s: U256,
    /// y-parity (typed transactions).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub y_parity: Option<U64>,
}

impl Transaction {
    /// The signed fields of a transaction in RPC form. `from` is recovered here, never
    /// taken from a peer. Inclusion fields (`blockHash`, `transactionIndex`, `status`,
    /// `contractCreated`) are the caller's to fill in from a verified receipt.
    pub fn from_signed(
        tx: &SignedTransaction,
        network_id: u64,
    ) -> Result<Transaction, crate::crypto::SignatureError> {
        let (from, _) = tx.recover_sender()?;
        let t = &tx.tx;
        let addr = |a| RpcAddress::new(a, network_id);
        let (access_list, max_priority_fee_per_gas, max_fee_per_gas, y_parity) = match &t.kind {
            TxKind::Legacy { .. } => (None, None, None, None),
            TxKind::Cip2930 { access_list, .. } => {
                (Some(access_list), None, None, Some(tx.signature.v.into()))
            }
            TxKind::Cip1559 {
                max_priority_fee_per_gas,
                max_fee_per_gas,
                access_list,
            } => (
                Some(access_list),
                Some(*max_priority_fee_per_gas),
                Some(*max_fee_per_gas),
                Some(tx.signature.v.into()),
            ),
        };
        Ok(Transaction {
            transaction_type: Some((t.tx_type() as u64).into()),
            hash: tx.hash(),
            nonce: t.nonce,
            block_hash: None,
            transaction_index: None,
            from: addr(from),
            to: t.action.to().map(addr),
            value: t.value,
            gas_price: t.gas_price(),
            gas: t.gas,
            contract_created: None,
            data: Bytes(t.data.clone()),
            storage_limit: t.storage_limit.into(),
            epoch_height: t.epoch_height.into(),
            chain_id: Some(t.chain_id.into()),
            status: None,
            access_list: access_list.map(|l| {
                l.iter()
                    .map(|i| AccessListItem {
                        address: addr(i.address),
                        storage_keys: i.storage_keys.clone(),
                    })
                    .collect()
            }),
            max_priority_fee_per_gas,
            max_fee_per_gas,
            v: tx.signature.v.into(),
            r: tx.signature.r,
            s: tx.signature.s,
            y_parity,
        })
    }
}

/// One log in RPC form; the location fields are present in `cfx_getLogs` answers and
/// absent inside receipts, as conflux-rust serialises them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Log {
    /// Emitting contract, base32.
    pub address: RpcAddress,
    /// Topics.
    pub topics: Vec<H256>,
    /// Data.
    pub data: Bytes,
    /// Containing block.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub block_hash: Option<H256>,
    /// Execution epoch.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub epoch_number: Option<U256>,
    /// Emitting transaction.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub transaction_hash: Option<H256>,
    /// Its index in the block.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub transaction_index: Option<U256>,
    /// Index of the log in the epoch.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub log_index: Option<U256>,
    /// Index of the log in its transaction.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub transaction_log_index: Option<U256>,
}

/// A storage collateral change in RPC form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageChange {
    /// Address, base32.
    pub address: RpcAddress,
    /// Collateral units.
    pub collaterals: U64,
}

/// `cfx_getTransactionReceipt` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Receipt {
    /// Envelope type.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none", default)]
    pub transaction_type: Option<U64>,
    /// Transaction hash.
    pub transaction_hash: H256,
    /// Index in the block.
    pub index: U64,
    /// Containing block.
    pub block_hash: H256,
    /// Epoch of execution.
    pub epoch_number: Option<U64>,
    /// Sender.
    pub from: RpcAddress,
    /// Recipient.
    pub to: Option<RpcAddress>,
    /// Gas used by this transaction.
    pub gas_used: U256,
    /// Gas used up to and including this transaction.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub accumulated_gas_used: Option<U256>,
    /// Fee charged.
    pub gas_fee: U256,
    /// Effective gas price.
    pub effective_gas_price: U256,
    /// Created contract.
    pub contract_created: Option<RpcAddress>,
    /// Logs.
    pub logs: Vec<Log>,
    /// Logs bloom.
    pub logs_bloom: Bloom,
    /// State root after execution.
    pub state_root: H256,
    /// 0 success, 1 failure, 2 skipped.
    pub outcome_status: U64,
    /// VM error message.
    pub tx_exec_error_msg: Option<String>,
    /// Gas paid by a sponsor.
    pub gas_covered_by_sponsor: bool,
    /// Collateral paid by a sponsor.
    pub storage_covered_by_sponsor: bool,
    /// Collateral taken from the sender.
    pub storage_collateralized: U64,
    /// Collateral released.
    pub storage_released: Vec<StorageChange>,
    /// Burnt fee (CIP-1559).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub burnt_gas_fee: Option<U256>,
}

/// `cfx_getStatus` result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// Best block hash.
    pub best_hash: H256,
    /// Core chain id.
    pub chain_id: U64,
    /// eSpace chain id.
    pub ethereum_space_chain_id: U64,
    /// Network id.
    pub network_id: U64,
    /// `latest_mined` epoch.
    pub epoch_number: U64,
    /// Block count in the total order.
    pub block_number: U64,
    /// Transactions in the pool.
    pub pending_tx_number: U64,
    /// `latest_checkpoint` epoch.
    pub latest_checkpoint: U64,
    /// `latest_confirmed` epoch.
    pub latest_confirmed: U64,
    /// `latest_state` epoch.
    pub latest_state: U64,
    /// `latest_finalized` epoch.
    pub latest_finalized: U64,
}

/// One trie's part of `cfx_getStorageRoot`: `null`, `"TOMBSTONE"` or the node merkle, as
/// conflux-rust serialises `MptValue<H256>` (`crates/primitives/src/storage.rs`).
impl Serialize for NodeMerkle {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            NodeMerkle::Absent => s.serialize_none(),
            NodeMerkle::Tombstone => s.serialize_str("TOMBSTONE"),
            NodeMerkle::Node(h) => s.serialize_some(h),
        }
    }
}

/// `cfx_getStorageRoot` result: `{"delta", "intermediate", "snapshot"}` (conflux-rust's
/// derived serde of `NodeMerkleTriplet`, field names as they are).
impl Serialize for StorageRoot {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("StorageRoot", 3)?;
        st.serialize_field("delta", &self.delta)?;
        st.serialize_field("intermediate", &self.intermediate)?;
        st.serialize_field("snapshot", &self.snapshot)?;
        st.end()
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_core_gas_limit_share_is_exact_and_never_overflows() {
        for g in [0u64, 1, 9, 10, 11, 30_000_000, 60_000_000, 60_000_007] {
            assert_eq!(
                rpc_gas_limit(U256::from(g), true),
                U256::from(g) * U256::from(9) / U256::from(10),
                "{g}"
            );
        }
        // A hostile header's maximum: no panic, and still ⌊g × 9/10⌋.
        let max = rpc_gas_limit(U256::MAX, true);
        assert_eq!(
            max,
            U256::MAX / U256::from(10) * U256::from(9) + U256::from(4)
        );
    }

    use super::*;

    #[test]
    fn quantities_and_bytes_use_conflux_hex_forms() {
        let s = Status {
            best_hash: H256::repeat_byte(0xab),
            chain_id: 2029.into(),
            ethereum_space_chain_id: 2030.into(),
            network_id: 2029.into(),
            epoch_number: 0.into(),
            block_number: 16.into(),
            pending_tx_number: 0.into(),
            latest_checkpoint: 0.into(),
            latest_confirmed: 0.into(),
            latest_state: 0.into(),
            latest_finalized: 0.into(),
        };
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["chainId"], "0x7ed");
        assert_eq!(v["epochNumber"], "0x0");
        assert_eq!(v["blockNumber"], "0x10");
        assert_eq!(v["bestHash"], format!("0x{}", "ab".repeat(32)));
        assert_eq!(serde_json::to_value(Bytes(vec![])).unwrap(), "0x");
        assert_eq!(
            serde_json::from_str::<Bytes>("\"0x0a0b\"").unwrap(),
            Bytes(vec![10, 11])
        );
        assert!(serde_json::from_str::<Bytes>("\"0a0b\"").is_err());
    }

    #[test]
    fn storage_roots_use_conflux_json() {
        // conflux-rust storage.rs test_mpt_value_json: null, "TOMBSTONE", the hash.
        let root = StorageRoot {
            delta: NodeMerkle::Node(H256::repeat_byte(0x07)),
            intermediate: NodeMerkle::Tombstone,
            snapshot: None,
        };
        assert_eq!(
            serde_json::to_string(&root).unwrap(),
            format!(
                "{{\"delta\":\"0x{}\",\"intermediate\":\"TOMBSTONE\",\"snapshot\":null}}",
                "07".repeat(32)
            )
        );
        let empty = StorageRoot {
            delta: NodeMerkle::Absent,
            intermediate: NodeMerkle::Absent,
            snapshot: Some(H256::zero()),
        };
        assert_eq!(
            serde_json::to_value(empty).unwrap(),
            serde_json::json!({"delta": null, "intermediate": null, "snapshot": format!("0x{}", "00".repeat(32))})
        );
    }
}
