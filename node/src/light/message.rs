//! Light protocol messages: `rlp(msg) ‖ msg_id` inside a `clp` USER packet.

use cfxlight_primitives::{
    header::BlockHeader, mpt::StorageRoot, receipt::BlockReceipts, receipt::Receipt, rlp_util,
    transaction::BlockTransaction, Bloom, H160, H256,
};
use rlp::{DecoderError, Rlp, RlpStream};

/// Message ids of `clp` v2 (conflux-rust `light_protocol/message/message.rs`).
pub mod id {
    /// `[id, [epoch…]]` → state roots.
    pub const GET_STATE_ROOTS: u8 = 0x01;
    /// State roots.
    pub const STATE_ROOTS: u8 = 0x02;
    /// `[id, [[epoch, key]…]]` → state entries with proofs.
    pub const GET_STATE_ENTRIES: u8 = 0x03;
    /// State entries.
    pub const STATE_ENTRIES: u8 = 0x04;
    /// `[id, [epoch…]]` → block hashes, flattened per epoch (pivot last).
    pub const GET_BLOCK_HASHES_BY_EPOCH: u8 = 0x05;
    /// Block hashes.
    pub const BLOCK_HASHES: u8 = 0x06;
    /// `[id, [hash…]]` → headers.
    pub const GET_BLOCK_HEADERS: u8 = 0x07;
    /// Headers.
    pub const BLOCK_HEADERS: u8 = 0x08;
    /// Pushed by the provider: `[[hash…]]`.
    pub const NEW_BLOCK_HASHES: u8 = 0x09;
    /// `[raw]`, no response.
    pub const SEND_RAW_TX: u8 = 0x0b;
    /// `[id, [epoch…]]` → the receipts of every block of each epoch.
    pub const GET_RECEIPTS: u8 = 0x0c;
    /// Receipts.
    pub const RECEIPTS: u8 = 0x0d;
    /// `[id, [height…]]` → blame witnesses.
    pub const GET_WITNESS_INFO: u8 = 0x10;
    /// Witnesses.
    pub const WITNESS_INFO: u8 = 0x11;
    /// `[id, [epoch…]]` → aggregated logs bloom per epoch.
    pub const GET_BLOOMS: u8 = 0x12;
    /// Blooms.
    pub const BLOOMS: u8 = 0x13;
    /// `[id, [block hash…]]` → each block's transactions.
    pub const GET_BLOCK_TXS: u8 = 0x14;
    /// Block transactions.
    pub const BLOCK_TXS: u8 = 0x15;
    /// `[id, [tx hash…]]` → where each transaction was executed, with proofs.
    pub const GET_TX_INFOS: u8 = 0x16;
    /// Transaction infos.
    pub const TX_INFOS: u8 = 0x17;
    /// `[[chain_id], genesis, node_type]`.
    pub const STATUS_PING_V2: u8 = 0x18;
    /// `[best_epoch, [chain_id], genesis, node_type, [terminals]]`.
    pub const STATUS_PONG_V2: u8 = 0x19;
    /// `[id, [[epoch, address]…]]` → storage roots with proofs.
    pub const GET_STORAGE_ROOTS: u8 = 0x1a;
    /// Storage roots.
    pub const STORAGE_ROOTS: u8 = 0x1b;
    /// `[msg_id, wait_nanos, Option request_id]`.
    pub const THROTTLED: u8 = 0xfe;
}

/// conflux-rust's `NodeType::Light`.
pub const NODE_TYPE_LIGHT: u8 = 2;

/// The provider's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusPong {
    /// Its best (latest mined) epoch.
    pub best_epoch: u64,
    /// Its chain id.
    pub chain_id: u32,
    /// Its genesis hash.
    pub genesis_hash: H256,
    /// 0 archive, 1 full, 2 light.
    pub node_type: u8,
    /// Its terminal block hashes.
    pub terminals: Vec<H256>,
}

/// A blame witness: the true roots for heights `height, height−1, …`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessInfo {
    /// Height of the header whose blame this explains.
    pub height: u64,
    /// State root hashes (first is for `height`).
    pub state_root_hashes: Vec<H256>,
    /// Receipts roots.
    pub receipt_hashes: Vec<H256>,
    /// Logs bloom hashes.
    pub bloom_hashes: Vec<H256>,
}

