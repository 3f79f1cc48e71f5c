//! What the send tests share (`send.rs`, `send_pkcs11.rs`, `send_plugin.rs`): waiting for a
//! receipt, a `cfxlight node` child whose log tail is printed when a test fails, funding an
//! account from a genesis key and waiting for it in verified state, a raw JSON-RPC call,
//! and js-conflux-sdk's `cfx_sendTransaction` through the node (`scripts/js/sdk-send.js`).

#![allow(dead_code)]

use std::{
    path::PathBuf,
    process::Child,
    time::{Duration, Instant},
};

use cfxlight_node::rpc_client::RpcClient;
use cfxlight_primitives::{
    address, crypto,
    transaction::{Action, Transaction, TxKind},
    H160, H256, U256,
};
use serde_json::{json, Value};

/// The receipt of `hash` from `rpc`, waiting up to `secs` seconds for it.
pub fn wait_receipt(rpc: &RpcClient, hash: &H256, secs: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Ok(r) = rpc.call::<Value>("cfx_getTransactionReceipt", json!([hash])) {
            if !r.is_null() {
                return r;
            }
        }
        assert!(Instant::now() < deadline, "{hash:?} not mined in {secs} s");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Waits until the full node mined `hash`, requires it succeeded with `from_b32` (base32,
/// lower case) as sender and that `node`'s verified receipt equals the full node's, field
/// by field; returns that receipt.
pub fn assert_mined_from(full: &RpcClient, node: &Node, hash: &H256, from_b32: &str) -> Value {
    let full_receipt = wait_receipt(full, hash, 60);
    assert_eq!(full_receipt["outcomeStatus"], "0x0");
    assert_eq!(
        full_receipt["from"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .replace("type.user:", ""),
        from_b32
    );
    let ours: Value = node
        .local
        .call("cfx_getTransactionReceipt", json!([hash]))
        .unwrap();
    assert_eq!(ours, full_receipt);
    full_receipt
}

/// A `cfxlight node` child, killed on drop (its log tail printed if the test failed).
pub struct Node {
    /// The process.
    pub child: Child,
    /// Its local (signing) RPC.
    pub local: RpcClient,
    /// That RPC's URL.
    pub local_url: String,
    /// Its stderr log.
    pub log: PathBuf,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!("--- node log tail ({}) ---", self.log.display());
            for l in tail.iter().rev() {
                eprintln!("{l}");
            }
        }
    }
}

/// Sends `value` drip to `to` from genesis key `key` of the devnet `d` (its devnet.json),
/// through the full node, and waits until it is mined.
pub fn fund(d: &Value, key: usize, to: H160, value: U256) {
    let full = RpcClient::new(d["rpc_url"].as_str().unwrap());
    let chain_id = d["chain_id"].as_u64().unwrap() as u32;
    let key = super::genesis_key(d, key);
    let from = crypto::public_to_address(&crypto::public_of(key.verifying_key()));
    let nonce: U256 = full
        .call(
            "cfx_getNextNonce",
            json!([address::encode(&from, u64::from(chain_id))]),
        )
        .unwrap();
    let epoch = super::quantity(&full.call("cfx_epochNumber", json!([])).unwrap());
    let tx = Transaction {
        nonce,
        gas: 21000.into(),
        action: Action::Call(to),
        value,
        storage_limit: 0,
        epoch_height: epoch,
        chain_id,
        data: vec![],
        kind: TxKind::Legacy {
            gas_price: 1_000_000_000u64.into(),
        },
    }
    .sign(&key)
    .unwrap();
    let _: H256 = full
        .call(
            "cfx_sendRawTransaction",
            json!([format!("0x{}", hex::encode(tx.encode()))]),
        )
        .unwrap();
    wait_receipt(&full, &tx.hash(), 60);
}

/// Waits up to `secs` seconds until the node's verified state shows `who` with a non-zero
/// balance. A node not listening yet, or with no verified state yet, is waited for; any
/// other error reply fails at once.
pub fn wait_funded(node: &Node, who: &str, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": "cfx_getBalance", "params": [who]});
        if let Ok(reply) = ureq::post(&node.local_url).send_json(body) {
            let v: Value = reply.into_json().unwrap();
            // A node that has verified no state yet says so; anything else fails at once.
            let not_yet = v["error"]["data"]
                .as_str()
                .is_some_and(|d| d.contains("Unable to verify epoch 0"));
            if not_yet {
                assert!(
                    Instant::now() < deadline,
                    "no verified state in {secs} s: {v}"
                );
                std::thread::sleep(Duration::from_millis(200));
                continue;
            }
            assert!(v.get("error").is_none(), "cfx_getBalance: {v}");
            let b: U256 = serde_json::from_value(v["result"].clone()).unwrap();
            if !b.is_zero() {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "funding never showed in verified state"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// One JSON-RPC call, the whole reply (result or error) as JSON.
pub fn raw(url: &str, method: &str, params: Value) -> Value {
    ureq::post(url)
        .send_json(json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}))
        .unwrap()
        .into_json()
        .unwrap()
}

/// js-conflux-sdk's `cfx.sendTransaction` of 1 CFX to `to` through the node's local port
/// (`scripts/js/sdk-send.js`); its JSON report (hash, balances and nonces before and after).
pub fn sdk_send(node: &Node, chain_id: u32, to: &str) -> Value {
    let out = std::process::Command::new("node")
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts"))
        .args(["js/sdk-send.js", "--url", &node.local_url, "--network-id"])
        .arg(chain_id.to_string())
        .args(["--to", to, "--value-cfx", "1"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sdk-send failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}
