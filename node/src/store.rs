//! The node's RocksDB store: named column families, one per kind of fact, and the chain
//! identity pinned at creation so a data directory is never used for another chain.
//!
//! Column families: `headers` (hash → header RLP, hash/epoch → epoch), `pivot` (epoch →
//! pivot hash, its block list, first block number and cumulative work), `roots` (epoch →
//! *trusted* deferred roots: only roots the blame-vote rule accepted are written here),
//! `meta` (sync metadata, chain identity), `peers` (peer table). Writes that belong
//! together go through one `WriteBatch`: a fork switch removes the losing branch (headers
//! included) and stores the winning one in the same batch.
//!
//! The chain may start at a checkpoint rather than at genesis: `base_epoch` is the first
//! epoch held, and block numbers are known only when the checkpoint gave one.
//!
//! Memory is bounded: 16 MiB of memtables over all families, one shared 8 MiB block cache.
//!
//! The chain markers and recently read roots are mirrored in memory: every JSON-RPC read
//! starts from them, and a RocksDB lookup per request was a tenth of a hot read's cost.
//! Only the writers (`commit`, `commit_base`, `replace_above`, `rewind_to`) change them,
//! and they update the mirror under the same lock as their write, so a reader never sees
//! the mirror and the database disagree.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::{Mutex, MutexGuard},
};

use cfxlight_primitives::{transaction::BlockTransaction, H256, U256};
use rocksdb::{ColumnFamilyDescriptor, Options, WriteBatch, DB};
use thiserror::Error;

/// Column families of the store, in creation order.
/// `bodies` holds verified block transaction lists, `state` verified state entries by
/// `(state root, key)`, `pending` the node's own transactions until they are settled (all
/// added in schema 1 without a layout change: new families are created on open).
pub const COLUMN_FAMILIES: [&str; 8] = [
    "headers", "pivot", "roots", "meta", "peers", "bodies", "pending", "state",
];
/// Bumped when the on-disk layout changes incompatibly. Version 2 (header rules, epoch
/// work, trusted roots only): a version-1 store's chain data is dropped on open and synced
/// again; its pending transactions and peers are kept.
pub const SCHEMA_VERSION: u32 = 2;
/// Column families holding chain data that a schema upgrade re-syncs.
const CHAIN_FAMILIES: [&str; 5] = ["headers", "pivot", "roots", "bodies", "state"];

const KEY_GENESIS: &[u8] = b"genesis_hash";
const KEY_BEST_EPOCH: &[u8] = b"best_epoch";
const KEY_LATEST_STATE: &[u8] = b"latest_state";
/// Blocks in the total order up to and including the best epoch.
const KEY_BLOCK_COUNT: &[u8] = b"block_count";
/// The first epoch held (a checkpoint start holds nothing below it).
const KEY_BASE_EPOCH: &[u8] = b"base_epoch";
/// Present (`0`) when block numbers are unknown: a checkpoint start without a block number.
const KEY_NUMBERS_UNKNOWN: &[u8] = b"numbers_unknown";

fn epoch_key(epoch: u64, suffix: &[u8]) -> Vec<u8> {
    [&epoch.to_be_bytes()[..], suffix].concat()
}
const KEY_CHAIN_ID: &[u8] = b"chain_id";
const KEY_SCHEMA: &[u8] = b"schema_version";

/// Why the store could not be opened or used.
#[derive(Debug, Error)]
pub enum StoreError {
    /// RocksDB itself failed (I/O, corruption, lock held by another process).
    #[error("database at {path}: {source}")]
    Db {
        /// Data directory.
        path: PathBuf,
        /// RocksDB's error.
        #[source]
        source: rocksdb::Error,
    },
    /// The data directory belongs to another chain.
    #[error(
        "data directory {path} belongs to another chain (genesis {stored:?}, chain id {stored_chain_id}); \
         this node runs genesis {expected:?}, chain id {expected_chain_id}: use another --datadir"
    )]
    WrongChain {
        /// Data directory.
        path: PathBuf,
        /// Genesis recorded in it.
        stored: H256,
        /// Chain id recorded in it.
        stored_chain_id: u32,
        /// Genesis this node was started with.
        expected: H256,
        /// Chain id this node was started with.
        expected_chain_id: u32,
    },
    /// Written by a newer cfxlight, or damaged.
    #[error("data directory {path} has schema version {found}, this build reads version {SCHEMA_VERSION}")]
    Schema {
        /// Data directory.
        path: PathBuf,
        /// Version found.
        found: String,
    },
}

/// One epoch of the pivot chain, verified and ready to be stored.
#[derive(Debug, Clone)]
pub struct EpochRecord {
    /// Epoch number (= pivot block height).
    pub epoch: u64,
    /// Pivot block hash.
    pub pivot: H256,
    /// Every block hash executed in this epoch, pivot last.
    pub blocks: Vec<H256>,
    /// The headers of those blocks, as `(hash, wire RLP)`.
    pub headers: Vec<(H256, Vec<u8>)>,
    /// Work of the chain up to and including this epoch (sum of block difficulties since
    /// the base epoch): what fork choice compares.
    pub work: U256,
}

