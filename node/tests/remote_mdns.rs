//! The remote signer found by mDNS (opt-in on both ends): `cfxlight signer serve --mdns`
//! with a keystore inside another network namespace (joined to this one by a veth pair the
//! test makes; mDNS skips loopback), and `cfxlight signer list --signer
//! remote:mdns/p2p/<peer id>` here, with no address given.
//! - Without `--mdns` the signer is not announced: the list fails, naming mDNS, within the
//!   handshake timeout.
//! - With it the list shows the keystore's account, the pinned peer id is the one that
//!   answered, and serve logs the connection from our peer id.
//!
//! Needs root (`ip netns`; required under CI). No devnet.

#![allow(clippy::unwrap_used, missing_docs)] // a test may stop at the first surprise

mod common;

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, Output, Stdio},
    time::{Duration, Instant},
};

use common::netns::Netns;

const BIN: &str = env!("CARGO_BIN_EXE_cfxlight");
const PASSWORD: &str = "mdns-test-password";
/// js-conflux-sdk's test key, and its hex address.
const SECRET: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const HEX_ADDRESS: &str = "0x1cad0b19bb29d4674531d6f115237e16afce377c";

fn cfxlight(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("CFXLIGHT_PASSWORD", PASSWORD)
        .output()
        .unwrap()
}

fn peer_id(key: &Path) -> String {
    let out = cfxlight(&["signer", "remote-id", "--key", key.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// `signer serve` with the keystore inside `ns`; waits until it listens. Killed on drop.
struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(ns: &Netns, dir: &Path, allow: &str, mdns: bool, log: &Path) -> Serve {
    let stderr = std::fs::File::create(log).unwrap();
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", &ns.name, BIN, "signer", "serve"])
        .arg("--signer")
        .arg(format!("keystore:{}", dir.join("keys").display()))
        .args(["--chain-id", "1"])
        .arg("--key")
        .arg(dir.join("serve.key"))
        .args(["--listen", "/ip4/0.0.0.0/tcp/0", "--allow", allow])
        .env("CFXLIGHT_PASSWORD", PASSWORD)
        .stdout(Stdio::piped())
        .stderr(stderr);
    if mdns {
        cmd.arg("--mdns");
    }
    let mut child = cmd.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("serve exited: {}", std::fs::read_to_string(log).unwrap()))
            .unwrap();
        if line.starts_with("listening: ") {
            break;
        }
    }
    std::thread::spawn(move || lines.for_each(drop));
    Serve(child)
}

#[test]
fn a_signer_announced_by_mdns_is_found_by_its_peer_id_and_one_not_announced_is_not() {
    let Some(ns) = Netns::new("mdns", 78) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs root for `ip netns add`"
        );
        eprintln!("skipped: `ip netns add` failed (needs root)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("secret"), SECRET).unwrap();
    let keys = d.join("keys");
    let import = cfxlight(&[
        "signer",
        "import",
        "--signer",
        &format!("keystore:{}", keys.display()),
        "--secret-file",
        d.join("secret").to_str().unwrap(),
    ]);
    assert!(import.status.success(), "{import:?}");
    let node_key = d.join("node.key");
    let (node_id, serve_id) = (peer_id(&node_key), peer_id(&d.join("serve.key")));
    let spec = format!("remote:mdns/p2p/{serve_id}");
    let list = || {
        let started = Instant::now();
        let out = cfxlight(&[
            "signer",
            "list",
            "--signer",
            &spec,
            "--remote-key",
            node_key.to_str().unwrap(),
            "--chain-id",
            "1",
            "--json",
        ]);
        (out, started.elapsed())
    };

    // Not announced: nothing on the network says where the id is.
    let quiet_log = d.join("serve-quiet.log");
    let quiet = serve(&ns, d, &node_id, false, &quiet_log);
    let (out, took) = list();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "found without mDNS: {out:?}");
    assert!(
        err.contains("no mDNS announcement") && err.contains(&serve_id),
        "{err}"
    );
    assert!(took < Duration::from_secs(20), "{took:?}");
    drop(quiet);
    assert!(
        !std::fs::read_to_string(&quiet_log)
            .unwrap()
            .contains("connected"),
        "a connection reached the unannounced signer"
    );

    // Announced: found, pinned, listed.
    let log = d.join("serve.log");
    let _serve = serve(&ns, d, &node_id, true, &log);
    let (out, took) = list();
    assert!(
        out.status.success(),
        "{}\nserve: {}",
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(&log).unwrap()
    );
    let accounts: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(accounts.as_array().unwrap().len(), 1, "{accounts}");
    assert_eq!(accounts[0]["hexAddress"], HEX_ADDRESS);
    assert!(took < Duration::from_secs(10), "{took:?}");
    let served = std::fs::read_to_string(&log).unwrap();
    assert!(
        served.contains(&format!("connected: {node_id}")),
        "{served}"
    );
}
