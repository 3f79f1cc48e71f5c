//! Merkle proofs and roots checked against a real conflux-rust node.
//!
//! Every vector in `tests/data/mpt_*.json` was captured from a conflux-rust devnet (each
//! file's `source` says how and when): state-entry proofs from `GetStateEntries`, block
//! headers, receipts and `TxInfos` over the light protocol, transaction hashes from
//! JSON-RPC. Nothing here is computed by us and then compared with itself: each root is
//! checked against a header the node produced, and each header against its hash.

#![allow(clippy::unwrap_used, missing_docs)] // a test may stop at the first surprise

use cfxlight_primitives::{
    account::Account,
    header::BlockHeader,
    mpt::{
        block_receipts_root, epoch_receipts_root, simple_mpt_proof_value, transactions_root,
        verify_state_entry, verify_storage_root, Lookup, NodeMerkle, ProofError, StateEntryProof,
        StorageRoot, StorageRootProof, Trie, TrieProof, MERKLE_NULL_NODE,
    },
    receipt::{BlockReceipts, Receipt},
    rlp_util::decode_exact,
    storage_key::StorageKey,
    H160, H256,
};
use rlp::Rlp;
use serde::Deserialize;

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s.trim_start_matches("0x")).unwrap()
}

fn h256(s: &str) -> H256 {
    H256::from_slice(&unhex(s))
}

