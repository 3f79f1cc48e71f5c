//! Transaction receipts and logs (conflux-rust `crates/primitives/src/receipt.rs`,
//! `log_entry.rs`).
//!
//! A receipt is a 9- or 10-item list; its two sponsor flags are `StrictBool`s encoded as
//! the raw bytes `0x00`/`0x01` (rlp 0.4 style), not `0x80`, and the outcome status is an
//! ordinary integer (0 success, 1 failure, 2 skipped).

use ethereum_types::{Bloom, BloomInput, H160, H256, U256, U64};
use rlp::{Decodable, DecoderError, Encodable, Rlp, RlpStream};

use crate::rlp_util::{append_strict_bool, expect_list_len, list_at, strict_bool};

/// Execution outcome of a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TransactionStatus {
    /// Executed successfully (RPC `outcomeStatus` 0x0).
    #[default]
    Success,
    /// Failed; nonce bumped and gas charged (0x1).
    Failure,
    /// Not executed (0x2).
    Skipped,
}

impl TransactionStatus {
    /// The numeric code used on the wire and as the core-space RPC `outcomeStatus`.
    pub fn code(self) -> u8 {
        match self {
            TransactionStatus::Success => 0,
            TransactionStatus::Failure => 1,
            TransactionStatus::Skipped => 2,
        }
    }
}

/// Which space emitted a log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Space {
    /// Core space (wire byte 1; native logs omit the field).
    #[default]
    Native,
    /// eSpace (wire byte 2).
    Ethereum,
}

/// One event log.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct LogEntry {
    /// Emitting contract.
    pub address: H160,
    /// Up to four indexed topics.
    pub topics: Vec<H256>,
    /// Unindexed data.
    pub data: Vec<u8>,
    /// Emitting space.
    pub space: Space,
}

impl LogEntry {
    /// The bloom bits of this log (address and topics).
    pub fn bloom(&self) -> Bloom {
        let mut b = Bloom::from(BloomInput::Raw(self.address.as_bytes()));
        for t in &self.topics {
            b.accrue(BloomInput::Raw(t.as_bytes()));
        }
        b
    }
}

impl Encodable for LogEntry {
    fn rlp_append(&self, s: &mut RlpStream) {
        let eth = self.space == Space::Ethereum;
        s.begin_list(if eth { 4 } else { 3 });
        s.append(&self.address)
            .append_list(&self.topics)
            .append(&self.data);
        if eth {
            s.append(&2u8);
        }
    }
}

impl Decodable for LogEntry {
    fn decode(rlp: &Rlp<'_>) -> Result<Self, DecoderError> {
        let space = match rlp.item_count()? {
            3 => Space::Native,
            4 => match rlp.val_at::<u8>(3)? {
                1 => Space::Native,
                2 => Space::Ethereum,
                _ => return Err(DecoderError::Custom("unrecognised space byte")),
            },
            _ => return Err(DecoderError::RlpIncorrectListLen),
        };
        let topics: Vec<H256> = list_at(rlp, 1)?;
        if topics.len() > 4 {
            return Err(DecoderError::Custom("log has more than 4 topics"));
        }
        Ok(LogEntry {
            address: rlp.val_at(0)?,
            topics,
            data: rlp.val_at(2)?,
            space,
        })
    }
}

/// Storage collateral change of one address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct StorageChange {
    /// Address whose collateral changed.
    pub address: H160,
    /// Collateral units (64 bytes each).
    pub collaterals: U64,
}

impl Encodable for StorageChange {
    fn rlp_append(&self, s: &mut RlpStream) {
        s.begin_list(2)
            .append(&self.address)
            .append(&self.collaterals);
    }
}

impl Decodable for StorageChange {
    fn decode(rlp: &Rlp<'_>) -> Result<Self, DecoderError> {
        expect_list_len(rlp, 2)?;
        Ok(StorageChange {
            address: rlp.val_at(0)?,
            collaterals: rlp.val_at(1)?,
        })
    }
}

/// A transaction receipt as stored and served by conflux-rust.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Receipt {
    /// Gas used by this and the preceding transactions of the block.
    pub accumulated_gas_used: U256,
    /// Fee charged, in drip.
    pub gas_fee: U256,
    /// Whether a sponsor paid the gas.
    pub gas_sponsor_paid: bool,
    /// Bloom of the logs.
    pub log_bloom: Bloom,
    /// Emitted logs.
    pub logs: Vec<LogEntry>,
    /// Outcome.
    pub outcome_status: TransactionStatus,
    /// Whether a sponsor paid the storage collateral.
    pub storage_sponsor_paid: bool,
    /// Collateral taken.
    pub storage_collateralized: Vec<StorageChange>,
    /// Collateral released.
    pub storage_released: Vec<StorageChange>,
    /// Burnt part of the fee (from CIP-1559 on).
    pub burnt_gas_fee: Option<U256>,
}

impl Encodable for Receipt {
    fn rlp_append(&self, s: &mut RlpStream) {
        s.begin_list(if self.burnt_gas_fee.is_some() { 10 } else { 9 });
        s.append(&self.accumulated_gas_used).append(&self.gas_fee);
        append_strict_bool(s, self.gas_sponsor_paid);
        s.append(&self.log_bloom)
            .append_list(&self.logs)
            .append(&self.outcome_status.code());
        append_strict_bool(s, self.storage_sponsor_paid);
        s.append_list(&self.storage_collateralized)
            .append_list(&self.storage_released);
        if let Some(b) = &self.burnt_gas_fee {
            s.append(b);
        }
    }
}