/// Key of a stored state entry: `epoch ‖ state root ‖ state key`.
fn state_key(epoch: u64, state_root: &H256, key: &[u8]) -> Vec<u8> {
    [&epoch.to_be_bytes()[..], state_root.as_bytes(), key].concat()
}

/// A raw `(key, value)` pair of a column family.
pub type KeyValue = (Vec<u8>, Vec<u8>);

/// Deferred roots of an epoch's state, verified against the pivot chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifiedRoots {
    /// State root (keccak of snapshot ‖ intermediate ‖ delta roots).
    pub state_root: H256,
    /// Receipts root.
    pub receipts_root: H256,
    /// Logs bloom hash.
    pub logs_bloom_hash: H256,
}

/// Memtable bytes over all column families before RocksDB flushes the largest. A light
/// node writes about a kilobyte per epoch, so this still flushes only every quarter hour
/// or so on mainnet (small files, which compaction merges); at 16 MiB a 45-minute soak on
/// the devnet never reached the cap and the resident size kept rising.
const MEMTABLE_BUDGET: usize = 2 << 20;
/// One column family's memtable size.
const MEMTABLE_PER_FAMILY: usize = 1 << 20;
/// The block cache all column families share.
const BLOCK_CACHE: usize = 8 << 20;

/// At most this many epochs' roots are mirrored in memory (then the mirror starts over).
const HOT_ROOTS: usize = 4096;

/// The in-memory mirror of the markers and of recently read roots.
#[derive(Default)]
struct Hot {
    best_epoch: Option<u64>,
    latest_state: Option<u64>,
    block_count: u64,
    base_epoch: u64,
    numbers_known: bool,
    roots: HashMap<u64, VerifiedRoots>,
    /// Bumped by every write, so a reader that looked a root up in the database while a
    /// write happened does not put its (maybe stale) answer in the mirror.
    generation: u64,
}

/// An open store, bound to one chain.
pub struct Store {
    db: DB,
    path: PathBuf,
    hot: Mutex<Hot>,
}

impl Store {
    /// Opens (creating if needed) the store in `path` for the chain with this genesis and id.
    pub fn open(path: &Path, genesis: H256, chain_id: u32) -> Result<Store, StoreError> {
        let db_err = |source| StoreError::Db {
            path: path.to_path_buf(),
            source,
        };
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        // RocksDB's defaults (64 MiB memtables per column family, two each, an 8 MiB block
        // cache per family) would let eight families hold ~1 GiB before a flush: bounded
        // for a phone-class device instead, memtables over all families together and one
        // block cache shared by all.
        opts.set_db_write_buffer_size(MEMTABLE_BUDGET);
        let cache = rocksdb::Cache::new_lru_cache(BLOCK_CACHE);
        let family = || {
            let mut o = Options::default();
            o.set_write_buffer_size(MEMTABLE_PER_FAMILY);
            o.set_max_write_buffer_number(2);
            let mut t = rocksdb::BlockBasedOptions::default();
            t.set_block_cache(&cache);
            o.set_block_based_table_factory(&t);
            o
        };
        let cfs = COLUMN_FAMILIES
            .iter()
            .map(|n| ColumnFamilyDescriptor::new(*n, family()));
        let db = DB::open_cf_descriptors(&opts, path, cfs).map_err(db_err)?;
        let store = Store {
            db,
            path: path.to_path_buf(),
            hot: Mutex::default(),
        };
        store.pin_chain(genesis, chain_id)?;
        *store.hot() = Hot {
            best_epoch: store.get_u64(KEY_BEST_EPOCH)?,
            latest_state: store.get_u64(KEY_LATEST_STATE)?,
            block_count: store.get_u64(KEY_BLOCK_COUNT)?.unwrap_or(0),
            base_epoch: store.get_u64(KEY_BASE_EPOCH)?.unwrap_or(0),
            numbers_known: store.get_meta(KEY_NUMBERS_UNKNOWN)?.is_none(),
            ..Hot::default()
        };
        Ok(store)
    }

    fn meta(&self) -> &rocksdb::ColumnFamily {
        // Created by `open` with create_missing_column_families, so always present.
        self.db
            .cf_handle("meta")
            .expect("meta column family exists after open")
    }

    fn get_meta(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.db
            .get_cf(self.meta(), key)
            .map_err(|source| StoreError::Db {
                path: self.path.clone(),
                source,
            })
    }

