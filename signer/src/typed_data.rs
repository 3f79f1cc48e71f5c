//! CIP-23 typed data: EIP-712 with a `CIP23Domain` and Conflux addresses.
//!
//! The hash is `keccak(0x19 ‖ 0x01 ‖ hashStruct(CIP23Domain, domain) ‖ hashStruct(primary,
//! message))`, the second part left out when the primary type is `CIP23Domain` itself
//! (Conflux-Chain/CIPs `CIPs/cip-23.md`). js-conflux-sdk 2.6.0 has no typed-data code; the
//! reference we follow and test against is Conflux's viem-based SDK `cive` 0.7
//! (`utils/signature/hashTypedData.js`, itself MetaMask's `eth-sig-util` v4 encoding):
//! - when `types` has no `CIP23Domain`, its fields are taken from the domain object in the
//!   order `name, version, chainId, verifyingContract, salt` (`getTypesForCIP23Domain`);
//! - `string` and `bytes` fields are hashed, structs are hashed recursively, arrays are
//!   keccak of their elements' 32-byte encodings concatenated;
//! - `encodeType` lists the primary type, then its dependencies sorted by name.
//!
//! Addresses may be written base32 (`cfx:…`, as cive requires) or hex; both encode the 20
//! address bytes. Every malformed input is an [`SignerError::InvalidTypedData`], never a panic.

use std::collections::{BTreeMap, BTreeSet};

use cfxlight_primitives::{address::CfxAddress, keccak256, H160, H256, U256};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::SignerError;

/// Recursion limit for nested structs and arrays (a hostile request cannot blow the stack).
const MAX_DEPTH: usize = 32;

/// One field of a struct type: `{ "name": …, "type": … }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypedField {
    /// Field name.
    pub name: String,
    /// Solidity type name: `uint256`, `address`, `string`, `Person`, `Person[]`, ….
    #[serde(rename = "type")]
    pub ty: String,
}

/// A CIP-23 request in the JSON shape wallets and cive use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TypedData {
    /// Struct types by name (may include `CIP23Domain`).
    pub types: BTreeMap<String, Vec<TypedField>>,
    /// The type of `message`.
    pub primary_type: String,
    /// The domain object (name, version, chainId, verifyingContract, salt).
    #[serde(default)]
    pub domain: Value,
    /// The message, of type `primary_type`.
    #[serde(default)]
    pub message: Value,
}

fn err(msg: impl Into<String>) -> SignerError {
    SignerError::InvalidTypedData(msg.into())
}

impl TypedData {
    /// Parses the JSON form.
    pub fn from_json(json: &str) -> Result<Self, SignerError> {
        serde_json::from_str(json).map_err(|e| err(e.to_string()))
    }

    /// The domain's fields: declared in `types.CIP23Domain`, else derived from the domain.
    fn domain_fields(&self) -> Vec<TypedField> {
        if let Some(fields) = self.types.get("CIP23Domain") {
            return fields.clone();
        }
        let d = &self.domain;
        let f = |name: &str, ty: &str| TypedField {
            name: name.into(),
            ty: ty.into(),
        };
        let mut out = Vec::new();
        // cive getTypesForCIP23Domain: which fields count as present.
        if d.get("name").is_some_and(Value::is_string) {
            out.push(f("name", "string"));
        }
        if d.get("version").is_some_and(truthy) {
            out.push(f("version", "string"));
        }
        if d.get("chainId").is_some_and(Value::is_number) {
            out.push(f("chainId", "uint256"));
        }
        if d.get("verifyingContract").is_some_and(truthy) {
            out.push(f("verifyingContract", "address"));
        }
        if d.get("salt").is_some_and(truthy) {
            out.push(f("salt", "bytes32"));
        }
        out
    }

    /// The struct types with the domain type filled in.
    fn all_types(&self) -> BTreeMap<String, Vec<TypedField>> {
        let mut types = self.types.clone();
        types.insert("CIP23Domain".into(), self.domain_fields());
        types
    }

