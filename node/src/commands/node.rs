//! `cfxlight node`: resolve the configuration, bind the data directory to the chain, and
//! follow the heaviest valid pivot chain from the configured peers, logging progress a
//! person can follow.
//!
//! The peer set ([`crate::light::peers`]) dials and penalises; the syncer ([`crate::sync`])
//! verifies and chooses; this loop only asks the peer with the highest claimed tip first,
//! hands the outcome to the peer set, and publishes chain events ([`crate::events`]) that
//! the served-state update, the pending pool and the RPC's subscriptions wait on.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};
use cfxlight_chainspec::PowMode;

use super::print_json;
use crate::{
    cli::NodeArgs,
    config::{check_checkpoint_age, NodeConfig},
    events::{ChainEvent, Hub},
    light::{
        peer::ChainIdentity,
        peers::{PeerSet, Penalty},
    },
    log, node_key,
    pow::PowVerifier,
    query::Query,
    rpc::{self, RpcContext, Signing},
    rules::HeaderVerifier,
    store::Store,
    sync::{Progress, Start, SyncError, Syncer},
    txpool::TxPool,
    wire::NodeUrl,
};

const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// What this build verifies on a chain, for the start-up line and `chain status`.
pub fn verified_summary(pow: PowMode) -> &'static str {
    match pow {
        PowMode::Octopus => "Octopus PoW, difficulty, time, gas and fork rules on every header; epoch sets; heaviest chain; roots trusted by blame votes",
        PowMode::Test => "test PoW, difficulty, time, gas and fork rules on every header; epoch sets; heaviest chain; roots trusted by blame votes",
    }
}

