//! The peer set: which providers the node holds, dials and trusts with what.
//!
//! One home for what used to be spread over the follow loop and the readers: dialling with
//! exponential backoff (reset only once a peer has delivered verified data, so one that
//! accepts connections and never answers is not re-chosen every second), penalties (a lie
//! waits 300 s, a lighter fork 30 s), every peer's claimed tip kept in view, rotation so
//! reads spread across peers, and broadcast of raw transactions to every peer at once with a
//! deadline each, so one stalled peer delays nothing.
//!
//! A claimed tip decides only whom to ask first for new epochs; what is stored is decided
//! by verification and work ([`crate::sync`]).

use std::{
    collections::HashSet,
    net::IpAddr,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex, MutexGuard,
    },
    time::{Duration, Instant},
};

use k256::SecretKey;

use super::peer::{ChainIdentity, LightPeer};
use crate::{log, wire::NodeUrl};

const BACKOFF_START: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(60);
/// How long one raw-transaction send to one peer may take.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a peer is set aside, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Penalty {
    /// It sent data that failed verification: 300 s.
    Lied,
    /// It showed a valid but lighter fork: 30 s.
    Lighter,
    /// It failed (timeout, closed, throttled): the next backoff step.
    Failed,
}

impl Penalty {
    fn wait(self, backoff: Duration) -> Duration {
        match self {
            Penalty::Lied => Duration::from_secs(300),
            Penalty::Lighter => Duration::from_secs(30),
            Penalty::Failed => backoff,
        }
    }
}

struct Slot {
    url: Option<NodeUrl>,
    peer: Option<Arc<LightPeer>>,
    next_try: Instant,
    backoff: Duration,
    penalties: u32,
}

/// A peer as the set sees it, for logs and metrics.
#[derive(Debug, Clone)]
pub struct PeerView {
    /// Its address.
    pub url: String,
    /// Connected now.
    pub connected: bool,
    /// The best epoch it claims (unverified).
    pub claimed_tip: Option<u64>,
    /// Penalties it has earned since start.
    pub penalties: u32,
}

/// The providers the node holds, shared by the follow loop, the readers and the pool.
#[derive(Default)]
pub struct PeerSet {
    slots: Mutex<Vec<Slot>>,
    reported: Mutex<HashSet<String>>,
    next: AtomicUsize,
}

impl PeerSet {
    /// A set that will dial these bootnodes.
    pub fn new(urls: Vec<NodeUrl>) -> PeerSet {
        let now = Instant::now();
        PeerSet {
            slots: Mutex::new(
                urls.into_iter()
                    .map(|url| Slot {
                        url: Some(url),
                        peer: None,
                        next_try: now,
                        backoff: BACKOFF_START,
                        penalties: 0,
                    })
                    .collect(),
            ),
            ..PeerSet::default()
        }
    }

    fn slots(&self) -> MutexGuard<'_, Vec<Slot>> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Replaces the set with peers connected elsewhere (tests, tools); they are not dialled.
    pub fn set(&self, peers: Vec<Arc<LightPeer>>) {
        let now = Instant::now();
        *self.slots() = peers
            .into_iter()
            .map(|p| Slot {
                url: None,
                peer: Some(p),
                next_try: now,
                backoff: BACKOFF_START,
                penalties: 0,
            })
            .collect();
    }

    /// Live peers, starting from a rotating offset so load spreads across them.
    pub fn alive(&self) -> Vec<Arc<LightPeer>> {
        let mut v: Vec<_> = self
            .slots()
            .iter()
            .filter_map(|s| s.peer.clone())
            .filter(|p| p.is_alive())
            .collect();
        if !v.is_empty() {
            let k = self.next.fetch_add(1, Ordering::Relaxed) % v.len();
            v.rotate_left(k);
        }
        v
    }

    /// Live peers by claimed tip, highest first: whom to ask for new epochs.
    pub fn by_claimed_tip(&self) -> Vec<Arc<LightPeer>> {
        let mut v = self.alive();
        v.sort_by_key(|p| std::cmp::Reverse(p.status().best_epoch));
        v
    }

    /// Notes that a peer sent something unverifiable (from a reader); the follow loop sets
    /// it aside with [`PeerSet::apply_reports`].
    pub fn report(&self, peer: &LightPeer, why: &str) {
        log::warn(&format!("peer {} sent unverifiable data: {why}", peer.url));
        self.reported
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(peer.url.to_string());
    }

