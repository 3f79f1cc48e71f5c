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
    let (node, http, local, _) = start_ws(dir, extra);
    (node, http, local)
}

fn start_ws(dir: &std::path::Path, extra: &[&str]) -> (common::Killed, u16, u16, u16) {
    start_logged(dir, extra, None)
}

/// The node with these flags (stderr to `log` when given); waits for its HTTP port.
fn start_logged(
    dir: &std::path::Path,
    extra: &[&str],
    log: Option<&std::path::Path>,
) -> (common::Killed, u16, u16, u16) {
    let (http, local, ws) = (
        common::free_port(),
        common::free_port(),
        common::free_port(),
    );
    let stderr = match log {
        Some(p) => Stdio::from(std::fs::File::create(p).unwrap()),
        None => Stdio::null(),
    };
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
            .args(["--rpc-ws-port", &ws.to_string()])
            .args(["--rpc-local-port", &local.to_string()])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", http)).is_err() {
        assert!(Instant::now() < deadline, "RPC never came up");
        std::thread::sleep(Duration::from_millis(50));
    }
    (node, http, local, ws)
}

/// `cfxlight node --dry-run` on the devnet spec with these flags.
fn dry_run(dir: &std::path::Path, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_cfxlight"))
        .args([
            "node",
            "--chain",
            "devnet",
            "--genesis-hash",
            GENESIS,
            "--dry-run",
        ])
        .args(extra)
        .arg("--datadir")
        .arg(dir)
        .output()
        .unwrap()
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
    let out = dry_run(
        dir.path(),
        &["--rpc-interface", "0.0.0.0", "--rpc-public-signing"],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--rpc-token-file"));
}

/// A raw WebSocket upgrade request's status line, with these extra headers.
fn upgrade_status(port: u16, headers: &[(&str, &str)]) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut req = format!(
        "GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut buf = [0u8; 256];
    let n = s.read(&mut buf).unwrap_or(0);
    String::from_utf8_lossy(&buf[..n])
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn the_signing_port_refuses_foreign_hosts_and_browsers_by_default() {
    let dir = tempfile::tempdir().unwrap();
    // CORS configured for the public port must not open the signing port to pages.
    let (_node, http, local, ws) = start_ws(dir.path(), &["--rpc-cors", "*"]);
    // DNS rebinding: evil.example resolving to 127.0.0.1 is refused on the local port…
    assert_eq!(
        call(local, "cfx_accounts", &[("Host", "evil.example")]).0,
        403
    );
    assert_eq!(
        call(local, "cfx_accounts", &[("Host", "evil.example:12539")]).0,
        403
    );
    // …while loopback names are served.
    for host in ["localhost:1", "127.0.0.1", "[::1]:12539"] {
        let (status, body) = call(local, "cfx_accounts", &[("Host", host)]);
        assert_eq!((status, error_code(&body)), (200, -32023), "{host}: {body}");
    }
    // No CORS on the signing port without a token, even with --rpc-cors '*'.
    let r = ureq::post(&format!("http://127.0.0.1:{local}"))
        .set("Origin", "https://evil.example")
        .send_json(json!({"jsonrpc": "2.0", "id": 1, "method": "cfx_accounts", "params": []}))
        .unwrap();
    assert_eq!(r.header("access-control-allow-origin"), None);
    // The public port still answers its configured CORS.
    let r = ureq::post(&format!("http://127.0.0.1:{http}"))
        .set("Origin", "https://dapp.example")
        .send_json(json!({"jsonrpc": "2.0", "id": 1, "method": "cfx_clientVersion", "params": []}))
        .unwrap();
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://dapp.example")
    );
    let _ = ws;
}

#[test]
fn a_cross_origin_websocket_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_node, _http, _local, ws) = start_ws(dir.path(), &["--rpc-cors", "https://dapp.example"]);
    // A page of another origin (browsers send Origin on every WebSocket, and apply no CORS).
    let refused = upgrade_status(ws, &[("Origin", "https://evil.example")]);
    assert!(refused.contains("403"), "{refused}");
    // The configured origin, and a non-browser client (no Origin), are served.
    let ok = upgrade_status(ws, &[("Origin", "https://dapp.example")]);
    assert!(ok.contains("101"), "{ok}");
    let ok = upgrade_status(ws, &[]);
    assert!(ok.contains("101"), "{ok}");
    // Without --rpc-cors no page may open one.
    let dir = tempfile::tempdir().unwrap();
    let (_node, _http, _local, ws) = start_ws(dir.path(), &[]);
    let refused = upgrade_status(ws, &[("Origin", "http://localhost:3000")]);
    assert!(refused.contains("403"), "{refused}");
}

