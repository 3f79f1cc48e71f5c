//! Unsigned transactions in js-conflux-sdk's JSON shape, for `cfxlight signer sign-tx`.
//!
//! Field names as js-conflux-sdk's `Transaction` takes them: `from`, `to`, `nonce`,
//! `gasPrice` (types 0 and 1) or `maxFeePerGas` + `maxPriorityFeePerGas` (type 2), `gas`,
//! `storageLimit`, `epochHeight`, `value`, `data`, `type`, `accessList`, `chainId`.
//! Numbers are JSON numbers, decimal strings or `0x` strings; addresses are base32 or hex.
//! Nothing is filled from the network: `nonce`, `gas`, `epochHeight` and the fee fields are
//! required; `value`, `storageLimit` default to 0, `data` to empty, `to` absent means a
//! deployment. `type` defaults to 2 when `maxFeePerGas` is given, else 0. Unknown fields are
//! refused (a typo must not silently drop a field).

use cfxlight_primitives::{
    transaction::{AccessListItem, Action, Transaction, TxKind},
    H160, H256, U256,
};
use serde_json::{Map, Value};

use crate::{numbers::u256_from_json, typed_data::parse_address};

const KNOWN: &[&str] = &[
    "from",
    "to",
    "nonce",
    "gasPrice",
    "maxFeePerGas",
    "maxPriorityFeePerGas",
    "gas",
    "storageLimit",
    "epochHeight",
    "value",
    "data",
    "type",
    "accessList",
    "chainId",
];

/// An unsigned transaction request: the sender (if named) and the fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxRequest {
    /// The `from` field, if present.
    pub from: Option<H160>,
    /// The transaction, with `chain_id` set to the `--chain-id` given.
    pub tx: Transaction,
}

fn quantity(obj: &Map<String, Value>, key: &str) -> Result<Option<U256>, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => u256_from_json(v)
            .map(Some)
            .map_err(|e| format!("`{key}`: {e}")),
    }
}

fn required(obj: &Map<String, Value>, key: &str) -> Result<U256, String> {
    quantity(obj, key)?
        .ok_or_else(|| format!("`{key}` is required (nothing is filled in from the network)"))
}

fn small<T: TryFrom<u64>>(v: U256, key: &str) -> Result<T, String> {
    if v > U256::from(u64::MAX) {
        return Err(format!("`{key}` is too large"));
    }
    T::try_from(v.as_u64()).map_err(|_| format!("`{key}` is too large"))
}

fn address(v: &Value, key: &str) -> Result<H160, String> {
    let s = v
        .as_str()
        .ok_or_else(|| format!("`{key}` must be an address string"))?;
    parse_address(s).map_err(|e| format!("`{key}`: {e}"))
}

/// Parses the JSON of an unsigned transaction for `chain_id`.
///
/// A `chainId` in the JSON must equal `chain_id`: the signer refuses other chains anyway,
/// and silently rewriting it would sign something else than the user wrote.
pub fn parse_tx_json(json: &str, chain_id: u32) -> Result<TxRequest, String> {
    let v: Value = serde_json::from_str(json).map_err(|e| format!("not JSON: {e}"))?;
    let obj = v
        .as_object()
        .ok_or("the transaction must be a JSON object")?;
    if let Some(k) = obj.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(format!("unknown field `{k}` (known: {})", KNOWN.join(", ")));
    }
    if let Some(id) = quantity(obj, "chainId")? {
        if id != U256::from(chain_id) {
            return Err(format!("`chainId` is {id} but --chain-id is {chain_id}"));
        }
    }
    let from = match obj.get("from") {
        None | Some(Value::Null) => None,
        Some(v) => Some(address(v, "from")?),
    };
    let action = match obj.get("to") {
        None | Some(Value::Null) => Action::Create,
        Some(v) => Action::Call(address(v, "to")?),
    };
    let data = match obj.get("data") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => {
            let h = s.strip_prefix("0x").ok_or("`data` must be 0x-hex")?;
            hex::decode(h).map_err(|_| "`data` must be 0x-hex".to_string())?
        }
        Some(_) => return Err("`data` must be a 0x-hex string".into()),
    };
    let access_list = match obj.get("accessList") {
        None | Some(Value::Null) => None,
        Some(v) => Some(parse_access_list(v)?),
    };
    let has_1559 = obj.contains_key("maxFeePerGas") || obj.contains_key("maxPriorityFeePerGas");
    let ty = match quantity(obj, "type")? {
        Some(t) => small::<u8>(t, "type")?,
        None if has_1559 => 2,
        None if access_list.is_some() => 1,
        None => 0,
    };
    let kind = match ty {
        0 | 1 => {
            if has_1559 {
                return Err(format!(
                    "type {ty} takes `gasPrice`, not `maxFeePerGas`/`maxPriorityFeePerGas`"
                ));
            }
            let gas_price = required(obj, "gasPrice")?;
            if ty == 0 {
                if access_list.is_some() {
                    return Err("type 0 has no `accessList`".into());
                }
                TxKind::Legacy { gas_price }
            } else {
                TxKind::Cip2930 {
                    gas_price,
                    access_list: access_list.unwrap_or_default(),
                }
            }
        }
        2 => {
            if obj.contains_key("gasPrice") {
                return Err(
                    "type 2 takes `maxFeePerGas` and `maxPriorityFeePerGas`, not `gasPrice`".into(),
                );
            }
            TxKind::Cip1559 {
                max_priority_fee_per_gas: required(obj, "maxPriorityFeePerGas")?,
                max_fee_per_gas: required(obj, "maxFeePerGas")?,
                access_list: access_list.unwrap_or_default(),
            }
        }
        other => return Err(format!("unknown transaction type {other} (0, 1 or 2)")),
    };
    Ok(TxRequest {
        from,
        tx: Transaction {
            nonce: required(obj, "nonce")?,
            gas: required(obj, "gas")?,
            action,
            value: quantity(obj, "value")?.unwrap_or_default(),
            storage_limit: small(
                quantity(obj, "storageLimit")?.unwrap_or_default(),
                "storageLimit",
            )?,
            epoch_height: small(required(obj, "epochHeight")?, "epochHeight")?,
            chain_id,
            data,
            kind,
        },
    })
}

