#![allow(clippy::unwrap_used, missing_docs)]
//! SIGN round-trip latency through real pcscd: a virtual card served in-process to vpcd,
//! [`BsimCard::sign_hash`] timed N times (each: PC/SC status check, transaction, SIGN
//! APDU, DER parse, low-S, trial recovery against the public key).
//!
//!     signer/bsim/scripts/pcscd-up.sh
//!     cargo run --release -p cfxlight-bsim --example card_sign_latency [-- N]

use std::{
    sync::atomic::{AtomicBool, Ordering},
    time::{Duration, Instant},
};

use cfxlight_bsim::{
    card::{CardState, VirtualCard},
    vpcd, BsimCard, BsimOptions,
};
use zeroize::Zeroizing;

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("card.json");
    let issuer = k256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng);
    CardState::new("89860000000000000017", "123456", 5, issuer)
        .unwrap()
        .save(&state)
        .unwrap();
    let stop = AtomicBool::new(false);
    let addr = vpcd::DEFAULT_VPCD_ADDR.parse().unwrap();
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut card = VirtualCard::open(&state).unwrap();
            vpcd::serve(&mut card, addr, None, &stop, &mut |e| {
                eprintln!("card: {e}")
            })
            .unwrap();
        });
        let opts = BsimOptions {
            reader: Some("Virtual PCD 00 00".into()),
            exclusive: false,
            coins: vec![],
        };
        let start = Instant::now();
        let mut card = loop {
            match BsimCard::connect(opts.clone()) {
                Ok(c) => break c,
                Err(e) if start.elapsed() > Duration::from_secs(10) => panic!("no card: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        };
        card.verify_pin(&Zeroizing::new("123456".into())).unwrap();
        let (idx, _) = card.generate_key().unwrap();
        let mut times = Vec::with_capacity(n);
        for i in 0..n + 20 {
            let hash = cfxlight_primitives::keccak256(i.to_be_bytes()).0;
            let t = Instant::now();
            card.sign_hash(idx, &hash).unwrap();
            if i >= 20 {
                times.push(t.elapsed());
            }
        }
        let mut vt = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            card.version().unwrap();
            vt.push(t.elapsed());
        }
        times.sort();
        vt.sort();
        println!(
            "SIGN via pcscd, {n} signatures: p50 {:?}  p99 {:?}  max {:?}",
            pct(&times, 0.5),
            pct(&times, 0.99),
            times[times.len() - 1]
        );
        println!(
            "GET VERSION via pcscd (round trip floor): p50 {:?}  p99 {:?}",
            pct(&vt, 0.5),
            pct(&vt, 0.99)
        );
        stop.store(true, Ordering::Relaxed);
        drop(card);
    });
}
