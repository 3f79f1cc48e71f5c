//! The node's RocksDB store: named column families, one per kind of fact, and the chain
//! identity pinned at creation so a data directory is never used for another chain.
//!
//! Column families: `headers` (hash → header RLP), `pivot` (epoch → pivot hash),
//! `roots` (epoch → verified deferred roots), `meta` (sync metadata, chain identity),
//! `peers` (peer table). Writes that belong together go through one `WriteBatch`.

use std::path::{Path, PathBuf};

use cfxlight_primitives::H256;
use rocksdb::{ColumnFamilyDescriptor, Options, WriteBatch, DB};
use thiserror::Error;

/// Column families of the store, in creation order.
pub const COLUMN_FAMILIES: [&str; 5] = ["headers", "pivot", "roots", "meta", "peers"];
/// Bumped when the on-disk layout changes incompatibly.
pub const SCHEMA_VERSION: u32 = 1;

const KEY_GENESIS: &[u8] = b"genesis_hash";
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

/// An open store, bound to one chain.
pub struct Store {
    db: DB,
    path: PathBuf,
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
        let cfs = COLUMN_FAMILIES
            .iter()
            .map(|n| ColumnFamilyDescriptor::new(*n, Options::default()));
        let db = DB::open_cf_descriptors(&opts, path, cfs).map_err(db_err)?;
        let store = Store {
            db,
            path: path.to_path_buf(),
        };
        store.pin_chain(genesis, chain_id)?;
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

    /// The data directory.
    pub fn path(&self) -> &Path {
        &self.path
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
