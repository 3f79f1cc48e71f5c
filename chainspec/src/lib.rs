//! Which Conflux chain the node is on: chain and network ids, genesis hash, bootnodes, default
//! ports, PoW mode, hard-fork activation points and an optional trusted checkpoint.
//!
//! Chain specs are TOML files. `mainnet`, `testnet` and `devnet` are bundled into the binary
//! (`chainspec/specs/*.toml`, each opening with a comment that says where its values come from);
//! any other `.toml` file can be loaded by path. Parsing is strict: unknown fields, wrong types
//! and bad values are errors that name the file, the line and the field. The mainnet and testnet
//! genesis hashes are pinned (their sources are in the files); a spec that leaves the genesis
//! unset (devnet, whose genesis depends on its secrets) makes
//! [`ChainSpec::require_genesis_hash`] tell the user to pass `--genesis-hash`.
//!
//! Besides ids and forks, a spec carries the numbers of the header rules and of the state-root
//! trust rule ([`HeaderRules`], [`TrustRule`]), and optionally a trusted checkpoint to start from.
//!
//! This crate knows nothing about the network, storage or RPC; it only answers "which chain, with
//! which rules from which height".

mod error;
mod forks;
mod parse;
mod rules;

pub use error::{Location, SpecError};
pub use ethereum_types::H256;
pub use forks::Forks;
pub use rules::{HeaderRules, TrustRule};

use serde::{Deserialize, Serialize};

/// A chain spec: everything that tells one Conflux chain from another.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChainSpec {
    /// `mainnet`, `testnet`, `devnet`, or the `name` in a custom file.
    pub name: String,
    /// Core-space chain id (signed into core transactions, sent in StatusPing).
    pub chain_id: u32,
    /// eSpace chain id (defaults to `chain_id`, as in conflux-rust).
    pub evm_chain_id: u32,
    /// P2P network id, sent in HELLO (conflux-rust defaults it to `chain_id`).
    pub network_id: u64,
    /// Hash of the epoch-0 block; `None` = not established, the node needs `--genesis-hash`.
    pub genesis_hash: Option<H256>,
    /// Bootnodes, `cfxnode://<128 hex node id>@host:port`, checked syntactically.
    pub bootnodes: Vec<String>,
    /// Default ports.
    pub ports: Ports,
    /// Which proof of work headers carry.
    pub pow: PowMode,
    /// Hard-fork activation points.
    pub forks: Forks,
    /// What every header must satisfy (difficulty, gas limit, time, custom prefix).
    pub rules: HeaderRules,
    /// When deferred roots are trusted, and how deep a fork may rewind.
    pub trust: TrustRule,
    /// A trusted checkpoint, if one has been established.
    pub checkpoint: Option<Checkpoint>,
    /// Epochs between state snapshots (conflux-rust `SNAPSHOT_EPOCHS_CAPACITY`, 2000).
    pub snapshot_epoch_count: u64,
    /// Where the spec came from, for messages: `builtin:mainnet` or the file path.
    pub source: String,
    /// Whether `--chain-id` may override `chain_id` (dev chains, whose id is chosen locally).
    pub chain_id_overridable: bool,
    #[serde(skip)]
    evm_chain_id_explicit: bool,
    #[serde(skip)]
    network_id_explicit: bool,
}

/// Default ports of a node on this chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Ports {
    /// P2P TCP and UDP port (32323).
    pub p2p: u16,
    /// JSON-RPC over HTTP (12537).
    pub rpc_http: u16,
    /// JSON-RPC over WebSocket (12535).
    pub rpc_ws: u16,
    /// Local-only JSON-RPC over HTTP (12539).
    pub rpc_local: u16,
}

/// The proof of work a chain's headers carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PowMode {
    /// Octopus (CIP-3), mainnet and testnet.
    Octopus,
    /// The keccak-based test PoW of conflux-rust's test and dev modes.
    Test,
}

/// A trusted checkpoint: the pivot block hash at an epoch, where sync may start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Checkpoint {
    /// Epoch number.
    pub epoch: u64,
    /// Pivot block hash of that epoch.
    pub hash: H256,
    /// The pivot header's timestamp (Unix seconds), if known: how old the checkpoint is. The
    /// node re-reads it from the header itself once it has fetched it.
    pub timestamp: Option<u64>,
    /// Position of the pivot block in the total order, if known (block numbers are counted
    /// from genesis, so a node that starts at a checkpoint learns them only from here).
    pub block_number: Option<u64>,
}

impl std::str::FromStr for Checkpoint {
    type Err = String;

    /// `<epoch>:<0x hash>[:<block number>]`, as `--checkpoint` takes it.
    fn from_str(s: &str) -> Result<Checkpoint, String> {
        let bad = || format!("expected <epoch>:<0x hash>[:<block number>], got {s:?}");
        let mut parts = s.trim().split(':');
        let epoch = parts
            .next()
            .and_then(|e| e.parse::<u64>().ok())
            .ok_or_else(bad)?;
        let hash = parts
            .next()
            .ok_or_else(bad)
            .and_then(|h| parse::parse_hash(h).map_err(|m| format!("{}: {m}", bad())))?;
        let block_number = match parts.next() {
            Some(n) => Some(n.parse::<u64>().map_err(|_| bad())?),
            None => None,
        };
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(Checkpoint {
            epoch,
            hash,
            timestamp: None,
            block_number,
        })
    }
}

