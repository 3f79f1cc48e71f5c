//! The remote signer over real libp2p on loopback: `serve` with a keystore (wrapped in a
//! policy and an audit log, as `cfxlight signer serve` does) and a [`RemoteSigner`] in the
//! same process, on real TCP sockets with Noise and Yamux.
//!
//! - a transfer signed remotely is byte for byte the keystore's own signature;
//! - a policy refusal on the serving side reaches the node with its rule;
//! - a peer id not on the allow-list is refused before any request is read (the audit
//!   log stays as it was; the serving side reports the denied connection);
//! - a killed signer gives a clear error fast, and the same signer back on the same
//!   address is used again without reopening;
//! - another key behind the same peer id after a reconnect is refused.

#![cfg(feature = "remote")]
#![allow(clippy::unwrap_used, missing_docs)]

use std::{sync::Arc, time::Duration};

use cfxlight_primitives::{
    transaction::{Action, Transaction, TxKind},
    H160,
};
use cfxlight_signer::{
    keystore::{import_key, KdfKind, KeystoreOptions},
    remote::{
        load_or_create_identity,
        serve::{serve, ServeConfig, ServeEvent},
        RemoteOptions, RemoteSigner,
    },
    AuditLog, KeystoreSigner, Policy, PolicySigner, Signer, SignerError,
};
use libp2p::{identity::Keypair, Multiaddr, PeerId};
use tokio::sync::mpsc;
use zeroize::Zeroizing;

const CHAIN: u32 = 2029;
const SECRET: &str = "0x1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d";
const OTHER_SECRET: &str = "0x2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e";

fn keystore(dir: &std::path::Path, secret: &str) -> KeystoreSigner {
    std::fs::create_dir_all(dir).unwrap();
    import_key(dir, secret, b"pw", KdfKind::Pbkdf2).unwrap();
    KeystoreSigner::open(
        dir,
        CHAIN,
        KeystoreOptions {
            password: Some(Zeroizing::new("pw".into())),
            account: None,
            allow_blind_signing: false,
        },
    )
    .unwrap()
}

fn transfer(value: u64) -> Transaction {
    Transaction {
        nonce: 3.into(),
        gas: 21000.into(),
        action: Action::Call(H160::repeat_byte(0x12)),
        value: value.into(),
        storage_limit: 0,
        epoch_height: 100,
        chain_id: CHAIN,
        data: vec![],
        kind: TxKind::Cip1559 {
            max_priority_fee_per_gas: 1.into(),
            max_fee_per_gas: 20_000_000_000u64.into(),
            access_list: vec![],
        },
    }
}

/// A running `serve`: its task, the address it listens on, and its reports.
struct Served {
    task: tokio::task::JoinHandle<Result<(), SignerError>>,
    address: Multiaddr,
    events: mpsc::UnboundedReceiver<ServeEvent>,
}

async fn start(signer: Arc<dyn Signer>, key: Keypair, allow: PeerId, listen: &str) -> Served {
    let (tx, mut events) = mpsc::unbounded_channel();
    let config = ServeConfig {
        listen: vec![listen.parse().unwrap()],
        allow: vec![allow],
        key,
        name: "keystore".into(),
        max_in_flight: 4,
        mdns: false,
    };
    let task = tokio::spawn(serve(signer, config, move |e| {
        let _ = tx.send(e);
    }));
    let address = loop {
        match tokio::time::timeout(Duration::from_secs(10), events.recv()).await {
            Ok(Some(ServeEvent::Listening(a))) => break a,
            Ok(Some(_)) => {}
            other => panic!("serve did not start: {other:?}"),
        }
    };
    Served {
        task,
        address,
        events,
    }
}

