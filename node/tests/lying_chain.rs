//! Fault injection against header sync: a lying provider (`common::liar`, named as such) in
//! front of the real devnet node fabricates what a hostile peer could: a higher claimed tip
//! backed by headers that break one rule each, epochs with a block added, hidden or
//! reordered, forks that ask for a rewind (too deep, lighter, or simply heavier), and a tip
//! it claims and never delivers. Whatever it fabricates never reaches the store, the honest
//! peer keeps working, and — the control — a fully valid fabrication (test PoW is free on a
//! devnet) is what gets through, so each refusal is the rule under test and nothing else.
//!
//! Gated like `devnet.rs`: `CFXLIGHT_DEVNET=<dir>`, required under CI.

#![allow(clippy::unwrap_used, missing_docs)] // a test may stop at the first surprise

mod common;

use std::{
    net::IpAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use cfxlight_node::{
    light::peer::{ChainIdentity, LightPeer},
    rules::RuleError,
    store::Store,
    sync::{Progress, SyncError, Syncer},
    wire::NodeUrl,
};
use cfxlight_primitives::{header::BlockHeader, H256, U256};
use common::liar::{self, Overlay};
use k256::SecretKey;
use serde_json::{json, Value};

fn devnet() -> Option<(NodeUrl, ChainIdentity, Value)> {
    liar::devnet()
}

/// A connection to the real node from `local` (one session per source IP).
async fn honest(local: [u8; 4]) -> Arc<LightPeer> {
    let (real, chain, _) = devnet().unwrap();
    Arc::new(
        LightPeer::connect(
            &real,
            &SecretKey::random(&mut rand::rngs::OsRng),
            chain,
            Some(IpAddr::from(local)),
        )
        .await
        .unwrap(),
    )
}

struct Setup {
    store: Arc<Store>,
    syncer: Syncer,
    honest: Arc<LightPeer>,
    chain: ChainIdentity,
    _dir: tempfile::TempDir,
}

/// A store synced from the honest peer to its tip.
async fn synced(local: [u8; 4]) -> Setup {
    let (_, chain, _) = devnet().unwrap();
    let honest = honest(local).await;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path(), chain.genesis_hash, chain.chain_id).unwrap());
    let syncer = common::devnet_syncer(store.clone(), chain.genesis_hash, chain.chain_id);
    syncer.init(&honest).await.unwrap();
    while !matches!(syncer.round(&honest).await.unwrap(), Progress::AtTip) {}
    Setup {
        store,
        syncer,
        honest,
        chain,
        _dir: dir,
    }
}

impl Setup {
    fn best(&self) -> u64 {
        self.store.best_epoch().unwrap().unwrap()
    }

    fn pivot_header(&self, epoch: u64) -> BlockHeader {
        let h = self.store.pivot(epoch).unwrap().unwrap();
        BlockHeader::decode(&self.store.header(&h).unwrap().unwrap()).unwrap()
    }

    /// One round against a liar serving `overlay`.
    async fn lie(&self, overlay: Overlay) -> Result<Progress, SyncError> {
        let url = liar::spawn(
            self.honest.clone(),
            self.chain,
            Arc::new(Mutex::new(overlay)),
        )
        .await;
        let peer = LightPeer::connect(
            &url,
            &SecretKey::random(&mut rand::rngs::OsRng),
            self.chain,
            None,
        )
        .await
        .unwrap();
        self.syncer.round(&peer).await
    }

