//! How much memory and time Octopus light verification costs: builds each stage's cache
//! the test vectors need, keeps the current and the previous one (what a node keeps),
//! verifies the real headers in a loop and prints cache build time and bytes, headers/s
//! and the process's peak RSS (VmHWM).
//!
//! `cargo run --release -p cfxlight-primitives --example octopus_rss -- [ROUNDS] [STAGE…]`
//! ROUNDS: how many times each stage's headers are verified (default 50). STAGEs: extra
//! stages whose cache is only built and timed (e.g. `266 267`, today's mainnet), again
//! keeping the previous one, so the last VmHWM is what two such caches cost.

#![allow(clippy::unwrap_used, missing_docs)] // a measuring tool stops at the first surprise

use std::collections::BTreeMap;
use std::time::Instant;

use cfxlight_primitives::{
    header::BlockHeader,
    octopus::{self, OctopusCache},
    U256,
};

const DATA: &str = include_str!("../tests/data/mainnet-testnet-headers.json");

fn status(field: &str) -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .map(|l| l[field.len()..].trim().to_owned())
        })
        .unwrap_or_else(|| "?".into())
}

fn main() {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().map(|a| a.parse().unwrap()).unwrap_or(50);
    let extra: Vec<u64> = args.map(|a| a.parse().unwrap()).collect();

    let rows: Vec<serde_json::Value> = serde_json::from_str(DATA).unwrap();
    let mut by_stage: BTreeMap<u64, Vec<(BlockHeader, U256)>> = BTreeMap::new();
    for row in rows.iter().filter(|r| !r["pow_hash"].is_null()) {
        let rlp = hex::decode(row["header_rlp"].as_str().unwrap().trim_start_matches("0x"));
        let header = BlockHeader::decode(&rlp.unwrap()).unwrap();
        let quality: U256 = row["pow_quality"].as_str().unwrap().parse().unwrap();
        by_stage
            .entry(octopus::stage(header.height))
            .or_default()
            .push((header, quality));
    }

    println!("start: VmHWM {}", status("VmHWM:"));
    let (mut total_headers, mut total_secs) = (0usize, 0f64);
    let mut previous: Option<OctopusCache> = None;
    for (stage, headers) in &by_stage {
        let t = Instant::now();
        let cache = OctopusCache::build(*stage).unwrap();
        let build = t.elapsed();
        let t = Instant::now();
        for _ in 0..rounds {
            for (header, quality) in headers {
                assert_eq!(octopus::verify(&cache, header).as_ref(), Ok(quality));
            }
        }
        let secs = t.elapsed().as_secs_f64();
        let n = rounds * headers.len();
        (total_headers, total_secs) = (total_headers + n, total_secs + secs);
        println!(
            "stage {stage:>3}: cache {:>10} B built in {:>6.3} s; {n:>5} verifies ({} headers) \
             {:>7.1} headers/s, {:.3} ms each; VmHWM {}",
            cache.as_bytes().len(),
            build.as_secs_f64(),
            headers.len(),
            n as f64 / secs,
            secs * 1e3 / n as f64,
            status("VmHWM:"),
        );
        // A node keeps the current stage and the previous one.
        previous = Some(cache);
    }
    println!(
        "all stages: {total_headers} verifies, {:.1} headers/s, {:.3} ms each",
        total_headers as f64 / total_secs,
        total_secs * 1e3 / total_headers as f64
    );
    drop(previous);
    let mut previous = None;
    for stage in extra {
        let t = Instant::now();
        let cache = OctopusCache::build(stage).unwrap();
        println!(
            "stage {stage:>3}: cache {:>10} B built in {:>6.3} s (build only); VmHWM {}",
            cache.as_bytes().len(),
            t.elapsed().as_secs_f64(),
            status("VmHWM:"),
        );
        previous = Some(cache);
    }
    drop(previous);
    println!("end: VmHWM {} VmRSS {}", status("VmHWM:"), status("VmRSS:"));
}
