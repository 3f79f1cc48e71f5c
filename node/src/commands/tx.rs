//! `cfxlight tx decode|hash`.

use anyhow::{Context, Result};
use cfxlight_primitives::{rpc, transaction::SignedTransaction};

use super::{parse_hex, print_json};
use crate::cli::TxCommand;

pub fn run(cmd: TxCommand) -> Result<()> {
    match cmd {
        TxCommand::Decode { raw, network_id } => {
            // A person reads this: the short base32 form, as wallets show it.
            rpc::set_simple_address_mode(true);
            let tx = decode(&raw)?;
            let network_id = network_id.unwrap_or(u64::from(tx.tx.chain_id));
            let (from, public) = tx.recover_sender().context("cannot recover the sender")?;
            let rpc = rpc::Transaction::from_signed(&tx, network_id)?;
            let mut v = serde_json::to_value(rpc)?;
            if let Some(o) = v.as_object_mut() {
                o.insert(
                    "signingHash".into(),
                    serde_json::to_value(tx.tx.signing_hash())?,
                );
                o.insert("fromHex".into(), serde_json::to_value(from)?);
                o.insert("toHex".into(), serde_json::to_value(tx.tx.action.to())?);
                o.insert("senderPublicKey".into(), serde_json::to_value(public)?);
            }
            print_json(&v)
        }
        TxCommand::Hash { raw } => {
            outln!("{:?}", decode(&raw)?.hash());
            Ok(())
        }
    }
}

fn decode(raw: &str) -> Result<SignedTransaction> {
    let bytes = parse_hex(raw, "raw transaction")?;
    SignedTransaction::decode(&bytes).context("cannot decode transaction")
}
