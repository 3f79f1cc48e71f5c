//! Transactions through the node, with real parts only: `cfxlight node --signer …` on the
//! real devnet, the signer a keystore or the virtual BSIM card served to real pcscd, and
//! js-conflux-sdk as the dapp. What the node answers about the transactions it sent must
//! equal what the full node says, and must be verified.
//!
//! Needs `CFXLIGHT_PCSCD=1` and `CFXLIGHT_DEVNET=<dir>` (both required under CI); runs in
//! the `pcscd` test group, so it shares genesis key 3 (the funder) with `bsim_devnet` one
//! test at a time. The card sits in vpcd slot 1 like `bsim_devnet`'s.

#![allow(clippy::unwrap_used, missing_docs)] // a test may stop at the first surprise

mod common;

use common::send::{raw, sdk_send, wait_funded, wait_receipt, Node};

use std::{
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use cfxlight_bsim::vpcd;
use cfxlight_node::{rpc_client::RpcClient, store::Store};
use cfxlight_primitives::{address, H160, H256, U256};
use serde_json::{json, Value};

const PIN: &str = "135790";

struct Devnet {
    d: Value,
    full: RpcClient,
    chain_id: u32,
}

fn gate() -> Option<Devnet> {
    let dir = common::card::pcscd_and_devnet()?;
    let d = common::devnet_json(&dir);
    Some(Devnet {
        full: RpcClient::new(d["rpc_url"].as_str().unwrap()),
        chain_id: d["chain_id"].as_u64().unwrap() as u32,
        d,
    })
}

impl Devnet {
    fn b32(&self, a: &H160) -> String {
        address::encode(a, u64::from(self.chain_id))
    }

    /// Sends `value` drip to `to` from genesis key 3, and waits until the full node mined it.
    fn fund(&self, to: H160, value: U256) {
        common::send::fund(&self.d, 3, to, value);
    }
}

fn start_node(
    net: &Devnet,
    datadir: &Path,
    signer: &[&str],
    ip: &str,
    env: &[(&str, &str)],
) -> Node {
    let local_port = common::free_port();
    let log_path = datadir.with_extension("log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cfxlight"));
    cmd.args(["node", "--chain", "devnet", "--chain-id"])
        .arg(net.chain_id.to_string())
        .args(["--genesis-hash", net.d["genesis_hash"].as_str().unwrap()])
        .args(["--bootnode", net.d["bootnode"].as_str().unwrap()])
        .arg("--datadir")
        .arg(datadir)
        .args(["--rpc-http-port", &common::free_port().to_string()])
        .args(["--rpc-ws-port", &common::free_port().to_string()])
        .args(["--rpc-local-port", &local_port.to_string()])
        .args(["--p2p-local-ip", ip])
        .args(signer)
        .stdout(Stdio::null())
        .stderr(log);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let local_url = format!("http://127.0.0.1:{local_port}");
    let node = Node {
        child: cmd.spawn().unwrap(),
        local: RpcClient::new(&local_url),
        local_url,
        log: log_path,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while node
        .local
        .call::<Value>("cfx_epochNumber", json!(["latest_state"]))
        .map_or(true, |v| common::quantity(&v) == 0)
    {
        assert!(Instant::now() < deadline, "node did not sync in 30 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    node
}

fn pending_count(node: &Node) -> u64 {
    let s: Value = node.local.call("cfx_getStatus", json!([])).unwrap();
    common::quantity(&s["pendingTxNumber"])
}

#[test]
fn the_card_signs_an_sdk_transfer_through_the_node_and_a_pulled_card_burns_no_nonce() {
    let Some(net) = gate() else { return };
    let dir = tempfile::tempdir().unwrap();
    let card = common::card::serve_new_card(dir.path(), PIN);
    let (state, card_addr) = (card.state.clone(), card.address);
    let card_b32 = net.b32(&card_addr);
    net.fund(card_addr, U256::exp10(21));
    let node = start_node(
        &net,
        &dir.path().join("node"),
        &["--signer", &format!("bsim:reader={}", common::card::READER)],
        "127.0.0.81",
        &[("CFXLIGHT_PIN", PIN)],
    );
    wait_funded(&node, &card_b32, 30);
    let accounts: Vec<String> = node.local.call("cfx_accounts", json!([])).unwrap();
    assert_eq!(accounts.len(), 1);
    assert_eq!(
        accounts[0].to_lowercase().replace("type.user:", ""),
        card_b32
    );

    // The dapp path: js-conflux-sdk's cfx.sendTransaction against our node.
    let to = net.d["genesis_keys"][0]["address"].as_str().unwrap();
    let r = sdk_send(&node, net.chain_id, to);
    let hash: H256 = r["hash"].as_str().unwrap().parse().unwrap();
    // Mined by the real node, with the card's account as sender.
    // Mined with the expected sender; our verified receipt is the full node's.
    let full_receipt = common::send::assert_mined_from(&net.full, &node, &hash, &card_b32);
    // Balance and nonce seen through our node moved by exactly the transfer.
    let before: U256 = r["balanceBefore"]
        .as_str()
        .unwrap()
        .parse::<u128>()
        .unwrap()
        .into();
    let after: U256 = r["balanceAfter"]
        .as_str()
        .unwrap()
        .parse::<u128>()
        .unwrap()
        .into();
    let fee = U256::from(common::quantity(&full_receipt["gasFee"]));
    assert_eq!(before - after, U256::exp10(18) + fee);
    let n0: u64 = r["nonceBefore"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        r["nonceAfter"].as_str().unwrap().parse::<u64>().unwrap(),
        n0 + 1
    );

    // Card pulled while a send waits: a clear signer error, nothing relayed, no nonce used.
    vpcd::pull(&state).unwrap();
    std::thread::sleep(Duration::from_millis(800));
    let nonce_before: U256 = node
        .local
        .call("cfx_getNextNonce", json!([card_b32]))
        .unwrap();
    let reply = raw(
        &node.local_url,
        "cfx_sendTransaction",
        json!([{"from": card_b32, "to": to, "value": "0x1"}]),
    );
    let err = &reply["error"];
    assert_eq!(err["code"], -32023, "{reply}");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("card"),
        "{reply}"
    );
    assert_eq!(pending_count(&node), 0, "nothing was queued");
    let nonce_after: U256 = node
        .local
        .call("cfx_getNextNonce", json!([card_b32]))
        .unwrap();
    assert_eq!(nonce_after, nonce_before, "the nonce is not burned");
    let full_nonce: U256 = net
        .full
        .call("cfx_getNextNonce", json!([card_b32]))
        .unwrap();
    assert_eq!(full_nonce, nonce_before, "nothing reached the network");

    // Card back: the next send takes that same nonce and mines.
    vpcd::insert(&state).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let hash: H256 = loop {
        let reply = raw(
            &node.local_url,
            "cfx_sendTransaction",
            json!([{"from": card_b32, "to": to, "value": "0x1"}]),
        );
        if let Some(h) = reply["result"].as_str() {
            break h.parse().unwrap();
        }
        assert!(Instant::now() < deadline, "card never came back: {reply}");
        std::thread::sleep(Duration::from_millis(300));
    };
    let tx: Value = node
        .local
        .call("cfx_getTransactionByHash", json!([hash]))
        .unwrap();
    assert_eq!(U256::from(common::quantity(&tx["nonce"])), nonce_before);
    assert_eq!(wait_receipt(&node.local, &hash, 60)["outcomeStatus"], "0x0");

    // A transfer with data and no gas: gas and storage as the full node estimates them (it
    // runs no code), and mined.
    let with_data = json!({"from": card_b32, "to": to, "value": "0x1", "data": "0x00ff00ff"});
    let estimate: Value = net
        .full
        .call("cfx_estimateGasAndCollateral", json!([with_data]))
        .unwrap();
    let ours: Value = node
        .local
        .call("cfx_estimateGasAndCollateral", json!([with_data]))
        .unwrap();
    assert_eq!(ours, estimate);
    // Sends a request without gas or storage limit through the node, checks the node filled
    // them in with the full node's estimate and that it mined; returns the estimate.
    let send_estimated = |request: &Value| -> Value {
        let estimate: Value = net
            .full
            .call("cfx_estimateGasAndCollateral", json!([request]))
            .unwrap();
        let hash: H256 = node
            .local
            .call("cfx_sendTransaction", json!([request]))
            .unwrap();
        let tx: Value = node
            .local
            .call("cfx_getTransactionByHash", json!([hash]))
            .unwrap();
        assert_eq!(tx["gas"], estimate["gasLimit"], "{tx}");
        assert_eq!(
            tx["storageLimit"], estimate["storageCollateralized"],
            "{tx}"
        );
        let receipt = wait_receipt(&node.local, &hash, 60);
        assert_eq!(receipt["outcomeStatus"], "0x0", "{receipt}");
        assert!(
            request["to"].is_string() || receipt["contractCreated"].is_string(),
            "{receipt}"
        );
        estimate
    };
    assert_eq!(send_estimated(&with_data), estimate);
    // A token transfer through js-conflux-sdk with no gas and no storage limit: the node
    // estimates both in its EVM exactly as the full node does, the card signs, and it mines
    // with the full node's outcome. Collateral 128: the recipient's new balance slot, and the
    // card's own slot, which the funder wrote and the card's write takes over.
    let out = Command::new("node")
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts"))
        .args(["js/sdk-token-send.js", "--url", &node.local_url, "--full"])
        .arg(net.d["rpc_url"].as_str().unwrap())
        .args(["--network-id", &net.chain_id.to_string()])
        .args([
            "--secret",
            net.d["genesis_keys"][3]["secret"].as_str().unwrap(),
        ])
        .args(["--from", &card_b32])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sdk-token-send failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(t["tx"]["gas"], t["estimate"]["gasLimit"], "{t}");
    assert_eq!(
        t["tx"]["storageLimit"], t["estimate"]["storageCollateralized"],
        "{t}"
    );
    assert_eq!(t["estimate"]["storageCollateralized"], "128", "{t}");
    assert_eq!(t["receipt"], t["fullReceipt"], "{t}");
    assert_eq!(t["fullReceipt"]["outcomeStatus"], 0, "{t}");
    assert_eq!(t["fullReceipt"]["storageCollateralized"], "128", "{t}");
    assert_eq!(t["balance"], "7", "{t}");

    // A deployment with no gas and no storage limit: estimated as the full node does (its
    // init code run in the EVM, the code's collateral counted) and mined.
    let deploy =
        json!({"from": card_b32, "data": "0x600a600c600039600a6000f3602a60005260206000f3"});
    let estimate = send_estimated(&deploy);
    assert_eq!(estimate["storageCollateralized"], "0x200", "{estimate}");

    // A call into an internal contract with no gas: refused with the reason, nothing queued.
    let admin_control = net.b32(&"0888000000000000000000000000000000000000".parse().unwrap());
    let reply = raw(
        &node.local_url,
        "cfx_sendTransaction",
        json!([{"from": card_b32, "to": admin_control, "data": "0x"}]),
    );
    assert_eq!(reply["error"]["code"], -32000, "{reply}");
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap()
            .contains("internal contract"),
        "{reply}"
    );
    assert_eq!(pending_count(&node), 0, "{reply}");
}

#[test]
fn two_hundred_sends_mine_in_nonce_order_and_pending_ones_survive_kill_9() {
    let Some(net) = gate() else { return };
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
    let pin_file = dir.path().join("password");
    std::fs::write(&pin_file, "correct horse\n").unwrap();
    let from = net.b32(&account.address);
    net.fund(account.address, U256::exp10(21));
    let datadir = dir.path().join("node");
    let signer = [
        "--signer".to_string(),
        format!("keystore:{}", keys.display()),
        "--pin-file".to_string(),
        pin_file.display().to_string(),
    ];
    let signer: Vec<&str> = signer.iter().map(String::as_str).collect();
    let node = start_node(&net, &datadir, &signer, "127.0.0.82", &[]);
    wait_funded(&node, &from, 30);
    let to = net.d["genesis_keys"][0]["address"].as_str().unwrap();
    let start: U256 = node.local.call("cfx_getNextNonce", json!([from])).unwrap();

    // Sends `n` one-drip transfers back to back, returning their hashes.
    let send = |node: &Node, n: usize| -> Vec<H256> {
        (0..n)
            .map(|_| {
                node.local
                    .call(
                        "cfx_sendTransaction",
                        json!([{"from": from, "to": to, "value": "0x1"}]),
                    )
                    .unwrap()
            })
            .collect()
    };

    // 200 back to back from one account.
    let t0 = Instant::now();
    let hashes = send(&node, 200);
    eprintln!("200 sends answered in {:?}", t0.elapsed());
    let unique: std::collections::HashSet<_> = hashes.iter().collect();
    assert_eq!(unique.len(), 200, "no duplicates");
    let mut last_epoch = 0;
    for (i, h) in hashes.iter().enumerate() {
        let r = wait_receipt(&node.local, h, 120);
        assert_eq!(r["outcomeStatus"], "0x0");
        let tx: Value = node
            .local
            .call("cfx_getTransactionByHash", json!([h]))
            .unwrap();
        assert_eq!(
            U256::from(common::quantity(&tx["nonce"])),
            start + i,
            "nonce order, no gaps"
        );
        let e = common::quantity(&r["epochNumber"]);
        assert!(e >= last_epoch, "mined in nonce order");
        last_epoch = e;
    }
    eprintln!("200 mined and verified in {:?}", t0.elapsed());
    let deadline = Instant::now() + Duration::from_secs(30);
    while pending_count(&node) > 0 {
        assert!(Instant::now() < deadline, "pending set never emptied");
        std::thread::sleep(Duration::from_millis(200));
    }
    let next: U256 = node.local.call("cfx_getNextNonce", json!([from])).unwrap();
    assert_eq!(next, start + 200);

    // kill -9 with transactions pending: they are on disk the moment the RPC answered.
    let more = send(&node, 20);
    drop(node); // SIGKILL
    {
        let store = Store::open(
            &datadir,
            net.d["genesis_hash"].as_str().unwrap().parse().unwrap(),
            net.chain_id,
        )
        .unwrap();
        let stored: Vec<H256> = store
            .pending_entries()
            .unwrap()
            .into_iter()
            .map(|(k, _)| H256::from_slice(&k))
            .collect();
        for h in &more {
            assert!(stored.contains(h), "{h:?} was lost by kill -9");
        }
    }
    let node = start_node(&net, &datadir, &signer, "127.0.0.82", &[]);
    for h in &more {
        assert_eq!(wait_receipt(&node.local, h, 120)["outcomeStatus"], "0x0");
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while pending_count(&node) > 0 {
        assert!(
            Instant::now() < deadline,
            "restored transactions were never settled"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let next: U256 = node.local.call("cfx_getNextNonce", json!([from])).unwrap();
    assert_eq!(next, start + 220);
}
