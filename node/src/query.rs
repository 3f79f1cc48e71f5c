//! Verified on-demand reads: state entries, storage roots, block bodies, receipts,
//! transaction locations and blooms, fetched from light-protocol peers and accepted only
//! after they are checked against roots this node verified itself (the headers and
//! deferred roots sync stored).
//!
//! A peer whose answer fails a check is reported (the follow loop drops it) and the next
//! peer is asked; when no peer gives a verifiable answer the caller gets an error, never the
//! unverified value. Verified state entries are cached by `(state root, key)`, in memory
//! and in RocksDB: a state root commits to the whole state, so the cache cannot go stale on
//! a reorg.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use cfxlight_primitives::{
    account::Account,
    header::BlockHeader,
    mpt::{self, StateEntryProof, StorageRoot, StorageRootProof, TrieProof},
    receipt::{BlockReceipts, Receipt},
    storage_key::StorageKey,
    transaction::{BlockTransaction, SignedTransaction},
    Bloom, H160, H256, U256,
};
use thiserror::Error;

use crate::{
    light::{
        message::{StorageRootEntry, TxInfo},
        peer::{LightPeer, PeerError},
    },
    store::{Store, StoreError, VerifiedRoots},
};

pub use crate::light::peers::PeerSet;

/// Epochs per snapshot period: an entry at epoch `e > 2000` may be proven by the
/// intermediate trie, whose root is the state root of epoch `e − 2000`.
pub const SNAPSHOT_EPOCHS: u64 = 2000;
/// The provider answers at most this many items per request.
const MAX_ITEMS_PER_REQUEST: usize = 50;
/// Bytes of verified state entries kept in memory (keys, values and bookkeeping, counted
/// as [`StateCache::cost`] does). Everything verified is also on disk, so this is only the
/// hot set; a count bound (100,000 entries, ~35 MiB) let it grow for hours on a device
/// that reads a few accounts at every new state root.
const STATE_CACHE_BYTES: usize = 4 << 20;
/// An account a dapp asked about stays watched this long.
const WATCH_FOR: Duration = Duration::from_secs(600);
/// At most this many accounts are remembered as asked about (the least recently asked are
/// dropped first).
const MAX_WATCHED: usize = 1024;

