//! Polled filters, as conflux-rust serves them when `poll_lifetime_in_seconds` is set:
//! `cfx_newFilter`, `cfx_newBlockFilter`, `cfx_newPendingTransactionFilter`,
//! `cfx_getFilterChanges`, `cfx_getFilterLogs`, `cfx_uninstallFilter`.
//!
//! A block or log filter walks the verified store from the epoch it last reported up to
//! `latest_state` (the full node's best executed epoch), so what it reports is what
//! `cfx_getLogs` and the block methods would vouch for. It remembers the pivots of the last
//! 200 epochs it reported: when one of them is no longer the store's pivot, the chain
//! switched under it, and a log filter announces `{"revertTo": n}` (n the first epoch
//! reported again, as conflux-rust numbers it) before the new branch's logs. An epoch whose
//! logs cannot be fetched now ends the answer there and is the first of the next one,
//! never skipped. A pending-transaction filter reports the node's own pending transactions
//! that arrived since its last poll.
//!
//! Bounded: at most [`FilterLimits::max_filters`] installed, each dropped
//! [`FilterLimits::lifetime`] after its last use, at most the `cfx_getLogs` epoch range
//! walked per poll and its log limit per answer (the rest comes with the next poll: unlike
//! conflux-rust, which keeps only the newest logs past its limit, nothing is dropped).

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use cfxlight_primitives::H256;
use ethereum_types::H128;
use jsonrpsee::{server::RpcModule, types::ErrorObjectOwned};
use serde_json::{json, Map, Value};

use super::{
    context::RpcContext,
    error::{internal, invalid_params, UNSUPPORTED},
    logs::{check_filter, get_logs},
    params::{u, Args},
};

type Module = RpcModule<Arc<RpcContext>>;

/// Reported epochs a filter remembers to notice a pivot switch (conflux-rust's
/// `MAX_BLOCK_HISTORY_SIZE`).
const HISTORY: usize = 200;

/// conflux-rust's code for an unknown filter id (jsonrpc's "invalid request").
const INVALID_REQUEST: i32 = -32600;

/// The bounds of the polled filters (`--rpc-poll-lifetime`, `--rpc-max-filters`).
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct FilterLimits {
    /// A filter not polled for this long is dropped (conflux-rust's
    /// `poll_lifetime_in_seconds`).
    pub lifetime: Duration,
    /// Most filters installed at once, over all clients.
    pub max_filters: usize,
}

impl Default for FilterLimits {
    /// 60 s, 1,024 filters.
    fn default() -> FilterLimits {
        FilterLimits {
            lifetime: Duration::from_secs(60),
            max_filters: 1024,
        }
    }
}

/// What a filter watches and how far it has reported.
enum Kind {
    Blocks(Walk),
    Logs {
        walk: Walk,
        /// The filter as given (its range is used by `cfx_getFilterLogs` only).
        filter: Map<String, Value>,
    },
    /// The pool's arrival counter at the last poll.
    Pending(u64),
}

/// An epoch walk: the last epoch reported and the pivots of the latest reported ones
/// (newest first).
struct Walk {
    last: u64,
    recent: VecDeque<(u64, H256)>,
}

struct Entry {
    kind: Arc<tokio::sync::Mutex<Kind>>,
    used: Instant,
}

/// The installed filters of one node.
pub(crate) struct Filters {
    limits: FilterLimits,
    map: Mutex<HashMap<H128, Entry>>,
}

impl Filters {
    /// No filters yet, under these bounds.
    pub(crate) fn new(limits: FilterLimits) -> Filters {
        Filters {
            limits,
            map: Mutex::default(),
        }
    }

    fn prune(&self, map: &mut HashMap<H128, Entry>) {
        let life = self.limits.lifetime;
        map.retain(|_, e| e.used.elapsed() < life);
    }

    fn install(&self, kind: Kind) -> Result<H128, ErrorObjectOwned> {
        let mut map = self.map.lock().map_err(internal)?;
        self.prune(&mut map);
        if map.len() >= self.limits.max_filters {
            return Err(ErrorObjectOwned::owned(
                UNSUPPORTED,
                format!(
                    "Too many filters installed ({}): uninstall one, or wait for an unused one to expire ({} s after its last poll)",
                    map.len(),
                    self.limits.lifetime.as_secs()
                ),
                None::<()>,
            ));
        }
        let id = loop {
            let id = H128(rand::random());
            if !map.contains_key(&id) {
                break id;
            }
        };
        map.insert(
            id,
            Entry {
                kind: Arc::new(tokio::sync::Mutex::new(kind)),
                used: Instant::now(),
            },
        );
        Ok(id)
    }

