//! `cfx_sendTransaction` through `cfxlight node --signer pkcs11:…` on the real devnet, the
//! key on a real SoftHSM2 token and js-conflux-sdk as the dapp: the same flow as the card's
//! in `send.rs`, switching only the `--signer` flag.
//!
//! The key is made with `cfxlight signer new --signer pkcs11:…` on a token this test
//! initialises in its own SoftHSM directory (`SOFTHSM2_CONF`), and funded from genesis key 1
//! (no other test uses it). Needs `CFXLIGHT_DEVNET=<dir>` and SoftHSM2
//! (`/usr/lib/softhsm/libsofthsm2.so`); skipped without them locally, a failure under CI.

#![allow(clippy::unwrap_used, missing_docs)] // a test may stop at the first surprise

mod common;

use common::send::Node;

use std::{
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use cfxlight_node::rpc_client::RpcClient;
use cfxlight_primitives::{address, H160, H256, U256};
use serde_json::{json, Value};

const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
const BIN: &str = env!("CARGO_BIN_EXE_cfxlight");
const PIN: &str = "864200";
const TOKEN: &str = "cfx-send";
/// conflux-rust takes one P2P session per source IP: a loopback address of this test's own.
const P2P_IP: &str = "127.91.0.1";

fn node_command(d: &Value, datadir: &Path, conf: &Path, signer: &[String]) -> (Command, u16) {
    let local_port = common::free_port();
    let mut cmd = Command::new(BIN);
    cmd.args(["node", "--chain", "devnet", "--chain-id"])
        .arg(d["chain_id"].as_u64().unwrap().to_string())
        .args(["--genesis-hash", d["genesis_hash"].as_str().unwrap()])
        .args(["--bootnode", d["bootnode"].as_str().unwrap()])
        .arg("--datadir")
        .arg(datadir)
        .args(["--rpc-http-port", &common::free_port().to_string()])
        .args(["--rpc-ws-port", &common::free_port().to_string()])
        .args(["--rpc-local-port", &local_port.to_string()])
        .args(["--p2p-local-ip", P2P_IP])
        .args(signer)
        .env("SOFTHSM2_CONF", conf)
        .env_remove("CFXLIGHT_PIN")
        .env_remove("CFXLIGHT_PASSWORD");
    (cmd, local_port)
}

/// `cfxlight signer …` with SoftHSM pointed at the test's token directory.
fn signer_cli(conf: &Path, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .arg("signer")
        .args(args)
        .env("SOFTHSM2_CONF", conf)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cfxlight signer {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_token_signs_an_sdk_transfer_through_the_node() {
    let Some(dir) = common::devnet_dir() else {
        return;
    };
    if !Path::new(MODULE).is_file() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs SoftHSM2 ({MODULE}): apt-get install softhsm2 (.ci/run does)"
        );
        eprintln!("skipped: {MODULE} missing (apt-get install softhsm2)");
        return;
    }
    let d = common::devnet_json(&dir);
    let full = RpcClient::new(d["rpc_url"].as_str().unwrap());
    let chain_id = d["chain_id"].as_u64().unwrap() as u32;
    let b32 = |a: &H160| address::encode(a, u64::from(chain_id));

    // A token of our own, and a key made on it by `cfxlight signer new`.
    let tmp = tempfile::tempdir().unwrap();
    let tokens = tmp.path().join("tokens");
    std::fs::create_dir(&tokens).unwrap();
    let conf = tmp.path().join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!("directories.tokendir = {}\n", tokens.display()),
    )
    .unwrap();
    let init = Command::new("softhsm2-util")
        .args(["--init-token", "--free", "--label", TOKEN])
        .args(["--so-pin", "11223344", "--pin", PIN])
        .env("SOFTHSM2_CONF", &conf)
        .output()
        .unwrap();
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let pin_file = tmp.path().join("pin");
    std::fs::write(&pin_file, format!("{PIN}\n")).unwrap();
    let pin_file = pin_file.display().to_string();
    let spec = format!("pkcs11:module={MODULE},token={TOKEN}");
    signer_cli(
        &conf,
        &[
            "new",
            "--signer",
            &format!("{spec},key=send"),
            "--pin-file",
            &pin_file,
        ],
    );
    let listed: Value = serde_json::from_str(&signer_cli(
        &conf,
        &["list", "--signer", &spec, "--pin-file", &pin_file, "--json"],
    ))
    .unwrap();
    let me: H160 = listed[0]["hexAddress"].as_str().unwrap().parse().unwrap();
    let me_b32 = b32(&me);

    // Fund it from genesis key 1.
    common::send::fund(&d, 1, me, U256::exp10(21));

    // A wrong PIN stops the node at start with the token's error, before any connection.
    let bad = tmp.path().join("bad-pin");
    std::fs::write(&bad, "000000\n").unwrap();
    let signer_bad = [
        "--signer".to_string(),
        spec.clone(),
        "--pin-file".to_string(),
        bad.display().to_string(),
    ];
    let (mut cmd, _) = node_command(&d, &tmp.path().join("bad-node"), &conf, &signer_bad);
    let out = cmd.output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("wrong PIN for token `cfx-send`"),
        "{stderr}"
    );

    // The node with the token as its signer.
    let signer = [
        "--signer".to_string(),
        spec.clone(),
        "--pin-file".to_string(),
        pin_file.clone(),
    ];
    let datadir = tmp.path().join("node");
    let log = datadir.with_extension("log");
    let (mut cmd, local_port) = node_command(&d, &datadir, &conf, &signer);
    cmd.stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    let local_url = format!("http://127.0.0.1:{local_port}");
    let node = Node {
        child: cmd.spawn().unwrap(),
        local: RpcClient::new(&local_url),
        local_url,
        log,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let b: Result<U256, _> = node.local.call("cfx_getBalance", json!([me_b32]));
        if matches!(b, Ok(b) if !b.is_zero()) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "funding never showed in verified state"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let accounts: Vec<String> = node.local.call("cfx_accounts", json!([])).unwrap();
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0].to_lowercase().replace("type.user:", ""), me_b32);

    // The dapp path: js-conflux-sdk's cfx.sendTransaction against our node.
    let to = d["genesis_keys"][0]["address"].as_str().unwrap();
    let r = common::send::sdk_send(&node, chain_id, to);
    let hash: H256 = r["hash"].as_str().unwrap().parse().unwrap();
    // Mined by the real node with the token's account as sender; our verified receipt is
    // the full node's.
    // Mined with the expected sender; our verified receipt is the full node's.
    common::send::assert_mined_from(&full, &node, &hash, &me_b32);
    let tx: Value = full
        .call("cfx_getTransactionByHash", json!([hash]))
        .unwrap();
    let s = U256::from_str_radix(tx["s"].as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
    let half_n = U256::from_str_radix(
        "7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0",
        16,
    )
    .unwrap();
    assert!(s <= half_n, "high S on the wire");
    let n0: u64 = r["nonceBefore"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        r["nonceAfter"].as_str().unwrap().parse::<u64>().unwrap(),
        n0 + 1
    );
}
