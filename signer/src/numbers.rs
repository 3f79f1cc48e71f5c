//! Quantities as people and js-conflux-sdk write them: JSON numbers, decimal strings, `0x` hex.

use cfxlight_primitives::U256;
use serde_json::Value;

/// Parses a decimal or `0x`-hex unsigned integer of at most 256 bits.
pub fn parse_u256(s: &str) -> Result<U256, String> {
    let s = s.trim();
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        if h.is_empty() || h.len() > 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("invalid hex quantity `{s}`"));
        }
        return U256::from_str_radix(h, 16).map_err(|_| format!("invalid hex quantity `{s}`"));
    }
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "invalid quantity `{s}` (decimal or 0x-hex expected)"
        ));
    }
    U256::from_dec_str(s).map_err(|_| format!("quantity `{s}` does not fit in 256 bits"))
}

/// A quantity from JSON: a non-negative integer number, or a decimal / `0x` string.
pub fn u256_from_json(v: &Value) -> Result<U256, String> {
    match v {
        Value::Number(n) => match n.as_u64() {
            Some(u) => Ok(U256::from(u)),
            // Numbers above u64 or with a fraction: only their exact decimal text is usable.
            None => parse_u256(&n.to_string()),
        },
        Value::String(s) => parse_u256(s),
        other => Err(format!("expected a number or a string, got {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_hex_and_json_numbers_parse_alike() {
        assert_eq!(parse_u256("1000"), Ok(U256::from(1000)));
        assert_eq!(parse_u256("0x3e8"), Ok(U256::from(1000)));
        assert_eq!(u256_from_json(&Value::from(1000)), Ok(U256::from(1000)));
        assert_eq!(u256_from_json(&Value::from("0x3e8")), Ok(U256::from(1000)));
        assert!(parse_u256("-1").is_err());
        assert!(parse_u256("1.5").is_err());
        assert!(parse_u256("0x").is_err());
        assert!(u256_from_json(&Value::from(1.5)).is_err());
        assert!(parse_u256(&"9".repeat(80)).is_err());
    }
}
