//! The node's own pending transactions: accepted by its RPC, relayed to every peer,
//! rebroadcast until a verified receipt shows them executed (or a verified nonce shows
//! them replaced, or their epoch height expires), and persisted in RocksDB so a restart —
//! even `kill -9` — loses none.
//!
//! Nonces: the next nonce of a sender is its verified state nonce, raised past the
//! sender's own pending transactions, so back-to-back sends never collide and never leave
//! a gap. A transaction is written to disk (synced) before the RPC answers with its hash.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use cfxlight_primitives::{transaction::SignedTransaction, H160, H256, U256};

use crate::{
    log,
    query::Query,
    store::{Store, StoreError},
};

/// How often pending transactions are re-sent to peers.
pub const REBROADCAST_EVERY: Duration = Duration::from_secs(3);
/// conflux-rust drops transactions whose epoch height is this far behind the tip.
pub const EPOCH_HEIGHT_BOUND: u64 = 100_000;
/// Most transactions the pending set holds (the node's own; others are relayed, not kept).
pub const MAX_PENDING: usize = 10_000;
/// Most bytes of raw transactions the pending set holds.
pub const MAX_PENDING_BYTES: usize = 64 << 20;

/// One of our pending transactions.
#[derive(Debug, Clone)]
pub struct Pending {
    /// The signed transaction.
    pub tx: SignedTransaction,
    /// Its recovered sender.
    pub sender: H160,
    /// When it was last sent to peers (None: not yet this run).
    pub last_sent: Option<Instant>,
    /// Order of arrival in this run (a pending-transaction filter reports what came after
    /// the last it saw).
    pub seq: u64,
}

/// The pending set, in memory and mirrored in the store's `pending` family.
pub struct TxPool {
    store: Arc<Store>,
    inner: Mutex<Inner>,
    /// Serialises "pick a nonce, sign, add" per sender.
    sender_locks: Mutex<HashMap<H160, Arc<tokio::sync::Mutex<()>>>>,
}

#[derive(Default)]
struct Inner {
    by_hash: HashMap<H256, Pending>,
    /// sender → nonce → hash (a replacement overwrites the entry).
    by_sender: HashMap<H160, BTreeMap<U256, H256>>,
    /// The `seq` of the latest arrival.
    last_seq: u64,
}

/// Why a transaction was not taken into the pending set.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// The set is at its bound.
    #[error(
        "the pending set is full ({count} transactions, {bytes} bytes): wait for some to settle"
    )]
    Full {
        /// Transactions held.
        count: usize,
        /// Their raw size.
        bytes: usize,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What happened to a pending transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A verified receipt shows it executed.
    Executed,
    /// Another transaction took its nonce.
    Replaced,
    /// Its epoch height fell too far behind the tip.
    Expired,
}

impl TxPool {
    /// Loads the pending set persisted in `store`.
    pub fn load(store: Arc<Store>) -> Result<TxPool, StoreError> {
        let mut inner = Inner::default();
        for (k, v) in store.pending_entries()? {
            // We wrote these; one that no longer decodes is dropped with a warning.
            match SignedTransaction::decode(&v) {
                Ok(tx) if k.as_slice() == tx.hash().as_bytes() => match tx.recover_sender() {
                    Ok((sender, _)) => inner.insert(tx, sender),
                    Err(e) => log::warn(&format!("dropping stored pending tx: {e}")),
                },
                _ => log::warn("dropping an undecodable stored pending transaction"),
            }
        }
        Ok(TxPool {
            store,
            inner: Mutex::new(inner),
            sender_locks: Mutex::default(),
        })
    }

