//! Octopus against real chains: 4 mainnet and 15 testnet headers whose `powQuality` a
//! conflux-rust v3.0.2 node reported (data/mainnet-testnet-headers.json; sources in
//! docs/mainnet.md §11), plus mutations each of which must be refused.

#![allow(clippy::unwrap_used, missing_docs)] // a test may stop at the first surprise

use std::collections::HashMap;
use std::sync::OnceLock;

use cfxlight_primitives::{
    header::BlockHeader,
    keccak256,
    octopus::{self, OctopusCache, OctopusError},
    H256, U256,
};
use serde_json::Value;

const DATA: &str = include_str!("data/mainnet-testnet-headers.json");

struct Row {
    network: String,
    height: u64,
    hash: H256,
    rlp: Vec<u8>,
    problem_hash: Option<H256>,
    nonce: Option<U256>,
    difficulty: Option<U256>,
    pow_quality: Option<U256>,
    pow_hash: Option<H256>,
}

fn field<T: std::str::FromStr>(v: &Value, name: &str) -> Option<T>
where
    T::Err: std::fmt::Debug,
{
    let text = v.get(name)?.as_str()?;
    Some(
        text.parse()
            .unwrap_or_else(|e| panic!("{name} = {text}: {e:?}")),
    )
}

fn rows() -> &'static [Row] {
    static ROWS: OnceLock<Vec<Row>> = OnceLock::new();
    ROWS.get_or_init(|| {
        let all: Vec<Value> = serde_json::from_str(DATA).unwrap();
        all.iter()
            .map(|v| {
                let rlp = v["header_rlp"].as_str().unwrap();
                Row {
                    network: v["network"].as_str().unwrap().to_owned(),
                    height: v["height"].as_u64().unwrap(),
                    hash: field(v, "hash").unwrap(),
                    rlp: hex::decode(rlp.trim_start_matches("0x")).unwrap(),
                    problem_hash: field(v, "problem_hash"),
                    nonce: field(v, "nonce"),
                    difficulty: field(v, "difficulty"),
                    pow_quality: field(v, "pow_quality"),
                    pow_hash: field(v, "pow_hash"),
                }
            })
            .collect()
    })
}

fn pow_rows() -> impl Iterator<Item = &'static Row> {
    rows().iter().filter(|r| r.pow_hash.is_some())
}

/// Each stage's cache, built once per test binary (a build is ~1 s even optimised) and
/// shared by the tests that run in parallel; different stages build concurrently.
fn cache(stage: u64) -> &'static OctopusCache {
    static CACHES: OnceLock<HashMap<u64, OnceLock<OctopusCache>>> = OnceLock::new();
    let caches = CACHES.get_or_init(|| {
        rows()
            .iter()
            .map(|r| octopus::stage(r.height))
            .chain([1])
            .map(|s| (s, OnceLock::new()))
            .collect()
    });
    caches
        .get(&stage)
        .unwrap_or_else(|| panic!("stage {stage} is not among the test's stages"))
        .get_or_init(|| OctopusCache::build(stage).unwrap())
}

fn header(row: &Row) -> BlockHeader {
    BlockHeader::decode(&row.rlp).unwrap()
}

#[test]
fn every_header_hashes_decodes_and_round_trips() {
    assert_eq!(rows().len(), 21);
    for row in rows() {
        let name = format!("{} {}", row.network, row.height);
        assert_eq!(keccak256(&row.rlp), row.hash, "{name}: keccak(rlp)");
        let h = header(row);
        assert_eq!(h.hash(), row.hash, "{name}: decoded hash");
        assert_eq!(h.rlp(), row.rlp, "{name}: re-encoding");
        assert_eq!(h.height, row.height, "{name}: height");
        if let Some(problem_hash) = row.problem_hash {
            assert_eq!(h.problem_hash(), problem_hash, "{name}: problem hash");
        }
        if let Some(nonce) = row.nonce {
            assert_eq!(h.nonce, nonce, "{name}: nonce");
        }
        if let Some(difficulty) = row.difficulty {
            assert_eq!(h.difficulty, difficulty, "{name}: difficulty");
        }
    }
    // Only mainnet genesis lacks a problem hash in the data.
    assert_eq!(
        rows().iter().filter(|r| r.problem_hash.is_none()).count(),
        1
    );
}

#[test]
fn every_pow_header_reproduces_the_nodes_pow_hash_and_quality() {
    let mut per_network = HashMap::<&str, usize>::new();
    for row in pow_rows() {
        let name = format!("{} {}", row.network, row.height);
        let h = header(row);
        let cache = cache(octopus::stage(h.height));
        let pow_hash = cache
            .compute(&h.problem_hash(), &h.nonce, h.height)
            .unwrap();
        assert_eq!(Some(pow_hash), row.pow_hash, "{name}: pow hash");
        let quality = octopus::verify(cache, &h).unwrap();
        assert_eq!(Some(quality), row.pow_quality, "{name}: powQuality");
        assert!(quality >= h.difficulty, "{name}: quality below difficulty");
        // Every real nonce fits 64 bits, so the lower bound is 0 here.
        assert!(h.nonce.bits() <= 64, "{name}");
        *per_network.entry(row.network.as_str()).or_default() += 1;
    }
    assert_eq!(per_network.get("mainnet"), Some(&4));
    assert_eq!(per_network.get("testnet"), Some(&15));
}