pub fn run(args: &NodeArgs) -> Result<()> {
    let config = NodeConfig::resolve(args)?;
    if args.dry_run {
        return print_json(&config);
    }
    log::configure(config.log_level, config.log_json);
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
    let start = match config.checkpoint {
        Some(c) if store.best_epoch()?.is_none() => {
            check_checkpoint_age(&c, None, config.max_checkpoint_age, log::unix_now())?;
            log::info(&format!(
                "starting from checkpoint epoch {} {:?}",
                c.epoch, c.hash
            ));
            Start::Checkpoint(c, config.genesis_hash)
        }
        _ => Start::Genesis(config.genesis_hash),
    };
    log::info(&format!(
        "cfxlight {} on {} (chain id {}), genesis {:?}, data {}; verifies {}",
        env!("CARGO_PKG_VERSION"),
        config.spec.name,
        config.spec.chain_id,
        config.genesis_hash,
        config.datadir.display(),
        verified_summary(config.spec.pow)
    ));
    if config.spec.pow == PowMode::Octopus && matches!(start, Start::Genesis(_)) {
        log::warn(
            "starting at genesis on an Octopus chain: every header's PoW is checked, which takes \
             weeks of CPU to reach the tip; pass --checkpoint <epoch>:<hash> (README)",
        );
    }
    let signer = match &config.signer {
        Some(spec) => {
            let backend = cfxlight_signer::cli::BackendArgs {
                signer: spec.clone(),
                pin_file: config.pin_file.clone(),
                policy: config.policy.clone(),
                audit_log: config.audit_log.clone(),
                require_attestation: config.require_attestation.clone(),
                remote_key: Some(config.datadir.join("remote-signer.key")),
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
    let peers = Arc::new(PeerSet::new(urls));
    let query = Arc::new(Query::new(store.clone(), peers.clone()));
    let pool = Arc::new(TxPool::load(store.clone())?);
    if !pool.is_empty() {
        log::info(&format!(
            "{} pending transaction(s) from the last run: tracking them again",
            pool.len()
        ));
    }
    let pow = PowVerifier::new(config.spec.pow, Some(config.datadir.clone()));
    let mut ctx = RpcContext::new(store.clone(), query.clone(), pool.clone(), &config.spec)
        .with_pow(pow.clone())
        .with_budgets(config.rpc.budgets())
        .with_log_limits(config.rpc.logs)
        .with_filter_limits(config.rpc.filters);
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
        if let Some(addr) = config.metrics_addr {
            let (store, pool, peers) = (store.clone(), pool.clone(), peers.clone());
            let gauges = Arc::new(move || {
                let view = peers.view();
                crate::metrics::Gauges {
                    best_epoch: store.best_epoch().ok().flatten().unwrap_or(0),
                    latest_state: store.latest_state().ok().flatten().unwrap_or(0),
                    claimed_tip: view.iter().filter_map(|p| p.claimed_tip).max().unwrap_or(0),
                    peers: view.iter().filter(|p| p.connected).count() as u64,
                    pending: pool.len() as u64,
                }
            });
            let bound = crate::metrics::serve(addr, gauges)
                .await
                .with_context(|| format!("cannot serve metrics on {addr}"))?;
            log::info(&format!("Prometheus metrics on http://{bound}/metrics"));
        }
        let hub = rpc_ctx.hub();
        tokio::spawn(serve_state(rpc_ctx.clone()));
        tokio::spawn(maintain_pool(store.clone(), query.clone(), pool.clone(), hub.clone()));
        tokio::select! {
            r = follow(&config, store, key, peers, start, hub, pow) => r,
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
    let hub = ctx.hub();
    let mut events = hub.subscribe();
    let mut pruned_at = 0u64;
    loop {
        Hub::wait(&mut events, Duration::from_secs(1)).await;
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
        hub.publish(ChainEvent::Advanced);
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

/// Settles and rebroadcasts the node's pending transactions, on every chain event and at
/// least every 3 s.
async fn maintain_pool(store: Arc<Store>, query: Arc<Query>, pool: Arc<TxPool>, hub: Hub) {
    let mut events = hub.subscribe();
    loop {
        Hub::wait(&mut events, Duration::from_secs(3)).await;
        let (Ok(Some(latest)), Ok(Some(best))) = (store.latest_state(), store.best_epoch()) else {
            continue;
        };
        pool.maintain(&query, latest, best).await;
    }
}

async fn follow(
    config: &NodeConfig,
    store: Arc<Store>,
    key: k256::SecretKey,
    peers: Arc<PeerSet>,
    start: Start,
    hub: Hub,
    pow: PowVerifier,
) -> Result<()> {
    let chain = ChainIdentity {
        network_id: config.spec.network_id,
        chain_id: config.spec.chain_id,
        genesis_hash: config.genesis_hash,
    };
    let spec = Arc::new(config.spec.clone());
    let rules = HeaderVerifier::new(spec, pow);
    let syncer = Syncer::new(store.clone(), rules, config.spec.trust.clone(), start)
        .with_checkpoint_max_age(config.max_checkpoint_age);
    let started = Instant::now();
    let start_epoch = store.best_epoch()?.unwrap_or(0);
    if start_epoch > 0 {
        log::info(&format!("resuming from stored epoch {start_epoch}"));
    }
    let mut last_progress = Instant::now();
    let mut synced = false;
    let mut checkpoint_refusals = 0usize;
    loop {
        peers.apply_reports();
        peers.dial_due(&key, chain, config.p2p_local_ip).await;
        let candidates = peers.by_claimed_tip();
        let Some(peer) = candidates.first().cloned() else {
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        };
        let before = (store.best_epoch()?, store.latest_state()?);
        let result = match syncer.init(&peer).await {
            Ok(()) => syncer.round(&peer).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(Progress::Advanced(_)) => peers.delivered(&peer),
            Ok(Progress::Switched { fork_point, to }) => {
                peers.delivered(&peer);
                hub.publish(ChainEvent::Revert { to: fork_point });
                log::warn(&format!(
                    "followed a heavier fork: epochs above {fork_point} replaced, best now {to}"
                ));
                synced = false;
            }
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
            Err(SyncError::Checkpoint(why)) => {
                // Every peer we hold says the same: the checkpoint is wrong, not the peer.
                checkpoint_refusals += 1;
                peers.penalise(&peer, Penalty::Lighter, &format!("checkpoint: {why}"));
                if checkpoint_refusals >= candidates.len().max(1) {
                    bail!("cannot start from the checkpoint: {why}");
                }
            }
            Err(SyncError::Store(e)) => return Err(e.into()),
            Err(e @ SyncError::Lighter { .. }) => {
                peers.penalise(&peer, Penalty::Lighter, &e.to_string());
            }
            Err(e) if e.is_misbehaviour() => {
                peers.penalise(
                    &peer,
                    Penalty::Lied,
                    &format!("{e}; nothing it sent was stored"),
                );
            }
            Err(e) => peers.penalise(&peer, Penalty::Failed, &e.to_string()),
        }
        if (store.best_epoch()?, store.latest_state()?) != before {
            hub.publish(ChainEvent::Advanced);
        }
        if last_progress.elapsed() >= PROGRESS_EVERY {
            let now = store.best_epoch()?.unwrap_or(0);
            let view = peers.view();
            let target = view
                .iter()
                .filter_map(|p| p.claimed_tip)
                .max()
                .unwrap_or(now);
            let rate = (now.saturating_sub(start_epoch)) as f64
                / started.elapsed().as_secs_f64().max(0.001);
            let eta = if rate > 0.0 && target > now {
                format!("{:.0} s", (target - now) as f64 / rate)
            } else {
                "-".into()
            };
            let tips: Vec<String> = view
                .iter()
                .filter(|p| p.connected)
                .map(|p| {
                    format!(
                        "{}@{}",
                        p.claimed_tip.unwrap_or(0),
                        p.url.rsplit('@').next().unwrap_or(&p.url)
                    )
                })
                .collect();
            log::info(&format!(
                "epoch {now}/{target}, latest_state {}, {rate:.0} epochs/s, ETA {eta}, {} peer(s) claiming [{}]",
                store.latest_state()?.map_or("-".into(), |s| s.to_string()),
                tips.len(),
                tips.join(", ")
            ));
            last_progress = Instant::now();
        }
    }
}
