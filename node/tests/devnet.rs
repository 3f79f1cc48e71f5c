//! Round trips against a real conflux-rust dev node (see `scripts/devnet`).
//!
//! These tests need a running devnet: `CFXLIGHT_DEVNET=<dir>` names the directory that
//! `scripts/devnet up <dir>` wrote (see `common::devnet_dir` for how a missing one is
//! treated).
//!
//! What they prove: our header encoding and hashes are the real node's; a transaction of
//! every type that we sign is accepted and mined, under the hash we computed; and a
//! transaction signed by js-conflux-sdk decodes with our code to the same fields and sender.

#![allow(clippy::unwrap_used, missing_docs)] // a test may stop at the first surprise

mod common;

use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use cfxlight_chainspec::ChainSpec;
use cfxlight_node::rpc_client::RpcClient;
use cfxlight_primitives::{
    address::CfxAddress,
    crypto,
    rpc::{self, EspaceBlockFields},
    transaction::{AccessListItem, Action, SignedTransaction, Transaction, TxKind, TxType},
    H160, H256, U256,
};
use serde_json::{json, Value};

struct Devnet {
    rpc: RpcClient,
    eth: RpcClient,
    chain_id: u32,
    keys: Vec<[u8; 32]>,
}

fn devnet() -> Option<Devnet> {
    let d = common::devnet_json(&common::devnet_dir()?);
    let keys = d["genesis_keys"]
        .as_array()
        .expect("genesis_keys")
        .iter()
        .map(|k| {
            let s = k["secret"].as_str().expect("secret");
            let mut out = [0u8; 32];
            out.copy_from_slice(&hex::decode(s.trim_start_matches("0x")).expect("hex"));
            out
        })
        .collect();
    Some(Devnet {
        rpc: RpcClient::new(d["rpc_url"].as_str().expect("rpc_url")),
        eth: RpcClient::new(d["eth_rpc_url"].as_str().expect("eth_rpc_url")),
        chain_id: d["chain_id"].as_u64().expect("chain_id") as u32,
        keys,
    })
}

fn quantity(v: &Value) -> u64 {
    let s = v.as_str().expect("quantity string");
    u64::from_str_radix(s.trim_start_matches("0x"), 16).expect("hex quantity")
}

