//! One light-protocol peer: a session, a reader task that routes responses to waiting
//! requests by id, and a heartbeat under the provider's 180 s limit.
//!
//! Every answer is checked against its request here (right message, only items that were
//! asked for); what the answer *means* (hash chains, witnesses, proofs) is checked by sync.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

use cfxlight_primitives::{header::BlockHeader, H160, H256};
use k256::SecretKey;
use thiserror::Error;
use tokio::{
    io::WriteHalf,
    net::TcpStream,
    sync::{oneshot, watch, Mutex},
    task::JoinHandle,
};

use super::message::{
    self, Incoming, StateEntry, StatusPong, StorageRootEntry, TxInfo, WitnessInfo,
};
use crate::wire::{
    session::{self, Packet, SessionError, SessionWriter},
    NodeUrl,
};
use cfxlight_primitives::{receipt::BlockReceipts, Bloom};

/// conflux-rust's light client pings every 30 s; the provider drops peers silent ≥ 180 s.
pub const HEARTBEAT: Duration = Duration::from_secs(30);
/// How long a request may wait for its answer.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one write to a peer may take, lock included: a peer that stops reading is
/// dropped instead of wedging every writer behind it.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// A peer whose pongs stop coming for this long is dropped (conflux-rust's peers answer
/// every StatusPing; the heartbeat sends one every 30 s).
pub const PONG_DEADLINE: Duration = Duration::from_secs(180);

/// What a light peer needs to know about our chain.
#[derive(Debug, Clone, Copy)]
pub struct ChainIdentity {
    /// P2P network id (HELLO).
    pub network_id: u64,
    /// Core chain id (StatusPing).
    pub chain_id: u32,
    /// Genesis hash (StatusPing), which the provider requires to match its own.
    pub genesis_hash: H256,
}