/// One state entry as the provider sent it. The proof stays raw RLP here: what it proves
/// is decided by the verifier, against roots this node verified itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateEntry {
    /// Epoch it was read at.
    pub epoch: u64,
    /// The plain state key that was asked for.
    pub key: Vec<u8>,
    /// The value the provider claims (None = absent).
    pub value: Option<Vec<u8>>,
    /// `StateEntryProof` RLP.
    pub proof: Vec<u8>,
}

/// One account's storage root as the provider sent it (conflux-rust `StorageRootWithKey`
/// `[[epoch, address], StorageRoot, StorageRootProof]`). The claimed root is decoded, the
/// proof stays raw RLP: whether it holds is decided by the verifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageRootEntry {
    /// Epoch it was read at.
    pub epoch: u64,
    /// The account.
    pub address: H160,
    /// The storage root the provider claims.
    pub root: StorageRoot,
    /// `StorageRootProof` RLP.
    pub proof: Vec<u8>,
}

/// Where a transaction was executed, with the proofs that tie it to verified roots
/// (conflux-rust `TxInfo`). Proofs stay raw RLP for the verifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxInfo {
    /// Execution epoch.
    pub epoch: u64,
    /// The transaction (of either space: the provider answers for eSpace hashes too).
    pub tx: BlockTransaction,
    /// Its position in its block, over the transactions of both spaces.
    pub tx_index: u64,
    /// Transactions in its block.
    pub num_txs: u64,
    /// Inclusion proof under the block's transactions root (`TrieProof` RLP).
    pub tx_proof: Vec<u8>,
    /// Its receipt.
    pub receipt: Receipt,
    /// Its block's index in the epoch.
    pub block_index: u64,
    /// Blocks executed in the epoch.
    pub num_blocks: u64,
    /// Proof of the block's receipts root under the epoch receipts root (`TrieProof` RLP).
    pub block_index_proof: Vec<u8>,
    /// Proof of the receipt under the block's receipts root (`TrieProof` RLP).
    pub receipt_proof: Vec<u8>,
    /// The previous receipt in the block (gas used is a difference of accumulated values).
    pub prev_receipt: Option<Receipt>,
    /// Its proof (`TrieProof` RLP).
    pub prev_receipt_proof: Option<Vec<u8>>,
}

/// One block's transactions, Core and eSpace in block order, in a BlockTxs answer (None:
/// a transaction no decoder here reads, e.g. a type newer than this build).
pub type BlockBody = (H256, Option<Vec<BlockTransaction>>);

/// A response or push from the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// StatusPongV2.
    StatusPong(StatusPong),
    /// Answer to GetBlockHashesByEpoch.
    BlockHashes {
        /// Request id.
        request_id: u64,
        /// Hashes.
        hashes: Vec<H256>,
    },
    /// Answer to GetBlockHeaders: raw header items, decoded and hashed by the caller.
    BlockHeaders {
        /// Request id.
        request_id: u64,
        /// Headers as decoded (each hashed from its received bytes).
        headers: Vec<BlockHeader>,
    },
    /// Answer to GetWitnessInfo.
    WitnessInfo {
        /// Request id.
        request_id: u64,
        /// Witnesses.
        infos: Vec<WitnessInfo>,
    },
    /// Answer to GetStateEntries.
    StateEntries {
        /// Request id.
        request_id: u64,
        /// Entries with their proofs.
        entries: Vec<StateEntry>,
    },
    /// Answer to GetStorageRoots.
    StorageRoots {
        /// Request id.
        request_id: u64,
        /// Roots with their proofs.
        roots: Vec<StorageRootEntry>,
    },
    /// Answer to GetBlockTxs: `(block hash, transactions)`; None for a block holding a
    /// transaction this build does not decode (a type it does not know), so one such
    /// block neither breaks the session nor passes for an empty one.
    BlockTxs {
        /// Request id.
        request_id: u64,
        /// Per block.
        blocks: Vec<BlockBody>,
    },
    /// Answer to GetReceipts: `(epoch, receipts per block)`.
    Receipts {
        /// Request id.
        request_id: u64,
        /// Per epoch.
        epochs: Vec<(u64, Vec<BlockReceipts>)>,
    },
    /// Answer to GetTxInfos.
    TxInfos {
        /// Request id.
        request_id: u64,
        /// Per transaction found.
        infos: Vec<TxInfo>,
    },
    /// Answer to GetBlooms: `(epoch, aggregated bloom)`.
    Blooms {
        /// Request id.
        request_id: u64,
        /// Per epoch.
        blooms: Vec<(u64, Bloom)>,
    },
    /// New blocks announced.
    NewBlockHashes(Vec<H256>),
    /// The provider asks us to slow down.
    Throttled {
        /// The message that was throttled.
        msg_id: u16,
        /// How long to wait.
        wait_nanos: u64,
        /// Which request, if one.
        request_id: Option<u64>,
    },
    /// A message we do not handle (id kept for logs).
    Other(u8),
}

