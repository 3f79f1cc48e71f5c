//! CIP-37 base32 addresses (`cfx:aa…`, `cfxtest:…`, `net2029:…`).
//!
//! Layout: `prefix ":" base32(version ‖ body) ‖ checksum`, with Conflux's own 32-letter
//! alphabet (no i, l, o, q), a BCH checksum of 40 bits and an optional upper-case verbose
//! form `CFX:TYPE.USER:…`. Source: CIP-37 and conflux-rust `crates/cfx_addr`. Decoding is
//! strict: mixed case, a bad checksum, a non-canonical prefix, non-zero padding or a body
//! whose length disagrees with the version byte are all errors.

use std::{fmt, str::FromStr};

use ethereum_types::H160;
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

/// Conflux's base32 alphabet: a–z and 0–9 without `i`, `l`, `o`, `q`.
const CHARSET: &[u8; 32] = b"abcdefghjkmnprstuvwxyz0123456789";
/// Network id of Conflux mainnet (`cfx:` prefix).
pub const MAINNET_NETWORK_ID: u64 = 1029;
/// Network id of Conflux testnet (`cfxtest:` prefix).
pub const TESTNET_NETWORK_ID: u64 = 1;

/// Why a base32 address could not be encoded or decoded.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum AddressError {
    /// The string mixes upper and lower case letters.
    #[error("mixed-case address")]
    MixedCase,
    /// No `prefix:` part.
    #[error("missing network prefix (expected e.g. `cfx:`, `cfxtest:` or `net<id>:`)")]
    MissingPrefix,
    /// The prefix is not `cfx`, `cfxtest` or a canonical `net<id>` with id ∉ {1, 1029}.
    #[error("invalid network prefix `{0}`")]
    InvalidPrefix(String),
    /// A character outside the base32 alphabet.
    #[error("invalid base32 character {0:?}")]
    InvalidChar(char),
    /// The BCH checksum does not verify; the residue it left (0 when it verifies), which
    /// conflux-rust's message names.
    #[error("invalid checksum (actual {0} != 0)")]
    Checksum(u64),
    /// The body has a length Conflux does not define.
    #[error("invalid address length ({0} bytes)")]
    InvalidLength(usize),
    /// Non-zero or over-long padding bits in the base32 payload.
    #[error("invalid base32 padding")]
    InvalidPadding,
    /// Reserved bits of the version byte are set.
    #[error("unrecognised version byte 0x{0:02x}")]
    VersionNotRecognized(u8),
    /// An option part (between prefix and payload) is not `key.value`.
    #[error("invalid address option `{0}`")]
    InvalidOption(String),
    /// The verbose form names a type the address does not have.
    #[error("address type mismatch: option says {expected}, address is {actual}")]
    TypeMismatch {
        /// Type named in the verbose form.
        expected: AddressType,
        /// Type derived from the address bytes.
        actual: AddressType,
    },
    /// A 20-byte account address was required.
    #[error("expected a 20-byte account address, got {0} bytes")]
    NotAnAccount(usize),
    /// The address belongs to another network than the one expected.
    #[error("address is for network {actual}, expected network {expected}")]
    WrongNetwork {
        /// Network id that was required.
        expected: u64,
        /// Network id in the address.
        actual: u64,
    },
}

/// What kind of account an address names, from its top nibble (conflux-rust `address_util.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AddressType {
    /// `0x0…` and not all-zero: internal contracts.
    Builtin,
    /// `0x8…`: a contract.
    Contract,
    /// The all-zero address.
    Null,
    /// `0x1…`: an externally owned account.
    User,
    /// Any other top nibble.
    Unknown,
}

impl AddressType {
    /// Classifies a 20-byte address by its type bits.
    pub fn of(address: &H160) -> AddressType {
        match address.0[0] & 0xf0 {
            0x00 if address.is_zero() => AddressType::Null,
            0x00 => AddressType::Builtin,
            0x10 => AddressType::User,
            0x80 => AddressType::Contract,
            _ => AddressType::Unknown,
        }
    }

    /// The lower-case name used in the verbose form and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            AddressType::Builtin => "builtin",
            AddressType::Contract => "contract",
            AddressType::Null => "null",
            AddressType::User => "user",
            AddressType::Unknown => "unknown",
        }
    }

    fn parse(s: &str) -> AddressType {
        match s {
            "builtin" => AddressType::Builtin,
            "contract" => AddressType::Contract,
            "null" => AddressType::Null,
            "user" => AddressType::User,
            _ => AddressType::Unknown,
        }
    }
}

