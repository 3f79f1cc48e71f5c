#![allow(clippy::unwrap_used, missing_docs)]
//! The software keystore backend: V3 files as conflux-rust and js-conflux-sdk write them.

mod common;

use cfxlight_primitives::{
    address::CfxAddress,
    transaction::{Action, Transaction, TxKind},
};
use cfxlight_signer::{
    keystore::{self, format::Keystore, KdfKind, KeystoreError, KeystoreOptions},
    KeystoreSigner, Signer, SignerError,
};
use common::*;
use serde_json::{json, Value};
use zeroize::Zeroizing;

/// js-conflux-sdk 2.6.0 `src/util/sign.js` `encrypt` example (conflux-protocol.md §7):
/// key 0x0123…cdef, password "password".
fn sdk_vector() -> Value {
    json!({
        "version": 3,
        "id": "0bb47ee0-aac3-a006-2717-03877afa15f0",
        "address": "1cad0b19bb29d4674531d6f115237e16afce377c",
        "crypto": {
            "ciphertext": "a8ec41d2440311ce897bacb6f7942f3235113fa17c4ae6732e032336038a8f73",
            "cipherparams": { "iv": "85b5e092c1c32129e3d27df8c581514d" },
            "cipher": "aes-128-ctr",
            "kdf": "scrypt",
            "kdfparams": {
                "dklen": 32,
                "salt": "b662f09bdf6751ac599219732609dceac430bc0629a7906eaa1451555f051ebc",
                "n": 8192, "r": 8, "p": 1
            },
            "mac": "cc89df7ef6c27d284526a65cabf8e5042cdf1ec1aa4ee36dcf65b965fa34843d"
        }
    })
}

fn transfer(chain_id: u32, value: u64) -> Transaction {
    Transaction {
        nonce: 7.into(),
        gas: 21000.into(),
        action: Action::Call(
            "0x1386b4185a223ef49592233b69291bbe5a80c527"
                .parse()
                .unwrap(),
        ),
        value: value.into(),
        storage_limit: 0,
        epoch_height: 100,
        chain_id,
        data: vec![],
        kind: TxKind::Cip1559 {
            max_priority_fee_per_gas: 1.into(),
            max_fee_per_gas: 20.into(),
            access_list: vec![],
        },
    }
}

fn open(
    dir: &std::path::Path,
    chain_id: u32,
    password: &str,
) -> Result<KeystoreSigner, SignerError> {
    KeystoreSigner::open(
        dir,
        chain_id,
        KeystoreOptions {
            password: Some(Zeroizing::new(password.into())),
            ..Default::default()
        },
    )
}

#[test]
fn js_conflux_sdk_vector_decrypts_to_its_key() {
    let ks = Keystore::parse(&sdk_vector().to_string()).unwrap();
    let secret = ks.decrypt(b"password").unwrap();
    assert_eq!(format!("0x{}", hex::encode(*secret)), SDK_KEY);
    assert_eq!(ks.decrypt(b"Password"), Err(KeystoreError::WrongPassword));
}

#[test]
fn deterministic_scrypt_encryption_reproduces_the_sdk_vector_byte_for_byte() {
    let secret: [u8; 32] = hex::decode(&SDK_KEY[2..]).unwrap().try_into().unwrap();
    let salt =
        hex::decode("b662f09bdf6751ac599219732609dceac430bc0629a7906eaa1451555f051ebc").unwrap();
    let iv = hex::decode("85b5e092c1c32129e3d27df8c581514d").unwrap();
    let ours = keystore::format::encrypt_with(
        &secret,
        b"password",
        KdfKind::Scrypt,
        &salt.try_into().unwrap(),
        &iv.try_into().unwrap(),
        "0bb47ee0-aac3-a006-2717-03877afa15f0",
    )
    .unwrap();
    let sdk = sdk_vector();
    assert_eq!(ours["crypto"], sdk["crypto"]);
    // Same key, same address (ours is written in Conflux form, identical here: nibble 1).
    assert_eq!(ours["address"], sdk["address"]);
}