/// Why a message could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MessageError {
    /// Empty payload.
    #[error("empty light-protocol message")]
    Empty,
    /// Bad RLP for this message id.
    #[error("message 0x{id:02x}: {err}")]
    Rlp {
        /// Message id.
        id: u8,
        /// RLP problem.
        err: DecoderError,
    },
    /// A header inside BlockHeaders is invalid.
    #[error("header in BlockHeaders: {0}")]
    Header(String),
}

fn with_id(id: u8, s: RlpStream) -> (Vec<u8>, u8) {
    (s.out().to_vec(), id)
}

/// StatusPingV2 `[[chain_id], genesis_hash, node_type]`.
pub fn status_ping(chain_id: u32, genesis: &H256) -> (Vec<u8>, u8) {
    let mut s = RlpStream::new_list(3);
    s.begin_list(1).append(&chain_id);
    s.append(genesis).append(&NODE_TYPE_LIGHT);
    with_id(id::STATUS_PING_V2, s)
}

fn request(request_id: u64, id: u8, items: impl Fn(&mut RlpStream)) -> (Vec<u8>, u8) {
    let mut s = RlpStream::new_list(2);
    s.append(&request_id);
    items(&mut s);
    with_id(id, s)
}

/// GetBlockHashesByEpoch `[id, [epoch…]]`.
pub fn get_block_hashes_by_epoch(request_id: u64, epochs: &[u64]) -> (Vec<u8>, u8) {
    request(request_id, id::GET_BLOCK_HASHES_BY_EPOCH, |s| {
        s.append_list(epochs);
    })
}

/// GetBlockHeaders `[id, [hash…]]`.
pub fn get_block_headers(request_id: u64, hashes: &[H256]) -> (Vec<u8>, u8) {
    request(request_id, id::GET_BLOCK_HEADERS, |s| {
        s.append_list(hashes);
    })
}

/// GetWitnessInfo `[id, [height…]]`.
pub fn get_witness_info(request_id: u64, heights: &[u64]) -> (Vec<u8>, u8) {
    request(request_id, id::GET_WITNESS_INFO, |s| {
        s.append_list(heights);
    })
}

/// GetStateEntries `[id, [[epoch, key]…]]`; a key is written as a list of byte integers
/// (it is a `Vec<u8>` under rlp-derive).
pub fn get_state_entries(request_id: u64, keys: &[(u64, Vec<u8>)]) -> (Vec<u8>, u8) {
    request(request_id, id::GET_STATE_ENTRIES, |s| {
        s.begin_list(keys.len());
        for (epoch, key) in keys {
            s.begin_list(2).append(epoch).begin_list(key.len());
            for b in key {
                s.append(b);
            }
        }
    })
}

/// GetStorageRoots `[id, [[epoch, address]…]]`: conflux-rust's `StorageRootKey` is an
/// `H160`, a 20-byte string (not a list of byte integers as a `Vec<u8>` key would be).
pub fn get_storage_roots(request_id: u64, keys: &[(u64, H160)]) -> (Vec<u8>, u8) {
    request(request_id, id::GET_STORAGE_ROOTS, |s| {
        s.begin_list(keys.len());
        for (epoch, address) in keys {
            s.begin_list(2).append(epoch).append(address);
        }
    })
}

/// GetBlockTxs `[id, [hash…]]`.
pub fn get_block_txs(request_id: u64, hashes: &[H256]) -> (Vec<u8>, u8) {
    request(request_id, id::GET_BLOCK_TXS, |s| {
        s.append_list(hashes);
    })
}

