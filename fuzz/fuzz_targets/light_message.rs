//! Light-protocol messages (`node/src/light/message.rs`): `message::decode` of a whole
//! incoming payload (`rlp ‖ msg_id`) never panics, nor does the session packet parser in
//! front of it (`wire::session::parse_packet`); the proofs and headers a decoded message
//! carries go through their own decoders and checks without panic.
#![no_main]

use cfxlight_node::{
    light::message::{self, Incoming},
    wire::session::{self, Packet},
};
use cfxlight_primitives::{
    mpt::{self, StateEntryProof, StorageRootProof, TrieProof},
    rlp_util::decode_exact,
    storage_key::StorageKey,
    H160, H256,
};
use libfuzzer_sys::fuzz_target;

fn exercise(msg: &Incoming) {
    match msg {
        Incoming::BlockHeaders { headers, .. } => {
            for h in headers {
                let _ = h.problem_hash();
                assert_eq!(cfxlight_primitives::hash::keccak256(h.rlp()), h.hash());
            }
        }
        Incoming::StateEntries { entries, .. } => {
            for e in entries {
                if let Ok(p) = decode_exact::<StateEntryProof>(&e.proof) {
                    let address = H160::from_slice(&{
                        let mut a = [0u8; 20];
                        let n = e.key.len().min(20);
                        a[..n].copy_from_slice(&e.key[..n]);
                        a
                    });
                    let key = StorageKey::Account(address);
                    let _ = mpt::verify_state_entry(&key, e.value.as_deref(), &p);
                }
            }
        }
        Incoming::StorageRoots { roots, .. } => {
            for r in roots {
                if let Ok(p) = decode_exact::<StorageRootProof>(&r.proof) {
                    let _ = mpt::verify_storage_root(&r.address, &r.root, &p);
                }
            }
        }
        Incoming::TxInfos { infos, .. } => {
            for i in infos {
                let _ = i.tx.recover_sender();
                let root = H256::repeat_byte(1);
                let (idx, n) = (i.tx_index as usize, i.num_txs as usize);
                if let Ok(p) = decode_exact::<TrieProof>(&i.tx_proof) {
                    let _ = mpt::simple_mpt_proof_value(&p, &root, idx, n);
                }
                if let Ok(p) = decode_exact::<TrieProof>(&i.receipt_proof) {
                    let _ = mpt::simple_mpt_proof_value(&p, &root, idx, n);
                }
                if let Ok(p) = decode_exact::<TrieProof>(&i.block_index_proof) {
                    let (b, nb) = (i.block_index as usize, i.num_blocks as usize);
                    let _ = mpt::simple_mpt_proof_value(&p, &root, b, nb);
                }
            }
        }
        Incoming::Receipts { epochs, .. } => {
            for (_, blocks) in epochs {
                for b in blocks {
                    let _ = mpt::block_receipts_root(&b.receipts);
                }
            }
        }
        Incoming::BlockTxs { blocks, .. } => {
            for (_, txs) in blocks {
                let hashes: Vec<H256> = txs.iter().flatten().map(|t| t.hash()).collect();
                let _ = mpt::transactions_root(&hashes);
            }
        }
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = message::decode(data) {
        exercise(&m);
    }
    if let Ok(Packet::User { protocol, payload }) = session::parse_packet(data) {
        if protocol == session::LIGHT_PROTOCOL {
            if let Ok(m) = message::decode(&payload) {
                exercise(&m);
            }
        }
    }
});