#[tokio::test]
async fn a_transaction_signed_through_the_keystore_recovers_to_the_keystore_address() {
    let dir = tempfile::tempdir().unwrap();
    let signer = keystore_with(dir.path(), SDK_KEY, "correct horse", 1);
    let accounts = signer.accounts().await.unwrap();
    assert_eq!(accounts.len(), 1);
    assert_eq!(
        CfxAddress::new(accounts[0].address, 1).to_string(),
        SDK_ADDRESS_TESTNET
    );
    let signed = signer
        .sign_transaction(&accounts[0].address, &transfer(1, 5))
        .await
        .unwrap();
    let (from, public) = signed.recover_sender().unwrap();
    assert_eq!(from, accounts[0].address);
    assert_eq!(public, accounts[0].public);
    // The file on disk is conflux-rust's form.
    let path = signer.key_file(&from).unwrap();
    let name = path.file_name().unwrap().to_str().unwrap();
    assert!(name.starts_with("UTC--") && name.contains("Z--"), "{name}");
    let file: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(file["crypto"]["kdf"], "pbkdf2");
    assert_eq!(file["crypto"]["kdfparams"]["c"], 10240);
    assert_eq!(file["crypto"]["kdfparams"]["prf"], "hmac-sha256");
    assert_eq!(file["address"], hex::encode(from.as_bytes()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}

#[tokio::test]
async fn wrong_password_is_a_clear_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    keystore::import_key(dir.path(), SDK_KEY, b"right", KdfKind::Scrypt).unwrap();
    match open(dir.path(), 1, "wrong") {
        Err(e @ SignerError::WrongPassword { .. }) => {
            assert!(
                e.to_string().starts_with("wrong password for keystore "),
                "{e}"
            );
            assert!(e.to_string().contains("UTC--"), "{e}");
        }
        other => panic!("{:?}", other.map(|_| ())),
    }
}

#[tokio::test]
async fn the_signer_refuses_other_chains_unknown_accounts_and_blind_signing() {
    let dir = tempfile::tempdir().unwrap();
    let signer = keystore_with(dir.path(), SDK_KEY, "pw", 1029);
    let me = signer.accounts().await.unwrap()[0].address;
    assert!(matches!(
        signer.sign_transaction(&me, &transfer(1, 1)).await,
        Err(SignerError::WrongChainId {
            expected: 1029,
            actual: 1
        })
    ));
    let stranger = "0x1111111111111111111111111111111111111111"
        .parse()
        .unwrap();
    assert!(matches!(
        signer.sign_transaction(&stranger, &transfer(1029, 1)).await,
        Err(SignerError::UnknownAccount(a)) if a == stranger
    ));
    assert!(matches!(
        signer
            .sign_hash(&me, &cfxlight_primitives::keccak256(b"x"))
            .await,
        Err(SignerError::BlindSigningDisabled)
    ));
    // Opt-in: the same key, opened with blind signing allowed.
    let blind = KeystoreSigner::open(
        dir.path(),
        1029,
        KeystoreOptions {
            password: Some(Zeroizing::new("pw".into())),
            allow_blind_signing: true,
            ..Default::default()
        },
    )
    .unwrap();
    let h = cfxlight_primitives::keccak256(b"x");
    let sig = blind.sign_hash(&me, &h).await.unwrap();
    assert_eq!(
        cfxlight_primitives::crypto::public_to_address(
            &cfxlight_primitives::crypto::recover(&h, &sig).unwrap()
        ),
        me
    );
}

#[tokio::test]
async fn without_a_password_accounts_cannot_be_listed() {
    let dir = tempfile::tempdir().unwrap();
    keystore::import_key(dir.path(), SDK_KEY, b"pw", KdfKind::Pbkdf2).unwrap();
    let signer = KeystoreSigner::open(dir.path(), 1, KeystoreOptions::default()).unwrap();
    assert!(matches!(
        signer.accounts().await,
        Err(SignerError::PinRequired)
    ));
}

#[tokio::test]
async fn new_keys_are_distinct_and_a_duplicate_import_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _) = keystore::new_key(dir.path(), b"pw", KdfKind::Pbkdf2).unwrap();
    let (b, _) = keystore::new_key(dir.path(), b"pw", KdfKind::Scrypt).unwrap();
    assert_ne!(a.address, b.address);
    let signer = open(dir.path(), 1, "pw").unwrap();
    let mut listed: Vec<_> = signer
        .accounts()
        .await
        .unwrap()
        .iter()
        .map(|x| x.address)
        .collect();
    listed.sort();
    let mut want = vec![a.address, b.address];
    want.sort();
    assert_eq!(listed, want);
    keystore::import_key(dir.path(), SDK_KEY, b"pw", KdfKind::Pbkdf2).unwrap();
    assert!(matches!(
        keystore::import_key(dir.path(), SDK_KEY, b"pw", KdfKind::Pbkdf2),
        Err(SignerError::KeystoreFormat { .. })
    ));
    // An out-of-range secret is refused, not written.
    assert!(keystore::import_key(dir.path(), &"00".repeat(32), b"pw", KdfKind::Pbkdf2).is_err());
}

