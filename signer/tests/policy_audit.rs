#![allow(clippy::unwrap_used, missing_docs)]
//! Policy rules and the hash-chained audit log around a real keystore backend.

mod common;

use std::{
    path::Path,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
};

use cfxlight_primitives::{
    transaction::{Action, Transaction, TxKind},
    H160, U256,
};
use cfxlight_signer::{
    audit::{head_path, AuditError},
    verify_audit, AuditLog, KeystoreSigner, Policy, PolicySigner, Signer, SignerError,
};
use common::*;
use serde_json::Value;

const BOB: &str = "0x1386b4185a223ef49592233b69291bbe5a80c527";

fn tx(to: &str, value: u64) -> Transaction {
    Transaction {
        nonce: 0.into(),
        gas: 21000.into(),
        action: Action::Call(to.parse().unwrap()),
        value: value.into(),
        storage_limit: 0,
        epoch_height: 1,
        chain_id: 2029,
        data: vec![],
        kind: TxKind::Legacy {
            gas_price: 1.into(),
        },
    }
}

fn policy(text: &str, dir: &Path) -> Policy {
    Policy::from_toml_str(text, dir).unwrap()
}

async fn setup(dir: &Path, policy_text: &str) -> (PolicySigner<KeystoreSigner>, H160) {
    let ks = keystore_with(&dir.join("keys"), SDK_KEY, "pw", 2029);
    let me = ks.accounts().await.unwrap()[0].address;
    let audit = AuditLog::open(&dir.join("audit.jsonl")).unwrap();
    let signer = PolicySigner::new(ks, policy(policy_text, dir), Some(audit)).unwrap();
    (signer, me)
}

fn refused_rule(r: Result<impl Sized, SignerError>) -> String {
    match r {
        Err(SignerError::PolicyRefused { rule, .. }) => rule,
        Err(e) => panic!("not a policy refusal: {e}"),
        Ok(_) => panic!("not refused"),
    }
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn a_value_above_the_per_tx_cap_is_refused_naming_max_value_per_tx_and_logged() {
    let dir = tempfile::tempdir().unwrap();
    let (signer, me) = setup(dir.path(), "chain_id = 2029\nmax_value_per_tx = 1000").await;
    let err = signer
        .sign_transaction(&me, &tx(BOB, 1001))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("`max_value_per_tx`"), "{err}");
    let signed = signer.sign_transaction(&me, &tx(BOB, 1000)).await.unwrap();
    assert_eq!(signed.recover_sender().unwrap().0, me);

    let log = lines(&dir.path().join("audit.jsonl"));
    assert_eq!(log.len(), 2);
    assert_eq!(log[0]["decision"], "refused");
    assert_eq!(log[0]["rule"], "max_value_per_tx");
    assert_eq!(log[0]["value"], "0x3e9");
    assert_eq!(log[0]["to"], BOB);
    assert!(log[0].get("signature").is_none());
    assert_eq!(log[1]["decision"], "allowed");
    assert_eq!(log[1]["tx_hash"], format!("{:?}", signed.hash()));
    assert_eq!(log[1]["digest"], format!("{:?}", signed.tx.signing_hash()));
    assert_eq!(
        log[1]["prev"],
        format!(
            "{:?}",
            cfxlight_primitives::keccak256(
                std::fs::read_to_string(dir.path().join("audit.jsonl"))
                    .unwrap()
                    .lines()
                    .next()
                    .unwrap()
            )
        )
    );
    assert_eq!(
        verify_audit(&dir.path().join("audit.jsonl")).unwrap().lines,
        2
    );
}

#[tokio::test]
async fn recipients_methods_and_chain_are_enforced_by_named_rules() {
    let dir = tempfile::tempdir().unwrap();
    let (signer, me) = setup(
        dir.path(),
        &format!(
            "chain_id = 2029\nmethods = [\"sign_transaction\"]\nallowed_recipients = [\"{}\"]",
            cfxlight_primitives::address::encode(&BOB.parse().unwrap(), 2029)
        ),
    )
    .await;
    signer.sign_transaction(&me, &tx(BOB, 1)).await.unwrap();
    let carol = "0x1111111111111111111111111111111111111111";
    assert_eq!(
        refused_rule(signer.sign_transaction(&me, &tx(carol, 1)).await),
        "allowed_recipients"
    );
    let mut deploy = tx(BOB, 0);
    deploy.action = Action::Create;
    assert_eq!(
        refused_rule(signer.sign_transaction(&me, &deploy).await),
        "allowed_recipients"
    );
    assert_eq!(
        refused_rule(signer.sign_message(&me, b"hi").await),
        "methods"
    );
    let mut other_chain = tx(BOB, 1);
    other_chain.chain_id = 1029;
    assert_eq!(
        refused_rule(signer.sign_transaction(&me, &other_chain).await),
        "chain_id"
    );
    // A policy pinning another chain than the signer's cannot even be set up.
    let ks = keystore_with(&dir.path().join("k2"), SDK_KEY, "pw", 2029);
    assert!(matches!(
        PolicySigner::new(ks, policy("chain_id = 1029", dir.path()), None),
        Err(SignerError::Policy(_))
    ));
}

