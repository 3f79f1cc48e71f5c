#![allow(clippy::unwrap_used, missing_docs)]
//! Messages and CIP-23 typed data, checked against js-conflux-sdk and cive.

mod common;

use cfxlight_primitives::{
    crypto::{public_to_address, recover},
    transaction::{AccessListItem, Action, Transaction, TxKind},
};
use cfxlight_signer::{
    message::personal_message_hash, signer::signature_to_bytes, Signer, TypedData,
};
use common::*;
use serde_json::json;

fn hex65(sig: &cfxlight_primitives::crypto::Signature) -> String {
    format!("0x{}", hex::encode(signature_to_bytes(sig)))
}

/// The Mail example with Conflux addresses (cive requires base32 ones).
const MAIL: &str = r#"{"domain":{"name":"Ether Mail","version":"1","chainId":1029,"verifyingContract":"cfx:acgp3xgp3xgp3xgp3xgp3xgp3xgp3xgp3uppe8tn15"},
 "types":{"Person":[{"name":"name","type":"string"},{"name":"wallet","type":"address"}],
          "Mail":[{"name":"from","type":"Person"},{"name":"to","type":"Person"},{"name":"contents","type":"string"}]},
 "primaryType":"Mail",
 "message":{"from":{"name":"Cow","wallet":"cfx:aaswytp9wshbhxpyt5afztd9664r9ds2e2rsm7fx6n"},
            "to":{"name":"Bob","wallet":"cfx:aar51s751s751s751s751s751s751s751ptsbxh948"},"contents":"Hello, Bob!"}}"#;

// js-conflux-sdk 2.6.0 `PersonalMessage.sign(key, 'Hello world!')`, as the library computes
// it today. (The doc comment in src/PersonalMessage.js shows 0xa2d98c…, which the same
// library no longer produces: a stale example, not a vector.)
#[tokio::test]
async fn personal_message_signature_matches_js_conflux_sdk_example() {
    let dir = tempfile::tempdir().unwrap();
    let signer = keystore_with(dir.path(), SDK_KEY, "pw", 1);
    let me = signer.accounts().await.unwrap()[0].address;
    let sig = signer.sign_message(&me, b"Hello world!").await.unwrap();
    assert_eq!(
        hex65(&sig),
        "0x231f7eaba0e612b174217a3988525cb4964a43dab5662bc9b6e37c1ff27e3d160665cd1cd8fbc1810ba722372647db0780f3886d475bc752af926bf912d50d2a00"
    );
    assert_eq!(
        format!("{:?}", personal_message_hash(b"Hello world!")),
        "0x5ab338f6e14dd02a2a08984f5265b97e35fde24ab10e26b0c5de623d371266dc"
    );
    let public = recover(&personal_message_hash(b"Hello world!"), &sig).unwrap();
    assert_eq!(public_to_address(&public), me);
}

#[tokio::test]
async fn personal_messages_sign_identically_in_js_conflux_sdk() {
    let Some(node_dir) = node_project() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let signer = keystore_with(dir.path(), SDK_KEY, "pw", 1);
    let me = signer.accounts().await.unwrap()[0].address;
    // Text (with non-ASCII UTF-8) and a 0x-hex message that is valid UTF-8.
    for (arg, bytes) in [
        ("Grüße, Conflux ✓", "Grüße, Conflux ✓".as_bytes().to_vec()),
        ("0x48656c6c6f", b"Hello".to_vec()),
    ] {
        let ours = hex65(&signer.sign_message(&me, &bytes).await.unwrap());
        let script = "const {PersonalMessage}=require('js-conflux-sdk');let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{const m=JSON.parse(s);console.log(PersonalMessage.sign(m.key,m.msg))})";
        let js = node(
            &node_dir,
            &["-e", script],
            &json!({"key": SDK_KEY, "msg": arg}).to_string(),
        );
        assert_eq!(js.trim(), ours, "message {arg:?}");
    }
}

#[test]
fn cip23_hash_matches_cive() {
    let Some(node_dir) = node_project() else {
        return;
    };
    let script = "const {hashTypedData}=require('cive/utils');let s='';process.stdin.on('data',d=>s+=d).on('end',()=>console.log(hashTypedData(JSON.parse(s))))";
    let cases = [
        MAIL.to_string(),
        // Arrays, integers, bytes, bool, an explicit CIP23Domain with a salt.
        json!({
            "types": {
                "CIP23Domain": [{"name":"name","type":"string"},{"name":"chainId","type":"uint256"},{"name":"salt","type":"bytes32"}],
                "Order": [{"name":"ids","type":"uint64[]"},{"name":"delta","type":"int32"},{"name":"blob","type":"bytes"},
                          {"name":"ok","type":"bool"},{"name":"tag","type":"bytes4"},{"name":"names","type":"string[2]"}]
            },
            "primaryType": "Order",
            "domain": {"name":"Shop","chainId":1,"salt":"0x0102030000000000000000000000000000000000000000000000000000000000"},
            "message": {"ids":[1,2,300],"delta":-5,"blob":"0xdeadbeef","ok":true,"tag":"0xcafebabe","names":["a","b"]}
        })
        .to_string(),
    ];
    for case in cases {
        let ours = TypedData::from_json(&case).unwrap().hash().unwrap();
        let js = node(&node_dir, &["-e", script], &case);
        assert_eq!(js.trim(), format!("{ours:?}"), "{case}");
    }
}

