//! What the devnet integration tests share: finding the devnet they run against.

#![allow(dead_code)] // each test binary uses its own subset

use std::path::{Path, PathBuf};

use serde_json::Value;

/// The devnet directory from `CFXLIGHT_DEVNET` (written by `scripts/devnet up`). Without
/// it a test is skipped, except under CI (`CI` set), where a missing devnet is a failure:
/// `scripts/test` always provides one.
pub fn devnet_dir() -> Option<PathBuf> {
    let Some(dir) = std::env::var_os("CFXLIGHT_DEVNET") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs the devnet tests: set CFXLIGHT_DEVNET (scripts/test does)"
        );
        eprintln!("skipped: CFXLIGHT_DEVNET is not set (run scripts/test)");
        return None;
    };
    Some(PathBuf::from(dir))
}

/// The `devnet.json` of a devnet directory.
pub fn devnet_json(dir: &Path) -> Value {
    let path = dir.join("devnet.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("devnet.json")
}

/// A TCP port on 127.0.0.1 that was free a moment ago (for a node the test starts).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process that is killed (and reaped) when the test ends, however it ends.
pub struct Killed(pub std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `cfxlight node` on the devnet described by `d` (its devnet.json): chain, chain id,
/// genesis hash and bootnode, `datadir`, dialling from `ip` (conflux-rust takes one P2P
/// session per source IP), without the local signing port. Add ports and flags, spawn.
pub fn node_command(d: &Value, datadir: &Path, ip: &str) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_cfxlight"));
    c.args([
        "node",
        "--rpc-local-port",
        "0",
        "--chain",
        "devnet",
        "--chain-id",
    ])
    .arg(d["chain_id"].as_u64().unwrap().to_string())
    .args(["--genesis-hash", d["genesis_hash"].as_str().unwrap()])
    .args(["--bootnode", d["bootnode"].as_str().unwrap()])
    .arg("--datadir")
    .arg(datadir)
    .args(["--p2p-local-ip", ip])
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null());
    c
}

/// `cfxlight node` on the devnet `d` with public HTTP and WebSocket ports (no local port),
/// killed on drop; returns it and its HTTP URL.
pub fn public_node(d: &Value, datadir: &Path, ip: &str) -> (Killed, String) {
    let port = free_port();
    let node = Killed(
        node_command(d, datadir, ip)
            .args(["--rpc-http-port", &port.to_string()])
            .args(["--rpc-ws-port", &free_port().to_string()])
            .spawn()
            .unwrap(),
    );
    (node, format!("http://127.0.0.1:{port}"))
}

/// Waits up to `secs` seconds until the node at `url` has a verified `latest_state` past
/// `epoch`, and returns it (a node not answering yet is waited for).
pub fn wait_state_past(url: &str, epoch: u64, secs: u64) -> u64 {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        let e = try_raw_call(url, "cfx_epochNumber", serde_json::json!(["latest_state"]))
            .and_then(|r| r["result"].as_str().map(str::to_string))
            .and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok())
            .unwrap_or(0);
        if e > epoch {
            return e;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{url}: latest_state did not pass epoch {epoch} in {secs} s"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// A `0x` quantity as a number.
pub fn quantity(v: &Value) -> u64 {
    u64::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

pub mod card;
pub mod liar;
pub mod netns;
pub mod send;

/// Genesis key `i` of the devnet described by `d`.
pub fn genesis_key(d: &Value, i: usize) -> k256::ecdsa::SigningKey {
    let hex = d["genesis_keys"][i]["secret"].as_str().unwrap();
    let bytes = hex::decode(hex.trim_start_matches("0x")).unwrap();
    cfxlight_primitives::crypto::signing_key(&bytes.try_into().unwrap()).unwrap()
}

/// [`raw_call`], or `None` while nothing answers at `url` (a node still starting).
pub fn try_raw_call(url: &str, method: &str, params: Value) -> Option<Value> {
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    ureq::post(url).send_json(body).ok()?.into_json().ok()
}

/// One JSON-RPC call to `url`, the whole reply (result or error) as JSON.
pub fn raw_call(url: &str, method: &str, params: Value) -> Value {
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    ureq::post(url)
        .send_json(body)
        .unwrap()
        .into_json()
        .unwrap()
}

/// A syncer for the devnet with the bundled devnet spec's rules (test PoW, fixed
/// difficulty, the blame-vote trust rule with its smaller numbers), starting at genesis.
pub fn devnet_syncer(
    store: std::sync::Arc<cfxlight_node::store::Store>,
    genesis: cfxlight_primitives::H256,
    chain_id: u32,
) -> cfxlight_node::sync::Syncer {
    let spec = devnet_spec(chain_id);
    let trust = spec.trust.clone();
    let rules = cfxlight_node::rules::HeaderVerifier::new(
        std::sync::Arc::new(spec),
        cfxlight_node::pow::PowVerifier::new(cfxlight_chainspec::PowMode::Test, None),
    );
    cfxlight_node::sync::Syncer::new(
        store,
        rules,
        trust,
        cfxlight_node::sync::Start::Genesis(genesis),
    )
}

/// The bundled devnet spec with this chain id.
pub fn devnet_spec(chain_id: u32) -> cfxlight_chainspec::ChainSpec {
    let spec = cfxlight_chainspec::ChainSpec::load("devnet").expect("bundled devnet");
    if spec.chain_id == chain_id {
        spec
    } else {
        spec.with_chain_id(chain_id).expect("devnet chain id")
    }
}
