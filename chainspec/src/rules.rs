//! The numbers behind header validity and state-root trust, per chain.
//!
//! `[rules]` holds what conflux-rust checks on every header before it enters the block graph
//! (`verification.rs` `verify_header_params`, `synchronization_graph.rs`
//! `verify_header_graph_ready_block`) and its difficulty rule (`pow/src/lib.rs`
//! `ProofOfWorkConfig`, `target_difficulty_manager.rs`). `[trust]` holds the light node's rule
//! for when a header's deferred roots are believed (`consensus_inner/blame_verifier.rs`,
//! `find_first_trusted_starting_from`) and our bound on how far a fork may rewind the node.
//!
//! Both tables are optional in a spec file: left out, they take conflux-rust's production
//! values (mainnet's), and the custom-prefix schedule follows the fork heights as on mainnet.

use serde::{Deserialize, Serialize};

/// Header rules of one chain.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderRules {
    /// `INITIAL_DIFFICULTY`: the difficulty of the first period, and the floor of every later one.
    #[serde(default = "defaults::initial_difficulty")]
    pub initial_difficulty: u64,
    /// Epochs per difficulty-adjustment period (`DIFFICULTY_ADJUSTMENT_EPOCH_PERIOD`, 5000).
    #[serde(default = "defaults::difficulty_period")]
    pub difficulty_period: u64,
    /// The period once the parent is above the CIP-86 height (`forks.hydra_height`), 250.
    #[serde(default = "defaults::difficulty_period_cip86")]
    pub difficulty_period_cip86: u64,
    /// conflux-rust's test mode: every adjustment targets `initial_difficulty` again.
    #[serde(default)]
    pub fixed_difficulty: bool,
    /// Target time between blocks, in microseconds (`TARGET_AVERAGE_BLOCK_GENERATION_PERIOD`).
    #[serde(default = "defaults::block_period_us")]
    pub block_period_us: u64,
    /// The lowest gas limit a header may carry (`min_gas_limit`, 10,000,000).
    #[serde(default = "defaults::min_gas_limit")]
    pub min_gas_limit: u64,
    /// A header's gas limit moves at most parent/divisor per block (`gas_limit_bound_divisor`).
    #[serde(default = "defaults::gas_limit_divisor")]
    pub gas_limit_divisor: u64,
    /// How far in the future a timestamp may be, in seconds (`VALID_TIME_DRIFT`, 600).
    #[serde(default = "defaults::max_time_drift_s")]
    pub max_time_drift_s: u64,
    /// The first custom item a header must carry from a height on, as `[[height, byte], …]`
    /// in increasing height (conflux-rust `spec.rs` `custom_prefix`). Left out: mainnet's
    /// schedule over the fork heights (`[1]` Tanzanite, `[2]` DAO vote, `[3]` CIP-112, `[4]`
    /// CIP-1559).
    #[serde(default)]
    pub custom_prefixes: Option<Vec<(u64, u8)>>,
}

/// When a header's deferred roots are trusted, and how far a fork may take the node back.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TrustRule {
    /// A header is trusted when the share of its descendants that blame it is below this
    /// (`MAX_BLAME_RATIO_FOR_TRUST`, 0.4).
    #[serde(default = "defaults::max_blame_ratio")]
    pub max_blame_ratio: f64,
    /// Votes (the header and its descendants) needed before a header can be trusted at all;
    /// with fewer it counts as fully blamed (`min_vote_count`, 10).
    #[serde(default = "defaults::min_votes")]
    pub min_votes: usize,
    /// Descendant generations counted (`blame_bound`, 1000).
    #[serde(default = "defaults::blame_bound")]
    pub blame_bound: u32,
    /// Epochs behind the newest pivot header before a header is judged
    /// (`BLAME_CHECK_OFFSET`, 20).
    #[serde(default = "defaults::check_offset")]
    pub check_offset: u64,
    /// The deepest rewind a heavier fork may cause; deeper ones are refused (ours, 100).
    #[serde(default = "defaults::max_rewind")]
    pub max_rewind: u64,
}

mod defaults {
    pub fn initial_difficulty() -> u64 {
        20_000_000_000
    }
    pub fn difficulty_period() -> u64 {
        5000
    }
    pub fn difficulty_period_cip86() -> u64 {
        250
    }
    pub fn block_period_us() -> u64 {
        500_000
    }
    pub fn min_gas_limit() -> u64 {
        10_000_000
    }
    pub fn gas_limit_divisor() -> u64 {
        1024
    }
    pub fn max_time_drift_s() -> u64 {
        600
    }
    pub fn max_blame_ratio() -> f64 {
        0.4
    }
    pub fn min_votes() -> usize {
        10
    }
    pub fn blame_bound() -> u32 {
        1000
    }
    pub fn check_offset() -> u64 {
        20
    }
    pub fn max_rewind() -> u64 {
        100
    }
}

impl Default for HeaderRules {
    fn default() -> Self {
        HeaderRules {
            initial_difficulty: defaults::initial_difficulty(),
            difficulty_period: defaults::difficulty_period(),
            difficulty_period_cip86: defaults::difficulty_period_cip86(),
            fixed_difficulty: false,
            block_period_us: defaults::block_period_us(),
            min_gas_limit: defaults::min_gas_limit(),
            gas_limit_divisor: defaults::gas_limit_divisor(),
            max_time_drift_s: defaults::max_time_drift_s(),
            custom_prefixes: None,
        }
    }
}

impl Default for TrustRule {
    fn default() -> Self {
        TrustRule {
            max_blame_ratio: defaults::max_blame_ratio(),
            min_votes: defaults::min_votes(),
            blame_bound: defaults::blame_bound(),
            check_offset: defaults::check_offset(),
            max_rewind: defaults::max_rewind(),
        }
    }
}
