//! Header sync: follow the heaviest valid pivot chain from a trusted start, check every
//! header and every epoch's block set locally, and trust an epoch's deferred roots only once
//! later headers have voted for them.
//!
//! Per round (conflux-protocol.md §2 "Header sync"), against one provider: ask for the block
//! hashes of up to 128 epochs past our best (flattened, each epoch's pivot last), fetch their
//! headers (each hashed from the received bytes by the peer layer), and walk the pivot chain
//! *backwards* from the last hash by parent links. Then, for every epoch in order:
//! - every header, pivot or not, passes [`crate::rules`] alone (PoW included) and against its
//!   parent; the difficulty is bounded by the parent's, never taken from the header;
//! - the epoch's block set is recomputed: the blocks reachable from the pivot through parent
//!   and referee links that are in no earlier epoch must be exactly the listed ones (none
//!   hidden, none added), in conflux-rust's order (topological, ties broken by hash), at most
//!   200 (`EPOCH_EXECUTED_BLOCK_BOUND`).
//!
//! A peer's claimed best epoch only decides what to ask. If the batch does not extend our
//! chain, the fork point is looked for at most `trust.max_rewind` epochs back; the competing
//! branch is fetched and verified like any batch, and the node switches (in one atomic
//! write that also removes the losing branch's headers) only if the branch carries more work
//! (the sum of its blocks' difficulties). A lighter or invalid fork, or a deeper one, is the
//! sending peer's fault and never rewinds the node. Nothing is stored unless the whole batch
//! checks out.
//!
//! Deferred roots: the pivot header at `h` carries the roots of epoch `h − 5` (plainly with
//! blame 0, folded with its blamed ancestors' otherwise, reproduced by a GetWitnessInfo
//! answer). They become *trusted* by conflux-rust's light-node rule (`BlameVerifier`):
//! header `h` counts once at least `trust.min_votes` of it and its descendants (within
//! `trust.blame_bound` generations) have voted and fewer than `trust.max_blame_ratio` of
//! them blame it, judged `trust.check_offset` epochs behind our best; a blamed header's roots
//! come from the first later trusted header whose blame covers it. `latest_state` advances
//! only through trusted epochs, and only trusted roots are stored.
//!
//! Where this differs from conflux-rust (also in the README): the pivot chain is chosen by
//! total work over the epochs, not by GHAST subtree weights over the whole block tree; the
//! votes are counted over the executed blocks we hold; blocks skipped by the 200-block bound
//! or from another era are not modelled (an honest epoch that has them would be refused).

use std::{
    collections::{BinaryHeap, HashMap, HashSet, VecDeque},
    future::Future,
    sync::Arc,
};

use cfxlight_chainspec::{Checkpoint, TrustRule};
use cfxlight_primitives::{header::BlockHeader, keccak256, H256, U256};
use thiserror::Error;

use crate::{
    light::{
        message::WitnessInfo,
        peer::{LightPeer, PeerError},
    },
    rules::{HeaderVerifier, PeriodStats, RuleError},
    store::{EpochRecord, Store, StoreError, VerifiedRoots},
};

/// Epochs between a pivot header and the epoch whose roots it carries.
pub const DEFERRED_STATE_EPOCHS: u64 = 5;
/// Epochs per GetBlockHashesByEpoch (the provider's cap is 128).
pub const EPOCH_BATCH: u64 = 128;
/// Headers per GetBlockHeaders (the provider's cap is 512).
pub const HEADER_BATCH: usize = 512;
/// conflux-rust `EPOCH_EXECUTED_BLOCK_BOUND`: an epoch executes at most this many blocks.
pub const MAX_EPOCH_BLOCKS: usize = 200;
/// After a checkpoint start, blocks in this many epochs past the held window may link to
/// blocks we never saw (before the window); past it every link must resolve.
pub const CHECKPOINT_HORIZON: u64 = 1000;
/// How far below its epoch's height a block may be (conflux-rust's era length): bounds which
/// PoW stage a listed header can make us build a cache for.
pub const MAX_HEIGHT_LAG: u64 = 20_000;
/// Epochs of headers the vote count looks at, at most (bounds the work of a stalled trust).
const TRUST_WINDOW: u64 = 2000;

/// Why a sync round failed.
#[derive(Debug, Error)]
pub enum SyncError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The peer failed or misbehaved at the protocol level.
    #[error(transparent)]
    Peer(#[from] PeerError),
    /// The peer's data does not verify: it is dropped and nothing it sent is kept.
    #[error("peer sent unverifiable data: {0}")]
    Invalid(String),
    /// A header breaks a rule (the peer sent it, so the peer is at fault).
    #[error("invalid header {hash:?} (height {height}): {rule}")]
    Rule {
        /// The header.
        hash: H256,
        /// Its height.
        height: u64,
        /// The rule it breaks.
        rule: Box<RuleError>,
    },
    /// The peer's valid fork carries less work than our chain: not followed.
    #[error(
        "peer's fork from epoch {fork_point} is lighter than our chain ({theirs} < {ours} work)"
    )]
    Lighter {
        /// Last common epoch.
        fork_point: u64,
        /// Work of the peer's chain at its tip.
        theirs: U256,
        /// Work of ours.
        ours: U256,
    },
    /// The peer's chain leaves ours deeper than the rewind bound: refused.
    #[error("peer's chain leaves ours more than {max_rewind} epochs back (below epoch {below}): refused")]
    TooDeep {
        /// The bound.
        max_rewind: u64,
        /// The lowest epoch looked at.
        below: u64,
    },
    /// The checkpoint cannot be used: wrong hash, not a pivot, or too old.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
}

impl SyncError {
    /// Whether the peer that caused this is to be penalised as a liar (not a mere failure).
    pub fn is_misbehaviour(&self) -> bool {
        matches!(
            self,
            SyncError::Invalid(_) | SyncError::Rule { .. } | SyncError::TooDeep { .. }
        )
    }
}

