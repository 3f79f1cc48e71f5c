//! Proof-of-work checks shared by every header check: the test PoW of dev chains, and
//! (once its verifier lands) Octopus for mainnet and testnet.
//!
//! Difficulty 0 is refused (conflux-rust `InvalidDifficulty`); the PoW hash must be below the
//! boundary of the header's difficulty, which the header rules bound by the parent's.

use cfxlight_chainspec::PowMode;
use cfxlight_primitives::{header::BlockHeader, U256};
use thiserror::Error;

/// Why a header's PoW does not hold.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PowError {
    /// Difficulty 0 has no boundary.
    #[error("difficulty 0 is not allowed")]
    ZeroDifficulty,
    /// The nonce does not solve the problem at the header's difficulty.
    #[error("PoW hash does not meet the difficulty")]
    Invalid,
    /// Octopus cannot be checked by this build.
    #[error("Octopus PoW cannot be checked by this build")]
    Unsupported,
}

/// Checks PoW for one chain; cheap to clone.
#[derive(Clone, Debug)]
pub struct PowVerifier {
    mode: PowMode,
}

impl PowVerifier {
    /// A verifier for `mode`; `cache_dir` keeps Octopus caches across restarts.
    pub fn new(mode: PowMode, _cache_dir: Option<std::path::PathBuf>) -> PowVerifier {
        PowVerifier { mode }
    }

    /// The header's PoW quality (the RPC's `powQuality`) if its PoW holds.
    pub fn verify(&self, h: &BlockHeader) -> Result<U256, PowError> {
        if h.difficulty.is_zero() {
            return Err(PowError::ZeroDifficulty);
        }
        match self.mode {
            PowMode::Test => {
                h.verify_test_pow().map_err(|_| PowError::Invalid)?;
                Ok(h.test_pow_quality())
            }
            PowMode::Octopus => Err(PowError::Unsupported),
        }
    }
}
