//! A peer that stops reading (H3 of the security review), with a fault-injecting fake
//! provider (named as such) on loopback: it completes the handshake and answers the status
//! ping, then never reads again. Writes to it time out and the session is dropped instead
//! of wedging every writer behind it, and a broadcast to it and to a healthy peer finishes
//! within the per-peer deadline. Not gated: no devnet needed.

#![allow(clippy::unwrap_used, missing_docs)] // a test may stop at the first surprise

mod common;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use cfxlight_node::{
    light::{
        message,
        peer::{ChainIdentity, LightPeer, WRITE_TIMEOUT},
        peers::{PeerSet, SEND_TIMEOUT},
    },
    wire::{frame, session, NodeUrl},
};
use cfxlight_primitives::H256;
use k256::SecretKey;

const CHAIN: ChainIdentity = ChainIdentity {
    network_id: 2029,
    chain_id: 2029,
    genesis_hash: H256::zero(),
};

/// A provider that answers the first StatusPing, then reads (`reads`) or stops reading.
async fn fake(reads: bool) -> NodeUrl {
    let (listener, key, url) = common::liar::listener().await;
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        // A small receive buffer, so our writes fill it soon.
        let _ = socket2::SockRef::from(&stream).set_recv_buffer_size(4096);
        common::liar::accept(&mut stream, &key, CHAIN.network_id).await;
        loop {
            let Ok(p) = frame::read(&mut stream, session::MAX_PACKET).await else {
                return;
            };
            let Ok(session::Packet::User { payload, .. }) = session::parse_packet(&p) else {
                continue;
            };
            if payload.last() == Some(&message::id::STATUS_PING_V2) {
                let pong = common::liar::pong(CHAIN.chain_id, &CHAIN.genesis_hash, 10);
                frame::write(&mut stream, &pong).await.unwrap();
                if !reads {
                    // Holds the connection open and never reads again.
                    tokio::time::sleep(Duration::from_secs(600)).await;
                    return;
                }
            }
        }
    });
    url
}

async fn connect(url: &NodeUrl) -> Arc<LightPeer> {
    Arc::new(
        LightPeer::connect(url, &SecretKey::random(&mut rand::rngs::OsRng), CHAIN, None)
            .await
            .unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_stops_reading_is_dropped_not_waited_on() {
    let stalled = connect(&fake(false).await).await;
    let healthy = connect(&fake(true).await).await;
    let big = vec![0xabu8; 1 << 20];
    // Writes fill the stalled peer's buffers; then one times out and the peer is dead.
    let t = Instant::now();
    let mut failed = false;
    for _ in 0..200 {
        if stalled.send_raw_tx(&big).await.is_err() {
            failed = true;
            break;
        }
    }
    assert!(failed, "every write to a peer that never reads succeeded");
    assert!(
        !stalled.is_alive(),
        "the stalled peer still counts as alive"
    );
    assert!(
        t.elapsed() < WRITE_TIMEOUT + Duration::from_secs(20),
        "{:?}",
        t.elapsed()
    );
    // The next write fails at once, without waiting again.
    let t = Instant::now();
    assert!(stalled.send_raw_tx(b"x").await.is_err());
    assert!(t.elapsed() < Duration::from_secs(1));
    // A broadcast to a stalled peer and a healthy one is bounded by the per-peer deadline
    // (a fresh stalled peer, whose writes still block rather than fail at once).
    let stalled2 = connect(&fake(false).await).await;
    for _ in 0..50 {
        if tokio::time::timeout(Duration::from_millis(200), stalled2.send_raw_tx(&big))
            .await
            .is_err()
        {
            break;
        }
    }
    let set = PeerSet::default();
    set.set(vec![stalled2.clone(), healthy.clone()]);
    let t = Instant::now();
    let sent = set.broadcast_raw_tx(&big).await;
    assert!(
        t.elapsed() < SEND_TIMEOUT + Duration::from_secs(2),
        "{:?}",
        t.elapsed()
    );
    assert!(sent >= 1, "the healthy peer took it");
    assert!(healthy.is_alive());
}