/// Why a peer request failed.
#[derive(Debug, Error)]
pub enum PeerError {
    /// Session-level failure.
    #[error(transparent)]
    Session(#[from] SessionError),
    /// The peer is on another chain.
    #[error("peer is on another chain: genesis {genesis:?}, chain id {chain_id}")]
    WrongChain {
        /// Its genesis.
        genesis: H256,
        /// Its chain id.
        chain_id: u32,
    },
    /// The peer is not a full or archive node.
    #[error("peer is a light node (node type {0}); it cannot serve us")]
    NotAProvider(u8),
    /// No answer in time.
    #[error("peer did not answer {what} within {REQUEST_TIMEOUT:?}")]
    Timeout {
        /// Which request.
        what: &'static str,
    },
    /// The session ended.
    #[error("peer connection closed")]
    Closed,
    /// The answer is not what was asked for.
    #[error("peer misbehaved: {0}")]
    Misbehaved(String),
    /// The peer throttled the request.
    #[error("peer throttled the request; retry in {0:?}")]
    Throttled(Duration),
}

type Pending = Arc<std::sync::Mutex<HashMap<u64, oneshot::Sender<Incoming>>>>;

/// A connected, status-checked light-protocol provider.
pub struct LightPeer {
    /// The peer's address and verified node id.
    pub url: NodeUrl,
    writer: Mutex<SessionWriter<WriteHalf<TcpStream>>>,
    pending: Pending,
    next_id: AtomicU64,
    chain: ChainIdentity,
    status: watch::Receiver<StatusPong>,
    alive: watch::Receiver<bool>,
    /// Set when a write timed out or pongs stopped: the session is no longer trusted to work.
    failed: Arc<std::sync::atomic::AtomicBool>,
    /// When the last pong came, in ms since `started`.
    last_pong_ms: Arc<AtomicU64>,
    started: std::time::Instant,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for LightPeer {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl LightPeer {
    /// Connects, handshakes, exchanges HELLO and StatusPingV2/PongV2, and checks that the
    /// peer is a provider on our chain.
    pub async fn connect(
        url: &NodeUrl,
        key: &SecretKey,
        chain: ChainIdentity,
        local: Option<std::net::IpAddr>,
    ) -> Result<LightPeer, PeerError> {
        let mut s = session::connect(url, key, chain.network_id, 1, local).await?;
        let (ping, id) = message::status_ping(chain.chain_id, &chain.genesis_hash);
        s.writer.send(&session::user_packet(&ping, id)).await?;
        let pong = tokio::time::timeout(REQUEST_TIMEOUT, async {
            loop {
                match s.reader.next().await? {
                    Packet::User { protocol, payload } if protocol == session::LIGHT_PROTOCOL => {
                        if let Ok(Incoming::StatusPong(p)) = message::decode(&payload) {
                            return Ok(p);
                        }
                    }
                    Packet::Disconnect(r) => {
                        return Err(PeerError::Session(SessionError::Disconnected(r)))
                    }
                    _ => {}
                }
            }
        })
        .await
        .map_err(|_| PeerError::Timeout { what: "StatusPing" })??;
        if pong.genesis_hash != chain.genesis_hash || pong.chain_id != chain.chain_id {
            return Err(PeerError::WrongChain {
                genesis: pong.genesis_hash,
                chain_id: pong.chain_id,
            });
        }
        if pong.node_type == message::NODE_TYPE_LIGHT {
            return Err(PeerError::NotAProvider(pong.node_type));
        }
        let (status_tx, status) = watch::channel(pong);
        let (alive_tx, alive) = watch::channel(true);
        let pending: Pending = Arc::default();
        let reader_pending = pending.clone();
        let started = std::time::Instant::now();
        let last_pong_ms = Arc::new(AtomicU64::new(0));
        let reader_pong = last_pong_ms.clone();
        let mut reader = s.reader;
        let reader_task = tokio::spawn(async move {
            loop {
                let packet = match reader.next().await {
                    Ok(p) => p,
                    Err(_) => break,
                };
                let Packet::User { protocol, payload } = packet else {
                    if matches!(packet, Packet::Disconnect(_)) {
                        break;
                    }
                    continue;
                };
                if protocol != session::LIGHT_PROTOCOL {
                    continue;
                }
                let Ok(msg) = message::decode(&payload) else {
                    // A malformed message ends the session: the peer is broken or lying.
                    break;
                };
                let request_id = match &msg {
                    Incoming::BlockHashes { request_id, .. }
                    | Incoming::BlockHeaders { request_id, .. }
                    | Incoming::WitnessInfo { request_id, .. }
                    | Incoming::StateEntries { request_id, .. }
                    | Incoming::StorageRoots { request_id, .. }
                    | Incoming::BlockTxs { request_id, .. }
                    | Incoming::Receipts { request_id, .. }
                    | Incoming::TxInfos { request_id, .. }
                    | Incoming::Blooms { request_id, .. } => Some(*request_id),
                    Incoming::Throttled { request_id, .. } => *request_id,
                    Incoming::StatusPong(p) => {
                        let _ = status_tx.send(p.clone());
                        let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                        reader_pong.store(ms, Ordering::Relaxed);
                        None
                    }
                    Incoming::NewBlockHashes(_) | Incoming::Other(_) => None,
                };
                if let Some(id) = request_id {
                    let waiter = reader_pending.lock().ok().and_then(|mut m| m.remove(&id));
                    if let Some(w) = waiter {
                        let _ = w.send(msg);
                    }
                }
            }
            let _ = alive_tx.send(false);
            // Wake every waiter: their senders drop with the map entries.
            if let Ok(mut m) = reader_pending.lock() {
                m.clear();
            }
        });
        let peer = LightPeer {
            url: url.clone(),
            writer: Mutex::new(s.writer),
            pending,
            // Not guessable: a peer cannot answer requests it never read.
            next_id: AtomicU64::new(rand::random::<u64>() >> 1),
            chain,
            status,
            alive,
            failed: Arc::default(),
            last_pong_ms,
            started,
            tasks: vec![reader_task],
        };
        Ok(peer)
    }

    /// Starts the heartbeat, which ends when the peer is dropped or the session fails.
    pub fn spawn_heartbeat(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(HEARTBEAT);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(peer) = weak.upgrade() else { break };
                if peer.ping().await.is_err() {
                    break;
                }
                if peer.since_last_pong() > PONG_DEADLINE {
                    crate::log::warn(&format!(
                        "peer {}: no pong for {:?}, dropping it",
                        peer.url, PONG_DEADLINE
                    ));
                    peer.failed.store(true, Ordering::Relaxed);
                    break;
                }
            }
        });
    }

    /// Sends a StatusPing; the pong updates [`LightPeer::status`] when it arrives.
    pub async fn ping(&self) -> Result<(), PeerError> {
        let (ping, id) = message::status_ping(self.chain.chain_id, &self.chain.genesis_hash);
        self.send_raw_packet(&session::user_packet(&ping, id)).await
    }

    /// The provider's latest status (updated by every pong).
    pub fn status(&self) -> StatusPong {
        self.status.borrow().clone()
    }

    /// Whether the session is still up (and neither a write nor the pongs timed out).
    pub fn is_alive(&self) -> bool {
        *self.alive.borrow() && !self.failed.load(Ordering::Relaxed)
    }

