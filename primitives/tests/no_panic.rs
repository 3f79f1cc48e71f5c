//! Decoders face bytes from peers and dapps: none of them may panic, whatever the input.
//!
//! Each property runs 10,000 cases: fully random bytes, and valid encodings with a few
//! bytes flipped, truncated or extended (which reach far deeper into the decoders).

#![allow(clippy::unwrap_used, missing_docs)] // a test may stop at the first surprise

use cfxlight_primitives::{
    account::Account,
    address::{self, CfxAddress},
    crypto,
    eth_transaction::EthSignedTransaction,
    header::BlockHeader,
    mpt::{self, StateEntryProof, TrieProof},
    receipt::{BlockReceipts, Receipt},
    storage_key::StorageKey,
    transaction::{Action, BlockTransaction, SignedTransaction, Transaction, TxKind},
    H256,
};
use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 10_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn valid_tx_raw(kind: u8) -> Vec<u8> {
    let key = crypto::signing_key(&[0x42; 32]).unwrap();
    let kind = match kind % 3 {
        0 => TxKind::Legacy {
            gas_price: 1.into(),
        },
        1 => TxKind::Cip2930 {
            gas_price: 1.into(),
            access_list: vec![],
        },
        _ => TxKind::Cip1559 {
            max_priority_fee_per_gas: 1.into(),
            max_fee_per_gas: 2.into(),
            access_list: vec![],
        },
    };
    Transaction {
        nonce: 7.into(),
        gas: 21000.into(),
        action: Action::Call([0x11; 20].into()),
        value: 1.into(),
        storage_limit: 0,
        epoch_height: 100,
        chain_id: 2029,
        data: vec![1, 2, 3],
        kind,
    }
    .sign(&key)
    .unwrap()
    .encode()
}

fn mutate(mut bytes: Vec<u8>, edits: &[(usize, u8)], cut: usize, extra: &[u8]) -> Vec<u8> {
    for (pos, val) in edits {
        if !bytes.is_empty() {
            let i = pos % bytes.len();
            bytes[i] ^= val;
        }
    }
    let keep = bytes.len().saturating_sub(cut % 4);
    bytes.truncate(keep);
    bytes.extend_from_slice(extra);
    bytes
}

/// Runs `check` on mutations of the samples: one sample picked at random, up to 3 bytes
/// changed, cut short and extended (`mutate`); `check` gets the sample's index, the
/// mutated bytes and how many bytes were changed.
fn for_mutations_of(samples: &[Vec<u8>], check: impl Fn(usize, &[u8], usize)) {
    let mut runner = proptest::test_runner::TestRunner::new(config());
    runner
        .run(
            &(
                0..samples.len(),
                proptest::collection::vec((any::<usize>(), 1u8..), 0..4),
                any::<usize>(),
                proptest::collection::vec(any::<u8>(), 0..3),
            ),
            |(i, edits, cut, extra)| {
                check(
                    i,
                    &mutate(samples[i].clone(), &edits, cut, &extra),
                    edits.len(),
                );
                Ok(())
            },
        )
        .unwrap();
}

fn exercise_tx(bytes: &[u8]) {
    if let Ok(tx) = SignedTransaction::decode(bytes) {
        let _ = tx.recover_sender();
        let _ = tx.tx.signing_hash();
        // What decodes must re-encode to the very same bytes (canonical form only).
        assert_eq!(tx.encode(), bytes);
    }
    let _ = rlp::decode::<SignedTransaction>(bytes);
    exercise_block_tx(bytes);
}

/// eSpace raw forms and the block form of either space.
fn exercise_block_tx(bytes: &[u8]) {
    if let Ok(tx) = EthSignedTransaction::decode(bytes) {
        let _ = tx.recover_sender();
        let _ = tx.tx.signing_hash();
        assert_eq!(tx.encode(), bytes);
    }
    if let Ok(tx) = rlp::decode::<BlockTransaction>(bytes) {
        let _ = tx.recover_sender();
        let _ = tx.encode();
    }
}

