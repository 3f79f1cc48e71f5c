//! State proofs (`primitives/src/mpt.rs`): `StateEntryProof` / `StorageRootProof` /
//! `StorageRoot` / `TrieProof` decode strictly without panic and re-encode to the same
//! bytes; `verify_state_entry` and `verify_storage_root` against whatever roots the
//! proof carries (the caller checks those against a header) never panic, nor do trie
//! lookups under an arbitrary root.
//!
//! Input layout (so that real proofs reach the verifiers with their real keys):
//! - byte 0 even — a state entry: `[0][address 20][key kind 1][slot len 1][slot]
//!   [value len 2, BE; 0xffff = absent][value][StateEntryProof RLP]`;
//! - byte 0 odd — a storage root: `[1][address 20][item RLP: [_, StorageRoot, proof]]`.
#![no_main]

use cfxlight_primitives::{
    mpt::{self, StateEntryProof, StorageRoot, StorageRootProof, TrieProof},
    rlp_util::{check_exact, decode_exact},
    storage_key::StorageKey,
    H160, H256,
};
use libfuzzer_sys::fuzz_target;

const NO_STORAGE: StorageRoot = StorageRoot {
    delta: mpt::NodeMerkle::Absent,
    intermediate: mpt::NodeMerkle::Absent,
    snapshot: None,
};

fn take<'a>(data: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if data.len() < n {
        return None;
    }
    let (a, b) = data.split_at(n);
    *data = b;
    Some(a)
}

fn tries(p: &StateEntryProof) -> impl Iterator<Item = &TrieProof> {
    [
        &p.state_proof.delta,
        &p.state_proof.intermediate,
        &p.state_proof.snapshot,
    ]
    .into_iter()
    .flatten()
}

fn state_entry(mut data: &[u8]) -> Option<()> {
    let address = H160::from_slice(take(&mut data, 20)?);
    let kind = take(&mut data, 1)?[0];
    let slot_len = usize::from(take(&mut data, 1)?[0]);
    let slot = take(&mut data, slot_len)?.to_vec();
    let value_len = u16::from_be_bytes(take(&mut data, 2)?.try_into().ok()?);
    let value = match value_len {
        0xffff => None,
        n => Some(take(&mut data, usize::from(n))?.to_vec()),
    };
    let key = match kind % 7 {
        0 => StorageKey::Account(address),
        1 => StorageKey::Storage {
            address,
            key: slot.clone(),
        },
        2 => StorageKey::StorageRoot(address),
        3 => StorageKey::CodeRoot(address),
        4 => StorageKey::Code {
            address,
            code_hash: H256::from_slice(&{
                let mut h = [0u8; 32];
                let n = slot.len().min(32);
                h[..n].copy_from_slice(&slot[..n]);
                h
            }),
        },
        5 => StorageKey::DepositList(address),
        _ => StorageKey::VoteList(address),
    };
    let proof = decode_exact::<StateEntryProof>(data).ok()?;
    assert_eq!(
        rlp::encode(&proof).as_ref(),
        data,
        "a state proof re-encodes to itself"
    );
    let _ = mpt::verify_state_entry(&key, value.as_deref(), &proof);
    let _ = mpt::verify_state_entry(&key, None, &proof);
    let _ = mpt::verify_storage_root(&address, &NO_STORAGE, &proof);
    let _ = proof.state_root.hash();
    let root = H256::from_slice(&{
        let mut h = [0u8; 32];
        let n = slot.len().min(32);
        h[..n].copy_from_slice(&slot[..n]);
        h
    });
    for t in tries(&proof) {
        let _ = t.lookup(&key.to_key_bytes(), &proof.state_root.snapshot_root);
        let _ = t.lookup(&slot, &root);
        let _ = t.node_merkle_at(&slot, &root);
        for n in t.nodes() {
            let _ = n.node_merkle();
            let _ = n.path_merkle();
        }
        let _ = mpt::simple_mpt_proof_value(t, &root, usize::from(kind), usize::from(slot_len) + 1);
    }
    Some(())
}

fn storage_root(mut data: &[u8]) -> Option<()> {
    let address = H160::from_slice(take(&mut data, 20)?);
    let r = rlp::Rlp::new(data);
    check_exact(&r, data.len()).ok()?;
    let proof: StorageRootProof = r.val_at(2).ok()?;
    assert_eq!(rlp::encode(&proof).as_ref(), r.at(2).ok()?.as_raw());
    let _ = mpt::verify_storage_root(&address, &NO_STORAGE, &proof);
    if let Ok(root) = r.val_at::<StorageRoot>(1) {
        assert_eq!(rlp::encode(&root).as_ref(), r.at(1).ok()?.as_raw());
        let _ = mpt::verify_storage_root(&address, &root, &proof);
    }
    Some(())
}

fuzz_target!(|data: &[u8]| {
    match data.split_first() {
        Some((m, rest)) if m % 2 == 0 => {
            state_entry(rest);
        }
        Some((_, rest)) => {
            storage_root(rest);
        }
        None => {}
    }
    // The whole input as a bare proof of each kind, too.
    if let Ok(p) = decode_exact::<TrieProof>(data) {
        assert_eq!(rlp::encode(&p).as_ref(), data);
        let _ = p.lookup(data, &H256::repeat_byte(1));
    }
    if let Ok(r) = decode_exact::<StorageRoot>(data) {
        assert_eq!(rlp::encode(&r).as_ref(), data);
    }
});