/// What a round achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// New epochs were verified and stored, up to this one.
    Advanced(u64),
    /// Already at the peer's tip.
    AtTip,
    /// A heavier fork replaced our chain above `fork_point`; the new best is `to`.
    Switched {
        /// Last common epoch.
        fork_point: u64,
        /// New best epoch.
        to: u64,
    },
}

/// Where sync starts when the store is empty.
#[derive(Debug, Clone, Copy)]
pub enum Start {
    /// The genesis block (epoch 0).
    Genesis(H256),
    /// A trusted checkpoint, with the epochs before it that the rules need, on the chain
    /// of this genesis.
    Checkpoint(Checkpoint, H256),
}

/// Follows the pivot chain into the store.
pub struct Syncer {
    store: Arc<Store>,
    rules: HeaderVerifier,
    trust: TrustRule,
    start: Start,
    now: fn() -> u64,
    checkpoint_max_age: Option<u64>,
}

fn fold(roots: &[H256]) -> Option<H256> {
    let (last, rest) = roots.split_last()?;
    Some(rest.iter().rev().fold(*last, |acc, r| {
        keccak256([r.as_bytes(), acc.as_bytes()].concat())
    }))
}

fn rule_error(h: &BlockHeader, rule: RuleError) -> SyncError {
    SyncError::Rule {
        hash: h.hash(),
        height: h.height,
        rule: Box::new(rule),
    }
}

/// The chain as a batch under verification sees it: the batch's epochs above `fork_point`,
/// the store's at and below it.
struct View<'a> {
    store: &'a Store,
    fork_point: u64,
    headers: &'a HashMap<H256, BlockHeader>,
    /// Epoch of each block in the batch's epochs verified so far.
    epoch_of: HashMap<H256, u64>,
    /// Pivot and block count of the batch's epochs verified so far.
    epochs: HashMap<u64, (H256, usize)>,
}

impl View<'_> {
    fn header(&self, hash: &H256) -> Result<Option<BlockHeader>, SyncError> {
        if let Some(h) = self.headers.get(hash) {
            return Ok(Some(h.clone()));
        }
        Ok(self
            .store
            .header(hash)?
            .and_then(|raw| BlockHeader::decode(&raw).ok()))
    }

    /// The epoch a block is in on this view's chain (store entries above the fork point
    /// belong to the branch being replaced and do not count).
    fn block_epoch(&self, hash: &H256) -> Result<Option<u64>, SyncError> {
        if let Some(e) = self.epoch_of.get(hash) {
            return Ok(Some(*e));
        }
        Ok(self
            .store
            .block_epoch(hash)?
            .filter(|e| *e <= self.fork_point))
    }

    fn pivot(&self, epoch: u64) -> Result<Option<H256>, SyncError> {
        if let Some((p, _)) = self.epochs.get(&epoch) {
            return Ok(Some(*p));
        }
        if epoch > self.fork_point {
            return Ok(None);
        }
        Ok(self.store.pivot(epoch)?)
    }

    fn block_count(&self, epoch: u64) -> Result<Option<usize>, SyncError> {
        if let Some((_, n)) = self.epochs.get(&epoch) {
            return Ok(Some(*n));
        }
        if epoch > self.fork_point {
            return Ok(None);
        }
        Ok(self.store.epoch_blocks(epoch)?.map(|b| b.len()))
    }
}

/// conflux-rust's order of an epoch's non-pivot blocks (`topological_sort` with the hash
/// as tie-break): predecessors first; built backwards, the largest hash among the blocks no
/// remaining block depends on goes last.
pub fn epoch_order(set: &[H256], preds: &HashMap<H256, Vec<H256>>) -> Vec<H256> {
    let members: HashSet<H256> = set.iter().copied().collect();
    let mut successors: HashMap<H256, usize> = set.iter().map(|h| (*h, 0)).collect();
    for h in set {
        for p in preds.get(h).into_iter().flatten() {
            if members.contains(p) {
                *successors.entry(*p).or_default() += 1;
            }
        }
    }
    let mut ready: BinaryHeap<H256> = successors
        .iter()
        .filter(|(_, n)| **n == 0)
        .map(|(h, _)| *h)
        .collect();
    let mut out = Vec::with_capacity(set.len());
    while let Some(h) = ready.pop() {
        out.push(h);
        for p in preds.get(&h).into_iter().flatten() {
            if let Some(n) = successors.get_mut(p) {
                *n -= 1;
                if *n == 0 {
                    ready.push(*p);
                }
            }
        }
    }
    out.reverse();
    out
}

/// One epoch of a batch, as the peer listed it.
struct Listed {
    epoch: u64,
    blocks: Vec<H256>,
}

impl Syncer {
    /// A syncer writing to `store`, checking headers with `rules` and trusting roots by
    /// `trust`, starting (on an empty store) at `start`.
    pub fn new(store: Arc<Store>, rules: HeaderVerifier, trust: TrustRule, start: Start) -> Syncer {
        Syncer {
            store,
            rules,
            trust,
            start,
            now: crate::log::unix_now,
            checkpoint_max_age: None,
        }
    }

    /// Refuses a checkpoint whose header is older than `max_age` seconds (None: any age).
    pub fn with_checkpoint_max_age(mut self, max_age: Option<u64>) -> Syncer {
        self.checkpoint_max_age = max_age;
        self
    }

    /// Uses `now` as the clock for the timestamp rule (tests).
    pub fn with_clock(mut self, now: fn() -> u64) -> Syncer {
        self.now = now;
        self
    }