impl fmt::Display for AddressType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The address prefix of a network id: `cfx`, `cfxtest` or `net<id>`.
pub fn network_prefix(network_id: u64) -> String {
    match network_id {
        MAINNET_NETWORK_ID => "cfx".to_string(),
        TESTNET_NETWORK_ID => "cfxtest".to_string(),
        n => format!("net{n}"),
    }
}

/// The network id a prefix stands for; `net1`, `net1029` and non-canonical numbers are refused.
pub fn parse_network_prefix(prefix: &str) -> Result<u64, AddressError> {
    match prefix {
        "cfx" => Ok(MAINNET_NETWORK_ID),
        "cfxtest" => Ok(TESTNET_NETWORK_ID),
        p => {
            let bad = || AddressError::InvalidPrefix(p.to_string());
            let digits = p.strip_prefix("net").ok_or_else(bad)?;
            // Only the canonical decimal form: "net029" would name net29 with a different checksum.
            if digits.is_empty()
                || !digits.bytes().all(|b| b.is_ascii_digit())
                || (digits.len() > 1 && digits.starts_with('0'))
            {
                return Err(bad());
            }
            let id: u64 = digits.parse().map_err(|_| bad())?;
            if id == MAINNET_NETWORK_ID || id == TESTNET_NETWORK_ID {
                return Err(bad());
            }
            Ok(id)
        }
    }
}

fn polymod(values: impl Iterator<Item = u8>) -> u64 {
    const GEN: [u64; 5] = [
        0x98f2bc8e61,
        0x79b76d99e2,
        0xf33e5fb3c4,
        0xae2eabe2a8,
        0x1e4f43e470,
    ];
    let mut c: u64 = 1;
    for d in values {
        let c0 = (c >> 35) as u8;
        c = ((c & 0x07_ffff_ffff) << 5) ^ u64::from(d);
        for (i, g) in GEN.iter().enumerate() {
            if c0 & (1 << i) != 0 {
                c ^= g;
            }
        }
    }
    c ^ 1
}

/// Checksum input for a prefix: the low 5 bits of each character, then a 0 separator.
fn expand_prefix(prefix: &str) -> impl Iterator<Item = u8> + '_ {
    prefix.bytes().map(|b| b & 0x1f).chain(std::iter::once(0))
}

/// Regroups bits; on decode (`pad = false`) leftover bits must be fewer than `from` and zero.
fn convert_bits(data: &[u8], from: u32, to: u32, pad: bool) -> Result<Vec<u8>, AddressError> {
    let mut acc: u32 = 0;
    let mut bits: u32 = 0;
    let maxv: u32 = (1 << to) - 1;
    let mut out = Vec::with_capacity(data.len() * from as usize / to as usize + 1);
    for &v in data {
        acc = (acc << from) | u32::from(v);
        bits += from;
        while bits >= to {
            bits -= to;
            out.push(((acc >> bits) & maxv) as u8);
        }
        acc &= (1 << bits) - 1;
    }
    if pad {
        if bits > 0 {
            out.push(((acc << (to - bits)) & maxv) as u8);
        }
    } else if bits >= from || acc != 0 {
        return Err(AddressError::InvalidPadding);
    }
    Ok(out)
}

fn size_code(len: usize) -> Option<u8> {
    Some(match len {
        20 => 0,
        24 => 1,
        28 => 2,
        32 => 3,
        40 => 4,
        48 => 5,
        56 => 6,
        64 => 7,
        _ => return None,
    })
}

/// Encodes raw address bytes (20 for accounts; 24–64 exist only for CIP-37's test vectors).
///
/// `verbose` gives the upper-case form with the address type, e.g. `CFX:TYPE.USER:AAJG…`.
pub fn encode_raw(raw: &[u8], network_id: u64, verbose: bool) -> Result<String, AddressError> {
    let version = size_code(raw.len()).ok_or(AddressError::InvalidLength(raw.len()))?;
    let prefix = network_prefix(network_id);
    let mut payload = Vec::with_capacity(1 + raw.len());
    payload.push(version);
    payload.extend_from_slice(raw);
    let five = convert_bits(&payload, 8, 5, true)?;
    let checksum = polymod(
        expand_prefix(&prefix)
            .chain(five.iter().copied())
            .chain([0u8; 8]),
    );
    let mut out = String::with_capacity(prefix.len() + 20 + five.len() + 8);
    out.push_str(&prefix);
    out.push(':');
    if verbose {
        let ty = if raw.len() == 20 {
            AddressType::of(&H160::from_slice(raw))
        } else {
            AddressType::Unknown
        };
        out.push_str("type.");
        out.push_str(ty.as_str());
        out.push(':');
    }
    out.extend(five.iter().map(|&b| CHARSET[b as usize] as char));
    out.extend(
        (0..8)
            .rev()
            .map(|i| CHARSET[((checksum >> (i * 5)) & 31) as usize] as char),
    );
    if verbose {
        out.make_ascii_uppercase();
    }
    Ok(out)
}