/// Why a verified read failed.
#[derive(Debug, Error)]
pub enum QueryError {
    /// No peer is connected.
    #[error("no peer connected: cannot fetch a verifiable answer")]
    NoPeers,
    /// The epoch's roots are not verified (yet).
    #[error("Unable to verify epoch {epoch} (latest verifiable epoch is {latest})")]
    NotVerifiable {
        /// Asked epoch.
        epoch: u64,
        /// Latest epoch with verified roots.
        latest: u64,
    },
    /// Some peer sent something that did not verify, and no other gave a verified answer.
    #[error("no peer gave a verifiable answer: {0}")]
    Unverified(String),
    /// No peer had the item (none lied).
    #[error("no peer could serve it: {0}")]
    NotServed(String),
    /// Local storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A transaction with where it was executed, every part verified.
#[derive(Debug, Clone)]
pub struct VerifiedTx {
    /// The transaction.
    pub tx: SignedTransaction,
    /// Its sender, recovered from the signature.
    pub sender: H160,
    /// Execution epoch.
    pub epoch: u64,
    /// Containing block.
    pub block_hash: H256,
    /// Index among the block's Core transactions (the RPC's `transactionIndex`; eSpace
    /// transactions of the same block are not counted, as in conflux-rust).
    pub index: u64,
    /// Its receipt.
    pub receipt: Receipt,
    /// Gas used by this transaction alone.
    pub gas_used: U256,
    /// The containing block's header.
    pub header: BlockHeader,
    /// The verified state root after executing the epoch.
    pub state_root: H256,
}

/// Outcome of checking one peer's answer.
enum Attempt<T> {
    Ok(T),
    /// The peer could not help (timeout, closed, omitted the item): ask another.
    Skip(String),
    /// The peer lied: report it and ask another.
    Lie(String),
}

/// Verified reads over the shared peer set.
pub struct Query {
    store: Arc<Store>,
    peers: Arc<PeerSet>,
    state_cache: Mutex<StateCache>,
    /// Decoded accounts by (verified state root, address), in front of `state_cache`:
    /// a watched account's read is then one lookup, without copying, re-checking and
    /// decoding its entry on every request.
    accounts: Mutex<HashMap<(H256, H160), Option<Account>>>,
    watched: Mutex<Watched>,
    /// Verified epoch receipts by (receipts root, block count) and blooms by bloom hash:
    /// repeated `cfx_getLogs` and every `logs` subscription share one fetch per epoch.
    receipts: Mutex<Recent<(H256, usize), Vec<BlockReceipts>>>,
    blooms: Mutex<Recent<H256, Bloom>>,
}

/// Receipts kept for this many epochs, blooms for this many.
const RECENT_RECEIPTS: usize = 256;
const RECENT_BLOOMS: usize = 4096;

/// A bounded map that forgets its oldest entries first.
struct Recent<K, V> {
    cap: usize,
    map: HashMap<K, V>,
    order: VecDeque<K>,
}

impl<K: std::hash::Hash + Eq + Clone, V: Clone> Recent<K, V> {
    fn new(cap: usize) -> Self {
        Recent {
            cap,
            map: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    fn get(&self, k: &K) -> Option<V> {
        self.map.get(k).cloned()
    }

    fn put(&mut self, k: K, v: V) {
        if self.map.insert(k.clone(), v).is_none() {
            self.order.push_back(k);
            while self.order.len() > self.cap {
                if let Some(old) = self.order.pop_front() {
                    self.map.remove(&old);
                }
            }
        }
    }
}

/// At most this many decoded accounts are kept (then the map starts over).
const DECODED_ACCOUNTS: usize = 8192;

#[derive(Default)]
struct StateCache {
    map: HashMap<(H256, Vec<u8>), Option<Vec<u8>>>,
    order: VecDeque<(H256, Vec<u8>)>,
    /// What the entries in `map` cost, by [`StateCache::cost`].
    bytes: usize,
}

impl StateCache {
    /// The memory one entry holds: its key twice (map and order), its value, and about
    /// 96 bytes of vector headers and hash-table slot.
    fn cost(key: &[u8], value: Option<&[u8]>) -> usize {
        2 * (32 + key.len()) + value.map_or(0, <[u8]>::len) + 96
    }

    fn insert(&mut self, k: (H256, Vec<u8>), v: Option<Vec<u8>>) {
        let cost = Self::cost(&k.1, v.as_deref());
        match self.map.insert(k.clone(), v) {
            None => {
                self.order.push_back(k);
                self.bytes = self.bytes.saturating_add(cost);
            }
            // The same verified entry again: same value, same cost.
            Some(_) => return,
        }
        while self.bytes > STATE_CACHE_BYTES {
            let Some(old) = self.order.pop_front() else {
                self.bytes = 0;
                break;
            };
            if let Some(v) = self.map.remove(&old) {
                self.bytes = self.bytes.saturating_sub(Self::cost(&old.1, v.as_deref()));
            }
        }
    }
}

#[derive(Default)]
struct Watched {
    /// Accounts watched for good (the signer's).
    pinned: HashSet<H160>,
    /// Accounts asked about recently.
    recent: HashMap<H160, Asked>,
}

/// When and at how many states an account was asked about.
#[derive(Debug, Clone, Copy)]
struct Asked {
    last: Instant,
    last_epoch: u64,
    epochs: u32,
}

impl Watched {
    /// Notes that `address` was read at `epoch`.
    fn touch(&mut self, address: H160, epoch: u64, now: Instant) {
        if self.pinned.contains(&address) {
            return;
        }
        let a = self.recent.entry(address).or_insert(Asked {
            last: now,
            last_epoch: epoch,
            epochs: 1,
        });
        if a.last_epoch != epoch {
            a.epochs = a.epochs.saturating_add(1);
            a.last_epoch = epoch;
        }
        a.last = now;
        if self.recent.len() > MAX_WATCHED {
            if let Some(oldest) = self
                .recent
                .iter()
                .min_by_key(|(_, a)| a.last)
                .map(|(k, _)| *k)
            {
                self.recent.remove(&oldest);
            }
        }
    }

    /// The pinned accounts and those read at two or more states within the window. One
    /// look at an account (an explorer's, a benchmark's never-seen addresses) is not a
    /// reason to fetch it at every epoch for ten minutes; a dapp that polls is.
    fn watched(&mut self, now: Instant) -> Vec<H160> {
        self.recent
            .retain(|_, a| now.saturating_duration_since(a.last) < WATCH_FOR);
        self.pinned
            .iter()
            .copied()
            .chain(
                self.recent
                    .iter()
                    .filter(|(_, a)| a.epochs >= 2)
                    .map(|(k, _)| *k),
            )
            .collect()
    }
}

fn peer_skip(e: PeerError) -> String {
    e.to_string()
}

impl Query {
    /// Verified reads from `peers`, checked against `store`.
    pub fn new(store: Arc<Store>, peers: Arc<PeerSet>) -> Query {
        Query {
            store,
            peers,
            state_cache: Mutex::default(),
            accounts: Mutex::default(),
            watched: Mutex::default(),
            receipts: Mutex::new(Recent::new(RECENT_RECEIPTS)),
            blooms: Mutex::new(Recent::new(RECENT_BLOOMS)),
        }
    }

    /// The store the checks run against.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The shared peer set.
    pub fn peers(&self) -> &Arc<PeerSet> {
        &self.peers
    }

    /// Asks peers in turn until one answer passes `check`.
    async fn ask<T, F, Fut>(&self, what: &str, f: F) -> Result<T, QueryError>
    where
        F: Fn(Arc<LightPeer>) -> Fut,
        Fut: std::future::Future<Output = Attempt<T>>,
    {
        let peers = self.peers.alive();
        if peers.is_empty() {
            return Err(QueryError::NoPeers);
        }
        let mut why = vec![];
        let mut lied = false;
        for p in peers {
            let at = format!("{}:{}", p.url.host, p.url.port);
            match f(p.clone()).await {
                Attempt::Ok(t) => return Ok(t),
                Attempt::Skip(e) => why.push(format!("{at}: {e}")),
                Attempt::Lie(e) => {
                    lied = true;
                    self.peers.report(&p, &format!("{what}: {e}"));
                    why.push(format!("{at}: {e}"));
                }
            }
        }
        let why = format!("{what}: {}", why.join("; "));
        Err(if lied {
            QueryError::Unverified(why)
        } else {
            QueryError::NotServed(why)
        })
    }

    /// The verified roots of `epoch`, or why there are none yet.
    fn verified_roots(&self, epoch: u64) -> Result<VerifiedRoots, QueryError> {
        match self.store.roots(epoch)? {
            Some(r) => Ok(r),
            None => Err(QueryError::NotVerifiable {
                epoch,
                latest: self.store.latest_state()?.unwrap_or(0),
            }),
        }
    }

    /// Checks the state roots a state proof is read against: its state root must be the
    /// verified one of `epoch`, and a previous snapshot root that of `epoch − 2000`. When
    /// that epoch's roots are not in the store the previous root cannot be trusted, so it
    /// is dropped (the intermediate trie then cannot be walked) and Ok(false) says so.
    fn check_proof_roots(
        &self,
        epoch: u64,
        proof: &mut StateEntryProof,
        state_root: &H256,
    ) -> Result<bool, String> {
        if proof.state_root.hash() != *state_root {
            return Err(format!(
                "state root of epoch {epoch} does not match the verified header"
            ));
        }
        let Some(prev) = &proof.prev_snapshot_state_root else {
            return Ok(true);
        };
        let Some(prev_epoch) = epoch.checked_sub(SNAPSHOT_EPOCHS) else {
            return Err("a previous snapshot root before the first snapshot".into());
        };
        match self.store.roots(prev_epoch) {
            Ok(Some(r)) if r.state_root == prev.hash() => Ok(true),
            Ok(Some(_)) => Err(format!(
                "previous snapshot root does not match epoch {prev_epoch}"
            )),
            _ => {
                proof.prev_snapshot_state_root = None;
                Ok(false)
            }
        }
    }

    /// Checks a state entry's proof against the verified roots of its epoch.
    fn check_entry(
        &self,
        epoch: u64,
        key: &StorageKey,
        value: Option<&[u8]>,
        proof: &[u8],
        state_root: &H256,
    ) -> Attempt<()> {
        let mut proof: StateEntryProof = match cfxlight_primitives::rlp_util::decode_exact(proof) {
            Ok(p) => p,
            Err(e) => return Attempt::Lie(format!("undecodable state proof: {e}")),
        };
        // Without the previous root a delta-trie proof still decides; a proof that needs it
        // (the intermediate trie) is then not checkable here, which is not the peer's fault
        // (a node started from a checkpoint holds no roots below it).
        let checkable = match self.check_proof_roots(epoch, &mut proof, state_root) {
            Ok(c) => c,
            Err(why) => return Attempt::Lie(why),
        };
        match mpt::verify_state_entry(key, value, &proof) {
            Ok(()) => Attempt::Ok(()),
            Err(e) if checkable => Attempt::Lie(e.to_string()),
            Err(e) => Attempt::Skip(format!(
                "state entry not checkable here (roots of epoch {} not held): {e}",
                epoch.saturating_sub(SNAPSHOT_EPOCHS)
            )),
        }
    }

    /// Checks a storage root's proof against the verified roots of its epoch. Every trie
    /// has a part in a storage root, so the intermediate one is always walked: when the
    /// previous snapshot root cannot be checked here, a failure is not the peer's fault
    /// (`Attempt::Skip`).
    fn check_storage_root(
        &self,
        entry: StorageRootEntry,
        state_root: &H256,
    ) -> Attempt<StorageRoot> {
        let (epoch, address) = (entry.epoch, entry.address);
        let mut proof: StorageRootProof =
            match cfxlight_primitives::rlp_util::decode_exact(&entry.proof) {
                Ok(p) => p,
                Err(e) => return Attempt::Lie(format!("undecodable storage root proof: {e}")),
            };
        let checkable = match self.check_proof_roots(epoch, &mut proof, state_root) {
            Ok(c) => c,
            Err(why) => return Attempt::Lie(why),
        };
        match mpt::verify_storage_root(&address, &entry.root, &proof) {
            Ok(()) => Attempt::Ok(entry.root),
            Err(e) if checkable => Attempt::Lie(format!("storage root of {address:?}: {e}")),
            Err(e) => Attempt::Skip(format!(
                "storage root of {address:?} not checkable here (roots of epoch {} not verified): {e}",
                epoch.saturating_sub(SNAPSHOT_EPOCHS)
            )),
        }
    }

    /// The verified storage root of `address` in the state of `epoch`: the node at its
    /// storage-root key in each of the state's three tries (all absent for an account
    /// without storage, as for one that does not exist).
    pub async fn storage_root(&self, epoch: u64, address: H160) -> Result<StorageRoot, QueryError> {
        let state_root = self.verified_roots(epoch)?.state_root;
        self.ask("GetStorageRoots", |p| async move {
            let roots = match p.storage_roots(&[(epoch, address)]).await {
                Ok(r) => r,
                Err(e) => return Attempt::Skip(peer_skip(e)),
            };
            let Some(entry) = roots
                .into_iter()
                .find(|r| r.epoch == epoch && r.address == address)
            else {
                return Attempt::Skip(format!(
                    "no storage root at epoch {epoch} (state not kept?)"
                ));
            };
            self.check_storage_root(entry, &state_root)
        })
        .await
    }

    /// The verified value of `key` in the state of `epoch` (None: absent).
    pub async fn state_entry(
        &self,
        epoch: u64,
        key: &StorageKey,
    ) -> Result<Option<Vec<u8>>, QueryError> {
        let mut got = self.state_entries(epoch, std::slice::from_ref(key)).await?;
        Ok(got.pop().flatten())
    }

    /// Verified values of several keys in the state of `epoch` from what is already at
    /// hand (the memory cache, then the verified entries on disk), without asking a peer:
    /// `None` when any is missing.
    pub fn cached_state_entries(
        &self,
        epoch: u64,
        keys: &[StorageKey],
    ) -> Result<Option<Vec<Option<Vec<u8>>>>, QueryError> {
        let root = self.verified_roots(epoch)?.state_root;
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let plain = key.to_key_bytes();
            let cached = self
                .state_cache
                .lock()
                .map_err(|_| poisoned())?
                .map
                .get(&(root, plain.clone()))
                .cloned();
            let value = match cached {
                Some(v) => v,
                None => match self.store.state_entry(epoch, &root, &plain)? {
                    Some(v) => {
                        if let Ok(mut c) = self.state_cache.lock() {
                            c.insert((root, plain), v.clone());
                        }
                        v
                    }
                    None => return Ok(None),
                },
            };
            out.push(value);
        }
        Ok(Some(out))
    }

    /// Verified values of several keys in the state of `epoch`, in order.
    pub async fn state_entries(
        &self,
        epoch: u64,
        keys: &[StorageKey],
    ) -> Result<Vec<Option<Vec<u8>>>, QueryError> {
        let root = self.verified_roots(epoch)?.state_root;
        let plain: Vec<Vec<u8>> = keys.iter().map(|k| k.to_key_bytes()).collect();
        let mut out: Vec<Option<Option<Vec<u8>>>> = {
            let c = self.state_cache.lock().map_err(|_| poisoned())?;
            plain
                .iter()
                .map(|k| c.map.get(&(root, k.clone())).cloned())
                .collect()
        };
        // Then the verified entries stored on disk (a restart keeps what was checked).
        for (i, slot) in out.iter_mut().enumerate() {
            if slot.is_none() {
                if let Some(v) = self.store.state_entry(epoch, &root, &plain[i])? {
                    if let Ok(mut c) = self.state_cache.lock() {
                        c.insert((root, plain[i].clone()), v.clone());
                    }
                    *slot = Some(v);
                }
            }
        }
        let missing: Vec<usize> = (0..keys.len()).filter(|i| out[*i].is_none()).collect();
        let plain_ref = &plain;
        for chunk in missing.chunks(MAX_ITEMS_PER_REQUEST) {
            let asked: Vec<(u64, Vec<u8>)> =
                chunk.iter().map(|i| (epoch, plain[*i].clone())).collect();
            let values = self
                .ask("GetStateEntries", |p| {
                    let asked = &asked;
                    async move {
                        let entries = match p.state_entries(asked).await {
                            Ok(e) => e,
                            Err(e) => return Attempt::Skip(peer_skip(e)),
                        };
                        let mut vals = Vec::with_capacity(chunk.len());
                        for &i in chunk {
                            let Some(e) = entries.iter().find(|e| e.key == plain_ref[i]) else {
                                return Attempt::Skip(format!(
                                    "no entry for a key at epoch {epoch} (state not kept?)"
                                ));
                            };
                            match self.check_entry(
                                epoch,
                                &keys[i],
                                e.value.as_deref(),
                                &e.proof,
                                &root,
                            ) {
                                Attempt::Ok(()) => {}
                                Attempt::Skip(why) => return Attempt::Skip(why),
                                Attempt::Lie(why) => return Attempt::Lie(why),
                            }
                            vals.push(e.value.clone());
                        }
                        Attempt::Ok(vals)
                    }
                })
                .await?;
            let stored: Vec<(&[u8], Option<&[u8]>)> = chunk
                .iter()
                .zip(&values)
                .map(|(&i, v)| (plain[i].as_slice(), v.as_deref()))
                .collect();
            self.store.put_state_entries(epoch, &root, &stored)?;
            let mut c = self.state_cache.lock().map_err(|_| poisoned())?;
            for (&i, v) in chunk.iter().zip(values) {
                c.insert((root, plain[i].clone()), v.clone());
                out[i] = Some(v);
            }
        }
        Ok(out.into_iter().map(Option::flatten).collect())
    }

    /// The verified account at `epoch` (None: it does not exist).
    pub async fn account(&self, epoch: u64, address: H160) -> Result<Option<Account>, QueryError> {
        self.touch(address, epoch);
        let root = self.verified_roots(epoch)?.state_root;
        if let Some(a) = self
            .accounts
            .lock()
            .ok()
            .and_then(|m| m.get(&(root, address)).cloned())
        {
            return Ok(a);
        }
        let raw = self
            .state_entry(epoch, &StorageKey::Account(address))
            .await?;
        let account = raw
            .map(|r| {
                Account::decode_value(&r).map_err(|e| {
                    QueryError::Unverified(format!("verified account does not decode: {e}"))
                })
            })
            .transpose()?;
        if let Ok(mut m) = self.accounts.lock() {
            if m.len() >= DECODED_ACCOUNTS {
                m.clear();
            }
            m.insert((root, address), account.clone());
        }
        Ok(account)
    }

    /// Whether a verified answer for `address` at `epoch` is already at hand.
    pub fn account_cached(&self, epoch: u64, address: H160) -> bool {
        let Ok(Some(r)) = self.store.roots(epoch) else {
            return false;
        };
        self.state_cache
            .lock()
            .map(|c| {
                c.map
                    .contains_key(&(r.state_root, StorageKey::Account(address).to_key_bytes()))
            })
            .unwrap_or(false)
    }

    /// Whether `address` is pinned: one of the signer's accounts, or the sender of one of
    /// our own pending transactions.
    pub fn is_pinned(&self, address: &H160) -> bool {
        self.watched
            .lock()
            .map(|w| w.pinned.contains(address))
            .unwrap_or(false)
    }

    /// Watches `address` for good: its account is prefetched at every new state epoch.
    pub fn pin(&self, address: H160) {
        if let Ok(mut w) = self.watched.lock() {
            w.pinned.insert(address);
        }
    }

    fn touch(&self, address: H160, epoch: u64) {
        if let Ok(mut w) = self.watched.lock() {
            w.touch(address, epoch, Instant::now());
        }
    }

    /// Accounts to prefetch: pinned ones and those asked about at two or more states
    /// within the watch window.
    pub fn watched(&self) -> Vec<H160> {
        let Ok(mut w) = self.watched.lock() else {
            return vec![];
        };
        w.watched(Instant::now())
    }

    /// Prefetches the watched accounts at `epoch`, so that reads there are local.
    pub async fn prefetch_watched(&self, epoch: u64) -> Result<(), QueryError> {
        let keys: Vec<StorageKey> = self
            .watched()
            .into_iter()
            .map(StorageKey::Account)
            .collect();
        if keys.is_empty() {
            return Ok(());
        }
        self.state_entries(epoch, &keys).await.map(|_| ())
    }

    /// A stored header by hash.
    pub fn header(&self, hash: &H256) -> Result<Option<BlockHeader>, QueryError> {
        Ok(self
            .store
            .header(hash)?
            .and_then(|raw| BlockHeader::decode(&raw).ok()))
    }

    /// The transactions of a stored block, verified against its transactions root.
    pub async fn block_txs(&self, hash: H256) -> Result<Vec<BlockTransaction>, QueryError> {
        let header = self.header(&hash)?.ok_or_else(|| {
            QueryError::Unverified(format!("block {hash:?} is not in the verified chain"))
        })?;
        if header.transactions_root == mpt::MERKLE_NULL_NODE {
            return Ok(vec![]);
        }
        if let Some(txs) = self.store.block_body(&hash)? {
            return Ok(txs);
        }
        let txs = self
            .ask("GetBlockTxs", |p| {
                let root = header.transactions_root;
                async move {
                    let blocks = match p.block_txs(&[hash]).await {
                        Ok(b) => b,
                        Err(e) => return Attempt::Skip(peer_skip(e)),
                    };
                    let Some((_, txs)) = blocks.into_iter().find(|(h, _)| *h == hash) else {
                        return Attempt::Skip("block body not served".into());
                    };
                    let Some(txs) = txs else {
                        return Attempt::Skip(format!(
                            "block {hash:?} holds a transaction of a type this build does not decode, so its body cannot be verified"
                        ));
                    };
                    let hashes: Vec<H256> = txs.iter().map(|t| t.hash()).collect();
                    if mpt::transactions_root(&hashes) != root {
                        return Attempt::Lie(format!(
                            "transactions of block {hash:?} do not match its transactions root"
                        ));
                    }
                    if let Some(bad) = txs.iter().find(|t| t.recover_sender().is_err()) {
                        return Attempt::Lie(format!(
                            "transaction {:?} has no valid signature",
                            bad.hash()
                        ));
                    }
                    Attempt::Ok(txs)
                }
            })
            .await?;
        self.store.put_block_body(&hash, &txs)?;
        Ok(txs)
    }

    /// The receipts of every block of `epoch` (pivot last), verified against the epoch's
    /// verified receipts root.
    pub async fn epoch_receipts(&self, epoch: u64) -> Result<Vec<BlockReceipts>, QueryError> {
        let roots = self.verified_roots(epoch)?;
        let blocks = self.store.epoch_blocks(epoch)?.unwrap_or_default();
        let key = (roots.receipts_root, blocks.len());
        if let Some(r) = self.receipts.lock().ok().and_then(|c| c.get(&key)) {
            return Ok(r);
        }
        let fetched = self
            .ask("GetReceipts", |p| {
                let n = blocks.len();
                async move {
                    let got = match p.receipts(&[epoch]).await {
                        Ok(g) => g,
                        Err(e) => return Attempt::Skip(peer_skip(e)),
                    };
                    let Some((_, receipts)) = got.into_iter().find(|(e, _)| *e == epoch) else {
                        return Attempt::Skip(format!("receipts of epoch {epoch} not served"));
                    };
                    if receipts.is_empty() && n > 0 {
                        // The provider omits what it cannot serve (the genesis epoch, pruned
                        // epochs): not a lie, just no answer.
                        return Attempt::Skip(format!("receipts of epoch {epoch} not served"));
                    }
                    if receipts.len() != n {
                        return Attempt::Lie(format!(
                            "epoch {epoch} has {n} blocks but {} receipt lists came",
                            receipts.len()
                        ));
                    }
                    let block_roots: Vec<H256> = receipts
                        .iter()
                        .map(|b| mpt::block_receipts_root(&b.receipts))
                        .collect();
                    if mpt::epoch_receipts_root(&block_roots) != roots.receipts_root {
                        return Attempt::Lie(format!(
                            "receipts of epoch {epoch} do not match its verified receipts root"
                        ));
                    }
                    Attempt::Ok(receipts)
                }
            })
            .await?;
        if let Ok(mut c) = self.receipts.lock() {
            c.put(key, fetched.clone());
        }
        Ok(fetched)
    }

    /// The aggregated logs bloom of `epoch`, verified against its logs bloom hash.
    pub async fn epoch_bloom(&self, epoch: u64) -> Result<Bloom, QueryError> {
        let roots = self.verified_roots(epoch)?;
        if let Some(b) = self
            .blooms
            .lock()
            .ok()
            .and_then(|c| c.get(&roots.logs_bloom_hash))
        {
            return Ok(b);
        }
        let bloom = self
            .ask("GetBlooms", |p| async move {
                let got = match p.blooms(&[epoch]).await {
                    Ok(g) => g,
                    Err(e) => return Attempt::Skip(peer_skip(e)),
                };
                let Some((_, bloom)) = got.into_iter().find(|(e, _)| *e == epoch) else {
                    return Attempt::Skip(format!("bloom of epoch {epoch} not served"));
                };
                if cfxlight_primitives::hash::keccak256(bloom.as_bytes()) != roots.logs_bloom_hash {
                    return Attempt::Lie(format!("bloom of epoch {epoch} does not match its hash"));
                }
                Attempt::Ok(bloom)
            })
            .await?;
        if let Ok(mut c) = self.blooms.lock() {
            c.put(roots.logs_bloom_hash, bloom);
        }
        Ok(bloom)
    }

    /// Where `hash` was executed, every part checked against verified roots; None when no
    /// peer knows it as executed within the verified chain, or when it is an eSpace
    /// transaction (which the Core RPC does not show).
    pub async fn tx(&self, hash: H256) -> Result<Option<VerifiedTx>, QueryError> {
        let r = self
            .ask("GetTxInfos", |p| async move {
                let infos = match p.tx_infos(&[hash]).await {
                    Ok(i) => i,
                    Err(e) => return Attempt::Skip(peer_skip(e)),
                };
                let Some(info) = infos.into_iter().find(|i| i.tx.hash() == hash) else {
                    return Attempt::Skip("transaction not known as executed".into());
                };
                match self.check_tx_info(info) {
                    Ok(Some(v)) => Attempt::Ok(Some(v)),
                    // Executed past what we have verified: not a fact for us yet.
                    Ok(None) => Attempt::Ok(None),
                    Err(why) => Attempt::Lie(why),
                }
            })
            .await;
        let mut v = match r {
            // Every peer merely did not know it: not executed (yet), as far as we can tell.
            Err(QueryError::NotServed(_)) | Ok(None) => return Ok(None),
            Err(e) => return Err(e),
            Ok(Some(v)) => v,
        };
        // `index` came as the position over both spaces; the RPC counts Core ones only.
        // A first transaction needs no body; otherwise the verified body tells.
        if v.index > 0 {
            let body = self.block_txs(v.block_hash).await?;
            let pos = usize::try_from(v.index).unwrap_or(usize::MAX);
            if body.get(pos).map(|t| t.hash()) != Some(hash) {
                return Err(QueryError::Unverified(format!(
                    "transaction {hash:?} is not at its proven position in its block's verified body"
                )));
            }
            v.index = body[..pos]
                .iter()
                .filter(|t| t.as_native().is_some())
                .count() as u64;
        }
        Ok(Some(v))
    }

    fn check_tx_info(&self, i: TxInfo) -> Result<Option<VerifiedTx>, String> {
        let store_err = |e: StoreError| e.to_string();
        let Some(roots) = self.store.roots(i.epoch).map_err(store_err)? else {
            return Ok(None);
        };
        let blocks = self
            .store
            .epoch_blocks(i.epoch)
            .map_err(store_err)?
            .unwrap_or_default();
        if i.num_blocks != blocks.len() as u64 {
            return Err(format!(
                "says epoch {} has {} blocks; it has {}",
                i.epoch,
                i.num_blocks,
                blocks.len()
            ));
        }
        let block_hash = *blocks
            .get(i.block_index as usize)
            .ok_or("block index out of range")?;
        let header = self
            .header(&block_hash)
            .map_err(|e| e.to_string())?
            .ok_or("block header missing")?;
        let proof = |raw: &[u8]| -> Result<TrieProof, String> {
            cfxlight_primitives::rlp_util::decode_exact(raw)
                .map_err(|e| format!("undecodable proof: {e}"))
        };
        let (idx, n) = (i.tx_index as usize, i.num_txs as usize);
        let tx_hash =
            mpt::simple_mpt_proof_value(&proof(&i.tx_proof)?, &header.transactions_root, idx, n)
                .map_err(|e| format!("transaction proof: {e}"))?;
        if tx_hash != i.tx.hash().as_bytes() {
            return Err("transaction proof proves another transaction".into());
        }
        let block_root = mpt::simple_mpt_proof_value(
            &proof(&i.block_index_proof)?,
            &roots.receipts_root,
            i.block_index as usize,
            i.num_blocks as usize,
        )
        .map_err(|e| format!("block receipts proof: {e}"))?;
        let block_root = <[u8; 32]>::try_from(block_root.as_slice())
            .map(H256)
            .map_err(|_| "block receipts root is not 32 bytes")?;
        let receipt = mpt::simple_mpt_proof_value(&proof(&i.receipt_proof)?, &block_root, idx, n)
            .map_err(|e| format!("receipt proof: {e}"))?;
        if receipt != rlp::encode(&i.receipt).to_vec() {
            return Err("receipt proof proves another receipt".into());
        }
        let prior = if idx == 0 {
            U256::zero()
        } else {
            let (Some(prev), Some(prev_proof)) = (&i.prev_receipt, &i.prev_receipt_proof) else {
                return Err("previous receipt missing".into());
            };
            let got = mpt::simple_mpt_proof_value(&proof(prev_proof)?, &block_root, idx - 1, n)
                .map_err(|e| format!("previous receipt proof: {e}"))?;
            if got != rlp::encode(prev).to_vec() {
                return Err("previous receipt proof proves another receipt".into());
            }
            prev.accumulated_gas_used
        };
        let (sender, _) =
            i.tx.recover_sender()
                .map_err(|e| format!("transaction signature: {e}"))?;
        // An eSpace transaction, proven where it is: the Core RPC shows none (conflux-rust
        // answers null for eSpace hashes in cfx_getTransactionByHash and its receipt).
        let BlockTransaction::Native(tx) = i.tx else {
            return Ok(None);
        };
        let gas_used = i
            .receipt
            .accumulated_gas_used
            .checked_sub(prior)
            .ok_or("accumulated gas goes down")?;
        Ok(Some(VerifiedTx {
            tx,
            sender,
            epoch: i.epoch,
            block_hash,
            index: i.tx_index,
            receipt: i.receipt,
            gas_used,
            header,
            state_root: roots.state_root,
        }))
    }
}

fn poisoned() -> QueryError {
    QueryError::Unverified("internal lock poisoned".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_is_watched_once_read_at_two_states() {
        let t0 = Instant::now();
        let (a, b, pinned) = (
            H160::repeat_byte(1),
            H160::repeat_byte(2),
            H160::repeat_byte(3),
        );
        let mut w = Watched::default();
        w.pinned.insert(pinned);
        // Several reads at one state (a page load: balance, nonce, code) are one look.
        for _ in 0..3 {
            w.touch(a, 10, t0);
        }
        w.touch(b, 10, t0);
        assert_eq!(w.watched(t0), vec![pinned]);
        // A second state: a dapp that polls.
        w.touch(a, 11, t0 + Duration::from_secs(5));
        let mut got = w.watched(t0 + Duration::from_secs(5));
        got.sort();
        assert_eq!(got, vec![a, pinned]);
        // Unasked for the whole window: forgotten; the pinned one stays.
        let later = t0 + Duration::from_secs(5) + WATCH_FOR;
        assert_eq!(w.watched(later), vec![pinned]);
        assert!(w.recent.is_empty());
    }

    #[test]
    fn a_flood_of_one_off_reads_neither_grows_the_set_nor_is_prefetched() {
        let t0 = Instant::now();
        let polled = H160::repeat_byte(0xaa);
        let mut w = Watched::default();
        w.touch(polled, 1, t0);
        w.touch(polled, 2, t0);
        for i in 0..(3 * MAX_WATCHED as u64) {
            let now = t0 + Duration::from_millis(i);
            w.touch(H160::from_low_u64_be(i + 1), 3, now);
            // The polled account keeps being asked, so it is never the oldest.
            if i % 100 == 0 {
                w.touch(polled, 3 + i, now);
            }
        }
        assert!(w.recent.len() <= MAX_WATCHED);
        assert_eq!(w.watched(t0 + Duration::from_secs(4)), vec![polled]);
    }
}

#[cfg(test)]
mod recent_tests {
    use super::Recent;

    #[test]
    fn a_recent_map_keeps_its_newest_entries_within_its_bound() {
        let mut r = Recent::new(3);
        for i in 0..5u32 {
            r.put(i, i * 10);
        }
        assert_eq!((r.get(&0), r.get(&1)), (None, None));
        assert_eq!((r.get(&2), r.get(&4)), (Some(20), Some(40)));
        // Putting a key again neither grows the map nor reorders it.
        r.put(2, 21);
        assert_eq!(r.map.len(), 3);
        assert_eq!(r.get(&2), Some(21));
    }
}

#[cfg(test)]
mod state_cache_tests {
    use super::{StateCache, H256, STATE_CACHE_BYTES};

    #[test]
    fn the_state_cache_stays_within_its_byte_budget_and_drops_the_oldest_first() {
        let mut c = StateCache::default();
        let value = vec![7u8; 100];
        let per = StateCache::cost(&[0u8; 40], Some(&value));
        let fits = STATE_CACHE_BYTES / per;
        // A new state root every "epoch", the same few keys read at each: what a device
        // following the chain does for hours.
        for i in 0..(3 * fits) as u64 {
            let mut key = vec![0u8; 40];
            key[..8].copy_from_slice(&(i % 5).to_be_bytes());
            c.insert((H256::from_low_u64_be(i / 5), key), Some(value.clone()));
            assert!(c.bytes <= STATE_CACHE_BYTES, "{} at {i}", c.bytes);
        }
        assert_eq!(c.map.len(), c.order.len());
        assert!(
            c.map.len() >= fits - 1 && c.map.len() <= fits,
            "{}",
            c.map.len()
        );
        let newest = (H256::from_low_u64_be((3 * fits as u64 - 1) / 5), {
            let mut k = vec![0u8; 40];
            k[..8].copy_from_slice(&((3 * fits as u64 - 1) % 5).to_be_bytes());
            k
        });
        assert!(c.map.contains_key(&newest));
        assert!(!c
            .map
            .contains_key(&(H256::from_low_u64_be(0), vec![0u8; 40])));
        // Inserting an entry that is already there costs nothing more.
        let before = c.bytes;
        c.insert(newest, Some(value));
        assert_eq!(c.bytes, before);
    }
}
