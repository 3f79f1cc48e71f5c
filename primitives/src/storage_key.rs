//! State keys: how an account, a storage slot or a code blob is addressed in the state
//! (conflux-rust `crates/primitives/src/storage_key.rs`).
//!
//! The plain key is what `GetStateEntries` asks for; the delta-MPT key is what the delta
//! and intermediate tries are keyed by: the address part is prefixed by 12 bytes of
//! `keccak(padding[..12] ‖ address)`, and a storage slot by 28 bytes of
//! `keccak(padding ‖ slot)[4..]`, with `padding = keccak(snapshot_root ‖ intermediate_root)`.

use ethereum_types::{H160, H256};

use crate::hash::{keccak256, keccak256_concat};

/// Bytes of the delta-MPT address part (12 hash bytes + 20 address bytes).
pub const ACCOUNT_KEYPART_BYTES: usize = 32;
const ACCOUNT_PADDING_BYTES: usize = 12;
/// Marker inserted after the address part for eSpace keys.
pub const EVM_SPACE_TYPE: u8 = 0x81;

/// A key in Conflux's state.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StorageKey {
    /// The account value.
    Account(H160),
    /// The root of the account's storage (`addr ‖ "data"`).
    StorageRoot(H160),
    /// One storage slot (`addr ‖ "data" ‖ slot`).
    Storage {
        /// Contract address.
        address: H160,
        /// Slot key bytes (32 for EVM slots).
        key: Vec<u8>,
    },
    /// The code root (`addr ‖ "code"`).
    CodeRoot(H160),
    /// The code blob by hash (`addr ‖ "code" ‖ hash`).
    Code {
        /// Contract address.
        address: H160,
        /// Its code hash.
        code_hash: H256,
    },
    /// Staking deposit list (`addr ‖ "deposit"`).
    DepositList(H160),
    /// Staking vote list (`addr ‖ "vote"`).
    VoteList(H160),
}

impl StorageKey {
    fn parts(&self) -> (&H160, &'static [u8], &[u8]) {
        match self {
            StorageKey::Account(a) => (a, b"", &[]),
            StorageKey::StorageRoot(a) => (a, b"data", &[]),
            StorageKey::Storage { address, key } => (address, b"data", key),
            StorageKey::CodeRoot(a) => (a, b"code", &[]),
            StorageKey::Code { address, code_hash } => (address, b"code", code_hash.as_bytes()),
            StorageKey::DepositList(a) => (a, b"deposit", &[]),
            StorageKey::VoteList(a) => (a, b"vote", &[]),
        }
    }

    /// The plain key bytes (snapshot trie, `GetStateEntries`), core space.
    pub fn to_key_bytes(&self) -> Vec<u8> {
        let (addr, prefix, rest) = self.parts();
        [addr.as_bytes(), prefix, rest].concat()
    }

    /// The key in the delta/intermediate tries, under the given padding.
    pub fn to_delta_mpt_key_bytes(&self, padding: &H256) -> Vec<u8> {
        let (addr, prefix, rest) = self.parts();
        let mut out = Vec::with_capacity(ACCOUNT_KEYPART_BYTES + prefix.len() + 32 + rest.len());
        let h = keccak256_concat(&[&padding[..ACCOUNT_PADDING_BYTES], addr.as_bytes()]);
        out.extend_from_slice(&h[..ACCOUNT_PADDING_BYTES]);
        out.extend_from_slice(addr.as_bytes());
        out.extend_from_slice(prefix);
        if let StorageKey::Storage { key, .. } = self {
            let kp = keccak256_concat(&[padding.as_bytes(), key]);
            out.extend_from_slice(&kp[prefix.len()..]);
        }
        out.extend_from_slice(rest);
        out
    }
}

/// The delta-MPT key padding of a state root: `keccak(snapshot_root ‖ intermediate_delta_root)`.
pub fn delta_mpt_padding(snapshot_root: &H256, intermediate_delta_root: &H256) -> H256 {
    keccak256_concat(&[snapshot_root.as_bytes(), intermediate_delta_root.as_bytes()])
}

/// keccak of a key, exposed for callers that index caches by key hash.
pub fn key_hash(key: &StorageKey) -> H256 {
    keccak256(key.to_key_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_keys_have_conflux_layout() {
        let a: H160 = "1000000000000000000000000000000000000001".parse().unwrap();
        assert_eq!(StorageKey::Account(a).to_key_bytes(), a.as_bytes());
        let slot = StorageKey::Storage {
            address: a,
            key: vec![0u8; 32],
        }
        .to_key_bytes();
        assert_eq!(slot.len(), 20 + 4 + 32);
        assert_eq!(&slot[20..24], b"data");
        assert_eq!(&StorageKey::VoteList(a).to_key_bytes()[20..], b"vote");
        assert_eq!(&StorageKey::DepositList(a).to_key_bytes()[20..], b"deposit");
    }

    #[test]
    fn delta_keys_pad_the_address_and_the_slot() {
        let a: H160 = "1000000000000000000000000000000000000001".parse().unwrap();
        let padding = delta_mpt_padding(&H256::repeat_byte(1), &H256::repeat_byte(2));
        let acc = StorageKey::Account(a).to_delta_mpt_key_bytes(&padding);
        assert_eq!(acc.len(), 32);
        assert_eq!(&acc[12..], a.as_bytes());
        assert_eq!(
            &acc[..12],
            &keccak256_concat(&[&padding[..12], a.as_bytes()])[..12]
        );
        let slot_key = vec![7u8; 32];
        let st = StorageKey::Storage {
            address: a,
            key: slot_key.clone(),
        }
        .to_delta_mpt_key_bytes(&padding);
        assert_eq!(st.len(), 32 + 4 + 28 + 32);
        assert_eq!(&st[32..36], b"data");
        assert_eq!(
            &st[36..64],
            &keccak256_concat(&[padding.as_bytes(), &slot_key])[4..]
        );
        assert_eq!(&st[64..], &slot_key[..]);
    }
}
