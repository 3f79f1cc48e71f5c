//! WebSocket pub/sub: `cfx_subscribe` `newHeads`, `epochs` (`latest_mined` or
//! `latest_state`) and `logs`, as conflux-rust names and shapes them.
//!
//! The follow loop and the served-state loop publish chain events ([`crate::events`]); each
//! event wakes the subscriptions, and each subscription then walks the store (which only
//! ever holds verified epochs) from where it stands, so a slow one falls behind without
//! skipping an epoch or stalling the node. A fork switch is announced as a `revertTo` for
//! `logs`, as conflux-rust does, and the other kinds announce the new branch's epochs.

use std::sync::Arc;

use jsonrpsee::{
    server::{PendingSubscriptionSink, RpcModule, SubscriptionMessage},
    types::ErrorObjectOwned,
};
use serde_json::{json, Value};
use tokio::sync::broadcast;

use super::{
    context::RpcContext,
    error::invalid_params,
    params::{u, Args},
};

type Module = RpcModule<Arc<RpcContext>>;

/// Subscription ids as conflux-rust writes them: `0x` and 16 random hex digits.
#[derive(Debug, Clone, Copy, Default)]
pub struct HexIdProvider;

impl jsonrpsee::core::traits::IdProvider for HexIdProvider {
    fn next_id(&self) -> jsonrpsee::types::SubscriptionId<'static> {
        let n: u64 = rand::random();
        jsonrpsee::types::SubscriptionId::Str(format!("0x{n:016x}").into())
    }
}

pub use crate::events::{ChainEvent, Hub};

/// How often a subscription that could not fetch an epoch tries it again.
const RETRY: std::time::Duration = std::time::Duration::from_secs(2);

async fn send(sink: &jsonrpsee::server::SubscriptionSink, v: &Value) -> bool {
    match serde_json::value::to_raw_value(v) {
        Ok(raw) => sink.send(SubscriptionMessage::from(raw)).await.is_ok(),
        Err(_) => false,
    }
}

async fn run(pending: PendingSubscriptionSink, ctx: Arc<RpcContext>, kind: Kind) {
    let mut rx = ctx.pubsub.subscribe();
    let Ok(sink) = pending.accept().await else {
        return;
    };
    // Each subscription walks the store from where it stands, so a burst (catching up)
    // or a lagging reader never makes it skip an epoch: events only wake it up.
    let state_kind = matches!(kind, Kind::Epochs { state: true } | Kind::Logs(_));
    let position = |ctx: &RpcContext| -> u64 {
        if state_kind {
            ctx.latest_state().unwrap_or(0)
        } else {
            ctx.best_epoch().unwrap_or(0)
        }
    };
    let mut last = position(&ctx);
    loop {
        // A wake-up at least every RETRY: an epoch whose logs could not be fetched is
        // tried again even if the chain does not move.
        let event = tokio::select! {
            _ = sink.closed() => return,
            e = tokio::time::timeout(RETRY, rx.recv()) => match e {
                Ok(e) => e,
                Err(_) => Err(broadcast::error::RecvError::Lagged(0)),
            },
        };
        if let Err(broadcast::error::RecvError::Closed) = event {
            return;
        }
        if let Ok(ChainEvent::Revert { to }) = &event {
            // Epochs above the fork point were replaced; a state-kind subscription goes back
            // as far as the state went (its roots above the fork were dropped).
            let to = (*to).min(position(&ctx));
            if to < last {
                last = to;
                if matches!(kind, Kind::Logs(_)) && !send(&sink, &json!({"revertTo": u(to)})).await
                {
                    return;
                }
            }
        }
        let now = position(&ctx);
        if now < last {
            // Rewound (already announced to log subscribers): continue from there.
            last = now;
            continue;
        }
        for epoch in last + 1..=now {
            let hashes = ctx
                .store
                .epoch_blocks(epoch)
                .ok()
                .flatten()
                .unwrap_or_default();
            let out: Vec<Value> = match &kind {
                Kind::NewHeads => hashes
                    .iter()
                    .filter_map(|h| ctx.query.header(h).ok().flatten())
                    .filter_map(|header| {
                        let mut b = cfxlight_primitives::rpc::Block::from_header(
                            &header,
                            ctx.chain.network_id,
                        );
                        b.transactions =
                            cfxlight_primitives::rpc::BlockTransactions::Hashes(vec![]);
                        serde_json::to_value(&b).ok()
                    })
                    .collect(),
                Kind::Epochs { .. } => {
                    vec![json!({"epochNumber": u(epoch), "epochHashesOrdered": hashes})]
                }
                Kind::Logs(filter) => {
                    let mut f = filter.clone();
                    // A subscription follows new epochs: other ranges have no meaning.
                    for k in ["fromBlock", "toBlock", "blockHashes"] {
                        f.remove(k);
                    }
                    f.insert("fromEpoch".into(), json!(u(epoch)));
                    f.insert("toEpoch".into(), json!(u(epoch)));
                    match super::logs::get_logs(&ctx, Value::Object(f)).await {
                        Ok(logs) => logs
                            .into_inner()
                            .iter()
                            .filter_map(|l| serde_json::to_value(l).ok())
                            .collect(),
                        // Not fetchable now (no peer, throttled, not served): this epoch
                        // stays next, so its logs come late rather than never.
                        _ => break,
                    }
                }
            };
            for v in out {
                if !send(&sink, &v).await {
                    return;
                }
            }
            last = epoch;
        }
    }
}

#[derive(Debug, Clone)]
enum Kind {
    NewHeads,
    Epochs { state: bool },
    Logs(serde_json::Map<String, Value>),
}

fn kind_of(params: &jsonrpsee::types::Params<'_>) -> Result<Kind, ErrorObjectOwned> {
    let args = Args::of(params, 1, 2)?;
    let name: String = args.required(0, "a subscription kind")?;
    Ok(match name.as_str() {
        "newHeads" => Kind::NewHeads,
        "epochs" => match args.typed::<String>(1)?.as_deref() {
            None | Some("latest_mined") => Kind::Epochs { state: false },
            Some("latest_state") => Kind::Epochs { state: true },
            Some(other) => {
                return Err(invalid_params(format!(
                    "epochs subscription supports latest_mined and latest_state, not {other:?}"
                )))
            }
        },
        "logs" => match args.get(1) {
            None => Kind::Logs(Default::default()),
            Some(Value::Object(f)) => Kind::Logs(f.clone()),
            Some(_) => return Err(invalid_params("logs subscription takes a filter object")),
        },
        "newPendingTransactions" | "syncing" => {
            return Err(invalid_params("Unsupported subscription kind"))
        }
        other => {
            return Err(invalid_params(format!(
                "unknown variant `{other}`, expected one of `newHeads`, `epochs`, `logs`"
            )))
        }
    })
}

pub(super) fn register(m: &mut Module) -> Result<(), jsonrpsee::core::RegisterMethodError> {
    m.register_subscription(
        "cfx_subscribe",
        "cfx_subscription",
        "cfx_unsubscribe",
        |params, pending, ctx, _| async move {
            let checked = kind_of(&params).and_then(|k| match &k {
                // A bad filter is refused now, not skipped silently at every epoch.
                Kind::Logs(f) => super::logs::filter_parts(&ctx, f).map(|_| k),
                _ => Ok(k),
            });
            match checked {
                Ok(kind) => run(pending, (*ctx).clone(), kind).await,
                Err(e) => pending.reject(e).await,
            }
        },
    )?;
    Ok(())
}
