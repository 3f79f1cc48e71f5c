//! Two real full nodes peered to each other, our node connected to both: stopping one of
//! them keeps our node following the chain.
//!
//! Uses the devnet of `CFXLIGHT_DEVNET` (the miner) and starts a second, non-mining full
//! node peered to it with `scripts/devnet up --bootnode … --no-mine`. Gated like the other
//! devnet tests and required under CI.

#![allow(clippy::unwrap_used, missing_docs)] // a test may stop at the first surprise

mod common;

use std::{
    path::PathBuf,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use cfxlight_node::rpc_client::RpcClient;
use serde_json::{json, Value};

const DEVNET: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/devnet");

struct Down(PathBuf);

impl Drop for Down {
    fn drop(&mut self) {
        let _ = Command::new(DEVNET).arg("down").arg(&self.0).status();
    }
}

fn epoch(rpc: &RpcClient) -> u64 {
    let v: Value = rpc
        .call("cfx_epochNumber", json!(["latest_mined"]))
        .unwrap();
    u64::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

#[test]
fn stopping_one_of_two_full_nodes_keeps_the_node_synced() {
    let Some(dir) = common::devnet_dir() else {
        return;
    };
    let a = common::devnet_json(&dir);
    let b_dir = tempfile::tempdir().unwrap();
    let status = Command::new(DEVNET)
        .args(["up"])
        .arg(b_dir.path())
        .args(["--chain-id", &a["chain_id"].to_string(), "--no-mine"])
        .args(["--bootnode", a["bootnode"].as_str().unwrap()])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "second full node did not start");
    let b_down = Down(b_dir.path().to_path_buf());
    let b = common::devnet_json(b_dir.path());

    let full_a = RpcClient::new(a["rpc_url"].as_str().unwrap());
    let port = common::free_port();
    let ours = RpcClient::new(&format!("http://127.0.0.1:{port}"));
    let data = tempfile::tempdir().unwrap();
    // The second node holds a session with the first from 127.0.0.1, and conflux-rust
    // accepts one session per source IP: dial from another loopback address.
    let _node = common::Killed(
        common::node_command(&a, data.path(), "127.0.0.51")
            .args(["--bootnode", b["bootnode"].as_str().unwrap()])
            .args(["--rpc-http-port", &port.to_string()])
            .args(["--rpc-ws-port", &common::free_port().to_string()])
            .spawn()
            .unwrap(),
    );
    let follows = |within: Duration| {
        let deadline = Instant::now() + within;
        loop {
            let target = epoch(&full_a);
            if ours.call::<Value>("cfx_epochNumber", json!([])).is_ok()
                && epoch(&ours) + 2 >= target
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "our node fell behind the full node (at {target})"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    follows(Duration::from_secs(20));
    drop(b_down); // stop the second full node
    let before = epoch(&ours);
    std::thread::sleep(Duration::from_secs(3));
    follows(Duration::from_secs(20));
    assert!(
        epoch(&ours) > before,
        "our node stopped advancing after a peer went away"
    );
}