fn parse_access_list(v: &Value) -> Result<Vec<AccessListItem>, String> {
    let items = v.as_array().ok_or("`accessList` must be an array")?;
    items
        .iter()
        .map(|item| {
            let address = address(
                item.get("address")
                    .ok_or("`accessList` entry without `address`")?,
                "accessList.address",
            )?;
            let keys = match item.get("storageKeys") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(keys)) => keys
                    .iter()
                    .map(|k| {
                        k.as_str()
                            .and_then(|s| s.parse::<H256>().ok())
                            .ok_or("`storageKeys` entries must be 32-byte 0x-hex".to_string())
                    })
                    .collect::<Result<_, _>>()?,
                Some(_) => return Err("`storageKeys` must be an array".into()),
            };
            Ok(AccessListItem {
                address,
                storage_keys: keys,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdk_shaped_1559_json_becomes_a_type_2_transaction() {
        let r = parse_tx_json(
            r#"{"from":"cfxtest:aasm4c231py7j34fghntcfkdt2nm9xv1tu6jd3r1s7","to":"0x19578cf3c71eab48cf810c78b5175d5c9e6ef441",
               "nonce":"0x64","maxFeePerGas":100,"maxPriorityFeePerGas":"100","gas":100,"storageLimit":100,
               "epochHeight":100,"value":"100","data":"0x48656c6c6f2c20576f726c64",
               "accessList":[{"address":"0x19578cf3c71eab48cf810c78b5175d5c9e6ef441",
                  "storageKeys":["0x1234567890abcdef1234567890abcdef1234567890abcdef1234567890abcdef"]}]}"#,
            100,
        )
        .unwrap();
        // js-conflux-sdk's 1559 test vector (conflux-protocol.md §4).
        assert_eq!(
            r.tx.signing_hash(),
            "0x3da56dbe2b76c41135c2429f3035cd79b1abb68902cf588075c30d4912e71cf3"
                .parse()
                .unwrap()
        );
        assert!(r.from.is_some());
    }

    #[test]
    fn missing_or_contradictory_fields_are_refused_with_their_name() {
        let e = parse_tx_json(r#"{"nonce":0,"gasPrice":1,"epochHeight":0}"#, 1).unwrap_err();
        assert!(e.contains("`gas`"), "{e}");
        let e = parse_tx_json(
            r#"{"nonce":0,"gasPrice":1,"gas":1,"epochHeight":0,"chainId":2}"#,
            1,
        )
        .unwrap_err();
        assert!(e.contains("chainId"), "{e}");
        let e = parse_tx_json(r#"{"nonce":0,"gasprice":1}"#, 1).unwrap_err();
        assert!(e.contains("unknown field `gasprice`"), "{e}");
        let e = parse_tx_json(
            r#"{"type":2,"nonce":0,"gasPrice":1,"gas":1,"epochHeight":0}"#,
            1,
        )
        .unwrap_err();
        assert!(e.contains("gasPrice"), "{e}");
    }
}
