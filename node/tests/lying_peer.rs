//! Fault injection: a *lying* light-protocol provider in front of the real node.
//!
//! The fake (named as such: it exists only to lie) accepts our connection, runs the
//! responder side of the handshake, and relays every request to the real conflux-rust
//! node through an honest session, altering what it is told to alter on the way back.
//! Whatever it alters, sync must refuse the batch and store nothing it sent, and an
//! altered state entry or storage root must never reach an answer.
//!
//! Gated like `devnet.rs`: `CFXLIGHT_DEVNET=<dir>`, required under CI.

#![allow(clippy::unwrap_used, missing_docs)] // a test may stop at the first surprise

mod common;

use std::{net::IpAddr, sync::Arc};

use cfxlight_node::{
    light::{
        message::{self, StateEntry, StorageRootEntry},
        peer::{ChainIdentity, LightPeer, PeerError},
    },
    query::{PeerSet, Query, QueryError},
    store::Store,
    sync::{Progress, SyncError},
    wire::{frame, session, NodeUrl},
};
use cfxlight_primitives::{
    account::Account,
    header::BlockHeader,
    mpt::{NodeMerkle, StateEntryProof, StorageRootProof, TrieProof, MERKLE_NULL_NODE},
    H160, H256, U256,
};
use k256::SecretKey;
use rlp::RlpStream;
use serde_json::Value;
use tokio::net::TcpStream;

/// How the fake lies.
#[derive(Clone, Copy)]
enum Lie {
    /// Change a field of one header (its hash no longer matches the one asked for).
    AlterHeader,
    /// Answer with a header of another epoch than the one asked for.
    SwapHeader,
    /// Raise an account's balance in the state entry, proof untouched.
    AlterStateValue,
    /// Raise an account's balance in the entry *and* in the proof leaf that holds it,
    /// leaving every claimed merkle as it was: the forgery that got past conflux-rust's
    /// own light node (conflux-state-proofs.md). Only recomputing the hashes catches it.
    ForgeStateLeaf,
    /// Claim another storage root (its delta part changed), proof untouched.
    AlterStorageRoot,
    /// Change the node at the storage-root key in the delta proof (one child hash) and
    /// claim that node's new hash as the storage root, every claimed merkle left as it
    /// was: conflux-rust indexes proof nodes by those claims, only re-hashing catches it.
    ForgeStorageRootNode,
}

/// The account value with its balance raised by one drip.
fn richer(value: &[u8]) -> Vec<u8> {
    let mut a = Account::decode_value(value).unwrap();
    a.balance += U256::one();
    rlp::encode(&a).to_vec()
}

fn lie_about_state(lie: Lie, e: &mut StateEntry) {
    if matches!(lie, Lie::AlterStorageRoot | Lie::ForgeStorageRootNode) {
        return;
    }
    let Some(old) = e.value.clone() else { return };
    let new = richer(&old);
    if matches!(lie, Lie::ForgeStateLeaf) {
        let mut proof: StateEntryProof = rlp::decode(&e.proof).unwrap();
        let sp = &mut proof.state_proof;
        let mut forged = false;
        for trie in [&mut sp.delta, &mut sp.intermediate, &mut sp.snapshot]
            .into_iter()
            .flatten()
        {
            let mut nodes = trie.clone().into_nodes();
            for n in nodes.iter_mut() {
                if n.value.as_deref() == Some(&old[..]) {
                    n.value = Some(new.clone());
                    forged = true;
                }
            }
            *trie = TrieProof::new(nodes);
        }
        assert!(forged, "the proof holds the value somewhere");
        e.proof = rlp::encode(&proof).to_vec();
    }
    e.value = Some(new);
}

fn lie_about_storage_root(lie: Lie, e: &mut StorageRootEntry) {
    let NodeMerkle::Node(honest) = e.root.delta else {
        // Nothing to forge in the proof: claim a node where there is none.
        if matches!(lie, Lie::AlterStorageRoot | Lie::ForgeStorageRootNode) {
            e.root.delta = NodeMerkle::Node(H256::repeat_byte(0x5a));
        }
        return;
    };
    match lie {
        Lie::AlterStorageRoot => {
            let mut h = honest;
            h.0[31] ^= 1;
            e.root.delta = NodeMerkle::Node(h);
        }
        Lie::ForgeStorageRootNode => {
            let mut proof: StorageRootProof = rlp::decode(&e.proof).unwrap();
            let delta = proof.state_proof.delta.take().unwrap();
            let mut nodes = delta.into_nodes();
            let at = nodes
                .iter()
                .position(|n| n.node_merkle() == honest)
                .expect("the proof holds the node at the storage-root key");
            let children = nodes[at].children.as_mut().expect("a contract with slots");
            let slot = children
                .iter_mut()
                .find(|c| **c != MERKLE_NULL_NODE)
                .unwrap();
            slot.0[0] ^= 1;
            e.root.delta = NodeMerkle::Node(nodes[at].node_merkle());
            proof.state_proof.delta = Some(TrieProof::new(nodes));
            e.proof = rlp::encode(&proof).to_vec();
        }
        _ => {}
    }
}