/// GetReceipts `[id, [epoch…]]`.
pub fn get_receipts(request_id: u64, epochs: &[u64]) -> (Vec<u8>, u8) {
    request(request_id, id::GET_RECEIPTS, |s| {
        s.append_list(epochs);
    })
}

/// GetTxInfos `[id, [hash…]]`.
pub fn get_tx_infos(request_id: u64, hashes: &[H256]) -> (Vec<u8>, u8) {
    request(request_id, id::GET_TX_INFOS, |s| {
        s.append_list(hashes);
    })
}

/// GetBlooms `[id, [epoch…]]`.
pub fn get_blooms(request_id: u64, epochs: &[u64]) -> (Vec<u8>, u8) {
    request(request_id, id::GET_BLOOMS, |s| {
        s.append_list(epochs);
    })
}

/// A transaction in the provider's local encoding `[tx, sender, Option<public>]`: only the
/// signed transaction is kept; the sender is recovered from the signature, never believed.
fn local_signed_tx(r: &Rlp<'_>) -> Result<BlockTransaction, DecoderError> {
    rlp_util::expect_list_len(r, 3)?;
    r.val_at(0)
}

/// A `Vec<u8>` written by rlp-derive: a list of byte integers.
fn byte_list(r: &Rlp<'_>) -> Result<Vec<u8>, DecoderError> {
    if !r.is_list() {
        return Err(DecoderError::RlpExpectedToBeList);
    }
    r.iter().map(|b| b.as_val::<u8>()).collect()
}

/// Item `i`, which must be a list (rlp 0.6 would iterate a byte string as empty).
fn list_item<'a>(r: &Rlp<'a>, i: usize) -> Result<Rlp<'a>, DecoderError> {
    let l = r.at(i)?;
    if l.is_list() {
        Ok(l)
    } else {
        Err(DecoderError::RlpExpectedToBeList)
    }
}

/// `Option<T>` as parity rlp writes it: `[]` or `[v]`; returns the inner item.
fn option_at<'a>(r: &Rlp<'a>, i: usize) -> Result<Option<Rlp<'a>>, DecoderError> {
    let o = r.at(i)?;
    if !o.is_list() {
        return Err(DecoderError::RlpExpectedToBeList);
    }
    match o.item_count()? {
        0 => Ok(None),
        1 => Ok(Some(o.at(0)?)),
        _ => Err(DecoderError::RlpIncorrectListLen),
    }
}

fn state_entry(r: &Rlp<'_>) -> Result<StateEntry, DecoderError> {
    rlp_util::expect_list_len(r, 3)?;
    let key = r.at(0)?;
    rlp_util::expect_list_len(&key, 2)?;
    Ok(StateEntry {
        epoch: key.val_at(0)?,
        key: byte_list(&key.at(1)?)?,
        value: option_at(r, 1)?.map(|v| v.as_val()).transpose()?,
        proof: r.at(2)?.as_raw().to_vec(),
    })
}

fn storage_root_entry(r: &Rlp<'_>) -> Result<StorageRootEntry, DecoderError> {
    rlp_util::expect_list_len(r, 3)?;
    let key = r.at(0)?;
    rlp_util::expect_list_len(&key, 2)?;
    Ok(StorageRootEntry {
        epoch: key.val_at(0)?,
        address: key.val_at(1)?,
        root: r.val_at(1)?,
        proof: r.at(2)?.as_raw().to_vec(),
    })
}

fn tx_info(r: &Rlp<'_>) -> Result<TxInfo, DecoderError> {
    rlp_util::expect_list_len(r, 12)?;
    Ok(TxInfo {
        epoch: r.val_at(0)?,
        tx: local_signed_tx(&r.at(1)?)?,
        tx_index: r.val_at(2)?,
        num_txs: r.val_at(3)?,
        tx_proof: r.at(4)?.as_raw().to_vec(),
        receipt: r.val_at(5)?,
        block_index: r.val_at(6)?,
        num_blocks: r.val_at(7)?,
        block_index_proof: r.at(8)?.as_raw().to_vec(),
        receipt_proof: r.at(9)?.as_raw().to_vec(),
        prev_receipt: option_at(r, 10)?.map(|v| v.as_val()).transpose()?,
        prev_receipt_proof: option_at(r, 11)?.map(|v| v.as_raw().to_vec()),
    })
}