#[tokio::test]
async fn daily_caps_survive_a_restart_and_reset_on_the_next_utc_day() {
    let dir = tempfile::tempdir().unwrap();
    let text = "max_tx_per_day = 2\nmax_value_per_day = \"3 CFX\"";
    let cfx = |n: u64| U256::from(n) * U256::exp10(18);
    let clock = Arc::new(AtomicU64::new(1_764_107_760)); // 2025-11-25T21:56:00Z
    let c = clock.clone();
    let (signer, me) = setup(dir.path(), text).await;
    let signer = signer.with_clock(Arc::new(move || c.load(Ordering::SeqCst)));
    let mut t = tx(BOB, 0);
    // Values only here (fees are counted too: `fees_count_in_the_daily_total`).
    t.kind = TxKind::Legacy {
        gas_price: U256::zero(),
    };
    t.value = cfx(2);
    signer.sign_transaction(&me, &t).await.unwrap();
    t.value = cfx(2);
    assert_eq!(
        refused_rule(signer.sign_transaction(&me, &t).await),
        "max_value_per_day"
    );
    drop(signer);

    // Restart: a new signer over the same files remembers today's totals.
    let ks = KeystoreSigner::open(
        &dir.path().join("keys"),
        2029,
        cfxlight_signer::keystore::KeystoreOptions {
            password: Some(zeroize::Zeroizing::new("pw".into())),
            ..Default::default()
        },
    )
    .unwrap();
    let audit = AuditLog::open(&dir.path().join("audit.jsonl")).unwrap();
    let c = clock.clone();
    let signer = PolicySigner::new(ks, policy(text, dir.path()), Some(audit))
        .unwrap()
        .with_clock(Arc::new(move || c.load(Ordering::SeqCst)));
    t.value = cfx(1);
    signer.sign_transaction(&me, &t).await.unwrap();
    t.value = U256::zero();
    assert_eq!(
        refused_rule(signer.sign_transaction(&me, &t).await),
        "max_tx_per_day"
    );
    let state: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("audit.jsonl.policy-state.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(state["day"], "2025-11-25");
    assert_eq!(state["count"], 2);
    assert_eq!(state["value"], format!("{:#x}", cfx(3)));

    // Three hours later it is the 26th (UTC): fresh totals.
    clock.fetch_add(3 * 3600, Ordering::SeqCst);
    signer.sign_transaction(&me, &t).await.unwrap();
    assert_eq!(
        verify_audit(&dir.path().join("audit.jsonl")).unwrap().lines,
        5
    );
}

#[test]
fn daily_caps_without_a_state_file_are_refused_at_setup() {
    let dir = tempfile::tempdir().unwrap();
    let ks = keystore_with(dir.path(), SDK_KEY, "pw", 2029);
    assert!(matches!(
        PolicySigner::new(ks, policy("max_tx_per_day = 1", dir.path()), None),
        Err(SignerError::Policy(_))
    ));
    assert!(
        Policy::from_toml_str("max_value_per_tx = 1\nmax_valu_per_day = 2", dir.path()).is_err()
    );
    assert!(Policy::from_toml_str("methods = [\"sign_everything\"]", dir.path()).is_err());
    assert!(Policy::from_toml_str("max_value_per_tx = \"1 ETH\"", dir.path()).is_err());
}

/// A log with `n` signed messages.
async fn log_with(n: usize) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let (signer, me) = setup(dir.path(), "").await;
    for i in 0..n {
        signer
            .sign_message(&me, format!("message {i}").as_bytes())
            .await
            .unwrap();
    }
    let path = dir.path().join("audit.jsonl");
    (dir, path)
}

