//! Parameter parsing, by hand and pure (no context, no I/O), so that malformed requests
//! get conflux-rust's codes and messages (`-32602 "Invalid params: …"`): positional
//! arguments, hashes, base32 addresses, block numbers and epoch tags.

use cfxlight_primitives::{address::CfxAddress, H160, H256, U256};
use jsonrpsee::types::{ErrorObjectOwned, Params};
use serde_json::Value;

use super::error::{invalid_param_data, invalid_params, INVALID_PARAMS};

/// Positional arguments of a request (conflux-rust takes arrays only).
pub(crate) struct Args(pub(super) Vec<Value>);

/// The positional arguments as sent (absent or null: none); conflux-rust takes arrays only.
fn positional(params: &Params<'_>) -> Result<Vec<Value>, ErrorObjectOwned> {
    match params.as_str() {
        None => Ok(vec![]),
        Some(s) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Array(a)) => Ok(a),
            Ok(Value::Null) => Ok(vec![]),
            Ok(_) => Err(ErrorObjectOwned::owned(
                INVALID_PARAMS,
                "`params` should be an array",
                None::<()>,
            )),
            Err(e) => Err(invalid_params(e)),
        },
    }
}

impl Args {
    /// The arguments of a method taking `min..=max` of them, with conflux-rust's
    /// messages for a wrong count (a fixed tuple and an optional tail word it differently).
    pub(crate) fn of(
        params: &Params<'_>,
        min: usize,
        max: usize,
    ) -> Result<Args, ErrorObjectOwned> {
        let v = positional(params)?;
        let n = v.len();
        if min == max && n != min {
            return Err(invalid_params(format!(
                "invalid length {n}, expected a tuple of size {min}"
            )));
        }
        if n < min {
            return Err(ErrorObjectOwned::owned(
                INVALID_PARAMS,
                format!("`params` should have at least {min} argument(s)"),
                None::<()>,
            ));
        }
        if n > max {
            return Err(invalid_param_data(
                &format!("Expected from {min} to {max} parameters."),
                format!("Got: {n}"),
            ));
        }
        Ok(Args(v))
    }

    /// No arguments, as jsonrpc-core checks a method that takes none: any given is refused
    /// with its words and, as data, its debug form of the array.
    pub(crate) fn none(params: &Params<'_>) -> Result<(), ErrorObjectOwned> {
        let given = positional(params)?;
        if given.is_empty() {
            return Ok(());
        }
        Err(ErrorObjectOwned::owned(
            INVALID_PARAMS,
            "Invalid parameters: No parameters were expected",
            Some(format!("Array({given:?})")),
        ))
    }

    /// Argument `i`, None when missing or null.
    pub(crate) fn get(&self, i: usize) -> Option<&Value> {
        self.0.get(i).filter(|v| !v.is_null())
    }

    pub(crate) fn typed<T: serde::de::DeserializeOwned>(
        &self,
        i: usize,
    ) -> Result<Option<T>, ErrorObjectOwned> {
        self.get(i)
            .map(|v| serde_json::from_value(v.clone()).map_err(invalid_params))
            .transpose()
    }

    /// Argument `i` as a `T`; missing or null is "invalid type: null, expected
    /// {expected}", as serde words it in conflux-rust.
    pub(crate) fn required<T: serde::de::DeserializeOwned>(
        &self,
        i: usize,
        expected: &str,
    ) -> Result<T, ErrorObjectOwned> {
        self.typed(i)?
            .ok_or_else(|| invalid_params(format!("invalid type: null, expected {expected}")))
    }

    pub(crate) fn hash(&self, i: usize) -> Result<H256, ErrorObjectOwned> {
        match self.get(i) {
            Some(v) => parse_hash(v),
            None => Err(invalid_params(
                "invalid type: null, expected a (both 0x-prefixed or not) hex string with length of 64",
            )),
        }
    }

    pub(crate) fn address(&self, i: usize, network_id: u64) -> Result<H160, ErrorObjectOwned> {
        let v = self
            .get(i)
            .ok_or_else(|| invalid_params("invalid type: null, expected a string"))?;
        parse_address(v, network_id)
    }