    /// Stores the trusted start (genesis, or a checkpoint and the epochs before it that
    /// the rules need) if the store is empty.
    pub async fn init(&self, peer: &LightPeer) -> Result<(), SyncError> {
        if self.store.best_epoch()?.is_some() {
            return Ok(());
        }
        match self.start {
            Start::Genesis(genesis) => {
                let headers = peer.block_headers(&[genesis]).await?;
                let g = headers.into_iter().next().ok_or_else(|| {
                    SyncError::Invalid("peer does not have the genesis header".into())
                })?;
                if g.height != 0 {
                    return Err(SyncError::Invalid(
                        "genesis header is not at height 0".into(),
                    ));
                }
                self.store.commit_base(
                    0,
                    Some(0),
                    &[EpochRecord {
                        epoch: 0,
                        pivot: g.hash(),
                        blocks: vec![g.hash()],
                        headers: vec![(g.hash(), g.rlp())],
                        work: g.difficulty,
                    }],
                )?;
                Ok(())
            }
            Start::Checkpoint(c, genesis) => self.init_checkpoint(peer, c, genesis).await,
        }
    }

    /// Fetches the checkpoint's pivot header by hash, and backwards by parent links the
    /// epochs before it that the rules need to go on: the difficulty period (its block
    /// counts and times), and one snapshot period and a little more (state proofs of the
    /// intermediate trie are read against the state root of the epoch 2000 back). They are
    /// as trusted as the checkpoint: each is linked to it by hashes.
    async fn init_checkpoint(
        &self,
        peer: &LightPeer,
        c: Checkpoint,
        genesis: H256,
    ) -> Result<(), SyncError> {
        let headers = peer.block_headers(&[c.hash]).await?;
        let Some(top) = headers.into_iter().next() else {
            return Err(SyncError::Checkpoint(format!(
                "the peer has no block {:?}: is the checkpoint hash right for this chain?",
                c.hash
            )));
        };
        if top.height != c.epoch {
            return Err(SyncError::Checkpoint(format!(
                "block {:?} is at height {}, not at epoch {}",
                c.hash, top.height, c.epoch
            )));
        }
        self.rules
            .check_alone(&top)
            .map_err(|r| rule_error(&top, r))?;
        if let Some(max) = self.checkpoint_max_age {
            let age = (self.now)().saturating_sub(top.timestamp);
            if age > max {
                return Err(SyncError::Checkpoint(format!(
                    "its header is {} days old (from {}); pass a recent one or --allow-old-checkpoint",
                    age / 86_400,
                    crate::log::utc_date(top.timestamp)
                )));
            }
        }
        let listed = peer.block_hashes_by_epoch(&[c.epoch]).await?;
        if listed.last() != Some(&c.hash) {
            return Err(SyncError::Checkpoint(format!(
                "block {:?} is not the pivot of epoch {} (the peer's pivot there is {:?})",
                c.hash,
                c.epoch,
                listed.last()
            )));
        }
        let spec = self.rules.spec();
        let window = spec
            .difficulty_period(c.epoch.saturating_sub(1))
            .max(spec.snapshot_epoch_count + 2 * DEFERRED_STATE_EPOCHS);
        let base = c.epoch.saturating_sub(window);
        let (hashes, headers) = self.fetch(peer, base, c.epoch).await?;
        let pivots = walk_back(&headers, c.hash, base, c.epoch)?;
        if pivots.first().map(|p| p.height) != Some(base) {
            return Err(SyncError::Invalid(
                "checkpoint window does not start at its base".into(),
            ));
        }
        if base == 0 && pivots.first().map(|p| p.hash()) != Some(genesis) {
            return Err(SyncError::Checkpoint(format!(
                "block {:?} does not descend from this chain's genesis {genesis:?}",
                c.hash
            )));
        }
        let listed = partition(&hashes, &pivots)?;
        let mut view = View {
            store: &self.store,
            fork_point: base.saturating_sub(1),
            headers: &headers,
            epoch_of: HashMap::new(),
            epochs: HashMap::new(),
        };
        // The window's first epoch links to blocks we will never see: its own set and its
        // pivot's parent rules cannot be checked, only its hash links and PoW.
        let records = self.verify_epochs(&mut view, &listed, Some(base), U256::zero())?;
        let first_number = match c.block_number {
            Some(n) => {
                let held: u64 = listed.iter().map(|l| l.blocks.len() as u64).sum();
                Some(
                    n.checked_add(1)
                        .and_then(|x| x.checked_sub(held))
                        .ok_or_else(|| {
                            SyncError::Checkpoint(format!(
                                "block number {n} is below the {held} blocks of the window"
                            ))
                        })?,
                )
            }
            None => None,
        };
        self.store.commit_base(base, first_number, &records)?;
        Ok(())
    }

    /// The hashes of epochs `from..=to` and their headers.
    async fn fetch(
        &self,
        peer: &LightPeer,
        from: u64,
        to: u64,
    ) -> Result<(Vec<H256>, HashMap<H256, BlockHeader>), SyncError> {
        let mut hashes = Vec::new();
        let mut at = from;
        while at <= to {
            let end = to.min(at.saturating_add(EPOCH_BATCH - 1));
            let epochs: Vec<u64> = (at..=end).collect();
            hashes.extend(peer.block_hashes_by_epoch(&epochs).await?);
            at = end.saturating_add(1);
            if end == u64::MAX {
                break;
            }
        }
        // Each epoch executes at most 200 blocks: a longer list is refused before any fetch.
        let cap = (to - from + 1).saturating_mul(MAX_EPOCH_BLOCKS as u64);
        if hashes.len() as u64 > cap {
            return Err(SyncError::Invalid(format!(
                "{} block hashes for {} epochs (at most {MAX_EPOCH_BLOCKS} each)",
                hashes.len(),
                to - from + 1
            )));
        }
        let mut headers: HashMap<H256, BlockHeader> = HashMap::with_capacity(hashes.len());
        for chunk in hashes.chunks(HEADER_BATCH) {
            for h in peer.block_headers(chunk).await? {
                headers.insert(h.hash(), h);
            }
        }
        Ok((hashes, headers))
    }

