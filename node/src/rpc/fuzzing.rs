//! Entry points for the fuzz targets in `fuzz/` (`cargo fuzz`), and nothing else: thin,
//! behaviour-free wrappers that make the crate-private JSON-RPC parsers callable from
//! outside the crate. Not an API; it may change with the parsers it wraps.

use cfxlight_primitives::{H160, H256};
use jsonrpsee::types::{ErrorObjectOwned, Id, Params};
use serde_json::{value::RawValue, Value};
use std::borrow::Cow;

/// The HTTP front's own reading of a request body (see `http.rs`): `(id, method, params)`
/// when it answers the call itself, None when the body goes to jsonrpsee.
pub fn read_call(body: &[u8]) -> Option<(Id<'_>, Cow<'_, str>, Option<&RawValue>)> {
    super::http::read_call(body)
}

/// An epoch parameter as `rpc::parse_epoch` reads it: `Some(n)` for a number, None
/// for a tag.
pub fn parse_epoch(v: &Value) -> Result<Option<u64>, ErrorObjectOwned> {
    super::params::parse_epoch(v).map(|e| match e {
        super::params::Epoch::Number(n) => Some(n),
        _ => None,
    })
}

/// `rpc::parse_hash`.
pub fn parse_hash(v: &Value) -> Result<H256, ErrorObjectOwned> {
    super::params::parse_hash(v)
}

/// `rpc::parse_address`.
pub fn parse_address(v: &Value, network_id: u64) -> Result<H160, ErrorObjectOwned> {
    super::params::parse_address(v, network_id)
}

/// [`super::params::parse_u64_hex`].
pub fn parse_u64_hex(v: &Value) -> Result<u64, ErrorObjectOwned> {
    super::params::parse_u64_hex(v)
}

/// Where a state-epoch parameter points, flattened: `(epoch number, block hash,
/// require_pivot)`, each None where it does not apply (a tag has neither).
pub type StateAt = (Option<u64>, Option<H256>, bool);

/// Positional arguments as the methods read them (`rpc::Args`).
pub struct Args(super::params::Args);

impl Args {
    /// `rpc::Args::of` on a raw `params` value.
    pub fn of(params: Option<&str>, min: usize, max: usize) -> Result<Args, ErrorObjectOwned> {
        super::params::Args::of(&Params::new(params), min, max).map(Args)
    }

    /// How many arguments there are.
    pub fn len(&self) -> usize {
        self.0 .0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0 .0.is_empty()
    }

    /// Argument `i`, None when missing or null.
    pub fn get(&self, i: usize) -> Option<&Value> {
        self.0.get(i)
    }

    /// Argument `i` deserialized as `T`.
    pub fn typed<T: serde::de::DeserializeOwned>(
        &self,
        i: usize,
    ) -> Result<Option<T>, ErrorObjectOwned> {
        self.0.typed(i)
    }

    /// A hash argument.
    pub fn hash(&self, i: usize) -> Result<H256, ErrorObjectOwned> {
        self.0.hash(i)
    }

    /// An address argument of network `network_id`.
    pub fn address(&self, i: usize, network_id: u64) -> Result<H160, ErrorObjectOwned> {
        self.0.address(i, network_id)
    }

    /// An epoch argument: `Some(Some(n))` for a number, `Some(None)` for a tag.
    pub fn epoch(&self, i: usize) -> Result<Option<Option<u64>>, ErrorObjectOwned> {
        self.0.epoch(i).map(|e| {
            e.map(|e| match e {
                super::params::Epoch::Number(n) => Some(n),
                _ => None,
            })
        })
    }

    /// A state-epoch argument (tag, number, `hash:…`, `{"epochNumber"}`, `{"blockHash"}`).
    pub fn state_epoch(&self, i: usize) -> Result<Option<StateAt>, ErrorObjectOwned> {
        self.0.state_epoch(i).map(|s| {
            s.map(|s| match s {
                super::params::StateAt::Epoch(super::params::Epoch::Number(n)) => {
                    (Some(n), None, false)
                }
                super::params::StateAt::Epoch(_) => (None, None, false),
                super::params::StateAt::Block {
                    hash,
                    require_pivot,
                } => (None, Some(hash), require_pivot),
            })
        })
    }
}
