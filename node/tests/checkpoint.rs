//! A fresh node started from a checkpoint on the real devnet: it fetches the checkpoint's
//! pivot by hash and the difficulty period before it by parent links, syncs on from there,
//! and answers as the full node does (pivots, epoch block lists, block numbers when the
//! checkpoint gave one, balances). A hash that is not the pivot of its epoch is refused at
//! start with a clear error, and so is a checkpoint older than allowed.
//!
//! Gated like `devnet.rs`: `CFXLIGHT_DEVNET=<dir>`, required under CI.

#![allow(clippy::unwrap_used, missing_docs)] // a test may stop at the first surprise

mod common;

use std::time::{Duration, Instant};

use serde_json::{json, Value};

fn start(d: &Value, dir: &std::path::Path, ip: &str, checkpoint: &str) -> (common::Killed, String) {
    let port = common::free_port();
    let mut c = common::node_command(d, &dir.join("data"), ip);
    c.args(["--rpc-http-port", &port.to_string(), "--rpc-ws-port", "0"])
        .args(["--checkpoint", checkpoint])
        .stderr(std::fs::File::create(dir.join("node.log")).unwrap());
    (
        common::Killed(c.spawn().unwrap()),
        format!("http://127.0.0.1:{port}"),
    )
}

fn result(url: &str, method: &str, params: Value) -> Value {
    common::raw_call(url, method, params)["result"].clone()
}

#[test]
fn a_fresh_node_syncs_from_a_recent_checkpoint_and_answers_as_the_full_node() {
    let Some(dir) = common::devnet_dir() else {
        return;
    };
    let d = common::devnet_json(&dir);
    let full = d["rpc_url"].as_str().unwrap().to_string();
    // A recent pivot, with its number in the total order.
    let tip = common::quantity(&result(&full, "cfx_epochNumber", json!(["latest_mined"])));
    assert!(tip > 60, "the devnet is too young ({tip} epochs)");
    let e = tip - 30;
    let pivot = result(
        &full,
        "cfx_getBlockByEpochNumber",
        json!([format!("{e:#x}"), false]),
    );
    let hash = pivot["hash"].as_str().unwrap().to_string();
    let number = common::quantity(&pivot["blockNumber"]);
    let tmp = tempfile::tempdir().unwrap();
    let (_node, ours) = start(
        &d,
        tmp.path(),
        "127.81.0.1",
        &format!("{e}:{hash}:{number}"),
    );
    let started = Instant::now();
    let synced = loop {
        std::thread::sleep(Duration::from_millis(200));
        // Nothing may answer yet while the node opens its store (slow under load).
        let ours_state = common::try_raw_call(&ours, "cfx_epochNumber", json!(["latest_state"]))
            .unwrap_or_default();
        if let Some(s) = ours_state["result"].as_str() {
            let s = u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap();
            if s > e + 5 {
                break s;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no state after the checkpoint"
        );
    };
    let log = std::fs::read_to_string(tmp.path().join("node.log")).unwrap();
    assert!(
        log.contains(&format!("starting from checkpoint epoch {e}")),
        "{log}"
    );
    let mined = common::quantity(&result(&ours, "cfx_epochNumber", json!(["latest_mined"])));
    // The held window: the difficulty period before the checkpoint (devnet: 20) and one
    // snapshot period and ten epochs (the intermediate trie's previous snapshot root).
    let spec = common::devnet_spec(d["chain_id"].as_u64().unwrap() as u32);
    let base = e.saturating_sub(
        spec.rules
            .difficulty_period
            .max(spec.snapshot_epoch_count + 10),
    );
    for epoch in base..=mined {
        let tag = format!("{epoch:#x}");
        assert_eq!(
            result(&ours, "cfx_getBlocksByEpoch", json!([tag])),
            result(&full, "cfx_getBlocksByEpoch", json!([tag])),
            "blocks of epoch {epoch}"
        );
        let a = result(&ours, "cfx_getBlockByEpochNumber", json!([tag, false]));
        let b = result(&full, "cfx_getBlockByEpochNumber", json!([tag, false]));
        assert_eq!(a["hash"], b["hash"], "pivot of epoch {epoch}");
        assert_eq!(
            a["blockNumber"], b["blockNumber"],
            "block number at epoch {epoch}"
        );
    }
    // Before the window the node holds nothing, and says so rather than guessing.
    if base > 0 {
        let before = format!("{:#x}", base - 1);
        let r = common::raw_call(&ours, "cfx_getBlockByEpochNumber", json!([before, false]));
        assert!(r["result"].is_null() || r["error"].is_object(), "{r}");
        let r = common::raw_call(&ours, "cfx_getBlocksByEpoch", json!([before]));
        assert!(r["error"].is_object() || r["result"] == json!([]), "{r}");
    }
    let state = format!("{synced:#x}");
    for k in d["genesis_keys"].as_array().unwrap() {
        let who = k["address"].as_str().unwrap();
        assert_eq!(
            common::raw_call(&ours, "cfx_getBalance", json!([who, state])),
            common::raw_call(&full, "cfx_getBalance", json!([who, state])),
            "balance of {who}"
        );
    }
}

#[test]
fn a_wrong_checkpoint_hash_is_refused_at_start_with_a_clear_error() {
    let Some(dir) = common::devnet_dir() else {
        return;
    };
    let d = common::devnet_json(&dir);
    let full = d["rpc_url"].as_str().unwrap().to_string();
    let tip = common::quantity(&result(&full, "cfx_epochNumber", json!(["latest_mined"])));
    let e = tip.saturating_sub(10);
    // A hash nobody has, and a real block that is the pivot of another epoch.
    let other = result(
        &full,
        "cfx_getBlockByEpochNumber",
        json!([format!("{:#x}", e - 1), false]),
    );
    for (what, cp, needle) in [
        (
            "unknown hash",
            format!("{e}:0x{}", "ab".repeat(32)),
            "has no block",
        ),
        (
            "another epoch's pivot",
            format!("{e}:{}", other["hash"].as_str().unwrap()),
            "not at epoch",
        ),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let (mut node, _) = start(&d, tmp.path(), "127.82.0.1", &cp);
        let started = Instant::now();
        let status = loop {
            if let Some(s) = node.0.try_wait().unwrap() {
                break s;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{what}: still running"
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        assert!(!status.success(), "{what}");
        let log = std::fs::read_to_string(tmp.path().join("node.log")).unwrap();
        assert!(
            log.contains("cannot start from the checkpoint") && log.contains(needle),
            "{what}: {log}"
        );
    }
}
