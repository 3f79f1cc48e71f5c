//! `cfxlight node`: resolve the configuration, bind the data directory to the chain, and
//! follow the pivot chain from the configured peers, logging progress a person can follow.
//!
//! Peers are dialled with exponential backoff; one that sends unverifiable data is dropped
//! (and waits longer before a retry), and nothing it sent is stored.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};
use cfxlight_chainspec::PowMode;

use super::print_json;
use crate::{
    cli::NodeArgs,
    config::NodeConfig,
    light::peer::{ChainIdentity, LightPeer},
    log, node_key,
    query::{Peers, Query},
    rpc::{self, RpcContext, Signing},
    store::Store,
    sync::{Progress, SyncError, Syncer},
    txpool::TxPool,
    wire::NodeUrl,
};

const BACKOFF_START: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(60);
/// A peer that sent bad data waits this long before we dial it again.
const MISBEHAVIOUR_PENALTY: Duration = Duration::from_secs(300);
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

pub fn run(args: &NodeArgs) -> Result<()> {
    let config = NodeConfig::resolve(args)?;
    if args.dry_run {
        return print_json(&config);
    }
    std::fs::create_dir_all(&config.datadir)
        .with_context(|| format!("cannot create data directory {}", config.datadir.display()))?;
    let store = Arc::new(Store::open(
        &config.datadir,
        config.genesis_hash,
        config.spec.chain_id,
    )?);
    let key = node_key::load_or_create(&config.datadir)?;
    let urls = config
        .bootnodes
        .iter()
        .map(|b| b.parse::<NodeUrl>())
        .collect::<Result<Vec<_>, _>>()?;
    if urls.is_empty() {
        bail!("no peers to sync from: pass --bootnode cfxnode://<id>@host:port");
    }
    if config.spec.pow == PowMode::Octopus {
        log::warn("PoW is NOT verified on this chain by this build (Octopus not implemented yet)");
    }
    log::info(&format!(
        "cfxlight {} on {} (chain id {}), genesis {:?}, data {}",
        env!("CARGO_PKG_VERSION"),
        config.spec.name,
        config.spec.chain_id,
        config.genesis_hash,
        config.datadir.display()
    ));
    let signer = match &config.signer {
        Some(spec) => {
            let backend = cfxlight_signer::cli::BackendArgs {
                signer: spec.clone(),
                pin_file: config.pin_file.clone(),
                policy: config.policy.clone(),
                audit_log: config.audit_log.clone(),
            };
            let s = cfxlight_signer::cli::open_for_node(&backend, config.spec.chain_id)
                .with_context(|| format!("cannot open the signer {spec:?}"))?;
            Some(Arc::<dyn cfxlight_signer::Signer>::from(s))
        }
        None => None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let shown = store.clone();
    let peers = Arc::new(Peers::default());
    let query = Arc::new(Query::new(store.clone(), peers.clone()));
    let pool = Arc::new(TxPool::load(store.clone())?);
    if !pool.is_empty() {
        log::info(&format!(
            "{} pending transaction(s) from the last run: tracking them again",
            pool.len()
        ));
    }
    let mut ctx = RpcContext::new(store.clone(), query.clone(), pool.clone(), &config.spec);
    if let Some(signer) = &signer {
        ctx = ctx.with_signing(Arc::new(Signing {
            signer: signer.clone(),
        }));
    }
    let rpc_ctx = Arc::new(ctx);
    runtime.block_on(async {
        if let Some(signer) = &signer {
            let accounts = signer
                .accounts()
                .await
                .context("the signer cannot list its accounts")?;
            for a in &accounts {
                query.pin(a.address);
                log::info(&format!(
                    "signer account {}",
                    cfxlight_primitives::address::CfxAddress::new(a.address, config.spec.network_id)
                ));
            }
        }
        for p in pool.all() {
            query.pin(p.sender);
        }
        let servers = rpc::start(rpc_ctx.clone(), &config.rpc).await?;
        log::info(&format!(
            "JSON-RPC on http://{} and ws://{}{}",
            servers.http_addr,
            servers.ws_addr,
            servers
                .local_addr
                .map(|a| format!(", local (signing) RPC on http://{a}"))
                .unwrap_or_default()
        ));
        tokio::spawn(rpc_ctx.hub().watch(rpc_ctx.clone()));
        tokio::spawn(serve_state(rpc_ctx.clone()));
        tokio::spawn(maintain_pool(store.clone(), query.clone(), pool.clone()));
        tokio::select! {
            r = follow(&config, store, key, urls, peers) => r,
            _ = tokio::signal::ctrl_c() => {
                log::info(&format!(
                    "interrupted at epoch {} (latest_state {}): everything verified so far is stored",
                    shown.best_epoch()?.unwrap_or(0),
                    shown.latest_state()?.map_or("-".into(), |s| s.to_string()),
                ));
                Ok(())
            }
        }
    })
}

/// Verified state entries kept on disk for this many epochs behind `latest_state`.
const STATE_CACHE_EPOCHS: u64 = 2000;

/// Advances the `latest_state` the RPC serves once the watched accounts of a new state
/// epoch are fetched and verified, so that their reads never wait on a peer.
async fn serve_state(ctx: Arc<RpcContext>) {
    let served = ctx.served_state();
    let mut pruned_at = 0u64;
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    loop {
        tick.tick().await;
        let Ok(Some(latest)) = ctx.store.latest_state() else {
            continue;
        };
        let current = served.load(std::sync::atomic::Ordering::Acquire);
        if current != u64::MAX && latest <= current {
            continue;
        }
        // A failed prefetch does not hold the state back: reads then go to a peer.
        let _ =
            tokio::time::timeout(Duration::from_secs(3), ctx.query.prefetch_watched(latest)).await;
        served.store(latest, std::sync::atomic::Ordering::Release);
        if latest >= pruned_at + 100 {
            pruned_at = latest;
            if let Err(e) = ctx
                .store
                .prune_state_below(latest.saturating_sub(STATE_CACHE_EPOCHS))
            {
                log::warn(&format!("cannot prune the state cache: {e}"));
            }
        }
    }
}

/// Settles and rebroadcasts the node's pending transactions.
async fn maintain_pool(store: Arc<Store>, query: Arc<Query>, pool: Arc<TxPool>) {
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tick.tick().await;
        let (Ok(Some(latest)), Ok(Some(best))) = (store.latest_state(), store.best_epoch()) else {
            continue;
        };
        pool.maintain(&query, latest, best).await;
    }
}