    /// An `EpochNumber` argument (tags and numbers).
    pub(crate) fn epoch(&self, i: usize) -> Result<Option<Epoch>, ErrorObjectOwned> {
        self.get(i).map(parse_epoch).transpose()
    }

    /// An `EpochNumberOrBlockHash` argument of the state methods: a tag, a number,
    /// `hash:<block hash>`, `{"epochNumber": "0x…"}` or `{"blockHash": …, "requirePivot": …}`.
    pub(crate) fn state_epoch(&self, i: usize) -> Result<Option<StateAt>, ErrorObjectOwned> {
        let Some(v) = self.get(i) else {
            return Ok(None);
        };
        Ok(Some(match v {
            Value::String(s) if s.starts_with("hash:") => StateAt::Block {
                hash: parse_hash(&Value::String(s["hash:".len()..].to_string()))?,
                require_pivot: false,
            },
            Value::Object(o) => {
                if let Some(n) = o.get("epochNumber") {
                    let Value::String(n) = n else {
                        return Err(invalid_params(format!(
                            "invalid type: {}, expected a block number",
                            json_kind(n)
                        )));
                    };
                    let digits = n
                        .strip_prefix("0x")
                        .ok_or_else(|| invalid_params("Invalid block number: missing 0x prefix"))?;
                    StateAt::Epoch(Epoch::Number(
                        u64::from_str_radix(digits, 16)
                            .map_err(|e| invalid_params(format!("Invalid block number: {e}")))?,
                    ))
                } else if let Some(h) = o.get("blockHash") {
                    StateAt::Block {
                        hash: parse_hash(h)?,
                        require_pivot: o
                            .get("requirePivot")
                            .and_then(Value::as_bool)
                            .unwrap_or(true),
                    }
                } else {
                    return Err(invalid_params(
                        "invalid type: map, expected an epoch number or 'latest_mined', 'latest_state', 'latest_checkpoint', 'latest_finalized', 'latest_confirmed', or 'earliest', or 'hash:<BLOCK_HASH>'",
                    ));
                }
            }
            other => StateAt::Epoch(parse_epoch_with(other, EXPECT_EPOCH_OR_HASH)?),
        }))
    }
}

/// Where a state read looks: an epoch, or the epoch of a block.
#[derive(Debug, Clone, Copy)]
pub(crate) enum StateAt {
    Epoch(Epoch),
    Block { hash: H256, require_pivot: bool },
}

