//! The Conflux core-space data model, as conflux-rust puts it on the wire and in JSON-RPC.
//!
//! Everything the node, the signer and the RPC agree on lives here: CIP-37 base32
//! addresses, native transactions (legacy, CIP-2930, CIP-1559) with their signing and
//! sender recovery, the eSpace transactions Core blocks also carry (EIP-155, 2930, 1559,
//! 7702), block headers with their hashes and test-mode PoW, Octopus (the PoW of mainnet
//! and testnet: stage caches and light verification), receipts, account values and state
//! keys, and the serde forms that mirror conflux-rust's RPC JSON.
//!
//! Decoding is strict (canonical RLP only, no trailing bytes, exact list lengths) and
//! never panics on input: every decoder returns a typed error. Byte-level facts come from
//! conflux-rust (paths are given in each module) and are pinned by test vectors.

pub mod account;
pub mod address;
pub mod crypto;
pub mod eth_transaction;
pub mod hash;
pub mod header;
pub mod mpt;
pub mod octopus;
pub mod receipt;
pub mod rlp_util;
pub mod rpc;
pub mod storage_key;
pub mod transaction;

pub use ethereum_types::{Address, Bloom, H160, H256, H512, U256, U64};
pub use hash::keccak256;
