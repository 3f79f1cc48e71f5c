//! What every method answers from: [`RpcContext`] (store, verified reads, pool, signing,
//! pub/sub hub, polled filters) and how epoch arguments resolve against what this node verified.

use std::sync::{
    atomic::{AtomicU64, Ordering},
    Arc,
};

use cfxlight_chainspec::{ChainSpec, PowMode};
use jsonrpsee::types::ErrorObjectOwned;

use super::{
    budget::Budgets,
    error::{internal, invalid_param_data, query_error},
    filters::{FilterLimits, Filters},
    local::Signing,
    logs::LogLimits,
    params::{Epoch, StateAt},
    pubsub,
};
use crate::{
    query::{Query, QueryError},
    store::Store,
    txpool::TxPool,
};

/// Chain facts the RPC reports.
#[derive(Debug, Clone, Copy)]
pub struct ChainInfo {
    /// Core chain id.
    pub chain_id: u32,
    /// eSpace chain id.
    pub evm_chain_id: u32,
    /// Network id (address prefix).
    pub network_id: u64,
    /// PoW flavour (how `powQuality` is computed).
    pub pow: PowMode,
    /// First epoch with CIP-1559 fees.
    pub cip1559_height: u64,
    /// First epoch of v3.0 (`eoa_code`: CIP-645's gas schedule, EIP-7623's floor).
    pub v3_height: u64,
    /// First block of v2.4 (Cancun opcodes, SLOAD at 800, CIP-133 block hashes).
    pub v24_number: u64,
    /// First block with PUSH0 (CIP-119).
    pub push0_number: u64,
}

impl ChainInfo {
    /// The facts of a chain spec.
    pub fn of(spec: &ChainSpec) -> ChainInfo {
        ChainInfo {
            chain_id: spec.chain_id,
            evm_chain_id: spec.evm_chain_id,
            network_id: spec.network_id,
            pow: spec.pow,
            cip1559_height: spec.forks.cip1559_height,
            v3_height: spec.forks.eoa_code_height,
            v24_number: spec.forks.cip1559_number,
            push0_number: spec.forks.cip119_number,
        }
    }
}

/// What the RPC answers from.
pub struct RpcContext {
    pub(crate) store: Arc<Store>,
    pub(crate) query: Arc<Query>,
    pub(crate) chain: ChainInfo,
    /// The `latest_state` epoch the RPC serves: the newest verified state whose watched
    /// accounts are already fetched (u64::MAX until the first prefetch: then the store's).
    pub(crate) served_state: Arc<AtomicU64>,
    pub(crate) signing: Option<Arc<Signing>>,
    pub(crate) pool: Arc<TxPool>,
    pub(crate) pubsub: pubsub::Hub,
    /// The node's shared PoW verifier, for `powQuality` on Octopus chains.
    pub(crate) pow: Option<crate::pow::PowVerifier>,
    /// What large answers may hold while they are built.
    pub(crate) budgets: Budgets,
    /// The bounds of one `cfx_getLogs`.
    pub(crate) log_limits: LogLimits,
    /// The installed polled filters (`cfx_newFilter` …).
    pub(crate) filters: Filters,
}

impl RpcContext {
    /// An RPC context over the node's store and verified reads for this chain.
    pub fn new(
        store: Arc<Store>,
        query: Arc<Query>,
        pool: Arc<TxPool>,
        spec: &ChainSpec,
    ) -> RpcContext {
        RpcContext {
            store,
            query,
            chain: ChainInfo::of(spec),
            served_state: Arc::new(AtomicU64::new(u64::MAX)),
            signing: None,
            pool,
            pubsub: pubsub::Hub::default(),
            pow: None,
            budgets: Budgets::default(),
            log_limits: LogLimits::default(),
            filters: Filters::new(FilterLimits::default()),
        }
    }

    /// Sets the bounds of the polled filters (`--rpc-poll-lifetime`, `--rpc-max-filters`).
    pub fn with_filter_limits(mut self, limits: FilterLimits) -> RpcContext {
        self.filters = Filters::new(limits);
        self
    }