/// Opens the remote signer from a blocking thread, as the node does at start.
async fn open(address: &Multiaddr, key: Keypair) -> Result<RemoteSigner, SignerError> {
    let address = address.to_string();
    tokio::task::spawn_blocking(move || {
        RemoteSigner::open(
            RemoteOptions {
                address,
                key,
                sign_timeout: Duration::from_secs(20),
            },
            CHAIN,
        )
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keystore_behind_serve_signs_for_the_allowed_node_only_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let local = keystore(&dir.path().join("keys"), SECRET);
    let account = local.accounts().await.unwrap()[0];
    let audit_path = dir.path().join("audit.jsonl");
    let policy = Policy::from_toml_str(
        &format!("chain_id = {CHAIN}\nmax_value_per_tx = 1000000"),
        dir.path(),
    )
    .unwrap();
    let guarded: Arc<dyn Signer> = Arc::new(
        PolicySigner::new(
            keystore(&dir.path().join("keys2"), SECRET),
            policy,
            Some(AuditLog::open(&audit_path).unwrap()),
        )
        .unwrap(),
    );
    let server_key = load_or_create_identity(&dir.path().join("serve.key")).unwrap();
    let node_key = load_or_create_identity(&dir.path().join("node.key")).unwrap();
    let node_id = node_key.public().to_peer_id();
    let mut served = start(
        guarded.clone(),
        server_key.clone(),
        node_id,
        "/ip4/127.0.0.1/tcp/0",
    )
    .await;

    // 1. The allowed node: accounts pinned, a signature equal to the keystore's own.
    let remote = open(&served.address, node_key.clone()).await.unwrap();
    assert_eq!(remote.accounts().await.unwrap(), vec![account]);
    assert_eq!(remote.name(), "keystore");
    let tx = transfer(1000);
    let theirs = remote
        .sign_transaction(&account.address, &tx)
        .await
        .unwrap();
    let ours = local.sign_transaction(&account.address, &tx).await.unwrap();
    assert_eq!(theirs.encode(), ours.encode());
    let sig = remote
        .sign_message(&account.address, b"hello")
        .await
        .unwrap();
    assert_eq!(
        sig,
        local
            .sign_message(&account.address, b"hello")
            .await
            .unwrap()
    );

    // 2. The serving side's policy refuses, naming its rule; the audit log has the lines.
    let err = remote
        .sign_transaction(&account.address, &transfer(2_000_000))
        .await
        .unwrap_err();
    match &err {
        SignerError::PolicyRefused { rule, .. } => assert_eq!(rule, "remote:max_value_per_tx"),
        other => panic!("{other}"),
    }
    let audit_lines = || {
        std::fs::read_to_string(&audit_path)
            .unwrap()
            .lines()
            .count()
    };
    assert_eq!(audit_lines(), 3, "two signatures and one refusal");

    // 3. A stranger: refused when its connection is established, nothing read or logged.
    let stranger = Keypair::generate_ed25519();
    let refused = open(&served.address, stranger).await.unwrap_err();
    let why = refused.to_string();
    assert!(why.contains("--allow"), "{why}");
    let mut saw_refusal = false;
    while let Ok(e) = served.events.try_recv() {
        if let ServeEvent::Refused { reason, .. } = e {
            assert!(reason.contains("not allowed"), "{reason}");
            saw_refusal = true;
        }
    }
    assert!(saw_refusal, "serve did not report the denied connection");
    assert_eq!(audit_lines(), 3, "the stranger reached the signer");

    // 4. The signer is killed: a clear error, quickly, and nothing hangs.
    let address = served.address.clone();
    served.task.abort();
    let _ = served.task.await;
    let t0 = std::time::Instant::now();
    let err = remote
        .sign_transaction(&account.address, &tx)
        .await
        .unwrap_err();
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
    assert!(
        matches!(err, SignerError::Remote { .. }),
        "not a remote error: {err}"
    );

    // 5. Back on the same address: used again without reopening (reconnect + re-check).
    let mut listen = address.clone();
    listen.pop(); // the /p2p/<id> part
    let served = start(
        guarded.clone(),
        server_key.clone(),
        node_id,
        &listen.to_string(),
    )
    .await;
    assert_eq!(served.address, address);
    let again = remote
        .sign_transaction(&account.address, &tx)
        .await
        .unwrap();
    assert_eq!(again.encode(), ours.encode());
    served.task.abort();
    let _ = served.task.await;

    // 6. Another key behind the same peer id after a reconnect: refused, not signed.
    let swapped: Arc<dyn Signer> = Arc::new(keystore(&dir.path().join("keys3"), OTHER_SECRET));
    let served = start(swapped, server_key, node_id, &listen.to_string()).await;
    let err = remote
        .sign_transaction(&account.address, &tx)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("other keys"), "{err}");
    served.task.abort();
}
