//! Writes the seed corpus of the fuzz targets (`fuzz/corpus/<target>/`) from a real devnet
//! and the repository's captured vectors. See `fuzz/README.md`.
//!
//!     scripts/devnet up /tmp/dn-fuzz
//!     cargo +nightly fuzz build --features corpus corpus_maker
//!     fuzz/target/x86_64-unknown-linux-gnu/release/corpus_maker /tmp/dn-fuzz
//!     scripts/devnet down /tmp/dn-fuzz
//!
//! Devnet part: Core transactions of each type are signed here and sent; then, over a
//! light-protocol session (the node's own `wire` and `light::message` code), every kind of
//! answer is requested and its payload written as received (`rlp ‖ msg_id`); the headers,
//! block transactions, receipts, state proofs and account values inside those answers
//! seed their own targets. eSpace transactions are signed here (all four types) and
//! taken from `primitives/tests/data/espace_vectors.json` (signed on a devnet). Keystores
//! come from this crate's writer and from js-conflux-sdk (`scripts/js/sdk-keystore.js`);
//! APDUs from a session of the host flows with the virtual card.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use cfxlight_bsim::{
    applet::{Applet, Transport},
    card::{CardState, VirtualCard},
    error::Error as CardError,
};
use cfxlight_node::{
    light::message::{self, id},
    rpc_client::RpcClient,
    wire::{
        session::{self, Packet},
        NodeUrl,
    },
};
use cfxlight_primitives::{
    address, crypto,
    eth_transaction::{EthTransaction, EthTxKind},
    hash::keccak256,
    storage_key::StorageKey,
    transaction::{AccessListItem, Action, BlockTransaction, Transaction, TxKind},
    H160, H256, U256,
};
use cfxlight_signer::keystore::format::{encrypt_with, KdfKind};
use rlp::Rlp;
use serde_json::{json, Value};

struct Corpus {
    root: PathBuf,
    counts: BTreeMap<String, usize>,
}

impl Corpus {
    /// Writes one seed, named by its hash (so reruns do not duplicate).
    fn put(&mut self, target: &str, bytes: &[u8]) {
        let dir = self.root.join(target);
        std::fs::create_dir_all(&dir).unwrap();
        let name = hex::encode(&keccak256(bytes).as_bytes()[..8]);
        let path = dir.join(name);
        if !path.exists() {
            std::fs::write(path, bytes).unwrap();
            *self.counts.entry(target.to_string()).or_default() += 1;
        }
    }
}

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s.trim_start_matches("0x")).unwrap()
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The state_proof target's framing of a state entry (see its doc comment).
fn state_entry_seed(
    kind: u8,
    address: &H160,
    slot: &[u8],
    value: Option<&[u8]>,
    proof: &[u8],
) -> Vec<u8> {
    let mut out = vec![0u8];
    out.extend_from_slice(address.as_bytes());
    out.push(kind);
    out.push(slot.len() as u8);
    out.extend_from_slice(slot);
    match value {
        None => out.extend_from_slice(&[0xff, 0xff]),
        Some(v) => {
            out.extend_from_slice(&(v.len() as u16).to_be_bytes());
            out.extend_from_slice(v);
        }
    }
    out.extend_from_slice(proof);
    out
}

fn storage_root_seed(address: &H160, item: &[u8]) -> Vec<u8> {
    let mut out = vec![1u8];
    out.extend_from_slice(address.as_bytes());
    out.extend_from_slice(item);
    out
}

/// The light-protocol message of `id` with this RLP body: `rlp ‖ id`.
fn payload(body: &[u8], msg_id: u8) -> Vec<u8> {
    let mut p = body.to_vec();
    p.push(msg_id);
    p
}

