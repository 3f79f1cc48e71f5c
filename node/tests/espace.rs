//! eSpace transactions inside Core blocks, against the real devnet.
//!
//! Funds an eSpace account through the CrossSpaceCall internal contract with a Core
//! transaction we sign, then signs eSpace transactions ourselves (EIP-155 legacy, 2930,
//! 1559 and, where the node takes it, 7702), sends them to the devnet's eSpace RPC
//! together with Core transactions, and requires:
//! - the node's eSpace RPC reports each under our hash and our recovered sender;
//! - `cfxlight node`, which verifies the carrying block's body (Core and eSpace
//!   transactions under one transactions root), answers the block, epoch, receipt and
//!   fee methods exactly as the full node does: Core transactions only, `transactionIndex`
//!   among Core transactions, eSpace hashes unknown to the Core RPC.
//!
//! With `CFXLIGHT_WRITE_ESPACE_VECTORS=<file>` it also writes what the real node said of
//! each eSpace transaction (raw bytes, hash, sender) as the JSON vectors that
//! `primitives/tests/espace_vectors.rs` checks offline.
//!
//! Gated like `devnet.rs`: `CFXLIGHT_DEVNET=<dir>`, required under CI. Uses genesis key 0.

#![allow(clippy::unwrap_used, missing_docs)] // a test may stop at the first surprise

mod common;

use std::time::{Duration, Instant};

use cfxlight_node::rpc_client::RpcClient;
use cfxlight_primitives::{
    address::CfxAddress,
    crypto,
    eth_transaction::{
        eth_address, Authorization, EthSignedTransaction, EthTransaction, EthTxKind,
    },
    keccak256, mpt,
    transaction::{AccessListItem, Action, SignedTransaction, Transaction, TxKind},
    H160, H256, U256,
};
use common::{quantity, raw_call};
use k256::ecdsa::SigningKey;
use serde_json::{json, Value};

/// CrossSpaceCall (conflux-rust `internal_contract/contracts/cross_space.rs`).
const CROSS_SPACE_CALL: &str = "0888000000000000000000000000000000000006";

struct Net {
    d: Value,
    full_url: String,
    full: RpcClient,
    eth: RpcClient,
    chain_id: u32,
    evm_chain_id: u32,
}

fn wait<T>(what: &str, secs: u64, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: not within {secs} s");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn core_sender(net: &Net) -> (SigningKey, H160) {
    let key = common::genesis_key(&net.d, 0);
    let addr = crypto::public_to_address(&crypto::public_of(key.verifying_key()));
    (key, addr)
}

fn b32(net: &Net, a: H160) -> String {
    CfxAddress::new(a, u64::from(net.chain_id)).to_string()
}

fn core_nonce_and_epoch(net: &Net, a: H160) -> (U256, u64) {
    let nonce: U256 = net
        .full
        .call("cfx_getNextNonce", json!([b32(net, a)]))
        .unwrap();
    let epoch = quantity(
        &net.full
            .call::<Value>("cfx_epochNumber", json!(["latest_state"]))
            .unwrap(),
    );
    (nonce, epoch)
}

fn send_core(net: &Net, tx: &SignedTransaction) {
    let raw = format!("0x{}", hex::encode(tx.encode()));
    let h: H256 = net
        .full
        .call("cfx_sendRawTransaction", json!([raw]))
        .unwrap();
    assert_eq!(h, tx.hash());
}

fn core_receipt(net: &Net, h: H256) -> Value {
    wait("core receipt", 60, || {
        let r: Value = net
            .full
            .call("cfx_getTransactionReceipt", json!([h]))
            .unwrap();
        (!r.is_null()).then_some(r)
    })
}

fn eth_receipt(net: &Net, h: H256) -> Value {
    wait("eSpace receipt", 90, || {
        let r: Value = net
            .eth
            .call("eth_getTransactionReceipt", json!([h]))
            .unwrap();
        (!r.is_null()).then_some(r)
    })
}

fn eth_key() -> SigningKey {
    crypto::signing_key(&[0x5e; 32]).unwrap()
}

/// The account the EIP-7702 transaction comes from (kept apart: should the devnet not
/// mine it, its nonce stays taken without blocking the main account).
fn eth_key_7702() -> SigningKey {
    crypto::signing_key(&[0x7e; 32]).unwrap()
}

