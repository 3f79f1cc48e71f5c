//! `cfxlight node`: resolves the configuration and opens the data directory (binding it
//! to the chain); the sync engine arrives with the light node core, and until then the
//! command says so instead of pretending to run.

use anyhow::{bail, Context, Result};

use super::print_json;
use crate::{cli::NodeArgs, config::NodeConfig, store::Store};

pub fn run(args: &NodeArgs) -> Result<()> {
    let config = NodeConfig::resolve(args)?;
    if args.dry_run {
        return print_json(&config);
    }
    std::fs::create_dir_all(&config.datadir)
        .with_context(|| format!("cannot create data directory {}", config.datadir.display()))?;
    Store::open(&config.datadir, config.genesis_hash, config.spec.chain_id)?;
    bail!(
        "the P2P light node is not in this build yet; `cfxlight node --dry-run` checks the \
         configuration (chain {}, genesis {:?})",
        config.spec.name,
        config.genesis_hash
    )
}
