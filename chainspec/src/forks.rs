//! Hard-fork activation points and the header rules that follow from them.
//!
//! Conflux activates forks either by epoch *height* (the pivot chain height, carried in every
//! header) or by block *number* (the position of a block in the total order, which a header does
//! not carry). A light client can only decide height-based rules from a header alone; the
//! number-based points are kept for completeness and for RPC answers.

use serde::{Deserialize, Serialize};

/// Activation points of every Conflux hard fork in the fork table of conflux-protocol.md §6.
///
/// Names follow conflux-rust's `configuration.rs` (`*_transition_height` / `*_transition_number`),
/// shortened: `hydra_height` is `hydra_transition_height`. A fork is active at `x` when
/// `x >= activation`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Forks {
    /// Tanzanite (CIP-40) epoch height; from here headers carry the custom item `[1]`.
    pub tanzanite_height: u64,
    /// Hydra (v2.0) epoch height.
    pub hydra_height: u64,
    /// Hydra (v2.0) block number.
    pub hydra_number: u64,
    /// Block number at which the CIP-43 (PoS finality) initialisation phase ends.
    pub cip43_init_end_number: u64,
    /// Epoch height from which headers may carry `pos_reference` (`pos_reference_enable_height`).
    pub pos_reference_height: u64,
    /// DAO-vote (CIP-94) epoch height; from here the custom item is `[2]`.
    pub dao_vote_height: u64,
    /// DAO-vote (CIP-94) block number.
    pub dao_vote_number: u64,
    /// Sigma fix block number.
    pub sigma_fix_number: u64,
    /// CIP-107 block number.
    pub cip107_number: u64,
    /// CIP-118 block number (equal to CIP-107 on mainnet, later on testnet).
    pub cip118_number: u64,
    /// CIP-119 block number (equal to CIP-107 on mainnet, later on testnet).
    pub cip119_number: u64,
    /// CIP-112 epoch height (on mainnet also CIP-113's; testnet never activates CIP-113); from
    /// here custom items are RLP byte strings rather than raw RLP, and on mainnet the custom
    /// item is `[3]`.
    pub cip112_height: u64,
    /// CIP-1559 (v2.4 base-fee burn) epoch height; from here headers may carry the base price
    /// and the custom item is `[4]`.
    pub cip1559_height: u64,
    /// CIP-1559 (v2.4 base-fee burn) block number; also where Cancun's opcodes, CIP-133's
    /// block hashes and CIP-144's KZG precompile start (conflux-rust sets them together).
    pub cip1559_number: u64,
    /// v2.5 `c2_fix` epoch height.
    pub c2_fix_height: u64,
    /// v3.0 `eoa_code` (EIP-7702 in eSpace) epoch height.
    pub eoa_code_height: u64,
    /// v3.1 Osaka opcodes epoch height; `None` = not scheduled on this chain.
    #[serde(default)]
    pub osaka_height: Option<u64>,
}

impl Forks {
    /// Whether a header at `height` may carry `pos_reference` (it is appended only when set).
    pub fn pos_reference_enabled(&self, height: u64) -> bool {
        height >= self.pos_reference_height
    }

    /// Whether a header at `height` may carry the `[core, espace]` base price (CIP-1559).
    pub fn base_price_enabled(&self, height: u64) -> bool {
        height >= self.cip1559_height
    }

    /// Whether custom items at `height` are RLP byte strings (CIP-112) rather than raw RLP.
    pub fn custom_items_are_bytes(&self, height: u64) -> bool {
        height >= self.cip112_height
    }

    /// Whether the Osaka opcodes are active at `height`.
    pub fn osaka_active(&self, height: u64) -> bool {
        self.osaka_height.is_some_and(|h| height >= h)
    }

    /// The byte a header at `height` must carry as its first custom item under mainnet's
    /// schedule (a spec may give its own: `ChainSpec::custom_prefix`).
    ///
    /// Mirrors conflux-rust `execution/executor/src/spec.rs` (`header_custom_first_elements`):
    /// `[1]` from Tanzanite, `[2]` from DAO vote, `[3]` from CIP-112, `[4]` from CIP-1559,
    /// with the same half-open ranges, so it also agrees when forks share a height (devnet).
    pub fn required_custom_first_element(&self, height: u64) -> Option<u8> {
        if height >= self.tanzanite_height && height < self.dao_vote_height {
            Some(1)
        } else if height >= self.dao_vote_height && height < self.cip112_height {
            Some(2)
        } else if height >= self.cip112_height && height < self.cip1559_height {
            Some(3)
        } else if height >= self.cip1559_height {
            Some(4)
        } else {
            None
        }
    }
}
