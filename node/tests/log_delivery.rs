//! Logs under pressure, against the real devnet: an answer past the response limit is
//! refused with jsonrpsee's error before it is built (while a small one still equals the
//! full node's), and a `logs` subscription whose epoch cannot be fetched retries that
//! epoch and delivers it late, in order, rather than skipping it. The fetch failure comes
//! from a fault-injecting provider (`common::liar`, named as such) that withholds blooms
//! until told otherwise and relays the real node for everything else.
//!
//! Gated like `devnet.rs` (`CFXLIGHT_DEVNET`, required under CI); sends from genesis key
//! 0, in the `key0` test group with `espace`.

#![allow(clippy::unwrap_used, missing_docs)] // a test may stop at the first surprise

mod common;

use std::{
    net::IpAddr,
    process::{Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use cfxlight_node::{light::peer::LightPeer, rpc_client::RpcClient};
use cfxlight_primitives::{
    transaction::{Action, Transaction, TxKind},
    H256, U256,
};
use common::{liar, quantity, send::wait_receipt};
use k256::SecretKey;
use serde_json::{json, Value};

/// Init code that logs `len` zero bytes (LOG0 over fresh memory) and deploys nothing.
fn logging_init(len: u16) -> Vec<u8> {
    let [hi, lo] = len.to_be_bytes();
    vec![0x61, hi, lo, 0x60, 0x00, 0xa0, 0x00]
}

/// Deploys `init` from genesis key 0 through the full node; returns the tx hash and the
/// epoch it was executed in.
fn deploy(d: &Value, init: Vec<u8>) -> (H256, u64) {
    let full = RpcClient::new(d["rpc_url"].as_str().unwrap());
    let from = d["genesis_keys"][0]["address"].as_str().unwrap();
    let nonce: U256 = full.call("cfx_getNextNonce", json!([from])).unwrap();
    let epoch = quantity(&full.call("cfx_epochNumber", json!([])).unwrap());
    let tx = Transaction {
        nonce,
        gas: 3_000_000.into(),
        action: Action::Create,
        value: 0.into(),
        storage_limit: 0,
        epoch_height: epoch,
        chain_id: d["chain_id"].as_u64().unwrap() as u32,
        data: init,
        kind: TxKind::Legacy {
            gas_price: 1_000_000_000u64.into(),
        },
    }
    .sign(&common::genesis_key(d, 0))
    .unwrap();
    let hash: H256 = full
        .call(
            "cfx_sendRawTransaction",
            json!([format!("0x{}", hex::encode(tx.encode()))]),
        )
        .unwrap();
    let r = wait_receipt(&full, &hash, 60);
    assert_eq!(r["outcomeStatus"], "0x0", "{r}");
    (hash, quantity(&r["epochNumber"]))
}

/// Waits until `url`'s latest_state reaches `epoch`.
fn wait_state(url: &str, epoch: u64, secs: u64) {
    let rpc = RpcClient::new(url);
    let deadline = Instant::now() + Duration::from_secs(secs);
    while rpc
        .call::<Value>("cfx_epochNumber", json!(["latest_state"]))
        .map_or(true, |v| quantity(&v) < epoch)
    {
        assert!(
            Instant::now() < deadline,
            "{url}: state {epoch} not reached"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn one_epoch(e: u64) -> Value {
    json!([{"fromEpoch": format!("{e:#x}"), "toEpoch": format!("{e:#x}")}])
}

#[test]
fn log_answers_past_the_response_count_or_range_limits_are_refused_before_they_are_built() {
    let Some(dir) = common::devnet_dir() else {
        return;
    };
    let d = common::devnet_json(&dir);
    let full = d["rpc_url"].as_str().unwrap();
    let data = tempfile::tempdir().unwrap();
    let http = common::free_port();
    let _node = common::Killed(
        common::node_command(&d, data.path(), "127.101.0.1")
            .args(["--rpc-http-port", &http.to_string()])
            .args(["--rpc-ws-port", &common::free_port().to_string()])
            .args(["--rpc-max-response-body", "65536"])
            .args(["--rpc-logs-max-limit", "1"])
            .args(["--rpc-logs-max-epoch-range", "20"])
            .spawn()
            .unwrap(),
    );
    let ours = format!("http://127.0.0.1:{http}");

    // 40 KiB of log data: 80 KiB of hex, over a 64 KiB answer.
    let (big, big_epoch) = deploy(&d, logging_init(40 * 1024));
    let (small, small_epoch) = deploy(&d, logging_init(32));
    // Two logs in one transaction: over a limit of one log per answer.
    let (_, two_epoch) = deploy(
        &d,
        vec![0x60, 0, 0x60, 0, 0xa0, 0x60, 0, 0x60, 0, 0xa0, 0x00],
    );
    wait_state(&ours, two_epoch.max(small_epoch).max(big_epoch), 60);

    let theirs = common::raw_call(full, "cfx_getLogs", one_epoch(big_epoch));
    let logs = theirs["result"].as_array().unwrap();
    let log = logs
        .iter()
        .find(|l| l["transactionHash"] == json!(big))
        .unwrap();
    assert_eq!(log["data"].as_str().unwrap().len(), 2 + 2 * 40 * 1024);
    let refused = common::raw_call(&ours, "cfx_getLogs", one_epoch(big_epoch));
    assert_eq!(refused["error"]["code"], -32008, "{refused:.300}");
    assert_eq!(refused["error"]["message"], "Response is too big");
    assert_eq!(refused["error"]["data"], "Exceeded max limit of 65536");

    // Under the limit the answer is the full node's, and the node answers as before.
    let ours_small = common::raw_call(&ours, "cfx_getLogs", one_epoch(small_epoch));
    let theirs_small = common::raw_call(full, "cfx_getLogs", one_epoch(small_epoch));
    assert!(ours_small["result"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["transactionHash"] == json!(small)));
    assert_eq!(ours_small["result"], theirs_small["result"]);

    let two = common::raw_call(&ours, "cfx_getLogs", one_epoch(two_epoch));
    assert_eq!(two["error"]["code"], -32602, "{two}");
    assert_eq!(two["error"]["message"], "Invalid parameters: filter");
    assert_eq!(
        two["error"]["data"],
        json!(format!("{:?}", "This query results in too many logs, max limitation is 1, please filter results by a smaller epoch/block range"))
    );
    // 21 epochs, both ends counted, over a range of 20: conflux-rust's FilterError.
    let (from, to) = (two_epoch - 20, two_epoch);
    let wide = common::raw_call(
        &ours,
        "cfx_getLogs",
        json!([{"fromEpoch": format!("{from:#x}"), "toEpoch": format!("{to:#x}")}]),
    );
    assert_eq!(wide["error"]["code"], -32016, "{wide}");
    assert_eq!(
        wide["error"]["message"],
        format!("Error processing request: Filter error: The gap between from_epoch and to_epoch is larger than max_gap (from: {from}, to: {to}, max_gap: 20)")
    );
    let status = common::raw_call(&ours, "cfx_getStatus", json!([]));
    assert!(status["result"]["epochNumber"].is_string(), "{status}");
}

#[test]
fn a_logs_subscription_retries_an_epoch_it_cannot_fetch_and_never_skips_it() {
    let Some((_, chain, d)) = liar::devnet() else {
        return;
    };
    let full = d["rpc_url"].as_str().unwrap().to_string();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let overlay = Arc::new(Mutex::new(liar::Overlay {
        withhold_blooms: true,
        follow_upstream: true,
        ..Default::default()
    }));
    let url = rt.block_on(async {
        let real: cfxlight_node::wire::NodeUrl = d["bootnode"].as_str().unwrap().parse().unwrap();
        let upstream = LightPeer::connect(
            &real,
            &SecretKey::random(&mut rand::rngs::OsRng),
            chain,
            Some(IpAddr::from([127, 102, 0, 1])),
        )
        .await
        .unwrap();
        liar::spawn(Arc::new(upstream), chain, overlay.clone()).await
    });
    let data = tempfile::tempdir().unwrap();
    let (http, ws) = (common::free_port(), common::free_port());
    let _node = common::Killed(
        Command::new(env!("CARGO_BIN_EXE_cfxlight"))
            .args(["node", "--rpc-local-port", "0", "--chain", "devnet"])
            .args(["--chain-id", &chain.chain_id.to_string()])
            .args(["--genesis-hash", d["genesis_hash"].as_str().unwrap()])
            .args(["--bootnode", &url.to_string(), "--only-bootnodes"])
            .arg("--datadir")
            .arg(data.path())
            .args(["--rpc-http-port", &http.to_string()])
            .args(["--rpc-ws-port", &ws.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let ours = format!("http://127.0.0.1:{http}");
    let tip = quantity(&common::raw_call(&full, "cfx_epochNumber", json!([]))["result"]);
    wait_state(&ours, tip.saturating_sub(5), 60);

    let watcher = Command::new("node")
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts"))
        .args([
            "js/pubsub-watch.js",
            "--ws",
            &format!("ws://127.0.0.1:{ws}"),
        ])
        .args(["--kinds", "logs", "--seconds", "30"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));

    // While blooms are withheld, the epoch with the first log cannot be fetched; the
    // chain goes on well past it.
    let (first, first_epoch) = deploy(&d, logging_init(32));
    wait_state(&ours, first_epoch + 6, 60);
    let failed = common::raw_call(&ours, "cfx_getLogs", one_epoch(first_epoch));
    assert!(
        failed["error"].is_object(),
        "fetch did not fail: {failed:.300}"
    );

    // Served again: the withheld epoch comes late, then the next log, in order.
    overlay.lock().unwrap().withhold_blooms = false;
    let (second, second_epoch) = deploy(&d, logging_init(32));
    wait_state(&ours, second_epoch + 2, 60);

    let out = watcher.wait_with_output().unwrap();
    assert!(out.status.success());
    let w: Value = serde_json::from_slice(&out.stdout).unwrap();
    let got: Vec<&Value> = w["notifications"]["logs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["transactionHash"] == json!(first) || l["transactionHash"] == json!(second))
        .collect();
    assert_eq!(got.len(), 2, "{got:?}");
    for (log, (hash, epoch)) in got
        .iter()
        .zip([(first, first_epoch), (second, second_epoch)])
    {
        assert_eq!(log["transactionHash"], json!(hash));
        let theirs = common::raw_call(&full, "cfx_getLogs", one_epoch(epoch));
        let want = theirs["result"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["transactionHash"] == json!(hash))
            .unwrap()
            .clone();
        assert_eq!(**log, want);
    }
    // Every epoch in between was delivered in order: epoch numbers never go back.
    let epochs: Vec<u64> = w["notifications"]["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| quantity(&l["epochNumber"]))
        .collect();
    assert!(epochs.windows(2).all(|p| p[0] <= p[1]), "{epochs:?}");
}