#[test]
fn a_nonce_one_higher_is_refused() {
    for row in pow_rows() {
        let mut h = header(row);
        h.nonce += U256::one();
        let cache = cache(octopus::stage(h.height));
        match octopus::verify(cache, &h) {
            Err(OctopusError::InsufficientWork {
                pow_hash,
                difficulty,
            }) => {
                assert_ne!(Some(pow_hash), row.pow_hash);
                assert_eq!(difficulty, h.difficulty);
            }
            other => panic!("{} {}: {other:?}", row.network, row.height),
        }
    }
}

#[test]
fn a_changed_timestamp_is_refused() {
    for row in pow_rows() {
        let mut h = header(row);
        h.timestamp += 1;
        h.rehash();
        assert_ne!(h.hash(), row.hash);
        assert_ne!(Some(h.problem_hash()), row.problem_hash);
        let result = octopus::verify(cache(octopus::stage(h.height)), &h);
        assert!(
            matches!(result, Err(OctopusError::InsufficientWork { .. })),
            "{} {}: {result:?}",
            row.network,
            row.height
        );
    }
}

#[test]
fn the_quality_is_the_highest_difficulty_the_pow_hash_meets() {
    for row in pow_rows() {
        let (pow_hash, nonce) = (row.pow_hash.unwrap(), row.nonce.unwrap());
        let quality = row.pow_quality.unwrap();
        assert_eq!(
            octopus::check_pow_hash(&pow_hash, &nonce, &quality),
            Ok(quality)
        );
        assert_eq!(
            octopus::check_pow_hash(&pow_hash, &nonce, &(quality + 1)),
            Err(OctopusError::InsufficientWork {
                pow_hash,
                difficulty: quality + 1
            })
        );
    }
}

#[test]
fn a_header_whose_difficulty_is_raised_above_its_quality_is_refused() {
    // The difficulty is part of the problem hash, so the pow hash changes too; both the
    // header check and the bare boundary check (above) must refuse.
    for row in pow_rows() {
        let mut h = header(row);
        h.difficulty = row.pow_quality.unwrap() + 1;
        let result = octopus::verify(cache(octopus::stage(h.height)), &h);
        assert!(
            matches!(result, Err(OctopusError::InsufficientWork { .. })),
            "{} {}: {result:?}",
            row.network,
            row.height
        );
    }
}

#[test]
fn a_cache_of_another_stage_is_refused() {
    for row in pow_rows() {
        let h = header(row);
        let right = octopus::stage(h.height);
        let wrong = if right == 0 { 1 } else { 0 };
        assert_eq!(
            octopus::verify(cache(wrong), &h),
            Err(OctopusError::WrongStage {
                cache_stage: wrong,
                height: h.height,
                height_stage: right,
            })
        );
    }
}

#[test]
fn difficulty_zero_is_refused() {
    // Testnet genesis carries difficulty 0 (its pow_hash is null in the data).
    let genesis = rows()
        .iter()
        .find(|r| r.network == "testnet" && r.height == 0)
        .unwrap();
    let h = header(genesis);
    assert!(h.difficulty.is_zero());
    assert_eq!(
        octopus::verify(cache(0), &h),
        Err(OctopusError::ZeroDifficulty)
    );
    // Even a pow hash of zero does not pass at difficulty 0.
    assert_eq!(
        octopus::check_pow_hash(&H256::zero(), &U256::zero(), &U256::zero()),
        Err(OctopusError::ZeroDifficulty)
    );
}

#[test]
fn a_cache_survives_its_byte_form() {
    let row = pow_rows().find(|r| octopus::stage(r.height) == 0).unwrap();
    let built = cache(0);
    assert_eq!(built.as_bytes().len(), octopus::cache_size(0).unwrap());
    let copy = OctopusCache::from_bytes(0, built.as_bytes()).unwrap();
    assert_eq!(copy.stage(), 0);
    assert_eq!(
        octopus::verify(&copy, &header(row)),
        Ok(row.pow_quality.unwrap())
    );
    // A bit flipped in every node gives another (wrong) pow hash: from_bytes trusts its
    // input, so whoever stores a cache must check it.
    let mut bytes = built.as_bytes().to_vec();
    for byte in bytes.iter_mut().step_by(64) {
        *byte ^= 1;
    }
    let flipped = OctopusCache::from_bytes(0, &bytes).unwrap();
    let h = header(row);
    assert_ne!(
        flipped.compute(&h.problem_hash(), &h.nonce, h.height),
        Ok(row.pow_hash.unwrap())
    );
    drop(bytes);
    let short = &built.as_bytes()[..built.as_bytes().len() - 64];
    assert_eq!(
        OctopusCache::from_bytes(0, short).err(),
        Some(OctopusError::CacheLength {
            stage: 0,
            expected: 16_776_896,
            found: 16_776_832
        })
    );
    // Stage 0's bytes are too short for stage 1.
    assert!(matches!(
        OctopusCache::from_bytes(1, built.as_bytes()),
        Err(OctopusError::CacheLength { stage: 1, .. })
    ));
}