    /// Sets the bounds of `cfx_getLogs` (`--rpc-logs-max-*`).
    pub fn with_log_limits(mut self, limits: LogLimits) -> RpcContext {
        self.log_limits = limits;
        self
    }

    /// Sets the response budgets (the server's `--rpc-max-response-*` limits).
    pub fn with_budgets(mut self, budgets: Budgets) -> RpcContext {
        self.budgets = budgets;
        self
    }

    /// Shares the node's PoW verifier (its Octopus caches) for `powQuality`.
    pub fn with_pow(mut self, pow: crate::pow::PowVerifier) -> RpcContext {
        self.pow = Some(pow);
        self
    }

    /// Adds the signing side (signer, pending pool) behind the local methods.
    pub fn with_signing(mut self, signing: Arc<Signing>) -> RpcContext {
        self.signing = Some(signing);
        self
    }

    /// The shared `latest_state` marker, advanced by the node's prefetch loop.
    pub fn served_state(&self) -> Arc<AtomicU64> {
        self.served_state.clone()
    }

    /// The pub/sub hub, fed by the node's follow loop.
    pub fn hub(&self) -> pubsub::Hub {
        self.pubsub.clone()
    }

    pub(crate) fn best_epoch(&self) -> Result<u64, ErrorObjectOwned> {
        Ok(self.store.best_epoch().map_err(internal)?.unwrap_or(0))
    }

    pub(crate) fn latest_state(&self) -> Result<u64, ErrorObjectOwned> {
        let stored = self.store.latest_state().map_err(internal)?.unwrap_or(0);
        let served = self.served_state.load(Ordering::Acquire);
        Ok(if served == u64::MAX {
            stored
        } else {
            served.min(stored)
        })
    }
}

impl RpcContext {
    /// The epoch number of a tag, for chain-position methods (bounded by the best epoch).
    pub(crate) fn epoch_number(&self, e: Epoch) -> Result<u64, ErrorObjectOwned> {
        Ok(match e {
            Epoch::LatestMined => self.best_epoch()?,
            Epoch::LatestState => self.latest_state()?,
            // Not tracked by a header-following light node (conflux-rust's light node says 0 too).
            Epoch::LatestConfirmed
            | Epoch::LatestCheckpoint
            | Epoch::LatestFinalized
            | Epoch::Earliest => 0,
            Epoch::Number(n) => n,
        })
    }

    /// The epoch of a state read: default `latest_state`, and only verified states.
    pub(crate) fn state_epoch(&self, at: Option<StateAt>) -> Result<u64, ErrorObjectOwned> {
        let e = match at {
            None => Epoch::LatestState,
            Some(StateAt::Epoch(e)) => e,
            Some(StateAt::Block {
                hash,
                require_pivot,
            }) => {
                let not_found = || {
                    invalid_param_data(
                        "epoch parameter",
                        format!("block's epoch number is not found: {hash:?}"),
                    )
                };
                let epoch = self
                    .store
                    .block_epoch(&hash)
                    .map_err(internal)?
                    .ok_or_else(not_found)?;
                if require_pivot && self.store.pivot(epoch).map_err(internal)? != Some(hash) {
                    return Err(invalid_param_data(
                        "epoch parameter",
                        format!("should be a pivot block: {hash:?}"),
                    ));
                }
                Epoch::Number(epoch)
            }
        };
        let latest = self.latest_state()?;
        let epoch = match e {
            // A light node has no state past latest_state; conflux-rust's light node also
            // answers latest_mined from its latest verified state.
            // One reading of the marker: a second could differ across a rewind.
            Epoch::LatestMined | Epoch::LatestState => latest,
            other => self.epoch_number(other)?,
        };
        if epoch > latest {
            return Err(query_error(QueryError::NotVerifiable { epoch, latest }));
        }
        Ok(epoch)
    }
}
