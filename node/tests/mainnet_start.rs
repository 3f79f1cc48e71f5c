//! `cfxlight node --chain mainnet` (and testnet) without a network: a local listener takes
//! the node's connection in place of a bootnode and records what it sends. The node needs
//! no `--genesis-hash` (the specs pin it), sends the pinned genesis and chain id in its
//! StatusPing, starts from the bundled checkpoint (refused as too old unless allowed), and
//! verifies a checkpoint header's Octopus PoW before it asks for anything else.
//!
//! Not gated: it runs no devnet and dials only 127.0.0.1.

#![allow(clippy::unwrap_used, missing_docs)] // a test may stop at the first surprise

mod common;

use std::time::Duration;

use cfxlight_node::{
    light::message,
    wire::{frame, session},
};
use cfxlight_primitives::{header::BlockHeader, H256, U256};
use rlp::RlpStream;
use serde_json::Value;
use tokio::sync::mpsc;

/// What the node sent: StatusPing (chain id, genesis) and requests (message id, body).
#[derive(Debug)]
enum Seen {
    Ping { chain_id: u32, genesis: H256 },
    Request { id: u8, body: Vec<u8> },
}

/// A listener that answers as a mainnet provider claiming `tip`, serving `headers`.
async fn fake_bootnode(
    genesis: H256,
    chain_id: u32,
    network_id: u64,
    tip: u64,
    headers: Vec<BlockHeader>,
) -> (String, mpsc::UnboundedReceiver<Seen>) {
    let (listener, key, node_url) = common::liar::listener().await;
    let url = format!(
        "cfxnode://{}@127.0.0.1:{}",
        hex::encode(node_url.id.as_bytes()),
        node_url.port
    );
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            common::liar::accept(&mut stream, &key, network_id).await;
            while let Ok(p) = frame::read(&mut stream, session::MAX_PACKET).await {
                let Ok(session::Packet::User { payload, .. }) = session::parse_packet(&p) else {
                    continue;
                };
                let (id, body) = (payload[payload.len() - 1], &payload[..payload.len() - 1]);
                let r = rlp::Rlp::new(body);
                let answer = match id {
                    message::id::STATUS_PING_V2 => {
                        let _ = tx.send(Seen::Ping {
                            chain_id: r.at(0).unwrap().val_at(0).unwrap(),
                            genesis: r.val_at(1).unwrap(),
                        });
                        let pong = common::liar::pong(chain_id, &genesis, tip);
                        if frame::write(&mut stream, &pong).await.is_err() {
                            break;
                        }
                        None
                    }
                    message::id::GET_BLOCK_HEADERS => {
                        let _ = tx.send(Seen::Request {
                            id,
                            body: body.to_vec(),
                        });
                        let req: u64 = r.val_at(0).unwrap();
                        let asked: Vec<H256> = r.list_at(1).unwrap();
                        let served: Vec<&BlockHeader> = headers
                            .iter()
                            .filter(|h| asked.contains(&h.hash()))
                            .collect();
                        let mut s = RlpStream::new_list(2);
                        s.append(&req).begin_list(served.len());
                        for h in served {
                            s.append_raw(&h.rlp(), 1);
                        }
                        Some((s.out().to_vec(), message::id::BLOCK_HEADERS))
                    }
                    _ => {
                        let _ = tx.send(Seen::Request {
                            id,
                            body: body.to_vec(),
                        });
                        None
                    }
                };
                if let Some((a, aid)) = answer {
                    if frame::write(&mut stream, &session::user_packet(&a, aid))
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }
    });
    (url, rx)
}

/// `cfxlight node --chain <chain>` dialling only `bootnode`, with these extra flags.
fn node(chain: &str, bootnode: &str, datadir: &std::path::Path, extra: &[&str]) -> common::Killed {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_cfxlight"));
    c.args([
        "node",
        "--chain",
        chain,
        "--only-bootnodes",
        "--bootnode",
        bootnode,
    ])
    .arg("--datadir")
    .arg(datadir)
    .args([
        "--rpc-http-port",
        "0",
        "--rpc-ws-port",
        "0",
        "--rpc-local-port",
        "0",
    ])
    .args(extra)
    .stdout(std::process::Stdio::null())
    .stderr(std::fs::File::create(datadir.with_extension("log")).unwrap());
    common::Killed(c.spawn().unwrap())
}

fn log_of(datadir: &std::path::Path) -> String {
    std::fs::read_to_string(datadir.with_extension("log")).unwrap_or_default()
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Seen>) -> Seen {
    tokio::time::timeout(Duration::from_secs(30), rx.recv())
        .await
        .expect("the node sent nothing in 30 s")
        .expect("listener ended")
}