const BUILTIN_NAMES: &[&str] = &["mainnet", "testnet", "devnet"];

fn builtin_text(name: &str) -> Option<&'static str> {
    match name {
        "mainnet" => Some(include_str!("../specs/mainnet.toml")),
        "testnet" => Some(include_str!("../specs/testnet.toml")),
        "devnet" => Some(include_str!("../specs/devnet.toml")),
        _ => None,
    }
}

impl ChainSpec {
    /// Loads a built-in spec by name, or else the TOML file at that path.
    pub fn load(name_or_path: &str) -> Result<ChainSpec, SpecError> {
        if let Some(spec) = Self::builtin(name_or_path) {
            return spec;
        }
        let text =
            std::fs::read_to_string(name_or_path).map_err(|source| SpecError::Unreadable {
                path: name_or_path.to_string(),
                source,
                builtins: BUILTIN_NAMES.join(", "),
            })?;
        Self::parse(&text, name_or_path)
    }

    /// The bundled spec of that name, or `None` if there is none.
    pub fn builtin(name: &str) -> Option<Result<ChainSpec, SpecError>> {
        builtin_text(name).map(|text| Self::parse(text, &format!("builtin:{name}")))
    }

    /// Parses spec text; `source` names it in errors (a path or `builtin:<name>`).
    pub fn parse(text: &str, source: &str) -> Result<ChainSpec, SpecError> {
        parse::parse(text, source)
    }

    /// Names accepted by [`ChainSpec::builtin`].
    pub fn builtin_names() -> &'static [&'static str] {
        BUILTIN_NAMES
    }

    /// Overrides the chain id (`--chain-id`); only for specs marked `chain_id_overridable`.
    ///
    /// `network_id` and `evm_chain_id` follow the new id unless the file set them explicitly,
    /// as they would in conflux-rust where both default to `chain_id`.
    pub fn with_chain_id(mut self, id: u32) -> Result<ChainSpec, SpecError> {
        self.check_overridable()?;
        if id == 0 {
            return Err(SpecError::BadOverride {
                spec: self.name,
                message: "chain id 0 is not allowed".into(),
            });
        }
        self.chain_id = id;
        if !self.network_id_explicit {
            self.network_id = u64::from(id);
        }
        if !self.evm_chain_id_explicit {
            self.evm_chain_id = id;
        }
        Ok(self)
    }

    /// Overrides the eSpace chain id (`--evm-chain-id`); only for `chain_id_overridable` specs.
    pub fn with_evm_chain_id(mut self, id: u32) -> Result<ChainSpec, SpecError> {
        self.check_overridable()?;
        if id == 0 {
            return Err(SpecError::BadOverride {
                spec: self.name,
                message: "eSpace chain id 0 is not allowed".into(),
            });
        }
        self.evm_chain_id = id;
        self.evm_chain_id_explicit = true;
        Ok(self)
    }

    fn check_overridable(&self) -> Result<(), SpecError> {
        if self.chain_id_overridable {
            Ok(())
        } else {
            Err(SpecError::ChainIdNotOverridable {
                spec: self.name.clone(),
                source_name: self.source.clone(),
                current: self.chain_id,
            })
        }
    }

    /// Supplies the genesis hash (`--genesis-hash`); an error if the spec pins a different one.
    pub fn with_genesis_hash(mut self, h: H256) -> Result<ChainSpec, SpecError> {
        match self.genesis_hash {
            Some(in_spec) if in_spec != h => Err(SpecError::GenesisHashMismatch {
                spec: self.name,
                source_name: self.source,
                in_spec,
                given: h,
            }),
            _ => {
                self.genesis_hash = Some(h);
                Ok(self)
            }
        }
    }

    /// The genesis hash, or an error telling the user to pass `--genesis-hash`.
    pub fn require_genesis_hash(&self) -> Result<H256, SpecError> {
        self.genesis_hash
            .ok_or_else(|| SpecError::GenesisHashRequired {
                spec: self.name.clone(),
                source_name: self.source.clone(),
            })
    }

    /// The byte a header at `height` must carry as its first custom item, if any: the spec's
    /// `rules.custom_prefixes`, else mainnet's schedule over the fork heights.
    pub fn custom_prefix(&self, height: u64) -> Option<u8> {
        match &self.rules.custom_prefixes {
            Some(schedule) => schedule
                .iter()
                .rev()
                .find(|(from, _)| height >= *from)
                .map(|(_, b)| *b),
            None => self.forks.required_custom_first_element(height),
        }
    }

    /// Epochs of the difficulty period a block with this parent height falls in (conflux-rust
    /// `difficulty_adjustment_epoch_period(parent_height)`: shorter once above CIP-86).
    pub fn difficulty_period(&self, parent_height: u64) -> u64 {
        if parent_height > self.forks.hydra_height {
            self.rules.difficulty_period_cip86
        } else {
            self.rules.difficulty_period
        }
    }

    /// The CIP-37 address prefix: `cfx` (network 1029), `cfxtest` (1), `net<N>` otherwise.
    pub fn address_prefix(&self) -> String {
        match self.network_id {
            1029 => "cfx".to_string(),
            1 => "cfxtest".to_string(),
            n => format!("net{n}"),
        }
    }
}
