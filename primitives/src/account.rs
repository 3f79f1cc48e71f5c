//! Account values as stored in Conflux's state trie (conflux-rust
//! `crates/primitives/src/account.rs`).
//!
//! The RLP has 5 items for a basic (user) account, 8 for a contract (with admin and
//! sponsor info) and 3 for an eSpace account; the item count tells which.

use ethereum_types::{H160, H256, U256};
use rlp::{Decodable, DecoderError, Encodable, Rlp, RlpStream};

use crate::{hash::KECCAK_EMPTY, rlp_util::expect_list_len};

/// CIP-107 storage points of a sponsored contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct StoragePoints {
    /// Points not yet used.
    pub unused: U256,
    /// Points used as collateral.
    pub used: U256,
}

/// Gas and collateral sponsorship of a contract.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct SponsorInfo {
    /// Who pays gas for calls to the contract.
    pub sponsor_for_gas: H160,
    /// Who pays storage collateral.
    pub sponsor_for_collateral: H160,
    /// Upper bound of sponsored gas cost per transaction.
    pub sponsor_gas_bound: U256,
    /// Balance left for gas sponsorship.
    pub sponsor_balance_for_gas: U256,
    /// Balance left for collateral sponsorship.
    pub sponsor_balance_for_collateral: U256,
    /// CIP-107 storage points, once introduced for this contract.
    pub storage_points: Option<StoragePoints>,
}

impl Encodable for SponsorInfo {
    fn rlp_append(&self, s: &mut RlpStream) {
        s.begin_list(if self.storage_points.is_some() { 6 } else { 5 });
        s.append(&self.sponsor_for_gas)
            .append(&self.sponsor_for_collateral)
            .append(&self.sponsor_gas_bound)
            .append(&self.sponsor_balance_for_gas)
            .append(&self.sponsor_balance_for_collateral);
        if let Some(p) = &self.storage_points {
            s.begin_list(2).append(&p.unused).append(&p.used);
        }
    }
}

impl Decodable for SponsorInfo {
    fn decode(rlp: &Rlp<'_>) -> Result<Self, DecoderError> {
        let storage_points = match rlp.item_count()? {
            5 => None,
            6 => {
                let p = rlp.at(5)?;
                expect_list_len(&p, 2)?;
                Some(StoragePoints {
                    unused: p.val_at(0)?,
                    used: p.val_at(1)?,
                })
            }
            _ => return Err(DecoderError::RlpIncorrectListLen),
        };
        Ok(SponsorInfo {
            sponsor_for_gas: rlp.val_at(0)?,
            sponsor_for_collateral: rlp.val_at(1)?,
            sponsor_gas_bound: rlp.val_at(2)?,
            sponsor_balance_for_gas: rlp.val_at(3)?,
            sponsor_balance_for_collateral: rlp.val_at(4)?,
            storage_points,
        })
    }
}

/// Which stored form an account value had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccountKind {
    /// 5 items: a core-space user account.
    Basic,
    /// 8 items: a core-space contract.
    Contract,
    /// 3 items: an eSpace account.
    Ethereum,
}

/// An account value, whichever form it was stored in (missing fields take their defaults).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Account {
    /// Stored form.
    pub kind: AccountKind,
    /// Spendable balance in drip.
    pub balance: U256,
    /// Next nonce.
    pub nonce: U256,
    /// Code hash (`KECCAK_EMPTY` without code).
    pub code_hash: H256,
    /// Balance locked in staking.
    pub staking_balance: U256,
    /// Collateral held for storage.
    pub collateral_for_storage: U256,
    /// Accumulated staking interest.
    pub accumulated_interest_return: U256,
    /// Contract admin (zero for non-contracts).
    pub admin: H160,
    /// Sponsorship (default for non-contracts).
    pub sponsor_info: SponsorInfo,
}

impl Account {
    /// Decodes a state entry value, strictly, from its RLP.
    pub fn decode_value(bytes: &[u8]) -> Result<Account, DecoderError> {
        crate::rlp_util::decode_exact(bytes)
    }
}

