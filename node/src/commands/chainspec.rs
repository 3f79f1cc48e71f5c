//! `cfxlight chainspec show`.

use anyhow::Result;
use cfxlight_chainspec::ChainSpec;

use super::print_json;
use crate::cli::ChainspecCommand;

pub fn run(cmd: ChainspecCommand) -> Result<()> {
    let ChainspecCommand::Show { name, json } = cmd;
    let spec = ChainSpec::load(&name)?;
    if json {
        return print_json(&spec);
    }
    outln!("name:            {} ({})", spec.name, spec.source);
    outln!(
        "chain id:        {}{}",
        spec.chain_id,
        if spec.chain_id_overridable {
            " (overridable with --chain-id)"
        } else {
            ""
        }
    );
    outln!("eSpace chain id: {}", spec.evm_chain_id);
    outln!(
        "network id:      {} (addresses {}:…)",
        spec.network_id,
        spec.address_prefix()
    );
    match spec.genesis_hash {
        Some(h) => outln!("genesis hash:    {h:?}"),
        None => outln!("genesis hash:    not pinned: the node needs --genesis-hash"),
    }
    outln!("pow:             {:?}", spec.pow);
    outln!(
        "ports:           p2p {}, rpc http {}, ws {}, local {}",
        spec.ports.p2p,
        spec.ports.rpc_http,
        spec.ports.rpc_ws,
        spec.ports.rpc_local
    );
    match spec.checkpoint {
        Some(c) => outln!(
            "checkpoint:      epoch {} {:?}{}",
            c.epoch,
            c.hash,
            c.timestamp
                .map(|t| format!(" (from {})", crate::log::utc_date(t)))
                .unwrap_or_default()
        ),
        None => outln!("checkpoint:      none (sync starts at genesis)"),
    }
    outln!(
        "header rules:    initial difficulty {}, period {} ({} above CIP-86){}, gas limit ≥ {} ± 1/{}",
        spec.rules.initial_difficulty,
        spec.rules.difficulty_period,
        spec.rules.difficulty_period_cip86,
        if spec.rules.fixed_difficulty { ", fixed (test mode)" } else { "" },
        spec.rules.min_gas_limit,
        spec.rules.gas_limit_divisor
    );
    outln!(
        "root trust:      blame ratio < {}, ≥ {} votes within {} generations, {} epochs behind the tip; rewinds ≤ {} epochs",
        spec.trust.max_blame_ratio,
        spec.trust.min_votes,
        spec.trust.blame_bound,
        spec.trust.check_offset,
        spec.trust.max_rewind
    );
    outln!("bootnodes:       {}", spec.bootnodes.len());
    for b in &spec.bootnodes {
        outln!("  {b}");
    }
    outln!("forks:           {}", serde_json::to_string(&spec.forks)?);
    Ok(())
}