    /// Records the chain identity on first open; refuses a store of another chain.
    fn pin_chain(&self, genesis: H256, chain_id: u32) -> Result<(), StoreError> {
        match self.get_meta(KEY_SCHEMA)? {
            Some(v) if v == SCHEMA_VERSION.to_be_bytes() => {}
            Some(v) if v == 1u32.to_be_bytes() => self.upgrade_from_v1()?,
            Some(v) => {
                return Err(StoreError::Schema {
                    path: self.path.clone(),
                    found: hex::encode(v),
                })
            }
            None => {
                // A new store: identity and schema land together or not at all.
                let mut batch = WriteBatch::default();
                batch.put_cf(self.meta(), KEY_SCHEMA, SCHEMA_VERSION.to_be_bytes());
                batch.put_cf(self.meta(), KEY_GENESIS, genesis.as_bytes());
                batch.put_cf(self.meta(), KEY_CHAIN_ID, chain_id.to_be_bytes());
                return self.db.write(batch).map_err(|source| StoreError::Db {
                    path: self.path.clone(),
                    source,
                });
            }
        }
        let stored = self.get_meta(KEY_GENESIS)?.unwrap_or_default();
        let stored_id = self.get_meta(KEY_CHAIN_ID)?.unwrap_or_default();
        let stored_chain_id = <[u8; 4]>::try_from(stored_id.as_slice())
            .map(u32::from_be_bytes)
            .unwrap_or(0);
        let stored = if stored.len() == 32 {
            H256::from_slice(&stored)
        } else {
            H256::zero()
        };
        if stored != genesis || stored_chain_id != chain_id {
            return Err(StoreError::WrongChain {
                path: self.path.clone(),
                stored,
                stored_chain_id,
                expected: genesis,
                expected_chain_id: chain_id,
            });
        }
        Ok(())
    }

    /// Schema 1 stored headers checked by weaker rules and roots trusted on arrival: drop
    /// the chain data (it re-syncs) and keep what is the user's (pending transactions, peers).
    fn upgrade_from_v1(&self) -> Result<(), StoreError> {
        let mut batch = WriteBatch::default();
        for cf in CHAIN_FAMILIES {
            let cf = self.cf(cf);
            for item in self.db.iterator_cf(cf, rocksdb::IteratorMode::Start) {
                let (k, _) = item.map_err(|e| self.db_err(e))?;
                batch.delete_cf(cf, k);
            }
        }
        for key in [KEY_BEST_EPOCH, KEY_LATEST_STATE, KEY_BLOCK_COUNT] {
            batch.delete_cf(self.meta(), key);
        }
        batch.put_cf(self.meta(), KEY_SCHEMA, SCHEMA_VERSION.to_be_bytes());
        self.db.write(batch).map_err(|e| self.db_err(e))?;
        crate::log::warn(&format!(
            "data directory {}: upgraded from schema 1: the chain is synced again under the \
             header and trust rules of this build (pending transactions are kept)",
            self.path.display()
        ));
        Ok(())
    }