fn broken_line(r: Result<impl Sized, AuditError>) -> u64 {
    match r {
        Err(AuditError::Broken { line, .. }) => line,
        Err(e) => panic!("other error: {e}"),
        Ok(_) => panic!("verified"),
    }
}

#[tokio::test]
async fn an_edited_audit_line_fails_verification_naming_the_line() {
    let (_dir, path) = log_with(4).await;
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        !text.contains("message 1"),
        "message text must not be logged"
    );
    let mut ls: Vec<String> = text.lines().map(str::to_string).collect();
    ls[1] = ls[1].replace("\"message_len\":9", "\"message_len\":8");
    std::fs::write(&path, ls.join("\n") + "\n").unwrap();
    let err = verify_audit(&path).unwrap_err();
    assert!(err.to_string().contains("line 2: edited"), "{err}");
    // The last line edited: caught by the head file.
    let (_dir, path) = log_with(3).await;
    let mut ls: Vec<String> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    ls[2] = ls[2].replace("\"decision\":\"allowed\"", "\"decision\":\"refused\"");
    std::fs::write(&path, ls.join("\n") + "\n").unwrap();
    assert_eq!(broken_line(verify_audit(&path)), 3);
}

#[tokio::test]
async fn deleted_reordered_and_cut_off_lines_are_detected() {
    let (_dir, path) = log_with(4).await;
    let ls: Vec<String> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let write = |v: Vec<&String>| {
        std::fs::write(
            &path,
            v.iter().map(|l| format!("{l}\n")).collect::<String>(),
        )
        .unwrap()
    };
    write(vec![&ls[0], &ls[2], &ls[3]]);
    assert_eq!(broken_line(verify_audit(&path)), 2);
    write(vec![&ls[0], &ls[2], &ls[1], &ls[3]]);
    assert_eq!(broken_line(verify_audit(&path)), 2);
    // The tail cut off: the chain itself is intact, the head file is not.
    write(vec![&ls[0], &ls[1], &ls[2]]);
    assert!(matches!(
        verify_audit(&path),
        Err(AuditError::HeadMismatch { .. })
    ));
    // A half-written last line.
    std::fs::write(&path, format!("{}\n{}", ls[0], &ls[1][..10])).unwrap();
    assert_eq!(broken_line(verify_audit(&path)), 2);
    // Without the head file the intact prefix verifies, and says the tail is unchecked.
    write(vec![&ls[0], &ls[1]]);
    std::fs::remove_file(head_path(&path)).unwrap();
    let s = verify_audit(&path).unwrap();
    assert_eq!((s.lines, s.head_checked), (2, false));
    // Nothing is appended to a broken log.
    write(vec![&ls[1]]);
    assert!(AuditLog::open(&path).is_err());
}

#[tokio::test]
async fn backend_failures_are_logged_as_failed_and_nothing_secret_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let (signer, me) = setup(dir.path(), "").await;
    let h = cfxlight_primitives::keccak256(b"blind");
    assert!(matches!(
        signer.sign_hash(&me, &h).await,
        Err(SignerError::BlindSigningDisabled)
    ));
    let log = lines(&dir.path().join("audit.jsonl"));
    assert_eq!(log[0]["method"], "sign_hash");
    assert_eq!(log[0]["decision"], "failed");
    let text = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
    assert!(!text.contains("\"pw\"") && !text.contains(&SDK_KEY[2..]));
}

