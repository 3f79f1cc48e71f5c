//! Light protocol messages: `rlp(msg) ‖ msg_id` inside a `clp` USER packet.

use cfxlight_primitives::{header::BlockHeader, rlp_util, H256};
use rlp::{DecoderError, Rlp, RlpStream};

/// Message ids of `clp` v2 (conflux-rust `light_protocol/message/message.rs`).
pub mod id {
    /// `[id, [epoch…]]` → state roots.
    pub const GET_STATE_ROOTS: u8 = 0x01;
    /// State roots.
    pub const STATE_ROOTS: u8 = 0x02;
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
    /// `[id, [height…]]` → blame witnesses.
    pub const GET_WITNESS_INFO: u8 = 0x10;
    /// Witnesses.
    pub const WITNESS_INFO: u8 = 0x11;
    /// `[[chain_id], genesis, node_type]`.
    pub const STATUS_PING_V2: u8 = 0x18;
    /// `[best_epoch, [chain_id], genesis, node_type, [terminals]]`.
    pub const STATUS_PONG_V2: u8 = 0x19;
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

/// SendRawTx `[raw]`: the provider decodes `raw` as an RLP item, so typed transactions go
/// wrapped in an RLP string (conflux-protocol.md §2, ⚠ SendRawTx note).
pub fn send_raw_tx(raw: &[u8]) -> (Vec<u8>, u8) {
    let mut s = RlpStream::new_list(1);
    if raw.first().is_some_and(|b| *b >= 0xc0) {
        s.append_raw(raw, 1);
    } else {
        s.append(&raw);
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
