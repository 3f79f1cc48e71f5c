//! The RPC's access rules, on a real `cfxlight node` process (no peers needed: the
//! servers start before the first peer answers): signing methods stay off the public
//! port unless configured, the bearer token guards them, the Host allow-list refuses
//! other names, CORS answers only the configured origins, and the local port serves
//! the signing methods on loopback.

#![allow(clippy::unwrap_used, missing_docs)] // a test may stop at the first surprise

mod common;

use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::{json, Value};

const GENESIS: &str = "0x1111111111111111111111111111111111111111111111111111111111111111";

fn start(dir: &std::path::Path, extra: &[&str]) -> (common::Killed, u16, u16) {
    let (http, local) = (common::free_port(), common::free_port());
    let node = common::Killed(
        Command::new(env!("CARGO_BIN_EXE_cfxlight"))
            .args(["node", "--chain", "devnet", "--genesis-hash", GENESIS])
            // Nobody listens there: the node keeps retrying while its RPC serves.
            .args([
                "--bootnode",
                &format!("cfxnode://{}@127.0.0.1:9", "ab".repeat(64)),
            ])
            .arg("--datadir")
            .arg(dir)
            .args(["--rpc-http-port", &http.to_string()])
            .args(["--rpc-ws-port", &common::free_port().to_string()])
            .args(["--rpc-local-port", &local.to_string()])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", http)).is_err() {
        assert!(Instant::now() < deadline, "RPC never came up");
        std::thread::sleep(Duration::from_millis(50));
    }
    (node, http, local)
}

fn call(port: u16, method: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut req = ureq::post(&format!("http://127.0.0.1:{port}"));
    for (k, v) in headers {
        req = req.set(k, v);
    }
    match req.send_json(json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": []})) {
        Ok(r) => (r.status(), r.into_string().unwrap()),
        Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap_or_default()),
        Err(e) => panic!("{e}"),
    }
}

fn error_code(body: &str) -> i64 {
    let v: Value = serde_json::from_str(body).unwrap();
    v["error"]["code"].as_i64().unwrap_or(0)
}

#[test]
fn signing_stays_on_the_local_port_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let (_node, http, local) = start(dir.path(), &[]);
    // Public port: the method does not exist there.
    let (status, body) = call(http, "cfx_accounts", &[]);
    assert_eq!((status, error_code(&body)), (200, -32601), "{body}");
    // Local port: it exists, and says no signer is configured.
    let (status, body) = call(local, "cfx_accounts", &[]);
    assert_eq!((status, error_code(&body)), (200, -32023), "{body}");
    assert!(body.contains("--signer"), "{body}");
    // Public methods are on both.
    for port in [http, local] {
        let (status, body) = call(port, "cfx_clientVersion", &[]);
        assert_eq!(status, 200);
        assert!(body.contains("cfxlight/v"), "{body}");
    }
}

#[test]
fn token_host_allow_list_and_cors_are_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "s3cret-token-of-24-chars\n").unwrap();
    let data = dir.path().join("data");
    let (_node, http, _local) = start(
        &data,
        &[
            "--rpc-public-signing",
            "--rpc-token-file",
            token_file.to_str().unwrap(),
            "--rpc-hosts",
            "localhost,127.0.0.1",
            "--rpc-cors",
            "https://dapp.example",
        ],
    );
    // No token, wrong token: 401 before any method runs.
    assert_eq!(call(http, "cfx_clientVersion", &[]).0, 401);
    assert_eq!(
        call(
            http,
            "cfx_clientVersion",
            &[("Authorization", "Bearer nope")]
        )
        .0,
        401
    );
    let auth = ("Authorization", "Bearer s3cret-token-of-24-chars");
    let (status, body) = call(http, "cfx_accounts", &[auth]);
    assert_eq!(
        (status, error_code(&body)),
        (200, -32023),
        "signing is public now: {body}"
    );
    // A Host not on the list (DNS rebinding) is refused.
    assert_eq!(
        call(http, "cfx_clientVersion", &[auth, ("Host", "evil.example")]).0,
        403
    );
    // CORS: the configured origin gets the header, another does not.
    let r = ureq::post(&format!("http://127.0.0.1:{http}"))
        .set(auth.0, auth.1)
        .set("Origin", "https://dapp.example")
        .send_json(json!({"jsonrpc": "2.0", "id": 1, "method": "cfx_clientVersion", "params": []}))
        .unwrap();
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://dapp.example")
    );
    let r = ureq::post(&format!("http://127.0.0.1:{http}"))
        .set(auth.0, auth.1)
        .set("Origin", "https://other.example")
        .send_json(json!({"jsonrpc": "2.0", "id": 1, "method": "cfx_clientVersion", "params": []}))
        .unwrap();
    assert_eq!(r.header("access-control-allow-origin"), None);
    // Preflight.
    let pre = ureq::request("OPTIONS", &format!("http://127.0.0.1:{http}"))
        .set("Origin", "https://dapp.example")
        .set("Access-Control-Request-Method", "POST")
        .call();
    match pre {
        Ok(r) => assert_eq!(r.status(), 204),
        Err(e) => panic!("preflight refused: {e}"),
    }
}

#[test]
fn public_signing_off_loopback_without_a_token_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_cfxlight"))
        .args([
            "node",
            "--chain",
            "devnet",
            "--genesis-hash",
            GENESIS,
            "--dry-run",
        ])
        .args(["--rpc-interface", "0.0.0.0", "--rpc-public-signing"])
        .arg("--datadir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--rpc-token-file"));
}