/// The eSpace transactions a real devnet took (`tests/data/espace_vectors.json`).
fn espace_raws() -> Vec<Vec<u8>> {
    let doc: serde_json::Value =
        serde_json::from_str(include_str!("data/espace_vectors.json")).unwrap();
    doc["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| hex::decode(v["raw"].as_str().unwrap().trim_start_matches("0x")).unwrap())
        .collect()
}

#[test]
fn mutated_espace_transactions_never_panic() {
    let raws = espace_raws();
    // Raw forms, and the block forms (typed ones wrapped in an RLP string).
    let mut samples = raws.clone();
    samples.extend(raws.iter().map(|r| match r[0] {
        0xc0.. => r.clone(),
        _ => rlp::encode(r).to_vec(),
    }));
    for_mutations_of(&samples, |_, bytes, _| exercise_block_tx(bytes));
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_bytes_never_panic_any_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        exercise_tx(&bytes);
        if let Ok(h) = BlockHeader::decode(&bytes) {
            let _ = h.problem_hash();
            let _ = h.verify_test_pow();
        }
        let _ = rlp::decode::<Receipt>(&bytes);
        let _ = rlp::decode::<BlockReceipts>(&bytes);
        let _ = Account::decode_value(&bytes);
        if let Ok(p) = rlp::decode::<TrieProof>(&bytes) {
            let _ = p.lookup(&bytes, &H256::repeat_byte(1));
            let _ = mpt::simple_mpt_proof_value(&p, &H256::repeat_byte(1), bytes.len() % 7, 7);
        }
        if let Ok(p) = rlp::decode::<StateEntryProof>(&bytes) {
            let _ = mpt::verify_state_entry(&StorageKey::Account([7; 20].into()), Some(&bytes), &p);
            let _ = mpt::verify_storage_root(&[7; 20].into(), &NO_STORAGE, &p);
        }
        let _ = rlp::decode::<mpt::StorageRoot>(&bytes);
        let s = String::from_utf8_lossy(&bytes);
        let _ = address::decode_raw(&s);
        let _ = s.parse::<CfxAddress>();
    }

    #[test]
    fn mutated_transactions_never_panic(
        kind in 0u8..3,
        edits in proptest::collection::vec((any::<usize>(), 1u8..), 0..4),
        cut in any::<usize>(),
        extra in proptest::collection::vec(any::<u8>(), 0..3),
    ) {
        exercise_tx(&mutate(valid_tx_raw(kind), &edits, cut, &extra));
    }

    #[test]
    fn mutated_addresses_never_panic(
        body in proptest::array::uniform20(any::<u8>()),
        network in prop_oneof![Just(1u64), Just(1029u64), 2u64..100_000],
        verbose in any::<bool>(),
        edits in proptest::collection::vec((any::<usize>(), 1u8..), 0..3),
    ) {
        let s = address::encode_raw(&body, network, verbose).unwrap();
        // An unmodified address always round-trips.
        let d = address::decode_raw(&s).unwrap();
        prop_assert_eq!(&d.bytes[..], &body[..]);
        prop_assert_eq!(d.network_id, network);
        let mutated = mutate(s.into_bytes(), &edits, 0, &[]);
        let _ = address::decode_raw(&String::from_utf8_lossy(&mutated));
    }
}

#[test]
fn mutated_headers_never_panic() {
    // A header shaped like the devnet's: pos reference, base price, custom [0x04].
    let mut s = rlp::RlpStream::new_list(17);
    s.append(&H256::repeat_byte(1))
        .append(&5u64)
        .append(&1_700_000_000u64);
    s.append(&cfxlight_primitives::H160::repeat_byte(0x10));
    for b in 2..6u8 {
        s.append(&H256::repeat_byte(b));
    }
    s.append(&0u32)
        .append(&cfxlight_primitives::U256::from(4))
        .append(&0u8);
    s.append(&cfxlight_primitives::U256::from(30_000_000));
    s.append_list(&[H256::repeat_byte(9)]);
    s.append(&cfxlight_primitives::U256::from(12345));
    s.begin_list(1).append(&H256::repeat_byte(7));
    s.begin_list(1).begin_list(2).append(&1u8).append(&1u8);
    s.append_raw(&[0x04], 1);
    let valid = s.out().to_vec();
    assert!(BlockHeader::decode(&valid).is_ok());
    for_mutations_of(&[valid], |_, bytes, _| {
        if let Ok(h) = BlockHeader::decode(bytes) {
            let _ = h.verify_test_pow();
            let _ = h.rlp();
        }
    });
}

