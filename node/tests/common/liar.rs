//! Fault injection: a *lying* light-protocol provider for the header chain (named as such:
//! it exists only to lie). It relays the real conflux-rust node for every epoch it was not
//! told to fake, and serves an overlay of fabricated epochs and headers on top: a higher
//! claimed tip, forks, epochs with blocks added, hidden or reordered, headers that break
//! one rule each. Headers it fabricates are built the way the real dev node builds them
//! (difficulty 4, zero pos_reference, base price, custom [4]) with their test PoW solved,
//! so that each breaks exactly the rule a test says. It also relays blooms, receipts and
//! block bodies, and can withhold the blooms (every log fetch then fails, nothing else).

#![allow(dead_code)]

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex},
};

use cfxlight_node::{
    light::{
        message,
        peer::{ChainIdentity, LightPeer},
    },
    wire::{ecies, frame, session, NodeUrl},
};
use cfxlight_primitives::{header::BlockHeader, H256};
use k256::SecretKey;
use rand::RngCore;
use rlp::RlpStream;
use tokio::net::{TcpListener, TcpStream};

/// What the liar serves instead of the real node.
#[derive(Default)]
pub struct Overlay {
    /// StatusPong's best epoch (else the real node's as of the liar's connection).
    pub claimed_tip: Option<u64>,
    /// Epoch lists served instead of the real ones (pivot last).
    pub epochs: BTreeMap<u64, Vec<H256>>,
    /// Headers served besides the real ones.
    pub headers: HashMap<H256, BlockHeader>,
    /// Answer GetBlockHashesByEpoch with nothing at all.
    pub empty_hashes: bool,
    /// Answer GetBlooms with no bloom at all (else relay the real node's): every log
    /// fetch fails while this is set, and nothing else does.
    pub withhold_blooms: bool,
    /// Answer each StatusPing with the real node's tip of now (asked for at that moment),
    /// not as of the liar's connection: the node under test follows the live chain.
    pub follow_upstream: bool,
}

/// An overlay shared with a running liar (a test may change it while it runs).
pub type Shared = Arc<Mutex<Overlay>>;

/// Responder side of conflux-rust's handshake, then our HELLO.
pub async fn accept(stream: &mut TcpStream, key: &SecretKey, network_id: u64) {
    let auth = frame::read(stream, 1024).await.unwrap();
    let plain = ecies::decrypt(key, &auth).unwrap();
    let initiator =
        ecies::public_key(&cfxlight_primitives::H512::from_slice(&plain[..64])).unwrap();
    let mut nonce = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let reply = [&plain[64..96], &nonce[..]].concat();
    frame::write(stream, &ecies::encrypt(&initiator, &reply))
        .await
        .unwrap();
    let ack = frame::read(stream, 1024).await.unwrap();
    assert_eq!(ecies::decrypt(key, &ack).unwrap(), nonce);
    frame::write(stream, &session::hello_packet(network_id, 1))
        .await
        .unwrap();
}

/// A listener on a free loopback port with a fresh node key, and the URL to dial it.
pub async fn listener() -> (TcpListener, SecretKey, NodeUrl) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let key = SecretKey::random(&mut rand::rngs::OsRng);
    let url = NodeUrl {
        id: ecies::node_id(&key.public_key()),
        host: "127.0.0.1".into(),
        port: listener.local_addr().unwrap().port(),
    };
    (listener, key, url)
}

/// A StatusPongV2 as a full node of this chain claiming `tip` sends it.
pub fn pong(chain_id: u32, genesis: &H256, tip: u64) -> Vec<u8> {
    let mut s = RlpStream::new_list(5);
    s.append(&tip);
    s.begin_list(1).append(&chain_id);
    s.append(genesis)
        .append(&1u8)
        .append_list::<H256, H256>(&[]);
    session::user_packet(&s.out(), message::id::STATUS_PONG_V2)
}

/// A child of `parent` as the dev node would mine it, changed by `tweak`, PoW solved.
pub fn child(parent: &BlockHeader, tweak: impl Fn(&mut BlockHeader)) -> BlockHeader {
    let mut h = parent.clone();
    h.parent_hash = parent.hash();
    h.height = parent.height + 1;
    h.timestamp = parent.timestamp + 1;
    h.referee_hashes = vec![];
    h.blame = 0;
    h.difficulty = 4.into();
    // A liar's state: roots nobody can prove against.
    h.deferred_state_root = H256::repeat_byte(0x5a);
    tweak(&mut h);
    solve(h)
}