fn devnet() -> Option<(NodeUrl, ChainIdentity)> {
    common::liar::devnet().map(|(url, chain, _)| (url, chain))
}

/// Serves one lying session, relaying to `upstream`.
async fn serve_lies(
    mut stream: TcpStream,
    key: SecretKey,
    chain: ChainIdentity,
    upstream: Arc<LightPeer>,
    lie: Lie,
) {
    common::liar::accept(&mut stream, &key, chain.network_id).await;
    loop {
        let Ok(p) = frame::read(&mut stream, session::MAX_PACKET).await else {
            return;
        };
        let Ok(session::Packet::User { payload, .. }) = session::parse_packet(&p) else {
            continue;
        };
        let (msg_id, body) = (payload[payload.len() - 1], &payload[..payload.len() - 1]);
        let r = rlp::Rlp::new(body);
        let (answer, id): (Vec<u8>, u8) = match msg_id {
            message::id::STATUS_PING_V2 => {
                let st = upstream.status();
                let pong = common::liar::pong(st.chain_id, &st.genesis_hash, st.best_epoch);
                if frame::write(&mut stream, &pong).await.is_err() {
                    return;
                }
                continue;
            }
            message::id::GET_BLOCK_HASHES_BY_EPOCH => {
                let req: u64 = r.val_at(0).unwrap();
                let epochs: Vec<u64> = r.list_at(1).unwrap();
                let hashes = upstream.block_hashes_by_epoch(&epochs).await.unwrap();
                let mut s = RlpStream::new_list(2);
                s.append(&req).append_list(&hashes);
                (s.out().to_vec(), message::id::BLOCK_HASHES)
            }
            message::id::GET_BLOCK_HEADERS => {
                let req: u64 = r.val_at(0).unwrap();
                let hashes: Vec<H256> = r.list_at(1).unwrap();
                let mut headers = upstream.block_headers(&hashes).await.unwrap();
                let victim = headers.len() / 2;
                match lie {
                    Lie::AlterHeader => headers[victim].timestamp += 1,
                    Lie::SwapHeader => {
                        let other = upstream.block_hashes_by_epoch(&[1]).await.unwrap();
                        headers[victim] = upstream.block_headers(&other).await.unwrap().remove(0);
                    }
                    // Headers pass through untouched when the lie is about state.
                    Lie::AlterStateValue
                    | Lie::ForgeStateLeaf
                    | Lie::AlterStorageRoot
                    | Lie::ForgeStorageRootNode => {}
                }
                let mut s = RlpStream::new_list(2);
                s.append(&req).begin_list(headers.len());
                for h in &headers {
                    s.append_raw(&h.rlp(), 1);
                }
                (s.out().to_vec(), message::id::BLOCK_HEADERS)
            }
            message::id::GET_STATE_ENTRIES => {
                let req: u64 = r.val_at(0).unwrap();
                let keys: Vec<(u64, Vec<u8>)> = r
                    .at(1)
                    .unwrap()
                    .iter()
                    .map(|k| {
                        let key = k
                            .at(1)
                            .unwrap()
                            .iter()
                            .map(|b| b.as_val::<u8>().unwrap())
                            .collect();
                        (k.val_at(0).unwrap(), key)
                    })
                    .collect();
                let mut entries = upstream.state_entries(&keys).await.unwrap();
                for e in entries.iter_mut() {
                    lie_about_state(lie, e);
                }
                let mut s = RlpStream::new_list(2);
                s.append(&req).begin_list(entries.len());
                for e in &entries {
                    s.begin_list(3);
                    s.begin_list(2).append(&e.epoch).begin_list(e.key.len());
                    for b in &e.key {
                        s.append(b);
                    }
                    match &e.value {
                        Some(v) => {
                            s.begin_list(1).append(v);
                        }
                        None => {
                            s.begin_list(0);
                        }
                    }
                    s.append_raw(&e.proof, 1);
                }
                (s.out().to_vec(), message::id::STATE_ENTRIES)
            }
            message::id::GET_STORAGE_ROOTS => {
                let req: u64 = r.val_at(0).unwrap();
                let keys: Vec<(u64, H160)> = r
                    .at(1)
                    .unwrap()
                    .iter()
                    .map(|k| (k.val_at(0).unwrap(), k.val_at(1).unwrap()))
                    .collect();
                let mut roots = upstream.storage_roots(&keys).await.unwrap();
                for e in roots.iter_mut() {
                    lie_about_storage_root(lie, e);
                }
                let mut s = RlpStream::new_list(2);
                s.append(&req).begin_list(roots.len());
                for e in &roots {
                    s.begin_list(3);
                    s.begin_list(2).append(&e.epoch).append(&e.address);
                    s.append(&e.root).append_raw(&e.proof, 1);
                }
                (s.out().to_vec(), message::id::STORAGE_ROOTS)
            }
            _ => continue,
        };
        if frame::write(&mut stream, &session::user_packet(&answer, id))
            .await
            .is_err()
        {
            return;
        }
    }
}