/// Encodes a 20-byte account address for a network (simple lower-case form).
pub fn encode(address: &H160, network_id: u64) -> String {
    // 20 bytes always have a size code, so this cannot fail.
    encode_raw(address.as_bytes(), network_id, false).unwrap_or_default()
}

/// A decoded base32 address of any defined length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedAddress {
    /// The address body (20 bytes for every real Conflux address).
    pub bytes: Vec<u8>,
    /// Network id from the prefix.
    pub network_id: u64,
}

/// Base32 value of each ASCII byte (either case), 0xff where the byte is not in the set:
/// every address a dapp sends is decoded, and a search of the set per character showed
/// in profiles of `cfx_getBalance`.
const CHAR_VALUES: [u8; 128] = {
    let mut t = [0xffu8; 128];
    let mut i = 0;
    while i < CHARSET.len() {
        t[CHARSET[i] as usize] = i as u8;
        t[CHARSET[i].to_ascii_uppercase() as usize] = i as u8;
        i += 1;
    }
    t
};

fn char_value(c: char) -> Result<u8, AddressError> {
    match CHAR_VALUES.get(c as usize) {
        Some(&v) if v != 0xff => Ok(v),
        _ => Err(AddressError::InvalidChar(c)),
    }
}

/// Decodes a base32 address of any defined length, checking everything CIP-37 defines.
pub fn decode_raw(s: &str) -> Result<DecodedAddress, AddressError> {
    let has_lower = s.chars().any(|c| c.is_lowercase());
    let has_upper = s.chars().any(|c| c.is_uppercase());
    if has_lower && has_upper {
        return Err(AddressError::MixedCase);
    }
    let lower = s.to_ascii_lowercase();
    let parts: Vec<&str> = lower.split(':').collect();
    if parts.len() < 2 {
        return Err(AddressError::MissingPrefix);
    }
    let prefix = parts[0];
    let network_id = parse_network_prefix(prefix)?;
    let mut expected_type = None;
    for opt in &parts[1..parts.len() - 1] {
        let (k, v) = opt
            .split_once('.')
            .filter(|(_, v)| !v.contains('.'))
            .ok_or_else(|| AddressError::InvalidOption((*opt).to_string()))?;
        if k == "type" {
            expected_type = Some(AddressType::parse(v));
        }
    }
    let payload_str = parts[parts.len() - 1];
    // Sized up front: collecting through `Result` cannot know the length, and the
    // reallocations showed in profiles.
    let mut five = Vec::with_capacity(payload_str.len());
    for c in payload_str.chars() {
        five.push(char_value(c)?);
    }
    if five.len() <= 8 {
        return Err(AddressError::InvalidLength(0));
    }
    let residue = polymod(expand_prefix(prefix).chain(five.iter().copied()));
    if residue != 0 {
        return Err(AddressError::Checksum(residue));
    }
    let payload = convert_bits(&five[..five.len() - 8], 5, 8, false)?;
    let (&version, body) = payload
        .split_first()
        .ok_or(AddressError::InvalidLength(0))?;
    if version & 0xf8 != 0 {
        return Err(AddressError::VersionNotRecognized(version));
    }
    if size_code(body.len()) != Some(version) {
        return Err(AddressError::InvalidLength(body.len()));
    }
    if let (Some(expected), 20) = (expected_type, body.len()) {
        let actual = AddressType::of(&H160::from_slice(body));
        if actual != expected {
            return Err(AddressError::TypeMismatch { expected, actual });
        }
    }
    Ok(DecodedAddress {
        bytes: body.to_vec(),
        network_id,
    })
}