fn vectors(c: &mut Corpus, repo: &Path) {
    let data = repo.join("primitives/tests/data");
    for net in read_json(&data.join("mainnet-testnet-headers.json"))
        .as_array()
        .unwrap()
        .iter()
        .take(6)
    {
        let h = unhex(net["header_rlp"].as_str().unwrap());
        c.put("header", &h);
        c.put("rlp", &h);
    }
    let blocks = read_json(&data.join("mpt_blocks.json"));
    for b in blocks["blocks"].as_array().unwrap().iter().take(4) {
        c.put("header", &unhex(b["header_rlp"].as_str().unwrap()));
    }
    for e in blocks["epochs"].as_array().unwrap().iter().take(4) {
        for r in e["block_receipts_rlp"].as_array().unwrap().iter().take(2) {
            let r = unhex(r.as_str().unwrap());
            for item in Rlp::new(&r)
                .at(0)
                .map(|l| l.iter().map(|x| x.as_raw().to_vec()).collect::<Vec<_>>())
                .unwrap_or_default()
                .iter()
                .take(2)
            {
                c.put("receipt", item);
            }
            c.put("receipt", &r);
        }
    }
    // Tx infos as a TxInfos answer (request id 1), one per message.
    for t in blocks["tx_infos"].as_array().unwrap().iter().take(3) {
        let info = unhex(t["tx_info_rlp"].as_str().unwrap());
        let mut s = rlp::RlpStream::new_list(2);
        s.append(&1u64);
        s.begin_list(1).append_raw(&info, 1);
        c.put("light_message", &payload(&s.out(), id::TX_INFOS));
        let r = Rlp::new(&info);
        if let Ok(tx) = r.at(1).and_then(|t| t.at(0)) {
            c.put("transaction", tx.as_raw());
        }
        if let Ok(receipt) = r.at(5) {
            c.put("receipt", receipt.as_raw());
        }
    }
    for name in ["young", "period2", "period3"] {
        let v = read_json(&data.join(format!("mpt_state_{name}.json")));
        c.put("header", &unhex(v["pivot_header_rlp"].as_str().unwrap()));
        for e in v["entries"]
            .as_array()
            .unwrap()
            .iter()
            .take(if name == "young" { 5 } else { 2 })
        {
            let address = H160::from_slice(&unhex(e["address"].as_str().unwrap()));
            let slot = e["slot"].as_str().map(unhex);
            let value = e["value"].as_str().map(unhex);
            let kind = if slot.is_some() { 1 } else { 0 };
            let proof = unhex(e["proof_rlp"].as_str().unwrap());
            c.put(
                "state_proof",
                &state_entry_seed(
                    kind,
                    &address,
                    slot.as_deref().unwrap_or(&[]),
                    value.as_deref(),
                    &proof,
                ),
            );
            if let (0, Some(v)) = (kind, &value) {
                c.put("account", v);
            }
        }
        let v = read_json(&data.join(format!("mpt_storage_roots_{name}.json")));
        for e in v["entries"].as_array().unwrap().iter().take(2) {
            let address = H160::from_slice(&unhex(e["address"].as_str().unwrap()));
            c.put(
                "state_proof",
                &storage_root_seed(&address, &unhex(e["item_rlp"].as_str().unwrap())),
            );
        }
    }
    let esp = read_json(&data.join("espace_vectors.json"));
    for v in esp["vectors"].as_array().unwrap() {
        let raw = unhex(v["raw"].as_str().unwrap());
        let block = match raw[0] {
            0xc0.. => raw.clone(),
            _ => rlp::encode(&raw).to_vec(),
        };
        c.put("transaction", &raw);
        c.put("transaction", &block);
    }
}

fn espace_transactions(c: &mut Corpus, chain_id: u32) {
    let key = crypto::signing_key(&[0xe5; 32]).unwrap();
    let to: H160 = "00000000000000000000000000000000000e5ace".parse().unwrap();
    let access_list = vec![AccessListItem {
        address: to,
        storage_keys: vec![H256::from_low_u64_be(1)],
    }];
    let auth = cfxlight_primitives::eth_transaction::Authorization {
        chain_id: U256::from(chain_id),
        address: to,
        nonce: 3,
        y_parity: 1,
        r: U256::from(7),
        s: U256::from(9),
    };
    let kinds = [
        EthTxKind::Legacy {
            gas_price: 2.into(),
            chain_id: Some(chain_id),
        },
        EthTxKind::Legacy {
            gas_price: 2.into(),
            chain_id: None,
        },
        EthTxKind::Eip2930 {
            chain_id,
            gas_price: 2.into(),
            access_list: access_list.clone(),
        },
        EthTxKind::Eip1559 {
            chain_id,
            max_priority_fee_per_gas: 1.into(),
            max_fee_per_gas: 10.into(),
            access_list: access_list.clone(),
        },
        EthTxKind::Eip7702 {
            chain_id,
            max_priority_fee_per_gas: 1.into(),
            max_fee_per_gas: 10.into(),
            access_list,
            authorization_list: vec![auth],
        },
    ];
    for (i, kind) in kinds.into_iter().enumerate() {
        let tx = EthTransaction {
            nonce: U256::from(i),
            gas: 30_000.into(),
            action: Action::Call(to),
            value: U256::exp10(15),
            data: vec![0xde, 0xad],
            kind,
        }
        .sign(&key)
        .unwrap();
        c.put("transaction", &tx.encode());
        c.put("transaction", &rlp::encode(&BlockTransaction::from(tx)));
    }
}