    /// Number of pending transactions.
    pub fn len(&self) -> usize {
        self.inner.lock().map(|i| i.by_hash.len()).unwrap_or(0)
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A pending transaction by hash.
    pub fn get(&self, hash: &H256) -> Option<SignedTransaction> {
        self.inner
            .lock()
            .ok()
            .and_then(|i| i.by_hash.get(hash).map(|p| p.tx.clone()))
    }

    /// Every pending transaction.
    pub fn all(&self) -> Vec<Pending> {
        self.inner
            .lock()
            .map(|i| i.by_hash.values().cloned().collect())
            .unwrap_or_default()
    }

    /// `sender`'s pending transactions, by nonce.
    pub fn of_sender(&self, sender: H160) -> Vec<SignedTransaction> {
        let Ok(i) = self.inner.lock() else {
            return vec![];
        };
        i.by_sender
            .get(&sender)
            .map(|m| {
                m.values()
                    .filter_map(|h| i.by_hash.get(h).map(|p| p.tx.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Hashes of the transactions that arrived after `seq` and are still pending, and the
    /// `seq` of the latest arrival (what the next call passes).
    pub fn arrived_after(&self, seq: u64) -> (Vec<H256>, u64) {
        let Ok(i) = self.inner.lock() else {
            return (vec![], seq);
        };
        let mut new: Vec<(u64, H256)> = i
            .by_hash
            .iter()
            .filter(|(_, p)| p.seq > seq)
            .map(|(h, p)| (p.seq, *h))
            .collect();
        new.sort_unstable();
        (new.into_iter().map(|(_, h)| h).collect(), i.last_seq)
    }

    /// The `seq` of the latest arrival.
    pub fn last_seq(&self) -> u64 {
        self.inner.lock().map(|i| i.last_seq).unwrap_or(0)
    }

    /// The lock that serialises nonce assignment for `sender`.
    pub fn sender_lock(&self, sender: H160) -> Arc<tokio::sync::Mutex<()>> {
        self.sender_locks
            .lock()
            .map(|mut m| m.entry(sender).or_default().clone())
            .unwrap_or_default()
    }

    /// The next nonce for `sender` given its verified state nonce: past every pending
    /// transaction that continues the sequence from there (a gap stops the count).
    pub fn next_nonce_after(&self, sender: H160, state_nonce: U256) -> U256 {
        let Ok(i) = self.inner.lock() else {
            return state_nonce;
        };
        let mut n = state_nonce;
        if let Some(m) = i.by_sender.get(&sender) {
            while m.contains_key(&n) {
                n += U256::one();
            }
        }
        n
    }

    /// Adds a transaction, durably, before anyone is told its hash. A transaction with the
    /// same sender and nonce replaces the earlier one.
    pub fn add(&self, tx: SignedTransaction, sender: H160) -> Result<(), PoolError> {
        let hash = tx.hash();
        if let Ok(i) = self.inner.lock() {
            let bytes: usize = i.by_hash.values().map(|p| p.tx.encode().len()).sum();
            if !i.by_hash.contains_key(&hash)
                && (i.by_hash.len() >= MAX_PENDING
                    || bytes.saturating_add(tx.encode().len()) > MAX_PENDING_BYTES)
            {
                return Err(PoolError::Full {
                    count: i.by_hash.len(),
                    bytes,
                });
            }
        }
        let replaced = self.inner.lock().ok().and_then(|i| {
            i.by_sender
                .get(&sender)
                .and_then(|m| m.get(&tx.tx.nonce))
                .copied()
                .filter(|h| *h != hash)
        });
        let mut writes = vec![(hash.as_bytes().to_vec(), Some(tx.encode()))];
        if let Some(old) = replaced {
            writes.push((old.as_bytes().to_vec(), None));
        }
        self.store.put_pending(&writes)?;
        if let Ok(mut i) = self.inner.lock() {
            if let Some(old) = replaced {
                i.by_hash.remove(&old);
            }
            i.insert(tx, sender);
        }
        Ok(())
    }

    /// Removes a transaction that is settled.
    pub fn settle(&self, hash: &H256, outcome: Outcome) -> Result<(), StoreError> {
        self.store
            .put_pending(&[(hash.as_bytes().to_vec(), None)])?;
        if let Ok(mut i) = self.inner.lock() {
            if let Some(p) = i.by_hash.remove(hash) {
                if let Some(m) = i.by_sender.get_mut(&p.sender) {
                    if m.get(&p.tx.tx.nonce) == Some(hash) {
                        m.remove(&p.tx.tx.nonce);
                    }
                    if m.is_empty() {
                        i.by_sender.remove(&p.sender);
                    }
                }
                log::info(&format!("transaction {hash:?} {outcome:?}"));
            }
        }
        Ok(())
    }

    fn mark_sent(&self, hash: &H256) {
        if let Ok(mut i) = self.inner.lock() {
            if let Some(p) = i.by_hash.get_mut(hash) {
                p.last_sent = Some(Instant::now());
            }
        }
    }

    /// Sends `tx` to every connected peer; Ok(n) is how many took it.
    pub async fn relay(&self, query: &Query, tx: &SignedTransaction) -> usize {
        let sent = query.peers().broadcast_raw_tx(&tx.encode()).await;
        if sent > 0 {
            self.mark_sent(&tx.hash());
        }
        sent
    }

    /// One maintenance pass: settle what verified state shows settled, re-send the rest.
    pub async fn maintain(&self, query: &Query, latest_state: u64, best: u64) {
        let pending = self.all();
        if pending.is_empty() {
            return;
        }
        let mut nonces: HashMap<H160, Option<U256>> = HashMap::new();
        for p in &pending {
            if let std::collections::hash_map::Entry::Vacant(e) = nonces.entry(p.sender) {
                let n = query
                    .account(latest_state, p.sender)
                    .await
                    .ok()
                    .map(|a| a.map(|a| a.nonce).unwrap_or_default());
                e.insert(n);
            }
        }
        for p in pending {
            let hash = p.tx.hash();
            let state_nonce = nonces.get(&p.sender).copied().flatten();
            if state_nonce.is_some_and(|n| n > p.tx.tx.nonce) {
                // Its nonce is used: by it (a verified receipt says so) or by another.
                let outcome = match query.tx(hash).await {
                    Ok(Some(_)) => Outcome::Executed,
                    Ok(None) => Outcome::Replaced,
                    // Cannot tell yet; keep it and look again next pass.
                    Err(_) => continue,
                };
                if let Err(e) = self.settle(&hash, outcome) {
                    log::warn(&format!("cannot update the pending set: {e}"));
                }
                continue;
            }
            if best > p.tx.tx.epoch_height.saturating_add(EPOCH_HEIGHT_BOUND) {
                if let Err(e) = self.settle(&hash, Outcome::Expired) {
                    log::warn(&format!("cannot update the pending set: {e}"));
                }
                continue;
            }
            if p.last_sent.is_none_or(|t| t.elapsed() >= REBROADCAST_EVERY) {
                self.relay(query, &p.tx).await;
            }
        }
    }
}

impl Inner {
    fn insert(&mut self, tx: SignedTransaction, sender: H160) {
        let hash = tx.hash();
        self.by_sender
            .entry(sender)
            .or_default()
            .insert(tx.tx.nonce, hash);
        self.last_seq += 1;
        let seq = self.last_seq;
        self.by_hash.insert(
            hash,
            Pending {
                tx,
                sender,
                last_sent: None,
                seq,
            },
        );
    }
}
