//! `cfx_sendRawTransaction` from senders the node does not sign for (M1 of the security
//! review), against the real devnet: a flood of 1,500 transactions from throwaway keys is
//! refused against verified state (no balance) without growing the data directory or the
//! node's memory, while a valid transaction of a funded foreign sender is relayed and
//! mined but not kept in the node's own pending set.
//!
//! Gated like `devnet.rs`: `CFXLIGHT_DEVNET=<dir>`, required under CI. Runs in the nextest
//! group of the genesis-key-3 users (`.config/nextest.toml`).

#![allow(clippy::unwrap_used, missing_docs)] // a test may stop at the first surprise

mod common;

use std::time::{Duration, Instant};

use cfxlight_primitives::{
    crypto,
    transaction::{Action, Transaction, TxKind},
    H160, U256,
};
use serde_json::{json, Value};

fn dir_bytes(p: &std::path::Path) -> u64 {
    let mut n = 0;
    for e in std::fs::read_dir(p).unwrap().flatten() {
        let m = e.metadata().unwrap();
        n += if m.is_dir() {
            dir_bytes(&e.path())
        } else {
            m.len()
        };
    }
    n
}

fn peak_mb(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap()
        / 1024
}

fn transfer(
    key: &k256::ecdsa::SigningKey,
    nonce: U256,
    epoch: u64,
    chain_id: u32,
    data: Vec<u8>,
) -> String {
    let tx = Transaction {
        nonce,
        gas: (21000 + 16 * data.len() as u64 * 2).into(),
        // A user address (type nibble 1): no sponsor can pay for it.
        action: Action::Call({
            let mut a = H160::repeat_byte(0x11);
            a.0[0] = 0x10;
            a
        }),
        value: 1.into(),
        storage_limit: 0,
        epoch_height: epoch,
        chain_id,
        data,
        kind: TxKind::Legacy {
            gas_price: 1_000_000_000u64.into(),
        },
    }
    .sign(key)
    .unwrap();
    format!("0x{}", hex::encode(tx.encode()))
}

#[test]
fn a_raw_transaction_flood_is_refused_against_verified_state_and_costs_nothing() {
    let Some(dir) = common::devnet_dir() else {
        return;
    };
    let d = common::devnet_json(&dir);
    let chain_id = d["chain_id"].as_u64().unwrap() as u32;
    let full = d["rpc_url"].as_str().unwrap().to_string();
    let data = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let node = common::Killed(
        common::node_command(&d, data.path(), "127.85.0.1")
            .args(["--rpc-http-port", &port.to_string(), "--rpc-ws-port", "0"])
            .spawn()
            .unwrap(),
    );
    let ours = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "RPC never came up"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    loop {
        let r = common::raw_call(&ours, "cfx_epochNumber", json!(["latest_state"]));
        if r["result"].as_str().is_some_and(|s| s != "0x0") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "no state");
        std::thread::sleep(Duration::from_millis(100));
    }
    let epoch = common::quantity(&common::raw_call(&full, "cfx_epochNumber", json!([]))["result"]);
    let before = dir_bytes(data.path());
    // 1,500 transactions from throwaway keys, each with 20 KB of data.
    // Each is refused: for its balance (the verified state says it has none), or, when a
    // proof cannot be fetched in time under load, because the state is not verifiable;
    // never accepted.
    let (mut for_balance, mut other) = (0, vec![]);
    for _ in 0..1500 {
        let key = k256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng);
        let raw = transfer(&key, 0.into(), epoch, chain_id, vec![0xab; 20_000]);
        let r = common::raw_call(&ours, "cfx_sendRawTransaction", json!([raw]));
        assert!(
            r["result"].is_null(),
            "a flood transaction was accepted: {r}"
        );
        if r["error"]["code"] == -32602 && r["error"]["data"].to_string().contains("balance") {
            for_balance += 1;
        } else {
            other.push(r["error"].clone());
        }
    }
    assert!(
        for_balance >= 1400,
        "{for_balance} refused for their balance; others: {other:?}"
    );
    let grown = dir_bytes(data.path()).saturating_sub(before);
    assert!(grown < 40 << 20, "the data directory grew by {grown} bytes");
    let peak = peak_mb(node.0.id());
    assert!(peak < 300, "the node peaked at {peak} MB");
    let status = common::raw_call(&ours, "cfx_getStatus", json!([]));
    assert_eq!(status["result"]["pendingTxNumber"], "0x0", "{status}");

    // A far nonce and a stale epoch height are refused too.
    let key = common::genesis_key(&d, 3);
    let from = crypto::public_to_address(&crypto::public_of(key.verifying_key()));
    let b32 = cfxlight_primitives::address::encode(&from, u64::from(chain_id));
    let nonce: U256 = serde_json::from_value(
        common::raw_call(&full, "cfx_getNextNonce", json!([b32]))["result"].clone(),
    )
    .unwrap();
    for (what, raw) in [
        (
            "far nonce",
            transfer(&key, nonce + U256::from(5_000), epoch, chain_id, vec![]),
        ),
        (
            "stale epoch height",
            transfer(&key, nonce, epoch + 200_000, chain_id, vec![]),
        ),
    ] {
        let r = common::raw_call(&ours, "cfx_sendRawTransaction", json!([raw]));
        assert_eq!(r["error"]["code"], -32602, "{what}: {r}");
    }
    // A funded foreign sender's valid transaction is relayed and mined, not kept.
    let raw = transfer(&key, nonce, epoch, chain_id, vec![]);
    let r = common::raw_call(&ours, "cfx_sendRawTransaction", json!([raw]));
    let hash = r["result"]
        .as_str()
        .unwrap_or_else(|| panic!("{r}"))
        .to_string();
    let status = common::raw_call(&ours, "cfx_getStatus", json!([]));
    assert_eq!(status["result"]["pendingTxNumber"], "0x0", "{status}");
    let started = Instant::now();
    loop {
        let t: Value =
            common::raw_call(&full, "cfx_getTransactionByHash", json!([hash]))["result"].clone();
        if t["blockHash"].is_string() {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "not mined");
        std::thread::sleep(Duration::from_millis(200));
    }
}