impl Decodable for Receipt {
    fn decode(rlp: &Rlp<'_>) -> Result<Self, DecoderError> {
        let n = rlp.item_count()?;
        if !(9..=10).contains(&n) {
            return Err(DecoderError::RlpIncorrectListLen);
        }
        let outcome_status = match rlp.val_at::<u8>(5)? {
            0 => TransactionStatus::Success,
            1 => TransactionStatus::Failure,
            2 => TransactionStatus::Skipped,
            _ => return Err(DecoderError::Custom("unrecognised outcome status")),
        };
        Ok(Receipt {
            accumulated_gas_used: rlp.val_at(0)?,
            gas_fee: rlp.val_at(1)?,
            gas_sponsor_paid: strict_bool(&rlp.at(2)?)?,
            log_bloom: rlp.val_at(3)?,
            logs: list_at(rlp, 4)?,
            outcome_status,
            storage_sponsor_paid: strict_bool(&rlp.at(6)?)?,
            storage_collateralized: list_at(rlp, 7)?,
            storage_released: list_at(rlp, 8)?,
            burnt_gas_fee: if n == 10 { Some(rlp.val_at(9)?) } else { None },
        })
    }
}

/// The receipts of one block in one epoch, as `Receipts` (light protocol 0x0d) carries them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct BlockReceipts {
    /// One receipt per transaction, in block order.
    pub receipts: Vec<Receipt>,
    /// The block's number in the total order.
    pub block_number: u64,
    /// Secondary reward of the block.
    pub secondary_reward: U256,
    /// Error message per transaction (empty when none).
    pub tx_execution_error_messages: Vec<String>,
}

impl Encodable for BlockReceipts {
    fn rlp_append(&self, s: &mut RlpStream) {
        s.begin_list(4)
            .append_list(&self.receipts)
            .append(&self.block_number)
            .append(&self.secondary_reward)
            .append_list::<String, String>(&self.tx_execution_error_messages);
    }
}

impl Decodable for BlockReceipts {
    fn decode(rlp: &Rlp<'_>) -> Result<Self, DecoderError> {
        expect_list_len(rlp, 4)?;
        Ok(BlockReceipts {
            receipts: list_at(rlp, 0)?,
            block_number: rlp.val_at(1)?,
            secondary_reward: rlp.val_at(2)?,
            tx_execution_error_messages: list_at(rlp, 3)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Receipt {
        let log = LogEntry {
            address: "8000000000000000000000000000000000000001".parse().unwrap(),
            topics: vec![H256::repeat_byte(7)],
            data: vec![1, 2, 3],
            space: Space::Native,
        };
        Receipt {
            accumulated_gas_used: 189_000.into(),
            gas_fee: 60_054.into(),
            gas_sponsor_paid: false,
            log_bloom: log.bloom(),
            logs: vec![log],
            outcome_status: TransactionStatus::Success,
            storage_sponsor_paid: true,
            storage_collateralized: vec![StorageChange {
                address: "1000000000000000000000000000000000000001".parse().unwrap(),
                collaterals: 64.into(),
            }],
            storage_released: vec![],
            burnt_gas_fee: Some(30_027.into()),
        }
    }

    #[test]
    fn receipt_round_trips_with_strict_bools() {
        let mut r = sample();
        for burnt in [Some(U256::from(30_027)), None] {
            r.burnt_gas_fee = burnt;
            let bytes = rlp::encode(&r);
            assert_eq!(crate::rlp_util::decode_exact::<Receipt>(&bytes).unwrap(), r);
            let list = Rlp::new(&bytes);
            assert_eq!(list.at(2).unwrap().as_raw(), &[0x00]);
            assert_eq!(list.at(6).unwrap().as_raw(), &[0x01]);
            // Success is the integer 0: the empty string 0x80.
            assert_eq!(list.at(5).unwrap().as_raw(), &[0x80]);
        }
    }

    #[test]
    fn receipt_with_rlp06_bool_is_refused() {
        let bytes = rlp::encode(&sample()).to_vec();
        let list = Rlp::new(&bytes);
        let mut s = RlpStream::new_list(10);
        for (i, item) in list.iter().enumerate() {
            if i == 2 {
                s.append(&false); // 0x80: what alloy-rlp / rlp 0.6 would write
            } else {
                s.append_raw(item.as_raw(), 1);
            }
        }
        assert!(rlp::decode::<Receipt>(&s.out()).is_err());
    }

    #[test]
    fn block_receipts_and_espace_logs_round_trip() {
        let mut r = sample();
        r.logs[0].space = Space::Ethereum;
        let br = BlockReceipts {
            receipts: vec![r.clone(), r],
            block_number: 42,
            secondary_reward: 0.into(),
            tx_execution_error_messages: vec![String::new(), "Vm reverted".into()],
        };
        let bytes = rlp::encode(&br);
        assert_eq!(rlp::decode::<BlockReceipts>(&bytes).unwrap(), br);
    }
}