    /// One round against `peer`: extend our chain, or switch to a heavier fork, then trust
    /// what the votes allow.
    pub async fn round(&self, peer: &LightPeer) -> Result<Progress, SyncError> {
        let best = self.store.best_epoch()?.unwrap_or(0);
        let tip = peer.status().best_epoch;
        let progress = if best >= tip {
            Progress::AtTip
        } else {
            self.follow(peer, best, tip.min(best.saturating_add(EPOCH_BATCH)))
                .await?
        };
        self.advance_trust(peer).await?;
        Ok(progress)
    }

    async fn follow(&self, peer: &LightPeer, best: u64, to: u64) -> Result<Progress, SyncError> {
        let from = best + 1;
        let (mut hashes, mut headers) = self.fetch(peer, from, to).await?;
        let Some(&last) = hashes.last() else {
            return Err(SyncError::Invalid(format!(
                "no block hashes for epochs {from}..={to}"
            )));
        };
        let mut pivots = walk_back(&headers, last, from, to)?;
        let mut cursor = pivots[0].parent_hash;
        let mut fork_point = best;
        if self.store.pivot(best)? != Some(cursor) {
            // Not an extension: look for the fork point, at most max_rewind epochs back.
            let lowest = best
                .saturating_sub(self.trust.max_rewind)
                .max(self.store.base_epoch());
            let (older, older_headers) = self.fetch(peer, lowest, best).await?;
            headers.extend(older_headers);
            let mut found = None;
            let mut branch = Vec::new();
            for e in (lowest..=best).rev() {
                if self.store.pivot(e)? == Some(cursor) {
                    found = Some(e);
                    break;
                }
                let h = headers.get(&cursor).ok_or_else(|| {
                    SyncError::Invalid(format!("pivot of epoch {e} ({cursor:?}) was not served"))
                })?;
                if h.height != e {
                    return Err(SyncError::Invalid(format!(
                        "pivot {cursor:?} has height {} for epoch {e}",
                        h.height
                    )));
                }
                branch.push(h.clone());
                cursor = h.parent_hash;
            }
            let Some(f) = found else {
                crate::log::warn(&format!(
                    "REFUSED: peer {} shows a chain that leaves ours below epoch {lowest} \
                     (more than {} epochs back); not following it",
                    peer.url, self.trust.max_rewind
                ));
                return Err(SyncError::TooDeep {
                    max_rewind: self.trust.max_rewind,
                    below: lowest,
                });
            };
            fork_point = f;
            branch.reverse();
            branch.extend(pivots);
            pivots = branch;
            let mut full = Vec::with_capacity(older.len() + hashes.len());
            full.extend(older);
            full.extend(hashes);
            hashes = full;
        }
        // The branch's epochs: every listed hash from the first epoch above the fork point.
        let listed_all = partition_from(&hashes, &pivots)?;
        let mut view = View {
            store: &self.store,
            fork_point,
            headers: &headers,
            epoch_of: HashMap::new(),
            epochs: HashMap::new(),
        };
        let base_work = self.store.work(fork_point)?.unwrap_or_default();
        let records = self.verify_epochs(&mut view, &listed_all, None, base_work)?;
        let Some(top) = records.last() else {
            return Ok(Progress::AtTip);
        };
        if fork_point == best {
            self.store.commit(&records, &[])?;
            return Ok(Progress::Advanced(top.epoch));
        }
        let ours = self.store.work(best)?.unwrap_or_default();
        if top.work <= ours {
            return Err(SyncError::Lighter {
                fork_point,
                theirs: top.work,
                ours,
            });
        }
        crate::log::warn(&format!(
            "switching to a heavier fork from epoch {fork_point} (work {} > {ours}): \
             epochs {}..={best} replaced",
            top.work,
            fork_point + 1
        ));
        self.store.replace_above(
            fork_point,
            fork_point.checked_sub(DEFERRED_STATE_EPOCHS),
            &records,
        )?;
        Ok(Progress::Switched {
            fork_point,
            to: top.epoch,
        })
    }

