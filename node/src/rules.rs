//! Header validity: what every header must satisfy before it is stored, pivot or not.
//!
//! The checks are conflux-rust's header-only ones, with the numbers from the chain spec's
//! `[rules]` and `[forks]`:
//! - on the header alone (`verification.rs` `verify_header_params`): `pos_reference` and the
//!   base price present exactly from their fork heights; the first custom item is the
//!   scheduled prefix; at most 200 referees, none repeating the parent or each other
//!   (the count and custom-length bounds are enforced by the decoder); a non-zero
//!   difficulty, and PoW that meets it (test PoW or Octopus, [`crate::pow`]);
//! - against the parent (`synchronization_graph.rs` `verify_header_graph_ready_block`):
//!   height = parent + 1; timestamp ≥ the parent's and ≤ now + the allowed drift; gas limit
//!   within parent ± parent/1024 (doubled first at the CIP-1559 height), never below the
//!   minimum; difficulty equal to the initial one in the first period, equal to the parent's
//!   inside a period, and at a period boundary within the adjustment band (and floor) — or
//!   exactly the target when the caller holds the period's block counts
//!   ([`target_difficulty`]).
//!
//! The difficulty a header claims is never its own word: it is bounded by its parent's, which
//! was bounded the same way back to the trusted start.

use std::sync::Arc;

use cfxlight_chainspec::ChainSpec;
use cfxlight_primitives::{header::BlockHeader, H256, U256};
use thiserror::Error;

use crate::pow::{PowError, PowVerifier};

/// conflux-rust `ELASTICITY_MULTIPLIER`: the parent's gas limit is doubled at CIP-1559.
const ELASTICITY_MULTIPLIER: u64 = 2;
/// conflux-rust `DIFFICULTY_ADJUSTMENT_FACTOR`: a boundary moves by at most d/2.
const ADJUSTMENT_FACTOR: u64 = 2;

/// Why a header is invalid. Every variant is the sending peer's fault.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RuleError {
    /// The PoW is missing, wrong, or against difficulty 0.
    #[error("proof of work: {0}")]
    Pow(String),
    /// `pos_reference` present before its fork height, or missing after it.
    #[error("pos_reference {0} at height {1}")]
    PosReference(&'static str, u64),
    /// Base price present before CIP-1559, or missing after it.
    #[error("base price {0} at height {1}")]
    BasePrice(&'static str, u64),
    /// The first custom item is not the one scheduled for this height.
    #[error("custom prefix at height {height}: expected [{expected:#04x}], found {found}")]
    CustomPrefix {
        /// Height of the header.
        height: u64,
        /// The scheduled first byte.
        expected: u8,
        /// What the header carries, hex.
        found: String,
    },
    /// The parent or a referee is named twice.
    #[error("duplicate parent or referee {0:?}")]
    DuplicateReferee(H256),
    /// Height is not the parent's + 1.
    #[error("height {found}, parent is at {parent}")]
    Height {
        /// The header's height.
        found: u64,
        /// The parent's.
        parent: u64,
    },
    /// Timestamp before the parent's, or too far in the future.
    #[error("timestamp {found} outside [{min}, {max}]")]
    Timestamp {
        /// The header's timestamp.
        found: u64,
        /// The parent's timestamp.
        min: u64,
        /// Now + the allowed drift.
        max: u64,
    },
    /// Gas limit outside the band around the parent's.
    #[error("gas limit {found} outside [{min}, {max}]")]
    GasLimit {
        /// The header's gas limit.
        found: U256,
        /// Lowest allowed.
        min: U256,
        /// Highest allowed.
        max: U256,
    },
    /// Difficulty not what the rule allows after this parent.
    #[error("difficulty {found} outside [{min}, {max}]")]
    Difficulty {
        /// The header's difficulty.
        found: U256,
        /// Lowest allowed.
        min: U256,
        /// Highest allowed.
        max: U256,
    },
}

/// What the caller knows about the difficulty period that ends at a header's parent, for
/// the exact target: the blocks executed in the period's epochs and its time span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeriodStats {
    /// Blocks in the `period` pivot epochs ending at the parent (conflux-rust sums
    /// `num_blocks_in_epoch` over them).
    pub block_count: u64,
    /// Parent timestamp − timestamp of the pivot `period` epochs before it.
    pub timespan: u64,
}

/// Checks headers against one chain's rules; cheap to clone.
#[derive(Clone)]
pub struct HeaderVerifier {
    spec: Arc<ChainSpec>,
    pow: PowVerifier,
}

