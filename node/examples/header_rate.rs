//! Headers verified per second by the node's header rules (`rules::HeaderVerifier`:
//! every standalone rule and the PoW, then the rules against the parent), with the test PoW
//! of dev chains and with Octopus, and the process's peak RSS once an Octopus cache of
//! today's mainnet stage is held (what a node verifying mainnet headers holds).
//!
//! `cargo run --release -p cfxlight-node --example header_rate -- [N] [OCTOPUS_HEIGHT]`
//! N: test-PoW headers in the synthetic devnet-shaped chain (default 20,000);
//! OCTOPUS_HEIGHT: the height whose stage cache is built for the RSS figure (default
//! 140,000,000, stage 267, about mainnet's tip in 2026).

#![allow(clippy::unwrap_used, missing_docs)] // a measuring tool stops at the first surprise

use std::{sync::Arc, time::Instant};

use cfxlight_chainspec::{ChainSpec, PowMode};
use cfxlight_node::{pow::PowVerifier, rules::HeaderVerifier};
use cfxlight_primitives::{header::BlockHeader, H256};

fn vm(field: &str) -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .map(|l| l[field.len()..].trim().to_string())
        })
        .unwrap_or_default()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map(|a| a.parse().unwrap()).unwrap_or(20_000);
    let height: u64 = args
        .next()
        .map(|a| a.parse().unwrap())
        .unwrap_or(140_000_000);

    // A devnet-shaped chain (difficulty 4, test PoW solved), built outside the timing.
    let devnet = Arc::new(ChainSpec::load("devnet").unwrap());
    let v = HeaderVerifier::new(devnet, PowVerifier::new(PowMode::Test, None));
    let genesis = {
        let mut s = rlp::RlpStream::new_list(14);
        s.append(&H256::zero())
            .append(&0u64)
            .append(&1_700_000_000u64);
        s.append(&cfxlight_primitives::H160::zero());
        for _ in 0..4 {
            s.append(&H256::zero());
        }
        s.append(&0u32)
            .append(&cfxlight_primitives::U256::zero())
            .append(&0u8);
        s.append(&cfxlight_primitives::U256::from(30_000_000u64));
        s.append_list::<H256, H256>(&[])
            .append(&cfxlight_primitives::U256::zero());
        BlockHeader::decode(&s.out()).unwrap()
    };
    let mut chain = vec![genesis];
    for i in 1..=n as u64 {
        let p = chain.last().unwrap();
        let mut h = p.clone();
        h.parent_hash = p.hash();
        h.height = i;
        h.timestamp = p.timestamp + 1;
        h.difficulty = 4.into();
        h.pos_reference = Some(H256::zero());
        h.base_price = Some(cfxlight_primitives::header::BasePrice {
            core: 1.into(),
            espace: 1.into(),
        });
        h.custom = vec![vec![4]];
        if i == 1 {
            h.gas_limit = p.gas_limit * 2;
        }
        for nonce in 0u64.. {
            h.nonce = nonce.into();
            if h.verify_test_pow().is_ok() {
                break;
            }
        }
        h.rehash();
        chain.push(h);
    }
    let now = 1_800_000_000;
    let t = Instant::now();
    for w in chain.windows(2) {
        v.check_alone(&w[1]).unwrap();
        v.check_with_parent(&w[1], &w[0], None, now).unwrap();
    }
    let s = t.elapsed().as_secs_f64();
    println!(
        "test PoW: {n} headers in {s:.3} s = {:.0} headers/s",
        n as f64 / s
    );

    // Octopus: the mined headers of the shared data file, under their own chain's rules.
    let rows: Vec<serde_json::Value> = serde_json::from_str(include_str!(
        "../../primitives/tests/data/mainnet-testnet-headers.json"
    ))
    .unwrap();
    let pow = PowVerifier::new(PowMode::Octopus, None);
    let mut cases = vec![];
    for r in rows
        .iter()
        .filter(|r| !r["pow_hash"].is_null() && r["height"] != 0)
    {
        let spec = Arc::new(ChainSpec::load(r["network"].as_str().unwrap()).unwrap());
        let raw = hex::decode(r["header_rlp"].as_str().unwrap().trim_start_matches("0x")).unwrap();
        cases.push((
            HeaderVerifier::new(spec, pow.clone()),
            BlockHeader::decode(&raw).unwrap(),
        ));
    }
    // Warm every stage once, then time verifications stage by stage (one cache held).
    cases.sort_by_key(|(_, h)| h.height);
    let (mut count, mut secs) = (0usize, 0.0f64);
    for (v, h) in &cases {
        v.check_alone(h).unwrap();
        let t = Instant::now();
        for _ in 0..50 {
            v.check_alone(h).unwrap();
        }
        secs += t.elapsed().as_secs_f64();
        count += 50;
    }
    println!(
        "Octopus: {count} header checks in {secs:.3} s = {:.0} headers/s",
        count as f64 / secs
    );
    let t = Instant::now();
    pow.warm(height).unwrap();
    println!(
        "Octopus cache for height {height} (stage {}): built in {:.2} s; VmHWM {}, VmRSS {}",
        cfxlight_primitives::octopus::stage(height),
        t.elapsed().as_secs_f64(),
        vm("VmHWM:"),
        vm("VmRSS:")
    );
}
