//! Block headers as conflux-rust sends them in `BlockHeaders` (light protocol 0x08).
//!
//! Wire order (conflux-rust `crates/primitives/src/block_header.rs`): `parent_hash, height,
//! timestamp, author, transactions_root, deferred_state_root, deferred_receipts_root,
//! deferred_logs_bloom_hash, blame, difficulty, adaptive, gas_limit, [referees], nonce`,
//! then `[pos_reference]` (an `Option<H256>` as a 0/1-item list), then
//! `[[core_base_price, espace_base_price]]`, then the `custom` items appended raw.
//!
//! The block hash is keccak of the received RLP; the PoW problem hash is keccak of the
//! same list without the nonce. Dev and test chains use a keccak "test PoW"; mainnet uses
//! Octopus (not in this module).

use ethereum_types::{H160, H256, U256};
use rlp::{DecoderError, Rlp, RlpStream};
use thiserror::Error;

use crate::{hash::keccak256, rlp_util::check_exact, rlp_util::list_at};

/// Number of items before the optional tail (the 13 fields plus the nonce).
const HEADER_MIN_ITEMS: usize = 14;
/// conflux-rust caps referees per block.
pub const MAX_REFEREES: usize = 200;
/// conflux-rust caps the total length of the custom items.
pub const MAX_CUSTOM_LEN: usize = 64;

/// Why header bytes were refused.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum HeaderError {
    /// Malformed, non-canonical or truncated RLP.
    #[error("invalid header RLP: {0}")]
    Rlp(#[from] DecoderError),
    /// A field that the protocol bounds is out of range.
    #[error("invalid header: {0}")]
    Invalid(&'static str),
    /// The nonce does not solve the PoW problem at this difficulty.
    #[error("proof of work does not meet the difficulty")]
    PowInvalid,
}

/// The CIP-1559 base prices a header carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct BasePrice {
    /// Core space base price per gas, in drip.
    pub core: U256,
    /// eSpace base price per gas, in drip.
    pub espace: U256,
}

/// A decoded, hashed block header.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BlockHeader {
    /// Parent on the tree (the pivot parent for pivot blocks).
    pub parent_hash: H256,
    /// Height in the tree = epoch number for a pivot block.
    pub height: u64,
    /// Seconds since the Unix epoch.
    pub timestamp: u64,
    /// Miner address.
    pub author: H160,
    /// Root of the simple MPT of this block's transaction hashes.
    pub transactions_root: H256,
    /// State root of epoch `height − 5` (as seen by this block).
    pub deferred_state_root: H256,
    /// Receipts root of epoch `height − 5`.
    pub deferred_receipts_root: H256,
    /// Logs bloom hash of epoch `height − 5`.
    pub deferred_logs_bloom_hash: H256,
    /// How many ancestors' deferred roots this block declares wrong.
    pub blame: u32,
    /// PoW difficulty.
    pub difficulty: U256,
    /// GHAST adaptive-weight flag.
    pub adaptive: bool,
    /// Block gas limit.
    pub gas_limit: U256,
    /// Non-parent blocks this block references.
    pub referee_hashes: Vec<H256>,
    /// PoW nonce.
    pub nonce: U256,
    /// PoS block this block refers to (from the PoS fork on).
    pub pos_reference: Option<H256>,
    /// Base prices (from CIP-1559 on).
    pub base_price: Option<BasePrice>,
    /// The custom items, each as its raw RLP item.
    pub custom: Vec<Vec<u8>>,
    pub(crate) hash: H256,
}

impl BlockHeader {
    /// Decodes one header from its wire RLP and hashes those exact bytes.
    pub fn decode(bytes: &[u8]) -> Result<BlockHeader, HeaderError> {
        let rlp = Rlp::new(bytes);
        check_exact(&rlp, bytes.len())?;
        Self::decode_rlp(&rlp)
    }

