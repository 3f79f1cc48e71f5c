//! `cfxlight address encode|decode`.

use anyhow::{Context, Result};
use cfxlight_primitives::{address, H160};
use serde_json::json;

use super::{parse_hex, print_json};
use crate::cli::AddressCommand;

pub fn run(cmd: AddressCommand) -> Result<()> {
    match cmd {
        AddressCommand::Encode {
            hex,
            network_id,
            verbose,
        } => {
            let raw = parse_hex(&hex, "address")?;
            outln!("{}", address::encode_raw(&raw, network_id, verbose)?);
        }
        AddressCommand::Decode { base32, json } => {
            let d = address::decode_raw(base32.trim()).context("cannot decode address")?;
            let hex = format!("0x{}", hex::encode(&d.bytes));
            let ty = if d.bytes.len() == 20 {
                address::AddressType::of(&H160::from_slice(&d.bytes))
            } else {
                address::AddressType::Unknown
            };
            if json {
                print_json(&json!({
                    "hex": hex,
                    "networkId": d.network_id,
                    "type": ty,
                    "base32": address::encode_raw(&d.bytes, d.network_id, false)?,
                    "verbose": address::encode_raw(&d.bytes, d.network_id, true)?,
                }))?;
            } else {
                outln!("{hex}\nnetwork id: {}\ntype: {ty}", d.network_id);
            }
        }
    }
    Ok(())
}