impl Decodable for Account {
    fn decode(rlp: &Rlp<'_>) -> Result<Self, DecoderError> {
        let zero = U256::zero();
        match rlp.item_count()? {
            5 => Ok(Account {
                kind: AccountKind::Basic,
                balance: rlp.val_at(0)?,
                nonce: rlp.val_at(1)?,
                code_hash: KECCAK_EMPTY,
                staking_balance: rlp.val_at(2)?,
                collateral_for_storage: rlp.val_at(3)?,
                accumulated_interest_return: rlp.val_at(4)?,
                admin: H160::zero(),
                sponsor_info: SponsorInfo::default(),
            }),
            8 => Ok(Account {
                kind: AccountKind::Contract,
                balance: rlp.val_at(0)?,
                nonce: rlp.val_at(1)?,
                code_hash: rlp.val_at(2)?,
                staking_balance: rlp.val_at(3)?,
                collateral_for_storage: rlp.val_at(4)?,
                accumulated_interest_return: rlp.val_at(5)?,
                admin: rlp.val_at(6)?,
                sponsor_info: rlp.val_at(7)?,
            }),
            3 => Ok(Account {
                kind: AccountKind::Ethereum,
                balance: rlp.val_at(0)?,
                nonce: rlp.val_at(1)?,
                code_hash: rlp.val_at(2)?,
                staking_balance: zero,
                collateral_for_storage: zero,
                accumulated_interest_return: zero,
                admin: H160::zero(),
                sponsor_info: SponsorInfo::default(),
            }),
            _ => Err(DecoderError::RlpIncorrectListLen),
        }
    }
}

impl Encodable for Account {
    fn rlp_append(&self, s: &mut RlpStream) {
        match self.kind {
            AccountKind::Basic => {
                s.begin_list(5)
                    .append(&self.balance)
                    .append(&self.nonce)
                    .append(&self.staking_balance)
                    .append(&self.collateral_for_storage)
                    .append(&self.accumulated_interest_return);
            }
            AccountKind::Contract => {
                s.begin_list(8)
                    .append(&self.balance)
                    .append(&self.nonce)
                    .append(&self.code_hash)
                    .append(&self.staking_balance)
                    .append(&self.collateral_for_storage)
                    .append(&self.accumulated_interest_return)
                    .append(&self.admin)
                    .append(&self.sponsor_info);
            }
            AccountKind::Ethereum => {
                s.begin_list(3)
                    .append(&self.balance)
                    .append(&self.nonce)
                    .append(&self.code_hash);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_account_form_round_trips_and_is_told_apart_by_item_count() {
        let basic = Account {
            kind: AccountKind::Basic,
            balance: U256::exp10(22),
            nonce: 3.into(),
            code_hash: KECCAK_EMPTY,
            staking_balance: 0.into(),
            collateral_for_storage: 0.into(),
            accumulated_interest_return: 0.into(),
            admin: H160::zero(),
            sponsor_info: SponsorInfo::default(),
        };
        let contract = Account {
            kind: AccountKind::Contract,
            code_hash: H256::repeat_byte(0xaa),
            admin: "1000000000000000000000000000000000000009".parse().unwrap(),
            sponsor_info: SponsorInfo {
                sponsor_gas_bound: 5.into(),
                storage_points: Some(StoragePoints {
                    unused: 1.into(),
                    used: 2.into(),
                }),
                ..SponsorInfo::default()
            },
            ..basic.clone()
        };
        let eth = Account {
            kind: AccountKind::Ethereum,
            ..basic.clone()
        };
        for (a, items) in [(basic, 5), (contract, 8), (eth, 3)] {
            let bytes = rlp::encode(&a);
            assert_eq!(Rlp::new(&bytes).item_count().unwrap(), items);
            assert_eq!(Account::decode_value(&bytes).unwrap(), a);
        }
        assert!(Account::decode_value(&[0xc1, 0x80]).is_err());
    }
}