fn data_row(height: u64) -> BlockHeader {
    let rows: Vec<Value> = serde_json::from_str(include_str!(
        "../../primitives/tests/data/mainnet-testnet-headers.json"
    ))
    .unwrap();
    let row = rows.iter().find(|r| r["height"] == height).unwrap();
    let raw = hex::decode(row["header_rlp"].as_str().unwrap().trim_start_matches("0x")).unwrap();
    BlockHeader::decode(&raw).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mainnet_and_testnet_start_with_their_pinned_genesis_and_bundled_checkpoint() {
    for (chain, chain_id, genesis) in [
        (
            "mainnet",
            1029u32,
            "0xf6cec5af1ee95f56038fc30589bcfeb4b960075c3c76b8a0eaa6d36e8e623b50",
        ),
        (
            "testnet",
            1,
            "0x3fb9d350f95424c3c27fcf248d9a6f633a83c2a75c11ef887ea41540c85e7804",
        ),
    ] {
        let genesis: H256 = genesis.parse().unwrap();
        let (url, mut rx) = fake_bootnode(genesis, chain_id, u64::from(chain_id), 10, vec![]).await;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let _n = node(chain, &url, &data, &["--allow-old-checkpoint"]);
        match next(&mut rx).await {
            Seen::Ping {
                chain_id: c,
                genesis: g,
            } => {
                assert_eq!((c, g), (chain_id, genesis), "{chain}")
            }
            other => panic!("{chain}: first message {other:?}"),
        }
        // Mainnet asks for its bundled checkpoint's header by hash; testnet (no checkpoint
        // bundled) for its genesis.
        let want: H256 = match chain {
            "mainnet" => "0xdfb71b9e45d558714ef9772a868e5c62954c42a57df0adb1d6e21544dd40df2d"
                .parse()
                .unwrap(),
            _ => genesis,
        };
        match next(&mut rx).await {
            Seen::Request { id, body } => {
                assert_eq!(id, message::id::GET_BLOCK_HEADERS, "{chain}");
                let asked: Vec<H256> = rlp::Rlp::new(&body).list_at(1).unwrap();
                assert_eq!(asked, vec![want], "{chain}");
            }
            other => panic!("{chain}: second message {other:?}"),
        }
        let log = log_of(&data);
        assert!(log.contains("verifies Octopus PoW"), "{chain}: {log}");
        assert!(
            !log.to_lowercase().contains("not verified"),
            "{chain}: {log}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_bundled_checkpoint_is_refused_before_any_connection() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (url, mut rx) = fake_bootnode(H256::zero(), 1029, 1029, 10, vec![]).await;
    let mut n = node("mainnet", &url, &data, &[]);
    let status = n.0.wait().unwrap();
    assert!(!status.success());
    let log = log_of(&data);
    assert!(
        log.contains("--allow-old-checkpoint") && log.contains("days old"),
        "{log}"
    );
    assert!(rx.try_recv().is_err(), "the node dialled before refusing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkpoint_header_is_octopus_checked_before_anything_else_is_asked() {
    let genesis: H256 = "0xf6cec5af1ee95f56038fc30589bcfeb4b960075c3c76b8a0eaa6d36e8e623b50"
        .parse()
        .unwrap();
    let good = data_row(16_240_412);
    let mut bad = good.clone();
    bad.nonce += U256::one();
    bad.rehash();
    for (header, passes) in [(good, true), (bad, false)] {
        let (url, mut rx) = fake_bootnode(
            genesis,
            1029,
            1029,
            header.height + 10,
            vec![header.clone()],
        )
        .await;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let cp = format!("{}:{:?}", header.height, header.hash());
        let _n = node(
            "mainnet",
            &url,
            &data,
            &["--checkpoint", &cp, "--allow-old-checkpoint"],
        );
        assert!(matches!(next(&mut rx).await, Seen::Ping { .. }));
        assert!(matches!(
            next(&mut rx).await,
            Seen::Request {
                id: message::id::GET_BLOCK_HEADERS,
                ..
            }
        ));
        // The next request (the checkpoint's epoch list) comes only after its PoW held.
        let after = tokio::time::timeout(Duration::from_secs(20), rx.recv()).await;
        let asked_on = matches!(
            after,
            Ok(Some(Seen::Request {
                id: message::id::GET_BLOCK_HASHES_BY_EPOCH,
                ..
            }))
        );
        assert_eq!(
            asked_on,
            passes,
            "nonce {}: {after:?}\n{}",
            header.nonce,
            log_of(&data)
        );
        if !passes {
            let log = log_of(&data);
            assert!(log.contains("proof of work"), "{log}");
        } else {
            // The stage cache was kept on disk for the next start.
            assert!(data.join("octopus").join("stage-30.bin").exists());
        }
    }
}