fn address_of(key: &k256::ecdsa::SigningKey) -> H160 {
    crypto::public_to_address(&crypto::public_of(key.verifying_key()))
}

fn quantity(v: &Value) -> u64 {
    u64::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

/// Sends a Core transaction of each type (and a contract deployment) from genesis key 1;
/// returns their hashes once all are executed.
fn send_core(
    c: &mut Corpus,
    rpc: &RpcClient,
    key_bytes: &[u8; 32],
    chain_id: u32,
    network_id: u64,
) -> Vec<H256> {
    let key = crypto::signing_key(key_bytes).unwrap();
    let from = address_of(&key);
    let from_b32 = address::encode(&from, network_id);
    let nonce: Value = rpc.call("cfx_getNextNonce", json!([from_b32])).unwrap();
    let epoch: Value = rpc
        .call("cfx_epochNumber", json!(["latest_state"]))
        .unwrap();
    let (nonce, epoch) = (quantity(&nonce), quantity(&epoch));
    let to: H160 = "1000000000000000000000000000000000000abc".parse().unwrap();
    let access_list = vec![AccessListItem {
        address: to,
        storage_keys: vec![H256::from_low_u64_be(1)],
    }];
    let kinds = [
        (
            Action::Call(to),
            TxKind::Legacy {
                gas_price: 2.into(),
            },
        ),
        (
            Action::Call(to),
            TxKind::Cip2930 {
                gas_price: 2.into(),
                access_list: access_list.clone(),
            },
        ),
        (
            Action::Call(to),
            TxKind::Cip1559 {
                max_priority_fee_per_gas: 1.into(),
                max_fee_per_gas: 10.into(),
                access_list,
            },
        ),
        // A deployment whose constructor stores and logs (sstore(0, 1); log1; return empty).
        (
            Action::Create,
            TxKind::Legacy {
                gas_price: 2.into(),
            },
        ),
    ];
    let mut hashes = vec![];
    for (i, (action, kind)) in kinds.into_iter().enumerate() {
        let create = matches!(action, Action::Create);
        let tx = Transaction {
            nonce: U256::from(nonce + i as u64),
            gas: if create {
                300_000.into()
            } else {
                30_000.into()
            },
            action,
            value: if create {
                U256::zero()
            } else {
                U256::exp10(15)
            },
            storage_limit: if create { 1024 } else { 0 },
            epoch_height: epoch,
            chain_id,
            data: if create {
                hex::decode("600160005560206000a100").unwrap()
            } else {
                vec![]
            },
            kind,
        }
        .sign(&key)
        .unwrap();
        let raw = tx.encode();
        c.put("transaction", &raw);
        c.put("transaction", &rlp::encode(&tx));
        let h: H256 = rpc
            .call(
                "cfx_sendRawTransaction",
                json!([format!("0x{}", hex::encode(&raw))]),
            )
            .unwrap();
        assert_eq!(h, tx.hash());
        hashes.push(h);
        c.put(
            "http_front",
            json!({"jsonrpc": "2.0", "id": i + 1, "method": "cfx_sendRawTransaction", "params": [format!("0x{}", hex::encode(&raw))]})
                .to_string()
                .as_bytes(),
        );
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    for h in &hashes {
        loop {
            let r: Value = rpc.call("cfx_getTransactionReceipt", json!([h])).unwrap();
            if !r.is_null() {
                break;
            }
            assert!(Instant::now() < deadline, "receipt of {h:?} never came");
            std::thread::sleep(Duration::from_millis(300));
        }
    }
    hashes
}

fn addresses_and_params(c: &mut Corpus, network_id: u64, accounts: &[H160], hashes: &[H256]) {
    for (i, a) in accounts.iter().enumerate() {
        let nets: &[u64] = if i < 2 {
            &[network_id, 1029, 1]
        } else {
            &[network_id]
        };
        for &net in nets {
            let simple = address::encode(a, net);
            let verbose = address::encode_raw(a.as_bytes(), net, true).unwrap();
            c.put("address", simple.as_bytes());
            c.put("address", verbose.as_bytes());
        }
    }
    // A CIP-37 test vector length (not an account): 32 bytes.
    c.put(
        "address",
        address::encode_raw(&[0x7a; 32], network_id, false)
            .unwrap()
            .as_bytes(),
    );
    let a = address::encode(&accounts[0], network_id);
    let h = format!("{:#x}", hashes[0]);
    let params = [
        json!([a, "latest_state"]),
        json!([a, "0x10"]),
        json!([a, {"epochNumber": "0x20"}]),
        json!([a, {"blockHash": h, "requirePivot": false}]),
        json!([a, format!("hash:{h}")]),
        json!([h, true]),
        json!([h]),
        json!(["0x5", "latest_mined", [10.0, 50.0, 90.0]]),
        json!([{"address": [a], "fromEpoch": "0x1", "toEpoch": "latest_state", "limit": "0x10"}]),
        json!([
            a,
            "0x0000000000000000000000000000000000000000000000000000000000000000",
            "latest_state"
        ]),
        json!(["earliest", false]),
        json!([{"from": a, "to": a, "value": "0x1", "gas": "0x5208", "data": "0x"}, "latest_state"]),
    ];
    for (i, p) in params.iter().enumerate() {
        c.put("rpc_params", p.to_string().as_bytes());
        let method = [
            "cfx_getBalance",
            "cfx_getNextNonce",
            "cfx_getCode",
            "cfx_getStakingBalance",
            "cfx_getBalance",
            "cfx_getBlockByHash",
            "cfx_getTransactionByHash",
            "cfx_feeHistory",
            "cfx_getLogs",
            "cfx_getStorageAt",
            "cfx_getBlockByEpochNumber",
            "cfx_estimateGasAndCollateral",
        ][i];
        c.put(
            "http_front",
            json!({"jsonrpc": "2.0", "id": i, "method": method, "params": p})
                .to_string()
                .as_bytes(),
        );
    }
    for body in [
        r#"{"jsonrpc":"2.0","id":"x\"y","method":"cfx_epochNumber","params":["latest_state"]}"#,
        r#"  {"jsonrpc":"2.0","id":null,"method":"cfx_gasPrice"}"#,
        r#"{"jsonrpc":"2.0","id":18446744073709551615,"method":"cfx_getStatus","params":[]}"#,
        r#"[{"jsonrpc":"2.0","id":1,"method":"cfx_epochNumber","params":[]}]"#,
    ] {
        c.put("http_front", body.as_bytes());
    }
}

/// Light-protocol answers from the devnet, written as received; returns nothing, the
/// corpus is the output.
async fn light(c: &mut Corpus, d: &Value, accounts: &[H160], tx_hashes: &[H256]) {
    let url: NodeUrl = d["bootnode"].as_str().unwrap().parse().unwrap();
    let chain_id = d["chain_id"].as_u64().unwrap() as u32;
    let genesis = H256::from_slice(&unhex(d["genesis_hash"].as_str().unwrap()));
    let key = k256::SecretKey::from_slice(&[0x5e; 32]).unwrap();
    let local: std::net::IpAddr = "127.0.0.9".parse().unwrap();
    let mut s = session::connect(&url, &key, u64::from(chain_id), 1, Some(local))
        .await
        .unwrap();
    let rpc = RpcClient::new(d["rpc_url"].as_str().unwrap());
    let latest: Value = rpc
        .call("cfx_epochNumber", json!(["latest_state"]))
        .unwrap();
    let latest = quantity(&latest);
    let mut tx_epochs = vec![];
    let mut tx_blocks = vec![];
    for h in tx_hashes {
        let r: Value = rpc.call("cfx_getTransactionReceipt", json!([h])).unwrap();
        tx_epochs.push(quantity(&r["epochNumber"]));
        tx_blocks.push(H256::from_slice(&unhex(r["blockHash"].as_str().unwrap())));
    }
    let state_epoch = latest.saturating_sub(2);
    let mut keys: Vec<(u64, Vec<u8>)> = accounts
        .iter()
        .map(|a| (state_epoch, StorageKey::Account(*a).to_key_bytes()))
        .collect();
    let staking: H160 = "0888000000000000000000000000000000000002".parse().unwrap();
    keys.push((state_epoch, StorageKey::Account(staking).to_key_bytes()));
    let missing: H160 = "1000000000000000000000000000000000000abd".parse().unwrap();
    keys.push((state_epoch, StorageKey::Account(missing).to_key_bytes()));
    let mut requests: Vec<(Vec<u8>, u8)> = vec![
        message::status_ping(chain_id, &genesis),
        message::get_block_hashes_by_epoch(1, &[tx_epochs[0], tx_epochs[3], 1]),
        message::get_block_headers(2, &tx_blocks),
        message::get_witness_info(3, &[state_epoch, tx_epochs[0]]),
        message::get_block_txs(5, &tx_blocks),
        message::get_receipts(6, &[tx_epochs[0], tx_epochs[3]]),
        message::get_tx_infos(7, tx_hashes),
        message::get_blooms(8, &[tx_epochs[0], tx_epochs[3]]),
        message::get_storage_roots(9, &[(state_epoch, staking), (state_epoch, accounts[0])]),
    ];
    for (i, k) in keys.iter().enumerate() {
        requests.push(message::get_state_entries(
            100 + i as u64,
            std::slice::from_ref(k),
        ));
    }
    let mut answers = vec![];
    for (body, msg_id) in &requests {
        s.writer
            .send(&session::user_packet(body, *msg_id))
            .await
            .unwrap();
        let answer = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                match s.reader.next().await.unwrap() {
                    Packet::User { protocol, payload } if protocol == session::LIGHT_PROTOCOL => {
                        // Pushed NewBlockHashes are seeds too, but not the answer.
                        if payload.last() == Some(&id::NEW_BLOCK_HASHES) {
                            continue;
                        }
                        return payload;
                    }
                    _ => {}
                }
            }
        })
        .await
        .expect("the devnet answers");
        answers.push(answer);
    }
    for (k, p) in keys.iter().zip(&answers[answers.len() - keys.len()..]) {
        let Ok(message::Incoming::StateEntries { entries, .. }) = message::decode(p) else {
            panic!("not a StateEntries answer");
        };
        let (value, proof) = (entries[0].value.clone(), entries[0].proof.clone());
        let address = H160::from_slice(&k.1[..20]);
        c.put(
            "state_proof",
            &state_entry_seed(0, &address, &[], value.as_deref(), &proof),
        );
        if let Some(v) = &value {
            c.put("account", v);
        }
    }
    let mut packets = std::collections::BTreeSet::new();
    for p in &answers {
        c.put("light_message", p);
        let body = &p[..p.len() - 1];
        let r = Rlp::new(body);
        match p[p.len() - 1] {
            id::BLOCK_HEADERS => {
                for h in r.at(1).unwrap().iter() {
                    c.put("header", h.as_raw());
                    c.put("rlp", h.as_raw());
                }
            }
            id::BLOCK_TXS => {
                for b in r.at(1).unwrap().iter() {
                    for t in b.at(1).unwrap().iter() {
                        c.put("transaction", t.as_raw());
                        if let Ok(tx) = rlp::decode::<BlockTransaction>(t.as_raw()) {
                            c.put("transaction", &tx.encode());
                        }
                    }
                }
            }
            id::RECEIPTS => {
                for e in r.at(1).unwrap().iter() {
                    for b in e.at(1).unwrap().iter() {
                        c.put("receipt", b.as_raw());
                        for rc in b.at(0).unwrap().iter() {
                            c.put("receipt", rc.as_raw());
                            for log in rc.at(4).unwrap().iter() {
                                c.put("receipt", log.as_raw());
                            }
                        }
                    }
                }
            }
            id::STORAGE_ROOTS => {
                for e in r.at(1).unwrap().iter() {
                    let address: H160 = e.at(0).unwrap().val_at(1).unwrap();
                    c.put("state_proof", &storage_root_seed(&address, e.as_raw()));
                }
            }
            _ => {}
        }
        // Some payloads as session packets too, and as plain RLP.
        if matches!(
            p[p.len() - 1],
            id::STATUS_PONG_V2 | id::BLOCK_TXS | id::TX_INFOS | id::STATE_ENTRIES
        ) && packets.insert(p[p.len() - 1])
        {
            c.put("light_message", &session::user_packet(body, p[p.len() - 1]));
            c.put("rlp", body);
        }
    }
}

