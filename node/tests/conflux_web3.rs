//! conflux-web3 (Python, 1.4.4) through `cfxlight node` on the real devnet: its default
//! `send_transaction` with neither `gas` nor `storageLimit` estimates both with
//! `cfx_estimateGasAndCollateral` (it does so even for a plain transfer), fills nonce,
//! price and epoch height from the node, signs locally and sends the raw transaction. The
//! transfer mines with the gas and storage the full node estimates for it, and the money
//! arrives.
//!
//! Needs `CFXLIGHT_DEVNET=<dir>` and `scripts/.venv` with conflux-web3 (`.ci/run` and
//! `scripts/test` make it; both required under CI). Genesis key 0: the `key0` group.

#![allow(clippy::unwrap_used, missing_docs)] // a test may stop at the first surprise

mod common;

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use cfxlight_node::rpc_client::RpcClient;
use cfxlight_primitives::{address, H160, U256};
use serde_json::{json, Value};

/// This test's P2P source address towards the devnet.
const P2P_IP: &str = "127.0.0.65";

fn python() -> Option<PathBuf> {
    let py = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/.venv/bin/python");
    let ok = Command::new(&py)
        .args(["-c", "import conflux_web3"])
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return Some(py);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI runs the conflux-web3 test: scripts/.venv needs conflux-web3 (.ci/run installs it)"
    );
    eprintln!("skipped: scripts/.venv with conflux-web3 is missing (scripts/test makes it)");
    None
}

#[test]
fn conflux_web3_default_send_transaction_is_estimated_by_our_node_and_mines() {
    let Some(dir) = common::devnet_dir() else {
        return;
    };
    let Some(py) = python() else { return };
    let d = common::devnet_json(&dir);
    let net = d["chain_id"].as_u64().unwrap();
    let full = RpcClient::new(d["rpc_url"].as_str().unwrap());
    let data = tempfile::tempdir().unwrap();
    let (_node, url) = common::public_node(&d, &data.path().join("node"), P2P_IP);
    common::wait_state_past(&url, 0, 60);

    // A fresh user-type recipient, so its balance is exactly what this test sent.
    let mut to_hex = H160::from_low_u64_be(rand_suffix());
    to_hex.0[0] = 0x10;
    let to = address::encode(&to_hex, net);
    let from = d["genesis_keys"][0]["address"].as_str().unwrap();
    let secret = d["genesis_keys"][0]["secret"].as_str().unwrap();
    let out = Command::new(&py)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/py/cw3_send.py"))
        .args([&url, secret, &to, "1000"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "conflux-web3 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sent: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(sent["outcomeStatus"], 0, "{sent}");
    let estimate: Value = full
        .call(
            "cfx_estimateGasAndCollateral",
            json!([{"from": from, "to": to, "value": "0x3e8"}]),
        )
        .unwrap();
    assert_eq!(
        json!(sent["gas"].as_u64().unwrap()),
        json!(common::quantity(&estimate["gasLimit"]))
    );
    assert_eq!(
        json!(sent["storageLimit"].as_u64().unwrap()),
        json!(common::quantity(&estimate["storageCollateralized"]))
    );
    // The full node mined it from key 0 and the recipient holds the value.
    let tx: Value = full
        .call("cfx_getTransactionByHash", json!([sent["hash"]]))
        .unwrap();
    let shown = tx["from"]
        .as_str()
        .unwrap()
        .to_lowercase()
        .replace("type.user:", "");
    assert_eq!(shown, from, "{tx}");
    let balance: U256 = full.call("cfx_getBalance", json!([to])).unwrap();
    assert_eq!(balance, U256::from(1000));
}

/// A few random bits for a fresh recipient (no rand dependency in the tests).
fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        ^ u64::from(std::process::id()) << 32
}