/// Finds a nonce that solves the header's test PoW at its difficulty (difficulty ≤ 1 is
/// solved by any nonce).
pub fn solve(mut h: BlockHeader) -> BlockHeader {
    for n in 0u64.. {
        h.nonce = n.into();
        if h.verify_test_pow().is_ok() {
            break;
        }
    }
    h.rehash();
    h
}

/// The header with a nonce that does NOT solve its PoW.
pub fn unsolve(mut h: BlockHeader) -> BlockHeader {
    for n in 0u64.. {
        h.nonce = n.into();
        if h.verify_test_pow().is_err() {
            break;
        }
    }
    h.rehash();
    h
}

/// A chain of `n` fabricated single-block epochs on top of `parent`; `tweak(i, header)`
/// may change the i-th (0-based) before it is solved. Returns the headers in order.
pub fn fabricate(
    parent: &BlockHeader,
    n: usize,
    tweak: impl Fn(usize, &mut BlockHeader),
) -> Vec<BlockHeader> {
    let mut out: Vec<BlockHeader> = Vec::with_capacity(n);
    for i in 0..n {
        let p = out.last().unwrap_or(parent).clone();
        out.push(child(&p, |h| tweak(i, h)));
    }
    out
}

impl Overlay {
    /// Serves `chain` as single-block epochs (each header its epoch's pivot).
    pub fn with_chain(mut self, chain: &[BlockHeader]) -> Overlay {
        for h in chain {
            self.epochs.insert(h.height, vec![h.hash()]);
            self.headers.insert(h.hash(), h.clone());
        }
        self
    }

    /// Also serves these headers (blocks listed in some epoch, or hidden ones).
    pub fn with_headers(mut self, hs: &[BlockHeader]) -> Overlay {
        for h in hs {
            self.headers.insert(h.hash(), h.clone());
        }
        self
    }

    /// Claims this tip.
    pub fn claiming(mut self, tip: u64) -> Overlay {
        self.claimed_tip = Some(tip);
        self
    }
}