/// Real proofs captured from a devnet node (tests/data/mpt_state_period2.json), each
/// with its key and value, as (proof RLP, key, value).
fn real_state_proofs() -> Vec<(Vec<u8>, StorageKey, Option<Vec<u8>>)> {
    let path = format!(
        "{}/tests/data/mpt_state_period2.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let unhex = |s: &str| hex::decode(s).unwrap();
    v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let address =
                cfxlight_primitives::H160::from_slice(&unhex(e["address"].as_str().unwrap()));
            let key = match e["slot"].as_str() {
                Some(slot) => StorageKey::Storage {
                    address,
                    key: unhex(slot),
                },
                None => StorageKey::Account(address),
            };
            (
                unhex(e["proof_rlp"].as_str().unwrap()),
                key,
                e["value"].as_str().map(unhex),
            )
        })
        .collect()
}

/// The storage root of an account without storage.
const NO_STORAGE: mpt::StorageRoot = mpt::StorageRoot {
    delta: mpt::NodeMerkle::Absent,
    intermediate: mpt::NodeMerkle::Absent,
    snapshot: None,
};

/// Real `StorageRootWithKey` items captured from a devnet node
/// (tests/data/mpt_storage_roots_period2.json), as (item RLP, address).
fn real_storage_root_items() -> Vec<(Vec<u8>, cfxlight_primitives::H160)> {
    let path = format!(
        "{}/tests/data/mpt_storage_roots_period2.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let unhex = |s: &str| hex::decode(s).unwrap();
    v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                unhex(e["item_rlp"].as_str().unwrap()),
                cfxlight_primitives::H160::from_slice(&unhex(e["address"].as_str().unwrap())),
            )
        })
        .collect()
}

#[test]
fn mutated_storage_roots_never_panic() {
    let items = real_storage_root_items();
    let samples: Vec<Vec<u8>> = items.iter().map(|(b, _)| b.clone()).collect();
    for_mutations_of(&samples, |i, mutated, _| {
        let address = &items[i].1;
        let r = rlp::Rlp::new(mutated);
        if cfxlight_primitives::rlp_util::check_exact(&r, mutated.len()).is_err() {
            return;
        }
        let (Ok(root), Ok(proof)) = (
            r.val_at::<mpt::StorageRoot>(1),
            r.val_at::<mpt::StorageRootProof>(2),
        ) else {
            return;
        };
        let _ = mpt::verify_storage_root(address, &root, &proof);
        let _ = mpt::verify_storage_root(address, &NO_STORAGE, &proof);
    });
}

#[test]
fn mutated_state_proofs_never_panic() {
    let proofs = real_state_proofs();
    let samples: Vec<Vec<u8>> = proofs.iter().map(|(b, _, _)| b.clone()).collect();
    for_mutations_of(&samples, |i, mutated, edits| {
        let (_, key, value) = &proofs[i];
        let Ok(p) = cfxlight_primitives::rlp_util::decode_exact::<StateEntryProof>(mutated) else {
            return;
        };
        let _ = mpt::verify_state_entry(key, value.as_deref(), &p);
        let _ = mpt::verify_state_entry(key, None, &p);
        for t in [
            &p.state_proof.delta,
            &p.state_proof.intermediate,
            &p.state_proof.snapshot,
        ]
        .into_iter()
        .flatten()
        {
            let _ = mpt::simple_mpt_proof_value(t, &p.state_root.delta_root, edits, 300);
        }
    });
}