fn load<T: for<'de> Deserialize<'de>>(name: &str) -> T {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

// ------------------------------------------------------------------------ state entries

#[derive(Deserialize)]
struct StateVectors {
    epoch: u64,
    pivot_header_rlp: String,
    pivot_header_hash: String,
    prev_snapshot_epoch: Option<u64>,
    prev_pivot_header_rlp: Option<String>,
    entries: Vec<StateVector>,
}

impl StateVectors {
    /// The entry whose label starts with `label`.
    fn entry(&self, label: &str) -> &StateVector {
        let e = self.entries.iter().find(|e| e.label.starts_with(label));
        e.unwrap_or_else(|| panic!("no vector labelled {label}"))
    }
}

#[derive(Deserialize)]
struct StateVector {
    label: String,
    kind: String,
    address: String,
    slot: Option<String>,
    value: Option<String>,
    proof_rlp: String,
    proof_shape_delta_intermediate_snapshot: Vec<serde_json::Value>,
}

impl StateVector {
    fn key(&self) -> StorageKey {
        let address = H160::from_slice(&unhex(&self.address));
        match self.kind.as_str() {
            "account" | "contract" => StorageKey::Account(address),
            "storage" => StorageKey::Storage {
                address,
                key: unhex(self.slot.as_deref().unwrap()),
            },
            other => panic!("unknown kind {other}"),
        }
    }

    fn value(&self) -> Option<Vec<u8>> {
        self.value.as_deref().map(unhex)
    }

    fn proof(&self) -> StateEntryProof {
        decode_exact(&unhex(&self.proof_rlp)).unwrap()
    }
}

/// Which trie settles the entry, walking the tries in the order `verify_state_entry`
/// does (delta, intermediate, snapshot), each with its own key.
fn decided_by(e: &StateVector) -> Trie {
    let proof = e.proof();
    let roots = proof.state_root;
    let key = e.key();
    let value = e.value();
    let settles = |found: Lookup| match (&found, &value) {
        (Lookup::Value(v), Some(want)) => {
            assert_eq!(v, want, "{}", e.label);
            true
        }
        (Lookup::Tombstone, None) => true,
        (Lookup::Absent, _) => false,
        _ => panic!("{}: {found:?}", e.label),
    };
    if let Some(delta) = &proof.state_proof.delta {
        let k = key.to_delta_mpt_key_bytes(&roots.delta_padding());
        if settles(delta.lookup(&k, &roots.delta_root).unwrap()) {
            return Trie::Delta;
        }
    }
    if let Some(inter) = &proof.state_proof.intermediate {
        let prev = proof.prev_snapshot_state_root.unwrap();
        let k = key.to_delta_mpt_key_bytes(&prev.delta_padding());
        if settles(inter.lookup(&k, &roots.intermediate_delta_root).unwrap()) {
            return Trie::Intermediate;
        }
    }
    let snapshot = proof.state_proof.snapshot.as_ref().unwrap();
    let found = snapshot
        .lookup(&key.to_key_bytes(), &roots.snapshot_root)
        .unwrap();
    match (&found, &value) {
        (Lookup::Value(v), Some(want)) => assert_eq!(v, want),
        (Lookup::Absent, None) => {}
        _ => panic!("{}: snapshot gives {found:?}", e.label),
    }
    Trie::Snapshot
}

/// Checks one captured set of state entries: the header commitment, each entry's proof,
/// and the negative controls.
fn check_state_vectors(file: &str) -> StateVectors {
    let v: StateVectors = load(file);
    let pivot = BlockHeader::decode(&unhex(&v.pivot_header_rlp)).unwrap();
    assert_eq!(pivot.hash(), h256(&v.pivot_header_hash));
    assert_eq!(pivot.height, v.epoch + 5);
    assert_eq!(pivot.blame, 0, "the pivot header commits to epoch E itself");
    let prev_pivot = v
        .prev_pivot_header_rlp
        .as_deref()
        .map(|r| BlockHeader::decode(&unhex(r)).unwrap());

    for e in &v.entries {
        let bytes = unhex(&e.proof_rlp);
        let proof = e.proof();
        // Strict decoding loses nothing: the proof re-encodes to the node's bytes.
        assert_eq!(rlp::encode(&proof).to_vec(), bytes, "{}", e.label);
        assert_eq!(
            proof.state_root.hash(),
            pivot.deferred_state_root,
            "{}: state root not committed by header {}",
            e.label,
            pivot.height
        );
        match (
            &proof.prev_snapshot_state_root,
            &prev_pivot,
            v.prev_snapshot_epoch,
        ) {
            (None, None, None) => assert!(v.epoch <= 2000),
            (Some(prev), Some(ph), Some(pe)) => {
                assert_eq!(ph.height, pe + 5);
                assert_eq!(prev.hash(), ph.deferred_state_root, "{}", e.label);
            }
            _ => panic!(
                "{}: prev_snapshot_state_root does not match the epoch",
                e.label
            ),
        }

        let key = e.key();
        let value = e.value();
        assert_eq!(
            verify_state_entry(&key, value.as_deref(), &proof),
            Ok(()),
            "{} (shape {:?})",
            e.label,
            e.proof_shape_delta_intermediate_snapshot
        );
        negative_controls(e, &key, value.as_deref(), &proof);
    }
    v
}

fn negative_controls(
    e: &StateVector,
    key: &StorageKey,
    value: Option<&[u8]>,
    proof: &StateEntryProof,
) {
    let label = &e.label;
    match value {
        Some(value) => {
            // 1. Another value claimed with the honest proof.
            let mut other = value.to_vec();
            other[value.len() - 1] ^= 1;
            assert!(
                verify_state_entry(key, Some(&other), proof).is_err(),
                "{label}: altered entry"
            );
            // 2. Absence claimed for an existing entry.
            assert!(
                verify_state_entry(key, None, proof).is_err(),
                "{label}: absence claimed"
            );
            // 3. The lying peer: the value changed in the entry AND in the proof leaf,
            //    every claimed merkle left as it was.
            let mut forged = proof.clone();
            let trie = forged_trie(&mut forged);
            let mut nodes = trie.clone().into_nodes();
            let leaf = nodes
                .iter_mut()
                .position(|n| n.value.as_deref() == Some(value))
                .unwrap_or_else(|| panic!("{label}: no leaf holds the value"));
            nodes[leaf].value = Some(other.clone());
            *trie = TrieProof::new(nodes);
            assert!(
                matches!(
                    verify_state_entry(key, Some(&other), &forged),
                    Err(ProofError::NodeMerkleMismatch { index, .. }) if index == leaf
                ),
                "{label}: forged leaf accepted: {:?}",
                verify_state_entry(key, Some(&other), &forged)
            );
            // 4. Truncated proof: without its last node the deciding trie's walk stops.
            let mut truncated = proof.clone();
            let trie = forged_trie(&mut truncated);
            let mut nodes = trie.clone().into_nodes();
            nodes.pop();
            *trie = TrieProof::new(nodes);
            assert!(
                matches!(
                    verify_state_entry(key, Some(value), &truncated),
                    Err(ProofError::MissingNode { .. })
                ),
                "{label}: truncated proof"
            );
        }
        None => {
            // 5. A value claimed for an absent key.
            let made_up = rlp::encode_list::<u8, u8>(&[1, 2, 3]).to_vec();
            assert!(
                verify_state_entry(key, Some(&made_up), proof).is_err(),
                "{label}: value claimed"
            );
        }
    }
    // 6. The proof of a different key does not prove this entry.
    let other_key = match key {
        StorageKey::Account(a) => StorageKey::Account(H160::from_low_u64_be(a.to_low_u64_be() ^ 1)),
        StorageKey::Storage { address, key } => StorageKey::Storage {
            address: *address,
            key: key.iter().map(|b| b ^ 0x80).collect(),
        },
        other => other.clone(),
    };
    if value.is_some() {
        assert!(
            verify_state_entry(&other_key, value, proof).is_err(),
            "{label}: other key"
        );
    }
    // 7. A delta root the proof does not hash to.
    let mut moved = proof.clone();
    moved.state_root.delta_root = H256::repeat_byte(0x5a);
    assert!(
        verify_state_entry(key, value, &moved).is_err(),
        "{label}: other delta root"
    );
}

/// The trie proof a forgery has to touch: the one the node says decides.
fn forged_trie(proof: &mut StateEntryProof) -> &mut TrieProof {
    let p = &mut proof.state_proof;
    match (&p.delta, &p.intermediate, &p.snapshot) {
        (Some(_), None, None) => p.delta.as_mut().unwrap(),
        (_, Some(_), None) => p.intermediate.as_mut().unwrap(),
        _ => p.snapshot.as_mut().unwrap(),
    }
}

#[test]
fn young_chain_state_entries_verify() {
    let v = check_state_vectors("mpt_state_young.json");
    // In the first snapshot period only the delta trie has content: present entries are
    // settled there, absent ones fall through to the (empty) snapshot trie.
    for e in &v.entries {
        let proof = e.proof();
        assert_eq!(proof.state_root.snapshot_root, MERKLE_NULL_NODE);
        assert_eq!(proof.state_root.intermediate_delta_root, MERKLE_NULL_NODE);
        let want = if e.value.is_some() {
            Trie::Delta
        } else {
            Trie::Snapshot
        };
        assert_eq!(decided_by(e), want, "{}", e.label);
    }
    // The kinds of entry covered, with what the node said they hold.
    let by_label = |p: &str| v.entry(p);
    let genesis = by_label("genesis account of secret 0x11");
    assert_eq!(
        Account::decode_value(&genesis.value().unwrap())
            .unwrap()
            .balance,
        cfxlight_primitives::U256::exp10(22)
    );
    assert_eq!(by_label("address nobody owns").value, None);
    assert_eq!(by_label("storage slot 1").value, None);
    let contract = Account::decode_value(&by_label("contract").value().unwrap()).unwrap();
    assert_eq!(
        contract.kind,
        cfxlight_primitives::account::AccountKind::Contract
    );
    // A storage entry is [value, owner]; the constructor stored 42.
    let slot0 = by_label("storage slot 0").value().unwrap();
    assert_eq!(Rlp::new(&slot0).val_at::<u64>(0).unwrap(), 42);
}

#[test]
fn second_period_entries_verify_in_delta_and_intermediate_tries() {
    let v = check_state_vectors("mpt_state_period2.json");
    assert!(v.epoch > 2000 && v.epoch <= 4000);
    let by_label = |p: &str| v.entry(p);
    // The helper account sent a transaction in this period, so the delta trie has it;
    // the contract, its slot and sender 0 were last written before epoch 2000.
    assert_eq!(decided_by(by_label("helper account")), Trie::Delta);
    for p in [
        "contract",
        "storage slot 0",
        "sender 0",
        "genesis account of secret 0x33",
    ] {
        assert_eq!(decided_by(by_label(p)), Trie::Intermediate, "{p}");
    }
    for p in ["address nobody owns", "storage slot 1"] {
        assert_eq!(decided_by(by_label(p)), Trie::Snapshot, "{p}");
    }
    for e in &v.entries {
        let proof = e.proof();
        assert_eq!(
            proof.state_root.snapshot_root, MERKLE_NULL_NODE,
            "no snapshot yet"
        );
        assert_ne!(proof.state_root.intermediate_delta_root, MERKLE_NULL_NODE);
        if proof.state_proof.intermediate.is_none() {
            continue;
        }
        let key = e.key();
        let value = e.value();
        // The intermediate trie is keyed with the previous period's padding, which only
        // prev_snapshot_state_root gives.
        let mut no_prev = proof.clone();
        no_prev.prev_snapshot_state_root = None;
        assert_eq!(
            verify_state_entry(&key, value.as_deref(), &no_prev),
            Err(ProofError::MissingPrevSnapshotRoot),
            "{}",
            e.label
        );
        let mut no_intermediate = proof.clone();
        no_intermediate.state_proof.intermediate = None;
        assert_eq!(
            verify_state_entry(&key, value.as_deref(), &no_intermediate),
            Err(ProofError::MissingTrieProof {
                trie: Trie::Intermediate
            }),
            "{}",
            e.label
        );
        if value.is_some() {
            let mut wrong_padding = proof.clone();
            wrong_padding.prev_snapshot_state_root = Some(proof.state_root);
            assert!(
                verify_state_entry(&key, value.as_deref(), &wrong_padding).is_err(),
                "{}",
                e.label
            );
        }
    }
}

#[test]
fn third_period_entries_verify_in_all_three_tries() {
    let v = check_state_vectors("mpt_state_period3.json");
    assert!(v.epoch > 4000 && v.epoch <= 6000);
    let by_label = |p: &str| v.entry(p);
    // The helper's transaction of period 2 now sits in the intermediate trie; what was
    // last written before epoch 2000 has moved into the snapshot.
    assert_eq!(decided_by(by_label("helper account")), Trie::Intermediate);
    for p in [
        "contract",
        "storage slot 0",
        "sender 0",
        "genesis account of secret 0x33",
    ] {
        assert_eq!(decided_by(by_label(p)), Trie::Snapshot, "{p}");
    }
    for p in ["address nobody owns", "storage slot 1"] {
        assert_eq!(decided_by(by_label(p)), Trie::Snapshot, "{p}");
        assert_eq!(by_label(p).value, None);
    }
    for e in &v.entries {
        let proof = e.proof();
        assert_ne!(
            proof.state_root.snapshot_root, MERKLE_NULL_NODE,
            "{}",
            e.label
        );
        if decided_by(e) == Trie::Snapshot {
            let mut no_snapshot = proof.clone();
            no_snapshot.state_proof.snapshot = None;
            assert_eq!(
                verify_state_entry(&e.key(), e.value().as_deref(), &no_snapshot),
                Err(ProofError::MissingSnapshotProof),
                "{}",
                e.label
            );
        }
    }
}

// ------------------------------------------------------------------------ storage roots

#[derive(Deserialize)]
struct StorageRootVectors {
    epoch: u64,
    pivot_header_rlp: String,
    pivot_header_hash: String,
    prev_snapshot_epoch: Option<u64>,
    prev_pivot_header_rlp: Option<String>,
    entries: Vec<StorageRootVector>,
}

#[derive(Deserialize)]
struct StorageRootVector {
    label: String,
    address: String,
    item_rlp: String,
    proof_shape_delta_intermediate_snapshot: Vec<serde_json::Value>,
    /// The full node's `cfx_getStorageRoot(address, epoch)`.
    rpc: serde_json::Value,
}

/// One `StorageRootWithKey` item `[[epoch, address], StorageRoot, StorageRootProof]` as the
/// node sent it, decoded strictly; both parts must re-encode to the node's bytes.
fn decode_storage_root_item(e: &StorageRootVector) -> (u64, H160, StorageRoot, StorageRootProof) {
    let bytes = unhex(&e.item_rlp);
    let r = Rlp::new(&bytes);
    cfxlight_primitives::rlp_util::check_exact(&r, bytes.len()).unwrap();
    assert_eq!(r.item_count().unwrap(), 3, "{}", e.label);
    let key = r.at(0).unwrap();
    assert_eq!(key.item_count().unwrap(), 2);
    let root_bytes = r.at(1).unwrap().as_raw();
    let proof_bytes = r.at(2).unwrap().as_raw();
    let root: StorageRoot = decode_exact(root_bytes).unwrap();
    let proof: StorageRootProof = decode_exact(proof_bytes).unwrap();
    assert_eq!(rlp::encode(&root).to_vec(), root_bytes, "{}", e.label);
    assert_eq!(rlp::encode(&proof).to_vec(), proof_bytes, "{}", e.label);
    (key.val_at(0).unwrap(), key.val_at(1).unwrap(), root, proof)
}

/// Checks one captured set of storage roots: the header commitments, that each claimed
/// root is what the full node's JSON-RPC says, that its proof verifies, and the negative
/// controls.
impl StorageRootVectors {
    /// The decoded item whose label starts with `label`.
    fn item(&self, label: &str) -> (u64, H160, StorageRoot, StorageRootProof) {
        let e = self.entries.iter().find(|e| e.label.starts_with(label));
        decode_storage_root_item(e.unwrap_or_else(|| panic!("no vector labelled {label}")))
    }
}

fn check_storage_root_vectors(file: &str) -> StorageRootVectors {
    let v: StorageRootVectors = load(file);
    let pivot = BlockHeader::decode(&unhex(&v.pivot_header_rlp)).unwrap();
    assert_eq!(pivot.hash(), h256(&v.pivot_header_hash));
    assert_eq!(pivot.height, v.epoch + 5);
    assert_eq!(pivot.blame, 0, "the pivot header commits to epoch E itself");
    let prev_pivot = v
        .prev_pivot_header_rlp
        .as_deref()
        .map(|r| BlockHeader::decode(&unhex(r)).unwrap());
    for e in &v.entries {
        let (epoch, address, root, proof) = decode_storage_root_item(e);
        let label = &e.label;
        assert_eq!(epoch, v.epoch, "{label}");
        assert_eq!(address, H160::from_slice(&unhex(&e.address)), "{label}");
        // Our JSON of the claim is the full node's answer, byte for byte.
        assert_eq!(serde_json::to_value(root).unwrap(), e.rpc, "{label}");
        assert_eq!(
            proof.state_root.hash(),
            pivot.deferred_state_root,
            "{label}: state root not committed by header {}",
            pivot.height
        );
        match (
            &proof.prev_snapshot_state_root,
            &prev_pivot,
            v.prev_snapshot_epoch,
        ) {
            (None, None, None) => assert!(v.epoch <= 2000),
            (Some(prev), Some(ph), Some(pe)) => {
                assert_eq!(ph.height, pe + 5);
                assert_eq!(prev.hash(), ph.deferred_state_root, "{label}");
            }
            _ => panic!("{label}: prev_snapshot_state_root does not match the epoch"),
        }
        assert_eq!(
            verify_storage_root(&address, &root, &proof),
            Ok(()),
            "{label} (shape {:?})",
            e.proof_shape_delta_intermediate_snapshot
        );
        storage_root_negative_controls(label, address, &root, &proof);
    }
    v
}

/// Every way to claim another root with the node's proof must fail.
fn storage_root_negative_controls(
    label: &str,
    address: H160,
    root: &StorageRoot,
    proof: &StorageRootProof,
) {
    let refused = |claim: &StorageRoot, proof: &StorageRootProof, what: &str| -> ProofError {
        match verify_storage_root(&address, claim, proof) {
            Err(e) => e,
            Ok(()) => panic!("{label}: {what} accepted"),
        }
    };
    let flip = |h: &H256| H256::from_low_u64_be(h.to_low_u64_be() ^ 1);
    let others = |part: &NodeMerkle| match part {
        NodeMerkle::Node(h) => vec![
            NodeMerkle::Node(flip(h)),
            NodeMerkle::Absent,
            NodeMerkle::Tombstone,
        ],
        _ => vec![
            NodeMerkle::Node(H256::repeat_byte(0x5a)),
            NodeMerkle::Tombstone,
        ],
    };
    // 1. Each part changed alone.
    for other in others(&root.delta) {
        refused(
            &StorageRoot {
                delta: other,
                ..*root
            },
            proof,
            "another delta part",
        );
    }
    for other in others(&root.intermediate) {
        refused(
            &StorageRoot {
                intermediate: other,
                ..*root
            },
            proof,
            "another intermediate part",
        );
    }
    let snapshot = match root.snapshot {
        Some(h) => vec![Some(flip(&h)), None],
        None => vec![Some(H256::repeat_byte(0x5a))],
    };
    for other in snapshot {
        refused(
            &StorageRoot {
                snapshot: other,
                ..*root
            },
            proof,
            "another snapshot part",
        );
    }
    // 2. A root the proof does not hash to.
    let mut moved = proof.clone();
    moved.state_root.delta_root = H256::repeat_byte(0x5a);
    refused(root, &moved, "another delta root");
    // 3. For a root with a node: the same root for another address; the node at the key
    //    changed with the claim made to match and every claimed merkle left as it was
    //    (only re-hashing catches it); and the proof without that node.
    let tries = [
        (root.delta, proof.state_proof.delta.as_ref(), 0),
        (
            root.intermediate,
            proof.state_proof.intermediate.as_ref(),
            1,
        ),
        (
            NodeMerkle::from(root.snapshot),
            proof.state_proof.snapshot.as_ref(),
            2,
        ),
    ];
    for (part, trie, which) in tries {
        let (NodeMerkle::Node(h), Some(trie)) = (part, trie) else {
            continue;
        };
        let other = H160::from_low_u64_be(address.to_low_u64_be() ^ 1);
        assert!(
            verify_storage_root(&other, root, proof).is_err(),
            "{label}: another address"
        );
        let mut nodes = trie.clone().into_nodes();
        let at = nodes
            .iter()
            .position(|n| n.node_merkle() == h)
            .unwrap_or_else(|| panic!("{label}: no proof node hashes to the claimed part"));
        let mut forged = nodes.clone();
        match &mut forged[at].value {
            Some(v) if !v.is_empty() => v[0] ^= 1,
            _ => {
                let children = forged[at].children.as_mut().unwrap();
                let slot = children
                    .iter_mut()
                    .find(|c| **c != MERKLE_NULL_NODE)
                    .unwrap();
                *slot = flip(slot);
            }
        }
        let forged_merkle = forged[at].node_merkle();
        let mut forged_proof = proof.clone();
        let mut forged_root = *root;
        let set = |p: &mut StorageRootProof, t: Vec<cfxlight_primitives::mpt::ProofNode>| {
            let t = Some(TrieProof::new(t));
            match which {
                0 => p.state_proof.delta = t,
                1 => p.state_proof.intermediate = t,
                _ => p.state_proof.snapshot = t,
            }
        };
        set(&mut forged_proof, forged);
        match which {
            0 => forged_root.delta = NodeMerkle::Node(forged_merkle),
            1 => forged_root.intermediate = NodeMerkle::Node(forged_merkle),
            _ => forged_root.snapshot = Some(forged_merkle),
        }
        assert!(
            matches!(
                refused(&forged_root, &forged_proof, "a forged node"),
                ProofError::NodeMerkleMismatch { index, .. } if index == at
            ),
            "{label}: forged node"
        );
        let mut truncated = proof.clone();
        nodes.remove(at);
        set(&mut truncated, nodes);
        assert!(
            matches!(
                refused(root, &truncated, "a proof without the node"),
                ProofError::MissingNode { .. }
            ),
            "{label}: truncated proof"
        );
    }
}

#[test]
fn young_chain_storage_roots_verify() {
    let v = check_storage_root_vectors("mpt_storage_roots_young.json");
    let by_label = |p: &str| v.item(p).2;
    // In the first period only the delta trie has content.
    for p in [
        "internal staking",
        "internal sponsor",
        "internal AdminControl",
    ] {
        let root = by_label(p);
        assert!(matches!(root.delta, NodeMerkle::Node(_)), "{p}");
        assert_eq!(root.intermediate, NodeMerkle::Absent, "{p}");
        assert_eq!(root.snapshot, None, "{p}");
    }
    // A contract without slots: its storage root is the leaf holding only the storage
    // layout value conflux-rust writes at the storage-root key ([0, 0], regular v0).
    let layout_leaf = cfxlight_primitives::mpt::ProofNode {
        value: Some(vec![0, 0]),
        ..Default::default()
    };
    assert_eq!(
        by_label("internal AdminControl").delta,
        NodeMerkle::Node(layout_leaf.node_merkle())
    );
    // An account without storage, and one that does not exist: nothing in any trie.
    let nothing = StorageRoot {
        delta: NodeMerkle::Absent,
        intermediate: NodeMerkle::Absent,
        snapshot: None,
    };
    assert_eq!(by_label("genesis account of secret 0x11"), nothing);
    assert_eq!(by_label("address nobody owns"), nothing);
}

#[test]
fn second_period_storage_roots_verify_in_delta_and_intermediate_tries() {
    let v = check_storage_root_vectors("mpt_storage_roots_period2.json");
    assert!(v.epoch > 2000 && v.epoch <= 4000);
    let by_label = |p: &str| v.item(p);
    // Storage last written in the first period now lives in the intermediate trie (the
    // previous period's delta trie, keyed with that period's padding); the staking
    // contract's, written every block, is in both.
    let (_, _, staking, proof) = by_label("internal staking");
    assert!(matches!(staking.delta, NodeMerkle::Node(_)));
    assert!(matches!(staking.intermediate, NodeMerkle::Node(_)));
    assert_ne!(staking.delta, staking.intermediate);
    assert_ne!(proof.state_root.intermediate_delta_root, MERKLE_NULL_NODE);
    assert!(proof.prev_snapshot_state_root.is_some());
    for p in [
        "internal sponsor",
        "internal AdminControl",
        "contract deployed by scripts/rpc-diff",
    ] {
        let (_, _, root, _) = by_label(p);
        assert_eq!(root.delta, NodeMerkle::Absent, "{p}");
        assert!(matches!(root.intermediate, NodeMerkle::Node(_)), "{p}");
        assert_eq!(root.snapshot, None, "{p}");
    }
    // The intermediate trie holds what the first period's delta trie held: AdminControl's
    // layout-only root is the same node as in the young chain's delta trie.
    let young: StorageRootVectors = load("mpt_storage_roots_young.json");
    let young_admin = young.item("internal AdminControl").2;
    assert_eq!(
        by_label("internal AdminControl").2.intermediate,
        young_admin.delta
    );
    // The intermediate part needs the previous period's padding: without the previous
    // state root the proof cannot be walked, and with another root's padding it fails.
    let (_, address, root, proof) = by_label("contract deployed by scripts/rpc-diff");
    let mut no_prev = proof.clone();
    no_prev.prev_snapshot_state_root = None;
    assert_eq!(
        verify_storage_root(&address, &root, &no_prev),
        Err(ProofError::MissingPrevSnapshotRoot)
    );
    let mut wrong_prev = proof.clone();
    wrong_prev.prev_snapshot_state_root = Some(proof.state_root);
    assert!(verify_storage_root(&address, &root, &wrong_prev).is_err());
    let nothing = StorageRoot {
        delta: NodeMerkle::Absent,
        intermediate: NodeMerkle::Absent,
        snapshot: None,
    };
    assert_eq!(by_label("genesis account of secret 0x11").2, nothing);
    assert_eq!(by_label("address nobody owns").2, nothing);
}

#[test]
fn third_period_storage_roots_verify_in_all_three_tries() {
    let v = check_storage_root_vectors("mpt_storage_roots_period3.json");
    assert!(v.epoch > 4000 && v.epoch <= 6000);
    let by_label = |p: &str| v.item(p);
    // Written every block: a node in each trie, each a different one.
    let (_, _, staking, proof) = by_label("internal staking");
    let NodeMerkle::Node(delta) = staking.delta else {
        panic!("staking: no delta node")
    };
    let NodeMerkle::Node(intermediate) = staking.intermediate else {
        panic!("staking: no intermediate node")
    };
    let snapshot = staking.snapshot.unwrap();
    assert!(delta != intermediate && intermediate != snapshot && delta != snapshot);
    assert_ne!(proof.state_root.snapshot_root, MERKLE_NULL_NODE);
    // Last written before epoch 2000: only in the snapshot trie.
    for p in [
        "internal sponsor",
        "internal AdminControl",
        "contract deployed by scripts/rpc-diff",
    ] {
        let (_, _, root, _) = by_label(p);
        assert_eq!(root.delta, NodeMerkle::Absent, "{p}");
        assert_eq!(root.intermediate, NodeMerkle::Absent, "{p}");
        assert!(root.snapshot.is_some(), "{p}");
    }
    // A layout-only storage root hashes the same in every trie; a root with slots does
    // not, since the snapshot trie keys the slots raw and the delta tries padded.
    let young: StorageRootVectors = load("mpt_storage_roots_young.json");
    let young_root = |p: &str| young.item(p).2;
    assert_eq!(
        NodeMerkle::from(by_label("internal AdminControl").2.snapshot),
        young_root("internal AdminControl").delta
    );
    assert_ne!(
        NodeMerkle::from(by_label("internal sponsor").2.snapshot),
        young_root("internal sponsor").delta
    );
    // The snapshot part is looked up under the raw key: the padded (delta) key misses it.
    let (_, address, root, proof) = by_label("contract deployed by scripts/rpc-diff");
    let snapshot = proof.state_proof.snapshot.as_ref().unwrap();
    let raw = cfxlight_primitives::storage_key::StorageKey::StorageRoot(address);
    assert_eq!(
        snapshot.node_merkle_at(&raw.to_key_bytes(), &proof.state_root.snapshot_root),
        Ok(NodeMerkle::from(root.snapshot))
    );
    let padded = raw.to_delta_mpt_key_bytes(&proof.state_root.delta_padding());
    assert_ne!(
        snapshot.node_merkle_at(&padded, &proof.state_root.snapshot_root),
        Ok(NodeMerkle::from(root.snapshot))
    );
    let nothing = StorageRoot {
        delta: NodeMerkle::Absent,
        intermediate: NodeMerkle::Absent,
        snapshot: None,
    };
    assert_eq!(by_label("genesis account of secret 0x11").2, nothing);
    assert_eq!(by_label("address nobody owns").2, nothing);
}

// ------------------------------------------------------------------------ simple MPT roots

#[derive(Deserialize)]
struct BlockVectors {
    blocks: Vec<BlockVector>,
    epochs: Vec<EpochVector>,
    tx_infos: Vec<TxInfoVector>,
}

#[derive(Deserialize)]
struct BlockVector {
    hash: String,
    epoch: u64,
    transactions_root_rpc: String,
    tx_hashes: Vec<String>,
    header_rlp: String,
}

#[derive(Deserialize)]
struct EpochVector {
    epoch: u64,
    block_hashes: Vec<String>,
    block_receipts_rlp: Vec<String>,
    pivot_plus5_header_rlp: String,
    deferred_receipts_root_rpc: String,
}

#[derive(Deserialize)]
struct TxInfoVector {
    tx_hash: String,
    tx_info_rlp: String,
}

impl EpochVector {
    fn receipts(&self) -> Vec<BlockReceipts> {
        self.block_receipts_rlp
            .iter()
            .map(|r| {
                let bytes = unhex(r);
                let br: BlockReceipts = decode_exact(&bytes).unwrap();
                // Re-encoding gives the node's bytes: the receipts hash as the node's do.
                assert_eq!(rlp::encode(&br).to_vec(), bytes);
                br
            })
            .collect()
    }

    fn pivot_plus5(&self) -> BlockHeader {
        let h = BlockHeader::decode(&unhex(&self.pivot_plus5_header_rlp)).unwrap();
        assert_eq!(h.height, self.epoch + 5);
        assert_eq!(h.blame, 0);
        h
    }
}

#[test]
fn transactions_roots_match_real_blocks() {
    let v: BlockVectors = load("mpt_blocks.json");
    let mut counts = vec![];
    for b in &v.blocks {
        let header = BlockHeader::decode(&unhex(&b.header_rlp)).unwrap();
        assert_eq!(header.hash(), h256(&b.hash));
        assert_eq!(header.height, b.epoch);
        assert_eq!(header.transactions_root, h256(&b.transactions_root_rpc));
        let hashes: Vec<H256> = b.tx_hashes.iter().map(|s| h256(s)).collect();
        assert_eq!(
            transactions_root(&hashes),
            header.transactions_root,
            "block with {} txs",
            hashes.len()
        );
        counts.push(hashes.len());
    }
    // Empty (root = NULL), one leaf under a removed root, one nibble level (3, ≤ 16),
    // two nibble levels (20, 22, 50), and two-byte keys (272 = 0x110: the root is
    // removed again and a path ends on a half byte).
    assert_eq!(counts, vec![0, 1, 3, 20, 22, 50, 272]);
    assert_eq!(transactions_root(&[]), MERKLE_NULL_NODE);
    // The same hashes in another order give another root.
    let big = v.blocks.last().unwrap();
    let mut swapped: Vec<H256> = big.tx_hashes.iter().map(|s| h256(s)).collect();
    swapped.swap(0, 271);
    assert_ne!(
        transactions_root(&swapped),
        h256(&big.transactions_root_rpc)
    );
}

#[test]
fn receipts_roots_match_real_headers() {
    let v: BlockVectors = load("mpt_blocks.json");
    for e in &v.epochs {
        let pivot5 = e.pivot_plus5();
        assert_eq!(
            pivot5.deferred_receipts_root,
            h256(&e.deferred_receipts_root_rpc)
        );
        let receipts = e.receipts();
        assert_eq!(receipts.len(), e.block_hashes.len());
        let roots: Vec<H256> = receipts
            .iter()
            .map(|br| block_receipts_root(&br.receipts))
            .collect();
        assert_eq!(
            epoch_receipts_root(&roots),
            pivot5.deferred_receipts_root,
            "epoch {} ({} receipts)",
            e.epoch,
            receipts.iter().map(|b| b.receipts.len()).sum::<usize>()
        );
    }
}

/// The fields of a `TxInfo` that carry proofs (conflux-rust `light_protocol/message/protocol.rs`).
struct TxInfo {
    tx_index: usize,
    num_txs: usize,
    tx_proof: TrieProof,
    receipt: Receipt,
    block_index: usize,
    num_blocks: usize,
    block_index_proof: TrieProof,
    receipt_proof: TrieProof,
    prev_receipt: Option<(Receipt, TrieProof)>,
}

fn decode_tx_info(bytes: &[u8]) -> TxInfo {
    let r = Rlp::new(bytes);
    assert_eq!(r.item_count().unwrap(), 12);
    let prev = |i: usize| -> Option<Rlp<'_>> {
        let o = r.at(i).unwrap();
        (o.item_count().unwrap() == 1).then(|| o.at(0).unwrap())
    };
    let proof = |x: Rlp<'_>| -> TrieProof { decode_exact(x.as_raw()).unwrap() };
    TxInfo {
        tx_index: r.val_at(2).unwrap(),
        num_txs: r.val_at(3).unwrap(),
        tx_proof: proof(r.at(4).unwrap()),
        receipt: r.val_at(5).unwrap(),
        block_index: r.val_at(6).unwrap(),
        num_blocks: r.val_at(7).unwrap(),
        block_index_proof: proof(r.at(8).unwrap()),
        receipt_proof: proof(r.at(9).unwrap()),
        prev_receipt: prev(10).map(|rc| (rc.as_val().unwrap(), proof(prev(11).unwrap()))),
    }
}