impl HeaderVerifier {
    /// A verifier for this chain, checking PoW with `pow`.
    pub fn new(spec: Arc<ChainSpec>, pow: PowVerifier) -> HeaderVerifier {
        HeaderVerifier { spec, pow }
    }

    /// The chain spec the rules come from.
    pub fn spec(&self) -> &ChainSpec {
        &self.spec
    }

    /// The PoW verifier (shared with anything else that checks PoW).
    pub fn pow(&self) -> &PowVerifier {
        &self.pow
    }

    /// Checks what the header alone must satisfy, PoW included; returns its PoW quality.
    pub fn check_alone(&self, h: &BlockHeader) -> Result<U256, RuleError> {
        let forks = &self.spec.forks;
        match (
            forks.pos_reference_enabled(h.height),
            h.pos_reference.is_some(),
        ) {
            (true, false) => return Err(RuleError::PosReference("missing", h.height)),
            (false, true) => return Err(RuleError::PosReference("unexpected", h.height)),
            _ => {}
        }
        match (forks.base_price_enabled(h.height), h.base_price.is_some()) {
            (true, false) => return Err(RuleError::BasePrice("missing", h.height)),
            (false, true) => return Err(RuleError::BasePrice("unexpected", h.height)),
            _ => {}
        }
        if let Some(expected) = self.spec.custom_prefix(h.height) {
            // The raw item of a one-byte value below 0x80 is that byte, both as raw RLP
            // (before CIP-112) and as an RLP byte string (after it).
            if h.custom.first().map(Vec::as_slice) != Some(&[expected][..]) {
                return Err(RuleError::CustomPrefix {
                    height: h.height,
                    expected,
                    found: h
                        .custom
                        .first()
                        .map_or("nothing".into(), |c| format!("0x{}", hex::encode(c))),
                });
            }
        }
        let mut seen = std::collections::HashSet::with_capacity(h.referee_hashes.len() + 1);
        seen.insert(h.parent_hash);
        for r in &h.referee_hashes {
            if !seen.insert(*r) {
                return Err(RuleError::DuplicateReferee(*r));
            }
        }
        self.pow
            .verify(h)
            .map_err(|e: PowError| RuleError::Pow(e.to_string()))
    }

    /// Checks the header against its parent at time `now` (Unix seconds). `period`: the
    /// block counts of the difficulty period ending at the parent, when the caller holds
    /// them and the parent closes a period, for the exact target instead of the band.
    pub fn check_with_parent(
        &self,
        h: &BlockHeader,
        parent: &BlockHeader,
        period: Option<PeriodStats>,
        now: u64,
    ) -> Result<(), RuleError> {
        if parent.height.checked_add(1) != Some(h.height) {
            return Err(RuleError::Height {
                found: h.height,
                parent: parent.height,
            });
        }
        let max_time = now.saturating_add(self.spec.rules.max_time_drift_s);
        if h.timestamp < parent.timestamp || h.timestamp > max_time {
            return Err(RuleError::Timestamp {
                found: h.timestamp,
                min: parent.timestamp,
                max: max_time,
            });
        }
        self.check_gas_limit(h, parent)?;
        let (min, max) = self.difficulty_bounds(parent, period);
        if h.difficulty < min || h.difficulty > max {
            return Err(RuleError::Difficulty {
                found: h.difficulty,
                min,
                max,
            });
        }
        Ok(())
    }

    fn check_gas_limit(&self, h: &BlockHeader, parent: &BlockHeader) -> Result<(), RuleError> {
        let rules = &self.spec.rules;
        let mut base = parent.gas_limit;
        if h.height == self.spec.forks.cip1559_height {
            base = base.saturating_mul(ELASTICITY_MULTIPLIER.into());
        }
        let step = base / U256::from(rules.gas_limit_divisor.max(1));
        // conflux-rust: (base − step + 1 ..= base + step − 1), floored at the minimum.
        let max = base.saturating_add(step).saturating_sub(U256::one());
        let min = base
            .saturating_sub(step)
            .saturating_add(U256::one())
            .max(U256::from(rules.min_gas_limit));
        if h.gas_limit < min || h.gas_limit > max {
            return Err(RuleError::GasLimit {
                found: h.gas_limit,
                min,
                max,
            });
        }
        Ok(())
    }