    /// The filter `id`, its lifetime renewed.
    fn get(&self, id: &H128) -> Result<Arc<tokio::sync::Mutex<Kind>>, ErrorObjectOwned> {
        let mut map = self.map.lock().map_err(internal)?;
        self.prune(&mut map);
        match map.get_mut(id) {
            Some(e) => {
                e.used = Instant::now();
                Ok(e.kind.clone())
            }
            None => Err(ErrorObjectOwned::owned(
                INVALID_REQUEST,
                "Filter not found",
                None::<()>,
            )),
        }
    }

    fn remove(&self, id: &H128) -> Result<bool, ErrorObjectOwned> {
        let mut map = self.map.lock().map_err(internal)?;
        self.prune(&mut map);
        Ok(map.remove(id).is_some())
    }

    /// Installed filters (pruned first).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.map
            .lock()
            .map(|mut m| {
                self.prune(&mut m);
                m.len()
            })
            .unwrap_or(0)
    }
}

fn filter_id(args: &Args) -> Result<H128, ErrorObjectOwned> {
    super::params::parse_h128(args.get(0).unwrap_or(&Value::Null))
}

/// The store's pivot of `epoch`, if it has the epoch.
fn pivot(ctx: &RpcContext, epoch: u64) -> Result<Option<H256>, ErrorObjectOwned> {
    Ok(ctx
        .store
        .epoch_blocks(epoch)
        .map_err(internal)?
        .and_then(|b| b.last().copied()))
}

impl Walk {
    fn from(last: u64) -> Walk {
        Walk {
            last,
            recent: VecDeque::new(),
        }
    }

    /// Drops the remembered epochs the chain replaced; true when there were any (the walk
    /// then goes on from the newest that still stands).
    fn rewind(&mut self, ctx: &RpcContext) -> Result<bool, ErrorObjectOwned> {
        let mut switched = false;
        while let Some(&(n, p)) = self.recent.front() {
            if pivot(ctx, n)? == Some(p) {
                break;
            }
            self.recent.pop_front();
            self.last = n.saturating_sub(1);
            switched = true;
        }
        Ok(switched)
    }

    fn record(&mut self, epoch: u64, pivot: H256) {
        if self.recent.len() >= HISTORY {
            self.recent.pop_back();
        }
        self.recent.push_front((epoch, pivot));
        self.last = epoch;
    }
}

/// The epochs a poll may walk now: after the last reported, up to `latest_state`, at most
/// the `cfx_getLogs` range.
fn next_epochs(
    ctx: &RpcContext,
    walk: &Walk,
) -> Result<std::ops::RangeInclusive<u64>, ErrorObjectOwned> {
    let latest = ctx.latest_state()?;
    let first = walk.last.saturating_add(1);
    let last = latest.min(first.saturating_add(ctx.log_limits.max_epoch_range.saturating_sub(1)));
    Ok(first..=last)
}

async fn block_changes(ctx: &RpcContext, walk: &mut Walk) -> Result<Value, ErrorObjectOwned> {
    walk.rewind(ctx)?;
    let mut hashes: Vec<H256> = vec![];
    for epoch in next_epochs(ctx, walk)? {
        let Some(blocks) = ctx.store.epoch_blocks(epoch).map_err(internal)? else {
            break;
        };
        let Some(&p) = blocks.last() else { break };
        hashes.extend(blocks);
        walk.record(epoch, p);
    }
    Ok(json!(hashes))
}

async fn log_changes(
    ctx: &RpcContext,
    walk: &mut Walk,
    filter: &Map<String, Value>,
) -> Result<Value, ErrorObjectOwned> {
    let switched = walk.rewind(ctx)?;
    let mut out: Vec<Value> = vec![];
    if switched {
        out.push(json!({"revertTo": u(walk.last.saturating_add(1))}));
    }
    let mut logs = 0usize;
    for epoch in next_epochs(ctx, walk)? {
        let Some(p) = pivot(ctx, epoch)? else { break };
        let mut f = filter.clone();
        for k in ["fromBlock", "toBlock", "blockHashes"] {
            f.remove(k);
        }
        f.insert("fromEpoch".into(), json!(u(epoch)));
        f.insert("toEpoch".into(), json!(u(epoch)));
        let got = match get_logs(ctx, Value::Object(f)).await {
            Ok(l) => l.into_inner(),
            // An epoch that cannot be fetched now ends this answer and starts the next;
            // one that can never be answered (too many logs) is said so, not skipped.
            Err(e) if logs == 0 && e.code() == super::error::INVALID_PARAMS => return Err(e),
            Err(_) => break,
        };
        if logs > 0 && logs.saturating_add(got.len()) > ctx.log_limits.max_logs {
            break;
        }
        logs = logs.saturating_add(got.len());
        out.extend(got.iter().filter_map(|l| serde_json::to_value(l).ok()));
        walk.record(epoch, p);
    }
    Ok(Value::Array(out))
}