struct PeerSlot {
    url: NodeUrl,
    peer: Option<Arc<LightPeer>>,
    next_try: Instant,
    backoff: Duration,
}

async fn follow(
    config: &NodeConfig,
    store: Arc<Store>,
    key: k256::SecretKey,
    urls: Vec<NodeUrl>,
    peers: Arc<Peers>,
) -> Result<()> {
    let chain = ChainIdentity {
        network_id: config.spec.network_id,
        chain_id: config.spec.chain_id,
        genesis_hash: config.genesis_hash,
    };
    let syncer = Syncer::new(store.clone(), config.spec.pow, config.genesis_hash);
    let mut slots: Vec<PeerSlot> = urls
        .into_iter()
        .map(|url| PeerSlot {
            url,
            peer: None,
            next_try: Instant::now(),
            backoff: BACKOFF_START,
        })
        .collect();
    let started = Instant::now();
    let start_epoch = store.best_epoch()?.unwrap_or(0);
    if start_epoch > 0 {
        log::info(&format!("resuming from stored epoch {start_epoch}"));
    }
    let mut last_progress = Instant::now();
    let mut synced = false;
    loop {
        let reported = peers.take_reported();
        for slot in slots.iter_mut() {
            if reported.contains(&slot.url.to_string()) && slot.peer.take().is_some() {
                log::warn(&format!(
                    "dropping peer {}: it sent data that failed verification",
                    slot.url
                ));
                slot.next_try = Instant::now() + MISBEHAVIOUR_PENALTY;
            }
        }
        for slot in slots.iter_mut() {
            let dead = slot.peer.as_ref().is_none_or(|p| !p.is_alive());
            if dead && Instant::now() >= slot.next_try {
                if slot.peer.take().is_some() {
                    log::warn(&format!("peer {} disconnected", slot.url));
                }
                match LightPeer::connect(&slot.url, &key, chain, config.p2p_local_ip).await {
                    Ok(p) => {
                        let p = Arc::new(p);
                        p.spawn_heartbeat();
                        log::info(&format!(
                            "connected to {} (best epoch {})",
                            slot.url,
                            p.status().best_epoch
                        ));
                        slot.backoff = BACKOFF_START;
                        slot.peer = Some(p);
                    }
                    Err(e) => {
                        log::warn(&format!(
                            "cannot connect to {}: {e} (retry in {:?})",
                            slot.url, slot.backoff
                        ));
                        slot.next_try = Instant::now() + slot.backoff;
                        slot.backoff = (slot.backoff * 2).min(BACKOFF_MAX);
                    }
                }
            }
        }
        peers.set(
            slots
                .iter()
                .filter_map(|s| s.peer.clone().filter(|p| p.is_alive()))
                .collect(),
        );
        let best = slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                s.peer
                    .as_ref()
                    .filter(|p| p.is_alive())
                    .map(|p| (i, p.clone()))
            })
            .max_by_key(|(_, p)| p.status().best_epoch);
        let Some((i, peer)) = best else {
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        };
        let result = match syncer.init(&peer).await {
            Ok(()) => syncer.round(&peer).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(Progress::Advanced(_)) => {}
            Ok(Progress::AtTip) => {
                if !synced {
                    log::info(&format!(
                        "synced: epoch {} (latest_state {}) after {:.1} s",
                        store.best_epoch()?.unwrap_or(0),
                        store.latest_state()?.map_or("-".into(), |s| s.to_string()),
                        started.elapsed().as_secs_f64()
                    ));
                    synced = true;
                }
                // Ask for a fresh tip; the pong lands while we wait.
                let _ = peer.ping().await;
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            Ok(Progress::Rewound(to)) => {
                log::warn(&format!(
                    "the recent pivot chain changed: rewound to epoch {to}"
                ));
                synced = false;
            }
            Err(SyncError::Invalid(why)) => {
                log::warn(&format!(
                    "dropping peer {}: {why}; nothing it sent was stored",
                    slots[i].url
                ));
                slots[i].peer = None;
                slots[i].next_try = Instant::now() + MISBEHAVIOUR_PENALTY;
            }
            Err(SyncError::Peer(e)) => {
                log::warn(&format!("peer {}: {e}", slots[i].url));
                slots[i].peer = None;
                slots[i].next_try = Instant::now() + slots[i].backoff;
            }
            Err(SyncError::Store(e)) => return Err(e.into()),
        }
        if last_progress.elapsed() >= PROGRESS_EVERY {
            let now = store.best_epoch()?.unwrap_or(0);
            let target = peer.status().best_epoch;
            let rate = (now.saturating_sub(start_epoch)) as f64
                / started.elapsed().as_secs_f64().max(0.001);
            let eta = if rate > 0.0 && target > now {
                format!("{:.0} s", (target - now) as f64 / rate)
            } else {
                "-".into()
            };
            log::info(&format!(
                "epoch {now}/{target}, latest_state {}, {rate:.0} epochs/s, ETA {eta}, {} peer(s)",
                store.latest_state()?.map_or("-".into(), |s| s.to_string()),
                slots.iter().filter(|s| s.peer.is_some()).count()
            ));
            last_progress = Instant::now();
        }
    }
}
