//! `cfx_sendTransaction` through `cfxlight node --signer remote:…` on the real devnet, the key
//! on the virtual BSIM card behind `cfxlight signer serve` in another network namespace
//! (joined to this one by a veth pair the test makes), js-conflux-sdk as the dapp: the flow
//! of `send.rs`, switching only the `--signer` flag. Then:
//! - a node identity the signer does not allow is refused before any request is read
//!   (`cfxlight signer list` through it fails naming `--allow`; serve logs the refusal; the
//!   serving side's audit log does not grow);
//! - the signer killed: the send fails with a signer error (-32023) naming the remote
//!   signer, nothing is relayed and the nonce is not used; the signer back on the same
//!   address: the next send takes that nonce and is mined, with no node restart.
//!
//! Needs root (`ip netns`), `CFXLIGHT_PCSCD=1` and `CFXLIGHT_DEVNET=<dir>` (all required
//! under CI); runs in the `pcscd` group (card slot 1, genesis key 3 as funder).

#![allow(clippy::unwrap_used, missing_docs)] // a test may stop at the first surprise

mod common;

use common::netns::Netns;
use common::send::{raw, sdk_send, wait_funded, wait_receipt, Node};

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use cfxlight_node::rpc_client::RpcClient;
use cfxlight_primitives::{address, H256, U256};
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_cfxlight");
const PIN: &str = "246802";
/// This test's P2P source address towards the devnet.
const P2P_IP: &str = "127.94.0.1";

/// `cfxlight signer serve` inside the namespace; killed on drop.
struct Serve {
    child: Child,
    /// `/ip4/…/tcp/…/p2p/…`, as printed.
    address: String,
    log: std::path::PathBuf,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(ns: &Netns, dir: &Path, port: u16, allow: &str) -> Serve {
    let log = dir.join("serve.log");
    let stderr = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .unwrap();
    let mut child = Command::new("ip")
        .args(["netns", "exec", &ns.name, BIN, "signer", "serve"])
        .args(["--signer", &format!("bsim:reader={}", common::card::READER)])
        .arg("--pin-file")
        .arg(dir.join("pin"))
        .arg("--audit-log")
        .arg(dir.join("serve-audit.jsonl"))
        .arg("--key")
        .arg(dir.join("serve.key"))
        .args(["--chain-id", &chain_id_of(dir)])
        .args(["--listen", &format!("/ip4/{}/tcp/{port}", ns.there)])
        .args(["--allow", allow])
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let address = loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("serve exited: {}", std::fs::read_to_string(&log).unwrap()))
            .unwrap();
        if let Some(a) = line.strip_prefix("listening: ") {
            break a.to_string();
        }
    };
    // Keep draining stdout so serve never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    Serve {
        child,
        address,
        log,
    }
}

fn chain_id_of(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("chain_id")).unwrap()
}