/// `N` bytes as hex, 0x-prefixed or not, with the errors of conflux-rust's hash types
/// (a character is placed by its index in the string as given, prefix included).
fn parse_fixed_hex<const N: usize>(v: &Value) -> Result<[u8; N], ErrorObjectOwned> {
    let expected = format!(
        "expected a (both 0x-prefixed or not) hex string with length of {}",
        N * 2
    );
    let Value::String(s) = v else {
        return Err(invalid_params(format!(
            "invalid type: {}, {expected}",
            json_kind(v)
        )));
    };
    let prefix = if s.starts_with("0x") { 2 } else { 0 };
    let digits = &s[prefix..];
    if digits.len() != N * 2 {
        return Err(invalid_params(format!(
            "invalid length {}, {expected}",
            digits.len()
        )));
    }
    if let Some((i, c)) = digits.char_indices().find(|(_, c)| !c.is_ascii_hexdigit()) {
        return Err(invalid_params(format!(
            "invalid hex character: {c}, at {}",
            i + prefix
        )));
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(digits, &mut out)
        .map_err(|e| invalid_params(format!("invalid hex: {e}")))?;
    Ok(out)
}

/// A block or transaction hash, 0x-prefixed or not, with conflux-rust's errors.
pub(crate) fn parse_hash(v: &Value) -> Result<H256, ErrorObjectOwned> {
    parse_fixed_hex::<32>(v).map(H256)
}

/// A filter id (16 bytes), 0x-prefixed or not, with conflux-rust's errors.
pub(crate) fn parse_h128(v: &Value) -> Result<ethereum_types::H128, ErrorObjectOwned> {
    parse_fixed_hex::<16>(v).map(ethereum_types::H128)
}

/// A base32 address of our network, with conflux-rust's errors.
pub(crate) fn parse_address(v: &Value, network_id: u64) -> Result<H160, ErrorObjectOwned> {
    let Value::String(s) = v else {
        return Err(invalid_params(format!(
            "invalid type: {}, expected a string",
            json_kind(v)
        )));
    };
    let a: CfxAddress = s
        .parse()
        .map_err(|e: cfxlight_primitives::address::AddressError| {
            // conflux-rust's wording for the common cases, so scripts that match on it work.
            use cfxlight_primitives::address::AddressError as E;
            let why = match &e {
                E::MissingPrefix => "zero or multiple prefixes".to_string(),
                E::InvalidChar(c) => format!("invalid char ({c})"),
                other => other.to_string(),
            };
            invalid_params(format!("Invalid base32 address: input {s} error {why}"))
        })?;
    if a.network_id != network_id {
        return Err(invalid_param_data(
            "address",
            format!(
                "network prefix unexpected: ours {}, got {}",
                cfxlight_primitives::address::network_prefix(network_id),
                cfxlight_primitives::address::network_prefix(a.network_id)
            ),
        ));
    }
    Ok(a.address)
}

/// A `U64` parameter (a block number), with conflux-rust's messages: a hex string of 1
/// to 16 digits, `0x` optional.
pub(crate) fn parse_u64_hex(v: &Value) -> Result<u64, ErrorObjectOwned> {
    const EXPECTED: &str = "a (both 0x-prefixed or not) hex string with length between (0; 16]";
    let Value::String(s) = v else {
        return Err(invalid_params(format!(
            "invalid type: {}, expected {EXPECTED}",
            json_kind(v)
        )));
    };
    let digits = s.strip_prefix("0x").unwrap_or(s);
    if digits.is_empty() || digits.len() > 16 {
        return Err(invalid_params(format!(
            "invalid length {}, expected {EXPECTED}",
            digits.len()
        )));
    }
    if let Some((i, c)) = digits.char_indices().find(|(_, c)| !c.is_ascii_hexdigit()) {
        return Err(invalid_params(format!(
            "invalid hex character: {c}, at {i}"
        )));
    }
    u64::from_str_radix(digits, 16).map_err(invalid_params)
}

/// How serde names a JSON value's type in its "invalid type" messages.
pub(crate) fn json_kind(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("boolean `{b}`"),
        Value::Number(n) => format!("integer `{n}`"),
        Value::String(s) => format!("string {s:?}"),
        Value::Array(_) => "sequence".into(),
        Value::Object(_) => "map".into(),
    }
}

/// An epoch argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Epoch {
    LatestMined,
    LatestState,
    LatestConfirmed,
    LatestCheckpoint,
    LatestFinalized,
    Earliest,
    Number(u64),
}

/// What an `EpochNumber` parameter accepts, in conflux-rust's words.
const EXPECT_EPOCH: &str = "an epoch number or 'latest_mined', 'latest_state', 'latest_checkpoint', 'latest_finalized', 'latest_confirmed' or 'earliest'";
/// What an `EpochNumberOrBlockHash` parameter accepts.
const EXPECT_EPOCH_OR_HASH: &str = "an epoch number or 'latest_mined', 'latest_state', 'latest_checkpoint', 'latest_finalized', 'latest_confirmed', or 'earliest', or 'hash:<BLOCK_HASH>'";

pub(crate) fn parse_epoch(v: &Value) -> Result<Epoch, ErrorObjectOwned> {
    parse_epoch_with(v, EXPECT_EPOCH)
}

fn parse_epoch_with(v: &Value, expected: &str) -> Result<Epoch, ErrorObjectOwned> {
    let Value::String(s) = v else {
        return Err(invalid_params(format!(
            "invalid type: {}, expected {expected}",
            json_kind(v)
        )));
    };
    Ok(match s.as_str() {
        "latest_mined" => Epoch::LatestMined,
        "latest_state" => Epoch::LatestState,
        "latest_confirmed" => Epoch::LatestConfirmed,
        "latest_checkpoint" => Epoch::LatestCheckpoint,
        "latest_finalized" => Epoch::LatestFinalized,
        "earliest" => Epoch::Earliest,
        n => {
            let digits = n
                .strip_prefix("0x")
                .ok_or_else(|| invalid_params("Invalid epoch number: missing 0x prefix"))?;
            Epoch::Number(
                u64::from_str_radix(digits, 16)
                    .map_err(|e| invalid_params(format!("Invalid epoch number: {e}")))?,
            )
        }
    })
}