    /// Takes the set of peers reported since the last call (by URL).
    pub fn take_reported(&self) -> HashSet<String> {
        std::mem::take(&mut *self.reported.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Drops the peers the readers reported, each for [`Penalty::Lied`].
    pub fn apply_reports(&self) {
        for url in self.take_reported() {
            self.penalise_url(&url, Penalty::Lied, "it sent data that failed verification");
        }
    }

    /// Drops `peer` and waits as `penalty` says before dialling it again.
    pub fn penalise(&self, peer: &LightPeer, penalty: Penalty, why: &str) {
        self.penalise_url(&peer.url.to_string(), penalty, why);
    }

    fn penalise_url(&self, url: &str, penalty: Penalty, why: &str) {
        let mut slots = self.slots();
        for s in slots.iter_mut() {
            let matches = s.peer.as_ref().is_some_and(|p| p.url.to_string() == url)
                || s.url.as_ref().is_some_and(|u| u.to_string() == url);
            if !matches {
                continue;
            }
            let wait = penalty.wait(s.backoff);
            crate::metrics::global().penalty(match penalty {
                Penalty::Lied => crate::metrics::PenaltyKind::Lied,
                Penalty::Lighter => crate::metrics::PenaltyKind::Lighter,
                Penalty::Failed => crate::metrics::PenaltyKind::Failed,
            });
            if s.peer.take().is_some() {
                log::warn(&format!("dropping peer {url}: {why} (retry in {wait:?})"));
            }
            s.next_try = Instant::now() + wait;
            if penalty == Penalty::Failed {
                s.backoff = (s.backoff * 2).min(BACKOFF_MAX);
            } else {
                s.penalties = s.penalties.saturating_add(1);
            }
        }
    }

    /// Notes that `peer` delivered verified data: its backoff starts over.
    pub fn delivered(&self, peer: &LightPeer) {
        let url = peer.url.to_string();
        for s in self.slots().iter_mut() {
            if s.peer.as_ref().is_some_and(|p| p.url.to_string() == url) {
                s.backoff = BACKOFF_START;
            }
        }
    }

    /// Dials every bootnode that has no live session and whose wait is over, all at once.
    pub async fn dial_due(&self, key: &SecretKey, chain: ChainIdentity, local: Option<IpAddr>) {
        let due: Vec<NodeUrl> = {
            let now = Instant::now();
            let mut slots = self.slots();
            let mut due = vec![];
            for s in slots.iter_mut() {
                let dead = s.peer.as_ref().is_none_or(|p| !p.is_alive());
                if !dead || now < s.next_try {
                    continue;
                }
                if s.peer.take().is_some() {
                    if let Some(u) = &s.url {
                        log::warn(&format!("peer {u} disconnected"));
                    }
                }
                if let Some(u) = &s.url {
                    due.push(u.clone());
                    // Not dialled again until this attempt's outcome is known.
                    s.next_try = now + BACKOFF_MAX;
                }
            }
            due
        };
        if due.is_empty() {
            return;
        }
        let mut tasks = tokio::task::JoinSet::new();
        for url in due {
            let key = key.clone();
            tasks.spawn(async move {
                let r = LightPeer::connect(&url, &key, chain, local).await;
                (url, r)
            });
        }
        while let Some(Ok((url, result))) = tasks.join_next().await {
            let mut slots = self.slots();
            let Some(s) = slots
                .iter_mut()
                .find(|s| s.url.as_ref().is_some_and(|u| *u == url))
            else {
                continue;
            };
            match result {
                Ok(p) => {
                    let p = Arc::new(p);
                    p.spawn_heartbeat();
                    log::info(&format!(
                        "connected to {url} (claims best epoch {})",
                        p.status().best_epoch
                    ));
                    s.peer = Some(p);
                    s.next_try = Instant::now();
                }
                Err(e) => {
                    log::warn(&format!(
                        "cannot connect to {url}: {e} (retry in {:?})",
                        s.backoff
                    ));
                    s.next_try = Instant::now() + s.backoff;
                    s.backoff = (s.backoff * 2).min(BACKOFF_MAX);
                }
            }
        }
    }

    /// Every peer as the set sees it.
    pub fn view(&self) -> Vec<PeerView> {
        self.slots()
            .iter()
            .map(|s| {
                let live = s.peer.as_ref().filter(|p| p.is_alive());
                PeerView {
                    url: s
                        .url
                        .as_ref()
                        .map(|u| u.to_string())
                        .or_else(|| s.peer.as_ref().map(|p| p.url.to_string()))
                        .unwrap_or_default(),
                    connected: live.is_some(),
                    claimed_tip: live.map(|p| p.status().best_epoch),
                    penalties: s.penalties,
                }
            })
            .collect()
    }

    /// Sends a raw transaction to every live peer at once, each within [`SEND_TIMEOUT`];
    /// returns how many took it.
    pub async fn broadcast_raw_tx(&self, raw: &[u8]) -> usize {
        let mut tasks = tokio::task::JoinSet::new();
        for p in self.alive() {
            let raw = raw.to_vec();
            tasks.spawn(async move {
                matches!(
                    tokio::time::timeout(SEND_TIMEOUT, p.send_raw_tx(&raw)).await,
                    Ok(Ok(()))
                )
            });
        }
        let mut sent = 0;
        while let Some(r) = tasks.join_next().await {
            if matches!(r, Ok(true)) {
                sent += 1;
            }
        }
        sent
    }
}