    /// The difficulty range a child of `parent` may carry.
    pub fn difficulty_bounds(
        &self,
        parent: &BlockHeader,
        period: Option<PeriodStats>,
    ) -> (U256, U256) {
        let rules = &self.spec.rules;
        let initial = U256::from(rules.initial_difficulty);
        let len = self.spec.difficulty_period(parent.height).max(1);
        if parent.height < len {
            return (initial, initial);
        }
        if !parent.height.is_multiple_of(len) {
            return (parent.difficulty, parent.difficulty);
        }
        if rules.fixed_difficulty {
            // Test mode: the target needs no block counts (it is the initial difficulty,
            // smoothed and clamped as in production).
            let t = self.target_difficulty(
                parent,
                PeriodStats {
                    block_count: 0,
                    timespan: 0,
                },
            );
            return (t, t);
        }
        match period {
            Some(p) => {
                let t = self.target_difficulty(parent, p);
                (t, t)
            }
            None => self.band(parent.difficulty),
        }
    }

    /// The adjustment band around `d`: d ± d/2, floored at the initial difficulty.
    fn band(&self, d: U256) -> (U256, U256) {
        let initial = U256::from(self.spec.rules.initial_difficulty);
        let adj = d / U256::from(ADJUSTMENT_FACTOR);
        let min = d.saturating_sub(adj).max(initial);
        let max = d.saturating_add(adj).max(min);
        (min, max)
    }

    fn clamp(&self, target: U256, parent_difficulty: U256) -> U256 {
        let (lo, hi) = self.band(parent_difficulty);
        target.clamp(lo, hi)
    }