    /// Verifies listed epochs in order (every header, every epoch set) and builds their
    /// records with cumulative work from `work`. `window_start`: the first epoch of a
    /// checkpoint window, whose links below cannot be resolved.
    fn verify_epochs(
        &self,
        view: &mut View<'_>,
        listed: &[Listed],
        window_start: Option<u64>,
        mut work: U256,
    ) -> Result<Vec<EpochRecord>, SyncError> {
        let now = (self.now)();
        let horizon = match window_start {
            Some(_) => u64::MAX,
            None => {
                let base = self.store.base_epoch();
                if base > 0 {
                    base.saturating_add(CHECKPOINT_HORIZON)
                } else {
                    0
                }
            }
        };
        let mut records = Vec::with_capacity(listed.len());
        for l in listed {
            let e = l.epoch;
            if l.blocks.len() > MAX_EPOCH_BLOCKS {
                return Err(SyncError::Invalid(format!(
                    "epoch {e} lists {} blocks (at most {MAX_EPOCH_BLOCKS})",
                    l.blocks.len()
                )));
            }
            let mut hdrs = Vec::with_capacity(l.blocks.len());
            let mut epoch_work = U256::zero();
            let listed_set: HashSet<H256> = l.blocks.iter().copied().collect();
            if listed_set.len() != l.blocks.len() {
                return Err(SyncError::Invalid(format!("epoch {e} lists a block twice")));
            }
            let mut preds: HashMap<H256, Vec<H256>> = HashMap::with_capacity(l.blocks.len());
            for b in &l.blocks {
                let h = view.headers.get(b).ok_or_else(|| {
                    SyncError::Invalid(format!("header of block {b:?} (epoch {e}) was not served"))
                })?;
                // A block is at most at its epoch's height, and not far below it: checked
                // before the PoW, whose cost (an Octopus stage cache) follows the height.
                if h.height > e || e - h.height > MAX_HEIGHT_LAG {
                    return Err(SyncError::Invalid(format!(
                        "block {b:?} at height {} cannot be in epoch {e}",
                        h.height
                    )));
                }
                let first_of_window = window_start == Some(e);
                if e == 0 {
                    // The genesis (reached by hash links from a checkpoint, and compared
                    // with the pinned one): not mined, no rules to hold.
                    epoch_work = epoch_work.saturating_add(h.difficulty);
                    preds.insert(*b, vec![]);
                    hdrs.push((*b, h.rlp()));
                    continue;
                }
                match view.header(&h.parent_hash)? {
                    Some(parent) => {
                        let period = self.period_stats(view, &parent)?;
                        self.rules
                            .check_with_parent(h, &parent, period, now)
                            .map_err(|r| rule_error(h, r))?;
                    }
                    None if first_of_window || e < horizon => {}
                    None => {
                        return Err(SyncError::Invalid(format!(
                            "block {b:?} (epoch {e}) has a parent nobody showed us"
                        )))
                    }
                }
                self.rules.check_alone(h).map_err(|r| rule_error(h, r))?;
                epoch_work = epoch_work.saturating_add(h.difficulty);
                let mut p = Vec::with_capacity(h.referee_hashes.len() + 1);
                p.push(h.parent_hash);
                p.extend(h.referee_hashes.iter().copied());
                preds.insert(*b, p);
                hdrs.push((*b, h.rlp()));
            }
            // The set: everything reachable from the pivot that no earlier epoch holds.
            let Some(&pivot) = l.blocks.last() else {
                return Err(SyncError::Invalid(format!("epoch {e} lists no blocks")));
            };
            let mut reached: HashSet<H256> = HashSet::from([pivot]);
            let mut queue = VecDeque::from([pivot]);
            while let Some(x) = queue.pop_front() {
                for p in preds.get(&x).into_iter().flatten() {
                    if listed_set.contains(p) {
                        if reached.insert(*p) {
                            queue.push_back(*p);
                        }
                    } else if view.block_epoch(p)?.is_some_and(|pe| pe < e) {
                        continue;
                    } else if window_start == Some(e) || e < horizon {
                        // Before the checkpoint window: not ours to check.
                        continue;
                    } else if x == pivot && *p == preds[&pivot][0] {
                        return Err(SyncError::Invalid(format!(
                            "pivot of epoch {e} does not extend the previous pivot"
                        )));
                    } else {
                        return Err(SyncError::Invalid(format!(
                            "epoch {e} hides block {p:?}: it is reachable from the pivot and in no earlier epoch"
                        )));
                    }
                }
            }
            if reached.len() != l.blocks.len() {
                return Err(SyncError::Invalid(format!(
                    "epoch {e} lists {} block(s) not reachable from its pivot",
                    l.blocks.len() - reached.len()
                )));
            }
            let others = &l.blocks[..l.blocks.len() - 1];
            if epoch_order(others, &preds) != others {
                return Err(SyncError::Invalid(format!(
                    "epoch {e} lists its blocks out of conflux-rust's order"
                )));
            }
            work = work.saturating_add(epoch_work);
            for b in &l.blocks {
                view.epoch_of.insert(*b, e);
            }
            view.epochs.insert(e, (pivot, l.blocks.len()));
            records.push(EpochRecord {
                epoch: e,
                pivot,
                blocks: l.blocks.clone(),
                headers: hdrs,
                work,
            });
        }
        Ok(records)
    }

    /// The block counts and time span of the difficulty period that `parent` closes, when
    /// it is a pivot at a period boundary and the view holds the whole period.
    fn period_stats(
        &self,
        view: &View<'_>,
        parent: &BlockHeader,
    ) -> Result<Option<PeriodStats>, SyncError> {
        let spec = self.rules.spec();
        let len = spec.difficulty_period(parent.height).max(1);
        if spec.rules.fixed_difficulty || parent.height < len || !parent.height.is_multiple_of(len)
        {
            return Ok(None);
        }
        if view.pivot(parent.height)? != Some(parent.hash()) {
            return Ok(None);
        }
        let mut block_count = 0u64;
        for e in (parent.height - len + 1)..=parent.height {
            match view.block_count(e)? {
                Some(n) => block_count += n as u64,
                None => return Ok(None),
            }
        }
        // conflux-rust takes the time of the pivot `len` epochs back (genesis' 0 excluded).
        let start = parent.height - len;
        let Some(first) = view.pivot(start)? else {
            return Ok(None);
        };
        let Some(first) = view.header(&first)? else {
            return Ok(None);
        };
        let min_time = if first.timestamp != 0 {
            first.timestamp
        } else {
            match view.pivot(start + 1)? {
                Some(h) => view.header(&h)?.map_or(0, |h| h.timestamp),
                None => return Ok(None),
            }
        };
        Ok(Some(PeriodStats {
            block_count,
            timespan: parent.timestamp.saturating_sub(min_time),
        }))
    }

    /// Trusts the deferred roots the blame votes allow and moves `latest_state` through
    /// them, asking `peer` for witnesses where a header was blamed.
    pub async fn advance_trust(&self, peer: &LightPeer) -> Result<(), SyncError> {
        let roots = {
            let store = &self.store;
            advance_trust_with(store, &self.trust, |height| async move {
                Ok(peer.witness_info(&[height]).await?.into_iter().next())
            })
            .await?
        };
        if !roots.is_empty() {
            self.store.commit(&[], &roots)?;
        }
        Ok(())
    }
}

/// The pivots of epochs `from..=to`, walked back from `last` by parent links; each must
/// be among the served headers at the height of its epoch.
fn walk_back(
    headers: &HashMap<H256, BlockHeader>,
    last: H256,
    from: u64,
    to: u64,
) -> Result<Vec<BlockHeader>, SyncError> {
    let mut pivots = Vec::with_capacity((to - from + 1) as usize);
    let mut cursor = last;
    for epoch in (from..=to).rev() {
        let h = headers.get(&cursor).ok_or_else(|| {
            SyncError::Invalid(format!(
                "pivot of epoch {epoch} ({cursor:?}) is not among the epoch hashes"
            ))
        })?;
        if h.height != epoch {
            return Err(SyncError::Invalid(format!(
                "pivot {cursor:?} has height {} for epoch {epoch}",
                h.height
            )));
        }
        pivots.push(h.clone());
        cursor = h.parent_hash;
    }
    pivots.reverse();
    Ok(pivots)
}