/// The honest upstream (dialled from `local`) and a liar in front of it, serving one
/// session on a port of its own.
async fn liar_in_front(lie: Lie, local: [u8; 4]) -> (Arc<LightPeer>, NodeUrl, ChainIdentity) {
    let (real, chain) = devnet().unwrap();
    let upstream = Arc::new(
        LightPeer::connect(
            &real,
            &SecretKey::random(&mut rand::rngs::OsRng),
            chain,
            Some(IpAddr::from(local)),
        )
        .await
        .unwrap(),
    );
    let (listener, fake_key, fake_url) = common::liar::listener().await;
    let up = upstream.clone();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        serve_lies(stream, fake_key, chain, up, lie).await;
    });
    (upstream, fake_url, chain)
}

async fn lying_round(
    lie: Lie,
    local: [u8; 4],
) -> (Result<(), SyncError>, Store, tempfile::TempDir) {
    let (upstream, fake_url, chain) = liar_in_front(lie, local).await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), chain.genesis_hash, chain.chain_id).unwrap();
    let store = Arc::new(store);
    let syncer = common::devnet_syncer(store.clone(), chain.genesis_hash, chain.chain_id);
    let liar = LightPeer::connect(
        &fake_url,
        &SecretKey::random(&mut rand::rngs::OsRng),
        chain,
        None,
    )
    .await
    .unwrap();
    // Genesis comes from the honest peer; the liar only gets to answer the sync round.
    syncer.init(&upstream).await.unwrap();
    let result = syncer.round(&liar).await.map(|_| ());
    drop(syncer);
    let store = Arc::try_unwrap(store).ok().unwrap();
    (result, store, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_altered_header_is_refused_and_nothing_is_stored() {
    if devnet().is_none() {
        return;
    }
    let (result, store, _dir) = lying_round(Lie::AlterHeader, [127, 0, 0, 31]).await;
    match result {
        Err(SyncError::Peer(PeerError::Misbehaved(why))) => {
            assert!(why.contains("not asked for"), "{why}")
        }
        other => panic!("an altered header was not refused: {other:?}"),
    }
    assert_eq!(
        store.best_epoch().unwrap(),
        Some(0),
        "only the genesis from the honest peer"
    );
    assert!(store.pivot(1).unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_header_from_another_epoch_is_refused_and_nothing_is_stored() {
    if devnet().is_none() {
        return;
    }
    let (result, store, _dir) = lying_round(Lie::SwapHeader, [127, 0, 0, 32]).await;
    assert!(result.is_err(), "a swapped header was accepted");
    assert_eq!(store.best_epoch().unwrap(), Some(0));
    assert!(store.pivot(1).unwrap().is_none());
    // The header the liar slipped in is not stored either.
    let first = BlockHeader::decode(
        &store
            .header(&store.pivot(0).unwrap().unwrap())
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(first.height, 0);
}

/// A store synced to the tip from the honest peer, a liar in front of the same node, and
/// the honest peer itself.
async fn state_setup(
    lie: Lie,
    local: [u8; 4],
) -> (
    Arc<Store>,
    Arc<LightPeer>,
    Arc<LightPeer>,
    tempfile::TempDir,
) {
    let (upstream, fake_url, chain) = liar_in_front(lie, local).await;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path(), chain.genesis_hash, chain.chain_id).unwrap());
    let syncer = common::devnet_syncer(store.clone(), chain.genesis_hash, chain.chain_id);
    syncer.init(&upstream).await.unwrap();
    while !matches!(syncer.round(&upstream).await.unwrap(), Progress::AtTip) {}
    let liar = Arc::new(
        LightPeer::connect(
            &fake_url,
            &SecretKey::random(&mut rand::rngs::OsRng),
            chain,
            None,
        )
        .await
        .unwrap(),
    );
    (store, liar, upstream, dir)
}

fn genesis_account() -> H160 {
    let dir = common::devnet_dir().unwrap();
    common::devnet_json(&dir)["genesis_keys"][0]["hex_address"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

async fn lying_state(lie: Lie, local: [u8; 4]) {
    let (store, liar, honest, _dir) = state_setup(lie, local).await;
    let latest = store.latest_state().unwrap().unwrap();
    let who = genesis_account();
    let dir = common::devnet_dir().unwrap();
    let d = common::devnet_json(&dir);
    let full = cfxlight_node::rpc_client::RpcClient::new(d["rpc_url"].as_str().unwrap());
    let b32 = cfxlight_primitives::address::encode(&who, d["network_id"].as_u64().unwrap());
    let truth = |epoch: u64| -> U256 {
        tokio::task::block_in_place(|| {
            full.call(
                "cfx_getBalance",
                serde_json::json!([b32, format!("{epoch:#x}")]),
            )
            .unwrap()
        })
    };

    // Only the liar: an error, never its number; and it is reported. (Each phase reads an
    // epoch nobody asked about yet: verified entries are cached, in memory and on disk.)
    let peers = Arc::new(PeerSet::default());
    peers.set(vec![liar.clone()]);
    let q = Query::new(store.clone(), peers.clone());
    match q.account(latest, who).await {
        Err(QueryError::Unverified(why)) => assert!(!why.is_empty()),
        other => panic!("a lie reached the caller: {other:?}"),
    }
    assert_eq!(peers.take_reported().len(), 1, "the liar is reported");

    // The liar beside an honest peer (asked in turn, either first): the true answer, always.
    peers.set(vec![liar, honest]);
    for epoch in latest - 4..latest {
        let q = Query::new(store.clone(), peers.clone());
        let got = q.account(epoch, who).await.unwrap().unwrap().balance;
        assert_eq!(got, truth(epoch), "epoch {epoch}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_altered_state_value_never_reaches_an_answer() {
    if devnet().is_none() {
        return;
    }
    lying_state(Lie::AlterStateValue, [127, 0, 0, 33]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_proof_leaf_with_stale_merkles_is_caught() {
    if devnet().is_none() {
        return;
    }
    lying_state(Lie::ForgeStateLeaf, [127, 0, 0, 34]).await;
}

/// The internal staking contract: storage slots written every block, so its storage root
/// differs from epoch to epoch.
const STAKING: H160 = H160([
    0x08, 0x88, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02,
]);

/// `caught` is what the refusal must say: which check stopped the lie.
async fn lying_storage_root(lie: Lie, local: [u8; 4], caught: &str) {
    let (store, liar, honest, _dir) = state_setup(lie, local).await;
    let latest = store.latest_state().unwrap().unwrap();
    let dir = common::devnet_dir().unwrap();
    let d = common::devnet_json(&dir);
    let full = cfxlight_node::rpc_client::RpcClient::new(d["rpc_url"].as_str().unwrap());
    let b32 = cfxlight_primitives::address::encode(&STAKING, d["network_id"].as_u64().unwrap());
    let truth = |epoch: u64| -> Value {
        tokio::task::block_in_place(|| {
            full.call(
                "cfx_getStorageRoot",
                serde_json::json!([b32, format!("{epoch:#x}")]),
            )
            .unwrap()
        })
    };

    // Only the liar: an error, never its root; and it is reported.
    let peers = Arc::new(PeerSet::default());
    peers.set(vec![liar.clone()]);
    let q = Query::new(store.clone(), peers.clone());
    match q.storage_root(latest, STAKING).await {
        Err(QueryError::Unverified(why)) => assert!(why.contains(caught), "{why}"),
        other => panic!("a lie reached the caller: {other:?}"),
    }
    assert_eq!(peers.take_reported().len(), 1, "the liar is reported");

    // The liar beside an honest peer (asked in turn, either first): the full node's root.
    peers.set(vec![liar, honest]);
    let q = Query::new(store.clone(), peers.clone());
    for epoch in latest - 4..=latest {
        let got = q.storage_root(epoch, STAKING).await.unwrap();
        assert_eq!(
            serde_json::to_value(got).unwrap(),
            truth(epoch),
            "epoch {epoch}"
        );
    }
}

// conflux-rust keeps one session per source address, and at most 2 per /24, 4 per /16 and
// 8 per /8 (`session_ip_limits` "1,8,4,2"): these dial from a /16 of their own each, clear
// of the 127.0.0.x of the other tests and of each other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_altered_storage_root_never_reaches_an_answer() {
    if devnet().is_none() {
        return;
    }
    lying_storage_root(
        Lie::AlterStorageRoot,
        [127, 46, 0, 1],
        "delta trie proves another node for the key, not the claimed node",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_storage_root_node_with_stale_merkles_is_caught() {
    if devnet().is_none() {
        return;
    }
    lying_storage_root(
        Lie::ForgeStorageRootNode,
        [127, 47, 0, 1],
        "node merkle mismatch",
    )
    .await;
}