    /// The CIP-23 hash this request is signed over: keccak of [`TypedData::signing_payload`].
    pub fn hash(&self) -> Result<H256, SignerError> {
        Ok(keccak256(self.signing_payload()?))
    }

    /// The exact bytes hashed: `0x19 ‖ 0x01 ‖ domain separator ‖ hashStruct(message)`.
    pub fn signing_payload(&self) -> Result<Vec<u8>, SignerError> {
        let types = self.all_types();
        let domain = if self.domain.is_null() {
            Value::Object(Default::default())
        } else {
            self.domain.clone()
        };
        let mut buf = vec![0x19, 0x01];
        buf.extend_from_slice(hash_struct(&types, "CIP23Domain", &domain, 0)?.as_bytes());
        if self.primary_type != "CIP23Domain" {
            if !types.contains_key(&self.primary_type) {
                return Err(err(format!(
                    "primary type `{}` is not defined",
                    self.primary_type
                )));
            }
            buf.extend_from_slice(
                hash_struct(&types, &self.primary_type, &self.message, 0)?.as_bytes(),
            );
        }
        Ok(buf)
    }
}

/// JavaScript truthiness for the values a domain can hold.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

type Types = BTreeMap<String, Vec<TypedField>>;

/// The base type name of `Person[]` / `Person[3][]` (cive matches `^\w*`).
fn base_type(ty: &str) -> &str {
    let end = ty
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(ty.len());
    &ty[..end]
}

fn find_deps(types: &Types, ty: &str, out: &mut BTreeSet<String>, depth: usize) {
    let base = base_type(ty);
    if depth > MAX_DEPTH || out.contains(base) {
        return;
    }
    let Some(fields) = types.get(base) else {
        return;
    };
    out.insert(base.to_string());
    for f in fields {
        find_deps(types, &f.ty, out, depth + 1);
    }
}

/// `Mail(Person from,Person to,string contents)Person(string name,address wallet)`.
pub fn encode_type(types: &BTreeMap<String, Vec<TypedField>>, primary: &str) -> String {
    let mut deps = BTreeSet::new();
    find_deps(types, primary, &mut deps, 0);
    deps.remove(primary);
    let mut out = String::new();
    for name in std::iter::once(primary).chain(deps.iter().map(String::as_str)) {
        let fields = types.get(name).map(Vec::as_slice).unwrap_or_default();
        out.push_str(name);
        out.push('(');
        let parts: Vec<String> = fields
            .iter()
            .map(|f| format!("{} {}", f.ty, f.name))
            .collect();
        out.push_str(&parts.join(","));
        out.push(')');
    }
    out
}

fn hash_struct(types: &Types, ty: &str, data: &Value, depth: usize) -> Result<H256, SignerError> {
    Ok(keccak256(encode_data(types, ty, data, depth)?))
}

fn encode_data(
    types: &Types,
    ty: &str,
    data: &Value,
    depth: usize,
) -> Result<Vec<u8>, SignerError> {
    if depth > MAX_DEPTH {
        return Err(err("typed data nested too deeply"));
    }
    let fields = types
        .get(ty)
        .ok_or_else(|| err(format!("type `{ty}` is not defined")))?;
    let obj = data
        .as_object()
        .ok_or_else(|| err(format!("value of type `{ty}` must be an object")))?;
    let mut out = Vec::with_capacity(32 * (fields.len() + 1));
    out.extend_from_slice(keccak256(encode_type(types, ty)).as_bytes());
    for f in fields {
        let value = obj
            .get(&f.name)
            .ok_or_else(|| err(format!("field `{}` of `{ty}` is missing", f.name)))?;
        out.extend_from_slice(&encode_field(types, &f.ty, value, depth + 1)?);
    }
    Ok(out)
}