#[test]
fn debug_output_never_shows_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let signer = keystore_with(dir.path(), SDK_KEY, "hunter2-secret", 1);
    let shown = format!("{signer:?}");
    assert!(!shown.contains("hunter2-secret"), "{shown}");
    assert!(shown.contains("<redacted>"), "{shown}");
}

#[test]
fn a_key_encrypted_by_js_conflux_sdk_decrypts_in_our_code() {
    let Some(dir) = node_project() else { return };
    let key = "0x46b9e861b63d3509c88b7817275a30d22d62c8cd8fa6486ddee35ef0d8e0495f";
    let out = node(
        &dir,
        &["js/sdk-keystore.js", "encrypt"],
        &json!({"privateKey": key, "password": "sdk pass"}).to_string(),
    );
    let ks = Keystore::parse(&out).unwrap();
    assert_eq!(
        format!("0x{}", hex::encode(*ks.decrypt(b"sdk pass").unwrap())),
        key
    );
    // And it works as a key file of a keystore directory.
    let kdir = tempfile::tempdir().unwrap();
    std::fs::write(kdir.path().join("UTC--sdk.json"), &out).unwrap();
    let signer = open(kdir.path(), 1, "sdk pass").unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let accounts = rt.block_on(signer.accounts()).unwrap();
    assert_eq!(accounts.len(), 1);
}

#[test]
fn a_key_we_write_in_scrypt_form_decrypts_in_js_conflux_sdk() {
    let Some(dir) = node_project() else { return };
    let kdir = tempfile::tempdir().unwrap();
    let key = "0x9a6d3ba2b0c7514b16a006ee605055d71b9edfad183aeb2d9790e9d4ccced471";
    let (_, path) = keystore::import_key(kdir.path(), key, b"our pass", KdfKind::Scrypt).unwrap();
    let file: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let out = node(
        &dir,
        &["js/sdk-keystore.js", "decrypt"],
        &json!({"keystore": file, "password": "our pass"}).to_string(),
    );
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["privateKey"], key);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_requests_queue_for_the_kdf_and_all_sign() {
    let dir = tempfile::tempdir().unwrap();
    let ks = std::sync::Arc::new(keystore_with(dir.path(), SDK_KEY, "pw", 2029));
    let me = ks.accounts().await.unwrap()[0].address;
    let jobs: Vec<_> = (0..8)
        .map(|i| {
            let ks = ks.clone();
            tokio::spawn(async move { ks.sign_message(&me, format!("m{i}").as_bytes()).await })
        })
        .collect();
    for j in jobs {
        j.await.unwrap().unwrap();
    }
}