/// Splits the flattened hash list at the pivots: epoch e's blocks end at pivot(e).
fn partition(hashes: &[H256], pivots: &[BlockHeader]) -> Result<Vec<Listed>, SyncError> {
    let mut out = Vec::with_capacity(pivots.len());
    let mut start = 0;
    for p in pivots {
        let end = hashes[start..]
            .iter()
            .position(|h| *h == p.hash())
            .map(|i| start + i)
            .ok_or_else(|| SyncError::Invalid("epoch hashes out of order".into()))?;
        out.push(Listed {
            epoch: p.height,
            blocks: hashes[start..=end].to_vec(),
        });
        start = end + 1;
    }
    if start != hashes.len() {
        return Err(SyncError::Invalid(format!(
            "{} block hash(es) after the last pivot",
            hashes.len() - start
        )));
    }
    Ok(out)
}

/// As [`partition`], for a list that may start below the fork point: everything up to the
/// pivot the branch extends (ours already) is skipped.
fn partition_from(hashes: &[H256], pivots: &[BlockHeader]) -> Result<Vec<Listed>, SyncError> {
    let start = pivots
        .first()
        .and_then(|p| hashes.iter().position(|h| *h == p.parent_hash))
        .map_or(0, |i| i + 1);
    partition(&hashes[start..], pivots)
}

/// The roots the blame votes let us trust beyond `latest_state`, in epoch order, using
/// `witness(h)` for the witness of a trusted header that blames its ancestors.
pub async fn advance_trust_with<F, Fut>(
    store: &Store,
    trust: &TrustRule,
    mut witness: F,
) -> Result<Vec<(u64, VerifiedRoots)>, SyncError>
where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = Result<Option<WitnessInfo>, SyncError>>,
{
    let Some(best) = store.best_epoch()? else {
        return Ok(vec![]);
    };
    let base = store.base_epoch();
    let mut next = store.latest_state()?.map_or(base, |l| l + 1);
    let judged_up_to = best.saturating_sub(trust.check_offset);
    let first_h = next.saturating_add(DEFERRED_STATE_EPOCHS);
    if first_h > judged_up_to {
        return Ok(vec![]);
    }
    let tree = VoteTree::load(
        store,
        first_h,
        best.min(first_h.saturating_add(TRUST_WINDOW)),
    )?;
    let mut out: Vec<(u64, VerifiedRoots)> = Vec::new();
    loop {
        let h = next + DEFERRED_STATE_EPOCHS;
        if h > judged_up_to {
            break;
        }
        let Some(t) = tree.first_trusted(h, judged_up_to, trust) else {
            break;
        };
        let Some(th) = tree.pivot_header(t) else {
            break;
        };
        let covered: Vec<(u64, VerifiedRoots)> = if t == h && th.blame == 0 {
            vec![(
                next,
                VerifiedRoots {
                    state_root: th.deferred_state_root,
                    receipts_root: th.deferred_receipts_root,
                    logs_bloom_hash: th.deferred_logs_bloom_hash,
                },
            )]
        } else {
            let roots = roots_of(&[th], &mut witness).await?;
            roots.into_iter().filter(|(e, _)| *e >= next).collect()
        };
        let Some(&(last, _)) = covered.last() else {
            break;
        };
        if covered.first().map(|(e, _)| *e) != Some(next) {
            break;
        }
        out.extend(covered);
        next = last + 1;
    }
    Ok(out)
}

/// The headers of recent epochs with their tree links, for counting blame votes.
struct VoteTree {
    /// By hash: (parent, blame, children).
    nodes: HashMap<H256, (H256, u32, Vec<H256>)>,
    /// Pivot header by height.
    pivots: HashMap<u64, BlockHeader>,
}

impl VoteTree {
    fn load(store: &Store, from: u64, to: u64) -> Result<VoteTree, SyncError> {
        let mut nodes: HashMap<H256, (H256, u32, Vec<H256>)> = HashMap::new();
        let mut pivots = HashMap::new();
        for e in from..=to {
            let Some(blocks) = store.epoch_blocks(e)? else {
                break;
            };
            for b in &blocks {
                let Some(h) = store
                    .header(b)?
                    .and_then(|raw| BlockHeader::decode(&raw).ok())
                else {
                    continue;
                };
                nodes.insert(*b, (h.parent_hash, h.blame, vec![]));
                if Some(b) == blocks.last() {
                    pivots.insert(e, h);
                }
            }
        }
        let links: Vec<(H256, H256)> = nodes.iter().map(|(h, (p, _, _))| (*p, *h)).collect();
        for (parent, child) in links {
            if let Some(n) = nodes.get_mut(&parent) {
                n.2.push(child);
            }
        }
        Ok(VoteTree { nodes, pivots })
    }

    fn pivot_header(&self, height: u64) -> Option<&BlockHeader> {
        self.pivots.get(&height)
    }