/// SendRawTx `[raw]`. `raw` is a `Vec<u8>` under rlp-derive, so it goes as a *list of
/// byte integers*, and the provider decodes those bytes as one `TransactionWithSignature`
/// item: a legacy transaction's RLP list, or a typed one's `cfx‖type‖rlp` bytes wrapped in
/// an RLP string (conflux-protocol.md §2, ⚠ SendRawTx note). Anything else gets the
/// sender blacklisted as a sender of malformed messages.
pub fn send_raw_tx(raw: &[u8]) -> (Vec<u8>, u8) {
    let item = if raw.first().is_some_and(|b| *b >= 0xc0) {
        raw.to_vec()
    } else {
        rlp::encode(&raw).to_vec()
    };
    let mut s = RlpStream::new_list(1);
    s.begin_list(item.len());
    for b in &item {
        s.append(b);
    }
    with_id(id::SEND_RAW_TX, s)
}

/// Splits `rlp ‖ msg_id` and decodes what we understand.
pub fn decode(payload: &[u8]) -> Result<Incoming, MessageError> {
    let (&msg_id, body) = payload.split_last().ok_or(MessageError::Empty)?;
    // Ids ≥ 128 take two bytes `[msb, lsb | 0x80]`; Throttled (0xfe) is the only one here.
    let (msg_id, body) = if msg_id & 0x80 != 0 {
        let (&msb, body) = body.split_last().ok_or(MessageError::Empty)?;
        ((u16::from(msb) << 7) | u16::from(msg_id & 0x7f), body)
    } else {
        (u16::from(msg_id), body)
    };
    let short = u8::try_from(msg_id).unwrap_or(0xff);
    let err = |err| MessageError::Rlp { id: short, err };
    let r = Rlp::new(body);
    rlp_util::check_exact(&r, body.len()).map_err(err)?;
    let req = |r: &Rlp<'_>| -> Result<u64, DecoderError> {
        rlp_util::expect_list_len(r, 2)?;
        r.val_at(0)
    };
    Ok(match short {
        id::STATUS_PONG_V2 => {
            let f = || -> Result<StatusPong, DecoderError> {
                rlp_util::expect_list_len(&r, 5)?;
                let chain = r.at(1)?;
                rlp_util::expect_list_len(&chain, 1)?;
                Ok(StatusPong {
                    best_epoch: r.val_at(0)?,
                    chain_id: chain.val_at(0)?,
                    genesis_hash: r.val_at(2)?,
                    node_type: r.val_at(3)?,
                    terminals: rlp_util::list_at(&r, 4)?,
                })
            };
            Incoming::StatusPong(f().map_err(err)?)
        }
        id::BLOCK_HASHES => Incoming::BlockHashes {
            request_id: req(&r).map_err(err)?,
            hashes: rlp_util::list_at(&r, 1).map_err(err)?,
        },
        id::BLOCK_HEADERS => {
            let request_id = req(&r).map_err(err)?;
            let list = r.at(1).map_err(err)?;
            if !list.is_list() {
                return Err(err(DecoderError::RlpExpectedToBeList));
            }
            let headers = list
                .iter()
                .map(|h| {
                    BlockHeader::decode_rlp(&h).map_err(|e| MessageError::Header(e.to_string()))
                })
                .collect::<Result<_, _>>()?;
            Incoming::BlockHeaders {
                request_id,
                headers,
            }
        }
        id::WITNESS_INFO => {
            let request_id = req(&r).map_err(err)?;
            let list = r.at(1).map_err(err)?;
            let mut infos = vec![];
            for w in list.iter() {
                let f = || -> Result<WitnessInfo, DecoderError> {
                    rlp_util::expect_list_len(&w, 4)?;
                    Ok(WitnessInfo {
                        height: w.val_at(0)?,
                        state_root_hashes: rlp_util::list_at(&w, 1)?,
                        receipt_hashes: rlp_util::list_at(&w, 2)?,
                        bloom_hashes: rlp_util::list_at(&w, 3)?,
                    })
                };
                infos.push(f().map_err(err)?);
            }
            Incoming::WitnessInfo { request_id, infos }
        }
        id::STATE_ENTRIES => {
            let request_id = req(&r).map_err(err)?;
            let list = list_item(&r, 1).map_err(err)?;
            let entries = list
                .iter()
                .map(|e| state_entry(&e))
                .collect::<Result<_, _>>()
                .map_err(err)?;
            Incoming::StateEntries {
                request_id,
                entries,
            }
        }
        id::STORAGE_ROOTS => {
            let request_id = req(&r).map_err(err)?;
            let roots = list_item(&r, 1)
                .map_err(err)?
                .iter()
                .map(|e| storage_root_entry(&e))
                .collect::<Result<_, _>>()
                .map_err(err)?;
            Incoming::StorageRoots { request_id, roots }
        }
        id::BLOCK_TXS => {
            let request_id = req(&r).map_err(err)?;
            let f = || -> Result<Vec<BlockBody>, DecoderError> {
                list_item(&r, 1)?
                    .iter()
                    .map(|b| {
                        rlp_util::expect_list_len(&b, 2)?;
                        let txs = b.at(1)?;
                        if !txs.is_list() {
                            return Err(DecoderError::RlpExpectedToBeList);
                        }
                        let mut decoded = Some(Vec::new());
                        for t in txs.iter() {
                            rlp_util::expect_list_len(&t, 3)?;
                            match (t.val_at::<BlockTransaction>(0), decoded.as_mut()) {
                                (Ok(tx), Some(v)) => v.push(tx),
                                _ => decoded = None,
                            }
                        }
                        Ok((b.val_at(0)?, decoded))
                    })
                    .collect()
            };
            Incoming::BlockTxs {
                request_id,
                blocks: f().map_err(err)?,
            }
        }
        id::RECEIPTS => {
            let request_id = req(&r).map_err(err)?;
            let f = || -> Result<Vec<(u64, Vec<BlockReceipts>)>, DecoderError> {
                list_item(&r, 1)?
                    .iter()
                    .map(|e| {
                        rlp_util::expect_list_len(&e, 2)?;
                        Ok((e.val_at(0)?, rlp_util::list_at(&e, 1)?))
                    })
                    .collect()
            };
            Incoming::Receipts {
                request_id,
                epochs: f().map_err(err)?,
            }
        }
        id::TX_INFOS => {
            let request_id = req(&r).map_err(err)?;
            let infos = list_item(&r, 1)
                .map_err(err)?
                .iter()
                .map(|i| tx_info(&i))
                .collect::<Result<_, _>>()
                .map_err(err)?;
            Incoming::TxInfos { request_id, infos }
        }
        id::BLOOMS => {
            let request_id = req(&r).map_err(err)?;
            let f = || -> Result<Vec<(u64, Bloom)>, DecoderError> {
                list_item(&r, 1)?
                    .iter()
                    .map(|e| {
                        rlp_util::expect_list_len(&e, 2)?;
                        Ok((e.val_at(0)?, e.val_at(1)?))
                    })
                    .collect()
            };
            Incoming::Blooms {
                request_id,
                blooms: f().map_err(err)?,
            }
        }
        id::NEW_BLOCK_HASHES => {
            rlp_util::expect_list_len(&r, 1).map_err(err)?;
            Incoming::NewBlockHashes(rlp_util::list_at(&r, 0).map_err(err)?)
        }
        _ if msg_id == u16::from(id::THROTTLED) => {
            let f = || -> Result<Incoming, DecoderError> {
                rlp_util::expect_list_len(&r, 3)?;
                Ok(Incoming::Throttled {
                    msg_id: r.val_at(0)?,
                    wait_nanos: r.val_at(1)?,
                    request_id: r.val_at(2)?,
                })
            };
            f().map_err(err)?
        }
        other => Incoming::Other(other),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cfxlight_primitives::H160;

    #[test]
    fn requests_have_conflux_layout() {
        let (b, i) = get_block_hashes_by_epoch(1, &[1, 2, 3]);
        assert_eq!((b, i), (vec![0xc5, 0x01, 0xc3, 0x01, 0x02, 0x03], 0x05));
        let (b, i) = status_ping(2029, &H256::zero());
        assert_eq!(i, 0x18);
        let r = Rlp::new(&b);
        assert_eq!(r.at(0).unwrap().val_at::<u32>(0).unwrap(), 2029);
        assert_eq!(r.val_at::<u8>(2).unwrap(), NODE_TYPE_LIGHT);
    }

    #[test]
    fn send_raw_tx_carries_one_tx_item_as_a_list_of_byte_integers() {
        // The layout conflux-rust's provider decodes; anything else got us blacklisted.
        let bytes_of = |b: &[u8]| -> Vec<u8> {
            let r = Rlp::new(b);
            r.at(0)
                .unwrap()
                .iter()
                .map(|x| x.as_val::<u8>().unwrap())
                .collect()
        };
        let legacy = [0xc3, 0x01, 0x80, 0x81];
        let (b, id) = send_raw_tx(&legacy);
        assert_eq!(id, id::SEND_RAW_TX);
        assert_eq!(bytes_of(&b), legacy);
        let typed = b"cfx\x02\xc0".to_vec();
        let (b, _) = send_raw_tx(&typed);
        assert_eq!(bytes_of(&b), rlp::encode(&typed).to_vec());
    }

    #[test]
    fn state_entries_and_tx_infos_decode_strictly() {
        // StateEntries [id, [[[epoch, key-bytes-list], [value], proof]]]
        let mut s = RlpStream::new_list(2);
        s.append(&9u64).begin_list(1).begin_list(3);
        s.begin_list(2)
            .append(&5u64)
            .begin_list(2)
            .append(&0xabu8)
            .append(&0u8);
        s.begin_list(1).append(&vec![1u8, 2]);
        s.begin_list(0);
        let mut p = s.out().to_vec();
        p.push(id::STATE_ENTRIES);
        let Incoming::StateEntries {
            request_id,
            entries,
        } = decode(&p).unwrap()
        else {
            panic!("not StateEntries")
        };
        assert_eq!(request_id, 9);
        assert_eq!(entries[0].key, vec![0xab, 0]);
        assert_eq!(entries[0].value, Some(vec![1, 2]));
        // A byte string where the entry list belongs is refused, not read as empty.
        let mut s = RlpStream::new_list(2);
        s.append(&9u64).append(&vec![1u8]);
        let body = s.out().to_vec();
        let mut p = body.clone();
        p.push(id::STATE_ENTRIES);
        assert!(decode(&p).is_err());
        let mut p = body;
        p.push(id::TX_INFOS);
        assert!(decode(&p).is_err());
    }

    #[test]
    fn storage_roots_have_conflux_layout() {
        // GetStorageRoots [id, [[epoch, address-bytes]]]: rlp-derive writes H160 as a string.
        let a = H160::repeat_byte(0x88);
        let (b, i) = get_storage_roots(7, &[(300, a)]);
        assert_eq!(i, 0x1a);
        let mut want = vec![0xdb, 0x07, 0xd9, 0xd8, 0x82, 0x01, 0x2c, 0x94];
        want.extend_from_slice(a.as_bytes());
        assert_eq!(b, want);
        // StorageRoots [id, [[[epoch, address], [[0], [1], [h]], proof]]]
        let mut s = RlpStream::new_list(2);
        s.append(&7u64).begin_list(1).begin_list(3);
        s.begin_list(2).append(&300u64).append(&a);
        s.begin_list(3);
        s.begin_list(1).append(&0u8);
        s.begin_list(1).append(&1u8);
        s.begin_list(1).append(&H256::repeat_byte(5));
        s.begin_list(0);
        let mut p = s.out().to_vec();
        p.push(id::STORAGE_ROOTS);
        let Incoming::StorageRoots { request_id, roots } = decode(&p).unwrap() else {
            panic!("not StorageRoots")
        };
        assert_eq!(request_id, 7);
        assert_eq!((roots[0].epoch, roots[0].address), (300, a));
        assert_eq!(
            roots[0].root,
            StorageRoot {
                delta: cfxlight_primitives::mpt::NodeMerkle::Absent,
                intermediate: cfxlight_primitives::mpt::NodeMerkle::Tombstone,
                snapshot: Some(H256::repeat_byte(5)),
            }
        );
        assert_eq!(roots[0].proof, vec![0xc0]);
        // An address of 19 bytes is refused.
        let mut s = RlpStream::new_list(2);
        s.append(&7u64).begin_list(1).begin_list(3);
        s.begin_list(2).append(&300u64).append(&vec![0u8; 19]);
        s.begin_list(3);
        s.begin_list(1).append(&0u8);
        s.begin_list(1).append(&0u8);
        s.begin_list(0);
        s.begin_list(0);
        let mut p = s.out().to_vec();
        p.push(id::STORAGE_ROOTS);
        assert!(decode(&p).is_err());
    }

    #[test]
    fn a_block_with_a_transaction_we_do_not_decode_is_marked_not_dropped() {
        // [id, [[hash, [[tx, sender, []]]]]] where tx is a 9-item list that is no valid
        // eSpace transaction (v = 6).
        let mut s = RlpStream::new_list(2);
        s.append(&3u64).begin_list(1).begin_list(2);
        s.append(&H256::repeat_byte(7)).begin_list(1).begin_list(3);
        s.begin_list(9);
        for i in 0..9u8 {
            s.append(&i);
        }
        s.append(&H160::zero()).begin_list(0);
        let mut p = s.out().to_vec();
        p.push(id::BLOCK_TXS);
        let Incoming::BlockTxs { blocks, .. } = decode(&p).unwrap() else {
            panic!("not BlockTxs")
        };
        assert_eq!(blocks, vec![(H256::repeat_byte(7), None)]);
    }

    #[test]
    fn a_block_with_espace_transactions_decodes_in_block_order() {
        use cfxlight_primitives::{
            crypto,
            eth_transaction::{EthTransaction, EthTxKind},
            transaction::{Action, Transaction, TxKind},
        };
        let key = crypto::signing_key(&[5; 32]).unwrap();
        let eth = |kind| {
            BlockTransaction::Ethereum(
                EthTransaction {
                    nonce: 0.into(),
                    gas: 21000.into(),
                    action: Action::Call(H160::repeat_byte(1)),
                    value: 1.into(),
                    data: vec![],
                    kind,
                }
                .sign(&key)
                .unwrap(),
            )
        };
        let native = BlockTransaction::Native(
            Transaction {
                nonce: 0.into(),
                gas: 21000.into(),
                action: Action::Call(H160::repeat_byte(1)),
                value: 1.into(),
                storage_limit: 0,
                epoch_height: 1,
                chain_id: 2029,
                data: vec![],
                kind: TxKind::Legacy {
                    gas_price: 1.into(),
                },
            }
            .sign(&key)
            .unwrap(),
        );
        let txs = vec![
            eth(EthTxKind::Legacy {
                gas_price: 1.into(),
                chain_id: Some(2030),
            }),
            native,
            eth(EthTxKind::Eip2930 {
                chain_id: 2030,
                gas_price: 1.into(),
                access_list: vec![],
            }),
        ];
        let mut s = RlpStream::new_list(2);
        s.append(&3u64).begin_list(1).begin_list(2);
        s.append(&H256::repeat_byte(7)).begin_list(txs.len());
        for t in &txs {
            s.begin_list(3)
                .append(t)
                .append(&H160::zero())
                .begin_list(0);
        }
        let mut p = s.out().to_vec();
        p.push(id::BLOCK_TXS);
        let Incoming::BlockTxs { blocks, .. } = decode(&p).unwrap() else {
            panic!("not BlockTxs")
        };
        assert_eq!(blocks, vec![(H256::repeat_byte(7), Some(txs))]);
    }

    #[test]
    fn responses_decode_and_garbage_is_an_error() {
        let mut s = RlpStream::new_list(2);
        s.append(&7u64).append_list(&[H256::repeat_byte(1)]);
        let mut p = s.out().to_vec();
        p.push(id::BLOCK_HASHES);
        assert_eq!(
            decode(&p).unwrap(),
            Incoming::BlockHashes {
                request_id: 7,
                hashes: vec![H256::repeat_byte(1)]
            }
        );
        assert!(decode(&[]).is_err());
        assert!(decode(&[0xc1, id::BLOCK_HASHES]).is_err());
        assert!(decode(&[0x05, id::BLOCK_HEADERS]).is_err());
        assert_eq!(decode(&[0xc0, 0x7f]).unwrap(), Incoming::Other(0x7f));
    }
}