#[tokio::test]
async fn a_fee_draining_send_is_refused_by_max_gas_price_and_max_fee_per_tx() {
    let dir = tempfile::tempdir().unwrap();
    // 21000 gas × 100 GDrip = 2 100 000 GDrip.
    let (signer, me) = setup(
        dir.path(),
        "max_value_per_tx = 1000\nmax_gas_price = \"100 GDrip\"\nmax_fee_per_tx = \"2100000 GDrip\"",
    )
    .await;
    let gdrip = |n: u64| U256::from(n) * U256::exp10(9);
    // The review's trigger: value 0 (under the value cap), gasPrice = balance / 21000.
    let mut drain = tx(BOB, 0);
    drain.kind = TxKind::Legacy {
        gas_price: U256::exp10(24) / U256::from(21000u64),
    };
    assert_eq!(
        refused_rule(signer.sign_transaction(&me, &drain).await),
        "max_gas_price"
    );
    // Type 2: maxFeePerGas is what is bounded.
    let mut t2 = tx(BOB, 0);
    t2.kind = TxKind::Cip1559 {
        max_priority_fee_per_gas: gdrip(1),
        max_fee_per_gas: gdrip(101),
        access_list: vec![],
    };
    assert_eq!(
        refused_rule(signer.sign_transaction(&me, &t2).await),
        "max_gas_price"
    );
    // At the price cap, but more gas: the fee cap.
    let mut heavy = tx(BOB, 0);
    heavy.kind = TxKind::Legacy {
        gas_price: gdrip(100),
    };
    heavy.gas = 21001.into();
    assert_eq!(
        refused_rule(signer.sign_transaction(&me, &heavy).await),
        "max_fee_per_tx"
    );
    // Storage collateral counts: 1024 bytes lock 1 CFX, far above this cap.
    let mut store = tx(BOB, 0);
    store.storage_limit = 1024;
    assert_eq!(
        refused_rule(signer.sign_transaction(&me, &store).await),
        "max_fee_per_tx"
    );
    // Fields at 2^256 - 1 saturate (no panic, no wrap under the cap).
    let mut huge = tx(BOB, 0);
    huge.gas = U256::MAX;
    huge.kind = TxKind::Cip1559 {
        max_priority_fee_per_gas: U256::MAX,
        max_fee_per_gas: gdrip(100),
        access_list: vec![],
    };
    huge.storage_limit = u64::MAX;
    assert!(matches!(
        signer.sign_transaction(&me, &huge).await,
        Err(SignerError::PolicyRefused { .. })
    ));
    // Exactly at both caps: signed, and the log records the maximum fee.
    heavy.gas = 21000.into();
    signer.sign_transaction(&me, &heavy).await.unwrap();
    let log = lines(&dir.path().join("audit.jsonl"));
    assert_eq!(log[0]["rule"], "max_gas_price");
    let last = log.last().unwrap();
    assert_eq!(last["decision"], "allowed");
    assert_eq!(last["max_fee"], format!("{:#x}", gdrip(2_100_000)));
}

#[tokio::test]
async fn fees_count_in_the_daily_total() {
    let dir = tempfile::tempdir().unwrap();
    let (signer, me) = setup(dir.path(), "max_value_per_day = \"1 CFX\"").await;
    let cfx = U256::exp10(18);
    // Value 0, a fee of 0.6 CFX each: the second crosses the daily 1 CFX.
    let mut t = tx(BOB, 0);
    t.kind = TxKind::Legacy {
        gas_price: cfx * U256::from(6u8) / U256::from(10u8) / U256::from(21000u64),
    };
    signer.sign_transaction(&me, &t).await.unwrap();
    assert_eq!(
        refused_rule(signer.sign_transaction(&me, &t).await),
        "max_value_per_day"
    );
    let state: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("audit.jsonl.policy-state.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(state["value"], "0x0");
    assert_eq!(
        state["fees"],
        format!("{:#x}", cfx * 6 / 10 / 21000 * 21000)
    );
}

#[test]
fn fee_rules_parse_in_every_unit_and_typos_stay_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = policy(
        "max_fee_per_tx = \"1 CFX\"\nmax_gas_price = 20000000000",
        dir.path(),
    );
    assert_eq!(p.max_fee_per_tx, Some(U256::exp10(18)));
    assert_eq!(p.max_gas_price, Some(U256::from(20_000_000_000u64)));
    assert!(Policy::from_toml_str("max_fee_per_txn = 1", dir.path()).is_err());
    assert!(Policy::from_toml_str("max_gas_price = -1", dir.path()).is_err());
}

/// The lines of a log as raw strings.
fn raw_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn interrupted(r: Result<impl Sized, AuditError>) -> String {
    match r {
        Err(e @ AuditError::Interrupted { .. }) => e.to_string(),
        Err(e) => panic!("other error: {e}"),
        Ok(_) => panic!("verified"),
    }
}