    /// The exact difficulty after a period-closing `parent` (conflux-rust
    /// `target_difficulty_manager.rs`): `d × block_period × (blocks − 1) / (timespan × 10^6)`,
    /// smoothed to `d·4/5 + target/5` from CIP-86 on, clamped to the band.
    pub fn target_difficulty(&self, parent: &BlockHeader, p: PeriodStats) -> U256 {
        let rules = &self.spec.rules;
        let d = parent.difficulty;
        let expected = if p.timespan == 0 || p.block_count <= 1 || rules.fixed_difficulty {
            U256::from(rules.initial_difficulty)
        } else {
            let num = ethereum_types::U512::from(d)
                * ethereum_types::U512::from(rules.block_period_us)
                * ethereum_types::U512::from(p.block_count - 1);
            let den =
                ethereum_types::U512::from(p.timespan) * ethereum_types::U512::from(1_000_000u64);
            let t = num / den;
            if t.is_zero() {
                U256::one()
            } else {
                U256::try_from(t).unwrap_or(U256::MAX)
            }
        };
        let smoothed = if parent.height < self.spec.forks.hydra_height {
            expected
        } else {
            d / U256::from(5) * U256::from(4) + expected / U256::from(5)
        };
        self.clamp(smoothed, d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cfxlight_chainspec::PowMode;
    use cfxlight_primitives::{header::BasePrice, keccak256, H160};

    fn devnet() -> HeaderVerifier {
        let spec = ChainSpec::load("devnet").unwrap();
        HeaderVerifier::new(Arc::new(spec), PowVerifier::new(PowMode::Test, None))
    }

    fn mainnet_rules() -> HeaderVerifier {
        let spec = ChainSpec::load("mainnet").unwrap();
        HeaderVerifier::new(Arc::new(spec), PowVerifier::new(PowMode::Test, None))
    }

    /// A devnet-shaped header (as the real dev node mines them: difficulty 4, zero
    /// pos_reference, base price, custom [4]) with its test PoW solved.
    fn devnet_header(parent: &BlockHeader) -> BlockHeader {
        let mut h = parent.clone();
        h.parent_hash = parent.hash();
        h.height = parent.height + 1;
        h.timestamp = parent.timestamp + 1;
        h.pos_reference = Some(H256::zero());
        h.base_price = Some(BasePrice {
            core: 1.into(),
            espace: 1.into(),
        });
        h.custom = vec![vec![4]];
        h.difficulty = 4.into();
        if parent.height == 0 {
            h.gas_limit = parent.gas_limit * 2;
        }
        solve(h)
    }

    fn solve(mut h: BlockHeader) -> BlockHeader {
        for n in 0u64.. {
            h.nonce = n.into();
            if h.verify_test_pow().is_ok() {
                break;
            }
        }
        h.rehash();
        h
    }

    fn genesis() -> BlockHeader {
        let mut s = rlp::RlpStream::new_list(14);
        s.append(&keccak256([]))
            .append(&0u64)
            .append(&0u64)
            .append(&H160::repeat_byte(0x19));
        for _ in 0..4 {
            s.append(&keccak256(b"root"));
        }
        s.append(&0u32)
            .append(&U256::zero())
            .append(&0u8)
            .append(&U256::from(30_000_000u64))
            .append_list::<H256, H256>(&[])
            .append(&U256::zero());
        BlockHeader::decode(&s.out()).unwrap()
    }

    const NOW: u64 = 1_800_000_000;

    #[test]
    fn a_real_shaped_devnet_chain_passes_and_each_mutation_fails() {
        let v = devnet();
        let g = genesis();
        let mut g_later = g.clone();
        g_later.timestamp = 1_700_000_000;
        g_later.rehash();
        let h1 = devnet_header(&g_later);
        let h2 = devnet_header(&h1);
        for (h, p) in [(&h1, &g_later), (&h2, &h1)] {
            v.check_alone(h).unwrap();
            v.check_with_parent(h, p, None, NOW).unwrap();
        }
        let fail_alone = |f: &dyn Fn(&mut BlockHeader)| {
            let mut m = h2.clone();
            f(&mut m);
            let m = solve(m);
            v.check_alone(&m).err()
        };
        assert!(matches!(
            fail_alone(&|m| m.pos_reference = None),
            Some(RuleError::PosReference("missing", 2))
        ));
        assert!(matches!(
            fail_alone(&|m| m.base_price = None),
            Some(RuleError::BasePrice("missing", 2))
        ));
        assert!(matches!(
            fail_alone(&|m| m.custom = vec![vec![3]]),
            Some(RuleError::CustomPrefix { expected: 4, .. })
        ));
        assert!(matches!(
            fail_alone(&|m| m.custom = vec![]),
            Some(RuleError::CustomPrefix { .. })
        ));
        assert!(matches!(
            fail_alone(&|m| m.referee_hashes = vec![m.parent_hash]),
            Some(RuleError::DuplicateReferee(_))
        ));
        assert!(matches!(
            fail_alone(&|m| m.difficulty = U256::zero()),
            Some(RuleError::Pow(_))
        ));
        // A nonce that does not solve the problem (difficulty raised past what it meets).
        let mut bad = h2.clone();
        bad.difficulty = U256::from(1u64 << 40);
        bad.rehash();
        assert!(matches!(v.check_alone(&bad), Err(RuleError::Pow(_))));

        let fail_parent = |f: &dyn Fn(&mut BlockHeader)| {
            let mut m = h2.clone();
            f(&mut m);
            v.check_with_parent(&m, &h1, None, NOW).err()
        };
        assert!(matches!(
            fail_parent(&|m| m.height = 3),
            Some(RuleError::Height { .. })
        ));
        assert!(matches!(
            fail_parent(&|m| m.timestamp = h1.timestamp - 1),
            Some(RuleError::Timestamp { .. })
        ));
        assert!(matches!(
            fail_parent(&|m| m.timestamp = NOW + 601),
            Some(RuleError::Timestamp { .. })
        ));
        assert!(fail_parent(&|m| m.timestamp = NOW + 600).is_none());
        let g0 = h1.gas_limit;
        assert!(matches!(
            fail_parent(&|m| m.gas_limit = g0 + g0 / 1024),
            Some(RuleError::GasLimit { .. })
        ));
        assert!(fail_parent(&|m| m.gas_limit = g0 + g0 / 1024 - 1).is_none());
        assert!(matches!(
            fail_parent(&|m| m.gas_limit = g0 - g0 / 1024),
            Some(RuleError::GasLimit { .. })
        ));
        // Below the rule: the devnet's difficulty is fixed at 4 (test mode).
        for d in [0u64, 1, 3, 5] {
            assert!(
                matches!(
                    fail_parent(&|m| m.difficulty = d.into()),
                    Some(RuleError::Difficulty { .. })
                ),
                "difficulty {d}"
            );
        }
        // CIP-1559 doubling applies only at its height: block 1 may double genesis' limit.
        let mut no_double = h1.clone();
        no_double.gas_limit = g_later.gas_limit;
        assert!(matches!(
            v.check_with_parent(&no_double, &g_later, None, NOW),
            Err(RuleError::GasLimit { .. })
        ));
    }

    fn with(parent_height: u64, difficulty: u64) -> BlockHeader {
        let mut p = genesis();
        p.height = parent_height;
        p.difficulty = difficulty.into();
        p
    }

    #[test]
    fn mainnet_difficulty_is_initial_then_inherited_then_banded_at_boundaries() {
        let v = mainnet_rules();
        let init = U256::from(20_000_000_000u64);
        assert_eq!(v.difficulty_bounds(&with(4999, 7), None), (init, init));
        let d = 30_000_000_000u64;
        assert_eq!(
            v.difficulty_bounds(&with(5001, d), None),
            (d.into(), d.into())
        );
        // At a boundary (before CIP-86: period 5000) the band is d ± d/2, floored.
        assert_eq!(
            v.difficulty_bounds(&with(10_000, d), None),
            (init.max((d - d / 2).into()), (d + d / 2).into())
        );
        // Above CIP-86 (hydra 36,935,000) the period is 250.
        let h = 36_935_250;
        assert_eq!(
            v.difficulty_bounds(&with(h + 1, d), None),
            (d.into(), d.into())
        );
        let (lo, hi) = v.difficulty_bounds(&with(h, d), None);
        assert!(lo < U256::from(d) && hi > U256::from(d));
    }

    #[test]
    fn exact_target_follows_block_rate_smoothed_after_cip86() {
        let v = mainnet_rules();
        let d = 40_000_000_000u64;
        // Two blocks per second over 250 epochs: 501 blocks in 250 s keeps the difficulty.
        let p = with(36_935_250, d);
        let exact = v.target_difficulty(
            &p,
            PeriodStats {
                block_count: 501,
                timespan: 250,
            },
        );
        assert_eq!(exact, U256::from(d));
        // Twice the rate: expected 2d, smoothed 4/5·d + 2d/5 = 1.2 d.
        let faster = v.target_difficulty(
            &p,
            PeriodStats {
                block_count: 1001,
                timespan: 250,
            },
        );
        assert_eq!(faster, U256::from(d / 5 * 4 + 2 * d / 5));
        // Bounds with the stats are exactly that target.
        let stats = PeriodStats {
            block_count: 1001,
            timespan: 250,
        };
        assert_eq!(v.difficulty_bounds(&p, Some(stats)), (faster, faster));
        // Never below the initial difficulty, whatever the rate.
        let slow = v.target_difficulty(
            &with(36_935_250, 20_000_000_000),
            PeriodStats {
                block_count: 2,
                timespan: 10_000,
            },
        );
        assert_eq!(slow, U256::from(20_000_000_000u64));
    }

    #[test]
    fn real_mainnet_and_testnet_headers_pass_every_standalone_rule_with_octopus() {
        // The 19 mined headers of the shared data file (4 mainnet, 15 testnet): fork fields,
        // custom prefix and Octopus PoW all hold under the bundled specs; a changed nonce or
        // a spec that puts PoS earlier does not.
        let data: serde_json::Value = serde_json::from_str(include_str!(
            "../../primitives/tests/data/mainnet-testnet-headers.json"
        ))
        .unwrap();
        let pow = PowVerifier::new(PowMode::Octopus, None);
        let mut checked = 0;
        for row in data.as_array().unwrap() {
            if row["pow_hash"].is_null() || row["height"] == 0 {
                continue;
            }
            let net = row["network"].as_str().unwrap();
            let spec = ChainSpec::load(net).unwrap();
            let v = HeaderVerifier::new(Arc::new(spec.clone()), pow.clone());
            let raw =
                hex::decode(row["header_rlp"].as_str().unwrap().trim_start_matches("0x")).unwrap();
            let h = BlockHeader::decode(&raw).unwrap();
            let quality = v
                .check_alone(&h)
                .unwrap_or_else(|e| panic!("{net} {}: {e}", h.height));
            assert_eq!(
                quality,
                row["pow_quality"].as_str().unwrap().parse().unwrap()
            );
            let mut bad = h.clone();
            bad.nonce += U256::one();
            bad.rehash();
            assert!(
                matches!(v.check_alone(&bad), Err(RuleError::Pow(_))),
                "{net} {}",
                h.height
            );
            let mut moved = spec.clone();
            moved.forks.pos_reference_height = u64::MAX;
            let v2 = HeaderVerifier::new(Arc::new(moved), pow.clone());
            if h.pos_reference.is_some() {
                assert!(matches!(
                    v2.check_alone(&h),
                    Err(RuleError::PosReference("unexpected", _))
                ));
            }
            checked += 1;
        }
        assert_eq!(checked, 19);
    }
}
