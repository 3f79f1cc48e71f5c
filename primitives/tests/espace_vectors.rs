//! eSpace transactions against what a real conflux-rust v3.0.2 node said of them.
//!
//! `data/espace_vectors.json` holds transactions of each eSpace type (EIP-155 legacy,
//! 2930, 1559, 7702) that cfxlight signed, with the hash and sender that the devnet's
//! `eth_getTransactionByHash` reported (written by `node/tests/espace.rs` with
//! `CFXLIGHT_WRITE_ESPACE_VECTORS`). Our decoder must give the node's hash and sender,
//! re-encode byte for byte, and refuse or re-attribute every mutation.

#![allow(clippy::unwrap_used, missing_docs)] // a test may stop at the first surprise

use cfxlight_primitives::{
    eth_transaction::EthSignedTransaction,
    transaction::{BlockTransaction, Space},
    H160, H256,
};
use serde_json::Value;

struct Vector {
    ty: u8,
    raw: Vec<u8>,
    hash: H256,
    from: H160,
    chain_id: u64,
}

fn vectors() -> Vec<Vector> {
    let doc: Value = serde_json::from_str(include_str!("data/espace_vectors.json")).unwrap();
    doc["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| Vector {
            ty: v["type"].as_u64().unwrap() as u8,
            raw: hex::decode(v["raw"].as_str().unwrap().trim_start_matches("0x")).unwrap(),
            hash: serde_json::from_value(v["hash"].clone()).unwrap(),
            from: serde_json::from_value(v["from"].clone()).unwrap(),
            chain_id: u64::from_str_radix(
                v["chainId"].as_str().unwrap().trim_start_matches("0x"),
                16,
            )
            .unwrap(),
        })
        .collect()
}

#[test]
fn every_type_decodes_to_the_real_nodes_hash_and_sender() {
    let vs = vectors();
    let mut types: Vec<u8> = vs.iter().map(|v| v.ty).collect();
    types.sort_unstable();
    assert_eq!(types, vec![0, 1, 2, 4], "one vector of each eSpace type");
    for v in &vs {
        let tx = EthSignedTransaction::decode(&v.raw).unwrap();
        assert_eq!(tx.hash(), v.hash, "type {}", v.ty);
        assert_eq!(tx.recover_sender().unwrap().0, v.from, "type {}", v.ty);
        assert_eq!(tx.tx.type_id(), v.ty);
        assert_eq!(tx.tx.chain_id().map(u64::from), Some(v.chain_id));
        assert_eq!(tx.encode(), v.raw);
        // In a block body: the bare list for legacy, an RLP string for typed ones.
        let block_form = if v.ty == 0 {
            v.raw.clone()
        } else {
            rlp::encode(&v.raw).to_vec()
        };
        let in_block: BlockTransaction = rlp::decode(&block_form).unwrap();
        assert_eq!(in_block.space(), Space::Ethereum);
        assert_eq!(in_block.hash(), v.hash);
        assert_eq!(rlp::encode(&in_block).to_vec(), block_form);
        assert_eq!(in_block.recover_sender().unwrap().0, v.from);
    }
}

#[test]
fn every_single_byte_mutation_is_refused_or_recovers_another_sender() {
    for v in vectors() {
        let mut decoded = 0;
        for i in 0..v.raw.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut m = v.raw.clone();
                m[i] ^= flip;
                if let Ok(tx) = EthSignedTransaction::decode(&m) {
                    decoded += 1;
                    assert_ne!(tx.hash(), v.hash);
                    if let Ok((from, _)) = tx.recover_sender() {
                        assert_ne!(from, v.from, "type {} byte {i}", v.ty);
                    }
                }
            }
        }
        // Truncated, extended, or behind another type byte: refused.
        for cut in 1..4 {
            assert!(EthSignedTransaction::decode(&v.raw[..v.raw.len() - cut]).is_err());
        }
        let mut long = v.raw.clone();
        long.push(0x80);
        assert!(EthSignedTransaction::decode(&long).is_err());
        if v.ty != 0 {
            for other in [1u8, 2, 4].into_iter().filter(|t| *t != v.ty) {
                let mut m = v.raw.clone();
                m[0] = other;
                assert!(
                    EthSignedTransaction::decode(&m).is_err(),
                    "{} as {other}",
                    v.ty
                );
            }
        }
        // Some mutations do decode (field bytes): those must never pass for the sender.
        assert!(decoded > 0, "type {}", v.ty);
    }
}