    /// conflux-rust `compute_blame_ratio`: over the target and its descendants within
    /// `bound` generations, the share that blame it (1.0 with fewer than `min_votes`).
    fn blame_ratio(&self, target: H256, trust: &TrustRule) -> f64 {
        let mut votes: HashMap<H256, bool> = HashMap::new();
        let mut blamed = 0u64;
        let mut queue = VecDeque::from([(target, 0u32)]);
        while let Some((x, step)) = queue.pop_front() {
            if x == target {
                votes.insert(x, true);
            } else {
                let Some(&(mut parent, blame, _)) = self.nodes.get(&x) else {
                    continue;
                };
                let mut left = blame;
                loop {
                    if left == 0 {
                        let v = votes.get(&parent).copied().unwrap_or(false);
                        votes.insert(x, v);
                        if !v {
                            blamed += 1;
                        }
                        break;
                    } else if parent == target {
                        votes.insert(x, false);
                        blamed += 1;
                        break;
                    }
                    left -= 1;
                    match self.nodes.get(&parent) {
                        Some(n) => parent = n.0,
                        None => {
                            // Blames past what we hold: counts as blaming the target.
                            votes.insert(x, false);
                            blamed += 1;
                            break;
                        }
                    }
                }
            }
            if step == trust.blame_bound {
                continue;
            }
            if let Some((_, _, children)) = self.nodes.get(&x) {
                for c in children {
                    queue.push_back((*c, step + 1));
                }
            }
        }
        if votes.len() < trust.min_votes {
            return 1.0;
        }
        blamed as f64 / votes.len() as f64
    }

    /// conflux-rust `find_first_trusted_starting_from`: the first pivot at or above `from`
    /// (up to `to`) whose blame ratio is low enough, then back through blame ranges to
    /// the lowest trusted one still at or above `from`.
    fn first_trusted(&self, from: u64, to: u64, trust: &TrustRule) -> Option<u64> {
        let mut t = (from..=to).find(|h| {
            self.pivots
                .get(h)
                .is_some_and(|p| self.blame_ratio(p.hash(), trust) < trust.max_blame_ratio)
        })?;
        while t != from {
            let blame = u64::from(self.pivots.get(&t)?.blame);
            match t.checked_sub(blame).and_then(|v| v.checked_sub(1)) {
                Some(prev) if prev >= from => t = prev,
                _ => break,
            }
        }
        Some(t)
    }
}