/// One field's 32-byte word.
fn encode_field(
    types: &Types,
    ty: &str,
    value: &Value,
    depth: usize,
) -> Result<[u8; 32], SignerError> {
    if depth > MAX_DEPTH {
        return Err(err("typed data nested too deeply"));
    }
    if types.contains_key(ty) {
        return Ok(hash_struct(types, ty, value, depth)?.0);
    }
    if let Some(open) = ty
        .strip_suffix(']')
        .and_then(|t| t.rfind('[').map(|i| (t, i)))
    {
        let (t, i) = open;
        let inner = &t[..i];
        let len_spec = &t[i + 1..];
        let items = value
            .as_array()
            .ok_or_else(|| err(format!("value of type `{ty}` must be an array")))?;
        if !len_spec.is_empty() {
            let n: usize = len_spec
                .parse()
                .map_err(|_| err(format!("bad array length in `{ty}`")))?;
            if n != items.len() {
                return Err(err(format!("`{ty}` needs {n} items, got {}", items.len())));
            }
        }
        let mut buf = Vec::with_capacity(32 * items.len());
        for item in items {
            buf.extend_from_slice(&encode_field(types, inner, item, depth + 1)?);
        }
        return Ok(keccak256(buf).0);
    }
    match ty {
        "string" => {
            let s = value
                .as_str()
                .ok_or_else(|| err("a `string` value must be a JSON string"))?;
            Ok(keccak256(s.as_bytes()).0)
        }
        "bytes" => Ok(keccak256(hex_value(value, "bytes")?).0),
        "bool" => match value {
            Value::Bool(b) => Ok(word_u256(U256::from(u8::from(*b)))),
            _ => Err(err("a `bool` value must be true or false")),
        },
        "address" => {
            let s = value
                .as_str()
                .ok_or_else(|| err("an `address` value must be a string"))?;
            let addr = parse_address(s)?;
            let mut w = [0u8; 32];
            w[12..].copy_from_slice(addr.as_bytes());
            Ok(w)
        }
        _ => {
            if let Some(n) = ty.strip_prefix("bytes") {
                let n: usize = n.parse().map_err(|_| err(format!("unknown type `{ty}`")))?;
                if !(1..=32).contains(&n) {
                    return Err(err(format!("unknown type `{ty}`")));
                }
                let b = hex_value(value, ty)?;
                if b.len() != n {
                    return Err(err(format!("`{ty}` needs {n} bytes, got {}", b.len())));
                }
                let mut w = [0u8; 32];
                w[..n].copy_from_slice(&b);
                Ok(w)
            } else if let Some(bits) = ty.strip_prefix("uint") {
                let bits = int_bits(bits, ty)?;
                let (neg, mag) = parse_integer(value)?;
                if neg && !mag.is_zero() {
                    return Err(err(format!("`{ty}` cannot be negative")));
                }
                if bits < 256 && mag >> bits != U256::zero() {
                    return Err(err(format!("value out of range for `{ty}`")));
                }
                Ok(word_u256(mag))
            } else if let Some(bits) = ty.strip_prefix("int") {
                let bits = int_bits(bits, ty)?;
                let (neg, mag) = parse_integer(value)?;
                // Range: -2^(bits-1) ..= 2^(bits-1)-1.
                let limit = U256::one() << (bits - 1);
                if (!neg && mag >= limit) || (neg && mag > limit) {
                    return Err(err(format!("value out of range for `{ty}`")));
                }
                let word = if neg {
                    (!mag).overflowing_add(U256::one()).0
                } else {
                    mag
                };
                Ok(word_u256(word))
            } else {
                Err(err(format!("unknown type `{ty}`")))
            }
        }
    }
}

fn word_u256(v: U256) -> [u8; 32] {
    v.to_big_endian()
}

fn int_bits(bits: &str, ty: &str) -> Result<usize, SignerError> {
    let bits: usize = if bits.is_empty() {
        256
    } else {
        bits.parse()
            .map_err(|_| err(format!("unknown type `{ty}`")))?
    };
    if bits == 0 || bits > 256 || !bits.is_multiple_of(8) {
        return Err(err(format!("unknown type `{ty}`")));
    }
    Ok(bits)
}

