//! Keccak-256, the one hash function of Conflux's data model.

use ethereum_types::H256;
use sha3::{Digest, Keccak256};

/// `keccak256("")`: the code hash of an account without code and the "empty" child merkle.
pub const KECCAK_EMPTY: H256 = H256([
    0xc5, 0xd2, 0x46, 0x01, 0x86, 0xf7, 0x23, 0x3c, 0x92, 0x7e, 0x7d, 0xb2, 0xdc, 0xc7, 0x03, 0xc0,
    0xe5, 0x00, 0xb6, 0x53, 0xca, 0x82, 0x27, 0x3b, 0x7b, 0xfa, 0xd8, 0x04, 0x5d, 0x85, 0xa4, 0x70,
]);

/// Keccak-256 of `data` (the pre-standard SHA-3 that Ethereum and Conflux use).
pub fn keccak256(data: impl AsRef<[u8]>) -> H256 {
    H256(Keccak256::digest(data.as_ref()).into())
}

/// Keccak-256 of several byte slices concatenated, without building the concatenation.
pub fn keccak256_concat(parts: &[&[u8]]) -> H256 {
    let mut h = Keccak256::new();
    for p in parts {
        h.update(p);
    }
    H256(h.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_input_hashes_to_keccak_empty() {
        assert_eq!(keccak256([]), KECCAK_EMPTY);
        assert_eq!(keccak256_concat(&[b"ab", b"c"]), keccak256(b"abc"));
    }
}