/// The verified roots a run of pivot headers carries. A header with blame 0 carries its
/// epoch's roots plainly; one with blame `b` carries the fold of the true roots of heights
/// `h … h−b`, which the witness from `witness(h)` must reproduce before it is believed
/// (and it then gives the roots of the blamed ancestors).
pub async fn roots_of<F, Fut>(
    pivots: &[&BlockHeader],
    mut witness: F,
) -> Result<Vec<(u64, VerifiedRoots)>, SyncError>
where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = Result<Option<WitnessInfo>, SyncError>>,
{
    let mut out: Vec<(u64, VerifiedRoots)> = Vec::new();
    for p in pivots {
        if p.blame == 0 {
            if let Some(epoch) = p.height.checked_sub(DEFERRED_STATE_EPOCHS) {
                out.retain(|(e, _)| *e != epoch);
                out.push((
                    epoch,
                    VerifiedRoots {
                        state_root: p.deferred_state_root,
                        receipts_root: p.deferred_receipts_root,
                        logs_bloom_hash: p.deferred_logs_bloom_hash,
                    },
                ));
            }
            continue;
        }
        let w = witness(p.height).await?.ok_or_else(|| {
            SyncError::Invalid(format!("no witness for blamed height {}", p.height))
        })?;
        let n = p.blame as usize + 1;
        let ok = w.height == p.height
            && w.state_root_hashes.len() == n
            && w.receipt_hashes.len() == n
            && w.bloom_hashes.len() == n
            && fold(&w.state_root_hashes) == Some(p.deferred_state_root)
            && fold(&w.receipt_hashes) == Some(p.deferred_receipts_root)
            && fold(&w.bloom_hashes) == Some(p.deferred_logs_bloom_hash);
        if !ok {
            return Err(SyncError::Invalid(format!(
                "witness for height {} fails the fold check",
                p.height
            )));
        }
        for i in 0..n {
            let Some(epoch) = p.height.checked_sub(i as u64 + DEFERRED_STATE_EPOCHS) else {
                break;
            };
            let roots = VerifiedRoots {
                state_root: w.state_root_hashes[i],
                receipts_root: w.receipt_hashes[i],
                logs_bloom_hash: w.bloom_hashes[i],
            };
            // A later witness corrects what an earlier (blamed) header said.
            out.retain(|(e, _)| *e != epoch);
            out.push((epoch, roots));
        }
    }
    out.sort_by_key(|(e, _)| *e);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(height: u64, blame: u32, roots: [H256; 3]) -> BlockHeader {
        let mut s = rlp::RlpStream::new_list(14);
        s.append(&H256::repeat_byte(1))
            .append(&height)
            .append(&1_700_000_000u64);
        s.append(&cfxlight_primitives::H160::repeat_byte(0x10));
        s.append(&H256::repeat_byte(2));
        for r in &roots {
            s.append(r);
        }
        s.append(&blame).append(&U256::from(4)).append(&0u8);
        s.append(&U256::from(30_000_000u64));
        s.append_list::<H256, H256>(&[]);
        s.append(&U256::zero());
        BlockHeader::decode(&s.out()).unwrap()
    }

    fn witness(height: u64, roots: &[H256]) -> WitnessInfo {
        WitnessInfo {
            height,
            state_root_hashes: roots.to_vec(),
            receipt_hashes: roots.to_vec(),
            bloom_hashes: roots.to_vec(),
        }
    }

    #[tokio::test]
    async fn a_blamed_header_needs_a_witness_that_folds_to_its_roots() {
        let r: Vec<H256> = (10..14u8).map(H256::repeat_byte).collect();
        let plain = header(20, 0, [r[3]; 3]);
        let folded = fold(&r[..2]).unwrap();
        let blamed = header(21, 1, [folded; 3]);
        // An honest witness: epoch 16 gets r0, and epoch 15 is corrected to r1.
        let good = roots_of(&[&plain, &blamed], |h| {
            let w = witness(h, &r[..2]);
            async move { Ok(Some(w)) }
        })
        .await
        .unwrap();
        assert_eq!(
            good.iter()
                .map(|(e, v)| (*e, v.state_root))
                .collect::<Vec<_>>(),
            vec![(15, r[1]), (16, r[0])]
        );
        // A lying witness (one root altered) fails the fold check; nothing is returned.
        let lie = roots_of(&[&plain, &blamed], |h| {
            let w = witness(h, &[r[0], r[2]]);
            async move { Ok(Some(w)) }
        })
        .await;
        assert!(matches!(lie, Err(SyncError::Invalid(m)) if m.contains("fold check")));
        // A witness of the wrong length, or none at all, is refused too.
        let short = roots_of(&[&blamed], |h| {
            let w = witness(h, &r[..1]);
            async move { Ok(Some(w)) }
        })
        .await;
        assert!(short.is_err());
        let none = roots_of(&[&blamed], |_| async { Ok(None) }).await;
        assert!(none.is_err());
    }

    #[test]
    fn fold_matches_conflux_blame_root() {
        let r: Vec<H256> = (1..=3u8).map(H256::repeat_byte).collect();
        let inner = keccak256([r[1].as_bytes(), r[2].as_bytes()].concat());
        let expected = keccak256([r[0].as_bytes(), inner.as_bytes()].concat());
        assert_eq!(fold(&r), Some(expected));
        assert_eq!(fold(&r[..1]), Some(r[0]));
        assert_eq!(fold(&[]), None);
    }

    #[test]
    fn epoch_order_is_topological_with_the_largest_free_hash_last() {
        let h = |b: u8| H256::repeat_byte(b);
        let outside = h(0xee);
        // 0x10 and 0x30 are independent; 0x20 refers to 0x30 (0x30 must come first).
        let preds: HashMap<H256, Vec<H256>> = [
            (h(0x10), vec![outside]),
            (h(0x20), vec![outside, h(0x30)]),
            (h(0x30), vec![outside]),
        ]
        .into_iter()
        .collect();
        let order = epoch_order(&[h(0x10), h(0x20), h(0x30)], &preds);
        // Built backwards: of the blocks nothing depends on (0x10, 0x20) the larger, 0x20,
        // goes last; then 0x30 (freed) outranks 0x10.
        assert_eq!(order, vec![h(0x10), h(0x30), h(0x20)]);
        // Any permutation of the input gives the same order.
        assert_eq!(epoch_order(&[h(0x30), h(0x10), h(0x20)], &preds), order);
        // Independent blocks only: ascending hash.
        let free: HashMap<H256, Vec<H256>> = [(h(1), vec![]), (h(9), vec![]), (h(5), vec![])]
            .into_iter()
            .collect();
        assert_eq!(
            epoch_order(&[h(9), h(1), h(5)], &free),
            vec![h(1), h(5), h(9)]
        );
    }

    /// A linear chain of pivots 0..n with the given blames, as a vote tree.
    fn chain(blames: &[u32]) -> VoteTree {
        let mut nodes = HashMap::new();
        let mut pivots = HashMap::new();
        let mut parent = H256::zero();
        let mut prev: Option<H256> = None;
        for (i, b) in blames.iter().enumerate() {
            let mut h = header(i as u64, *b, [H256::repeat_byte(i as u8); 3]);
            h.parent_hash = parent;
            h.rehash();
            nodes.insert(h.hash(), (parent, *b, vec![]));
            if let Some(p) = prev {
                if let Some(n) = nodes.get_mut(&p) {
                    n.2.push(h.hash());
                }
            }
            parent = h.hash();
            prev = Some(h.hash());
            pivots.insert(i as u64, h);
        }
        VoteTree { nodes, pivots }
    }

    fn rule(min_votes: usize) -> TrustRule {
        TrustRule {
            min_votes,
            ..TrustRule::default()
        }
    }

    #[test]
    fn blame_votes_decide_which_header_is_trusted() {
        // Header 3 blames its parent 2; everything after it follows 3.
        let t = chain(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
        let p = |h: u64| t.pivots[&h].hash();
        let r = rule(3);
        // 3 blames only 2: it (and all that follow it) still vouch for 1.
        assert_eq!(t.blame_ratio(p(1), &r), 0.0);
        // 2 is blamed by 3 and by everything after it (which inherit 3's vote): 9 of 10.
        assert_eq!(t.blame_ratio(p(2), &r), 0.9);
        assert_eq!(t.blame_ratio(p(3), &r), 0.0);
        // The first trusted header at or above 2 is 3, whose blame covers 2 (its witness
        // gives 2's roots).
        assert_eq!(t.first_trusted(2, 11, &r), Some(3));
        assert_eq!(t.first_trusted(4, 11, &r), Some(4));
        // Too few votes: the newest headers are never trusted on arrival.
        assert_eq!(t.first_trusted(10, 11, &r), None);
        assert_eq!(t.first_trusted(9, 11, &r), Some(9));
        assert_eq!(t.first_trusted(9, 11, &rule(10)), None);
        // An honest chain: every header trusted once enough descendants voted.
        let honest = chain(&[0; 12]);
        assert_eq!(honest.first_trusted(5, 11, &r), Some(5));
        assert_eq!(honest.blame_ratio(honest.pivots[&5].hash(), &r), 0.0);
    }

    #[test]
    fn a_header_blamed_by_a_minority_is_still_trusted() {
        // A fork of votes: 4 is blamed only by one non-pivot child; its pivot descendants
        // vote for it. Ratio 1/9 < 0.4.
        let mut t = chain(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        let four = t.pivots[&4].hash();
        let mut odd = header(5, 1, [H256::repeat_byte(0x77); 3]);
        odd.parent_hash = four;
        odd.rehash();
        t.nodes.insert(odd.hash(), (four, 1, vec![]));
        t.nodes.get_mut(&four).unwrap().2.push(odd.hash());
        let ratio = t.blame_ratio(four, &rule(3));
        assert!(ratio > 0.0 && ratio < 0.4, "{ratio}");
        assert_eq!(t.first_trusted(4, 11, &rule(3)), Some(4));
    }
}