/// A Conflux account address together with the network it is written for.
///
/// Its `Display`/`FromStr` and serde forms are the base32 string, as in conflux-rust's RPC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CfxAddress {
    /// The 20 address bytes (hex form `0x1…` for users).
    pub address: H160,
    /// The network id the base32 form is written for.
    pub network_id: u64,
}

impl CfxAddress {
    /// Pairs an address with its network.
    pub fn new(address: H160, network_id: u64) -> Self {
        CfxAddress {
            address,
            network_id,
        }
    }

    /// The address type from its top nibble.
    pub fn address_type(&self) -> AddressType {
        AddressType::of(&self.address)
    }

    /// The upper-case verbose form, e.g. `CFX:TYPE.USER:AAJG…`.
    pub fn to_verbose(&self) -> String {
        encode_raw(self.address.as_bytes(), self.network_id, true).unwrap_or_default()
    }

    /// Parses and requires the given network id.
    pub fn parse_for_network(s: &str, network_id: u64) -> Result<Self, AddressError> {
        let a: CfxAddress = s.parse()?;
        if a.network_id != network_id {
            return Err(AddressError::WrongNetwork {
                expected: network_id,
                actual: a.network_id,
            });
        }
        Ok(a)
    }
}

impl fmt::Display for CfxAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&encode(&self.address, self.network_id))
    }
}

impl FromStr for CfxAddress {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, AddressError> {
        let d = decode_raw(s)?;
        if d.bytes.len() != 20 {
            return Err(AddressError::NotAnAccount(d.bytes.len()));
        }
        Ok(CfxAddress {
            address: H160::from_slice(&d.bytes),
            network_id: d.network_id,
        })
    }
}

impl Serialize for CfxAddress {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for CfxAddress {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    fn roundtrip(network_id: u64, hex_body: &str, base32: &str) {
        let raw = h(hex_body);
        assert_eq!(encode_raw(&raw, network_id, false).unwrap(), base32);
        let d = decode_raw(base32).unwrap();
        assert_eq!(d.bytes, raw);
        assert_eq!(d.network_id, network_id);
        // Upper case (as in QR codes) decodes too.
        assert_eq!(decode_raw(&base32.to_uppercase()).unwrap(), d);
    }

    // conflux-rust crates/cfx_addr/tests/misc.rs `spec_test_vectors` (the CIP-37 vectors).
    #[test]
    fn cip37_spec_vectors() {
        let v = [
            (
                "85d80245dc02f5a89589e1f19c5c718e405b56cd",
                "cfx:acc7uawf5ubtnmezvhu9dhc6sghea0403y2dgpyfjp",
                "cfxtest:acc7uawf5ubtnmezvhu9dhc6sghea0403ywjz6wtpg",
            ),
            (
                "1a2f80341409639ea6a35bbcab8299066109aa55",
                "cfx:aarc9abycue0hhzgyrr53m6cxedgccrmmyybjgh4xg",
                "cfxtest:aarc9abycue0hhzgyrr53m6cxedgccrmmy8m50bu1p",
            ),
            (
                "19c742cec42b9e4eff3b84cdedcde2f58a36f44f",
                "cfx:aap6su0s2uz36x19hscp55sr6n42yr1yk6r2rx2eh7",
                "cfxtest:aap6su0s2uz36x19hscp55sr6n42yr1yk6hx8d8sd1",
            ),
            (
                "84980a94d94f54ac335109393c08c866a21b1b0e",
                "cfx:acckucyy5fhzknbxmeexwtaj3bxmeg25b2b50pta6v",
                "cfxtest:acckucyy5fhzknbxmeexwtaj3bxmeg25b2nuf6km25",
            ),
            (
                "1cdf3969a428a750b89b33cf93c96560e2bd17d1",
                "cfx:aasr8snkyuymsyf2xp369e8kpzusftj14ec1n0vxj1",
                "cfxtest:aasr8snkyuymsyf2xp369e8kpzusftj14ej62g13p7",
            ),
            (
                "0888000000000000000000000000000000000002",
                "cfx:aaejuaaaaaaaaaaaaaaaaaaaaaaaaaaaajrwuc9jnb",
                "cfxtest:aaejuaaaaaaaaaaaaaaaaaaaaaaaaaaaajh3dw3ctn",
            ),
            (
                "106d49f8505410eb4e671d51f7d96d2c87807b09",
                "cfx:aajg4wt2mbmbb44sp6szd783ry0jtad5bea80xdy7p",
                "",
            ),
        ];
        for (hex_body, main, test) in v {
            roundtrip(1029, hex_body, main);
            if !test.is_empty() {
                roundtrip(1, hex_body, test);
            }
        }
    }

