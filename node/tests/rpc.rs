//! `cfxlight node` as a dapp sees it: started against the real devnet, it reaches the full
//! node's tip within seconds, keeps following it, and answers `cfx_*` in the full node's
//! JSON shapes with the full node's values.
//!
//! Gated like `devnet.rs`: `CFXLIGHT_DEVNET=<dir>`, required under CI.

#![allow(clippy::unwrap_used, missing_docs)] // a test may stop at the first surprise

mod common;

use std::time::{Duration, Instant};

use cfxlight_node::rpc_client::RpcClient;
use common::{quantity, raw_call};
use serde_json::{json, Value};

#[test]
fn the_node_reaches_the_tip_follows_it_and_answers_like_the_full_node() {
    let Some(dir) = common::devnet_dir() else {
        return;
    };
    let d: Value = common::devnet_json(&dir);
    let full_url = d["rpc_url"].as_str().unwrap().to_string();
    let full = RpcClient::new(&full_url);
    let data = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let ours_url = format!("http://127.0.0.1:{port}");
    let ours = RpcClient::new(&ours_url);
    let start = Instant::now();
    let tip_at_start = quantity(
        &full
            .call::<Value>("cfx_epochNumber", json!(["latest_mined"]))
            .unwrap(),
    );
    // One session per source IP on conflux-rust; keep clear of other tests' nodes.
    let _node = common::Killed(
        common::node_command(&d, data.path(), "127.0.0.71")
            .args(["--rpc-http-port", &port.to_string()])
            .args(["--rpc-ws-port", &common::free_port().to_string()])
            .spawn()
            .unwrap(),
    );
    // Reaches the tip the full node had when we started, within seconds.
    let reached = loop {
        if let Ok(v) = ours.call::<Value>("cfx_epochNumber", json!([])) {
            if quantity(&v) >= tip_at_start {
                break start.elapsed();
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "did not reach epoch {tip_at_start}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    eprintln!("reached epoch {tip_at_start} {reached:?} after start");
    // Keeps following: a few seconds later it is within two epochs of the full node.
    std::thread::sleep(Duration::from_secs(3));
    let theirs_now = quantity(
        &full
            .call::<Value>("cfx_epochNumber", json!(["latest_mined"]))
            .unwrap(),
    );
    let ours_now = quantity(
        &ours
            .call::<Value>("cfx_epochNumber", json!(["latest_mined"]))
            .unwrap(),
    );
    assert!(
        ours_now + 2 >= theirs_now,
        "ours {ours_now}, full node {theirs_now}"
    );
    let state = quantity(
        &ours
            .call::<Value>("cfx_epochNumber", json!(["latest_state"]))
            .unwrap(),
    );
    // latest_state trails latest_mined by the 5 deferred epochs (one more while the
    // watched accounts of a new state are being fetched, or the tip moved in between).
    assert!(
        state + 5 <= ours_now + 1 && ours_now <= state + 7,
        "latest_state {state}, latest_mined {ours_now}"
    );

    // Blocks, with or without transactions: the full node's JSON, field for field. Execution
    // results (gasUsed) only once the epoch's receipts root is verified: null before, never
    // guessed; the genesis epoch's receipts are not served by the provider.
    let mut compared = 0;
    let mut with_txs = 0;
    for epoch in 0..=ours_now.min(80) {
        let e = format!("{epoch:#x}");
        for include in [false, true] {
            let theirs = full
                .call::<Value>("cfx_getBlockByEpochNumber", json!([e, include]))
                .unwrap();
            let reply = raw_call(&ours_url, "cfx_getBlockByEpochNumber", json!([e, include]));
            let mut mine = reply["result"].clone();
            assert!(mine.is_object(), "epoch {epoch}: {reply}");
            // Unexecuted as far as verified: the genesis epoch (its receipts are not
            // served), or an epoch past `state` when it was read (it may be verified by now,
            // and then everything must equal).
            let unverified = mine["gasUsed"].is_null();
            if epoch == 0 {
                assert!(unverified, "epoch 0");
            } else if unverified {
                assert!(
                    epoch > state,
                    "epoch {epoch} <= latest_state {state} without gasUsed"
                );
            }
            if unverified {
                mine["gasUsed"] = theirs["gasUsed"].clone();
                // Transactions without execution fields: compare the hashes only.
                let hashes = |b: &Value| -> Vec<Value> {
                    b["transactions"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|t| t.get("hash").cloned().unwrap_or_else(|| t.clone()))
                        .collect()
                };
                assert_eq!(hashes(&mine), hashes(&theirs), "epoch {epoch}");
                mine["transactions"] = theirs["transactions"].clone();
            }
            assert_eq!(mine, theirs, "epoch {epoch} (includeTxs {include})");
            if !theirs["transactions"].as_array().unwrap().is_empty() {
                with_txs += 1;
            }
        }
        let theirs = full
            .call::<Value>("cfx_getBlockByEpochNumber", json!([e, false]))
            .unwrap();
        let by_hash = raw_call(
            &ours_url,
            "cfx_getBlockByHash",
            json!([theirs["hash"], false]),
        );
        assert_eq!(by_hash["result"]["hash"], theirs["hash"]);
        compared += 1;
    }
    assert!(with_txs >= 2, "genesis at least has transactions");
    assert!(compared >= 10, "only {compared} blocks compared");
    // Status and the best block agree with the full node at our epoch.
    let status = ours.call::<Value>("cfx_getStatus", json!([])).unwrap();
    let fstatus = full.call::<Value>("cfx_getStatus", json!([])).unwrap();
    for f in ["chainId", "networkId", "ethereumSpaceChainId"] {
        assert_eq!(status[f], fstatus[f], "{f}");
    }
    // Our best block is the full node's pivot block of its epoch.
    let best: Value = ours.call("cfx_getBestBlockHash", json!([])).unwrap();
    let theirs_best = full
        .call::<Value>("cfx_getBlockByHash", json!([best, false]))
        .unwrap();
    let at = theirs_best["epochNumber"].clone();
    let pivot = full
        .call::<Value>("cfx_getBlockByEpochNumber", json!([at, false]))
        .unwrap();
    assert_eq!(pivot["hash"], best);
    assert!(quantity(&status["epochNumber"]) >= ours_now);
    // Errors as conflux-rust's light node gives them.
    let far = raw_call(&ours_url, "cfx_epochNumber", json!(["0x7fffffff"]));
    assert_eq!(far["error"]["code"], -32602);
    assert_eq!(far["error"]["message"], "Invalid parameters: epoch");
    assert_eq!(
        raw_call(&ours_url, "cfx_nope", json!([]))["error"]["code"],
        -32601
    );
    assert_eq!(
        raw_call(&ours_url, "cfx_getBlockByHash", json!(["0x12", false]))["error"]["code"],
        -32602
    );
    let version: String = ours.call("cfx_clientVersion", json!([])).unwrap();
    assert!(version.starts_with("cfxlight/"), "{version}");
}