#[test]
fn public_signing_without_a_token_is_refused_at_start_even_on_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let out = dry_run(dir.path(), &["--rpc-public-signing"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--rpc-token-file") && err.contains("web page"),
        "{err}"
    );
}

/// Peak RSS of a process, in MB (VmHWM).
fn peak_mb(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = s
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb / 1024
}

#[test]
fn a_fee_history_request_with_a_huge_percentile_list_is_refused_without_memory() {
    let dir = tempfile::tempdir().unwrap();
    let (node, http, _local) = start(dir.path(), &[]);
    // 1024 epochs × 40,000 percentiles (a 160 KB body) made the node allocate gigabytes.
    let zeros = vec![json!(0); 40_000];
    let r = ureq::post(&format!("http://127.0.0.1:{http}")).send_json(json!({
        "jsonrpc": "2.0", "id": 1, "method": "cfx_feeHistory",
        "params": ["0x400", "latest_state", zeros]
    }));
    let body = match r {
        Ok(r) => r.into_string().unwrap(),
        Err(ureq::Error::Status(_, r)) => r.into_string().unwrap(),
        Err(e) => panic!("{e}"),
    };
    assert_eq!(error_code(&body), -32602, "{body}");
    assert!(body.contains("at most 100 reward percentiles"), "{body}");
    let peak = peak_mb(node.0.id());
    assert!(peak < 300, "the node peaked at {peak} MB");
    // Out of range and out of order are refused too.
    for p in [json!([101]), json!([50, 10])] {
        let (_, body) = {
            let r = ureq::post(&format!("http://127.0.0.1:{http}")).send_json(json!({
                "jsonrpc": "2.0", "id": 1, "method": "cfx_feeHistory",
                "params": ["0x4", "latest_state", p]
            }));
            match r {
                Ok(r) => (200, r.into_string().unwrap()),
                Err(ureq::Error::Status(c, r)) => (c, r.into_string().unwrap()),
                Err(e) => panic!("{e}"),
            }
        };
        assert_eq!(error_code(&body), -32602, "{body}");
    }
}

#[test]
fn stalled_request_bodies_give_their_slots_back_and_a_new_client_is_answered() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let (_node, http, _local) = start(dir.path(), &[]);
    // 300 connections (more than the 256 slots) that send a head announcing a 5 MB body
    // and then one byte of it, and hold.
    let mut stalled = Vec::new();
    for _ in 0..300 {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", http)).unwrap();
        let _ = s.write_all(
            b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 5000000\r\n\r\n{",
        );
        stalled.push(s);
    }
    // Over the limit, a client is told so at once (a 429, or the connection closed before
    // its body was read), not held.
    let t = Instant::now();
    let r = ureq::post(&format!("http://127.0.0.1:{http}"))
        .send_json(json!({"jsonrpc": "2.0", "id": 1, "method": "cfx_clientVersion", "params": []}));
    match r {
        Ok(r) => assert_eq!(r.status(), 200),
        Err(ureq::Error::Status(code, _)) => assert_eq!(code, 429),
        Err(ureq::Error::Transport(_)) => {}
    }
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "held for {:?}",
        t.elapsed()
    );
    // After 40 s the stalled bodies have timed out: a new request is answered in < 1 s.
    std::thread::sleep(Duration::from_secs(40));
    let t = Instant::now();
    let (status, body) = call(http, "cfx_clientVersion", &[]);
    assert_eq!(status, 200, "{body}");
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "answered in {:?}",
        t.elapsed()
    );
    drop(stalled);
}

