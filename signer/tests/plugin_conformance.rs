#![allow(clippy::unwrap_used, missing_docs)]
//! Conformance of a signer plugin with `signer/PLUGIN.md`, and the host's behaviour with
//! broken plugins.
//!
//! **Conformance** (any plugin): `CFXLIGHT_PLUGIN_TEST_CMD` is the plugin's command line,
//! as written after `plugin:` (e.g. `CFXLIGHT_PLUGIN_TEST_CMD='/opt/my-plugin --flag'`);
//! the plugin must list at least one account and sign without asking a human. Default: the
//! Python example `signer/plugins/example_plugin.py` with js-conflux-sdk's test key in a key
//! file. Checked on the raw protocol: the handshake, accounts whose addresses are their
//! keys', ids echoed (numbers and strings), error codes for bad JSON, bad requests, unknown
//! methods, unknown accounts and a hash that is not keccak of the payload, the plugin
//! surviving all of those, exit on closed stdin. Through the backend: every transaction
//! type, a message and CIP-23 typed data, each recovering to the account; policy and audit
//! around it; the `cfxlight signer` commands.
//!
//! **Fault injection** (`mod fault_injection`): tiny Python and shell plugins that crash in
//! the middle of a signature, hang, sign with another key, print garbage or an over-long
//! line, answer with the wrong id, speak another major version, or claim an address that
//! is not their key's.

mod common;

use std::{
    io::{BufRead, BufReader, Write},
    path::{Path, PathBuf},
    process::{Child, ChildStdin, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use cfxlight_primitives::{
    crypto::{public_to_address, recover},
    transaction::{Action, Transaction, TxKind},
    H160, U256,
};
#[cfg(feature = "cli")]
use cfxlight_signer::cli::{run_with, SignerCommand};
use cfxlight_signer::{
    message::personal_message_hash, open_signer, spec::split_words, verify_audit, AuditLog,
    OpenOptions, Policy, PolicySigner, Signer, SignerSpec, TypedData,
};
#[cfg(feature = "cli")]
use clap::Parser;
use common::*;
use serde_json::{json, Value};

const CHAIN: u32 = 2029;
const MAIL: &str = r#"{"domain":{"name":"Ether Mail","version":"1","chainId":2029,"verifyingContract":"cfx:acgp3xgp3xgp3xgp3xgp3xgp3xgp3xgp3uppe8tn15"},
 "types":{"Person":[{"name":"name","type":"string"},{"name":"wallet","type":"address"}],
          "Mail":[{"name":"from","type":"Person"},{"name":"to","type":"Person"},{"name":"contents","type":"string"}]},
 "primaryType":"Mail",
 "message":{"from":{"name":"Cow","wallet":"cfx:aaswytp9wshbhxpyt5afztd9664r9ds2e2rsm7fx6n"},
            "to":{"name":"Bob","wallet":"cfx:aar51s751s751s751s751s751s751s751ptsbxh948"},"contents":"Hello, Bob!"}}"#;

fn example_plugin() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("plugins/example_plugin.py")
}

/// The plugin command under test (and the temp dir holding the default's key file).
fn plugin_command() -> (String, Option<tempfile::TempDir>) {
    if let Ok(cmd) = std::env::var("CFXLIGHT_PLUGIN_TEST_CMD") {
        return (cmd, None);
    }
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key.hex");
    std::fs::write(&key, format!("{SDK_KEY}\n")).unwrap();
    let cmd = format!(
        "python3 '{}' --key-file '{}'",
        example_plugin().display(),
        key.display()
    );
    (cmd, Some(dir))
}

fn default_plugin() -> bool {
    std::env::var_os("CFXLIGHT_PLUGIN_TEST_CMD").is_none()
}

/// A plugin spoken to directly, line by line, as the host would.
struct Raw {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
}

impl Raw {
    fn start(cmd: &str) -> Raw {
        let words = split_words(cmd).unwrap();
        let mut child = Command::new(&words[0])
            .args(&words[1..])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Raw {
            child,
            stdin,
            lines,
        }
    }