/// A JSON number or a decimal / `0x` hex string, possibly negative: (negative, magnitude).
fn parse_integer(value: &Value) -> Result<(bool, U256), SignerError> {
    let text = match value {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_string(),
        _ => return Err(err("an integer must be a number or a string")),
    };
    let (neg, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.as_str()),
    };
    let mag = crate::numbers::parse_u256(body).map_err(err)?;
    Ok((neg, mag))
}

fn hex_value(value: &Value, ty: &str) -> Result<Vec<u8>, SignerError> {
    let s = value
        .as_str()
        .and_then(|s| s.strip_prefix("0x"))
        .ok_or_else(|| err(format!("a `{ty}` value must be a 0x-hex string")))?;
    // cive left-pads an odd-length hex string with a zero.
    let padded;
    let s = if s.len() % 2 == 1 {
        padded = format!("0{s}");
        padded.as_str()
    } else {
        s
    };
    hex::decode(s).map_err(|_| err(format!("a `{ty}` value must be a 0x-hex string")))
}

/// A base32 (`cfx:…`) or 0x-hex address.
pub(crate) fn parse_address(s: &str) -> Result<H160, SignerError> {
    let s = s.trim();
    if let Some(h) = s.strip_prefix("0x") {
        let b = hex::decode(h).map_err(|_| err(format!("invalid address `{s}`")))?;
        if b.len() != 20 {
            return Err(err(format!("invalid address `{s}`")));
        }
        return Ok(H160::from_slice(&b));
    }
    s.parse::<CfxAddress>()
        .map(|a| a.address)
        .map_err(|e| err(format!("invalid address `{s}`: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_type_lists_primary_then_sorted_dependencies() {
        let td = TypedData::from_json(
            r#"{"types":{"Mail":[{"name":"from","type":"Person"},{"name":"to","type":"Person[]"},{"name":"contents","type":"string"}],
                "Person":[{"name":"name","type":"string"},{"name":"wallet","type":"address"}]},
                "primaryType":"Mail","domain":{},"message":{}}"#,
        )
        .unwrap();
        assert_eq!(
            encode_type(&td.types, "Mail"),
            "Mail(Person from,Person[] to,string contents)Person(string name,address wallet)"
        );
    }

    // cive 0.7 utils/signature/hashTypedData.test.ts "minimal valid typed message".
    #[test]
    fn minimal_domain_only_message_matches_cive() {
        let td = TypedData::from_json(
            r#"{"types":{"CIP23Domain":[]},"primaryType":"CIP23Domain","domain":{}}"#,
        )
        .unwrap();
        assert_eq!(
            td.hash().unwrap(),
            "0x1d8420c8219e0be91d1804bd0f45e74f5b99048407578b90b349d7e591c0db25"
                .parse()
                .unwrap()
        );
    }

    #[test]
    fn integers_are_range_checked_and_negative_ints_are_twos_complement() {
        let types = Types::new();
        let minus_one = encode_field(&types, "int8", &Value::from(-1), 0).unwrap();
        assert_eq!(minus_one, [0xff; 32]);
        assert!(encode_field(&types, "int8", &Value::from(128), 0).is_err());
        assert!(encode_field(&types, "int8", &Value::from(-128), 0).is_ok());
        assert!(encode_field(&types, "uint8", &Value::from(256), 0).is_err());
        assert!(encode_field(&types, "uint8", &Value::from(-1), 0).is_err());
        assert_eq!(
            encode_field(&types, "uint256", &Value::from("0x0102"), 0).unwrap()[30..],
            [1, 2]
        );
        assert!(encode_field(&types, "bytes33", &Value::from("0x00"), 0).is_err());
        assert!(encode_field(&types, "foo", &Value::from(1), 0).is_err());
    }
}