pub(super) fn register(m: &mut Module) -> Result<(), jsonrpsee::core::RegisterMethodError> {
    m.register_method("cfx_newFilter", |p, ctx, _| {
        let args = Args::of(&p, 1, 1)?;
        let Some(Value::Object(f)) = args.get(0) else {
            return Err(invalid_params("invalid type: expected a log filter object"));
        };
        check_filter(ctx, f)?;
        // conflux-rust starts one epoch back: the first poll reports the current one.
        let start = ctx.latest_state()?.saturating_sub(1);
        ctx.filters.install(Kind::Logs {
            walk: Walk::from(start),
            filter: f.clone(),
        })
    })?;
    m.register_method("cfx_newBlockFilter", |p, ctx, _| {
        Args::none(&p)?;
        ctx.filters
            .install(Kind::Blocks(Walk::from(ctx.latest_state()?)))
    })?;
    m.register_method("cfx_newPendingTransactionFilter", |p, ctx, _| {
        Args::none(&p)?;
        ctx.filters.install(Kind::Pending(ctx.pool.last_seq()))
    })?;
    m.register_async_method("cfx_getFilterChanges", |p, ctx, _| async move {
        let args = Args::of(&p, 1, 1)?;
        let kind = ctx.filters.get(&filter_id(&args)?)?;
        let mut kind = kind.lock().await;
        match &mut *kind {
            Kind::Blocks(walk) => block_changes(&ctx, walk).await,
            Kind::Logs { walk, filter } => log_changes(&ctx, walk, filter).await,
            Kind::Pending(seq) => {
                let (hashes, now) = ctx.pool.arrived_after(*seq);
                *seq = now;
                Ok(json!(hashes))
            }
        }
    })?;
    m.register_async_method("cfx_getFilterLogs", |p, ctx, _| async move {
        let args = Args::of(&p, 1, 1)?;
        let kind = ctx.filters.get(&filter_id(&args)?)?;
        let filter = match &*kind.lock().await {
            Kind::Logs { filter, .. } => filter.clone(),
            _ => {
                return Err(ErrorObjectOwned::owned(
                    INVALID_REQUEST,
                    "Filter not found",
                    None::<()>,
                ))
            }
        };
        get_logs(&ctx, Value::Object(filter)).await
    })?;
    m.register_method("cfx_uninstallFilter", |p, ctx, _| {
        let args = Args::of(&p, 1, 1)?;
        ctx.filters.remove(&filter_id(&args)?)
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_expire_after_their_lifetime_and_are_bounded() {
        let f = Filters::new(FilterLimits {
            lifetime: Duration::from_millis(200),
            max_filters: 2,
        });
        let a = f.install(Kind::Pending(0)).expect("room for one");
        f.install(Kind::Pending(0)).expect("room for two");
        let refused = f.install(Kind::Pending(0)).expect_err("full");
        assert_eq!(refused.code(), UNSUPPORTED);
        assert!(refused
            .message()
            .starts_with("Too many filters installed (2)"));
        std::thread::sleep(Duration::from_millis(120));
        // Used: its lifetime starts again.
        f.get(&a).expect("still there");
        std::thread::sleep(Duration::from_millis(120));
        assert_eq!(f.len(), 1, "the unused one expired, the polled one stays");
        f.install(Kind::Pending(0)).expect("room again");
        assert!(f.remove(&a).expect("removes"));
        assert!(!f.remove(&a).expect("answers"));
        let gone = f.get(&a).err().expect("unknown");
        assert_eq!((gone.code(), gone.message()), (-32600, "Filter not found"));
    }

    #[test]
    fn a_walk_remembers_at_most_its_history() {
        let mut w = Walk::from(0);
        for e in 1..=500u64 {
            w.record(e, H256::from_low_u64_be(e));
        }
        assert_eq!(w.recent.len(), HISTORY);
        assert_eq!(w.last, 500);
        assert_eq!(w.recent.front().map(|x| x.0), Some(500));
        assert_eq!(w.recent.back().map(|x| x.0), Some(301));
    }
}