    // conflux-rust crates/cfx_addr/tests/misc.rs `bch_tests`: every defined body length.
    #[test]
    fn bch_vectors_of_every_length() {
        let v = [
            ("F5BF48B397DAE70BE82B3CCA4793F8EB2B6CDAC9", "cfx:ad458wfxw9rssc9jfp8pyv6x9dzw05g43eaexucerd", "cfxtest:ad458wfxw9rssc9jfp8pyv6x9dzw05g43emtaaeskk"),
            ("7ADBF6C17084BC86C1706827B41A56F5CA32865925E946EA", "cfx:af7r170bsccn3b0bsbyctra4m546ypygnew8wv1mvf8m112x", "cfxtest:af7r170bsccn3b0bsbyctra4m546ypygnew8wv1m3r7tza3c"),
            ("3A84F9CF51AAE98A3BB3A78BF16A6183790B18719126325BFC0C075B", "cfx:aj7jk8stmgzsxcv50sx216nmpgb1wc22sgjwppw59ugas02txy0h0t7", "cfxtest:aj7jk8stmgzsxcv50sx216nmpgb1wc22sgjwppw59ugas02wsmch583"),
            ("3173EF6623C6B48FFD1A3DCC0CC6489B0A07BB47A37F47CFEF4FE69DE825C060", "cfx:ap21h55getdnkd97dj862dggkcruyb75j8v18v8t77h8rhtje1aga32bnvhnc", "cfxtest:ap21h55getdnkd97dj862dggkcruyb75j8v18v8t77h8rhtje1agavx9zhzwp"),
            ("C07138323E00FA4FC122D3B85B9628EA810B3F381706385E289B0B25631197D194B5C238BEB136FB", "cfx:axahcsbwh2atyx8benk5u060fdzjcc39hanupsc8fcru0kndcgn7dffz2j6n7pk09pg68vdbde", "cfxtest:axahcsbwh2atyx8benk5u060fdzjcc39hanupsc8fcru0kndcgn7dffz2j6n7pk09pxatf685e"),
            ("E361CA9A7F99107C17A622E047E3745D3E19CF804ED63C5C40C6BA763696B98241223D8CE62AD48D863F4CB18C930E4C", "cfx:a1v0dwy4t8pva9a1y2vsav9dsvsx6gstubhrptc6jddny7v0w462eukch0gspm0yv0dd8xfvvwku6xa0hwdegfu", "cfxtest:a1v0dwy4t8pva9a1y2vsav9dsvsx6gstubhrptc6jddny7v0w462eukch0gspm0yv0dd8xfvvwku6xajp7m5d1h"),
            ("D9FA7C4C6EF56DC4FF423BAAE6D495DBFF663D034A72D1DC7D52CBFE7D1E6858F9D523AC0A7A5C34077638E4DD1A701BD017842789982041", "cfx:a5p9y9cpr5405vh9jj74z30yw1r983v7arfhfys6tzkp19x7d3yfv8szes0ay8w6gud1pshe5yrhag8uc8cctcp2ebaux4tccw89", "cfxtest:a5p9y9cpr5405vh9jj74z30yw1r983v7arfhfys6tzkp19x7d3yfv8szes0ay8w6gud1pshe5yrhag8uc8cctcp2ebaukp0zsjsz"),
            ("D0F346310D5513D9E01E299978624BA883E6BDA8F4C60883C10F28C2967E67EC77ECC7EEEAEAFC6DA89FAD72D11AC961E164678B868AEEEC5F2C1DA08884175B", "cfx:a9jtgvvvbzmvh0tad2y3w8dcksyjh3z7zd4ppced2ehwvuy0t3x8279p291sz416r0yk9nnw4erpw2tbpvx21bym750f8na7ycejjf45zwwu0u48", "cfxtest:a9jtgvvvbzmvh0tad2y3w8dcksyjh3z7zd4ppced2ehwvuy0t3x8279p291sz416r0yk9nnw4erpw2tbpvx21bym750f8na7ycejjf45f60abr8p"),
        ];
        for (hex_body, main, test) in v {
            roundtrip(1029, &hex_body.to_lowercase(), main);
            roundtrip(1, &hex_body.to_lowercase(), test);
        }
    }