    /// Time since the last pong (since the connection, before any).
    pub fn since_last_pong(&self) -> Duration {
        let last = Duration::from_millis(self.last_pong_ms.load(Ordering::Relaxed));
        self.started.elapsed().saturating_sub(last)
    }

    async fn send_raw_packet(&self, packet: &[u8]) -> Result<(), PeerError> {
        if self.failed.load(Ordering::Relaxed) {
            return Err(PeerError::Closed);
        }
        let write = async { self.writer.lock().await.send(packet).await };
        match tokio::time::timeout(WRITE_TIMEOUT, write).await {
            Ok(r) => r.map_err(PeerError::from),
            Err(_) => {
                // A half-written frame leaves the session unusable: it is dropped.
                self.failed.store(true, Ordering::Relaxed);
                Err(PeerError::Timeout { what: "a write" })
            }
        }
    }

    async fn request(
        &self,
        what: &'static str,
        build: impl FnOnce(u64) -> (Vec<u8>, u8),
    ) -> Result<Incoming, PeerError> {
        if !self.is_alive() {
            return Err(PeerError::Closed);
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.pending
            .lock()
            .map_err(|_| PeerError::Closed)?
            .insert(id, tx);
        let (body, msg_id) = build(id);
        if let Err(e) = self
            .send_raw_packet(&session::user_packet(&body, msg_id))
            .await
        {
            self.forget(id);
            return Err(e);
        }
        let answer = tokio::time::timeout(REQUEST_TIMEOUT, rx).await;
        self.forget(id);
        match answer {
            Err(_) => Err(PeerError::Timeout { what }),
            Ok(Err(_)) => Err(PeerError::Closed),
            Ok(Ok(Incoming::Throttled { wait_nanos, .. })) => {
                Err(PeerError::Throttled(Duration::from_nanos(wait_nanos)))
            }
            Ok(Ok(msg)) => Ok(msg),
        }
    }

    fn forget(&self, id: u64) {
        if let Ok(mut m) = self.pending.lock() {
            m.remove(&id);
        }
    }

    /// Block hashes of `epochs`, flattened per epoch (each epoch's pivot block last).
    pub async fn block_hashes_by_epoch(&self, epochs: &[u64]) -> Result<Vec<H256>, PeerError> {
        match self
            .request("GetBlockHashesByEpoch", |id| {
                message::get_block_hashes_by_epoch(id, epochs)
            })
            .await?
        {
            Incoming::BlockHashes { hashes, .. } => Ok(hashes),
            other => Err(PeerError::Misbehaved(format!(
                "answered GetBlockHashesByEpoch with {other:?}"
            ))),
        }
    }

    /// Headers by hash; every returned header must hash to one that was asked for.
    pub async fn block_headers(&self, hashes: &[H256]) -> Result<Vec<BlockHeader>, PeerError> {
        match self
            .request("GetBlockHeaders", |id| {
                message::get_block_headers(id, hashes)
            })
            .await?
        {
            Incoming::BlockHeaders { headers, .. } => {
                if let Some(h) = headers.iter().find(|h| !hashes.contains(&h.hash())) {
                    return Err(PeerError::Misbehaved(format!(
                        "sent header {:?} that was not asked for (or altered)",
                        h.hash()
                    )));
                }
                Ok(headers)
            }
            other => Err(PeerError::Misbehaved(format!(
                "answered GetBlockHeaders with {other:?}"
            ))),
        }
    }

    /// Blame witnesses for `heights`.
    pub async fn witness_info(&self, heights: &[u64]) -> Result<Vec<WitnessInfo>, PeerError> {
        match self
            .request("GetWitnessInfo", |id| {
                message::get_witness_info(id, heights)
            })
            .await?
        {
            Incoming::WitnessInfo { infos, .. } => {
                if infos.iter().any(|w| !heights.contains(&w.height)) {
                    return Err(PeerError::Misbehaved(
                        "sent a witness that was not asked for".into(),
                    ));
                }
                Ok(infos)
            }
            other => Err(PeerError::Misbehaved(format!(
                "answered GetWitnessInfo with {other:?}"
            ))),
        }
    }

    /// State entries with their (unverified) proofs; only keys that were asked for.
    pub async fn state_entries(
        &self,
        keys: &[(u64, Vec<u8>)],
    ) -> Result<Vec<StateEntry>, PeerError> {
        match self
            .request("GetStateEntries", |id| message::get_state_entries(id, keys))
            .await?
        {
            Incoming::StateEntries { entries, .. } => {
                if entries
                    .iter()
                    .any(|e| !keys.iter().any(|(ep, k)| *ep == e.epoch && *k == e.key))
                {
                    return Err(PeerError::Misbehaved(
                        "sent a state entry that was not asked for".into(),
                    ));
                }
                Ok(entries)
            }
            other => Err(PeerError::Misbehaved(format!(
                "answered GetStateEntries with {other:?}"
            ))),
        }
    }

    /// Storage roots of accounts with their (unverified) proofs; only `(epoch, address)`
    /// pairs that were asked for.
    pub async fn storage_roots(
        &self,
        keys: &[(u64, H160)],
    ) -> Result<Vec<StorageRootEntry>, PeerError> {
        match self
            .request("GetStorageRoots", |id| message::get_storage_roots(id, keys))
            .await?
        {
            Incoming::StorageRoots { roots, .. } => {
                if roots.iter().any(|r| !keys.contains(&(r.epoch, r.address))) {
                    return Err(PeerError::Misbehaved(
                        "sent a storage root that was not asked for".into(),
                    ));
                }
                Ok(roots)
            }
            other => Err(PeerError::Misbehaved(format!(
                "answered GetStorageRoots with {other:?}"
            ))),
        }
    }

    /// Transactions of blocks (unverified); only blocks that were asked for.
    pub async fn block_txs(&self, hashes: &[H256]) -> Result<Vec<message::BlockBody>, PeerError> {
        match self
            .request("GetBlockTxs", |id| message::get_block_txs(id, hashes))
            .await?
        {
            Incoming::BlockTxs { blocks, .. } => {
                if blocks.iter().any(|(h, _)| !hashes.contains(h)) {
                    return Err(PeerError::Misbehaved(
                        "sent transactions of a block that was not asked for".into(),
                    ));
                }
                Ok(blocks)
            }
            other => Err(PeerError::Misbehaved(format!(
                "answered GetBlockTxs with {other:?}"
            ))),
        }
    }

    /// Receipts of epochs (unverified); only epochs that were asked for.
    pub async fn receipts(
        &self,
        epochs: &[u64],
    ) -> Result<Vec<(u64, Vec<BlockReceipts>)>, PeerError> {
        match self
            .request("GetReceipts", |id| message::get_receipts(id, epochs))
            .await?
        {
            Incoming::Receipts { epochs: got, .. } => {
                if got.iter().any(|(e, _)| !epochs.contains(e)) {
                    return Err(PeerError::Misbehaved(
                        "sent receipts of an epoch that was not asked for".into(),
                    ));
                }
                Ok(got)
            }
            other => Err(PeerError::Misbehaved(format!(
                "answered GetReceipts with {other:?}"
            ))),
        }
    }

    /// Where transactions were executed, with proofs (unverified); only asked-for hashes.
    pub async fn tx_infos(&self, hashes: &[H256]) -> Result<Vec<TxInfo>, PeerError> {
        match self
            .request("GetTxInfos", |id| message::get_tx_infos(id, hashes))
            .await?
        {
            Incoming::TxInfos { infos, .. } => {
                if infos.iter().any(|i| !hashes.contains(&i.tx.hash())) {
                    return Err(PeerError::Misbehaved(
                        "sent a transaction that was not asked for".into(),
                    ));
                }
                Ok(infos)
            }
            other => Err(PeerError::Misbehaved(format!(
                "answered GetTxInfos with {other:?}"
            ))),
        }
    }

    /// Aggregated logs blooms of epochs (unverified); only epochs that were asked for.
    pub async fn blooms(&self, epochs: &[u64]) -> Result<Vec<(u64, Bloom)>, PeerError> {
        match self
            .request("GetBlooms", |id| message::get_blooms(id, epochs))
            .await?
        {
            Incoming::Blooms { blooms, .. } => {
                if blooms.iter().any(|(e, _)| !epochs.contains(e)) {
                    return Err(PeerError::Misbehaved(
                        "sent a bloom of an epoch that was not asked for".into(),
                    ));
                }
                Ok(blooms)
            }
            other => Err(PeerError::Misbehaved(format!(
                "answered GetBlooms with {other:?}"
            ))),
        }
    }

    /// Relays a raw signed transaction (no answer is defined by the protocol).
    pub async fn send_raw_tx(&self, raw: &[u8]) -> Result<(), PeerError> {
        let (body, id) = message::send_raw_tx(raw);
        self.send_raw_packet(&session::user_packet(&body, id)).await
    }
}