#[test]
fn the_card_behind_signer_serve_in_another_netns_signs_an_sdk_transfer_and_a_killed_signer_burns_no_nonce(
) {
    let Some(devnet) = common::card::pcscd_and_devnet() else {
        return;
    };
    let Some(ns) = Netns::new("sig", 77) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs root for `ip netns add`"
        );
        eprintln!("skipped: `ip netns add` failed (needs root)");
        return;
    };
    let d = common::devnet_json(&devnet);
    let full = RpcClient::new(d["rpc_url"].as_str().unwrap());
    let chain_id = d["chain_id"].as_u64().unwrap() as u32;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pin"), format!("{PIN}\n")).unwrap();
    std::fs::write(dir.path().join("chain_id"), chain_id.to_string()).unwrap();
    let card = common::card::serve_new_card(dir.path(), PIN);
    let card_b32 = address::encode(&card.address, u64::from(chain_id));
    common::send::fund(&d, 3, card.address, U256::exp10(21));

    // Pairing: the node's peer id (its key made here, in its datadir), allowed by serve.
    let datadir = dir.path().join("node");
    let id = Command::new(BIN)
        .args(["signer", "remote-id", "--key"])
        .arg(datadir.join("remote-signer.key"))
        .output()
        .unwrap();
    assert!(
        id.status.success(),
        "{}",
        String::from_utf8_lossy(&id.stderr)
    );
    let node_id = String::from_utf8(id.stdout).unwrap().trim().to_string();
    let port = common::free_port();
    let served = serve(&ns, dir.path(), port, &node_id);
    assert!(
        served
            .address
            .starts_with(&format!("/ip4/{}/tcp/{port}/p2p/12D3KooW", ns.there)),
        "{}",
        served.address
    );

    // 1. The node with --signer remote:…, js-conflux-sdk as the dapp.
    let local_port = common::free_port();
    let mut cmd = Command::new(BIN);
    cmd.args(["node", "--chain", "devnet", "--chain-id"])
        .arg(chain_id.to_string())
        .args(["--genesis-hash", d["genesis_hash"].as_str().unwrap()])
        .args(["--bootnode", d["bootnode"].as_str().unwrap()])
        .arg("--datadir")
        .arg(&datadir)
        .args(["--rpc-http-port", &common::free_port().to_string()])
        .args(["--rpc-ws-port", &common::free_port().to_string()])
        .args(["--rpc-local-port", &local_port.to_string()])
        .args(["--p2p-local-ip", P2P_IP])
        .args(["--signer", &format!("remote:{}", served.address)])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(datadir.with_extension("log")).unwrap());
    let local_url = format!("http://127.0.0.1:{local_port}");
    let node = Node {
        child: cmd.spawn().unwrap(),
        local: RpcClient::new(&local_url),
        local_url,
        log: datadir.with_extension("log"),
    };
    wait_funded(&node, &card_b32, 60);
    let accounts: Vec<String> = node.local.call("cfx_accounts", json!([])).unwrap();
    assert_eq!(accounts.len(), 1);
    assert_eq!(
        accounts[0].to_lowercase().replace("type.user:", ""),
        card_b32
    );
    let to = d["genesis_keys"][0]["address"].as_str().unwrap();
    let r = sdk_send(&node, chain_id, to);
    let hash: H256 = r["hash"].as_str().unwrap().parse().unwrap();
    common::send::assert_mined_from(&full, &node, &hash, &card_b32);
    let audit = dir.path().join("serve-audit.jsonl");
    let audit_lines = || std::fs::read_to_string(&audit).unwrap().lines().count();
    let after_send = audit_lines();
    assert!(after_send >= 1, "the serving side logged nothing");

    // 2. An identity serve does not allow: refused, nothing read, nothing logged.
    let stranger = Command::new(BIN)
        .args(["signer", "list", "--chain-id", &chain_id.to_string()])
        .args(["--signer", &format!("remote:{}", served.address)])
        .arg("--remote-key")
        .arg(dir.path().join("stranger.key"))
        .output()
        .unwrap();
    assert!(!stranger.status.success());
    let why = String::from_utf8_lossy(&stranger.stderr);
    assert!(why.contains("--allow"), "{why}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&served.log)
        .unwrap()
        .contains("refused a connection")
    {
        assert!(Instant::now() < deadline, "serve did not log the refusal");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(audit_lines(), after_send, "the stranger reached the signer");

    // 3. The signer killed: a clear error, nothing relayed, no nonce used.
    drop(served);
    let nonce_before: U256 = node
        .local
        .call("cfx_getNextNonce", json!([card_b32]))
        .unwrap();
    let t0 = Instant::now();
    let reply = raw(
        &node.local_url,
        "cfx_sendTransaction",
        json!([{"from": card_b32, "to": to, "value": "0x1"}]),
    );
    assert!(t0.elapsed() < Duration::from_secs(15), "{:?}", t0.elapsed());
    assert_eq!(reply["error"]["code"], -32023, "{reply}");
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap()
            .contains("remote signer"),
        "{reply}"
    );
    let nonce_after: U256 = node
        .local
        .call("cfx_getNextNonce", json!([card_b32]))
        .unwrap();
    assert_eq!(nonce_after, nonce_before, "the nonce is not burned");
    let full_nonce: U256 = full.call("cfx_getNextNonce", json!([card_b32])).unwrap();
    assert_eq!(full_nonce, nonce_before, "nothing reached the network");

    // 4. The signer back on the same address: the node uses it again, same nonce, mined.
    let served = serve(&ns, dir.path(), port, &node_id);
    let deadline = Instant::now() + Duration::from_secs(30);
    let hash: H256 = loop {
        let reply = raw(
            &node.local_url,
            "cfx_sendTransaction",
            json!([{"from": card_b32, "to": to, "value": "0x1"}]),
        );
        if let Some(h) = reply["result"].as_str() {
            break h.parse().unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "the signer never came back: {reply}"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    let tx: Value = node
        .local
        .call("cfx_getTransactionByHash", json!([hash]))
        .unwrap();
    assert_eq!(U256::from(common::quantity(&tx["nonce"])), nonce_before);
    assert_eq!(wait_receipt(&node.local, &hash, 60)["outcomeStatus"], "0x0");
    drop(served);
}
