//! Signing latency per backend (benchmark, not a test): p50/p99 of `sign_transaction` for
//! the software keystore, for the BSIM backend talking to a virtual card through real
//! pcscd (vsmartcard-vpcd, second slot "Virtual PCD 00 01"), and for the PKCS#11 backend
//! on a SoftHSM2 token made in a temp dir, and for the plugin backend with the Python example
//! plugin (`signer/plugins/example_plugin.py`); the keystore and the card again behind
//! `signer serve` on loopback, through the remote backend (libp2p).
//!
//!   cargo run --release -p cfxlight-signer --example sign_latency [-- N]
//!
//! The BSIM part needs pcscd with the vpcd driver (`signer/bsim/scripts/pcscd-up.sh`), the
//! PKCS#11 part SoftHSM2 (`apt-get install softhsm2`); each is skipped with a message
//! otherwise.

#![allow(clippy::unwrap_used, missing_docs)] // a benchmark may stop at the first surprise

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use cfxlight_bsim::{
    card::{random_iccid, CardState, VirtualCard},
    BsimCard, BsimOptions,
};
use cfxlight_primitives::{
    transaction::{Action, Transaction, TxKind},
    H160, U256,
};
use cfxlight_signer::{
    keystore::{self, KdfKind, KeystoreOptions},
    open_signer, KeystoreSigner, OpenOptions, Signer, SignerSpec,
};
use zeroize::Zeroizing;

const CHAIN: u32 = 2029;

fn tx(nonce: u64) -> Transaction {
    Transaction {
        nonce: nonce.into(),
        gas: 21000.into(),
        action: Action::Call(H160::repeat_byte(0x11)),
        value: U256::exp10(18),
        storage_limit: 0,
        epoch_height: 100,
        chain_id: CHAIN,
        data: vec![],
        kind: TxKind::Cip1559 {
            max_priority_fee_per_gas: 1.into(),
            max_fee_per_gas: 10.into(),
            access_list: vec![],
        },
    }
}

async fn measure(name: &str, signer: &dyn Signer, n: usize) {
    let from = signer.accounts().await.unwrap()[0].address;
    for i in 0..10 {
        signer.sign_transaction(&from, &tx(i)).await.unwrap();
    }
    let mut times: Vec<Duration> = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        signer.sign_transaction(&from, &tx(i as u64)).await.unwrap();
        times.push(t.elapsed());
    }
    times.sort();
    let pct = |p: f64| times[((n as f64 - 1.0) * p) as usize].as_secs_f64() * 1e3;
    println!(
        "{name:<34} n={n:<6} p50 {:>7.3} ms   p99 {:>7.3} ms   max {:>7.3} ms",
        pct(0.5),
        pct(0.99),
        pct(1.0)
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    let dir = tempfile::tempdir().unwrap();

    // Keystore: the key file is decrypted again for each signature (the secret is not
    // kept decrypted between signatures), so pbkdf2 dominates.
    let ks_dir = dir.path().join("keystore");
    std::fs::create_dir_all(&ks_dir).unwrap();
    keystore::import_key(&ks_dir, &"42".repeat(32), b"pw", KdfKind::Pbkdf2).unwrap();
    let ks = KeystoreSigner::open(
        &ks_dir,
        CHAIN,
        KeystoreOptions {
            password: Some(Zeroizing::new("pw".into())),
            account: None,
            allow_blind_signing: false,
        },
    )
    .unwrap();
    measure("keystore (V3 pbkdf2, per-sign decrypt)", &ks, n).await;
    let ks: Arc<dyn Signer> = Arc::new(ks);
    remote("remote → keystore (loopback)", ks, dir.path(), n).await;

    // BSIM: a virtual card served to real pcscd; every signature is an APDU round trip.
    let state = dir.path().join("card.json");
    let issuer = k256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng);
    CardState::new(&random_iccid(), "111111", 5, issuer)
        .unwrap()
        .save(&state)
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = stop.clone();
    let serve = std::thread::spawn(move || {
        let mut card = VirtualCard::open(&state).unwrap();
        let _ = cfxlight_bsim::vpcd::serve(
            &mut card,
            "127.0.0.1:35964".parse().unwrap(),
            None,
            &s2,
            &mut |_| {},
        );
    });
    let reader = "Virtual PCD 00 01";
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut card = loop {
        match BsimCard::connect(BsimOptions {
            reader: Some(reader.into()),
            ..BsimOptions::default()
        }) {
            Ok(c) => break Some(c),
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => {
                println!("BSIM skipped: no card in {reader} ({e}); start pcscd with signer/bsim/scripts/pcscd-up.sh");
                break None;
            }
        }
    };
    if let Some(c) = card.as_mut() {
        c.verify_pin(&Zeroizing::new("111111".into())).unwrap();
        c.generate_key().unwrap();
    }
    drop(card.take());
    let spec: SignerSpec = format!("bsim:reader={reader}").parse().unwrap();
    if let Ok(bsim) = open_signer(
        &spec,
        CHAIN,
        OpenOptions {
            secret: Some(Zeroizing::new("111111".into())),
            allow_blind_signing: false,
            ..Default::default()
        },
    ) {
        measure("bsim (virtual card via real pcscd)", &*bsim, n).await;
        remote("remote → bsim (loopback)", Arc::from(bsim), dir.path(), n).await;
    }
    stop.store(true, Ordering::Relaxed);
    let _ = serve.join();

    pkcs11(dir.path(), n).await;
    plugin(dir.path(), n).await;
}