    /// Decodes a header that is one item inside a larger message.
    pub fn decode_rlp(rlp: &Rlp<'_>) -> Result<BlockHeader, HeaderError> {
        crate::rlp_util::check_well_formed(rlp.as_raw())?;
        if !rlp.is_list() {
            return Err(DecoderError::RlpExpectedToBeList.into());
        }
        let count = rlp.item_count()?;
        if count < HEADER_MIN_ITEMS {
            return Err(DecoderError::RlpIncorrectListLen.into());
        }
        let adaptive = match rlp.val_at::<u8>(10)? {
            0 => false,
            1 => true,
            _ => return Err(HeaderError::Invalid("adaptive flag is not 0 or 1")),
        };
        // conflux-rust reads the optional items positionally and falls back to "absent"
        // when an item does not have their shape; an item that has it is taken.
        let pos_reference = match rlp.at(14) {
            Ok(item) => item.as_val::<Option<H256>>().ok().flatten(),
            Err(_) => None,
        };
        let base_price = match rlp.at(15) {
            Ok(item) => decode_base_price(&item).ok().flatten(),
            Err(_) => None,
        };
        if pos_reference.is_none() && base_price.is_some() {
            // conflux-rust would drop item 14 from the re-encoding, so the hash of these
            // bytes is not the hash the network uses for this block.
            return Err(HeaderError::Invalid("base price without pos reference"));
        }
        let custom_start = HEADER_MIN_ITEMS
            + usize::from(pos_reference.is_some())
            + usize::from(base_price.is_some());
        let mut custom = Vec::with_capacity(count.saturating_sub(custom_start));
        let mut custom_len = 0;
        for i in custom_start..count {
            let item = rlp.at(i)?;
            // Content length: what the CIP-112 rule counts, and never more than the
            // raw length the older rule counted, so no valid header is refused.
            custom_len += if item.is_data() {
                item.data()?.len()
            } else {
                item.as_raw().len()
            };
            if custom_len > MAX_CUSTOM_LEN {
                return Err(HeaderError::Invalid("custom items too long"));
            }
            custom.push(item.as_raw().to_vec());
        }
        let referee_hashes: Vec<H256> = list_at(rlp, 12)?;
        if referee_hashes.len() > MAX_REFEREES {
            return Err(HeaderError::Invalid("too many referees"));
        }
        Ok(BlockHeader {
            parent_hash: rlp.val_at(0)?,
            height: rlp.val_at(1)?,
            timestamp: rlp.val_at(2)?,
            author: rlp.val_at(3)?,
            transactions_root: rlp.val_at(4)?,
            deferred_state_root: rlp.val_at(5)?,
            deferred_receipts_root: rlp.val_at(6)?,
            deferred_logs_bloom_hash: rlp.val_at(7)?,
            blame: rlp.val_at(8)?,
            difficulty: rlp.val_at(9)?,
            adaptive,
            gas_limit: rlp.val_at(11)?,
            referee_hashes,
            nonce: rlp.val_at(13)?,
            pos_reference,
            base_price,
            custom,
            hash: keccak256(rlp.as_raw()),
        })
    }

    /// The block hash (keccak of the wire RLP).
    pub fn hash(&self) -> H256 {
        self.hash
    }

    /// Recomputes the hash after the fields were set or changed by hand.
    pub fn rehash(&mut self) {
        self.hash = keccak256(self.rlp());
    }

    fn stream(&self, with_nonce: bool) -> RlpStream {
        let n = HEADER_MIN_ITEMS - usize::from(!with_nonce)
            + usize::from(self.pos_reference.is_some())
            + usize::from(self.base_price.is_some())
            + self.custom.len();
        let mut s = RlpStream::new_list(n);
        s.append(&self.parent_hash)
            .append(&self.height)
            .append(&self.timestamp)
            .append(&self.author)
            .append(&self.transactions_root)
            .append(&self.deferred_state_root)
            .append(&self.deferred_receipts_root)
            .append(&self.deferred_logs_bloom_hash)
            .append(&self.blame)
            .append(&self.difficulty)
            .append(&u8::from(self.adaptive))
            .append(&self.gas_limit)
            .append_list(&self.referee_hashes);
        if with_nonce {
            s.append(&self.nonce);
        }
        if let Some(p) = &self.pos_reference {
            s.begin_list(1).append(p);
        }
        if let Some(bp) = &self.base_price {
            s.begin_list(1)
                .begin_list(2)
                .append(&bp.core)
                .append(&bp.espace);
        }
        for item in &self.custom {
            s.append_raw(item, 1);
        }
        s
    }

    /// The header's RLP re-encoded from its fields (equal to the wire bytes it came from).
    pub fn rlp(&self) -> Vec<u8> {
        self.stream(true).out().to_vec()
    }