    fn send_line(&mut self, line: &str) -> Value {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(line.as_bytes()).unwrap();
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
        let answer = self
            .lines
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("no answer to {line}"));
        let v: Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(v["jsonrpc"], "2.0", "{answer}");
        assert!(
            v.get("result").is_some() != v.get("error").is_some(),
            "exactly one of result and error: {answer}"
        );
        v
    }

    fn call(&mut self, id: Value, method: &str, params: Value) -> Value {
        let req = json!({"jsonrpc":"2.0","id":id,"method":method,"params":params});
        let v = self.send_line(&req.to_string());
        assert_eq!(v["id"], id, "the answer's id is the request's");
        v
    }
}

impl Drop for Raw {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn error_code(v: &Value) -> i64 {
    assert!(
        v["error"]["message"].is_string(),
        "error has a message: {v}"
    );
    v["error"]["code"]
        .as_i64()
        .unwrap_or_else(|| panic!("an error with an integer code: {v}"))
}

fn tx(kind: TxKind, nonce: u64) -> Transaction {
    Transaction {
        nonce: nonce.into(),
        gas: 21000.into(),
        action: Action::Call(H160::repeat_byte(0x11)),
        value: U256::exp10(18),
        storage_limit: 64,
        epoch_height: 1234,
        chain_id: CHAIN,
        data: vec![0xde, 0xad],
        kind,
    }
}

fn kinds() -> Vec<TxKind> {
    vec![
        TxKind::Legacy {
            gas_price: 2.into(),
        },
        TxKind::Cip2930 {
            gas_price: 3.into(),
            access_list: vec![cfxlight_primitives::transaction::AccessListItem {
                address: H160::repeat_byte(0x22),
                storage_keys: vec![cfxlight_primitives::H256::repeat_byte(1)],
            }],
        },
        TxKind::Cip1559 {
            max_priority_fee_per_gas: 1.into(),
            max_fee_per_gas: 10.into(),
            access_list: vec![],
        },
    ]
}

fn open_plugin(cmd: &str) -> Box<dyn Signer> {
    let spec: SignerSpec = format!("plugin:{cmd}").parse().unwrap();
    open_signer(&spec, CHAIN, OpenOptions::default()).unwrap()
}

#[test]
fn raw_protocol_handshake_accounts_ids_and_error_shapes() {
    let (cmd, _dir) = plugin_command();
    let mut p = Raw::start(&cmd);
    let hello = p.call(
        json!(1),
        "plugin_hello",
        json!({"protocolVersion":"1.0","host":"conformance","chainId":CHAIN}),
    );
    let version = hello["result"]["protocolVersion"].as_str().unwrap();
    assert_eq!(version.split('.').next(), Some("1"), "{hello}");
    assert!(hello["result"]["name"].is_string(), "{hello}");

    // String ids are echoed as strings.
    let accounts = p.call(json!("acc-1"), "plugin_accounts", json!({}));
    let list = accounts["result"]["accounts"].as_array().unwrap();
    assert!(!list.is_empty(), "the plugin lists at least one account");
    for a in list {
        let public = a["publicKey"].as_str().unwrap();
        let raw = hex::decode(public.trim_start_matches("0x")).unwrap();
        assert_eq!(raw.len(), 64, "64-byte x‖y public key: {a}");
        let address = public_to_address(&cfxlight_primitives::H512::from_slice(&raw));
        assert_eq!(a["address"], format!("{address:?}"), "address is the key's");
    }
    let me = list[0]["address"].as_str().unwrap().to_string();

    // Bad input: answered with the defined codes, and the plugin keeps serving.
    let v = p.send_line("{this is not json");
    assert_eq!(error_code(&v), -32700);
    assert!(v["id"].is_null());
    let v = p.send_line(r#"{"jsonrpc":"2.0","id":7,"params":{}}"#);
    assert_eq!(error_code(&v), -32600);
    let v = p.call(json!(8), "plugin_noSuchMethod", json!({}));
    assert_eq!(error_code(&v), -32601);
    let v = p.call(json!(9), "plugin_signMessage", json!("not an object"));
    assert_eq!(error_code(&v), -32602);

    let msg = b"conformance".to_vec();
    let payload = cfxlight_signer::message::personal_message_payload(&msg);
    let good = json!({
        "account": me,
        "message": format!("0x{}", hex::encode(&msg)),
        "signingPayload": format!("0x{}", hex::encode(&payload)),
        "hash": format!("{:?}", personal_message_hash(&msg)),
    });
    let mut bad_hash = good.clone();
    bad_hash["hash"] = json!(format!("0x{}", "00".repeat(32)));
    let v = p.call(json!(10), "plugin_signMessage", bad_hash);
    assert_eq!(error_code(&v), -32602, "a hash that is not keccak(payload)");
    let mut stranger = good.clone();
    stranger["account"] = json!(format!("{:?}", H160::repeat_byte(0x19)));
    let v = p.call(json!(11), "plugin_signMessage", stranger);
    assert_eq!(error_code(&v), 4301, "unknown account");

    // Still alive and signing: the signature recovers to the account.
    let v = p.call(json!(12), "plugin_signMessage", good);
    let r = &v["result"];
    let sig = cfxlight_primitives::crypto::Signature {
        v: 0,
        r: U256::from_str_radix(r["r"].as_str().unwrap().trim_start_matches("0x"), 16).unwrap(),
        s: U256::from_str_radix(r["s"].as_str().unwrap().trim_start_matches("0x"), 16).unwrap(),
    };
    let digest = personal_message_hash(&msg);
    let recovered = [0u8, 1].into_iter().find_map(|v| {
        recover(
            &digest,
            &cfxlight_primitives::crypto::Signature { v, ..sig },
        )
        .ok()
        .filter(|pk| format!("{:?}", public_to_address(pk)) == me)
    });
    assert!(recovered.is_some(), "raw signature recovers to {me}: {v}");

    // Closing stdin ends the plugin.
    p.stdin = None;
    let deadline = Instant::now() + Duration::from_secs(5);
    while p.child.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "the plugin exits when stdin closes"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test]
async fn every_sign_method_recovers_to_the_account() {
    let (cmd, _dir) = plugin_command();
    let signer = open_plugin(&cmd);
    let accounts = signer.accounts().await.unwrap();
    let me = accounts[0];
    for (i, kind) in kinds().into_iter().enumerate() {
        let t = tx(kind, i as u64);
        let signed = signer.sign_transaction(&me.address, &t).await.unwrap();
        assert_eq!(signed.recover_sender().unwrap(), (me.address, me.public));
        if default_plugin() {
            // RFC 6979 on both sides: the Python plugin's signature is k256's, bit for bit.
            let key = cfxlight_primitives::crypto::signing_key(
                &hex::decode(&SDK_KEY[2..]).unwrap().try_into().unwrap(),
            )
            .unwrap();
            assert_eq!(signed, t.clone().sign(&key).unwrap());
        }
    }
    let sig = signer
        .sign_message(&me.address, b"Hello world!")
        .await
        .unwrap();
    assert_eq!(
        recover(&personal_message_hash(b"Hello world!"), &sig).unwrap(),
        me.public
    );
    if default_plugin() {
        // js-conflux-sdk 2.6.0 PersonalMessage.sign(SDK_KEY, 'Hello world!') (signing.rs).
        assert_eq!(
            format!("0x{}", hex::encode(cfxlight_signer::signer::signature_to_bytes(&sig))),
            "0x231f7eaba0e612b174217a3988525cb4964a43dab5662bc9b6e37c1ff27e3d160665cd1cd8fbc1810ba722372647db0780f3886d475bc752af926bf912d50d2a00"
        );
    }
    let td = TypedData::from_json(MAIL).unwrap();
    let sig = signer.sign_typed_data(&me.address, &td).await.unwrap();
    assert_eq!(recover(&td.hash().unwrap(), &sig).unwrap(), me.public);
    // Blind hash signing and other chains are refused before the plugin is asked.
    assert!(signer
        .sign_hash(&me.address, &cfxlight_primitives::H256::zero())
        .await
        .is_err());
    let mut other_chain = tx(kinds().remove(0), 9);
    other_chain.chain_id = 1;
    assert!(signer
        .sign_transaction(&me.address, &other_chain)
        .await
        .is_err());
    assert!(matches!(
        signer
            .sign_message(&H160::repeat_byte(0x19), b"x")
            .await
            .unwrap_err(),
        cfxlight_signer::SignerError::UnknownAccount(_)
    ));
}

#[tokio::test]
async fn policy_and_audit_wrap_a_plugin() {
    let (cmd, _dir) = plugin_command();
    let dir = tempfile::tempdir().unwrap();
    let policy = Policy::from_toml_str(
        &format!("chain_id = {CHAIN}\nmax_value_per_tx = \"2000000000000000000\"\n"),
        dir.path(),
    )
    .unwrap();
    let log = dir.path().join("audit.jsonl");
    let signer = PolicySigner::new(
        open_plugin(&cmd),
        policy,
        Some(AuditLog::open(&log).unwrap()),
    )
    .unwrap();
    let me = signer.accounts().await.unwrap()[0].address;
    let ok = tx(kinds().remove(2), 0);
    signer.sign_transaction(&me, &ok).await.unwrap();
    let mut big = ok.clone();
    big.value = U256::exp10(19);
    let e = signer.sign_transaction(&me, &big).await.unwrap_err();
    assert!(e.to_string().contains("max_value_per_tx"), "{e}");
    assert_eq!(verify_audit(&log).unwrap().lines, 2);
}

#[cfg(feature = "cli")]
#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    cmd: SignerCommand,
}

#[cfg(feature = "cli")]
async fn cli(args: &[&str]) -> String {
    let cli = Cli::try_parse_from(std::iter::once("signer").chain(args.iter().copied())).unwrap();
    let mut out = Vec::new();
    run_with(cli.cmd, &mut out).await.unwrap();
    String::from_utf8(out).unwrap()
}

#[cfg(feature = "cli")]
#[tokio::test]
async fn signer_commands_list_sign_tx_and_sign_message_with_a_plugin() {
    let (cmd, _dir) = plugin_command();
    let spec = format!("plugin:{cmd}");
    let list = cli(&["list", "--signer", &spec, "--json", "--chain-id", "1"]).await;
    let list: Value = serde_json::from_str(&list).unwrap();
    let hex_address = list[0]["hexAddress"].as_str().unwrap().to_string();
    if default_plugin() {
        assert_eq!(list[0]["address"], SDK_ADDRESS_TESTNET);
    }
    let raw = cli(&[
        "sign-tx",
        "--signer",
        &spec,
        "--chain-id",
        "1",
        &format!(
            r#"{{"from":"{hex_address}","to":"0x1111111111111111111111111111111111111111","value":"0x1","gas":21000,"gasPrice":1,"nonce":0,"storageLimit":0,"epochHeight":5,"chainId":1}}"#
        ),
    ])
    .await;
    let signed = cfxlight_primitives::transaction::SignedTransaction::decode(
        &hex::decode(raw.trim().trim_start_matches("0x")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        format!("{:?}", signed.recover_sender().unwrap().0),
        hex_address
    );
    let sig = cli(&[
        "sign-message",
        "--signer",
        &spec,
        "--chain-id",
        "1",
        "Hello world!",
    ])
    .await;
    if default_plugin() {
        assert_eq!(sig.trim(), "0x231f7eaba0e612b174217a3988525cb4964a43dab5662bc9b6e37c1ff27e3d160665cd1cd8fbc1810ba722372647db0780f3886d475bc752af926bf912d50d2a00");
    }
}

/// Deliberately broken plugins, and what the host makes of them.
mod fault_injection {
    use super::*;
    use cfxlight_signer::{PluginSigner, SignerError};

    const OTHER_KEY: &str = "0x2222222222222222222222222222222222222222222222222222222222222222";

    /// A Python plugin built on the example that misbehaves once (`MODE`), on its first
    /// signing request, logging every request it receives to `LOG` first.
    const FAULTY: &str = r#"
import json, os, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.environ["CFXLIGHT_PLUGIN_DIR"])
import example_plugin as ex
mode, log, marker = sys.argv[1], sys.argv[2], sys.argv[3]
plugin = ex.Plugin(int(os.environ["CFXLIGHT_PLUGIN_KEY"], 16))
other = int(os.environ["CFXLIGHT_PLUGIN_OTHER_KEY"], 16)
with open(log, "a") as f:
    f.write(json.dumps({"start": sorted(os.environ)}) + "\n")
for line in sys.stdin:
    req = json.loads(line)
    with open(log, "a") as f:
        f.write(json.dumps({"method": req["method"], "params": req.get("params")}) + "\n")
    if req["method"].startswith("plugin_sign") and (mode in ("other-key", "reject", "high-s") or not os.path.exists(marker)):
        open(marker, "w").close()
        out = sys.stdout
        if mode == "crash":
            os._exit(3)
        if mode == "garbage":
            out.write("this is not JSON\n"); out.flush(); continue
        if mode == "long":
            out.write("x" * (2 << 20)); out.flush(); time.sleep(60); continue
        if mode == "wrong-id":
            out.write(json.dumps({"jsonrpc": "2.0", "id": req["id"] + 1000, "result": {}}) + "\n"); out.flush(); continue
        if mode == "reject":
            ex.answer(req["id"], error=ex.RpcError(4001, "user said no")); continue
        digest = bytes.fromhex(req["params"]["hash"][2:])
        if mode == "other-key":
            r, s, v = ex.sign_digest(other, digest)
            ex.answer(req["id"], {"r": hex(r), "s": hex(s), "v": v}); continue
        if mode == "high-s":
            r, s, v = ex.sign_digest(plugin.secret, digest)
            ex.answer(req["id"], {"r": hex(r), "s": hex(ex.N - s), "v": v ^ 1}); continue
    ex.handle(plugin, line)
"#;

    struct Faulty {
        dir: tempfile::TempDir,
    }

    impl Faulty {
        fn new() -> Faulty {
            // Same values in every test: safe even when tests share a process.
            std::env::set_var("CFXLIGHT_PLUGIN_KEY", SDK_KEY);
            std::env::set_var("CFXLIGHT_PLUGIN_OTHER_KEY", OTHER_KEY);
            std::env::set_var("CFXLIGHT_PLUGIN_DIR", example_plugin().parent().unwrap());
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("faulty.py"), FAULTY).unwrap();
            Faulty { dir }
        }

        fn spec(&self, mode: &str, timeout: u64) -> SignerSpec {
            let d = self.dir.path();
            format!(
                "plugin:timeout={timeout} -- python3 '{}' {mode} '{}' '{}'",
                d.join("faulty.py").display(),
                d.join("log").display(),
                d.join("marker").display()
            )
            .parse()
            .unwrap()
        }

        fn open(&self, mode: &str, timeout: u64) -> PluginSigner {
            PluginSigner::open(self.spec(mode, timeout).plugin().unwrap(), CHAIN).unwrap()
        }

        /// Every request the plugin processes received, in order.
        fn log(&self) -> Vec<Value> {
            std::fs::read_to_string(self.dir.path().join("log"))
                .unwrap_or_default()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect()
        }

        fn methods(&self) -> Vec<String> {
            self.log()
                .iter()
                .filter_map(|v| v["method"].as_str().map(String::from))
                .collect()
        }
    }