/// `inner` behind `signer serve` on 127.0.0.1, measured through a [`RemoteSigner`]: the
/// difference to `inner`'s own figure is the libp2p round trip (Noise, Yamux, JSON, the
/// re-check of the signature on the node's side).
#[cfg(feature = "remote")]
async fn remote(name: &str, inner: Arc<dyn Signer>, dir: &std::path::Path, n: usize) {
    use cfxlight_signer::remote::{
        load_or_create_identity,
        serve::{serve, ServeConfig, ServeEvent},
        RemoteOptions, RemoteSigner,
    };
    let server_key =
        load_or_create_identity(&dir.join(format!("serve-{}.key", rand::random::<u64>()))).unwrap();
    let node_key = libp2p::identity::Keypair::generate_ed25519();
    let (tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let config = ServeConfig {
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
        allow: vec![node_key.public().to_peer_id()],
        key: server_key,
        name: name.into(),
        max_in_flight: 4,
        mdns: false,
    };
    let task = tokio::spawn(serve(inner, config, move |e| {
        let _ = tx.send(e);
    }));
    let address = loop {
        if let Some(ServeEvent::Listening(a)) = events.recv().await {
            break a.to_string();
        }
    };
    let t = Instant::now();
    let signer = tokio::task::spawn_blocking(move || {
        RemoteSigner::open(
            RemoteOptions {
                address,
                key: node_key,
                sign_timeout: Duration::from_secs(30),
            },
            CHAIN,
        )
    })
    .await
    .unwrap()
    .unwrap();
    println!(
        "remote open (dial, Noise, hello, accounts): {:.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    measure(name, &signer, n).await;
    task.abort();
}

#[cfg(not(feature = "remote"))]
async fn remote(_: &str, _: Arc<dyn Signer>, _: &std::path::Path, _: usize) {
    println!("remote skipped: built without the `remote` feature");
}

/// The Python example plugin: a JSON-RPC round trip over stdio per signature, with the
/// plugin's pure-Python secp256k1 and keccak, plus the host's recovery check.
#[cfg(feature = "plugin")]
async fn plugin(dir: &std::path::Path, n: usize) {
    let key = dir.join("plugin-key.hex");
    std::fs::write(&key, "42".repeat(32)).unwrap();
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/plugins/example_plugin.py");
    let spec: SignerSpec = format!("plugin:python3 '{example}' --key-file '{}'", key.display())
        .parse()
        .unwrap();
    let t = Instant::now();
    let signer = match open_signer(&spec, CHAIN, OpenOptions::default()) {
        Ok(s) => s,
        Err(e) => {
            println!("plugin skipped: {e}");
            return;
        }
    };
    println!(
        "plugin open (spawn, hello, accounts): {:.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    measure("plugin (Python example, stdio)", &*signer, n).await;
}

#[cfg(not(feature = "plugin"))]
async fn plugin(_: &std::path::Path, _: usize) {
    println!("plugin skipped: built without the `plugin` feature");
}

/// PKCS#11 on SoftHSM2: a token in `dir`, a key generated on it, raw CKM_ECDSA per
/// signature plus the host's low-S normalisation and trial recovery.
#[cfg(feature = "pkcs11")]
async fn pkcs11(dir: &std::path::Path, n: usize) {
    use cfxlight_signer::{pkcs11::LoginLimits, Pkcs11Signer, Pkcs11Spec};
    const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
    if !std::path::Path::new(MODULE).is_file() {
        println!("PKCS#11 skipped: {MODULE} missing (apt-get install softhsm2)");
        return;
    }
    let tokens = dir.join("softhsm-tokens");
    std::fs::create_dir_all(&tokens).unwrap();
    let conf = dir.join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\n",
            tokens.display()
        ),
    )
    .unwrap();
    std::env::set_var("SOFTHSM2_CONF", &conf);
    let status = std::process::Command::new("softhsm2-util")
        .args(["--init-token", "--free", "--label", "bench"])
        .args(["--so-pin", "12345678", "--pin", "1234"])
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let spec = Pkcs11Spec {
        module: MODULE.into(),
        token: "bench".into(),
        key: None,
    };
    let pin = Zeroizing::new("1234".to_string());
    let t = Instant::now();
    Pkcs11Signer::generate_key(&spec, &pin, LoginLimits::default()).unwrap();
    println!(
        "pkcs11 keygen on SoftHSM2: {:.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    let t = Instant::now();
    let signer = Pkcs11Signer::open(spec, CHAIN, Some(pin), LoginLimits::default()).unwrap();
    println!(
        "pkcs11 open (load, login, read keys): {:.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    measure("pkcs11 (SoftHSM2, CKM_ECDSA)", &signer, n).await;
}

#[cfg(not(feature = "pkcs11"))]
async fn pkcs11(_: &std::path::Path, _: usize) {
    println!("PKCS#11 skipped: built without the `pkcs11` feature");
}