    /// The PoW problem hash: keccak of the header RLP without the nonce.
    pub fn problem_hash(&self) -> H256 {
        keccak256(self.stream(false).out())
    }

    /// `powQuality` of this header under test-mode PoW.
    pub fn test_pow_quality(&self) -> U256 {
        pow_quality(
            &test_pow_hash(&self.problem_hash(), &self.nonce),
            &self.nonce,
        )
    }

    /// Checks the test-mode PoW used by dev chains (`use_octopus_in_test_mode = false`).
    pub fn verify_test_pow(&self) -> Result<(), HeaderError> {
        let pow_hash = test_pow_hash(&self.problem_hash(), &self.nonce);
        if validate_pow_hash(&pow_hash, &self.nonce, &self.difficulty) {
            Ok(())
        } else {
            Err(HeaderError::PowInvalid)
        }
    }
}

fn decode_base_price(item: &Rlp<'_>) -> Result<Option<BasePrice>, DecoderError> {
    if !item.is_list() {
        return Err(DecoderError::RlpExpectedToBeList);
    }
    match item.item_count()? {
        0 => Ok(None),
        1 => {
            let inner = item.at(0)?;
            crate::rlp_util::expect_list_len(&inner, 2)?;
            Ok(Some(BasePrice {
                core: inner.val_at(0)?,
                espace: inner.val_at(1)?,
            }))
        }
        _ => Err(DecoderError::RlpIncorrectListLen),
    }
}

/// PoW quality of a pow hash: `2^256 / (pow_hash − lower_bound + 1)` (1 for the maximum),
/// what the RPC reports as `powQuality`.
pub fn pow_quality(pow_hash: &H256, nonce: &U256) -> U256 {
    let (diff, _) =
        U256::from_big_endian(pow_hash.as_bytes()).overflowing_sub(nonce_to_lower_bound(nonce));
    if diff == U256::MAX {
        U256::one()
    } else {
        // ⌊2^256 / x⌋ is the same map as difficulty → boundary.
        difficulty_to_boundary(&(diff + U256::one()))
    }
}

/// Test-mode PoW hash: `keccak(keccak(problem ‖ nonce_le32) ⊕ problem)`
/// (conflux-rust `crates/cfxcore/pow/src/lib.rs`, `PowComputer::compute`).
pub fn test_pow_hash(problem_hash: &H256, nonce: &U256) -> H256 {
    let mut buf = [0u8; 64];
    buf[..32].copy_from_slice(problem_hash.as_bytes());
    buf[32..].copy_from_slice(&nonce.to_little_endian());
    let inner = keccak256(buf);
    let mut x = [0u8; 32];
    for (i, b) in x.iter_mut().enumerate() {
        *b = inner[i] ^ problem_hash[i];
    }
    keccak256(x)
}

/// The nonce's top 128 bits with the MSB cleared: the offset a PoW hash is measured from.
pub fn nonce_to_lower_bound(nonce: &U256) -> U256 {
    let mut buf = nonce.to_big_endian();
    buf[16..].fill(0);
    buf[0] &= 0x7f;
    U256::from_big_endian(&buf)
}

/// `⌊2^256 / difficulty⌋` (U256::MAX for difficulty ≤ 1): hashes below it win.
pub fn difficulty_to_boundary(difficulty: &U256) -> U256 {
    if *difficulty <= U256::one() {
        return U256::MAX;
    }
    let (div, rem) = U256::MAX.div_mod(*difficulty);
    // 2^256 = MAX + 1: carry the +1 into the quotient when it completes a multiple.
    if rem + U256::one() == *difficulty {
        div + U256::one()
    } else {
        div
    }
}