/// Makes sure the eSpace account of `key` holds at least 10 CFX.
fn fund_espace(net: &Net, key: &SigningKey) -> H160 {
    let to = eth_address(&crypto::public_of(key.verifying_key()));
    let balance: U256 = net
        .eth
        .call("eth_getBalance", json!([to, "latest"]))
        .unwrap();
    if balance >= U256::exp10(19) {
        return to;
    }
    let (key, from) = core_sender(net);
    let (nonce, epoch) = core_nonce_and_epoch(net, from);
    // transferEVM(bytes20 to): selector, then the 20 bytes left-aligned in one word.
    let mut data = keccak256(b"transferEVM(bytes20)")[..4].to_vec();
    data.extend_from_slice(to.as_bytes());
    data.extend_from_slice(&[0u8; 12]);
    let tx = Transaction {
        nonce,
        gas: 200_000.into(),
        action: Action::Call(CROSS_SPACE_CALL.parse().unwrap()),
        value: U256::exp10(20),
        storage_limit: 1_000,
        epoch_height: epoch,
        chain_id: net.chain_id,
        data,
        kind: TxKind::Legacy {
            gas_price: 2.into(),
        },
    }
    .sign(&key)
    .unwrap();
    send_core(net, &tx);
    let r = core_receipt(net, tx.hash());
    assert_eq!(r["outcomeStatus"], "0x0", "transferEVM: {r}");
    wait("eSpace balance", 30, || {
        let b: U256 = net
            .eth
            .call("eth_getBalance", json!([to, "latest"]))
            .unwrap();
        (b >= U256::exp10(19)).then_some(to)
    })
}

fn eth_tx(kind: EthTxKind, nonce: U256, data: Vec<u8>) -> EthTransaction {
    EthTransaction {
        nonce,
        gas: 60_000.into(),
        action: Action::Call("00000000000000000000000000000000000e5ace".parse().unwrap()),
        value: 1000.into(),
        data,
        kind,
    }
}

/// The eSpace transactions of one round, nonces from `nonce`.
fn eth_batch(net: &Net, nonce: U256) -> Vec<EthSignedTransaction> {
    let id = net.evm_chain_id;
    let gas_price: U256 = net.eth.call("eth_gasPrice", json!([])).unwrap();
    let price = gas_price * 2;
    let al = vec![AccessListItem {
        address: H160::repeat_byte(0x0e),
        storage_keys: vec![H256::from_low_u64_be(7)],
    }];
    let kinds = [
        EthTxKind::Legacy {
            gas_price: price,
            chain_id: Some(id),
        },
        EthTxKind::Eip2930 {
            chain_id: id,
            gas_price: price,
            access_list: al.clone(),
        },
        EthTxKind::Eip1559 {
            chain_id: id,
            max_priority_fee_per_gas: 1.into(),
            max_fee_per_gas: price,
            access_list: al,
        },
    ];
    kinds
        .into_iter()
        .enumerate()
        .map(|(i, k)| {
            eth_tx(k, nonce + i, vec![i as u8; i])
                .sign(&eth_key())
                .unwrap()
        })
        .collect()
}

fn send_eth(net: &Net, tx: &EthSignedTransaction) -> Result<H256, String> {
    let raw = format!("0x{}", hex::encode(tx.encode()));
    let reply = raw_call(
        net.eth_url().as_str(),
        "eth_sendRawTransaction",
        json!([raw]),
    );
    match reply.get("result") {
        Some(h) => Ok(serde_json::from_value(h.clone()).unwrap()),
        None => Err(reply["error"].to_string()),
    }
}

impl Net {
    fn eth_url(&self) -> String {
        self.d["eth_rpc_url"].as_str().unwrap().to_string()
    }
}

/// The Core block (hash, epoch) of the epoch of an eSpace receipt that carries eSpace
/// transactions: the one whose transactions root is not the root of its Core hashes.
fn carrying_block(net: &Net, receipt: &Value) -> (H256, u64) {
    let epoch = quantity(&receipt["blockNumber"]);
    let hashes: Vec<H256> = net
        .full
        .call("cfx_getBlocksByEpoch", json!([format!("{epoch:#x}")]))
        .unwrap();
    // The eSpace block hash is the epoch's pivot hash.
    assert_eq!(
        serde_json::to_value(hashes.last().unwrap()).unwrap(),
        receipt["blockHash"]
    );
    let carrying: Vec<(H256, u64)> = hashes
        .iter()
        .filter_map(|h| {
            let b: Value = net
                .full
                .call("cfx_getBlockByHash", json!([h, false]))
                .unwrap();
            let core: Vec<H256> = serde_json::from_value(b["transactions"].clone()).unwrap();
            let root: H256 = serde_json::from_value(b["transactionsRoot"].clone()).unwrap();
            (mpt::transactions_root(&core) != root).then(|| (*h, quantity(&b["height"])))
        })
        .collect();
    assert!(
        !carrying.is_empty(),
        "no block of epoch {epoch} carries eSpace txs"
    );
    for (_, height) in &carrying {
        // EVM_TRANSACTION_BLOCK_RATIO: eSpace transactions only at heights ≡ 0 (mod 5).
        assert_eq!(height % 5, 0, "eSpace transactions at height {height}");
    }
    (carrying[0].0, epoch)
}