/// `U256` from a u64, for JSON fields.
pub(crate) fn u(n: u64) -> U256 {
    U256::from(n)
}

#[cfg(test)]
mod tests {
    //! The parsers alone, no context or devnet: the codes, messages and `data` conflux-rust
    //! v3.0.2 answers with for the same inputs (scripts/rpc-diff compares them live).

    use serde_json::json;

    use super::*;

    fn params(s: &str) -> Params<'_> {
        Params::new(Some(s))
    }

    /// (code, message, data as JSON text) of an error.
    fn parts(e: ErrorObjectOwned) -> (i32, String, Option<String>) {
        (
            e.code(),
            e.message().to_string(),
            e.data().map(|d| d.get().to_string()),
        )
    }

    #[test]
    fn argument_counts_are_worded_as_conflux_rust_words_them() {
        let e = Args::of(&params("[1, 2, 3]"), 1, 2).err().unwrap();
        assert_eq!(
            parts(e),
            (
                -32602,
                "Invalid parameters: Expected from 1 to 2 parameters.".into(),
                // conflux-rust puts the reason in `data` as a string holding its Debug form.
                Some(json!("\"Got: 3\"").to_string())
            )
        );
        let e = Args::of(&params("[]"), 1, 1).err().unwrap();
        assert_eq!(
            parts(e).1,
            "Invalid params: invalid length 0, expected a tuple of size 1."
        );
        let e = Args::of(&params("[]"), 1, 2).err().unwrap();
        assert_eq!(parts(e).1, "`params` should have at least 1 argument(s)");
        let e = Args::of(&params("{\"a\": 1}"), 0, 1).err().unwrap();
        assert_eq!(
            parts(e),
            (-32602, "`params` should be an array".into(), None)
        );
        // No params and `null` are an empty list; a null argument reads as missing.
        assert!(Args::of(&Params::new(None), 0, 1).is_ok());
        let a = Args::of(&params("[null, \"0x1\"]"), 2, 2).unwrap();
        assert!(a.get(0).is_none());
        assert_eq!(a.get(1), Some(&json!("0x1")));
    }

    #[test]
    fn hashes_take_64_hex_digits_with_or_without_0x() {
        let h = "11".repeat(32);
        assert_eq!(parse_hash(&json!(h)).unwrap(), H256::repeat_byte(0x11));
        assert_eq!(
            parse_hash(&json!(format!("0x{h}"))).unwrap(),
            H256::repeat_byte(0x11)
        );
        assert_eq!(
            parts(parse_hash(&json!("0x1234")).unwrap_err()).1,
            "Invalid params: invalid length 4, expected a (both 0x-prefixed or not) hex string with length of 64."
        );
        assert_eq!(
            parts(parse_hash(&json!(5)).unwrap_err()).1,
            "Invalid params: invalid type: integer `5`, expected a (both 0x-prefixed or not) hex string with length of 64."
        );
        assert!(parse_hash(&json!("zz".repeat(32))).is_err());
    }

    #[test]
    fn epochs_are_tags_or_0x_numbers() {
        for (s, e) in [
            ("latest_mined", Epoch::LatestMined),
            ("latest_state", Epoch::LatestState),
            ("latest_confirmed", Epoch::LatestConfirmed),
            ("latest_checkpoint", Epoch::LatestCheckpoint),
            ("latest_finalized", Epoch::LatestFinalized),
            ("earliest", Epoch::Earliest),
            ("0x10", Epoch::Number(16)),
            ("0x0", Epoch::Number(0)),
        ] {
            assert_eq!(parse_epoch(&json!(s)).unwrap(), e, "{s}");
        }
        assert_eq!(
            parts(parse_epoch(&json!("16")).unwrap_err()).1,
            "Invalid params: Invalid epoch number: missing 0x prefix."
        );
        assert_eq!(
            parts(parse_epoch(&json!(true)).unwrap_err()).1,
            format!("Invalid params: invalid type: boolean `true`, expected {EXPECT_EPOCH}.")
        );
        // 2^64 does not fit: refused, not wrapped.
        assert!(parse_epoch(&json!("0x10000000000000000")).is_err());
    }

    #[test]
    fn state_epochs_also_take_block_hashes_and_objects() {
        let h = format!("0x{}", "22".repeat(32));
        let a = Args::of(
            &params(&format!(
                "[\"hash:{h}\", {{\"blockHash\": \"{h}\"}}, {{\"blockHash\": \"{h}\", \"requirePivot\": false}}, {{\"epochNumber\": \"0x5\"}}, \"latest_state\"]"
            )),
            5,
            5,
        )
        .unwrap();
        let want = H256::repeat_byte(0x22);
        assert!(matches!(
            a.state_epoch(0).unwrap(),
            Some(StateAt::Block { hash, require_pivot: false }) if hash == want
        ));
        assert!(matches!(
            a.state_epoch(1).unwrap(),
            Some(StateAt::Block { hash, require_pivot: true }) if hash == want
        ));
        assert!(matches!(
            a.state_epoch(2).unwrap(),
            Some(StateAt::Block {
                require_pivot: false,
                ..
            })
        ));
        assert!(matches!(
            a.state_epoch(3).unwrap(),
            Some(StateAt::Epoch(Epoch::Number(5)))
        ));
        assert!(matches!(
            a.state_epoch(4).unwrap(),
            Some(StateAt::Epoch(Epoch::LatestState))
        ));
        let bad = Args::of(&params("[{\"epochNumber\": \"5\"}, {}]"), 2, 2).unwrap();
        assert_eq!(
            parts(bad.state_epoch(0).unwrap_err()).1,
            "Invalid params: Invalid block number: missing 0x prefix."
        );
        assert!(parts(bad.state_epoch(1).unwrap_err())
            .1
            .starts_with("Invalid params: invalid type: map, expected an epoch number"));
    }

    #[test]
    fn block_numbers_are_1_to_16_hex_digits() {
        assert_eq!(parse_u64_hex(&json!("0x1f")).unwrap(), 31);
        assert_eq!(parse_u64_hex(&json!("1f")).unwrap(), 31);
        assert_eq!(
            parse_u64_hex(&json!("0xffffffffffffffff")).unwrap(),
            u64::MAX
        );
        assert_eq!(
            parts(parse_u64_hex(&json!("0x")).unwrap_err()).1,
            "Invalid params: invalid length 0, expected a (both 0x-prefixed or not) hex string with length between (0; 16]."
        );
        assert_eq!(
            parts(parse_u64_hex(&json!("0x1ffffffffffffffff")).unwrap_err()).1,
            "Invalid params: invalid length 17, expected a (both 0x-prefixed or not) hex string with length between (0; 16]."
        );
        assert_eq!(
            parts(parse_u64_hex(&json!("0x1g")).unwrap_err()).1,
            "Invalid params: invalid hex character: g, at 1."
        );
    }

    #[test]
    fn addresses_must_be_base32_of_our_network() {
        let a = H160::repeat_byte(0x1a);
        let ours = cfxlight_primitives::address::encode(&a, 2029);
        assert_eq!(parse_address(&json!(ours), 2029).unwrap(), a);
        let mainnet = cfxlight_primitives::address::encode(&a, 1029);
        assert_eq!(
            parts(parse_address(&json!(mainnet), 2029).unwrap_err()),
            (
                -32602,
                "Invalid parameters: address".into(),
                Some(json!("\"network prefix unexpected: ours net2029, got cfx\"").to_string())
            )
        );
        let hex = format!("{a:?}");
        assert_eq!(
            parts(parse_address(&json!(hex), 2029).unwrap_err()).1,
            format!("Invalid params: Invalid base32 address: input {hex} error zero or multiple prefixes.")
        );
        assert_eq!(
            parts(parse_address(&json!(1), 2029).unwrap_err()).1,
            "Invalid params: invalid type: integer `1`, expected a string."
        );
    }
}