    /// The data directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn cf(&self, name: &str) -> &rocksdb::ColumnFamily {
        self.db
            .cf_handle(name)
            .expect("column families exist after open")
    }

    /// The mirror; a panic elsewhere while holding it leaves plain data, still usable.
    fn hot(&self) -> MutexGuard<'_, Hot> {
        self.hot.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn db_err(&self, source: rocksdb::Error) -> StoreError {
        StoreError::Db {
            path: self.path.clone(),
            source,
        }
    }

    fn get_u64(&self, key: &[u8]) -> Result<Option<u64>, StoreError> {
        Ok(self
            .get_meta(key)?
            .and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok())
            .map(u64::from_be_bytes))
    }

    /// The highest epoch whose pivot header is stored and verified (None before the first).
    pub fn best_epoch(&self) -> Result<Option<u64>, StoreError> {
        Ok(self.hot().best_epoch)
    }

    /// The first epoch held: 0 from genesis, below a checkpoint after a checkpoint start.
    pub fn base_epoch(&self) -> u64 {
        self.hot().base_epoch
    }

    /// Cumulative work of the stored chain up to `epoch`.
    pub fn work(&self, epoch: u64) -> Result<Option<U256>, StoreError> {
        let v = self
            .db
            .get_cf(self.cf("pivot"), epoch_key(epoch, b"/work"))
            .map_err(|e| self.db_err(e))?;
        Ok(v.filter(|v| v.len() == 32)
            .map(|v| U256::from_big_endian(&v)))
    }

    /// The highest epoch whose deferred roots are verified.
    pub fn latest_state(&self) -> Result<Option<u64>, StoreError> {
        Ok(self.hot().latest_state)
    }

    /// The pivot hash of an epoch.
    pub fn pivot(&self, epoch: u64) -> Result<Option<H256>, StoreError> {
        let v = self
            .db
            .get_cf(self.cf("pivot"), epoch.to_be_bytes())
            .map_err(|e| self.db_err(e))?;
        Ok(v.filter(|v| v.len() == 32).map(|v| H256::from_slice(&v)))
    }

    /// A header's wire RLP by block hash.
    pub fn header(&self, hash: &H256) -> Result<Option<Vec<u8>>, StoreError> {
        self.db
            .get_cf(self.cf("headers"), hash.as_bytes())
            .map_err(|e| self.db_err(e))
    }

    /// The block hashes of an epoch (pivot last).
    pub fn epoch_blocks(&self, epoch: u64) -> Result<Option<Vec<H256>>, StoreError> {
        let v = self
            .db
            .get_cf(
                self.cf("pivot"),
                [&epoch.to_be_bytes()[..], b"/blocks"].concat(),
            )
            .map_err(|e| self.db_err(e))?;
        Ok(v.map(|v| v.chunks_exact(32).map(H256::from_slice).collect()))
    }

    /// The epoch a stored block was executed in.
    pub fn block_epoch(&self, hash: &H256) -> Result<Option<u64>, StoreError> {
        let v = self
            .db
            .get_cf(self.cf("headers"), [hash.as_bytes(), b"/epoch"].concat())
            .map_err(|e| self.db_err(e))?;
        Ok(v.and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok())
            .map(u64::from_be_bytes))
    }

    /// Number, in the total order, of the first block executed in `epoch`.
    pub fn first_block_number(&self, epoch: u64) -> Result<Option<u64>, StoreError> {
        if !self.hot().numbers_known {
            return Ok(None);
        }
        self.first_block_number_raw(epoch)
    }

    /// The epoch and hash of the block with this number in the total order, found by a
    /// binary search over the epochs' first block numbers. Block 0 (genesis) is None, as
    /// on conflux-rust, whose number index starts after it.
    pub fn block_at_number(&self, number: u64) -> Result<Option<(u64, H256)>, StoreError> {
        let (best, count, base, known) = {
            let hot = self.hot();
            (
                hot.best_epoch,
                hot.block_count,
                hot.base_epoch,
                hot.numbers_known,
            )
        };
        let Some(best) = best else { return Ok(None) };
        if number == 0 || number >= count || !known {
            return Ok(None);
        }
        // The last epoch whose first block is at or before `number`.
        let (mut lo, mut hi) = (base, best);
        if self.first_block_number(base)?.is_none_or(|f| f > number) {
            return Ok(None);
        }
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            match self.first_block_number(mid)? {
                Some(first) if first <= number => lo = mid,
                Some(_) => hi = mid - 1,
                // A rewind in between: the caller sees no block rather than a wrong one.
                None => return Ok(None),
            }
        }
        let Some(first) = self.first_block_number(lo)? else {
            return Ok(None);
        };
        let blocks = self.epoch_blocks(lo)?.unwrap_or_default();
        let Ok(index) = usize::try_from(number - first) else {
            return Ok(None);
        };
        Ok(blocks.get(index).map(|h| (lo, *h)))
    }

    /// Blocks in the total order up to the best epoch (None when numbers are unknown).
    pub fn block_count(&self) -> Result<Option<u64>, StoreError> {
        let hot = self.hot();
        Ok(hot.numbers_known.then_some(hot.block_count))
    }

    /// A block's transactions (both spaces, block order), stored once verified against its
    /// transactions root. The value is the list of block-form transactions, so bodies
    /// written before eSpace transactions were decoded (Core only) read unchanged.
    pub fn block_body(&self, hash: &H256) -> Result<Option<Vec<BlockTransaction>>, StoreError> {
        let v = self
            .db
            .get_cf(self.cf("bodies"), hash.as_bytes())
            .map_err(|e| self.db_err(e))?;
        // We wrote it; an undecodable value (disk damage) is treated as absent and refetched.
        Ok(v.and_then(|v| rlp::Rlp::new(&v).as_list::<BlockTransaction>().ok()))
    }

    /// Stores a block's verified transactions.
    pub fn put_block_body(&self, hash: &H256, txs: &[BlockTransaction]) -> Result<(), StoreError> {
        let mut s = rlp::RlpStream::new_list(txs.len());
        for t in txs {
            s.append(t);
        }
        self.db
            .put_cf(self.cf("bodies"), hash.as_bytes(), s.out())
            .map_err(|e| self.db_err(e))
    }

    /// A verified state entry: `Some(None)` = verified absent, None = not stored.
    pub fn state_entry(
        &self,
        epoch: u64,
        state_root: &H256,
        key: &[u8],
    ) -> Result<Option<Option<Vec<u8>>>, StoreError> {
        let v = self
            .db
            .get_cf(self.cf("state"), state_key(epoch, state_root, key))
            .map_err(|e| self.db_err(e))?;
        // `0x00` absent, `0x01 ‖ value` present; anything else (damage) is not trusted.
        Ok(v.and_then(|v| match v.split_first() {
            Some((0, [])) => Some(None),
            Some((1, rest)) => Some(Some(rest.to_vec())),
            _ => None,
        }))
    }

    /// Stores verified state entries of one epoch's state root. The root is part of the key
    /// (it commits to the whole state), so an entry never goes stale, not even across a
    /// reorg; the epoch in front lets old epochs be pruned by range.
    pub fn put_state_entries(
        &self,
        epoch: u64,
        state_root: &H256,
        entries: &[(&[u8], Option<&[u8]>)],
    ) -> Result<(), StoreError> {
        let mut batch = WriteBatch::default();
        for (key, value) in entries {
            let v = match value {
                Some(v) => [&[1u8][..], v].concat(),
                None => vec![0],
            };
            batch.put_cf(self.cf("state"), state_key(epoch, state_root, key), v);
        }
        self.db.write(batch).map_err(|e| self.db_err(e))
    }

    /// Drops stored state entries of epochs below `epoch`.
    pub fn prune_state_below(&self, epoch: u64) -> Result<(), StoreError> {
        self.db
            .delete_range_cf(self.cf("state"), 0u64.to_be_bytes(), epoch.to_be_bytes())
            .map_err(|e| self.db_err(e))
    }

    /// Every entry of the `pending` family, as `(key, value)`.
    pub fn pending_entries(&self) -> Result<Vec<KeyValue>, StoreError> {
        self.db
            .iterator_cf(self.cf("pending"), rocksdb::IteratorMode::Start)
            .map(|r| {
                r.map(|(k, v)| (k.to_vec(), v.to_vec()))
                    .map_err(|e| self.db_err(e))
            })
            .collect()
    }

    /// Writes (Some) or deletes (None) `pending` entries in one atomic, synced batch: a
    /// transaction the node accepted must survive a crash right after the RPC answered.
    pub fn put_pending(&self, entries: &[(Vec<u8>, Option<Vec<u8>>)]) -> Result<(), StoreError> {
        let mut batch = WriteBatch::default();
        for (k, v) in entries {
            match v {
                Some(v) => batch.put_cf(self.cf("pending"), k, v),
                None => batch.delete_cf(self.cf("pending"), k),
            }
        }
        let mut opts = rocksdb::WriteOptions::default();
        opts.set_sync(true);
        self.db.write_opt(batch, &opts).map_err(|e| self.db_err(e))
    }

    /// Verified deferred roots of an epoch.
    pub fn roots(&self, epoch: u64) -> Result<Option<VerifiedRoots>, StoreError> {
        let generation = {
            let hot = self.hot();
            if let Some(r) = hot.roots.get(&epoch) {
                return Ok(Some(*r));
            }
            hot.generation
        };
        let v = self
            .db
            .get_cf(self.cf("roots"), epoch.to_be_bytes())
            .map_err(|e| self.db_err(e))?;
        let roots = v.filter(|v| v.len() == 96).map(|v| VerifiedRoots {
            state_root: H256::from_slice(&v[..32]),
            receipts_root: H256::from_slice(&v[32..64]),
            logs_bloom_hash: H256::from_slice(&v[64..]),
        });
        if let Some(r) = &roots {
            let mut hot = self.hot();
            if hot.generation == generation {
                if hot.roots.len() >= HOT_ROOTS {
                    hot.roots.clear();
                }
                hot.roots.insert(epoch, *r);
            }
        }
        Ok(roots)
    }

    /// Stores verified epochs and roots and moves the markers, all in one atomic batch:
    /// after a crash either all of it is there or none of it.
    pub fn commit(
        &self,
        epochs: &[EpochRecord],
        roots: &[(u64, VerifiedRoots)],
    ) -> Result<(), StoreError> {
        self.write(None, None, epochs, roots)
    }

    /// The first write of a chain that starts at `base` (genesis or a checkpoint's window):
    /// records the base and, when known, the number of the base epoch's first block.
    pub fn commit_base(
        &self,
        base: u64,
        first_block_number: Option<u64>,
        epochs: &[EpochRecord],
    ) -> Result<(), StoreError> {
        self.write(None, Some((base, first_block_number)), epochs, &[])
    }

    /// Forgets the pivot chain above `epoch` and roots above `roots_epoch` (a reorg of the
    /// recent pivot chain); the markers move back in the same batch as the deletions.
    pub fn rewind_to(&self, epoch: u64, roots_epoch: Option<u64>) -> Result<(), StoreError> {
        self.write(Some((epoch, roots_epoch)), None, &[], &[])
    }

    /// A fork switch in one atomic batch: the branch above `epoch` is removed (headers
    /// included), roots above `roots_epoch` dropped, and `epochs` stored in its place.
    pub fn replace_above(
        &self,
        epoch: u64,
        roots_epoch: Option<u64>,
        epochs: &[EpochRecord],
    ) -> Result<(), StoreError> {
        self.write(Some((epoch, roots_epoch)), None, epochs, &[])
    }

    /// The one writer of the chain: an optional rewind, an optional base, then epochs and
    /// roots, all in one batch with the markers and their mirror.
    fn write(
        &self,
        rewind: Option<(u64, Option<u64>)>,
        base: Option<(u64, Option<u64>)>,
        epochs: &[EpochRecord],
        roots: &[(u64, VerifiedRoots)],
    ) -> Result<(), StoreError> {
        // Held across the write: readers see the markers move with the database.
        let mut hot = self.hot();
        let mut batch = WriteBatch::default();
        let mut count = hot.block_count;
        let mut best = hot.best_epoch;
        let mut latest_state = hot.latest_state;
        let mut first_dropped_root = None;
        let (mut base_epoch, mut numbers_known) = (hot.base_epoch, hot.numbers_known);
        if let Some((b, first)) = base {
            base_epoch = b;
            numbers_known = first.is_some();
            count = first.unwrap_or(0);
            batch.put_cf(self.meta(), KEY_BASE_EPOCH, b.to_be_bytes());
            if first.is_none() {
                batch.put_cf(self.meta(), KEY_NUMBERS_UNKNOWN, [0u8]);
            }
        }
        if let Some((epoch, roots_epoch)) = rewind {
            let top = hot.best_epoch.unwrap_or(0);
            let mut dropped = std::collections::HashSet::new();
            for e in (epoch + 1)..=top {
                // Blocks of a dropped epoch no longer belong to any epoch we know, and their
                // headers go with them: nobody could reach them any more.
                for h in self.epoch_blocks(e)?.unwrap_or_default() {
                    batch.delete_cf(self.cf("headers"), [h.as_bytes(), b"/epoch"].concat());
                    batch.delete_cf(self.cf("headers"), h.as_bytes());
                    dropped.insert(h);
                }
                batch.delete_cf(self.cf("pivot"), e.to_be_bytes());
                for suffix in [&b"/blocks"[..], b"/first", b"/work"] {
                    batch.delete_cf(self.cf("pivot"), epoch_key(e, suffix));
                }
            }
            if let (Some(first), Some(blocks)) = (
                self.first_block_number_raw(epoch)?,
                self.epoch_blocks(epoch)?,
            ) {
                count = first + blocks.len() as u64;
            }
            let first_dropped = roots_epoch.map_or(0, |r| r + 1);
            for e in first_dropped..=top {
                batch.delete_cf(self.cf("roots"), e.to_be_bytes());
            }
            first_dropped_root = Some(first_dropped);
            best = Some(epoch);
            latest_state = match roots_epoch {
                Some(r) if latest_state.is_some_and(|s| s > r) => Some(r),
                None => None,
                _ => latest_state,
            };
        }
        for e in epochs {
            batch.put_cf(
                self.cf("pivot"),
                epoch_key(e.epoch, b"/first"),
                count.to_be_bytes(),
            );
            for h in &e.blocks {
                batch.put_cf(
                    self.cf("headers"),
                    [h.as_bytes(), b"/epoch"].concat(),
                    e.epoch.to_be_bytes(),
                );
            }
            count += e.blocks.len() as u64;
            for (hash, rlp) in &e.headers {
                batch.put_cf(self.cf("headers"), hash.as_bytes(), rlp);
            }
            batch.put_cf(self.cf("pivot"), e.epoch.to_be_bytes(), e.pivot.as_bytes());
            let blocks: Vec<u8> = e.blocks.iter().flat_map(|h| h.0).collect();
            batch.put_cf(self.cf("pivot"), epoch_key(e.epoch, b"/blocks"), blocks);
            batch.put_cf(
                self.cf("pivot"),
                epoch_key(e.epoch, b"/work"),
                e.work.to_big_endian(),
            );
            best = Some(e.epoch);
        }
        if rewind.is_some() || !epochs.is_empty() {
            match best {
                Some(b) => batch.put_cf(self.meta(), KEY_BEST_EPOCH, b.to_be_bytes()),
                None => batch.delete_cf(self.meta(), KEY_BEST_EPOCH),
            }
            batch.put_cf(self.meta(), KEY_BLOCK_COUNT, count.to_be_bytes());
        }
        for (epoch, r) in roots {
            let v = [r.state_root.0, r.receipts_root.0, r.logs_bloom_hash.0].concat();
            batch.put_cf(self.cf("roots"), epoch.to_be_bytes(), v);
        }
        if let Some((epoch, _)) = roots.last() {
            latest_state = Some(*epoch);
        }
        match latest_state {
            Some(l) => batch.put_cf(self.meta(), KEY_LATEST_STATE, l.to_be_bytes()),
            None => batch.delete_cf(self.meta(), KEY_LATEST_STATE),
        }
        self.db.write(batch).map_err(|e| self.db_err(e))?;
        hot.generation += 1;
        hot.best_epoch = best;
        hot.block_count = count;
        hot.latest_state = latest_state;
        hot.base_epoch = base_epoch;
        hot.numbers_known = numbers_known;
        if let Some(first) = first_dropped_root {
            hot.roots.retain(|e, _| *e < first);
        }
        for (epoch, r) in roots {
            // Bounded on this path too: following the chain for a day writes ~170k epochs.
            if hot.roots.len() >= HOT_ROOTS {
                hot.roots.clear();
            }
            hot.roots.insert(*epoch, *r);
        }
        Ok(())
    }

    /// The stored first block number of an epoch, whether or not numbers are known.
    fn first_block_number_raw(&self, epoch: u64) -> Result<Option<u64>, StoreError> {
        let v = self
            .db
            .get_cf(self.cf("pivot"), epoch_key(epoch, b"/first"))
            .map_err(|e| self.db_err(e))?;
        Ok(v.and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok())
            .map(u64::from_be_bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_data_directory_stays_bound_to_its_chain() {
        let dir = tempfile::tempdir().unwrap();
        let a = H256::repeat_byte(0xaa);
        let b = H256::repeat_byte(0xbb);
        drop(Store::open(dir.path(), a, 2029).unwrap());
        // Same chain: reopens.
        drop(Store::open(dir.path(), a, 2029).unwrap());
        // Another genesis or chain id: refused, naming both.
        let e = Store::open(dir.path(), b, 2029).err().unwrap().to_string();
        assert!(
            e.contains(&format!("{a:?}")) && e.contains(&format!("{b:?}")),
            "{e}"
        );
        assert!(matches!(
            Store::open(dir.path(), a, 1),
            Err(StoreError::WrongChain { .. })
        ));
        // All column families exist.
        let s = Store::open(dir.path(), a, 2029).unwrap();
        for cf in COLUMN_FAMILIES {
            assert!(s.db.cf_handle(cf).is_some(), "{cf}");
        }
    }

    #[test]
    fn epochs_and_roots_commit_atomically_and_rewind() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path(), H256::zero(), 1).unwrap();
        assert_eq!(s.best_epoch().unwrap(), None);
        let rec = |e: u64| EpochRecord {
            epoch: e,
            pivot: H256::from_low_u64_be(e),
            blocks: vec![H256::repeat_byte(e as u8), H256::from_low_u64_be(e)],
            headers: vec![(H256::from_low_u64_be(e), vec![0xc0, e as u8])],
            work: U256::from(e),
        };
        let roots = VerifiedRoots {
            state_root: H256::repeat_byte(1),
            receipts_root: H256::repeat_byte(2),
            logs_bloom_hash: H256::repeat_byte(3),
        };
        s.commit(&[rec(1), rec(2), rec(3)], &[(1, roots)]).unwrap();
        assert_eq!(s.best_epoch().unwrap(), Some(3));
        assert_eq!(s.latest_state().unwrap(), Some(1));
        assert_eq!(s.pivot(2).unwrap(), Some(H256::from_low_u64_be(2)));
        assert_eq!(s.epoch_blocks(3).unwrap().unwrap().len(), 2);
        assert_eq!(
            s.header(&H256::from_low_u64_be(3)).unwrap(),
            Some(vec![0xc0, 3])
        );
        assert_eq!(s.roots(1).unwrap(), Some(roots));
        assert_eq!(s.first_block_number(3).unwrap(), Some(4));
        assert_eq!(s.block_count().unwrap(), Some(6));
        s.rewind_to(1, None).unwrap();
        assert_eq!(s.block_count().unwrap(), Some(2));
        assert_eq!(s.block_epoch(&H256::from_low_u64_be(1)).unwrap(), Some(1));
        assert_eq!(s.block_epoch(&H256::from_low_u64_be(3)).unwrap(), None);
        assert_eq!(s.latest_state().unwrap(), None);
        assert_eq!(s.roots(1).unwrap(), None);
        assert_eq!(s.best_epoch().unwrap(), Some(1));
        assert_eq!(s.pivot(2).unwrap(), None);
        // What was committed survives a reopen.
        drop(s);
        let s = Store::open(dir.path(), H256::zero(), 1).unwrap();
        assert_eq!(s.pivot(1).unwrap(), Some(H256::from_low_u64_be(1)));
        // The in-memory markers are read back from disk.
        assert_eq!(s.best_epoch().unwrap(), Some(1));
        assert_eq!(s.block_count().unwrap(), Some(2));
        assert_eq!(s.latest_state().unwrap(), None);
    }

    #[test]
    fn block_numbers_map_to_their_epoch_and_position() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path(), H256::zero(), 1).unwrap();
        assert_eq!(s.block_at_number(1).unwrap(), None);
        // Epoch e has e + 1 blocks (genesis epoch 0 has one): numbers 0 | 1 2 | 3 4 5 | …
        let hash = |e: u64, i: u64| H256::from_low_u64_be(e * 100 + i);
        let recs: Vec<_> = (0..=6)
            .map(|e| EpochRecord {
                epoch: e,
                pivot: hash(e, e),
                blocks: (0..=e).map(|i| hash(e, i)).collect(),
                headers: vec![],
                work: U256::from(e),
            })
            .collect();
        s.commit(&recs, &[]).unwrap();
        assert_eq!(s.block_count().unwrap(), Some(28));
        assert_eq!(
            s.block_at_number(0).unwrap(),
            None,
            "genesis has no number entry"
        );
        let mut n = 1;
        for e in 1..=6 {
            for i in 0..=e {
                assert_eq!(
                    s.block_at_number(n).unwrap(),
                    Some((e, hash(e, i))),
                    "block {n}"
                );
                n += 1;
            }
        }
        assert_eq!(s.block_at_number(28).unwrap(), None);
        assert_eq!(s.block_at_number(u64::MAX).unwrap(), None);
    }

    #[test]
    fn a_rewind_drops_mirrored_roots_above_the_kept_epoch() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path(), H256::zero(), 1).unwrap();
        let rec = |e: u64| EpochRecord {
            epoch: e,
            pivot: H256::from_low_u64_be(e),
            blocks: vec![H256::from_low_u64_be(e)],
            headers: vec![],
            work: U256::from(e),
        };
        let roots = |b: u8| VerifiedRoots {
            state_root: H256::repeat_byte(b),
            receipts_root: H256::repeat_byte(b),
            logs_bloom_hash: H256::repeat_byte(b),
        };
        let all: Vec<_> = (1..=4).map(|e| (e, roots(e as u8))).collect();
        s.commit(&(1..=6).map(rec).collect::<Vec<_>>(), &all)
            .unwrap();
        for e in 1..=4 {
            assert_eq!(s.roots(e).unwrap(), Some(roots(e as u8)));
        }
        s.rewind_to(5, Some(2)).unwrap();
        assert_eq!(s.latest_state().unwrap(), Some(2));
        assert_eq!(s.roots(2).unwrap(), Some(roots(2)));
        assert_eq!(s.roots(3).unwrap(), None);
        assert_eq!(s.roots(4).unwrap(), None);
        // A new branch's roots replace the mirrored ones.
        s.commit(&[rec(6)], &[(3, roots(0x33))]).unwrap();
        assert_eq!(s.roots(3).unwrap(), Some(roots(0x33)));
        assert_eq!(s.latest_state().unwrap(), Some(3));
        assert_eq!(s.best_epoch().unwrap(), Some(6));
    }

    #[test]
    fn a_fork_switch_replaces_the_branch_and_its_headers_in_one_write() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path(), H256::zero(), 1).unwrap();
        let rec = |e: u64, tag: u8| EpochRecord {
            epoch: e,
            pivot: H256::from_low_u64_be(u64::from(tag) * 1000 + e),
            blocks: vec![H256::from_low_u64_be(u64::from(tag) * 1000 + e)],
            headers: vec![(H256::from_low_u64_be(u64::from(tag) * 1000 + e), vec![0xc0])],
            work: U256::from(e * u64::from(tag)),
        };
        s.commit_base(0, Some(0), &(0..=5).map(|e| rec(e, 1)).collect::<Vec<_>>())
            .unwrap();
        assert_eq!(s.work(5).unwrap(), Some(U256::from(5)));
        let loser = H256::from_low_u64_be(1004);
        assert!(s.header(&loser).unwrap().is_some());
        s.replace_above(3, None, &[rec(4, 2), rec(5, 2), rec(6, 2)])
            .unwrap();
        assert_eq!(s.best_epoch().unwrap(), Some(6));
        assert_eq!(s.pivot(4).unwrap(), Some(H256::from_low_u64_be(2004)));
        assert_eq!(s.pivot(3).unwrap(), Some(H256::from_low_u64_be(1003)));
        // The losing branch's headers are gone with it; the winner's are stored.
        assert_eq!(s.header(&loser).unwrap(), None);
        assert_eq!(s.block_epoch(&loser).unwrap(), None);
        assert!(s.header(&H256::from_low_u64_be(2006)).unwrap().is_some());
        assert_eq!(s.work(6).unwrap(), Some(U256::from(12)));
        assert_eq!(s.block_count().unwrap(), Some(7));
    }

    #[test]
    fn a_checkpoint_start_knows_block_numbers_only_when_given() {
        let rec = |e: u64| EpochRecord {
            epoch: e,
            pivot: H256::from_low_u64_be(e),
            blocks: vec![H256::repeat_byte(e as u8), H256::from_low_u64_be(e)],
            headers: vec![],
            work: U256::from(e),
        };
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path(), H256::zero(), 1).unwrap();
        s.commit_base(100, Some(5000), &[rec(100), rec(101)])
            .unwrap();
        assert_eq!(s.base_epoch(), 100);
        assert_eq!(s.first_block_number(101).unwrap(), Some(5002));
        assert_eq!(
            s.block_at_number(5003).unwrap(),
            Some((101, H256::from_low_u64_be(101)))
        );
        assert_eq!(s.block_at_number(4999).unwrap(), None);
        drop(s);
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path(), H256::zero(), 1).unwrap();
        s.commit_base(100, None, &[rec(100), rec(101)]).unwrap();
        assert_eq!(s.first_block_number(101).unwrap(), None);
        assert_eq!(s.block_count().unwrap(), None);
        assert_eq!(s.block_at_number(1).unwrap(), None);
        drop(s);
        // Unknown stays unknown across a restart.
        let s = Store::open(dir.path(), H256::zero(), 1).unwrap();
        assert_eq!((s.base_epoch(), s.block_count().unwrap()), (100, None));
    }

    #[test]
    fn a_schema_1_store_keeps_pending_and_resyncs_the_chain() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = Store::open(dir.path(), H256::zero(), 1).unwrap();
            s.commit(
                &[EpochRecord {
                    epoch: 0,
                    pivot: H256::repeat_byte(9),
                    blocks: vec![H256::repeat_byte(9)],
                    headers: vec![(H256::repeat_byte(9), vec![0xc0])],
                    work: U256::zero(),
                }],
                &[],
            )
            .unwrap();
            s.put_pending(&[(b"tx".to_vec(), Some(b"raw".to_vec()))])
                .unwrap();
            s.db.put_cf(s.meta(), KEY_SCHEMA, 1u32.to_be_bytes())
                .unwrap();
        }
        let s = Store::open(dir.path(), H256::zero(), 1).unwrap();
        assert_eq!(s.best_epoch().unwrap(), None);
        assert_eq!(s.header(&H256::repeat_byte(9)).unwrap(), None);
        assert_eq!(s.pending_entries().unwrap().len(), 1);
        assert_eq!(
            s.get_meta(KEY_SCHEMA).unwrap(),
            Some(SCHEMA_VERSION.to_be_bytes().to_vec())
        );
    }

    #[test]
    fn a_locked_data_directory_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let _held = Store::open(dir.path(), H256::zero(), 1).unwrap();
        let e = Store::open(dir.path(), H256::zero(), 1)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("lock"), "{e}");
    }
}
