//! `cfx_getStorageRoot` through `cfxlight node` on the real devnet: for a contract with
//! storage, a contract whose storage holds nothing but its layout, an account without
//! storage and an address nobody owns, at several epochs, the answer equals the full
//! node's JSON, and malformed requests get the full node's errors. Every answer the node
//! gives was proven in the delta, intermediate and snapshot tries against the epoch's
//! verified state root (`query::Query::storage_root`; lies are `lying_peer.rs`'s).
//!
//! Gated like `devnet.rs`: `CFXLIGHT_DEVNET=<dir>`, required under CI.

#![allow(clippy::unwrap_used, missing_docs)] // a test may stop at the first surprise

mod common;

use std::time::{Duration, Instant};

use cfxlight_primitives::{address, H160};
use common::{quantity, raw_call};
use serde_json::{json, Value};

/// `latest_state` of the node at `url`, if it answers (yet).
fn latest_state(url: &str) -> Option<u64> {
    let body =
        json!({"jsonrpc": "2.0", "id": 1, "method": "cfx_epochNumber", "params": ["latest_state"]});
    let r: Value = ureq::post(url).send_json(body).ok()?.into_json().ok()?;
    r.get("result").map(quantity)
}

fn internal_contract(last: u8) -> H160 {
    let mut a = [0u8; 20];
    a[0] = 0x08;
    a[1] = 0x88;
    a[19] = last;
    H160(a)
}

#[test]
fn storage_roots_equal_the_full_nodes() {
    let Some(dir) = common::devnet_dir() else {
        return;
    };
    let d: Value = common::devnet_json(&dir);
    let network = d["network_id"].as_u64().unwrap();
    let full = d["rpc_url"].as_str().unwrap().to_string();
    let data = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let ours = format!("http://127.0.0.1:{port}");
    // conflux-rust keeps one session per source address, and at most 2 per /24, 4 per /16
    // and 8 per /8 (`session_ip_limits` "1,8,4,2"): dial from a /16 of our own.
    let _node = common::Killed(
        common::node_command(&d, data.path(), "127.45.0.1")
            .args(["--rpc-http-port", &port.to_string()])
            .args(["--rpc-ws-port", &common::free_port().to_string()])
            .spawn()
            .unwrap(),
    );
    let target = latest_state(&full).unwrap();
    let start = Instant::now();
    let state = loop {
        if let Some(s) = latest_state(&ours).filter(|s| *s >= target) {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "latest_state {target} not reached"
        );
        std::thread::sleep(Duration::from_millis(200));
    };

    let b32 = |a: &H160| address::encode(a, network);
    let genesis_account: H160 = d["genesis_keys"][0]["hex_address"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let accounts = [
        ("staking contract (slots)", internal_contract(2)),
        ("sponsor whitelist contract (slots)", internal_contract(1)),
        ("AdminControl (layout only)", internal_contract(0)),
        ("genesis account (no storage)", genesis_account),
        (
            "address nobody owns",
            "1d92753de83cb355f4a9f73465ac4e9ef1082290".parse().unwrap(),
        ),
    ];
    let mut with_node = 0;
    for (what, a) in &accounts {
        for epoch in [0, 1, state.saturating_sub(3), state] {
            let params = json!([b32(a), format!("{epoch:#x}")]);
            let theirs = raw_call(&full, "cfx_getStorageRoot", params.clone());
            let mine = raw_call(&ours, "cfx_getStorageRoot", params);
            assert!(theirs["result"].is_object(), "{what} at {epoch}: {theirs}");
            assert_eq!(mine["result"], theirs["result"], "{what} at epoch {epoch}");
            // A node in any trie (the delta one in the first period; from the second on,
            // what was last written in the previous period sits in the intermediate one).
            if theirs["result"]
                .as_object()
                .unwrap()
                .values()
                .any(|p| !p.is_null())
            {
                with_node += 1;
            }
        }
        // "earliest" is epoch 0 for both.
        let params = json!([b32(a), "earliest"]);
        assert_eq!(
            raw_call(&ours, "cfx_getStorageRoot", params.clone())["result"],
            raw_call(&full, "cfx_getStorageRoot", params)["result"],
            "{what} at earliest"
        );
    }
    assert!(with_node >= 12, "the contracts have storage roots");
    // An account without storage: every part null, as the full node says.
    let nothing = json!({"delta": null, "intermediate": null, "snapshot": null});
    let none = raw_call(
        &ours,
        "cfx_getStorageRoot",
        json!([b32(&genesis_account), format!("{state:#x}")]),
    );
    assert_eq!(none["result"], nothing);
    // The default epoch is latest_state: a root that does not move between epochs.
    let admin = b32(&internal_contract(0));
    assert_eq!(
        raw_call(&ours, "cfx_getStorageRoot", json!([admin]))["result"],
        raw_call(&full, "cfx_getStorageRoot", json!([admin]))["result"]
    );

    // Malformed requests: conflux-rust's errors, word for word where it has its own words.
    let pivot = raw_call(&full, "cfx_getBlockByEpochNumber", json!(["0x1", false]))["result"]
        ["hash"]
        .clone();
    let exact = [
        json!([admin, {"epochNumber": "0x1"}]),
        json!([admin, {"blockHash": pivot}]),
        json!([admin, format!("hash:{}", pivot.as_str().unwrap())]),
        json!([admin, 5]),
        json!([admin, "0xzz"]),
        json!([admin, "0x1", "0x1"]),
        json!([]),
        json!([null]),
    ];
    for params in exact {
        let theirs = raw_call(&full, "cfx_getStorageRoot", params.clone());
        let mine = raw_call(&ours, "cfx_getStorageRoot", params.clone());
        assert!(theirs["error"].is_object(), "{params}: {theirs}");
        assert_eq!(mine["error"], theirs["error"], "{params}");
    }
    // Beyond the verified state: the same code (the wording names our verification).
    let far = json!([admin, "0x7fffffff"]);
    assert_eq!(
        raw_call(&ours, "cfx_getStorageRoot", far.clone())["error"]["code"],
        raw_call(&full, "cfx_getStorageRoot", far)["error"]["code"]
    );
    // Another network's address.
    let other_net = json!([address::encode(&internal_contract(0), 1029)]);
    assert_eq!(
        raw_call(&ours, "cfx_getStorageRoot", other_net.clone())["error"],
        raw_call(&full, "cfx_getStorageRoot", other_net)["error"]
    );
}
