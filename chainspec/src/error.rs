//! The one error type of this crate.

use ethereum_types::H256;
use std::fmt;

/// Where in a spec file an error is: file (or `builtin:<name>`), 1-based line, and field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The spec's source: the file path as given, or `builtin:<name>`.
    pub file: String,
    /// 1-based line number in that file.
    pub line: usize,
    /// Dotted field path (`genesis_hash`, `forks.hydra_height`, `bootnodes[2]`), when known.
    pub field: Option<String>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)?;
        if let Some(field) = &self.field {
            write!(f, ": field `{field}`")?;
        }
        Ok(())
    }
}

/// Everything that can go wrong when loading a chain spec or applying a command-line override.
///
/// Errors about a spec's contents carry a [`Location`] and print as
/// `file:line: field `name`: what is wrong`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpecError {
    /// The argument is not a built-in spec name and the file cannot be read.
    #[error("cannot read chain spec file `{path}`: {source} (built-in chain specs: {builtins})")]
    Unreadable {
        /// The path as given.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
        /// The built-in names, to help a user who mistyped one.
        builtins: String,
    },
    /// The text is not valid TOML.
    #[error("{at}: malformed TOML: {message}")]
    Malformed {
        /// Where.
        at: Location,
        /// The TOML parser's message.
        message: String,
    },
    /// A required field is absent.
    #[error("{at}: missing required field")]
    MissingField {
        /// Where (the table that lacks the field; the field path names it).
        at: Location,
    },
    /// A field the format does not know (often a typo).
    #[error("{at}: {message}")]
    UnknownField {
        /// Where.
        at: Location,
        /// The parser's message, listing the expected fields.
        message: String,
    },
    /// A field has a value of the wrong type (a string for a number, an unknown enum word, ...).
    #[error("{at}: wrong type: {message}")]
    WrongType {
        /// Where.
        at: Location,
        /// The parser's message.
        message: String,
    },
    /// A field has the right type but a value that is not acceptable.
    #[error("{at}: {message}")]
    BadValue {
        /// Where.
        at: Location,
        /// What is wrong, quoting the value.
        message: String,
    },
    /// `--chain-id` (or `--evm-chain-id`) was given for a chain whose ids are fixed.
    #[error(
        "chain spec `{spec}` ({source_name}) does not allow overriding its chain id ({current}); \
         only specs with `chain_id_overridable = true` (devnet) do"
    )]
    ChainIdNotOverridable {
        /// The spec's name.
        spec: String,
        /// The spec's source.
        source_name: String,
        /// Its chain id.
        current: u32,
    },
    /// An override value is not acceptable (e.g. chain id 0).
    #[error("bad override for chain spec `{spec}`: {message}")]
    BadOverride {
        /// The spec's name.
        spec: String,
        /// What is wrong.
        message: String,
    },
    /// `--genesis-hash` disagrees with the genesis hash pinned in the spec.
    #[error(
        "--genesis-hash {given:#x} differs from the genesis hash {in_spec:#x} of chain spec `{spec}` \
         ({source_name}); refusing to mix chains"
    )]
    GenesisHashMismatch {
        /// The spec's name.
        spec: String,
        /// The spec's source.
        source_name: String,
        /// The hash in the spec.
        in_spec: H256,
        /// The hash the user gave.
        given: H256,
    },
    /// The spec has no genesis hash and none was given.
    #[error(
        "chain spec `{spec}` ({source_name}) has no established genesis hash; pass \
         --genesis-hash 0x<64 hex> (the hash of epoch 0, cfx_getBlockByEpochNumber(\"0x0\") on a \
         node you trust)"
    )]
    GenesisHashRequired {
        /// The spec's name.
        spec: String,
        /// The spec's source.
        source_name: String,
    },
}

impl SpecError {
    /// The location in the spec file, for errors about its contents.
    pub fn location(&self) -> Option<&Location> {
        match self {
            SpecError::Malformed { at, .. }
            | SpecError::MissingField { at }
            | SpecError::UnknownField { at, .. }
            | SpecError::WrongType { at, .. }
            | SpecError::BadValue { at, .. } => Some(at),
            _ => None,
        }
    }
}
