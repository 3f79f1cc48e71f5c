//! Criterion benchmarks of the hot paths: what a light node does per header and per
//! transaction. Run `cargo bench -p cfxlight-primitives`; figures go in closing notes.

#![allow(clippy::unwrap_used, missing_docs)] // a test may stop at the first surprise

use cfxlight_primitives::{
    address::{self, CfxAddress},
    crypto,
    header::BlockHeader,
    octopus::{self, OctopusCache},
    transaction::{Action, SignedTransaction, Transaction, TxKind},
    H160, H256, U256,
};
use criterion::{black_box, criterion_group, criterion_main, Criterion};

fn tx() -> Transaction {
    Transaction {
        nonce: 7.into(),
        gas: 21000.into(),
        action: Action::Call(H160::repeat_byte(0x11)),
        value: U256::exp10(18),
        storage_limit: 0,
        epoch_height: 100,
        chain_id: 2029,
        data: vec![],
        kind: TxKind::Cip1559 {
            max_priority_fee_per_gas: 1.into(),
            max_fee_per_gas: 2.into(),
            access_list: vec![],
        },
    }
}

fn header_bytes() -> Vec<u8> {
    // Shaped like a devnet header: pos reference, base price, custom [0x04], one referee.
    let mut s = rlp::RlpStream::new_list(17);
    s.append(&H256::repeat_byte(1))
        .append(&5u64)
        .append(&1_700_000_000u64);
    s.append(&H160::repeat_byte(0x10));
    for b in 2..6u8 {
        s.append(&H256::repeat_byte(b));
    }
    s.append(&0u32)
        .append(&U256::from(4))
        .append(&0u8)
        .append(&U256::from(30_000_000));
    s.append_list(&[H256::repeat_byte(9)]);
    s.append(&U256::from(12345));
    s.begin_list(1).append(&H256::repeat_byte(7));
    s.begin_list(1).begin_list(2).append(&1u8).append(&1u8);
    s.append_raw(&[0x04], 1);
    s.out().to_vec()
}

fn benches(c: &mut Criterion) {
    let key = crypto::signing_key(&[0x42; 32]).unwrap();
    let signed = tx().sign(&key).unwrap();
    let raw = signed.encode();
    let hb = header_bytes();
    let a = H160::repeat_byte(0x1a);
    let b32 = address::encode(&a, 1029);

    c.bench_function("tx_decode_1559", |b| {
        b.iter(|| SignedTransaction::decode(black_box(&raw)).unwrap())
    });
    c.bench_function("tx_signing_hash", |b| {
        b.iter(|| black_box(&signed.tx).signing_hash())
    });
    c.bench_function("tx_sign_k256", |b| {
        b.iter(|| black_box(tx()).sign(&key).unwrap())
    });
    c.bench_function("tx_recover_sender", |b| {
        b.iter(|| black_box(&signed).recover_sender().unwrap())
    });
    c.bench_function("header_decode_and_hash", |b| {
        b.iter(|| BlockHeader::decode(black_box(&hb)).unwrap().hash())
    });
    let h = BlockHeader::decode(&hb).unwrap();
    c.bench_function("header_problem_hash_and_test_pow", |b| {
        b.iter(|| black_box(&h).verify_test_pow().is_ok())
    });
    c.bench_function("address_encode", |b| {
        b.iter(|| address::encode(black_box(&a), 1029))
    });
    c.bench_function("address_decode", |b| {
        b.iter(|| black_box(b32.as_str()).parse::<CfxAddress>().unwrap())
    });
}

/// A real testnet header at height 70,587,154 (stage 134) and its powQuality.
fn octopus_header() -> (BlockHeader, U256) {
    let rows: Vec<serde_json::Value> =
        serde_json::from_str(include_str!("../tests/data/mainnet-testnet-headers.json")).unwrap();
    let row = rows
        .iter()
        .find(|r| r["height"].as_u64() == Some(70_587_154))
        .unwrap();
    let rlp = hex::decode(row["header_rlp"].as_str().unwrap().trim_start_matches("0x")).unwrap();
    let quality = row["pow_quality"].as_str().unwrap().parse().unwrap();
    (BlockHeader::decode(&rlp).unwrap(), quality)
}

fn octopus_benches(c: &mut Criterion) {
    // A build is ~0.5-1 s: ten samples are plenty.
    let mut builds = c.benchmark_group("octopus_cache_build");
    builds.sample_size(10);
    for stage in [0, 134] {
        builds.bench_function(format!("stage_{stage}"), |b| {
            b.iter(|| OctopusCache::build(black_box(stage)).unwrap())
        });
    }
    builds.finish();

    let (header, quality) = octopus_header();
    let cache = OctopusCache::build(octopus::stage(header.height)).unwrap();
    assert_eq!(octopus::verify(&cache, &header), Ok(quality));
    c.bench_function("octopus_verify_header", |b| {
        b.iter(|| octopus::verify(&cache, black_box(&header)).unwrap())
    });
}

criterion_group!(primitives, benches, octopus_benches);
criterion_main!(primitives);