/// Every merge of `a` and `b` that keeps each one's order.
fn interleavings(a: &[H256], b: &[H256]) -> Vec<Vec<H256>> {
    match (a.split_first(), b.split_first()) {
        (None, _) => vec![b.to_vec()],
        (_, None) => vec![a.to_vec()],
        (Some((x, ra)), Some((y, rb))) => {
            let mut out = vec![];
            for mut rest in interleavings(ra, b) {
                rest.insert(0, *x);
                out.push(rest);
            }
            for mut rest in interleavings(a, rb) {
                rest.insert(0, *y);
                out.push(rest);
            }
            out
        }
    }
}

#[test]
fn blocks_carrying_espace_transactions_verify_and_render_like_the_full_node() {
    let Some(dir) = common::devnet_dir() else {
        return;
    };
    let d = common::devnet_json(&dir);
    let net = Net {
        full_url: d["rpc_url"].as_str().unwrap().to_string(),
        full: RpcClient::new(d["rpc_url"].as_str().unwrap()),
        eth: RpcClient::new(d["eth_rpc_url"].as_str().unwrap()),
        chain_id: d["chain_id"].as_u64().unwrap() as u32,
        evm_chain_id: d["evm_chain_id"].as_u64().unwrap() as u32,
        d,
    };
    let eth_chain: Value = net.eth.call("eth_chainId", json!([])).unwrap();
    assert_eq!(quantity(&eth_chain), u64::from(net.evm_chain_id));
    let eth_from = fund_espace(&net, &eth_key());
    let eth_from_7702 = fund_espace(&net, &eth_key_7702());
    let (core_key, core_from) = core_sender(&net);

    // Send the eSpace batch and two Core transfers just before a height ≡ 0 (mod 5), so
    // that Core and eSpace transactions share a block; a few tries at most.
    let mut vectors = vec![];
    let mut found = None;
    for attempt in 0..4 {
        let nonce: U256 = net
            .eth
            .call("eth_getTransactionCount", json!([eth_from, "pending"]))
            .unwrap();
        let batch = eth_batch(&net, nonce);
        wait("a height ≡ 4 (mod 5)", 30, || {
            let e = quantity(
                &net.full
                    .call::<Value>("cfx_epochNumber", json!(["latest_mined"]))
                    .unwrap(),
            );
            (e % 5 == 4).then_some(())
        });
        for tx in &batch {
            assert_eq!(
                send_eth(&net, tx).unwrap(),
                tx.hash(),
                "eSpace hash is ours"
            );
        }
        let (n, epoch) = core_nonce_and_epoch(&net, core_from);
        let core: Vec<SignedTransaction> = (0..2u64)
            .map(|i| {
                Transaction {
                    nonce: n + i,
                    gas: 21_000.into(),
                    action: Action::Call(
                        "1000000000000000000000000000000000000e5a".parse().unwrap(),
                    ),
                    value: (1 + i).into(),
                    storage_limit: 0,
                    epoch_height: epoch,
                    chain_id: net.chain_id,
                    data: vec![],
                    kind: TxKind::Legacy {
                        gas_price: 2.into(),
                    },
                }
                .sign(&core_key)
                .unwrap()
            })
            .collect();
        for tx in &core {
            send_core(&net, tx);
        }
        let receipts: Vec<Value> = batch.iter().map(|t| eth_receipt(&net, t.hash())).collect();
        for (tx, r) in batch.iter().zip(&receipts) {
            assert_eq!(r["status"], "0x1", "{r}");
            let seen: Value = net
                .eth
                .call("eth_getTransactionByHash", json!([tx.hash()]))
                .unwrap();
            assert_eq!(seen["hash"], json!(tx.hash()));
            let from: H160 = serde_json::from_value(seen["from"].clone()).unwrap();
            assert_eq!(from, eth_from);
            assert_eq!(tx.recover_sender().unwrap().0, eth_from);
            assert_eq!(
                quantity(&seen["type"]),
                u64::from(tx.tx.type_id()),
                "{seen}"
            );
            vectors.push(json!({
                "type": tx.tx.type_id(),
                "raw": format!("0x{}", hex::encode(tx.encode())),
                "hash": seen["hash"],
                "from": seen["from"],
                "chainId": seen["chainId"],
            }));
        }
        let core_receipts: Vec<Value> = core.iter().map(|t| core_receipt(&net, t.hash())).collect();
        let (block, epoch) = carrying_block(&net, &receipts[0]);
        let shared: Vec<&Value> = core_receipts
            .iter()
            .filter(|r| r["blockHash"] == json!(block))
            .collect();
        eprintln!(
            "attempt {attempt}: block {block:?} (epoch {epoch}) carries {} of our Core txs",
            shared.len()
        );
        let core_hashes: Vec<H256> = core.iter().map(|t| t.hash()).collect();
        if !shared.is_empty() {
            // The transactions root covers both spaces: some interleaving of our Core and
            // eSpace hashes (each in nonce order) is the block's root.
            let b: Value = net
                .full
                .call("cfx_getBlockByHash", json!([block, false]))
                .unwrap();
            let root: H256 = serde_json::from_value(b["transactionsRoot"].clone()).unwrap();
            let eth_hashes: Vec<H256> = batch.iter().map(|t| t.hash()).collect();
            let order = interleavings(&core_hashes, &eth_hashes)
                .into_iter()
                .find(|o| mpt::transactions_root(o) == root)
                .expect("no interleaving of our Core and eSpace hashes gives the root");
            let at: Vec<usize> = core_hashes
                .iter()
                .map(|h| order.iter().position(|o| o == h).unwrap())
                .collect();
            eprintln!("Core transactions at positions {at:?} of {}", order.len());
        }
        if !shared.is_empty() || attempt == 3 {
            found = Some((block, epoch, core_hashes, !shared.is_empty()));
            break;
        }
    }
    let (block, epoch, core_hashes, shared) = found.unwrap();
    assert!(
        shared,
        "no Core transaction shared a block with eSpace ones in 4 tries"
    );

    // EIP-7702, where the node takes it (it needs the fork active on the devnet).
    let nonce: U256 = net
        .eth
        .call("eth_getTransactionCount", json!([eth_from_7702, "latest"]))
        .unwrap();
    let authority = crypto::signing_key(&[0x7d; 32]).unwrap();
    let mut auth = Authorization {
        chain_id: net.evm_chain_id.into(),
        address: H160::repeat_byte(0x77),
        nonce: 0,
        y_parity: 0,
        r: 0.into(),
        s: 0.into(),
    };
    let sig = crypto::sign_hash(&authority, &auth.signing_hash()).unwrap();
    (auth.y_parity, auth.r, auth.s) = (sig.v, sig.r, sig.s);
    assert_eq!(
        auth.authority().unwrap(),
        eth_address(&crypto::public_of(authority.verifying_key()))
    );
    let gas_price: U256 = net.eth.call("eth_gasPrice", json!([])).unwrap();
    let t7702 = eth_tx(
        EthTxKind::Eip7702 {
            chain_id: net.evm_chain_id,
            max_priority_fee_per_gas: 1.into(),
            max_fee_per_gas: gas_price * 2,
            access_list: vec![],
            authorization_list: vec![auth],
        },
        nonce,
        vec![],
    );
    // Intrinsic gas of an authorization is higher than on Ethereum: give it room.
    let t7702 = EthTransaction {
        gas: 300_000.into(),
        ..t7702
    }
    .sign(&eth_key_7702())
    .unwrap();
    assert_eq!(t7702.recover_sender().unwrap().0, eth_from_7702);
    // A rerun on the same devnet may find the same transaction still pending ("known").
    match send_eth(&net, &t7702) {
        Ok(h) => assert_eq!(h, t7702.hash(), "EIP-7702 hash is ours"),
        Err(e) => eprintln!("EIP-7702 send: {e}"),
    }
    // The node's view of it, pending or mined: its hash and the sender it recovered.
    let seen = wait("the EIP-7702 transaction in the node", 10, || {
        let v: Value = net
            .eth
            .call("eth_getTransactionByHash", json!([t7702.hash()]))
            .unwrap();
        (!v.is_null()).then_some(v)
    });
    {
        {
            assert_eq!(seen["hash"], json!(t7702.hash()));
            let from: H160 = serde_json::from_value(seen["from"].clone()).unwrap();
            assert_eq!(from, eth_from_7702, "{seen}");
            assert_eq!(seen["type"], "0x4", "{seen}");
            eprintln!(
                "EIP-7702 transaction {:?}: blockHash {}",
                t7702.hash(),
                seen["blockHash"]
            );
            vectors.push(json!({
                "type": 4,
                "raw": format!("0x{}", hex::encode(t7702.encode())),
                "hash": seen["hash"],
                "from": seen["from"],
                "chainId": seen["chainId"],
            }));
        }
    }
    if let Some(path) = std::env::var_os("CFXLIGHT_WRITE_ESPACE_VECTORS") {
        let doc = json!({
            "comment": "eSpace transactions signed by cfxlight (node/tests/espace.rs) and reported by a conflux-rust v3.0.2 devnet's eth_getTransactionByHash (hash, from, chainId)",
            "vectors": vectors,
        });
        std::fs::write(path, serde_json::to_string_pretty(&doc).unwrap() + "\n").unwrap();
    }

    // Our node on the devnet, once its verified state passes the carrying epoch.
    let data = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let ours_url = format!("http://127.0.0.1:{port}");
    let _node = common::Killed(
        common::node_command(&net.d, data.path(), "127.77.0.1")
            .args(["--rpc-http-port", &port.to_string()])
            .args(["--rpc-ws-port", &common::free_port().to_string()])
            .spawn()
            .unwrap(),
    );
    let ours = RpcClient::new(&ours_url);
    wait("our latest_state past the carrying epoch", 60, || {
        let s = ours
            .call::<Value>("cfx_epochNumber", json!(["latest_state"]))
            .ok()?;
        (quantity(&s) > epoch).then_some(())
    });

    let e = format!("{epoch:#x}");
    let block_number = net
        .full
        .call::<Value>("cfx_getBlockByHash", json!([block, false]))
        .unwrap()["blockNumber"]
        .clone();
    let from_epoch = format!("{:#x}", epoch.saturating_sub(6));
    let mut requests = vec![
        ("cfx_getBlockByHash", json!([block, true])),
        ("cfx_getBlockByHash", json!([block, false])),
        ("cfx_getBlockByEpochNumber", json!([e, true])),
        ("cfx_getBlockByEpochNumber", json!([e, false])),
        ("cfx_getBlockByBlockNumber", json!([block_number, true])),
        ("cfx_getBlocksByEpoch", json!([e])),
        (
            "cfx_getBlockByHashWithPivotAssumption",
            json!([
                block,
                net.full
                    .call::<Value>("cfx_getBlockByEpochNumber", json!([e, false]))
                    .unwrap()["hash"],
                e
            ]),
        ),
        ("cfx_feeHistory", json!(["0x6", e, [10, 50, 90]])),
        (
            "cfx_getLogs",
            json!([{"fromEpoch": from_epoch, "toEpoch": e}]),
        ),
    ];
    for h in &core_hashes {
        requests.push(("cfx_getTransactionByHash", json!([h])));
        requests.push(("cfx_getTransactionReceipt", json!([h])));
    }
    // eSpace hashes: unknown to the Core RPC (null), on both.
    if let Some(v) = vectors.first() {
        requests.push(("cfx_getTransactionByHash", json!([v["hash"]])));
        requests.push(("cfx_getTransactionReceipt", json!([v["hash"]])));
    }
    let mut equal = 0;
    for (method, params) in &requests {
        let theirs = raw_call(&net.full_url, method, params.clone());
        let mine = raw_call(&ours_url, method, params.clone());
        assert_eq!(
            mine, theirs,
            "{method} {params}: ours (left) differs from the full node's (right)"
        );
        equal += 1;
    }
    // The block shows Core transactions only, indexed among themselves.
    let b = raw_call(&ours_url, "cfx_getBlockByHash", json!([block, true]));
    let txs = b["result"]["transactions"].as_array().unwrap();
    for (i, t) in txs.iter().enumerate() {
        assert_eq!(quantity(&t["transactionIndex"]), i as u64);
    }
    assert!(!txs.is_empty());
    eprintln!(
        "{equal} requests equal on the block {block:?} of epoch {epoch} with {} Core txs",
        txs.len()
    );
}