fn wait_for_receipt(rpc: &RpcClient, hash: &H256) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r: Value = rpc
            .call("cfx_getTransactionReceipt", json!([hash]))
            .expect("receipt query");
        if !r.is_null() {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "transaction {hash:?} not mined within 60 s"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn every_header_rebuilds_to_the_hash_the_node_reports_and_carries_valid_test_pow() {
    let Some(net) = devnet() else { return };
    let spec = ChainSpec::load("devnet")
        .unwrap()
        .with_chain_id(net.chain_id)
        .unwrap();
    // Epochs up to latest_state: the eSpace view (needed past CIP-1559) exists for them.
    // A devnet just started may have none yet: give it the few seconds it needs.
    let deadline = Instant::now() + Duration::from_secs(60);
    let last = loop {
        let status: rpc::Status = net.rpc.call("cfx_getStatus", json!([])).unwrap();
        let last = status.latest_state.as_u64();
        if last >= 10 {
            break last;
        }
        assert!(
            Instant::now() < deadline,
            "devnet stuck at latest_state {last}"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    let mut checked = 0;
    for epoch in 1..=last {
        let hashes: Vec<H256> = net
            .rpc
            .call("cfx_getBlocksByEpoch", json!([format!("{epoch:#x}")]))
            .unwrap();
        let eth: Value = net
            .eth
            .call(
                "eth_getBlockByNumber",
                json!([format!("{epoch:#x}"), false]),
            )
            .unwrap();
        let espace = EspaceBlockFields {
            base_fee_per_gas: serde_json::from_value(eth["baseFeePerGas"].clone()).unwrap(),
            gas_limit: serde_json::from_value(eth["gasLimit"].clone()).unwrap(),
        };
        for hash in hashes {
            let block: rpc::Block = net
                .rpc
                .call("cfx_getBlockByHash", json!([hash, false]))
                .unwrap();
            let header = block
                .rebuild_header(spec.forks.custom_items_are_bytes(epoch), Some(&espace))
                .unwrap_or_else(|e| panic!("epoch {epoch} block {hash:?}: {e}"));
            assert_eq!(header.hash(), hash);
            // Our decoder reads the bytes back to the same header, and the PoW holds.
            let decoded = cfxlight_primitives::header::BlockHeader::decode(&header.rlp()).unwrap();
            assert_eq!(decoded, header);
            decoded
                .verify_test_pow()
                .unwrap_or_else(|e| panic!("epoch {epoch}: {e}"));
            // The RPC JSON we would serve for it equals the node's, field for field.
            let ours =
                serde_json::to_value(rpc::Block::from_header(&decoded, spec.network_id)).unwrap();
            let theirs = serde_json::to_value(&block).unwrap();
            for field in [
                "hash",
                "parentHash",
                "height",
                "miner",
                "deferredStateRoot",
                "deferredReceiptsRoot",
                "deferredLogsBloomHash",
                "blame",
                "transactionsRoot",
                "gasLimit",
                "baseFeePerGas",
                "timestamp",
                "difficulty",
                "refereeHashes",
                "adaptive",
                "nonce",
                "custom",
                "posReference",
            ] {
                assert_eq!(ours[field], theirs[field], "epoch {epoch} field {field}");
            }
            checked += 1;
        }
    }
    assert!(
        checked as u64 >= last,
        "checked {checked} blocks over {last} epochs"
    );
}

/// A funded sender of this devnet: its key, address, next nonce, and the epoch to anchor to.
struct Sender {
    key: k256::ecdsa::SigningKey,
    address: H160,
    nonce: U256,
    epoch: u64,
}

/// Each test owns one genesis key, so tests running in parallel never race on nonces.
fn sender(net: &Devnet, key_index: usize) -> Sender {
    let key = crypto::signing_key(&net.keys[key_index]).unwrap();
    let address = crypto::public_to_address(&crypto::public_of(key.verifying_key()));
    let b32 = CfxAddress::new(address, u64::from(net.chain_id)).to_string();
    let nonce: U256 = net.rpc.call("cfx_getNextNonce", json!([b32])).unwrap();
    let epoch = quantity(
        &net.rpc
            .call::<Value>("cfx_epochNumber", json!(["latest_state"]))
            .unwrap(),
    );
    Sender {
        key,
        address,
        nonce,
        epoch,
    }
}

fn transaction_of(kind: TxType, nonce: U256, epoch: u64, chain_id: u32, to: H160) -> Transaction {
    let access_list = vec![AccessListItem {
        address: to,
        storage_keys: vec![H256::from_low_u64_be(1)],
    }];
    let kind = match kind {
        TxType::Legacy => TxKind::Legacy {
            gas_price: 2.into(),
        },
        TxType::Cip2930 => TxKind::Cip2930 {
            gas_price: 2.into(),
            access_list,
        },
        TxType::Cip1559 => TxKind::Cip1559 {
            max_priority_fee_per_gas: 1.into(),
            max_fee_per_gas: 10.into(),
            access_list,
        },
    };
    Transaction {
        nonce,
        gas: 30_000.into(),
        action: Action::Call(to),
        value: U256::exp10(15) + U256::from(kind_tag(&kind)),
        storage_limit: 0,
        epoch_height: epoch,
        chain_id,
        data: vec![],
        kind,
    }
}

fn kind_tag(k: &TxKind) -> u64 {
    match k {
        TxKind::Legacy { .. } => 0,
        TxKind::Cip2930 { .. } => 1,
        TxKind::Cip1559 { .. } => 2,
    }
}

#[test]
fn transactions_we_sign_of_each_type_are_mined_under_our_hash() {
    let Some(net) = devnet() else { return };
    let Sender {
        key,
        address: from,
        nonce: start_nonce,
        epoch,
    } = sender(&net, 1);
    let to: H160 = "1000000000000000000000000000000000000abc".parse().unwrap();
    let mut sent = vec![];
    for (i, kind) in [TxType::Legacy, TxType::Cip2930, TxType::Cip1559]
        .into_iter()
        .enumerate()
    {
        let tx = transaction_of(kind, start_nonce + i, epoch, net.chain_id, to)
            .sign(&key)
            .unwrap();
        let raw = format!("0x{}", hex::encode(tx.encode()));
        let node_hash: H256 = net
            .rpc
            .call("cfx_sendRawTransaction", json!([raw]))
            .unwrap();
        assert_eq!(node_hash, tx.hash(), "{kind:?}: the node's hash is ours");
        sent.push((kind, tx));
    }
    for (kind, tx) in sent {
        let receipt = wait_for_receipt(&net.rpc, &tx.hash());
        assert_eq!(receipt["outcomeStatus"], "0x0", "{kind:?}: {receipt}");
        assert_eq!(receipt["type"], format!("{:#x}", kind as u8), "{kind:?}");
        let seen: rpc::Transaction = net
            .rpc
            .call("cfx_getTransactionByHash", json!([tx.hash()]))
            .unwrap();
        assert_eq!(seen.from.hex(), from, "{kind:?}: sender");
        // The node's JSON for it equals ours in every field the transaction itself fixes.
        let ours = serde_json::to_value(
            rpc::Transaction::from_signed(&tx, u64::from(net.chain_id)).unwrap(),
        )
        .unwrap();
        let theirs = serde_json::to_value(&seen).unwrap();
        for field in [
            "type",
            "hash",
            "nonce",
            "from",
            "to",
            "value",
            "gasPrice",
            "gas",
            "data",
            "storageLimit",
            "epochHeight",
            "chainId",
            "accessList",
            "maxPriorityFeePerGas",
            "maxFeePerGas",
            "v",
            "r",
            "s",
            "yParity",
        ] {
            assert_eq!(ours[field], theirs[field], "{kind:?} field {field}");
        }
    }
}

fn sdk_sign(tx: Value, key: &[u8; 32], network_id: u64) -> Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/js/sdk-sign-tx.js");
    let input =
        json!({"privateKey": format!("0x{}", hex::encode(key)), "networkId": network_id, "tx": tx});
    let mut child = Command::new("node")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node (Node.js) must be installed");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(input.to_string().as_bytes())
            .expect("write");
    }
    let out = child.wait_with_output().expect("sdk-sign-tx.js");
    assert!(out.status.success(), "sdk-sign-tx.js failed");
    serde_json::from_slice(&out.stdout).expect("sdk-sign-tx.js JSON")
}

#[test]
fn transactions_signed_by_js_conflux_sdk_decode_to_the_same_fields_and_sender() {
    let Some(net) = devnet() else { return };
    let network_id = u64::from(net.chain_id);
    let secret = net.keys[2];
    let Sender {
        address: from,
        nonce,
        epoch,
        ..
    } = sender(&net, 2);
    let to: H160 = "1000000000000000000000000000000000000def".parse().unwrap();
    let to_b32 = CfxAddress::new(to, network_id).to_string();
    let mut sent = vec![];
    for (i, ty) in [0u8, 1, 2].into_iter().enumerate() {
        let mut tx = json!({
            "type": ty, "nonce": (nonce + i).as_u64(), "gas": 30000, "to": to_b32, "value": "12345",
            "storageLimit": 0, "epochHeight": epoch, "chainId": net.chain_id, "data": "0xc0ffee",
        });
        if ty == 2 {
            tx["maxFeePerGas"] = json!(10);
            tx["maxPriorityFeePerGas"] = json!(1);
        } else {
            tx["gasPrice"] = json!(2);
        }
        if ty > 0 {
            tx["accessList"] = json!([{"address": to_b32, "storageKeys": [format!("{:?}", H256::from_low_u64_be(7))]}]);
        }
        let out = sdk_sign(tx, &secret, network_id);
        let raw = hex::decode(out["raw"].as_str().unwrap().trim_start_matches("0x")).unwrap();
        let decoded =
            SignedTransaction::decode(&raw).expect("our decoder reads js-conflux-sdk's bytes");
        assert_eq!(
            format!("{:?}", decoded.hash()),
            out["hash"].as_str().unwrap()
        );
        assert_eq!(decoded.tx.tx_type() as u8, ty);
        assert_eq!(decoded.tx.nonce, nonce + i);
        assert_eq!(decoded.tx.action, Action::Call(to));
        assert_eq!(decoded.tx.value, U256::from(12345));
        assert_eq!(decoded.tx.gas, U256::from(30000));
        assert_eq!(decoded.tx.epoch_height, epoch);
        assert_eq!(decoded.tx.chain_id, net.chain_id);
        assert_eq!(decoded.tx.data, vec![0xc0, 0xff, 0xee]);
        match (&decoded.tx.kind, ty) {
            (TxKind::Legacy { gas_price }, 0) => assert_eq!(*gas_price, 2.into()),
            (
                TxKind::Cip2930 {
                    gas_price,
                    access_list,
                },
                1,
            ) => {
                assert_eq!(*gas_price, 2.into());
                assert_eq!(access_list[0].storage_keys, vec![H256::from_low_u64_be(7)]);
            }
            (
                TxKind::Cip1559 {
                    max_fee_per_gas,
                    max_priority_fee_per_gas,
                    access_list,
                },
                2,
            ) => {
                assert_eq!(
                    (*max_fee_per_gas, *max_priority_fee_per_gas),
                    (10.into(), 1.into())
                );
                assert_eq!(access_list[0].address, to);
            }
            other => panic!("unexpected kind {other:?}"),
        }
        let (sender, _) = decoded.recover_sender().unwrap();
        assert_eq!(sender, from);
        assert_eq!(out["fromHex"].as_str().unwrap(), format!("{from:?}"));
        // Our encoder reproduces js-conflux-sdk's bytes from the decoded fields.
        assert_eq!(decoded.encode(), raw);
        let node_hash: H256 = net
            .rpc
            .call("cfx_sendRawTransaction", json!([out["raw"]]))
            .unwrap();
        assert_eq!(node_hash, decoded.hash());
        sent.push(decoded.hash());
    }
    for h in sent {
        assert_eq!(wait_for_receipt(&net.rpc, &h)["outcomeStatus"], "0x0");
    }
}