/// Records every command and answer of a transport.
struct Recorder {
    card: VirtualCard,
    commands: Vec<Vec<u8>>,
    answers: Vec<Vec<u8>>,
}

impl Transport for Recorder {
    fn transmit_raw(&mut self, apdu: &[u8]) -> Result<Vec<u8>, CardError> {
        let out = self.card.process(apdu);
        self.commands.push(apdu.to_vec());
        self.answers.push(out.clone());
        Ok(out)
    }
}

fn frames(items: &[Vec<u8>]) -> Vec<u8> {
    let mut out = vec![];
    for i in items {
        out.push(i.len() as u8);
        out.extend_from_slice(i);
    }
    out
}

fn apdus(c: &mut Corpus) {
    let issuer = crypto::signing_key(&[0x33; 32]).unwrap();
    let state = CardState::new("89860000000000000001", "123456", 3, issuer).unwrap();
    let mut applet = Applet::new(Recorder {
        card: VirtualCard::in_memory(state),
        commands: vec![],
        answers: vec![],
    });
    let pin = zeroize::Zeroizing::new("123456".to_string());
    // The apdu target's host flow, in its order, against a card that has a key by the
    // time conflux_keys runs (so the answers are the ones a real session gives).
    applet.select().unwrap();
    applet.read_iccid().unwrap();
    applet.select().unwrap();
    applet.version().unwrap();
    applet.pin_status().unwrap();
    applet.verify_pin(&pin).unwrap();
    applet.generate_key().unwrap();
    let keys = applet.conflux_keys().unwrap();
    let (index, pubkey) = keys[0];
    applet.generate_key().unwrap();
    applet.sign_hash(index, &[0x42; 32], &pubkey).unwrap();
    applet.attestation(index).unwrap();
    applet.export_pubkeys().unwrap();
    let wrong = zeroize::Zeroizing::new("654321".to_string());
    let _ = applet.verify_pin(&wrong);
    let r = applet.into_inner();
    for item in r.commands.iter().chain(&r.answers).step_by(3).take(12) {
        c.put("apdu", item);
    }
    c.put("apdu", &frames(&r.commands));
    c.put("apdu", &frames(&r.answers));
    // The host flow's answers from a fresh card, in the target's order (no keys yet).
    let issuer = crypto::signing_key(&[0x33; 32]).unwrap();
    let state = CardState::new("89860000000000000001", "123456", 3, issuer).unwrap();
    let mut applet = Applet::new(Recorder {
        card: VirtualCard::in_memory(state),
        commands: vec![],
        answers: vec![],
    });
    let _ = applet.select();
    let _ = applet.read_iccid();
    let _ = applet.version();
    let _ = applet.pin_status();
    let _ = applet.verify_pin(&pin);
    let keys = applet.conflux_keys().unwrap_or_default();
    let _ = applet.generate_key();
    let (index, pubkey) = keys.first().copied().unwrap_or((1, [7; 64]));
    let _ = applet.sign_hash(index, &[0x42; 32], &pubkey);
    let _ = applet.attestation(index);
    let _ = applet.export_pubkeys();
    let r = applet.into_inner();
    c.put("apdu", &frames(&r.answers));
    c.put("apdu", &frames(&r.commands));
}