async fn serve(
    mut stream: TcpStream,
    key: SecretKey,
    chain: ChainIdentity,
    upstream: Arc<LightPeer>,
    overlay: Shared,
) {
    accept(&mut stream, &key, chain.network_id).await;
    loop {
        let Ok(p) = frame::read(&mut stream, session::MAX_PACKET).await else {
            return;
        };
        let Ok(session::Packet::User { payload, .. }) = session::parse_packet(&p) else {
            continue;
        };
        let (msg_id, body) = (payload[payload.len() - 1], &payload[..payload.len() - 1]);
        let r = rlp::Rlp::new(body);
        let (answer, id): (Vec<u8>, u8) = match msg_id {
            message::id::STATUS_PING_V2 => {
                if overlay.lock().unwrap().follow_upstream {
                    let _ = upstream.ping().await;
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                let st = upstream.status();
                let tip = overlay.lock().unwrap().claimed_tip.unwrap_or(st.best_epoch);
                if frame::write(&mut stream, &pong(st.chain_id, &st.genesis_hash, tip))
                    .await
                    .is_err()
                {
                    return;
                }
                continue;
            }
            message::id::GET_BLOCK_HASHES_BY_EPOCH => {
                let req: u64 = r.val_at(0).unwrap();
                let epochs: Vec<u64> = r.list_at(1).unwrap();
                let mut hashes = vec![];
                if !overlay.lock().unwrap().empty_hashes {
                    for e in epochs {
                        let fake = overlay.lock().unwrap().epochs.get(&e).cloned();
                        match fake {
                            Some(list) => hashes.extend(list),
                            None => {
                                if let Ok(real) = upstream.block_hashes_by_epoch(&[e]).await {
                                    hashes.extend(real);
                                }
                            }
                        }
                    }
                }
                let mut s = RlpStream::new_list(2);
                s.append(&req).append_list(&hashes);
                (s.out().to_vec(), message::id::BLOCK_HASHES)
            }
            message::id::GET_BLOCK_HEADERS => {
                let req: u64 = r.val_at(0).unwrap();
                let asked: Vec<H256> = r.list_at(1).unwrap();
                let (fake, real): (Vec<H256>, Vec<H256>) = {
                    let o = overlay.lock().unwrap();
                    asked.iter().partition(|h| o.headers.contains_key(h))
                };
                let mut headers: Vec<BlockHeader> = {
                    let o = overlay.lock().unwrap();
                    fake.iter().map(|h| o.headers[h].clone()).collect()
                };
                if !real.is_empty() {
                    headers.extend(upstream.block_headers(&real).await.unwrap_or_default());
                }
                let mut s = RlpStream::new_list(2);
                s.append(&req).begin_list(headers.len());
                for h in &headers {
                    s.append_raw(&h.rlp(), 1);
                }
                (s.out().to_vec(), message::id::BLOCK_HEADERS)
            }
            message::id::GET_WITNESS_INFO => {
                let req: u64 = r.val_at(0).unwrap();
                let heights: Vec<u64> = r.list_at(1).unwrap();
                let infos = upstream.witness_info(&heights).await.unwrap_or_default();
                let mut s = RlpStream::new_list(2);
                s.append(&req).begin_list(infos.len());
                for w in &infos {
                    s.begin_list(4)
                        .append(&w.height)
                        .append_list(&w.state_root_hashes)
                        .append_list(&w.receipt_hashes)
                        .append_list(&w.bloom_hashes);
                }
                (s.out().to_vec(), message::id::WITNESS_INFO)
            }
            message::id::GET_BLOOMS => {
                let req: u64 = r.val_at(0).unwrap();
                let epochs: Vec<u64> = r.list_at(1).unwrap();
                let blooms = if overlay.lock().unwrap().withhold_blooms {
                    vec![]
                } else {
                    upstream.blooms(&epochs).await.unwrap_or_default()
                };
                let mut s = RlpStream::new_list(2);
                s.append(&req).begin_list(blooms.len());
                for (e, b) in &blooms {
                    s.begin_list(2).append(e).append(b);
                }
                (s.out().to_vec(), message::id::BLOOMS)
            }
            message::id::GET_RECEIPTS => {
                let req: u64 = r.val_at(0).unwrap();
                let epochs: Vec<u64> = r.list_at(1).unwrap();
                let got = upstream.receipts(&epochs).await.unwrap_or_default();
                let mut s = RlpStream::new_list(2);
                s.append(&req).begin_list(got.len());
                for (e, blocks) in &got {
                    s.begin_list(2).append(e).append_list(blocks);
                }
                (s.out().to_vec(), message::id::RECEIPTS)
            }
            message::id::GET_BLOCK_TXS => {
                let req: u64 = r.val_at(0).unwrap();
                let hashes: Vec<H256> = r.list_at(1).unwrap();
                let bodies = upstream.block_txs(&hashes).await.unwrap_or_default();
                let mut s = RlpStream::new_list(2);
                s.append(&req).begin_list(bodies.len());
                for (hash, txs) in &bodies {
                    let txs = txs.as_deref().unwrap_or_default();
                    s.begin_list(2).append(hash).begin_list(txs.len());
                    // The provider's local form `[tx, sender, public]`: only the
                    // transaction is read (the sender is recovered, never believed).
                    for tx in txs {
                        s.begin_list(3)
                            .append(tx)
                            .append(&cfxlight_primitives::H160::zero())
                            .append_empty_data();
                    }
                }
                (s.out().to_vec(), message::id::BLOCK_TXS)
            }
            // Everything else goes unanswered: the node's readers time out on the liar
            // and ask the next peer.
            _ => continue,
        };
        if frame::write(&mut stream, &session::user_packet(&answer, id))
            .await
            .is_err()
        {
            return;
        }
    }
}

/// Starts a liar in front of the real node (`upstream`), serving every connection it
/// gets with `overlay`; returns its URL.
pub async fn spawn(upstream: Arc<LightPeer>, chain: ChainIdentity, overlay: Shared) -> NodeUrl {
    let (listener, key, url) = listener().await;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(
                stream,
                key.clone(),
                chain,
                upstream.clone(),
                overlay.clone(),
            ));
        }
    });
    url
}

/// The devnet under test (`CFXLIGHT_DEVNET`): its bootnode, chain identity and devnet.json.
pub fn devnet() -> Option<(NodeUrl, ChainIdentity, serde_json::Value)> {
    let dir = super::devnet_dir()?;
    let d = super::devnet_json(&dir);
    Some((
        d["bootnode"].as_str().unwrap().parse().unwrap(),
        ChainIdentity {
            network_id: d["network_id"].as_u64().unwrap(),
            chain_id: d["chain_id"].as_u64().unwrap() as u32,
            genesis_hash: d["genesis_hash"].as_str().unwrap().parse().unwrap(),
        },
        d,
    ))
}