/// `(pow_hash − lower_bound(nonce)) mod 2^256 < boundary(difficulty)`.
pub fn validate_pow_hash(pow_hash: &H256, nonce: &U256, difficulty: &U256) -> bool {
    let boundary = difficulty_to_boundary(difficulty);
    let (diff, _) =
        U256::from_big_endian(pow_hash.as_bytes()).overflowing_sub(nonce_to_lower_bound(nonce));
    diff < boundary || boundary == U256::MAX
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(height: u64, with_pos: bool, with_price: bool, custom: Vec<Vec<u8>>) -> BlockHeader {
        let mut h = BlockHeader {
            parent_hash: keccak256(b"parent"),
            height,
            timestamp: 1_700_000_000,
            author: "1000000000000000000000000000000000000001".parse().unwrap(),
            transactions_root: keccak256(b"tx"),
            deferred_state_root: keccak256(b"state"),
            deferred_receipts_root: keccak256(b"receipts"),
            deferred_logs_bloom_hash: keccak256(b"bloom"),
            blame: 0,
            difficulty: 4.into(),
            adaptive: false,
            gas_limit: 30_000_000.into(),
            referee_hashes: vec![keccak256(b"ref")],
            nonce: 0.into(),
            pos_reference: with_pos.then(|| keccak256(b"pos")),
            base_price: with_price.then(|| BasePrice {
                core: 1.into(),
                espace: 1.into(),
            }),
            custom,
            hash: H256::zero(),
        };
        h.hash = keccak256(h.rlp());
        h
    }

    #[test]
    fn decode_reencode_and_hash_round_trip_for_every_shape() {
        for (pos, price, custom) in [
            (false, false, vec![]),
            (true, false, vec![]),
            (true, true, vec![vec![0x04]]),
            (true, true, vec![vec![0x02], vec![0x83, 1, 2, 3]]),
        ] {
            let h = sample(10, pos, price, custom);
            let raw = h.rlp();
            let d = BlockHeader::decode(&raw).unwrap();
            assert_eq!(d, h);
            assert_eq!(d.hash(), keccak256(&raw));
            assert_eq!(d.rlp(), raw);
        }
    }

    #[test]
    fn problem_hash_is_the_list_without_nonce() {
        let h = sample(3, true, true, vec![vec![0x04]]);
        let rlp = Rlp::new(&h.rlp()).as_raw().to_vec();
        let r = Rlp::new(&rlp);
        let mut s = RlpStream::new_list(r.item_count().unwrap() - 1);
        for (i, item) in r.iter().enumerate() {
            if i != 13 {
                s.append_raw(item.as_raw(), 1);
            }
        }
        assert_eq!(h.problem_hash(), keccak256(s.out()));
    }

    #[test]
    fn test_pow_is_checked_against_difficulty() {
        let mut h = sample(5, true, true, vec![vec![0x04]]);
        // Difficulty 4: about one nonce in four solves it; find one, then break it.
        let solving = (0u64..1000)
            .map(U256::from)
            .find(|n| validate_pow_hash(&test_pow_hash(&h.problem_hash(), n), n, &h.difficulty))
            .unwrap();
        h.nonce = solving;
        assert_eq!(h.verify_test_pow(), Ok(()));
        h.difficulty = U256::from(u64::MAX);
        assert_eq!(h.verify_test_pow(), Err(HeaderError::PowInvalid));
    }

    #[test]
    fn boundary_math_matches_conflux() {
        assert_eq!(difficulty_to_boundary(&U256::one()), U256::MAX);
        assert_eq!(difficulty_to_boundary(&U256::from(2)), U256::one() << 255);
        assert_eq!(difficulty_to_boundary(&U256::from(3)), U256::MAX / 3);
        let nonce = U256::from_big_endian(&[0xff; 32]);
        let lb = nonce_to_lower_bound(&nonce);
        assert_eq!(lb, (U256::MAX >> 129) << 128);
    }

    #[test]
    fn malformed_headers_are_typed_errors() {
        let h = sample(10, true, true, vec![vec![0x04]]);
        let raw = h.rlp();
        assert!(BlockHeader::decode(&raw[..raw.len() - 1]).is_err());
        let mut tail = raw.clone();
        tail.push(0x80);
        assert!(BlockHeader::decode(&tail).is_err());
        assert!(BlockHeader::decode(&[0xc0]).is_err());
        assert!(BlockHeader::decode(&[0x80]).is_err());
        let mut bad = sample(10, false, false, vec![]);
        bad.adaptive = true;
        let mut raw = bad.rlp();
        // adaptive = 1 is the single byte 0x01 right after the difficulty (0x04).
        let pos = raw.windows(2).position(|w| w == [0x04, 0x01]).unwrap() + 1;
        raw[pos] = 0x02;
        assert_eq!(
            BlockHeader::decode(&raw),
            Err(HeaderError::Invalid("adaptive flag is not 0 or 1"))
        );
    }
}
