//! Polled filters and the pool methods against the real devnet, whose full node serves
//! the filter methods (`scripts/devnet` sets `poll_lifetime_in_seconds`):
//! - block and log filters installed on both report the same epochs' blocks and logs
//!   (each checked against the full node's `cfx_getBlocksByEpoch` / `cfx_getLogs`, and the
//!   two filters' logs equal over the epochs both walked), `cfx_getFilterLogs` equals the
//!   full node's, and bad ids and filters get the full node's errors;
//! - `txpool_nextNonce`, `cfx_getAccountPendingInfo` and `cfx_getAccountPendingTransactions`
//!   of an account with a transaction waiting behind a nonce gap equal the full node's;
//!   a pending-transaction filter reports each new transaction once.
//!
//! Gated like `devnet.rs` (`CFXLIGHT_DEVNET`, required under CI); deploys and funds from
//! genesis key 0, in the `key0` test group with `espace` and `log_delivery`.

#![allow(clippy::unwrap_used, missing_docs)] // a test may stop at the first surprise

mod common;

use std::{
    collections::BTreeMap,
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use cfxlight_node::rpc_client::RpcClient;
use cfxlight_primitives::{
    address,
    transaction::{Action, Transaction, TxKind},
    H256, U256,
};
use common::{
    quantity,
    send::{fund, raw, wait_funded, wait_receipt, Node},
};
use serde_json::{json, Value};

fn gate() -> Option<Value> {
    Some(common::devnet_json(&common::devnet_dir()?))
}

/// Deploys init code that logs `len` zero bytes from genesis key 0 through the full node;
/// returns its receipt.
fn deploy_logging(d: &Value, len: u8) -> Value {
    let full = RpcClient::new(d["rpc_url"].as_str().unwrap());
    let from = d["genesis_keys"][0]["address"].as_str().unwrap();
    let nonce: U256 = full.call("cfx_getNextNonce", json!([from])).unwrap();
    let epoch = quantity(&full.call("cfx_epochNumber", json!([])).unwrap());
    let tx = Transaction {
        nonce,
        gas: 1_000_000.into(),
        action: Action::Create,
        value: 0.into(),
        storage_limit: 0,
        epoch_height: epoch,
        chain_id: d["chain_id"].as_u64().unwrap() as u32,
        // PUSH1 len PUSH1 0 LOG0: a log of `len` zero bytes, no code deployed.
        data: vec![0x60, len, 0x60, 0x00, 0xa0, 0x00],
        kind: TxKind::Legacy {
            gas_price: 1_000_000_000u64.into(),
        },
    }
    .sign(&common::genesis_key(d, 0))
    .unwrap();
    let _: H256 = full
        .call(
            "cfx_sendRawTransaction",
            json!([format!("0x{}", hex::encode(tx.encode()))]),
        )
        .unwrap();
    let r = wait_receipt(&full, &tx.hash(), 60);
    assert_eq!(r["outcomeStatus"], "0x0", "{r}");
    r
}

/// `cfxlight node` on the devnet with a public HTTP port and a local port, and `extra`
/// flags; waits until it serves a verified state.
fn start(d: &Value, datadir: &Path, ip: &str, extra: &[String]) -> (Node, String) {
    let http = common::free_port();
    let local = common::free_port();
    let log_path = datadir.with_extension("log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cfxlight"));
    cmd.args(["node", "--chain", "devnet", "--chain-id"])
        .arg(d["chain_id"].as_u64().unwrap().to_string())
        .args(["--genesis-hash", d["genesis_hash"].as_str().unwrap()])
        .args(["--bootnode", d["bootnode"].as_str().unwrap()])
        .arg("--datadir")
        .arg(datadir)
        .args(["--rpc-http-port", &http.to_string()])
        .args(["--rpc-ws-port", &common::free_port().to_string()])
        .args(["--rpc-local-port", &local.to_string()])
        .args(["--p2p-local-ip", ip])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(log);
    let local_url = format!("http://127.0.0.1:{local}");
    let node = Node {
        child: cmd.spawn().unwrap(),
        local: RpcClient::new(&local_url),
        local_url,
        log: log_path,
    };
    let url = format!("http://127.0.0.1:{http}");
    let rpc = RpcClient::new(&url);
    let deadline = Instant::now() + Duration::from_secs(30);
    while rpc
        .call::<Value>("cfx_epochNumber", json!(["latest_state"]))
        .map_or(true, |v| quantity(&v) == 0)
    {
        assert!(Instant::now() < deadline, "node did not sync in 30 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    (node, url)
}

fn result(url: &str, method: &str, params: Value) -> Value {
    let v = raw(url, method, params);
    assert!(v.get("error").is_none(), "{method} at {url}: {v}");
    v["result"].clone()
}

/// Checks that `hashes` are exactly the blocks of consecutive epochs from `first`, as the
/// full node orders them; returns the last epoch covered.
fn assert_whole_epochs(full: &str, hashes: &[Value], first: u64) -> u64 {
    let mut at = 0;
    let mut epoch = first;
    while at < hashes.len() {
        let blocks = result(full, "cfx_getBlocksByEpoch", json!([format!("{epoch:#x}")]));
        let blocks = blocks.as_array().unwrap();
        assert_eq!(
            &hashes[at..(at + blocks.len()).min(hashes.len())],
            &blocks[..],
            "epoch {epoch}"
        );
        at += blocks.len();
        epoch += 1;
    }
    epoch - 1
}

/// Logs by epoch.
fn by_epoch(logs: &[Value]) -> BTreeMap<u64, Vec<Value>> {
    let mut m: BTreeMap<u64, Vec<Value>> = BTreeMap::new();
    for l in logs {
        m.entry(quantity(&l["epochNumber"]))
            .or_default()
            .push(l.clone());
    }
    m
}

#[test]
fn block_and_log_filters_report_what_the_full_node_reports() {
    let Some(d) = gate() else { return };
    let full = d["rpc_url"].as_str().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let (_node, ours) = start(&d, &dir.path().join("node"), "127.0.0.63", &[]);

    // Installed on both, one right after the other.
    let before = quantity(&result(&ours, "cfx_epochNumber", json!(["latest_state"])));
    let our_blocks = result(&ours, "cfx_newBlockFilter", json!([]));
    let our_logs = result(&ours, "cfx_newFilter", json!([{}]));
    let after = quantity(&result(&ours, "cfx_epochNumber", json!(["latest_state"])));
    let full_blocks = result(&full, "cfx_newBlockFilter", json!([]));
    let full_logs = result(&full, "cfx_newFilter", json!([{}]));
    for id in [&our_blocks, &full_blocks, &our_logs, &full_logs] {
        let s = id.as_str().unwrap();
        assert!(s.len() == 34 && s.starts_with("0x"), "an H128 id: {id}");
    }

    let receipts: Vec<Value> = (1..=3u8).map(|i| deploy_logging(&d, 32 * i)).collect();
    let last_deploy = receipts
        .iter()
        .map(|r| quantity(&r["epochNumber"]))
        .max()
        .unwrap();

    // Poll both until each has walked past the last deployment.
    let poll = |url: &str, id: &Value, until: u64| -> Vec<Value> {
        let mut got = vec![];
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let changes = result(url, "cfx_getFilterChanges", json!([id]));
            got.extend(changes.as_array().unwrap().iter().cloned());
            let reached = quantity(&result(url, "cfx_epochNumber", json!(["latest_state"])));
            if reached > until + 1 {
                // One more poll: everything up to `reached` is reported now.
                let changes = result(url, "cfx_getFilterChanges", json!([id]));
                got.extend(changes.as_array().unwrap().iter().cloned());
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "{url}: filter never got past {until}"
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    };
    let ours_logged = poll(&ours, &our_logs, last_deploy);
    let full_logged = poll(&full, &full_logs, last_deploy);
    let ours_hashes = poll(&ours, &our_blocks, last_deploy);
    let full_hashes = poll(&full, &full_blocks, last_deploy);

    // Block filters: whole epochs in order from the one after the state at install.
    let first = quantity(
        &result(&full, "cfx_getBlockByHash", json!([ours_hashes[0], false]))["epochNumber"],
    );
    assert!(
        (before + 1..=after + 1).contains(&first),
        "our block filter starts after the state it was installed at ({before}..{after}): {first}"
    );
    let covered = assert_whole_epochs(&full, &ours_hashes, first);
    let full_first = quantity(
        &result(&full, "cfx_getBlockByHash", json!([full_hashes[0], false]))["epochNumber"],
    );
    assert_whole_epochs(&full, &full_hashes, full_first);
    eprintln!("block filters: ours epochs {first}..={covered}, the full node's from {full_first}");

    // Log filters: each log appears once, and over the epochs both walked the two lists are
    // equal and equal the full node's cfx_getLogs.
    for r in &receipts {
        let n = ours_logged
            .iter()
            .filter(|l| l["transactionHash"] == r["transactionHash"])
            .count();
        assert_eq!(n, 1, "our filter reports each deployment's log once");
    }
    let (ours_by, full_by) = (by_epoch(&ours_logged), by_epoch(&full_logged));
    let from = receipts
        .iter()
        .map(|r| quantity(&r["epochNumber"]))
        .min()
        .unwrap();
    let window = |m: &BTreeMap<u64, Vec<Value>>| -> Vec<Value> {
        m.range(from..=last_deploy)
            .flat_map(|(_, v)| v.clone())
            .collect()
    };
    let truth = result(
        &full,
        "cfx_getLogs",
        json!([{"fromEpoch": format!("{from:#x}"), "toEpoch": format!("{last_deploy:#x}")}]),
    );
    assert_eq!(json!(window(&ours_by)), truth, "ours against cfx_getLogs");
    assert_eq!(
        window(&ours_by),
        window(&full_by),
        "ours against the full node's filter"
    );
    assert_eq!(truth.as_array().unwrap().len(), 3);

    // cfx_getFilterLogs over a range and an address: equal to the full node's.
    let contract = receipts[1]["contractCreated"].clone();
    for f in [
        json!({"fromEpoch": format!("{from:#x}"), "toEpoch": format!("{last_deploy:#x}")}),
        json!({"fromEpoch": format!("{from:#x}"), "toEpoch": format!("{last_deploy:#x}"), "address": contract}),
    ] {
        let o = result(&ours, "cfx_newFilter", json!([f]));
        let fu = result(&full, "cfx_newFilter", json!([f]));
        let a = result(&ours, "cfx_getFilterLogs", json!([o]));
        assert_eq!(a, result(&full, "cfx_getFilterLogs", json!([fu])), "{f}");
        assert!(!a.as_array().unwrap().is_empty());
    }

    // Errors, and uninstalling, as the full node answers them.
    let unknown = "0x000000000000000000000000000000ff";
    for (method, params) in [
        ("cfx_getFilterChanges", json!([unknown])),
        ("cfx_getFilterLogs", json!([unknown])),
        ("cfx_getFilterChanges", json!(["0x00"])),
        ("cfx_uninstallFilter", json!([unknown])),
        (
            "cfx_newFilter",
            json!([{"topics": [null, null, null, null, null]}]),
        ),
        (
            "cfx_newFilter",
            json!([{"fromEpoch": "0x1", "blockHashes": []}]),
        ),
        ("cfx_newFilter", json!([{"foo": 1}])),
        ("cfx_newFilter", json!([])),
        ("cfx_newBlockFilter", json!([1])),
    ] {
        let (a, b) = (
            raw(&ours, method, params.clone()),
            raw(&full, method, params.clone()),
        );
        assert_eq!(a, b, "{method} {params}");
    }
    let a = raw(&ours, "cfx_getFilterLogs", json!([our_blocks]));
    assert_eq!(
        a,
        raw(&full, "cfx_getFilterLogs", json!([full_blocks])),
        "logs of a block filter"
    );
    assert_eq!(
        result(&ours, "cfx_uninstallFilter", json!([our_blocks])),
        json!(true)
    );
    assert_eq!(
        raw(&ours, "cfx_getFilterChanges", json!([our_blocks]))["error"]["message"],
        "Filter not found"
    );
}

#[test]
fn pool_methods_equal_the_full_nodes_for_a_transaction_behind_a_nonce_gap() {
    let Some(d) = gate() else { return };
    let full = d["rpc_url"].as_str().unwrap().to_string();
    let chain_id = d["chain_id"].as_u64().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let secret = format!("0x{}", hex::encode(rand::random::<[u8; 32]>()));
    let (account, _) = cfxlight_signer::keystore::import_key(
        &keys,
        &secret,
        b"correct horse",
        cfxlight_signer::keystore::KdfKind::Pbkdf2,
    )
    .unwrap();
    let pin = dir.path().join("password");
    std::fs::write(&pin, "correct horse\n").unwrap();
    let from = address::encode(&account.address, chain_id);
    fund(&d, 0, account.address, U256::exp10(21));
    let (node, ours) = start(
        &d,
        &dir.path().join("node"),
        "127.0.0.64",
        &[
            "--signer".into(),
            format!("keystore:{}", keys.display()),
            "--pin-file".into(),
            pin.display().to_string(),
        ],
    );
    wait_funded(&node, &from, 30);
    let to = d["genesis_keys"][0]["address"].as_str().unwrap();

    // Nothing pending: both answer the same.
    for (m, p) in [
        ("txpool_nextNonce", json!([from])),
        ("cfx_getAccountPendingInfo", json!([from])),
        ("cfx_getAccountPendingTransactions", json!([from])),
    ] {
        assert_eq!(
            result(&ours, m, p.clone()),
            result(&full, m, p.clone()),
            "{m}"
        );
    }
    let pending_filter = result(&ours, "cfx_newPendingTransactionFilter", json!([]));

    // A transaction one nonce ahead waits in both pools behind the gap.
    let next: U256 =
        serde_json::from_value(result(&ours, "txpool_nextNonce", json!([from]))).unwrap();
    let ahead: H256 = node
        .local
        .call(
            "cfx_sendTransaction",
            json!([{"from": from, "to": to, "value": "0x1", "nonce": next + 1}]),
        )
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while result(&full, "cfx_getTransactionByHash", json!([ahead])).is_null() {
        assert!(
            Instant::now() < deadline,
            "the full node never got {ahead:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        result(&ours, "cfx_getFilterChanges", json!([pending_filter])),
        json!([ahead])
    );
    assert_eq!(
        result(&ours, "cfx_getFilterChanges", json!([pending_filter])),
        json!([])
    );
    for (m, p) in [
        ("txpool_nextNonce", json!([from])),
        ("cfx_getAccountPendingInfo", json!([from])),
        ("cfx_getAccountPendingTransactions", json!([from])),
        (
            "cfx_getAccountPendingTransactions",
            json!([from, next + 1, "0x1"]),
        ),
        ("cfx_getAccountPendingTransactions", json!([from, next + 2])),
    ] {
        assert_eq!(
            result(&ours, m, p.clone()),
            result(&full, m, p.clone()),
            "{m} {p}"
        );
    }
    let info = result(&ours, "cfx_getAccountPendingTransactions", json!([from]));
    assert_eq!(info["firstTxStatus"], json!({"pending": "futureNonce"}));
    assert_eq!(info["pendingTransactions"][0]["hash"], json!(ahead));

    // Filling the gap: both mine; the filter reports the new one only.
    let gap: H256 = node
        .local
        .call(
            "cfx_sendTransaction",
            json!([{"from": from, "to": to, "value": "0x1"}]),
        )
        .unwrap();
    assert_eq!(
        result(&ours, "cfx_getFilterChanges", json!([pending_filter])),
        json!([gap])
    );
    let rpc = RpcClient::new(&full);
    for h in [gap, ahead] {
        assert_eq!(wait_receipt(&rpc, &h, 60)["outcomeStatus"], "0x0");
    }
    assert_eq!(
        serde_json::from_value::<U256>(result(&full, "txpool_nextNonce", json!([from]))).unwrap(),
        next + 2
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let n: U256 =
            serde_json::from_value(result(&ours, "txpool_nextNonce", json!([from]))).unwrap();
        let p = result(&ours, "cfx_getAccountPendingInfo", json!([from]));
        if n == next + 2 && p["pendingCount"] == "0x0" {
            break;
        }
        assert!(Instant::now() < deadline, "ours never settled: {n} {p}");
        std::thread::sleep(Duration::from_millis(300));
    }
}