#[test]
fn conflux_rusts_own_octopus_input_gives_the_documented_hash() {
    // conflux-rust `lib.rs` `test_octopus` computes this without asserting; the expected
    // value is an independent port's (docs/mainnet.md §1.6), so this is agreement between
    // two ports, not with conflux-rust.
    let problem: H256 = "4d99d0b41c7eb0dd1a801c35aae2df28ae6b53bc7743f0818a34b6ec97f5b4ae"
        .parse()
        .unwrap();
    let nonce = U256::from(0x23_3333_3333u64 & !0x1f);
    assert_eq!(nonce, U256::from(0x23_3333_3320u64));
    let expected: H256 = "d45c965d3707e27a42995132637854234385cbf5626897259f1ee980554ddd5c"
        .parse()
        .unwrap();
    assert_eq!(cache(0).compute(&problem, &nonce, 2), Ok(expected));
}

#[test]
fn seeds_and_sizes_match_the_documented_figures() {
    assert_eq!(octopus::seed(0).unwrap(), H256::zero());
    assert_eq!(octopus::seed(1).unwrap(), keccak256([0u8; 32]));
    assert_eq!(
        octopus::seed(15).unwrap(),
        "3db89d407a5318223df61aeabb86646833530dcccfb8fecb21b4e19d6494d7a0"
            .parse()
            .unwrap()
    );
    assert_eq!(
        octopus::seed(30).unwrap(),
        "1842cb89c0dfad7efb5ce2bf93f418e369214e9e1773a1bfe7c9c72ceee682bb"
            .parse()
            .unwrap()
    );
    // docs/mainnet.md §1.6 and §1.7: (stage, cache bytes, dataset bytes or 0 if not given).
    for (stage, cache_bytes, dataset_bytes) in [
        (0, 16_776_896, 4_294_966_528u64),
        (15, 17_759_936, 0),
        (30, 18_742_336, 4_798_279_936),
        (134, 25_558_592, 0),
        (194, 29_490_752, 7_549_745_408),
        (247, 32_962_624, 8_438_927_104),
        (267, 34_275_008, 8_774_477_056),
    ] {
        assert_eq!(octopus::cache_size(stage), Ok(cache_bytes), "stage {stage}");
        if dataset_bytes != 0 {
            assert_eq!(
                octopus::dataset_pages(stage).map(|p| p * 256),
                Ok(dataset_bytes),
                "stage {stage}"
            );
        }
    }
    assert_eq!(octopus::stage(16_240_412), 30);
    assert_eq!(octopus::stage(70_587_154), 134);
    assert_eq!(octopus::stage(524_287), 0);
    assert_eq!(octopus::stage(524_288), 1);
}

#[test]
fn extreme_inputs_compute_without_panicking() {
    let cache = cache(0);
    for problem in [H256::zero(), H256::repeat_byte(0xff)] {
        for nonce in [U256::zero(), U256::from(u64::MAX), U256::MAX] {
            let a = cache.compute(&problem, &nonce, 524_287).unwrap();
            // Only the low 64 bits of the nonce take part in the hash.
            let low = U256::from(nonce.low_u64());
            assert_eq!(cache.compute(&problem, &low, 0), Ok(a));
        }
    }
    assert!(matches!(
        cache.compute(&H256::zero(), &U256::zero(), u64::MAX),
        Err(OctopusError::WrongStage { .. })
    ));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig {
        cases: 200,
        failure_persistence: None,
        ..Default::default()
    })]

    #[test]
    fn any_problem_and_nonce_give_a_hash_or_a_typed_error(
        problem in proptest::prelude::any::<[u8; 32]>(),
        nonce in proptest::prelude::any::<[u8; 32]>(),
        height in 0u64..(2 * octopus::STAGE_LENGTH),
    ) {
        let nonce = U256::from_big_endian(&nonce);
        match cache(0).compute(&H256(problem), &nonce, height) {
            Ok(_) => proptest::prop_assert!(height < octopus::STAGE_LENGTH),
            Err(e) => proptest::prop_assert_eq!(e, OctopusError::WrongStage {
                cache_stage: 0,
                height,
                height_stage: 1,
            }),
        }
    }
}
