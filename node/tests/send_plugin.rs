//! `cfx_sendTransaction` through `cfxlight node --signer plugin:…` on the real devnet, with
//! the Python example plugin (`signer/plugins/example_plugin.py`) holding the key and
//! js-conflux-sdk as the dapp: the flow of `send.rs`, switching only the `--signer` flag.
//! Then a plugin that crashes in the middle of a signature: the send fails with a signer
//! error (-32023), nothing is relayed, the nonce is not used, and the next send (the plugin
//! restarted) takes that same nonce and is mined.
//!
//! The plugin's key is this test's own (funded from genesis key 2, which no other test uses). Needs
//! `CFXLIGHT_DEVNET=<dir>`, `python3` and `scripts/node_modules`; skipped without a devnet
//! locally, a failure under CI.

#![allow(clippy::unwrap_used, missing_docs)] // a test may stop at the first surprise

mod common;

use common::send::{sdk_send, wait_receipt, Node};

use std::{
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use cfxlight_node::rpc_client::RpcClient;
use cfxlight_primitives::{address, H160, H256, U256};
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_cfxlight");
/// The plugin's key (no genesis account, no other test's).
const PLUGIN_KEY: &str = "0x5a17e5a17e5a17e5a17e5a17e5a17e5a17e5a17e5a17e5a17e5a17e5a17e5a1";
/// conflux-rust takes one P2P session per source IP: loopback addresses of this test's own.
const P2P_IPS: [&str; 2] = ["127.93.0.1", "127.93.0.2"];

/// Fault injection: the example plugin, except that it dies (exit 3) on a signing request
/// while the file `CFXLIGHT_PLUGIN_CRASH` names exists; every request it gets is logged.
const CRASHING: &str = r#"
import json, os, sys
sys.dont_write_bytecode = True
sys.path.insert(0, os.environ["CFXLIGHT_PLUGIN_DIR"])
import example_plugin as ex
plugin = ex.Plugin(ex.load_secret(sys.argv[1:]))
for line in sys.stdin:
    req = json.loads(line)
    with open(os.environ["CFXLIGHT_PLUGIN_LOG"], "a") as f:
        f.write(json.dumps({"method": req["method"], "params": req.get("params")}) + "\n")
    if req["method"].startswith("plugin_sign") and os.path.exists(os.environ["CFXLIGHT_PLUGIN_CRASH"]):
        os._exit(3)
    ex.handle(plugin, line)
"#;

/// `cfxlight node --signer <spec>` on the devnet, waiting until `who` has a balance.
fn start_node(
    d: &Value,
    datadir: &Path,
    ip: &str,
    spec: &str,
    env: &[(&str, String)],
    who: &str,
) -> Node {
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
        .args(["--p2p-local-ip", ip])
        .args(["--signer", spec])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null());
    let log = datadir.with_extension("log");
    cmd.stderr(std::fs::File::create(&log).unwrap());
    let local_url = format!("http://127.0.0.1:{local_port}");
    let node = Node {
        child: cmd.spawn().unwrap(),
        local: RpcClient::new(&local_url),
        local_url,
        log,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let b: Result<U256, _> = node.local.call("cfx_getBalance", json!([who]));
        if matches!(b, Ok(b) if !b.is_zero()) {
            return node;
        }
        assert!(
            Instant::now() < deadline,
            "funding never showed in verified state"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Our node's next nonce for `who` once it equals the full node's (our verified state lags
/// the full node's by a few epochs after a transfer).
fn nonce_caught_up(node: &Node, full: &RpcClient, who: &str) -> U256 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ours: U256 = node.local.call("cfx_getNextNonce", json!([who])).unwrap();
        let theirs: U256 = full.call("cfx_getNextNonce", json!([who])).unwrap();
        if ours == theirs {
            return ours;
        }
        assert!(
            Instant::now() < deadline,
            "nonce {ours} never caught up with {theirs}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn the_python_plugin_signs_an_sdk_transfer_and_a_crash_burns_no_nonce() {
    let Some(dir) = common::devnet_dir() else {
        return;
    };
    let d = common::devnet_json(&dir);
    let full = RpcClient::new(d["rpc_url"].as_str().unwrap());
    let chain_id = d["chain_id"].as_u64().unwrap() as u32;
    let b32 = |a: &H160| address::encode(a, u64::from(chain_id));
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let example = repo.join("signer/plugins/example_plugin.py");

    let tmp = tempfile::tempdir().unwrap();
    let key_file = tmp.path().join("key.hex");
    std::fs::write(&key_file, format!("{PLUGIN_KEY}\n")).unwrap();
    let spec = format!(
        "plugin:python3 '{}' --key-file '{}'",
        example.display(),
        key_file.display()
    );

    // The plugin's account, as `cfxlight signer list` shows it.
    let out = Command::new(BIN)
        .args(["signer", "list", "--json", "--signer", &spec])
        .args(["--chain-id", &chain_id.to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let me: H160 = listed[0]["hexAddress"].as_str().unwrap().parse().unwrap();
    let me_b32 = b32(&me);

    // Fund it from genesis key 2: keys 0 (espace.rs), 1 (send_pkcs11.rs) and 3 (send.rs,
    // bsim_devnet.rs, raw_flood.rs, rpc_ws.rs, rpc-diff) send in tests that run beside this
    // one; key 2 only in `scripts/bench-send`, which is not part of the test run.
    common::send::fund(&d, 2, me, U256::exp10(21));
    let to = d["genesis_keys"][0]["address"].as_str().unwrap();

    // 1. The example plugin as the node's signer, js-conflux-sdk as the dapp.
    {
        let node = start_node(
            &d,
            &tmp.path().join("node-a"),
            P2P_IPS[0],
            &spec,
            &[],
            &me_b32,
        );
        let accounts: Vec<String> = node.local.call("cfx_accounts", json!([])).unwrap();
        assert_eq!(accounts.len(), 1);
        assert_eq!(accounts[0].to_lowercase().replace("type.user:", ""), me_b32);
        // An earlier run on this devnet may have sent from this key moments ago.
        nonce_caught_up(&node, &full, &me_b32);
        let r = sdk_send(&node, chain_id, to);
        let hash: H256 = r["hash"].as_str().unwrap().parse().unwrap();
        // Mined with the expected sender; our verified receipt is the full node's.
        common::send::assert_mined_from(&full, &node, &hash, &me_b32);
        let n0: u64 = r["nonceBefore"].as_str().unwrap().parse().unwrap();
        assert_eq!(
            r["nonceAfter"].as_str().unwrap().parse::<u64>().unwrap(),
            n0 + 1
        );
    }

    // 2. A plugin that crashes mid-signature: a signer error, no relay, no nonce used.
    let script = tmp.path().join("crashing.py");
    std::fs::write(&script, CRASHING).unwrap();
    let crash = tmp.path().join("crash-now");
    let log = tmp.path().join("plugin.log");
    let env = [
        (
            "CFXLIGHT_PLUGIN_DIR",
            example.parent().unwrap().display().to_string(),
        ),
        ("CFXLIGHT_PLUGIN_CRASH", crash.display().to_string()),
        ("CFXLIGHT_PLUGIN_LOG", log.display().to_string()),
    ];
    let crashing = format!(
        "plugin:python3 '{}' --key-file '{}'",
        script.display(),
        key_file.display()
    );
    let node = start_node(
        &d,
        &tmp.path().join("node-b"),
        P2P_IPS[1],
        &crashing,
        &env,
        &me_b32,
    );
    // The new node's verified state must have the first part's transfer.
    let nonce_before = nonce_caught_up(&node, &full, &me_b32);
    std::fs::write(&crash, "").unwrap();
    let t = Instant::now();
    let reply = common::raw_call(
        &node.local_url,
        "cfx_sendTransaction",
        json!([{"from": me_b32, "to": to, "value": "0x1"}]),
    );
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "no hang: {:?}",
        t.elapsed()
    );
    let err = &reply["error"];
    assert_eq!(err["code"], -32023, "{reply}");
    let message = err["message"].as_str().unwrap();
    assert!(
        message.contains("plugin") && message.contains("exit status: 3"),
        "{reply}"
    );
    let nonce_after: U256 = node
        .local
        .call("cfx_getNextNonce", json!([me_b32]))
        .unwrap();
    assert_eq!(nonce_after, nonce_before, "the nonce is not burned");
    std::thread::sleep(Duration::from_secs(2));
    let full_nonce: U256 = full.call("cfx_getNextNonce", json!([me_b32])).unwrap();
    assert_eq!(full_nonce, nonce_before, "nothing reached the network");

    // The plugin restarts for the next send, which takes that same nonce and is mined.
    std::fs::remove_file(&crash).unwrap();
    let reply = common::raw_call(
        &node.local_url,
        "cfx_sendTransaction",
        json!([{"from": me_b32, "to": to, "value": "0x1"}]),
    );
    let hash: H256 = reply["result"]
        .as_str()
        .unwrap_or_else(|| panic!("{reply}"))
        .parse()
        .unwrap();
    let tx: Value = node
        .local
        .call("cfx_getTransactionByHash", json!([hash]))
        .unwrap();
    assert_eq!(U256::from(common::quantity(&tx["nonce"])), nonce_before);
    assert_eq!(wait_receipt(&node.local, &hash, 60)["outcomeStatus"], "0x0");
    // Each signing request reached a plugin once: the crashed one was not resent.
    let signs = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .filter(|l| l.contains("plugin_signTransaction"))
        .count();
    assert_eq!(signs, 2);
}