#[tokio::test]
async fn typed_data_signature_recovers_to_the_signer_and_matches_the_fixed_vector() {
    let dir = tempfile::tempdir().unwrap();
    let signer = keystore_with(dir.path(), SDK_KEY, "pw", 1029);
    let me = signer.accounts().await.unwrap()[0].address;
    let td = TypedData::from_json(MAIL).unwrap();
    let hash = td.hash().unwrap();
    // Computed by cive 0.7 `hashTypedData` (see cip23_hash_matches_cive).
    assert_eq!(
        format!("{hash:?}"),
        "0x6cdd1e70e1324a3b583087e5854d6a7f13d9e462a8731a9c69d7a37c7547910e"
    );
    let sig = signer.sign_typed_data(&me, &td).await.unwrap();
    assert_eq!(public_to_address(&recover(&hash, &sig).unwrap()), me);
    // Hex addresses encode the same bytes as base32 ones.
    let hex_form = MAIL.replace(
        "cfx:aaswytp9wshbhxpyt5afztd9664r9ds2e2rsm7fx6n",
        "0x1d2a3d9f938e13cd947ec05abc7fe734df8dd826",
    );
    assert_eq!(
        TypedData::from_json(&hex_form).unwrap().hash().unwrap(),
        hash
    );
}

#[test]
fn malformed_typed_data_is_an_error_not_a_panic() {
    for bad in [
        r#"{"types":{},"primaryType":"Mail","domain":{},"message":{}}"#,
        r#"{"types":{"A":[{"name":"x","type":"uint8"}]},"primaryType":"A","domain":{},"message":{"x":256}}"#,
        r#"{"types":{"A":[{"name":"x","type":"A"}]},"primaryType":"A","domain":{},"message":{"x":{"x":{"x":1}}}}"#,
        r#"{"types":{"A":[{"name":"x","type":"address"}]},"primaryType":"A","domain":{},"message":{"x":"cfx:nope"}}"#,
    ] {
        let td = TypedData::from_json(bad).unwrap();
        assert!(td.hash().is_err(), "{bad}");
    }
}

#[tokio::test]
async fn every_transaction_type_signs_and_recovers_like_js_conflux_sdk() {
    // js-conflux-sdk's typed vectors (every number 100); RFC 6979 makes signatures equal.
    let dir = tempfile::tempdir().unwrap();
    let signer = keystore_with(dir.path(), SDK_KEY, "pw", 100);
    let me = signer.accounts().await.unwrap()[0].address;
    let access_list = vec![AccessListItem {
        address: "19578cf3c71eab48cf810c78b5175d5c9e6ef441".parse().unwrap(),
        storage_keys: vec![
            "1234567890abcdef1234567890abcdef1234567890abcdef1234567890abcdef"
                .parse()
                .unwrap(),
        ],
    }];
    let base = |kind| Transaction {
        nonce: 100.into(),
        gas: 100.into(),
        action: Action::Call("19578cf3c71eab48cf810c78b5175d5c9e6ef441".parse().unwrap()),
        value: 100.into(),
        storage_limit: 100,
        epoch_height: 100,
        chain_id: 100,
        data: b"Hello, World".to_vec(),
        kind,
    };
    let t1559 = base(TxKind::Cip1559 {
        max_priority_fee_per_gas: 100.into(),
        max_fee_per_gas: 100.into(),
        access_list: access_list.clone(),
    });
    let signed = signer.sign_transaction(&me, &t1559).await.unwrap();
    assert_eq!(
        hex::encode(signed.encode()),
        "63667802f8a9f864646464649419578cf3c71eab48cf810c78b5175d5c9e6ef441646464648c48656c6c6f2c20576f726c64f838f79419578cf3c71eab48cf810c78b5175d5c9e6ef441e1a01234567890abcdef1234567890abcdef1234567890abcdef1234567890abcdef80a069a44af3ab58ea8be86d21262e900279adc674248a23df5771406545163c1383a0248424d9019fb6c0ecb59c0df3841623fada8fe829cf15e77b6d777accc7cfec"
    );
    for kind in [
        TxKind::Legacy {
            gas_price: 100.into(),
        },
        TxKind::Cip2930 {
            gas_price: 100.into(),
            access_list,
        },
    ] {
        let signed = signer.sign_transaction(&me, &base(kind)).await.unwrap();
        assert_eq!(signed.recover_sender().unwrap().0, me);
    }
}
