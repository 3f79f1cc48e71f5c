//! Header sync against a real conflux-rust node (`scripts/devnet`): what we store is the
//! node's pivot chain, with the node's deferred roots, and a `kill -9` loses nothing.
//!
//! Gated like `devnet.rs`: `CFXLIGHT_DEVNET=<dir>`, required under CI.

#![allow(clippy::unwrap_used, missing_docs)] // a test may stop at the first surprise

mod common;

use std::{
    net::IpAddr,
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use cfxlight_node::{
    light::peer::{ChainIdentity, LightPeer},
    rpc_client::RpcClient,
    store::Store,
    sync::{Progress, DEFERRED_STATE_EPOCHS},
    wire::NodeUrl,
};
use cfxlight_primitives::{header::BlockHeader, rpc};
use serde_json::{json, Value};

struct Net {
    dir: PathBuf,
    url: NodeUrl,
    chain: ChainIdentity,
    rpc: RpcClient,
}

fn devnet() -> Option<Net> {
    let dir = common::devnet_dir()?;
    let d: Value = common::devnet_json(&dir);
    Some(Net {
        url: d["bootnode"].as_str().unwrap().parse().unwrap(),
        chain: ChainIdentity {
            network_id: d["network_id"].as_u64().unwrap(),
            chain_id: d["chain_id"].as_u64().unwrap() as u32,
            genesis_hash: d["genesis_hash"].as_str().unwrap().parse().unwrap(),
        },
        rpc: RpcClient::new(d["rpc_url"].as_str().unwrap()),
        dir,
    })
}

fn pivot_by_rpc(rpc: &RpcClient, epoch: u64) -> rpc::Block {
    rpc.call(
        "cfx_getBlockByEpochNumber",
        json!([format!("{epoch:#x}"), false]),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn synced_pivot_chain_and_deferred_roots_equal_the_full_nodes() {
    let Some(net) = devnet() else { return };
    let dir = tempfile::tempdir().unwrap();
    let store =
        Arc::new(Store::open(dir.path(), net.chain.genesis_hash, net.chain.chain_id).unwrap());
    let key = k256::SecretKey::random(&mut rand::rngs::OsRng);
    let peer = LightPeer::connect(
        &net.url,
        &key,
        net.chain,
        Some(IpAddr::from([127, 0, 0, 21])),
    )
    .await
    .unwrap();
    let syncer = common::devnet_syncer(store.clone(), net.chain.genesis_hash, net.chain.chain_id);
    syncer.init(&peer).await.unwrap();
    let started = Instant::now();
    // Sync to the peer's tip, then keep following it until 20 more epochs have been
    // verified on top (about 10 s at the devnet's 500 ms blocks).
    let mut target = None;
    loop {
        match syncer.round(&peer).await.unwrap() {
            Progress::Advanced(_) => {}
            Progress::Switched { fork_point, to } => {
                eprintln!("switched at {fork_point} to {to}")
            }
            Progress::AtTip => {
                let best = store.best_epoch().unwrap().unwrap();
                let t = *target.get_or_insert(best + 20);
                if best >= t {
                    break;
                }
                peer.ping().await.unwrap();
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "sync did not follow the tip"
        );
    }
    let best = store.best_epoch().unwrap().unwrap();
    let latest_state = store.latest_state().unwrap().unwrap();
    // The blame-vote rule at work: a header's roots are trusted once it and enough
    // descendants have voted (devnet: 3 votes, no offset), so on the single-miner devnet's
    // linear chain the newest trusted header is 2 behind the best and latest_state 5 more.
    let votes = common::devnet_spec(net.chain.chain_id).trust.min_votes as u64;
    assert_eq!(latest_state, best - DEFERRED_STATE_EPOCHS - (votes - 1));
    // Nothing above it is stored as a root: a header's own roots are never trusted on arrival.
    for epoch in latest_state + 1..=best {
        assert!(store.roots(epoch).unwrap().is_none(), "epoch {epoch}");
    }
    tokio::task::block_in_place(|| {
        for epoch in 0..=best {
            let theirs = pivot_by_rpc(&net.rpc, epoch);
            assert_eq!(
                store.pivot(epoch).unwrap(),
                Some(theirs.hash),
                "pivot of epoch {epoch}"
            );
            let raw = store.header(&theirs.hash).unwrap().unwrap();
            assert_eq!(BlockHeader::decode(&raw).unwrap().hash(), theirs.hash);
            let blocks: Vec<cfxlight_primitives::H256> = net
                .rpc
                .call("cfx_getBlocksByEpoch", json!([format!("{epoch:#x}")]))
                .unwrap();
            assert_eq!(
                store.epoch_blocks(epoch).unwrap().unwrap(),
                blocks,
                "blocks of epoch {epoch}"
            );
        }
        for epoch in 0..=latest_state {
            let carrier = pivot_by_rpc(&net.rpc, epoch + DEFERRED_STATE_EPOCHS);
            let roots = store.roots(epoch).unwrap().unwrap();
            assert_eq!(
                roots.state_root, carrier.deferred_state_root,
                "state root of epoch {epoch}"
            );
            assert_eq!(roots.receipts_root, carrier.deferred_receipts_root);
            assert_eq!(roots.logs_bloom_hash, carrier.deferred_logs_bloom_hash);
        }
    });
    eprintln!("verified {} epochs against the full node", best + 1);
}

fn spawn_node(net: &Net, datadir: &std::path::Path) -> std::process::Child {
    // One session per source IP on conflux-rust: 127.0.0.1 may be taken by another
    // test's second full node.
    common::node_command(&common::devnet_json(&net.dir), datadir, "127.0.0.61")
        // Port 0: the devnet's own node may hold the default RPC ports.
        .args(["--rpc-http-port", "0", "--rpc-ws-port", "0"])
        .spawn()
        .unwrap()
}

#[test]
fn kill_9_during_sync_then_restart_resumes_without_gaps() {
    let Some(net) = devnet() else { return };
    let dir = tempfile::tempdir().unwrap();
    // Each run dials from the same address (one session per IP): runs are sequential.
    for round in 0..3 {
        let mut child = spawn_node(&net, dir.path());
        std::thread::sleep(Duration::from_millis(700 + 400 * round));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }
    let genesis = net.chain.genesis_hash;
    let store = Store::open(dir.path(), genesis, net.chain.chain_id).unwrap();
    let best = store.best_epoch().unwrap().expect("something was synced");
    assert!(best > 0);
    // Every stored epoch is present and links to the one before: nothing missing, nothing twice.
    let mut parent = None;
    for epoch in 0..=best {
        let hash = store
            .pivot(epoch)
            .unwrap()
            .unwrap_or_else(|| panic!("epoch {epoch} missing"));
        let h = BlockHeader::decode(&store.header(&hash).unwrap().unwrap()).unwrap();
        assert_eq!(h.height, epoch);
        if let Some(p) = parent {
            assert_eq!(h.parent_hash, p, "epoch {epoch} does not link");
        }
        parent = Some(hash);
    }
    assert!(store.pivot(best + 1).unwrap().is_none());
    let _ = &net.dir;
}
