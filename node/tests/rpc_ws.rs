//! The WebSocket side and the server's limits, against the real devnet: `cfx_subscribe`
//! `newHeads`, `epochs` (latest_mined and latest_state) and `logs` deliver what the full
//! node has, in order; the subscription cap answers with an error; and a flood of
//! malformed requests gets JSON-RPC errors without stalling the server.
//!
//! Gated like `devnet.rs` (`CFXLIGHT_DEVNET`, required under CI); in the `pcscd` test
//! group because it sends from genesis key 3 like the card tests.

#![allow(clippy::unwrap_used, missing_docs)] // a test may stop at the first surprise

mod common;

use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use cfxlight_node::rpc_client::RpcClient;
use cfxlight_primitives::{
    transaction::{Action, Transaction, TxKind},
    H256, U256,
};
use common::quantity;
use serde_json::{json, Value};

fn post(url: &str, body: &str) -> (u16, String) {
    match ureq::post(url)
        .set("content-type", "application/json")
        .send_string(body)
    {
        Ok(r) => (r.status(), r.into_string().unwrap_or_default()),
        Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap_or_default()),
        Err(e) => (0, e.to_string()),
    }
}

#[test]
fn subscriptions_deliver_verified_chain_events_and_bad_requests_never_stall_the_server() {
    let Some(dir) = common::devnet_dir() else {
        return;
    };
    let d: Value = common::devnet_json(&dir);
    let full = RpcClient::new(d["rpc_url"].as_str().unwrap());
    let chain_id = d["chain_id"].as_u64().unwrap() as u32;
    let data = tempfile::tempdir().unwrap();
    let (http, ws) = (common::free_port(), common::free_port());
    let _node = common::Killed(
        common::node_command(&d, data.path(), "127.0.0.72")
            .args(["--rpc-http-port", &http.to_string()])
            .args(["--rpc-ws-port", &ws.to_string()])
            .args(["--rpc-max-subscriptions", "5"])
            .spawn()
            .unwrap(),
    );
    let url = format!("http://127.0.0.1:{http}");
    let ours = RpcClient::new(&url);
    let deadline = Instant::now() + Duration::from_secs(30);
    // At the tip, so the watch sees live epochs.
    while ours
        .call::<Value>("cfx_epochNumber", json!([]))
        .map_or(true, |v| {
            quantity(&v) + 2 < quantity(&full.call::<Value>("cfx_epochNumber", json!([])).unwrap())
        })
    {
        assert!(Instant::now() < deadline, "node did not sync");
        std::thread::sleep(Duration::from_millis(100));
    }

    // Watch for 12 s: 4 subscriptions, then 3 more than the cap of 5 allows.
    let watcher = Command::new("node")
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts"))
        .args([
            "js/pubsub-watch.js",
            "--ws",
            &format!("ws://127.0.0.1:{ws}"),
        ])
        .args(["--seconds", "12", "--extra-subscriptions", "3"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();

    // Meanwhile a contract whose constructor logs (PUSH1 0 PUSH1 0 LOG0) is deployed.
    std::thread::sleep(Duration::from_millis(500));
    let key = common::genesis_key(&d, 3);
    let from = d["genesis_keys"][3]["address"].as_str().unwrap();
    let nonce: U256 = full.call("cfx_getNextNonce", json!([from])).unwrap();
    let epoch = quantity(&full.call("cfx_epochNumber", json!([])).unwrap());
    let deploy = Transaction {
        nonce,
        gas: 200_000.into(),
        action: Action::Create,
        value: 0.into(),
        storage_limit: 1024,
        epoch_height: epoch,
        chain_id,
        data: vec![0x60, 0x00, 0x60, 0x00, 0xa0],
        kind: TxKind::Legacy {
            gas_price: 1_000_000_000u64.into(),
        },
    }
    .sign(&key)
    .unwrap();
    let hash: H256 = full
        .call(
            "cfx_sendRawTransaction",
            json!([format!("0x{}", hex::encode(deploy.encode()))]),
        )
        .unwrap();

    // Malformed requests, many at once, while subscriptions run.
    let floods: Vec<_> = (0..8)
        .map(|t| {
            let url = url.clone();
            std::thread::spawn(move || {
                let huge_batch = format!(
                    "[{}]",
                    vec![r#"{"jsonrpc":"2.0","id":1,"method":"cfx_epochNumber","params":[]}"#; 1001]
                        .join(",")
                );
                let cases: Vec<(String, Option<i64>)> = vec![
                    ("{".into(), Some(-32700)),
                    ("hello".into(), Some(-32700)),
                    (r#"{"jsonrpc":"2.0","id":1,"method":"cfx_getBalance","params":[5]}"#.into(), Some(-32602)),
                    (r#"{"jsonrpc":"2.0","id":1,"method":"cfx_getBalance","params":["cfx:aak2rra2njvd77ezwjvx04kkds9fzagfe6ku8scz91"]}"#.into(), Some(-32602)),
                    (r#"{"jsonrpc":"2.0","id":1,"method":"cfx_getBlockByHash","params":["0x12",false]}"#.into(), Some(-32602)),
                    (r#"{"jsonrpc":"2.0","id":1,"method":"cfx_nope","params":[]}"#.into(), Some(-32601)),
                    (r#"{"jsonrpc":"2.0","id":1,"method":"cfx_getLogs","params":[{"fromEpoch":"0x9","toEpoch":"0x1"}]}"#.into(), Some(-32016)),
                    (huge_batch, None),
                ];
                for _ in 0..5 {
                    for (body, code) in &cases {
                        let (status, text) = post(&url, body);
                        assert_eq!(status, 200, "thread {t}: {body:.60} -> {text:.200}");
                        let v: Value = serde_json::from_str(&text).unwrap();
                        match code {
                            Some(c) => assert_eq!(v["error"]["code"], *c, "{body:.60} -> {v}"),
                            // A batch over the cap: one clear error, not 1001 answers.
                            None => assert!(v["error"]["message"]
                                .as_str()
                                .unwrap()
                                .contains("too large")),
                        }
                    }
                }
                // A body over the 5 MiB limit is refused with HTTP 413.
                let big = format!(
                    r#"{{"jsonrpc":"2.0","id":1,"method":"cfx_epochNumber","params":["{}"]}}"#,
                    "0".repeat(6 << 20)
                );
                let (status, _) = post(&url, &big);
                assert!(status == 413 || status == 0, "oversized body got {status}");
            })
        })
        .collect();
    for f in floods {
        f.join().unwrap();
    }
    // The server still answers at once.
    let t0 = Instant::now();
    let _: Value = ours.call("cfx_epochNumber", json!([])).unwrap();
    assert!(
        t0.elapsed() < Duration::from_secs(1),
        "server stalled: {:?}",
        t0.elapsed()
    );

    let out = watcher.wait_with_output().unwrap();
    assert!(out.status.success());
    let w: Value = serde_json::from_slice(&out.stdout).unwrap();
    for k in ["newHeads", "epochs", "epochs:latest_state", "logs"] {
        assert!(
            w["subscribed"][k].is_string(),
            "{k}: {}",
            w["subscribed"][k]
        );
        assert_eq!(w["unsubscribed"][k], true, "{k}");
    }
    let extra = w["extra"].as_array().unwrap();
    assert!(
        extra[0]["id"].is_string(),
        "5th subscription is within the cap"
    );
    assert!(
        extra[1]["error"].is_object() && extra[2]["error"].is_object(),
        "{extra:?}"
    );

    // newHeads: real blocks, each equal to the full node's header fields.
    let heads = w["notifications"]["newHeads"].as_array().unwrap();
    assert!(heads.len() >= 10, "only {} heads in 12 s", heads.len());
    for h in heads.iter().take(5) {
        let b: Value = full
            .call("cfx_getBlockByHash", json!([h["hash"], false]))
            .unwrap();
        for f in [
            "parentHash",
            "height",
            "deferredStateRoot",
            "transactionsRoot",
            "nonce",
        ] {
            assert_eq!(h[f], b[f], "{f}");
        }
    }
    // epochs: consecutive, and the blocks the full node lists for each.
    for k in ["epochs", "epochs:latest_state"] {
        let e = w["notifications"][k].as_array().unwrap();
        assert!(e.len() >= 10, "{k}: {}", e.len());
        for pair in e.windows(2) {
            assert_eq!(
                quantity(&pair[1]["epochNumber"]),
                quantity(&pair[0]["epochNumber"]) + 1,
                "{k} skipped an epoch"
            );
        }
        let first = &e[0];
        let blocks: Value = full
            .call("cfx_getBlocksByEpoch", json!([first["epochNumber"]]))
            .unwrap();
        assert_eq!(first["epochHashesOrdered"], blocks);
    }
    let mined_last = quantity(
        &w["notifications"]["epochs"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()["epochNumber"],
    );
    let state_last = quantity(
        &w["notifications"]["epochs:latest_state"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()["epochNumber"],
    );
    assert!(
        mined_last >= state_last + 4,
        "latest_state trails latest_mined by the deferred epochs"
    );
    // logs: the constructor's log, from a verified receipt.
    let receipt: Value = full
        .call("cfx_getTransactionReceipt", json!([hash]))
        .unwrap();
    assert_eq!(receipt["outcomeStatus"], "0x0");
    let logs = w["notifications"]["logs"].as_array().unwrap();
    let ours_log = logs
        .iter()
        .find(|l| l["transactionHash"] == json!(hash))
        .unwrap_or_else(|| panic!("the deployment's log never came: {logs:?}"));
    assert_eq!(ours_log["address"], receipt["contractCreated"]);
    assert_eq!(ours_log["epochNumber"], receipt["epochNumber"]);
}