#[test]
fn metrics_count_calls_refusals_and_logs_can_be_json() {
    let dir = tempfile::tempdir().unwrap();
    let metrics = common::free_port();
    let log = dir.path().join("node.log");
    let metrics_addr = format!("127.0.0.1:{metrics}");
    let (_node, http, local, _) = start_logged(
        &dir.path().join("data"),
        &[
            "--metrics-addr",
            &metrics_addr,
            "--log-format",
            "json",
            "--log-level",
            "info",
        ],
        Some(&log),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", metrics)).is_err() {
        assert!(Instant::now() < deadline, "metrics never came up");
        std::thread::sleep(Duration::from_millis(50));
    }
    for _ in 0..3 {
        assert_eq!(call(http, "cfx_clientVersion", &[]).0, 200);
    }
    assert_eq!(
        call(local, "cfx_accounts", &[("Host", "evil.example")]).0,
        403
    );
    let text = ureq::get(&format!("http://127.0.0.1:{metrics}/metrics"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    for line in [
        "cfxlight_rpc_requests_total{method=\"cfx_clientVersion\"} 3",
        "cfxlight_rpc_refused_total{limit=\"host\"} 1",
        "cfxlight_peers_connected 0",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
    // Every log line is one JSON object with a level and a message.
    let logs = std::fs::read_to_string(&log).unwrap();
    assert!(!logs.is_empty());
    for l in logs.lines() {
        let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
        assert!(v["level"].is_string() && v["msg"].is_string(), "{l}");
    }
}

/// The Mail example of CIP-23 with Conflux addresses (as `signer/tests/signing.rs`).
const MAIL: &str = r#"{"domain":{"name":"Ether Mail","version":"1","chainId":2029,"verifyingContract":"cfx:acgp3xgp3xgp3xgp3xgp3xgp3xgp3xgp3uppe8tn15"},
 "types":{"Person":[{"name":"name","type":"string"},{"name":"wallet","type":"address"}],
          "Mail":[{"name":"from","type":"Person"},{"name":"to","type":"Person"},{"name":"contents","type":"string"}]},
 "primaryType":"Mail",
 "message":{"from":{"name":"Cow","wallet":"cfx:aaswytp9wshbhxpyt5afztd9664r9ds2e2rsm7fx6n"},
            "to":{"name":"Bob","wallet":"cfx:aar51s751s751s751s751s751s751s751ptsbxh948"},"contents":"Hello, Bob!"}}"#;

#[test]
fn typed_data_is_signed_on_the_local_port_only_and_recovers_to_the_account() {
    use cfxlight_primitives::crypto;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("pin"), "pw\n").unwrap();
    let key = "0x46b9e861b63d3509c88b7817275a30d22d62c8cd8fa6486ddee35ef0d8e0495f";
    std::fs::write(d.join("secret"), format!("{key}\n")).unwrap();
    let spec = format!("keystore:{}", d.join("keys").display());
    let out = Command::new(env!("CARGO_BIN_EXE_cfxlight"))
        .args([
            "signer",
            "import",
            "--signer",
            &spec,
            "--network-id",
            "2029",
        ])
        .arg("--pin-file")
        .arg(d.join("pin"))
        .arg("--secret-file")
        .arg(d.join("secret"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pin = d.join("pin").display().to_string();
    let (_node, http, local) = start(&d.join("data"), &["--signer", &spec, "--pin-file", &pin]);
    let account = {
        let (_, body) = call(local, "cfx_accounts", &[]);
        let v: Value = serde_json::from_str(&body).unwrap();
        v["result"][0].as_str().unwrap().to_string()
    };
    let typed: Value = serde_json::from_str(MAIL).unwrap();
    let sign = |port: u16, data: Value| -> Value {
        ureq::post(&format!("http://127.0.0.1:{port}"))
            .send_json(json!({"jsonrpc": "2.0", "id": 1, "method": "cfx_signTypedData_v4", "params": [account, data]}))
            .unwrap()
            .into_json()
            .unwrap()
    };
    // Not on the public port.
    assert_eq!(sign(http, typed.clone())["error"]["code"], -32601);
    // On the local port: as an object and as a string, the same signature, recovering to
    // the account from the CIP-23 hash (cive's, pinned in signer/tests/signing.rs).
    let a = sign(local, typed.clone());
    let b = sign(local, Value::String(MAIL.to_string()));
    assert_eq!(a["result"], b["result"], "{a} {b}");
    // The CLI signs the same bytes (RFC 6979 nonces: the same signature).
    let out = Command::new(env!("CARGO_BIN_EXE_cfxlight"))
        .args([
            "signer",
            "sign-typed-data",
            "--signer",
            &spec,
            "--pin-file",
            &pin,
            "--chain-id",
            "2029",
            MAIL,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        a["result"].as_str().unwrap()
    );
    let rsv = hex::decode(a["result"].as_str().unwrap().trim_start_matches("0x")).unwrap();
    assert_eq!(rsv.len(), 65);
    let sig = crypto::Signature {
        r: cfxlight_primitives::U256::from_big_endian(&rsv[..32]),
        s: cfxlight_primitives::U256::from_big_endian(&rsv[32..64]),
        v: rsv[64],
    };
    let hash = cfxlight_signer::typed_data::TypedData::from_json(MAIL)
        .unwrap()
        .hash()
        .unwrap();
    let who = crypto::public_to_address(&crypto::recover(&hash, &sig).unwrap());
    let expected = cfxlight_primitives::address::decode_raw(&account).unwrap();
    assert_eq!(who.as_bytes(), &expected.bytes[..]);
    // Malformed typed data is a parameter error, never a signature.
    let bad = sign(
        local,
        json!({"types": {}, "primaryType": "Mail", "domain": {}, "message": {}}),
    );
    assert_eq!(bad["error"]["code"], -32602, "{bad}");
}
