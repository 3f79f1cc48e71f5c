//! The P2P wire and the light protocol against a real conflux-rust node (`scripts/devnet`).
//!
//! Gated like `devnet.rs`: `CFXLIGHT_DEVNET=<dir>`, required under CI. conflux-rust accepts
//! one session per source IP, so each test dials from its own loopback address.

#![allow(clippy::unwrap_used, missing_docs)] // a test may stop at the first surprise

mod common;

use std::net::IpAddr;

use cfxlight_node::{
    light::peer::{ChainIdentity, LightPeer, PeerError},
    rpc_client::RpcClient,
    wire::NodeUrl,
};
use cfxlight_primitives::{rpc, H256};
use k256::SecretKey;
use serde_json::{json, Value};

struct Net {
    url: NodeUrl,
    chain: ChainIdentity,
    rpc: RpcClient,
}

fn devnet() -> Option<Net> {
    let dir = common::devnet_dir()?;
    let d: Value = common::devnet_json(&dir);
    let chain_id = d["chain_id"].as_u64().unwrap();
    Some(Net {
        url: d["bootnode"].as_str().unwrap().parse().unwrap(),
        chain: ChainIdentity {
            network_id: d["network_id"].as_u64().unwrap(),
            chain_id: chain_id as u32,
            genesis_hash: d["genesis_hash"].as_str().unwrap().parse().unwrap(),
        },
        rpc: RpcClient::new(d["rpc_url"].as_str().unwrap()),
    })
}

fn key() -> SecretKey {
    SecretKey::random(&mut rand::rngs::OsRng)
}

fn local(last_octet: u8) -> Option<IpAddr> {
    Some(IpAddr::from([127, 0, 0, last_octet]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_fetched_over_the_wire_hash_to_the_nodes_block_hashes() {
    let Some(net) = devnet() else { return };
    let peer = LightPeer::connect(&net.url, &key(), net.chain, local(11))
        .await
        .unwrap();
    let status = peer.status();
    assert_eq!(status.genesis_hash, net.chain.genesis_hash);
    assert!(status.best_epoch >= 3, "best epoch {}", status.best_epoch);
    let epochs: Vec<u64> = (1..=status.best_epoch.min(50)).collect();
    let hashes = peer.block_hashes_by_epoch(&epochs).await.unwrap();
    assert!(hashes.len() >= epochs.len());
    let headers = peer.block_headers(&hashes).await.unwrap();
    assert_eq!(headers.len(), hashes.len());
    for h in &headers {
        // Each header is decoded from the peer's bytes and hashed from them; the node's RPC
        // knows it by that hash and agrees on its fields.
        let block: rpc::Block = tokio::task::block_in_place(|| {
            net.rpc
                .call("cfx_getBlockByHash", json!([h.hash(), false]))
                .unwrap()
        });
        assert_eq!(block.hash, h.hash());
        assert_eq!(block.height.as_u64(), h.height);
        assert_eq!(block.parent_hash, h.parent_hash);
        assert_eq!(block.nonce, h.nonce);
        h.verify_test_pow().unwrap();
        // Re-encoding our decoded header gives the received bytes back (same hash).
        assert_eq!(cfxlight_primitives::keccak256(h.rlp()), h.hash());
    }
    // The pivot block of each epoch is the last hash of that epoch; it links to its parent.
    let pivots: Vec<H256> = {
        let mut v = vec![];
        for e in &epochs {
            let b: rpc::Block = tokio::task::block_in_place(|| {
                net.rpc
                    .call(
                        "cfx_getBlockByEpochNumber",
                        json!([format!("{e:#x}"), false]),
                    )
                    .unwrap()
            });
            v.push(b.hash);
        }
        v
    };
    assert!(pivots.iter().all(|p| hashes.contains(p)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn witness_info_answers_for_a_height() {
    let Some(net) = devnet() else { return };
    let peer = LightPeer::connect(&net.url, &key(), net.chain, local(12))
        .await
        .unwrap();
    let infos = peer.witness_info(&[5]).await.unwrap();
    assert_eq!(infos.len(), 1);
    assert_eq!(infos[0].height, 5);
    assert!(!infos[0].state_root_hashes.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_genesis_is_refused_by_the_provider() {
    let Some(net) = devnet() else { return };
    let mut chain = net.chain;
    chain.genesis_hash = H256::repeat_byte(0x42);
    match LightPeer::connect(&net.url, &key(), chain, local(13)).await {
        Err(PeerError::Session(e)) => eprintln!("refused as expected: {e}"),
        Err(PeerError::Timeout { .. }) => {}
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("a provider accepted a wrong genesis"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dialling_a_wrong_node_id_fails_the_handshake() {
    let Some(net) = devnet() else { return };
    let mut url = net.url.clone();
    // A valid public key that the node does not hold: it cannot decrypt our auth.
    url.id = cfxlight_node::wire::ecies::node_id(&key().public_key());
    let r = LightPeer::connect(&url, &key(), net.chain, local(14)).await;
    assert!(
        r.is_err(),
        "connected to a node that does not hold the dialled id"
    );
}