#[test]
fn tx_info_inclusion_proofs_verify() {
    let v: BlockVectors = load("mpt_blocks.json");
    let mut seen = vec![];
    for t in &v.tx_infos {
        let info = decode_tx_info(&unhex(&t.tx_info_rlp));
        let block = v
            .blocks
            .iter()
            .find(|b| b.tx_hashes.contains(&t.tx_hash))
            .unwrap();
        let header = BlockHeader::decode(&unhex(&block.header_rlp)).unwrap();
        let epoch = v.epochs.iter().find(|e| e.epoch == block.epoch).unwrap();
        let receipts_root = epoch.pivot_plus5().deferred_receipts_root;
        assert_eq!(info.num_txs, block.tx_hashes.len());
        assert_eq!(block.tx_hashes[info.tx_index], t.tx_hash);
        assert_eq!(info.num_blocks, epoch.block_hashes.len());
        seen.push((info.tx_index, info.num_txs));

        // The transaction hash under the header's transactions root.
        let tx = simple_mpt_proof_value(
            &info.tx_proof,
            &header.transactions_root,
            info.tx_index,
            info.num_txs,
        );
        assert_eq!(
            tx,
            Ok(unhex(&t.tx_hash)),
            "tx {} of {}",
            info.tx_index,
            info.num_txs
        );
        // The block's receipts root under the epoch's, then the receipt under that.
        let block_root = simple_mpt_proof_value(
            &info.block_index_proof,
            &receipts_root,
            info.block_index,
            info.num_blocks,
        )
        .unwrap();
        let block_root = H256::from_slice(&block_root);
        assert_eq!(
            block_root,
            block_receipts_root(&epoch.receipts()[info.block_index].receipts)
        );
        let receipt = simple_mpt_proof_value(
            &info.receipt_proof,
            &block_root,
            info.tx_index,
            info.num_txs,
        );
        assert_eq!(receipt, Ok(rlp::encode(&info.receipt).to_vec()));
        if let Some((prev, prev_proof)) = &info.prev_receipt {
            let got =
                simple_mpt_proof_value(prev_proof, &block_root, info.tx_index - 1, info.num_txs);
            assert_eq!(got, Ok(rlp::encode(prev).to_vec()));
        }

        // Negative controls: another index, a wider count, an out-of-range index, a
        // tampered leaf with its merkle claim untouched.
        if info.num_txs > 1 {
            let other = (info.tx_index + 1) % info.num_txs;
            assert!(simple_mpt_proof_value(
                &info.tx_proof,
                &header.transactions_root,
                other,
                info.num_txs
            )
            .is_err());
        }
        // A count changes the key only through its width: one with wider keys fails.
        // (A count of the same key width would prove the same key: the count itself is
        // the caller's to check.)
        let wider = if info.num_txs <= 256 { 257 } else { 65537 };
        assert!(simple_mpt_proof_value(
            &info.tx_proof,
            &header.transactions_root,
            info.tx_index,
            wider
        )
        .is_err());
        assert_eq!(
            simple_mpt_proof_value(
                &info.tx_proof,
                &header.transactions_root,
                info.num_txs,
                info.num_txs
            ),
            Err(ProofError::IndexOutOfRange {
                index: info.num_txs,
                count: info.num_txs
            })
        );
        let mut nodes = info.tx_proof.clone().into_nodes();
        let leaf = nodes.iter().position(|n| n.value.is_some()).unwrap();
        nodes[leaf].value.as_mut().unwrap()[0] ^= 0xff;
        assert!(matches!(
            simple_mpt_proof_value(
                &TrieProof::new(nodes),
                &header.transactions_root,
                info.tx_index,
                info.num_txs
            ),
            Err(ProofError::NodeMerkleMismatch { .. })
        ));
    }
    // First, nibble-boundary and last positions in one-byte and two-byte key tries.
    for want in [
        (0, 1),
        (1, 3),
        (19, 20),
        (49, 50),
        (15, 272),
        (16, 272),
        (256, 272),
        (271, 272),
    ] {
        assert!(seen.contains(&want), "no TxInfo for {want:?}");
    }
}