#[tokio::test]
async fn a_head_one_line_behind_after_a_crash_is_repaired_on_open_and_logged() {
    let (_dir, path) = log_with(3).await;
    let ls = raw_lines(&path);
    // The crash window: line 3 written and fsynced, the head still at line 2.
    let head = serde_json::json!({
        "lines": 2,
        "last": format!("{:?}", cfxlight_primitives::keccak256(ls[1].as_bytes())),
    });
    std::fs::write(head_path(&path), head.to_string()).unwrap();
    let msg = interrupted(verify_audit(&path));
    assert!(msg.contains("one line behind"), "{msg}");
    let log = AuditLog::open(&path).unwrap();
    assert!(log.repaired().unwrap().contains("one line behind"));
    drop(log);
    let s = verify_audit(&path).unwrap();
    assert_eq!((s.lines, s.head_checked), (4, true));
    let last: Value = serde_json::from_str(&raw_lines(&path)[3]).unwrap();
    assert_eq!(last["event"], "audit_repair");
    assert_eq!(raw_lines(&path)[..3], ls[..]);
    // The repaired log goes on as usual.
    assert!(AuditLog::open(&path).unwrap().repaired().is_none());
}

#[tokio::test]
async fn a_torn_last_line_is_cut_off_on_open_and_logged() {
    // A torn line (kill -9 mid-write) and a power cut's zero-filled tail.
    for torn in [&b"{\"seq\":3,\"prev\":\"0x12"[..], &[0u8; 40][..]] {
        let (_dir, path) = log_with(3).await;
        let ls = raw_lines(&path);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend_from_slice(torn);
        std::fs::write(&path, &bytes).unwrap();
        let msg = interrupted(verify_audit(&path));
        assert!(msg.contains("line 4: incomplete last line"), "{msg}");
        let log = AuditLog::open(&path).unwrap();
        assert!(log.repaired().unwrap().contains("torn last line"));
        drop(log);
        assert_eq!(verify_audit(&path).unwrap().lines, 4);
        let now = raw_lines(&path);
        assert_eq!(now[..3], ls[..]);
        let repair: Value = serde_json::from_str(&now[3]).unwrap();
        assert_eq!(repair["event"], "audit_repair");
        assert_eq!(repair["seq"], 3);
    }
    // The very first append torn, before any head file existed.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    std::fs::write(&path, b"{\"seq\":0,\"pr").unwrap();
    AuditLog::open(&path).unwrap();
    assert_eq!(verify_audit(&path).unwrap().lines, 1);
}

#[tokio::test]
async fn states_no_crash_can_leave_stay_fatal() {
    let (_dir, path) = log_with(3).await;
    let ls = raw_lines(&path);
    // Head two lines behind: not one append's window.
    let head = serde_json::json!({
        "lines": 1,
        "last": format!("{:?}", cfxlight_primitives::keccak256(ls[0].as_bytes())),
    });
    std::fs::write(head_path(&path), head.to_string()).unwrap();
    assert!(matches!(
        verify_audit(&path),
        Err(AuditError::HeadMismatch { .. })
    ));
    assert!(AuditLog::open(&path).is_err());
    // Head one behind but naming another hash: an edit, not a crash.
    let head = serde_json::json!({ "lines": 2, "last": format!("{:?}", cfxlight_primitives::H256::zero()) });
    std::fs::write(head_path(&path), head.to_string()).unwrap();
    assert!(AuditLog::open(&path).is_err());
}

#[tokio::test]
async fn a_second_writer_is_refused_by_the_lock() {
    let (_dir, path) = log_with(1).await;
    let first = AuditLog::open(&path).unwrap();
    let err = AuditLog::open(&path).unwrap_err();
    assert!(matches!(err, AuditError::Locked { .. }), "{err}");
    assert!(
        err.to_string().contains("locked by another process"),
        "{err}"
    );
    // Reading is not writing: verification still works meanwhile.
    assert_eq!(verify_audit(&path).unwrap().lines, 1);
    drop(first);
    AuditLog::open(&path).unwrap();
}

#[tokio::test]
async fn a_second_policy_signer_on_the_same_state_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let text = "max_tx_per_day = 5\nstate_file = \"state.json\"";
    let ks = keystore_with(&dir.path().join("keys"), SDK_KEY, "pw", 2029);
    let first = PolicySigner::new(ks, policy(text, dir.path()), None).unwrap();
    let ks = keystore_with(&dir.path().join("keys2"), SDK_KEY, "pw", 2029);
    let err = PolicySigner::new(ks, policy(text, dir.path()), None)
        .err()
        .unwrap();
    assert!(
        err.to_string().contains("in use by another process"),
        "{err}"
    );
    drop(first);
    let ks = keystore_with(&dir.path().join("keys3"), SDK_KEY, "pw", 2029);
    PolicySigner::new(ks, policy(text, dir.path()), None).unwrap();
}
