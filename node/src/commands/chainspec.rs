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
        Some(c) => outln!("checkpoint:      epoch {} {:?}", c.epoch, c.hash),
        None => outln!("checkpoint:      none (sync starts at genesis)"),
    }
    outln!("bootnodes:       {}", spec.bootnodes.len());
    for b in &spec.bootnodes {
        outln!("  {b}");
    }
    outln!("forks:           {}", serde_json::to_string(&spec.forks)?);
    Ok(())
}
