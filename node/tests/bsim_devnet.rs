//! The whole signing path with real parts: a virtual BSIM card served to real pcscd through
//! vsmartcard-vpcd, our BSIM signer backend over PC/SC, and the real conflux-rust devnet
//! that must accept and mine what the card signed (sender = the card's address).
//!
//! Needs `CFXLIGHT_PCSCD=1` (pcscd with the vpcd driver running:
//! `signer/bsim/scripts/pcscd-up.sh`) and `CFXLIGHT_DEVNET=<dir>`; both are required under
//! CI. The card sits in the second vpcd slot ("Virtual PCD 00 01", port 35964) so it never
//! meets the BSIM crate's own tests, which use the first.

#![allow(clippy::unwrap_used, missing_docs)] // a test may stop at the first surprise

mod common;

use std::time::{Duration, Instant};

use cfxlight_node::rpc_client::RpcClient;
use cfxlight_primitives::{
    crypto, rpc,
    transaction::{Action, Transaction, TxKind},
    H160, H256, U256,
};
use cfxlight_signer::{open_signer, OpenOptions, Signer, SignerSpec};
use serde_json::{json, Value};
use zeroize::Zeroizing;

const PIN: &str = "246810";

fn wait_receipt(rpc: &RpcClient, hash: &H256) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r: Value = rpc
            .call("cfx_getTransactionReceipt", json!([hash]))
            .unwrap();
        if !r.is_null() {
            return r;
        }
        assert!(Instant::now() < deadline, "{hash:?} not mined in 60 s");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Sends `value` to `to` from genesis key 3 (the card tests' own) and waits until it is mined.
fn fund(d: &Value, rpc: &RpcClient, to: H160, value: U256) {
    let chain_id = d["chain_id"].as_u64().unwrap() as u32;
    let funder = common::genesis_key(d, 3);
    let funder_b32 = cfxlight_primitives::address::encode(
        &crypto::public_to_address(&crypto::public_of(funder.verifying_key())),
        u64::from(chain_id),
    );
    let nonce: U256 = rpc.call("cfx_getNextNonce", json!([funder_b32])).unwrap();
    let fund = Transaction {
        nonce,
        gas: 21000.into(),
        action: Action::Call(to),
        value,
        storage_limit: 0,
        epoch_height: epoch(rpc),
        chain_id,
        data: vec![],
        kind: TxKind::Legacy {
            gas_price: 2.into(),
        },
    }
    .sign(&funder)
    .unwrap();
    let _: H256 = rpc
        .call(
            "cfx_sendRawTransaction",
            json!([format!("0x{}", hex::encode(fund.encode()))]),
        )
        .unwrap();
    assert_eq!(wait_receipt(rpc, &fund.hash())["outcomeStatus"], "0x0");
}

fn epoch(rpc: &RpcClient) -> u64 {
    let v: Value = rpc
        .call("cfx_epochNumber", json!(["latest_state"]))
        .unwrap();
    u64::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

#[test]
fn transactions_signed_by_the_virtual_bsim_card_through_pcscd_are_mined() {
    let Some(devnet) = common::card::pcscd_and_devnet() else {
        return;
    };
    let d: Value =
        serde_json::from_str(&std::fs::read_to_string(devnet.join("devnet.json")).unwrap())
            .unwrap();
    let rpc = RpcClient::new(d["rpc_url"].as_str().unwrap());
    let chain_id = d["chain_id"].as_u64().unwrap() as u32;
    let network_id = u64::from(chain_id);

    // A fresh card, a key generated inside it through PC/SC.
    let dir = tempfile::tempdir().unwrap();
    let card = common::card::serve_new_card(dir.path(), PIN);
    let card_address = card.address;

    // Fund the card's account from a genesis key (key 3 is this test's alone).
    fund(&d, &rpc, card_address, U256::exp10(20));

    // The signer backend, chosen by spec string as a user would.
    let spec: SignerSpec = format!("bsim:reader={}", common::card::READER)
        .parse()
        .unwrap();
    let signer = open_signer(
        &spec,
        chain_id,
        OpenOptions {
            secret: Some(Zeroizing::new(PIN.to_string())),
            allow_blind_signing: false,
            ..Default::default()
        },
    )
    .unwrap();
    // Attestation enforced: the issuer that attested the card's keys passes, another is
    // refused at open (--require-attestation).
    let attested = open_signer(
        &spec,
        chain_id,
        OpenOptions {
            secret: Some(Zeroizing::new(PIN.to_string())),
            require_attestation: Some(card.issuer_public),
            ..Default::default()
        },
    );
    assert!(attested.is_ok(), "{:?}", attested.err());
    let stranger =
        cfxlight_bsim::attest::public_key(&k256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng));
    let refused = open_signer(
        &spec,
        chain_id,
        OpenOptions {
            secret: Some(Zeroizing::new(PIN.to_string())),
            require_attestation: Some(stranger),
            ..Default::default()
        },
    );
    let why = refused.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(
        why.contains("attestation"),
        "a card attested by another issuer was opened: {why}"
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let accounts = runtime.block_on(signer.accounts()).unwrap();
    assert_eq!(
        accounts.iter().map(|a| a.address).collect::<Vec<_>>(),
        vec![card_address]
    );

    let card_b32 = cfxlight_primitives::address::encode(&card_address, network_id);
    let start: U256 = rpc.call("cfx_getNextNonce", json!([card_b32])).unwrap();
    let to: H160 = "1000000000000000000000000000000000000bad".parse().unwrap();
    let kinds = [
        TxKind::Legacy {
            gas_price: 2.into(),
        },
        TxKind::Cip2930 {
            gas_price: 2.into(),
            access_list: vec![],
        },
        TxKind::Cip1559 {
            max_priority_fee_per_gas: 1.into(),
            max_fee_per_gas: 10.into(),
            access_list: vec![],
        },
    ];
    let mut sent = vec![];
    for (i, kind) in kinds.into_iter().enumerate() {
        let tx = Transaction {
            nonce: start + i,
            gas: 21000.into(),
            action: Action::Call(to),
            value: U256::exp10(18),
            storage_limit: 0,
            epoch_height: epoch(&rpc),
            chain_id,
            data: vec![],
            kind,
        };
        let signed = runtime
            .block_on(signer.sign_transaction(&card_address, &tx))
            .unwrap();
        assert_eq!(signed.recover_sender().unwrap().0, card_address);
        let hash: H256 = rpc
            .call(
                "cfx_sendRawTransaction",
                json!([format!("0x{}", hex::encode(signed.encode()))]),
            )
            .unwrap();
        assert_eq!(hash, signed.hash());
        sent.push(hash);
    }
    for hash in sent {
        assert_eq!(wait_receipt(&rpc, &hash)["outcomeStatus"], "0x0");
        let tx: rpc::Transaction = rpc.call("cfx_getTransactionByHash", json!([hash])).unwrap();
        assert_eq!(
            tx.from.hex(),
            card_address,
            "the sender is the card's account"
        );
    }

    // A transaction for another chain never reaches the card.
    let mut wrong = Transaction {
        nonce: 0.into(),
        gas: 21000.into(),
        action: Action::Call(to),
        value: 1.into(),
        storage_limit: 0,
        epoch_height: 0,
        chain_id: chain_id + 1,
        data: vec![],
        kind: TxKind::Legacy {
            gas_price: 1.into(),
        },
    };
    assert!(runtime
        .block_on(signer.sign_transaction(&card_address, &wrong))
        .is_err());
    wrong.chain_id = chain_id;
    // An account the card does not hold is refused.
    assert!(runtime
        .block_on(signer.sign_transaction(&to, &wrong))
        .is_err());
}

#[test]
fn a_coin_60_key_as_fluent_provisions_it_is_an_account_only_when_asked_for() {
    let Some(devnet) = common::card::pcscd_and_devnet() else {
        return;
    };
    let d: Value =
        serde_json::from_str(&std::fs::read_to_string(devnet.join("devnet.json")).unwrap())
            .unwrap();
    let rpc = RpcClient::new(d["rpc_url"].as_str().unwrap());
    let chain_id = d["chain_id"].as_u64().unwrap() as u32;
    let dir = tempfile::tempdir().unwrap();
    let card = common::card::serve_new_card(dir.path(), PIN);

    // Fluent derives its EVM keys on the card under coin type 60.
    let eth = {
        let mut c = cfxlight_bsim::BsimCard::connect(cfxlight_bsim::BsimOptions {
            reader: Some(common::card::READER.into()),
            ..Default::default()
        })
        .unwrap();
        c.verify_pin(&Zeroizing::new(PIN.to_string())).unwrap();
        c.generate_key_of(60).unwrap()
    };
    let eth_address = crypto::public_to_address(&eth.public.into());
    let open = |spec: &str| {
        open_signer(
            &spec.parse::<SignerSpec>().unwrap(),
            chain_id,
            OpenOptions {
                secret: Some(Zeroizing::new(PIN.to_string())),
                ..Default::default()
            },
        )
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let plain = open(&format!("bsim:reader={}", common::card::READER)).unwrap();
    let listed: Vec<H160> = runtime
        .block_on(plain.accounts())
        .unwrap()
        .iter()
        .map(|a| a.address)
        .collect();
    assert_eq!(listed, vec![card.address], "coin 503 only by default");
    let both = open(&format!(
        "bsim:reader={},coins=503+60",
        common::card::READER
    ))
    .unwrap();
    let mut listed: Vec<H160> = runtime
        .block_on(both.accounts())
        .unwrap()
        .iter()
        .map(|a| a.address)
        .collect();
    listed.sort();
    let mut want = vec![card.address, eth_address];
    want.sort();
    assert_eq!(listed, want);
    let bad = open(&format!(
        "bsim:reader={},coins=503+61",
        common::card::READER
    ))
    .err()
    .map(|e| e.to_string())
    .unwrap_or_default();
    assert!(bad.contains("coin type 61"), "{bad}");

    // The coin-60 key's Core account, funded, sends a transaction the node mines.
    fund(&d, &rpc, eth_address, U256::exp10(19));
    let tx = Transaction {
        nonce: 0.into(),
        gas: 21000.into(),
        action: Action::Call(card.address),
        value: U256::exp10(18),
        storage_limit: 0,
        epoch_height: epoch(&rpc),
        chain_id,
        data: vec![],
        kind: TxKind::Legacy {
            gas_price: 2.into(),
        },
    };
    assert!(
        runtime
            .block_on(plain.sign_transaction(&eth_address, &tx))
            .is_err(),
        "not an account without the opt-in"
    );
    let signed = runtime
        .block_on(both.sign_transaction(&eth_address, &tx))
        .unwrap();
    assert_eq!(signed.recover_sender().unwrap().0, eth_address);
    let hash: H256 = rpc
        .call(
            "cfx_sendRawTransaction",
            json!([format!("0x{}", hex::encode(signed.encode()))]),
        )
        .unwrap();
    assert_eq!(wait_receipt(&rpc, &hash)["outcomeStatus"], "0x0");
    let mined: rpc::Transaction = rpc.call("cfx_getTransactionByHash", json!([hash])).unwrap();
    assert_eq!(mined.from.hex(), eth_address);
}
