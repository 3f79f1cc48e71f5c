//! `cfxlight chain status`: what a node reports, re-checked with our own primitives.
//!
//! The pivot header at `latest_state` (the newest one the eSpace RPC also shows, whose
//! eSpace base price a post-CIP-1559 header carries) is rebuilt from the RPC's fields,
//! hashed, and its PoW checked
//! (test PoW on dev chains). A node whose reported hash we cannot reproduce is reported
//! as such: the output never claims more than was checked.

use anyhow::{bail, Context, Result};
use cfxlight_chainspec::{ChainSpec, PowMode};
use cfxlight_primitives::{rpc, U256};
use serde_json::{json, Value};

use super::print_json;
use crate::{cli::ChainCommand, rpc_client::RpcClient};

pub fn run(cmd: ChainCommand) -> Result<()> {
    let ChainCommand::Status {
        rpc_url,
        eth_rpc_url,
        chain,
        json,
    } = cmd;
    let spec = ChainSpec::load(&chain)?;
    let rpc = RpcClient::new(&rpc_url);
    let status: rpc::Status = rpc.call("cfx_getStatus", json!([]))?;
    let block: rpc::Block =
        rpc.call("cfx_getBlockByEpochNumber", json!(["latest_state", false]))?;
    let height = block.height.low_u64();
    let custom_bytes = spec.forks.custom_items_are_bytes(height);
    let header = match (block.base_fee_per_gas, &eth_rpc_url) {
        (None, _) => Some(
            block
                .rebuild_header(custom_bytes, None)
                .map_err(anyhow::Error::msg)?,
        ),
        (Some(_), Some(url)) => {
            let eth: Value = RpcClient::new(url).call(
                "eth_getBlockByNumber",
                json!([format!("{height:#x}"), false]),
            )?;
            if eth.is_null() {
                bail!("the eSpace RPC at {url} has no block {height} yet");
            }
            let field = |name: &str| -> Result<U256> {
                serde_json::from_value(eth[name].clone())
                    .with_context(|| format!("eSpace block {height} has no valid {name}"))
            };
            let espace = rpc::EspaceBlockFields {
                base_fee_per_gas: field("baseFeePerGas")?,
                gas_limit: field("gasLimit")?,
            };
            Some(
                block
                    .rebuild_header(custom_bytes, Some(&espace))
                    .map_err(anyhow::Error::msg)?,
            )
        }
        (Some(_), None) => None,
    };
    let hash_check = match &header {
        Some(_) => "recomputed: matches",
        None => "not recomputed (pass --eth-rpc-url for the eSpace base price)",
    };
    let pow_check = match (&header, spec.pow) {
        (Some(h), PowMode::Test) => match h.verify_test_pow() {
            Ok(()) => "test PoW valid",
            Err(_) => "test PoW INVALID",
        },
        // Builds the header's stage cache in memory (about a second).
        (Some(h), PowMode::Octopus) => {
            match crate::pow::PowVerifier::new(PowMode::Octopus, None).verify(h) {
                Ok(_) => "Octopus PoW valid",
                Err(_) => "Octopus PoW INVALID",
            }
        }
        (None, _) => "not checked (the header was not recomputed)",
    };
    if json {
        return print_json(&json!({
            "status": status,
            "latestState": {"epoch": height, "hash": block.hash, "hashCheck": hash_check, "powCheck": pow_check},
        }));
    }
    outln!("node:           {rpc_url}");
    outln!(
        "chain id:       {} (network {})",
        status.chain_id,
        status.network_id
    );
    outln!(
        "latest_mined:   {} {:?}",
        status.epoch_number,
        status.best_hash
    );
    outln!("latest_state:   {}", status.latest_state);
    outln!("latest_confirmed: {}", status.latest_confirmed);
    outln!("blocks:         {}", status.block_number);
    outln!("pivot header:   epoch {height} (latest_state), {hash_check}; {pow_check}");
    Ok(())
}