fn keystores(c: &mut Corpus, repo: &Path) {
    let secret = [0x11u8; 32];
    for kdf in [KdfKind::Pbkdf2, KdfKind::Scrypt] {
        let v = encrypt_with(
            &secret,
            b"password",
            kdf,
            &[7; 32],
            &[9; 16],
            "0bb47ee0-aac3-a006-2717-03877afa15f0",
        )
        .unwrap();
        c.put("keystore", v.to_string().as_bytes());
        // Cheap variants (the target decrypts those): the MAC no longer matches, which is
        // itself a path worth reaching.
        let mut cheap = v.clone();
        match kdf {
            KdfKind::Pbkdf2 => cheap["crypto"]["kdfparams"]["c"] = json!(2),
            KdfKind::Scrypt => cheap["crypto"]["kdfparams"]["n"] = json!(2),
        }
        c.put(
            "keystore",
            serde_json::to_string_pretty(&cheap).unwrap().as_bytes(),
        );
    }
    // The signer's own no-panic seed: pbkdf2, c = 2, with a valid MAC (password "password").
    c.put("keystore", br#"{"version":3,"id":"0bb47ee0-aac3-a006-2717-03877afa15f0","address":"1cad0b19bb29d4674531d6f115237e16afce377c","crypto":{"ciphertext":"a8ec41d2440311ce897bacb6f7942f3235113fa17c4ae6732e032336038a8f73","cipherparams":{"iv":"85b5e092c1c32129e3d27df8c581514d"},"cipher":"aes-128-ctr","kdf":"pbkdf2","kdfparams":{"dklen":32,"salt":"b662f09bdf6751ac599219732609dceac430bc0629a7906eaa1451555f051ebc","c":2,"prf":"hmac-sha256"},"mac":"cc89df7ef6c27d284526a65cabf8e5042cdf1ec1aa4ee36dcf65b965fa34843d"}}"#);
    // js-conflux-sdk's keystore (the reference wallet's format), when Node.js is there.
    let out = std::process::Command::new("node")
        .arg(repo.join("scripts/js/sdk-keystore.js"))
        .arg("encrypt")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(
                json!({"privateKey": format!("0x{}", hex::encode(secret)), "password": "password"})
                    .to_string()
                    .as_bytes(),
            )?;
            child.wait_with_output()
        });
    match out {
        Ok(o) if o.status.success() => c.put("keystore", &o.stdout),
        _ => eprintln!("js-conflux-sdk keystore skipped (node or scripts/node_modules missing)"),
    }
    // Typed data and transaction JSON, which the same target parses.
    c.put("keystore", br#"{"types":{"EIP712Domain":[{"name":"name","type":"string"},{"name":"chainId","type":"uint256"}],"Mail":[{"name":"to","type":"address"},{"name":"contents","type":"string"}]},"primaryType":"Mail","domain":{"name":"Ether Mail","chainId":1},"message":{"to":"0xcd2a3d9f938e13cd947ec05abc7fe734df8dd826","contents":"Hello, Bob!"}}"#);
    c.put("keystore", br#"{"to":"net2029:aak2rra2njvd77ezwjvx04kkds9fzagfe6d5r8e957","value":"0x1","gas":"0x5208","gasPrice":"0x2","nonce":"0x0","epochHeight":"0x10","storageLimit":"0x0","data":"0x"}"#);
}

fn main() {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .expect("usage: corpus_maker <devnet dir> [out dir]"),
    );
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = std::env::args()
        .nth(2)
        .map(PathBuf::from)
        .unwrap_or_else(|| repo.join("fuzz/corpus"));
    let mut c = Corpus {
        root: out,
        counts: BTreeMap::new(),
    };
    let d = read_json(&dir.join("devnet.json"));
    let chain_id = d["chain_id"].as_u64().unwrap() as u32;
    let network_id = u64::from(chain_id);
    let rpc = RpcClient::new(d["rpc_url"].as_str().unwrap());
    let keys: Vec<[u8; 32]> = d["genesis_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| unhex(k["secret"].as_str().unwrap()).try_into().unwrap())
        .collect();
    let mut accounts: Vec<H160> = keys
        .iter()
        .map(|k| address_of(&crypto::signing_key(k).unwrap()))
        .collect();
    accounts.push("0888000000000000000000000000000000000002".parse().unwrap());
    accounts.push("8000000000000000000000000000000000000001".parse().unwrap());

    vectors(&mut c, &repo);
    espace_transactions(&mut c, chain_id + 1);
    let hashes = send_core(&mut c, &rpc, &keys[1], chain_id, network_id);
    let created: Value = rpc
        .call("cfx_getTransactionReceipt", json!([hashes[3]]))
        .unwrap();
    if let Some(a) = created["contractCreated"].as_str() {
        if let Ok(a) = a.parse::<address::CfxAddress>() {
            accounts.push(a.address);
        }
    }
    addresses_and_params(&mut c, network_id, &accounts, &hashes);
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(light(&mut c, &d, &accounts, &hashes));
    apdus(&mut c);
    keystores(&mut c, &repo);
    for (t, n) in &c.counts {
        println!("{t}: {n} new seeds");
    }
}