    #[test]
    fn verbose_form_carries_type_and_round_trips() {
        let a: H160 = "106d49f8505410eb4e671d51f7d96d2c87807b09".parse().unwrap();
        let c = CfxAddress::new(a, 1029);
        assert_eq!(
            c.to_verbose(),
            "CFX:TYPE.USER:AAJG4WT2MBMBB44SP6SZD783RY0JTAD5BEA80XDY7P"
        );
        assert_eq!(c.to_verbose().parse::<CfxAddress>().unwrap(), c);
        // A type option that contradicts the bytes is refused.
        assert_eq!(
            "CFX:TYPE.CONTRACT:AAJG4WT2MBMBB44SP6SZD783RY0JTAD5BEA80XDY7P".parse::<CfxAddress>(),
            Err(AddressError::TypeMismatch {
                expected: AddressType::Contract,
                actual: AddressType::User
            })
        );
        let staking: H160 = "0888000000000000000000000000000000000002".parse().unwrap();
        assert_eq!(AddressType::of(&staking), AddressType::Builtin);
        assert_eq!(AddressType::of(&H160::zero()), AddressType::Null);
        assert_eq!(
            AddressType::of(&"8000000000000000000000000000000000000001".parse().unwrap()),
            AddressType::Contract
        );
    }

    #[test]
    fn custom_network_prefix() {
        let a: H160 = "1a2f80341409639ea6a35bbcab8299066109aa55".parse().unwrap();
        let s = encode(&a, 2029);
        assert!(s.starts_with("net2029:"), "{s}");
        let back: CfxAddress = s.parse().unwrap();
        assert_eq!((back.address, back.network_id), (a, 2029));
        assert_eq!(
            CfxAddress::parse_for_network(&s, 1029),
            Err(AddressError::WrongNetwork {
                expected: 1029,
                actual: 2029
            })
        );
    }

    #[test]
    fn strict_errors() {
        let good = "cfx:aajg4wt2mbmbb44sp6szd783ry0jtad5bea80xdy7p";
        assert_eq!(
            decode_raw("cfx:aajg4wt2mbmbb44sp6szd783ry0jtad5bea80xdy7P"),
            Err(AddressError::MixedCase)
        );
        assert_eq!(
            decode_raw("cfx:aajg4wt2mbmbb44sp6szd783ry0jtad5bea80xdy7q"),
            Err(AddressError::InvalidChar('q'))
        );
        assert_eq!(
            decode_raw("cfx:aajg4wt2mbmbb44sp6szd783ry0jtad5bea80xdy7a"),
            Err(AddressError::Checksum(12))
        );
        assert!(matches!(
            decode_raw(&good.replacen("cfx:", "cfxtest:", 1)),
            Err(AddressError::Checksum(r)) if r != 0
        ));
        assert_eq!(
            decode_raw("aajg4wt2mbmbb44sp6szd783ry0jtad5bea80xdy7p"),
            Err(AddressError::MissingPrefix)
        );
        for p in ["btc", "net1", "net1029", "net", "net029", "netx"] {
            assert_eq!(
                decode_raw(&format!("{p}:aajg4wt2mbmbb44sp6szd783ry0jtad5bea80xdy7p")),
                Err(AddressError::InvalidPrefix(p.to_string())),
                "{p}"
            );
        }
        assert_eq!(decode_raw("cfx:"), Err(AddressError::InvalidLength(0)));
        assert_eq!(
            encode_raw(&[0u8; 21], 1029, false),
            Err(AddressError::InvalidLength(21))
        );
        // A 24-byte body decodes raw but is not an account address.
        assert_eq!(
            "cfx:af7r170bsccn3b0bsbyctra4m546ypygnew8wv1mvf8m112x".parse::<CfxAddress>(),
            Err(AddressError::NotAnAccount(24))
        );
    }

    #[test]
    fn serde_uses_base32() {
        let c: CfxAddress = "cfx:aajg4wt2mbmbb44sp6szd783ry0jtad5bea80xdy7p"
            .parse()
            .unwrap();
        let j = serde_json::to_string(&c).unwrap();
        assert_eq!(j, "\"cfx:aajg4wt2mbmbb44sp6szd783ry0jtad5bea80xdy7p\"");
        assert_eq!(serde_json::from_str::<CfxAddress>(&j).unwrap(), c);
        assert!(serde_json::from_str::<CfxAddress>(
            "\"0x106d49f8505410eb4e671d51f7d96d2c87807b09\""
        )
        .is_err());
    }
}