    /// Nothing of `fabricated` is in the store, and the honest peer still syncs.
    async fn assert_untouched(&self, fabricated: &[BlockHeader], best_before: u64) {
        for h in fabricated {
            assert!(
                self.store.header(&h.hash()).unwrap().is_none(),
                "fabricated header at {} stored",
                h.height
            );
            assert!(self.store.block_epoch(&h.hash()).unwrap().is_none());
        }
        assert!(self.best() >= best_before);
        // The honest peer is not blamed for anything: its next round just works.
        self.syncer.round(&self.honest).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fabricated_tips_breaking_any_header_rule_are_refused() {
    if devnet().is_none() {
        return;
    }
    let s = synced([127, 71, 0, 1]).await;
    type Tweak = fn(&mut BlockHeader);
    type Expect = fn(&RuleError) -> bool;
    let cases: Vec<(&str, Tweak, Expect)> = vec![
        // Refused by the difficulty rule before its PoW is even looked at.
        (
            "difficulty 0",
            |h| h.difficulty = U256::zero(),
            |r| matches!(r, RuleError::Difficulty { .. }),
        ),
        (
            "difficulty below the rule",
            |h| h.difficulty = 3.into(),
            |r| matches!(r, RuleError::Difficulty { .. }),
        ),
        (
            "difficulty above the rule",
            |h| h.difficulty = 5.into(),
            |r| matches!(r, RuleError::Difficulty { .. }),
        ),
        (
            "timestamp before the parent's",
            |h| h.timestamp -= 2,
            |r| matches!(r, RuleError::Timestamp { .. }),
        ),
        (
            "timestamp an hour ahead",
            |h| h.timestamp += 3600,
            |r| matches!(r, RuleError::Timestamp { .. }),
        ),
        (
            "gas limit out of band",
            |h| h.gas_limit *= 2,
            |r| matches!(r, RuleError::GasLimit { .. }),
        ),
        (
            "wrong custom prefix",
            |h| h.custom = vec![vec![2]],
            |r| matches!(r, RuleError::CustomPrefix { .. }),
        ),
        (
            "no pos_reference",
            |h| h.pos_reference = None,
            |r| matches!(r, RuleError::PosReference(..)),
        ),
        (
            "duplicate referee",
            |h| h.referee_hashes = vec![h.parent_hash],
            |r| matches!(r, RuleError::DuplicateReferee(_)),
        ),
    ];
    for (what, tweak, expected) in cases {
        let best = s.best();
        let tip = s.pivot_header(best);
        // Five fabricated epochs on our tip; the third breaks the rule.
        let fake = liar::fabricate(&tip, 5, |i, h| {
            if i == 2 {
                tweak(h)
            }
        });
        let r = s
            .lie(Overlay::default().with_chain(&fake).claiming(best + 5))
            .await;
        match &r {
            Err(SyncError::Rule { rule, height, .. }) => {
                assert!(expected(rule), "{what}: wrong rule {rule:?}");
                assert_eq!(*height, best + 3, "{what}");
            }
            other => panic!("{what}: not refused: {other:?}"),
        }
        assert!(
            r.unwrap_err().is_misbehaviour(),
            "{what}: the liar is penalised"
        );
        s.assert_untouched(&fake, best).await;
    }
    // A nonce that does not solve the PoW.
    let best = s.best();
    let tip = s.pivot_header(best);
    let mut fake = liar::fabricate(&tip, 1, |_, _| {});
    fake[0] = liar::unsolve(fake[0].clone());
    let r = s
        .lie(Overlay::default().with_chain(&fake).claiming(best + 1))
        .await;
    assert!(
        matches!(&r, Err(SyncError::Rule { rule, .. }) if matches!(**rule, RuleError::Pow(_))),
        "{r:?}"
    );
    s.assert_untouched(&fake, best).await;

    // The control: the same fabrication without the broken rule is accepted (test PoW is
    // free on a devnet), so each refusal above was that rule.
    let best = s.best();
    let fake = liar::fabricate(&s.pivot_header(best), 5, |_, _| {});
    let r = s
        .lie(Overlay::default().with_chain(&fake).claiming(best + 5))
        .await;
    assert_eq!(r.unwrap(), Progress::Advanced(best + 5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_added_hidden_or_reordered_in_an_epoch_is_caught_at_sync() {
    if devnet().is_none() {
        return;
    }
    let s = synced([127, 72, 0, 1]).await;
    let best = s.best();
    let p0 = s.pivot_header(best);
    let e1 = liar::child(&p0, |_| {});
    // Two side blocks on e1, and a pivot at e2 that references both.
    let x = liar::child(&e1, |h| {
        h.author = cfxlight_primitives::H160::repeat_byte(1)
    });
    let y = liar::child(&e1, |h| {
        h.author = cfxlight_primitives::H160::repeat_byte(2)
    });
    let (lo, hi) = if x.hash() < y.hash() {
        (x.clone(), y.clone())
    } else {
        (y.clone(), x.clone())
    };
    let pivot = liar::child(&e1, |h| h.referee_hashes = vec![x.hash(), y.hash()]);
    let lone = liar::child(&e1, |_| {});
    let all = [
        e1.clone(),
        x.clone(),
        y.clone(),
        pivot.clone(),
        lone.clone(),
    ];
    let overlay = |e2: Vec<H256>| {
        let mut o = Overlay::default().with_headers(&all).claiming(best + 2);
        o.epochs.insert(best + 1, vec![e1.hash()]);
        o.epochs.insert(best + 2, e2);
        o
    };
    for (what, list, needle) in [
        ("hidden", vec![lo.hash(), pivot.hash()], "hides block"),
        ("added", vec![x.hash(), lone.hash()], "not reachable"),
        (
            "reordered",
            vec![hi.hash(), lo.hash(), pivot.hash()],
            "order",
        ),
    ] {
        match s.lie(overlay(list)).await {
            Err(SyncError::Invalid(why)) => assert!(why.contains(needle), "{what}: {why}"),
            other => panic!("{what}: not refused: {other:?}"),
        }
        s.assert_untouched(&all, best).await;
    }
    // The control: the right set in the right order goes through, block numbers follow.
    let r = s
        .lie(overlay(vec![lo.hash(), hi.hash(), pivot.hash()]))
        .await;
    assert_eq!(r.unwrap(), Progress::Advanced(best + 2));
    assert_eq!(
        s.store.epoch_blocks(best + 2).unwrap().unwrap(),
        vec![lo.hash(), hi.hash(), pivot.hash()]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forks_that_ask_for_a_rewind_are_followed_only_when_valid_heavier_and_shallow() {
    if devnet().is_none() {
        return;
    }
    // A fresh devnet (scripts/test) may not have the 120 epochs this needs yet.
    let probe = honest([127, 79, 0, 1]).await;
    for _ in 0..300 {
        if probe.status().best_epoch > 125 {
            break;
        }
        probe.ping().await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    drop(probe);
    let s = synced([127, 73, 0, 1]).await;
    let best = s.best();
    assert!(
        best > 120,
        "the devnet needs more than 120 epochs (has {best})"
    );
    let max_rewind = common::devnet_spec(s.chain.chain_id).trust.max_rewind;

    // Too deep: a valid, longer branch from 110 epochs back is refused, loudly.
    let f = best - 110;
    let deep = liar::fabricate(&s.pivot_header(f), 116, |_, _| {});
    let r = s
        .lie(Overlay::default().with_chain(&deep).claiming(f + 116))
        .await;
    assert!(
        matches!(r, Err(SyncError::TooDeep { max_rewind: m, .. }) if m == max_rewind),
        "{r:?}"
    );
    s.assert_untouched(&deep, best).await;

    // Invalid: a heavier branch from 5 back with one bad header is refused.
    let best = s.best();
    let f = best - 5;
    let bad = liar::fabricate(&s.pivot_header(f), 8, |i, h| {
        if i == 6 {
            h.difficulty = 9.into();
        }
    });
    let r = s
        .lie(Overlay::default().with_chain(&bad).claiming(f + 8))
        .await;
    assert!(matches!(r, Err(SyncError::Rule { .. })), "{r:?}");
    s.assert_untouched(&bad, best).await;
    assert_eq!(s.best(), s.store.best_epoch().unwrap().unwrap());

    // Heavier and valid (free to make on a devnet): the node switches, in one write that
    // removes the losing headers; then the honest chain, heavier again, takes it back.
    let best = s.best();
    let f = best - 3;
    let losing: Vec<H256> = (f + 1..=best)
        .map(|e| s.store.pivot(e).unwrap().unwrap())
        .collect();
    let heavy = liar::fabricate(&s.pivot_header(f), 6, |_, _| {});
    let r = s
        .lie(Overlay::default().with_chain(&heavy).claiming(f + 6))
        .await;
    assert_eq!(
        r.unwrap(),
        Progress::Switched {
            fork_point: f,
            to: f + 6
        }
    );
    for h in &losing {
        assert!(s.store.header(h).unwrap().is_none(), "losing header kept");
    }
    assert_eq!(s.store.pivot(f + 1).unwrap(), Some(heavy[0].hash()));
    // Roots carried by the losing branch were dropped with it: those above f − 5 now come
    // from the new branch's headers (the liar's roots: a heavier chain is what PoW trusts).
    assert_eq!(
        s.store.roots(f - 4).unwrap().map(|r| r.state_root),
        Some(H256::repeat_byte(0x5a))
    );
    // Wait until the real chain is heavier than the fake branch, then follow it back.
    let target = f + 8;
    for _ in 0..100 {
        s.honest.ping().await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        if s.honest.status().best_epoch > target {
            break;
        }
    }
    let back = s.syncer.round(&s.honest).await.unwrap();
    assert!(
        matches!(back, Progress::Switched { fork_point, .. } if fork_point == f),
        "{back:?}"
    );
    for h in &heavy {
        assert!(s.store.header(&h.hash()).unwrap().is_none());
    }

    // Lighter: once our epochs hold two blocks each (a valid branch the liar makes us take),
    // a longer branch of single blocks from the same fork point carries less work.
    let best = s.best();
    let tip = s.pivot_header(best);
    let mut two = vec![];
    let mut parent = tip.clone();
    let mut o = Overlay::default();
    for _ in 0..4 {
        let side = liar::child(&parent, |h| {
            h.author = cfxlight_primitives::H160::repeat_byte(7)
        });
        let piv = liar::child(&parent, |h| h.referee_hashes = vec![side.hash()]);
        o.epochs.insert(piv.height, vec![side.hash(), piv.hash()]);
        o = o.with_headers(&[side.clone(), piv.clone()]);
        two.push(piv.clone());
        parent = piv;
    }
    let r = s.lie(o.claiming(best + 4)).await;
    assert_eq!(r.unwrap(), Progress::Advanced(best + 4));
    let light = liar::fabricate(&tip, 5, |_, _| {});
    let r = s
        .lie(Overlay::default().with_chain(&light).claiming(best + 5))
        .await;
    assert!(
        matches!(r, Err(SyncError::Lighter { fork_point, .. }) if fork_point == best),
        "{r:?}"
    );
    assert!(
        !r.unwrap_err().is_misbehaviour(),
        "a lighter fork is not a lie"
    );
    for h in &light {
        assert!(s.store.header(&h.hash()).unwrap().is_none());
    }
    assert_eq!(s.store.pivot(best + 4).unwrap(), Some(two[3].hash()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tip_claimed_and_never_delivered_is_refused() {
    if devnet().is_none() {
        return;
    }
    let s = synced([127, 74, 0, 1]).await;
    let best = s.best();
    let mut o = Overlay::default().claiming(best + 1_000_000);
    o.empty_hashes = true;
    let r = s.lie(o).await;
    assert!(
        matches!(&r, Err(SyncError::Invalid(w)) if w.contains("no block hashes")),
        "{r:?}"
    );
    // Claims far ahead but serves only the real epochs it has: the walk from the claimed
    // range fails and nothing is stored beyond the real chain.
    let r = s.lie(Overlay::default().claiming(best + 1_000_000)).await;
    assert!(r.is_err(), "{r:?}");
    assert!(r.unwrap_err().is_misbehaviour());
    s.assert_untouched(&[], best).await;
}

/// `cfxlight node` with the liar (claiming far ahead, on fabricated headers with bad PoW)
/// and, optionally, the honest node as bootnodes. Returns the node's RPC URL and log path.
/// How the node-level liar lies on top of the real tip header.
#[derive(Clone, Copy, Debug)]
enum NodeLie {
    /// 30 fabricated epochs whose PoW does not hold.
    BadPow,
    /// A valid fabricated epoch, then one whose pivot references a block no epoch lists.
    HiddenBlock,
    /// 30 fabricated epochs at a difficulty below the rule, PoW solved for it.
    LowDifficulty,
}

fn node_overlay(lie: NodeLie, tip: &BlockHeader) -> Overlay {
    let base = tip.height;
    match lie {
        NodeLie::BadPow => {
            let mut fake = liar::fabricate(tip, 30, |_, _| {});
            for h in fake.iter_mut() {
                *h = liar::unsolve(h.clone());
            }
            Overlay::default().with_chain(&fake).claiming(base + 30)
        }
        NodeLie::LowDifficulty => {
            let fake = liar::fabricate(tip, 30, |_, h| h.difficulty = 1.into());
            Overlay::default().with_chain(&fake).claiming(base + 30)
        }
        NodeLie::HiddenBlock => {
            let e1 = liar::child(tip, |_| {});
            let x = liar::child(&e1, |h| {
                h.author = cfxlight_primitives::H160::repeat_byte(3)
            });
            let pivot = liar::child(&e1, |h| h.referee_hashes = vec![x.hash()]);
            let mut o = Overlay::default()
                .with_headers(&[e1.clone(), x, pivot.clone()])
                .claiming(base + 2);
            o.epochs.insert(base + 1, vec![e1.hash()]);
            o.epochs.insert(base + 2, vec![pivot.hash()]);
            o
        }
    }
}

async fn run_node(
    with_honest: bool,
    ip: &str,
    dir: &std::path::Path,
) -> (common::Killed, String, std::path::PathBuf, NodeUrl) {
    let up = if with_honest {
        [127, 75, 0, 1]
    } else {
        [127, 76, 0, 1]
    };
    run_node_lying(NodeLie::BadPow, up, with_honest, ip, dir).await
}

async fn run_node_lying(
    lie: NodeLie,
    up: [u8; 4],
    with_honest: bool,
    ip: &str,
    dir: &std::path::Path,
) -> (common::Killed, String, std::path::PathBuf, NodeUrl) {
    let (real, chain, d) = devnet().unwrap();
    let upstream = honest(up).await;
    let base = upstream.status().best_epoch;
    let tip_header = {
        let hs = upstream.block_hashes_by_epoch(&[base]).await.unwrap();
        upstream
            .block_headers(&hs[hs.len() - 1..])
            .await
            .unwrap()
            .remove(0)
    };
    let overlay = Arc::new(Mutex::new(node_overlay(lie, &tip_header)));
    let url = liar::spawn(upstream, chain, overlay).await;
    let port = common::free_port();
    let log = dir.join("node.log");
    let mut c = common::node_command(&d, &dir.join("data"), ip);
    c.args(["--rpc-http-port", &port.to_string(), "--rpc-ws-port", "0"]);
    c.args(["--only-bootnodes", "--bootnode", &url.to_string()]);
    if with_honest {
        c.args(["--bootnode", &real.to_string()]);
    }
    let child = c
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    (
        common::Killed(child),
        format!("http://127.0.0.1:{port}"),
        log,
        url,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beside_an_honest_peer_the_node_serves_the_full_nodes_chain_and_never_blames_it() {
    let Some((real, _, d)) = devnet() else { return };
    for (i, lie) in [
        NodeLie::BadPow,
        NodeLie::LowDifficulty,
        NodeLie::HiddenBlock,
    ]
    .into_iter()
    .enumerate()
    {
        let up = [127, 75, 10 + i as u8, 1];
        beside_honest(lie, up, &format!("127.77.{i}.1"), &real, &d).await;
    }
}

async fn beside_honest(lie: NodeLie, up: [u8; 4], ip: &str, real: &NodeUrl, d: &Value) {
    let dir = tempfile::tempdir().unwrap();
    let (_node, ours, log, liar_url) = run_node_lying(lie, up, true, ip, dir.path()).await;
    let full = d["rpc_url"].as_str().unwrap().to_string();
    let epoch = |url: &str, tag: &str| {
        common::quantity(&common::raw_call(url, "cfx_epochNumber", json!([tag]))["result"])
    };
    // Synced: within two epochs of the full node.
    let mut ok = false;
    for _ in 0..150 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let (a, b) = tokio::task::block_in_place(|| {
            (
                common::raw_call(&ours, "cfx_epochNumber", json!(["latest_mined"])),
                epoch(&full, "latest_mined"),
            )
        });
        if a["result"].is_string() && common::quantity(&a["result"]) + 2 >= b {
            ok = true;
            break;
        }
    }
    assert!(ok, "the node did not sync beside the liar");
    tokio::task::block_in_place(|| {
        let mined = epoch(&ours, "latest_mined");
        assert!(mined <= epoch(&full, "latest_mined"));
        for e in 0..=mined {
            let tag = format!("{e:#x}");
            let a = common::raw_call(&ours, "cfx_getBlocksByEpoch", json!([tag]));
            let b = common::raw_call(&full, "cfx_getBlocksByEpoch", json!([tag]));
            assert_eq!(a["result"], b["result"], "blocks of epoch {e}");
        }
        let state = format!("{:#x}", epoch(&ours, "latest_state"));
        for k in d["genesis_keys"].as_array().unwrap() {
            let who = k["address"].as_str().unwrap();
            let a = common::raw_call(&ours, "cfx_getBalance", json!([who, state]));
            let b = common::raw_call(&full, "cfx_getBalance", json!([who, state]));
            assert_eq!(a["result"], b["result"], "balance of {who}");
        }
    });
    let text = std::fs::read_to_string(&log).unwrap();
    let real_addr = format!("{}:{}", real.host, real.port);
    let liar_addr = format!("{}:{}", liar_url.host, liar_url.port);
    assert!(
        !text
            .lines()
            .any(|l| l.contains("dropping peer") && l.contains(&real_addr)),
        "the honest peer was penalised:\n{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains("dropping peer") && l.contains(&liar_addr)),
        "the liar was not penalised:\n{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_only_the_liar_nothing_fabricated_is_ever_served() {
    let Some((_, _, d)) = devnet() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (_node, ours, log, _) = run_node(false, "127.78.0.1", dir.path()).await;
    let full = d["rpc_url"].as_str().unwrap().to_string();
    // Give it time to take the real epochs and meet the fabricated ones.
    let mut dropped = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if std::fs::read_to_string(&log)
            .unwrap()
            .contains("dropping peer")
        {
            dropped = true;
            break;
        }
    }
    assert!(dropped, "the liar was never refused");
    tokio::task::block_in_place(|| {
        let r = common::raw_call(&ours, "cfx_epochNumber", json!(["latest_mined"]));
        let mined = common::quantity(&r["result"]);
        // Every epoch it serves is the full node's.
        for e in 0..=mined {
            let tag = format!("{e:#x}");
            let a = common::raw_call(&ours, "cfx_getBlocksByEpoch", json!([tag]));
            let b = common::raw_call(&full, "cfx_getBlocksByEpoch", json!([tag]));
            assert_eq!(a["result"], b["result"], "blocks of epoch {e}");
        }
    });
}