    fn legacy(nonce: u64) -> Transaction {
        tx(kinds().remove(0), nonce)
    }

    #[tokio::test]
    async fn crash_mid_signature_errors_at_once_restarts_and_never_resends() {
        let f = Faulty::new();
        let signer = f.open("crash", 120);
        let me = signer.accounts().await.unwrap()[0].address;
        let first_pid = signer.pid().unwrap();
        let t = Instant::now();
        let e = signer.sign_transaction(&me, &legacy(0)).await.unwrap_err();
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "no hang: {:?}",
            t.elapsed()
        );
        let text = e.to_string();
        assert!(matches!(e, SignerError::Plugin { .. }), "{text}");
        assert!(text.contains("exit status: 3"), "{text}");
        assert!(text.contains("not resent"), "{text}");
        assert_eq!(signer.pid(), None, "the crashed plugin is gone");

        // The next request restarts the plugin and is signed.
        let signed = signer.sign_transaction(&me, &legacy(1)).await.unwrap();
        assert_eq!(signed.recover_sender().unwrap().0, me);
        assert_ne!(signer.pid(), Some(first_pid));
        // Nonce 0 reached a plugin exactly once (the crashed one); nonce 1 once.
        let nonces: Vec<String> = f
            .log()
            .iter()
            .filter(|v| v["method"] == "plugin_signTransaction")
            .map(|v| {
                v["params"]["transaction"]["nonce"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(nonces, ["0x0", "0x1"]);
        assert_eq!(
            f.methods(),
            [
                "plugin_hello",
                "plugin_accounts",
                "plugin_signTransaction",
                "plugin_hello",
                "plugin_accounts",
                "plugin_signTransaction"
            ]
        );
    }

    #[tokio::test]
    async fn a_hanging_shell_plugin_times_out_and_its_whole_group_is_killed() {
        let dir = tempfile::tempdir().unwrap();
        let tag = format!(
            "{}.{}",
            900 + std::process::id() % 97,
            std::process::id() % 89
        );
        let public = "0x4646ae5047316b4230d0086c8acec687f00b1cd9d1dc634f6cb358ac0a9a8ffffe77b4dd0a4bfb95851f3b7355c781dd60f8418fc8a65d14907aff47c903a559";
        let script = format!(
            r#"#!/bin/sh
# fault injection: answers the handshake, then hangs in a child process on any request
read -r l; echo '{{"jsonrpc":"2.0","id":'"$(echo "$l" | sed 's/.*"id":\([0-9]*\).*/\1/')"',"result":{{"protocolVersion":"1.0","name":"sh-hang"}}}}'
read -r l; echo '{{"jsonrpc":"2.0","id":'"$(echo "$l" | sed 's/.*"id":\([0-9]*\).*/\1/')"',"result":{{"accounts":[{{"address":"0x1cad0b19bb29d4674531d6f115237e16afce377c","publicKey":"{public}"}}]}}}}'
read -r l; sleep {tag}
"#
        );
        let path = dir.path().join("hang.sh");
        std::fs::write(&path, script).unwrap();
        let spec: SignerSpec = format!("plugin:timeout=1 -- sh '{}'", path.display())
            .parse()
            .unwrap();
        let signer = PluginSigner::open(spec.plugin().unwrap(), CHAIN).unwrap();
        assert_eq!(signer.name(), "sh-hang");
        let me = signer.accounts().await.unwrap()[0].address;
        for round in 0..2 {
            let t = Instant::now();
            let e = signer.sign_message(&me, b"hi").await.unwrap_err();
            let took = t.elapsed();
            assert!(matches!(e, SignerError::Timeout { .. }), "{e}");
            assert!(
                took >= Duration::from_secs(1) && took < Duration::from_secs(10),
                "round {round}: {took:?}"
            );
            assert!(e.to_string().contains("not resent"), "{e}");
        }
        // The `sleep` children were killed with their shells (SIGKILL is delivered
        // asynchronously: give a loaded machine a moment).
        let sleeping = || {
            std::fs::read_dir("/proc")
                .unwrap()
                .filter_map(|e| std::fs::read(e.ok()?.path().join("cmdline")).ok())
                .any(|c| String::from_utf8_lossy(&c).contains(&format!("sleep\0{tag}")))
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        while sleeping() {
            assert!(
                Instant::now() < deadline,
                "the hung plugin's child is still there"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    #[tokio::test]
    async fn a_signature_by_another_key_is_refused() {
        let f = Faulty::new();
        let signer = f.open("other-key", 120);
        let me = signer.accounts().await.unwrap()[0].address;
        let e = signer.sign_message(&me, b"hi").await.unwrap_err();
        assert!(
            matches!(e, SignerError::SignatureCheckFailed(a) if a == me),
            "{e}"
        );
        let e = signer.sign_transaction(&me, &legacy(0)).await.unwrap_err();
        assert!(matches!(e, SignerError::SignatureCheckFailed(_)), "{e}");
    }

    #[tokio::test]
    async fn a_high_s_signature_is_normalised_and_v_is_not_trusted() {
        let f = Faulty::new();
        let signer = f.open("high-s", 120);
        let me = signer.accounts().await.unwrap()[0];
        let t = legacy(0);
        let signed = signer.sign_transaction(&me.address, &t).await.unwrap();
        assert_eq!(signed.recover_sender().unwrap(), (me.address, me.public));
        assert!(
            signed.signature.s
                <= U256::from_str_radix(
                    "7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0",
                    16
                )
                .unwrap()
        );
    }

    #[tokio::test]
    async fn garbage_an_over_long_line_and_a_wrong_id_fail_cleanly_then_recover() {
        for (mode, says) in [
            ("garbage", "not JSON"),
            ("long", "longer than 1048576"),
            ("wrong-id", "does not match request id"),
        ] {
            let f = Faulty::new();
            let signer = f.open(mode, 30);
            let me = signer.accounts().await.unwrap()[0].address;
            let t = Instant::now();
            let e = signer.sign_message(&me, b"hi").await.unwrap_err();
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "{mode}: {:?}",
                t.elapsed()
            );
            assert!(matches!(e, SignerError::Plugin { .. }), "{mode}: {e}");
            assert!(e.to_string().contains(says), "{mode}: {e}");
            let sig = signer.sign_message(&me, b"hi").await.unwrap();
            assert_eq!(
                public_to_address(&recover(&personal_message_hash(b"hi"), &sig).unwrap()),
                me
            );
        }
    }

    #[tokio::test]
    async fn a_user_rejection_is_its_own_error_and_keeps_the_plugin() {
        let f = Faulty::new();
        let signer = f.open("reject", 120);
        let me = signer.accounts().await.unwrap()[0].address;
        let pid = signer.pid();
        let e = signer.sign_message(&me, b"hi").await.unwrap_err();
        assert!(matches!(e, SignerError::PluginRejected { .. }), "{e}");
        assert!(e.to_string().contains("user said no"), "{e}");
        assert_eq!(
            signer.pid(),
            pid,
            "an error answer does not restart the plugin"
        );
    }

    #[tokio::test]
    async fn the_node_secrets_stay_out_of_the_plugin_environment() {
        std::env::set_var("CFXLIGHT_PIN", "not-for-plugins");
        let f = Faulty::new();
        let _signer = f.open("reject", 120);
        let log = f.log();
        let env: Vec<&str> = log[0]["start"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert!(env.contains(&"CFXLIGHT_PLUGIN_KEY"), "{env:?}");
        assert!(env.contains(&"PATH"), "{env:?}");
        assert!(!env.contains(&"CFXLIGHT_PIN"), "{env:?}");
        assert!(!env.contains(&"CARGO_MANIFEST_DIR"), "{env:?}");
    }

    fn open_err(cmd: &str) -> String {
        let spec: SignerSpec = format!("plugin:{cmd}").parse().unwrap();
        open_signer(&spec, CHAIN, OpenOptions::default())
            .map(|_| ())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn bad_starts_are_clear_errors() {
        let e = open_err("/nonexistent/plugin");
        assert!(e.contains("cannot start `/nonexistent/plugin`"), "{e}");
        let e = open_err("sh -c 'exit 7'");
        assert!(e.contains("exit status: 7"), "{e}");
        let e = open_err(
            r#"sh -c 'read l; echo "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"protocolVersion\":\"2.0\"}}"; sleep 5'"#,
        );
        assert!(e.contains("speaks protocol version `2.0`"), "{e}");
        // An address that is not its public key's.
        let e = open_err(
            r#"sh -c 'read l; echo "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"protocolVersion\":\"1.3\"}}"; read l; echo "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"accounts\":[{\"address\":\"0x1111111111111111111111111111111111111111\",\"publicKey\":\"0x4646ae5047316b4230d0086c8acec687f00b1cd9d1dc634f6cb358ac0a9a8ffffe77b4dd0a4bfb95851f3b7355c781dd60f8418fc8a65d14907aff47c903a559\"}]}}"; sleep 5'"#,
        );
        assert!(e.contains("is not the address of its public key"), "{e}");
    }
}
